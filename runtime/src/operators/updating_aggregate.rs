//! Updating aggregation: `GROUP BY` without windows over an unbounded,
//! append-only input, producing a changelog.
//!
//! Input: rows hashed on the group keys (each group lives on one worker).
//! State: per group, its accumulator state and the final values last
//! emitted, as rows of state batches indexed by the group key's
//! `arrow-row` encoding (compacted when most stored rows are stale).
//! When an epoch ends, the epoch's rows are aggregated into partial states
//! (DataFusion's accumulators), merged with the stored states of the groups
//! they touch, and for each such group the operator emits `-U` (the old
//! values) and `+U` (the new), or `+I` for a new group. Every aggregate
//! function works, as its state merges. Output: updating (op column).
//! Snapshot: the stored rows of each key group (group keys, states,
//! finals).
//!
//! Retractions in the input (an aggregate over an updating stream) are not
//! supported yet; the planner refuses such plans.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int8Array, RecordBatch, RecordBatchOptions};
use arrow::compute::interleave_record_batch;
use arrow::datatypes::{Schema, SchemaRef};
use arrow_row::{RowConverter, SortField};

use super::aggregate::{AggregateSpec, partial_schema};
use super::{Emit, OpResult, UnaryOperator};
use crate::Epoch;
use crate::changelog::{self, Op};
use crate::error::{QueryError, SqlState};
use crate::expr::{ExprContext, ExprIr, SchemaIr};
use crate::memory::MemoryReservation;
use crate::plan::AggregatePhase;
use crate::state::StateSnapshot;
use crate::watermark::Timestamp;

fn internal(e: impl std::fmt::Display) -> QueryError {
    QueryError::new(SqlState::Internal, e.to_string())
}

/// Maintains `GROUP BY` results over an unbounded input.
pub struct UpdatingAggregateOperator {
    /// Aggregates the epoch's input rows into partial states.
    delta: AggregateSpec,
    /// Merges states and computes final values.
    merge: AggregateSpec,
    /// Group key columns (leading columns of states and output).
    groups: usize,
    /// State columns after the group keys.
    states: usize,
    /// Encodes group keys.
    converter: Option<RowConverter>,
    /// Stored rows: group keys, states, finals.
    stored: Vec<Option<RecordBatch>>,
    /// Live rows per stored batch.
    live: Vec<usize>,
    /// Rows in stored batches, live or stale.
    stored_rows: usize,
    /// Bytes of the stored batches.
    stored_bytes: usize,
    /// Group key encoding to (batch, row) in `stored`.
    index: HashMap<Box<[u8]>, (usize, usize)>,
    /// This epoch's input.
    pending: Vec<RecordBatch>,
    /// Schema of stored batches.
    stored_schema: SchemaRef,
    /// Output schema (the aggregate's columns and the op column).
    output: SchemaRef,
    reservation: MemoryReservation,
}

impl std::fmt::Debug for UpdatingAggregateOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdatingAggregateOperator")
            .field("groups", &self.index.len())
            .finish_non_exhaustive()
    }
}

impl UpdatingAggregateOperator {
    /// Prepares the operator; `output` is the aggregate's schema with the
    /// op column last.
    ///
    /// # Errors
    ///
    /// When the expressions cannot be prepared.
    pub fn try_new(
        ctx: &ExprContext<'_>,
        group_by: &[ExprIr],
        aggregates: &[ExprIr],
        output: SchemaRef,
        reservation: MemoryReservation,
    ) -> Result<Self, QueryError> {
        let finals = changelog::data_schema(&output);
        let group_fields = SchemaIr {
            columns: finals.fields()[..group_by.len()]
                .iter()
                .map(|f| (None, f.as_ref().clone()))
                .collect(),
        };
        let partial = partial_schema(ctx, &group_fields, aggregates)
            .map_err(|e| QueryError::from_datafusion(&e))?
            .arrow_schema();
        let delta = AggregateSpec::try_new(
            ctx,
            group_by,
            aggregates,
            AggregatePhase::Partial,
            Arc::clone(&partial),
        )?;
        let merge = AggregateSpec::try_new(
            ctx,
            group_by,
            aggregates,
            AggregatePhase::Final,
            Arc::clone(&finals),
        )?;
        let groups = group_by.len();
        let states = partial.fields().len() - groups;
        let mut fields: Vec<_> = partial
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        for (i, f) in finals.fields()[groups..].iter().enumerate() {
            fields.push(f.as_ref().clone().with_name(format!("final_{i}")));
        }
        let stored_schema = Arc::new(Schema::new(fields));
        let converter = (groups > 0)
            .then(|| {
                RowConverter::new(
                    finals.fields()[..groups]
                        .iter()
                        .map(|f| SortField::new(f.data_type().clone()))
                        .collect(),
                )
            })
            .transpose()
            .map_err(|e| QueryError::new(SqlState::FeatureNotSupported, e.to_string()))?;
        Ok(Self {
            delta,
            merge,
            groups,
            states,
            converter,
            stored: Vec::new(),
            live: Vec::new(),
            stored_rows: 0,
            stored_bytes: 0,
            index: HashMap::new(),
            pending: Vec::new(),
            stored_schema,
            output,
            reservation,
        })
    }

