//! Filter: keeps the rows whose predicate is true (not false, not null).
//! Stateless.

use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::DataType;
use datafusion_physical_expr::PhysicalExpr;

use super::{Emit, OpResult, UnaryOperator};
use crate::error::{QueryError, SqlState};

/// Keeps rows where the predicate holds.
#[derive(Debug)]
pub struct FilterOperator {
    /// Boolean predicate over the input.
    predicate: Arc<dyn PhysicalExpr>,
}

impl FilterOperator {
    /// Creates the operator.
    pub fn new(predicate: Arc<dyn PhysicalExpr>) -> Self {
        Self { predicate }
    }

    /// Filters one batch.
    pub fn filter(&self, batch: &RecordBatch) -> Result<RecordBatch, QueryError> {
        let mask = self
            .predicate
            .evaluate(batch)?
            .into_array(batch.num_rows())?;
        if mask.data_type() != &DataType::Boolean {
            return Err(QueryError::new(
                SqlState::DataException,
                format!(
                    "argument of WHERE must be type boolean, not {}",
                    mask.data_type()
                ),
            ));
        }
        Ok(filter_record_batch(batch, mask.as_boolean())?)
    }
}

impl UnaryOperator for FilterOperator {
    fn on_batch(
        &mut self,
        _epoch: crate::Epoch,
        batch: RecordBatch,
        out: &mut dyn Emit,
    ) -> OpResult {
        let kept = self.filter(&batch)?;
        if kept.num_rows() > 0 {
            out.emit(kept);
        }
        Ok(())
    }
}
