//! Integer constants are `int4` in Postgres when they fit, so arithmetic
//! between an `int4` (or `int2`) value and such a constant is `int4`:
//! `$1::int4 + 1` and `id * 2` are `integer`. DataFusion types every
//! integer constant as `Int64` and the arithmetic as `Int64`.
//!
//! Likewise a parameter the client gave no type is `int4` next to such a
//! constant (`10 / $1`, `$1 = 1`), where DataFusion would make it `int8`.
//!
//! The arithmetic is kept in `Int64` and its result cast to `Int32`, so
//! that a result out of range is an error (as Postgres's "integer out of
//! range") instead of wrapping around. Runs on the planned query, before
//! its result types are described, and keeps the names of rewritten
//! expressions.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field};
use datafusion_common::tree_node::{Transformed, TransformedResult};
use datafusion_common::{DFSchema, Result, ScalarValue};
use datafusion_expr::expr::Placeholder;
use datafusion_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator, cast};

/// Types `int4` arithmetic with integer constants, and parameters next to
/// them, as `int4` throughout a plan. `declared` are the parameter types
/// the client declared (`$1` first); those parameters keep their type.
///
/// # Errors
///
/// Errors of recomputing the schemas of rewritten plan nodes.
pub fn type_int4_arithmetic(
    plan: LogicalPlan,
    declared: &[Option<DataType>],
) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|p| {
        // A VALUES list keeps the types it was planned with.
        if matches!(p, LogicalPlan::Values(_)) {
            return Ok(Transformed::no(p));
        }
        let rewritten =
            super::rewrite_node_expressions(p, |e, schema| rewrite(e, schema, declared))?;
        if rewritten.transformed {
            rewritten.map_data(LogicalPlan::recompute_schema)
        } else {
            Ok(rewritten)
        }
    })
    .data()
}

/// `int4 op constant` (or `constant op int4`) as `CAST(... AS int4)`,
/// after typing an undeclared parameter operand as `int4`.
fn rewrite(e: Expr, schema: &DFSchema, declared: &[Option<DataType>]) -> Result<Transformed<Expr>> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e else {
        return Ok(Transformed::no(e));
    };
    let arithmetic = matches!(
        op,
        Operator::Plus | Operator::Minus | Operator::Multiply | Operator::Divide | Operator::Modulo
    );
    let comparison = matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
    );
    let mut retyped = false;
    let (left, right) = if arithmetic || comparison {
        let mut int4_parameter = |side: Box<Expr>, other: &Expr| match *side {
            Expr::Placeholder(p) if is_int4_constant(other) && !is_declared(&p.id, declared) => {
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
        (left, right)
    } else {
        (left, right)
    };
    let int4 = |e: &Expr| {
        e.get_type(schema)
            .is_ok_and(|t| matches!(t, DataType::Int32 | DataType::Int16))
    };
    let applies = arithmetic
        && ((int4(&left) && is_int4_constant(&right)) || (is_int4_constant(&left) && int4(&right)));
    let e = Expr::BinaryExpr(BinaryExpr { left, op, right });
    if applies {
        Ok(Transformed::yes(cast(e, DataType::Int32)))
    } else if retyped {
        Ok(Transformed::yes(e))
    } else {
        Ok(Transformed::no(e))
    }
}

/// Whether the client declared a type for parameter `id` (`$1`).
fn is_declared(id: &str, declared: &[Option<DataType>]) -> bool {
    id.strip_prefix('$')
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| declared.get(n.checked_sub(1)?))
        .is_some_and(Option::is_some)
}

/// An `Int64` constant in `int4`'s range.
fn is_int4_constant(e: &Expr) -> bool {
    matches!(e, Expr::Literal(ScalarValue::Int64(Some(v)), _) if i32::try_from(*v).is_ok())
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
    fn int4_arithmetic_with_constants_is_int4() {
        let plan = projected(vec![
            col("a") + lit(1i64),
            lit(2i64) * col("s"),
            col("a") + lit(3_000_000_000i64),
            col("b") + lit(1i64),
            col("a").eq(lit(1i64)),
            (col("a") + lit(1i64)) * lit(2i64),
        ]);
        let names = output_names(&plan);
        let rewritten = type_int4_arithmetic(plan, &[]).unwrap();
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
        assert_eq!(output_names(&rewritten), names, "names are kept");
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
        let rewritten = type_int4_arithmetic(plan, &declared).unwrap();
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
