//! Names: Postgres's rules for naming result columns (`count`, `?column?`,
//! the column name), and resolution of object names in DDL.

use datafusion_common::{Result, TableReference};
use datafusion_sql::planner::object_name_to_table_reference;
use std::collections::HashMap;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident,
    ObjectName, OrderBy, OrderByKind, Query, Select, SelectItem, SetExpr, Statement, Value,
    VisitMut, VisitorMut,
};
use tidewater_runtime::functions::FunctionRegistry;
use tidewater_runtime::functions::named_cast::NAME as NAMED_CAST;

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
    figure_colname_strength(e).map(|(name, _)| name)
}

/// [`figure_colname`] with Postgres's strength of the name: 2 for the name
/// of a column, function or keyword, 1 for a type name given by a cast or
/// `case`, which an enclosing cast replaces (`1.5::float8::int` is `int4`,
/// `x::text` is `x`).
fn figure_colname_strength(e: &Expr) -> Option<(String, u8)> {
    let strong = |name: &str| Some((name.to_string(), 2));
    match e {
        Expr::Identifier(i) => Some((normalize(i), 2)),
        Expr::CompoundIdentifier(parts) => parts.last().map(|p| (normalize(p), 2)),
        Expr::Function(f) => f
            .name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| (normalize(i), 2)),
        Expr::Cast {
            expr, data_type, ..
        } => match figure_colname_strength(expr) {
            Some(named @ (_, 2)) => Some(named),
            _ => Some((pg_type_name(&data_type.to_string()), 1)),
        },
        Expr::Nested(inner) => figure_colname_strength(inner),
        Expr::Case { else_result, .. } => {
            match else_result.as_deref().and_then(figure_colname_strength) {
                Some(named @ (_, 2)) => Some(named),
                _ => Some(("case".into(), 1)),
            }
        }
        Expr::Exists { .. } => strong("exists"),
        Expr::Extract { .. } => strong("extract"),
        Expr::Position { .. } => strong("position"),
        Expr::Substring { .. } => strong("substring"),
        Expr::Trim { .. } => strong("btrim"),
        Expr::Ceil { .. } => strong("ceil"),
        Expr::Floor { .. } => strong("floor"),
        Expr::Overlay { .. } => strong("overlay"),
        Expr::Array(_) => strong("array"),
        Expr::Subquery(q) => first_select(q).and_then(|s| match s.projection.first() {
            Some(SelectItem::UnnamedExpr(e)) => figure_colname(e).map(|n| (n, 2)),
            Some(SelectItem::ExprWithAlias { alias, .. }) => Some((normalize(alias), 2)),
            _ => None,
        }),
        _ => None,
    }
}

