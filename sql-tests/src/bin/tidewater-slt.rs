//! Runs sqllogictest files against a Tidewater server and prints the pass
//! rate of each file and in total.
//!
//! ```text
//! tidewater-slt [--protocol simple|extended|both] [--port P] [--workers N] FILE...
//! ```
//!
//! Without `--port` it starts a server in-process on a free port with a
//! temporary data directory. Exits non-zero unless every record passed.

use std::path::PathBuf;

use clap::Parser;
use tidewater_sql_tests::{Protocol, TestServer, run_file};

#[derive(Debug, Parser)]
struct Args {
    /// Protocol(s) to run each file with.
    #[arg(long, default_value = "both")]
    protocol: String,
    /// Use a running server on this port instead of starting one.
    #[arg(long)]
    port: Option<u16>,
    /// Worker threads of the in-process server.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Failures to print per file.
    #[arg(long, default_value_t = 5)]
    show: usize,
    /// Files to run.
    files: Vec<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let protocols = match args.protocol.as_str() {
        "simple" => vec![Protocol::Simple],
        "extended" => vec![Protocol::Extended],
        "both" => vec![Protocol::Simple, Protocol::Extended],
        other => anyhow::bail!("unknown protocol {other} (simple, extended or both)"),
    };
    let mut all_ok = true;
    for protocol in protocols {
        let (mut total, mut passed) = (0usize, 0usize);
        for file in &args.files {
            // A fresh server per file keeps files independent.
            let server = match args.port {
                Some(_) => None,
                None => Some(TestServer::start(args.workers).await?),
            };
            let port = args
                .port
                .or(server.as_ref().map(|s| s.port()))
                .unwrap_or_default();
            let started = std::time::Instant::now();
            let report = run_file(file, port, protocol, args.show).await?;
            println!(
                "{protocol:>8} {}: {}/{} records passed ({:.2}%) in {:.1}s",
                file.display(),
                report.passed,
                report.total,
                100.0 * report.passed as f64 / report.total.max(1) as f64,
                started.elapsed().as_secs_f64()
            );
            for f in &report.failures {
                println!("{f}\n");
            }
            total += report.total;
            passed += report.passed;
            all_ok &= report.passed == report.total;
            if let Some(s) = server {
                s.stop().await;
            }
        }
        println!(
            "{protocol:>8} total: {passed}/{total} records passed ({:.2}%)",
            100.0 * passed as f64 / total.max(1) as f64
        );
    }
    if !all_ok {
        std::process::exit(1);
    }
    Ok(())
}
