//! System tables: `pg_catalog` and `information_schema`, generated from the
//! catalog for each statement that reads them.
//!
//! Every relation of Postgres 15's `pg_catalog` and `information_schema`
//! exists with Postgres's columns ([`defs`]); the ones that describe what
//! Tidewater has are filled from the catalog snapshot of the database the
//! statement runs in (namespaces, relations, attributes, types, databases,
//! functions, settings, roles, indexes, ...), the others are empty
//! (constraints, triggers, comments, statistics, ...). See [`builder`] for
//! the Arrow types that stand for Postgres's column types.
//!
//! Object ids: `pg_catalog` is 11, `information_schema` 13207, the system
//! relations and built-in types keep their Postgres OIDs, the one role is
//! 10, registered functions get OIDs from [`pg_catalog::FIRST_FUNCTION_OID`]
//! up (in name order), and databases, schemas, user relations and indexes
//! have the OIDs of the catalog (from 16384 up).
//!
//! Indexes (`CREATE INDEX`, recorded in the catalog but not used by scans)
//! show as Postgres 14 shows a plain btree index on columns: a `pg_class`
//! row of kind `i`, `pg_attribute` rows for its columns, a `pg_index` row,
//! a `pg_indexes` row, and `pg_get_indexdef` ([`lookups`]).
//!
//! `PRIMARY KEY` and `UNIQUE` constraints show as in Postgres: the unique
//! btree index made for each (named like the constraint; `indisunique`,
//! and `indisprimary` for the primary key), a `pg_constraint` row (`contype`
//! `p` or `u`, `conkey`, `conindid`), `pg_get_constraintdef`, and the
//! `information_schema` views `table_constraints`, `key_column_usage`,
//! `constraint_column_usage` and `constraint_table_usage`. NOT NULL columns
//! of tables show in `table_constraints` and `check_constraints` as the
//! `CHECK` constraints `<namespace oid>_<table oid>_<attnum>_not_null`,
//! as Postgres 15 lists them.

mod builder;
mod defs;
mod information_schema;
mod lookups;
mod pg_catalog;

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use tidewater_planner::QualifiedName;
use tidewater_runtime::functions::pg::catalog::SUPERUSER_NAME;
use tidewater_runtime::pgtypes::{
    INFORMATION_SCHEMA_NAMESPACE, PG_CATALOG_NAMESPACE, pg_type_of_field, quote_ident,
};

use super::{
    CatalogSnapshot, CatalogState, ConstraintKind, DatabaseDef, IndexConstraint, IndexDef,
    RelationDef, RelationKind,
};
use crate::config::Config;
use crate::session::settings::Settings;
use builder::{SystemKind, SystemRelation};

pub use lookups::catalog_functions;

/// The rows of a system table, if `name` is one.
///
/// `pg_settings` shows the defaults of a new session (with the default
/// query memory limit): the snapshot does not know the session's settings.
/// A caller that does should use [`system_table_with_settings`].
pub fn system_table(
    snapshot: &CatalogSnapshot,
    name: &QualifiedName,
) -> Option<(SchemaRef, RecordBatch)> {
    let settings = if name.schema == "pg_catalog" && name.name == "pg_settings" {
        Settings::new(SUPERUSER_NAME, Config::default().query_memory_limit_mb).all()
    } else {
        Vec::new()
    };
    system_table_with_settings(snapshot, name, &settings)
}

/// The rows of a system table, if `name` is one, with `settings` (name and
/// value, as `Settings::all` lists them) as the rows of `pg_settings`.
pub fn system_table_with_settings(
    snapshot: &CatalogSnapshot,
    name: &QualifiedName,
    settings: &[(String, String)],
) -> Option<(SchemaRef, RecordBatch)> {
    let relation = builder::system_relation(&name.schema, &name.name)?;
    let db = snapshot.state.databases.get(&name.database)?;
    let model = Model::new(&snapshot.state, &name.database, db);
    let rows = match relation.schema {
        "pg_catalog" => pg_catalog::rows(relation, &model, settings),
        _ => information_schema::rows(relation, &model),
    };
    let schema = Arc::clone(&relation.arrow_schema);
    let batch = match rows.finish() {
        Ok(batch) => batch,
        Err(e) => {
            tracing::error!(table = %name, error = %e, "cannot build system table");
            RecordBatch::new_empty(Arc::clone(&schema))
        }
    };
    Some((schema, batch))
}

/// The OID of a system relation (`pg_catalog.pg_class` is 1259), for
/// resolving `'pg_class'::regclass`.
pub fn system_relation_oid(schema: &str, name: &str) -> Option<u32> {
    builder::system_relation(schema, name).map(|r| r.oid)
}

/// A namespace as the system tables show it.
#[derive(Debug, Clone, Copy)]
struct Namespace<'a> {
    oid: u32,
    name: &'a str,
}

