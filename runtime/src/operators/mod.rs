//! Operators: the logic of each dataflow node, independent of timely.
//!
//! An operator is a plain struct behind [`UnaryOperator`] or
//! [`BinaryOperator`]; the drivers in `render` wire it into timely, own its
//! capabilities, forward errors, catch panics and observe cancellation. This
//! keeps every operator testable by pushing batches, epochs and watermarks
//! through it.
//!
//! # The contract
//!
//! * **Epochs.** Every batch comes with the epoch it belongs to. Epochs are
//!   handed over in order: once [`UnaryOperator::on_epoch_end`] has been
//!   called for an epoch, no batch of it or of an earlier epoch follows.
//!   Output emitted during a callback belongs to that callback's epoch.
//! * **Watermarks.** `on_epoch_end` carries the event-time watermark
//!   reached at that epoch (the minimum over every source partition, see
//!   [`crate::watermark`]), or `None` when no input has one. Windows fire and
//!   state is trimmed there. A row at or behind the watermark that an
//!   operator has already acted on is late.
//! * **End.** [`UnaryOperator::on_end`] is called once every input has ended:
//!   the watermark is then the end of time, so everything still held is
//!   emitted (a bounded query's blocking operators emit only here).
//! * **Changelog.** On an updating stream the last column of every batch is
//!   the op column ([`crate::changelog`]); operators that keep state must
//!   apply deletes and update-befores as retractions.
//! * **State.** Keyed state is held per key group (the unit of the hash
//!   shuffle, [`crate::shuffle::KEY_GROUPS`]) so that it can be snapshotted
//!   at the end of an epoch and restored at another parallelism:
//!   [`UnaryOperator::snapshot`] and [`UnaryOperator::restore`]
//!   ([`crate::state`]). **Every stateful operator that runs in a continuous
//!   query must implement both**, and a test must show that an instance
//!   rebuilt from a snapshot continues exactly as one that never stopped.

use arrow::array::RecordBatch;

use crate::Epoch;
use crate::error::{QueryError, SqlState};
use crate::state::StateSnapshot;
use crate::watermark::Timestamp;

pub mod aggregate;
pub mod changefeed;
pub mod filter;
pub mod hash_join;
pub mod join_util;
pub mod limit;
pub mod project;
pub mod publish;
#[cfg(test)]
mod rescale;
pub mod retracting_aggregate;
pub mod sink;
pub mod sort;
pub mod stream_join;
pub mod top_n;
pub mod unnest;
pub mod updating_aggregate;
pub mod window;
pub mod window_aggregate;
pub mod window_assign;

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

/// The error of an operator asked to restore state it does not keep.
fn stateless_restore(snapshot: &StateSnapshot) -> OpResult {
    if snapshot.is_empty() {
        Ok(())
    } else {
        Err(QueryError::new(
            SqlState::Internal,
            "state restored into an operator that keeps none",
        ))
    }
}

/// An operator with one input (see the module docs for the contract).
///
/// # Errors
///
/// A callback that fails fails the query; the operator is not called again.
pub trait UnaryOperator {
    /// Handles a batch of input rows of `epoch`, pushing any output to `out`.
    fn on_batch(&mut self, epoch: Epoch, batch: RecordBatch, out: &mut dyn Emit) -> OpResult;

    /// Called when `epoch` has completed, with the watermark reached at it.
    fn on_epoch_end(
        &mut self,
        _epoch: Epoch,
        _watermark: Option<Timestamp>,
        _out: &mut dyn Emit,
    ) -> OpResult {
        Ok(())
    }

    /// Called once after the last input batch (the input frontier is empty).
    fn on_end(&mut self, _out: &mut dyn Emit) -> OpResult {
        Ok(())
    }

    /// Called when the input frontier has advanced to `frontier`: every
    /// epoch before it is complete, including those that brought no input
    /// (they get no [`on_epoch_end`](Self::on_epoch_end)). Operators that
    /// expose progress outside the dataflow (a view's published epoch)
    /// use it; the others keep the default.
    fn on_frontier(&mut self, _frontier: Epoch) -> OpResult {
        Ok(())
    }

    /// True once the operator will ignore all further input (a satisfied
    /// limit); upstream work may then be skipped.
    fn is_done(&self) -> bool {
        false
    }

    /// The operator's state as of the last completed epoch, by key group.
    /// Stateless operators keep the default (nothing).
    fn snapshot(&mut self) -> Result<StateSnapshot, QueryError> {
        Ok(StateSnapshot::default())
    }

    /// Replaces the operator's state by `snapshot` (the key groups this
    /// instance owns, taken from any number of instances' snapshots).
    fn restore(&mut self, snapshot: StateSnapshot) -> OpResult {
        stateless_restore(&snapshot)
    }
}

/// An operator with two inputs (joins). The left input is the build side.
///
/// # Errors
///
/// A callback that fails fails the query; the operator is not called again.
pub trait BinaryOperator {
    /// Handles a batch of the left input.
    fn on_left(&mut self, epoch: Epoch, batch: RecordBatch, out: &mut dyn Emit) -> OpResult;
    /// Handles a batch of the right input.
    fn on_right(&mut self, epoch: Epoch, batch: RecordBatch, out: &mut dyn Emit) -> OpResult;
    /// Called when `epoch` has completed on both inputs, with the watermark
    /// reached at it (the minimum of both sides').
    fn on_epoch_end(
        &mut self,
        _epoch: Epoch,
        _watermark: Option<Timestamp>,
        _out: &mut dyn Emit,
    ) -> OpResult {
        Ok(())
    }
    /// Called once when the left input has ended.
    fn on_left_end(&mut self, out: &mut dyn Emit) -> OpResult;
    /// Called once when the right input has ended.
    fn on_right_end(&mut self, out: &mut dyn Emit) -> OpResult;

    /// The operator's state as of the last completed epoch, by key group.
    fn snapshot(&mut self) -> Result<StateSnapshot, QueryError> {
        Ok(StateSnapshot::default())
    }

    /// Replaces the operator's state by `snapshot`.
    fn restore(&mut self, snapshot: StateSnapshot) -> OpResult {
        stateless_restore(&snapshot)
    }
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
