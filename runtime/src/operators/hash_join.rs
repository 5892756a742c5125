//! Hash join on equality keys, with an optional extra filter. Without keys
//! it is a nested-loop join: every pair of rows is a candidate (examined a
//! bounded number of pairs at a time) and the filter decides.
//!
//! Both inputs arrive partitioned by the hash of their keys, so matching
//! rows meet on one worker. The left input is the *build* side: its rows are
//! buffered until it ends, then concatenated and indexed in a hash table
//! (hash to a chain of row numbers). Right (*probe*) batches that arrive
//! earlier wait in a buffer; afterwards each probe batch is joined as it
//! arrives: candidate pairs come from the table, key equality is verified
//! with vectorized comparisons, the join filter is evaluated over the pairs,
//! and output rows are assembled with `take`.
//!
//! Rows that the join type keeps unmatched are handled where they become
//! known: unmatched probe rows (right, full, right anti) per probe batch,
//! unmatched or matched build rows (left, full, left semi/anti/mark) when
//! both inputs have ended, using a bitmap of visited build rows.
//! `NULL` keys never match unless `null_equals_null`. A null-aware anti join
//! (`NOT IN`) outputs nothing if the subquery side has a `NULL` key, and
//! drops outer rows with a `NULL` key unless the subquery side is empty.
//!
//! State (build rows, table, early probe batches) is accounted against the
//! query's memory budget. Input is append-only.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, UInt32Array, UInt64Array};
use arrow::compute::concat_batches;
use arrow::compute::kernels::cmp::{eq, not_distinct};
use arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion_common::hash_utils::{RandomState, create_hashes};
use datafusion_physical_expr::PhysicalExpr;
use hashbrown::HashTable;

use super::join_util::{
    and_masks, apply_filter, batch_of, mask_of, null_columns, strip_nulls, take_columns,
};
use super::{BinaryOperator, Emit, OpResult, slice_batches};
use crate::error::{QueryError, SqlState};
use crate::expr::evaluate_all;
use crate::memory::MemoryReservation;
use crate::plan::JoinKind;

/// Seed of the join table's hash (different from the shuffle's).
const JOIN_SEED: u64 = 0x6a6f_696e;

/// Most candidate pairs examined at once by a join without keys.
const MAX_PAIRS: usize = 1 << 16;

/// The indexed build side.
#[derive(Debug)]
struct BuildSide {
    /// All build rows.
    batch: RecordBatch,
    /// Key columns of `batch`.
    keys: Vec<ArrayRef>,
    /// Hash to the first row of its chain (row number + 1).
    table: HashTable<(u64, u32)>,
    /// Next row in the chain (row number + 1; 0 ends the chain).
    next: Vec<u32>,
    /// Whether each build row found a match.
    visited: Vec<bool>,
    /// Whether some build row has a `NULL` key.
    has_null_key: bool,
}

/// Equi-join (see the module docs).
#[derive(Debug)]
pub struct HashJoinOperator {
    /// Join type.
    kind: JoinKind,
    /// Key expressions over the left input.
    left_keys: Vec<Arc<dyn PhysicalExpr>>,
    /// Key expressions over the right input.
    right_keys: Vec<Arc<dyn PhysicalExpr>>,
    /// Extra condition over left ++ right columns.
    filter: Option<Arc<dyn PhysicalExpr>>,
    /// Schema of left ++ right, for the filter.
    filter_schema: SchemaRef,
    /// Whether `NULL` keys match each other.
    null_equals_null: bool,
    /// `NOT IN` semantics for anti joins.
    null_aware: bool,
    /// Left input schema.
    left_schema: SchemaRef,
    /// Right input schema.
    right_schema: SchemaRef,
    /// Output schema.
    schema: SchemaRef,
    /// Build rows received so far.
    build_batches: Vec<RecordBatch>,
    /// The indexed build side, once the left input has ended.
    build: Option<BuildSide>,
    /// Probe batches that arrived before the build side was complete.
    pending_probe: Vec<RecordBatch>,
    /// Whether the right input has ended.
    right_ended: bool,
    /// Whether any probe row arrived.
    probe_seen: bool,
    /// Whether a probe row had a `NULL` key (null-aware left anti join).
    probe_has_null_key: bool,
    /// Memory held.
    reservation: MemoryReservation,
    /// Rows per output batch.
    batch_size: usize,
}

