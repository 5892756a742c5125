//! Casts to `smallint`, `integer` and `bigint` with Postgres's meaning,
//! where Arrow's differs: a `real`, `double precision` or `numeric` value
//! is rounded half away from zero (`2.5::integer` is 3, `-2.5::integer`
//! is -3; Arrow truncates), and a value the type cannot hold is error 22003
//! "integer out of range" (`smallint` / `bigint` for those types) instead
//! of a cast error. Text is read as Postgres reads integer input (digits
//! with an optional sign and surrounding white space), failing with
//! 22P02 `invalid input syntax for type integer: "abc"` or 22003 `value
//! "99999999999" is out of range for type integer`. The planner rewrites
//! such casts (and narrowing casts between integer types) into
//! `tw_to_int2`, `tw_to_int4` and `tw_to_int8`.
//!
//! Postgres rounds `double precision` to even (`rint`) but `numeric` half
//! away from zero; Tidewater types a literal such as `2.5` as `double
//! precision` where Postgres types it `numeric`, so rounding half away from
//! zero gives the answers Postgres gives for the casts people write.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, ArrowPrimitiveType, AsArray, PrimitiveArray};
use arrow::datatypes::{
    ArrowNativeType, DataType, Decimal128Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion_common::{Result, ScalarValue, exec_err};
use datafusion_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::arithmetic::out_of_range;

/// The function casting to one integer type (see the module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ToInteger {
    /// `Int16`, `Int32` or `Int64`.
    target: DataType,
    signature: Signature,
}

impl ToInteger {
    /// The function casting to `target` (`Int16`, `Int32` or `Int64`);
    /// `None` for other types.
    pub fn udf(target: &DataType) -> Option<Arc<ScalarUDF>> {
        matches!(target, DataType::Int16 | DataType::Int32 | DataType::Int64).then(|| {
            Arc::new(ScalarUDF::new_from_impl(Self {
                target: target.clone(),
                signature: Signature::any(1, Volatility::Immutable),
            }))
        })
    }

    /// The three functions.
    pub fn all() -> Vec<Arc<ScalarUDF>> {
        [DataType::Int16, DataType::Int32, DataType::Int64]
            .iter()
            .filter_map(Self::udf)
            .collect()
    }

    /// Whether a cast from `from` to `to` needs this function rather than
    /// Arrow's cast: to an integer type, from a float, a decimal or a
    /// wider integer type.
    pub fn handles(from: &DataType, to: &DataType) -> bool {
        let width = |t: &DataType| match t {
            DataType::Int8 | DataType::UInt8 => 1,
            DataType::Int16 | DataType::UInt16 => 2,
            DataType::Int32 | DataType::UInt32 => 4,
            DataType::Int64 | DataType::UInt64 => 8,
            _ => 0,
        };
        let target = matches!(to, DataType::Int16 | DataType::Int32 | DataType::Int64);
        let source = matches!(
            from,
            DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Float16
                | DataType::Float32
                | DataType::Float64
                | DataType::Decimal32(..)
                | DataType::Decimal64(..)
                | DataType::Decimal128(..)
                | DataType::Decimal256(..)
        ) || width(from) > width(to)
            || matches!(from, DataType::UInt64) && matches!(to, DataType::Int64);
        target && source
    }
}

impl ScalarUDFImpl for ToInteger {
    fn name(&self) -> &str {
        match self.target {
            DataType::Int16 => "tw_to_int2",
            DataType::Int32 => "tw_to_int4",
            _ => "tw_to_int8",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Named as a cast is: after its argument.
    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        match args {
            [a] => Ok(a.schema_name().to_string()),
            _ => exec_err!("{} takes one argument", self.name()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.target.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("{} takes one argument", self.name());
        };
        match arg {
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(self.cast(a)?)),
            ColumnarValue::Scalar(s) => {
                let out = self.cast(&s.to_array()?)?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
            }
        }
    }
}

impl ToInteger {
    /// The target type's bounds.
    fn bounds(&self) -> (i64, i64) {
        match self.target {
            DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
            DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
            _ => (i64::MIN, i64::MAX),
        }
    }

