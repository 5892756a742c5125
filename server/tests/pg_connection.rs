//! Connections over pg wire: startup (SSL refusal, databases, options,
//! protocol negotiation), CancelRequest, garbage from clients, clients
//! that disconnect mid-query, and many sessions at once.

mod pg_support;

use std::time::Duration;

use pg_support::{
    RawClient, TestServer, connect_error, create_slow_table, error_fields, kinds, query,
    raw_message, simple_rows, simple_value, sqlstate, ssl_request, startup, startup_version,
};
use tokio::io::AsyncWriteExt;
use tokio_postgres::NoTls;

/// Joins a table of 2^13 rows with one key to itself: 67 million rows,
/// some seconds of work.
const SLOW_COUNT: &str = "SELECT count(*) FROM slow a JOIN slow b ON a.k = b.k";
const SLOW_ROWS: &str = "SELECT a.v FROM slow a JOIN slow b ON a.k = b.k";

/// Asserts the server answers a query on a new connection.
async fn assert_responsive(server: &TestServer) {
    let answered = tokio::time::timeout(Duration::from_secs(60), async {
        let client = server.connect().await;
        simple_rows(&client, "SELECT id FROM probe").await
    })
    .await
    .expect("the server answers within 60s");
    assert_eq!(answered, vec![vec![Some("1".to_string())]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_databases_options_and_negotiation() {
    let server = TestServer::start().await;

    // The database defaults to the user name; a password offered is
    // accepted (trust).
    let client = server.connect_with("password=secret").await;
    assert_eq!(
        simple_value(&client, "SELECT 1 AS one").await.as_deref(),
        Some("1")
    );

    let err = connect_error(&server.conn_str("dbname=nope")).await;
    assert_eq!(sqlstate(&err), "3D000");
    assert_eq!(
        err.as_db_error().unwrap().message(),
        "database \"nope\" does not exist"
    );
    let err = connect_error(&format!(
        "host={} port={} user=bob",
        server.addr.ip(),
        server.addr.port()
    ))
    .await;
    assert_eq!(
        err.as_db_error().unwrap().message(),
        "database \"bob\" does not exist"
    );

    // Startup options and parameters become settings.
    let client = server
        .connect_with("application_name=reports options='-c extra_float_digits=0'")
        .await;
    assert_eq!(
        simple_value(&client, "SHOW application_name")
            .await
            .as_deref(),
        Some("reports")
    );
    assert_eq!(
        simple_value(&client, "SELECT CAST(1 AS DOUBLE PRECISION) / 3 AS v")
            .await
            .as_deref(),
        Some("0.333333333333333")
    );
    let err = connect_error(&server.conn_str("options='-c nonsense=1'")).await;
    assert_eq!(sqlstate(&err), "42704");

    // SSLRequest is refused with 'N', then startup proceeds in clear.
    let mut raw = RawClient::open(server.addr).await;
    raw.send(&ssl_request()).await;
    assert_eq!(raw.recv_byte().await, b'N');
    raw.send(&startup(&[("user", "tidewater")])).await;
    let messages = raw.until_ready().await;
    let kinds = kinds(&messages);
    assert!(kinds.starts_with("RS") && kinds.ends_with("KZ"), "{kinds}");
    assert_eq!(messages[0].1, [0, 0, 0, 0]);
    let parameters: Vec<String> = messages
        .iter()
        .filter(|(k, _)| *k == b'S')
        .map(|(_, b)| String::from_utf8_lossy(b).replace('\0', "="))
        .collect();
    for expected in [
        "server_version=",
        "client_encoding=UTF8=",
        "TimeZone=UTC=",
        "integer_datetimes=on=",
    ] {
        assert!(
            parameters.iter().any(|p| p.starts_with(expected)),
            "{expected} in {parameters:?}"
        );
    }
    let key = &messages[messages.len() - 2].1;
    assert_eq!(key.len(), 8);

    // A newer minor version and protocol options are negotiated down.
    let mut raw = RawClient::open(server.addr).await;
    raw.send(&startup_version(
        3,
        2,
        &[("user", "tidewater"), ("_pq_.magic", "1")],
    ))
    .await;
    let messages = raw.until_ready().await;
    assert_eq!(messages[0].0, b'v');
    let mut expected = 196_608i32.to_be_bytes().to_vec();
    expected.extend_from_slice(&1i32.to_be_bytes());
    expected.extend_from_slice(b"_pq_.magic\0");
    assert_eq!(messages[0].1, expected);

    // An unsupported major version is refused.
    let mut raw = RawClient::open(server.addr).await;
    raw.send(&startup_version(2, 0, &[("user", "tidewater")]))
        .await;
    let messages = raw.until_closed().await;
    assert_eq!(messages.len(), 1);
    let fields = error_fields(&messages[0].1);
    assert_eq!(
        (fields[&'S'].as_str(), fields[&'C'].as_str()),
        ("FATAL", "0A000")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_request_stops_the_running_query() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE probe (id INT); INSERT INTO probe VALUES (1)")
        .await
        .unwrap();
    create_slow_table(&client, "slow", 13).await;

    // Without the cancel the query returns its count.
    let token = client.cancel_token();
    let (result, ()) = tokio::join!(client.simple_query(SLOW_COUNT), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await.unwrap();
    });
    let err = result.unwrap_err();
    assert_eq!(sqlstate(&err), "57014");
    assert_eq!(
        err.as_db_error().unwrap().message(),
        "canceling statement due to user request"
    );
    // The session goes on.
    assert_eq!(
        simple_rows(&client, "SELECT id FROM probe").await,
        vec![vec![Some("1".to_string())]]
    );

    // A cancel request with the wrong secret does nothing.
    let mut raw = RawClient::open(server.addr).await;
    let mut request = 16i32.to_be_bytes().to_vec();
    request.extend_from_slice(&80_877_102i32.to_be_bytes());
    request.extend_from_slice(&1i32.to_be_bytes());
    request.extend_from_slice(&2i32.to_be_bytes());
    raw.send(&request).await;
    assert!(raw.until_closed().await.is_empty());
    assert_responsive(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_only_closes_its_own_connection() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE probe (id INT); INSERT INTO probe VALUES (1)")
        .await
        .unwrap();

    // Garbage instead of a startup packet.
    let mut raw = RawClient::open(server.addr).await;
    raw.send(b"\x00\x00\x00\x03GET / HTTP/1.1\r\n\r\n").await;
    raw.until_closed().await;
    let mut raw = RawClient::open(server.addr).await;
    raw.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    raw.until_closed().await;

    // After startup: an unknown message type, a Bind whose parameter is
    // longer than the message, a negative length, trailing bytes.
    let malformed: Vec<Vec<u8>> = vec![
        raw_message(b'!', b"hello"),
        {
            let mut body = b"\0\0".to_vec();
            body.extend_from_slice(&0i16.to_be_bytes());
            body.extend_from_slice(&1i16.to_be_bytes());
            body.extend_from_slice(&1000i32.to_be_bytes());
            body.extend_from_slice(b"ab");
            raw_message(b'B', &body)
        },
        b"Q\xff\xff\xff\xffSELECT 1\0".to_vec(),
        raw_message(b'S', b"extra"),
        raw_message(b'E', b"no terminator"),
        raw_message(b'D', b"Xname\0"),
        raw_message(b'P', b"\0SELECT 1\0\xff\xff"),
    ];
    for bytes in malformed {
        let mut raw = RawClient::connect(server.addr).await;
        raw.send(&bytes).await;
        let messages = raw.until_closed().await;
        assert_eq!(messages.len(), 1, "{bytes:?}: {messages:?}");
        let fields = error_fields(&messages[0].1);
        assert_eq!(
            (fields[&'S'].as_str(), fields[&'C'].as_str()),
            ("FATAL", "08P01"),
            "{bytes:?}"
        );
    }

    // Pseudo-random bytes, before and after startup.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for round in 0..40 {
        let mut bytes = Vec::new();
        for _ in 0..(64 + round * 37) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            bytes.push(seed as u8);
        }
        let mut raw = if round % 2 == 0 {
            RawClient::open(server.addr).await
        } else {
            RawClient::connect(server.addr).await
        };
        raw.send(&bytes).await;
        let _ = raw.stream.shutdown().await;
        raw.until_closed().await;
    }

    // Other sessions are untouched.
    assert_eq!(
        simple_rows(&client, "SELECT id FROM probe").await,
        vec![vec![Some("1".to_string())]]
    );
    assert_responsive(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_cancels_its_query() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE probe (id INT); INSERT INTO probe VALUES (1)")
        .await
        .unwrap();
    create_slow_table(&client, "slow", 13).await;

    // Disconnect while rows stream.
    let mut raw = RawClient::connect(server.addr).await;
    raw.send(&query(SLOW_ROWS)).await;
    let mut data_rows = 0;
    while data_rows < 100 {
        let (kind, _) = raw.recv().await.expect("rows stream");
        assert_ne!(kind, b'E');
        if kind == b'D' {
            data_rows += 1;
        }
    }
    drop(raw);
    assert_responsive(&server).await;

    // Disconnect while waiting for the result of an aggregate.
    let mut raw = RawClient::connect(server.addr).await;
    raw.send(&query(SLOW_COUNT)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(raw);
    assert_responsive(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_sessions_at_once() {
    let server = TestServer::start().await;
    let sessions = (0..16).map(|i| {
        let server = &server;
        async move {
            let client = server.connect().await;
            client
                .batch_execute(&format!(
                    "CREATE TABLE t{i} (n BIGINT); INSERT INTO t{i} VALUES ({i}), ({})",
                    i + 100
                ))
                .await
                .unwrap();
            let rows = client
                .query(
                    &format!("SELECT n FROM t{i} WHERE n >= $1 ORDER BY n"),
                    &[&0i64],
                )
                .await
                .unwrap();
            rows.iter().map(|r| r.get::<_, i64>(0)).collect::<Vec<_>>()
        }
    });
    let results = futures::future::join_all(sessions).await;
    for (i, rows) in results.into_iter().enumerate() {
        let i = i as i64;
        assert_eq!(rows, vec![i, i + 100]);
    }
}
