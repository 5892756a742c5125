//! Casts whose meaning differs between Postgres and Arrow: text to `bytea`
//! parses Postgres's bytea input syntax (`'\x0102'` is two bytes) instead
//! of taking the text's UTF-8 bytes. Runs after analysis (which adds the
//! casts of type coercion) and before the optimizer folds constants.

use arrow::datatypes::DataType;
use datafusion_common::Result;
use datafusion_common::tree_node::{Transformed, TransformedResult};
use datafusion_expr::expr::ScalarFunction;
use datafusion_expr::{Expr, ExprSchemable, LogicalPlan};
use tidewater_runtime::functions::bytea::ByteaIn;

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Rewrites text-to-bytea casts throughout a plan.
///
/// # Errors
///
/// Only internal errors of the tree traversal.
pub fn rewrite_pg_casts(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|p| {
        super::rewrite_node_expressions(p, |e, schema| match e {
            Expr::Cast(c)
                if c.field.data_type() == &DataType::Binary
                    && c.expr.get_type(schema).is_ok_and(|t| is_text(&t)) =>
            {
                Ok(Transformed::yes(Expr::ScalarFunction(
                    ScalarFunction::new_udf(ByteaIn::udf(), vec![*c.expr]),
                )))
            }
            other => Ok(Transformed::no(other)),
        })
    })
    .data()
}
