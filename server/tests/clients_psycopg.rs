//! psycopg 3 against the `tidewater` binary:
//! `server/tests/clients/psycopg_smoke.py` runs on a fresh server, once per
//! group of checks. Group `query`: parameters in text and binary format,
//! results in text and binary format, prepared statements, executemany,
//! NULLs, array parameters, COPY, errors and psycopg's default transaction
//! mode. Group `metadata`: listing tables and columns through
//! information_schema and pg_catalog, and `TypeInfo.fetch`. Group
//! `streaming`: a materialized view, `DECLARE … CURSOR FOR SUBSCRIBE` with
//! `FETCH` waiting for changes, and a cursor over a query. The script
//! prints one line per check; a failed check fails the test with that
//! output and the server log.
//!
//! Without psycopg these tests fail, telling to run `scripts/test.sh`,
//! which installs it.

mod clients_support;

use std::process::Command;
use std::time::Duration;

use clients_support::{PYTHON, ServerProcess, clients_dir, require_psycopg, run_client};

/// Starts a server and runs the script's `group` against it.
async fn run_psycopg_smoke(group: &str) {
    require_psycopg();
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = ServerProcess::start(&dir.path().join("data")).await;
    let mut python = Command::new(PYTHON);
    python
        .arg(clients_dir().join("psycopg_smoke.py"))
        .arg(server.conn_str("tidewater"))
        .arg(group)
        // Python's own encoding of stdout, whatever the locale.
        .env("PYTHONIOENCODING", "utf-8");
    run_client(
        python,
        &format!("psycopg_smoke.py {group}"),
        &server,
        Duration::from_secs(180),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg_parameters_in_text_and_binary_and_typed_results() {
    run_psycopg_smoke("query").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg_lists_tables_through_the_catalog() {
    run_psycopg_smoke("metadata").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg_subscribes_through_a_cursor() {
    run_psycopg_smoke("streaming").await;
}
