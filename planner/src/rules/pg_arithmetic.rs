//! Arithmetic and integer casts with Postgres's errors, in the plan.
//!
//! Checked arithmetic itself happens where expressions are evaluated: the
//! workers give every physical expression Postgres's `+ - * /`, unary
//! minus and `abs` ([`CheckedArithmetic::apply_to`]). The logical plan keeps
//! DataFusion's operators (which the optimizer handles in time about the
//! square of their depth, where function calls cost the cube), except for
//! what the optimizer would otherwise compute itself with wrapping
//! arithmetic, constants:
//!
//! - an operation on literals of one checked type is folded with checked
//!   arithmetic, bottom up, so `1 + 1 + ... + 1` becomes one literal at the
//!   cost of reading it;
//! - any other constant expression with arithmetic in it is evaluated as a
//!   worker would ([`CheckedArithmetic::evaluate_constant`]);
//! - a constant that fails (`2147483647 + 1`, `1.0 / 0`) keeps its
//!   arithmetic as calls of the checked functions, which DataFusion does
//!   not fold, so the statement fails when it runs, as in Postgres;
//! - casts to an integer type from a float, a decimal or a wider integer
//!   type become the functions of
//!   [`tidewater_runtime::functions::int_cast`] (round half away from zero
//!   instead of truncating; 22003 instead of 22P02).
//!
//! Folded expressions keep their names, so the plan's columns do not change.

use datafusion_common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion_common::{DFSchema, Result, ScalarValue};
use datafusion_expr::execution_props::ExecutionProps;
use datafusion_expr::expr::ScalarFunction;
use datafusion_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator, Volatility};
use tidewater_runtime::functions::arithmetic::{
    ArithmeticOp, CheckedArithmetic, is_checked_type, is_integer,
};
use tidewater_runtime::functions::int_cast::ToInteger;

fn call(op: ArithmeticOp, args: Vec<Expr>) -> Expr {
    Expr::ScalarFunction(ScalarFunction::new_udf(CheckedArithmetic::udf(op), args))
}

fn checked_op(op: Operator) -> Option<ArithmeticOp> {
    match op {
        Operator::Plus => Some(ArithmeticOp::Add),
        Operator::Minus => Some(ArithmeticOp::Subtract),
        Operator::Multiply => Some(ArithmeticOp::Multiply),
        Operator::Divide => Some(ArithmeticOp::Divide),
        _ => None,
    }
}

/// Folds `op` over literal operands with checked arithmetic: the result's
/// literal, or a call of the checked function when the operation fails.
fn fold(op: ArithmeticOp, args: Vec<ScalarValue>) -> Expr {
    match CheckedArithmetic::evaluate_scalars(op, &args) {
        Ok(v) => Expr::Literal(v, None),
        Err(_) => call(
            op,
            args.into_iter().map(|a| Expr::Literal(a, None)).collect(),
        ),
    }
}

/// A literal of a type checked arithmetic handles.
fn checked_literal(e: &Expr) -> Option<&ScalarValue> {
    match e {
        Expr::Literal(v, None) if is_checked_type(&v.data_type()) => Some(v),
        _ => None,
    }
}