/// The `typname` Postgres names a cast's column after (`int4` for
/// `::integer`, `varchar` for `::character varying(10)`; an array cast is
/// named after its element).
fn pg_type_name(sql: &str) -> String {
    let mut base = sql.trim();
    while let Some(rest) = base.strip_suffix("[]") {
        base = rest.trim_end();
    }
    tidewater_runtime::pgtypes::parse_type_name(base)
        .map(|t| t.name.clone())
        .unwrap_or_else(|| base.to_lowercase())
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
/// collisions: its SQL text without casts or parentheses (DataFusion
/// names `x::text` and `(x)` after `x`), with every subquery reduced to one
/// placeholder (DataFusion names them all `(<subquery>)`, and every
/// `x IN (subquery)` `IN`).
fn datafusion_name_key(e: &Expr) -> String {
    let mut e = e.clone();
    let _ = sqlparser::ast::visit_expressions_mut(&mut e, |e| {
        match e {
            Expr::Subquery(_) => *e = Expr::Identifier(Ident::new("<subquery>")),
            // DataFusion names `x IN (subquery)` just `IN`.
            Expr::InSubquery { negated, .. } => {
                *e = Expr::Identifier(Ident::new(if *negated { "<not in>" } else { "<in>" }))
            }
            Expr::Cast { expr, .. } | Expr::Nested(expr) => *e = expr.as_ref().clone(),
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    e.to_string().to_lowercase()
}

/// Calls `f` on every expression in `e` outside subqueries, innermost
/// first.
struct OuterExprs<F> {
    f: F,
    /// Subqueries entered.
    depth: usize,
}

impl<F: FnMut(&mut Expr)> VisitorMut for OuterExprs<F> {
    type Break = ();

    fn pre_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if self.depth == 0 {
            (self.f)(e);
        }
        ControlFlow::Continue(())
    }
}

fn for_each_outer_expr(e: &mut Expr, f: impl FnMut(&mut Expr)) {
    let _ = e.visit(&mut OuterExprs { f, depth: 0 });
}

fn is_aggregate_call(e: &Expr) -> bool {
    let Expr::Function(f) = e else {
        return false;
    };
    let name = f.name.to_string().to_lowercase();
    f.over.is_none()
        && FunctionRegistry::shared()
            .find_aggregate(name.strip_prefix("pg_catalog.").unwrap_or(&name))
            .is_some()
}

/// The expressions of a query's `SELECT` list, `HAVING` and `ORDER BY`:
/// where the aggregates its aggregation computes are written.
fn aggregate_clauses(query: &mut Query) -> Vec<&mut Expr> {
    let mut exprs = Vec::new();
    if let SetExpr::Select(select) = query.body.as_mut() {
        let select = select.as_mut();
        for item in &mut select.projection {
            if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
                exprs.push(e);
            }
        }
        exprs.extend(select.having.as_mut());
    } else {
        return exprs;
    }
    if let Some(OrderBy {
        kind: OrderByKind::Expressions(order),
        ..
    }) = &mut query.order_by
    {
        exprs.extend(order.iter_mut().map(|o| &mut o.expr));
    }
    exprs
}

/// Gives aggregates that differ only by casts in their arguments
/// (`sum(x)`, `sum(x::float8)`) distinct names: DataFusion names a cast
/// after its operand, so both would be `sum(x)` in the aggregation's
/// schema, which must not hold a name twice. The casts in such calls'
/// arguments are wrapped in `tw_named_cast`, named after the cast itself
/// and removed again by the optimizer.
fn distinct_aggregate_names(query: &mut Query) {
    let mut calls: HashMap<String, Vec<String>> = HashMap::new();
    for e in aggregate_clauses(query) {
        for_each_outer_expr(e, |e| {
            if is_aggregate_call(e) {
                let texts = calls.entry(datafusion_name_key(e)).or_default();
                let text = e.to_string();
                if !texts.contains(&text) {
                    texts.push(text);
                }
            }
        });
    }
    let colliding: Vec<String> = calls
        .into_values()
        .filter(|texts| texts.len() > 1)
        .flatten()
        .collect();
    if colliding.is_empty() {
        return;
    }
    for e in aggregate_clauses(query) {
        for_each_outer_expr(e, |e| {
            if is_aggregate_call(e) && colliding.contains(&e.to_string()) {
                for_each_outer_expr(e, |arg| {
                    if matches!(arg, Expr::Cast { .. }) {
                        let cast = std::mem::replace(arg, Expr::value(Value::Null));
                        *arg = Expr::Function(Function {
                            name: ObjectName::from(vec![Ident::new(NAMED_CAST)]),
                            uses_odbc_syntax: false,
                            parameters: FunctionArguments::None,
                            args: FunctionArguments::List(FunctionArgumentList {
                                duplicate_treatment: None,
                                args: vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(cast))],
                                clauses: vec![],
                            }),
                            filter: None,
                            null_treatment: None,
                            over: None,
                            within_group: vec![],
                        });
                    }
                });
            }
        });
    }
}

/// Gives colliding unaliased select items distinct aliases (their Postgres
/// names, suffixed where needed), and aggregates that differ only by casts
/// distinct names ([`distinct_aggregate_names`]). Postgres allows two
/// result columns with the same name; DataFusion does not.
struct DistinctSelectNames;

impl VisitorMut for DistinctSelectNames {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        distinct_aggregate_names(query);
        ControlFlow::Continue(())
    }

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
        // An alias that another result column also shows (`SELECT a AS c,
        // 10 AS c`, `SELECT col1, col0 AS col1 FROM t`): legal in Postgres,
        // a duplicate or ambiguous name to DataFusion. It gets an internal
        // alias, shown as the alias again.
        let shown: Vec<Option<String>> = select
            .projection
            .iter()
            .map(|item| match item {
                SelectItem::UnnamedExpr(e) => {
                    Some(figure_colname(e).unwrap_or_else(|| "?column?".to_string()))
                }
                SelectItem::ExprWithAlias { alias, .. } => Some(normalize(alias)),
                _ => None,
            })
            .collect();
        for (k, item) in select.projection.iter_mut().enumerate() {
            let SelectItem::ExprWithAlias { alias, .. } = item else {
                continue;
            };
            let name = normalize(alias);
            let others = shown
                .iter()
                .enumerate()
                .filter(|(j, n)| *j != k && n.as_deref() == Some(name.as_str()))
                .count();
            if others > 0 {
                *alias = Ident::with_quote('"', format!("{INTERNAL_ALIAS_PREFIX}{k}_{name}"));
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
        // A cast names a column after its operand, unless that is only a
        // type name; CASE after its ELSE.
        assert_eq!(
            names("SELECT 1.5::float8::int, a::text::int, CASE WHEN a THEN 1 ELSE b END FROM t"),
            Some(vec![
                Some("int4".into()),
                Some("a".into()),
                Some("b".into())
            ])
        );
        assert_eq!(names("SELECT * FROM t"), None);
    }
}
