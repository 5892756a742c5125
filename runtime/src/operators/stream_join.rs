//! Updating equi-join: inner, left, right and full outer joins over
//! unbounded inputs, append-only or changelogs, producing a changelog.
//!
//! Input: both sides hashed on their keys, so matching rows meet on one
//! worker. State: per side, per key, the multiset of that side's rows,
//! each with its count and, for an outer side, the number of rows of the
//! other side it matches (the join filter included). A row arriving on
//! one side (insert or retraction, in epoch order) is joined with the
//! other side's rows of its key at once: each matching pair is emitted
//! with the row's change. An outer side's row without matches is emitted
//! padded with nulls; when it gains its first match that padded row is
//! retracted, and emitted again when it loses its last one. Rows arrive
//! on either side first in any order: the result after every epoch is the
//! join of both sides' rows so far. `NULL` keys never match unless
//! `null_equals_null`. State is kept for every row (no time bound yet).
//! Output: updating, `+I` and `-D` rows. Snapshot: each side's rows with
//! their counts and match counts, by key group of their keys.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int8Array, Int64Array, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion_physical_expr::PhysicalExpr;

use super::join_util::{batch_of, null_columns, strip_nulls, take_columns};
use super::{BinaryOperator, Emit, OpResult, align_batch};
use crate::Epoch;
use crate::changelog::{self, Op};
use crate::error::{QueryError, SqlState};
use crate::expr::evaluate_all;
use crate::memory::MemoryReservation;
use crate::plan::JoinKind;
use crate::rows::{RowBytes, RowCodec};
use crate::state::StateSnapshot;

/// A stored row's count and matches.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    count: i64,
    /// Rows of the other side it matches (kept for outer sides).
    matches: i64,
}

/// Rows of one side by key: each row's entry.
type SideState = HashMap<RowBytes, HashMap<RowBytes, Entry>>;

/// One input's state and how to read it.
struct Side {
    /// Key expressions over the side's data columns.
    keys: Vec<Arc<dyn PhysicalExpr>>,
    /// Rows of the side's data columns.
    rows: RowCodec,
    /// Whether the side's unmatched rows are kept (outer).
    outer: bool,
    /// Key to row encoding to entry.
    state: SideState,
    /// Names of the snapshot's count and matches columns.
    count_name: &'static str,
}

impl Side {
    fn size(&self) -> usize {
        self.state
            .values()
            .map(|rows| rows.keys().map(|r| r.len() + 48).sum::<usize>() + 64)
            .sum()
    }
}

/// A row of output: this side's input row, a candidate row of the other
/// side (each `None` when padded with nulls), and the change.
struct OutRow {
    this: Option<u32>,
    other: Option<u32>,
    op: Op,
}

/// The updating join (see the module docs).
pub struct StreamJoinOperator {
    sides: [Side; 2],
    /// Encodes keys of both sides (as the left side's key types).
    key_codec: RowCodec,
    filter: Option<Arc<dyn PhysicalExpr>>,
    /// Left data columns, then right: what the filter reads.
    filter_schema: SchemaRef,
    null_equals_null: bool,
    /// The join's columns and the op column.
    output: SchemaRef,
    reservation: MemoryReservation,
}

impl std::fmt::Debug for StreamJoinOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamJoinOperator")
            .field("left_keys", &self.sides[0].state.len())
            .field("right_keys", &self.sides[1].state.len())
            .finish_non_exhaustive()
    }
}

fn internal(e: impl std::fmt::Display) -> QueryError {
    QueryError::new(SqlState::Internal, e.to_string())
}

