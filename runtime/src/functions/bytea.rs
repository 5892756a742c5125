//! `tw_bytea_in(text)`: Postgres's input syntax for `bytea` (`\x0a0b` hex,
//! or the escape format with `\\` and `\ooo` octal). A cast from text to
//! bytea means this in Postgres, not "the UTF-8 bytes of the text"; the
//! planner rewrites such casts to call it.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryBuilder};
use arrow::datatypes::DataType;
use datafusion_common::{DataFusionError, Result, ScalarValue};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::{QueryError, SqlState};

/// The function's name.
pub const NAME: &str = "tw_bytea_in";

/// Parses one value in Postgres's bytea input syntax.
pub fn parse_bytea(s: &str) -> Option<Vec<u8>> {
    if let Some(hex) = s.strip_prefix("\\x").or_else(|| s.strip_prefix("\\X")) {
        let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        if !digits.len().is_multiple_of(2) {
            return None;
        }
        return digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
            .collect();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let octal = bytes.get(i + 1..i + 4)?;
            if !octal.iter().all(|b| (b'0'..=b'7').contains(b)) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(octal).ok()?, 8).ok()?);
            i += 4;
        }
    }
    Some(out)
}

fn invalid(value: &str) -> DataFusionError {
    DataFusionError::External(Box::new(QueryError::new(
        SqlState::InvalidTextRepresentation,
        format!("invalid input syntax for type bytea: \"{value}\""),
    )))
}

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
                    .map(|t| parse_bytea(&t).ok_or_else(|| invalid(&t)))
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
                        Some(t) => out.append_value(parse_bytea(t).ok_or_else(|| invalid(t))?),
                    }
                }
                Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_and_escape_formats() {
        assert_eq!(parse_bytea("\\x0a0B"), Some(vec![10, 11]));
        assert_eq!(parse_bytea("ab\\\\c\\001"), Some(b"ab\\c\x01".to_vec()));
        assert_eq!(parse_bytea("\\x0"), None);
        assert_eq!(parse_bytea("\\9"), None);
        assert_eq!(parse_bytea("plain"), Some(b"plain".to_vec()));
    }
}
