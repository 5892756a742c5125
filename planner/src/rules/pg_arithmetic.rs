//! Arithmetic and integer casts with Postgres's errors. After analysis
//! (when type coercion has given both operands of an operator one type),
//! this rewrite replaces
//!
//! - `a + b`, `a - b`, `a * b` and `a / b` over `smallint`, `integer`,
//!   `bigint`, `real` or `double precision`, unary minus and `abs()` over
//!   the integer types with the checked functions of
//!   [`tidewater_runtime::functions::arithmetic`] (22003 "integer out of
//!   range" instead of a wrapped result, 22012 for a float division by
//!   zero instead of infinity);
//! - casts to an integer type from a float, a decimal or a wider integer
//!   type with those of [`tidewater_runtime::functions::int_cast`] (round
//!   half away from zero instead of truncating; 22003 instead of 22P02).
//!
//! The functions are named as the expressions they replace, so the plan's
//! column names do not change. Runs before the optimizer, so that constant
//! folding evaluates the checked functions too.

use datafusion_common::tree_node::{Transformed, TransformedResult};
use datafusion_common::{DFSchema, Result};
use datafusion_expr::expr::ScalarFunction;
use datafusion_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator};
use tidewater_runtime::functions::arithmetic::{
    ArithmeticOp, CheckedArithmetic, is_checked_type, is_integer,
};
use tidewater_runtime::functions::int_cast::ToInteger;

fn call(op: ArithmeticOp, args: Vec<Expr>) -> Expr {
    Expr::ScalarFunction(ScalarFunction::new_udf(CheckedArithmetic::udf(op), args))
}

/// Rewrites one expression node (its children are already rewritten).
fn rewrite_expr(e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let type_of = |e: &Expr| e.get_type(schema).ok();
    Ok(match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let checked = match op {
                Operator::Plus => Some(ArithmeticOp::Add),
                Operator::Minus => Some(ArithmeticOp::Subtract),
                Operator::Multiply => Some(ArithmeticOp::Multiply),
                Operator::Divide => Some(ArithmeticOp::Divide),
                _ => None,
            };
            match (checked, type_of(&left), type_of(&right)) {
                (Some(checked), Some(l), Some(r)) if l == r && is_checked_type(&l) => {
                    Transformed::yes(call(checked, vec![*left, *right]))
                }
                _ => Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op, right })),
            }
        }
        Expr::Negative(inner) if type_of(&inner).is_some_and(|t| is_integer(&t)) => {
            Transformed::yes(call(ArithmeticOp::Negate, vec![*inner]))
        }
        Expr::ScalarFunction(f)
            if f.name() == "abs"
                && f.args.len() == 1
                && type_of(&f.args[0]).is_some_and(|t| is_integer(&t)) =>
        {
            Transformed::yes(call(ArithmeticOp::Abs, f.args))
        }
        Expr::Cast(c) => {
            let target = c.field.data_type();
            match type_of(&c.expr) {
                Some(from) if ToInteger::handles(&from, target) => match ToInteger::udf(target) {
                    Some(udf) => Transformed::yes(Expr::ScalarFunction(ScalarFunction::new_udf(
                        udf,
                        vec![*c.expr],
                    ))),
                    None => Transformed::no(Expr::Cast(c)),
                },
                _ => Transformed::no(Expr::Cast(c)),
            }
        }
        other => Transformed::no(other),
    })
}

/// Applies the rewrite to every expression of an analyzed plan.
///
/// # Errors
///
/// Only internal errors of the tree traversal.
pub fn rewrite_pg_arithmetic(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|p| super::rewrite_node_expressions(p, rewrite_expr))
        .data()
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, Field};
    use datafusion_expr::{cast, col, lit};

    use super::*;
    use crate::rules::test_plans::{self, output_names};

    fn projected(exprs: Vec<Expr>) -> LogicalPlan {
        test_plans::projected(
            vec![
                Field::new("a", DataType::Int32, true),
                Field::new("b", DataType::Int32, true),
                Field::new("f", DataType::Float64, true),
                Field::new("t", DataType::Utf8, true),
            ],
            exprs,
        )
    }

    fn function_names(plan: &LogicalPlan) -> Vec<String> {
        plan.expressions()
            .iter()
            .map(|e| match e {
                Expr::ScalarFunction(f) => f.name().to_string(),
                Expr::Alias(a) => match a.expr.as_ref() {
                    Expr::ScalarFunction(f) => format!("{} AS {}", f.name(), a.name),
                    other => format!("{other} AS {}", a.name),
                },
                other => other.to_string(),
            })
            .collect()
    }

    #[test]
    fn checked_functions_replace_operators_and_keep_names() {
        let plan = projected(vec![
            col("a") + col("b"),
            -col("a"),
            col("f") / lit(2.0),
            cast(col("f"), DataType::Int16),
            cast(col("a"), DataType::Int64),
            col("t"),
        ]);
        let names = output_names(&plan);
        let rewritten = rewrite_pg_arithmetic(plan).unwrap();
        assert_eq!(
            function_names(&rewritten),
            [
                "tw_checked_add",
                "tw_checked_neg",
                "tw_checked_div",
                "tw_to_int2",
                // Widening casts and other types keep Arrow's meaning.
                "CAST(t.a AS Int64)",
                "t.t",
            ]
        );
        assert_eq!(output_names(&rewritten), names);
    }
}
