//! Rows of the `pg_catalog` relations that describe what Tidewater has.
//! Relations not filled here (triggers, comments, statistics, ...) have no
//! rows; `pg_constraint` has the `PRIMARY KEY` and `UNIQUE` constraints.

use datafusion_expr::Volatility;
use tidewater_runtime::functions::FunctionRegistry;
use tidewater_runtime::functions::pg::catalog::{SUPERUSER_NAME, SUPERUSER_OID, UTF8_ENCODING};
use tidewater_runtime::pgtypes::{
    DEFAULT_COLLATION_OID, PG_CATALOG_NAMESPACE, oid, pg_type, pg_types,
};
use tidewater_runtime::settings::setting;

use super::builder::{Rows, SystemRelation, Value};
use super::{Column, ConstraintKind, Index, Model, Relation};

/// OID of the first registered function in `pg_proc`; functions are
/// numbered in name order up to [`LAST_FUNCTION_OID`].
pub(super) const FIRST_FUNCTION_OID: u32 = 14000;
/// Last OID given to a function (user objects start at 16384).
const LAST_FUNCTION_OID: u32 = 16383;
/// `pg_tablespace` OID of `pg_default`.
const DEFAULT_TABLESPACE_OID: u32 = 1663;
/// `pg_am` OID of `heap`, the access method of tables.
const HEAP_AM_OID: u32 = 2;
/// `pg_am` OID of `btree`, the access method of indexes.
const BTREE_AM_OID: u32 = 403;
/// `pg_type` OID of `cstring`, the key type of `name_ops`.
const CSTRING_TYPE_OID: u32 = 2275;
/// The default btree operator classes of Postgres 15: `(oid, opcname,
/// opcfamily, opfname, opcintype, opckeytype)`. The OIDs below 10000 are
/// fixed in Postgres's sources; the others are assigned when the catalog is
/// bootstrapped (these are Postgres 15's).
const BTREE_OPCLASSES: &[(u32, &str, u32, &str, u32, u32)] = &[
    (1978, "int4_ops", 1976, "integer_ops", 23, 0),
    (1979, "int2_ops", 1976, "integer_ops", 21, 0),
    (1981, "oid_ops", 1989, "oid_ops", 26, 0),
    (3122, "date_ops", 434, "datetime_ops", 1082, 0),
    (3123, "float8_ops", 1970, "float_ops", 701, 0),
    (3124, "int8_ops", 1976, "integer_ops", 20, 0),
    (3125, "numeric_ops", 1988, "numeric_ops", 1700, 0),
    (3126, "text_ops", 1994, "text_ops", 25, 0),
    (3127, "timestamptz_ops", 434, "datetime_ops", 1184, 0),
    (3128, "timestamp_ops", 434, "datetime_ops", 1114, 0),
    (10000, "array_ops", 397, "array_ops", 2277, 0),
    (10002, "bit_ops", 423, "bit_ops", 1560, 0),
    (10003, "bool_ops", 424, "bool_ops", 16, 0),
    (10004, "bpchar_ops", 426, "bpchar_ops", 1042, 0),
    (10006, "bytea_ops", 428, "bytea_ops", 17, 0),
    (10007, "char_ops", 429, "char_ops", 18, 0),
    (10012, "float4_ops", 1970, "float_ops", 700, 0),
    (10015, "inet_ops", 1974, "network_ops", 869, 0),
    (10022, "interval_ops", 1982, "interval_ops", 1186, 0),
    (10024, "macaddr_ops", 1984, "macaddr_ops", 829, 0),
    (10026, "macaddr8_ops", 3371, "macaddr8_ops", 774, 0),
    (10028, "name_ops", 1994, "text_ops", 19, CSTRING_TYPE_OID),
    (10032, "oidvector_ops", 1991, "oidvector_ops", 30, 0),
    (10034, "record_ops", 2994, "record_ops", 2249, 0),
    (10038, "time_ops", 1996, "time_ops", 1083, 0),
    (10041, "timetz_ops", 2000, "timetz_ops", 1266, 0),
    (10043, "varbit_ops", 2002, "varbit_ops", 1562, 0),
    (10047, "money_ops", 2099, "money_ops", 790, 0),
    (10050, "tid_ops", 2789, "tid_ops", 27, 0),
    (10053, "xid8_ops", 5067, "xid8_ops", 5069, 0),
    (10065, "uuid_ops", 2968, "uuid_ops", 2950, 0),
    (10067, "pg_lsn_ops", 3253, "pg_lsn_ops", 3220, 0),
    (10069, "enum_ops", 3522, "enum_ops", 3500, 0),
    (10071, "tsvector_ops", 3626, "tsvector_ops", 3614, 0),
    (10074, "tsquery_ops", 3683, "tsquery_ops", 3615, 0),
    (10076, "range_ops", 3901, "range_ops", 3831, 0),
    (10080, "multirange_ops", 4199, "multirange_ops", 4537, 0),
    (10088, "jsonb_ops", 4033, "jsonb_ops", 3802, 0),
];
/// `pg_language` OID of `internal`.
const INTERNAL_LANGUAGE_OID: u32 = 12;
/// Functions the planner provides per session (`planner::context`), which
/// the function registry does not list.
const SESSION_FUNCTIONS: &[&str] = &[
    "current_catalog",
    "current_database",
    "current_role",
    "current_schema",
    "current_schemas",
    "current_user",
    "inet_server_port",
    "pg_backend_pid",
    "session_user",
    "user",
    "version",
];

