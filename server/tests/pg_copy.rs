//! `COPY ... FROM STDIN` over pg wire, in text and CSV, through the
//! extended protocol (tokio-postgres) and the simple protocol; a failed or
//! aborted copy stores nothing.

mod pg_support;

use bytes::Bytes;
use futures::SinkExt;
use pg_support::{
    RawClient, TestServer, error_code, error_fields, kinds, query, raw_message, simple_rows,
    sqlstate,
};

fn rows(pairs: &[(&str, &str)]) -> Vec<Vec<Option<String>>> {
    pairs
        .iter()
        .map(|(a, b)| vec![Some(a.to_string()), Some(b.to_string())])
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_text_and_csv() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE items (id BIGINT, name TEXT)")
        .await
        .unwrap();

    let sink = client.copy_in("COPY items FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    sink.send(Bytes::from_static(b"1\tapple\n2\tpe"))
        .await
        .unwrap();
    sink.send(Bytes::from_static(b"ar\n3\t\\N\n"))
        .await
        .unwrap();
    assert_eq!(sink.finish().await.unwrap(), 3);

    let sink = client
        .copy_in("COPY items (name, id) FROM STDIN WITH (FORMAT csv, HEADER true)")
        .await
        .unwrap();
    futures::pin_mut!(sink);
    sink.send(Bytes::from_static(b"name,id\n\"plum, red\",4\n"))
        .await
        .unwrap();
    assert_eq!(sink.finish().await.unwrap(), 1);

    let stored = simple_rows(&client, "SELECT id, name FROM items ORDER BY id").await;
    let mut expected = rows(&[("1", "apple"), ("2", "pear")]);
    expected.push(vec![Some("3".into()), None]);
    expected.extend(rows(&[("4", "plum, red")]));
    assert_eq!(stored, expected);

    // A bad value fails the copy; nothing of it is stored.
    let sink = client.copy_in("COPY items FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    sink.send(Bytes::from_static(b"5\tfig\nx\tkiwi\n"))
        .await
        .unwrap();
    let err = sink.finish().await.unwrap_err();
    assert_eq!(sqlstate(&err), "22P02");
    assert_eq!(
        simple_rows(&client, "SELECT id, name FROM items ORDER BY id").await,
        expected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_in_a_simple_query_and_copy_fail() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE items (id BIGINT, name TEXT)")
        .await
        .unwrap();
    let mut raw = RawClient::connect(server.addr).await;

    // CopyInResponse: text format, one text format code per column. (The
    // COPY is last in the string: sqlparser reads whatever follows
    // `FROM STDIN;` as inline data.)
    raw.send(&query("SELECT 'before' AS a; COPY items FROM STDIN"))
        .await;
    assert_eq!(
        kinds(&[
            raw.recv().await.unwrap(),
            raw.recv().await.unwrap(),
            raw.recv().await.unwrap()
        ]),
        "TDC"
    );
    let (kind, body) = raw.recv().await.unwrap();
    assert_eq!(kind, b'G');
    assert_eq!(body, [0, 0, 2, 0, 0, 0, 0]);
    let mut data = raw_message(b'd', b"1\tapple\n");
    data.extend(raw_message(b'd', b"2\tpear\n"));
    data.extend(raw_message(b'c', b""));
    raw.send(&data).await;
    let messages = raw.until_ready().await;
    assert_eq!(kinds(&messages), "CZ");
    assert_eq!(messages[0].1, b"COPY 2\0");

    // CopyFail aborts the copy: 57014 with the client's message, nothing
    // stored, and later CopyData is ignored.
    raw.send(&query("COPY items FROM STDIN")).await;
    assert_eq!(raw.recv().await.unwrap().0, b'G');
    let mut data = raw_message(b'd', b"3\tfig\n");
    data.extend(raw_message(b'f', b"client gave up\0"));
    data.extend(raw_message(b'd', b"4\tkiwi\n"));
    data.extend(query("SELECT 1 AS one"));
    raw.send(&data).await;
    let messages = raw.until_ready().await;
    assert_eq!(kinds(&messages), "EZ");
    let fields = error_fields(&messages[0].1);
    assert_eq!(fields[&'C'], "57014");
    assert_eq!(fields[&'M'], "COPY from stdin failed: client gave up");
    assert_eq!(kinds(&raw.until_ready().await), "TDCZ");

    // Another message than copy messages during the copy is an error.
    raw.send(&query("COPY items FROM STDIN")).await;
    assert_eq!(raw.recv().await.unwrap().0, b'G');
    raw.send(&query("SELECT 1")).await;
    let messages = raw.until_ready().await;
    assert_eq!(error_code(&messages).as_deref(), Some("08P01"));

    assert_eq!(
        simple_rows(&client, "SELECT id, name FROM items ORDER BY id").await,
        rows(&[("1", "apple"), ("2", "pear")])
    );
}

/// The option syntax from before Postgres 9.0 (`WITH CSV HEADER`,
/// `DELIMITER`, `NULL`), which clients and dumps still write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_legacy_options() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE legacy (id BIGINT, name TEXT)")
        .await
        .unwrap();
    let copies: [(&str, &[u8]); 5] = [
        (
            "COPY legacy FROM STDIN WITH CSV HEADER",
            b"id,name\n1,\"a, b\"\n",
        ),
        ("COPY legacy FROM STDIN CSV HEADER", b"id,name\n2,c\n"),
        ("COPY legacy (name, id) FROM STDIN WITH CSV", b"d,3\n,4\n"),
        ("COPY legacy FROM STDIN WITH DELIMITER ','", b"5,e\n"),
        ("COPY legacy FROM STDIN WITH NULL 'none'", b"6\tnone\n"),
    ];
    for (sql, data) in copies {
        let sink = client.copy_in(sql).await.unwrap();
        futures::pin_mut!(sink);
        sink.send(Bytes::from_static(data)).await.unwrap();
        assert!(sink.finish().await.unwrap() >= 1, "{sql}");
    }
    let mut expected = rows(&[("1", "a, b"), ("2", "c"), ("3", "d")]);
    expected.push(vec![Some("4".into()), None]);
    expected.extend(rows(&[("5", "e")]));
    expected.push(vec![Some("6".into()), None]);
    assert_eq!(
        simple_rows(&client, "SELECT id, name FROM legacy ORDER BY id").await,
        expected
    );
    // HEADER is CSV-only, as in Postgres.
    let Err(err) = client
        .copy_in::<_, Bytes>("COPY legacy FROM STDIN WITH HEADER")
        .await
    else {
        panic!("COPY ... WITH HEADER in text format succeeded");
    };
    assert_eq!(sqlstate(&err), "0A000");
}

/// Escapes in COPY text format produce bytes (`\303\251` is "é", as in
/// Postgres), the field is then checked as UTF-8 (22021), a bytea field
/// with a bad hex digit is 22023, and a COPY option that is not one
/// one-byte character is refused as Postgres refuses it, on the new and
/// the legacy option syntax. The connection serves after each error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_escapes_give_bytes_and_bad_fields_are_errors() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE esc (id BIGINT, name TEXT, raw BYTEA)")
        .await
        .unwrap();
    let sink = client.copy_in("COPY esc FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    sink.send(Bytes::from_static(
        b"1\t\\303\\251t\\xc3\\xa9\t\\\\x00ff\n2\tcaf\xc3\xa9\t\\N\n",
    ))
    .await
    .unwrap();
    assert_eq!(sink.finish().await.unwrap(), 2);
    assert_eq!(
        simple_rows(
            &client,
            "SELECT id, name, encode(raw, 'hex') FROM esc ORDER BY id"
        )
        .await,
        vec![
            vec![Some("1".into()), Some("été".into()), Some("00ff".into())],
            vec![Some("2".into()), Some("café".into()), None],
        ]
    );

    let failures: [(&[u8], &str, &str); 3] = [
        // An escape that makes invalid UTF-8.
        (b"3\t\\351\t\\N\n", "22021", "invalid byte sequence"),
        // A non-ASCII character inside a hex bytea value.
        (
            "4\tx\t\\\\xa\u{e9}0\n".as_bytes(),
            "22023",
            "invalid hexadecimal digit",
        ),
        // Raw bytes that are not UTF-8.
        (b"5\t\xff\t\\N\n", "22021", "invalid byte sequence"),
    ];
    for (data, code, message) in failures {
        let sink = client.copy_in("COPY esc FROM STDIN").await.unwrap();
        futures::pin_mut!(sink);
        let sent = sink.send(Bytes::copy_from_slice(data)).await;
        let err = match sent {
            Err(e) => e,
            Ok(()) => sink.finish().await.expect_err("a bad field was copied"),
        };
        assert_eq!(sqlstate(&err), code, "{err:?}");
        assert!(
            format!("{err:?}").contains(message),
            "{code}: {err:?} does not say {message:?}"
        );
    }
    assert_eq!(
        simple_rows(&client, "SELECT count(*) FROM esc").await,
        vec![vec![Some("2".into())]]
    );

    for sql in [
        "COPY esc FROM STDIN WITH (DELIMITER 'é')",
        "COPY esc FROM STDIN WITH (DELIMITER '||')",
        "COPY esc FROM STDIN WITH (FORMAT csv, QUOTE 'é')",
        "COPY esc FROM STDIN WITH (FORMAT csv, ESCAPE 'ab')",
        "COPY esc FROM STDIN WITH DELIMITER 'é'",
        "COPY esc FROM STDIN WITH CSV QUOTE 'ab'",
    ] {
        let Err(err) = client.copy_in::<_, Bytes>(sql).await else {
            panic!("{sql} succeeded");
        };
        assert_eq!(sqlstate(&err), "0A000", "{sql}: {err:?}");
        assert!(
            format!("{err:?}").contains("must be a single one-byte character"),
            "{sql}: {err:?}"
        );
    }
    assert_eq!(
        simple_rows(&client, "SELECT count(*) FROM esc").await,
        vec![vec![Some("2".into())]]
    );
}

