//! Window aggregation: `GROUP BY window_start, window_end, …` over rows
//! that a window table function (`TUMBLE`, `HOP`) assigned to windows.
//!
//! As in Flink, each window's groups are emitted once, when the watermark
//! passes the window's end (the watermark reaches `window_end - 1µs`), as
//! append-only output, and the window's state is then freed. Rows whose
//! window has already fired are late: dropped and counted. When the input
//! ends every window still open fires.
//!
//! State: one group table per open window (ordered by window end), so that
//! firing a window takes its table whole. Like the hash aggregate it runs in
//! two phases across workers (partial per worker, final after a shuffle on
//! the group keys) or in one. Snapshots hold every open window's groups as
//! partial state (the window end, then the group columns and every
//! call's state columns), by the key group of the group columns.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::{Field, Schema};

use super::aggregate::{AggregateSpec, GroupTable};
use super::{Emit, OpResult, UnaryOperator, align_batch, slice_batches};
use crate::Epoch;
use crate::error::{QueryError, SqlState};
use crate::expr::{ExprContext, ExprIr};
use crate::memory::MemoryReservation;
use crate::plan::AggregatePhase;
use crate::state::StateSnapshot;
use crate::watermark::{Timestamp, event_times};

/// Whether a window ending at `end` has fired at `watermark`.
pub fn window_fired(end: Timestamp, watermark: Option<Timestamp>) -> bool {
    watermark.is_some_and(|w| end.saturating_sub(1) <= w)
}

/// Window aggregation (see the module docs).
pub struct WindowAggregateOperator {
    spec: AggregateSpec,
    /// Which group key is the window end.
    window_end: usize,
    /// Open windows by end.
    windows: BTreeMap<Timestamp, GroupTable>,
    /// The watermark reached.
    watermark: Option<Timestamp>,
    /// Rows dropped because their window had fired.
    late_rows: u64,
    /// Where late rows are also counted for the job (`SHOW JOBS`).
    late_counter: Option<Arc<std::sync::atomic::AtomicU64>>,
    reservation: MemoryReservation,
    batch_size: usize,
}

impl std::fmt::Debug for WindowAggregateOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowAggregateOperator")
            .field("spec", &self.spec)
            .field("window_end", &self.window_end)
            .field("open_windows", &self.windows.len())
            .field("watermark", &self.watermark)
            .finish()
    }
}

impl WindowAggregateOperator {
    /// Creates the operator; `window_end` is the position of the window end
    /// among `group_by`. `ctx` describes the partial phase's input.
    #[allow(clippy::too_many_arguments)]
    pub fn try_new(
        ctx: &ExprContext<'_>,
        group_by: &[ExprIr],
        aggregates: &[ExprIr],
        phase: AggregatePhase,
        window_end: usize,
        schema: arrow::datatypes::SchemaRef,
        reservation: MemoryReservation,
        batch_size: usize,
    ) -> Result<Self, QueryError> {
        if window_end >= group_by.len() {
            return Err(QueryError::new(
                SqlState::Internal,
                "a window aggregation must group by its window end",
            ));
        }
        Ok(Self {
            spec: AggregateSpec::try_new(ctx, group_by, aggregates, phase, schema)?,
            window_end,
            windows: BTreeMap::new(),
            watermark: None,
            late_rows: 0,
            late_counter: None,
            reservation,
            batch_size,
        })
    }

    /// Also counts late rows in `counter`.
    pub fn with_late_counter(mut self, counter: Arc<std::sync::atomic::AtomicU64>) -> Self {
        self.late_counter = Some(counter);
        self
    }

    /// Rows dropped as late so far.
    pub fn late_rows(&self) -> u64 {
        self.late_rows
    }

