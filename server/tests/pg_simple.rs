//! The simple query protocol over pg wire: several statements per query
//! string, empty queries, errors that stop the rest of the string and
//! leave the session usable, notices, and the text format of every type.

mod pg_support;

use pg_support::{
    RawClient, TestServer, error_code, kinds, query, simple_rows, simple_value, sqlstate, text_rows,
};
use tokio_postgres::SimpleQueryMessage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_of_a_query_string_run_in_order() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let messages = client
        .simple_query(
            "CREATE TABLE orders (id BIGINT, item TEXT, qty INT); \
             INSERT INTO orders VALUES (1, 'apple', 3), (2, 'pear', 5), (3, 'apple', 1); \
             SELECT id, item FROM orders WHERE qty > 1 ORDER BY id",
        )
        .await
        .unwrap();
    let tags: Vec<u64> = messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::CommandComplete(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(tags, vec![0, 3, 2]);
    assert_eq!(
        simple_rows(
            &client,
            "SELECT item, sum(qty) AS total FROM orders GROUP BY item ORDER BY item"
        )
        .await,
        vec![
            vec![Some("apple".to_string()), Some("4".to_string())],
            vec![Some("pear".to_string()), Some("5".to_string())],
        ]
    );
    assert_eq!(
        simple_rows(&client, "VALUES (1, 'a'), (2, NULL)").await,
        vec![
            vec![Some("1".into()), Some("a".into())],
            vec![Some("2".into()), None]
        ]
    );

    // Each statement gets its own RowDescription, rows and CommandComplete.
    let mut raw = RawClient::connect(server.addr).await;
    raw.send(&query("SELECT 1 AS a; SELECT 'x' AS b, 'y' AS c"))
        .await;
    let messages = raw.until_ready().await;
    assert_eq!(kinds(&messages), "TDCTDCZ");
    assert_eq!(
        text_rows(&messages),
        vec![
            vec![Some("1".to_string())],
            vec![Some("x".to_string()), Some("y".to_string())]
        ]
    );
    let tags: Vec<&[u8]> = messages
        .iter()
        .filter(|(k, _)| *k == b'C')
        .map(|(_, b)| &b[..])
        .collect();
    assert_eq!(tags, vec![&b"SELECT 1\0"[..], &b"SELECT 1\0"[..]]);

    // An empty query string.
    raw.send(&query("")).await;
    assert_eq!(kinds(&raw.until_ready().await), "IZ");
    raw.send(&query("  ;  ")).await;
    assert_eq!(kinds(&raw.until_ready().await), "IZ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_stops_the_rest_of_the_string_and_the_session_continues() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE t (id BIGINT)")
        .await
        .unwrap();
    let err = client
        .simple_query("INSERT INTO t VALUES (1); SELECT nope FROM t; INSERT INTO t VALUES (2)")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42703");
    assert_eq!(
        err.as_db_error().unwrap().message(),
        "column \"nope\" does not exist"
    );
    assert_eq!(
        simple_rows(&client, "SELECT id FROM t").await,
        vec![vec![Some("1".to_string())]]
    );

    let err = client.simple_query("SELEC 1").await.unwrap_err();
    assert_eq!(sqlstate(&err), "42601");
    let err = client
        .simple_query("SELECT * FROM missing")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42P01");
    assert_eq!(
        simple_value(&client, "SELECT 40 + 2").await.as_deref(),
        Some("42")
    );

    // An error inside a transaction block fails the block until ROLLBACK,
    // and ReadyForQuery says so.
    let mut raw = RawClient::connect(server.addr).await;
    raw.send(&query("BEGIN")).await;
    assert_eq!(raw.until_ready().await.last().unwrap().1, b"T");
    raw.send(&query("SELECT nope")).await;
    let messages = raw.until_ready().await;
    assert_eq!(error_code(&messages).as_deref(), Some("42703"));
    assert_eq!(messages.last().unwrap().1, b"E");
    raw.send(&query("SELECT 1")).await;
    let messages = raw.until_ready().await;
    assert_eq!(error_code(&messages).as_deref(), Some("25P02"));
    raw.send(&query("ROLLBACK")).await;
    assert_eq!(raw.until_ready().await.last().unwrap().1, b"I");
    raw.send(&query("SELECT 1")).await;
    assert_eq!(kinds(&raw.until_ready().await), "TDCZ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_and_parameter_status() {
    let server = TestServer::start().await;
    let mut raw = RawClient::connect(server.addr).await;
    raw.send(&query(
        "CREATE TABLE t (id INT); CREATE TABLE IF NOT EXISTS t (id INT)",
    ))
    .await;
    let messages = raw.until_ready().await;
    assert_eq!(kinds(&messages), "CNCZ");
    let notice = pg_support::error_fields(&messages[1].1);
    assert_eq!(notice[&'S'], "NOTICE");
    assert_eq!(notice[&'M'], "relation \"t\" already exists, skipping");

    raw.send(&query("SET application_name = 'reports'")).await;
    let messages = raw.until_ready().await;
    assert_eq!(kinds(&messages), "CSZ");
    assert_eq!(messages[1].1, b"application_name\0reports\0");
}

/// One value of every type in the text format, exactly as Postgres
/// prints it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_format_of_every_type() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let cases = [
        ("true", "t"),
        ("false", "f"),
        ("CAST(7 AS SMALLINT)", "7"),
        ("CAST(-7 AS INT)", "-7"),
        ("CAST(9000000000 AS BIGINT)", "9000000000"),
        ("CAST(1.5 AS REAL)", "1.5"),
        ("CAST(0.1 AS DOUBLE PRECISION)", "0.1"),
        ("CAST(1e100 AS DOUBLE PRECISION)", "1e+100"),
        ("CAST(0.00001 AS DOUBLE PRECISION)", "1e-05"),
        ("CAST(-0.0 AS DOUBLE PRECISION)", "-0"),
        ("CAST('Infinity' AS DOUBLE PRECISION)", "Infinity"),
        ("CAST('NaN' AS DOUBLE PRECISION)", "NaN"),
        ("CAST(1 AS DOUBLE PRECISION) / 3", "0.3333333333333333"),
        ("CAST(12.5 AS NUMERIC(10, 2))", "12.50"),
        ("CAST('héllo' AS TEXT)", "héllo"),
        ("CAST('v' AS VARCHAR)", "v"),
        ("decode('0a0b', 'hex')", "\\x0a0b"),
        ("DATE '2026-01-01'", "2026-01-01"),
        ("TIME '10:00:00.5'", "10:00:00.5"),
        ("TIMESTAMP '2026-01-01 10:00:00'", "2026-01-01 10:00:00"),
        ("TIMESTAMP '2026-01-01 10:00:00.5'", "2026-01-01 10:00:00.5"),
        (
            "arrow_cast(TIMESTAMP '2026-01-01 10:00:00', 'Timestamp(Microsecond, Some(\"+00:00\"))')",
            "2026-01-01 10:00:00+00",
        ),
        ("INTERVAL '1 day 2 hours'", "1 day 02:00:00"),
        ("INTERVAL '3 months'", "3 mons"),
        ("INTERVAL '1.5 seconds'", "00:00:01.5"),
        ("ARRAY['a', 'b c']", "{a,\"b c\"}"),
        ("ARRAY[1, 2]", "{1,2}"),
        (
            "arrow_cast(18446744073709551615, 'UInt64')",
            "18446744073709551615",
        ),
    ];
    for (expr, expected) in cases {
        let value = simple_value(&client, &format!("SELECT {expr} AS v")).await;
        assert_eq!(value.as_deref(), Some(expected), "{expr}");
    }
    assert_eq!(simple_value(&client, "SELECT NULL AS v").await, None);

    // extra_float_digits <= 0 gives %.15g-style output.
    client
        .batch_execute("SET extra_float_digits = 0")
        .await
        .unwrap();
    assert_eq!(
        simple_value(&client, "SELECT CAST(1 AS DOUBLE PRECISION) / 3 AS v")
            .await
            .as_deref(),
        Some("0.333333333333333")
    );
    client
        .batch_execute("SET extra_float_digits = 1")
        .await
        .unwrap();

    // timestamptz follows the session time zone.
    client
        .batch_execute("SET TimeZone = 'America/New_York'")
        .await
        .unwrap();
    assert_eq!(
        simple_value(
            &client,
            "SELECT arrow_cast(TIMESTAMP '2026-01-01 10:00:00', 'Timestamp(Microsecond, Some(\"+00:00\"))') AS v"
        )
        .await
        .as_deref(),
        Some("2026-01-01 05:00:00-05")
    );
}

