//! `pg_catalog` and `information_schema` as clients see them over the pg
//! wire protocol: a server started in-process, tables, views and schemas
//! created through tokio-postgres, and the catalog queries that psql 15,
//! pgjdbc and BI tools send (copied from `psql -E` and a Postgres 15
//! statement log) checked against what Postgres 15 answers.
//!
//! Tests marked `#[ignore]` name the SQL-layer feature they wait for; they
//! pass against Postgres 15 and should pass here once it lands.

mod clients_support;

use std::net::SocketAddr;

use clients_support::rows;
use tidewater_server::Server;
use tidewater_server::config::Config;
use tokio_postgres::{Client, NoTls};

/// A server with `public.orders`, `public.v1`, `s2.t2`, and a second
/// database `other` with `public.t`.
struct Fixture {
    server: Server,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            pg_listen: "127.0.0.1:0".parse().expect("address"),
            workers: 2,
            ..Config::default()
        };
        let server = Server::start(config).await.expect("server starts");
        let addr = server.pg_addr().expect("pg listener");
        let fixture = Self {
            server,
            addr,
            _dir: dir,
        };
        let client = fixture.connect("tidewater").await;
        for sql in [
            "CREATE TABLE orders (id bigint NOT NULL, customer text, amount numeric(10,2), \
             ts timestamp, ok boolean, d double precision, n integer, s smallint, r real, dt date)",
            "CREATE VIEW v1 AS SELECT id, amount FROM orders",
            "CREATE SCHEMA s2",
            "CREATE TABLE s2.t2 (x integer)",
            "CREATE DATABASE other",
        ] {
            client
                .batch_execute(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        let other = fixture.connect("other").await;
        other
            .batch_execute("CREATE TABLE t (x integer)")
            .await
            .expect("create in other");
        fixture
    }

    async fn connect(&self, database: &str) -> Client {
        let conn = format!(
            "host={} port={} user=tidewater dbname={database} connect_timeout=10",
            self.addr.ip(),
            self.addr.port()
        );
        let (client, connection) = tokio_postgres::connect(&conn, NoTls)
            .await
            .expect("connects");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The one value of a one-row, one-column query.
async fn value(client: &Client, sql: &str) -> String {
    let mut r = rows(client, sql).await;
    assert_eq!(r.len(), 1, "{sql} returned {r:?}");
    r.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn information_schema_lists_each_databases_objects() {
    let f = Fixture::start().await;
    let client = f.connect("tidewater").await;
    assert_eq!(
        rows(
            &client,
            "SELECT table_catalog, table_schema, table_name, table_type, is_insertable_into \
             FROM information_schema.tables \
             WHERE table_schema NOT IN ('pg_catalog', 'information_schema') \
             ORDER BY table_schema, table_name"
        )
        .await,
        [
            "tidewater|public|orders|BASE TABLE|YES",
            "tidewater|public|v1|VIEW|NO",
            "tidewater|s2|t2|BASE TABLE|YES",
        ]
    );
    // As in Postgres, the system relations are listed too.
    assert_eq!(
        rows(
            &client,
            "SELECT table_type FROM information_schema.tables \
             WHERE table_schema = 'pg_catalog' AND table_name IN ('pg_class', 'pg_tables') ORDER BY table_name"
        )
        .await,
        ["BASE TABLE", "VIEW"]
    );
    // Values as Postgres 15 gives them for the same table.
    assert_eq!(
        rows(
            &client,
            "SELECT column_name, ordinal_position, is_nullable, data_type, character_maximum_length, \
             character_octet_length, numeric_precision, numeric_precision_radix, numeric_scale, \
             datetime_precision, udt_catalog, udt_schema, udt_name, dtd_identifier, is_updatable \
             FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = 'orders' ORDER BY ordinal_position"
        )
        .await,
        [
            "id|1|NO|bigint|NULL|NULL|64|2|0|NULL|tidewater|pg_catalog|int8|1|YES",
            "customer|2|YES|text|NULL|1073741824|NULL|NULL|NULL|NULL|tidewater|pg_catalog|text|2|YES",
            "amount|3|YES|numeric|NULL|NULL|10|10|2|NULL|tidewater|pg_catalog|numeric|3|YES",
            "ts|4|YES|timestamp without time zone|NULL|NULL|NULL|NULL|NULL|6|tidewater|pg_catalog|timestamp|4|YES",
            "ok|5|YES|boolean|NULL|NULL|NULL|NULL|NULL|NULL|tidewater|pg_catalog|bool|5|YES",
            "d|6|YES|double precision|NULL|NULL|53|2|NULL|NULL|tidewater|pg_catalog|float8|6|YES",
            "n|7|YES|integer|NULL|NULL|32|2|0|NULL|tidewater|pg_catalog|int4|7|YES",
            "s|8|YES|smallint|NULL|NULL|16|2|0|NULL|tidewater|pg_catalog|int2|8|YES",
            "r|9|YES|real|NULL|NULL|24|2|NULL|NULL|tidewater|pg_catalog|float4|9|YES",
            "dt|10|YES|date|NULL|NULL|NULL|NULL|NULL|0|tidewater|pg_catalog|date|10|YES",
        ]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT table_name, view_definition, check_option FROM information_schema.views \
             WHERE table_schema = 'public'"
        )
        .await,
        ["v1|SELECT id, amount FROM orders|NONE"]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT catalog_name, schema_name, schema_owner FROM information_schema.schemata ORDER BY schema_name"
        )
        .await,
        [
            "tidewater|information_schema|tidewater",
            "tidewater|pg_catalog|tidewater",
            "tidewater|public|tidewater",
            "tidewater|s2|tidewater",
        ]
    );
    // Another database shows its own objects.
    let other = f.connect("other").await;
    assert_eq!(
        rows(
            &other,
            "SELECT table_catalog, table_schema, table_name FROM information_schema.tables \
             WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        .await,
        ["other|public|t"]
    );
    assert_eq!(
        value(
            &other,
            "SELECT catalog_name FROM information_schema.information_schema_catalog_name"
        )
        .await,
        "other"
    );
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_catalog_describes_relations_and_types() {
    let f = Fixture::start().await;
    let client = f.connect("tidewater").await;
    let public_oid = value(
        &client,
        "SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public'",
    )
    .await;
    let s2_oid = value(
        &client,
        "SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 's2'",
    )
    .await;
    assert_eq!(
        rows(
            &client,
            "SELECT oid, nspname, nspowner FROM pg_catalog.pg_namespace ORDER BY oid"
        )
        .await,
        [
            "11|pg_catalog|10".to_string(),
            "13207|information_schema|10".to_string(),
            format!("{public_oid}|public|10"),
            format!("{s2_oid}|s2|10"),
        ]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT c.relname, n.nspname, c.relkind, c.relnatts, c.relowner, c.relam, c.relpersistence \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname IN ('public', 's2') ORDER BY c.oid"
        )
        .await,
        [
            "orders|public|r|10|10|2|p",
            "v1|public|v|2|10|0|p",
            "t2|s2|r|1|10|2|p",
        ]
    );
    // The system catalogs describe themselves, with Postgres's OIDs.
    assert_eq!(
        rows(
            &client,
            "SELECT oid, relname, relkind FROM pg_catalog.pg_class \
             WHERE relname IN ('pg_class', 'pg_type', 'pg_roles') ORDER BY oid"
        )
        .await,
        ["1247|pg_type|r", "1259|pg_class|r", "12000|pg_roles|v"]
    );
    let orders_oid = value(
        &client,
        "SELECT oid FROM pg_catalog.pg_class WHERE relname = 'orders'",
    )
    .await;
    assert_eq!(
        rows(
            &client,
            &format!(
                "SELECT attname, atttypid, atttypmod, attnum, attnotnull, attlen, \
                 pg_catalog.format_type(atttypid, atttypmod) \
                 FROM pg_catalog.pg_attribute WHERE attrelid = {orders_oid} AND attnum > 0 ORDER BY attnum"
            )
        )
        .await,
        [
            "id|20|-1|1|t|8|bigint",
            "customer|25|-1|2|f|-1|text",
            "amount|1700|655366|3|f|-1|numeric(10,2)",
            "ts|1114|-1|4|f|8|timestamp without time zone",
            "ok|16|-1|5|f|1|boolean",
            "d|701|-1|6|f|8|double precision",
            "n|23|-1|7|f|4|integer",
            "s|21|-1|8|f|2|smallint",
            "r|700|-1|9|f|4|real",
            "dt|1082|-1|10|f|4|date",
        ]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT oid, typname, typlen, typbyval, typtype, typcategory, typelem, typarray, typinput, \
             typnamespace, typbasetype, typtypmod, typnotnull \
             FROM pg_catalog.pg_type WHERE typname IN ('int4', '_int4', 'varchar', 'numeric', 'name') \
             ORDER BY oid"
        )
        .await,
        [
            "19|name|64|f|b|S|18|1003|namein|11|0|-1|f",
            "23|int4|4|t|b|N|0|1007|int4in|11|0|-1|f",
            "1007|_int4|-1|f|b|A|23|0|array_in|11|0|-1|f",
            "1043|varchar|-1|f|b|S|0|1015|varcharin|11|0|-1|f",
            "1700|numeric|-1|f|b|N|0|1231|numeric_in|11|0|-1|f",
        ]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT format_type(1043, 14), format_type(1700, 655366), format_type(1114, -1), \
             format_type(701, NULL), format_type(1007, NULL), format_type(1042, 9), format_type(18, NULL), \
             format_type(99999, NULL)"
        )
        .await,
        [
            "character varying(10)|numeric(10,2)|timestamp without time zone|double precision|integer[]|\
             character(5)|\"char\"|???"
        ]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT datname, datdba, pg_catalog.pg_encoding_to_char(encoding), datallowconn \
             FROM pg_catalog.pg_database ORDER BY datname"
        )
        .await,
        ["other|10|UTF8|t", "tidewater|10|UTF8|t"]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT oid, rolname, rolsuper, rolcanlogin FROM pg_catalog.pg_roles"
        )
        .await,
        ["10|tidewater|t|t"]
    );
    assert_eq!(
        rows(&client, "SELECT name, setting, vartype FROM pg_catalog.pg_settings WHERE name = 'server_version_num'").await,
        // Tidewater reports server_version 14.0.
        ["server_version_num|140000|integer"]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT proname, prokind, pronamespace FROM pg_catalog.pg_proc \
             WHERE proname IN ('format_type', 'sum', 'row_number') ORDER BY proname"
        )
        .await,
        ["format_type|f|11", "row_number|w|11", "sum|a|11"]
    );
    assert_eq!(
        rows(&client, "SELECT schemaname, tablename, tableowner FROM pg_catalog.pg_tables WHERE schemaname = 'public'").await,
        ["public|orders|tidewater"]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT viewname, definition FROM pg_catalog.pg_views WHERE schemaname = 'public'"
        )
        .await,
        ["v1|SELECT id, amount FROM orders"]
    );
    // What Tidewater has none of is empty, with Postgres's columns.
    assert!(
        rows(
            &client,
            "SELECT indexrelid, indrelid, indkey FROM pg_catalog.pg_index"
        )
        .await
        .is_empty()
    );
    assert!(
        rows(
            &client,
            "SELECT conname, contype, conkey FROM pg_catalog.pg_constraint"
        )
        .await
        .is_empty()
    );
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_functions_answer_like_postgres() {
    let f = Fixture::start().await;
    let client = f.connect("tidewater").await;
    // Expected values from Postgres 15.
    assert_eq!(
        rows(
            &client,
            "SELECT pg_catalog.pg_get_userbyid(10), pg_get_userbyid(5), pg_size_pretty(10752::bigint), \
             pg_size_pretty(1073741824::bigint), quote_ident('Orders'), quote_ident('orders'), \
             quote_ident('select'), pg_encoding_to_char(6), pg_is_in_recovery(), pg_tablespace_location(1663), \
             obj_description(1259, 'pg_class'), col_description(1259, 1), current_setting('server_version_num'), \
             has_table_privilege('orders', 'SELECT'), pg_total_relation_size(1259)"
        )
        .await,
        ["tidewater|unknown (OID=5)|11 kB|1024 MB|\"Orders\"|orders|\"select\"|UTF8|f||NULL|NULL|140000|t|0"]
    );
    // Vectorized over a column, NULL in NULL out.
    assert_eq!(
        rows(
            &client,
            "SELECT relname, pg_catalog.pg_get_userbyid(relowner), pg_catalog.pg_get_expr(NULL, oid) \
             FROM pg_catalog.pg_class WHERE relname IN ('orders', 'v1') ORDER BY relname"
        )
        .await,
        ["orders|tidewater|NULL", "v1|tidewater|NULL"]
    );
    f.shutdown().await;
}

