//! Exactly-once recovery of materialized views: the `tidewater` binary is
//! killed with SIGKILL at random moments while rows are inserted into a
//! managed table and a nexmark stream runs, and restarted at 1, 2 and 3
//! workers in turn (checkpoints every 200 ms). At the end, once the
//! nexmark stream has ended and the table is flushed, every view equals
//! its defining query run as a batch over exactly the rows the table
//! holds (those acknowledged, and any in flight at a kill that committed),
//! which is what a run that never crashed produces. A restored view reads
//! only the input after its checkpoint: right after a restart its job has
//! read fewer rows than the table holds.

mod clients_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use clients_support::{ServerProcess, TestDir, random_in};
use tokio_postgres::Client;

type Rows = Vec<Vec<Option<String>>>;

/// Rows per INSERT of the writer.
const BATCH: i64 = 25;

const TABLES: &[&str] = &[
    "CREATE TABLE ev (id BIGINT, k BIGINT, v BIGINT, ts TIMESTAMP, \
       WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)",
    "CREATE TABLE dim (k BIGINT, name TEXT)",
    "INSERT INTO dim SELECT i, 'n' || CAST(i % 4 AS TEXT) FROM generate_series(0, 12) AS t(i)",
    "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel TEXT, url TEXT, \
       date_time TIMESTAMP, extra TEXT, WATERMARK FOR date_time AS date_time - INTERVAL '2' SECOND) \
     WITH (connector = 'nexmark', table = 'bid', events_per_second = '15000', \
           event_count = '150000', seed = '11', max_out_of_order = '1 second')",
];

/// The views, each with its batch query.
const VIEWS: &[(&str, &str, &str)] = &[
    (
        "g",
        "SELECT k, count(*) AS n, sum(v) AS s, min(v) AS lo, max(v) AS hi FROM ev GROUP BY k",
        "SELECT k, count(*) AS n, sum(v) AS s, min(v) AS lo, max(v) AS hi FROM ev GROUP BY k",
    ),
    (
        "j",
        "SELECT d.name, count(*) AS n, sum(e.v) AS s FROM ev e JOIN dim d ON e.k = d.k GROUP BY d.name",
        "SELECT d.name, count(*) AS n, sum(e.v) AS s FROM ev e JOIN dim d ON e.k = d.k GROUP BY d.name",
    ),
    (
        "pairs",
        "SELECT DISTINCT k % 5 AS a, v % 7 AS b FROM ev",
        "SELECT DISTINCT k % 5 AS a, v % 7 AS b FROM ev",
    ),
    (
        "w",
        "SELECT k, window_start, window_end, count(*) AS n, sum(v) AS s \
         FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
         GROUP BY k, window_start, window_end",
        // The windows the final watermark has closed.
        "SELECT k, window_start, window_end, count(*) AS n, sum(v) AS s \
         FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
         WHERE window_time <= (SELECT max(ts) FROM ev) - INTERVAL '5' SECOND \
         GROUP BY k, window_start, window_end",
    ),
    (
        "top",
        "SELECT k, id, v FROM (SELECT k, id, v, ROW_NUMBER() OVER \
         (PARTITION BY k ORDER BY v DESC, id) AS rn FROM ev) WHERE rn <= 3",
        "SELECT k, id, v FROM (SELECT k, id, v, ROW_NUMBER() OVER \
         (PARTITION BY k ORDER BY v DESC, id) AS rn FROM ev) WHERE rn <= 3",
    ),
    // A view over a view (recomputed from the restored view at start).
    (
        "big",
        "SELECT k % 3 AS m, sum(n) AS n FROM g GROUP BY k % 3",
        "SELECT k % 3 AS m, count(*) AS n FROM ev GROUP BY k % 3",
    ),
    (
        "bids",
        "SELECT bidder % 53 AS b, count(*) AS n, sum(price) AS s, max(price) AS hi FROM bid GROUP BY bidder % 53",
        "SELECT bidder % 53 AS b, count(*) AS n, sum(price) AS s, max(price) AS hi FROM bid GROUP BY bidder % 53",
    ),
    (
        "bid_windows",
        "SELECT window_start, count(*) AS n, min(price) AS lo \
         FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '1' SECOND)) \
         GROUP BY window_start, window_end",
        "SELECT window_start, count(*) AS n, min(price) AS lo \
         FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '1' SECOND)) \
         GROUP BY window_start, window_end",
    ),
];

/// The INSERT of rows `from..from + BATCH` (times move forward with a
/// disorder below the watermark delay).
fn insert(from: i64) -> String {
    let values: Vec<String> = (from..from + BATCH)
        .map(|i| {
            let second = i / 8 + (i * 7) % 3;
            format!(
                "({i}, {}, {}, TIMESTAMP '2026-03-01 12:00:00' + INTERVAL '{second} seconds')",
                i % 13,
                (i * 31) % 1009
            )
        })
        .collect();
    format!("INSERT INTO ev VALUES {}", values.join(", "))
}

async fn rows(client: &Client, sql: &str) -> Rows {
    let mut out: Rows = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect();
    out.sort();
    out
}

