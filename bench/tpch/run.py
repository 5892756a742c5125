#!/usr/bin/env python3
"""TPC-H benchmark: Tidewater vs DataFusion (Python) vs DuckDB on Parquet.

Run it through ``bench/tpch/run.sh``, which creates the venv, installs the
Python packages and builds the release server. This script then:

1. generates TPC-H Parquet with ``tpchgen-cli`` into ``bench/data/sf<SF>/``
   unless the files are already there;
2. starts ``target/release/tidewater --workers N`` on a free port with a
   temporary data directory, creates one file table per TPC-H table, and
   times each query over the pg wire protocol (psycopg, all rows fetched);
3. stops the server, then times the same SQL in DataFusion
   (``target_partitions=N``) and DuckDB (``SET threads=N``) over the same
   files, one engine at a time so they never compete for the cores;
4. compares the results of the three engines (row counts, values within a
   float tolerance) and prints markdown tables; ``--json`` saves everything.

Each query runs ``1 + --runs`` times per engine: the first run is a warmup,
reported separately; min and median are over the remaining runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness import Server  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent.parent  # bench/
REPO = BENCH_DIR.parent
QUERY_DIR = Path(__file__).resolve().parent / "queries"
TABLES = ["region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"]
ENGINES = ["tidewater", "datafusion", "duckdb"]
TARGET_RATIO = 1.5  # Tidewater must not be slower than this times DataFusion.


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data


def sf_label(sf: float) -> str:
    return f"{sf:g}"


def ensure_data(sf: float, data_root: Path) -> Path:
    """Generates the Parquet files for scale factor `sf` if any is missing."""
    out = data_root / f"sf{sf_label(sf)}"
    missing = [t for t in TABLES if not (out / f"{t}.parquet").exists()]
    if not missing:
        return out
    tool = shutil.which("tpchgen-cli", path=str(Path(sys.executable).parent)) or shutil.which(
        "tpchgen-cli"
    )
    if tool is None:
        sys.exit("tpchgen-cli not found (run through bench/tpch/run.sh, which installs it)")
    out.mkdir(parents=True, exist_ok=True)
    # Generate into a scratch directory and move into place, so an
    # interrupted run never leaves a truncated file that looks complete.
    scratch = Path(tempfile.mkdtemp(prefix=".gen-", dir=out))
    log(f"generating TPC-H SF{sf_label(sf)} Parquet into {out} ...")
    t0 = time.monotonic()
    subprocess.run(
        [tool, "parquet", "-s", sf_label(sf), "-o", str(scratch), "--quiet", "--tables", ",".join(missing)],
        check=True,
    )
    for t in missing:
        (scratch / f"{t}.parquet").replace(out / f"{t}.parquet")
    shutil.rmtree(scratch, ignore_errors=True)
    log(f"generated in {time.monotonic() - t0:.1f}s")
    return out


def load_queries(names: list[str]) -> dict[str, str]:
    queries = {}
    for name in names:
        text = (QUERY_DIR / f"{name}.sql").read_text()
        # Keep the SQL free of comments and trailing semicolons: every engine
        # then gets exactly the same statement text.
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
        queries[name] = "\n".join(lines).strip().rstrip(";")
    return queries


# ---------------------------------------------------------------- results


def normalize_value(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, (float, decimal.Decimal)):
        return float(v)
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return str(v)


def normalize_rows(rows) -> list[tuple]:
    return [tuple(normalize_value(v) for v in row) for row in rows]


def values_equal(a, b, rel_tol: float, abs_tol: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)
    return a == b


def rows_equal(a: tuple, b: tuple, rel_tol: float, abs_tol: float) -> bool:
    return len(a) == len(b) and all(values_equal(x, y, rel_tol, abs_tol) for x, y in zip(a, b))


def sort_key(row: tuple):
    return tuple((0, "") if v is None else (1, v if isinstance(v, str) else repr(v)) for v in row)


def compare_results(ref: list[tuple], got: list[tuple], rel_tol: float, abs_tol: float) -> str | None:
    """None when equal, else a short description of the first difference."""
    if len(ref) != len(got):
        return f"{len(got)} rows, expected {len(ref)}"
    for i, (r, g) in enumerate(zip(ref, got)):
        if not rows_equal(r, g, rel_tol, abs_tol):
            break
    else:
        return None
    # Same rows in another order (ties under ORDER BY) are not a failure of
    # the engine, but say so.
    rs, gs = sorted(ref, key=sort_key), sorted(got, key=sort_key)
    if all(rows_equal(r, g, rel_tol, abs_tol) for r, g in zip(rs, gs)):
        return "same rows in a different order"
    return f"row {i}: {got[i]!r}, expected {ref[i]!r}"


# ---------------------------------------------------------------- engines


def declared_columns(path: Path) -> str:
    """The columns of a Parquet file as a SQL column list, strings as TEXT.

    tpchgen-cli writes strings as Arrow `Utf8View`, which Tidewater keeps
    when it infers a file table's schema; declaring TEXT makes the reader
    cast them to plain `Utf8` (see --declare-text).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = []
    for f in pq.read_schema(path):
        t = f.type
        if pa.types.is_int64(t):
            sql = "BIGINT"
        elif pa.types.is_int32(t):
            sql = "INTEGER"
        elif pa.types.is_decimal(t):
            sql = f"NUMERIC({t.precision}, {t.scale})"
        elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
            sql = "TEXT"
        elif pa.types.is_date32(t):
            sql = "DATE"
        elif pa.types.is_float64(t):
            sql = "DOUBLE PRECISION"
        else:
            raise ValueError(f"{path}: no SQL type for column {f.name} of type {t}")
        cols.append(f"{f.name} {sql}" + (" NOT NULL" if not f.nullable else ""))
    return ", ".join(cols)


