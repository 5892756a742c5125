//! `x [NOT] IN (subquery)` outside `WHERE`: in the select list, where
//! DataFusion leaves it (its own rule only rewrites filters), with
//! Postgres's three-valued result.
//!
//! For an uncorrelated subquery `S` with one column `y`, a projection
//! `… x IN (S) …` over input `P` becomes a projection over
//!
//! ```text
//! (P CROSS JOIN (SELECT count(*) AS n, count(y) AS nn FROM S)) LEFT MARK JOIN S ON x = y
//! ```
//!
//! where the membership is
//!
//! ```text
//! CASE WHEN mark THEN true          -- x equals some y
//!      WHEN n = 0 THEN false        -- S is empty: false even for a NULL x
//!      WHEN x IS NULL OR nn < n THEN NULL   -- unknown: a NULL on either side
//!      ELSE false END
//! ```
//!
//! and `NOT IN` its negation (NOT NULL is NULL). Correlated subqueries are
//! left alone (and reported as unsupported when lowered).

use std::sync::Arc;

use datafusion_common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion_common::{Column, DFSchema, Result};
use datafusion_expr::expr::InSubquery;
use datafusion_expr::expr_rewriter::NamePreserver;
use datafusion_expr::logical_plan::{EmptyRelation, Projection, Subquery};
use datafusion_expr::{Expr, JoinType, LogicalPlan, LogicalPlanBuilder, lit, when};
use datafusion_functions_aggregate::expr_fn::count;
use datafusion_optimizer::optimizer::ApplyOrder;
use datafusion_optimizer::{OptimizerConfig, OptimizerRule};

/// The rule (see the module docs).
#[derive(Debug, Default)]
pub struct InSubqueryInSelect;

fn is_uncorrelated_in(e: &Expr) -> bool {
    matches!(e, Expr::InSubquery(InSubquery { subquery, .. }) if subquery.outer_ref_columns.is_empty())
}

fn has_uncorrelated_in(e: &Expr) -> bool {
    let mut found = false;
    let _ = e.apply(|e| {
        if is_uncorrelated_in(e) {
            found = true;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// Stands in for the input while it is moved into a join.
fn placeholder() -> LogicalPlan {
    LogicalPlan::EmptyRelation(EmptyRelation {
        produce_one_row: false,
        schema: Arc::new(DFSchema::empty()),
    })
}

/// Joins `outer` with what the membership of `x` in `subquery` needs, and
/// returns the plan with the expression that computes it.
fn membership(
    outer: LogicalPlan,
    x: Expr,
    subquery: &Subquery,
    negated: bool,
    config: &dyn OptimizerConfig,
) -> Result<(LogicalPlan, Expr)> {
    let alias = config.alias_generator().next("__tw_in");
    let values = LogicalPlanBuilder::from(Arc::unwrap_or_clone(Arc::clone(&subquery.subquery)))
        .alias(alias.as_str())?
        .build()?;
    let Some(first) = values.schema().columns().into_iter().next() else {
        return datafusion_common::plan_err!("IN (subquery) needs a subquery with one column");
    };
    let y = Expr::Column(first);
    let values = LogicalPlanBuilder::from(values)
        .project(vec![y.clone()])?
        .build()?;
    let stats_alias = config.alias_generator().next("__tw_in_stats");
    let stats = LogicalPlanBuilder::from(values.clone())
        .aggregate(
            Vec::<Expr>::new(),
            vec![count(lit(1)).alias("n"), count(y.clone()).alias("nn")],
        )?
        .alias(stats_alias.as_str())?
        .build()?;
    let n = Expr::Column(Column::new(Some(stats_alias.as_str()), "n"));
    let nn = Expr::Column(Column::new(Some(stats_alias.as_str()), "nn"));
    let plan = LogicalPlanBuilder::from(outer)
        .cross_join(stats)?
        .join_on(values, JoinType::LeftMark, vec![x.clone().eq(y)])?
        .build()?;
    let mark = Expr::Column(Column::new(Some(alias.as_str()), "mark"));
    let member = when(mark, lit(true))
        .when(n.clone().eq(lit(0i64)), lit(false))
        .when(
            x.is_null().or(nn.lt(n)),
            lit(datafusion_common::ScalarValue::Boolean(None)),
        )
        .otherwise(lit(false))?;
    Ok((plan, if negated { !member } else { member }))
}

impl OptimizerRule for InSubqueryInSelect {
    fn name(&self) -> &str {
        "tw_in_subquery_in_select"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Projection(projection) = plan else {
            return Ok(Transformed::no(plan));
        };
        if !projection.expr.iter().any(has_uncorrelated_in) {
            return Ok(Transformed::no(LogicalPlan::Projection(projection)));
        }
        let preserver = NamePreserver::new_for_projection();
        let Projection { expr, input, .. } = projection;
        let mut input = Arc::unwrap_or_clone(input);
        let mut exprs = Vec::with_capacity(expr.len());
        for e in expr {
            let saved = preserver.save(&e);
            let rewritten = e.transform_up(|e| match e {
                Expr::InSubquery(InSubquery {
                    expr,
                    subquery,
                    negated,
                }) if subquery.outer_ref_columns.is_empty() => {
                    let outer = std::mem::replace(&mut input, placeholder());
                    let (plan, member) = membership(outer, *expr, &subquery, negated, config)?;
                    input = plan;
                    Ok(Transformed::yes(member))
                }
                other => Ok(Transformed::no(other)),
            })?;
            exprs.push(saved.restore(rewritten.data));
        }
        let plan = LogicalPlanBuilder::from(input).project(exprs)?.build()?;
        Ok(Transformed::yes(plan))
    }
}
