//! Table functions: set-returning functions called in `FROM`
//! (`FROM generate_series(1, 10) AS s(i)`).
//!
//! DataFusion's SQL planner hands each call to
//! [`ContextProvider::get_table_function_source`] with its arguments planned
//! as expressions; [`resolve`] folds them to constants and answers a
//! [`TableFunctionSource`], which the lowering turns into a runtime node
//! (`generate_series` becomes a [`NodeKind::Series`] source). Arguments
//! must be constant (literals, casts, functions of constants such as
//! `array_upper(current_schemas(false), 1)`) or parameters (`$1`), which
//! are resolved when the statement is bound ([`bind_parameters`]); a
//! column reference is an error 0A000, as is a set-returning function
//! Tidewater does not have as a table function yet.
//!
//! `generate_series(start, stop [, step])` follows Postgres:
//! `integer`/`bigint` arguments give an `integer` column when all are
//! `integer` and a `bigint` one otherwise; `timestamp` and `timestamptz`
//! with an `interval` step give that timestamp type. A NULL argument gives
//! no rows; a zero step is an error 22023.
//!
//! [`ContextProvider::get_table_function_source`]: datafusion_expr::planner::ContextProvider::get_table_function_source
//! [`NodeKind::Series`]: tidewater_runtime::plan::NodeKind::Series

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion_common::tree_node::TreeNode;
use datafusion_common::{DFSchema, DataFusionError, Result, ScalarValue};
use datafusion_expr::simplify::SimplifyContext;
use datafusion_expr::{Expr, LogicalPlan, TableSource, TableType};
use datafusion_optimizer::simplify_expressions::ExprSimplifier;
use tidewater_runtime::pgtypes::{format_type, pg_type_of_field};
use tidewater_runtime::series::SeriesSpec;

use crate::error::PlanError;

/// What a table function call produces.
#[derive(Debug, Clone, PartialEq)]
pub enum TableFunctionCall {
    /// `generate_series`; `None` when an argument is NULL (no rows).
    Series(Option<SeriesSpec>),
    /// A call with parameters among its arguments: resolved when the
    /// statement is bound to parameter values ([`bind_parameters`]). The
    /// arguments are constants and placeholders typed as the call needs.
    Parameterized(Vec<Expr>),
}

/// A table function call as DataFusion sees it: a table whose rows the
/// lowering produces.
#[derive(Debug)]
pub struct TableFunctionSource {
    /// The function's name.
    pub name: String,
    /// The result columns (named after the function, as in Postgres).
    pub schema: SchemaRef,
    /// What to produce.
    pub call: TableFunctionCall,
}

impl TableSource for TableFunctionSource {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }
}

/// Table functions Tidewater has.
const TABLE_FUNCTIONS: &[&str] = &["generate_series"];

/// Set-returning functions of Postgres that are not table functions here
/// yet (a clearer error than "does not exist").
const OTHER_SET_RETURNING: &[&str] = &[
    "generate_subscripts",
    "_pg_expandarray",
    "regexp_matches",
    "regexp_split_to_table",
    "json_each",
    "json_each_text",
    "jsonb_each",
    "jsonb_each_text",
    "json_array_elements",
    "jsonb_array_elements",
    "json_object_keys",
    "jsonb_object_keys",
    "pg_get_keywords",
    "pg_options_to_table",
];

/// Whether the table function `name` (lower case) returns one column, so
/// that a bare alias names it (`generate_series(1, 3) AS g`).
pub(crate) fn returns_one_column(name: &str) -> bool {
    TABLE_FUNCTIONS.contains(&name)
}

/// Resolves a table function call `name(args)`.
///
/// # Errors
///
/// An unknown function (42883), a set-returning function that is not a
/// table function yet or a non-constant argument (0A000), arguments of
/// the wrong types (42883), a zero step (22023).
pub fn resolve(name: &str, args: Vec<Expr>) -> Result<Arc<dyn TableSource>> {
    let name = name.trim_matches('"').to_string();
    let lower = name.to_lowercase();
    if !TABLE_FUNCTIONS.contains(&lower.as_str()) {
        if OTHER_SET_RETURNING.contains(&lower.as_str()) {
            return Err(PlanError::feature_not_supported(format!(
                "{lower}() in FROM is not supported yet"
            ))
            .into());
        }
        return Err(PlanError::new(
            "42883",
            format!("function {name}() does not exist or is not a table function"),
        )
        .into());
    }
    if args.iter().any(has_placeholder) {
        return parameterized(lower, args);
    }
    let values = args
        .into_iter()
        .map(|a| constant(&lower, a))
        .collect::<Result<Vec<_>>>()?;
    let (data_type, call) = generate_series(&values)?;
    Ok(Arc::new(TableFunctionSource {
        schema: Arc::new(Schema::new(vec![Field::new(&lower, data_type, true)])),
        name: lower,
        call,
    }))
}

