//! Arithmetic that fails like Postgres's instead of wrapping or returning
//! infinity. Every physical expression a worker builds has its `+ - * /`,
//! unary minus and `abs` over `smallint`, `integer`, `bigint`, `real` and
//! `double precision` replaced by these functions (`tw_checked_add`, ...;
//! [`CheckedArithmetic::apply_to`]), and the planner folds constant
//! operations with them ([`CheckedArithmetic::evaluate_scalars`]):
//!
//! - integers: a result that does not fit is error 22003 "integer out of
//!   range" (`smallint` / `bigint` for those types); division by zero is
//!   22012 "division by zero";
//! - floats: an infinite result from finite operands is 22003 "value out
//!   of range: overflow", a zero product or quotient of non-zero operands
//!   22003 "value out of range: underflow", and any division by zero
//!   (except of NaN) 22012.
//!
//! Integer `+`, `-` and `*` compute the wrapped result and whether it
//! overflowed without branching, in a loop the compiler vectorizes, so
//! they cost little more than DataFusion's wrapping kernels. Each function
//! names its result column as the operator would (`a + b`), so rewriting
//! an expression keeps the names of the plan's columns.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, ArrowPrimitiveType, AsArray, PrimitiveArray};
use arrow::buffer::{NullBuffer, ScalarBuffer};
use arrow::compute::kernels::numeric;
use arrow::datatypes::{
    ArrowNativeTypeOp, DataType, Field, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
};
use arrow::error::ArrowError;
use datafusion_common::{DataFusionError, Result, ScalarValue, exec_err};
use datafusion_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_physical_expr::PhysicalExpr;
use datafusion_physical_expr_common::datum::apply;

use crate::error::{QueryError, SqlState};

/// An operation of checked arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithmeticOp {
    /// `a + b`
    Add,
    /// `a - b`
    Subtract,
    /// `a * b`
    Multiply,
    /// `a / b`
    Divide,
    /// `- a`
    Negate,
    /// `abs(a)`
    Abs,
}

impl ArithmeticOp {
    /// Every operation.
    pub const ALL: [ArithmeticOp; 6] = [
        ArithmeticOp::Add,
        ArithmeticOp::Subtract,
        ArithmeticOp::Multiply,
        ArithmeticOp::Divide,
        ArithmeticOp::Negate,
        ArithmeticOp::Abs,
    ];

    /// The name of the function computing this operation.
    pub fn function_name(self) -> &'static str {
        match self {
            ArithmeticOp::Add => "tw_checked_add",
            ArithmeticOp::Subtract => "tw_checked_sub",
            ArithmeticOp::Multiply => "tw_checked_mul",
            ArithmeticOp::Divide => "tw_checked_div",
            ArithmeticOp::Negate => "tw_checked_neg",
            ArithmeticOp::Abs => "tw_checked_abs",
        }
    }

    fn arity(self) -> usize {
        match self {
            ArithmeticOp::Negate | ArithmeticOp::Abs => 1,
            _ => 2,
        }
    }
}

/// Whether checked arithmetic handles operands of type `t` (both operands
/// of a binary operation have the same type).
pub fn is_checked_type(t: &DataType) -> bool {
    is_integer(t) || matches!(t, DataType::Float32 | DataType::Float64)
}

/// Whether `t` is one of Postgres's integer types.
pub fn is_integer(t: &DataType) -> bool {
    matches!(t, DataType::Int16 | DataType::Int32 | DataType::Int64)
}

fn query_error(state: SqlState, message: &str) -> DataFusionError {
    DataFusionError::External(Box::new(QueryError::new(state, message)))
}

/// Error 22003 for a value that does not fit `t`, worded as Postgres
/// words it ("integer out of range").
pub fn out_of_range(t: &DataType) -> DataFusionError {
    let message = match t {
        DataType::Int16 => "smallint out of range",
        DataType::Int32 => "integer out of range",
        DataType::Int64 => "bigint out of range",
        _ => "value out of range: overflow",
    };
    query_error(SqlState::NumericOutOfRange, message)
}

