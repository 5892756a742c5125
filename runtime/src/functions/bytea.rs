//! `tw_bytea_in(text)`: Postgres's input syntax for `bytea` (`\x0a0b` hex,
//! or the escape format with `\\` and `\ooo` octal). A cast from text to
//! bytea means this in Postgres, not "the UTF-8 bytes of the text"; the
//! planner rewrites such casts to call it. The parser is
//! [`crate::pgtypes::text::parse_bytea`].

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryBuilder};
use arrow::datatypes::DataType;
use datafusion_common::{DataFusionError, Result, ScalarValue};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::QueryError;
use crate::pgtypes::text::parse_bytea;

fn external(e: QueryError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// The function's name.
pub const NAME: &str = "tw_bytea_in";

/// The function (see the module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ByteaIn {
    signature: Signature,
}

impl ByteaIn {
    /// The function as a UDF.
    pub fn udf() -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(Self {
            signature: Signature::uniform(
                1,
                vec![DataType::Utf8, DataType::LargeUtf8, DataType::Utf8View],
                Volatility::Immutable,
            ),
        }))
    }
}

impl ScalarUDFImpl for ByteaIn {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return Err(DataFusionError::Internal(format!(
                "{NAME} takes one argument"
            )));
        };
        match arg {
            ColumnarValue::Scalar(s) => {
                let text = match s {
                    ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => {
                        v.clone()
                    }
                    other => return Err(DataFusionError::Internal(format!("{NAME} of {other}"))),
                };
                let bytes = text
                    .map(|t| parse_bytea(&t).map_err(external))
                    .transpose()?;
                Ok(ColumnarValue::Scalar(ScalarValue::Binary(bytes)))
            }
            ColumnarValue::Array(a) => {
                let strings = arrow::compute::cast(a, &DataType::Utf8)?;
                let strings = strings.as_string::<i32>();
                let mut out =
                    BinaryBuilder::with_capacity(strings.len(), strings.value_data().len());
                for v in strings.iter() {
                    match v {
                        None => out.append_null(),
                        Some(t) => out.append_value(parse_bytea(t).map_err(external)?),
                    }
                }
                Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
            }
        }
    }
}
