//! Where aggregates and window functions may appear, checked on the
//! statement before DataFusion plans it, with Postgres's errors:
//!
//! - a window function in `WHERE`, `GROUP BY`, `HAVING` or a `JOIN ... ON`
//!   condition is error 42P20 ("window functions are not allowed in
//!   WHERE"), as is a window function inside another's arguments ("window
//!   function calls cannot be nested");
//! - an aggregate in `WHERE`, `GROUP BY` or a `JOIN ... ON` condition is
//!   error 42803 ("aggregate functions are not allowed in WHERE"), as is an
//!   aggregate inside another's arguments ("aggregate function calls cannot
//!   be nested").
//!
//! DataFusion would otherwise accept a window function in `WHERE` and fail
//! later with an internal description of the plan, or word these errors
//! its own way. A subquery is its own scope: `WHERE x IN (SELECT
//! row_number() OVER () ...)` is fine.

use std::ops::ControlFlow;

use datafusion_common::{DataFusionError, Result};
use sqlparser::ast::{
    Expr, Function, FunctionArguments, GroupByExpr, JoinConstraint, JoinOperator, Query, Select,
    SelectItem, Statement, Visit, Visitor,
};
use tidewater_runtime::functions::FunctionRegistry;

use crate::error::PlanError;

/// What a function call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallKind {
    Aggregate,
    Window,
}

fn call_kind(f: &Function) -> Option<CallKind> {
    if f.over.is_some() {
        return Some(CallKind::Window);
    }
    let name = f.name.to_string().to_lowercase();
    let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
    FunctionRegistry::shared()
        .find_aggregate(name)
        .map(|_| CallKind::Aggregate)
}

/// The first call of `kind` in `e`, outside subqueries.
struct FindCall {
    kind: CallKind,
    /// Subqueries entered.
    depth: usize,
}

impl Visitor for FindCall {
    type Break = ();

