//! Runs every `sql-tests/slt/**/*.slt` file over both pg protocols against a
//! fresh in-process server with two workers, and the streaming files also
//! at one and four workers (continuous results must not depend on the
//! worker count); every record must pass.

use std::path::PathBuf;

use tidewater_sql_tests::{Protocol, TestServer, run_file};

/// The `.slt` files under `slt/{dir}`, sorted.
fn slt_files(dir: &str) -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("slt")
        .join(dir);
    let pattern = format!("{}/**/*.slt", root.display());
    let mut files: Vec<PathBuf> = glob::glob(&pattern)
        .expect("valid glob")
        .filter_map(Result::ok)
        .collect();
    files.sort();
    files
}

async fn run_all(dir: &str, protocol: Protocol, workers: usize) {
    let files = slt_files(dir);
    assert!(!files.is_empty(), "no .slt files found");
    let mut failures = Vec::new();
    for file in files {
        let server = TestServer::start(workers).await.expect("server starts");
        let report = run_file(&file, server.port(), protocol, 20)
            .await
            .expect("file runs");
        if report.passed != report.total {
            failures.push(format!(
                "{} ({protocol}, {workers} workers): {}/{} passed\n{}",
                file.display(),
                report.passed,
                report.total,
                report.failures.join("\n\n")
            ));
        }
        server.stop().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_simple_protocol() {
    run_all("", Protocol::Simple, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_extended_protocol() {
    run_all("", Protocol::Extended, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_streaming_at_1_and_4_workers() {
    for workers in [1, 4] {
        run_all("streaming", Protocol::Simple, workers).await;
    }
}
