//! Shared setup of the client and durability tests: the `tidewater` binary
//! started as a child process on a free port with a data directory the test
//! owns (so it can be killed with SIGKILL and restarted on the same data),
//! tokio-postgres clients for it, and the external client programs of
//! `server/tests/clients/` (pgjdbc, psycopg, SQLAlchemy and pandas) with checks that the tools
//! they need are installed.

#![allow(dead_code, unreachable_pub)]

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// How long a starting server may take to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The `tidewater` binary running as a child process. Dropping it kills
/// the process.
#[derive(Debug)]
pub struct ServerProcess {
    /// The child process (`None` once killed or stopped).
    child: Option<Child>,
    /// Where it accepts pg wire connections.
    pub addr: SocketAddr,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// The file its stderr (the log) goes to.
    pub log_path: PathBuf,
}

/// A temporary directory for a test's data directories and server logs,
/// kept (and its path printed) when the test fails so they can be read.
#[derive(Debug)]
pub struct TestDir(tempfile::TempDir);

impl TestDir {
    pub fn new() -> Self {
        Self(tempfile::tempdir().expect("temporary directory"))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.disable_cleanup(true);
            eprintln!(
                "test failed: kept {} (data directories and server logs)",
                self.0.path().display()
            );
        }
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

impl ServerProcess {
    /// Starts the binary with two workers on `data_dir` (created when
    /// missing) and waits until it answers a query. Its log goes to
    /// `<data_dir>.<n>.log` next to the data directory, `n` counting the
    /// starts on that directory.
    pub async fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &["--workers", "2"]).await
    }

    /// [`Self::start`] with these arguments instead of `--workers 2`.
    pub async fn start_with(data_dir: &Path, args: &[&str]) -> Self {
        let mut last_error = String::new();
        // A port found free may be taken before the server binds it: retry.
        for _ in 0..3 {
            let log_path = next_log_path(data_dir);
            let addr: SocketAddr = format!("127.0.0.1:{}", free_port())
                .parse()
                .expect("address");
            let log = File::create(&log_path).expect("create the server log file");
            let child = Command::new(env!("CARGO_BIN_EXE_tidewater"))
                .arg("--data-dir")
                .arg(data_dir)
                .arg("--pg-listen")
                .arg(addr.to_string())
                .args(args)
                .env(
                    "TIDEWATER_LOG",
                    std::env::var("TIDEWATER_LOG").unwrap_or_else(|_| "info".into()),
                )
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(log))
                .spawn()
                .expect("spawn the tidewater binary");
            let mut server = Self {
                child: Some(child),
                addr,
                data_dir: data_dir.to_path_buf(),
                log_path,
            };
            match server.wait_ready().await {
                Ok(()) => return server,
                Err(e) => {
                    last_error = format!("{e}\n--- server log ---\n{}", server.log());
                    server.kill();
                }
            }
        }
        panic!(
            "the server did not start on {}: {last_error}",
            data_dir.display()
        );
    }

    /// Waits until a client can connect and run `SELECT 1`, or the process
    /// exits, or [`STARTUP_TIMEOUT`] passes.
    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().expect("poll the child"))
            {
                return Err(format!("the server exited with {status}"));
            }
            if let Ok(client) = self.try_connect("tidewater").await
                && client.simple_query("SELECT 1").await.is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("no answer within {STARTUP_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// A libpq-style connection string for `database`.
    pub fn conn_str(&self, database: &str) -> String {
        format!(
            "host={} port={} user=tidewater dbname={database} connect_timeout=10",
            self.addr.ip(),
            self.addr.port()
        )
    }

    /// The pgjdbc URL of database `tidewater`.
    pub fn jdbc_url(&self) -> String {
        format!(
            "jdbc:postgresql://{}/tidewater?user=tidewater&connectTimeout=10",
            self.addr
        )
    }

    async fn try_connect(&self, database: &str) -> Result<Client, tokio_postgres::Error> {
        let (client, connection) = tokio_postgres::connect(&self.conn_str(database), NoTls).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    /// Connects a tokio-postgres client to database `tidewater`.
    pub async fn connect(&self) -> Client {
        self.try_connect("tidewater").await.unwrap_or_else(|e| {
            panic!(
                "connect to {}: {e}\n--- server log ---\n{}",
                self.addr,
                self.log()
            )
        })
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `Child::kill` sends SIGKILL on Unix.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the process with SIGTERM (a clean shutdown) and waits up to
    /// 30 s for it to exit; panics if it does not.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "could not send SIGTERM to the server");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("poll the child") {
                assert!(
                    status.success(),
                    "the server exited with {status} on SIGTERM\n{}",
                    self.log()
                );
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the server did not stop within 30s of SIGTERM\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last 100 lines of the server log (for failure messages).
    pub fn log(&self) -> String {
        tail(&self.log_path)
    }
}

/// The last 100 lines of a log file.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(100)..].join("\n")
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `<data_dir>.<n>.log` for the first `n` not used yet.
fn next_log_path(data_dir: &Path) -> PathBuf {
    let name = data_dir
        .file_name()
        .expect("data dir has a name")
        .to_string_lossy()
        .to_string();
    (0..)
        .map(|n| data_dir.with_file_name(format!("{name}.{n}.log")))
        .find(|p| !p.exists())
        .expect("a free log file name")
}

/// Rows of a simple query, values as text joined with `|`, NULL as `NULL`.
pub async fn rows(client: &Client, sql: &str) -> Vec<String> {
    let messages = tokio::time::timeout(Duration::from_secs(60), client.simple_query(sql))
        .await
        .unwrap_or_else(|_| panic!("timed out: {sql}"))
        .unwrap_or_else(|e| panic!("{sql}\nfailed: {e:?}"));
    messages
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).unwrap_or("NULL").to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            _ => None,
        })
        .collect()
}

