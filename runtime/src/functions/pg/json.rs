//! `json_build_object(key, value, ...)`: a JSON object from alternating
//! keys and values, as Postgres builds it. Tidewater has no `json` type
//! yet: the object is returned as `text` holding the JSON. Keys are turned
//! into strings (a NULL key is an error 22004, as in Postgres); values keep
//! their JSON kind (NULL is `null`, booleans and numbers are bare, every
//! other value is its text form as a JSON string). SQLAlchemy's reflection
//! calls it for identity and collation details.

use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringBuilder};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion_common::{DataFusionError, Result, plan_err};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::{QueryError, SqlState};

/// The function's name.
pub const NAME: &str = "json_build_object";

/// The function (see the module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonBuildObject {
    signature: Signature,
}

impl JsonBuildObject {
    /// The function as a UDF.
    pub fn udf() -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(Self {
            signature: Signature::variadic_any(Volatility::Immutable),
        }))
    }
}

/// Appends `s` to `out` as a JSON string.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Whether values of `t` are written bare (JSON numbers and booleans).
fn is_bare(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Boolean)
}

impl ScalarUDFImpl for JsonBuildObject {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if !arg_types.len().is_multiple_of(2) {
            return plan_err!(
                "argument list must have even number of elements: {NAME}() takes alternating keys and values"
            );
        }
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<_>>()?;
        let options = FormatOptions::default();
        let formatters = arrays
            .iter()
            .map(|a| ArrayFormatter::try_new(a.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut out = StringBuilder::with_capacity(rows, rows * 16);
        let mut object = String::new();
        for row in 0..rows {
            object.clear();
            object.push('{');
            for pair in 0..arrays.len() / 2 {
                let (keys, values) = (&arrays[2 * pair], &arrays[2 * pair + 1]);
                if keys.data_type() == &DataType::Null || keys.is_null(row) {
                    return Err(DataFusionError::External(Box::new(QueryError::new(
                        SqlState::NullValueNotAllowed,
                        "null value not allowed for object key",
                    ))));
                }
                if pair > 0 {
                    object.push_str(", ");
                }
                push_json_string(&mut object, &formatters[2 * pair].value(row).to_string());
                object.push_str(" : ");
                if values.data_type() == &DataType::Null || values.is_null(row) {
                    object.push_str("null");
                } else if is_bare(values.data_type()) {
                    let _ = write!(object, "{}", formatters[2 * pair + 1].value(row));
                } else {
                    push_json_string(
                        &mut object,
                        &formatters[2 * pair + 1].value(row).to_string(),
                    );
                }
            }
            object.push('}');
            out.append_value(&object);
        }
        let array: ArrayRef = Arc::new(out.finish());
        crate::functions::columnar_result(&array, all_scalar)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{BooleanArray, Int64Array, StringArray};
    use arrow::datatypes::Field;
    use datafusion_common::config::ConfigOptions;

    use super::*;

    fn call(args: Vec<ArrayRef>) -> Result<Vec<Option<String>>> {
        let rows = args[0].len();
        let arg_fields = args
            .iter()
            .map(|a| Arc::new(Field::new("a", a.data_type().clone(), true)))
            .collect();
        let out = JsonBuildObject::udf().invoke_with_args(ScalarFunctionArgs {
            args: args.into_iter().map(ColumnarValue::Array).collect(),
            arg_fields,
            number_rows: rows,
            return_field: Arc::new(Field::new("r", DataType::Utf8, true)),
            config_options: Arc::new(ConfigOptions::default()),
        })?;
        let array = out.to_array(rows)?;
        let strings = array.as_any().downcast_ref::<StringArray>().expect("text");
        Ok(strings.iter().map(|s| s.map(str::to_string)).collect())
    }

    #[test]
    fn builds_objects_as_postgres_writes_them() {
        let keys: ArrayRef = Arc::new(StringArray::from(vec!["a", "b\"q"]));
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None]));
        let names: ArrayRef = Arc::new(StringArray::from(vec![Some("x\ny"), Some("z")]));
        let flags: ArrayRef = Arc::new(BooleanArray::from(vec![true, false]));
        let flag_keys: ArrayRef = Arc::new(StringArray::from(vec!["f", "f"]));
        let got = call(vec![
            keys,
            ints,
            Arc::clone(&flag_keys),
            flags,
            flag_keys,
            names,
        ])
        .unwrap();
        assert_eq!(
            got,
            vec![
                Some(r#"{"a" : 1, "f" : true, "f" : "x\ny"}"#.to_string()),
                Some(r#"{"b\"q" : null, "f" : false, "f" : "z"}"#.to_string()),
            ]
        );
        let null_key: ArrayRef = Arc::new(StringArray::from(vec![None::<&str>]));
        let value: ArrayRef = Arc::new(Int64Array::from(vec![1]));
        assert!(call(vec![null_key, value]).is_err());
    }
}