impl StreamJoinOperator {
    /// Prepares the join. Keys and the filter refer to the sides' data
    /// columns (`left`, `right`: without op columns); `output` is the
    /// join's schema with the op column last.
    ///
    /// # Errors
    ///
    /// For join types other than inner and outer, and types that cannot be
    /// row-encoded.
    #[allow(clippy::too_many_arguments)]
    pub fn try_new(
        join_type: JoinKind,
        left_keys: Vec<Arc<dyn PhysicalExpr>>,
        right_keys: Vec<Arc<dyn PhysicalExpr>>,
        filter: Option<Arc<dyn PhysicalExpr>>,
        null_equals_null: bool,
        left: SchemaRef,
        right: SchemaRef,
        output: SchemaRef,
        reservation: MemoryReservation,
    ) -> Result<Self, QueryError> {
        let (left_outer, right_outer) = match join_type {
            JoinKind::Inner => (false, false),
            JoinKind::Left => (true, false),
            JoinKind::Right => (false, true),
            JoinKind::Full => (true, true),
            other => {
                return Err(QueryError::new(
                    SqlState::FeatureNotSupported,
                    format!("a {other:?} join is not supported in a continuous query yet"),
                ));
            }
        };
        let key_types = left_keys
            .iter()
            .map(|k| k.data_type(&left))
            .collect::<Result<Vec<DataType>, _>>()
            .map_err(|e| QueryError::from_datafusion(&e))?;
        let mut fields: Vec<Field> = left.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.extend(right.fields().iter().map(|f| f.as_ref().clone()));
        let filter_schema = Arc::new(Schema::new(fields));
        Ok(Self {
            sides: [
                Side {
                    keys: left_keys,
                    rows: RowCodec::try_new(left)?,
                    outer: left_outer,
                    state: HashMap::new(),
                    count_name: "__left_count",
                },
                Side {
                    keys: right_keys,
                    rows: RowCodec::try_new(right)?,
                    outer: right_outer,
                    state: HashMap::new(),
                    count_name: "__right_count",
                },
            ],
            key_codec: RowCodec::for_types(&key_types)?,
            filter,
            filter_schema,
            null_equals_null,
            output,
            reservation,
        })
    }

    /// The encoded key of every row of `data` on side `s`, `None` for a
    /// key with a NULL that cannot match.
    fn encode_keys(
        &self,
        s: usize,
        data: &RecordBatch,
    ) -> Result<Vec<Option<RowBytes>>, QueryError> {
        let raw = evaluate_all(&self.sides[s].keys, data)?;
        let cast = raw
            .iter()
            .zip(self.key_codec.schema().fields())
            .map(|(k, f)| {
                if k.data_type() == f.data_type() {
                    Ok(Arc::clone(k))
                } else {
                    arrow::compute::cast(k, f.data_type())
                }
            })
            .collect::<Result<Vec<ArrayRef>, _>>()?;
        let rows = self.key_codec.encode(&cast)?;
        Ok((0..data.num_rows())
            .map(|i| {
                let null = cast.iter().any(|k| k.is_null(i));
                (self.null_equals_null || !null).then(|| Box::from(rows.row(i).as_ref()))
            })
            .collect())
    }

    /// Joins the changes `data` (with `diffs`) arriving on side `s`.
    fn on_side(
        &mut self,
        s: usize,
        data: &RecordBatch,
        diffs: &[i64],
        out: &mut dyn Emit,
    ) -> OpResult {
        let o = 1 - s;
        let data = align_batch(self.sides[s].rows.schema(), data.columns().to_vec())?;
        let keys = self.encode_keys(s, &data)?;
        let encoded = self.sides[s].rows.encode(data.columns())?;

        // Candidate pairs: each row with the other side's rows of its key.
        let mut cand_row: Vec<u32> = Vec::new();
        let mut cand_other: Vec<RowBytes> = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            if let Some(rows) = key.as_ref().and_then(|k| self.sides[o].state.get(k)) {
                for other in rows.keys() {
                    cand_row.push(i as u32);
                    cand_other.push(other.clone());
                }
            }
        }
        let others = self.sides[o]
            .rows
            .decode(cand_other.iter().map(|r| (r.as_ref(), 1)))?;
        let passes = self.filter_pairs(s, &data, &cand_row, &others)?;

