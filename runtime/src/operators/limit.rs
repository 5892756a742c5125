//! Limit: skips the first `skip` rows and passes on the next `fetch`, in
//! arrival order. Holds only two counters; once satisfied it reports
//! [`UnaryOperator::is_done`] so sources upstream can stop.

use arrow::array::RecordBatch;

use super::{Emit, OpResult, UnaryOperator};

/// `OFFSET skip LIMIT fetch`.
#[derive(Debug)]
pub struct LimitOperator {
    /// Rows still to skip.
    skip: usize,
    /// Rows still to pass on (`None`: all).
    remaining: Option<usize>,
}

impl LimitOperator {
    /// Creates the operator.
    pub fn new(skip: usize, fetch: Option<usize>) -> Self {
        Self {
            skip,
            remaining: fetch,
        }
    }
}

impl UnaryOperator for LimitOperator {
    fn on_batch(
        &mut self,
        _epoch: crate::Epoch,
        batch: RecordBatch,
        out: &mut dyn Emit,
    ) -> OpResult {
        let mut batch = batch;
        if self.skip > 0 {
            let n = self.skip.min(batch.num_rows());
            self.skip -= n;
            batch = batch.slice(n, batch.num_rows() - n);
        }
        if let Some(remaining) = &mut self.remaining {
            let n = (*remaining).min(batch.num_rows());
            *remaining -= n;
            batch = batch.slice(0, n);
        }
        if batch.num_rows() > 0 {
            out.emit(batch);
        }
        Ok(())
    }

    fn is_done(&self) -> bool {
        self.remaining == Some(0)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;

    fn batch(values: std::ops::Range<i64>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(values))]).unwrap()
    }

    #[test]
    fn skips_and_fetches_across_batches() {
        let mut op = LimitOperator::new(3, Some(4));
        let mut out = Vec::new();
        op.on_batch(0, batch(0..2), &mut out).unwrap();
        op.on_batch(0, batch(2..5), &mut out).unwrap();
        assert!(!op.is_done());
        op.on_batch(0, batch(5..10), &mut out).unwrap();
        assert!(op.is_done());
        op.on_batch(0, batch(10..12), &mut out).unwrap();
        let values: Vec<i64> = out
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(values, vec![3, 4, 5, 6]);
    }
}
