//! The extended query protocol over pg wire: typed (binary) results of
//! every type, parameters in binary and text format, portals suspended by
//! a row limit, pipelined messages and error recovery at Sync.

mod pg_support;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use pg_support::{
    RawClient, TestServer, bind, close, describe, error_code, error_fields, execute, kinds, parse,
    row_description_oids, simple_rows, sqlstate, sync, text_rows,
};
use rust_decimal::Decimal;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// The raw binary value of a column, for types tokio-postgres has no
/// Rust type for.
#[derive(Debug)]
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// An interval parameter: microseconds, days, months.
#[derive(Debug)]
struct Interval(i64, i32, i32);

impl ToSql for Interval {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0.to_be_bytes());
        out.extend_from_slice(&self.1.to_be_bytes());
        out.extend_from_slice(&self.2.to_be_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }

    to_sql_checked!();
}

fn interval_bytes(micros: i64, days: i32, months: i32) -> Vec<u8> {
    let mut out = micros.to_be_bytes().to_vec();
    out.extend_from_slice(&days.to_be_bytes());
    out.extend_from_slice(&months.to_be_bytes());
    out
}

const EVERY_TYPE: &str = "SELECT true AS b, CAST(7 AS SMALLINT) AS i2, CAST(-7 AS INT) AS i4, \
    CAST(9000000000 AS BIGINT) AS i8, CAST(1.5 AS REAL) AS f4, CAST(0.1 AS DOUBLE PRECISION) AS f8, \
    CAST(12.5 AS NUMERIC(10, 2)) AS n, 'héllo' AS t, decode('0a0b', 'hex') AS by, \
    DATE '2026-01-01' AS d, TIME '10:00:00.5' AS tm, TIMESTAMP '2026-01-01 10:00:00.5' AS ts, \
    arrow_cast(TIMESTAMP '2026-01-01 10:00:00', 'Timestamp(Microsecond, Some(\"+00:00\"))') AS tz, \
    INTERVAL '1 day 2 hours' AS iv, ARRAY['a', 'b'] AS at, ARRAY[1, 2] AS ai, \
    arrow_cast(18446744073709551615, 'UInt64') AS u, CAST(NULL AS INT) AS nul";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_results_in_binary_format() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let statement = client.prepare(EVERY_TYPE).await.unwrap();
    let types: Vec<Type> = statement
        .columns()
        .iter()
        .map(|c| c.type_().clone())
        .collect();
    assert_eq!(
        types,
        vec![
            Type::BOOL,
            Type::INT2,
            Type::INT4,
            Type::INT8,
            Type::FLOAT4,
            Type::FLOAT8,
            Type::NUMERIC,
            Type::TEXT,
            Type::BYTEA,
            Type::DATE,
            Type::TIME,
            Type::TIMESTAMP,
            Type::TIMESTAMPTZ,
            Type::INTERVAL,
            Type::TEXT_ARRAY,
            Type::INT4_ARRAY,
            Type::NUMERIC,
            Type::INT4,
        ]
    );
    let row = client.query_one(&statement, &[]).await.unwrap();
    assert!(row.get::<_, bool>("b"));
    assert_eq!(row.get::<_, i16>("i2"), 7);
    assert_eq!(row.get::<_, i32>("i4"), -7);
    assert_eq!(row.get::<_, i64>("i8"), 9_000_000_000);
    assert_eq!(row.get::<_, f32>("f4"), 1.5);
    assert_eq!(row.get::<_, f64>("f8"), 0.1);
    let n: Decimal = row.get("n");
    assert_eq!((n, n.scale()), (Decimal::new(1250, 2), 2));
    assert_eq!(row.get::<_, String>("t"), "héllo");
    assert_eq!(row.get::<_, Vec<u8>>("by"), vec![10, 11]);
    assert_eq!(
        row.get::<_, NaiveDate>("d"),
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
    );
    assert_eq!(
        row.get::<_, NaiveTime>("tm"),
        NaiveTime::from_hms_milli_opt(10, 0, 0, 500).unwrap()
    );
    assert_eq!(
        row.get::<_, NaiveDateTime>("ts"),
        NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_milli_opt(10, 0, 0, 500)
            .unwrap()
    );
    assert_eq!(
        row.get::<_, DateTime<Utc>>("tz"),
        "2026-01-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(
        row.get::<_, Raw>("iv").0,
        interval_bytes(7_200_000_000, 1, 0)
    );
    assert_eq!(
        row.get::<_, Vec<String>>("at"),
        vec!["a".to_string(), "b".to_string()]
    );
    assert_eq!(row.get::<_, Vec<i32>>("ai"), vec![1, 2]);
    assert_eq!(row.get::<_, Decimal>("u"), Decimal::from(u64::MAX));
    assert_eq!(row.get::<_, Option<i32>>("nul"), None);

    // The same statement in text format (per-column format codes: text
    // for all but the first column).
    let mut raw = RawClient::connect(server.addr).await;
    let mut pipeline = parse("", EVERY_TYPE, &[]);
    pipeline.extend(bind("", "", &[], &[], &[1, 0]));
    pipeline.extend(bind("", "", &[], &[], &[]));
    pipeline.extend(describe(b'P', ""));
    pipeline.extend(execute("", 0));
    pipeline.extend(sync());
    raw.send(&pipeline).await;
    let messages = raw.until_ready().await;
    // The first Bind fails (2 format codes for 18 columns): skip to Sync.
    assert_eq!(kinds(&messages), "1EZ");
    assert_eq!(
        error_fields(&messages[1].1)[&'M'],
        "bind message has 2 result formats but query has 18 columns"
    );
    let mut formats = vec![0i16; 18];
    formats[0] = 1;
    let mut pipeline = parse("", EVERY_TYPE, &[]);
    pipeline.extend(bind("", "", &[], &[], &formats));
    pipeline.extend(describe(b'P', ""));
    pipeline.extend(execute("", 0));
    pipeline.extend(sync());
    raw.send(&pipeline).await;
    let messages = raw.until_ready().await;
    assert_eq!(kinds(&messages), "12TDCZ");
    let description = row_description_oids(&messages[2].1);
    assert_eq!(description[0], ("b".to_string(), 16, 1));
    assert_eq!(description[14], ("at".to_string(), 1009, 0));
    let row = pg_support::data_row(&messages[3].1);
    assert_eq!(row[0].as_deref(), Some(&[1u8][..]));
    let text: Vec<Option<String>> = row[1..]
        .iter()
        .map(|v| v.as_ref().map(|b| String::from_utf8(b.clone()).unwrap()))
        .collect();
    let expected = [
        "7",
        "-7",
        "9000000000",
        "1.5",
        "0.1",
        "12.50",
        "héllo",
        "\\x0a0b",
        "2026-01-01",
        "10:00:00.5",
        "2026-01-01 10:00:00.5",
        "2026-01-01 10:00:00+00",
        "1 day 02:00:00",
        "{a,b}",
        "{1,2}",
        "18446744073709551615",
    ];
    let mut expected: Vec<Option<String>> = expected.iter().map(|s| Some(s.to_string())).collect();
    expected.push(None);
    assert_eq!(text, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_parameters_of_every_type() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE p (b BOOLEAN, i2 SMALLINT, i4 INT, i8 BIGINT, f4 REAL, f8 DOUBLE PRECISION, \
             n NUMERIC(10, 2), t TEXT, v VARCHAR, by BYTEA, d DATE, tm TIME, ts TIMESTAMP, iv INTERVAL)",
        )
        .await
        .unwrap();
    let insert = client
        .prepare(
            "INSERT INTO p VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .await
        .unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let time = NaiveTime::from_hms_milli_opt(10, 0, 0, 500).unwrap();
    let inserted = client
        .execute(
            &insert,
            &[
                &true,
                &7i16,
                &-7i32,
                &9_000_000_000i64,
                &1.5f32,
                &0.1f64,
                &Decimal::new(1250, 2),
                &"héllo",
                &"v",
                &vec![10u8, 11],
                &day,
                &time,
                &day.and_time(time),
                &Interval(7_200_000_000, 1, 3),
            ],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 1);
    let nulls: [&(dyn ToSql + Sync); 14] = [
        &None::<bool>,
        &None::<i16>,
        &None::<i32>,
        &None::<i64>,
        &None::<f32>,
        &None::<f64>,
        &None::<Decimal>,
        &None::<String>,
        &None::<String>,
        &None::<Vec<u8>>,
        &None::<NaiveDate>,
        &None::<NaiveTime>,
        &None::<NaiveDateTime>,
        &None::<Interval>,
    ];
    client.execute(&insert, &nulls).await.unwrap();
    assert_eq!(
        simple_rows(&client, "SELECT * FROM p ORDER BY b").await,
        vec![
            [
                "t",
                "7",
                "-7",
                "9000000000",
                "1.5",
                "0.1",
                "12.50",
                "héllo",
                "v",
                "\\x0a0b",
                "2026-01-01",
                "10:00:00.5",
                "2026-01-01 10:00:00.5",
                "3 mons 1 day 02:00:00"
            ]
            .iter()
            .map(|s| Some(s.to_string()))
            .collect::<Vec<_>>(),
            vec![None; 14],
        ]
    );

    // Parameters in WHERE, with inferred and declared types.
    let found = client
        .query("SELECT i4 FROM p WHERE i8 = $1", &[&9_000_000_000i64])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let typed = client
        .prepare_typed("SELECT i8 FROM p WHERE i4 = $1", &[Type::INT8])
        .await
        .unwrap();
    assert_eq!(typed.params(), &[Type::INT8]);
    let found = client.query(&typed, &[&-7i64]).await.unwrap();
    assert_eq!(found[0].get::<_, i64>(0), 9_000_000_000);
    // timestamptz parameters, binary and text.
    let when = "2026-01-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap();
    let echo = client
        .prepare_typed("SELECT $1 AS v", &[Type::TIMESTAMPTZ])
        .await
        .unwrap();
    assert_eq!(echo.columns()[0].type_(), &Type::TIMESTAMPTZ);
    let row = client.query_one(&echo, &[&when]).await.unwrap();
    assert_eq!(row.get::<_, DateTime<Utc>>(0), when);
    let mut raw = RawClient::connect(server.addr).await;
    let mut pipeline = parse("", "SELECT $1 AS v", &[1184]);
    pipeline.extend(bind("", "", &[0], &[Some(b"2026-01-01 12:00:00+02")], &[]));
    pipeline.extend(execute("", 0));
    pipeline.extend(sync());
    raw.send(&pipeline).await;
    let messages = raw.until_ready().await;
    assert_eq!(
        text_rows(&messages),
        vec![vec![Some("2026-01-01 10:00:00+00".to_string())]]
    );

    let before = "2027-01-01T00:00:00Z"
        .parse::<DateTime<Utc>>()
        .unwrap()
        .naive_utc();
    let found = client
        .query("SELECT i4 FROM p WHERE ts < $1", &[&before])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].get::<_, i32>(0), -7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_parameters_of_every_type() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE p (b BOOLEAN, i2 SMALLINT, i4 INT, i8 BIGINT, f4 REAL, f8 DOUBLE PRECISION, \
             n NUMERIC(10, 2), t TEXT, v VARCHAR, by BYTEA, d DATE, tm TIME, ts TIMESTAMP, iv INTERVAL)",
        )
        .await
        .unwrap();
    let values: [&[u8]; 14] = [
        b"true",
        b"7",
        b"-7",
        b"9000000000",
        b"1.5",
        b"0.1",
        b"12.5",
        b"h\xc3\xa9llo",
        b"v",
        b"\\x0a0b",
        b"2026-01-01",
        b"10:00:00.5",
        b"2026-01-01 10:00:00.5",
        b"1 day",
    ];
    let params: Vec<Option<&[u8]>> = values.iter().map(|v| Some(*v)).collect();
    let mut raw = RawClient::connect(server.addr).await;
    // Unspecified parameter types (OID 0): the statement's types apply.
    let mut pipeline = parse(
        "ins",
        "INSERT INTO p VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        &[],
    );
    pipeline.extend(bind("", "ins", &[0], &params, &[]));
    pipeline.extend(execute("", 0));
    pipeline.extend(sync());
    raw.send(&pipeline).await;
    let messages = raw.until_ready().await;
    assert_eq!(kinds(&messages), "12CZ", "{messages:?}");
    assert_eq!(messages[2].1, b"INSERT 0 1\0");
    assert_eq!(
        simple_rows(&client, "SELECT * FROM p").await,
        vec![
            [
                "t",
                "7",
                "-7",
                "9000000000",
                "1.5",
                "0.1",
                "12.50",
                "héllo",
                "v",
                "\\x0a0b",
                "2026-01-01",
                "10:00:00.5",
                "2026-01-01 10:00:00.5",
                "1 day"
            ]
            .iter()
            .map(|s| Some(s.to_string()))
            .collect::<Vec<_>>()
        ]
    );

    // A text parameter that does not parse, then the session goes on.
    let mut pipeline = parse("", "SELECT t FROM p WHERE i8 = $1", &[0]);
    pipeline.extend(bind("", "", &[], &[Some(b"abc")], &[]));
    pipeline.extend(execute("", 0));
    pipeline.extend(sync());
    pipeline.extend(bind("", "", &[], &[Some(b"9000000000")], &[]));
    pipeline.extend(execute("", 0));
    pipeline.extend(sync());
    raw.send(&pipeline).await;
    let messages = raw.until_ready().await;
    assert_eq!(kinds(&messages), "1EZ");
    assert_eq!(error_code(&messages).as_deref(), Some("22P02"));
    let messages = raw.until_ready().await;
    assert_eq!(kinds(&messages), "2DCZ");
    assert_eq!(text_rows(&messages), vec![vec![Some("héllo".to_string())]]);

    // A bytea text parameter with a multi-byte character among its hex
    // digits is 22023 (it used to panic the connection), and a bad escape
    // 22P02; the session goes on.
    for (value, code) in [
        ("\\xa\u{e9}0".as_bytes(), "22023"),
        (b"\\x0".as_slice(), "22023"),
        (b"a\\9".as_slice(), "22P02"),
    ] {
        let mut pipeline = parse("", "SELECT encode($1::bytea, 'hex')", &[0]);
        pipeline.extend(bind("", "", &[], &[Some(value)], &[]));
        pipeline.extend(execute("", 0));
        pipeline.extend(sync());
        raw.send(&pipeline).await;
        let messages = raw.until_ready().await;
        assert_eq!(kinds(&messages), "1EZ", "{value:?}: {messages:?}");
        assert_eq!(error_code(&messages).as_deref(), Some(code), "{value:?}");
    }
    let mut pipeline = parse("", "SELECT encode($1::bytea, 'hex')", &[17]);
    pipeline.extend(bind("", "", &[], &[Some(b"\\x0aff")], &[]));
    pipeline.extend(execute("", 0));
    pipeline.extend(sync());
    raw.send(&pipeline).await;
    let messages = raw.until_ready().await;
    assert_eq!(kinds(&messages), "12DCZ", "{messages:?}");
    assert_eq!(text_rows(&messages), vec![vec![Some("0aff".to_string())]]);

    // Declared types that differ from the column's are cast.
    let mut pipeline = parse("", "SELECT t FROM p WHERE i2 = $1", &[20]);
    pipeline.extend(bind("", "", &[1], &[Some(&7i64.to_be_bytes())], &[]));
    pipeline.extend(execute("", 0));
    pipeline.extend(sync());
    raw.send(&pipeline).await;
    let messages = raw.until_ready().await;
    assert_eq!(kinds(&messages), "12DCZ", "{messages:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portals_suspend_at_the_row_limit_and_resume() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE nums (n BIGINT); INSERT INTO nums VALUES (1), (2), (3), (4), (5)",
        )
        .await
        .unwrap();
    let tx = client.transaction().await.unwrap();
    let portal = tx.bind("SELECT n FROM nums ORDER BY n", &[]).await.unwrap();
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let rows = tx.query_portal(&portal, 2).await.unwrap();
        sizes.push(rows.len());
        if rows.is_empty() {
            break;
        }
        seen.extend(rows.iter().map(|r| r.get::<_, i64>(0)));
    }
    assert_eq!(seen, vec![1, 2, 3, 4, 5]);
    assert_eq!(sizes, vec![2, 2, 1, 0]);
    tx.commit().await.unwrap();

    // On the wire: PortalSuspended until the rows run out; portals end
    // with the implicit transaction at Sync.
    let mut raw = RawClient::connect(server.addr).await;
    let mut pipeline = parse("", "SELECT n FROM nums ORDER BY n", &[]);
    pipeline.extend(bind("p1", "", &[], &[], &[]));
    pipeline.extend(execute("p1", 3));
    pipeline.extend(execute("p1", 3));
    pipeline.extend(execute("p1", 3));
    pipeline.extend(sync());
    pipeline.extend(execute("p1", 3));
    pipeline.extend(sync());
    raw.send(&pipeline).await;
    let messages = raw.until_ready().await;
    assert_eq!(kinds(&messages), "12DDDsDDCCZ");
    let tags: Vec<&[u8]> = messages
        .iter()
        .filter(|(k, _)| *k == b'C')
        .map(|(_, b)| &b[..])
        .collect();
    assert_eq!(tags, vec![&b"SELECT 2\0"[..], &b"SELECT 0\0"[..]]);
    let messages = raw.until_ready().await;
    assert_eq!(error_code(&messages).as_deref(), Some("34000"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_messages_and_recovery_at_sync() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE nums (n BIGINT); INSERT INTO nums VALUES (1), (2), (3)")
        .await
        .unwrap();

    // tokio-postgres pipelines concurrent queries on one connection.
    let statement = client
        .prepare("SELECT n * 10 AS m FROM nums WHERE n = $1")
        .await
        .unwrap();
    let queries = (1..=3i64).map(|n| {
        let client = &client;
        let statement = &statement;
        async move {
            client
                .query_one(statement, &[&n])
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    });
    assert_eq!(futures::future::join_all(queries).await, vec![10, 20, 30]);

    // Named statements, Describe, Close, and an error in the middle of a
    // pipeline: the rest is skipped until Sync.
    let mut raw = RawClient::connect(server.addr).await;
    let mut pipeline = parse("s1", "SELECT n FROM nums WHERE n > $1 ORDER BY n", &[]);
    pipeline.extend(describe(b'S', "s1"));
    pipeline.extend(bind("", "s1", &[], &[Some(b"1")], &[]));
    pipeline.extend(execute("", 0));
    pipeline.extend(parse("s2", "SELECT n FROM missing", &[]));
    pipeline.extend(bind("", "s2", &[], &[], &[]));
    pipeline.extend(execute("", 0));
    pipeline.extend(sync());
    raw.send(&pipeline).await;
    let messages = raw.until_ready().await;
    assert_eq!(kinds(&messages), "1tT2DDCEZ");
    assert_eq!(messages[1].1, [0, 1, 0, 0, 0, 20]);
    assert_eq!(
        row_description_oids(&messages[2].1),
        vec![("n".to_string(), 20, 0)]
    );
    assert_eq!(error_code(&messages).as_deref(), Some("42P01"));

    // The named statement survives; closing it makes it unknown.
    let mut pipeline = bind("", "s1", &[], &[Some(b"2")], &[]);
    pipeline.extend(execute("", 0));
    pipeline.extend(close(b'S', "s1"));
    pipeline.extend(bind("", "s1", &[], &[Some(b"2")], &[]));
    pipeline.extend(sync());
    raw.send(&pipeline).await;
    let messages = raw.until_ready().await;
    assert_eq!(kinds(&messages), "2DC3EZ");
    assert_eq!(error_code(&messages).as_deref(), Some("26000"));

    // Protocol-level mistakes are errors too, and the session goes on.
    let mut pipeline = parse("", "SELECT $1 AS a, $2 AS b", &[]);
    pipeline.extend(bind("", "", &[], &[Some(b"x")], &[]));
    pipeline.extend(sync());
    pipeline.extend(parse("", "SELECT 1; SELECT 2", &[]));
    pipeline.extend(sync());
    pipeline.extend(execute("nope", 0));
    pipeline.extend(sync());
    pipeline.extend(describe(b'S', ""));
    pipeline.extend(sync());
    raw.send(&pipeline).await;
    let messages = raw.until_ready().await;
    assert_eq!(error_code(&messages).as_deref(), Some("08P01"));
    let messages = raw.until_ready().await;
    assert_eq!(error_code(&messages).as_deref(), Some("42601"));
    let messages = raw.until_ready().await;
    assert_eq!(error_code(&messages).as_deref(), Some("34000"));
    let messages = raw.until_ready().await;
    assert_eq!(kinds(&messages), "EZ");

    // A statement without result rows is described with NoData, an empty
    // one runs as EmptyQueryResponse.
    let mut pipeline = parse("", "INSERT INTO nums VALUES ($1)", &[]);
    pipeline.extend(describe(b'S', ""));
    pipeline.extend(parse("e", "", &[]));
    pipeline.extend(bind("", "e", &[], &[], &[]));
    pipeline.extend(execute("", 0));
    pipeline.extend(sync());
    raw.send(&pipeline).await;
    let messages = raw.until_ready().await;
    assert_eq!(kinds(&messages), "1tn12IZ");
    assert_eq!(messages[1].1, [0, 1, 0, 0, 0, 20]);

    let err = client
        .query("SELECT * FROM missing", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42P01");
    assert_eq!(
        client
            .query_one("SELECT 1 AS one", &[])
            .await
            .unwrap()
            .get::<_, i32>(0),
        1
    );
}

/// A prepared statement keeps its plan, but each execution reads the
/// table as it is then, and a changed catalog or setting plans it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_see_new_rows_and_catalog_changes() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE pc (id INTEGER); INSERT INTO pc VALUES (1)")
        .await
        .unwrap();
    let count = client.prepare("SELECT count(*) FROM pc").await.unwrap();
    let insert = client.prepare("INSERT INTO pc VALUES ($1)").await.unwrap();
    let counted = |rows: Vec<tokio_postgres::Row>| rows[0].get::<_, i64>(0);
    assert_eq!(counted(client.query(&count, &[]).await.unwrap()), 1);
    client.execute(&insert, &[&2i32]).await.unwrap();
    client.execute(&insert, &[&3i32]).await.unwrap();
    assert_eq!(counted(client.query(&count, &[]).await.unwrap()), 3);
    // The table is replaced by one with other rows: the statement reads it.
    client
        .batch_execute("DROP TABLE pc; CREATE TABLE pc (id INTEGER); INSERT INTO pc VALUES (7)")
        .await
        .unwrap();
    assert_eq!(counted(client.query(&count, &[]).await.unwrap()), 1);
    client.execute(&insert, &[&8i32]).await.unwrap();
    assert_eq!(counted(client.query(&count, &[]).await.unwrap()), 2);
    // DEALLOCATE ALL forgets them, as psycopg expects.
    let tag = client.simple_query("DEALLOCATE ALL").await.unwrap();
    assert!(matches!(
        tag.last(),
        Some(tokio_postgres::SimpleQueryMessage::CommandComplete(0))
    ));
    let err = client.query(&count, &[]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "26000");
}

/// Parameters where Postgres takes them: the arguments of a set-returning
/// function in FROM (typed as the call needs them) and LIMIT / OFFSET.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_in_table_functions_and_limits() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let statement = client
        .prepare("SELECT * FROM generate_series(1, $1)")
        .await
        .unwrap();
    assert_eq!(statement.params(), &[Type::INT4]);
    assert_eq!(statement.columns()[0].type_(), &Type::INT4);
    let rows = client.query(&statement, &[&3i32]).await.unwrap();
    let values: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(values, [1, 2, 3]);
    // The same statement with another value: the plan is bound again.
    let rows = client.query(&statement, &[&1i32]).await.unwrap();
    assert_eq!(rows.len(), 1);

    // A bigint parameter makes a bigint column.
    let rows = client
        .query(
            "SELECT * FROM generate_series($1::bigint, $2, 2)",
            &[&5_000_000_000i64, &5_000_000_004i64],
        )
        .await
        .unwrap();
    let values: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(values, [5_000_000_000, 5_000_000_002, 5_000_000_004]);

    let rows = client
        .query(
            "SELECT g FROM generate_series(1, 10) AS g ORDER BY g LIMIT $1::bigint OFFSET $2::bigint",
            &[&2i64, &3i64],
        )
        .await
        .unwrap();
    let values: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(values, [4, 5]);

    // A zero step bound later is the error Postgres gives.
    let err = client
        .query("SELECT * FROM generate_series(1, 5, $1)", &[&0i32])
        .await
        .expect_err("a zero step");
    assert_eq!(sqlstate(&err), "22023", "{err:?}");
    assert_eq!(
        pg_support::simple_value(&client, "SELECT 1")
            .await
            .as_deref(),
        Some("1")
    );
}

/// A prepared statement without parameters keeps its dataflow plan and runs
/// it again: it sees rows inserted since, and the plan is dropped when the
/// catalog changes. One that calls `now()` is planned again each time, so
/// its time moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_run_their_kept_plan_again() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE kept (a BIGINT); INSERT INTO kept VALUES (1), (2)")
        .await
        .unwrap();
    let sum = client
        .prepare("SELECT sum(a)::bigint FROM kept")
        .await
        .unwrap();
    let total = |rows: Vec<tokio_postgres::Row>| rows[0].get::<_, Option<i64>>(0);
    assert_eq!(total(client.query(&sum, &[]).await.unwrap()), Some(3));
    client
        .batch_execute("INSERT INTO kept VALUES (10)")
        .await
        .unwrap();
    assert_eq!(total(client.query(&sum, &[]).await.unwrap()), Some(13));
    for mode in ["local", "distributed", "auto"] {
        client
            .batch_execute(&format!("SET query_mode = {mode}"))
            .await
            .unwrap();
        assert_eq!(
            total(client.query(&sum, &[]).await.unwrap()),
            Some(13),
            "{mode}"
        );
    }
    // A new table of the same name: the kept plan (which scans the old
    // table's log) is dropped with the catalog it was made for.
    client
        .batch_execute(
            "DROP TABLE kept; CREATE TABLE kept (a BIGINT); INSERT INTO kept VALUES (100)",
        )
        .await
        .unwrap();
    assert_eq!(total(client.query(&sum, &[]).await.unwrap()), Some(100));
    let err = client
        .batch_execute("SET query_mode = nowhere")
        .await
        .unwrap_err();
    assert_eq!(err.code().unwrap().code(), "22023");

    let now = client.prepare("SELECT now()::text").await.unwrap();
    let first: String = client.query(&now, &[]).await.unwrap()[0].get(0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let next: String = client.query(&now, &[]).await.unwrap()[0].get(0);
        if next != first {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "now() stayed at {first}"
        );
    }
}