    fn pre_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        match e {
            Expr::Function(f) if self.depth == 0 && call_kind(f) == Some(self.kind) => {
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

fn contains_call(e: &Expr, kind: CallKind) -> bool {
    e.visit(&mut FindCall { kind, depth: 0 }).is_break()
}

/// Whether a call of `kind` has another of the same kind among its
/// arguments (outside subqueries).
struct FindNested {
    /// Subqueries entered.
    depth: usize,
    found: Option<CallKind>,
}

impl Visitor for FindNested {
    type Break = ();

    fn pre_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        let Expr::Function(f) = e else {
            return ControlFlow::Continue(());
        };
        let Some(kind) = call_kind(f).filter(|_| self.depth == 0) else {
            return ControlFlow::Continue(());
        };
        let FunctionArguments::List(list) = &f.args else {
            return ControlFlow::Continue(());
        };
        let nested = list.args.iter().any(|a| {
            let mut inner = FindCall { kind, depth: 0 };
            a.visit(&mut inner).is_break()
        });
        if nested {
            self.found = Some(kind);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }
}

fn join_condition(op: &JoinOperator) -> Option<&Expr> {
    let constraint = match op {
        JoinOperator::Join(c)
        | JoinOperator::Inner(c)
        | JoinOperator::Left(c)
        | JoinOperator::LeftOuter(c)
        | JoinOperator::Right(c)
        | JoinOperator::RightOuter(c)
        | JoinOperator::FullOuter(c)
        | JoinOperator::Semi(c)
        | JoinOperator::LeftSemi(c)
        | JoinOperator::RightSemi(c)
        | JoinOperator::Anti(c)
        | JoinOperator::LeftAnti(c)
        | JoinOperator::RightAnti(c) => c,
        _ => return None,
    };
    match constraint {
        JoinConstraint::On(e) => Some(e),
        _ => None,
    }
}

fn misplaced(kind: CallKind, clause: &str) -> PlanError {
    match kind {
        CallKind::Window => PlanError::new(
            "42P20",
            format!("window functions are not allowed in {clause}"),
        ),
        CallKind::Aggregate => PlanError::new(
            "42803",
            format!("aggregate functions are not allowed in {clause}"),
        ),
    }
}

/// Checks one `SELECT`'s clauses.
fn check_select(select: &Select) -> Result<(), PlanError> {
    let any = |exprs: &[&Expr], kind| exprs.iter().any(|e| contains_call(e, kind));
    let selection: Vec<&Expr> = select.selection.iter().collect();
    let having: Vec<&Expr> = select.having.iter().collect();
    let group_by: Vec<&Expr> = match &select.group_by {
        GroupByExpr::Expressions(exprs, _) => exprs.iter().collect(),
        GroupByExpr::All(_) => vec![],
    };
    let joins: Vec<&Expr> = select
        .from
        .iter()
        .flat_map(|t| &t.joins)
        .filter_map(|j| join_condition(&j.join_operator))
        .collect();
    for kind in [CallKind::Window, CallKind::Aggregate] {
        if any(&selection, kind) {
            return Err(misplaced(kind, "WHERE"));
        }
        if any(&group_by, kind) {
            return Err(misplaced(kind, "GROUP BY"));
        }
        if any(&joins, kind) {
            return Err(misplaced(kind, "JOIN conditions"));
        }
    }
    if any(&having, CallKind::Window) {
        return Err(misplaced(CallKind::Window, "HAVING"));
    }
    let items = select.projection.iter().filter_map(|i| match i {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
        _ => None,
    });
    for e in items.chain(select.having.iter()) {
        let mut nested = FindNested {
            depth: 0,
            found: None,
        };
        let _ = e.visit(&mut nested);
        match nested.found {
            Some(CallKind::Aggregate) => {
                return Err(PlanError::new(
                    "42803",
                    "aggregate function calls cannot be nested",
                ));
            }
            Some(CallKind::Window) => {
                return Err(PlanError::new(
                    "42P20",
                    "window function calls cannot be nested",
                ));
            }
            None => {}
        }
    }
    Ok(())
}

struct CheckSelects;

impl Visitor for CheckSelects {
    type Break = PlanError;

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<PlanError> {
        match check_select(select) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }
}

/// Checks every `SELECT` of a statement (see the module docs).
///
/// # Errors
///
/// 42P20 or 42803 for a misplaced window function or aggregate.
pub fn check_clauses(statement: &Statement) -> Result<()> {
    match statement.visit(&mut CheckSelects) {
        ControlFlow::Break(e) => Err(e.into()),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// Gives errors DataFusion's SQL planner raises about the clauses of a
/// query Postgres's SQLSTATE (42P10 for `DISTINCT ON` expressions that do
/// not lead the `ORDER BY`).
pub fn with_pg_sqlstate(e: DataFusionError) -> DataFusionError {
    const DISTINCT_ON: &str =
        "SELECT DISTINCT ON expressions must match initial ORDER BY expressions";
    fn plan_message(e: &DataFusionError) -> Option<&str> {
        match e {
            DataFusionError::Plan(m) => Some(m),
            DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => {
                plan_message(inner)
            }
            _ => None,
        }
    }
    if plan_message(&e).is_some_and(|m| m.starts_with(DISTINCT_ON)) {
        PlanError::new("42P10", DISTINCT_ON).into()
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(sql: &str) -> Option<String> {
        let statements = crate::parse_sql(sql).expect("parses");
        check_clauses(&statements[0]).err().map(|e| {
            let p = crate::find_plan_error(&e).expect("a plan error");
            format!("{}: {}", p.code, p.message)
        })
    }

    #[test]
    fn misplaced_window_functions_and_aggregates() {
        assert_eq!(
            check("SELECT a FROM t WHERE row_number() OVER () > 1").as_deref(),
            Some("42P20: window functions are not allowed in WHERE")
        );
        assert_eq!(
            check("SELECT a FROM t GROUP BY rank() OVER (ORDER BY a)").as_deref(),
            Some("42P20: window functions are not allowed in GROUP BY")
        );
        assert_eq!(
            check("SELECT count(*) FROM t HAVING row_number() OVER () > 1").as_deref(),
            Some("42P20: window functions are not allowed in HAVING")
        );
        assert_eq!(
            check("SELECT 1 FROM t JOIN u ON sum(t.a) = u.b").as_deref(),
            Some("42803: aggregate functions are not allowed in JOIN conditions")
        );
        assert_eq!(
            check("SELECT a FROM t WHERE max(a) > 1").as_deref(),
            Some("42803: aggregate functions are not allowed in WHERE")
        );
        assert_eq!(
            check("SELECT sum(sum(a)) FROM t").as_deref(),
            Some("42803: aggregate function calls cannot be nested")
        );
    }

    #[test]
    fn allowed_uses() {
        assert_eq!(
            check("SELECT a FROM t WHERE a IN (SELECT row_number() OVER () FROM u)"),
            None
        );
        assert_eq!(
            check("SELECT sum(sum(a)) OVER (), rank() OVER (ORDER BY count(*)) FROM t GROUP BY b"),
            None
        );
        assert_eq!(
            check("SELECT a FROM t GROUP BY a HAVING sum(a) > (SELECT max(b) FROM u)"),
            None
        );
    }
}
