//! Aggregation over an updating input: `GROUP BY` (a global aggregate, or
//! `DISTINCT`) over a changelog (a join, an aggregate of a view of an
//! aggregate, a TopN), producing a changelog.
//!
//! Input: rows hashed on the group keys, with the op column. State: per
//! group, the multiset of its input rows ([`crate::rows::Multiset`]) and
//! the row of final values last emitted. When an epoch ends, the touched
//! groups are aggregated again from their rows with DataFusion's
//! accumulators, so that every aggregate function survives retractions,
//! `min` and `max` of the current extreme included; the operator emits
//! `-U`/`+U` for a group whose values changed, `+I` for a new group and
//! `-D` for a group whose last row was retracted. A global aggregate has
//! one group that is never deleted: with no rows it answers as for empty
//! input (count 0, others NULL). Cost: each touched group is aggregated
//! from all its rows (append-only inputs use the incremental
//! [`super::updating_aggregate`] instead). Output: updating.
//! Snapshot: the input rows of each group (repeated by count), by key group.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use arrow::array::{Int8Array, RecordBatch};
use arrow::datatypes::SchemaRef;

use super::aggregate::AggregateSpec;
use super::{Emit, OpResult, UnaryOperator, align_batch};
use crate::Epoch;
use crate::changelog::{self, Op};
use crate::error::QueryError;
use crate::expr::{ExprContext, ExprIr};
use crate::memory::MemoryReservation;
use crate::plan::AggregatePhase;
use crate::rows::{Multiset, RowBytes, RowCodec};
use crate::state::StateSnapshot;
use crate::watermark::Timestamp;

/// A group's final row before and after an epoch.
type Change = (Option<RowBytes>, Option<RowBytes>);

/// One group's state.
#[derive(Debug, Default)]
struct Group {
    rows: Multiset,
    /// Encoding of the final row last emitted.
    last: Option<RowBytes>,
}

/// Maintains `GROUP BY` results over a changelog (see the module docs).
pub struct RetractingAggregateOperator {
    spec: AggregateSpec,
    /// The input's data columns.
    input: RowCodec,
    /// The group keys (`None` for a global aggregate).
    keys: Option<RowCodec>,
    /// Final rows.
    finals: RowCodec,
    groups: HashMap<RowBytes, Group>,
    pending: Vec<RecordBatch>,
    /// Output schema (finals and the op column).
    output: SchemaRef,
    /// Whether this instance answers a global aggregate (the instance the
    /// input is gathered to).
    answers_global: bool,
    reservation: MemoryReservation,
}

impl std::fmt::Debug for RetractingAggregateOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetractingAggregateOperator")
            .field("groups", &self.groups.len())
            .finish_non_exhaustive()
    }
}

impl RetractingAggregateOperator {
    /// Prepares the operator. `ctx` describes the input's data columns;
    /// `output` is the aggregate's schema with the op column last.
    ///
    /// # Errors
    ///
    /// When the expressions cannot be prepared or a type cannot be
    /// row-encoded.
    pub fn try_new(
        ctx: &ExprContext<'_>,
        group_by: &[ExprIr],
        aggregates: &[ExprIr],
        output: SchemaRef,
        reservation: MemoryReservation,
    ) -> Result<Self, QueryError> {
        let finals = changelog::data_schema(&output);
        let spec = AggregateSpec::try_new(
            ctx,
            group_by,
            aggregates,
            AggregatePhase::Single,
            Arc::clone(&finals),
        )?;
        let keys = (!group_by.is_empty())
            .then(|| {
                let types: Vec<_> = finals.fields()[..group_by.len()]
                    .iter()
                    .map(|f| f.data_type().clone())
                    .collect();
                RowCodec::for_types(&types)
            })
            .transpose()?;
        Ok(Self {
            spec,
            input: RowCodec::try_new(ctx.arrow_schema())?,
            keys,
            finals: RowCodec::try_new(finals)?,
            groups: HashMap::new(),
            pending: Vec::new(),
            output,
            answers_global: true,
            reservation,
        })
    }

    /// Whether this instance answers a global aggregate (only the one its
    /// input is gathered to should).
    pub fn with_answers_global(mut self, answers: bool) -> Self {
        self.answers_global = answers;
        self
    }

    /// The encoded group key of every row of `data` (the input's columns).
    fn group_keys(&self, data: &RecordBatch) -> Result<Vec<RowBytes>, QueryError> {
        match &self.keys {
            None => Ok(vec![Box::from(&[][..]); data.num_rows()]),
            Some(codec) => {
                let keys = self.spec.group_keys(data)?;
                let rows = codec.encode(&keys)?;
                Ok(rows.iter().map(|r| Box::from(r.as_ref())).collect())
            }
        }
    }