impl HashJoinOperator {
    /// Creates the operator.
    #[allow(clippy::too_many_arguments)]
    pub fn try_new(
        kind: JoinKind,
        left_keys: Vec<Arc<dyn PhysicalExpr>>,
        right_keys: Vec<Arc<dyn PhysicalExpr>>,
        filter: Option<Arc<dyn PhysicalExpr>>,
        null_equals_null: bool,
        null_aware: bool,
        left_schema: SchemaRef,
        right_schema: SchemaRef,
        schema: SchemaRef,
        reservation: MemoryReservation,
        batch_size: usize,
    ) -> Result<Self, QueryError> {
        if left_keys.len() != right_keys.len() {
            return Err(QueryError::new(
                SqlState::Internal,
                "hash join needs the same number of keys on both sides",
            ));
        }
        let filter_schema = Arc::new(Schema::new(
            left_schema
                .fields()
                .iter()
                .chain(right_schema.fields().iter())
                .map(|f| f.as_ref().clone())
                .collect::<Vec<Field>>(),
        ));
        Ok(Self {
            kind,
            left_keys,
            right_keys,
            filter,
            filter_schema,
            null_equals_null,
            null_aware,
            left_schema,
            right_schema,
            schema,
            build_batches: Vec::new(),
            build: None,
            pending_probe: Vec::new(),
            right_ended: false,
            probe_seen: false,
            probe_has_null_key: false,
            reservation,
            batch_size,
        })
    }

    fn build_table(&mut self) -> Result<(), QueryError> {
        let batch = concat_batches(&self.left_schema, &self.build_batches)?;
        self.build_batches.clear();
        if batch.num_rows() >= u32::MAX as usize {
            return Err(QueryError::new(
                SqlState::OutOfMemory,
                "hash join build side has more than 4 billion rows on one worker",
            ));
        }
        let keys = evaluate_all(&self.left_keys, &batch)?;
        let rows = batch.num_rows();
        let mut hashes = vec![0u64; rows];
        if !keys.is_empty() {
            create_hashes(&keys, &RandomState::with_seed(JOIN_SEED), &mut hashes)?;
        }
        let valid = key_validity(&keys, rows);
        let has_null_key = valid.iter().any(|v| !v);
        let mut table: HashTable<(u64, u32)> = HashTable::with_capacity(rows);
        let mut next = vec![0u32; rows];
        // Insert in reverse so that chains list rows in ascending order.
        for row in (0..rows).rev() {
            if !self.null_equals_null && !valid[row] {
                continue;
            }
            let hash = hashes[row];
            match table.find_mut(hash, |(h, _)| *h == hash) {
                Some((_, head)) => {
                    next[row] = *head;
                    *head = row as u32 + 1;
                }
                None => {
                    table.insert_unique(hash, (hash, row as u32 + 1), |(h, _)| *h);
                }
            }
        }
        let size = batch.get_array_memory_size()
            + table.capacity() * size_of::<(u64, u32)>()
            + next.len() * size_of::<u32>()
            + rows
            + self
                .pending_probe
                .iter()
                .map(|b| b.get_array_memory_size())
                .sum::<usize>();
        self.reservation.try_resize(size)?;
        self.build = Some(BuildSide {
            batch,
            keys,
            table,
            next,
            visited: vec![false; rows],
            has_null_key,
        });
        Ok(())
    }

