//! Names: Postgres's rules for naming result columns (`count`, `?column?`,
//! the column name), and resolution of object names in DDL.

use datafusion_common::{Result, TableReference};
use datafusion_sql::planner::object_name_to_table_reference;
use std::collections::HashMap;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Ident, ObjectName, Query, Select, SelectItem, SetExpr, Statement, VisitMut, VisitorMut,
};

use crate::catalog::{CatalogView, QualifiedName, SessionInfo};
use crate::error::PlanError;

fn normalize(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// The name Postgres gives a result column computed by `e` (its
/// `FigureColname`), or `None` when it would say `?column?`.
fn figure_colname(e: &Expr) -> Option<String> {
    match e {
        Expr::Identifier(i) => Some(normalize(i)),
        Expr::CompoundIdentifier(parts) => parts.last().map(normalize),
        Expr::Function(f) => f.name.0.last().and_then(|p| p.as_ident()).map(normalize),
        Expr::Cast {
            expr, data_type, ..
        } => figure_colname(expr).or_else(|| Some(pg_type_name(&data_type.to_string()))),
        Expr::Nested(inner) => figure_colname(inner),
        Expr::Case { .. } => Some("case".into()),
        Expr::Exists { .. } => Some("exists".into()),
        Expr::Extract { .. } => Some("extract".into()),
        Expr::Position { .. } => Some("position".into()),
        Expr::Substring { .. } => Some("substring".into()),
        Expr::Trim { .. } => Some("btrim".into()),
        Expr::Ceil { .. } => Some("ceil".into()),
        Expr::Floor { .. } => Some("floor".into()),
        Expr::Overlay { .. } => Some("overlay".into()),
        Expr::Array(_) => Some("array".into()),
        Expr::Subquery(q) => first_select(q).and_then(|s| match s.projection.first() {
            Some(SelectItem::UnnamedExpr(e)) => figure_colname(e),
            Some(SelectItem::ExprWithAlias { alias, .. }) => Some(normalize(alias)),
            _ => None,
        }),
        _ => None,
    }
}

/// Postgres's internal name for common SQL type spellings.
fn pg_type_name(sql: &str) -> String {
    match sql.to_ascii_uppercase().as_str() {
        "INT" | "INTEGER" | "INT4" => "int4".into(),
        "BIGINT" | "INT8" => "int8".into(),
        "SMALLINT" | "INT2" => "int2".into(),
        "REAL" | "FLOAT4" => "float4".into(),
        "DOUBLE PRECISION" | "FLOAT8" | "FLOAT" => "float8".into(),
        "TEXT" => "text".into(),
        "BOOLEAN" | "BOOL" => "bool".into(),
        "DATE" => "date".into(),
        "TIMESTAMP" => "timestamp".into(),
        "TIMESTAMPTZ" | "TIMESTAMP WITH TIME ZONE" => "timestamptz".into(),
        "NUMERIC" | "DECIMAL" => "numeric".into(),
        other if other.starts_with("VARCHAR") || other.starts_with("CHARACTER VARYING") => {
            "varchar".into()
        }
        other if other.starts_with("NUMERIC") || other.starts_with("DECIMAL") => "numeric".into(),
        other => other.to_lowercase(),
    }
}

fn first_select(q: &Query) -> Option<&Select> {
    let mut body = q.body.as_ref();
    loop {
        match body {
            SetExpr::Select(s) => return Some(s),
            SetExpr::SetOperation { left, .. } => body = left,
            SetExpr::Query(q) => body = q.body.as_ref(),
            _ => return None,
        }
    }
}

/// Postgres result column names for a query, one per select item, where
/// they differ from DataFusion's (`None` keeps DataFusion's name). `None`
/// overall when the select list has a wildcard.
pub(crate) fn output_names(q: &Query) -> Option<Vec<Option<String>>> {
    let select = first_select(q)?;
    let mut names = Vec::with_capacity(select.projection.len());
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(e) => names.push(Some(
                figure_colname(e).unwrap_or_else(|| "?column?".to_string()),
            )),
            SelectItem::ExprWithAlias { .. } => names.push(None),
            _ => return None,
        }
    }
    Some(names)
}

/// The name DataFusion would give an unaliased select item, for detecting
/// collisions: its SQL text, with every subquery reduced to one placeholder
/// (DataFusion names them all `(<subquery>)`).
fn datafusion_name_key(e: &Expr) -> String {
    let mut e = e.clone();
    let _ = sqlparser::ast::visit_expressions_mut(&mut e, |e| {
        if matches!(e, Expr::Subquery(_)) {
            *e = Expr::Identifier(Ident::new("<subquery>"));
        }
        ControlFlow::<()>::Continue(())
    });
    e.to_string().to_lowercase()
}

/// Gives colliding unaliased select items distinct aliases (their Postgres
/// names, suffixed where needed). Postgres allows two result columns with
/// the same name; DataFusion does not.
struct DistinctSelectNames;