        let mut outputs: Vec<OutRow> = Vec::new();
        let mut c = 0;
        for (i, key) in keys.into_iter().enumerate() {
            let d = diffs[i];
            let op = if d > 0 { Op::Insert } else { Op::Delete };
            let anti = if d > 0 { Op::Delete } else { Op::Insert };
            let mut matched = 0i64;
            while c < cand_row.len() && cand_row[c] as usize == i {
                if passes[c] {
                    let other_side = &mut self.sides[o];
                    let entry = other_side
                        .state
                        .get_mut(key.as_ref().expect("candidates have keys"))
                        .and_then(|rows| rows.get_mut(&cand_other[c]))
                        .expect("candidates are stored");
                    matched += entry.count;
                    let before = entry.matches;
                    entry.matches += d;
                    let repeat = (entry.count.max(0) * d.abs()) as usize;
                    if other_side.outer {
                        let padded = entry.count.max(0) as usize;
                        if before == 0 && entry.matches != 0 {
                            // Its first match: the padded row goes.
                            outputs.extend((0..padded).map(|_| OutRow {
                                this: None,
                                other: Some(c as u32),
                                op: anti,
                            }));
                        } else if before != 0 && entry.matches == 0 {
                            // Its last match went: the padded row is back.
                            outputs.extend((0..padded).map(|_| OutRow {
                                this: None,
                                other: Some(c as u32),
                                op: anti,
                            }));
                        }
                    }
                    outputs.extend((0..repeat).map(|_| OutRow {
                        this: Some(i as u32),
                        other: Some(c as u32),
                        op,
                    }));
                }
                c += 1;
            }
            let side = &mut self.sides[s];
            if side.outer && matched == 0 {
                outputs.extend((0..d.unsigned_abs()).map(|_| OutRow {
                    this: Some(i as u32),
                    other: None,
                    op,
                }));
            }
            if let Some(key) = key {
                let rows = side.state.entry(key.clone()).or_default();
                let row = encoded.row(i);
                let entry = rows.entry(Box::from(row.as_ref())).or_default();
                entry.count += d;
                entry.matches = matched;
                if entry.count == 0 {
                    rows.remove(row.as_ref());
                    if rows.is_empty() {
                        side.state.remove(&key);
                    }
                }
            }
        }
        self.emit(s, &data, &others, &outputs, out)?;
        let size = self.sides[0].size() + self.sides[1].size();
        self.reservation.try_resize(size)
    }

    /// Whether each candidate pair passes the join filter.
    fn filter_pairs(
        &self,
        s: usize,
        data: &RecordBatch,
        cand_row: &[u32],
        others: &RecordBatch,
    ) -> Result<Vec<bool>, QueryError> {
        let Some(filter) = &self.filter else {
            return Ok(vec![true; cand_row.len()]);
        };
        if cand_row.is_empty() {
            return Ok(Vec::new());
        }
        let this = take_columns(data, &UInt32Array::from(cand_row.to_vec()))?;
        let other = others.columns().to_vec();
        let columns = if s == 0 {
            [this, other].concat()
        } else {
            [other, this].concat()
        };
        let pairs = batch_of(&self.filter_schema, columns, cand_row.len())?;
        let mask = filter.evaluate(&pairs)?.into_array(cand_row.len())?;
        let mask = strip_nulls(mask.as_boolean());
        Ok(mask.values().iter().collect())
    }

    fn emit(
        &self,
        s: usize,
        data: &RecordBatch,
        others: &RecordBatch,
        outputs: &[OutRow],
        out: &mut dyn Emit,
    ) -> OpResult {
        if outputs.is_empty() {
            return Ok(());
        }
        let n = outputs.len();
        let this_idx: UInt32Array = outputs.iter().map(|r| r.this).collect();
        let other_idx: UInt32Array = outputs.iter().map(|r| r.other).collect();
        let this = take_columns(data, &this_idx)?;
        let other = if others.num_rows() == 0 {
            null_columns(self.sides[1 - s].rows.schema(), n)
        } else {
            take_columns(others, &other_idx)?
        };
        let mut columns = if s == 0 {
            [this, other].concat()
        } else {
            [other, this].concat()
        };
        columns.push(Arc::new(Int8Array::from_iter_values(
            outputs.iter().map(|r| r.op as i8),
        )));
        out.emit(batch_of(&self.output, columns, n)?);
        Ok(())
    }

    fn on_input(&mut self, s: usize, batch: RecordBatch, out: &mut dyn Emit) -> OpResult {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let (data, diffs) = changelog::diffs(&batch)?;
        self.on_side(s, &data, &diffs, out)
    }

    /// The snapshot schema of side `s`: its columns, count and matches.
    fn snapshot_schema(&self, s: usize) -> SchemaRef {
        let side = &self.sides[s];
        let mut fields: Vec<Field> = side
            .rows
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new(side.count_name, DataType::Int64, false));
        fields.push(Field::new("__matches", DataType::Int64, false));
        Arc::new(Schema::new(fields))
    }
}