/// The rows of `relation` (a `pg_catalog` relation).
pub(super) fn rows(
    relation: &'static SystemRelation,
    model: &Model<'_>,
    settings: &[(String, String)],
) -> Rows {
    let mut rows = Rows::new(relation);
    match relation.name {
        "pg_namespace" => namespaces(&mut rows, model),
        "pg_class" => classes(&mut rows, model),
        "pg_attribute" => attributes(&mut rows, model),
        "pg_type" => types(&mut rows),
        "pg_database" => databases(&mut rows, model),
        "pg_proc" => functions(&mut rows),
        "pg_settings" => settings_rows(&mut rows, settings),
        "pg_roles" | "pg_authid" => roles(&mut rows),
        "pg_user" | "pg_shadow" => users(&mut rows),
        "pg_tables" => tables(&mut rows, model),
        "pg_views" => views(&mut rows, model),
        "pg_am" => access_methods(&mut rows),
        "pg_index" => index_rows(&mut rows, model),
        "pg_constraint" => constraints(&mut rows, model),
        "pg_indexes" => indexes_view(&mut rows, model),
        "pg_opclass" => operator_classes(&mut rows),
        "pg_opfamily" => operator_families(&mut rows),
        "pg_language" => languages(&mut rows),
        "pg_collation" => collations(&mut rows),
        "pg_tablespace" => tablespaces(&mut rows),
        _ => {}
    }
    rows
}

fn namespaces(rows: &mut Rows, model: &Model<'_>) {
    for n in &model.namespaces {
        rows.push(vec![
            ("oid", n.oid.into()),
            ("nspname", n.name.into()),
            ("nspowner", SUPERUSER_OID.into()),
        ]);
    }
}