class Tidewater:
    """A release `tidewater` server process with file tables over the data."""

    def __init__(
        self, binary: Path, workers: int, data: Path, timeout: float, keep_log: Path | None,
        declare_text: bool = False,
    ):
        self.timeout = timeout
        log(f"starting tidewater --workers {workers}")
        self.server = Server(binary, workers, log_path=keep_log)
        self.proc = self.server.proc
        self.conn = self.server.conn
        for t in TABLES:
            path = data / f"{t}.parquet"
            columns = f"({declared_columns(path)}) " if declare_text else ""
            self.conn.execute(
                f"CREATE TABLE {t} {columns}WITH (connector = 'file', path = '{path}', format = 'parquet')"
            )

    def log_tail(self, n: int = 20) -> str:
        return self.server.log_tail(n)

    def run(self, sql: str):
        timer = threading.Timer(self.timeout, self.conn.cancel_safe)
        timer.start()
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall() if cur.description else []
        finally:
            timer.cancel()

    def explain(self, sql: str) -> str:
        with self.conn.cursor() as cur:
            cur.execute("EXPLAIN " + sql)
            return "\n".join(str(r[-1]) if len(r) == 1 else " | ".join(map(str, r)) for r in cur.fetchall())

    def peak_rss_mb(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def close(self) -> None:
        self.server.stop()


class DataFusion:
    def __init__(self, threads: int, data: Path):
        from datafusion import SessionConfig, SessionContext

        self.ctx = SessionContext(SessionConfig().with_target_partitions(threads))
        for t in TABLES:
            self.ctx.register_parquet(t, str(data / f"{t}.parquet"))

    def run(self, sql: str):
        batches = self.ctx.sql(sql).collect()
        return batches

    @staticmethod
    def rows(batches) -> list[tuple]:
        rows = []
        for b in batches:
            cols = [c.to_pylist() for c in b.columns]
            rows.extend(zip(*cols))
        return rows

    def close(self) -> None:
        self.ctx = None


class DuckDB:
    def __init__(self, threads: int, data: Path):
        import duckdb

        self.con = duckdb.connect()
        self.con.execute(f"SET threads = {threads}")
        for t in TABLES:
            self.con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{data / f'{t}.parquet'}')")

    def run(self, sql: str):
        return self.con.execute(sql).fetchall()

    def close(self) -> None:
        self.con.close()


# ---------------------------------------------------------------- driver


def time_query(run, sql: str, runs: int) -> dict:
    """Runs `sql` 1 + `runs` times; returns timings and the last result."""
    times = []
    result = None
    for _ in range(1 + runs):
        t0 = time.perf_counter()
        result = run(sql)
        times.append(time.perf_counter() - t0)
    timed = times[1:] or times
    return {
        "first": times[0],
        "runs": timed,
        "min": min(timed),
        "median": statistics.median(timed),
        "result": result,
    }


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def wait_for_quiet(max_load: float, max_wait: float) -> None:
    """Waits (up to `max_wait` s) for the 1-minute load to fall below `max_load`."""
    deadline = time.monotonic() + max_wait
    warned = False
    while load_average() > max_load and time.monotonic() < deadline:
        if not warned:
            log(f"load average {load_average():.2f} > {max_load}: waiting for the machine to quiet down ...")
            warned = True
        time.sleep(5)
    if load_average() > max_load:
        log(f"WARNING: load average still {load_average():.2f}; timings will be noisy")


def machine_info() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True,
        ).stdout.strip()
        if dirty:
            commit += "+dirty"
    except OSError:
        commit = "unknown"
    versions = {}
    for mod in ("datafusion", "duckdb", "psycopg"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:
            versions[mod] = "?"
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "mem_gib": mem_gib,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "tidewater_commit": commit,
        **versions,
    }