    /// The encoded group key of every row of `keys`.
    fn encode(&self, keys: &[ArrayRef], rows: usize) -> Result<Vec<Box<[u8]>>, QueryError> {
        match &self.converter {
            None => Ok(vec![Box::from(&[][..]); rows]),
            Some(c) => {
                let encoded = c.convert_columns(keys).map_err(internal)?;
                Ok(encoded.iter().map(|r| Box::from(r.as_ref())).collect())
            }
        }
    }

    fn batch(
        schema: &SchemaRef,
        columns: Vec<ArrayRef>,
        rows: usize,
    ) -> Result<RecordBatch, QueryError> {
        RecordBatch::try_new_with_options(
            Arc::clone(schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .map_err(internal)
    }

    /// Stores `batch` (group keys, states, finals) as the current rows of
    /// its groups.
    fn store(&mut self, batch: RecordBatch, keys: Vec<Box<[u8]>>) {
        let b = self.stored.len();
        let rows = batch.num_rows();
        self.stored_bytes += batch.get_array_memory_size();
        self.stored.push(Some(batch));
        self.live.push(rows);
        self.stored_rows += rows;
        for (r, key) in keys.into_iter().enumerate() {
            if let Some((old, _)) = self.index.insert(key, (b, r)) {
                self.release(old);
            }
        }
    }

    fn release(&mut self, b: usize) {
        self.live[b] -= 1;
        if self.live[b] == 0
            && let Some(batch) = self.stored[b].take()
        {
            self.stored_rows -= batch.num_rows();
            self.stored_bytes -= batch.get_array_memory_size();
        }
    }

    /// Rewrites the stored rows into one batch once most are stale.
    fn maybe_compact(&mut self) -> OpResult {
        let live = self.index.len();
        if self.stored_rows <= 2 * live + 4096 {
            return Ok(());
        }
        let batch = self.gather(self.index.values().copied().collect::<Vec<_>>().as_slice())?;
        let keys: Vec<Box<[u8]>> = self.index.keys().cloned().collect();
        self.stored.clear();
        self.live.clear();
        self.stored_rows = 0;
        self.stored_bytes = 0;
        self.index.clear();
        self.store(batch, keys);
        Ok(())
    }

    /// The stored rows at `positions`, as one batch.
    fn gather(&self, positions: &[(usize, usize)]) -> Result<RecordBatch, QueryError> {
        if positions.is_empty() {
            return Ok(RecordBatch::new_empty(Arc::clone(&self.stored_schema)));
        }
        let mut slots: HashMap<usize, usize> = HashMap::new();
        let mut batches: Vec<&RecordBatch> = Vec::new();
        let mut indices = Vec::with_capacity(positions.len());
        for (b, r) in positions {
            let slot = *slots.entry(*b).or_insert_with(|| {
                batches.push(
                    self.stored[*b]
                        .as_ref()
                        .expect("live rows keep their batch"),
                );
                batches.len() - 1
            });
            indices.push((slot, *r));
        }
        interleave_record_batch(&batches, &indices).map_err(internal)
    }

    fn apply_epoch(&mut self, out: &mut dyn Emit) -> OpResult {
        let pending = std::mem::take(&mut self.pending);
        let df = |e: datafusion_common::DataFusionError| QueryError::from_datafusion(&e);
        // The epoch's rows as partial states per group.
        let mut delta = self.delta.new_table()?;
        for batch in &pending {
            let keys = self.delta.group_keys(batch).map_err(df)?;
            delta.update(&self.delta, &keys, batch).map_err(df)?;
        }
        let delta_columns = delta.take_state().map_err(df)?;
        let touched = delta_columns.first().map_or(1, |c| c.len());
        let delta_batch = Self::batch(&self.delta.schema, delta_columns, touched)?;
        let keys = self.encode(&delta_batch.columns()[..self.groups], touched)?;
        let old: Vec<(usize, usize)> = keys
            .iter()
            .filter_map(|k| self.index.get(k).copied())
            .collect();
        let old_batch = self.gather(&old)?;
        let had_old: Vec<bool> = keys.iter().map(|k| self.index.contains_key(k)).collect();

        // Merge: old states first (they intern first), then the delta.
        let width = self.groups + self.states;
        let old_states = old_batch
            .project(&(0..width).collect::<Vec<_>>())
            .map_err(internal)?;
        let mut merged = self.merge.new_table()?;
        if old_states.num_rows() > 0 {
            merged.merge_state(&self.merge, &old_states).map_err(df)?;
        }
        merged.merge_state(&self.merge, &delta_batch).map_err(df)?;
        let state_columns = merged.take_state().map_err(df)?;
        let rows = state_columns.first().map_or(1, |c| c.len());
        let states = Self::batch(&self.delta.schema, state_columns, rows)?;
        let mut finals_table = self.merge.new_table()?;
        finals_table.merge_state(&self.merge, &states).map_err(df)?;
        let finals = finals_table.emit(AggregatePhase::Final).map_err(df)?;

        // The order of `states` is: groups that had old rows (in `old`
        // order), then the new ones (in delta order).
        let new_keys = self.encode(&states.columns()[..self.groups], rows)?;
        let was_stored: Vec<bool> = new_keys
            .iter()
            .map(|k| self.index.contains_key(k))
            .collect();
        debug_assert_eq!(had_old.iter().filter(|h| **h).count(), old.len());

        // Retractions of the old values, then the new values.
        let data_schema = changelog::data_schema(&self.output);
        if old_batch.num_rows() > 0 {
            let mut columns: Vec<ArrayRef> = old_batch.columns()[..self.groups].to_vec();
            columns.extend(old_batch.columns()[width..].iter().cloned());
            let before = Self::batch(&data_schema, columns, old_batch.num_rows())?;
            out.emit(changelog::all_ops(&before, Op::UpdateBefore, &self.output)?);
        }
        let after = Self::batch(&data_schema, finals.clone(), rows)?;
        let ops: Int8Array = was_stored
            .iter()
            .map(|s| Some(if *s { Op::UpdateAfter } else { Op::Insert } as i8))
            .collect();
        out.emit(changelog::with_ops(&after, ops, &self.output)?);

        let mut columns = states.columns().to_vec();
        columns.extend(finals.into_iter().skip(self.groups));
        let stored = Self::batch(&self.stored_schema, columns, rows)?;
        self.store(stored, new_keys);
        self.maybe_compact()?;
        self.reservation.try_resize(self.stored_bytes)
    }
}

impl UnaryOperator for UpdatingAggregateOperator {
    fn on_batch(&mut self, _epoch: Epoch, batch: RecordBatch, _out: &mut dyn Emit) -> OpResult {
        if changelog::is_updating(batch.schema_ref()) {
            return Err(QueryError::new(
                SqlState::FeatureNotSupported,
                "aggregating an updating input is not supported yet",
            ));
        }
        if batch.num_rows() > 0 {
            self.pending.push(batch);
        }
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        _epoch: Epoch,
        _watermark: Option<Timestamp>,
        out: &mut dyn Emit,
    ) -> OpResult {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.apply_epoch(out)
    }

    fn on_end(&mut self, out: &mut dyn Emit) -> OpResult {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.apply_epoch(out)
    }

    fn snapshot(&mut self) -> Result<StateSnapshot, QueryError> {
        let mut snapshot = StateSnapshot::default();
        let positions: Vec<_> = self.index.values().copied().collect();
        let batch = self.gather(&positions)?;
        let keys = batch.columns()[..self.groups].to_vec();
        snapshot.add_keyed(&keys, &batch)?;
        Ok(snapshot)
    }

    fn restore(&mut self, snapshot: StateSnapshot) -> OpResult {
        self.stored.clear();
        self.live.clear();
        self.index.clear();
        self.stored_rows = 0;
        self.stored_bytes = 0;
        for batch in snapshot.batches() {
            let batch = batch
                .clone()
                .with_schema(Arc::clone(&self.stored_schema))
                .map_err(internal)?;
            let keys = self.encode(&batch.columns()[..self.groups], batch.num_rows())?;
            self.store(batch, keys);
        }
        self.reservation.try_resize(self.stored_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::SchemaIr;
    use crate::functions::FunctionRegistry;
    use crate::memory::MemoryBudget;
    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::{DataType, Field, Int64Type};
    use datafusion_expr::col;
    use datafusion_expr::execution_props::ExecutionProps;
    use datafusion_functions_aggregate::count::count_all;
    use datafusion_functions_aggregate::expr_fn::{max, min};
    use std::collections::BTreeMap;

    fn input_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("v", DataType::Int64, true),
        ]))
    }

