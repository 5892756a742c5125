//! Tidewater's own logical optimizer rules, and the rule list: DataFusion's
//! default rules with ours inserted where they belong. Also the rewrites
//! that run before analysis or between analysis and optimization (each
//! module says when), the checks of where aggregates and window functions
//! may appear ([`clause_checks`]), and the optimizer's configuration
//! ([`optimizer_config`]).

use std::sync::Arc;

use datafusion_common::tree_node::{Transformed, TreeNode};
use datafusion_common::{DFSchema, Result};
use datafusion_expr::expr_rewriter::NamePreserver;
use datafusion_expr::utils::merge_schema;
use datafusion_expr::{Expr, LogicalPlan};
use datafusion_optimizer::optimizer::Optimizer;

pub mod array_literal;
pub mod clause_checks;
pub mod decorrelate;
pub mod in_subquery_select;
pub mod int4_literals;
pub mod optimizer_config;
pub mod pg_arithmetic;
pub mod pg_casts;
pub mod pg_semantics;

/// The optimizer used for every query.
pub fn optimizer() -> Optimizer {
    let mut optimizer = Optimizer::new();
    // Right after DataFusion's scalar subquery rule, which handles the
    // subqueries it can and leaves the others for ours.
    let position = optimizer
        .rules
        .iter()
        .position(|r| r.name() == "scalar_subquery_to_join")
        .map_or(0, |p| p + 1);
    optimizer
        .rules
        .insert(position, Arc::new(decorrelate::DecorrelateScalarSubqueries));
    // First: the joins it builds are then optimized like any other.
    optimizer
        .rules
        .insert(0, Arc::new(in_subquery_select::InSubqueryInSelect));
    optimizer
}

/// Rewrites the expressions of one plan node bottom-up with `rewrite`,
/// which is given the merged schema of the node's inputs. The expressions
/// it changes keep their output names (a sort's expressions name no column
/// and gain no aliases).
///
/// # Errors
///
/// Those of `rewrite`.
pub(crate) fn rewrite_node_expressions(
    node: LogicalPlan,
    rewrite: impl Fn(Expr, &DFSchema) -> Result<Transformed<Expr>>,
) -> Result<Transformed<LogicalPlan>> {
    let schema = merge_schema(&node.inputs());
    let preserver = NamePreserver::new(&node);
    let restore_names = !matches!(node, LogicalPlan::Sort(_));
    node.map_expressions(|e| {
        let saved = preserver.save(&e);
        let rewritten = e.transform_up(|e| rewrite(e, &schema))?;
        Ok(if rewritten.transformed && restore_names {
            rewritten.update_data(|e| saved.restore(e))
        } else {
            rewritten
        })
    })
}

/// Plans to test rewrites on.
#[cfg(test)]
pub(crate) mod test_plans {
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion_expr::{Expr, LogicalPlan, LogicalPlanBuilder};

    /// A scan of table `t` with `fields`.
    pub(crate) fn scan(fields: Vec<Field>) -> LogicalPlanBuilder {
        let plan = datafusion_expr::logical_plan::table_scan(Some("t"), &Schema::new(fields), None)
            .unwrap()
            .build()
            .unwrap();
        LogicalPlanBuilder::from(plan)
    }

    /// `exprs` projected from a scan of table `t` with `fields`.
    pub(crate) fn projected(fields: Vec<Field>, exprs: Vec<Expr>) -> LogicalPlan {
        scan(fields).project(exprs).unwrap().build().unwrap()
    }

    /// The names of `plan`'s output columns.
    pub(crate) fn output_names(plan: &LogicalPlan) -> Vec<String> {
        plan.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// The types of `plan`'s output columns.
    pub(crate) fn output_types(plan: &LogicalPlan) -> Vec<DataType> {
        plan.schema()
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect()
    }
}