    /// Adds rows with their diffs to their groups; collects the groups
    /// touched.
    fn apply(
        &mut self,
        data: &RecordBatch,
        diffs: &[i64],
        touched: &mut BTreeSet<RowBytes>,
    ) -> OpResult {
        if data.num_rows() == 0 {
            return Ok(());
        }
        let keys = self.group_keys(data)?;
        let data = align_batch(self.input.schema(), data.columns().to_vec())?;
        let rows = self.input.encode(data.columns())?;
        for (i, key) in keys.into_iter().enumerate() {
            let group = self.groups.entry(key.clone()).or_default();
            group.rows.add(rows.row(i).as_ref(), diffs[i]);
            touched.insert(key);
        }
        Ok(())
    }

    /// Aggregates the touched groups again; returns, per touched group,
    /// its old and new final rows (and records the new ones).
    fn recompute(&mut self, touched: &BTreeSet<RowBytes>) -> Result<Vec<Change>, QueryError> {
        let batch = self.input.decode(
            touched
                .iter()
                .filter_map(|k| self.groups.get(k))
                .flat_map(|g| g.rows.iter()),
        )?;
        let mut table = self.spec.new_table()?;
        let df = |e: datafusion_common::DataFusionError| QueryError::from_datafusion(&e);
        if batch.num_rows() > 0 {
            let keys = self.spec.group_keys(&batch).map_err(df)?;
            table.update(&self.spec, &keys, &batch).map_err(df)?;
        }
        let global = self.keys.is_none();
        if global && !table.seen_input() {
            table.answer_empty_input(&self.spec).map_err(df)?;
        }
        let finals = if global || table.num_groups() > 0 {
            align_batch(
                &self.spec.schema,
                table.emit(AggregatePhase::Single).map_err(df)?,
            )?
        } else {
            RecordBatch::new_empty(Arc::clone(&self.spec.schema))
        };
        let final_rows = self.finals.encode(finals.columns())?;
        let final_keys: Vec<RowBytes> = match &self.keys {
            None => vec![Box::from(&[][..]); finals.num_rows()],
            Some(codec) => codec
                .encode(&finals.columns()[..self.spec.group_len()])?
                .iter()
                .map(|r| Box::from(r.as_ref()))
                .collect(),
        };
        let mut new: HashMap<RowBytes, RowBytes> = final_keys
            .into_iter()
            .enumerate()
            .map(|(i, k)| (k, Box::from(final_rows.row(i).as_ref())))
            .collect();
        let mut changes = Vec::with_capacity(touched.len());
        for key in touched {
            let Some(group) = self.groups.get_mut(key) else {
                continue;
            };
            let now = new.remove(key);
            let before = std::mem::replace(&mut group.last, now.clone());
            if !global && group.rows.is_empty() {
                self.groups.remove(key);
            }
            changes.push((before, now));
        }
        Ok(changes)
    }

    fn emit_changes(&self, changes: Vec<Change>, out: &mut dyn Emit) -> OpResult {
        let mut before = Vec::new();
        let mut before_ops = Vec::new();
        let mut after = Vec::new();
        let mut after_ops = Vec::new();
        for (old, new) in &changes {
            match (old, new) {
                (Some(o), Some(n)) if o == n => {}
                (Some(o), Some(n)) => {
                    before.push((o.as_ref(), 1));
                    before_ops.push(Op::UpdateBefore as i8);
                    after.push((n.as_ref(), 1));
                    after_ops.push(Op::UpdateAfter as i8);
                }
                (Some(o), None) => {
                    before.push((o.as_ref(), 1));
                    before_ops.push(Op::Delete as i8);
                }
                (None, Some(n)) => {
                    after.push((n.as_ref(), 1));
                    after_ops.push(Op::Insert as i8);
                }
                (None, None) => {}
            }
        }
        for (rows, ops) in [(before, before_ops), (after, after_ops)] {
            if rows.is_empty() {
                continue;
            }
            let data = self.finals.decode(rows)?;
            out.emit(changelog::with_ops(
                &data,
                Int8Array::from(ops),
                &self.output,
            )?);
        }
        Ok(())
    }

    fn apply_epoch(&mut self, out: &mut dyn Emit) -> OpResult {
        let pending = std::mem::take(&mut self.pending);
        let mut touched = BTreeSet::new();
        for batch in &pending {
            let (data, diffs) = changelog::diffs(batch)?;
            self.apply(&data, &diffs, &mut touched)?;
        }
        if self.keys.is_none() && !self.answers_global {
            return Ok(());
        }
        let changes = self.recompute(&touched)?;
        self.emit_changes(changes, out)?;
        let size: usize = self.groups.values().map(|g| g.rows.size() + 64).sum();
        self.reservation.try_resize(size)
    }
}