    fn cast(&self, array: &ArrayRef) -> Result<ArrayRef> {
        let (min, max) = self.bounds();
        let out_of_range = || out_of_range(&self.target);
        let wide: PrimitiveArray<Int64Type> = match array.data_type() {
            DataType::Int8 => return self.narrow::<Int8Type>(array, i64::from),
            DataType::Int16 => return self.narrow::<Int16Type>(array, i64::from),
            DataType::Int32 => return self.narrow::<Int32Type>(array, i64::from),
            DataType::Int64 => return self.narrow::<Int64Type>(array, |v| v),
            DataType::UInt8 => return self.narrow::<UInt8Type>(array, i64::from),
            DataType::UInt16 => return self.narrow::<UInt16Type>(array, i64::from),
            DataType::UInt32 => return self.narrow::<UInt32Type>(array, i64::from),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let strings = arrow::compute::cast(array, &DataType::Utf8)?;
                let strings = strings.as_string::<i32>();
                let values = (0..strings.len())
                    .map(|i| {
                        if strings.is_null(i) {
                            Ok(0)
                        } else {
                            self.parse(strings.value(i))
                        }
                    })
                    .collect::<Result<Vec<i64>>>()?;
                PrimitiveArray::new(values.into(), strings.nulls().cloned())
            }
            DataType::UInt64 => array.as_primitive::<UInt64Type>().try_unary(|v| {
                i64::try_from(v)
                    .ok()
                    .filter(|i| (min..=max).contains(i))
                    .ok_or_else(out_of_range)
            })?,
            DataType::Float16 | DataType::Float32 | DataType::Float64 => {
                let floats = arrow::compute::cast(array, &DataType::Float64)?;
                // Every bound is a power of two, exact as a float.
                let (low, high) = (min as f64, -(min as f64));
                floats.as_primitive::<Float64Type>().try_unary(|f| {
                    let rounded = f.round();
                    if rounded >= low && rounded < high {
                        Ok(rounded as i64)
                    } else {
                        Err(out_of_range())
                    }
                })?
            }
            DataType::Decimal32(_, s)
            | DataType::Decimal64(_, s)
            | DataType::Decimal128(_, s)
            | DataType::Decimal256(_, s) => {
                let scale = *s;
                let decimals = match array.data_type() {
                    DataType::Decimal128(..) => Arc::clone(array),
                    _ => arrow::compute::cast(array, &DataType::Decimal128(38, scale))
                        .map_err(|_| out_of_range())?,
                };
                let unit = 10_i128.checked_pow(u32::try_from(scale.max(0)).unwrap_or(0));
                decimals.as_primitive::<Decimal128Type>().try_unary(|v| {
                    let rounded = match unit {
                        Some(unit) if scale > 0 => {
                            let (q, r) = (v / unit, v % unit);
                            if r.abs() * 2 >= unit {
                                q + v.signum()
                            } else {
                                q
                            }
                        }
                        Some(_) => v,
                        // A scale so large that every value rounds to 0.
                        None => 0,
                    };
                    i64::try_from(rounded)
                        .ok()
                        .filter(|i| (min..=max).contains(i))
                        .ok_or_else(out_of_range)
                })?
            }
            other => return exec_err!("{} of {other}", self.name()),
        };
        // In range already.
        self.narrow::<Int64Type>(&(Arc::new(wide) as ArrayRef), |v| v)
    }

    /// Reads one value of integer input syntax.
    fn parse(&self, text: &str) -> Result<i64> {
        crate::pgtypes::text::parse_integer(text, &self.target)
            .map_err(|e| datafusion_common::DataFusionError::External(Box::new(e)))
    }