fn classes(rows: &mut Rows, model: &Model<'_>) {
    for r in &model.relations {
        let kind = r.relkind();
        let table = kind == 'r';
        rows.push(vec![
            ("oid", r.oid.into()),
            ("relname", r.name.into()),
            ("relnamespace", r.namespace.into()),
            ("reltype", 0u32.into()),
            ("reloftype", 0u32.into()),
            ("relowner", SUPERUSER_OID.into()),
            ("relam", if table { HEAP_AM_OID } else { 0 }.into()),
            ("relfilenode", if table { r.oid } else { 0 }.into()),
            ("reltablespace", 0u32.into()),
            ("relpages", 0i32.into()),
            ("reltuples", (-1.0).into()),
            ("relallvisible", 0i32.into()),
            ("reltoastrelid", 0u32.into()),
            ("relhasindex", model.has_index(r.oid).into()),
            ("relisshared", false.into()),
            ("relpersistence", 'p'.into()),
            ("relkind", kind.into()),
            ("relnatts", r.columns.len().into()),
            ("relchecks", 0i16.into()),
            ("relhasrules", false.into()),
            ("relhastriggers", false.into()),
            ("relhassubclass", false.into()),
            ("relrowsecurity", false.into()),
            ("relforcerowsecurity", false.into()),
            ("relispopulated", true.into()),
            (
                "relreplident",
                if table && !r.is_system() { 'd' } else { 'n' }.into(),
            ),
            ("relispartition", false.into()),
            ("relrewrite", 0u32.into()),
            ("relfrozenxid", 0u32.into()),
            ("relminmxid", 0u32.into()),
        ]);
    }
    for i in &model.indexes {
        rows.push(vec![
            ("oid", i.oid.into()),
            ("relname", i.name.into()),
            ("relnamespace", i.namespace.into()),
            ("reltype", 0u32.into()),
            ("reloftype", 0u32.into()),
            ("relowner", SUPERUSER_OID.into()),
            ("relam", BTREE_AM_OID.into()),
            ("relfilenode", i.oid.into()),
            ("reltablespace", 0u32.into()),
            // A freshly built btree index: its metapage, no tuples.
            ("relpages", 1i32.into()),
            ("reltuples", 0.0.into()),
            ("relallvisible", 0i32.into()),
            ("reltoastrelid", 0u32.into()),
            ("relhasindex", false.into()),
            ("relisshared", false.into()),
            ("relpersistence", 'p'.into()),
            ("relkind", 'i'.into()),
            ("relnatts", i.columns.len().into()),
            ("relchecks", 0i16.into()),
            ("relhasrules", false.into()),
            ("relhastriggers", false.into()),
            ("relhassubclass", false.into()),
            ("relrowsecurity", false.into()),
            ("relforcerowsecurity", false.into()),
            ("relispopulated", true.into()),
            ("relreplident", 'n'.into()),
            ("relispartition", false.into()),
            ("relrewrite", 0u32.into()),
            ("relfrozenxid", 0u32.into()),
            ("relminmxid", 0u32.into()),
        ]);
    }
}

fn attributes(rows: &mut Rows, model: &Model<'_>) {
    for r in &model.relations {
        attributes_of(rows, r);
    }
    for i in &model.indexes {
        index_attributes(rows, i);
    }
}

/// The default btree operator class of a column type: `(oid, key type)`,
/// the key type being the column's type unless the class stores another
/// (`name_ops` stores `cstring`). `varchar` and `cidr` use the classes of
/// `text` and `inet`, arrays `array_ops`. `None` for types without one
/// (`json`, geometric types, ...).
fn btree_opclass(type_oid: u32) -> Option<(u32, u32)> {
    /// `pg_type` OIDs of `cidr` and `inet`.
    const CIDR: u32 = 650;
    const INET: u32 = 869;
    let class_for = |input: u32| BTREE_OPCLASSES.iter().find(|c| c.4 == input);
    class_for(type_oid)
        .or_else(|| match type_oid {
            oid::VARCHAR => class_for(oid::TEXT),
            CIDR => class_for(INET),
            t if pg_type(t).is_some_and(|t| t.is_array()) => class_for(oid::ANYARRAY),
            _ => None,
        })
        .map(|c| (c.0, if c.5 == 0 { type_oid } else { c.5 }))
}

/// The `pg_attribute` rows of an index: one per column, with the table
/// column's name, type and modifier (the operator class's key type when it
/// has one), never NOT NULL.
fn index_attributes(rows: &mut Rows, i: &Index<'_>) {
    for (n, ic) in i.columns.iter().enumerate() {
        let c = &ic.column;
        let type_oid = btree_opclass(c.type_oid).map_or(c.type_oid, |(_, key)| key);
        rows.push(attribute_row(i.oid, n + 1, c, type_oid, false));
    }
}

