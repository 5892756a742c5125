//! Postgres array literals: `'{0}'` compared with (or cast to) an array is
//! an array value, not text. Clients' catalog queries do this (`polroles =
//! '{0}'`). Runs before analysis, when the other side's type is known and
//! the literal is still text.

use arrow::array::{ArrayRef, StringArray};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::DataType;
use datafusion_common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion_common::{DFSchema, Result, ScalarValue};
use datafusion_expr::utils::merge_schema;
use datafusion_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan};
use std::sync::Arc;

/// Splits the text of a Postgres array literal (`{a,"b c",NULL}`) into its
/// elements; `None` if it is not one. Nested arrays are not supported.
pub(crate) fn parse_array_literal(text: &str) -> Option<Vec<Option<String>>> {
    let inner = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut elements = Vec::new();
    if inner.trim().is_empty() {
        return Some(elements);
    }
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            loop {
                match chars.next()? {
                    '\\' => value.push(chars.next()?),
                    '"' => break,
                    c => value.push(c),
                }
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if c == '{' || c == '"' {
                    return None;
                }
                value.push(c);
                chars.next();
            }
            value = value.trim().to_string();
        }
        elements.push(if !quoted && value.eq_ignore_ascii_case("null") {
            None
        } else {
            Some(value)
        });
        match chars.next() {
            None => return Some(elements),
            Some(',') => continue,
            Some(_) => return None,
        }
    }
}

/// An array value of `element` type from a Postgres array literal.
fn array_value(text: &str, element: &DataType) -> Option<ScalarValue> {
    let items = parse_array_literal(text)?;
    let strings: ArrayRef = Arc::new(StringArray::from(items));
    let values = cast_with_options(
        &strings,
        element,
        &CastOptions {
            safe: false,
            ..Default::default()
        },
    )
    .ok()?;
    let scalars = (0..values.len())
        .map(|i| ScalarValue::try_from_array(&values, i))
        .collect::<Result<Vec<_>>>()
        .ok()?;
    Some(ScalarValue::List(ScalarValue::new_list_nullable(
        &scalars, element,
    )))
}

fn list_element(t: &DataType) -> Option<&DataType> {
    match t {
        DataType::List(f) | DataType::LargeList(f) => Some(f.data_type()),
        _ => None,
    }
}

fn rewrite_expr(e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    // A text literal next to the array `other` as an array of its element
    // type (the type of `other` is looked up only next to a text literal).
    let beside_array = |e: &Expr, other: &Expr| match e {
        Expr::Literal(ScalarValue::Utf8(Some(text)), _) => {
            let other = other.get_type(schema).ok()?;
            array_value(text, list_element(&other)?)
        }
        _ => None,
    };
    e.transform_up(|e| match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            if let Some(v) = beside_array(&right, &left) {
                return Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                    left,
                    op,
                    Box::new(Expr::Literal(v, None)),
                ))));
            }
            if let Some(v) = beside_array(&left, &right) {
                return Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(Expr::Literal(v, None)),
                    op,
                    right,
                ))));
            }
            Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr {
                left,
                op,
                right,
            })))
        }
        Expr::Cast(c) => {
            let array = match c.expr.as_ref() {
                Expr::Literal(ScalarValue::Utf8(Some(text)), _) => {
                    list_element(c.field.data_type()).and_then(|el| array_value(text, el))
                }
                _ => None,
            };
            Ok(match array {
                Some(v) => Transformed::yes(Expr::Literal(v, None)),
                None => Transformed::no(Expr::Cast(c)),
            })
        }
        other => Ok(Transformed::no(other)),
    })
}

/// Rewrites array literals throughout a plan (see the module docs).
///
/// # Errors
///
/// Only internal errors of the tree traversal.
pub fn rewrite_array_literals(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|p| {
        let inputs = p.inputs();
        if inputs.is_empty() {
            return Ok(Transformed::no(p));
        }
        let schema = merge_schema(&inputs);
        p.map_expressions(|e| rewrite_expr(e, &schema))
    })
    .data()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_array_literals() {
        assert_eq!(parse_array_literal("{}"), Some(vec![]));
        assert_eq!(
            parse_array_literal(r#"{1, "a,b" ,NULL,"NULL",x\y}"#),
            Some(vec![
                Some("1".into()),
                Some("a,b".into()),
                None,
                Some("NULL".into()),
                Some(r"x\y".into())
            ])
        );
        assert_eq!(parse_array_literal("1,2"), None);
        assert_eq!(
            array_value("{0}", &DataType::Int32),
            Some(ScalarValue::List(ScalarValue::new_list_nullable(
                &[ScalarValue::Int32(Some(0))],
                &DataType::Int32
            )))
        );
    }
}
