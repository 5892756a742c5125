//! Publish: keeps one worker's part of a materialized view and publishes
//! it, as of each completed epoch, to the process's
//! [`ViewStore`](crate::view::ViewStore).
//!
//! Input: the view query's result, append-only or updating (op column),
//! hashed on all its data columns, so that equal rows meet on one worker.
//! State: per key group, a multiset of rows (their `arrow-row` encoding and
//! a count) and the key group's rows materialized as one batch. When an
//! epoch ends with changes, the touched key groups are materialized again
//! and the part's new contents (every key group's batch, shared) and the
//! epoch's changes are published; an epoch without changes only advances
//! the part's frontier. Output: nothing (the view lives in the store).
//! Snapshot: the rows of each key group (a row repeated by its count).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, RecordBatch, RecordBatchOptions};
use arrow::datatypes::SchemaRef;

use super::{Emit, OpResult, UnaryOperator};
use crate::Epoch;
use crate::changelog::{self, Op};
use crate::error::{QueryError, SqlState};
use crate::rows::RowCodec;
use crate::shuffle::{key_group_of, shuffle_hashes};
use crate::state::{KeyGroup, StateSnapshot};
use crate::view::ViewPart;
use crate::watermark::Timestamp;

/// One key group's rows.
#[derive(Debug, Default)]
struct GroupRows {
    /// Row encoding to multiplicity (only positive counts are kept).
    counts: HashMap<Box<[u8]>, i64>,
    /// The rows as a batch, `None` when it must be built again.
    batch: Option<RecordBatch>,
}

/// Keeps and publishes one worker's part of a view.
pub struct PublishOperator {
    part: Arc<ViewPart>,
    /// The view's columns (the input without its op column).
    schema: SchemaRef,
    codec: RowCodec,
    groups: BTreeMap<KeyGroup, GroupRows>,
    /// This epoch's input, not yet applied.
    pending: Vec<RecordBatch>,
    /// The last watermark seen, for the job's metrics.
    watermark: Option<Timestamp>,
}

impl std::fmt::Debug for PublishOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishOperator")
            .field("groups", &self.groups.len())
            .finish_non_exhaustive()
    }
}

impl PublishOperator {
    /// An operator publishing into `part` the rows of its input (the
    /// part's columns, with an op column when the input is updating).
    ///
    /// # Errors
    ///
    /// When the view's column types cannot be row-encoded.
    pub fn try_new(part: Arc<ViewPart>) -> Result<Self, QueryError> {
        let schema = Arc::clone(part.schema());
        let codec = RowCodec::try_new(Arc::clone(&schema))?;
        Ok(Self {
            part,
            schema,
            codec,
            groups: BTreeMap::new(),
            pending: Vec::new(),
            watermark: None,
        })
    }

    /// The last watermark this part saw.
    pub fn watermark(&self) -> Option<Timestamp> {
        self.watermark
    }

    /// Applies rows with their diffs to the key groups; returns the groups
    /// touched.
    fn apply(
        &mut self,
        data: &RecordBatch,
        diffs: &[i64],
        touched: &mut HashSet<KeyGroup>,
    ) -> OpResult {
        if data.num_rows() == 0 {
            return Ok(());
        }
        let columns = data.columns();
        let hashes = shuffle_hashes(columns, data.num_rows())
            .map_err(|e| QueryError::from_datafusion(&e))?;
        let rows = self.codec.encode(columns)?;
        for (i, hash) in hashes.iter().enumerate() {
            let kg = if columns.is_empty() {
                0
            } else {
                key_group_of(*hash)
            };
            let group = self.groups.entry(kg).or_default();
            let row = rows.row(i);
            let bytes: &[u8] = row.as_ref();
            match group.counts.get_mut(bytes) {
                Some(c) => {
                    *c += diffs[i];
                    if *c <= 0 {
                        group.counts.remove(bytes);
                    }
                }
                None if diffs[i] > 0 => {
                    group.counts.insert(bytes.into(), diffs[i]);
                }
                // A retraction of a row this part does not hold: nothing
                // to take away (cannot happen on a well-formed changelog).
                None => {}
            }
            group.batch = None;
            touched.insert(kg);
        }
        Ok(())
    }

