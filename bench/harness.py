"""What the benchmark scripts share: a release `tidewater` server on free
loopback ports with a temporary data directory, and waiting for a job.

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from harness import Server, free_port, wait_finished
"""

import os
import socket
import subprocess
import tempfile
import time


def free_port() -> int:
    """A loopback port free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `tidewater` process with its own data directory, stopped on exit.

    `args` are further command-line flags (`--checkpoint-interval`, …);
    `conn` is an autocommit psycopg connection to it; `proc` the process.
    """

    def __init__(self, binary, workers, args=(), start_timeout=60, log_path=None):
        import psycopg

        self.tmp = tempfile.TemporaryDirectory(prefix="tidewater-bench-")
        self.port = free_port()
        # A given log path outlives the server; the default goes with it.
        self.log_path = str(log_path or os.path.join(self.tmp.name, "server.log"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIDEWATER_")}
        cmd = [
            str(binary), "--workers", str(workers),
            "--data-dir", os.path.join(self.tmp.name, "data"),
            "--pg-listen", f"127.0.0.1:{self.port}",
            "--flight-listen", f"127.0.0.1:{free_port()}",
            "--http-listen", f"127.0.0.1:{free_port()}",
            *args,
        ]
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log_file, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + start_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"tidewater exited with {self.proc.returncode}; log: {self.log_tail()}")
            try:
                self.conn = psycopg.connect(
                    host="127.0.0.1", port=self.port, user="tidewater", dbname="tidewater",
                    autocommit=True, connect_timeout=5,
                )
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def log_tail(self, n=20) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def cpu_seconds(self) -> float:
        """User and system CPU time the server process has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        try:
            self.conn.close()
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()
        self.tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def wait_finished(conn, view="q"):
    """Waits until the job of materialized view `view` (in schema public)
    reports `finished`; raises when it failed."""
    name = f"tidewater.public.{view}"
    while True:
        job = next(j for j in conn.execute("SHOW JOBS").fetchall() if j[0] == name)
        if job[2] == "finished":
            return
        if job[2] == "failed":
            raise RuntimeError(f"{view} failed: {job[10]}")
        time.sleep(0.02)