impl BinaryOperator for StreamJoinOperator {
    fn on_left(&mut self, _epoch: Epoch, batch: RecordBatch, out: &mut dyn Emit) -> OpResult {
        self.on_input(0, batch, out)
    }

    fn on_right(&mut self, _epoch: Epoch, batch: RecordBatch, out: &mut dyn Emit) -> OpResult {
        self.on_input(1, batch, out)
    }

    fn on_left_end(&mut self, _out: &mut dyn Emit) -> OpResult {
        Ok(())
    }

    fn on_right_end(&mut self, _out: &mut dyn Emit) -> OpResult {
        Ok(())
    }

    fn snapshot(&mut self) -> Result<StateSnapshot, QueryError> {
        let mut snapshot = StateSnapshot::default();
        for s in 0..2 {
            let side = &self.sides[s];
            let entries: Vec<(&[u8], Entry)> = side
                .state
                .values()
                .flat_map(|rows| rows.iter().map(|(r, e)| (r.as_ref(), *e)))
                .collect();
            if entries.is_empty() {
                continue;
            }
            let rows = side.rows.decode(entries.iter().map(|(r, _)| (*r, 1)))?;
            let keys = evaluate_all(&side.keys, &rows)?;
            let mut columns = rows.columns().to_vec();
            columns.push(Arc::new(Int64Array::from_iter_values(
                entries.iter().map(|(_, e)| e.count),
            )));
            columns.push(Arc::new(Int64Array::from_iter_values(
                entries.iter().map(|(_, e)| e.matches),
            )));
            let batch = batch_of(&self.snapshot_schema(s), columns, entries.len())?;
            snapshot.add_keyed(&keys, &batch)?;
        }
        Ok(snapshot)
    }

