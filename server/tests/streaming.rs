//! Continuous queries over pg wire: `SUBSCRIBE` streamed over the extended
//! protocol (tokio-postgres) and as `COPY (SUBSCRIBE ...) TO STDOUT`, a
//! subscriber that disconnects mid-stream, `COPY ... TO STDOUT`, and
//! `SHOW JOBS`.

mod pg_support;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use pg_support::{TestServer, simple_rows, sqlstate};
use tokio::time::timeout;

/// Waits at most this long for a change to arrive.
const CHANGE_DEADLINE: Duration = Duration::from_secs(30);

async fn setup(client: &tokio_postgres::Client) {
    client
        .batch_execute(
            "CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP, \
               WATERMARK FOR ts AS ts - INTERVAL '5' SECOND);
             INSERT INTO ev VALUES (1, 10, '2026-03-01 12:00:00'), (2, 3, '2026-03-01 12:00:01');
             CREATE MATERIALIZED VIEW per_key AS SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k;
             FLUSH",
        )
        .await
        .unwrap();
}

/// The next `n` lines of a COPY stream, split into fields.
async fn next_lines<S>(stream: &mut S, n: usize) -> Vec<Vec<String>>
where
    S: futures::Stream<Item = Result<bytes::Bytes, tokio_postgres::Error>> + Unpin,
{
    let mut lines = Vec::new();
    let mut pending = String::new();
    while lines.len() < n {
        let chunk = timeout(CHANGE_DEADLINE, stream.next())
            .await
            .expect("a change within the deadline")
            .expect("the subscription is open")
            .unwrap();
        pending.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            lines.push(
                line.trim_end_matches('\n')
                    .split('\t')
                    .map(str::to_string)
                    .collect(),
            );
        }
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_streams_snapshot_then_changes() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    setup(&client).await;

    // COPY (SUBSCRIBE ...) TO STDOUT: the snapshot at the first epoch, then
    // each change with its epoch and diff.
    let subscriber = server.connect().await;
    let stream = subscriber
        .copy_out("COPY (SUBSCRIBE TO per_key) TO STDOUT")
        .await
        .unwrap();
    let mut stream = Box::pin(stream);
    let mut snapshot = next_lines(&mut stream, 2).await;
    snapshot.sort();
    assert_eq!(
        snapshot,
        vec![
            vec!["0", "1", "1", "1", "10"],
            vec!["0", "1", "2", "1", "3"]
        ]
    );
    // The open subscription is a job.
    let jobs = simple_rows(&client, "SHOW JOBS").await;
    assert!(
        jobs.iter()
            .any(|j| j[1].as_deref() == Some("subscription") && j[2].as_deref() == Some("running")),
        "{jobs:?}"
    );
    client
        .batch_execute("INSERT INTO ev VALUES (1, 5, '2026-03-01 12:00:02')")
        .await
        .unwrap();
    let mut update = next_lines(&mut stream, 2).await;
    assert_eq!(update[0][0], update[1][0], "one epoch holds the update");
    let epoch: i64 = update[0][0].parse().unwrap();
    assert!(epoch > 0);
    update.sort_by(|a, b| a[1].cmp(&b[1]));
    assert_eq!(update[0][1..], ["-1", "1", "1", "10"]);
    assert_eq!(update[1][1..], ["1", "1", "2", "15"]);

    // SUBSCRIBE over the extended protocol, rows streamed as they come.
    let other = server.connect().await;
    let rows = other
        .query_raw(
            "SUBSCRIBE (SELECT k, v FROM ev WHERE v > $1)",
            [4_i64].iter(),
        )
        .await
        .unwrap();
    let mut rows = Box::pin(rows);
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let row = timeout(CHANGE_DEADLINE, rows.try_next())
            .await
            .expect("a row within the deadline")
            .unwrap()
            .expect("the subscription is open");
        let columns: Vec<&str> = row.columns().iter().map(|c| c.name()).collect();
        assert_eq!(columns, ["epoch", "diff", "k", "v"]);
        seen.push((
            row.get::<_, i64>(1),
            row.get::<_, i64>(2),
            row.get::<_, i64>(3),
        ));
    }
    seen.sort_unstable();
    assert_eq!(seen, vec![(1, 1, 5), (1, 1, 10)]);
    client
        .batch_execute(
            "INSERT INTO ev VALUES (7, 70, '2026-03-01 12:00:03'), (8, 1, '2026-03-01 12:00:03')",
        )
        .await
        .unwrap();
    let row = timeout(CHANGE_DEADLINE, rows.try_next())
        .await
        .expect("a row within the deadline")
        .unwrap()
        .unwrap();
    assert_eq!((row.get::<_, i64>(2), row.get::<_, i64>(3)), (7, 70));

    // The subscriber goes away mid-stream: the server serves on.
    drop(rows);
    drop(other);
    drop(stream);
    drop(subscriber);
    client
        .batch_execute("INSERT INTO ev VALUES (1, 1, '2026-03-01 12:00:04'); FLUSH")
        .await
        .unwrap();
    let stored = simple_rows(&client, "SELECT k, n, s FROM per_key ORDER BY k").await;
    assert_eq!(
        stored[0],
        vec![Some("1".into()), Some("3".into()), Some("16".into())]
    );

    // A subscription over inputs that end, ends.
    let done = simple_rows(&client, "SUBSCRIBE (SELECT 1 AS one)").await;
    assert_eq!(
        done,
        vec![vec![Some("0".into()), Some("1".into()), Some("1".into())]]
    );

    // What cannot run continuously is refused before anything streams.
    let e = client
        .simple_query("SUBSCRIBE (SELECT k FROM ev ORDER BY k)")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "0A000");
    let e = client.simple_query("SUBSCRIBE TO").await.unwrap_err();
    assert_eq!(sqlstate(&e), "42601");
    let e = client
        .simple_query("SUBSCRIBE TO nosuch")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42P01");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_to_stdout_and_show_jobs() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    setup(&client).await;
    client
        .batch_execute("INSERT INTO ev VALUES (3, NULL, NULL); FLUSH")
        .await
        .unwrap();

    let read = |sql: &'static str| {
        let client = &client;
        async move {
            let stream = client.copy_out(sql).await.unwrap();
            let chunks: Vec<bytes::Bytes> = stream.try_collect().await.unwrap();
            String::from_utf8(chunks.concat()).unwrap()
        }
    };
    let mut lines: Vec<String> = read("COPY ev (k, v) TO STDOUT")
        .await
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    assert_eq!(lines, ["1\t10", "2\t3", "3\t\\N"]);
    assert_eq!(
        read("COPY (SELECT k, E'a\\tb\\\\c' AS t FROM ev WHERE k = 1) TO STDOUT").await,
        "1\ta\\tb\\\\c\n"
    );
    assert_eq!(
        read(
            "COPY (SELECT k, 'x,\"y' AS t, v FROM ev ORDER BY k) TO STDOUT \
             WITH (FORMAT csv, HEADER true)"
        )
        .await,
        "k,t,v\n1,\"x,\"\"y\",10\n2,\"x,\"\"y\",3\n3,\"x,\"\"y\",\n"
    );
    let e = client
        .simple_query("COPY ev TO '/tmp/somewhere'")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "0A000");

    // EXPLAIN SUBSCRIBE marks each operator's output stream.
    let plan: Vec<String> = simple_rows(
        &client,
        "EXPLAIN SUBSCRIBE (SELECT k, count(*) FROM ev GROUP BY k)",
    )
    .await
    .into_iter()
    .filter_map(|r| r[0].clone())
    .collect();
    let line = |what: &str| {
        plan.iter()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what} in {plan:#?}"))
            .clone()
    };
    assert!(line("Changefeed").ends_with("(append-only)"));
    assert!(line("UpdatingAggregate").ends_with("(updating)"));
    assert!(line("Scan: tidewater").ends_with("(append-only)"));

    let jobs = simple_rows(&client, "SHOW JOBS").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0][0].as_deref(), Some("tidewater.public.per_key"));
    assert_eq!(jobs[0][2].as_deref(), Some("running"));
    assert_eq!(jobs[0][5].as_deref(), Some("3"));
    client
        .batch_execute("DROP MATERIALIZED VIEW per_key")
        .await
        .unwrap();
    assert!(simple_rows(&client, "SHOW JOBS").await.is_empty());

    // A window view counts the rows it read and the late rows it dropped.
    client
        .batch_execute(
            "CREATE MATERIALIZED VIEW win AS SELECT k, window_start, count(*) AS n \
               FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
               GROUP BY k, window_start, window_end;
             INSERT INTO ev VALUES (1, 1, '2026-03-01 12:00:20');
             FLUSH;
             INSERT INTO ev VALUES (9, 9, '2026-03-01 12:00:05');
             FLUSH",
        )
        .await
        .unwrap();
    let jobs = simple_rows(&client, "SHOW JOBS").await;
    assert_eq!(jobs[0][0].as_deref(), Some("tidewater.public.win"));
    // rows, rows_in, late_rows: the window [12:00:00, 12:00:10) of k = 1
    // and 2; five rows read; the row at 12:00:05 came after its window.
    assert_eq!(
        jobs[0][5..8],
        [Some("2".into()), Some("5".into()), Some("1".into())]
    );
    drop(server);
}
