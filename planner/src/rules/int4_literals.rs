//! Integer literals are `int4` in Postgres when they fit, `int8` when
//! they do not: `SELECT 1` is `integer`, `1 / 2` is integer division,
//! `2147483647 + 1` is 22003 "integer out of range", and `id * 2` over an
//! `integer` column is `integer`. DataFusion types every integer literal as
//! `Int64`; this rule, run on the bound query before type coercion, gives
//! each literal that fits the type Postgres gives it.
//!
//! A parameter the client gave no type is likewise `int4` next to such a
//! literal (`10 / $1`, `$1 = 1`), where DataFusion would make it `int8`.
//!
//! The rewrite is one pass over the expressions, constant work per node
//! (no type is computed), so a long chain of literals costs no more than
//! reading it. `VALUES` lists keep the types they were planned with, and
//! `LIMIT` / `OFFSET` take their counts as `bigint`.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field};
use datafusion_common::tree_node::{Transformed, TransformedResult};
use datafusion_common::{Result, ScalarValue};
use datafusion_expr::expr::Placeholder;
use datafusion_expr::{BinaryExpr, Expr, LogicalPlan, Operator};

/// Types integer literals (and undeclared parameters next to them) as
/// Postgres does, throughout a plan. `declared` are the parameter types
/// the client declared (`$1` first); those parameters keep their type.
///
/// # Errors
///
/// Errors of recomputing the schemas of rewritten plan nodes.
pub fn type_int4_literals(plan: LogicalPlan, declared: &[Option<DataType>]) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|p| {
        if matches!(p, LogicalPlan::Values(_) | LogicalPlan::Limit(_)) {
            return Ok(Transformed::no(p));
        }
        // Names are kept (`count(*)` is `count(Int64(1))`, and the nodes
        // above refer to it by that name).
        let rewritten = super::rewrite_node_expressions(p, |e, _| rewrite(e, declared))?;
        if rewritten.transformed {
            rewritten.map_data(LogicalPlan::recompute_schema)
        } else {
            Ok(rewritten)
        }
    })
    .data()
}

/// One node, its children rewritten already.
fn rewrite(e: Expr, declared: &[Option<DataType>]) -> Result<Transformed<Expr>> {
    match e {
        Expr::Literal(ScalarValue::Int64(Some(v)), metadata) => match i32::try_from(v) {
            Ok(v) => Ok(Transformed::yes(Expr::Literal(
                ScalarValue::Int32(Some(v)),
                metadata,
            ))),
            Err(_) => Ok(Transformed::no(Expr::Literal(
                ScalarValue::Int64(Some(v)),
                metadata,
            ))),
        },
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if typing_operator(op) => {
            let mut retyped = false;
            let mut int4_parameter = |side: Box<Expr>, other: &Expr| match *side {
                Expr::Placeholder(p) if is_int4_literal(other) && !is_declared(&p.id, declared) => {
                    retyped = true;
                    Box::new(Expr::Placeholder(Placeholder::new_with_field(
                        p.id,
                        Some(Arc::new(Field::new("", DataType::Int32, true))),
                    )))
                }
                other => Box::new(other),
            };
            let left = int4_parameter(left, &right);
            let right = int4_parameter(right, &left);
            let e = Expr::BinaryExpr(BinaryExpr { left, op, right });
            Ok(if retyped {
                Transformed::yes(e)
            } else {
                Transformed::no(e)
            })
        }
        other => Ok(Transformed::no(other)),
    }
}

/// Arithmetic and comparisons: a parameter takes the type of the literal
/// on the other side.
fn typing_operator(op: Operator) -> bool {
    matches!(
        op,
        Operator::Plus
            | Operator::Minus
            | Operator::Multiply
            | Operator::Divide
            | Operator::Modulo
            | Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
    )
}

/// Whether the client declared a type for parameter `id` (`$1`).
fn is_declared(id: &str, declared: &[Option<DataType>]) -> bool {
    id.strip_prefix('$')
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| declared.get(n.checked_sub(1)?))
        .is_some_and(Option::is_some)
}

/// An `int4` literal (after the rewrite).
fn is_int4_literal(e: &Expr) -> bool {
    matches!(e, Expr::Literal(ScalarValue::Int32(Some(_)), _))
}

#[cfg(test)]
mod tests {
    use datafusion_expr::{col, lit, placeholder};

    use super::*;
    use crate::rules::test_plans::{self, output_names, output_types};

    fn projected(exprs: Vec<Expr>) -> LogicalPlan {
        test_plans::projected(
            vec![
                Field::new("a", DataType::Int32, true),
                Field::new("s", DataType::Int16, true),
                Field::new("b", DataType::Int64, true),
            ],
            exprs,
        )
    }

    #[test]
    fn integer_literals_are_int4_when_they_fit() {
        let plan = projected(vec![
            col("a") + lit(1i64),
            lit(2i64) * col("s"),
            col("a") + lit(3_000_000_000i64),
            col("b") + lit(1i64),
            col("a").eq(lit(1i64)),
            (col("a") + lit(1i64)) * lit(2i64),
        ]);
        let names = output_names(&plan);
        let rewritten = type_int4_literals(plan, &[]).unwrap();
        assert_eq!(output_names(&rewritten), names, "names are kept");
        assert_eq!(
            output_types(&rewritten),
            [
                DataType::Int32,
                DataType::Int32,
                DataType::Int64,
                DataType::Int64,
                DataType::Boolean,
                DataType::Int32,
            ]
        );
        let literals = projected(vec![lit(1i64), lit(3_000_000_000i64), lit(-2147483648i64)]);
        assert_eq!(
            output_types(&type_int4_literals(literals, &[]).unwrap()),
            [DataType::Int32, DataType::Int64, DataType::Int32]
        );
    }

    fn typed(id: &str, ty: DataType) -> Expr {
        Expr::Placeholder(Placeholder::new_with_field(
            id.into(),
            Some(Arc::new(Field::new("", ty, true))),
        ))
    }

    #[test]
    fn undeclared_parameters_next_to_constants_are_int4() {
        // As DataFusion types them: like the constant.
        let plan = projected(vec![
            lit(10i64) / typed("$1", DataType::Int64),
            typed("$2", DataType::Int64).eq(lit(1i64)),
            typed("$3", DataType::Int64) + lit(1i64),
            placeholder("$4") + col("b"),
        ]);
        let declared = [None, None, Some(DataType::Int64)];
        let rewritten = type_int4_literals(plan, &declared).unwrap();
        assert_eq!(
            output_types(&rewritten),
            [
                DataType::Int32,
                DataType::Boolean,
                DataType::Int64,
                DataType::Int64
            ]
        );
        let params = crate::params::parameter_types(&rewritten).unwrap();
        assert_eq!(params["$1"], Some(DataType::Int32));
        assert_eq!(params["$2"], Some(DataType::Int32));
        assert_eq!(params["$3"], Some(DataType::Int64));
    }
}
