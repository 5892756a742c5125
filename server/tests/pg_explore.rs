//! temporary exploration
mod pg_support;
use pg_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explore() {
    let s = TestServer::start().await;
    let c = s.connect().await;
    for sql in [
        "SELECT 1",
        "SELECT 1 AS a, 'x' AS b",
        "CREATE TABLE t (id BIGINT, name TEXT)",
        "INSERT INTO t VALUES (1, 'a'), (2, 'b')",
        "SELECT * FROM t ORDER BY id",
        "SELECT count(*) FROM t a, t b",
        "SELECT true, 1::smallint, 2::int, 3::bigint, 1.5::real, 2.5::double precision, 12.50::numeric(10,2), 'x'::text, 'y'::varchar",
        "SELECT '\\x0a0b'::bytea, DATE '2026-01-01', TIME '10:00:00.5', TIMESTAMP '2026-01-01 10:00:00', TIMESTAMPTZ '2026-01-01 10:00:00+00'",
        "SELECT INTERVAL '1 day 2 hours', INTERVAL '3 months', INTERVAL '1.5 seconds'",
        "SELECT ARRAY['a','b'], ARRAY[1,2], make_array(1,2)",
        "SELECT 0.1::float8, 1e100::float8, -0.0::float8, 'Infinity'::float8, 'NaN'::float8",
        "VALUES (1, 'a'), (2, 'b')",
        "SELECT id, count(*) FROM t GROUP BY id ORDER BY id",
        "SHOW timezone",
        "SELECT NULL",
        "SELECT 1::tinyint",
        "SELECT $1",
    ] {
        match c.simple_query(sql).await {
            Ok(msgs) => {
                let rows: Vec<Vec<Option<String>>> = msgs.iter().filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect()),
                    _ => None,
                }).collect();
                let cols: Vec<String> = msgs.iter().filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::RowDescription(d) => Some(d.iter().map(|c| c.name().to_string()).collect::<Vec<_>>().join(",")),
                    _ => None,
                }).collect();
                println!("OK  {sql}\n    cols={cols:?} rows={rows:?}");
            }
            Err(e) => println!("ERR {sql}\n    {:?} {}", e.code(), e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string())),
        }
    }
    for sql in [
        "SELECT true, 1::smallint, 2::int, 3::bigint, 1.5::real, 2.5::double precision, 'x'::text",
        "SELECT * FROM t WHERE id = $1",
    ] {
        match c.prepare(sql).await {
            Ok(st) => println!("PREP {sql}: params={:?} cols={:?}", st.params(), st.columns().iter().map(|c| (c.name().to_string(), c.type_().clone())).collect::<Vec<_>>()),
            Err(e) => println!("PREP ERR {sql}: {e:?}"),
        }
    }
}