/// The `pg_attribute` row of column `c`, number `attnum` of relation
/// `relid`, shown with type `type_oid` (the layout columns follow it; the
/// collation follows the column's own type).
fn attribute_row(
    relid: u32,
    attnum: usize,
    c: &Column<'_>,
    type_oid: u32,
    not_null: bool,
) -> Vec<(&'static str, Value)> {
    let t = pg_type(type_oid);
    vec![
        ("attrelid", relid.into()),
        ("attname", c.name.into()),
        ("atttypid", type_oid.into()),
        ("attstattarget", (-1i32).into()),
        ("attlen", t.map_or(-1, |t| t.len).into()),
        ("attnum", attnum.into()),
        (
            "attndims",
            i32::from(t.is_some_and(|t| t.is_array())).into(),
        ),
        ("attcacheoff", (-1i32).into()),
        ("atttypmod", c.typmod.into()),
        ("attbyval", t.is_some_and(|t| t.by_val).into()),
        ("attalign", t.map_or('i', |t| t.align).into()),
        ("attstorage", t.map_or('x', |t| t.storage).into()),
        ("attcompression", "".into()),
        ("attnotnull", not_null.into()),
        ("atthasdef", false.into()),
        ("atthasmissing", false.into()),
        ("attidentity", "".into()),
        ("attgenerated", "".into()),
        ("attisdropped", false.into()),
        ("attislocal", true.into()),
        ("attinhcount", 0i32.into()),
        ("attcollation", column_collation(c.type_oid).into()),
    ]
}

/// The collation of a column of a type: the type's own (`default` for
/// text types, `C` for `name`), 0 for types that do not collate.
fn column_collation(type_oid: u32) -> u32 {
    pg_type(type_oid).map_or(0, |t| t.collation)
}

fn index_rows(rows: &mut Rows, model: &Model<'_>) {
    for i in &model.indexes {
        let count = i16::try_from(i.columns.len()).unwrap_or(i16::MAX);
        let ints = |f: &dyn Fn(&super::IndexColumn<'_>) -> i64| {
            Value::Ints(i.columns.iter().map(f).collect())
        };
        rows.push(vec![
            ("indexrelid", i.oid.into()),
            ("indrelid", i.table_oid.into()),
            ("indnatts", count.into()),
            ("indnkeyatts", count.into()),
            ("indisunique", i.constraint.is_some().into()),
            ("indnullsnotdistinct", false.into()),
            (
                "indisprimary",
                i.constraint
                    .is_some_and(|c| c.kind == ConstraintKind::PrimaryKey)
                    .into(),
            ),
            ("indisexclusion", false.into()),
            ("indimmediate", true.into()),
            ("indisclustered", false.into()),
            ("indisvalid", true.into()),
            ("indcheckxmin", false.into()),
            ("indisready", true.into()),
            ("indislive", true.into()),
            ("indisreplident", false.into()),
            ("indkey", ints(&|c| i64::from(c.attnum))),
            (
                "indcollation",
                ints(&|c| i64::from(column_collation(c.column.type_oid))),
            ),
            (
                "indclass",
                ints(&|c| i64::from(btree_opclass(c.column.type_oid).map_or(0, |(o, _)| o))),
            ),
            ("indoption", ints(&|_| 0)),
            ("indexprs", Value::Null),
            ("indpred", Value::Null),
        ]);
    }
}

/// `PRIMARY KEY` and `UNIQUE` constraints, as Postgres 15 records them
/// (not deferrable, validated, not inheritable, on their index).
fn constraints(rows: &mut Rows, model: &Model<'_>) {
    for (i, c) in model.key_constraints() {
        let contype = match c.kind {
            ConstraintKind::PrimaryKey => 'p',
            ConstraintKind::Unique => 'u',
        };
        rows.push(vec![
            ("oid", c.oid.into()),
            ("conname", i.name.into()),
            ("connamespace", i.namespace.into()),
            ("contype", contype.into()),
            ("condeferrable", false.into()),
            ("condeferred", false.into()),
            ("convalidated", true.into()),
            ("conrelid", i.table_oid.into()),
            ("contypid", 0u32.into()),
            ("conindid", i.oid.into()),
            ("conparentid", 0u32.into()),
            ("confrelid", 0u32.into()),
            ("confupdtype", ' '.into()),
            ("confdeltype", ' '.into()),
            ("confmatchtype", ' '.into()),
            ("conislocal", true.into()),
            ("coninhcount", 0i32.into()),
            ("connoinherit", true.into()),
            (
                "conkey",
                Value::Ints(i.columns.iter().map(|c| i64::from(c.attnum)).collect()),
            ),
        ]);
    }
}

