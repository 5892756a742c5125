//! TopN: `ROW_NUMBER() OVER (PARTITION BY … ORDER BY …) <= N` over an
//! unbounded input, append-only or a changelog, producing a changelog of
//! each partition's first N rows with their row numbers.
//!
//! Input: rows hashed on the partition keys. State: per partition, every
//! row (its `ORDER BY` key's order-preserving encoding, then the row's
//! encoding, with a count) in an ordered map, and the N rows last emitted.
//! When an epoch ends, each touched partition's first N rows are read off
//! the map and compared rank by rank with those emitted: a rank whose row
//! changed is retracted (`-D`) and emitted again (`+I`). Retracting a
//! member of the top N brings the next row up. Ties in `ORDER BY` are
//! broken by the whole row, so the result is deterministic. All rows are
//! kept, as a retraction can bring any of them into the top N. Output:
//! updating. Snapshot: each partition's rows (repeated by count), by key
//! group of the partition keys.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int8Array, RecordBatch, UInt64Array};
use arrow::datatypes::SchemaRef;
use datafusion_physical_expr::{PhysicalExpr, PhysicalSortExpr};

use super::join_util::batch_of;
use super::{Emit, OpResult, UnaryOperator, align_batch};
use crate::Epoch;
use crate::changelog::{self, Op};
use crate::error::QueryError;
use crate::expr::evaluate_all;
use crate::memory::MemoryReservation;
use crate::rows::{RowBytes, RowCodec};
use crate::state::StateSnapshot;
use crate::watermark::Timestamp;

/// A row in `ORDER BY` order: its order key's encoding, then its own.
type OrderedRow = (RowBytes, RowBytes);

/// One partition's rows.
#[derive(Debug, Default)]
struct Partition {
    /// (order key, row) to count, in `ORDER BY` order.
    rows: BTreeMap<OrderedRow, i64>,
    /// The rows emitted, rank by rank.
    emitted: Vec<RowBytes>,
}

/// The TopN operator (see the module docs).
pub struct TopNOperator {
    partition_by: Vec<Arc<dyn PhysicalExpr>>,
    order_by: Vec<Arc<dyn PhysicalExpr>>,
    limit: usize,
    /// Partition keys (`None` without `PARTITION BY`).
    keys: Option<RowCodec>,
    /// `ORDER BY` keys, order-preserving.
    order: RowCodec,
    /// The input's data columns.
    rows: RowCodec,
    partitions: HashMap<RowBytes, Partition>,
    pending: Vec<RecordBatch>,
    /// The input's columns, the row number and the op column.
    output: SchemaRef,
    reservation: MemoryReservation,
}

impl std::fmt::Debug for TopNOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopNOperator")
            .field("limit", &self.limit)
            .field("partitions", &self.partitions.len())
            .finish_non_exhaustive()
    }
}

impl TopNOperator {
    /// Prepares the operator over an input of `input` data columns;
    /// `output` is those columns, the row number and the op column.
    ///
    /// # Errors
    ///
    /// When a type cannot be row-encoded.
    pub fn try_new(
        partition_by: Vec<Arc<dyn PhysicalExpr>>,
        order_by: Vec<PhysicalSortExpr>,
        limit: usize,
        input: SchemaRef,
        output: SchemaRef,
        reservation: MemoryReservation,
    ) -> Result<Self, QueryError> {
        let df = |e: datafusion_common::DataFusionError| QueryError::from_datafusion(&e);
        let types = |exprs: &[Arc<dyn PhysicalExpr>]| {
            exprs
                .iter()
                .map(|e| e.data_type(&input))
                .collect::<Result<Vec<_>, _>>()
                .map_err(df)
        };
        let keys = (!partition_by.is_empty())
            .then(|| RowCodec::for_types(&types(&partition_by)?))
            .transpose()?;
        let order_exprs: Vec<_> = order_by.iter().map(|s| Arc::clone(&s.expr)).collect();
        let order_types = types(&order_exprs)?;
        let order_schema = Arc::clone(RowCodec::for_types(&order_types)?.schema());
        let options: Vec<_> = order_by.iter().map(|s| s.options).collect();
        Ok(Self {
            partition_by,
            order_by: order_exprs,
            limit,
            keys,
            order: RowCodec::sorted(order_schema, &options)?,
            rows: RowCodec::try_new(input)?,
            partitions: HashMap::new(),
            pending: Vec::new(),
            output,
            reservation,
        })
    }

    fn partition_keys(&self, data: &RecordBatch) -> Result<Vec<RowBytes>, QueryError> {
        match &self.keys {
            None => Ok(vec![Box::from(&[][..]); data.num_rows()]),
            Some(codec) => {
                let keys = evaluate_all(&self.partition_by, data)?;
                Ok(codec
                    .encode(&keys)?
                    .iter()
                    .map(|r| Box::from(r.as_ref()))
                    .collect())
            }
        }
    }

