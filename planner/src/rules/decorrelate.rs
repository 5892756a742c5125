//! Decorrelation of scalar subqueries that DataFusion's own rule leaves in
//! place: aggregates under correlation predicates that are not equalities,
//! such as `(SELECT count(*) FROM t AS x WHERE x.b < t.b)`.
//!
//! The rewrite follows the "domain" method of Neumann and Kemper
//! (Unnesting Arbitrary Queries, 2015). For a subquery of the form
//! `[Projection] <- Aggregate (no GROUP BY) <- Filter(p) <- I` whose outer
//! references are all columns of the enclosing node's input `P`:
//!
//! 1. the domain `D` is the distinct values of the referenced outer columns;
//! 2. `D LEFT JOIN I ON p[outer := D]` gives every domain value its inner
//!    rows (or one null-padded row), grouped by `D` to evaluate the
//!    aggregates once per domain value (constant aggregate arguments, as in
//!    `count(*)`, only count rows that matched, so an empty group counts 0);
//! 3. `P LEFT JOIN that ON P.outer IS NOT DISTINCT FROM D` attaches each
//!    row's value, which replaces the subquery expression.
//!
//! The result equals evaluating the subquery once per outer row, including
//! for NULL outer values. Subqueries of other shapes are left unchanged (and
//! reported as unsupported when lowered).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion_common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion_common::{Column, NullEquality, Result};
use datafusion_expr::expr::AggregateFunction;
use datafusion_expr::expr_rewriter::NamePreserver;
use datafusion_expr::logical_plan::{Aggregate, Filter, Projection, Subquery};
use datafusion_expr::utils::{conjunction, split_conjunction};
use datafusion_expr::{Expr, JoinType, LogicalPlan, LogicalPlanBuilder, col, lit, when};
use datafusion_optimizer::optimizer::ApplyOrder;
use datafusion_optimizer::{OptimizerConfig, OptimizerRule};
use tidewater_runtime::functions::scalar_subquery::ScalarSubqueryValue;

/// Names the relations this rule introduces.
static NEXT_ALIAS: AtomicUsize = AtomicUsize::new(0);

/// The rule (see the module docs).
#[derive(Debug, Default)]
pub struct DecorrelateScalarSubqueries;

fn has_outer_reference(e: &Expr) -> bool {
    e.exists(|e| Ok(matches!(e, Expr::OuterReferenceColumn(..))))
        .unwrap_or(false)
}

