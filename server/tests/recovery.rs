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

/// A job that fails (a division by zero in a row of its input) restarts
/// from its last checkpoint after a backoff, reading only the input after
/// it, fails again on the same row, and after its restarts is marked
/// failed with the error; the view keeps its rows and another view over
/// the same table goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_restarts_from_its_checkpoint_then_is_marked_failed() {
    let dir = TestDir::new();
    let mut server = ServerProcess::start_with(
        &dir.path().join("data"),
        &[
            "--workers",
            "2",
            "--checkpoint-interval",
            "200 milliseconds",
        ],
    )
    .await;
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE t (k BIGINT, v BIGINT);
             INSERT INTO t SELECT i % 7, 1 + i % 5 FROM generate_series(1, 500) AS s(i);
             CREATE MATERIALIZED VIEW fine AS SELECT k, count(*) AS n FROM t GROUP BY k;
             CREATE MATERIALIZED VIEW bad AS SELECT k, sum(100 / v) AS s FROM t GROUP BY k;
             FLUSH; CHECKPOINT",
        )
        .await
        .unwrap();
    let before = rows(&client, "SELECT * FROM bad").await;
    assert_eq!(before.len(), 7);
    client
        .batch_execute("INSERT INTO t VALUES (3, 0)")
        .await
        .unwrap();
    let job = |jobs: &Rows, name: &str| {
        jobs.iter()
            .find(|j| j[0].as_deref() == Some(&format!("tidewater.public.{name}")))
            .cloned()
            .unwrap_or_else(|| panic!("no job {name}: {jobs:?}"))
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut seen_restarting = false;
    let failed = loop {
        let jobs = rows(&client, "SHOW JOBS").await;
        let bad = job(&jobs, "bad");
        let restarts: i64 = bad[11].as_deref().unwrap().parse().unwrap();
        match bad[2].as_deref() {
            Some("restarting") if restarts >= 1 => {
                seen_restarting = true;
                // The restarted run resumed after its checkpoint's offsets.
                let read: i64 = bad[6].as_deref().unwrap().parse().unwrap();
                assert!(read < 100, "a restarted run re-read its input: {bad:?}");
            }
            Some("failed") => break bad,
            _ => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the failing job was not marked failed: {jobs:?}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(seen_restarting, "{failed:?}");
    assert_eq!(failed[11].as_deref(), Some("3"), "{failed:?}");
    assert!(
        failed[10]
            .as_deref()
            .is_some_and(|e| e.contains("division by zero")),
        "{failed:?}"
    );
    // The failed view keeps the rows of its last checkpoint.
    assert_eq!(rows(&client, "SELECT * FROM bad").await, before);
    // The other view goes on.
    client
        .batch_execute("INSERT INTO t VALUES (3, 9); FLUSH")
        .await
        .unwrap();
    assert_eq!(
        rows(&client, "SELECT * FROM fine").await,
        rows(&client, "SELECT k, count(*) AS n FROM t GROUP BY k").await
    );
    let jobs = rows(&client, "SHOW JOBS").await;
    assert_eq!(job(&jobs, "fine")[2].as_deref(), Some("running"));
    assert_eq!(job(&jobs, "fine")[11].as_deref(), Some("0"));
    server.stop();
}

/// `ALTER MATERIALIZED VIEW … SET PARALLELISM` rescales running views
/// through a checkpoint (the restarted job reads only the input after
/// it), while rows arrive and a nexmark stream runs; the views stay equal
/// to their batch queries, and the parallelism survives a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_parallelism_rescales_views_through_a_checkpoint() {
    let dir = TestDir::new();
    let data = dir.path().join("data");
    let args = [
        "--workers",
        "3",
        "--checkpoint-interval",
        "200 milliseconds",
    ];
    let mut server = ServerProcess::start_with(&data, &args).await;
    let client = server.connect().await;
    for sql in TABLES {
        client.batch_execute(sql).await.unwrap();
    }
    let checked = ["g", "j", "top", "bids"];
    for (name, sql, _) in VIEWS.iter().filter(|v| checked.contains(&v.0)) {
        client
            .batch_execute(&format!("CREATE MATERIALIZED VIEW {name} AS {sql}"))
            .await
            .unwrap();
    }
    async fn insert_some(client: &Client, next: &mut i64) {
        for _ in 0..8 {
            client.batch_execute(&insert(*next)).await.unwrap();
            *next += BATCH;
        }
        client.batch_execute("FLUSH").await.unwrap();
    }
    async fn job(client: &Client, name: &str) -> Vec<Option<String>> {
        let jobs = rows(client, "SHOW JOBS").await;
        jobs.into_iter()
            .find(|j| j[0].as_deref() == Some(&format!("tidewater.public.{name}")))
            .unwrap_or_else(|| panic!("no job {name}"))
    }
    async fn check(client: &Client, names: &[&str]) {
        for (name, _, batch) in VIEWS.iter().filter(|v| names.contains(&v.0)) {
            let view = rows(client, &format!("SELECT * FROM {name}")).await;
            assert!(!view.is_empty(), "{name} is empty");
            assert_eq!(
                view,
                rows(client, batch).await,
                "{name} differs from its batch query"
            );
        }
    }
    let mut next = 0;
    insert_some(&client, &mut next).await;
    check(&client, &["g", "j", "top"]).await;
    for (view, parallelism) in [("g", 1), ("j", 2), ("bids", 1), ("g", 3), ("top", 2)] {
        client
            .batch_execute(&format!(
                "ALTER MATERIALIZED VIEW {view} SET PARALLELISM {parallelism}"
            ))
            .await
            .unwrap_or_else(|e| panic!("{view}: {e:?}\n{}", server.log()));
        let after = job(&client, view).await;
        assert_eq!(after[12].as_deref(), Some(parallelism.to_string().as_str()));
        if view != "bids" {
            // Restored: the new run read nothing that its checkpoint holds.
            let read: i64 = after[6].as_deref().unwrap().parse().unwrap();
            assert!(read < next, "{view} recomputed: {after:?}");
        }
        insert_some(&client, &mut next).await;
        check(&client, &["g", "j", "top"]).await;
    }
    for (sql, code) in [
        ("ALTER MATERIALIZED VIEW g SET PARALLELISM 4", "22023"),
        ("ALTER MATERIALIZED VIEW g SET PARALLELISM 0", "22023"),
        ("ALTER MATERIALIZED VIEW ev SET PARALLELISM 1", "42809"),
        ("ALTER MATERIALIZED VIEW nope SET PARALLELISM 1", "42P01"),
    ] {
        let e = client.batch_execute(sql).await.unwrap_err();
        assert_eq!(e.code().map(|c| c.code()), Some(code), "{sql}: {e:?}");
    }
    // The nexmark stream ends; its view equals the batch query.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while job(&client, "bids").await[2].as_deref() != Some("finished") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "bids did not finish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check(&client, &["bids"]).await;

    // The parallelism is kept across a restart.
    server.kill();
    server = ServerProcess::start_with(&data, &args).await;
    let client = server.connect().await;
    for (view, parallelism) in [("g", "3"), ("j", "2"), ("top", "2"), ("bids", "1")] {
        assert_eq!(job(&client, view).await[12].as_deref(), Some(parallelism));
    }
    insert_some(&client, &mut next).await;
    check(&client, &["g", "j", "top", "bids"]).await;
    server.stop();
}

/// An S3-compatible object store on loopback: moto's server (PyPI
/// `moto[server]`) with one bucket, stopped when dropped.
struct S3Server {
    child: std::process::Child,
    endpoint: String,
}

impl S3Server {
    const PYTHON: &str = "python3";

    fn start(dir: &std::path::Path, bucket: &str) -> Self {
        clients_support::require_python_modules(&[("moto", "moto[server]"), ("boto3", "boto3")]);
        let port = clients_support::free_port();
        let log = std::fs::File::create(dir.join("moto.log")).unwrap();
        let child = std::process::Command::new(Self::PYTHON)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start moto's S3 server");
        let server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "moto's S3 server did not start: {}",
                std::fs::read_to_string(dir.join("moto.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server.boto3(&format!("s3.create_bucket(Bucket='{bucket}')"));
        server
    }

    /// Runs `statement` in Python with `s3`, a boto3 client of the store;
    /// returns what it prints.
    fn boto3(&self, statement: &str) -> String {
        let script = format!(
            "import boto3\n\
             s3 = boto3.client('s3', endpoint_url='{}', aws_access_key_id='test', \
             aws_secret_access_key='test', region_name='us-east-1')\n{statement}",
            self.endpoint
        );
        let out = std::process::Command::new(Self::PYTHON)
            .args(["-c", &script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{statement}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// With `checkpoint_store` naming an S3 bucket, checkpoints are written
/// there (nothing under the data directory), and a view killed with
/// SIGKILL is restored from the bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_in_an_s3_bucket_restore_a_killed_server() {
    let dir = TestDir::new();
    let s3 = S3Server::start(dir.path(), "checkpoints");
    let config = dir.path().join("tidewater.toml");
    std::fs::write(
        &config,
        format!(
            "checkpoint_store = \"s3://checkpoints/cluster-a\"\n\
             checkpoint_interval = \"200 milliseconds\"\n\
             [checkpoint_store_options]\n\
             endpoint = \"{}\"\nallow_http = \"true\"\nregion = \"us-east-1\"\n\
             access_key_id = \"test\"\nsecret_access_key = \"test\"\n",
            s3.endpoint
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let config = config.to_str().unwrap();
    let args = ["--config", config, "--workers", "2"];
    let mut server = ServerProcess::start_with(&data, &args).await;
    let client = server.connect().await;
    let view = "SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k";
    client
        .batch_execute(&format!(
            "{}; CREATE MATERIALIZED VIEW g AS {view}; {}; {}; FLUSH; CHECKPOINT",
            TABLES[0],
            insert(0),
            insert(BATCH)
        ))
        .await
        .unwrap();
    let before = rows(&client, "SELECT * FROM g").await;
    server.kill();
    assert!(
        !data.join("checkpoints").exists(),
        "checkpoints were written under the data directory"
    );
    let listed = s3.boto3(
        "for o in s3.list_objects_v2(Bucket='checkpoints', Prefix='cluster-a/')['Contents']: print(o['Key'])",
    );
    assert!(listed.contains("/manifest.json"), "{listed}");

    let mut server = ServerProcess::start_with(&data, &args).await;
    let client = server.connect().await;
    // Restored from the bucket: the rows are back without re-reading them.
    assert_eq!(rows(&client, "SELECT * FROM g").await, before);
    let jobs = rows(&client, "SHOW JOBS").await;
    let read: i64 = jobs[0][6].as_deref().unwrap().parse().unwrap();
    assert!(read < 2 * BATCH, "the view was recomputed: {jobs:?}");
    client
        .batch_execute(&format!("{}; FLUSH", insert(2 * BATCH)))
        .await
        .unwrap();
    assert_eq!(
        rows(&client, "SELECT * FROM g").await,
        rows(&client, view).await
    );
    server.stop();
}