/// Where a relation's rows come from.
#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    /// A managed table (accepts `INSERT`).
    Managed,
    /// A table read through a connector.
    Connector,
    /// A view with its query.
    View(&'a str),
    /// A materialized view with its query.
    Materialized(&'a str),
    /// A system table or view.
    System(&'static SystemRelation),
}

/// A column as the system tables show it.
#[derive(Debug, Clone, Copy)]
struct Column<'a> {
    name: &'a str,
    type_oid: u32,
    typmod: i32,
    not_null: bool,
}

/// A table or view as the system tables show it.
#[derive(Debug, Clone)]
struct Relation<'a> {
    oid: u32,
    namespace: u32,
    schema: &'a str,
    name: &'a str,
    source: Source<'a>,
    columns: Vec<Column<'a>>,
}

impl Relation<'_> {
    /// `pg_class.relkind`.
    fn relkind(&self) -> char {
        match self.source {
            Source::View(_) => 'v',
            Source::Materialized(_) => 'm',
            Source::System(r) if r.kind == SystemKind::View => 'v',
            _ => 'r',
        }
    }

    fn is_system(&self) -> bool {
        matches!(self.source, Source::System(_))
    }

    /// Whether `INSERT` works on it.
    fn insertable(&self) -> bool {
        matches!(self.source, Source::Managed)
    }
}

/// A column of an index: the table's column and its attribute number in
/// the table.
#[derive(Debug, Clone, Copy)]
struct IndexColumn<'a> {
    /// `pg_index.indkey` entry (1-based position in the table).
    attnum: i16,
    column: Column<'a>,
}

/// An index as the system tables show it: a btree index on columns of a
/// table in its schema, not partial; unique when it was made for a
/// `PRIMARY KEY` or `UNIQUE` constraint.
#[derive(Debug, Clone)]
struct Index<'a> {
    oid: u32,
    namespace: u32,
    schema: &'a str,
    name: &'a str,
    /// OID of the indexed table.
    table_oid: u32,
    table: &'a str,
    columns: Vec<IndexColumn<'a>>,
    /// The constraint it was made for (named like the index).
    constraint: Option<IndexConstraint>,
}

/// What one database holds, as the system tables show it: its namespaces
/// (the system ones included), relations (the system ones included) and
/// indexes, ordered by OID.
#[derive(Debug)]
struct Model<'a> {
    state: &'a CatalogState,
    database: &'a str,
    namespaces: Vec<Namespace<'a>>,
    relations: Vec<Relation<'a>>,
    indexes: Vec<Index<'a>>,
}

impl<'a> Model<'a> {
    fn new(state: &'a CatalogState, database: &'a str, db: &'a DatabaseDef) -> Self {
        let mut namespaces = vec![
            Namespace {
                oid: PG_CATALOG_NAMESPACE,
                name: "pg_catalog",
            },
            Namespace {
                oid: INFORMATION_SCHEMA_NAMESPACE,
                name: "information_schema",
            },
        ];
        let mut relations: Vec<Relation<'a>> = builder::system_relations()
            .iter()
            .map(|r| Relation {
                oid: r.oid,
                namespace: if r.schema == "pg_catalog" {
                    PG_CATALOG_NAMESPACE
                } else {
                    INFORMATION_SCHEMA_NAMESPACE
                },
                schema: r.schema,
                name: r.name,
                source: Source::System(r),
                columns: r
                    .columns
                    .iter()
                    .map(|c| Column {
                        name: c.name,
                        type_oid: c.pg_type.oid,
                        typmod: -1,
                        not_null: c.not_null,
                    })
                    .collect(),
            })
            .collect();
        let mut indexes = Vec::new();
        for (schema_name, schema) in &db.schemas {
            namespaces.push(Namespace {
                oid: schema.oid,
                name: schema_name,
            });
            for (rel_name, rel) in &schema.relations {
                let source = match &rel.kind {
                    RelationKind::Managed { .. } => Source::Managed,
                    RelationKind::Connector { .. } => Source::Connector,
                    RelationKind::View { sql } => Source::View(sql),
                    RelationKind::MaterializedView { sql, .. } => Source::Materialized(sql),
                };
                let columns = columns_of(rel);
                relations.push(Relation {
                    oid: rel.oid,
                    namespace: schema.oid,
                    schema: schema_name,
                    name: rel_name,
                    source,
                    columns,
                });
            }
            for (index_name, index) in &schema.indexes {
                match Index::new(
                    schema_name,
                    schema.oid,
                    index_name,
                    index,
                    &schema.relations,
                ) {
                    Some(i) => indexes.push(i),
                    None => tracing::warn!(
                        schema = %schema_name,
                        index = %index_name,
                        table = %index.table,
                        "index of a missing table or column"
                    ),
                }
            }
        }
        namespaces.sort_by_key(|n| n.oid);
        relations.sort_by_key(|r| r.oid);
        indexes.sort_by_key(|i| i.oid);
        Self {
            state,
            database,
            namespaces,
            relations,
            indexes,
        }
    }

    /// Whether the relation has an index (`pg_class.relhasindex`).
    fn has_index(&self, relation: u32) -> bool {
        self.indexes.iter().any(|i| i.table_oid == relation)
    }