/// Error 22012.
pub fn division_by_zero() -> DataFusionError {
    query_error(SqlState::DivisionByZero, "division by zero")
}

fn float_underflow() -> DataFusionError {
    query_error(SqlState::NumericOutOfRange, "value out of range: underflow")
}

/// Gives an Arrow kernel's overflow and division errors Postgres's
/// SQLSTATE and wording for values of type `t`.
fn pg_error(e: DataFusionError, t: &DataType) -> DataFusionError {
    match e {
        DataFusionError::ArrowError(a, _) => match *a {
            ArrowError::ArithmeticOverflow(_) => out_of_range(t),
            ArrowError::DivideByZero => division_by_zero(),
            other => DataFusionError::ArrowError(Box::new(other), None),
        },
        other => other,
    }
}

/// The function of one [`ArithmeticOp`] (see the module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CheckedArithmetic {
    op: ArithmeticOp,
    signature: Signature,
}

impl CheckedArithmetic {
    /// The function computing `op`.
    pub fn udf(op: ArithmeticOp) -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(Self {
            op,
            signature: Signature::any(op.arity(), Volatility::Immutable),
        }))
    }

    /// Computes `op` over constant operands, as constant folding does.
    ///
    /// # Errors
    ///
    /// The errors of the operation (22003, 22012).
    pub fn evaluate_scalars(op: ArithmeticOp, args: &[ScalarValue]) -> Result<ScalarValue> {
        let t = args
            .first()
            .map(ScalarValue::data_type)
            .unwrap_or(DataType::Null);
        let udf = Self::udf(op);
        let arg_fields = args
            .iter()
            .map(|a| Arc::new(Field::new("a", a.data_type(), true)))
            .collect();
        let out = udf.invoke_with_args(ScalarFunctionArgs {
            args: args.iter().cloned().map(ColumnarValue::Scalar).collect(),
            arg_fields,
            number_rows: 1,
            return_field: Arc::new(Field::new(op.function_name(), t, true)),
            config_options: Arc::new(datafusion_common::config::ConfigOptions::default()),
        })?;
        match out {
            ColumnarValue::Scalar(s) => Ok(s),
            ColumnarValue::Array(a) => ScalarValue::try_from_array(&a, 0),
        }
    }

    /// Gives a physical expression Postgres's arithmetic: `+`, `-`, `*`
    /// and `/` over two operands of one `smallint`, `integer`, `bigint`,
    /// `real` or `double precision` type, unary minus and `abs()` over the
    /// integer types become the checked functions (22003 "integer out of
    /// range" instead of a wrapped result, 22012 for a float division by
    /// zero). Done on the physical expression, where the operand types are
    /// known without naming anything, so that it stays cheap on deep
    /// expressions.
    ///
    /// # Errors
    ///
    /// An operand whose type cannot be computed.
    pub fn apply_to(
        expr: Arc<dyn PhysicalExpr>,
        schema: &arrow::datatypes::Schema,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        use datafusion_common::tree_node::{Transformed, TransformedResult, TreeNode};
        use datafusion_expr::Operator;
        use datafusion_physical_expr::ScalarFunctionExpr;
        use datafusion_physical_expr::expressions::{BinaryExpr, NegativeExpr};
        let call = |op: ArithmeticOp, args: Vec<Arc<dyn PhysicalExpr>>, t: DataType| {
            Arc::new(ScalarFunctionExpr::new(
                op.function_name(),
                Self::udf(op),
                args,
                Arc::new(Field::new(op.function_name(), t, true)),
                Arc::new(datafusion_common::config::ConfigOptions::default()),
            )) as Arc<dyn PhysicalExpr>
        };
        expr.transform_up(|e| {
            if let Some(b) = e.downcast_ref::<BinaryExpr>() {
                let op = match b.op() {
                    Operator::Plus => ArithmeticOp::Add,
                    Operator::Minus => ArithmeticOp::Subtract,
                    Operator::Multiply => ArithmeticOp::Multiply,
                    Operator::Divide => ArithmeticOp::Divide,
                    _ => return Ok(Transformed::no(e)),
                };
                let t = b.left().data_type(schema)?;
                if is_checked_type(&t) && b.right().data_type(schema)? == t {
                    let args = vec![Arc::clone(b.left()), Arc::clone(b.right())];
                    return Ok(Transformed::yes(call(op, args, t)));
                }
            } else if let Some(n) = e.downcast_ref::<NegativeExpr>() {
                let t = n.arg().data_type(schema)?;
                if is_integer(&t) {
                    return Ok(Transformed::yes(call(
                        ArithmeticOp::Negate,
                        vec![Arc::clone(n.arg())],
                        t,
                    )));
                }
            } else if let Some(f) = e.downcast_ref::<ScalarFunctionExpr>()
                && f.name() == "abs"
                && let [arg] = f.args()
            {
                let t = arg.data_type(schema)?;
                if is_integer(&t) {
                    return Ok(Transformed::yes(call(
                        ArithmeticOp::Abs,
                        vec![Arc::clone(arg)],
                        t,
                    )));
                }
            }
            Ok(Transformed::no(e))
        })
        .data()
    }

    /// Evaluates a constant expression (no columns, parameters, aggregates
    /// or volatile functions) as a worker would, with Postgres's
    /// arithmetic: what constant folding must compute instead of
    /// DataFusion's wrapping operators.
    ///
    /// # Errors
    ///
    /// The expression's own errors (22003, 22012, ...), or one that is not
    /// constant.
    pub fn evaluate_constant(
        expr: &Expr,
        props: &datafusion_expr::execution_props::ExecutionProps,
    ) -> Result<ScalarValue> {
        let schema = datafusion_common::DFSchema::empty();
        let physical = datafusion_physical_expr::create_physical_expr(
            expr,
            &schema,
            props,
            &datafusion_expr::physical_planning_context::PhysicalPlanningContext::default(),
        )?;
        let physical = Self::apply_to(physical, schema.as_arrow())?;
        let one_row = arrow::array::RecordBatch::try_new_with_options(
            Arc::new(arrow::datatypes::Schema::empty()),
            vec![],
            &arrow::array::RecordBatchOptions::new().with_row_count(Some(1)),
        )?;
        match physical.evaluate(&one_row)? {
            ColumnarValue::Scalar(s) => Ok(s),
            ColumnarValue::Array(a) => ScalarValue::try_from_array(&a, 0),
        }
    }

    /// All the functions of this module.
    pub fn all() -> Vec<Arc<ScalarUDF>> {
        ArithmeticOp::ALL.into_iter().map(Self::udf).collect()
    }
}

