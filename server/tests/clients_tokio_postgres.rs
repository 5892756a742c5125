//! tokio-postgres against the `tidewater` binary, as a Rust application
//! uses it: prepared statements with typed parameters (int4, int8, text,
//! numeric, float8, bool, date, timestamp and NULLs), typed results, the
//! parameter and column types the server infers, and listing tables and
//! columns through information_schema and pg_catalog with parameters. The
//! expected values are what PostgreSQL 15 answers.

mod clients_support;

use chrono::{NaiveDate, NaiveDateTime};
use clients_support::{ServerProcess, execute_all};
use rust_decimal::Decimal;
use tokio_postgres::Client;
use tokio_postgres::types::Type;

/// One row of `tp_items`.
#[derive(Debug, Clone, PartialEq)]
struct Item {
    id: i32,
    big: Option<i64>,
    name: Option<String>,
    price: Option<Decimal>,
    weight: Option<f64>,
    active: Option<bool>,
    born: Option<NaiveDate>,
    seen: Option<NaiveDateTime>,
}

impl Item {
    /// Row `i` of the fixture; row 3 has a name that needs quoting.
    fn new(i: i32) -> Self {
        let day = NaiveDate::from_ymd_opt(2024, 1, 1).expect("date");
        let leap = NaiveDate::from_ymd_opt(2024, 2, 29)
            .and_then(|d| d.and_hms_opt(23, 59, 0))
            .expect("timestamp");
        Self {
            id: i,
            big: Some(10_000_000_000 + i64::from(i)),
            name: Some(if i == 3 {
                "it's \"é\" ✓".to_string()
            } else {
                format!("item-{i}")
            }),
            price: Some(Decimal::new(1234, 2) + Decimal::from(i)),
            weight: Some(f64::from(i) * 0.5),
            active: Some(i % 2 == 0),
            born: Some(day + chrono::Days::new(i as u64)),
            seen: Some(
                leap + chrono::TimeDelta::seconds(i64::from(i))
                    + chrono::TimeDelta::microseconds(i64::from(i)),
            ),
        }
    }

    /// A row with only an id.
    fn nulls(id: i32) -> Self {
        Self {
            id,
            big: None,
            name: None,
            price: None,
            weight: None,
            active: None,
            born: None,
            seen: None,
        }
    }

    fn from_row(row: &tokio_postgres::Row) -> Self {
        Self {
            id: row.get("id"),
            big: row.get("big"),
            name: row.get("name"),
            price: row.get("price"),
            weight: row.get("weight"),
            active: row.get("active"),
            born: row.get("born"),
            seen: row.get("seen"),
        }
    }
}

const ROWS: i32 = 12;
const COLUMNS: &str = "id, big, name, price, weight, active, born, seen";