    fn operator() -> UpdatingAggregateOperator {
        let schema = SchemaIr::from_arrow(&input_schema());
        let props = ExecutionProps::new();
        let ctx = ExprContext::try_new(FunctionRegistry::shared(), &schema, &props).unwrap();
        let group_by = vec![ExprIr::try_from_expr(&col("k")).unwrap()];
        let aggregates = vec![
            ExprIr::try_from_expr(&count_all()).unwrap(),
            ExprIr::try_from_expr(&min(col("v"))).unwrap(),
            ExprIr::try_from_expr(&max(col("v"))).unwrap(),
        ];
        let output = changelog::updating_schema(&Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("n", DataType::Int64, false),
            Field::new("s", DataType::Int64, true),
            Field::new("m", DataType::Int64, true),
        ]));
        let budget = MemoryBudget::new(1 << 30);
        UpdatingAggregateOperator::try_new(
            &ctx,
            &group_by,
            &aggregates,
            output,
            budget.reservation("test"),
        )
        .unwrap()
    }

    fn rows(k: &[i64], v: &[i64]) -> RecordBatch {
        RecordBatch::try_new(
            input_schema(),
            vec![
                Arc::new(Int64Array::from(k.to_vec())),
                Arc::new(Int64Array::from(v.to_vec())),
            ],
        )
        .unwrap()
    }

    /// Applies emitted changes to a result multiset.
    fn apply(result: &mut BTreeMap<Vec<i64>, i64>, out: &[RecordBatch]) {
        for b in out {
            let (data, diffs) = changelog::diffs(b).unwrap();
            for (i, d) in diffs.iter().enumerate() {
                let row: Vec<i64> = (0..data.num_columns())
                    .map(|c| data.column(c).as_primitive::<Int64Type>().value(i))
                    .collect();
                *result.entry(row.clone()).or_default() += d;
                if result[&row] == 0 {
                    result.remove(&row);
                }
            }
        }
    }

    #[test]
    fn emits_updates_per_epoch_and_continues_from_a_snapshot() {
        let mut op = operator();
        let mut result = BTreeMap::new();
        let mut out = Vec::new();
        op.on_batch(0, rows(&[1, 2, 1], &[10, 20, 5]), &mut out)
            .unwrap();
        op.on_epoch_end(0, None, &mut out).unwrap();
        apply(&mut result, &out);
        assert_eq!(
            result.keys().cloned().collect::<Vec<_>>(),
            vec![vec![1, 2, 5, 10], vec![2, 1, 20, 20]]
        );
        out.clear();
        op.on_batch(1, rows(&[1], &[100]), &mut out).unwrap();
        op.on_epoch_end(1, None, &mut out).unwrap();
        // -U of the old row, +U of the new; group 2 untouched.
        assert_eq!(out.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);
        apply(&mut result, &out);
        assert!(result.contains_key(&vec![1, 3, 5, 100]));

        // A restored operator continues identically.
        let snapshot = op.snapshot().unwrap();
        let mut restored = operator();
        restored.restore(snapshot).unwrap();
        let (mut a, mut b) = (result.clone(), result);
        for (o, r) in [(&mut op, &mut a), (&mut restored, &mut b)] {
            let mut out = Vec::new();
            o.on_batch(2, rows(&[2, 3], &[1, 7]), &mut out).unwrap();
            o.on_epoch_end(2, None, &mut out).unwrap();
            apply(r, &out);
        }
        assert_eq!(a, b);
        assert!(a.contains_key(&vec![2, 2, 1, 20]) && a.contains_key(&vec![3, 1, 7, 7]));
    }

    #[test]
    fn compacts_stale_rows() {
        let mut op = operator();
        let mut out = Vec::new();
        for e in 0..50u64 {
            let k: Vec<i64> = (0..200).collect();
            op.on_batch(e, rows(&k, &vec![1; 200]), &mut out).unwrap();
            op.on_epoch_end(e, None, &mut out).unwrap();
        }
        assert_eq!(op.index.len(), 200);
        assert!(op.stored_rows <= 2 * 200 + 4096 + 200);
    }

    #[test]
    fn rescales_through_a_snapshot() {
        let script: Vec<_> = (0..6i64)
            .map(|e| {
                let k: Vec<i64> = (0..40).map(|i| (i * 7 + e) % 11).collect();
                let v: Vec<i64> = (0..40).map(|i| i * e - 50).collect();
                (rows(&k, &v), None)
            })
            .collect();
        crate::operators::rescale::unary_rescales(operator, &[0], &script, 3);
    }
}
