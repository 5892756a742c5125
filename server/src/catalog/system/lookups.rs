//! Per-statement catalog functions: the answers of `pg_table_is_visible`,
//! `pg_get_viewdef`, `pg_get_indexdef`, `pg_get_constraintdef`, `regclass` / `regnamespace`
//! conversions for one database and search path, as [`CatalogLookup`] (and
//! [`IndexDefinitions`]) functions that the optimizer rewrites into
//! literals (workers never see the catalog).

use std::sync::Arc;

use datafusion_common::ScalarValue;
use datafusion_expr::ScalarUDF;
use tidewater_runtime::functions::pg::catalog::{CatalogLookup, IndexDefinition, IndexDefinitions};
use tidewater_runtime::pgtypes::quote_ident;

use super::{Model, Source};
use crate::catalog::CatalogSnapshot;

/// The catalog-dependent functions for statements on `database` with the
/// session's `search_path` (schemas in order, without `pg_catalog`, which
/// is searched first unless listed):
///
/// - `pg_table_is_visible(oid)`: whether the relation (or index) is found
///   by its bare name through the search path;
/// - `pg_get_viewdef(oid [, pretty])`: a view's query text;
/// - `pg_get_indexdef(oid [, column, pretty])`: an index's `CREATE INDEX`
///   statement (the table schema-qualified, unless `pretty` and visible),
///   or the name of its `column`-th column;
/// - `pg_get_constraintdef(oid [, pretty])`: a key constraint's definition
///   (`PRIMARY KEY (id)`);
/// - `regclass_name(oid)`: the text of `oid::regclass` for a relation or
///   an index (the bare name when
///   visible, else `schema.name`; `-` for 0; NULL for unknown OIDs);
/// - `to_regclass(text)`: the OID of a relation name (`'orders'`,
///   `'public.orders'`), NULL when there is none (also what `'…'::regclass`
///   should resolve to);
/// - `regnamespace_name(oid)` and `to_regnamespace(text)`: the same for
///   schemas.
///
/// Empty when the database does not exist.
pub fn catalog_functions(
    snapshot: &CatalogSnapshot,
    database: &str,
    search_path: &[String],
) -> Vec<Arc<ScalarUDF>> {
    let Some(db) = snapshot.state.databases.get(database) else {
        return Vec::new();
    };
    let model = Model::new(&snapshot.state, database, db);
    let mut path: Vec<&str> = Vec::new();
    if !search_path.iter().any(|s| s == "pg_catalog") {
        path.push("pg_catalog");
    }
    path.extend(search_path.iter().map(String::as_str));
    // Relations and indexes share their schema's names: `(oid, schema,
    // name)` of each.
    let classes: Vec<(u32, &str, &str)> = model
        .relations
        .iter()
        .map(|r| (r.oid, r.schema, r.name))
        .chain(model.indexes.iter().map(|i| (i.oid, i.schema, i.name)))
        .collect();
    // The first relation of each name along the path is visible.
    let mut visible: Vec<(u32, &str)> = Vec::new();
    for schema in &path {
        for (oid, _, name) in classes.iter().filter(|c| c.1 == *schema) {
            if !visible.iter().any(|(_, n)| n == name) {
                visible.push((*oid, name));
            }
        }
    }
    let is_visible = |oid: u32| visible.iter().any(|(o, _)| *o == oid);
    let text = |s: String| ScalarValue::Utf8(Some(s));
    let qualified =
        |schema: &str, name: &str| format!("{}.{}", quote_ident(schema), quote_ident(name));

    let mut regclass_names = vec![(0, text("-".to_string()))];
    let mut regclass_oids = Vec::new();
    for (class_oid, schema, name) in &classes {
        let oid = ScalarValue::Int32(i32::try_from(*class_oid).ok());
        if is_visible(*class_oid) {
            regclass_names.push((*class_oid, text(quote_ident(name).into_owned())));
            regclass_oids.push((name.to_string(), oid.clone()));
        } else {
            regclass_names.push((*class_oid, text(qualified(schema, name))));
        }
        regclass_oids.push((format!("{schema}.{name}"), oid));
    }
    let viewdefs = model.relations.iter().filter_map(|r| match r.source {
        Source::View(sql) | Source::Materialized(sql) => Some((r.oid, text(sql.to_string()))),
        _ => None,
    });
    let indexdefs = model.indexes.iter().map(|i| IndexDefinition {
        oid: i.oid,
        definition: i.definition(true),
        pretty: i.definition(!is_visible(i.table_oid)),
        columns: i
            .columns
            .iter()
            .map(|c| quote_ident(c.column.name).into_owned())
            .collect(),
    });
    let constraintdefs: Vec<(u32, ScalarValue)> = model
        .key_constraints()
        .into_iter()
        .filter_map(|(i, c)| Some((c.oid, text(i.constraint_definition()?))))
        .collect();
    let namespace_names = model
        .namespaces
        .iter()
        .map(|n| (n.oid, text(quote_ident(n.name).into_owned())));
    let namespace_oids = model.namespaces.iter().map(|n| {
        (
            n.name.to_string(),
            ScalarValue::Int32(i32::try_from(n.oid).ok()),
        )
    });
    let mut functions: Vec<Arc<ScalarUDF>> = [
        CatalogLookup::membership("pg_table_is_visible", visible.iter().map(|(o, _)| *o)),
        CatalogLookup::new("pg_get_viewdef", viewdefs, ScalarValue::Utf8(None))
            .with_optional_flag(),
        CatalogLookup::new(
            "pg_get_constraintdef",
            constraintdefs,
            ScalarValue::Utf8(None),
        )
        .with_optional_flag(),
        CatalogLookup::new("regclass_name", regclass_names, ScalarValue::Utf8(None)),
        CatalogLookup::by_name("to_regclass", regclass_oids, ScalarValue::Int32(None)),
        CatalogLookup::new(
            "regnamespace_name",
            namespace_names,
            ScalarValue::Utf8(None),
        ),
        CatalogLookup::by_name("to_regnamespace", namespace_oids, ScalarValue::Int32(None)),
    ]
    .into_iter()
    .map(|f| Arc::new(ScalarUDF::new_from_impl(f)))
    .collect();
    functions.push(Arc::new(ScalarUDF::new_from_impl(IndexDefinitions::new(
        indexdefs,
    ))));
    functions
}