    /// Candidate pairs for a probe batch whose keys hash to `hashes`.
    fn candidates(
        build: &BuildSide,
        hashes: &[u64],
        valid: &[bool],
        null_equals_null: bool,
    ) -> (Vec<u64>, Vec<u32>) {
        let mut build_idx = Vec::new();
        let mut probe_idx = Vec::new();
        for (row, hash) in hashes.iter().enumerate() {
            if !null_equals_null && !valid[row] {
                continue;
            }
            if let Some((_, head)) = build.table.find(*hash, |(h, _)| h == hash) {
                let mut i = *head;
                while i != 0 {
                    build_idx.push(u64::from(i - 1));
                    probe_idx.push(row as u32);
                    i = build.next[(i - 1) as usize];
                }
            }
        }
        (build_idx, probe_idx)
    }

    fn probe(&mut self, batch: &RecordBatch, out: &mut dyn Emit) -> Result<(), QueryError> {
        if !self.right_keys.is_empty() {
            return self.probe_slice(batch, out);
        }
        // Without keys every pair is a candidate: bound the pairs per step.
        let build_rows = self.build.as_ref().map_or(0, |b| b.batch.num_rows()).max(1);
        let step = (MAX_PAIRS / build_rows).max(1);
        let mut offset = 0;
        while offset < batch.num_rows() {
            if out.should_stop() {
                return Err(QueryError::canceled());
            }
            let len = step.min(batch.num_rows() - offset);
            self.probe_slice(&batch.slice(offset, len), out)?;
            offset += len;
        }
        Ok(())
    }

    fn probe_slice(&mut self, batch: &RecordBatch, out: &mut dyn Emit) -> Result<(), QueryError> {
        let build = self.build.as_mut().expect("probe after build");
        let rows = batch.num_rows();
        self.probe_seen = true;
        let keys = evaluate_all(&self.right_keys, batch)?;
        let valid = key_validity(&keys, rows);
        if valid.iter().any(|v| !v) {
            self.probe_has_null_key = true;
        }
        let (build_idx, probe_idx) = if keys.is_empty() {
            let n = build.batch.num_rows();
            let build_idx = (0..rows).flat_map(|_| 0..n as u64).collect();
            let probe_idx = (0..rows as u32)
                .flat_map(|r| std::iter::repeat_n(r, n))
                .collect();
            (build_idx, probe_idx)
        } else {
            let mut hashes = vec![0u64; rows];
            create_hashes(&keys, &RandomState::with_seed(JOIN_SEED), &mut hashes)?;
            Self::candidates(build, &hashes, &valid, self.null_equals_null)
        };
        let mut build_idx = UInt64Array::from(build_idx);
        let mut probe_idx = UInt32Array::from(probe_idx);

        // Verify key equality (hashes may collide); nothing to verify without keys.
        if !build_idx.is_empty() && !keys.is_empty() {
            let mut mask: Option<BooleanArray> = None;
            for (bk, pk) in build.keys.iter().zip(&keys) {
                let l = arrow::compute::take(bk.as_ref(), &build_idx, None)?;
                let r = arrow::compute::take(pk.as_ref(), &probe_idx, None)?;
                let m = if self.null_equals_null {
                    not_distinct(&l, &r)?
                } else {
                    eq(&l, &r)?
                };
                mask = Some(match mask {
                    None => strip_nulls(&m),
                    Some(prev) => and_masks(&prev, &m)?,
                });
            }
            if let Some(mask) = mask
                && mask.true_count() != mask.len()
            {
                build_idx = arrow::compute::filter(&build_idx, &mask)?
                    .as_primitive()
                    .clone();
                probe_idx = arrow::compute::filter(&probe_idx, &mask)?
                    .as_primitive()
                    .clone();
            }
        }
        if let Some(filter) = &self.filter {
            (build_idx, probe_idx) = apply_filter(
                filter,
                &self.filter_schema,
                &build.batch,
                batch,
                build_idx,
                probe_idx,
            )?;
        }

        for i in build_idx.values() {
            build.visited[*i as usize] = true;
        }
        let mut probe_matched = vec![false; rows];
        for i in probe_idx.values() {
            probe_matched[*i as usize] = true;
        }

        match self.kind {
            JoinKind::Inner | JoinKind::Left | JoinKind::Right | JoinKind::Full => {
                if !build_idx.is_empty() {
                    let mut columns = take_columns(&build.batch, &build_idx)?;
                    columns.extend(take_columns(batch, &probe_idx)?);
                    let joined = batch_of(&self.schema, columns, build_idx.len())?;
                    slice_batches(joined, self.batch_size, out);
                }
                if matches!(self.kind, JoinKind::Right | JoinKind::Full) {
                    let unmatched: Vec<bool> = probe_matched.iter().map(|m| !m).collect();
                    let kept = arrow::compute::filter_record_batch(batch, &mask_of(&unmatched))?;
                    if kept.num_rows() > 0 {
                        let mut columns = null_columns(&self.left_schema, kept.num_rows());
                        columns.extend(kept.columns().iter().cloned());
                        out.emit(batch_of(&self.schema, columns, kept.num_rows())?);
                    }
                }
            }
            JoinKind::RightSemi => {
                let kept = arrow::compute::filter_record_batch(batch, &mask_of(&probe_matched))?;
                if kept.num_rows() > 0 {
                    out.emit(batch_of(
                        &self.schema,
                        kept.columns().to_vec(),
                        kept.num_rows(),
                    )?);
                }
            }
            JoinKind::RightAnti => {
                let build_empty = build.batch.num_rows() == 0;
                if self.null_aware && build.has_null_key && !build_empty {
                    return Ok(());
                }
                let keep: Vec<bool> = probe_matched
                    .iter()
                    .zip(&valid)
                    .map(|(m, v)| !m && (!self.null_aware || *v || build_empty))
                    .collect();
                let kept = arrow::compute::filter_record_batch(batch, &mask_of(&keep))?;
                if kept.num_rows() > 0 {
                    out.emit(batch_of(
                        &self.schema,
                        kept.columns().to_vec(),
                        kept.num_rows(),
                    )?);
                }
            }
            JoinKind::RightMark => {
                let mut columns = batch.columns().to_vec();
                columns.push(Arc::new(mask_of(&probe_matched)));
                out.emit(batch_of(&self.schema, columns, rows)?);
            }
            JoinKind::LeftSemi | JoinKind::LeftAnti | JoinKind::LeftMark => {}
        }
        Ok(())
    }