    fn apply(
        &mut self,
        data: &RecordBatch,
        diffs: &[i64],
        touched: &mut BTreeSet<RowBytes>,
    ) -> OpResult {
        if data.num_rows() == 0 {
            return Ok(());
        }
        let data = align_batch(self.rows.schema(), data.columns().to_vec())?;
        let keys = self.partition_keys(&data)?;
        let order_keys = evaluate_all(&self.order_by, &data)?;
        let order = self.order.encode(&order_keys)?;
        let rows = self.rows.encode(data.columns())?;
        for (i, key) in keys.into_iter().enumerate() {
            let partition = self.partitions.entry(key.clone()).or_default();
            let entry = (
                Box::from(order.row(i).as_ref()),
                Box::from(rows.row(i).as_ref()),
            );
            let count = partition.rows.entry(entry.clone()).or_default();
            *count += diffs[i];
            if *count == 0 {
                partition.rows.remove(&entry);
            }
            touched.insert(key);
        }
        Ok(())
    }

    /// The first `limit` rows of a partition, in order.
    fn top(&self, partition: &Partition) -> Vec<RowBytes> {
        let mut top = Vec::with_capacity(self.limit);
        for ((_, row), count) in &partition.rows {
            for _ in 0..(*count).max(0) {
                if top.len() == self.limit {
                    return top;
                }
                top.push(row.clone());
            }
        }
        top
    }

    fn apply_epoch(&mut self, out: &mut dyn Emit) -> OpResult {
        let pending = std::mem::take(&mut self.pending);
        let mut touched = BTreeSet::new();
        for batch in &pending {
            let (data, diffs) = changelog::diffs(batch)?;
            self.apply(&data, &diffs, &mut touched)?;
        }
        // (row, rank, op) of every change.
        let mut changes: Vec<(RowBytes, u64, Op)> = Vec::new();
        for key in &touched {
            let Some(partition) = self.partitions.get(key) else {
                continue;
            };
            let top = self.top(partition);
            let partition = self.partitions.get_mut(key).expect("looked up above");
            let old = std::mem::take(&mut partition.emitted);
            for rank in 0..old.len().max(top.len()) {
                let (before, after) = (old.get(rank), top.get(rank));
                if before == after {
                    continue;
                }
                if let Some(b) = before {
                    changes.push((b.clone(), rank as u64 + 1, Op::Delete));
                }
                if let Some(a) = after {
                    changes.push((a.clone(), rank as u64 + 1, Op::Insert));
                }
            }
            partition.emitted = top;
            if partition.rows.is_empty() {
                self.partitions.remove(key);
            }
        }
        if !changes.is_empty() {
            let data = self
                .rows
                .decode(changes.iter().map(|(r, _, _)| (r.as_ref(), 1)))?;
            let mut columns: Vec<ArrayRef> = data.columns().to_vec();
            columns.push(Arc::new(UInt64Array::from_iter_values(
                changes.iter().map(|(_, rank, _)| *rank),
            )));
            columns.push(Arc::new(Int8Array::from_iter_values(
                changes.iter().map(|(_, _, op)| *op as i8),
            )));
            out.emit(batch_of(&self.output, columns, changes.len())?);
        }
        let size: usize = self
            .partitions
            .values()
            .map(|p| {
                p.rows
                    .keys()
                    .map(|(o, r)| o.len() + r.len() + 64)
                    .sum::<usize>()
            })
            .sum();
        self.reservation.try_resize(size)
    }
}

