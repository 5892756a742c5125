//! SQLAlchemy 2 and pandas against the `tidewater` binary, over both of
//! SQLAlchemy's PostgreSQL dialects (psycopg2 and psycopg 3):
//! `server/tests/clients/sqlalchemy_smoke.py` runs on a fresh server per
//! dialect. It connects (the dialect's initialisation queries), creates
//! tables with `MetaData.create_all`, reflects them (`inspect(engine)`,
//! `Table(..., autoload_with=engine)`, `MetaData.reflect`), writes
//! DataFrames with `to_sql` (replace, append, `method="multi"`, chunks,
//! an index), reads them with `read_sql`, uses the ORM and nests
//! transactions with savepoints. The script prints one line per check; a
//! failed check fails the test with that output and the server log.
//!
//! Without the Python packages these tests fail, telling to run
//! `scripts/test.sh`, which installs them.

mod clients_support;

use std::process::Command;
use std::time::Duration;

use clients_support::{PYTHON, ServerProcess, clients_dir, require_python_modules, run_client};

/// Starts a server and runs the script with SQLAlchemy's `driver` dialect.
async fn run_sqlalchemy_smoke(driver: &str, module: (&str, &str)) {
    require_python_modules(&[
        ("sqlalchemy", "sqlalchemy>=2"),
        ("pandas", "pandas"),
        module,
    ]);
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = ServerProcess::start(&dir.path().join("data")).await;
    let mut python = Command::new(PYTHON);
    python
        .arg(clients_dir().join("sqlalchemy_smoke.py"))
        .arg(server.addr.ip().to_string())
        .arg(server.addr.port().to_string())
        .args(["tidewater", "tidewater", driver])
        .env("PYTHONIOENCODING", "utf-8");
    run_client(
        python,
        &format!("sqlalchemy_smoke.py {driver}"),
        &server,
        Duration::from_secs(240),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlalchemy_and_pandas_over_psycopg2() {
    run_sqlalchemy_smoke("psycopg2", ("psycopg2", "psycopg2-binary")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlalchemy_and_pandas_over_psycopg3() {
    run_sqlalchemy_smoke("psycopg", ("psycopg", "psycopg[binary]")).await;
}