/// `SHOW JOBS`'s `rows_in` of view `name`.
async fn rows_in(client: &Client, name: &str) -> i64 {
    let jobs = rows(client, "SHOW JOBS").await;
    let job = jobs
        .iter()
        .find(|j| j[0].as_deref() == Some(&format!("tidewater.public.{name}")))
        .unwrap_or_else(|| panic!("no job {name}: {jobs:?}"));
    job[6].as_deref().unwrap_or("0").parse().expect("rows_in")
}

/// Inserts batches from `next` until `stop`; returns the next id.
async fn write_until(client: Client, next: Arc<AtomicI64>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        let from = next.load(Ordering::SeqCst);
        if client.simple_query(&insert(from)).await.is_err() {
            // The server was killed: this batch may or may not be there.
            return;
        }
        next.store(from + BATCH, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_survive_sigkill_exactly_once_at_1_2_and_3_workers() {
    let dir = TestDir::new();
    let data = dir.path().join("data");
    let start = |workers: &'static str| {
        let data = data.clone();
        async move {
            ServerProcess::start_with(
                &data,
                &[
                    "--workers",
                    workers,
                    "--checkpoint-interval",
                    "200 milliseconds",
                ],
            )
            .await
        }
    };
    let mut server = start("2").await;
    let client = server.connect().await;
    for sql in TABLES {
        client.batch_execute(sql).await.unwrap();
    }
    client.batch_execute(&insert(0)).await.unwrap();
    for (name, sql, _) in VIEWS {
        client
            .batch_execute(&format!("CREATE MATERIALIZED VIEW {name} AS {sql}"))
            .await
            .unwrap();
    }
    let next = Arc::new(AtomicI64::new(BATCH));
    let mut restored_reads = Vec::new();
    for (round, workers) in ["1", "2", "3", "1", "2"].into_iter().enumerate() {
        // Rows arrive; at a random moment the server is killed.
        let stop = Arc::new(AtomicBool::new(false));
        let writer = tokio::spawn(write_until(
            server.connect().await,
            Arc::clone(&next),
            Arc::clone(&stop),
        ));
        tokio::time::sleep(Duration::from_millis(random_in(600, 1800))).await;
        server.kill();
        stop.store(true, Ordering::SeqCst);
        tokio::time::timeout(Duration::from_secs(30), writer)
            .await
            .unwrap_or_else(|_| panic!("round {round}: the writer hangs after the kill"))
            .unwrap();
        // A crash may leave the last batch committed but unacknowledged:
        // continue after it either way (ids stay unique).
        next.fetch_add(BATCH, Ordering::SeqCst);

        server = start(workers).await;
        let client = server.connect().await;
        client.batch_execute("FLUSH").await.unwrap_or_else(|e| {
            panic!(
                "round {round}: FLUSH after restart: {e:?}\n{}",
                server.log()
            )
        });
        let held: i64 = rows(&client, "SELECT count(*) FROM ev").await[0][0]
            .as_deref()
            .unwrap()
            .parse()
            .unwrap();
        restored_reads.push((rows_in(&client, "g").await, held));
    }
    // A restored view read only what came after its checkpoint.
    assert!(
        restored_reads.iter().all(|(read, held)| read < held),
        "views re-read their input after a restart (rows read, rows held): {restored_reads:?}\n{}",
        server.log()
    );

    // The nexmark stream ends; the table is flushed.
    let client = server.connect().await;
    client
        .batch_execute(&insert(next.load(Ordering::SeqCst)))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let jobs = rows(&client, "SHOW JOBS").await;
        let states: Vec<_> = jobs.iter().map(|j| (j[0].clone(), j[2].clone())).collect();
        assert!(
            jobs.iter().all(|j| j[2].as_deref() != Some("failed")),
            "a job failed: {jobs:?}\n{}",
            server.log()
        );
        let bid_jobs_done = jobs
            .iter()
            .filter(|j| j[0].as_deref().is_some_and(|n| n.contains("bid")))
            .all(|j| j[2].as_deref() == Some("finished"));
        if bid_jobs_done {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the nexmark views did not finish: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.batch_execute("FLUSH").await.unwrap();
    for (name, _, batch) in VIEWS {
        let view = rows(&client, &format!("SELECT * FROM {name}")).await;
        let expected = rows(&client, batch).await;
        assert!(!view.is_empty(), "{name} is empty");
        assert_eq!(
            view.len(),
            expected.len(),
            "{name}: {} rows, the batch query {}\n{}",
            view.len(),
            expected.len(),
            server.log()
        );
        assert_eq!(view, expected, "{name} differs from its batch query");
    }
    // Checkpoints are listed, and CHECKPOINT returns once one is durable.
    client.batch_execute("CHECKPOINT").await.unwrap();
    let listed = rows(&client, "SHOW CHECKPOINTS").await;
    assert!(
        listed
            .iter()
            .any(|r| r[0].as_deref() == Some("tidewater.public.g")),
        "{listed:?}"
    );
    server.stop();
}
