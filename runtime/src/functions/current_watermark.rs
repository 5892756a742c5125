//! `CURRENT_WATERMARK(ts)`, as in Flink: the watermark the operator
//! evaluating it has reached (that of its last completed epoch), as a
//! timestamp of the argument's type, or NULL when there is none yet (and
//! always in batch queries). The usual use drops late rows before they
//! reach an aggregation: `WHERE CURRENT_WATERMARK(ts) IS NULL OR ts >
//! CURRENT_WATERMARK(ts)`. The value comes from
//! [`crate::watermark::current_watermark`], which the unary driver sets
//! while its operator handles a batch; it is volatile (it changes as time
//! passes), so the planner never folds it.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion_common::{DataFusionError, Result, ScalarValue};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::watermark::{NO_WATERMARK, current_watermark, from_micros};

/// The function's name.
pub const NAME: &str = "current_watermark";

/// The function (see the module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CurrentWatermark {
    signature: Signature,
}

impl CurrentWatermark {
    /// The function as a UDF.
    pub fn udf() -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(Self {
            signature: Signature::any(1, Volatility::Volatile),
        }))
    }
}

impl ScalarUDFImpl for CurrentWatermark {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [t @ DataType::Timestamp(_, _)] => Ok(t.clone()),
            [other] => Err(DataFusionError::Plan(format!(
                "CURRENT_WATERMARK takes a timestamp column (the table's event time), not {other}"
            ))),
            _ => Err(DataFusionError::Plan(
                "CURRENT_WATERMARK takes one argument".into(),
            )),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let DataType::Timestamp(unit, tz) = args.return_field.data_type() else {
            return Err(DataFusionError::Internal(format!(
                "{NAME} returns a timestamp"
            )));
        };
        let value = current_watermark()
            .filter(|w| *w != NO_WATERMARK)
            .map(|w| from_micros(*unit, w));
        let tz = tz.clone();
        let scalar = match unit {
            arrow::datatypes::TimeUnit::Second => ScalarValue::TimestampSecond(value, tz),
            arrow::datatypes::TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(value, tz),
            arrow::datatypes::TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(value, tz),
            arrow::datatypes::TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(value, tz),
        };
        Ok(ColumnarValue::Scalar(scalar))
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, TimestampMillisecondArray};
    use arrow::datatypes::{Field, TimeUnit};
    use datafusion_common::config::ConfigOptions;

    use super::*;
    use crate::watermark::with_current_watermark;

    fn call(watermark: Option<i64>) -> ScalarValue {
        let udf = CurrentWatermark::udf();
        let t = DataType::Timestamp(TimeUnit::Millisecond, None);
        let arg: Arc<dyn Array> = Arc::new(TimestampMillisecondArray::from(vec![1_000]));
        let args = ScalarFunctionArgs {
            args: vec![ColumnarValue::Array(arg)],
            arg_fields: vec![Arc::new(Field::new("ts", t.clone(), true))],
            number_rows: 1,
            return_field: Arc::new(Field::new(NAME, t, true)),
            config_options: Arc::new(ConfigOptions::default()),
        };
        match with_current_watermark(watermark, || udf.invoke_with_args(args)).unwrap() {
            ColumnarValue::Scalar(s) => s,
            ColumnarValue::Array(_) => panic!("a scalar"),
        }
    }

    #[test]
    fn returns_the_threads_watermark_in_the_arguments_unit() {
        assert_eq!(call(None), ScalarValue::TimestampMillisecond(None, None));
        assert_eq!(
            call(Some(NO_WATERMARK)),
            ScalarValue::TimestampMillisecond(None, None)
        );
        assert_eq!(
            call(Some(5_000_123)),
            ScalarValue::TimestampMillisecond(Some(5_000), None)
        );
        // Restored after the call.
        assert_eq!(current_watermark(), None);
    }
}
