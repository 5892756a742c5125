//! Changefeed: turns a continuous query's result into the rows of a
//! subscription (`SUBSCRIBE`), each with its epoch and its change.
//!
//! Input: the result, append-only or updating (op column), gathered on
//! one worker and handed over in epoch order (continuous queries drive
//! operators strictly by epoch). Output: `epoch` (the epoch the change
//! belongs to; a subscription's snapshot is at the first epoch), `diff`
//! (+1 for an inserted row or the new version of an updated one, -1 for a
//! deleted row or the old version, Materialize's convention), then the
//! data columns. An epoch's rows are held until the epoch completes and
//! then emitted as one batch, so that a subscriber receives whole epochs
//! (`FETCH` from a subscription's cursor returns what is ready).
//! No state across epochs: a restarted subscription starts from a new
//! snapshot.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch};
use arrow::datatypes::SchemaRef;

use super::{Emit, OpResult, UnaryOperator};
use crate::Epoch;
use crate::changelog;
use crate::error::{QueryError, SqlState};

/// The name of the epoch column of a changefeed.
pub const EPOCH_COLUMN: &str = "epoch";
/// The name of the change column of a changefeed.
pub const DIFF_COLUMN: &str = "diff";

/// Adds the epoch and change columns to a result.
#[derive(Debug)]
pub struct ChangefeedOperator {
    schema: SchemaRef,
    /// The rows of the open epoch.
    pending: Vec<RecordBatch>,
}

impl ChangefeedOperator {
    /// An operator producing `schema`: `epoch`, `diff`, then the data
    /// columns of the input.
    pub fn new(schema: SchemaRef) -> Self {
        Self {
            schema,
            pending: Vec::new(),
        }
    }
}

impl ChangefeedOperator {
    /// Emits the open epoch's rows as one batch: a subscriber then gets
    /// the whole epoch at once.
    fn emit_epoch(&mut self, out: &mut dyn Emit) -> OpResult {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = arrow::compute::concat_batches(&self.schema, &self.pending)
            .map_err(|e| QueryError::new(SqlState::Internal, e.to_string()))?;
        self.pending.clear();
        out.emit(batch);
        Ok(())
    }
}

impl UnaryOperator for ChangefeedOperator {
    fn on_batch(&mut self, epoch: Epoch, batch: RecordBatch, _out: &mut dyn Emit) -> OpResult {
        let (data, diffs) = changelog::diffs(&batch)?;
        if data.num_columns() + 2 != self.schema.fields().len() {
            return Err(QueryError::new(
                SqlState::Internal,
                format!(
                    "a changefeed of {} columns got a batch of {}",
                    self.schema.fields().len() - 2,
                    data.num_columns()
                ),
            ));
        }
        let epoch = i64::try_from(epoch).unwrap_or(i64::MAX);
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(data.num_columns() + 2);
        columns.push(Arc::new(Int64Array::from_value(epoch, data.num_rows())));
        columns.push(Arc::new(Int64Array::from(diffs)));
        columns.extend(data.columns().iter().cloned());
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), columns)
            .map_err(|e| QueryError::new(SqlState::Internal, e.to_string()))?;
        self.pending.push(batch);
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        _epoch: Epoch,
        _watermark: Option<crate::watermark::Timestamp>,
        out: &mut dyn Emit,
    ) -> OpResult {
        self.emit_epoch(out)
    }

    fn on_end(&mut self, out: &mut dyn Emit) -> OpResult {
        self.emit_epoch(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Int8Array};
    use arrow::datatypes::{DataType, Field, Schema};

    #[test]
    fn adds_epoch_and_diff() {
        let data_schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, true)]));
        let out_schema = Arc::new(Schema::new(vec![
            Field::new(EPOCH_COLUMN, DataType::Int64, false),
            Field::new(DIFF_COLUMN, DataType::Int64, false),
            Field::new("k", DataType::Int64, true),
        ]));
        let mut op = ChangefeedOperator::new(Arc::clone(&out_schema));
        let data = RecordBatch::try_new(
            Arc::clone(&data_schema),
            vec![Arc::new(Int64Array::from(vec![1, 2, 3, 4]))],
        )
        .unwrap();
        let updating = changelog::with_ops(
            &data,
            Int8Array::from(vec![0, 1, 2, 3]),
            &changelog::updating_schema(&data_schema),
        )
        .unwrap();
        let mut out: Vec<RecordBatch> = Vec::new();
        op.on_batch(7, updating, &mut out).unwrap();
        assert!(out.is_empty(), "an epoch is emitted when it completes");
        op.on_epoch_end(7, None, &mut out).unwrap();
        op.on_batch(8, data, &mut out).unwrap();
        op.on_end(&mut out).unwrap();
        let col = |b: &RecordBatch, i: usize| -> Vec<i64> {
            let a = b.column(i).as_any().downcast_ref::<Int64Array>().unwrap();
            (0..a.len()).map(|j| a.value(j)).collect()
        };
        assert_eq!(col(&out[0], 0), vec![7; 4]);
        assert_eq!(col(&out[0], 1), vec![1, -1, -1, 1]);
        assert_eq!(col(&out[0], 2), vec![1, 2, 3, 4]);
        assert_eq!(col(&out[1], 1), vec![1; 4]);
        assert_eq!(col(&out[1], 0), vec![8; 4]);
    }
}