impl ScalarUDFImpl for CheckedArithmetic {
    fn name(&self) -> &str {
        self.op.function_name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        let name = |i: usize| args.get(i).map(|a| a.schema_name().to_string());
        let (Some(a), b) = (name(0), name(1)) else {
            return exec_err!("{} takes {} arguments", self.name(), self.op.arity());
        };
        let b = b.unwrap_or_default();
        Ok(match self.op {
            ArithmeticOp::Add => format!("{a} + {b}"),
            ArithmeticOp::Subtract => format!("{a} - {b}"),
            ArithmeticOp::Multiply => format!("{a} * {b}"),
            ArithmeticOp::Divide => format!("{a} / {b}"),
            ArithmeticOp::Negate => format!("(- {a})"),
            ArithmeticOp::Abs => format!("abs({a})"),
        })
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [t] | [t, _] if is_checked_type(t) && arg_types.iter().all(|a| a == t) => Ok(t.clone()),
            _ => exec_err!("{} of {arg_types:?}", self.name()),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let t = args.return_type().clone();
        let rows = args.number_rows;
        match (self.op, args.args.as_slice()) {
            (ArithmeticOp::Negate, [a]) => unary(a, &t, numeric::neg),
            (ArithmeticOp::Abs, [a]) => unary(a, &t, abs),
            (op, [l, r]) => match &t {
                DataType::Int16 => integer_binary::<Int16Type>(op, l, r, rows),
                DataType::Int32 => integer_binary::<Int32Type>(op, l, r, rows),
                DataType::Int64 => integer_binary::<Int64Type>(op, l, r, rows),
                DataType::Float32 => float_binary::<Float32Type>(op, l, r),
                DataType::Float64 => float_binary::<Float64Type>(op, l, r),
                other => exec_err!("{} of {other}", self.name()),
            },
            _ => exec_err!("{} takes {} arguments", self.name(), self.op.arity()),
        }
    }
}