    /// Emits what the build side contributes once both inputs have ended.
    fn finish(&mut self, out: &mut dyn Emit) -> Result<(), QueryError> {
        let build = self.build.as_ref().expect("finish after build");
        let rows = build.batch.num_rows();
        let visited = &build.visited;
        let select = |keep: Vec<bool>| -> Result<RecordBatch, QueryError> {
            Ok(arrow::compute::filter_record_batch(
                &build.batch,
                &mask_of(&keep),
            )?)
        };
        let emitted = match self.kind {
            JoinKind::Left | JoinKind::Full => {
                let kept = select(visited.iter().map(|v| !v).collect())?;
                let n = kept.num_rows();
                let mut columns = kept.columns().to_vec();
                columns.extend(null_columns(&self.right_schema, n));
                Some(batch_of(&self.schema, columns, n)?)
            }
            JoinKind::LeftSemi => {
                let kept = select(visited.clone())?;
                Some(batch_of(
                    &self.schema,
                    kept.columns().to_vec(),
                    kept.num_rows(),
                )?)
            }
            JoinKind::LeftAnti => {
                if self.null_aware && self.probe_has_null_key {
                    None
                } else {
                    let valid = key_validity(&build.keys, rows);
                    let probe_empty = !self.probe_seen;
                    let keep = visited
                        .iter()
                        .zip(&valid)
                        .map(|(v, ok)| !v && (!self.null_aware || *ok || probe_empty))
                        .collect();
                    let kept = select(keep)?;
                    Some(batch_of(
                        &self.schema,
                        kept.columns().to_vec(),
                        kept.num_rows(),
                    )?)
                }
            }
            JoinKind::LeftMark => {
                let mut columns = build.batch.columns().to_vec();
                columns.push(Arc::new(mask_of(visited)));
                Some(batch_of(&self.schema, columns, rows)?)
            }
            _ => None,
        };
        if let Some(batch) = emitted {
            slice_batches(batch, self.batch_size, out);
        }
        self.build = None;
        self.reservation.free();
        Ok(())
    }
}