fn indexes_view(rows: &mut Rows, model: &Model<'_>) {
    for i in &model.indexes {
        rows.push(vec![
            ("schemaname", i.schema.into()),
            ("tablename", i.table.into()),
            ("indexname", i.name.into()),
            ("tablespace", Value::Null),
            ("indexdef", i.definition(true).into()),
        ]);
    }
}

fn operator_classes(rows: &mut Rows) {
    for (oid, name, family, _, input, key) in BTREE_OPCLASSES {
        rows.push(vec![
            ("oid", (*oid).into()),
            ("opcmethod", BTREE_AM_OID.into()),
            ("opcname", (*name).into()),
            ("opcnamespace", PG_CATALOG_NAMESPACE.into()),
            ("opcowner", SUPERUSER_OID.into()),
            ("opcfamily", (*family).into()),
            ("opcintype", (*input).into()),
            ("opcdefault", true.into()),
            ("opckeytype", (*key).into()),
        ]);
    }
}

fn operator_families(rows: &mut Rows) {
    let mut families: Vec<(u32, &str)> = BTREE_OPCLASSES
        .iter()
        .map(|(_, _, family, name, _, _)| (*family, *name))
        .collect();
    families.sort_unstable();
    families.dedup();
    for (oid, name) in families {
        rows.push(vec![
            ("oid", oid.into()),
            ("opfmethod", BTREE_AM_OID.into()),
            ("opfname", name.into()),
            ("opfnamespace", PG_CATALOG_NAMESPACE.into()),
            ("opfowner", SUPERUSER_OID.into()),
        ]);
    }
}

fn attributes_of(rows: &mut Rows, r: &Relation<'_>) {
    for (i, c) in r.columns.iter().enumerate() {
        rows.push(attribute_row(r.oid, i + 1, c, c.type_oid, c.not_null));
    }
}

fn types(rows: &mut Rows) {
    for t in pg_types() {
        rows.push(vec![
            ("oid", t.oid.into()),
            ("typname", t.name.as_str().into()),
            ("typnamespace", t.namespace.into()),
            ("typowner", SUPERUSER_OID.into()),
            ("typlen", t.len.into()),
            ("typbyval", t.by_val.into()),
            ("typtype", t.kind.into()),
            ("typcategory", t.category.into()),
            ("typispreferred", t.preferred.into()),
            ("typisdefined", true.into()),
            ("typdelim", t.delim.into()),
            ("typrelid", 0u32.into()),
            ("typsubscript", t.subscript.into()),
            ("typelem", t.elem.into()),
            ("typarray", t.array.into()),
            ("typinput", t.input.into()),
            ("typoutput", t.output.into()),
            ("typreceive", t.receive.into()),
            ("typsend", t.send.into()),
            ("typmodin", t.modin.into()),
            ("typmodout", t.modout.into()),
            ("typanalyze", t.analyze.into()),
            ("typalign", t.align.into()),
            ("typstorage", t.storage.into()),
            ("typnotnull", false.into()),
            ("typbasetype", t.base_type.into()),
            ("typtypmod", t.typmod.into()),
            ("typndims", 0i32.into()),
            ("typcollation", t.collation.into()),
        ]);
    }
}

fn databases(rows: &mut Rows, model: &Model<'_>) {
    for (name, db) in &model.state.databases {
        rows.push(vec![
            ("oid", db.oid.into()),
            ("datname", name.as_str().into()),
            ("datdba", SUPERUSER_OID.into()),
            ("encoding", UTF8_ENCODING.into()),
            ("datlocprovider", 'c'.into()),
            ("datistemplate", false.into()),
            ("datallowconn", true.into()),
            ("datconnlimit", (-1i32).into()),
            ("datfrozenxid", 0u32.into()),
            ("datminmxid", 1u32.into()),
            ("dattablespace", DEFAULT_TABLESPACE_OID.into()),
            ("datcollate", "C".into()),
            ("datctype", "C".into()),
        ]);
    }
}