/// Applies a checked unary kernel to a value of type `t`.
fn unary(
    a: &ColumnarValue,
    t: &DataType,
    f: fn(&dyn Array) -> Result<ArrayRef, ArrowError>,
) -> Result<ColumnarValue> {
    let run = |array: &ArrayRef| f(array.as_ref()).map_err(|e| pg_error(e.into(), t));
    match a {
        ColumnarValue::Array(array) => Ok(ColumnarValue::Array(run(array)?)),
        ColumnarValue::Scalar(s) => {
            let out = run(&s.to_array()?)?;
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        }
    }
}

fn abs(array: &dyn Array) -> Result<ArrayRef, ArrowError> {
    fn checked<T: ArrowPrimitiveType>(array: &dyn Array) -> Result<ArrayRef, ArrowError> {
        let out = array.as_primitive::<T>().try_unary::<_, T, _>(|v| {
            if v.is_lt(T::Native::ZERO) {
                v.neg_checked()
            } else {
                Ok(v)
            }
        })?;
        Ok(Arc::new(out))
    }
    match array.data_type() {
        DataType::Int16 => checked::<Int16Type>(array),
        DataType::Int32 => checked::<Int32Type>(array),
        DataType::Int64 => checked::<Int64Type>(array),
        other => Err(ArrowError::InvalidArgumentError(format!(
            "tw_checked_abs of {other}"
        ))),
    }
}

/// Integer arithmetic that reports overflow without branching, so that
/// loops over arrays vectorize.
trait PgInt: Copy {
    /// `a + b`, wrapped, and whether it overflowed.
    fn add_overflowing(self, b: Self) -> (Self, bool);
    /// `a - b`, wrapped, and whether it overflowed.
    fn sub_overflowing(self, b: Self) -> (Self, bool);
    /// `a * b`, wrapped, and whether it overflowed.
    fn mul_overflowing(self, b: Self) -> (Self, bool);
}

macro_rules! pg_int {
    // i16 and i32 multiply in the next wider type, which vectorizes.
    ($t:ty, wide $wide:ty) => {
        pg_int!($t, |a, b| {
            let wide = <$wide>::from(a) * <$wide>::from(b);
            let narrow = wide as $t;
            (narrow, <$wide>::from(narrow) != wide)
        });
    };
    ($t:ty, |$a:ident, $b:ident| $mul:expr) => {
        impl PgInt for $t {
            #[inline]
            fn add_overflowing(self, b: Self) -> (Self, bool) {
                // Overflow: both operands' signs differ from the result's.
                let s = self.wrapping_add(b);
                (s, ((self ^ s) & (b ^ s)) < 0)
            }
            #[inline]
            fn sub_overflowing(self, b: Self) -> (Self, bool) {
                // Overflow: the operands' signs differ, and the result's
                // differs from the minuend's.
                let s = self.wrapping_sub(b);
                (s, ((self ^ b) & (self ^ s)) < 0)
            }
            #[inline]
            fn mul_overflowing(self, b: Self) -> (Self, bool) {
                let ($a, $b) = (self, b);
                $mul
            }
        }
    };
}

pg_int!(i16, wide i32);
pg_int!(i32, wide i64);
pg_int!(i64, |a, b| a.overflowing_mul(b));