/// Runs statements one by one, panicking with the statement on error.
pub async fn execute_all(client: &Client, statements: &[&str]) {
    for sql in statements {
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}\nfailed: {e:?}"));
    }
}

/// A random number (std only: the hash of a fresh `RandomState`).
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

/// A random number in `lo..hi`.
pub fn random_in(lo: u64, hi: u64) -> u64 {
    lo + random_u64() % (hi - lo)
}

/// What to run when a client tool is missing.
const INSTALL_HINT: &str =
    "run scripts/test.sh (it installs the Debian and PyPI packages the client tests need)";

/// pgjdbc as Debian's `libpostgresql-jdbc-java` installs it.
pub const PGJDBC_JAR: &str = "/usr/share/java/postgresql.jar";

/// The directory of the client programs.
pub fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("clients")
}

/// Runs a command to completion; `None` when it cannot be started.
fn try_output(command: &mut Command) -> Option<Output> {
    command.stdin(Stdio::null()).output().ok()
}

/// Panics unless `javac`, `java` and pgjdbc are installed.
pub fn require_java() {
    for tool in ["javac", "java"] {
        let found =
            try_output(Command::new(tool).arg("-version")).is_some_and(|o| o.status.success());
        assert!(
            found,
            "`{tool}` is not installed (Debian package default-jdk-headless): {INSTALL_HINT}"
        );
    }
    assert!(
        Path::new(PGJDBC_JAR).is_file(),
        "{PGJDBC_JAR} is missing (Debian package libpostgresql-jdbc-java): {INSTALL_HINT}"
    );
}

/// Compiles `server/tests/clients/<class>.java` into `out` and returns the
/// class path to run it with.
pub fn compile_java(class: &str, out: &Path) -> String {
    require_java();
    let source = clients_dir().join(format!("{class}.java"));
    let output = Command::new("javac")
        .arg("-Xlint:all")
        .arg("-cp")
        .arg(PGJDBC_JAR)
        .arg("-d")
        .arg(out)
        .arg(&source)
        .output()
        .expect("run javac");
    assert!(
        output.status.success(),
        "javac {} failed:\n{}{}",
        source.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    format!("{}:{PGJDBC_JAR}", out.display())
}

/// The Python interpreter the tests run (`python3` on the PATH).
pub const PYTHON: &str = "python3";

/// Panics unless psycopg 3 imports in [`PYTHON`].
pub fn require_psycopg() {
    require_python_modules(&[("psycopg", "psycopg[binary]")]);
}

/// Panics unless every `(module, PyPI package)` of `modules` imports in
/// [`PYTHON`], naming the packages that are missing.
pub fn require_python_modules(modules: &[(&str, &str)]) {
    let imports = modules
        .iter()
        .map(|(m, _)| format!("import {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    let output = try_output(Command::new(PYTHON).args(["-c", &imports]));
    let packages = modules
        .iter()
        .map(|(_, p)| *p)
        .collect::<Vec<_>>()
        .join(", ");
    match output {
        None => panic!("`{PYTHON}` is not installed: {INSTALL_HINT}"),
        Some(o) if !o.status.success() => panic!(
            "{PYTHON} cannot import what this test needs (PyPI {packages}): {INSTALL_HINT}\n{}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Some(_) => {}
    }
}

/// Runs an external client program with a time limit, on a blocking
/// thread; panics on a non-zero exit with its output and the server log.
pub async fn run_client(command: Command, what: &str, server: &ServerProcess, timeout: Duration) {
    let what = what.to_string();
    let log_path = server.log_path.clone();
    let outcome = tokio::task::spawn_blocking(move || run_blocking(command, &what, timeout)).await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(failure)) => panic!("{failure}\n--- server log ---\n{}", tail(&log_path)),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Runs a client program to completion; `Err` describes how it failed.
fn run_blocking(mut command: Command, what: &str, timeout: Duration) -> Result<(), String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    // Read both pipes on threads so a chatty client cannot block on them.
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let read = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(stdout));
    let stderr = read(Box::new(stderr));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the client") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    // Shown by the test harness on success too (with --nocapture).
    println!("--- {what} stdout ---\n{stdout}--- {what} stderr ---\n{stderr}");
    match status {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(format!(
            "{what} exited with {s}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
        )),
        None => Err(format!(
            "{what} did not finish within {timeout:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
        )),
    }
}