impl VisitorMut for DistinctSelectNames {
    type Break = ();

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        let keys: Vec<Option<String>> = select
            .projection
            .iter()
            .map(|item| match item {
                SelectItem::UnnamedExpr(e) => Some(datafusion_name_key(e)),
                _ => None,
            })
            .collect();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for k in keys.iter().flatten() {
            *counts.entry(k.as_str()).or_default() += 1;
        }
        // Next to a wildcard, a plain column reference may name a column the
        // wildcard also produces (`SELECT c.oid, c.* ...`): give it an
        // internal alias, turned back into its name in the result.
        let has_wildcard = select.projection.iter().any(|i| {
            matches!(
                i,
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
            )
        });
        if has_wildcard {
            for (k, item) in select.projection.iter_mut().enumerate() {
                if let SelectItem::UnnamedExpr(
                    e @ (Expr::Identifier(_) | Expr::CompoundIdentifier(_)),
                ) = item
                {
                    let name = figure_colname(e).unwrap_or_default();
                    *item = SelectItem::ExprWithAlias {
                        expr: e.clone(),
                        alias: Ident::with_quote('"', format!("{INTERNAL_ALIAS_PREFIX}{k}_{name}")),
                    };
                }
            }
        }
        let mut used: HashMap<String, usize> = HashMap::new();
        for (item, key) in select.projection.iter_mut().zip(&keys) {
            let Some(key) = key else { continue };
            if counts.get(key.as_str()).copied().unwrap_or(0) < 2 {
                continue;
            }
            let SelectItem::UnnamedExpr(e) = item else {
                continue;
            };
            let base = figure_colname(e).unwrap_or_else(|| "?column?".to_string());
            let n = used.entry(base.clone()).or_default();
            *n += 1;
            let alias = if *n == 1 { base } else { format!("{base}_{n}") };
            *item = SelectItem::ExprWithAlias {
                expr: e.clone(),
                alias: Ident::with_quote('"', alias),
            };
        }
        ControlFlow::Continue(())
    }
}

/// Prefix of the internal aliases given to columns next to a wildcard.
const INTERNAL_ALIAS_PREFIX: &str = "__tw_as";

/// The name a result column shows: internal aliases (see
/// [`DistinctSelectNames`]) become the column's own name again.
pub(crate) fn shown_name(name: &str) -> &str {
    name.strip_prefix(INTERNAL_ALIAS_PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .filter(|(k, _)| k.chars().all(|c| c.is_ascii_digit()))
        .map_or(name, |(_, n)| n)
}

/// Rewrites a statement so that DataFusion accepts duplicate result column
/// names (see [`DistinctSelectNames`]).
pub(crate) fn distinct_select_names(statement: &mut Statement) {
    let _ = statement.visit(&mut DistinctSelectNames);
}

/// Resolves an object name in DDL to a fully qualified name, using the
/// session's database and the first existing schema of its search path.
pub(crate) fn qualify(
    name: &ObjectName,
    session: &SessionInfo,
    catalog: &dyn CatalogView,
) -> Result<QualifiedName> {
    let reference = object_name_to_table_reference(name.clone(), true)?;
    match reference {
        TableReference::Bare { table } => {
            let schema = session.creation_schema(catalog).ok_or_else(|| {
                PlanError::new("3F000", "no schema has been selected to create in")
            })?;
            Ok(QualifiedName::new(
                &session.database,
                schema,
                table.as_ref(),
            ))
        }
        TableReference::Partial { schema, table } => Ok(QualifiedName::new(
            &session.database,
            schema.as_ref(),
            table.as_ref(),
        )),
        TableReference::Full {
            catalog: db,
            schema,
            table,
        } => {
            if db.as_ref() != session.database {
                return Err(PlanError::feature_not_supported(format!(
                    "cross-database references are not implemented: {name}"
                ))
                .into());
            }
            Ok(QualifiedName::new(
                db.as_ref(),
                schema.as_ref(),
                table.as_ref(),
            ))
        }
    }
}

/// Normalizes a single identifier (schema or database name).
pub(crate) fn ident_name(name: &ObjectName) -> Result<String> {
    match name.0.as_slice() {
        [part] => part
            .as_ident()
            .map(normalize)
            .ok_or_else(|| PlanError::syntax(format!("invalid name {name}")).into()),
        _ => Err(PlanError::syntax(format!(
            "improper qualified name (too many dotted names): {name}"
        ))
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sql: &str) -> Option<Vec<Option<String>>> {
        let stmts = crate::parse_sql(sql).unwrap();
        let Statement::Query(q) = &stmts[0] else {
            panic!("not a query")
        };
        output_names(q)
    }

    #[test]
    fn figures_column_names_like_postgres() {
        assert_eq!(
            names("SELECT a, t.B, count(*), a + 1, 1::int, CASE WHEN a THEN 1 END, x AS y FROM t"),
            Some(vec![
                Some("a".into()),
                Some("b".into()),
                Some("count".into()),
                Some("?column?".into()),
                Some("int4".into()),
                Some("case".into()),
                None,
            ])
        );
        assert_eq!(names("SELECT * FROM t"), None);
    }
}