impl UnaryOperator for RetractingAggregateOperator {
    fn on_batch(&mut self, _epoch: Epoch, batch: RecordBatch, _out: &mut dyn Emit) -> OpResult {
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
        let batch = self
            .input
            .decode(self.groups.values().flat_map(|g| g.rows.iter()))?;
        if self.keys.is_none() {
            // The global group exists even without rows.
            if !self.groups.is_empty() {
                snapshot.key_groups.entry(0).or_default().push(batch);
            }
        } else {
            let keys = self.spec.group_keys(&batch)?;
            snapshot.add_keyed(&keys, &batch)?;
        }
        Ok(snapshot)
    }

    fn restore(&mut self, snapshot: StateSnapshot) -> OpResult {
        self.groups.clear();
        self.pending.clear();
        let mut touched = BTreeSet::new();
        let mut any = false;
        for batch in snapshot.batches() {
            any = true;
            let batch = align_batch(self.input.schema(), batch.columns().to_vec())?;
            self.apply(&batch, &vec![1; batch.num_rows()], &mut touched)?;
        }
        if self.keys.is_none() && any {
            self.groups.entry(Box::from(&[][..])).or_default();
            touched.insert(Box::from(&[][..]));
        }
        // The final rows last emitted are those of the restored rows.
        self.recompute(&touched)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use arrow::array::{Array, ArrayRef, AsArray, Int64Array};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use datafusion_expr::col;
    use datafusion_expr::execution_props::ExecutionProps;
    use datafusion_functions_aggregate::count::count_all;
    use datafusion_functions_aggregate::expr_fn::{max, min, sum};

    use super::*;
    use crate::expr::SchemaIr;
    use crate::functions::FunctionRegistry;
    use crate::memory::MemoryBudget;

    fn data_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("v", DataType::Int64, true),
        ]))
    }

    fn operator(grouped: bool) -> RetractingAggregateOperator {
        let schema = SchemaIr::from_arrow(&data_schema());
        let props = ExecutionProps::new();
        let ctx = ExprContext::try_new(FunctionRegistry::shared(), &schema, &props).unwrap();
        let group_by: Vec<ExprIr> = if grouped {
            vec![ExprIr::try_from_expr(&col("k")).unwrap()]
        } else {
            vec![]
        };
        let aggregates = vec![
            ExprIr::try_from_expr(&count_all()).unwrap(),
            ExprIr::try_from_expr(&min(col("v"))).unwrap(),
            ExprIr::try_from_expr(&max(col("v"))).unwrap(),
            ExprIr::try_from_expr(&sum(col("v"))).unwrap(),
        ];
        let mut fields = vec![];
        if grouped {
            fields.push(Field::new("k", DataType::Int64, true));
        }
        fields.extend([
            Field::new("n", DataType::Int64, false),
            Field::new("lo", DataType::Int64, true),
            Field::new("hi", DataType::Int64, true),
            Field::new("s", DataType::Int64, true),
        ]);
        let output = changelog::updating_schema(&Schema::new(fields));
        let budget = MemoryBudget::new(1 << 30);
        RetractingAggregateOperator::try_new(
            &ctx,
            &group_by,
            &aggregates,
            output,
            budget.reservation("test"),
        )
        .unwrap()
    }

    fn changes(rows: &[(i64, i64, Op)]) -> RecordBatch {
        let data = RecordBatch::try_new(
            data_schema(),
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            ],
        )
        .unwrap();
        let ops = Int8Array::from_iter_values(rows.iter().map(|r| r.2 as i8));
        changelog::with_ops(&data, ops, &changelog::updating_schema(&data_schema())).unwrap()
    }

    /// Applies emitted changes to a result multiset (NULL as i64::MIN).
    fn apply(result: &mut BTreeMap<Vec<i64>, i64>, out: &[RecordBatch]) {
        for b in out {
            let (data, diffs) = changelog::diffs(b).unwrap();
            for (i, d) in diffs.iter().enumerate() {
                let row: Vec<i64> = (0..data.num_columns())
                    .map(|c| {
                        let a = data.column(c).as_primitive::<Int64Type>();
                        if a.is_null(i) { i64::MIN } else { a.value(i) }
                    })
                    .collect();
                *result.entry(row.clone()).or_default() += d;
                if result[&row] == 0 {
                    result.remove(&row);
                }
            }
        }
    }

    fn step(
        op: &mut RetractingAggregateOperator,
        epoch: Epoch,
        rows: &[(i64, i64, Op)],
        result: &mut BTreeMap<Vec<i64>, i64>,
    ) {
        let mut out = Vec::new();
        op.on_batch(epoch, changes(rows), &mut out).unwrap();
        op.on_epoch_end(epoch, None, &mut out).unwrap();
        apply(result, &out);
        assert!(result.values().all(|c| *c == 1), "{result:?}");
    }

    #[test]
    fn min_and_max_survive_the_retraction_of_the_extreme() {
        use Op::*;
        let mut op = operator(true);
        let mut result = BTreeMap::new();
        step(
            &mut op,
            0,
            &[
                (1, 5, Insert),
                (1, 9, Insert),
                (1, 1, Insert),
                (2, 7, Insert),
            ],
            &mut result,
        );
        assert!(result.contains_key(&vec![1, 3, 1, 9, 15]));
        // Retract the current minimum and maximum of group 1.
        step(
            &mut op,
            1,
            &[(1, 1, Delete), (1, 9, UpdateBefore)],
            &mut result,
        );
        assert!(result.contains_key(&vec![1, 1, 5, 5, 5]), "{result:?}");
        // The last row of group 2 goes: the group is deleted.
        step(&mut op, 2, &[(2, 7, Delete)], &mut result);
        assert_eq!(result.len(), 1);

        // A restored operator continues identically.
        let snapshot = op.snapshot().unwrap();
        let mut restored = operator(true);
        restored.restore(snapshot).unwrap();
        let (mut a, mut b) = (result.clone(), result);
        for (o, r) in [(&mut op, &mut a), (&mut restored, &mut b)] {
            step(o, 3, &[(1, 3, Insert), (1, 5, Delete), (3, 4, Insert)], r);
        }
        assert_eq!(a, b);
        assert_eq!(
            a.keys().cloned().collect::<Vec<_>>(),
            vec![vec![1, 1, 3, 3, 3], vec![3, 1, 4, 4, 4]]
        );
    }

    #[test]
    fn an_update_that_changes_nothing_emits_nothing() {
        use Op::*;
        let mut op = operator(true);
        let mut result = BTreeMap::new();
        step(&mut op, 0, &[(1, 5, Insert)], &mut result);
        let mut out = Vec::new();
        op.on_batch(
            1,
            changes(&[(1, 5, UpdateBefore), (1, 5, UpdateAfter)]),
            &mut out,
        )
        .unwrap();
        op.on_epoch_end(1, None, &mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn a_global_aggregate_answers_for_no_rows_after_all_are_retracted() {
        use Op::*;
        let mut op = operator(false);
        let mut result = BTreeMap::new();
        step(&mut op, 0, &[(1, 5, Insert), (2, 6, Insert)], &mut result);
        assert!(result.contains_key(&vec![2, 5, 6, 11]));
        step(&mut op, 1, &[(1, 5, Delete), (2, 6, Delete)], &mut result);
        let null = i64::MIN;
        assert_eq!(
            result.keys().cloned().collect::<Vec<_>>(),
            vec![vec![0, null, null, null]]
        );
        // Restored without rows, it still retracts the answer it gave.
        let mut restored = operator(false);
        restored.restore(op.snapshot().unwrap()).unwrap();
        step(&mut restored, 2, &[(3, 1, Insert)], &mut result);
        assert_eq!(
            result.keys().cloned().collect::<Vec<_>>(),
            vec![vec![1, 1, 1, 1]]
        );
    }

    /// Epoch `e` inserts 20 rows and deletes a third of those of `e - 2`.
    fn retracting_script() -> Vec<crate::operators::rescale::UnaryEpoch> {
        let inserted = |e: i64| (0..20).map(move |i| ((i * 3 + e) % 5, e * 10 + i));
        (0..7i64)
            .map(|e| {
                let mut rows: Vec<(i64, i64, Op)> =
                    inserted(e).map(|(k, v)| (k, v, Op::Insert)).collect();
                if e >= 2 {
                    rows.extend(inserted(e - 2).step_by(3).map(|(k, v)| (k, v, Op::Delete)));
                }
                (changes(&rows), None)
            })
            .collect()
    }

    #[test]
    fn rescales_through_a_snapshot() {
        let script = retracting_script();
        crate::operators::rescale::unary_rescales(|| operator(true), &[0], &script, 3);
        crate::operators::rescale::unary_rescales(|| operator(false), &[], &script, 4);
    }
}