/// Creates `tp_items` (rows 0..ROWS and a row of NULLs with id 100), a
/// view on it, and a table in schema `tp_s`.
async fn create_fixture(client: &Client) {
    execute_all(
        client,
        &[
            "CREATE SCHEMA tp_s",
            "CREATE TABLE tp_items (id integer NOT NULL, big bigint, name text, price numeric(10,2), \
             weight double precision, active boolean, born date, seen timestamp)",
            "CREATE TABLE tp_s.other (x integer)",
            "CREATE VIEW tp_view AS SELECT id, name FROM tp_items",
        ],
    )
    .await;
    let insert = client
        .prepare(&format!(
            "INSERT INTO tp_items ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .await
        .expect("prepare the insert");
    assert_eq!(
        insert.params(),
        [
            Type::INT4,
            Type::INT8,
            Type::TEXT,
            Type::NUMERIC,
            Type::FLOAT8,
            Type::BOOL,
            Type::DATE,
            Type::TIMESTAMP
        ],
        "parameter types inferred from the columns"
    );
    for item in (0..ROWS).map(Item::new).chain([Item::nulls(100)]) {
        let inserted = client
            .execute(
                &insert,
                &[
                    &item.id,
                    &item.big,
                    &item.name,
                    &item.price,
                    &item.weight,
                    &item.active,
                    &item.born,
                    &item.seen,
                ],
            )
            .await
            .unwrap_or_else(|e| panic!("insert {item:?}: {e:?}"));
        assert_eq!(inserted, 1, "rows inserted by {item:?}");
    }
}

/// A server with the fixture, its data directory and a client.
async fn start_with_fixture() -> (ServerProcess, Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = ServerProcess::start(&dir.path().join("data")).await;
    let client = server.connect().await;
    create_fixture(&client).await;
    (server, client, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_postgres_parameterized_query_with_typed_results() {
    let (_server, client, _dir) = start_with_fixture().await;

    // One prepared statement, run with different parameters of each type.
    let select = client
        .prepare(&format!(
            "SELECT {COLUMNS} FROM tp_items WHERE id >= $1 AND id < $2 AND big > $3 AND price > $4 \
             AND weight >= $5 AND born >= $6 AND seen < $7 ORDER BY id"
        ))
        .await
        .expect("prepare the query");
    assert_eq!(
        select.params(),
        [
            Type::INT4,
            Type::INT4,
            Type::INT8,
            Type::NUMERIC,
            Type::FLOAT8,
            Type::DATE,
            Type::TIMESTAMP
        ],
        "parameter types"
    );
    let columns: Vec<(&str, &Type)> = select
        .columns()
        .iter()
        .map(|c| (c.name(), c.type_()))
        .collect();
    assert_eq!(
        columns,
        [
            ("id", &Type::INT4),
            ("big", &Type::INT8),
            ("name", &Type::TEXT),
            ("price", &Type::NUMERIC),
            ("weight", &Type::FLOAT8),
            ("active", &Type::BOOL),
            ("born", &Type::DATE),
            ("seen", &Type::TIMESTAMP)
        ],
        "result columns"
    );
    let far = NaiveDate::from_ymd_opt(2100, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("timestamp");
    for (lo, hi, min_price) in [(2, 9, "0.5"), (0, 100, "14.34"), (5, 6, "0")] {
        let min_price: Decimal = min_price.parse().expect("decimal");
        let rows = client
            .query(
                &select,
                &[
                    &lo,
                    &hi,
                    &10_000_000_000i64,
                    &min_price,
                    &0.0f64,
                    &NaiveDate::from_ymd_opt(2024, 1, 1).expect("date"),
                    &far,
                ],
            )
            .await
            .unwrap_or_else(|e| panic!("query {lo}..{hi} price > {min_price}: {e:?}"));
        let expected: Vec<Item> = (lo.max(0)..hi.min(ROWS))
            .map(Item::new)
            .filter(|item| item.price.is_some_and(|p| p > min_price))
            .collect();
        let actual: Vec<Item> = rows.iter().map(Item::from_row).collect();
        assert_eq!(actual, expected, "rows {lo}..{hi} with price > {min_price}");
    }

    // Typed parameters compared with each column; NULLs read back as None.
    let item = Item::new(4);
    let row = client
        .query_one(
            &format!(
                "SELECT {COLUMNS} FROM tp_items WHERE name = $1 AND active = $2 AND born = $3 AND seen = $4 \
                 AND price = $5 AND weight = $6"
            ),
            &[&item.name, &item.active, &item.born, &item.seen, &item.price, &item.weight],
        )
        .await
        .expect("query by every column");
    assert_eq!(Item::from_row(&row), item);
    let row = client
        .query_one(
            &format!("SELECT {COLUMNS} FROM tp_items WHERE id = $1"),
            &[&100i32],
        )
        .await
        .expect("query the row of NULLs");
    assert_eq!(Item::from_row(&row), Item::nulls(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_postgres_parameters_in_expressions() {
    let (_server, client, _dir) = start_with_fixture().await;

    // Parameters in expressions, typed by their casts.
    let statement = client
        .prepare(
            "SELECT $1::int4 + 1 AS a, $2::text || '!' AS b, $3::int8 IS NULL AS c, $4::numeric * 2 AS d, \
             $5::date + 1 AS e, $6::float8 / 4 AS f",
        )
        .await
        .expect("prepare expressions over parameters");
    assert_eq!(
        statement.params(),
        [
            Type::INT4,
            Type::TEXT,
            Type::INT8,
            Type::NUMERIC,
            Type::DATE,
            Type::FLOAT8
        ],
        "parameter types given by casts"
    );
    let types: Vec<&Type> = statement.columns().iter().map(|c| c.type_()).collect();
    assert_eq!(
        types,
        [
            &Type::INT4,
            &Type::TEXT,
            &Type::BOOL,
            &Type::NUMERIC,
            &Type::DATE,
            &Type::FLOAT8
        ],
        "result types"
    );
    let row = client
        .query_one(
            &statement,
            &[
                &41i32,
                &"hi",
                &None::<i64>,
                &Decimal::new(125, 2),
                &NaiveDate::from_ymd_opt(2024, 2, 28).expect("date"),
                &1.0f64,
            ],
        )
        .await
        .expect("expressions over parameters");
    assert_eq!(row.get::<_, i32>("a"), 42);
    assert_eq!(row.get::<_, String>("b"), "hi!");
    assert!(row.get::<_, bool>("c"));
    assert_eq!(row.get::<_, Decimal>("d"), Decimal::new(250, 2));
    assert_eq!(
        row.get::<_, NaiveDate>("e"),
        NaiveDate::from_ymd_opt(2024, 2, 29).expect("date")
    );
    assert_eq!(row.get::<_, f64>("f"), 0.25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_postgres_aggregates_errors_and_array_parameters() {
    let (_server, client, _dir) = start_with_fixture().await;

    // Aggregates, typed as Postgres types them (sum of bigint is numeric).
    let statement = client
        .prepare(
            "SELECT count(*) AS n, sum(big) AS total, sum(price) AS prices, max(seen) AS last \
             FROM tp_items WHERE id < $1",
        )
        .await
        .expect("prepare aggregates");
    let types: Vec<&Type> = statement.columns().iter().map(|c| c.type_()).collect();
    assert_eq!(
        types,
        [
            &Type::INT8,
            &Type::NUMERIC,
            &Type::NUMERIC,
            &Type::TIMESTAMP
        ],
        "types of count(*), sum(bigint), sum(numeric), max(timestamp)"
    );
    let row = client
        .query_one(&statement, &[&100i32])
        .await
        .expect("aggregates");
    let items: Vec<Item> = (0..ROWS).map(Item::new).collect();
    assert_eq!(row.get::<_, i64>("n"), i64::from(ROWS));
    assert_eq!(
        row.get::<_, Decimal>("total"),
        items
            .iter()
            .filter_map(|i| i.big)
            .map(Decimal::from)
            .sum::<Decimal>()
    );
    assert_eq!(
        row.get::<_, Decimal>("prices"),
        items.iter().filter_map(|i| i.price).sum::<Decimal>()
    );
    assert_eq!(
        row.get::<_, NaiveDateTime>("last"),
        items[items.len() - 1].seen.expect("seen")
    );

    // A runtime error over a parameter comes back with its SQLSTATE and
    // the session goes on, here with an array parameter.
    let err = client
        .query("SELECT id FROM tp_items WHERE id = 10 / $1", &[&0i32])
        .await
        .expect_err("division by zero");
    assert_eq!(err.code().map(|c| c.code()), Some("22012"), "{err:?}");
    let row = client
        .query_one(
            "SELECT count(*) FROM tp_items WHERE id = ANY($1)",
            &[&vec![1i32, 4, 99]],
        )
        .await
        .expect("an array parameter");
    assert_eq!(row.get::<_, i64>(0), 2);
}

/// Name, data type, nullability, numeric precision and scale.
type ColumnInfo = (String, String, String, Option<i32>, Option<i32>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_postgres_lists_tables_through_information_schema() {
    let (_server, client, _dir) = start_with_fixture().await;

    let tables: Vec<(String, String, String)> = client
        .query(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables \
             WHERE table_schema IN ($1, $2) ORDER BY table_schema, table_name",
            &[&"public", &"tp_s"],
        )
        .await
        .expect("information_schema.tables")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let expected = [
        ("public", "tp_items", "BASE TABLE"),
        ("public", "tp_view", "VIEW"),
        ("tp_s", "other", "BASE TABLE"),
    ]
    .map(|(s, t, k)| (s.to_string(), t.to_string(), k.to_string()));
    assert_eq!(tables, expected);

    let columns: Vec<ColumnInfo> = client
        .query(
            "SELECT column_name, data_type, is_nullable, numeric_precision::int4, numeric_scale::int4 \
             FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 \
             ORDER BY ordinal_position",
            &[&"public", &"tp_items"],
        )
        .await
        .expect("information_schema.columns")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let expected = [
        ("id", "integer", "NO", Some(32), Some(0)),
        ("big", "bigint", "YES", Some(64), Some(0)),
        ("name", "text", "YES", None, None),
        ("price", "numeric", "YES", Some(10), Some(2)),
        ("weight", "double precision", "YES", Some(53), None),
        ("active", "boolean", "YES", None, None),
        ("born", "date", "YES", None, None),
        ("seen", "timestamp without time zone", "YES", None, None),
    ]
    .map(|(c, t, n, p, s)| (c.to_string(), t.to_string(), n.to_string(), p, s));
    assert_eq!(columns, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_postgres_lists_tables_through_pg_catalog() {
    let (_server, client, _dir) = start_with_fixture().await;

    // relkind is of type "char", which tokio-postgres reads as i8.
    let statement = client
        .prepare(
            "SELECT n.nspname::text, c.relname::text, c.relkind FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname IN ($1, $2) AND c.relkind IN ('r', 'v') ORDER BY 1, 2",
        )
        .await
        .expect("prepare pg_class");
    assert_eq!(
        statement.columns()[2].type_(),
        &Type::CHAR,
        "type of pg_class.relkind"
    );
    let relations: Vec<(String, String, i8)> = client
        .query(&statement, &[&"public", &"tp_s"])
        .await
        .expect("pg_class")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let expected = [
        ("public", "tp_items", b'r'),
        ("public", "tp_view", b'v'),
        ("tp_s", "other", b'r'),
    ]
    .map(|(s, t, k)| (s.to_string(), t.to_string(), k as i8));
    assert_eq!(relations, expected);

    let attributes: Vec<(String, String, bool)> = client
        .query(
            "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull \
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&"public", &"tp_items"],
        )
        .await
        .expect("pg_attribute")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let expected = [
        ("id", "integer", true),
        ("big", "bigint", false),
        ("name", "text", false),
        ("price", "numeric(10,2)", false),
        ("weight", "double precision", false),
        ("active", "boolean", false),
        ("born", "date", false),
        ("seen", "timestamp without time zone", false),
    ]
    .map(|(c, t, n)| (c.to_string(), t.to_string(), n));
    assert_eq!(attributes, expected);
}