/// `\dt` in psql 15.
const PSQL_DT: &str = r#"SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;"#;

/// `\d` in psql 15.
const PSQL_D: &str = r#"SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','v','m','S','f','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;"#;

/// `\l` in psql 15.
const PSQL_L: &str = r#"SELECT d.datname as "Name",
       pg_catalog.pg_get_userbyid(d.datdba) as "Owner",
       pg_catalog.pg_encoding_to_char(d.encoding) as "Encoding",
       d.datcollate as "Collate",
       d.datctype as "Ctype",
       d.daticulocale as "ICU Locale",
       CASE d.datlocprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' END AS "Locale Provider",
       pg_catalog.array_to_string(d.datacl, E'\n') AS "Access privileges"
FROM pg_catalog.pg_database d
ORDER BY 1;"#;

/// `\dn` in psql 15.
const PSQL_DN: &str = r#"SELECT n.nspname AS "Name",
  pg_catalog.pg_get_userbyid(n.nspowner) AS "Owner"
FROM pg_catalog.pg_namespace n
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
ORDER BY 1;"#;

/// `\df` in psql 15.
const PSQL_DF: &str = r#"SELECT n.nspname as "Schema",
  p.proname as "Name",
  pg_catalog.pg_get_function_result(p.oid) as "Result data type",
  pg_catalog.pg_get_function_arguments(p.oid) as "Argument data types",
 CASE p.prokind
  WHEN 'a' THEN 'agg'
  WHEN 'w' THEN 'window'
  WHEN 'p' THEN 'proc'
  ELSE 'func'
 END as "Type"
