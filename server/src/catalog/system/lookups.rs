//! Per-statement catalog functions: the answers of `pg_table_is_visible`,
//! `pg_get_viewdef`, `regclass` / `regnamespace` conversions for one
//! database and search path, as [`CatalogLookup`] functions that the
//! optimizer rewrites into literals (workers never see the catalog).

use std::sync::Arc;

use datafusion_common::ScalarValue;
use datafusion_expr::ScalarUDF;
use tidewater_runtime::functions::postgres::{CatalogLookup, quote_ident};

use super::{Model, Source};
use crate::catalog::CatalogSnapshot;

/// The catalog-dependent functions for statements on `database` with the
/// session's `search_path` (schemas in order, without `pg_catalog`, which
/// is searched first unless listed):
///
/// - `pg_table_is_visible(oid)`: whether the relation is found by its
///   bare name through the search path;
/// - `pg_get_viewdef(oid [, pretty])`: a view's query text;
/// - `regclass_name(oid)`: the text of `oid::regclass` (the bare name when
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
    // The first relation of each name along the path is visible.
    let mut visible: Vec<(u32, &str)> = Vec::new();
    for schema in &path {
        for r in model.relations.iter().filter(|r| r.schema == *schema) {
            if !visible.iter().any(|(_, name)| *name == r.name) {
                visible.push((r.oid, r.name));
            }
        }
    }
    let is_visible = |oid: u32| visible.iter().any(|(o, _)| *o == oid);
    let text = |s: String| ScalarValue::Utf8(Some(s));
    let qualified =
        |schema: &str, name: &str| format!("{}.{}", quote_ident(schema), quote_ident(name));

    let mut regclass_names = vec![(0, text("-".to_string()))];
    let mut regclass_oids = Vec::new();
    let mut viewdefs = Vec::new();
    for r in &model.relations {
        let oid = ScalarValue::Int32(i32::try_from(r.oid).ok());
        if is_visible(r.oid) {
            regclass_names.push((r.oid, text(quote_ident(r.name).into_owned())));
            regclass_oids.push((r.name.to_string(), oid.clone()));
        } else {
            regclass_names.push((r.oid, text(qualified(r.schema, r.name))));
        }
        regclass_oids.push((format!("{}.{}", r.schema, r.name), oid));
        if let Source::View(sql) = r.source {
            viewdefs.push((r.oid, text(sql.to_string())));
        }
    }
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
    [
        CatalogLookup::membership("pg_table_is_visible", visible.iter().map(|(o, _)| *o)),
        CatalogLookup::new("pg_get_viewdef", viewdefs, ScalarValue::Utf8(None))
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
    .collect()
}