/// Registered functions: `(name, prokind, provolatile)` in name order.
fn registered_functions() -> Vec<(String, char, char)> {
    let registry = FunctionRegistry::shared();
    let volatility = |v: Volatility| match v {
        Volatility::Immutable => 'i',
        Volatility::Stable => 's',
        Volatility::Volatile => 'v',
    };
    let mut out: Vec<(String, char, char)> = Vec::new();
    for name in registry.scalar_names() {
        if let Some(f) = registry.find_scalar(&name) {
            out.push((name, 'f', volatility(f.signature().volatility)));
        }
    }
    for name in registry.aggregate_names() {
        if let Some(f) = registry.find_aggregate(&name) {
            out.push((name, 'a', volatility(f.signature().volatility)));
        }
    }
    for name in registry.window_names() {
        out.push((name, 'w', 'i'));
    }
    for name in SESSION_FUNCTIONS {
        out.push(((*name).to_string(), 'f', 's'));
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    out
}

fn functions(rows: &mut Rows) {
    for ((name, kind, volatile), oid) in registered_functions()
        .into_iter()
        .zip(FIRST_FUNCTION_OID..=LAST_FUNCTION_OID)
    {
        rows.push(vec![
            ("oid", oid.into()),
            ("proname", name.as_str().into()),
            ("pronamespace", PG_CATALOG_NAMESPACE.into()),
            ("proowner", SUPERUSER_OID.into()),
            ("prolang", INTERNAL_LANGUAGE_OID.into()),
            ("procost", 1.0.into()),
            ("prorows", 0.0.into()),
            ("provariadic", 0u32.into()),
            ("prosupport", "-".into()),
            ("prokind", kind.into()),
            ("prosecdef", false.into()),
            ("proleakproof", false.into()),
            ("proisstrict", true.into()),
            ("proretset", false.into()),
            ("provolatile", volatile.into()),
            ("proparallel", 's'.into()),
            ("pronargs", 0i16.into()),
            ("pronargdefaults", 0i16.into()),
            // The result type depends on the arguments.
            ("prorettype", oid::ANYELEMENT.into()),
            ("proargtypes", Value::Ints(Vec::new())),
            ("prosrc", name.as_str().into()),
        ]);
    }
}

fn settings_rows(rows: &mut Rows, settings: &[(String, String)]) {
    let mut settings: Vec<&(String, String)> = settings
        .iter()
        .filter(|(name, _)| setting(name).is_none_or(|s| s.listed))
        .collect();
    settings.sort_by_key(|(name, _)| name.to_lowercase());
    for (name, value) in settings {
        let info = setting(name);
        let custom = name.contains('.');
        let mut cells = vec![
            ("name", Value::from(info.map_or(name.as_str(), |i| i.name))),
            ("setting", value.as_str().into()),
            ("unit", info.and_then(|i| i.unit).into()),
            (
                "category",
                info.map_or(
                    if custom {
                        "Customized Options"
                    } else {
                        "Ungrouped"
                    },
                    |i| i.category,
                )
                .into(),
            ),
            ("short_desc", info.map_or("", |i| i.description).into()),
            ("context", info.map_or("user", |i| i.context).into()),
            ("vartype", info.map_or("string", |i| i.vartype).into()),
            ("source", "default".into()),
            ("boot_val", value.as_str().into()),
            ("reset_val", value.as_str().into()),
            ("pending_restart", false.into()),
        ];
        if let Some((min, max)) = info.and_then(|i| i.range) {
            cells.push(("min_val", min.into()));
            cells.push(("max_val", max.into()));
        }
        if let Some(i) = info.filter(|i| !i.enumvals.is_empty()) {
            cells.push((
                "enumvals",
                Value::Texts(i.enumvals.iter().map(|s| (*s).to_string()).collect()),
            ));
        }
        rows.push(cells);
    }
}

fn roles(rows: &mut Rows) {
    rows.push(vec![
        ("oid", SUPERUSER_OID.into()),
        ("rolname", SUPERUSER_NAME.into()),
        ("rolsuper", true.into()),
        ("rolinherit", true.into()),
        ("rolcreaterole", true.into()),
        ("rolcreatedb", true.into()),
        ("rolcanlogin", true.into()),
        ("rolreplication", true.into()),
        ("rolbypassrls", true.into()),
        ("rolconnlimit", (-1i32).into()),
        ("rolpassword", "********".into()),
    ]);
}

fn users(rows: &mut Rows) {
    rows.push(vec![
        ("usename", SUPERUSER_NAME.into()),
        ("usesysid", SUPERUSER_OID.into()),
        ("usecreatedb", true.into()),
        ("usesuper", true.into()),
        ("userepl", true.into()),
        ("usebypassrls", true.into()),
        ("passwd", "********".into()),
    ]);
}

fn tables(rows: &mut Rows, model: &Model<'_>) {
    for r in model.relations.iter().filter(|r| r.relkind() == 'r') {
        rows.push(vec![
            ("schemaname", r.schema.into()),
            ("tablename", r.name.into()),
            ("tableowner", SUPERUSER_NAME.into()),
            ("hasindexes", model.has_index(r.oid).into()),
            ("hasrules", false.into()),
            ("hastriggers", false.into()),
            ("rowsecurity", false.into()),
        ]);
    }
}

fn views(rows: &mut Rows, model: &Model<'_>) {
    for r in model.relations.iter().filter(|r| r.relkind() == 'v') {
        let definition = match r.source {
            super::Source::View(sql) => Some(sql),
            _ => None,
        };
        rows.push(vec![
            ("schemaname", r.schema.into()),
            ("viewname", r.name.into()),
            ("viewowner", SUPERUSER_NAME.into()),
            ("definition", definition.into()),
        ]);
    }
}

fn access_methods(rows: &mut Rows) {
    for (oid, name, handler, kind) in [
        (HEAP_AM_OID, "heap", "heap_tableam_handler", 't'),
        (403, "btree", "bthandler", 'i'),
        (405, "hash", "hashhandler", 'i'),
        (783, "gist", "gisthandler", 'i'),
        (2742, "gin", "ginhandler", 'i'),
        (4000, "spgist", "spghandler", 'i'),
        (3580, "brin", "brinhandler", 'i'),
    ] {
        rows.push(vec![
            ("oid", oid.into()),
            ("amname", name.into()),
            ("amhandler", handler.into()),
            ("amtype", kind.into()),
        ]);
    }
}

fn languages(rows: &mut Rows) {
    for (oid, name, trusted, validator) in [
        (INTERNAL_LANGUAGE_OID, "internal", false, 2246u32),
        (13, "c", false, 2247),
        (14, "sql", true, 2248),
    ] {
        rows.push(vec![
            ("oid", oid.into()),
            ("lanname", name.into()),
            ("lanowner", SUPERUSER_OID.into()),
            ("lanispl", false.into()),
            ("lanpltrusted", trusted.into()),
            ("lanplcallfoid", 0u32.into()),
            ("laninline", 0u32.into()),
            ("lanvalidator", validator.into()),
        ]);
    }
}

fn collations(rows: &mut Rows) {
    for (oid, name, provider, locale) in [
        (DEFAULT_COLLATION_OID, "default", 'd', None),
        (950, "C", 'c', Some("C")),
        (951, "POSIX", 'c', Some("POSIX")),
    ] {
        rows.push(vec![
            ("oid", oid.into()),
            ("collname", name.into()),
            ("collnamespace", PG_CATALOG_NAMESPACE.into()),
            ("collowner", SUPERUSER_OID.into()),
            ("collprovider", provider.into()),
            ("collisdeterministic", true.into()),
            ("collencoding", (-1i32).into()),
            ("collcollate", locale.into()),
            ("collctype", locale.into()),
        ]);
    }
}

fn tablespaces(rows: &mut Rows) {
    for (oid, name) in [(DEFAULT_TABLESPACE_OID, "pg_default"), (1664, "pg_global")] {
        rows.push(vec![
            ("oid", oid.into()),
            ("spcname", name.into()),
            ("spcowner", SUPERUSER_OID.into()),
        ]);
    }
}
