//! Short-query latency and throughput over pg wire, the load that ORMs and
//! dashboards put on a server: `SELECT 1`, a point query on a 10K-row
//! table, and many sessions running a small aggregate at once.
//!
//! ```text
//! short-queries --url 'host=127.0.0.1 port=6543 user=tidewater' [--iterations 2000] [--sessions 64] [--seconds 10]
//! ```
//!
//! Prints one JSON object per measurement (latencies in milliseconds); the
//! harness (`bench/short/run.sh`) runs it against Tidewater and Postgres
//! and prints the table.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use tokio_postgres::{Client, NoTls};

#[derive(Debug, Parser)]
struct Args {
    /// libpq-style connection string.
    #[arg(long)]
    url: String,
    /// Sequential iterations per latency measurement.
    #[arg(long, default_value_t = 2000)]
    iterations: usize,
    /// Concurrent sessions of the throughput measurement.
    #[arg(long, default_value_t = 64)]
    sessions: usize,
    /// Duration of the throughput measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Rows of the point-query table.
    #[arg(long, default_value_t = 10_000)]
    rows: i64,
}

async fn connect(url: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// p50, p99 and mean of `samples`, in milliseconds.
fn summary(name: &str, mut samples: Vec<Duration>) -> serde_json::Value {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let at = |q: f64| ms(samples[((samples.len() as f64 - 1.0) * q).round() as usize]);
    let mean = samples.iter().map(|d| ms(*d)).sum::<f64>() / samples.len() as f64;
    serde_json::json!({
        "measure": name,
        "p50_ms": at(0.5),
        "p99_ms": at(0.99),
        "mean_ms": mean,
        "n": samples.len(),
    })
}

async fn time<F, Fut>(iterations: usize, mut f: F) -> anyhow::Result<Vec<Duration>>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    // Warm up (connections, caches, lazily built registries).
    for i in 0..iterations / 10 + 10 {
        f(i).await?;
    }
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let start = Instant::now();
        f(i).await?;
        samples.push(start.elapsed());
    }
    Ok(samples)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = connect(&args.url).await?;
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS bench_points; \
             CREATE TABLE bench_points (id BIGINT, v BIGINT, s TEXT); \
             INSERT INTO bench_points SELECT g, g * 7, 'row ' || g FROM generate_series(1, {}) AS t(g)",
            args.rows
        ))
        .await
        .context("creating the point-query table")?;

    let samples = time(args.iterations, |_| async {
        client.simple_query("SELECT 1").await?;
        Ok(())
    })
    .await?;
    println!("{}", summary("select1_simple", samples));

    let one = client.prepare("SELECT 1").await?;
    let samples = time(args.iterations, |_| async {
        client.query(&one, &[]).await?;
        Ok(())
    })
    .await?;
    println!("{}", summary("select1_prepared", samples));

    let point = client
        .prepare("SELECT v, s FROM bench_points WHERE id = $1")
        .await?;
    let rows = args.rows;
    let samples = time(args.iterations, |i| {
        let point = &point;
        let client = &client;
        async move {
            let id = (i as i64 * 7919) % rows + 1;
            let found = client.query(point, &[&id]).await?;
            anyhow::ensure!(
                found.len() == 1,
                "point query for {id} found {}",
                found.len()
            );
            Ok(())
        }
    })
    .await?;
    println!("{}", summary("point_prepared", samples));

    let samples = time(args.iterations, |i| {
        let client = &client;
        async move {
            let id = (i as i64 * 7919) % rows + 1;
            client
                .simple_query(&format!("SELECT v, s FROM bench_points WHERE id = {id}"))
                .await?;
            Ok(())
        }
    })
    .await?;
    println!("{}", summary("point_simple", samples));

    // Throughput: sessions each running a small aggregate in a loop.
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for _ in 0..args.sessions {
        let url = args.url.clone();
        tasks.push(tokio::spawn(async move {
            let client = connect(&url).await?;
            let agg = client
                .prepare("SELECT count(*), sum(v) FROM bench_points WHERE id <= 100")
                .await?;
            let mut done = 0u64;
            while Instant::now() < deadline {
                client.query(&agg, &[]).await?;
                done += 1;
            }
            anyhow::Ok(done)
        }));
    }
    let started = Instant::now();
    let mut total = 0u64;
    for t in tasks {
        total += t.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "measure": "aggregate_sessions",
            "sessions": args.sessions,
            "queries": total,
            "queries_per_s": total as f64 / elapsed,
        })
    );
    client.batch_execute("DROP TABLE bench_points").await?;
    Ok(())
}
