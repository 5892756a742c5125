//! `LIKE … ESCAPE 'c'` with an escape character other than the backslash,
//! which DataFusion's `LIKE` does not take: the planner rewrites
//! `x LIKE p ESCAPE 'c'` to `x LIKE tw_like_escape(p, 'c')`, and this
//! function rewrites the pattern to the backslash-escaped form that means
//! the same. `c` followed by any character stands for that character (`c`
//! doubled for `c` itself); a backslash that is not the escape is a literal
//! backslash. An empty escape (`ESCAPE ''`) turns escaping off, as in
//! Postgres. A pattern ending in the escape character is an error 22025
//! ("LIKE pattern must not end with escape character"), and an escape of
//! more than one character 22019, as in Postgres.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use arrow::datatypes::DataType;
use datafusion_common::{DataFusionError, Result, plan_err};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::{QueryError, SqlState};

/// The function's name.
pub const NAME: &str = "tw_like_escape";

/// The function (see the module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LikeEscape {
    signature: Signature,
}

impl LikeEscape {
    /// The function as a UDF.
    pub fn udf() -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(Self {
            signature: Signature::exact(
                vec![DataType::Utf8, DataType::Utf8],
                Volatility::Immutable,
            ),
        }))
    }
}

fn error(state: SqlState, message: &str) -> DataFusionError {
    DataFusionError::External(Box::new(QueryError::new(state, message)))
}

/// `pattern` with escape character `escape`, rewritten to use the
/// backslash.
///
/// # Errors
///
/// 22025 for a pattern ending in the escape character, 22019 for an
/// escape of more than one character.
pub fn translate(pattern: &str, escape: &str) -> Result<String> {
    let mut chars = escape.chars();
    let escape = match (chars.next(), chars.next()) {
        (None, _) => None,
        (Some(c), None) => Some(c),
        _ => {
            return Err(error(
                SqlState::InvalidEscapeCharacter,
                "invalid escape string: escape string must be empty or one character",
            ));
        }
    };
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            match chars.next() {
                Some(next @ ('%' | '_' | '\\')) => {
                    out.push('\\');
                    out.push(next);
                }
                Some(next) => out.push(next),
                None => {
                    return Err(error(
                        SqlState::InvalidEscapeSequence,
                        "LIKE pattern must not end with escape character",
                    ));
                }
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

impl ScalarUDFImpl for LikeEscape {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [_, _] => Ok(DataType::Utf8),
            _ => plan_err!("{NAME} takes a pattern and an escape"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [pattern, escape] = args.args.as_slice() else {
            return plan_err!("{NAME} takes a pattern and an escape");
        };
        let scalar = matches!(
            (pattern, escape),
            (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_))
        );
        let rows = args.number_rows;
        let patterns = pattern.to_array(rows)?;
        let escapes = escape.to_array(rows)?;
        let (patterns, escapes) = (patterns.as_string::<i32>(), escapes.as_string::<i32>());
        let mut out = StringBuilder::with_capacity(rows, 16 * rows);
        for row in 0..rows {
            if patterns.is_null(row) || escapes.is_null(row) {
                out.append_null();
            } else {
                out.append_value(translate(patterns.value(row), escapes.value(row))?);
            }
        }
        let array: ArrayRef = Arc::new(out.finish());
        crate::functions::columnar_result(&array, scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_become_backslashes() {
        assert_eq!(translate("a/%%", "/").unwrap(), "a\\%%");
        assert_eq!(translate("pg/_%", "/").unwrap(), "pg\\_%");
        assert_eq!(translate("//x", "/").unwrap(), "/x");
        assert_eq!(translate("/a", "/").unwrap(), "a");
        assert_eq!(translate("a\\b%", "/").unwrap(), "a\\\\b%");
        assert_eq!(translate("a\\%", "").unwrap(), "a\\\\%");
        assert_eq!(translate("#\\", "#").unwrap(), "\\\\");
        let e = translate("ab/", "/").unwrap_err().to_string();
        assert!(e.contains("must not end with escape character"), "{e}");
        assert!(translate("a", "ab").is_err());
    }
}