fn has_placeholder(e: &Expr) -> bool {
    e.exists(|e| Ok(matches!(e, Expr::Placeholder(_))))
        .unwrap_or(false)
}

/// A call with parameters: its column type comes from the types of its
/// arguments (an untyped parameter takes the type of the other integer
/// arguments, `integer` when there are none, as Postgres infers it; an
/// untyped third argument of a timestamp series is an `interval`), and
/// the placeholders are given those types so that clients see them.
fn parameterized(name: String, args: Vec<Expr>) -> Result<Arc<dyn TableSource>> {
    use datafusion_expr::expr::Placeholder;
    let known: Vec<Option<ScalarValue>> = args
        .iter()
        .map(|a| match a {
            Expr::Placeholder(Placeholder { field: Some(f), .. }) => {
                ScalarValue::try_from(f.data_type()).ok()
            }
            Expr::Placeholder(_) => None,
            // `$1::bigint`: a parameter of the cast's type.
            Expr::Cast(c) if has_placeholder(&c.expr) => {
                ScalarValue::try_from(c.field.data_type()).ok()
            }
            other => constant(&name, other.clone()).ok(),
        })
        .collect();
    let is_parameter = |a: &Expr| matches!(a, Expr::Placeholder(_)) || has_placeholder(a);
    let timestamps = known
        .iter()
        .flatten()
        .any(|v| matches!(v.data_type(), DataType::Timestamp(..) | DataType::Date32));
    // `bigint` when a typed argument is, or a constant does not fit an
    // `integer` (constants are `bigint` to DataFusion until typed later).
    let big = args.iter().zip(&known).any(|(a, v)| match (a, v) {
        (a, Some(v)) if is_parameter(a) => v.data_type() == DataType::Int64,
        (_, Some(v)) => v
            .cast_to(&DataType::Int64)
            .ok()
            .and_then(|v| match v {
                ScalarValue::Int64(Some(i)) => Some(i32::try_from(i).is_err()),
                _ => None,
            })
            .unwrap_or(false),
        _ => false,
    });
    let integer = if big {
        DataType::Int64
    } else {
        DataType::Int32
    };
    let typed: Vec<DataType> = known
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Some(v) => v.data_type(),
            None if timestamps && i == 2 => {
                DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano)
            }
            None if timestamps => DataType::Timestamp(TimeUnit::Microsecond, None),
            None => integer.clone(),
        })
        .collect();
    // The column type is that of a call with representative values of
    // the argument types: constants as they are, a parameter as a value
    // of its type (one that needs a `bigint` for a `bigint`).
    let representative: Vec<ScalarValue> = args
        .iter()
        .zip(&known)
        .zip(&typed)
        .map(|((a, v), t)| match v {
            Some(v) if !is_parameter(a) => Ok(v.clone()),
            _ => representative_value(t),
        })
        .collect::<Result<_>>()?;
    let (data_type, _) = generate_series(&representative)?;
    let args = args
        .into_iter()
        .zip(&typed)
        .map(|(a, t)| {
            let typed = |id: String| {
                Expr::Placeholder(Placeholder::new_with_field(
                    id,
                    Some(Arc::new(Field::new("", t.clone(), true))),
                ))
            };
            match a {
                Expr::Placeholder(Placeholder { id, field: None }) => typed(id),
                // `$1::bigint`: the parameter is a `bigint` too.
                Expr::Cast(mut c)
                    if matches!(
                        c.expr.as_ref(),
                        Expr::Placeholder(Placeholder { field: None, .. })
                    ) =>
                {
                    if let Expr::Placeholder(Placeholder { id, .. }) = *c.expr {
                        c.expr = Box::new(typed(id));
                    }
                    Expr::Cast(c)
                }
                other => other,
            }
        })
        .collect();
    Ok(Arc::new(TableFunctionSource {
        schema: Arc::new(Schema::new(vec![Field::new(&name, data_type, true)])),
        name,
        call: TableFunctionCall::Parameterized(args),
    }))
}

/// A non-NULL value of type `t` standing for a parameter when the column
/// type of a call is figured: `bigint`'s does not fit an `integer`.
fn representative_value(t: &DataType) -> Result<ScalarValue> {
    match t {
        DataType::Int64 => Ok(ScalarValue::Int64(Some(i64::MAX))),
        DataType::Interval(_) => Ok(ScalarValue::new_interval_mdn(0, 1, 0)),
        DataType::Timestamp(_, tz) => Ok(ScalarValue::TimestampMicrosecond(Some(0), tz.clone())),
        other => ScalarValue::new_one(other),
    }
}

