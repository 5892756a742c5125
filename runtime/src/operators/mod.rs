//! Operators: the logic of each dataflow node, independent of timely.
//!
//! An operator is a plain struct that receives batches and emits batches;
//! [`crate::render`] wires it into a timely operator, handles epochs and
//! capabilities, forwards errors, catches panics and observes cancellation.
//! This keeps every operator testable by pushing batches through it.

use arrow::array::RecordBatch;

use crate::error::QueryError;

pub mod aggregate;
pub mod filter;
pub mod hash_join;
pub mod join_util;
pub mod limit;
pub mod project;
pub mod sink;
pub mod sort;
pub mod unnest;
pub mod window;

/// Where an operator puts its output rows.
///
/// In a dataflow the rows go straight to the operator's output (they are
/// not gathered first), so an operator that produces much output should
/// emit as it goes. Long loops should stop when [`Emit::should_stop`] says
/// the query was canceled.
pub trait Emit {
    /// Passes on a batch (empty batches are dropped).
    fn emit(&mut self, batch: RecordBatch);

    /// Whether the query was canceled: long-running work should stop.
    fn should_stop(&self) -> bool {
        false
    }
}

impl Emit for Vec<RecordBatch> {
    fn emit(&mut self, batch: RecordBatch) {
        if batch.num_rows() > 0 {
            self.push(batch);
        }
    }
}

/// Result of an operator callback.
pub type OpResult = Result<(), QueryError>;

/// An operator with one input.
///
/// # Errors
///
/// A callback that fails fails the query; the operator is not called again.
pub trait UnaryOperator {
    /// Handles a batch of input rows, pushing any output to `out`.
    fn on_batch(&mut self, batch: RecordBatch, out: &mut dyn Emit) -> OpResult;

    /// Called once after the last input batch (the input frontier is empty).
    fn on_end(&mut self, _out: &mut dyn Emit) -> OpResult {
        Ok(())
    }

    /// True once the operator will ignore all further input (a satisfied
    /// limit); upstream work may then be skipped.
    fn is_done(&self) -> bool {
        false
    }
}

/// An operator with two inputs (joins). The left input is the build side.
///
/// # Errors
///
/// A callback that fails fails the query; the operator is not called again.
pub trait BinaryOperator {
    /// Handles a batch of the left input.
    fn on_left(&mut self, batch: RecordBatch, out: &mut dyn Emit) -> OpResult;
    /// Handles a batch of the right input.
    fn on_right(&mut self, batch: RecordBatch, out: &mut dyn Emit) -> OpResult;
    /// Called once when the left input has ended.
    fn on_left_end(&mut self, out: &mut dyn Emit) -> OpResult;
    /// Called once when the right input has ended.
    fn on_right_end(&mut self, out: &mut dyn Emit) -> OpResult;
}

/// Splits `batch` into slices of at most `size` rows.
pub(crate) fn slice_batches(batch: RecordBatch, size: usize, out: &mut dyn Emit) {
    let rows = batch.num_rows();
    if rows <= size {
        if rows > 0 {
            out.emit(batch);
        }
        return;
    }
    let mut offset = 0;
    while offset < rows {
        let len = size.min(rows - offset);
        out.emit(batch.slice(offset, len));
        offset += len;
    }
}

/// Builds a batch of `schema` from `columns`, casting any column whose type
/// differs from the schema's (kernels may pick an equivalent type, such as a
/// view type, that the plan's schema does not use).
pub(crate) fn align_batch(
    schema: &arrow::datatypes::SchemaRef,
    columns: Vec<arrow::array::ArrayRef>,
) -> Result<RecordBatch, QueryError> {
    let rows = columns.first().map(|c| c.len()).unwrap_or(0);
    let columns = columns
        .into_iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(c)
            } else {
                arrow::compute::cast(&c, f.data_type())
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(
        std::sync::Arc::clone(schema),
        columns,
        &options,
    )?)
}