    /// Adds rows (input rows, or states in the final phase, or a snapshot's
    /// state when `restoring`) to their windows.
    fn add(&mut self, batch: &RecordBatch, restoring: bool) -> Result<(), QueryError> {
        let keys: Vec<ArrayRef> = if restoring {
            batch.columns()[1..=self.spec.group_len()].to_vec()
        } else {
            self.spec.group_keys(batch)?
        };
        let end_column = if restoring {
            batch.column(0)
        } else {
            &keys[self.window_end]
        };
        let ends = if restoring {
            end_column
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .ok_or_else(|| QueryError::new(SqlState::Internal, "corrupt window state"))?
                .iter()
                .collect()
        } else {
            event_times(end_column.as_ref())?
        };
        // Rows by window; rows without a window (a NULL time) and late rows
        // are left out.
        let mut by_end: HashMap<Timestamp, Vec<u32>> = HashMap::new();
        let mut late = 0;
        for (row, end) in ends.iter().enumerate() {
            let Some(end) = *end else { continue };
            if !restoring && window_fired(end, self.watermark) {
                late += 1;
                continue;
            }
            by_end.entry(end).or_default().push(row as u32);
        }
        if late > 0 {
            self.late_rows += late;
            if let Some(c) = &self.late_counter {
                c.fetch_add(late, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let rows = batch.num_rows();
        for (end, indices) in by_end {
            let (part, part_keys) = if indices.len() == rows {
                (batch.clone(), keys.clone())
            } else {
                let indices = UInt32Array::from(indices);
                let part = arrow::compute::take_record_batch(batch, &indices)?;
                let part_keys = keys
                    .iter()
                    .map(|k| take(k.as_ref(), &indices, None))
                    .collect::<Result<Vec<_>, _>>()?;
                (part, part_keys)
            };
            let table = match self.windows.entry(end) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => v.insert(self.spec.new_table()?),
            };
            if restoring {
                let state = RecordBatch::try_new(
                    state_schema(&part.columns()[1..]),
                    part.columns()[1..].to_vec(),
                )?;
                table.merge_state(&self.spec, &state)?;
            } else {
                table.update(&self.spec, &part_keys, &part)?;
            }
        }
        self.update_memory()
    }

    fn update_memory(&mut self) -> Result<(), QueryError> {
        let size = self.windows.values().map(GroupTable::size).sum();
        self.reservation.try_resize(size)
    }

    /// Emits and frees every window that has fired at the watermark (all of
    /// them when `all`).
    fn fire(&mut self, all: bool, out: &mut dyn Emit) -> Result<(), QueryError> {
        while let Some(entry) = self.windows.first_entry() {
            if !all && !window_fired(*entry.key(), self.watermark) {
                break;
            }
            let mut table = entry.remove();
            let columns = table.emit(self.spec.phase)?;
            let batch = align_batch(&self.spec.schema, columns)?;
            slice_batches(batch, self.batch_size, out);
        }
        self.update_memory()
    }
}

/// A schema for state columns (names do not matter; positions do).
fn state_schema(columns: &[ArrayRef]) -> arrow::datatypes::SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .enumerate()
            .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ))
}

impl UnaryOperator for WindowAggregateOperator {
    fn on_batch(&mut self, _epoch: Epoch, batch: RecordBatch, _out: &mut dyn Emit) -> OpResult {
        self.add(&batch, false)
    }

    fn on_epoch_end(
        &mut self,
        _epoch: Epoch,
        watermark: Option<Timestamp>,
        out: &mut dyn Emit,
    ) -> OpResult {
        if let Some(w) = watermark {
            self.watermark = Some(self.watermark.map_or(w, |c| c.max(w)));
            self.fire(false, out)?;
        }
        Ok(())
    }

    fn on_end(&mut self, out: &mut dyn Emit) -> OpResult {
        self.fire(true, out)
    }

    fn snapshot(&mut self) -> Result<StateSnapshot, QueryError> {
        let mut snapshot = StateSnapshot {
            watermark: self.watermark,
            ..Default::default()
        };
        let group_len = self.spec.group_len();
        let ends: Vec<Timestamp> = self.windows.keys().copied().collect();
        for end in ends {
            let table = self.windows.get_mut(&end).expect("a key of the map");
            // Taking the state empties the table: it is merged back below.
            let state = table.take_state()?;
            let rows = state.first().map_or(0, |c| c.len());
            let mut columns: Vec<ArrayRef> =
                vec![Arc::new(arrow::array::Int64Array::from(vec![end; rows]))];
            columns.extend(state.iter().cloned());
            let batch = RecordBatch::try_new(state_schema(&columns), columns)?;
            let restored = RecordBatch::try_new(state_schema(&state), state.clone())?;
            *table = self.spec.new_table()?;
            table.merge_state(&self.spec, &restored)?;
            snapshot.add_keyed(&state[..group_len], &batch)?;
        }
        Ok(snapshot)
    }

    fn restore(&mut self, snapshot: StateSnapshot) -> OpResult {
        self.windows.clear();
        self.watermark = snapshot.watermark;
        for batch in snapshot.batches() {
            self.add(batch, true)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{AsArray, Int64Array, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Int64Type, Schema, TimeUnit, TimestampMicrosecondType};
    use datafusion_expr::col;
    use datafusion_expr::execution_props::ExecutionProps;
    use datafusion_functions_aggregate::count::count_all;
    use datafusion_functions_aggregate::expr_fn::{max, min, sum};

    use super::*;
    use crate::expr::SchemaIr;
    use crate::functions::FunctionRegistry;
    use crate::memory::MemoryBudget;
    use crate::operators::window_assign::WindowAssignOperator;
    use crate::plan::WindowSpec;
    use crate::shuffle::{key_group_of, shuffle_hashes, worker_for_key_group};

    const S: i64 = 1_000_000;

    fn ts_type() -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, None)
    }