/// Whether every key column of each row is non-null.
fn key_validity(keys: &[ArrayRef], rows: usize) -> Vec<bool> {
    // Combine the null bitmaps a word at a time, then expand once.
    let nulls = keys.iter().fold(None, |all, k| {
        arrow::buffer::NullBuffer::union(all.as_ref(), k.logical_nulls().as_ref())
    });
    match nulls {
        Some(nulls) => nulls.iter().collect(),
        None => vec![true; rows],
    }
}

impl BinaryOperator for HashJoinOperator {
    fn on_left(
        &mut self,
        _epoch: crate::Epoch,
        batch: RecordBatch,
        _out: &mut dyn Emit,
    ) -> OpResult {
        self.reservation.try_grow(batch.get_array_memory_size())?;
        self.build_batches.push(batch);
        Ok(())
    }

    fn on_right(
        &mut self,
        _epoch: crate::Epoch,
        batch: RecordBatch,
        out: &mut dyn Emit,
    ) -> OpResult {
        if self.build.is_some() {
            self.probe(&batch, out)
        } else {
            self.reservation.try_grow(batch.get_array_memory_size())?;
            self.pending_probe.push(batch);
            Ok(())
        }
    }

    fn on_left_end(&mut self, out: &mut dyn Emit) -> OpResult {
        self.build_table()?;
        for batch in std::mem::take(&mut self.pending_probe) {
            self.probe(&batch, out)?;
        }
        if self.right_ended {
            self.finish(out)?;
        }
        Ok(())
    }