/// Correlated scalar subqueries directly in `e` (not inside other subqueries).
fn correlated_subqueries(e: &Expr) -> Vec<Subquery> {
    let mut found = Vec::new();
    let _ = e.apply(|e| {
        if let Expr::ScalarSubquery(s) = e {
            if !s.outer_ref_columns.is_empty() {
                found.push(s.clone());
            }
            return Ok(TreeNodeRecursion::Jump);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// Whether any expression of `plan` or below refers to an outer column.
fn plan_has_outer_reference(plan: &LogicalPlan) -> bool {
    plan.exists(|p| Ok(p.expressions().iter().any(has_outer_reference)))
        .unwrap_or(true)
}

/// Which subqueries a pass rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Subqueries that aggregate (`SELECT count(*) FROM ...`); run by the
    /// optimizer after DataFusion's own rule.
    Aggregate,
    /// Subqueries that select a column of at most one row (`SELECT name
    /// FROM t WHERE t.oid = outer.oid`); run before analysis, which rejects
    /// them.
    Rows,
}

/// The parts of a subquery this rule can decorrelate.
struct Shape<'a> {
    /// `[Projection] <- Aggregate`, or `None` for a rows subquery.
    aggregate: Option<&'a Aggregate>,
    /// The projection on top (required for a rows subquery).
    top: Option<&'a Projection>,
    /// Conjuncts of the filter under it.
    correlated: Vec<Expr>,
    uncorrelated: Vec<Expr>,
    /// The plan under the filter (no outer references).
    inner: &'a LogicalPlan,
}

fn match_shape(plan: &LogicalPlan, mode: Mode) -> Option<Shape<'_>> {
    let mut plan = plan;
    let top = match plan {
        LogicalPlan::Projection(p) if p.expr.len() == 1 => {
            plan = p.input.as_ref();
            Some(p)
        }
        _ => None,
    };
    let aggregate = match (mode, plan) {
        (Mode::Aggregate, LogicalPlan::Aggregate(agg)) => {
            if !agg.group_expr.is_empty() || (top.is_none() && agg.aggr_expr.len() != 1) {
                return None;
            }
            plan = agg.input.as_ref();
            Some(agg)
        }
        (Mode::Rows, _) if top.is_some() => None,
        _ => return None,
    };
    let (correlated, uncorrelated, inner) = match plan {
        LogicalPlan::Filter(Filter {
            predicate, input, ..
        }) => {
            let (c, u): (Vec<Expr>, Vec<Expr>) = split_conjunction(predicate)
                .into_iter()
                .cloned()
                .partition(has_outer_reference);
            (c, u, input.as_ref())
        }
        other => (Vec::new(), Vec::new(), other),
    };
    // Without correlated conjuncts, only an aggregate whose projection
    // refers to the outer row qualifies (`x > ALL (...)` rewrites to such).
    let outer_in_top = top.is_some_and(|p| has_outer_reference(&p.expr[0]));
    if (correlated.is_empty() && !(aggregate.is_some() && outer_in_top))
        || plan_has_outer_reference(inner)
        || aggregate.is_some_and(|a| a.aggr_expr.iter().any(has_outer_reference))
    {
        return None;
    }
    Some(Shape {
        aggregate,
        top,
        correlated,
        uncorrelated,
        inner,
    })
}

/// The decorrelated form of one subquery: the new input of the enclosing
/// node and the expression that replaces the subquery.
fn decorrelate(
    input: &LogicalPlan,
    subquery: &Subquery,
    mode: Mode,
) -> Result<Option<(LogicalPlan, Expr)>> {
    // Outer references must all be columns of this node's input.
    let mut outer: Vec<Column> = Vec::new();
    for e in &subquery.outer_ref_columns {
        let Expr::OuterReferenceColumn(_, c) = e else {
            return Ok(None);
        };
        if !input.schema().has_column(c) {
            return Ok(None);
        }
        if !outer.contains(c) {
            outer.push(c.clone());
        }
    }
    let Some(shape) = match_shape(subquery.subquery.as_ref(), mode) else {
        return Ok(None);
    };
    if shape.correlated.is_empty() {
        return attach_uncorrelated_aggregate(input, &shape).map(Some);
    }

    let n = NEXT_ALIAS.fetch_add(1, Ordering::Relaxed);
    let domain_alias = format!("__tw_domain_{n}");
    let result_alias = format!("__tw_scalar_{n}");
    let mark = format!("__tw_mark_{n}");
    let value = format!("__tw_value_{n}");
    let domain_names: Vec<String> = (0..outer.len()).map(|k| format!("__tw_d{k}")).collect();
    let domain_col = |k: usize| {
        Expr::Column(Column::new(
            Some(domain_alias.as_str()),
            domain_names[k].as_str(),
        ))
    };
    let to_domain = |e: Expr| -> Result<Expr> {
        e.transform_up(|e| match e {
            Expr::OuterReferenceColumn(_, c) => {
                let k = outer.iter().position(|o| o == &c).unwrap_or(0);
                Ok(Transformed::yes(domain_col(k)))
            }
            other => Ok(Transformed::no(other)),
        })
        .data()
    };

    // 1. The domain: distinct outer values.
    let domain = LogicalPlanBuilder::from(input.clone())
        .aggregate(outer.iter().cloned().map(Expr::Column), Vec::<Expr>::new())?
        .project(
            outer
                .iter()
                .zip(&domain_names)
                .map(|(c, name)| Expr::Column(c.clone()).alias(name)),
        )?
        .alias(domain_alias.as_str())?
        .build()?;

    // 2. Inner rows per domain value.
    let mut inner = LogicalPlanBuilder::from(shape.inner.clone());
    if let Some(p) = conjunction(shape.uncorrelated) {
        inner = inner.filter(p)?;
    }
    let join_predicate =
        to_domain(conjunction(shape.correlated).expect("correlated conjuncts exist"))?;
    let grouped = match shape.aggregate {
        Some(agg) => {
            // Left join, with a marker of real matches: aggregates whose
            // arguments are all constants (count(*)) must not count the
            // null-padded row of a domain value without matches.
            let inner_schema = Arc::clone(inner.schema());
            let inner = inner
                .project(
                    inner_schema
                        .columns()
                        .into_iter()
                        .map(Expr::Column)
                        .chain(std::iter::once(lit(true).alias(mark.as_str()))),
                )?
                .build()?;
            let joined = LogicalPlanBuilder::from(domain).join_on(
                inner,
                JoinType::Left,
                [join_predicate],
            )?;
            let matched = col(mark.as_str()).is_not_null();
            let aggregates = agg
                .aggr_expr
                .iter()
                .zip(agg.schema.fields().iter().skip(agg.group_expr.len()))
                .map(|(e, field)| {
                    let rewritten = e
                        .clone()
                        .transform_up(|e| match e {
                            Expr::AggregateFunction(mut f)
                                if !f.params.args.is_empty()
                                    && f.params
                                        .args
                                        .iter()
                                        .all(|a| matches!(a, Expr::Literal(..))) =>
                            {
                                f.params.args = f
                                    .params
                                    .args
                                    .into_iter()
                                    .map(|a| when(matched.clone(), a).end())
                                    .collect::<Result<_>>()?;
                                Ok(Transformed::yes(Expr::AggregateFunction(
                                    AggregateFunction { ..f },
                                )))
                            }
                            other => Ok(Transformed::no(other)),
                        })
                        .data()?;
                    Ok(rewritten.unalias().alias(field.name()))
                })
                .collect::<Result<Vec<_>>>()?;
            let value_expr = match shape.top {
                Some(p) => to_domain(p.expr[0].clone().unalias())?,
                None => col(agg.schema.field(agg.group_expr.len()).name()),
            };
            (
                joined.aggregate((0..outer.len()).map(domain_col), aggregates)?,
                value_expr,
            )
        }
        None => {
            // Rows subquery: at most one row per domain value, or an error.
            let top = shape.top.expect("rows subqueries have a projection");
            let value_expr = to_domain(top.expr[0].clone().unalias())?;
            let joined = LogicalPlanBuilder::from(domain).join_on(
                inner.build()?,
                JoinType::Inner,
                [join_predicate],
            )?;
            let single = Expr::AggregateFunction(AggregateFunction::new_udf(
                ScalarSubqueryValue::udaf(),
                vec![value_expr],
                false,
                None,
                vec![],
                None,
            ))
            .alias(value.as_str());
            (
                joined.aggregate((0..outer.len()).map(domain_col), vec![single])?,
                col(value.as_str()),
            )
        }
    };
    let (grouped, value_expr) = grouped;
    let result = grouped
        .project(
            (0..outer.len())
                .map(|k| domain_col(k).alias(domain_names[k].as_str()))
                .chain(std::iter::once(value_expr.alias(value.as_str()))),
        )?
        .alias(result_alias.as_str())?
        .build()?;

    // 3. Attach each outer row's value.
    let right_keys: Vec<Column> = domain_names
        .iter()
        .map(|name| Column::new(Some(result_alias.as_str()), name.as_str()))
        .collect();
    let new_input = LogicalPlanBuilder::from(input.clone())
        .join_detailed(
            result,
            JoinType::Left,
            (outer.clone(), right_keys),
            None,
            NullEquality::NullEqualsNull,
        )?
        .build()?;
    let replacement = Expr::Column(Column::new(Some(result_alias.as_str()), value.as_str()));
    Ok(Some((new_input, replacement)))
}

/// An aggregate subquery whose rows do not depend on the outer row, but
/// whose projection does (`SELECT CASE WHEN x > max(v) ... FROM s`): the
/// aggregate is computed once and joined to every outer row, and the
/// projection is evaluated in the outer row's context.
fn attach_uncorrelated_aggregate(
    input: &LogicalPlan,
    shape: &Shape<'_>,
) -> Result<(LogicalPlan, Expr)> {
    let agg = shape.aggregate.expect("checked by match_shape");
    let top = shape.top.expect("checked by match_shape");
    let n = NEXT_ALIAS.fetch_add(1, Ordering::Relaxed);
    let alias = format!("__tw_aggregate_{n}");
    let mut inner = LogicalPlanBuilder::from(shape.inner.clone());
    if let Some(p) = conjunction(shape.uncorrelated.clone()) {
        inner = inner.filter(p)?;
    }
    let aggregated = inner
        .aggregate(Vec::<Expr>::new(), agg.aggr_expr.clone())?
        .alias(alias.as_str())?
        .build()?;
    let new_input = LogicalPlanBuilder::from(input.clone())
        .join_on(aggregated, JoinType::Inner, std::iter::empty::<Expr>())?
        .build()?;
    let replacement = top.expr[0]
        .clone()
        .unalias()
        .transform_up(|e| match e {
            Expr::OuterReferenceColumn(_, c) => Ok(Transformed::yes(Expr::Column(c))),
            Expr::Column(c) if c.relation.is_none() => Ok(Transformed::yes(Expr::Column(
                Column::new(Some(alias.as_str()), c.name),
            ))),
            other => Ok(Transformed::no(other)),
        })
        .data()?;
    Ok((new_input, replacement))
}

/// Decorrelates the subqueries of `exprs` over `input` that `mode` covers;
/// `None` when there was none.
fn rewrite_exprs(
    input: &LogicalPlan,
    exprs: &[Expr],
    mode: Mode,
) -> Result<Option<(LogicalPlan, Vec<Expr>)>> {
    let mut input = input.clone();
    let mut exprs = exprs.to_vec();
    let mut changed = false;
    let subqueries: Vec<Subquery> = exprs.iter().flat_map(correlated_subqueries).collect();
    for subquery in subqueries {
        let Some((new_input, replacement)) = decorrelate(&input, &subquery, mode)? else {
            continue;
        };
        changed = true;
        input = new_input;
        exprs = exprs
            .into_iter()
            .map(|e| {
                e.transform_up(|e| match e {
                    Expr::ScalarSubquery(s) if s == subquery => {
                        Ok(Transformed::yes(replacement.clone()))
                    }
                    other => Ok(Transformed::no(other)),
                })
                .data()
            })
            .collect::<Result<_>>()?;
    }
    Ok(changed.then_some((input, exprs)))
}

/// Rewrites the subqueries of one Filter or Projection node.
fn rewrite_node(plan: LogicalPlan, mode: Mode) -> Result<Transformed<LogicalPlan>> {
    match &plan {
        LogicalPlan::Filter(f) if !correlated_subqueries(&f.predicate).is_empty() => {
            let Some((input, exprs)) =
                rewrite_exprs(&f.input, std::slice::from_ref(&f.predicate), mode)?
            else {
                return Ok(Transformed::no(plan));
            };
            let predicate = exprs.into_iter().next().expect("one predicate");
            let filtered = LogicalPlanBuilder::from(input).filter(predicate)?;
            // Keep the original columns for the nodes above.
            let restored = filtered
                .project(f.input.schema().columns().into_iter().map(Expr::Column))?
                .build()?;
            Ok(Transformed::yes(restored))
        }
        LogicalPlan::Projection(p)
            if p.expr.iter().any(|e| !correlated_subqueries(e).is_empty()) =>
        {
            let preserver = NamePreserver::new(&plan);
            let saved: Vec<_> = p.expr.iter().map(|e| preserver.save(e)).collect();
            let Some((input, exprs)) = rewrite_exprs(&p.input, &p.expr, mode)? else {
                return Ok(Transformed::no(plan));
            };
            let exprs: Vec<Expr> = exprs
                .into_iter()
                .zip(saved)
                .map(|(e, name)| name.restore(e))
                .collect();
            Ok(Transformed::yes(LogicalPlan::Projection(
                Projection::try_new(exprs, Arc::new(input))?,
            )))
        }
        _ => Ok(Transformed::no(plan)),
    }
}

/// Decorrelates the scalar subqueries that select a row rather than
/// aggregate ([`Mode::Rows`]). Runs before analysis: DataFusion's analyzer
/// rejects such subqueries.
///
/// # Errors
///
/// Planning errors while building the joins.
pub fn decorrelate_row_subqueries(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_down_with_subqueries(|p| rewrite_node(p, Mode::Rows))
        .data()
}

impl OptimizerRule for DecorrelateScalarSubqueries {
    fn name(&self) -> &str {
        "tidewater_decorrelate_scalar_subqueries"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        rewrite_node(plan, Mode::Aggregate)
    }
}
