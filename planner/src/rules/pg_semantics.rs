//! Places where DataFusion's plan differs from Postgres's meaning, fixed in
//! the logical plan before analysis:
//!
//! - an uncorrelated scalar subquery that may return more than one row is
//!   wrapped in an aggregate that returns its single value, NULL when it
//!   has none and error 21000 when it has more ("more than one row returned
//!   by a subquery used as an expression");
//! - the merged column of a `FULL` or `RIGHT JOIN ... USING (c)` is
//!   `COALESCE(left.c, right.c)`, not the left side's column.

use std::sync::Arc;

use datafusion_common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion_common::{Column, Result};
use datafusion_expr::expr::{AggregateFunction, Alias};
use datafusion_expr::logical_plan::{Join, JoinConstraint, Subquery};
use datafusion_expr::{Expr, JoinType, LogicalPlan, LogicalPlanBuilder};
use tidewater_runtime::functions::scalar_subquery::ScalarSubqueryValue;

/// Wraps a subquery's plan so that it returns at most one row.
fn single_row(subquery: &Subquery) -> Result<Subquery> {
    let plan = subquery.subquery.as_ref();
    let (qualifier, field) = plan.schema().qualified_field(0);
    let value = Expr::AggregateFunction(AggregateFunction::new_udf(
        ScalarSubqueryValue::udaf(),
        vec![Expr::Column(Column::new(qualifier.cloned(), field.name()))],
        false,
        None,
        vec![],
        None,
    ))
    .alias(field.name());
    let wrapped = LogicalPlanBuilder::from(plan.clone())
        .aggregate(Vec::<Expr>::new(), vec![value])?
        .build()?;
    Ok(Subquery {
        subquery: Arc::new(wrapped),
        outer_ref_columns: subquery.outer_ref_columns.clone(),
        spans: subquery.spans.clone(),
    })
}

fn may_return_many_rows(plan: &LogicalPlan) -> bool {
    plan.max_rows().is_none_or(|n| n > 1)
}

/// The projection that gives a `USING` join's merged columns Postgres's
/// values.
fn merge_using_columns(join: &Join) -> Result<Option<LogicalPlan>> {
    if join.join_constraint != JoinConstraint::Using
        || !matches!(join.join_type, JoinType::Full | JoinType::Right)
    {
        return Ok(None);
    }
    let pairs: Vec<(Column, Column)> = join
        .on
        .iter()
        .filter_map(|(l, r)| match (l, r) {
            (Expr::Column(l), Expr::Column(r)) => Some((l.clone(), r.clone())),
            _ => None,
        })
        .collect();
    if pairs.is_empty() {
        return Ok(None);
    }
    let exprs = join
        .schema
        .iter()
        .map(|(qualifier, field)| {
            let column = Column::new(qualifier.cloned(), field.name());
            match pairs.iter().find(|(l, _)| *l == column) {
                Some((l, r)) => Expr::Alias(Alias::new(
                    datafusion_functions::core::expr_fn::coalesce(vec![
                        Expr::Column(l.clone()),
                        Expr::Column(r.clone()),
                    ]),
                    qualifier.cloned(),
                    field.name(),
                )),
                None => Expr::Column(column),
            }
        })
        .collect::<Vec<_>>();
    Ok(Some(
        LogicalPlanBuilder::from(LogicalPlan::Join(join.clone()))
            .project(exprs)?
            .build()?,
    ))
}

/// Applies the rewrites of this module to a plan.
///
/// # Errors
///
/// Planning errors while building the new nodes.
pub fn apply_pg_semantics(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|p| {
        let p = p.map_expressions(|e| {
            e.transform_up(|e| match e {
                Expr::ScalarSubquery(s)
                    if s.outer_ref_columns.is_empty() && may_return_many_rows(&s.subquery) =>
                {
                    Ok(Transformed::yes(Expr::ScalarSubquery(single_row(&s)?)))
                }
                other => Ok(Transformed::no(other)),
            })
        })?;
        match &p.data {
            LogicalPlan::Join(join) => match merge_using_columns(join)? {
                Some(projected) => Ok(Transformed::yes(projected)),
                None => Ok(p),
            },
            _ => Ok(p),
        }
    })
    .data()
}