FROM pg_catalog.pg_proc p
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE pg_catalog.pg_function_is_visible(p.oid)
      AND n.nspname <> 'pg_catalog'
      AND n.nspname <> 'information_schema'
ORDER BY 1, 2, 4;"#;

/// `\di` in psql 15.
const PSQL_DI: &str = r#"SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner",
  c2.relname as "Table"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
     LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
     LEFT JOIN pg_catalog.pg_class c2 ON i.indrelid = c2.oid
WHERE c.relkind IN ('i','I','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_list_commands() {
    let f = Fixture::start().await;
    // Only `public` is searched, so only its relations are listed
    // (`s2.t2` is checked by `psql_lists_only_visible_relations`).
    let client = f.connect("tidewater").await;
    client
        .batch_execute("DROP TABLE s2.t2")
        .await
        .expect("drop");
    assert_eq!(
        rows(&client, PSQL_DT).await,
        ["public|orders|table|tidewater"]
    );
    assert_eq!(
        rows(&client, PSQL_D).await,
        ["public|orders|table|tidewater", "public|v1|view|tidewater"]
    );
    assert_eq!(
        rows(&client, PSQL_L).await,
        [
            "other|tidewater|UTF8|C|C|NULL|libc|NULL",
            "tidewater|tidewater|UTF8|C|C|NULL|libc|NULL",
        ]
    );
    assert_eq!(
        rows(&client, PSQL_DN).await,
        ["public|tidewater", "s2|tidewater"]
    );
    assert!(rows(&client, PSQL_DF).await.is_empty());
    assert!(rows(&client, PSQL_DI).await.is_empty());
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_lists_only_visible_relations() {
    let f = Fixture::start().await;
    let client = f.connect("tidewater").await;
    assert_eq!(
        rows(&client, PSQL_DT).await,
        ["public|orders|table|tidewater"]
    );
    client
        .batch_execute("SET search_path = public, s2")
        .await
        .expect("set");
    assert_eq!(
        rows(&client, PSQL_DT).await,
        ["public|orders|table|tidewater", "s2|t2|table|tidewater"]
    );
    f.shutdown().await;
}

/// The queries psql 15 sends for `\d orders`, in order; `{oid}` is the
/// table's OID (found by the first query).
const PSQL_D_TABLE: [&str; 3] = [
    r#"SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(orders)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 2, 3;"#,
    r#"SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '{oid}';"#,
    r#"SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '{oid}' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;"#,
];

/// The rest of `\d orders`: policies, statistics objects, publications,
/// inheritance (the publications query is the one psql 15 sends to a
/// Postgres 14 server, as Tidewater reports version 14.0).
const PSQL_D_TABLE_FOOTERS: [&str; 5] = [
    r#"SELECT pol.polname, pol.polpermissive,
  CASE WHEN pol.polroles = '{0}' THEN NULL ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any (pol.polroles) order by 1),',') END,
  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),
  pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),
  CASE pol.polcmd
    WHEN 'r' THEN 'SELECT'
    WHEN 'a' THEN 'INSERT'
    WHEN 'w' THEN 'UPDATE'
    WHEN 'd' THEN 'DELETE'
    END AS cmd
FROM pg_catalog.pg_policy pol
WHERE pol.polrelid = '{oid}' ORDER BY 1;"#,
    r#"SELECT oid, stxrelid::pg_catalog.regclass, stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,
pg_catalog.pg_get_statisticsobjdef_columns(oid) AS columns,
  'd' = any(stxkind) AS ndist_enabled,
  'f' = any(stxkind) AS deps_enabled,
  'm' = any(stxkind) AS mcv_enabled,
stxstattarget
FROM pg_catalog.pg_statistic_ext
WHERE stxrelid = '{oid}'
ORDER BY nsp, stxname;"#,
    r#"SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid
WHERE pr.prrelid = '{oid}'
UNION ALL
SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable('{oid}')
ORDER BY 1;"#,
    r#"SELECT c.oid::pg_catalog.regclass
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhparent AND i.inhrelid = '{oid}'
  AND c.relkind != 'p' AND c.relkind != 'I'
ORDER BY inhseqno;"#,
    r#"SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending, pg_catalog.pg_get_expr(c.relpartbound, c.oid)
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhrelid AND i.inhparent = '{oid}'
ORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.oid::pg_catalog.regclass::pg_catalog.text;"#,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_describe_table() {
    let f = Fixture::start().await;
    let client = f.connect("tidewater").await;
    let oid = value(
        &client,
        "SELECT oid FROM pg_catalog.pg_class WHERE relname = 'orders'",
    )
    .await;
    let [find, table, columns] = PSQL_D_TABLE.map(|q| q.replace("{oid}", &oid));
    assert_eq!(rows(&client, &find).await, [format!("{oid}|public|orders")]);
    assert_eq!(
        rows(&client, &table).await,
        ["0|r|f|f|f|f|f|f|f||0||p|d|heap"]
    );
    assert_eq!(
        rows(&client, &columns).await,
        [
            "id|bigint|NULL|t|NULL||",
            "customer|text|NULL|f|NULL||",
            "amount|numeric(10,2)|NULL|f|NULL||",
            "ts|timestamp without time zone|NULL|f|NULL||",
            "ok|boolean|NULL|f|NULL||",
            "d|double precision|NULL|f|NULL||",
            "n|integer|NULL|f|NULL||",
            "s|smallint|NULL|f|NULL||",
            "r|real|NULL|f|NULL||",
            "dt|date|NULL|f|NULL||",
        ]
    );
    for footer in PSQL_D_TABLE_FOOTERS {
        assert!(
            rows(&client, &footer.replace("{oid}", &oid))
                .await
                .is_empty(),
            "{footer}"
        );
    }
    f.shutdown().await;
}