/// One operand of a binary operation: the values of an array, or a
/// non-null scalar.
#[derive(Clone, Copy)]
enum Operand<'a, N> {
    Values(&'a [N]),
    Scalar(N),
}

impl<N: Copy> Operand<'_, N> {
    fn at(&self, i: usize) -> N {
        match self {
            Operand::Values(v) => v[i],
            Operand::Scalar(s) => *s,
        }
    }
}

/// Integer `+`, `-` and `*`: computes the wrapped results and whether any
/// overflowed in one pass without branches. Slots under a null may hold
/// any value, so when there are nulls and some slot overflowed, the valid
/// rows are checked again one by one.
fn integer_overflowing<T>(
    l: &ColumnarValue,
    r: &ColumnarValue,
    rows: usize,
    op: impl Fn(T::Native, T::Native) -> (T::Native, bool),
) -> Result<ColumnarValue>
where
    T: ArrowPrimitiveType,
    T::Native: PgInt,
{
    let both_scalar = matches!((l, r), (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_)));
    let mut nulls = None;
    let mut operands = Vec::with_capacity(2);
    for v in [l, r] {
        match v {
            ColumnarValue::Array(a) => {
                let a = a.as_primitive::<T>();
                nulls = NullBuffer::union(nulls.as_ref(), a.nulls());
                operands.push(Operand::Values(a.values()));
            }
            ColumnarValue::Scalar(s) => {
                let a = s.to_array()?;
                let a = a.as_primitive::<T>();
                if a.is_null(0) {
                    // So is every result.
                    return Ok(if both_scalar {
                        ColumnarValue::Scalar(ScalarValue::try_new_null(&T::DATA_TYPE)?)
                    } else {
                        ColumnarValue::Array(Arc::new(PrimitiveArray::<T>::new_null(rows)))
                    });
                }
                operands.push(Operand::Scalar(a.value(0)));
            }
        }
    }
    let (lo, ro) = (operands[0], operands[1]);
    // One pass over the rows, without branches: each row's result, with
    // its overflow flag or-ed into `overflow`.
    let mut overflow = false;
    let mut step = |x, y| {
        let (v, o) = op(x, y);
        overflow |= o;
        v
    };
    let values: Vec<T::Native> = match (lo, ro) {
        (Operand::Values(a), Operand::Values(b)) => {
            a.iter().zip(b).map(|(&x, &y)| step(x, y)).collect()
        }
        (Operand::Values(a), Operand::Scalar(y)) => a.iter().map(|&x| step(x, y)).collect(),
        (Operand::Scalar(x), Operand::Values(b)) => b.iter().map(|&y| step(x, y)).collect(),
        (Operand::Scalar(x), Operand::Scalar(y)) => vec![step(x, y)],
    };
    if overflow && let Some(n) = &nulls {
        overflow = n.valid_indices().any(|i| op(lo.at(i), ro.at(i)).1);
    }
    if overflow {
        return Err(out_of_range(&T::DATA_TYPE));
    }
    let array = PrimitiveArray::<T>::new(ScalarBuffer::from(values), nulls);
    Ok(if both_scalar {
        ColumnarValue::Scalar(ScalarValue::try_from_array(&array, 0)?)
    } else {
        ColumnarValue::Array(Arc::new(array))
    })
}

fn integer_binary<T>(
    op: ArithmeticOp,
    l: &ColumnarValue,
    r: &ColumnarValue,
    rows: usize,
) -> Result<ColumnarValue>
where
    T: ArrowPrimitiveType,
    T::Native: PgInt,
{
    match op {
        ArithmeticOp::Add => integer_overflowing::<T>(l, r, rows, PgInt::add_overflowing),
        ArithmeticOp::Subtract => integer_overflowing::<T>(l, r, rows, PgInt::sub_overflowing),
        ArithmeticOp::Multiply => integer_overflowing::<T>(l, r, rows, PgInt::mul_overflowing),
        // Arrow's checked kernel: division is rarer and slower anyway.
        ArithmeticOp::Divide => apply(l, r, numeric::div).map_err(|e| pg_error(e, &T::DATA_TYPE)),
        ArithmeticOp::Negate | ArithmeticOp::Abs => {
            exec_err!("{} is not a binary operation", op.function_name())
        }
    }
}

