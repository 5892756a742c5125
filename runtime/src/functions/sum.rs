//! `sum` typed as Postgres types it: over `smallint` and `integer` it
//! returns `bigint`, over `bigint` `numeric` (a `Decimal128(38, 0)`), so
//! that a sum of integers cannot overflow; over floats `double precision`
//! and over `numeric` `numeric`. DataFusion's `sum` returns `bigint` for
//! `bigint` and wraps on overflow. This function replaces it in the
//! registry and computes with DataFusion's accumulators.
//!
//! Coercion must be stable (the planner coerces the coerced types again),
//! so integer arguments keep their type and the accumulators widen each
//! batch: `smallint` and `integer` to `bigint`, `bigint` to `numeric` (a
//! plain conversion to 128 bits, cheaper than Arrow's checked cast).

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, BooleanArray};
use arrow::datatypes::{DataType, Decimal128Type, FieldRef, Int64Type, UInt64Type};
use datafusion_common::{Result, ScalarValue, plan_err};
use datafusion_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion_expr::utils::AggregateOrderSensitivity;
use datafusion_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator,
    ReversedUDAF, SetMonotonicity, Signature, Volatility,
};
use datafusion_functions_aggregate::sum::Sum;

/// Whether `t` is an integer type narrower than `bigint`, summed as
/// `bigint`.
fn is_narrow_integer(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
    )
}

/// The type `sum` takes its argument as when given values of type `t`,
/// `None` when there is no `sum` for `t`.
pub fn sum_input_type(t: &DataType) -> Option<DataType> {
    match t {
        DataType::Null => Some(DataType::Int32),
        t if is_narrow_integer(t) => Some(t.clone()),
        DataType::Int64 | DataType::UInt64 => Some(t.clone()),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Some(DataType::Float64),
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..)
        | DataType::Duration(_)
        | DataType::Interval(_) => Some(t.clone()),
        DataType::Dictionary(_, value) => sum_input_type(value),
        _ => None,
    }
}

/// Postgres's `sum` (see the module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PgSum {
    /// DataFusion's `sum`, which does the work.
    inner: Sum,
    signature: Signature,
}

impl PgSum {
    /// The aggregate function.
    pub fn udaf() -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::new_from_impl(Self {
            inner: Sum::new(),
            signature: Signature::user_defined(Volatility::Immutable),
        }))
    }
}

/// The type the accumulators of a call must widen its input to, if any:
/// integers are summed in a wider type.
fn widens(args: &AccumulatorArgs<'_>) -> Option<DataType> {
    let input = args.expr_fields.first()?.data_type();
    let integer = is_narrow_integer(input) || matches!(input, DataType::Int64 | DataType::UInt64);
    (integer && input != args.return_type()).then(|| args.return_type().clone())
}

impl AggregateUDFImpl for PgSum {
    fn name(&self) -> &str {
        "sum"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] => match sum_input_type(t) {
                Some(input) => Ok(vec![input]),
                None => plan_err!("function sum({t}) does not exist"),
            },
            _ => plan_err!("function sum takes one argument"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [t] if is_narrow_integer(t) => Ok(DataType::Int64),
            [DataType::Int64 | DataType::UInt64] => Ok(DataType::Decimal128(38, 0)),
            _ => self.inner.return_type(arg_types),
        }
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let widen = widens(&args);
        let inner = self.inner.accumulator(args)?;
        Ok(match widen {
            Some(to) => Box::new(Widening { inner, to }),
            None => inner,
        })
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let widen = widens(&args);
        let inner = self.inner.create_groups_accumulator(args)?;
        Ok(match widen {
            Some(to) => Box::new(Widening { inner, to }),
            None => inner,
        })
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let widen = widens(&args);
        let inner = self.inner.create_sliding_accumulator(args)?;
        Ok(match widen {
            Some(to) => Box::new(Widening { inner, to }),
            None => inner,
        })
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        self.inner.reverse_expr()
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        self.inner.order_sensitivity()
    }

    fn set_monotonicity(&self, data_type: &DataType) -> SetMonotonicity {
        self.inner.set_monotonicity(data_type)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// An accumulator fed integers narrower than it sums: widens each batch
/// of input values before passing it on. States are of the wide type
/// already.
#[derive(Debug)]
struct Widening<A: ?Sized> {
    /// The type `inner` sums.
    to: DataType,
    inner: Box<A>,
}

impl<A: ?Sized> Widening<A> {
    fn widen(&self, values: &[ArrayRef]) -> Result<Vec<ArrayRef>> {
        values
            .iter()
            .map(|v| match (v.data_type(), &self.to) {
                (DataType::Int64, DataType::Decimal128(p, s)) => Ok(Arc::new(
                    v.as_primitive::<Int64Type>()
                        .unary::<_, Decimal128Type>(i128::from)
                        .with_precision_and_scale(*p, *s)?,
                ) as ArrayRef),
                (DataType::UInt64, DataType::Decimal128(p, s)) => Ok(Arc::new(
                    v.as_primitive::<UInt64Type>()
                        .unary::<_, Decimal128Type>(i128::from)
                        .with_precision_and_scale(*p, *s)?,
                ) as ArrayRef),
                _ => Ok(arrow::compute::cast(v, &self.to)?),
            })
            .collect()
    }
}

impl Accumulator for Widening<dyn Accumulator> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.update_batch(&self.widen(values)?)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.inner.evaluate()
    }

    fn size(&self) -> usize {
        self.inner.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.inner.state()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.inner.merge_batch(states)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.retract_batch(&self.widen(values)?)
    }

    fn supports_retract_batch(&self) -> bool {
        self.inner.supports_retract_batch()
    }
}