def fmt_s(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sf", type=float, default=1.0, help="scale factor (default 1)")
    p.add_argument("--queries", default="q1,q3,q6,q18", help="comma-separated names in queries/")
    p.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset of " + ",".join(ENGINES))
    p.add_argument("--runs", type=int, default=3, help="timed runs per query after one warmup (default 3)")
    p.add_argument("--workers", type=int, default=2, help="Tidewater workers = DataFusion/DuckDB threads (default 2)")
    p.add_argument("--binary", type=Path, default=REPO / "target" / "release" / "tidewater")
    p.add_argument("--data-root", type=Path, default=BENCH_DIR / "data")
    p.add_argument("--timeout", type=float, default=600, help="per Tidewater query, seconds (default 600)")
    p.add_argument("--declare-text", action="store_true",
                   help="create Tidewater's tables with declared columns, strings as TEXT (Utf8) instead of the inferred Utf8View")
    p.add_argument("--explain", action="store_true", help="print Tidewater's EXPLAIN of each query")
    p.add_argument("--server-log", type=Path, help="keep the Tidewater server log here")
    p.add_argument("--json", type=Path, help="write all timings and checks to this file")
    p.add_argument("--max-load", type=float, default=0.5,
                   help="wait (up to --max-wait s) for the 1-min load average to drop below this before each engine")
    p.add_argument("--max-wait", type=float, default=300)
    p.add_argument("--rel-tol", type=float, default=1e-6)
    p.add_argument("--abs-tol", type=float, default=1e-5)
    args = p.parse_args()

    names = [q.strip() for q in args.queries.split(",") if q.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in engines:
        if e not in ENGINES:
            sys.exit(f"unknown engine {e}")
    queries = load_queries(names)
    data = ensure_data(args.sf, args.data_root)
    info = machine_info()
    info.update(sf=args.sf, workers=args.workers, runs=args.runs, declare_text=args.declare_text)

    # results[engine][query] = {"first", "runs", "min", "median", "rows"} or {"error"}
    results: dict[str, dict[str, dict]] = {}
    explains: dict[str, str] = {}

    for engine in engines:
        wait_for_quiet(args.max_load, args.max_wait)
        log(f"== {engine} (load {load_average():.2f})")
        results[engine] = {}
        if engine == "tidewater":
            if not args.binary.exists():
                sys.exit(f"{args.binary} not found: cargo build --release --bin tidewater")
            runner = Tidewater(args.binary, args.workers, data, args.timeout, args.server_log, args.declare_text)
            to_rows = normalize_rows
        elif engine == "datafusion":
            runner = DataFusion(args.workers, data)
            to_rows = lambda b: normalize_rows(DataFusion.rows(b))  # noqa: E731
        else:
            runner = DuckDB(args.workers, data)
            to_rows = normalize_rows
        try:
            for name, sql in queries.items():
                if engine == "tidewater" and args.explain:
                    try:
                        explains[name] = runner.explain(sql)
                        log(f"-- EXPLAIN {name}\n{explains[name]}")
                    except Exception as e:  # noqa: BLE001
                        explains[name] = f"EXPLAIN failed: {e}"
                try:
                    r = time_query(runner.run, sql, args.runs)
                except Exception as e:  # noqa: BLE001
                    msg = f"{type(e).__name__}: {e}".strip()
                    sqlstate = getattr(getattr(e, "diag", None), "sqlstate", None)
                    if sqlstate:
                        msg = f"[{sqlstate}] {msg}"
                    log(f"   {name}: FAILED {msg}")
                    results[engine][name] = {"error": msg}
                    if engine == "tidewater" and runner.proc.poll() is not None:
                        log(f"tidewater died ({runner.proc.returncode}); log tail:\n{runner.log_tail()}")
                        runner = Tidewater(args.binary, args.workers, data, args.timeout, args.server_log, args.declare_text)
                    continue
                r["rows"] = to_rows(r.pop("result"))
                log(
                    f"   {name}: first {r['first']:.3f}s  min {r['min']:.3f}s  median {r['median']:.3f}s"
                    f"  ({len(r['rows'])} rows)"
                )
                results[engine][name] = r
            if engine == "tidewater":
                info["tidewater_peak_rss_mb"] = runner.peak_rss_mb()
        finally:
            runner.close()

    # ---- correctness: every engine against the first one that answered
    checks: dict[str, dict[str, str]] = {}
    for name in names:
        answered = [e for e in ["datafusion", "duckdb", "tidewater"] if e in results and "rows" in results[e].get(name, {})]
        checks[name] = {}
        if not answered:
            continue
        ref_engine = answered[0]
        ref = results[ref_engine][name]["rows"]
        for e in engines:
            r = results[e].get(name, {})
            if "error" in r:
                checks[name][e] = "error: " + r["error"]
            elif e == ref_engine:
                checks[name][e] = f"reference ({len(ref)} rows)"
            else:
                diff = compare_results(ref, r["rows"], args.rel_tol, args.abs_tol)
                checks[name][e] = "ok" if diff is None else ("ok (" + diff + ")" if diff.startswith("same rows") else "MISMATCH: " + diff)

    # ---- report
    out = []
    out.append(
        f"TPC-H SF{sf_label(args.sf)}, {args.workers} workers/threads, median of {args.runs} runs after 1 warmup"
        f" — {info['date']}, {info['cpu']}, {info['cores']} cores, {info['mem_gib']} GiB,"
        f" tidewater {info['tidewater_commit']}, datafusion {info['datafusion']}, duckdb {info['duckdb']}"
        + (" — Tidewater tables declared with TEXT columns (--declare-text)" if args.declare_text else "")
    )
    out.append("")
    out.append("| query | tidewater s | datafusion s | duckdb s | tidewater/datafusion |")
    out.append("| --- | ---: | ---: | ---: | ---: |")

    def cell(e: str, name: str) -> str:
        r = results.get(e, {}).get(name)
        if r is None:
            return "—"
        if "error" in r:
            return "error"
        return fmt_s(r["median"])

    for name in names:
        tw = results.get("tidewater", {}).get(name, {})
        df = results.get("datafusion", {}).get(name, {})
        if "median" in tw and "median" in df:
            ratio = tw["median"] / df["median"]
            ratio_s = f"{ratio:.2f}×" + (" ⚠" if ratio > TARGET_RATIO else "")
        else:
            ratio_s = "—"
        out.append(f"| {name} | {cell('tidewater', name)} | {cell('datafusion', name)} | {cell('duckdb', name)} | {ratio_s} |")
    out.append("")
    out.append(f"⚠ = slower than the {TARGET_RATIO}× DataFusion target.")
    out.append("")
    out.append("Details (seconds): warmup run, then min / median of the timed runs.")
    out.append("")
    out.append("| query | engine | warmup | min | median | rows | result check |")
    out.append("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for name in names:
        for e in engines:
            r = results[e].get(name, {})
            check = checks.get(name, {}).get(e, "")
            if "error" in r:
                out.append(f"| {name} | {e} | — | — | — | — | {check} |")
            else:
                out.append(
                    f"| {name} | {e} | {fmt_s(r['first'])} | {fmt_s(r['min'])} | {fmt_s(r['median'])}"
                    f" | {len(r['rows'])} | {check} |"
                )
    if info.get("tidewater_peak_rss_mb"):
        out.append("")
        out.append(f"Tidewater server peak RSS: {info['tidewater_peak_rss_mb']:.0f} MiB")
    report = "\n".join(out)
    print(report)

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        serial = {
            "info": info,
            "results": {
                e: {q: {k: v for k, v in r.items() if k != "rows"} | ({"row_count": len(r["rows"])} if "rows" in r else {})
                    for q, r in rs.items()}
                for e, rs in results.items()
            },
            "checks": checks,
            "explain": explains,
            "report": report,
        }
        args.json.write_text(json.dumps(serial, indent=2, default=str))
        log(f"wrote {args.json}")

    failed = any("error" in r for rs in results.values() for r in rs.values()) or any(
        v.startswith("MISMATCH") for c in checks.values() for v in c.values()
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
