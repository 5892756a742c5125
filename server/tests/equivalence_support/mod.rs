//! The batch-equivalence workload of continuous queries, shared by the
//! single-process tests (`streaming_equivalence.rs`, at 1 and 4 workers)
//! and the two-process cluster test (`cluster.rs`): sources, views, and
//! the check that every view equals its defining query run as a batch.
//! Each function takes a client of a fresh server and returns the views'
//! rows (sorted) for comparisons across worker counts.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::pg_support::simple_rows;

pub type Rows = Vec<Vec<Option<String>>>;

/// Events of the counted nexmark stream (46 in 50 are bids).
const EVENTS: u64 = 60_000;

/// The views over the nexmark bids, each with its batch query.
const NEXMARK_VIEWS: &[(&str, &str)] = &[
    (
        "tumble_bids",
        "SELECT auction, window_start, window_end, count(*) AS n, sum(price) AS s, \
                max(price) AS top, min(bidder) AS low \
         FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND)) \
         GROUP BY auction, window_start, window_end",
    ),
    (
        "hop_bids",
        "SELECT window_start, window_end, count(*) AS n, avg(price) AS mean \
         FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '1' SECOND, INTERVAL '3' SECOND)) \
         GROUP BY window_start, window_end",
    ),
    (
        "per_bidder",
        "SELECT bidder % 97 AS b, count(*) AS n, sum(price) AS s, min(price) AS lo, max(price) AS hi \
         FROM bid GROUP BY bidder % 97",
    ),
    (
        "cheap",
        "SELECT auction, bidder, price, date_time FROM bid WHERE price < 2000",
    ),
    // A join (bids arrive after their auction, on the other input) and an
    // aggregate over its changelog.
    (
        "auction_bids",
        "SELECT a.id, a.category, count(*) AS n, max(b.price) AS top, min(b.price) AS low \
         FROM auction a JOIN bid b ON a.id = b.auction GROUP BY a.id, a.category",
    ),
    // An outer join: an auction's padded row is retracted at its first bid.
    (
        "auction_matches",
        "SELECT a.category, count(*) AS r, count(b.auction) AS matched \
         FROM auction a LEFT JOIN bid b ON a.id = b.auction AND b.price > 10000 \
         GROUP BY a.category",
    ),
    // TopN: the three highest bids of each auction.
    (
        "top_bids",
        "SELECT auction, bidder, price, rn FROM (SELECT auction, bidder, price, \
           ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC, bidder, date_time) AS rn \
           FROM bid) t WHERE rn <= 3",
    ),
    (
        "channels",
        "SELECT DISTINCT auction % 50 AS a, channel FROM bid",
    ),
    // Over the counted datagen table: a join with the bids, a TopN over
    // an updating aggregate.
    (
        "dg_join",
        "SELECT d.color, count(*) AS n, sum(b.price) AS s \
         FROM dg d JOIN bid b ON d.id = b.bidder GROUP BY d.color",
    ),
    (
        "dg_top",
        "SELECT k, n FROM (SELECT k, n, ROW_NUMBER() OVER (ORDER BY n DESC, k) AS rn \
           FROM (SELECT v % 37 AS k, count(*) AS n FROM dg GROUP BY v % 37) g) t WHERE rn <= 5",
    ),
];