/// `DatabaseMetaData.getColumns(null, "public", "orders", "%")` in pgjdbc 42.5.
const PGJDBC_GET_COLUMNS: &str = "SELECT * FROM (SELECT n.nspname,c.relname,a.attname,a.atttypid,a.attnotnull OR (t.typtype = 'd' AND t.typnotnull) AS attnotnull,a.atttypmod,a.attlen,t.typtypmod,row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS attnum, nullif(a.attidentity, '') as attidentity,nullif(a.attgenerated, '') as attgenerated,pg_catalog.pg_get_expr(def.adbin, def.adrelid) AS adsrc,dsc.description,t.typbasetype,t.typtype  FROM pg_catalog.pg_namespace n  JOIN pg_catalog.pg_class c ON (c.relnamespace = n.oid)  JOIN pg_catalog.pg_attribute a ON (a.attrelid=c.oid)  JOIN pg_catalog.pg_type t ON (a.atttypid = t.oid)  LEFT JOIN pg_catalog.pg_attrdef def ON (a.attrelid=def.adrelid AND a.attnum = def.adnum)  LEFT JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)  LEFT JOIN pg_catalog.pg_class dc ON (dc.oid=dsc.classoid AND dc.relname='pg_class')  LEFT JOIN pg_catalog.pg_namespace dn ON (dc.relnamespace=dn.oid AND dn.nspname='pg_catalog')  WHERE c.relkind in ('r','p','v','f','m') and a.attnum > 0 AND NOT a.attisdropped  AND n.nspname LIKE 'public' AND c.relname LIKE 'orders') c WHERE true  AND attname LIKE '%' ORDER BY nspname,c.relname,attnum ";

/// `DatabaseMetaData.getSchemas()` in pgjdbc 42.5.
const PGJDBC_GET_SCHEMAS: &str = "SELECT nspname AS TABLE_SCHEM, NULL AS TABLE_CATALOG FROM pg_catalog.pg_namespace  WHERE nspname <> 'pg_toast' AND (nspname !~ '^pg_temp_'  OR nspname = (pg_catalog.current_schemas(true))[1]) AND (nspname !~ '^pg_toast_temp_'  OR nspname = replace((pg_catalog.current_schemas(true))[1], 'pg_temp_', 'pg_toast_temp_'))  ORDER BY TABLE_SCHEM";

