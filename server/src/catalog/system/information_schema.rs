//! Rows of the `information_schema` views that describe what Tidewater
//! has: schemata, tables, columns, views, roles and constraints (`PRIMARY
//! KEY`, `UNIQUE`, and NOT NULL columns as Postgres 15's `CHECK`
//! constraints). The other views (privileges, routines, ...) have no
//! rows.

use tidewater_runtime::functions::pg::catalog::SUPERUSER_NAME;
use tidewater_runtime::pgtypes::{
    INFORMATION_SCHEMA_NAMESPACE, PG_CATALOG_NAMESPACE, format_type, numeric_precision_scale, oid,
    pg_type,
};

use super::builder::{Rows, SystemRelation, Value};
use super::{Column, ConstraintKind, Model, Relation, Source};

/// `yes_or_no` values.
fn yes_no(b: bool) -> Value {
    if b { "YES" } else { "NO" }.into()
}

/// The rows of `relation` (an `information_schema` relation).
pub(super) fn rows(relation: &'static SystemRelation, model: &Model<'_>) -> Rows {
    let mut rows = Rows::new(relation);
    match relation.name {
        "information_schema_catalog_name" => {
            rows.push(vec![("catalog_name", model.database.into())])
        }
        "schemata" => schemata(&mut rows, model),
        "tables" => tables(&mut rows, model),
        "columns" => columns(&mut rows, model),
        "views" => views(&mut rows, model),
        "enabled_roles" => rows.push(vec![("role_name", SUPERUSER_NAME.into())]),
        "table_constraints" => table_constraints(&mut rows, model),
        "key_column_usage" => key_column_usage(&mut rows, model),
        "constraint_column_usage" => constraint_column_usage(&mut rows, model),
        "constraint_table_usage" => constraint_table_usage(&mut rows, model),
        "check_constraints" => check_constraints(&mut rows, model),
        _ => {}
    }
    rows
}

/// The NOT NULL columns of tables, which Postgres 15 lists as `CHECK`
/// constraints: `(relation, attnum, column, constraint name)`.
fn not_null_checks<'m, 'a>(
    model: &'m Model<'a>,
) -> impl Iterator<Item = (&'m Relation<'a>, usize, &'m Column<'a>, String)> {
    model
        .relations
        .iter()
        .filter(|r| r.relkind() == 'r')
        .flat_map(|r| {
            r.columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.not_null)
                .map(move |(i, c)| {
                    let name = format!("{}_{}_{}_not_null", r.namespace, r.oid, i + 1);
                    (r, i + 1, c, name)
                })
        })
}

fn table_constraints(rows: &mut Rows, model: &Model<'_>) {
    let mut push = |schema: &str, constraint: &str, table: &str, kind: &str, nulls_distinct| {
        rows.push(vec![
            ("constraint_catalog", model.database.into()),
            ("constraint_schema", schema.into()),
            ("constraint_name", constraint.into()),
            ("table_catalog", model.database.into()),
            ("table_schema", schema.into()),
            ("table_name", table.into()),
            ("constraint_type", kind.into()),
            ("is_deferrable", yes_no(false)),
            ("initially_deferred", yes_no(false)),
            ("enforced", yes_no(true)),
            ("nulls_distinct", nulls_distinct),
        ]);
    };
    for (i, c) in model.key_constraints() {
        let (kind, nulls_distinct) = match c.kind {
            ConstraintKind::PrimaryKey => ("PRIMARY KEY", Value::Null),
            ConstraintKind::Unique => ("UNIQUE", yes_no(true)),
        };
        push(i.schema, i.name, i.table, kind, nulls_distinct);
    }
    for (r, _, _, name) in not_null_checks(model) {
        push(r.schema, &name, r.name, "CHECK", Value::Null);
    }
}

fn key_column_usage(rows: &mut Rows, model: &Model<'_>) {
    for (i, _) in model.key_constraints() {
        for (position, c) in i.columns.iter().enumerate() {
            rows.push(vec![
                ("constraint_catalog", model.database.into()),
                ("constraint_schema", i.schema.into()),
                ("constraint_name", i.name.into()),
                ("table_catalog", model.database.into()),
                ("table_schema", i.schema.into()),
                ("table_name", i.table.into()),
                ("column_name", c.column.name.into()),
                ("ordinal_position", (position + 1).into()),
                ("position_in_unique_constraint", Value::Null),
            ]);
        }
    }
}

