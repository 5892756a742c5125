//! Input that could exhaust the server: expressions chained or nested
//! thousands of levels deep. Each statement gets an answer (its result, or
//! 54001 "stack depth limit exceeded" past the bound, as in Postgres) and
//! the server keeps serving this session and others.

mod pg_support;

use pg_support::{TestServer, simple_rows, simple_value, sqlstate};

fn chain(op: &str, terms: usize) -> String {
    vec!["1"; terms].join(op)
}

/// The answer to `sql` over the simple and the extended protocol: its
/// single value, or the SQLSTATE of its error.
async fn answer(client: &tokio_postgres::Client, sql: &str) -> Result<String, String> {
    let simple = match client.simple_query(sql).await {
        Ok(messages) => Ok(messages
            .into_iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => {
                    Some(row.get(0).unwrap_or("NULL").to_string())
                }
                _ => None,
            })
            .unwrap_or_default()),
        Err(e) => Err(sqlstate(&e)),
    };
    let extended = match client.query(sql, &[]).await {
        Ok(rows) => Ok(rows
            .first()
            .map(|r| {
                r.try_get::<_, i32>(0)
                    .map(|v| v.to_string())
                    .or_else(|_| r.try_get::<_, i64>(0).map(|v| v.to_string()))
                    .or_else(|_| r.try_get::<_, bool>(0).map(|v| v.to_string()))
                    .unwrap_or_else(|e| format!("undecodable: {e}"))
            })
            .unwrap_or_default()),
        Err(e) => Err(sqlstate(&e)),
    };
    let extended = extended.map(|v| if v == "true" { "t".into() } else { v });
    assert_eq!(
        simple,
        extended,
        "the protocols disagree on {}…",
        &sql[..40]
    );
    simple
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_expressions_get_an_answer_and_the_server_keeps_serving() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    simple_rows(&client, "CREATE TABLE ev (a INTEGER)").await;
    simple_rows(&client, "INSERT INTO ev VALUES (1), (2), (3)").await;

    // A thousand terms evaluate, as in Postgres; so do chains near the
    // bound, which exercise the whole path (planning, lowering, workers).
    assert_eq!(
        answer(&client, &format!("SELECT {}", chain("+", 1_000))).await,
        Ok("1000".into())
    );
    let columns = format!("SELECT sum({}) FROM ev", vec!["a"; 1_000].join(" + "));
    assert_eq!(answer(&client, &columns).await, Ok("6000".into()));
    let ors = (0..1_000)
        .map(|i| format!("a = {i}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    assert_eq!(
        answer(&client, &format!("SELECT count(*) FROM ev WHERE {ors}")).await,
        Ok("3".into())
    );
    let parens = |n: usize| format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(answer(&client, &parens(1_000)).await, Ok("1".into()));
    let nested_bool = format!(
        "SELECT {}a = 1{} FROM ev WHERE a = 1",
        "(".repeat(200),
        ")".repeat(200)
    );
    assert_eq!(answer(&client, &nested_bool).await, Ok("t".into()));

    // Deeper input: 54001, or a result; never a crash.
    for sql in [
        format!("SELECT {}", chain("+", 10_000)),
        format!("SELECT {}", chain("+", 100_000)),
        format!("SELECT {}", chain(" OR ", 100_000).replace('1', "true")),
        parens(10_000),
        format!("SELECT {}1", "- ".repeat(100_000)),
        format!("SELECT 1{}", "::int".repeat(50_000)),
    ] {
        match answer(&client, &sql).await {
            Ok(_) => {}
            Err(code) => assert_eq!(code, "54001", "{}…", &sql[..40]),
        }
    }
    assert_eq!(
        answer(&client, &format!("SELECT {}", chain("+", 100_000))).await,
        Err("54001".into())
    );

    // The session and the server go on.
    assert_eq!(
        simple_value(&client, "SELECT count(*) FROM ev")
            .await
            .as_deref(),
        Some("3")
    );
    let other = server.connect().await;
    assert_eq!(
        simple_value(&other, "SELECT sum(a) FROM ev")
            .await
            .as_deref(),
        Some("6")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_depth_error_says_what_to_do() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let err = client
        .simple_query(&format!("SELECT {}", chain("+", 20_000)))
        .await
        .unwrap_err();
    let db = err.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "54001");
    assert_eq!(db.message(), "stack depth limit exceeded");
    assert!(
        db.hint().is_some_and(|h| h.contains("IN (...)")),
        "{:?}",
        db.hint()
    );
}
