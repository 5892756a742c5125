//! The README quickstart, run through the real `psql` client against the
//! `tidewater` binary: tables, inserts, an aggregate, a file table over the
//! sample `data/trips.parquet` joined with a managed table, EXPLAIN, and
//! psql's `\d` family, the streaming section (views, FLUSH, SHOW JOBS, a
//! subscription); then SIGKILL, restart, and everything is still there.

mod clients_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use clients_support::{ServerProcess, TestDir};

/// The sample Parquet file of the quickstart (the README names it relative
/// to the repository root, where `cargo run` starts the server).
fn trips_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/trips.parquet")
        .canonicalize()
        .expect("data/trips.parquet is in the repository")
}

/// Runs `script` with psql (unaligned output, `|` between fields, stop at
/// the first error) and returns its standard output.
fn psql(server: &ServerProcess, script: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-A", "-F", "|", "-v", "ON_ERROR_STOP=1"])
        .args(["-h", &server.addr.ip().to_string()])
        .args(["-p", &server.addr.port().to_string()])
        .args(["-U", "tidewater", "tidewater"])
        .args(["-c", script])
        .output()
        .expect("psql is installed (scripts/test.sh installs postgresql-client)");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "psql failed on {script:?}:\n{stdout}\n{}\n--- server log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    stdout
}

fn assert_has(output: &str, line: &str) {
    assert!(
        output.lines().any(|l| l.trim_end() == line),
        "expected the line {line:?} in:\n{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_session_works_and_survives_sigkill() {
    let dir = TestDir::new();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data).await;
    let trips = trips_path();

    psql(
        &server,
        "CREATE TABLE orders (id BIGINT, customer TEXT, amount DOUBLE PRECISION, ts TIMESTAMP)",
    );
    let out = psql(
        &server,
        "INSERT INTO orders VALUES (1, 'ann', 12.5, '2026-01-01 10:00:00'), \
         (2, 'bob', 3.0, '2026-01-01 10:00:05')",
    );
    assert_has(&out, "INSERT 0 2");
    let out = psql(
        &server,
        "SELECT customer, count(*), sum(amount) FROM orders GROUP BY customer ORDER BY customer",
    );
    assert_has(&out, "customer|count|sum");
    assert_has(&out, "ann|1|12.5");
    assert_has(&out, "bob|1|3");
    psql(
        &server,
        &format!(
            "CREATE TABLE trips WITH (connector = 'file', path = '{}', format = 'parquet')",
            trips.display()
        ),
    );
    // A join, a subquery, a CTE, a window function, ORDER BY and LIMIT.
    let join = "WITH per_customer AS ( \
                  SELECT t.customer, count(*) AS trips, sum(t.fare) AS fares \
                  FROM trips t JOIN orders o ON o.customer = t.customer \
                  WHERE t.distance_km > (SELECT avg(distance_km) FROM trips) \
                  GROUP BY t.customer) \
                SELECT customer, trips, rank() OVER (ORDER BY trips DESC) AS r \
                FROM per_customer ORDER BY customer LIMIT 10";
    let out = psql(&server, join);
    let rows: Vec<&str> = out.lines().skip(1).filter(|l| l.contains('|')).collect();
    assert_eq!(rows.len(), 2, "ann and bob have trips:\n{out}");
    assert!(rows[0].starts_with("ann|") && rows[1].starts_with("bob|"));

    let out = psql(&server, "SELECT count(*) FROM trips");
    assert_has(&out, "1000");
    let out = psql(
        &server,
        "EXPLAIN SELECT customer, sum(amount) FROM orders GROUP BY customer",
    );
    assert!(out.contains("Logical plan") && out.contains("Dataflow plan"));
    assert!(out.contains("FinalAggregate"), "{out}");

    let out = psql(&server, r"\dt");
    assert_has(&out, "public|orders|table|tidewater");
    assert_has(&out, "public|trips|table|tidewater");
    let out = psql(&server, r"\d orders");
    assert_has(&out, "id|bigint|||");
    assert_has(&out, "customer|text|||");
    assert_has(&out, "amount|double precision|||");
    assert_has(&out, "ts|timestamp without time zone|||");
    let out = psql(&server, r"\d");
    assert_has(&out, "public|trips|table|tidewater");
    let out = psql(&server, r"\l");
    assert!(out.lines().any(|l| l.starts_with("tidewater|")), "{out}");
    let out = psql(&server, r"\dn");
    assert!(out.lines().any(|l| l.starts_with("public|")), "{out}");

    // The streaming section: a window view over nexmark, an updating view
    // over a managed table, FLUSH, a subscription over COPY.
    psql(
        &server,
        "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel TEXT, url TEXT, \
           date_time TIMESTAMP, extra TEXT, \
           WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND) \
         WITH (connector = 'nexmark', table = 'bid', events_per_second = '50000')",
    );
    psql(
        &server,
        "CREATE MATERIALIZED VIEW hot_items AS \
           SELECT auction, window_start, window_end, count(*) AS bids, max(price) AS top \
           FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND)) \
           GROUP BY auction, window_start, window_end",
    );
    psql(
        &server,
        "SELECT * FROM hot_items WHERE bids > 10 ORDER BY bids DESC LIMIT 5",
    );
    let out = psql(&server, "SHOW JOBS");
    assert!(
        out.lines()
            .any(|l| l.starts_with("tidewater.public.hot_items|materialized view|running|")),
        "{out}"
    );
    psql(
        &server,
        "CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)",
    );
    psql(
        &server,
        "CREATE MATERIALIZED VIEW per_key AS SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k",
    );
    psql(
        &server,
        "INSERT INTO ev VALUES (1, 10, '2026-03-01 12:00:00'), (1, 5, '2026-03-01 12:00:01')",
    );
    psql(&server, "FLUSH");
    let out = psql(&server, "SELECT * FROM per_key");
    assert_has(&out, "1|2|15");
    psql(&server, "DROP MATERIALIZED VIEW hot_items");
    // A subscription whose input ends (a list of values) ends
    // too, so psql returns.
    let out = psql(&server, "COPY (SUBSCRIBE (SELECT 7 AS seven)) TO STDOUT");
    assert_has(&out, "0\t1\t7");

    // SIGKILL and restart: tables and rows are all there, and the view is
    // computed again from its table.
    server.kill();
    let server = ServerProcess::start(&data).await;
    let out = psql(&server, "SELECT id, customer FROM orders ORDER BY id");
    assert_has(&out, "1|ann");
    assert_has(&out, "2|bob");
    let out = psql(&server, "SELECT count(*) FROM trips");
    assert_has(&out, "1000");
    psql(&server, "FLUSH");
    let out = psql(&server, "SELECT * FROM per_key");
    assert_has(&out, "1|2|15");
}