/// Waits until every job is finished (its inputs ended).
async fn wait_finished(client: &Client) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let jobs = simple_rows(client, "SHOW JOBS").await;
        if jobs.iter().all(|j| j[2].as_deref() == Some("finished")) {
            return;
        }
        assert!(
            jobs.iter().all(|j| j[2].as_deref() != Some("failed")),
            "a job failed: {jobs:?}"
        );
        assert!(Instant::now() < deadline, "jobs did not finish: {jobs:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every row of `sql`, sorted (as text).
async fn sorted(client: &Client, sql: &str) -> Rows {
    let mut rows = simple_rows(client, sql).await;
    rows.sort();
    rows
}

/// The nexmark views on the server `client` is connected to (`label`
/// names it in failures), after checking each against
/// its batch query.
pub async fn nexmark_views(client: &Client, label: &str) -> Vec<Rows> {
    client
        .batch_execute(&format!(
            "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel TEXT, url TEXT, \
               date_time TIMESTAMP, extra TEXT, \
               WATERMARK FOR date_time AS date_time - INTERVAL '2' SECOND) \
             WITH (connector = 'nexmark', table = 'bid', events_per_second = '0', \
                   event_count = '{EVENTS}', seed = '7', max_out_of_order = '1 second')"
        ))
        .await
        .unwrap();
    client
        .batch_execute(&format!(
            "CREATE TABLE auction (id BIGINT, category BIGINT, date_time TIMESTAMP) \
             WITH (connector = 'nexmark', table = 'auction', events_per_second = '0', \
                   event_count = '{EVENTS}', seed = '7', max_out_of_order = '1 second')"
        ))
        .await
        .unwrap();
    client
        .batch_execute(
            "CREATE TABLE dg (id BIGINT, v BIGINT, color TEXT) \
             WITH (connector = 'datagen', rows_per_second = '0', number_of_rows = '5000', \
                   seed = '3', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1000', \
                   'fields.v.min' = '0', 'fields.v.max' = '999', \
                   'fields.color.values' = 'red,green,blue')",
        )
        .await
        .unwrap();
    for (name, sql) in NEXMARK_VIEWS {
        client
            .batch_execute(&format!("CREATE MATERIALIZED VIEW {name} AS {sql}"))
            .await
            .unwrap();
    }
    wait_finished(client).await;
    let mut out = Vec::new();
    for (name, sql) in NEXMARK_VIEWS {
        let view = sorted(client, &format!("SELECT * FROM {name}")).await;
        let batch = sorted(client, sql).await;
        assert!(!view.is_empty(), "{name} is empty");
        assert_eq!(view.len(), batch.len(), "{name} on {label}");
        assert_eq!(view, batch, "{name} on {label}");
        out.push(view);
    }
    // No row was late: the out-of-order bound is below the watermark delay.
    let jobs = simple_rows(client, "SHOW JOBS").await;
    assert!(
        jobs.iter().all(|j| j[7].as_deref() == Some("0")),
        "{jobs:?}"
    );
    out
}

/// A managed table fed while its views run, flushed, equals the batch
/// queries over the table.
pub async fn managed_views(client: &Client, label: &str) -> Vec<Rows> {
    client
        .batch_execute(
            "CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP, \
               WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)",
        )
        .await
        .unwrap();
    let insert = |from: u64, to: u64| {
        let values: Vec<String> = (from..to)
            .map(|i| {
                // Times move forward with bounded disorder (under 5 s).
                let second = i / 4 + (i * 7) % 4;
                format!(
                    "({}, {}, TIMESTAMP '2026-03-01 12:00:00' + INTERVAL '{second} seconds')",
                    i % 13,
                    (i * 31) % 101
                )
            })
            .collect();
        format!("INSERT INTO ev VALUES {}", values.join(", "))
    };
    client.batch_execute(&insert(0, 300)).await.unwrap();
    let views = [
        (
            "w",
            "SELECT k, window_start, window_end, count(*) AS n, sum(v) AS s \
             FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
             GROUP BY k, window_start, window_end",
            "SELECT k, window_start, window_end, count(*) AS n, sum(v) AS s \
             FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
             WHERE window_time <= (SELECT max(ts) FROM ev) - INTERVAL '5' SECOND \
             GROUP BY k, window_start, window_end",
        ),
        (
            "g",
            "SELECT k, count(*) AS n, min(v) AS lo, max(v) AS hi FROM ev GROUP BY k",
            "SELECT k, count(*) AS n, min(v) AS lo, max(v) AS hi FROM ev GROUP BY k",
        ),
        (
            "g2",
            "SELECT k, n FROM g WHERE n > 25",
            "SELECT k, count(*) AS n FROM ev GROUP BY k HAVING count(*) > 25",
        ),
        // Aggregates and a TopN over the changelog of `g`: the current
        // extremes are retracted as the groups grow.
        (
            "g3",
            "SELECT max(n) AS most, min(n) AS fewest, min(lo) AS lowest, count(*) AS groups FROM g",
            "SELECT max(n), min(n), min(lo), count(*) FROM \
               (SELECT k, count(*) AS n, min(v) AS lo FROM ev GROUP BY k) t",
        ),
        (
            "g4",
            "SELECT k, n FROM (SELECT k, n, ROW_NUMBER() OVER (ORDER BY n DESC, k) AS rn FROM g) t \
             WHERE rn <= 3",
            "SELECT k, count(*) AS n FROM ev GROUP BY k ORDER BY n DESC, k LIMIT 3",
        ),
    ];
    for (name, sql, _) in &views {
        client
            .batch_execute(&format!("CREATE MATERIALIZED VIEW {name} AS {sql}"))
            .await
            .unwrap();
    }
    // Rows arrive while the views run, in several commits.
    for chunk in 1..6 {
        client
            .batch_execute(&insert(chunk * 300, chunk * 300 + 300))
            .await
            .unwrap();
    }
    client.batch_execute("FLUSH").await.unwrap();
    let mut out = Vec::new();
    for (name, _, batch) in &views {
        let view = sorted(client, &format!("SELECT * FROM {name}")).await;
        let expected = sorted(client, batch).await;
        assert!(!view.is_empty(), "{name} is empty");
        assert_eq!(view, expected, "{name} on {label}");
        out.push(view);
    }
    // The watermark reaches every view fed by the table, also those that
    // do not read its event-time column (`g`).
    let watermark = simple_rows(client, "SELECT max(ts) - INTERVAL '5' SECOND FROM ev").await;
    let jobs = simple_rows(client, "SHOW JOBS").await;
    for name in ["w", "g"] {
        let job = jobs
            .iter()
            .find(|j| j[0].as_deref() == Some(&format!("tidewater.public.{name}")))
            .unwrap_or_else(|| panic!("no job {name}: {jobs:?}"));
        assert_eq!(
            job[8], watermark[0][0],
            "watermark of {name} on {label}: {jobs:?}"
        );
    }
    out
}