    fn contents(&mut self) -> Result<Vec<RecordBatch>, QueryError> {
        let mut out = Vec::with_capacity(self.groups.len());
        self.groups.retain(|_, g| !g.counts.is_empty());
        for group in self.groups.values_mut() {
            if group.batch.is_none() {
                group.batch = Some(
                    self.codec
                        .decode(group.counts.iter().map(|(r, c)| (r.as_ref(), *c)))?,
                );
            }
            out.extend(group.batch.clone());
        }
        Ok(out)
    }

    /// The input batches as changelog batches of the view's columns.
    fn changes(&self, batches: &[RecordBatch]) -> Result<Vec<RecordBatch>, QueryError> {
        let updating = changelog::updating_schema(&self.schema);
        batches
            .iter()
            .map(|b| {
                if changelog::is_updating(b.schema_ref()) {
                    let mut columns = b.columns().to_vec();
                    let ops = columns.pop().expect("an op column");
                    let data = RecordBatch::try_new_with_options(
                        Arc::clone(&self.schema),
                        columns,
                        &RecordBatchOptions::new().with_row_count(Some(b.num_rows())),
                    )
                    .map_err(|e| QueryError::new(SqlState::Internal, e.to_string()))?;
                    let ops = ops
                        .as_any()
                        .downcast_ref::<arrow::array::Int8Array>()
                        .cloned()
                        .ok_or_else(|| QueryError::new(SqlState::Internal, "bad op column"))?;
                    changelog::with_ops(&data, ops, &updating)
                } else {
                    let data = b
                        .clone()
                        .with_schema(Arc::clone(&self.schema))
                        .map_err(|e| QueryError::new(SqlState::Internal, e.to_string()))?;
                    changelog::all_ops(&data, Op::Insert, &updating)
                }
            })
            .collect()
    }
}

