//! `current_setting(name [, missing_ok])`: a session's settings, folded
//! into literals when a statement is planned.

use super::{Arg, coerce_args, invoke_vectorized};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion_common::{Result, exec_err};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// `current_setting(name [, missing_ok])` over a fixed set of settings.
///
/// The registry holds one over [`crate::settings::SETTINGS`]. A session should
/// register its own (`current_setting_udf(session.settings().all())`)
/// for each statement: the optimizer folds calls with constant arguments
/// into literals using that instance, so the session's values reach the
/// result. A call on a non-constant argument is evaluated by the workers
/// with the registry's defaults.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CurrentSetting {
    /// Settings by lower-case name.
    settings: Vec<(String, String)>,
    signature: Signature,
}

/// Builds `current_setting` over the given `(name, value)` settings.
pub fn current_setting_udf(settings: impl IntoIterator<Item = (String, String)>) -> ScalarUDF {
    let mut settings: Vec<(String, String)> = settings
        .into_iter()
        .map(|(k, v)| (k.to_lowercase(), v))
        .collect();
    settings.sort();
    settings.dedup_by(|a, b| a.0 == b.0);
    ScalarUDF::new_from_impl(CurrentSetting {
        settings,
        signature: Signature::user_defined(Volatility::Stable),
    })
}

impl CurrentSetting {
    fn get(&self, name: &str) -> Option<&str> {
        let key = name.to_lowercase();
        let key = match key.as_str() {
            "time zone" | "time_zone" => "timezone",
            other => other,
        };
        self.settings
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| self.settings[i].1.as_str())
    }
}

impl ScalarUDFImpl for CurrentSetting {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_args(self.name(), &[Arg::Text, Arg::Bool], 1, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        invoke_vectorized(&args, |arrays, rows| {
            let names = cast(&arrays[0], &DataType::Utf8)?;
            let names = names.as_string::<i32>();
            let missing_ok = match arrays.get(1) {
                Some(a) => Some(cast(a, &DataType::Boolean)?.as_boolean().clone()),
                None => None,
            };
            let mut out = Vec::with_capacity(rows);
            for r in 0..rows {
                if names.is_null(r) {
                    out.push(None);
                    continue;
                }
                let name = names.value(r);
                match self.get(name) {
                    Some(v) => out.push(Some(v.to_string())),
                    None if missing_ok
                        .as_ref()
                        .is_some_and(|m| m.is_valid(r) && m.value(r)) =>
                    {
                        out.push(None)
                    }
                    None => return exec_err!("unrecognized configuration parameter \"{name}\""),
                }
            }
            Ok(Arc::new(StringArray::from(out)) as ArrayRef)
        })
    }
}

#[cfg(test)]
mod tests {
    use datafusion_common::ScalarValue;

    use super::super::test_util::*;
    use super::*;

    #[test]
    fn current_setting_reads_its_settings() {
        let f = current_setting_udf([("TimeZone".to_string(), "Europe/Paris".to_string())]);
        let out = call(
            &f,
            vec![text(vec![Some("timezone"), Some("TIMEZONE"), None])],
        )
        .unwrap();
        assert_eq!(
            strings(out),
            vec![
                Some("Europe/Paris".into()),
                Some("Europe/Paris".into()),
                None
            ]
        );
        let err = call(&f, vec![text(vec![Some("nope")])]).unwrap_err();
        assert!(
            err.to_string()
                .contains("unrecognized configuration parameter \"nope\""),
            "{err}"
        );
        let out = call(
            &f,
            vec![
                text(vec![Some("nope")]),
                ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))),
            ],
        )
        .unwrap();
        assert_eq!(strings(out), vec![None]);
        let defaults = udf("current_setting");
        let out = call(
            &defaults,
            vec![ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                "server_version_num".into(),
            )))],
        )
        .unwrap();
        assert_eq!(scalar_text(out).as_deref(), Some("140000"));
    }
}