impl GroupsAccumulator for Widening<dyn GroupsAccumulator> {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let values = self.widen(values)?;
        self.inner
            .update_batch(&values, group_indices, opt_filter, total_num_groups)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.inner.evaluate(emit_to)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        self.inner.state(emit_to)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.inner
            .merge_batch(values, group_indices, total_num_groups)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        self.inner
            .convert_to_state(&self.widen(values)?, opt_filter)
    }

    fn size(&self) -> usize {
        self.inner.size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_are_typed_like_postgres() {
        let sum = PgSum::udaf();
        let typed = |t: DataType| {
            let input = sum.coerce_types(&[t]).expect("a sum exists");
            sum.return_type(&input).expect("a return type")
        };
        assert_eq!(typed(DataType::Int16), DataType::Int64);
        assert_eq!(typed(DataType::Int32), DataType::Int64);
        assert_eq!(typed(DataType::Int64), DataType::Decimal128(38, 0));
        assert_eq!(typed(DataType::Float32), DataType::Float64);
        // Coercion is stable.
        for t in [DataType::Int32, DataType::Int64, DataType::Float32] {
            let once = sum.coerce_types(&[t]).expect("a sum exists");
            assert_eq!(sum.coerce_types(&once).expect("a sum exists"), once);
        }
        assert_eq!(
            typed(DataType::Decimal128(10, 2)),
            DataType::Decimal128(20, 2)
        );
        assert!(sum.coerce_types(&[DataType::Utf8]).is_err());
    }

    /// Sums `values` (of `input`'s type) with both accumulators.
    fn sum_of(values: ArrayRef) -> (ScalarValue, ArrayRef) {
        use arrow::datatypes::{Field, Schema};
        use datafusion_physical_expr::PhysicalExpr;
        use datafusion_physical_expr::expressions::Column;

        let input = values.data_type().clone();
        let sum = PgSum::udaf();
        let schema = Schema::new(vec![Field::new("x", input.clone(), true)]);
        let exprs: Vec<Arc<dyn PhysicalExpr>> = vec![Arc::new(Column::new("x", 0))];
        let fields = vec![Arc::new(Field::new("x", input.clone(), true))];
        let args = || AccumulatorArgs {
            return_field: Arc::new(Field::new(
                "sum",
                sum.return_type(std::slice::from_ref(&input))
                    .expect("a sum exists"),
                true,
            )),
            schema: &schema,
            ignore_nulls: false,
            order_bys: &[],
            is_reversed: false,
            name: "sum(x)",
            is_distinct: false,
            exprs: &exprs,
            expr_fields: &fields,
        };
        let mut one = sum.accumulator(args()).expect("an accumulator");
        one.update_batch(std::slice::from_ref(&values))
            .expect("sums");
        let mut groups = sum
            .create_groups_accumulator(args())
            .expect("an accumulator");
        groups
            .update_batch(&[values], &[0, 1, 0], None, 2)
            .expect("sums");
        (
            one.evaluate().expect("a sum"),
            groups.evaluate(EmitTo::All).expect("sums"),
        )
    }

    #[test]
    fn integer_sums_do_not_overflow() {
        use arrow::array::{Int32Array, Int64Array};

        let big = Arc::new(Int64Array::from(vec![i64::MAX, 1, i64::MAX]));
        let (total, per_group) = sum_of(big);
        let expected = i128::from(i64::MAX) * 2 + 1;
        assert_eq!(total, ScalarValue::Decimal128(Some(expected), 38, 0));
        assert_eq!(
            per_group.as_primitive::<Decimal128Type>().value(0),
            i128::from(i64::MAX) * 2
        );
        let ints = Arc::new(Int32Array::from(vec![i32::MAX, i32::MAX, 1]));
        let (total, per_group) = sum_of(ints);
        assert_eq!(total, ScalarValue::Int64(Some(i64::from(i32::MAX) * 2 + 1)));
        assert_eq!(
            per_group.as_primitive::<Int64Type>().value(0),
            i64::from(i32::MAX) + 1
        );
    }
}