/// `statement_timeout` cancels a statement that runs longer, over the
/// simple and the extended protocol, and the session goes on; other
/// sessions and statements under the limit are not touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_cancels_a_long_statement() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let other = server.connect().await;
    client
        .batch_execute("SET statement_timeout = '300ms'")
        .await
        .unwrap();
    assert_eq!(
        simple_value(&client, "SHOW statement_timeout")
            .await
            .as_deref(),
        Some("300ms")
    );
    // Far longer than the limit (a full run takes minutes).
    let long = "SELECT count(*) FROM generate_series(1, 20000000000) AS s(i)";
    let started = std::time::Instant::now();
    let timed_out = |err: tokio_postgres::Error| {
        assert_eq!(
            err.as_db_error().map(|e| (e.code().code(), e.message())),
            Some(("57014", "canceling statement due to statement timeout")),
            "{err:?}"
        );
    };
    timed_out(client.batch_execute(long).await.unwrap_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    timed_out(client.query(long, &[]).await.map(|_| ()).unwrap_err());
    // Short statements pass; the other session has no limit.
    assert_eq!(
        simple_value(&client, "SELECT 41 + 1").await.as_deref(),
        Some("42")
    );
    assert_eq!(
        simple_value(&other, "SHOW statement_timeout")
            .await
            .as_deref(),
        Some("0")
    );
    for bad in ["'-1'", "'5 parsecs'"] {
        let err = client
            .batch_execute(&format!("SET statement_timeout = {bad}"))
            .await
            .unwrap_err();
        assert_eq!(sqlstate(&err), "22023", "{bad}: {err:?}");
    }
    client
        .batch_execute("SET statement_timeout = 0")
        .await
        .unwrap();
    assert_eq!(
        simple_value(&client, "SHOW statement_timeout")
            .await
            .as_deref(),
        Some("0")
    );
}