    fn restore(&mut self, snapshot: StateSnapshot) -> OpResult {
        for side in &mut self.sides {
            side.state.clear();
        }
        for batch in snapshot.batches() {
            let width = batch.num_columns();
            if width < 2 {
                return Err(internal("a join snapshot batch without counts"));
            }
            let name = batch.schema().field(width - 2).name().clone();
            let s = match name.as_str() {
                "__left_count" => 0,
                "__right_count" => 1,
                _ => return Err(internal("a join snapshot batch of neither side")),
            };
            let data = align_batch(
                self.sides[s].rows.schema(),
                batch.columns()[..width - 2].to_vec(),
            )?;
            let counts = batch.column(width - 2).as_primitive::<Int64Type>().clone();
            let matches = batch.column(width - 1).as_primitive::<Int64Type>().clone();
            let keys = self.encode_keys(s, &data)?;
            let encoded = self.sides[s].rows.encode(data.columns())?;
            let side = &mut self.sides[s];
            for (i, key) in keys.into_iter().enumerate() {
                let Some(key) = key else { continue };
                side.state.entry(key).or_default().insert(
                    Box::from(encoded.row(i).as_ref()),
                    Entry {
                        count: counts.value(i),
                        matches: matches.value(i),
                    },
                );
            }
        }
        let size = self.sides[0].size() + self.sides[1].size();
        self.reservation.try_resize(size)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use arrow::array::{ArrayRef, Int64Array};
    use datafusion_expr::Operator;
    use datafusion_physical_expr::expressions::{BinaryExpr, Column};

    use super::*;
    use crate::memory::MemoryBudget;

    fn side_schema(prefix: &str) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new(format!("{prefix}k"), DataType::Int64, true),
            Field::new(format!("{prefix}v"), DataType::Int64, true),
        ]))
    }

    fn join(kind: JoinKind, filter: bool) -> StreamJoinOperator {
        let mut fields: Vec<Field> = side_schema("l")
            .fields()
            .iter()
            .chain(side_schema("r").fields().iter())
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(changelog::op_field());
        // Filter: lv < rv.
        let filter = filter.then(|| {
            Arc::new(BinaryExpr::new(
                Arc::new(Column::new("lv", 1)),
                Operator::Lt,
                Arc::new(Column::new("rv", 3)),
            )) as Arc<dyn PhysicalExpr>
        });
        let budget = MemoryBudget::new(1 << 30);
        StreamJoinOperator::try_new(
            kind,
            vec![Arc::new(Column::new("lk", 0))],
            vec![Arc::new(Column::new("rk", 0))],
            filter,
            false,
            side_schema("l"),
            side_schema("r"),
            Arc::new(Schema::new(fields)),
            budget.reservation("test"),
        )
        .unwrap()
    }

    fn rows(prefix: &str, rows: &[(Option<i64>, i64, Op)]) -> RecordBatch {
        let data = RecordBatch::try_new(
            side_schema(prefix),
            vec![
                Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.0))) as ArrayRef,
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            ],
        )
        .unwrap();
        let ops = Int8Array::from_iter_values(rows.iter().map(|r| r.2 as i8));
        changelog::with_ops(
            &data,
            ops,
            &changelog::updating_schema(&side_schema(prefix)),
        )
        .unwrap()
    }

    type Result = BTreeMap<Vec<Option<i64>>, i64>;

    fn apply(result: &mut Result, out: &[RecordBatch]) {
        for b in out {
            let (data, diffs) = changelog::diffs(b).unwrap();
            for (i, d) in diffs.iter().enumerate() {
                let row: Vec<Option<i64>> = (0..data.num_columns())
                    .map(|c| {
                        let a = data.column(c).as_primitive::<Int64Type>();
                        (!a.is_null(i)).then(|| a.value(i))
                    })
                    .collect();
                let e = result.entry(row.clone()).or_default();
                *e += d;
                if *e == 0 {
                    result.remove(&row);
                }
            }
        }
        assert!(result.values().all(|c| *c > 0), "{result:?}");
    }

    fn feed(op: &mut StreamJoinOperator, side: usize, batch: RecordBatch, result: &mut Result) {
        let mut out = Vec::new();
        if side == 0 {
            op.on_left(0, batch, &mut out).unwrap();
        } else {
            op.on_right(0, batch, &mut out).unwrap();
        }
        apply(result, &out);
    }

    fn keys(result: &Result) -> Vec<Vec<Option<i64>>> {
        result
            .iter()
            .flat_map(|(k, c)| std::iter::repeat_n(k.clone(), *c as usize))
            .collect()
    }

    #[test]
    fn inner_join_with_rows_on_either_side_first_and_retractions() {
        use Op::*;
        let mut op = join(JoinKind::Inner, false);
        let mut result = Result::new();
        feed(&mut op, 1, rows("r", &[(Some(1), 10, Insert)]), &mut result);
        feed(
            &mut op,
            0,
            rows("l", &[(Some(1), 1, Insert), (Some(2), 2, Insert)]),
            &mut result,
        );
        feed(
            &mut op,
            1,
            rows("r", &[(Some(2), 20, Insert), (Some(1), 10, Insert)]),
            &mut result,
        );
        assert_eq!(
            keys(&result),
            vec![
                vec![Some(1), Some(1), Some(1), Some(10)],
                vec![Some(1), Some(1), Some(1), Some(10)],
                vec![Some(2), Some(2), Some(2), Some(20)],
            ]
        );
        feed(&mut op, 0, rows("l", &[(Some(1), 1, Delete)]), &mut result);
        assert_eq!(
            keys(&result),
            vec![vec![Some(2), Some(2), Some(2), Some(20)]]
        );
        // NULL keys match nothing.
        feed(&mut op, 0, rows("l", &[(None, 3, Insert)]), &mut result);
        feed(&mut op, 1, rows("r", &[(None, 3, Insert)]), &mut result);
        assert_eq!(result.len(), 1);
    }

    #[test]
    fn full_outer_join_pads_and_retracts_padded_rows() {
        use Op::*;
        let mut op = join(JoinKind::Full, false);
        let mut result = Result::new();
        feed(&mut op, 0, rows("l", &[(Some(1), 1, Insert)]), &mut result);
        assert_eq!(keys(&result), vec![vec![Some(1), Some(1), None, None]]);
        feed(
            &mut op,
            1,
            rows("r", &[(Some(1), 10, Insert), (Some(3), 30, Insert)]),
            &mut result,
        );
        assert_eq!(
            keys(&result),
            vec![
                vec![None, None, Some(3), Some(30)],
                vec![Some(1), Some(1), Some(1), Some(10)],
            ]
        );
        // The left row's only match goes: it is padded again.
        feed(
            &mut op,
            1,
            rows("r", &[(Some(1), 10, UpdateBefore)]),
            &mut result,
        );
        assert_eq!(
            keys(&result),
            vec![
                vec![None, None, Some(3), Some(30)],
                vec![Some(1), Some(1), None, None],
            ]
        );
        // Snapshot and restore, then continue identically.
        let snapshot = op.snapshot().unwrap();
        let mut restored = join(JoinKind::Full, false);
        restored.restore(snapshot).unwrap();
        let (mut a, mut b) = (result.clone(), result);
        for (o, r) in [(&mut op, &mut a), (&mut restored, &mut b)] {
            feed(
                o,
                0,
                rows("l", &[(Some(3), 5, Insert), (Some(1), 1, Delete)]),
                r,
            );
        }
        assert_eq!(a, b);
        assert_eq!(keys(&a), vec![vec![Some(3), Some(5), Some(3), Some(30)]]);
    }

    #[test]
    fn left_join_filter_decides_matches() {
        use Op::*;
        let mut op = join(JoinKind::Left, true);
        let mut result = Result::new();
        feed(&mut op, 0, rows("l", &[(Some(1), 5, Insert)]), &mut result);
        // rv = 3 fails lv < rv: the left row stays padded.
        feed(&mut op, 1, rows("r", &[(Some(1), 3, Insert)]), &mut result);
        assert_eq!(keys(&result), vec![vec![Some(1), Some(5), None, None]]);
        feed(&mut op, 1, rows("r", &[(Some(1), 9, Insert)]), &mut result);
        assert_eq!(
            keys(&result),
            vec![vec![Some(1), Some(5), Some(1), Some(9)]]
        );
        feed(&mut op, 1, rows("r", &[(Some(1), 9, Delete)]), &mut result);
        assert_eq!(keys(&result), vec![vec![Some(1), Some(5), None, None]]);
    }

    #[test]
    fn rescales_through_a_snapshot() {
        let left = |e: i64| (0..8).map(move |i| (Some((i + e) % 6), e * 10 + i));
        let script: Vec<crate::operators::rescale::BinaryEpoch> = (0..6i64)
            .map(|e| {
                let mut l: Vec<(Option<i64>, i64, Op)> =
                    left(e).map(|(k, v)| (k, v, Op::Insert)).collect();
                l.push((None, e, Op::Insert));
                if e >= 2 {
                    l.extend(left(e - 2).step_by(3).map(|(k, v)| (k, v, Op::Delete)));
                }
                let r: Vec<(Option<i64>, i64, Op)> = (0..5)
                    .map(|i| (Some((i * 2 + e) % 7), e * 100 + i, Op::Insert))
                    .collect();
                vec![(0, rows("l", &l)), (1, rows("r", &r))]
            })
            .collect();
        for kind in [JoinKind::Inner, JoinKind::Left, JoinKind::Full] {
            crate::operators::rescale::binary_rescales(
                || join(kind, false),
                [&[0], &[0]],
                &script,
                3,
            );
        }
        crate::operators::rescale::binary_rescales(
            || join(JoinKind::Inner, true),
            [&[0], &[0]],
            &script,
            3,
        );
    }
}
