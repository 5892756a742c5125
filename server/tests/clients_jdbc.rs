//! pgjdbc (Debian's `libpostgresql-jdbc-java`) against the `tidewater`
//! binary: `server/tests/clients/JdbcSmoke.java` is compiled with `javac`
//! and run on a fresh server, once per group of checks. Group `query`:
//! PreparedStatement parameters and typed getters of each type, past the
//! prepare threshold where pgjdbc switches to named statements and binary
//! results, ResultSetMetaData, batches, NULLs and errors. Group
//! `metadata`: `DatabaseMetaData` getTables, getColumns, getSchemas,
//! getPrimaryKeys and getTypeInfo. The program prints one line per check;
//! a failed check fails the test with that output and the server log.
//!
//! Without a JDK or pgjdbc these tests fail, telling to run
//! `scripts/test.sh`, which installs them.

mod clients_support;

use std::process::Command;
use std::time::Duration;

use clients_support::{ServerProcess, compile_java, require_java, run_client};

/// Compiles the program, starts a server and runs `group` against it.
async fn run_jdbc_smoke(group: &str) {
    require_java();
    let dir = tempfile::tempdir().expect("temporary directory");
    let classes = dir.path().join("classes");
    std::fs::create_dir(&classes).expect("classes directory");
    let class_path = compile_java("JdbcSmoke", &classes);
    let server = ServerProcess::start(&dir.path().join("data")).await;
    let mut java = Command::new("java");
    java.arg("-cp")
        .arg(class_path)
        .arg("JdbcSmoke")
        .arg(server.jdbc_url())
        .arg(group);
    run_client(
        java,
        &format!("JdbcSmoke {group}"),
        &server,
        Duration::from_secs(180),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgjdbc_parameterized_queries_and_typed_results() {
    run_jdbc_smoke("query").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgjdbc_database_metadata() {
    run_jdbc_smoke("metadata").await;
}