    /// An integer array as the target type: one branch-free pass to find
    /// values out of range (rechecking only the valid rows when one is
    /// found and there are nulls), one to convert.
    fn narrow<S: ArrowPrimitiveType>(
        &self,
        array: &ArrayRef,
        widen: impl Fn(S::Native) -> i64,
    ) -> Result<ArrayRef> {
        let array = array.as_primitive::<S>();
        let (min, max) = self.bounds();
        let values = array.values();
        let outside = |v: S::Native| {
            let w = widen(v);
            (w < min) | (w > max)
        };
        let mut any_outside = values.iter().fold(false, |acc, &v| acc | outside(v));
        if any_outside && let Some(nulls) = array.nulls() {
            any_outside = nulls.valid_indices().any(|i| outside(values[i]));
        }
        if any_outside {
            return Err(out_of_range(&self.target));
        }
        let nulls = array.nulls().cloned();
        // `as` through usize truncates to the target's width, exact for
        // values in range.
        fn convert<S: ArrowPrimitiveType, T: ArrowPrimitiveType>(
            values: &[S::Native],
            nulls: Option<arrow::buffer::NullBuffer>,
            widen: impl Fn(S::Native) -> i64,
        ) -> ArrayRef {
            let out: Vec<T::Native> = values
                .iter()
                .map(|&v| T::Native::usize_as(widen(v) as usize))
                .collect();
            Arc::new(PrimitiveArray::<T>::new(out.into(), nulls))
        }
        Ok(match self.target {
            DataType::Int16 => convert::<S, Int16Type>(values, nulls, widen),
            DataType::Int32 => convert::<S, Int32Type>(values, nulls, widen),
            _ => convert::<S, Int64Type>(values, nulls, widen),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Decimal128Array, Float64Array, Int16Array, Int32Array, Int64Array};
    use arrow::datatypes::Field;
    use datafusion_common::DataFusionError;
    use datafusion_common::config::ConfigOptions;

    fn cast(target: DataType, input: ArrayRef) -> Result<ArrayRef> {
        let udf = ToInteger::udf(&target).expect("an integer type");
        let rows = input.len();
        udf.invoke_with_args(ScalarFunctionArgs {
            arg_fields: vec![Arc::new(Field::new("a", input.data_type().clone(), true))],
            args: vec![ColumnarValue::Array(input)],
            number_rows: rows,
            return_field: Arc::new(Field::new("r", target, true)),
            config_options: Arc::new(ConfigOptions::default()),
        })?
        .to_array(rows)
    }

    fn error(r: Result<ArrayRef>) -> String {
        match r {
            Err(DataFusionError::External(e)) => e.to_string(),
            other => panic!("expected an out-of-range error, got {other:?}"),
        }
    }

    #[test]
    fn floats_round_half_away_from_zero() {
        let input = Arc::new(Float64Array::from(vec![
            Some(3.7),
            Some(2.5),
            Some(-2.5),
            Some(2.4),
            None,
        ]));
        let out = cast(DataType::Int32, input).expect("in range");
        assert_eq!(
            out.as_primitive::<Int32Type>(),
            &Int32Array::from(vec![Some(4), Some(3), Some(-3), Some(2), None])
        );
    }

    #[test]
    fn decimals_round_half_away_from_zero() {
        let input = Arc::new(
            Decimal128Array::from(vec![250, -250, 249, 12345])
                .with_precision_and_scale(10, 2)
                .expect("valid"),
        );
        let out = cast(DataType::Int64, input).expect("in range");
        assert_eq!(
            out.as_primitive::<Int64Type>(),
            &Int64Array::from(vec![3, -3, 2, 123])
        );
    }

    #[test]
    fn text_is_read_as_postgres_reads_integers() {
        use arrow::array::StringArray;

        let input = Arc::new(StringArray::from(vec![
            Some("  42 "),
            Some("+7"),
            Some("-32768"),
            None,
        ]));
        let out = cast(DataType::Int16, input).expect("valid input");
        assert_eq!(
            out.as_primitive::<Int16Type>(),
            &Int16Array::from(vec![Some(42), Some(7), Some(-32768), None])
        );
        for (text, message) in [
            ("abc", "invalid input syntax for type integer: \"abc\""),
            ("1.5", "invalid input syntax for type integer: \"1.5\""),
            ("", "invalid input syntax for type integer: \"\""),
            ("- 1", "invalid input syntax for type integer: \"- 1\""),
            (
                "99999999999",
                "value \"99999999999\" is out of range for type integer",
            ),
        ] {
            let input = Arc::new(StringArray::from(vec![text]));
            assert_eq!(error(cast(DataType::Int32, input)), message);
        }
        let min = Arc::new(StringArray::from(vec!["-9223372036854775808"]));
        let out = cast(DataType::Int64, min).expect("in range");
        assert_eq!(out.as_primitive::<Int64Type>().value(0), i64::MIN);
    }

    #[test]
    fn out_of_range_values_are_errors() {
        let floats = Arc::new(Float64Array::from(vec![1e10]));
        assert_eq!(error(cast(DataType::Int32, floats)), "integer out of range");
        let nan = Arc::new(Float64Array::from(vec![f64::NAN]));
        assert_eq!(error(cast(DataType::Int64, nan)), "bigint out of range");
        let ints = Arc::new(Int32Array::from(vec![1, 40000]));
        assert_eq!(error(cast(DataType::Int16, ints)), "smallint out of range");
        let rounded_up = Arc::new(Float64Array::from(vec![32767.5]));
        assert_eq!(
            error(cast(DataType::Int16, rounded_up)),
            "smallint out of range"
        );
        let fits = Arc::new(Int64Array::from(vec![-32768, 300]));
        let out = cast(DataType::Int16, fits).expect("in range");
        assert_eq!(
            out.as_primitive::<Int16Type>(),
            &Int16Array::from(vec![-32768, 300])
        );
    }
}