/// IEEE 754 classification of a float value.
trait PgFloat: Copy {
    fn is_inf(self) -> bool;
    fn is_nan_value(self) -> bool;
    fn is_zero_value(self) -> bool;
}

impl PgFloat for f32 {
    fn is_inf(self) -> bool {
        self.is_infinite()
    }
    fn is_nan_value(self) -> bool {
        self.is_nan()
    }
    fn is_zero_value(self) -> bool {
        self == 0.0
    }
}

impl PgFloat for f64 {
    fn is_inf(self) -> bool {
        self.is_infinite()
    }
    fn is_nan_value(self) -> bool {
        self.is_nan()
    }
    fn is_zero_value(self) -> bool {
        self == 0.0
    }
}

/// The value at row `i` of a float operand, `None` when null.
fn float_at<T>(v: &ColumnarValue, i: usize) -> Option<T::Native>
where
    T: ArrowPrimitiveType,
{
    match v {
        ColumnarValue::Array(a) => {
            let a = a.as_primitive::<T>();
            a.is_valid(i).then(|| a.value(i))
        }
        ColumnarValue::Scalar(s) => match s.to_array() {
            Ok(a) => {
                let a = a.as_primitive::<T>();
                a.is_valid(0).then(|| a.value(0))
            }
            Err(_) => None,
        },
    }
}