    /// The indexes made for constraints, with their constraint, in the
    /// order of the constraints' OIDs.
    fn key_constraints(&self) -> Vec<(&Index<'a>, IndexConstraint)> {
        let mut out: Vec<_> = self
            .indexes
            .iter()
            .filter_map(|i| i.constraint.map(|c| (i, c)))
            .collect();
        out.sort_by_key(|(_, c)| c.oid);
        out
    }
}

/// The columns of a user relation.
fn columns_of(rel: &RelationDef) -> Vec<Column<'_>> {
    rel.schema
        .fields()
        .iter()
        .map(|f| {
            let (type_oid, typmod) = pg_type_of_field(f);
            Column {
                name: f.name(),
                type_oid,
                typmod,
                not_null: !f.is_nullable(),
            }
        })
        .collect()
}

impl<'a> Index<'a> {
    /// What `pg_get_indexdef(oid)` answers: `CREATE INDEX name ON
    /// schema.table USING btree (col, ...)`. With `qualified_table` false
    /// the table is named without its schema (as the pretty form does for
    /// a table visible through the search path).
    fn definition(&self, qualified_table: bool) -> String {
        let table = if qualified_table {
            format!("{}.{}", quote_ident(self.schema), quote_ident(self.table))
        } else {
            quote_ident(self.table).into_owned()
        };
        format!(
            "CREATE {}INDEX {} ON {table} USING btree ({})",
            if self.constraint.is_some() {
                "UNIQUE "
            } else {
                ""
            },
            quote_ident(self.name),
            self.column_list()
        )
    }

