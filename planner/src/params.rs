//! The types of a query's `$n` parameters, as Postgres infers them.
//!
//! DataFusion types a placeholder from its context in comparisons,
//! arithmetic, `IN`, `BETWEEN` and `LIKE`, and from the types a client
//! declared (these are set on the placeholders when the query is planned).
//! Postgres also types a parameter from:
//!
//! - a cast directly around it: `$1::int4` is an `int4` parameter;
//! - an array comparison: in `x = ANY($1)` (planned as
//!   `array_has($1, x)`) and `x > ALL($1)` (comparisons with
//!   `array_min($1)` / `array_max($1)`), `$1` is an array of `x`'s type.
//!
//! A placeholder's own type (declared, or inferred by DataFusion) wins over
//! these; the first occurrence of a parameter that gives a type decides.

use std::collections::HashMap;

use arrow::datatypes::DataType;
use datafusion_common::DFSchema;
use datafusion_common::Result;
use datafusion_common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion_expr::expr::{Cast, Placeholder, ScalarFunction, TryCast};
use datafusion_expr::utils::merge_schema;
use datafusion_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator};

/// The type of each parameter of `plan` (by id, `$1`), `None` when
/// nothing gives it one.
///
/// # Errors
///
/// Only internal errors of the plan traversal.
pub(crate) fn parameter_types(plan: &LogicalPlan) -> Result<HashMap<String, Option<DataType>>> {
    let mut types: HashMap<String, Option<DataType>> = HashMap::new();
    // Parameters of table functions in FROM (typed when planned).
    for (id, ty) in crate::table_functions::placeholder_types(plan) {
        let known = types.entry(id).or_default();
        if known.is_none() {
            *known = ty;
        }
    }
    // The placeholders' own types first.
    plan.apply_with_subqueries(|p| {
        p.apply_expressions(|e| {
            e.apply(|e| {
                if let Expr::Placeholder(Placeholder { id, field }) = e {
                    let known = types.entry(id.clone()).or_default();
                    if known.is_none() {
                        *known = field.as_ref().map(|f| f.data_type().clone());
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })?;
    // Then what their context says about the others.
    plan.apply_with_subqueries(|p| {
        let schema = merge_schema(&p.inputs());
        p.apply_expressions(|e| {
            e.apply(|e| {
                if let Some((id, ty)) = context_type(e, &schema) {
                    let known = types.entry(id.to_string()).or_default();
                    if known.is_none() {
                        *known = Some(ty);
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })?;
    Ok(types)
}

/// A placeholder without a type of its own.
fn untyped(e: &Expr) -> Option<&str> {
    match e {
        Expr::Placeholder(Placeholder { id, field: None }) => Some(id),
        _ => None,
    }
}

/// The untyped placeholder that is the array argument of `name(array, ...)`.
fn array_argument<'e>(e: &'e Expr, names: &[&str]) -> Option<&'e str> {
    match e {
        Expr::ScalarFunction(ScalarFunction { func, args }) if names.contains(&func.name()) => {
            untyped(args.first()?)
        }
        _ => None,
    }
}

fn list_of(e: &Expr, schema: &DFSchema) -> Option<DataType> {
    match e.get_type(schema).ok()? {
        DataType::Null => None,
        t => Some(DataType::new_list(t, true)),
    }
}

/// The parameter `e` gives a type to, and that type.
fn context_type<'e>(e: &'e Expr, schema: &DFSchema) -> Option<(&'e str, DataType)> {
    match e {
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
            Some((untyped(expr)?, field.data_type().clone()))
        }
        Expr::ScalarFunction(ScalarFunction { func, args })
            if func.name() == "array_has" && args.len() == 2 =>
        {
            Some((untyped(&args[0])?, list_of(&args[1], schema)?))
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op:
                Operator::Eq
                | Operator::NotEq
                | Operator::Lt
                | Operator::LtEq
                | Operator::Gt
                | Operator::GtEq,
            right,
        }) => {
            let bounds = ["array_min", "array_max"];
            if let Some(id) = array_argument(left, &bounds) {
                Some((id, list_of(right, schema)?))
            } else {
                Some((array_argument(right, &bounds)?, list_of(left, schema)?))
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::Field;
    use datafusion_expr::{cast, col, lit, placeholder};
    use datafusion_functions_nested::expr_fn::{array_has, array_min};

    use super::*;

    fn filtered(predicate: Expr) -> LogicalPlan {
        crate::rules::test_plans::scan(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("name", DataType::Utf8, true),
        ])
        .filter(predicate)
        .unwrap()
        .build()
        .unwrap()
    }

    #[test]
    fn types_from_casts_and_array_comparisons() {
        let typed = Expr::Placeholder(Placeholder::new_with_field(
            "$4".into(),
            Some(Arc::new(Field::new("", DataType::Float64, true))),
        ));
        let plan = filtered(
            cast(placeholder("$1"), DataType::Int64)
                .eq(col("id"))
                .and(array_has(placeholder("$2"), col("name")))
                .and(array_min(placeholder("$3")).lt(col("id")))
                // The placeholder's own type wins over the cast.
                .and(cast(typed, DataType::Int32).eq(col("id")))
                .and(cast(placeholder("$4"), DataType::Int32).eq(col("id")))
                .and(placeholder("$5").is_null()),
        );
        let types = parameter_types(&plan).unwrap();
        let expected = [
            ("$1", Some(DataType::Int64)),
            ("$2", Some(DataType::new_list(DataType::Utf8, true))),
            ("$3", Some(DataType::new_list(DataType::Int32, true))),
            ("$4", Some(DataType::Float64)),
            ("$5", None),
        ];
        assert_eq!(types.len(), expected.len(), "{types:?}");
        for (id, ty) in expected {
            assert_eq!(types[id], ty, "{id}");
        }
        // A literal's type is not a parameter's.
        let plan = filtered(cast(lit("7"), DataType::Int32).eq(col("id")));
        assert!(parameter_types(&plan).unwrap().is_empty());
    }
}