fn float_binary<T>(op: ArithmeticOp, l: &ColumnarValue, r: &ColumnarValue) -> Result<ColumnarValue>
where
    T: ArrowPrimitiveType,
    T::Native: PgFloat,
{
    // Scalars are read once, not per row.
    let l_scalar = matches!(l, ColumnarValue::Scalar(_)).then(|| float_at::<T>(l, 0));
    let r_scalar = matches!(r, ColumnarValue::Scalar(_)).then(|| float_at::<T>(r, 0));
    let value = |v: &ColumnarValue, scalar: &Option<Option<T::Native>>, i: usize| match scalar {
        Some(s) => *s,
        None => float_at::<T>(v, i),
    };
    if op == ArithmeticOp::Divide {
        let zero_divisor = match r {
            ColumnarValue::Scalar(_) => r_scalar.flatten().is_some_and(|d| d.is_zero_value()),
            ColumnarValue::Array(a) => {
                let a = a.as_primitive::<T>();
                a.values().iter().any(|d| d.is_zero_value())
            }
        };
        if zero_divisor {
            let rows = match (l, r) {
                (ColumnarValue::Array(a), _) | (_, ColumnarValue::Array(a)) => a.len(),
                _ => 1,
            };
            for i in 0..rows {
                if let (Some(n), Some(d)) = (value(l, &l_scalar, i), value(r, &r_scalar, i))
                    && d.is_zero_value()
                    && !n.is_nan_value()
                {
                    return Err(division_by_zero());
                }
            }
        }
    }
    let kernel = match op {
        ArithmeticOp::Add => numeric::add,
        ArithmeticOp::Subtract => numeric::sub,
        ArithmeticOp::Multiply => numeric::mul,
        ArithmeticOp::Divide => numeric::div,
        ArithmeticOp::Negate | ArithmeticOp::Abs => {
            return exec_err!("{} is not a binary operation", op.function_name());
        }
    };
    let result = apply(l, r, kernel)?;
    let out = result.to_array(1)?;
    let out = out.as_primitive::<T>();
    let may_underflow = matches!(op, ArithmeticOp::Multiply | ArithmeticOp::Divide);
    let suspicious = out
        .values()
        .iter()
        .any(|v| v.is_inf() || (may_underflow && v.is_zero_value()));
    if suspicious {
        for i in 0..out.len() {
            let (Some(a), Some(b)) = (value(l, &l_scalar, i), value(r, &r_scalar, i)) else {
                continue;
            };
            let v = out.value(i);
            let overflow = v.is_inf() && !a.is_inf() && (op == ArithmeticOp::Divide || !b.is_inf());
            if overflow {
                return Err(out_of_range(&T::DATA_TYPE));
            }
            let underflow = match op {
                ArithmeticOp::Multiply => {
                    v.is_zero_value() && !a.is_zero_value() && !b.is_zero_value()
                }
                ArithmeticOp::Divide => v.is_zero_value() && !a.is_zero_value() && !b.is_inf(),
                _ => false,
            };
            if underflow {
                return Err(float_underflow());
            }
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int16Array, Int32Array, Int64Array};
    use arrow::datatypes::Field;
    use datafusion_common::config::ConfigOptions;

    fn call(op: ArithmeticOp, args: Vec<ColumnarValue>) -> Result<ColumnarValue> {
        let t = args[0].data_type();
        let rows = args
            .iter()
            .find_map(|a| match a {
                ColumnarValue::Array(a) => Some(a.len()),
                ColumnarValue::Scalar(_) => None,
            })
            .unwrap_or(1);
        let udf = CheckedArithmetic::udf(op);
        udf.invoke_with_args(ScalarFunctionArgs {
            arg_fields: args
                .iter()
                .map(|a| Arc::new(Field::new("a", a.data_type(), true)))
                .collect(),
            args,
            number_rows: rows,
            return_field: Arc::new(Field::new("r", t, true)),
            config_options: Arc::new(ConfigOptions::default()),
        })
    }

    fn array(a: impl Array + 'static) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(a))
    }

    fn message(r: Result<ColumnarValue>) -> String {
        match r {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(DataFusionError::External(e)) => {
                let q = e.downcast_ref::<QueryError>().expect("a query error");
                format!("{}: {}", q.state.code(), q.message)
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    }

    fn values(r: Result<ColumnarValue>) -> ArrayRef {
        r.expect("no error").to_array(1).expect("an array")
    }

    #[test]
    fn integer_overflow_is_an_error_named_after_the_type() {
        let max32 = array(Int32Array::from(vec![1, i32::MAX]));
        let one32 = ColumnarValue::Scalar(ScalarValue::Int32(Some(1)));
        assert_eq!(
            message(call(ArithmeticOp::Add, vec![max32.clone(), one32.clone()])),
            "22003: integer out of range"
        );
        let min16 = ColumnarValue::Scalar(ScalarValue::Int16(Some(i16::MIN)));
        let one16 = ColumnarValue::Scalar(ScalarValue::Int16(Some(1)));
        assert_eq!(
            message(call(ArithmeticOp::Subtract, vec![min16.clone(), one16])),
            "22003: smallint out of range"
        );
        assert_eq!(
            message(call(ArithmeticOp::Negate, vec![min16])),
            "22003: smallint out of range"
        );
        let big = array(Int64Array::from(vec![i64::MAX / 2 + 1]));
        let two = ColumnarValue::Scalar(ScalarValue::Int64(Some(2)));
        assert_eq!(
            message(call(ArithmeticOp::Multiply, vec![big, two])),
            "22003: bigint out of range"
        );
        let square = array(Int32Array::from(vec![Some(46340), None, Some(65536)]));
        assert_eq!(
            message(call(ArithmeticOp::Multiply, vec![square.clone(), square])),
            "22003: integer out of range"
        );
        let min32 = array(Int32Array::from(vec![i32::MIN]));
        let minus_one = ColumnarValue::Scalar(ScalarValue::Int32(Some(-1)));
        assert_eq!(
            message(call(ArithmeticOp::Divide, vec![min32.clone(), minus_one])),
            "22003: integer out of range"
        );
        assert_eq!(
            message(call(ArithmeticOp::Abs, vec![min32])),
            "22003: integer out of range"
        );
        let zero = ColumnarValue::Scalar(ScalarValue::Int32(Some(0)));
        assert_eq!(
            message(call(ArithmeticOp::Divide, vec![max32, zero])),
            "22012: division by zero"
        );
    }

    #[test]
    fn integer_results_that_fit_are_exact() {
        let a = array(Int32Array::from(vec![
            Some(1),
            None,
            Some(-5),
            Some(i32::MAX - 1),
        ]));
        let b = array(Int32Array::from(vec![Some(2), Some(3), None, Some(1)]));
        let sum = values(call(ArithmeticOp::Add, vec![a.clone(), b.clone()]));
        assert_eq!(
            sum.as_primitive::<Int32Type>(),
            &Int32Array::from(vec![Some(3), None, None, Some(i32::MAX)])
        );
        let difference = values(call(ArithmeticOp::Subtract, vec![b, a]));
        assert_eq!(
            difference.as_primitive::<Int32Type>(),
            &Int32Array::from(vec![Some(1), None, None, Some(2 - i32::MAX)])
        );
        let scalar = call(
            ArithmeticOp::Add,
            vec![
                ColumnarValue::Scalar(ScalarValue::Int16(Some(2))),
                ColumnarValue::Scalar(ScalarValue::Int16(Some(3))),
            ],
        )
        .expect("no error");
        assert!(matches!(
            scalar,
            ColumnarValue::Scalar(ScalarValue::Int16(Some(5)))
        ));
    }

    #[test]
    fn values_under_nulls_do_not_overflow() {
        // The slot under the null holds i16::MAX: adding 1 there wraps,
        // but the row is null.
        let a = Int16Array::new(
            ScalarBuffer::from(vec![1, i16::MAX]),
            Some(NullBuffer::from(vec![true, false])),
        );
        let one = ColumnarValue::Scalar(ScalarValue::Int16(Some(1)));
        let sum = values(call(ArithmeticOp::Add, vec![array(a), one]));
        assert_eq!(
            sum.as_primitive::<Int16Type>(),
            &Int16Array::from(vec![Some(2), None])
        );
    }

    #[test]
    fn float_errors() {
        let a = array(Float64Array::from(vec![1.0, f64::MAX]));
        let zero = ColumnarValue::Scalar(ScalarValue::Float64(Some(0.0)));
        assert_eq!(
            message(call(ArithmeticOp::Divide, vec![a.clone(), zero])),
            "22012: division by zero"
        );
        let ten = ColumnarValue::Scalar(ScalarValue::Float64(Some(10.0)));
        assert_eq!(
            message(call(ArithmeticOp::Multiply, vec![a, ten])),
            "22003: value out of range: overflow"
        );
        let tiny = array(Float64Array::from(vec![1e-300]));
        assert_eq!(
            message(call(ArithmeticOp::Multiply, vec![tiny.clone(), tiny])),
            "22003: value out of range: underflow"
        );
        // Infinity in, infinity out; NaN / 0 is NaN.
        let inf = array(Float64Array::from(vec![f64::INFINITY, f64::NAN]));
        let one = ColumnarValue::Scalar(ScalarValue::Float64(Some(1.0)));
        let sum = values(call(ArithmeticOp::Add, vec![inf, one]));
        assert!(sum.as_primitive::<Float64Type>().value(0).is_infinite());
        let nan = array(Float64Array::from(vec![f64::NAN]));
        let zero = ColumnarValue::Scalar(ScalarValue::Float64(Some(0.0)));
        let q = values(call(ArithmeticOp::Divide, vec![nan, zero]));
        assert!(q.as_primitive::<Float64Type>().value(0).is_nan());
        // 0 * x is no underflow.
        let z = array(Float64Array::from(vec![0.0, 2.0]));
        let p = values(call(ArithmeticOp::Multiply, vec![z.clone(), z]));
        assert_eq!(
            p.as_primitive::<Float64Type>().values().to_vec(),
            vec![0.0, 4.0]
        );
    }
}
