//! `tw_named_cast(expr)`: `expr` itself, under a column name that shows
//! its casts. DataFusion names a cast after its operand (`sum(x)` and
//! `sum(x::float8)` are both `sum(x)`), so two aggregates that differ only
//! by a cast collide in the aggregate's schema; Postgres accepts them. The
//! planner wraps the casts inside such aggregates' arguments in this
//! function, and the optimizer removes it again (it simplifies to its
//! argument), so it never runs.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion_common::{Result, exec_err};
use datafusion_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The function's name.
pub const NAME: &str = "tw_named_cast";

/// The function (see the module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NamedCast {
    signature: Signature,
}

impl NamedCast {
    /// The function as a UDF.
    pub fn udf() -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(Self {
            signature: Signature::any(1, Volatility::Immutable),
        }))
    }
}

impl ScalarUDFImpl for NamedCast {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The argument's display form, which shows casts
    /// (`CAST(t.x AS Float64)`).
    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        match args {
            [a] => Ok(a.to_string()),
            _ => exec_err!("{NAME} takes one argument"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [t] => Ok(t.clone()),
            _ => exec_err!("{NAME} takes one argument"),
        }
    }

    fn simplify(&self, mut args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        match args.pop() {
            Some(a) if args.is_empty() => Ok(ExprSimplifyResult::Simplified(a)),
            _ => exec_err!("{NAME} takes one argument"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match <[ColumnarValue; 1]>::try_from(args.args) {
            Ok([a]) => Ok(a),
            Err(_) => exec_err!("{NAME} takes one argument"),
        }
    }
}