    /// The quoted column names, separated by `, `.
    fn column_list(&self) -> String {
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|c| quote_ident(c.column.name).into_owned())
            .collect();
        columns.join(", ")
    }

    /// What `pg_get_constraintdef` answers for its constraint:
    /// `PRIMARY KEY (id)`, `UNIQUE (a, b)`.
    fn constraint_definition(&self) -> Option<String> {
        let kind = match self.constraint?.kind {
            ConstraintKind::PrimaryKey => "PRIMARY KEY",
            ConstraintKind::Unique => "UNIQUE",
        };
        Some(format!("{kind} ({})", self.column_list()))
    }

    /// The index `name` of `schema`; `None` when its table or one of its
    /// columns is missing.
    fn new(
        schema: &'a str,
        namespace: u32,
        name: &'a str,
        def: &'a IndexDef,
        relations: &'a std::collections::BTreeMap<String, RelationDef>,
    ) -> Option<Self> {
        let (table, rel) = relations.get_key_value(&def.table)?;
        let table_columns = columns_of(rel);
        let columns = def
            .columns
            .iter()
            .map(|c| {
                let i = table_columns.iter().position(|t| t.name == c.as_str())?;
                Some(IndexColumn {
                    attnum: i16::try_from(i + 1).ok()?,
                    column: table_columns[i],
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            oid: def.oid,
            namespace,
            schema,
            name,
            table_oid: rel.oid,
            table,
            columns,
            constraint: def.constraint,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Field, Int16Type, Schema};
    use tidewater_planner::CatalogView;

    use super::*;
    use crate::catalog::Catalog;

    struct Fixture {
        _dir: tempfile::TempDir,
        catalog: Arc<Catalog>,
    }

    /// A catalog with `public.orders` (managed), `public.v1` (view),
    /// `s2.events` (connector table) and a second database `other` with
    /// `public.t`.
    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Arc::new(
            Catalog::open(dir.path(), Arc::new(tidewater_connectors::registry())).unwrap(),
        );
        let orders = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("customer", DataType::Utf8, true),
            Field::new("amount", DataType::Decimal128(10, 2), true),
            Field::new(
                "ts",
                DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None),
                true,
            ),
            Field::new("note", DataType::Utf8, true).with_metadata(
                [(
                    tidewater_runtime::pgtypes::PG_TYPE_METADATA_KEY.to_string(),
                    "VARCHAR(10)".to_string(),
                )]
                .into(),
            ),
        ]));
        let name = |schema: &str, table: &str| QualifiedName::new("tidewater", schema, table);
        catalog
            .create_relation(
                &name("public", "orders"),
                RelationKind::Managed { dir: String::new() },
                orders,
                false,
                false,
            )
            .unwrap();
        let v1 = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        catalog
            .create_relation(
                &name("public", "v1"),
                RelationKind::View {
                    sql: "SELECT id FROM orders".into(),
                },
                v1,
                false,
                false,
            )
            .unwrap();
        catalog.create_schema("tidewater", "s2", false).unwrap();
        let events = Arc::new(Schema::new(vec![Field::new(
            "payload",
            DataType::Utf8,
            true,
        )]));
        catalog
            .create_relation(
                &name("s2", "events"),
                RelationKind::Connector {
                    connector: "file".into(),
                    options: BTreeMap::new(),
                },
                events,
                false,
                false,
            )
            .unwrap();
        catalog.create_database("other", false).unwrap();
        let t = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, true)]));
        catalog
            .create_relation(
                &QualifiedName::new("other", "public", "t"),
                RelationKind::Managed { dir: String::new() },
                t,
                false,
                false,
            )
            .unwrap();
        Fixture { _dir: dir, catalog }
    }

    fn table(f: &Fixture, database: &str, schema: &str, name: &str) -> RecordBatch {
        let snapshot = f.catalog.snapshot();
        let (schema_ref, batch) =
            system_table(&snapshot, &QualifiedName::new(database, schema, name)).unwrap();
        assert_eq!(schema_ref, batch.schema());
        batch
    }

    fn text_column(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
        let c = arrow::compute::cast(batch.column_by_name(name).unwrap(), &DataType::Utf8).unwrap();
        c.as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect()
    }

    /// Rows as `column=value` strings for the given columns, where `pick` holds.
    fn rows_where(
        batch: &RecordBatch,
        columns: &[&str],
        pick: impl Fn(&[Option<String>]) -> bool,
    ) -> Vec<String> {
        let values: Vec<Vec<Option<String>>> =
            columns.iter().map(|c| text_column(batch, c)).collect();
        (0..batch.num_rows())
            .map(|r| values.iter().map(|v| v[r].clone()).collect::<Vec<_>>())
            .filter(|row| pick(row))
            .map(|row| {
                row.iter()
                    .map(|v| v.clone().unwrap_or_else(|| "NULL".into()))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    }

    #[test]
    fn namespaces_and_classes() {
        let f = fixture();
        let state = f.catalog.state();
        let public_oid = state.databases["tidewater"].schemas["public"].oid;
        let s2_oid = state.databases["tidewater"].schemas["s2"].oid;
        let ns = table(&f, "tidewater", "pg_catalog", "pg_namespace");
        assert_eq!(
            rows_where(&ns, &["oid", "nspname"], |_| true),
            vec![
                "11|pg_catalog".to_string(),
                "13207|information_schema".to_string(),
                format!("{public_oid}|public"),
                format!("{s2_oid}|s2"),
            ]
        );
        let class = table(&f, "tidewater", "pg_catalog", "pg_class");
        let user = rows_where(
            &class,
            &["relname", "relnamespace", "relkind", "relnatts", "relowner"],
            |r| r[1].as_deref() != Some("11") && r[1].as_deref() != Some("13207"),
        );
        assert_eq!(
            user,
            vec![
                format!("orders|{public_oid}|r|5|10"),
                format!("v1|{public_oid}|v|1|10"),
                format!("events|{s2_oid}|r|1|10"),
            ]
        );
        let system = rows_where(&class, &["oid", "relname", "relkind"], |r| {
            matches!(r[1].as_deref(), Some("pg_class" | "pg_tables" | "columns"))
        });
        assert_eq!(
            system,
            ["1259|pg_class|r", "12033|pg_tables|v", "13295|columns|v"]
        );
        // The other database shows its own relations only.
        let other = table(&f, "other", "pg_catalog", "pg_class");
        let names = text_column(&other, "relname");
        assert!(names.contains(&Some("t".into())) && !names.contains(&Some("orders".into())));
    }

    #[test]
    fn attributes_carry_postgres_types() {
        let f = fixture();
        let orders_oid = f
            .catalog
            .state()
            .relation(&QualifiedName::new("tidewater", "public", "orders"))
            .unwrap()
            .oid;
        let attrs = table(&f, "tidewater", "pg_catalog", "pg_attribute");
        let rows = rows_where(
            &attrs,
            &[
                "attname",
                "atttypid",
                "atttypmod",
                "attnum",
                "attnotnull",
                "attlen",
            ],
            |_| true,
        );
        let relids = text_column(&attrs, "attrelid");
        let orders: Vec<&String> = rows
            .iter()
            .zip(&relids)
            .filter(|(_, id)| id.as_deref() == Some(orders_oid.to_string().as_str()))
            .map(|(r, _)| r)
            .collect();
        assert_eq!(
            orders,
            vec![
                "id|20|-1|1|true|8",
                "customer|25|-1|2|false|-1",
                "amount|1700|655366|3|false|-1",
                "ts|1114|-1|4|false|8",
                "note|1043|14|5|false|-1",
            ]
        );
        assert_eq!(
            attrs.column_by_name("attnum").unwrap().data_type(),
            &DataType::Int16
        );
        assert!(
            attrs
                .column_by_name("attnum")
                .unwrap()
                .as_primitive::<Int16Type>()
                .values()
                .iter()
                .all(|n| *n > 0)
        );
    }

    #[test]
    fn information_schema_describes_tables_and_columns() {
        let f = fixture();
        let tables = table(&f, "tidewater", "information_schema", "tables");
        let user = rows_where(
            &tables,
            &[
                "table_catalog",
                "table_schema",
                "table_name",
                "table_type",
                "is_insertable_into",
            ],
            |r| !matches!(r[1].as_deref(), Some("pg_catalog" | "information_schema")),
        );
        assert_eq!(
            user,
            vec![
                "tidewater|public|orders|BASE TABLE|YES",
                "tidewater|public|v1|VIEW|NO",
                "tidewater|s2|events|BASE TABLE|NO",
            ]
        );
        let columns = table(&f, "tidewater", "information_schema", "columns");
        let orders = rows_where(
            &columns,
            &[
                "table_name",
                "column_name",
                "ordinal_position",
                "is_nullable",
                "data_type",
                "numeric_precision",
                "numeric_scale",
                "character_octet_length",
                "datetime_precision",
                "udt_name",
            ],
            |r| r[0].as_deref() == Some("orders"),
        );
        assert_eq!(
            orders,
            vec![
                "orders|id|1|NO|bigint|64|0|NULL|NULL|int8",
                "orders|customer|2|YES|text|NULL|NULL|1073741824|NULL|text",
                "orders|amount|3|YES|numeric|10|2|NULL|NULL|numeric",
                "orders|ts|4|YES|timestamp without time zone|NULL|NULL|NULL|6|timestamp",
                "orders|note|5|YES|character varying|NULL|NULL|40|NULL|varchar",
            ]
        );
        // System columns use information_schema domains, described by their base type.
        let domain = rows_where(
            &columns,
            &[
                "table_name",
                "column_name",
                "data_type",
                "domain_name",
                "udt_name",
            ],
            |r| r[0].as_deref() == Some("schemata") && r[1].as_deref() == Some("schema_name"),
        );
        assert_eq!(
            domain,
            vec!["schemata|schema_name|name|sql_identifier|name"]
        );
        assert_eq!(
            columns
                .column_by_name("ordinal_position")
                .unwrap()
                .data_type(),
            &DataType::Int32
        );
        let schemata = table(&f, "other", "information_schema", "schemata");
        assert_eq!(
            rows_where(&schemata, &["catalog_name", "schema_name"], |_| true),
            vec![
                "other|pg_catalog",
                "other|information_schema",
                "other|public"
            ]
        );
    }

    #[test]
    fn types_databases_settings_and_functions() {
        let f = fixture();
        let types = table(&f, "tidewater", "pg_catalog", "pg_type");
        let int8 = rows_where(
            &types,
            &[
                "oid",
                "typname",
                "typlen",
                "typtype",
                "typcategory",
                "typarray",
                "typinput",
                "typnamespace",
            ],
            |r| r[1].as_deref() == Some("int8"),
        );
        assert_eq!(int8, vec!["20|int8|8|b|N|1016|int8in|11"]);
        let dbs = table(&f, "tidewater", "pg_catalog", "pg_database");
        assert_eq!(
            rows_where(&dbs, &["datname", "datdba", "encoding"], |_| true),
            vec!["other|10|6", "tidewater|10|6"]
        );
        let settings = table(&f, "tidewater", "pg_catalog", "pg_settings");
        let tz = rows_where(&settings, &["name", "setting", "context", "vartype"], |r| {
            r[0].as_deref() == Some("TimeZone")
        });
        assert_eq!(tz, vec!["TimeZone|UTC|user|string"]);
        assert!(
            text_column(&settings, "name")
                .iter()
                .all(|n| n.as_deref() != Some("session_authorization"))
        );
        let procs = table(&f, "tidewater", "pg_catalog", "pg_proc");
        let names = text_column(&procs, "proname");
        for name in ["format_type", "sum", "row_number", "version"] {
            assert!(
                names.contains(&Some(name.to_string())),
                "{name} missing from pg_proc"
            );
        }
        let kinds = rows_where(&procs, &["proname", "prokind"], |r| {
            matches!(r[0].as_deref(), Some("sum" | "row_number" | "upper"))
        });
        assert_eq!(kinds, vec!["row_number|w", "sum|a", "upper|f"]);
        let roles = table(&f, "tidewater", "pg_catalog", "pg_roles");
        assert_eq!(
            rows_where(&roles, &["oid", "rolname", "rolsuper"], |_| true),
            vec!["10|tidewater|true"]
        );
        // Relations Tidewater has nothing for exist, empty.
        assert_eq!(
            table(&f, "tidewater", "pg_catalog", "pg_constraint").num_rows(),
            0
        );
        // No index, no pg_index rows.
        assert_eq!(
            table(&f, "tidewater", "pg_catalog", "pg_index").num_rows(),
            0
        );
        assert!(
            system_table(
                &f.catalog.snapshot(),
                &QualifiedName::new("tidewater", "pg_catalog", "nope")
            )
            .is_none()
        );
        assert!(
            system_table(
                &f.catalog.snapshot(),
                &QualifiedName::new("nodb", "pg_catalog", "pg_class")
            )
            .is_none()
        );
        // Through the planner's view of the catalog.
        let entry = f
            .catalog
            .snapshot()
            .table(&QualifiedName::new("tidewater", "pg_catalog", "pg_am"))
            .unwrap();
        assert_eq!(entry.schema.field(0).name(), "oid");
    }

    #[test]
    fn indexes_show_like_postgres() {
        let f = fixture();
        let orders = QualifiedName::new("tidewater", "public", "orders");
        let events = QualifiedName::new("tidewater", "s2", "events");
        let created = f
            .catalog
            .create_index(&orders, None, &["id".into()], false)
            .unwrap();
        assert_eq!(created.as_deref(), Some("orders_id_idx"));
        f.catalog
            .create_index(
                &orders,
                Some("Orders By Note"),
                &["note".into(), "customer".into(), "amount".into()],
                false,
            )
            .unwrap();
        f.catalog
            .create_index(&events, Some("ev"), &["payload".into()], false)
            .unwrap();
        let state = f.catalog.state();
        let oid_of = |schema: &str, name: &str| -> String {
            let s = &state.databases["tidewater"].schemas[schema];
            s.relations
                .get(name)
                .map(|r| r.oid)
                .or_else(|| s.indexes.get(name).map(|i| i.oid))
                .unwrap()
                .to_string()
        };
        let public = state.databases["tidewater"].schemas["public"].oid;
        let s2 = state.databases["tidewater"].schemas["s2"].oid;
        let (orders_oid, id_idx, note_idx, ev) = (
            oid_of("public", "orders"),
            oid_of("public", "orders_id_idx"),
            oid_of("public", "Orders By Note"),
            oid_of("s2", "ev"),
        );

        let class = table(&f, "tidewater", "pg_catalog", "pg_class");
        let columns = [
            "oid",
            "relname",
            "relnamespace",
            "relkind",
            "relam",
            "relnatts",
            "relhasindex",
            "relpages",
            "reltuples",
            "relreplident",
            "reltype",
        ];
        let user = |r: &[Option<String>]| !matches!(r[2].as_deref(), Some("11" | "13207"));
        assert_eq!(
            rows_where(&class, &columns, user),
            vec![
                format!("{orders_oid}|orders|{public}|r|2|5|true|0|-1.0|d|0"),
                format!(
                    "{}|v1|{public}|v|0|1|false|0|-1.0|n|0",
                    oid_of("public", "v1")
                ),
                format!(
                    "{}|events|{s2}|r|2|1|true|0|-1.0|d|0",
                    oid_of("s2", "events")
                ),
                format!("{id_idx}|orders_id_idx|{public}|i|403|1|false|1|0.0|n|0"),
                format!("{note_idx}|Orders By Note|{public}|i|403|3|false|1|0.0|n|0"),
                format!("{ev}|ev|{s2}|i|403|1|false|1|0.0|n|0"),
            ]
        );

        let index = table(&f, "tidewater", "pg_catalog", "pg_index");
        let keys = |name: &str| -> Vec<String> {
            let column = index.column_by_name(name).unwrap().as_list::<i32>();
            (0..index.num_rows())
                .map(|r| {
                    let values = arrow::compute::cast(&column.value(r), &DataType::Utf8).unwrap();
                    values
                        .as_string::<i32>()
                        .iter()
                        .map(|v| v.unwrap_or("NULL").to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect()
        };
        assert_eq!(keys("indkey"), ["1", "5 2 3", "1"]);
        assert_eq!(keys("indcollation"), ["0", "100 100 0", "100"]);
        assert_eq!(keys("indclass"), ["3124", "3126 3126 3125", "3126"]);
        assert_eq!(keys("indoption"), ["0", "0 0 0", "0"]);
        assert_eq!(
            rows_where(
                &index,
                &[
                    "indexrelid",
                    "indrelid",
                    "indnatts",
                    "indnkeyatts",
                    "indisunique",
                    "indisprimary",
                    "indisexclusion",
                    "indimmediate",
                    "indisclustered",
                    "indisvalid",
                    "indcheckxmin",
                    "indisready",
                    "indislive",
                    "indisreplident",
                    "indexprs",
                    "indpred",
                ],
                |_| true,
            ),
            vec![
                format!(
                    "{id_idx}|{orders_oid}|1|1|false|false|false|true|false|true|false|true|true|false|NULL|NULL"
                ),
                format!(
                    "{note_idx}|{orders_oid}|3|3|false|false|false|true|false|true|false|true|true|false|NULL|NULL"
                ),
                format!(
                    "{ev}|{}|1|1|false|false|false|true|false|true|false|true|true|false|NULL|NULL",
                    oid_of("s2", "events")
                ),
            ]
        );

        // Index columns: the table's columns, never NOT NULL.
        let attrs = table(&f, "tidewater", "pg_catalog", "pg_attribute");
        assert_eq!(
            rows_where(
                &attrs,
                &[
                    "attrelid",
                    "attname",
                    "atttypid",
                    "atttypmod",
                    "attnum",
                    "attnotnull",
                    "attcollation"
                ],
                |r| r[0].as_deref() == Some(id_idx.as_str())
                    || r[0].as_deref() == Some(note_idx.as_str()),
            ),
            vec![
                format!("{id_idx}|id|20|-1|1|false|0"),
                format!("{note_idx}|note|1043|14|1|false|100"),
                format!("{note_idx}|customer|25|-1|2|false|100"),
                format!("{note_idx}|amount|1700|655366|3|false|0"),
            ]
        );

        let indexes = table(&f, "tidewater", "pg_catalog", "pg_indexes");
        assert_eq!(
            rows_where(
                &indexes,
                &[
                    "schemaname",
                    "tablename",
                    "indexname",
                    "tablespace",
                    "indexdef"
                ],
                |_| true
            ),
            [
                "public|orders|orders_id_idx|NULL|CREATE INDEX orders_id_idx ON public.orders USING btree (id)",
                "public|orders|Orders By Note|NULL|CREATE INDEX \"Orders By Note\" ON public.orders USING btree (note, customer, amount)",
                "s2|events|ev|NULL|CREATE INDEX ev ON s2.events USING btree (payload)",
            ]
        );
        let tables = table(&f, "tidewater", "pg_catalog", "pg_tables");
        assert_eq!(
            rows_where(&tables, &["tablename", "hasindexes"], |r| {
                matches!(r[0].as_deref(), Some("orders" | "events"))
            }),
            ["orders|true", "events|true"]
        );
        // Operator classes named by indclass exist.
        let opclass = table(&f, "tidewater", "pg_catalog", "pg_opclass");
        assert_eq!(
            rows_where(
                &opclass,
                &["oid", "opcname", "opcmethod", "opcfamily", "opcintype"],
                |r| { matches!(r[0].as_deref(), Some("3124" | "3126")) }
            ),
            ["3124|int8_ops|403|1976|20", "3126|text_ops|403|1994|25"]
        );
        let opfamily = table(&f, "tidewater", "pg_catalog", "pg_opfamily");
        assert!(
            rows_where(&opfamily, &["oid", "opfname"], |_| true)
                .contains(&"1976|integer_ops".to_string())
        );
        // The other database has none; no information_schema view lists them.
        assert_eq!(table(&f, "other", "pg_catalog", "pg_index").num_rows(), 0);
        let other = table(&f, "other", "pg_catalog", "pg_class");
        assert!(!text_column(&other, "relkind").contains(&Some("i".into())));
        let is_tables = table(&f, "tidewater", "information_schema", "tables");
        assert!(!text_column(&is_tables, "table_name").contains(&Some("ev".into())));

        // Dropping the index, then the table, removes them.
        f.catalog
            .drop_index(&QualifiedName::new("tidewater", "s2", "ev"), false)
            .unwrap();
        f.catalog
            .drop_relation(&orders, crate::catalog::RelationClass::Table, false)
            .unwrap();
        assert_eq!(
            table(&f, "tidewater", "pg_catalog", "pg_index").num_rows(),
            0
        );
        assert_eq!(
            table(&f, "tidewater", "pg_catalog", "pg_indexes").num_rows(),
            0
        );
        let class = table(&f, "tidewater", "pg_catalog", "pg_class");
        assert!(!text_column(&class, "relkind").contains(&Some("i".into())));
    }

    #[test]
    fn index_definitions_follow_the_search_path() {
        use datafusion_common::ScalarValue;
        use datafusion_common::config::ConfigOptions;
        use datafusion_expr::{ColumnarValue, ScalarFunctionArgs};

        let f = fixture();
        let events = QualifiedName::new("tidewater", "s2", "events");
        f.catalog
            .create_index(&events, Some("Ev"), &["payload".into()], false)
            .unwrap();
        let index = f.catalog.state().databases["tidewater"].schemas["s2"].indexes["Ev"].oid;
        let call = |path: &[&str], function: &str, args: Vec<ScalarValue>| -> ScalarValue {
            let path: Vec<String> = path.iter().map(|s| (*s).to_string()).collect();
            let fns = catalog_functions(&f.catalog.snapshot(), "tidewater", &path);
            let udf = fns.iter().find(|u| u.name() == function).unwrap();
            let types: Vec<DataType> = args.iter().map(ScalarValue::data_type).collect();
            let types = udf.coerce_types(&types).unwrap();
            let args: Vec<ColumnarValue> = args
                .into_iter()
                .zip(&types)
                .map(|(a, t)| ColumnarValue::Scalar(a.cast_to(t).unwrap()))
                .collect();
            let return_type = udf.return_type(&types).unwrap();
            let out = udf
                .invoke_with_args(ScalarFunctionArgs {
                    args,
                    arg_fields: types
                        .iter()
                        .map(|t| Arc::new(Field::new("a", t.clone(), true)))
                        .collect(),
                    number_rows: 1,
                    return_field: Arc::new(Field::new("r", return_type, true)),
                    config_options: Arc::new(ConfigOptions::default()),
                })
                .unwrap();
            match out {
                ColumnarValue::Scalar(s) => s,
                ColumnarValue::Array(a) => ScalarValue::try_from_array(&a, 0).unwrap(),
            }
        };
        let oid = ScalarValue::Int64(Some(i64::from(index)));
        let text = |s: &str| ScalarValue::Utf8(Some(s.to_string()));
        let qualified = text("CREATE INDEX \"Ev\" ON s2.events USING btree (payload)");
        let bare = text("CREATE INDEX \"Ev\" ON events USING btree (payload)");
        let pretty = |column: i64| {
            vec![
                oid.clone(),
                ScalarValue::Int64(Some(column)),
                ScalarValue::Boolean(Some(true)),
            ]
        };
        assert_eq!(
            call(&["public"], "pg_get_indexdef", vec![oid.clone()]),
            qualified
        );
        assert_eq!(call(&["public"], "pg_get_indexdef", pretty(0)), qualified);
        assert_eq!(call(&["public", "s2"], "pg_get_indexdef", pretty(0)), bare);
        assert_eq!(
            call(&["public", "s2"], "pg_get_indexdef", vec![oid.clone()]),
            qualified
        );
        assert_eq!(
            call(&["public"], "pg_get_indexdef", pretty(1)),
            text("payload")
        );
        assert_eq!(call(&["public"], "pg_get_indexdef", pretty(2)), text(""));
        // Indexes are relations for visibility and regclass.
        assert_eq!(
            call(&["public"], "pg_table_is_visible", vec![oid.clone()]),
            ScalarValue::Boolean(Some(false))
        );
        assert_eq!(
            call(&["public", "s2"], "pg_table_is_visible", vec![oid.clone()]),
            ScalarValue::Boolean(Some(true))
        );
        assert_eq!(
            call(&["public"], "regclass_name", vec![oid.clone()]),
            text("s2.\"Ev\"")
        );
        assert_eq!(
            call(&["public"], "to_regclass", vec![text("s2.\"Ev\"")]),
            ScalarValue::Int32(Some(i32::try_from(index).unwrap()))
        );
        assert_eq!(
            call(&["public"], "to_regclass", vec![text("ev")]),
            ScalarValue::Int32(None)
        );
    }

    #[test]
    fn catalog_functions_follow_the_search_path() {
        use datafusion_common::ScalarValue;
        use datafusion_common::config::ConfigOptions;
        use datafusion_expr::{ColumnarValue, ScalarFunctionArgs};

        let f = fixture();
        let state = f.catalog.state();
        let oid_of = |schema: &str, name: &str| {
            state
                .relation(&QualifiedName::new("tidewater", schema, name))
                .unwrap()
                .oid
        };
        let call = |path: &[&str], function: &str, arg: ScalarValue| -> ScalarValue {
            let path: Vec<String> = path.iter().map(|s| (*s).to_string()).collect();
            let fns = catalog_functions(&f.catalog.snapshot(), "tidewater", &path);
            let udf = fns.iter().find(|u| u.name() == function).unwrap();
            let arg_type = udf.coerce_types(&[arg.data_type()]).unwrap().remove(0);
            let arg = arg.cast_to(&arg_type).unwrap();
            let return_type = udf.return_type(std::slice::from_ref(&arg_type)).unwrap();
            let out = udf
                .invoke_with_args(ScalarFunctionArgs {
                    args: vec![ColumnarValue::Scalar(arg)],
                    arg_fields: vec![Arc::new(Field::new("a", arg_type, true))],
                    number_rows: 1,
                    return_field: Arc::new(Field::new("r", return_type, true)),
                    config_options: Arc::new(ConfigOptions::default()),
                })
                .unwrap();
            match out {
                ColumnarValue::Scalar(s) => s,
                ColumnarValue::Array(a) => ScalarValue::try_from_array(&a, 0).unwrap(),
            }
        };
        let oid = |o: u32| ScalarValue::Int64(Some(i64::from(o)));
        let events = oid_of("s2", "events");
        let orders = oid_of("public", "orders");
        assert_eq!(
            call(&["public"], "pg_table_is_visible", oid(orders)),
            ScalarValue::Boolean(Some(true))
        );
        assert_eq!(
            call(&["public"], "pg_table_is_visible", oid(events)),
            ScalarValue::Boolean(Some(false))
        );
        assert_eq!(
            call(&["public", "s2"], "pg_table_is_visible", oid(events)),
            ScalarValue::Boolean(Some(true))
        );
        assert_eq!(
            call(&["public"], "pg_table_is_visible", oid(1259)),
            ScalarValue::Boolean(Some(true))
        );
        assert_eq!(
            call(&["public"], "regclass_name", oid(events)),
            ScalarValue::Utf8(Some("s2.events".into()))
        );
        assert_eq!(
            call(&["public"], "regclass_name", oid(orders)),
            ScalarValue::Utf8(Some("orders".into()))
        );
        let name = |s: &str| ScalarValue::Utf8(Some(s.to_string()));
        let as_i32 = |o: u32| ScalarValue::Int32(Some(i32::try_from(o).unwrap()));
        assert_eq!(
            call(&["public"], "to_regclass", name("Orders")),
            as_i32(orders)
        );
        assert_eq!(
            call(&["public"], "to_regclass", name("events")),
            ScalarValue::Int32(None)
        );
        assert_eq!(
            call(&["public"], "to_regclass", name("s2.events")),
            as_i32(events)
        );
        assert_eq!(
            call(&["public"], "to_regclass", name("pg_class")),
            as_i32(1259)
        );
        let v1 = oid_of("public", "v1");
        assert_eq!(
            call(&["public"], "pg_get_viewdef", oid(v1)),
            ScalarValue::Utf8(Some("SELECT id FROM orders".into()))
        );
        assert_eq!(
            call(&["public"], "to_regnamespace", name("pg_catalog")),
            ScalarValue::Int32(Some(11))
        );
    }
}