/// Rewrites one expression node (its children are already rewritten):
/// literal arithmetic and integer casts.
fn rewrite_expr(e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    Ok(match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            match (
                checked_op(op),
                checked_literal(&left),
                checked_literal(&right),
            ) {
                (Some(checked), Some(l), Some(r)) if l.data_type() == r.data_type() => {
                    Transformed::yes(fold(checked, vec![l.clone(), r.clone()]))
                }
                _ => Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op, right })),
            }
        }
        Expr::Negative(inner) => match checked_literal(&inner) {
            Some(v) if is_integer(&v.data_type()) => {
                Transformed::yes(fold(ArithmeticOp::Negate, vec![v.clone()]))
            }
            _ => Transformed::no(Expr::Negative(inner)),
        },
        Expr::Cast(c) => {
            let target = c.field.data_type();
            match c.expr.get_type(schema).ok() {
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

/// What a subexpression is, for constant folding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Depends on rows, parameters or the moment of evaluation.
    Variable,
    /// Constant; `arithmetic` when DataFusion would fold it differently
    /// from Postgres.
    Constant {
        /// It has checked arithmetic in it.
        arithmetic: bool,
    },
}

/// The kind of a node by itself (its children aside).
fn own_kind(e: &Expr) -> Kind {
    match e {
        Expr::Column(_)
        | Expr::OuterReferenceColumn(..)
        | Expr::Placeholder(_)
        | Expr::ScalarVariable(..)
        | Expr::AggregateFunction(_)
        | Expr::WindowFunction(_)
        | Expr::ScalarSubquery(_)
        | Expr::Exists(_)
        | Expr::InSubquery(_)
        | Expr::Unnest(_)
        | Expr::GroupingSet(_) => Kind::Variable,
        Expr::ScalarFunction(f) if f.func.signature().volatility != Volatility::Immutable => {
            Kind::Variable
        }
        Expr::BinaryExpr(b) => Kind::Constant {
            arithmetic: checked_op(b.op).is_some(),
        },
        Expr::Negative(_) => Kind::Constant { arithmetic: true },
        _ => Kind::Constant { arithmetic: false },
    }
}

/// Folds the constant parts of `e` that have arithmetic in them (see the
/// module docs), bottom up, each node visited once. Returns the kind of
/// the whole expression; a constant one is left to the caller.
fn fold_constants(e: Expr, schema: &DFSchema, props: &ExecutionProps) -> Result<(Expr, Kind)> {
    let mut kinds = Vec::new();
    let e = e
        .map_children(|c| {
            let (c, kind) = fold_constants(c, schema, props)?;
            kinds.push(kind);
            Ok(Transformed::no(c))
        })?
        .data;
    let children_constant = kinds.iter().all(|k| *k != Kind::Variable);
    match own_kind(&e) {
        Kind::Constant { arithmetic } if children_constant => {
            let any = arithmetic || kinds.contains(&Kind::Constant { arithmetic: true });
            Ok((e, Kind::Constant { arithmetic: any }))
        }
        _ => {
            let mut next = kinds.into_iter();
            let e = e
                .map_children(|c| match next.next() {
                    Some(Kind::Constant { arithmetic: true }) => {
                        Ok(Transformed::yes(evaluate_constant(c, schema, props)?))
                    }
                    _ => Ok(Transformed::no(c)),
                })?
                .data;
            Ok((e, Kind::Variable))
        }
    }
}

/// A constant expression with arithmetic, evaluated as a worker would; one
/// that fails keeps its arithmetic as checked calls.
fn evaluate_constant(e: Expr, schema: &DFSchema, props: &ExecutionProps) -> Result<Expr> {
    if let Ok(v) = CheckedArithmetic::evaluate_constant(&e, props) {
        return Ok(Expr::Literal(v, None));
    }
    e.transform_up(|e| match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let same_checked = checked_op(op).filter(|_| {
                matches!(
                    (left.get_type(schema), right.get_type(schema)),
                    (Ok(l), Ok(r)) if l == r && is_checked_type(&l)
                )
            });
            Ok(match same_checked {
                Some(c) => Transformed::yes(call(c, vec![*left, *right])),
                None => Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op, right })),
            })
        }
        Expr::Negative(inner) if inner.get_type(schema).is_ok_and(|t| is_integer(&t)) => {
            Ok(Transformed::yes(call(ArithmeticOp::Negate, vec![*inner])))
        }
        other => Ok(Transformed::no(other)),
    })
    .data()
}

/// [`fold_constants`] of a whole expression of a plan node.
fn evaluate_constants(
    e: Expr,
    schema: &DFSchema,
    props: &ExecutionProps,
) -> Result<Transformed<Expr>> {
    // Aliases name what they hold: fold below them.
    if let Expr::Alias(a) = e {
        return Ok(
            evaluate_constants(*a.expr, schema, props)?.update_data(|inner| {
                Expr::Alias(datafusion_expr::expr::Alias {
                    expr: Box::new(inner),
                    ..a
                })
            }),
        );
    }
    let (folded, kind) = fold_constants(e, schema, props)?;
    Ok(match kind {
        Kind::Constant { arithmetic: true } => {
            Transformed::yes(evaluate_constant(folded, schema, props)?)
        }
        _ => Transformed::yes(folded),
    })
}

/// Applies the rewrite to every expression of an analyzed plan.
///
/// # Errors
///
/// Only internal errors of the tree traversal.
pub fn rewrite_pg_arithmetic(plan: LogicalPlan, props: &ExecutionProps) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|p| {
        let folded = super::rewrite_node_expressions(p, rewrite_expr)?;
        folded.transform_data(|p| {
            super::rewrite_node_expressions(p, |e, schema| evaluate_constants(e, schema, props))
        })
    })
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
    fn literals_fold_checked_and_casts_round() {
        let plan = projected(vec![
            col("a") + col("b"),
            lit(1) + lit(2) * lit(3),
            lit(i32::MAX) + lit(1),
            -lit(5),
            cast(lit(2), DataType::Int16) + lit(3i16),
            lit(1.0) / lit(0.0),
            cast(col("f"), DataType::Int16),
            cast(col("a"), DataType::Int64),
            col("t"),
        ]);
        let names = output_names(&plan);
        let rewritten = rewrite_pg_arithmetic(plan, &ExecutionProps::new()).unwrap();
        assert_eq!(
            function_names(&rewritten),
            [
                // Columns stay operators: workers check them.
                "t.a + t.b",
                "Int32(7) AS Int32(1) + Int32(2) * Int32(3)",
                // A failing fold fails when evaluated.
                "tw_checked_add",
                "Int32(-5) AS (- Int32(5))",
                // Other constants are evaluated as workers would.
                "Int16(5) AS Int32(2) + Int16(3)",
                "tw_checked_div",
                "tw_to_int2",
                // Widening casts and other types keep Arrow's meaning.
                "CAST(t.a AS Int64)",
                "t.t",
            ]
        );
        assert_eq!(output_names(&rewritten), names);
    }

    #[test]
    fn a_long_literal_chain_folds_in_one_pass() {
        // On a thread with a stack for the depth, as the server plans on.
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(|| {
                let chain = (0..3_000).fold(lit(0i64), |acc, _| acc + lit(1i64));
                let plan = projected(vec![chain]);
                let rewritten = rewrite_pg_arithmetic(plan, &ExecutionProps::new()).unwrap();
                assert_eq!(
                    function_names(&rewritten)[0].split(" AS ").next(),
                    Some("Int64(3000)")
                );
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