/// `DatabaseMetaData.getTables(null, null, "%", {"TABLE", "VIEW"})` in pgjdbc 42.5.
const PGJDBC_GET_TABLES: &str = "SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM, c.relname AS TABLE_NAME,  CASE n.nspname ~ '^pg_' OR n.nspname = 'information_schema'  WHEN true THEN CASE  WHEN n.nspname = 'pg_catalog' OR n.nspname = 'information_schema' THEN CASE c.relkind   WHEN 'r' THEN 'SYSTEM TABLE'   WHEN 'v' THEN 'SYSTEM VIEW'   WHEN 'i' THEN 'SYSTEM INDEX'   ELSE NULL   END  WHEN n.nspname = 'pg_toast' THEN CASE c.relkind   WHEN 'r' THEN 'SYSTEM TOAST TABLE'   WHEN 'i' THEN 'SYSTEM TOAST INDEX'   ELSE NULL   END  ELSE CASE c.relkind   WHEN 'r' THEN 'TEMPORARY TABLE'   WHEN 'p' THEN 'TEMPORARY TABLE'   WHEN 'i' THEN 'TEMPORARY INDEX'   WHEN 'S' THEN 'TEMPORARY SEQUENCE'   WHEN 'v' THEN 'TEMPORARY VIEW'   ELSE NULL   END  END  WHEN false THEN CASE c.relkind  WHEN 'r' THEN 'TABLE'  WHEN 'p' THEN 'PARTITIONED TABLE'  WHEN 'i' THEN 'INDEX'  WHEN 'P' then 'PARTITIONED INDEX'  WHEN 'S' THEN 'SEQUENCE'  WHEN 'v' THEN 'VIEW'  WHEN 'c' THEN 'TYPE'  WHEN 'f' THEN 'FOREIGN TABLE'  WHEN 'm' THEN 'MATERIALIZED VIEW'  ELSE NULL  END  ELSE NULL  END  AS TABLE_TYPE, d.description AS REMARKS,  '' as TYPE_CAT, '' as TYPE_SCHEM, '' as TYPE_NAME, '' AS SELF_REFERENCING_COL_NAME, '' AS REF_GENERATION  FROM pg_catalog.pg_namespace n, pg_catalog.pg_class c  LEFT JOIN pg_catalog.pg_description d ON (c.oid = d.objoid AND d.objsubid = 0  and d.classoid = 'pg_class'::regclass)  WHERE c.relnamespace = n.oid  AND c.relname LIKE '%' AND (false  OR ( c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' )  OR ( c.relkind = 'v' AND n.nspname <> 'pg_catalog' AND n.nspname <> 'information_schema' ) )  ORDER BY TABLE_TYPE,TABLE_SCHEM,TABLE_NAME ";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgjdbc_metadata_queries() {
    let f = Fixture::start().await;
    let client = f.connect("tidewater").await;
    // Postgres 15 answers the same for this table (modulo OIDs).
    assert_eq!(
        rows(&client, PGJDBC_GET_COLUMNS).await,
        [
            "public|orders|id|20|t|-1|8|-1|1|NULL|NULL|NULL|NULL|0|b",
            "public|orders|customer|25|f|-1|-1|-1|2|NULL|NULL|NULL|NULL|0|b",
            "public|orders|amount|1700|f|655366|-1|-1|3|NULL|NULL|NULL|NULL|0|b",
            "public|orders|ts|1114|f|-1|8|-1|4|NULL|NULL|NULL|NULL|0|b",
            "public|orders|ok|16|f|-1|1|-1|5|NULL|NULL|NULL|NULL|0|b",
            "public|orders|d|701|f|-1|8|-1|6|NULL|NULL|NULL|NULL|0|b",
            "public|orders|n|23|f|-1|4|-1|7|NULL|NULL|NULL|NULL|0|b",
            "public|orders|s|21|f|-1|2|-1|8|NULL|NULL|NULL|NULL|0|b",
            "public|orders|r|700|f|-1|4|-1|9|NULL|NULL|NULL|NULL|0|b",
            "public|orders|dt|1082|f|-1|4|-1|10|NULL|NULL|NULL|NULL|0|b",
        ]
    );
    assert_eq!(
        rows(&client, PGJDBC_GET_SCHEMAS).await,
        [
            "information_schema|NULL",
            "pg_catalog|NULL",
            "public|NULL",
            "s2|NULL"
        ]
    );
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgjdbc_get_tables() {
    let f = Fixture::start().await;
    let client = f.connect("tidewater").await;
    assert_eq!(
        rows(&client, PGJDBC_GET_TABLES).await,
        [
            "NULL|public|orders|TABLE|NULL|||||",
            "NULL|s2|t2|TABLE|NULL|||||",
            "NULL|public|v1|VIEW|NULL|||||",
        ]
    );
    f.shutdown().await;
}

/// Indexes the index tests create on top of the fixture (as Postgres 15
/// names them: `CREATE INDEX ON orders (id)` is `orders_id_idx`).
const CREATE_INDEXES: &str = "CREATE INDEX ON orders (id); \
     CREATE INDEX orders_cust_ts ON orders (customer, ts); \
     CREATE TABLE s2.t3 (x integer, \"Y\" varchar(10)); \
     CREATE INDEX \"T3 Idx\" ON s2.t3 (\"Y\", x)";

/// A fixture with [`CREATE_INDEXES`] run.
async fn fixture_with_indexes() -> (Fixture, Client) {
    let f = Fixture::start().await;
    let client = f.connect("tidewater").await;
    client
        .batch_execute(CREATE_INDEXES)
        .await
        .expect("create indexes");
    (f, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexes_in_pg_catalog_like_postgres() {
    let (f, client) = fixture_with_indexes().await;
    // Every expected value is what Postgres 15 answers for the same
    // statements (run through psql against Postgres 15).
    assert_eq!(
        rows(
            &client,
            "SELECT c.relname, n.nspname, c.relkind, c.relam, c.relnatts, c.relhasindex, c.relpages, \
             c.reltuples, c.relpersistence, c.relreplident, c.relispopulated, \
             c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname IN ('public', 's2') ORDER BY 2, 1"
        )
        .await,
        [
            "orders|public|r|2|10|t|0|-1|p|d|t|t",
            "orders_cust_ts|public|i|403|2|f|1|0|p|n|t|t",
            "orders_id_idx|public|i|403|1|f|1|0|p|n|t|t",
            "v1|public|v|0|2|f|0|-1|p|n|t|t",
            "T3 Idx|s2|i|403|2|f|1|0|p|n|t|t",
            "t2|s2|r|2|1|f|0|-1|p|d|t|t",
            "t3|s2|r|2|2|t|0|-1|p|d|t|t",
        ]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT relname, reltype, relfilenode = oid FROM pg_catalog.pg_class \
             WHERE relkind = 'i' ORDER BY 1"
        )
        .await,
        ["T3 Idx|0|t", "orders_cust_ts|0|t", "orders_id_idx|0|t"]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT c.relname, t.relname, i.indnatts, i.indnkeyatts, i.indisunique, \
             i.indnullsnotdistinct, i.indisprimary, i.indisexclusion, i.indimmediate, \
             i.indisclustered, i.indisvalid, i.indcheckxmin, i.indisready, i.indislive, \
             i.indisreplident, array_to_string(i.indkey, ' '), array_to_string(i.indcollation, ' '), \
             array_to_string(i.indclass, ' '), array_to_string(i.indoption, ' '), \
             i.indexprs IS NULL, i.indpred IS NULL \
             FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid \
             JOIN pg_catalog.pg_class t ON t.oid = i.indrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname IN ('public', 's2') ORDER BY 1"
        )
        .await,
        [
            "T3 Idx|t3|2|2|f|f|f|f|t|f|t|f|t|t|f|2 1|100 0|3126 1978|0 0|t|t",
            "orders_cust_ts|orders|2|2|f|f|f|f|t|f|t|f|t|t|f|2 4|100 0|3126 3128|0 0|t|t",
            "orders_id_idx|orders|1|1|f|f|f|f|t|f|t|f|t|t|f|1|0|3124|0|t|t",
        ]
    );
    // The operator classes of indclass, their families and access method.
    assert_eq!(
        rows(
            &client,
            "SELECT o.opcname, f.opfname, o.opcintype, o.opcdefault, am.amname \
             FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid \
             JOIN pg_catalog.pg_opclass o ON o.oid = ANY (i.indclass) \
             JOIN pg_catalog.pg_opfamily f ON f.oid = o.opcfamily \
             JOIN pg_catalog.pg_am am ON am.oid = o.opcmethod \
             WHERE c.relname IN ('orders_cust_ts', 'T3 Idx') ORDER BY 1"
        )
        .await,
        [
            "int4_ops|integer_ops|23|t|btree",
            "text_ops|text_ops|25|t|btree",
            "text_ops|text_ops|25|t|btree",
            "timestamp_ops|datetime_ops|1114|t|btree",
        ]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT c.relname, a.attnum, a.attname, a.atttypid, a.atttypmod, a.attlen, a.attbyval, \
             a.attalign, a.attstorage, a.attnotnull, a.attcollation, a.attstattarget, a.attislocal \
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             WHERE c.relkind = 'i' AND c.relname IN ('orders_id_idx', 'orders_cust_ts', 'T3 Idx') \
             ORDER BY 1, 2"
        )
        .await,
        [
            "T3 Idx|1|Y|1043|14|-1|f|i|x|f|100|-1|t",
            "T3 Idx|2|x|23|-1|4|t|i|p|f|0|-1|t",
            "orders_cust_ts|1|customer|25|-1|-1|f|i|x|f|100|-1|t",
            "orders_cust_ts|2|ts|1114|-1|8|t|d|p|f|0|-1|t",
            "orders_id_idx|1|id|20|-1|8|t|d|p|f|0|-1|t",
        ]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT schemaname, tablename, indexname, tablespace, indexdef \
             FROM pg_catalog.pg_indexes WHERE schemaname IN ('public', 's2') ORDER BY 3"
        )
        .await,
        [
            "s2|t3|T3 Idx|NULL|CREATE INDEX \"T3 Idx\" ON s2.t3 USING btree (\"Y\", x)",
            "public|orders|orders_cust_ts|NULL|CREATE INDEX orders_cust_ts ON public.orders USING btree (customer, ts)",
            "public|orders|orders_id_idx|NULL|CREATE INDEX orders_id_idx ON public.orders USING btree (id)",
        ]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT tablename, hasindexes FROM pg_catalog.pg_tables \
             WHERE schemaname IN ('public', 's2') ORDER BY 1"
        )
        .await,
        ["orders|t", "t2|f", "t3|t"]
    );
    // No information_schema view describes indexes.
    assert!(
        rows(
            &client,
            "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '%dx%' \
             UNION ALL SELECT table_name FROM information_schema.columns \
             WHERE table_name LIKE '%dx%' OR table_name = 'orders_cust_ts'"
        )
        .await
        .is_empty()
    );
    // Nor does the other database's catalog.
    let other = f.connect("other").await;
    assert_eq!(
        value(
            &other,
            "SELECT count(*) FROM pg_catalog.pg_class WHERE relkind = 'i'"
        )
        .await,
        "0"
    );
    assert_eq!(
        value(&other, "SELECT count(*) FROM pg_catalog.pg_index").await,
        "0"
    );
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_get_indexdef_like_postgres() {
    let (f, client) = fixture_with_indexes().await;
    // Postgres 15's answers; `pretty` leaves out the schema of a table the
    // search path finds.
    let query = "SELECT c.relname, pg_catalog.pg_get_indexdef(c.oid), \
         pg_catalog.pg_get_indexdef(c.oid, 0, true), pg_catalog.pg_get_indexdef(c.oid, 1, false), \
         pg_catalog.pg_get_indexdef(c.oid, 2, true), pg_catalog.pg_get_indexdef(c.oid, 3, true) = '', \
         pg_catalog.pg_get_indexdef(c.oid, NULL, true) IS NULL, \
         c.oid::pg_catalog.regclass::pg_catalog.text, pg_catalog.pg_table_is_visible(c.oid) \
         FROM pg_catalog.pg_class c WHERE c.relkind = 'i' ORDER BY 1";
    assert_eq!(
        rows(&client, query).await,
        [
            "T3 Idx|CREATE INDEX \"T3 Idx\" ON s2.t3 USING btree (\"Y\", x)|\
             CREATE INDEX \"T3 Idx\" ON s2.t3 USING btree (\"Y\", x)|\"Y\"|x|t|t|s2.\"T3 Idx\"|f",
            "orders_cust_ts|CREATE INDEX orders_cust_ts ON public.orders USING btree (customer, ts)|\
             CREATE INDEX orders_cust_ts ON orders USING btree (customer, ts)|customer|ts|t|t|orders_cust_ts|t",
            "orders_id_idx|CREATE INDEX orders_id_idx ON public.orders USING btree (id)|\
             CREATE INDEX orders_id_idx ON orders USING btree (id)|id||t|t|orders_id_idx|t",
        ]
    );
    client
        .batch_execute("SET search_path = public, s2")
        .await
        .expect("set");
    assert_eq!(
        rows(
            &client,
            "SELECT c.relname, pg_catalog.pg_get_indexdef(c.oid, 0, true), \
             c.oid::pg_catalog.regclass::pg_catalog.text, pg_catalog.pg_table_is_visible(c.oid) \
             FROM pg_catalog.pg_class c WHERE c.relname = 'T3 Idx'"
        )
        .await,
        ["T3 Idx|CREATE INDEX \"T3 Idx\" ON t3 USING btree (\"Y\", x)|\"T3 Idx\"|t"]
    );
    // Constant arguments; NULL for what is not an index.
    assert_eq!(
        rows(
            &client,
            "SELECT pg_get_indexdef(to_regclass('orders_id_idx')), \
             pg_get_indexdef(to_regclass('s2.\"T3 Idx\"'), 1, true), \
             pg_get_indexdef(to_regclass('orders')) IS NULL, pg_get_indexdef(0) IS NULL"
        )
        .await,
        ["CREATE INDEX orders_id_idx ON public.orders USING btree (id)|\"Y\"|t|t"]
    );
    // Dropped indexes and tables take their indexes with them.
    client
        .batch_execute("DROP INDEX orders_cust_ts; DROP TABLE s2.t3")
        .await
        .expect("drop");
    assert_eq!(
        rows(
            &client,
            "SELECT indexname FROM pg_catalog.pg_indexes WHERE schemaname <> 'pg_catalog'"
        )
        .await,
        ["orders_id_idx"]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_index i \
             ON i.indexrelid = c.oid"
        )
        .await,
        ["orders_id_idx"]
    );
    f.shutdown().await;
}