    fn input_schema() -> Arc<Schema> {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("v", DataType::Int64, true),
            Field::new("ts", ts_type(), true),
        ]))
    }

    fn windowed_schema() -> Arc<Schema> {
        let mut fields: Vec<Field> = input_schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        for name in ["window_start", "window_end", "window_time"] {
            fields.push(Field::new(name, ts_type(), true));
        }
        Arc::new(Schema::new(fields))
    }

    fn output_schema() -> Arc<Schema> {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("window_start", ts_type(), true),
            Field::new("window_end", ts_type(), true),
            Field::new("n", DataType::Int64, true),
            Field::new("s", DataType::Int64, true),
            Field::new("top", DataType::Int64, true),
            Field::new("low", DataType::Int64, true),
        ]))
    }

    /// Rows (k, v, ts in seconds), assigned to 10 s tumbling windows.
    fn rows(rows: &[(i64, i64, i64)]) -> RecordBatch {
        let batch = RecordBatch::try_new(
            input_schema(),
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(TimestampMicrosecondArray::from_iter_values(
                    rows.iter().map(|r| r.2 * S),
                )),
            ],
        )
        .unwrap();
        let time = Arc::new(datafusion_physical_expr::expressions::Column::new("ts", 2));
        let mut assign = WindowAssignOperator::try_new(
            time,
            WindowSpec::Tumble {
                size: 10 * S,
                offset: 0,
            },
            windowed_schema(),
        )
        .unwrap();
        let mut out = Vec::new();
        assign.on_batch(0, batch, &mut out).unwrap();
        arrow::compute::concat_batches(&windowed_schema(), &out).unwrap()
    }

    fn operator() -> WindowAggregateOperator {
        let input = SchemaIr::from_arrow(&windowed_schema());
        let props = ExecutionProps::new();
        let ctx = ExprContext::try_new(FunctionRegistry::shared(), &input, &props).unwrap();
        let ir = |e: datafusion_expr::Expr| ExprIr::try_from_expr(&e).unwrap();
        let group_by = vec![ir(col("k")), ir(col("window_start")), ir(col("window_end"))];
        let aggregates = vec![
            ir(count_all()),
            ir(sum(col("v"))),
            ir(max(col("v"))),
            ir(min(col("v"))),
        ];
        WindowAggregateOperator::try_new(
            &ctx,
            &group_by,
            &aggregates,
            AggregatePhase::Single,
            2,
            output_schema(),
            MemoryBudget::new(1 << 30).reservation("test"),
            1024,
        )
        .unwrap()
    }

    /// Output rows as (k, start s, end s, count, sum, max, min), sorted.
    fn collect(batches: &[RecordBatch]) -> Vec<(i64, i64, i64, i64, i64, i64, i64)> {
        let mut out = Vec::new();
        for b in batches {
            let int = |c: usize| b.column(c).as_primitive::<Int64Type>().clone();
            let time = |c: usize| {
                b.column(c)
                    .as_primitive::<TimestampMicrosecondType>()
                    .clone()
            };
            let (k, ws, we, n, s, top, low) =
                (int(0), time(1), time(2), int(3), int(4), int(5), int(6));
            for i in 0..b.num_rows() {
                out.push((
                    k.value(i),
                    ws.value(i) / S,
                    we.value(i) / S,
                    n.value(i),
                    s.value(i),
                    top.value(i),
                    low.value(i),
                ));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn windows_fire_once_the_watermark_passes_their_end_and_late_rows_are_dropped() {
        let mut op = operator();
        let mut out = Vec::new();
        op.on_batch(0, rows(&[(1, 10, 1), (1, 5, 12), (2, 7, 3)]), &mut out)
            .unwrap();
        op.on_epoch_end(0, Some(5 * S), &mut out).unwrap();
        assert!(out.is_empty(), "no window has ended at 5 s");
        // Out of order, but its window is still open.
        op.on_batch(1, rows(&[(1, 1, 2)]), &mut out).unwrap();
        // A watermark just before the end does not fire the window.
        op.on_epoch_end(1, Some(10 * S - 2), &mut out).unwrap();
        assert!(out.is_empty());
        op.on_epoch_end(2, Some(10 * S - 1), &mut out).unwrap();
        assert_eq!(
            collect(&out),
            vec![(1, 0, 10, 2, 11, 10, 1), (2, 0, 10, 1, 7, 7, 7)]
        );
        out.clear();
        // Late: its window has fired.
        op.on_batch(3, rows(&[(1, 100, 4), (1, 3, 15)]), &mut out)
            .unwrap();
        assert_eq!(op.late_rows(), 1);
        // A watermark that goes back changes nothing.
        op.on_epoch_end(3, Some(S), &mut out).unwrap();
        assert!(out.is_empty());
        op.on_end(&mut out).unwrap();
        assert_eq!(collect(&out), vec![(1, 10, 20, 2, 8, 5, 3)]);
    }

    /// One epoch of test input: rows (k, v, ts in seconds) and the
    /// watermark at its end (seconds).
    type TestEpoch = (Vec<(i64, i64, i64)>, i64);

    /// The input of the continuation test.
    fn script() -> Vec<TestEpoch> {
        (0..8)
            .map(|epoch: i64| {
                let rows = (0..50)
                    .map(|i| {
                        let k = (i * 7 + epoch) % 13;
                        // Out of order by up to 9 s: some rows are late.
                        let ts = epoch * 6 + (i % 13) - 9;
                        (k, i * epoch - 20, ts.max(0))
                    })
                    .collect();
                (rows, epoch * 6 + 3)
            })
            .collect()
    }

    fn run(
        op: &mut WindowAggregateOperator,
        epochs: &[TestEpoch],
        first: u64,
        out: &mut Vec<RecordBatch>,
    ) {
        for (i, (batch, watermark)) in epochs.iter().enumerate() {
            let epoch = first + i as u64;
            op.on_batch(epoch, rows(batch), out).unwrap();
            op.on_epoch_end(epoch, Some(watermark * S), out).unwrap();
        }
    }

    #[test]
    fn an_operator_restored_from_a_snapshot_continues_identically_at_any_parallelism() {
        let script = script();
        let (before, after) = script.split_at(3);
        let mut whole = operator();
        let mut expected_before = Vec::new();
        run(&mut whole, before, 0, &mut expected_before);
        let snapshot = whole.snapshot().unwrap();
        assert!(snapshot.num_rows() > 0, "windows are open at the snapshot");
        let mut expected = Vec::new();
        run(&mut whole, after, 3, &mut expected);
        whole.on_end(&mut expected).unwrap();
        let expected = collect(&expected);
        assert!(!expected.is_empty());

        for peers in [1usize, 2, 3] {
            // Every instance gets its key groups of the snapshot, and the
            // rows of its key groups afterwards (as the shuffle routes them).
            let mut instances: Vec<_> = (0..peers)
                .map(|i| {
                    let mut op = operator();
                    op.restore(snapshot.for_worker(i, peers)).unwrap();
                    op
                })
                .collect();
            let mut got = Vec::new();
            for (i, (batch, watermark)) in after.iter().enumerate() {
                let epoch = 3 + i as u64;
                let batch = rows(batch);
                let keys = [
                    Arc::clone(batch.column(0)),
                    Arc::clone(batch.column(3)),
                    Arc::clone(batch.column(4)),
                ];
                let hashes = shuffle_hashes(&keys, batch.num_rows()).unwrap();
                for (w, op) in instances.iter_mut().enumerate() {
                    let mine: Vec<u32> = (0..batch.num_rows() as u32)
                        .filter(|r| {
                            worker_for_key_group(key_group_of(hashes[*r as usize]), peers) == w
                        })
                        .collect();
                    let part = arrow::compute::take_record_batch(&batch, &UInt32Array::from(mine))
                        .unwrap();
                    op.on_batch(epoch, part, &mut got).unwrap();
                    op.on_epoch_end(epoch, Some(watermark * S), &mut got)
                        .unwrap();
                }
            }
            for op in &mut instances {
                op.on_end(&mut got).unwrap();
            }
            assert_eq!(collect(&got), expected, "restored at {peers} workers");
            let late: u64 = instances.iter().map(|o| o.late_rows()).sum();
            assert!(late > 0, "the script has late rows");
        }
        // Taking the snapshot left the original's state intact: the run
        // that was snapshotted equals one that never was.
        let mut again = operator();
        let mut out = Vec::new();
        run(&mut again, &script, 0, &mut out);
        again.on_end(&mut out).unwrap();
        let mut snapshotted = collect(&expected_before);
        snapshotted.extend(expected.iter().copied());
        snapshotted.sort();
        let uninterrupted = collect(&out);
        assert_eq!(uninterrupted, snapshotted);
    }
}