    fn on_right_end(&mut self, out: &mut dyn Emit) -> OpResult {
        self.right_ended = true;
        if self.build.is_some() {
            self.finish(out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::DataType;
    use datafusion_physical_expr::expressions::Column;

    use super::*;
    use crate::memory::MemoryBudget;

    fn left() -> RecordBatch {
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("k", DataType::Int64, true),
                Field::new("l", DataType::Utf8, true),
            ])),
            vec![
                Arc::new(Int64Array::from(vec![
                    Some(1),
                    Some(2),
                    Some(2),
                    None,
                    Some(5),
                ])),
                Arc::new(StringArray::from(vec!["a", "b", "c", "d", "e"])),
            ],
        )
        .unwrap()
    }

    fn right() -> RecordBatch {
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("k2", DataType::Int64, true),
                Field::new("r", DataType::Utf8, true),
            ])),
            vec![
                Arc::new(Int64Array::from(vec![Some(2), Some(3), None, Some(1)])),
                Arc::new(StringArray::from(vec!["x", "y", "z", "w"])),
            ],
        )
        .unwrap()
    }

    fn output_schema(kind: JoinKind) -> SchemaRef {
        let l = left().schema();
        let r = right().schema();
        let nullable = |f: &Field| f.clone().with_nullable(true);
        let fields: Vec<Field> = match kind {
            JoinKind::LeftSemi | JoinKind::LeftAnti => {
                l.fields().iter().map(|f| f.as_ref().clone()).collect()
            }
            JoinKind::RightSemi | JoinKind::RightAnti => {
                r.fields().iter().map(|f| f.as_ref().clone()).collect()
            }
            JoinKind::LeftMark => l
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .chain([Field::new("mark", DataType::Boolean, false)])
                .collect(),
            JoinKind::RightMark => r
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .chain([Field::new("mark", DataType::Boolean, false)])
                .collect(),
            _ => l
                .fields()
                .iter()
                .chain(r.fields().iter())
                .map(|f| nullable(f))
                .collect(),
        };
        Arc::new(Schema::new(fields))
    }

    /// Runs a join with the probe batch arriving before the build ends, and
    /// returns the output rows rendered as strings, sorted.
    fn run(kind: JoinKind, null_aware: bool) -> Vec<String> {
        let budget = MemoryBudget::new(1 << 30);
        let mut op = HashJoinOperator::try_new(
            kind,
            vec![Arc::new(Column::new("k", 0))],
            vec![Arc::new(Column::new("k2", 0))],
            None,
            false,
            null_aware,
            left().schema(),
            right().schema(),
            output_schema(kind),
            budget.reservation("test"),
            1024,
        )
        .unwrap();
        let mut out = Vec::new();
        op.on_right(0, right(), &mut out).unwrap();
        op.on_left(0, left(), &mut out).unwrap();
        op.on_left_end(&mut out).unwrap();
        op.on_right_end(&mut out).unwrap();
        let mut rows = Vec::new();
        for b in &out {
            for row in 0..b.num_rows() {
                let cells: Vec<String> = b
                    .columns()
                    .iter()
                    .map(|c| arrow::util::display::array_value_to_string(c, row).unwrap())
                    .collect();
                rows.push(cells.join(","));
            }
        }
        rows.sort();
        rows
    }

    #[test]
    fn inner_matches_duplicates_and_skips_null_keys() {
        assert_eq!(
            run(JoinKind::Inner, false),
            vec!["1,a,1,w", "2,b,2,x", "2,c,2,x"]
        );
    }

    #[test]
    fn outer_joins_pad_with_nulls() {
        assert_eq!(
            run(JoinKind::Left, false),
            vec![",d,,", "1,a,1,w", "2,b,2,x", "2,c,2,x", "5,e,,"]
        );
        assert_eq!(
            run(JoinKind::Right, false),
            vec![",,,z", ",,3,y", "1,a,1,w", "2,b,2,x", "2,c,2,x"]
        );
        assert_eq!(run(JoinKind::Full, false).len(), 7);
    }

    #[test]
    fn semi_anti_and_mark() {
        assert_eq!(run(JoinKind::LeftSemi, false), vec!["1,a", "2,b", "2,c"]);
        assert_eq!(run(JoinKind::LeftAnti, false), vec![",d", "5,e"]);
        assert_eq!(run(JoinKind::RightSemi, false), vec!["1,w", "2,x"]);
        assert_eq!(run(JoinKind::RightAnti, false), vec![",z", "3,y"]);
        assert_eq!(
            run(JoinKind::LeftMark, false),
            vec![",d,false", "1,a,true", "2,b,true", "2,c,true", "5,e,false"]
        );
    }

    #[test]
    fn without_keys_every_pair_is_a_candidate_for_the_filter() {
        use datafusion_expr::Operator;
        use datafusion_physical_expr::expressions::binary;
        let kind = JoinKind::Left;
        let filter_schema = Schema::new(
            left()
                .schema()
                .fields()
                .iter()
                .chain(right().schema().fields().iter())
                .map(|f| f.as_ref().clone())
                .collect::<Vec<_>>(),
        );
        let filter = binary(
            Arc::new(Column::new("k", 0)),
            Operator::Lt,
            Arc::new(Column::new("k2", 2)),
            &filter_schema,
        )
        .unwrap();
        let budget = MemoryBudget::new(1 << 30);
        let mut op = HashJoinOperator::try_new(
            kind,
            vec![],
            vec![],
            Some(filter),
            false,
            false,
            left().schema(),
            right().schema(),
            output_schema(kind),
            budget.reservation("test"),
            1024,
        )
        .unwrap();
        let mut out = Vec::new();
        op.on_left(0, left(), &mut out).unwrap();
        op.on_left_end(&mut out).unwrap();
        op.on_right(0, right(), &mut out).unwrap();
        op.on_right_end(&mut out).unwrap();
        let rows: usize = out.iter().map(|b| b.num_rows()).sum();
        // k=1 pairs with k2 in {2,3}; k=2 (twice) with 3; k=NULL and k=5 unmatched.
        assert_eq!(rows, 2 + 2 + 2);
    }

    #[test]
    fn null_aware_anti_join_follows_not_in() {
        // The probe side (the NOT IN list) has a NULL: nothing qualifies.
        assert!(run(JoinKind::LeftAnti, true).is_empty());
        // The build side (the NOT IN list) has a NULL: nothing qualifies.
        assert!(run(JoinKind::RightAnti, true).is_empty());
    }
}