/// `COPY ... TO STDOUT (FORMAT binary)`, read with tokio-postgres's binary
/// copy reader: the signature, typed tuples with NULLs, the trailer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_to_stdout_in_binary() {
    use futures::TryStreamExt;
    use tokio_postgres::binary_copy::BinaryCopyOutStream;
    use tokio_postgres::types::Type;

    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE m (id BIGINT, name TEXT, price DOUBLE PRECISION, ok BOOLEAN, d DATE);
             INSERT INTO m VALUES (1, 'apple', 1.5, true, DATE '2026-01-02'),
                                  (2, NULL, NULL, false, NULL),
                                  (3, 'plum, red', -0.25, NULL, DATE '1999-12-31')",
        )
        .await
        .unwrap();
    type Row = (
        i64,
        Option<String>,
        Option<f64>,
        Option<bool>,
        Option<chrono::NaiveDate>,
    );
    let types = [Type::INT8, Type::TEXT, Type::FLOAT8, Type::BOOL, Type::DATE];
    for sql in [
        "COPY m TO STDOUT (FORMAT binary)",
        "COPY (SELECT * FROM m ORDER BY id) TO STDOUT WITH BINARY",
    ] {
        let stream = client.copy_out(sql).await.unwrap();
        let rows: Vec<_> = BinaryCopyOutStream::new(stream, &types)
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let mut got: Vec<Row> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect();
        got.sort_by_key(|r| r.0);
        let date = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(
            got,
            vec![
                (
                    1,
                    Some("apple".into()),
                    Some(1.5),
                    Some(true),
                    date(2026, 1, 2)
                ),
                (2, None, None, Some(false), None),
                (
                    3,
                    Some("plum, red".into()),
                    Some(-0.25),
                    None,
                    date(1999, 12, 31)
                ),
            ],
            "{sql}"
        );
    }
    // An empty result is the header and the trailer.
    let stream = client
        .copy_out("COPY (SELECT * FROM m WHERE id > 9) TO STDOUT (FORMAT binary)")
        .await
        .unwrap();
    let rows: Vec<_> = BinaryCopyOutStream::new(stream, &types)
        .try_collect()
        .await
        .unwrap();
    assert!(rows.is_empty());
    // Text options mean nothing in binary mode; binary input is not read yet.
    for (sql, code) in [
        ("COPY m TO STDOUT (FORMAT binary, HEADER true)", "42601"),
        ("COPY m TO STDOUT (FORMAT binary, DELIMITER ',')", "42601"),
        ("COPY m TO STDOUT (FORMAT parquet)", "22023"),
        ("COPY m FROM STDIN (FORMAT binary)", "0A000"),
    ] {
        let err = client.batch_execute(sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), code, "{sql}: {err:?}");
    }
    // The connection is still usable.
    assert_eq!(
        simple_rows(&client, "SELECT count(*) FROM m").await,
        vec![vec![Some("3".to_string())]]
    );
}
