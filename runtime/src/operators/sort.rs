//! Sort, and top-N when a `fetch` is given.
//!
//! Buffers its input until it ends, then sorts with Arrow's lexicographic
//! sort kernel and emits in order. With `fetch`, the buffer is compacted to
//! the best `fetch` rows whenever it grows past a few times that, so a top-N
//! holds O(N) rows. A query sorts locally on every worker, gathers the
//! sorted runs on worker 0 and sorts them there once more.
//! State: the buffered rows, accounted against the memory budget.

use arrow::array::RecordBatch;
use arrow::compute::{concat_batches, lexsort_to_indices, take_record_batch};
use arrow::datatypes::SchemaRef;
use datafusion_physical_expr::PhysicalSortExpr;

use super::{Emit, OpResult, UnaryOperator, slice_batches};
use crate::error::QueryError;
use crate::memory::MemoryReservation;

/// `ORDER BY ... [LIMIT fetch]`.
#[derive(Debug)]
pub struct SortOperator {
    /// Sort keys.
    order: Vec<PhysicalSortExpr>,
    /// Rows to keep, if limited.
    fetch: Option<usize>,
    /// Schema of input and output.
    schema: SchemaRef,
    /// Buffered input.
    buffer: Vec<RecordBatch>,
    /// Rows in `buffer`.
    buffered_rows: usize,
    /// Memory held by `buffer`.
    reservation: MemoryReservation,
    /// Rows per output batch.
    batch_size: usize,
}

impl SortOperator {
    /// Creates the operator.
    pub fn try_new(
        order: Vec<PhysicalSortExpr>,
        fetch: Option<usize>,
        schema: SchemaRef,
        reservation: MemoryReservation,
        batch_size: usize,
    ) -> Result<Self, QueryError> {
        Ok(Self {
            order,
            fetch,
            schema,
            buffer: Vec::new(),
            buffered_rows: 0,
            reservation,
            batch_size,
        })
    }

    /// Sorts the buffer into one batch (keeping `fetch` rows).
    fn sorted(&mut self) -> Result<RecordBatch, QueryError> {
        let batch = concat_batches(&self.schema, &self.buffer)?;
        self.buffer.clear();
        if batch.num_rows() == 0 {
            return Ok(batch);
        }
        if self.order.is_empty() {
            let n = self.fetch.unwrap_or(batch.num_rows()).min(batch.num_rows());
            return Ok(batch.slice(0, n));
        }
        let columns = self
            .order
            .iter()
            .map(|s| s.evaluate_to_sort_column(&batch))
            .collect::<datafusion_common::Result<Vec<_>>>()?;
        let indices = lexsort_to_indices(&columns, self.fetch)?;
        Ok(take_record_batch(&batch, &indices)?)
    }
}

impl UnaryOperator for SortOperator {
    fn on_batch(
        &mut self,
        _epoch: crate::Epoch,
        batch: RecordBatch,
        _out: &mut dyn Emit,
    ) -> OpResult {
        self.buffered_rows += batch.num_rows();
        self.reservation.try_grow(batch.get_array_memory_size())?;
        self.buffer.push(batch);
        if let Some(fetch) = self.fetch
            && self.buffered_rows > fetch.saturating_mul(4).max(self.batch_size)
        {
            let kept = self.sorted()?;
            self.buffered_rows = kept.num_rows();
            self.reservation.try_resize(kept.get_array_memory_size())?;
            self.buffer.push(kept);
        }
        Ok(())
    }

    fn on_end(&mut self, out: &mut dyn Emit) -> OpResult {
        let sorted = self.sorted()?;
        self.reservation.free();
        slice_batches(sorted, self.batch_size, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{AsArray, Int64Array};
    use arrow::compute::SortOptions;
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use datafusion_physical_expr::expressions::Column;

    use super::*;
    use crate::memory::MemoryBudget;

    #[test]
    fn top_n_keeps_the_smallest_across_batches() {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
        let budget = MemoryBudget::new(1 << 30);
        let order = vec![PhysicalSortExpr {
            expr: Arc::new(Column::new("a", 0)),
            options: SortOptions {
                descending: false,
                nulls_first: false,
            },
        }];
        let mut op = SortOperator::try_new(
            order,
            Some(3),
            Arc::clone(&schema),
            budget.reservation("t"),
            2,
        )
        .unwrap();
        let mut out = Vec::new();
        for chunk in [
            vec![Some(9), None, Some(4)],
            vec![Some(7), Some(1)],
            vec![Some(3), Some(8), Some(2)],
        ] {
            let batch =
                RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(Int64Array::from(chunk))])
                    .unwrap();
            op.on_batch(0, batch, &mut out).unwrap();
        }
        op.on_end(&mut out).unwrap();
        let values: Vec<i64> = out
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(values, vec![1, 2, 3]);
    }
}