fn constraint_column_usage(rows: &mut Rows, model: &Model<'_>) {
    for (i, _) in model.key_constraints() {
        for c in &i.columns {
            rows.push(vec![
                ("table_catalog", model.database.into()),
                ("table_schema", i.schema.into()),
                ("table_name", i.table.into()),
                ("column_name", c.column.name.into()),
                ("constraint_catalog", model.database.into()),
                ("constraint_schema", i.schema.into()),
                ("constraint_name", i.name.into()),
            ]);
        }
    }
}

fn constraint_table_usage(rows: &mut Rows, model: &Model<'_>) {
    for (i, _) in model.key_constraints() {
        rows.push(vec![
            ("table_catalog", model.database.into()),
            ("table_schema", i.schema.into()),
            ("table_name", i.table.into()),
            ("constraint_catalog", model.database.into()),
            ("constraint_schema", i.schema.into()),
            ("constraint_name", i.name.into()),
        ]);
    }
}

fn check_constraints(rows: &mut Rows, model: &Model<'_>) {
    for (r, _, c, name) in not_null_checks(model) {
        rows.push(vec![
            ("constraint_catalog", model.database.into()),
            ("constraint_schema", r.schema.into()),
            ("constraint_name", name.into()),
            ("check_clause", format!("{} IS NOT NULL", c.name).into()),
        ]);
    }
}

fn schemata(rows: &mut Rows, model: &Model<'_>) {
    for n in &model.namespaces {
        rows.push(vec![
            ("catalog_name", model.database.into()),
            ("schema_name", n.name.into()),
            ("schema_owner", SUPERUSER_NAME.into()),
        ]);
    }
}

fn tables(rows: &mut Rows, model: &Model<'_>) {
    for r in &model.relations {
        let view = r.relkind() == 'v';
        rows.push(vec![
            ("table_catalog", model.database.into()),
            ("table_schema", r.schema.into()),
            ("table_name", r.name.into()),
            (
                "table_type",
                if view { "VIEW" } else { "BASE TABLE" }.into(),
            ),
            ("is_insertable_into", yes_no(r.insertable())),
            ("is_typed", yes_no(false)),
        ]);
    }
}

fn views(rows: &mut Rows, model: &Model<'_>) {
    for r in model.relations.iter().filter(|r| r.relkind() == 'v') {
        let definition = match r.source {
            Source::View(sql) => Some(sql),
            _ => None,
        };
        rows.push(vec![
            ("table_catalog", model.database.into()),
            ("table_schema", r.schema.into()),
            ("table_name", r.name.into()),
            ("view_definition", definition.into()),
            ("check_option", "NONE".into()),
            ("is_updatable", yes_no(false)),
            ("is_insertable_into", yes_no(false)),
            ("is_trigger_updatable", yes_no(false)),
            ("is_trigger_deletable", yes_no(false)),
            ("is_trigger_insertable_into", yes_no(false)),
        ]);
    }
}

fn columns(rows: &mut Rows, model: &Model<'_>) {
    for r in &model.relations {
        for (i, c) in r.columns.iter().enumerate() {
            rows.push(column_row(model.database, r, i + 1, c));
        }
    }
}

/// The maximum length of a value of a type without a length limit
/// (`character_octet_length` of `text`): 1 GB.
const MAX_DATUM_LENGTH: i64 = 1_073_741_824;
/// Bytes per character of the server encoding (UTF8).
const MAX_ENCODING_LENGTH: i64 = 4;