impl UnaryOperator for PublishOperator {
    fn on_batch(&mut self, _epoch: Epoch, batch: RecordBatch, _out: &mut dyn Emit) -> OpResult {
        if batch.num_rows() > 0 {
            self.pending.push(batch);
        }
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: Epoch,
        watermark: Option<Timestamp>,
        _out: &mut dyn Emit,
    ) -> OpResult {
        if let Some(w) = watermark {
            self.watermark = Some(w);
            self.part.set_watermark(w);
        }
        if self.pending.is_empty() {
            self.part.publish(epoch, None, Vec::new());
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let mut touched = HashSet::new();
        for batch in &pending {
            let (data, diffs) = changelog::diffs(batch)?;
            self.apply(&data, &diffs, &mut touched)?;
        }
        let changes = self.changes(&pending)?;
        let contents = self.contents()?;
        self.part.publish(epoch, Some(Arc::from(contents)), changes);
        Ok(())
    }

    fn on_frontier(&mut self, frontier: Epoch) -> OpResult {
        // Epochs without input change nothing, but readers waiting for
        // them (FLUSH, consistent reads) must see them published.
        if frontier > 0 && self.pending.is_empty() {
            self.part.publish(frontier - 1, None, Vec::new());
        }
        Ok(())
    }

    fn on_end(&mut self, _out: &mut dyn Emit) -> OpResult {
        // The input ended (a bounded source): the view is final.
        let epoch = self.part.frontier();
        self.on_epoch_end(epoch, self.watermark, _out)?;
        self.part.publish(Epoch::MAX - 1, None, Vec::new());
        Ok(())
    }

    fn snapshot(&mut self) -> Result<StateSnapshot, QueryError> {
        let mut snapshot = StateSnapshot {
            watermark: self.watermark,
            ..StateSnapshot::default()
        };
        self.contents()?;
        for (kg, group) in &self.groups {
            if let Some(batch) = &group.batch {
                snapshot.key_groups.insert(*kg, vec![batch.clone()]);
            }
        }
        Ok(snapshot)
    }

    fn restore(&mut self, snapshot: StateSnapshot) -> OpResult {
        self.groups.clear();
        self.watermark = snapshot.watermark;
        if let Some(w) = snapshot.watermark {
            self.part.set_watermark(w);
        }
        let mut touched = HashSet::new();
        for batch in snapshot.batches() {
            let batch = batch
                .clone()
                .with_schema(Arc::clone(&self.schema))
                .map_err(|e| QueryError::new(SqlState::Internal, e.to_string()))?;
            self.apply(&batch, &vec![1; batch.num_rows()], &mut touched)?;
        }
        let contents = self.contents()?;
        self.part.restore(Arc::from(contents));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::ViewStore;
    use arrow::array::{Int8Array, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("n", DataType::Int64, true),
        ]))
    }

    fn rows(k: &[i64], n: &[i64], ops: Option<&[i8]>) -> RecordBatch {
        let data = RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from(k.to_vec())),
                Arc::new(Int64Array::from(n.to_vec())),
            ],
        )
        .unwrap();
        match ops {
            None => data,
            Some(ops) => changelog::with_ops(
                &data,
                Int8Array::from(ops.to_vec()),
                &changelog::updating_schema(&schema()),
            )
            .unwrap(),
        }
    }

    fn sorted(part: &ViewPart, epoch: Epoch) -> Vec<(i64, i64)> {
        let contents = part.contents_at(epoch).unwrap().unwrap();
        let mut out = Vec::new();
        for b in contents.iter() {
            let k = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            let n = b.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
            for i in 0..b.num_rows() {
                out.push((k.value(i), n.value(i)));
            }
        }
        out.sort_unstable();
        out
    }

    #[test]
    fn applies_a_changelog_and_publishes_each_epoch() {
        let store = ViewStore::default();
        let part = store.create_part(1, 0, schema());
        let mut op = PublishOperator::try_new(Arc::clone(&part)).unwrap();
        let mut out: Vec<RecordBatch> = Vec::new();
        op.on_batch(0, rows(&[1, 2, 2], &[1, 1, 1], Some(&[0, 0, 0])), &mut out)
            .unwrap();
        op.on_epoch_end(0, None, &mut out).unwrap();
        assert_eq!(sorted(&part, 0), vec![(1, 1), (2, 1), (2, 1)]);
        // Retract one (2, 1), update 1 to 5.
        op.on_batch(1, rows(&[2, 1, 1], &[1, 1, 5], Some(&[1, 2, 3])), &mut out)
            .unwrap();
        op.on_epoch_end(1, None, &mut out).unwrap();
        assert_eq!(sorted(&part, 1), vec![(1, 5), (2, 1)]);
        assert_eq!(sorted(&part, 0), vec![(1, 1), (2, 1), (2, 1)]);
        op.on_epoch_end(2, None, &mut out).unwrap();
        assert_eq!(part.frontier(), 3);
        let (changes, _) = part.changes_after(0).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].1[0].num_rows(), 3);
        assert!(out.is_empty());

        // Rebuilt from its snapshot, another part holds the same rows.
        let snapshot = op.snapshot().unwrap();
        let other = store.create_part(1, 1, schema());
        let mut restored = PublishOperator::try_new(Arc::clone(&other)).unwrap();
        restored.restore(snapshot).unwrap();
        restored
            .on_batch(3, rows(&[7], &[7], Some(&[0])), &mut out)
            .unwrap();
        restored.on_epoch_end(3, None, &mut out).unwrap();
        assert_eq!(sorted(&other, 3), vec![(1, 5), (2, 1), (7, 7)]);
    }

    #[test]
    fn epochs_without_input_are_published_by_the_frontier() {
        let store = ViewStore::default();
        let part = store.create_part(3, 0, schema());
        let mut op = PublishOperator::try_new(Arc::clone(&part)).unwrap();
        let mut out: Vec<RecordBatch> = Vec::new();
        op.on_batch(2, rows(&[1], &[1], None), &mut out).unwrap();
        op.on_epoch_end(2, None, &mut out).unwrap();
        assert_eq!(part.frontier(), 3);
        // Epochs 3..=9 brought nothing: the frontier still moves, the
        // contents stay those of epoch 2.
        op.on_frontier(10).unwrap();
        assert_eq!(part.frontier(), 10);
        assert_eq!(sorted(&part, 9), vec![(1, 1)]);
        // An older frontier never moves it back.
        op.on_frontier(4).unwrap();
        assert_eq!(part.frontier(), 10);
    }

    #[test]
    fn append_only_input_is_all_inserts() {
        let store = ViewStore::default();
        let part = store.create_part(2, 0, schema());
        let mut op = PublishOperator::try_new(Arc::clone(&part)).unwrap();
        let mut out: Vec<RecordBatch> = Vec::new();
        op.on_batch(0, rows(&[1, 1], &[2, 2], None), &mut out)
            .unwrap();
        op.on_epoch_end(0, Some(5), &mut out).unwrap();
        assert_eq!(sorted(&part, 0), vec![(1, 2), (1, 2)]);
        assert_eq!(op.watermark(), Some(5));
        op.on_end(&mut out).unwrap();
        assert_eq!(part.frontier(), Epoch::MAX);
    }
}
