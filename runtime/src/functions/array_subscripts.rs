//! `generate_subscripts(array, dim [, reverse])`: the subscripts of an
//! array's dimension, as a list.
//!
//! In Postgres it is a set-returning function, called in the select list
//! next to `unnest` of the same array (SQLAlchemy's reflection of keys and
//! indexes numbers `pg_index.indkey` so), and set-returning functions in
//! one select list advance in lockstep. The planner rewrites the call to
//! `unnest(tw_array_subscripts(...))`, so that this scalar function builds
//! the list and the unnest turns it into rows beside the other unnests.
//! Tidewater's arrays have one dimension, numbered from 1: dimension 1
//! gives `1..=n` (`n..=1` when `reverse`), any other dimension and a NULL
//! or empty array give no rows.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int32Builder, ListBuilder};
use arrow::datatypes::{DataType, Int64Type};
use datafusion_common::{Result, plan_err};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The function's name.
pub const NAME: &str = "tw_array_subscripts";

/// The function (see the module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ArraySubscripts {
    signature: Signature,
}

impl ArraySubscripts {
    /// The function as a UDF.
    pub fn udf() -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }))
    }
}

impl ScalarUDFImpl for ArraySubscripts {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let array = match arg_types.first() {
            Some(DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _)) => {
                DataType::new_list(f.data_type().clone(), true)
            }
            Some(DataType::Null) => DataType::new_list(DataType::Null, true),
            Some(other) => {
                return plan_err!("function generate_subscripts({other}, integer) does not exist");
            }
            None => return plan_err!("generate_subscripts takes an array and a dimension"),
        };
        match arg_types.len() {
            2 => Ok(vec![array, DataType::Int64]),
            3 => Ok(vec![array, DataType::Int64, DataType::Boolean]),
            _ => plan_err!("generate_subscripts takes an array, a dimension and a reverse flag"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::new_list(DataType::Int32, true))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<_>>()?;
        let (Some(lists), Some(dims)) = (arrays.first(), arrays.get(1)) else {
            return plan_err!("generate_subscripts takes an array and a dimension");
        };
        let lists = lists.as_list::<i32>();
        let dims = dims.as_primitive::<Int64Type>();
        let reverse = arrays.get(2).map(|r| r.as_boolean().clone());
        let mut out = ListBuilder::new(Int32Builder::new());
        for row in 0..rows {
            if lists.is_null(row) || dims.is_null(row) || dims.value(row) != 1 {
                out.append_null();
                continue;
            }
            let n = lists.value_length(row);
            let backwards = reverse
                .as_ref()
                .is_some_and(|r| r.is_valid(row) && r.value(row));
            if backwards {
                out.values()
                    .append_values(&(1..=n).rev().collect::<Vec<_>>(), &vec![true; n as usize]);
            } else {
                out.values()
                    .append_values(&(1..=n).collect::<Vec<_>>(), &vec![true; n as usize]);
            }
            out.append(true);
        }
        let array: ArrayRef = Arc::new(out.finish());
        crate::functions::columnar_result(&array, scalar)
    }
}