/// The placeholders of parameterized table function calls in `plan`, with
/// their types, for the parameter types a statement describes.
pub(crate) fn placeholder_types(plan: &LogicalPlan) -> Vec<(String, Option<DataType>)> {
    use datafusion_common::tree_node::TreeNodeRecursion;
    use datafusion_expr::expr::Placeholder;
    let mut out = Vec::new();
    let _ = plan.apply_with_subqueries(|p| {
        if let LogicalPlan::TableScan(scan) = p
            && let Some(source) = scan.source.downcast_ref::<TableFunctionSource>()
            && let TableFunctionCall::Parameterized(args) = &source.call
        {
            for a in args {
                let _ = a.apply(|e| {
                    if let Expr::Placeholder(Placeholder { id, field }) = e {
                        out.push((id.clone(), field.as_ref().map(|f| f.data_type().clone())));
                    }
                    Ok(TreeNodeRecursion::Continue)
                });
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    out
}

/// Resolves the parameterized table function calls of `plan` with the
/// parameter values (`$1` first), once a statement is bound.
///
/// # Errors
///
/// Those of [`resolve`] on the bound arguments, and a bound call whose
/// column type differs from the one described.
pub(crate) fn bind_parameters(plan: LogicalPlan, params: &[ScalarValue]) -> Result<LogicalPlan> {
    use datafusion_common::tree_node::{Transformed, TransformedResult};
    use datafusion_expr::expr::Placeholder;
    plan.transform_up_with_subqueries(|p| {
        let LogicalPlan::TableScan(scan) = &p else {
            return Ok(Transformed::no(p));
        };
        let Some(source) = scan.source.downcast_ref::<TableFunctionSource>() else {
            return Ok(Transformed::no(p));
        };
        let TableFunctionCall::Parameterized(args) = &source.call else {
            return Ok(Transformed::no(p));
        };
        let bound = args
            .iter()
            .map(|a| {
                a.clone()
                    .transform(|e| match e {
                        Expr::Placeholder(Placeholder { id, field }) => {
                            let value = id
                                .strip_prefix('$')
                                .and_then(|n| n.parse::<usize>().ok())
                                .and_then(|n| params.get(n.checked_sub(1)?))
                                .ok_or_else(|| {
                                    PlanError::new("08P01", format!("no value for parameter {id}"))
                                })?;
                            let value = match &field {
                                Some(f) => value.cast_to(f.data_type())?,
                                None => value.clone(),
                            };
                            Ok(Transformed::yes(Expr::Literal(value, None)))
                        }
                        other => Ok(Transformed::no(other)),
                    })
                    .data()
            })
            .collect::<Result<Vec<_>>>()?;
        let resolved = resolve(&source.name, bound)?;
        let Some(resolved) = resolved.downcast_ref::<TableFunctionSource>() else {
            return Err(DataFusionError::Internal(format!(
                "{}() did not resolve to a table function",
                source.name
            )));
        };
        // Bound values may fit a narrower integer column than the one the
        // parameters' types described: the described one stays.
        let same_kind = |a: &DataType, b: &DataType| a == b || (a.is_integer() && b.is_integer());
        let described = source.schema.field(0).data_type();
        if !same_kind(resolved.schema.field(0).data_type(), described) {
            return Err(PlanError::datatype_mismatch(format!(
                "the parameters of {}() give a column of another type than the one described",
                source.name
            ))
            .into());
        }
        let mut scan = scan.clone();
        scan.source = Arc::new(TableFunctionSource {
            name: source.name.clone(),
            schema: Arc::clone(&source.schema),
            call: resolved.call.clone(),
        });
        Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
    })
    .data()
}

/// Folds an argument to a constant.
fn constant(function: &str, arg: Expr) -> Result<ScalarValue> {
    let simplifier = ExprSimplifier::new(SimplifyContext::default());
    let empty = DFSchema::empty();
    let folded = simplifier
        .coerce(arg.clone(), &empty)
        .and_then(|e| simplifier.simplify(e));
    match folded {
        Ok(Expr::Literal(v, _)) => Ok(v),
        _ => Err(PlanError::feature_not_supported(format!(
            "the arguments of {function}() in FROM must be constants, not {arg}"
        ))
        .into()),
    }
}

fn wrong_arguments(values: &[ScalarValue]) -> DataFusionError {
    let types: Vec<String> = values
        .iter()
        .map(|v| {
            let field = Field::new("", v.data_type(), true);
            let (oid, typmod) = pg_type_of_field(&field);
            format_type(oid, Some(typmod))
        })
        .collect();
    PlanError::new(
        "42883",
        format!(
            "function generate_series({}) does not exist: it takes integers (start, stop [, step]) \
             or timestamps (start, stop, interval step)",
            types.join(", ")
        ),
    )
    .into()
}

fn zero_step() -> DataFusionError {
    PlanError::invalid_parameter("step size cannot equal zero").into()
}

/// The column type and call of `generate_series(values)`.
fn generate_series(values: &[ScalarValue]) -> Result<(DataType, TableFunctionCall)> {
    if !(2..=3).contains(&values.len()) {
        return Err(wrong_arguments(values));
    }
    let is_integer = |v: &ScalarValue| v.data_type().is_integer() || v.is_null();
    if values.iter().all(is_integer) && !values.iter().all(ScalarValue::is_null) {
        // Integer literals are `bigint` to DataFusion; Postgres types those
        // that fit as `integer`.
        let ints = values
            .iter()
            .map(|v| {
                if v.is_null() {
                    Ok(None)
                } else {
                    v.cast_to(&DataType::Int64).map(|v| match v {
                        ScalarValue::Int64(i) => i,
                        _ => None,
                    })
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let fits_int4 = |v: &ScalarValue, i: Option<i64>| {
            matches!(
                v.data_type(),
                DataType::Int8 | DataType::Int16 | DataType::Int32
            ) || v.is_null()
                || i.is_some_and(|i| i32::try_from(i).is_ok())
        };
        let int4 = values.iter().zip(&ints).all(|(v, i)| fits_int4(v, *i));
        let data_type = if int4 {
            DataType::Int32
        } else {
            DataType::Int64
        };
        let step = if values.len() == 3 { ints[2] } else { Some(1) };
        if step == Some(0) {
            return Err(zero_step());
        }
        let spec = match (ints[0], ints[1], step) {
            (Some(start), Some(stop), Some(step)) => {
                Some(SeriesSpec::Integers { start, stop, step })
            }
            _ => None,
        };
        return Ok((data_type, TableFunctionCall::Series(spec)));
    }
    let values = &coerce_untyped(values)?;
    let timestamp = |v: &ScalarValue| -> Option<(Option<i64>, Option<Arc<str>>)> {
        match v.data_type() {
            DataType::Timestamp(_, tz) => {
                match v.cast_to(&DataType::Timestamp(TimeUnit::Microsecond, tz.clone())) {
                    Ok(ScalarValue::TimestampMicrosecond(us, tz)) => Some((us, tz)),
                    _ => None,
                }
            }
            DataType::Date32 | DataType::Date64 => {
                match v.cast_to(&DataType::Timestamp(TimeUnit::Microsecond, None)) {
                    Ok(ScalarValue::TimestampMicrosecond(us, _)) => Some((us, None)),
                    _ => None,
                }
            }
            _ => None,
        }
    };
    let step = values.get(2).and_then(|v| match v {
        ScalarValue::IntervalMonthDayNano(i) => Some(i.map(|i| (i.months, i.days, i.nanoseconds))),
        ScalarValue::IntervalDayTime(i) => {
            Some(i.map(|i| (0, i.days, i64::from(i.milliseconds) * 1_000_000)))
        }
        ScalarValue::IntervalYearMonth(i) => Some(i.map(|m| (m, 0, 0))),
        ScalarValue::Null => Some(None),
        _ => None,
    });
    let (Some((start, start_tz)), Some((stop, _)), Some(step)) =
        (timestamp(&values[0]), timestamp(&values[1]), step)
    else {
        return Err(wrong_arguments(values));
    };
    if step == Some((0, 0, 0)) {
        return Err(zero_step());
    }
    let data_type = DataType::Timestamp(TimeUnit::Microsecond, start_tz.clone());
    let spec = match (start, stop, step) {
        (Some(start), Some(stop), Some((months, days, nanos))) => Some(SeriesSpec::Timestamps {
            start,
            stop,
            months,
            days,
            nanos,
            time_zone: start_tz.as_deref().unwrap_or("+00:00").to_string(),
        }),
        _ => None,
    };
    Ok((data_type, TableFunctionCall::Series(spec)))
}

/// Gives untyped literals (text: `'2024-01-01'`, `'1 day'`) the type the
/// other arguments call for when they make a timestamp series, as
/// Postgres types its unknown literals: bounds become timestamps (or the
/// type of the other bound), the step an interval.
fn coerce_untyped(values: &[ScalarValue]) -> Result<Vec<ScalarValue>> {
    let is_text = |v: &ScalarValue| {
        matches!(
            v.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        )
    };
    let is_time = |t: &DataType| {
        matches!(
            t,
            DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
        )
    };
    let bound_type = values[..2].iter().map(ScalarValue::data_type).find(is_time);
    let interval_step = values
        .get(2)
        .is_some_and(|v| matches!(v.data_type(), DataType::Interval(_)));
    if bound_type.is_none() && !interval_step {
        return Ok(values.to_vec());
    }
    let bound_type = bound_type.unwrap_or(DataType::Timestamp(TimeUnit::Microsecond, None));
    let step_type = DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano);
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if !is_text(v) {
                return Ok(v.clone());
            }
            let (target, name) = if i < 2 {
                (&bound_type, "timestamp")
            } else {
                (&step_type, "interval")
            };
            v.cast_to(target).map_err(|_| {
                PlanError::new(
                    "22007",
                    format!("invalid input syntax for type {name}: {v}"),
                )
                .into()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use datafusion_expr::lit;

    use super::*;

    fn series(args: Vec<Expr>) -> TableFunctionCall {
        let source = resolve("generate_series", args).unwrap();
        source
            .downcast_ref::<TableFunctionSource>()
            .expect("a table function source")
            .call
            .clone()
    }

    fn column_type(args: Vec<Expr>) -> DataType {
        resolve("generate_series", args)
            .unwrap()
            .schema()
            .field(0)
            .data_type()
            .clone()
    }

    fn error(name: &str, args: Vec<Expr>) -> DataFusionError {
        match resolve(name, args) {
            Ok(_) => panic!("{name} resolved"),
            Err(e) => e,
        }
    }

    fn code(e: &DataFusionError) -> Option<&'static str> {
        crate::find_plan_error(e).map(|e| e.code)
    }

    #[test]
    fn integer_series_types_like_postgres() {
        assert_eq!(column_type(vec![lit(1i64), lit(10i64)]), DataType::Int32);
        assert_eq!(
            column_type(vec![lit(1i64), lit(10_000_000_000i64)]),
            DataType::Int64
        );
        assert_eq!(
            series(vec![lit(10i64), lit(1i64), lit(-3i64)]),
            TableFunctionCall::Series(Some(SeriesSpec::Integers {
                start: 10,
                stop: 1,
                step: -3
            }))
        );
        assert_eq!(
            series(vec![lit(1i64), lit(ScalarValue::Int64(None))]),
            TableFunctionCall::Series(None)
        );
        // Functions of constants fold.
        assert_eq!(
            series(vec![lit(1i64), lit(2i64) + lit(3i64)]),
            TableFunctionCall::Series(Some(SeriesSpec::Integers {
                start: 1,
                stop: 5,
                step: 1
            }))
        );
    }

    #[test]
    fn untyped_literals_take_timestamp_and_interval_types() {
        let day = |d: &str| {
            ScalarValue::Date32(Some(
                chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .unwrap()
                    .signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
                    .num_days() as i32,
            ))
        };
        let call = series(vec![
            lit(day("2024-01-01")),
            lit("2024-01-03"),
            lit("1 day"),
        ]);
        let TableFunctionCall::Series(Some(SeriesSpec::Timestamps {
            start,
            stop,
            months,
            days,
            nanos,
            ..
        })) = call
        else {
            panic!("not a timestamp series: {call:?}");
        };
        assert_eq!((months, days, nanos), (0, 1, 0));
        assert_eq!(stop - start, 2 * 86_400_000_000);
        let bad = error(
            "generate_series",
            vec![lit(day("2024-01-01")), lit("2024-01-03"), lit("soon")],
        );
        assert_eq!(code(&bad), Some("22007"));
    }

    #[test]
    fn errors_name_the_problem() {
        let err = |args: Vec<Expr>| error("generate_series", args);
        assert_eq!(
            code(&err(vec![lit(1i64), lit(5i64), lit(0i64)])),
            Some("22023")
        );
        assert_eq!(code(&err(vec![lit(1i64)])), Some("42883"));
        assert_eq!(code(&err(vec![lit("a"), lit("b")])), Some("42883"));
        let column = err(vec![lit(1i64), datafusion_expr::col("x")]);
        assert_eq!(code(&column), Some("0A000"));
        assert!(column.to_string().contains("must be constants"));
        assert_eq!(code(&error("no_such_function", vec![])), Some("42883"));
        assert_eq!(code(&error("regexp_split_to_table", vec![])), Some("0A000"));
    }
}