/// One row of `information_schema.columns`, computed as Postgres's view
/// does (`_pg_char_max_length`, `_pg_numeric_precision`, ...).
fn column_row<'a>(
    database: &'a str,
    r: &Relation<'a>,
    position: usize,
    c: &Column<'a>,
) -> Vec<(&'static str, Value)> {
    let declared = pg_type(c.type_oid);
    // Domains are described by their base type, and named in domain_*.
    let (type_oid, typmod, domain) = match declared {
        Some(t) if t.kind == 'd' => (t.base_type, t.typmod, Some(t)),
        _ => (c.type_oid, c.typmod, None),
    };
    let t = pg_type(type_oid);
    let data_type = match t {
        Some(t) if t.elem != 0 && t.len == -1 => "ARRAY".to_string(),
        Some(t) if t.namespace == PG_CATALOG_NAMESPACE => format_type(t.oid, None),
        _ => "USER-DEFINED".to_string(),
    };
    let char_max_length: Option<i64> = match type_oid {
        oid::BPCHAR | oid::VARCHAR if typmod >= 0 => Some(i64::from(typmod) - 4),
        oid::BIT | oid::VARBIT if typmod >= 0 => Some(i64::from(typmod)),
        _ => None,
    };
    let char_octet_length: Option<i64> = match type_oid {
        oid::BPCHAR | oid::VARCHAR | oid::TEXT => Some(match char_max_length {
            Some(n) => n * MAX_ENCODING_LENGTH,
            None => MAX_DATUM_LENGTH,
        }),
        _ => None,
    };
    let numeric = numeric_precision_scale(typmod);
    let (precision, radix, scale): (Option<i64>, Option<i64>, Option<i64>) = match type_oid {
        oid::INT2 => (Some(16), Some(2), Some(0)),
        oid::INT4 => (Some(32), Some(2), Some(0)),
        oid::INT8 => (Some(64), Some(2), Some(0)),
        oid::FLOAT4 => (Some(24), Some(2), None),
        oid::FLOAT8 => (Some(53), Some(2), None),
        oid::NUMERIC => (
            numeric.map(|(p, _)| i64::from(p)),
            Some(10),
            numeric.map(|(_, s)| i64::from(s)),
        ),
        _ => (None, None, None),
    };
    let datetime_precision: Option<i64> = match type_oid {
        oid::DATE => Some(0),
        oid::TIME | oid::TIMETZ | oid::TIMESTAMP | oid::TIMESTAMPTZ => {
            Some(if typmod < 0 { 6 } else { i64::from(typmod) })
        }
        oid::INTERVAL => Some(if typmod < 0 || typmod & 0xffff == 0xffff {
            6
        } else {
            i64::from(typmod & 0xffff)
        }),
        _ => None,
    };
    let interval_type = if type_oid == oid::INTERVAL && typmod >= 0 {
        // "interval day to second(3)" -> "DAY TO SECOND".
        let name = format_type(oid::INTERVAL, Some(typmod));
        let fields = name.trim_start_matches("interval").trim();
        let fields = fields.split('(').next().unwrap_or("").trim().to_uppercase();
        (!fields.is_empty()).then_some(fields)
    } else {
        None
    };
    let udt_schema = match t.map(|t| t.namespace) {
        Some(INFORMATION_SCHEMA_NAMESPACE) => "information_schema",
        _ => "pg_catalog",
    };
    let updatable = match r.source {
        Source::Managed => true,
        Source::System(_) => r.relkind() == 'r',
        Source::Connector | Source::View(_) | Source::Materialized(_) => false,
    };
    let mut cells = vec![
        ("table_catalog", database.into()),
        ("table_schema", r.schema.into()),
        ("table_name", r.name.into()),
        ("column_name", c.name.into()),
        ("ordinal_position", position.into()),
        ("is_nullable", yes_no(!c.not_null)),
        ("data_type", data_type.into()),
        ("character_maximum_length", char_max_length.into()),
        ("character_octet_length", char_octet_length.into()),
        ("numeric_precision", precision.into()),
        ("numeric_precision_radix", radix.into()),
        ("numeric_scale", scale.into()),
        ("datetime_precision", datetime_precision.into()),
        ("interval_type", interval_type.into()),
        ("udt_catalog", database.into()),
        ("udt_schema", udt_schema.into()),
        ("udt_name", t.map(|t| t.name.as_str()).into()),
        ("dtd_identifier", position.to_string().into()),
        ("is_self_referencing", yes_no(false)),
        ("is_identity", yes_no(false)),
        ("identity_cycle", yes_no(false)),
        ("is_generated", "NEVER".into()),
        ("is_updatable", yes_no(updatable)),
    ];
    if let Some(d) = domain {
        cells.push(("domain_catalog", database.into()));
        cells.push(("domain_schema", "information_schema".into()));
        cells.push(("domain_name", d.name.as_str().into()));
    }
    cells
}
