//! `_pg_expandarray(anyarray)`: the elements of an array with their
//! 1-based positions, as a list of `(x, n)` structs.
//!
//! In Postgres, `information_schema._pg_expandarray` is a set-returning
//! function of rows `(x anyelement, n int)`; pgjdbc calls it in the select
//! list (`(information_schema._pg_expandarray(i.indkey)).n`). The planner
//! rewrites such a call to `unnest(_pg_expandarray(array))`, so this scalar
//! function builds the list and the unnest turns it into rows. A NULL array
//! gives a NULL list (no rows).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int32Array, ListArray, StructArray};
use arrow::datatypes::{DataType, Field, Fields};
use datafusion_common::{DataFusionError, Result, plan_err};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The function's name.
pub const NAME: &str = "_pg_expandarray";

/// The function (see the module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ExpandArray {
    signature: Signature,
}

impl ExpandArray {
    /// The function as a UDF.
    pub fn udf() -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }))
    }
}

/// The `(x, n)` struct fields for elements of type `element`.
fn pair_fields(element: &DataType) -> Fields {
    Fields::from(vec![
        Field::new("x", element.clone(), true),
        Field::new("n", DataType::Int32, true),
    ])
}

/// The result type for an array of `element`s.
fn result_type(element: &DataType) -> DataType {
    DataType::new_list(DataType::Struct(pair_fields(element)), true)
}

impl ScalarUDFImpl for ExpandArray {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _)] => {
                Ok(vec![DataType::new_list(f.data_type().clone(), true)])
            }
            [DataType::Null] => Ok(vec![DataType::new_list(DataType::Null, true)]),
            [other] => plan_err!("{NAME}(anyarray) does not accept {other}"),
            _ => plan_err!("{NAME} takes one argument"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::List(f)] => Ok(result_type(f.data_type())),
            other => plan_err!("{NAME} of {other:?}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return Err(DataFusionError::Internal(format!(
                "{NAME} takes one argument"
            )));
        };
        let scalar = matches!(arg, ColumnarValue::Scalar(_));
        let array = arg.to_array(args.number_rows)?;
        let out = expand(&array)?;
        crate::functions::columnar_result(&out, scalar)
    }
}

/// `_pg_expandarray` over a list array.
fn expand(array: &ArrayRef) -> Result<ArrayRef> {
    let DataType::List(element) = array.data_type() else {
        return plan_err!("{NAME} of {}", array.data_type());
    };
    let list = array.as_list::<i32>();
    let offsets = list.offsets();
    // Each element's position in its own list; elements outside every
    // list (a sliced array) get 0 and are never read.
    let mut positions = vec![0i32; list.values().len()];
    for row in 0..list.len() {
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        for (i, p) in positions[start..end].iter_mut().enumerate() {
            *p = i32::try_from(i + 1).unwrap_or(i32::MAX);
        }
    }
    let pairs = StructArray::try_new(
        pair_fields(element.data_type()),
        vec![
            Arc::clone(list.values()),
            Arc::new(Int32Array::from(positions)),
        ],
        None,
    )?;
    let DataType::List(field) = result_type(element.data_type()) else {
        unreachable!("result_type is a list");
    };
    Ok(Arc::new(ListArray::try_new(
        field,
        offsets.clone(),
        Arc::new(pairs),
        list.nulls().cloned(),
    )?))
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::Int16Type;

    use super::*;

    #[test]
    fn pairs_elements_with_positions() {
        let input: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int16Type, _, _>(vec![
            Some(vec![Some(3), Some(1)]),
            None,
            Some(vec![]),
            Some(vec![Some(7)]),
        ]));
        let out = expand(&input).unwrap();
        let list = out.as_list::<i32>();
        assert!(list.is_null(1));
        let row = |r: usize| -> Vec<(i16, i32)> {
            let pairs = list.value(r);
            let pairs = pairs.as_struct();
            let x = pairs.column(0).as_primitive::<Int16Type>();
            let n = pairs
                .column(1)
                .as_primitive::<arrow::datatypes::Int32Type>();
            (0..pairs.len()).map(|i| (x.value(i), n.value(i))).collect()
        };
        assert_eq!(row(0), [(3, 1), (1, 2)]);
        assert_eq!(row(2), []);
        assert_eq!(row(3), [(7, 1)]);
    }
}
