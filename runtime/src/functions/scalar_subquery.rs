//! `tw_scalar_subquery_value(v)`: the aggregate that a decorrelated scalar
//! subquery without an aggregate of its own is grouped by. It returns the
//! single value of its group, NULL for an empty group, and fails with
//! Postgres's error 21000 when the group has more than one row ("more than
//! one row returned by a subquery used as an expression").

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion_common::{DataFusionError, Result, ScalarValue};
use datafusion_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};

use crate::error::{QueryError, SqlState};

/// The function's name.
pub const NAME: &str = "tw_scalar_subquery_value";

/// The aggregate (see the module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ScalarSubqueryValue {
    signature: Signature,
}

impl ScalarSubqueryValue {
    /// The aggregate as a UDAF.
    pub fn udaf() -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::new_from_impl(Self {
            signature: Signature::any(1, Volatility::Immutable),
        }))
    }
}

fn too_many_rows() -> DataFusionError {
    DataFusionError::External(Box::new(QueryError::new(
        SqlState::CardinalityViolation,
        "more than one row returned by a subquery used as an expression",
    )))
}

impl AggregateUDFImpl for ScalarSubqueryValue {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types.first().cloned().unwrap_or(DataType::Null))
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(SingleValue {
            rows: 0,
            value: ScalarValue::try_from(acc_args.return_field.data_type())?,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[rows]", args.name),
                DataType::UInt64,
                false,
            )),
            Arc::new(Field::new(
                format!("{}[value]", args.name),
                args.return_field.data_type().clone(),
                true,
            )),
        ])
    }
}

/// Rows seen and the first value.
#[derive(Debug)]
struct SingleValue {
    rows: u64,
    value: ScalarValue,
}

impl Accumulator for SingleValue {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(values) = values.first() else {
            return Ok(());
        };
        if values.is_empty() {
            return Ok(());
        }
        if self.rows > 0 || values.len() > 1 {
            return Err(too_many_rows());
        }
        self.rows = 1;
        self.value = ScalarValue::try_from_array(values, 0)?;
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [rows, values] = states else {
            return Err(DataFusionError::Internal(
                "bad state for tw_scalar_subquery_value".into(),
            ));
        };
        let rows = rows.as_primitive::<UInt64Type>();
        for i in 0..rows.len() {
            let n = rows.value(i);
            if n == 0 {
                continue;
            }
            if self.rows + n > 1 {
                return Err(too_many_rows());
            }
            self.rows = n;
            self.value = ScalarValue::try_from_array(values, i)?;
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::UInt64(Some(self.rows)),
            self.value.clone(),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.value.clone())
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.value.size()
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::Int32Array;

    use super::*;

    #[test]
    fn one_value_null_for_none_error_for_many() {
        let mut acc = SingleValue {
            rows: 0,
            value: ScalarValue::Int32(None),
        };
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Int32(None));
        acc.update_batch(&[Arc::new(Int32Array::from(vec![7]))])
            .unwrap();
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Int32(Some(7)));
        let err = acc
            .update_batch(&[Arc::new(Int32Array::from(vec![8]))])
            .unwrap_err();
        assert_eq!(
            QueryError::from_datafusion(&err).state,
            SqlState::CardinalityViolation
        );
    }
}