/// The query psql 15 sends for the "Indexes:" footer of `\d orders`
/// (after the queries of [`PSQL_D_TABLE`]); `{oid}` is the table's OID.
const PSQL_D_TABLE_INDEXES: &str = r#"SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),
  pg_catalog.pg_get_constraintdef(con.oid, true), contype, condeferrable, condeferred, i.indisreplident, c2.reltablespace
FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i
  LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))
WHERE c.oid = '{oid}' AND c.oid = i.indrelid AND i.indexrelid = c2.oid
ORDER BY i.indisprimary DESC, c2.relname;"#;

/// The queries psql 15 sends for `\d orders_cust_ts` (an index) after
/// the first two of [`PSQL_D_TABLE`]: its columns, then its footer.
const PSQL_D_INDEX: [&str; 2] = [
    r#"SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  CASE WHEN a.attnum <= (SELECT i.indnkeyatts FROM pg_catalog.pg_index i WHERE i.indexrelid = '{oid}') THEN 'yes' ELSE 'no' END AS is_key,
  pg_catalog.pg_get_indexdef(a.attrelid, a.attnum, TRUE) AS indexdef
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '{oid}' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;"#,
    r#"SELECT i.indisunique, i.indisprimary, i.indisclustered, i.indisvalid,
  (NOT i.indimmediate) AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x') AND condeferrable) AS condeferrable,
  (NOT i.indimmediate) AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x') AND condeferred) AS condeferred,
i.indisreplident,
false AS indnullsnotdistinct,
  a.amname, c2.relname, pg_catalog.pg_get_expr(i.indpred, i.indrelid, true)
FROM pg_catalog.pg_index i, pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_am a
WHERE i.indexrelid = c.oid AND c.oid = '{oid}' AND c.relam = a.oid
AND i.indrelid = c2.oid;"#,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_describe_and_list_indexes() {
    let (f, client) = fixture_with_indexes().await;
    let oid = value(
        &client,
        "SELECT oid FROM pg_catalog.pg_class WHERE relname = 'orders'",
    )
    .await;
    // `\d orders`: relhasindex makes psql ask for the indexes, and it prints
    // what follows " USING " in the definition:
    //     Indexes:
    //         "orders_cust_ts" btree (customer, ts)
    //         "orders_id_idx" btree (id)
    let table = PSQL_D_TABLE[1].replace("{oid}", &oid);
    assert_eq!(
        rows(&client, &table).await,
        ["0|r|t|f|f|f|f|f|f||0||p|d|heap"]
    );
    assert_eq!(
        rows(&client, &PSQL_D_TABLE_INDEXES.replace("{oid}", &oid)).await,
        [
            "orders_cust_ts|f|f|f|t|CREATE INDEX orders_cust_ts ON orders USING btree (customer, ts)|NULL|NULL|NULL|NULL|f|0",
            "orders_id_idx|f|f|f|t|CREATE INDEX orders_id_idx ON orders USING btree (id)|NULL|NULL|NULL|NULL|f|0",
        ]
    );
    // `\di`: the search path is `public`.
    assert_eq!(
        rows(&client, PSQL_DI).await,
        [
            "public|orders_cust_ts|index|tidewater|orders",
            "public|orders_id_idx|index|tidewater|orders",
        ]
    );
    client
        .batch_execute("SET search_path = public, s2")
        .await
        .expect("set");
    assert_eq!(
        rows(&client, PSQL_DI).await,
        [
            "public|orders_cust_ts|index|tidewater|orders",
            "public|orders_id_idx|index|tidewater|orders",
            "s2|T3 Idx|index|tidewater|t3",
        ]
    );
    // `\d` lists no index.
    assert_eq!(
        rows(&client, PSQL_D).await,
        [
            "public|orders|table|tidewater",
            "public|v1|view|tidewater",
            "s2|t2|table|tidewater",
            "s2|t3|table|tidewater",
        ]
    );
    // `\d orders_cust_ts`: the index is found and described as a relation
    // of kind 'i' with access method btree, and its columns listed.
    let index = value(
        &client,
        "SELECT oid FROM pg_catalog.pg_class WHERE relname = 'orders_cust_ts'",
    )
    .await;
    let find = PSQL_D_TABLE[0].replace("^(orders)$", "^(orders_cust_ts)$");
    assert_eq!(
        rows(&client, &find).await,
        [format!("{index}|public|orders_cust_ts")]
    );
    assert_eq!(
        rows(&client, &PSQL_D_TABLE[1].replace("{oid}", &index)).await,
        ["0|i|f|f|f|f|f|f|f||0||p|n|btree"]
    );
    assert_eq!(
        rows(&client, &PSQL_D_INDEX[0].replace("{oid}", &index)).await,
        [
            "customer|text|yes|customer",
            "ts|timestamp without time zone|yes|ts"
        ]
    );
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs EXISTS (subquery) in the select list in the planner"]
async fn psql_describe_index_footer() {
    let (f, client) = fixture_with_indexes().await;
    let index = value(
        &client,
        "SELECT oid FROM pg_catalog.pg_class WHERE relname = 'orders_cust_ts'",
    )
    .await;
    // psql prints `btree, for table "public.orders"`.
    assert_eq!(
        rows(&client, &PSQL_D_INDEX[1].replace("{oid}", &index)).await,
        ["f|f|f|t|f|f|f|f|btree|orders|NULL"]
    );
    f.shutdown().await;
}

/// `DatabaseMetaData.getIndexInfo(null, "public", "orders", false, false)`
/// in pgjdbc 42.5 (from a Postgres 15 statement log).
const PGJDBC_GET_INDEX_INFO: &str = "SELECT     tmp.TABLE_CAT,     tmp.TABLE_SCHEM,     tmp.TABLE_NAME,     tmp.NON_UNIQUE,     tmp.INDEX_QUALIFIER,     tmp.INDEX_NAME,     tmp.TYPE,     tmp.ORDINAL_POSITION,     trim(both '\"' from pg_catalog.pg_get_indexdef(tmp.CI_OID, tmp.ORDINAL_POSITION, false)) AS COLUMN_NAME,   CASE tmp.AM_NAME     WHEN 'btree' THEN CASE tmp.I_INDOPTION[tmp.ORDINAL_POSITION - 1] & 1::smallint       WHEN 1 THEN 'D'       ELSE 'A'     END     ELSE NULL   END AS ASC_OR_DESC,     tmp.CARDINALITY,     tmp.PAGES,     tmp.FILTER_CONDITION FROM (SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM,   ct.relname AS TABLE_NAME, NOT i.indisunique AS NON_UNIQUE,   NULL AS INDEX_QUALIFIER, ci.relname AS INDEX_NAME,   CASE i.indisclustered     WHEN true THEN 1    ELSE CASE am.amname       WHEN 'hash' THEN 2      ELSE 3    END   END AS TYPE,   (information_schema._pg_expandarray(i.indkey)).n AS ORDINAL_POSITION,   ci.reltuples AS CARDINALITY,   ci.relpages AS PAGES,   pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS FILTER_CONDITION,   ci.oid AS CI_OID,   i.indoption AS I_INDOPTION,   am.amname AS AM_NAME FROM pg_catalog.pg_class ct   JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid)   JOIN pg_catalog.pg_index i ON (ct.oid = i.indrelid)   JOIN pg_catalog.pg_class ci ON (ci.oid = i.indexrelid)   JOIN pg_catalog.pg_am am ON (ci.relam = am.oid) WHERE true  AND n.nspname = 'public' AND ct.relname = 'orders') AS tmp ORDER BY NON_UNIQUE, TYPE, INDEX_NAME, ORDINAL_POSITION ";

/// What Postgres 15 answers to [`PGJDBC_GET_INDEX_INFO`]: pgjdbc reports
/// NON_UNIQUE true, TYPE 3 (tableIndexOther), ascending columns.
const PGJDBC_INDEX_INFO_ROWS: [&str; 3] = [
    "NULL|public|orders|t|NULL|orders_cust_ts|3|1|customer|A|0|1|NULL",
    "NULL|public|orders|t|NULL|orders_cust_ts|3|2|ts|A|0|1|NULL",
    "NULL|public|orders|t|NULL|orders_id_idx|3|1|id|A|0|1|NULL",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgjdbc_get_index_info_by_index_columns() {
    let (f, client) = fixture_with_indexes().await;
    // pgjdbc's query with the key positions taken from the index's
    // pg_attribute rows instead of `_pg_expandarray(indkey)` (see
    // `pgjdbc_get_index_info`): the same answer as Postgres 15.
    let query = PGJDBC_GET_INDEX_INFO
        .replace(
            "(information_schema._pg_expandarray(i.indkey)).n",
            "a.attnum",
        )
        .replace(
            "JOIN pg_catalog.pg_am am ON (ci.relam = am.oid)",
            "JOIN pg_catalog.pg_am am ON (ci.relam = am.oid) \
             JOIN pg_catalog.pg_attribute a ON (a.attrelid = ci.oid)",
        );
    assert_eq!(rows(&client, &query).await, PGJDBC_INDEX_INFO_ROWS);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgjdbc_get_index_info() {
    let (f, client) = fixture_with_indexes().await;
    assert_eq!(
        rows(&client, PGJDBC_GET_INDEX_INFO).await,
        PGJDBC_INDEX_INFO_ROWS
    );
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs 'name'::regclass literals in the planner (pg_compat) to accept index names and quoted names"]
async fn index_regclass_literals() {
    let (f, client) = fixture_with_indexes().await;
    assert_eq!(
        rows(
            &client,
            "SELECT 'orders_id_idx'::regclass = to_regclass('orders_id_idx'), \
             pg_get_indexdef('s2.\"T3 Idx\"'::regclass)"
        )
        .await,
        ["t|CREATE INDEX \"T3 Idx\" ON s2.t3 USING btree (\"Y\", x)"]
    );
    f.shutdown().await;
}

/// `DatabaseMetaData.getPrimaryKeys(null, "public", "keyed")` in pgjdbc
/// 42.5: `_pg_expandarray` in the select list, twice, zipped.
const PGJDBC_GET_PRIMARY_KEYS: &str = "SELECT        result.TABLE_CAT,        result.TABLE_SCHEM,        result.TABLE_NAME,        result.COLUMN_NAME,        result.KEY_SEQ,        result.PK_NAME FROM      (SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM,   ct.relname AS TABLE_NAME, a.attname AS COLUMN_NAME,   (information_schema._pg_expandarray(i.indkey)).n AS KEY_SEQ, ci.relname AS PK_NAME,   information_schema._pg_expandarray(i.indkey) AS KEYS, a.attnum AS A_ATTNUM FROM pg_catalog.pg_class ct   JOIN pg_catalog.pg_attribute a ON (ct.oid = a.attrelid)   JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid)   JOIN pg_catalog.pg_index i ON ( a.attrelid = i.indrelid)   JOIN pg_catalog.pg_class ci ON (ci.oid = i.indexrelid) WHERE true  AND n.nspname = 'public' AND ct.relname = 'keyed' AND i.indisprimary  ) result where  result.A_ATTNUM = (result.KEYS).x  ORDER BY result.table_name, result.pk_name, result.key_seq";

/// pgjdbc's `TypeInfoCache` looks a type up by name along the search path
/// with `generate_series` in `FROM` (from `getTypeInfo()` and
/// `getSQLType`).
const PGJDBC_TYPE_BY_NAME: &str = "SELECT pg_type.oid, typname   FROM pg_catalog.pg_type   LEFT   JOIN (select ns.oid as nspoid, ns.nspname, r.r           from pg_namespace as ns           join ( select s.r, (current_schemas(false))[s.r] as nspname                    from generate_series(1, array_upper(current_schemas(false), 1)) as s(r) ) as r          using ( nspname )        ) as sp     ON sp.nspoid = typnamespace  WHERE typname = 'int4'  ORDER BY sp.r, pg_type.oid DESC LIMIT 1;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_as_pgjdbc_and_psql_read_them() {
    let f = Fixture::start().await;
    let client = f.connect("tidewater").await;
    client
        .batch_execute(
            "CREATE TABLE keyed (a integer, b text, c bigint, PRIMARY KEY (c, a), UNIQUE (b))",
        )
        .await
        .expect("create keyed");
    // What Postgres 15 answers.
    assert_eq!(
        rows(&client, PGJDBC_GET_PRIMARY_KEYS).await,
        [
            "NULL|public|keyed|c|1|keyed_pkey",
            "NULL|public|keyed|a|2|keyed_pkey"
        ]
    );
    assert_eq!(
        rows(
            &client,
            &PGJDBC_GET_PRIMARY_KEYS.replace("'keyed'", "'orders'")
        )
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        rows(
            &client,
            &PGJDBC_GET_INDEX_INFO.replace("'orders'", "'keyed'")
        )
        .await,
        [
            "NULL|public|keyed|f|NULL|keyed_b_key|3|1|b|A|0|1|NULL",
            "NULL|public|keyed|f|NULL|keyed_pkey|3|1|c|A|0|1|NULL",
            "NULL|public|keyed|f|NULL|keyed_pkey|3|2|a|A|0|1|NULL",
        ]
    );
    assert_eq!(rows(&client, PGJDBC_TYPE_BY_NAME).await, ["23|int4"]);
    // psql's `\d keyed` footer:
    //     Indexes:
    //         "keyed_pkey" PRIMARY KEY, btree (c, a)
    //         "keyed_b_key" UNIQUE CONSTRAINT, btree (b)
    let oid = value(
        &client,
        "SELECT oid FROM pg_catalog.pg_class WHERE relname = 'keyed'",
    )
    .await;
    assert_eq!(
        rows(&client, &PSQL_D_TABLE_INDEXES.replace("{oid}", &oid)).await,
        [
            "keyed_pkey|t|t|f|t|CREATE UNIQUE INDEX keyed_pkey ON keyed USING btree (c, a)|PRIMARY KEY (c, a)|p|f|f|f|0",
            "keyed_b_key|f|t|f|t|CREATE UNIQUE INDEX keyed_b_key ON keyed USING btree (b)|UNIQUE (b)|u|f|f|f|0",
        ]
    );
    f.shutdown().await;
}