impl UnaryOperator for TopNOperator {
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
        let batch = self.rows.decode(
            self.partitions
                .values()
                .flat_map(|p| p.rows.iter().map(|((_, r), c)| (r.as_ref(), *c))),
        )?;
        let keys = evaluate_all(&self.partition_by, &batch)?;
        snapshot.add_keyed(&keys, &batch)?;
        Ok(snapshot)
    }

    fn restore(&mut self, snapshot: StateSnapshot) -> OpResult {
        self.partitions.clear();
        self.pending.clear();
        let mut touched = BTreeSet::new();
        for batch in snapshot.batches() {
            self.apply(batch, &vec![1; batch.num_rows()], &mut touched)?;
        }
        // What was emitted is the top of the restored rows.
        for key in touched {
            if let Some(p) = self.partitions.get(&key) {
                let top = self.top(p);
                self.partitions
                    .get_mut(&key)
                    .expect("looked up above")
                    .emitted = top;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use arrow::array::{Array, AsArray, Int64Array};
    use arrow::compute::SortOptions;
    use arrow::datatypes::{DataType, Field, Int64Type, Schema, UInt64Type};
    use datafusion_physical_expr::expressions::Column;

    use super::*;
    use crate::memory::MemoryBudget;

    fn input() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("p", DataType::Int64, true),
            Field::new("v", DataType::Int64, true),
        ]))
    }

    fn operator(limit: usize) -> TopNOperator {
        let output = changelog::updating_schema(&Schema::new(vec![
            Field::new("p", DataType::Int64, true),
            Field::new("v", DataType::Int64, true),
            Field::new("rn", DataType::UInt64, false),
        ]));
        let budget = MemoryBudget::new(1 << 30);
        TopNOperator::try_new(
            vec![Arc::new(Column::new("p", 0))],
            vec![PhysicalSortExpr {
                expr: Arc::new(Column::new("v", 1)),
                options: SortOptions {
                    descending: true,
                    nulls_first: false,
                },
            }],
            limit,
            input(),
            output,
            budget.reservation("test"),
        )
        .unwrap()
    }

    fn changes(rows: &[(i64, i64, Op)]) -> RecordBatch {
        let data = RecordBatch::try_new(
            input(),
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            ],
        )
        .unwrap();
        let ops = Int8Array::from_iter_values(rows.iter().map(|r| r.2 as i8));
        changelog::with_ops(&data, ops, &changelog::updating_schema(&input())).unwrap()
    }

    /// (p, v, rn) rows of the result.
    type Result = BTreeMap<(i64, i64, u64), i64>;

    fn step(op: &mut TopNOperator, epoch: Epoch, rows: &[(i64, i64, Op)], result: &mut Result) {
        let mut out = Vec::new();
        op.on_batch(epoch, changes(rows), &mut out).unwrap();
        op.on_epoch_end(epoch, None, &mut out).unwrap();
        for b in &out {
            let (data, diffs) = changelog::diffs(b).unwrap();
            for (i, d) in diffs.iter().enumerate() {
                let p = data.column(0).as_primitive::<Int64Type>();
                let v = data.column(1).as_primitive::<Int64Type>();
                let rn = data.column(2).as_primitive::<UInt64Type>();
                assert!(!rn.is_null(i));
                let key = (p.value(i), v.value(i), rn.value(i));
                let e = result.entry(key).or_default();
                *e += d;
                if *e == 0 {
                    result.remove(&key);
                }
            }
        }
        assert!(result.values().all(|c| *c == 1), "{result:?}");
    }

    #[test]
    fn keeps_the_top_n_per_partition_through_retractions() {
        use Op::*;
        let mut op = operator(2);
        let mut result = Result::new();
        step(
            &mut op,
            0,
            &[
                (1, 5, Insert),
                (1, 9, Insert),
                (1, 7, Insert),
                (2, 1, Insert),
            ],
            &mut result,
        );
        let rows = |r: &Result| r.keys().copied().collect::<Vec<_>>();
        assert_eq!(rows(&result), vec![(1, 7, 2), (1, 9, 1), (2, 1, 1)]);
        // The top member goes: 7 moves up, 5 comes in.
        step(&mut op, 1, &[(1, 9, Delete)], &mut result);
        assert_eq!(rows(&result), vec![(1, 5, 2), (1, 7, 1), (2, 1, 1)]);
        // A row below the top N changes nothing.
        let mut out = Vec::new();
        op.on_batch(2, changes(&[(1, 1, Insert)]), &mut out)
            .unwrap();
        op.on_epoch_end(2, None, &mut out).unwrap();
        assert!(out.is_empty());

        let mut restored = operator(2);
        restored.restore(op.snapshot().unwrap()).unwrap();
        let (mut a, mut b) = (result.clone(), result);
        for (o, r) in [(&mut op, &mut a), (&mut restored, &mut b)] {
            step(o, 3, &[(1, 8, Insert), (2, 1, Delete), (1, 5, Delete)], r);
        }
        assert_eq!(a, b);
        assert_eq!(rows(&a), vec![(1, 7, 2), (1, 8, 1)]);
    }

    #[test]
    fn rescales_through_a_snapshot() {
        let inserted = |e: i64| (0..20).map(move |i| ((i * 3 + e) % 4, (e * 37 + i * 11) % 97));
        let script: Vec<_> = (0..7i64)
            .map(|e| {
                let mut rows: Vec<(i64, i64, Op)> =
                    inserted(e).map(|(p, v)| (p, v, Op::Insert)).collect();
                if e >= 2 {
                    rows.extend(inserted(e - 2).step_by(2).map(|(p, v)| (p, v, Op::Delete)));
                }
                (changes(&rows), None)
            })
            .collect();
        crate::operators::rescale::unary_rescales(|| operator(3), &[0], &script, 3);
    }
}
