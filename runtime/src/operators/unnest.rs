//! Unnest: expands list columns into rows (`unnest(array)` in the select
//! list or in `FROM`, and what `_pg_expandarray` becomes). Stateless.
//!
//! For each input row, the number of output rows is the length of the
//! longest of its listed lists; shorter lists are padded with NULLs and the
//! other columns repeat (Postgres's rule for several set-returning functions
//! in one select list). A NULL list counts as empty, or as one NULL element,
//! per [`UnnestNulls`]. Listed struct columns are replaced by their fields.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions, UInt64Array, UInt64Builder,
};
use arrow::compute::take;
use arrow::datatypes::{DataType, SchemaRef};

use super::{Emit, OpResult, UnaryOperator, align_batch, slice_batches};
use crate::error::{QueryError, SqlState};
use crate::plan::UnnestNulls;

/// Replaces list columns by their elements and struct columns by their
/// fields.
#[derive(Debug)]
pub struct UnnestOperator {
    /// Input columns holding lists (at most once each).
    lists: Vec<usize>,
    /// Input columns holding structs.
    structs: Vec<usize>,
    /// How NULL and empty lists count.
    nulls: UnnestNulls,
    /// Output schema: the input's columns in order, each list column
    /// replaced by its element and each struct column by its fields.
    schema: SchemaRef,
    /// Largest output batch.
    batch_size: usize,
}

/// The rows of one list column: its elements and, per row, where its
/// elements start and how many there are (`None` for a NULL list).
struct ListRows {
    values: ArrayRef,
    spans: Vec<Option<(u64, u64)>>,
}

impl ListRows {
    fn new(column: &ArrayRef) -> Result<Self, QueryError> {
        fn spans_of<T: Copy + Into<i64>>(
            offsets: &[T],
            array: &dyn Array,
        ) -> Vec<Option<(u64, u64)>> {
            (0..array.len())
                .map(|row| {
                    array.is_valid(row).then(|| {
                        let start: i64 = offsets[row].into();
                        let end: i64 = offsets[row + 1].into();
                        (start as u64, (end - start) as u64)
                    })
                })
                .collect()
        }
        match column.data_type() {
            DataType::List(_) => {
                let list = column.as_list::<i32>();
                Ok(Self {
                    values: Arc::clone(list.values()),
                    spans: spans_of(list.value_offsets(), list),
                })
            }
            DataType::LargeList(_) => {
                let list = column.as_list::<i64>();
                Ok(Self {
                    values: Arc::clone(list.values()),
                    spans: spans_of(list.value_offsets(), list),
                })
            }
            DataType::FixedSizeList(_, size) => {
                let list = column.as_fixed_size_list();
                let size = *size as u64;
                Ok(Self {
                    values: Arc::clone(list.values()),
                    spans: (0..list.len())
                        .map(|row| {
                            list.is_valid(row)
                                .then(|| (list.value_offset(row) as u64, size))
                        })
                        .collect(),
                })
            }
            DataType::Null => Ok(Self {
                values: arrow::array::new_null_array(&DataType::Null, 0),
                spans: vec![None; column.len()],
            }),
            other => Err(QueryError::new(
                SqlState::Internal,
                format!("cannot unnest a column of type {other}"),
            )),
        }
    }
}

impl UnnestOperator {
    /// Creates the operator.
    pub fn new(
        lists: Vec<usize>,
        structs: Vec<usize>,
        nulls: UnnestNulls,
        schema: SchemaRef,
        batch_size: usize,
    ) -> Self {
        Self {
            lists,
            structs,
            nulls,
            schema,
            batch_size: batch_size.max(1),
        }
    }

    /// The output rows of one input batch.
    pub fn unnest(&self, batch: &RecordBatch) -> Result<RecordBatch, QueryError> {
        let rows = batch.num_rows();
        let lists = self
            .lists
            .iter()
            .map(|i| ListRows::new(batch.column(*i)))
            .collect::<Result<Vec<_>, _>>()?;
        // Output rows per input row.
        let lengths: Vec<u64> = if lists.is_empty() {
            vec![1; rows]
        } else {
            (0..rows)
                .map(|row| {
                    lists
                        .iter()
                        .map(|l| match (l.spans[row], self.nulls) {
                            (None, UnnestNulls::Drop) => 0,
                            (None, _) => 1,
                            (Some((_, 0)), UnnestNulls::PreserveAndExpandEmpty) => 1,
                            (Some((_, len)), _) => len,
                        })
                        .max()
                        .unwrap_or(0)
                })
                .collect()
        };
        let total: u64 = lengths.iter().sum();
        let capacity = usize::try_from(total).unwrap_or(usize::MAX);
        let repeat = {
            let mut b = UInt64Builder::with_capacity(capacity);
            for (row, n) in lengths.iter().enumerate() {
                for _ in 0..*n {
                    b.append_value(row as u64);
                }
            }
            b.finish()
        };
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for (i, column) in batch.columns().iter().enumerate() {
            if let Some(k) = self.lists.iter().position(|l| *l == i) {
                let list = &lists[k];
                let mut b = UInt64Builder::with_capacity(capacity);
                for (row, n) in lengths.iter().enumerate() {
                    let (start, len) = list.spans[row].unwrap_or((0, 0));
                    for j in 0..*n {
                        if j < len {
                            b.append_value(start + j);
                        } else {
                            b.append_null();
                        }
                    }
                }
                let indices: UInt64Array = b.finish();
                columns.push(take(list.values.as_ref(), &indices, None)?);
            } else if self.structs.contains(&i) {
                let repeated = take(column.as_ref(), &repeat, None)?;
                let DataType::Struct(_) = repeated.data_type() else {
                    return Err(QueryError::new(
                        SqlState::Internal,
                        format!("cannot unnest a column of type {}", repeated.data_type()),
                    ));
                };
                columns.extend(repeated.as_struct().columns().iter().cloned());
            } else {
                columns.push(take(column.as_ref(), &repeat, None)?);
            }
        }
        if columns.len() != self.schema.fields().len() {
            return Err(QueryError::new(
                SqlState::Internal,
                format!(
                    "unnest produced {} columns for a schema of {}",
                    columns.len(),
                    self.schema.fields().len()
                ),
            ));
        }
        if columns.is_empty() {
            return Ok(RecordBatch::try_new_with_options(
                Arc::clone(&self.schema),
                vec![],
                &RecordBatchOptions::new().with_row_count(Some(capacity)),
            )?);
        }
        align_batch(&self.schema, columns)
    }
}

impl UnaryOperator for UnnestOperator {
    fn on_batch(
        &mut self,
        _epoch: crate::Epoch,
        batch: RecordBatch,
        out: &mut dyn Emit,
    ) -> OpResult {
        // Bound the work per call: a few input rows may expand a lot.
        let mut offset = 0;
        let step = self.batch_size;
        while offset < batch.num_rows() {
            if out.should_stop() {
                return Ok(());
            }
            let len = step.min(batch.num_rows() - offset);
            let output = self.unnest(&batch.slice(offset, len))?;
            slice_batches(output, self.batch_size, out);
            offset += len;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int32Array, ListArray, StringArray, StructArray};
    use arrow::datatypes::{Field, Fields, Int32Type, Schema};

    use super::*;

    fn text(array: &ArrayRef) -> Vec<Option<String>> {
        let cast = arrow::compute::cast(array, &DataType::Utf8).unwrap();
        cast.as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect()
    }

    fn input() -> RecordBatch {
        let a = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), Some(2), Some(3)]),
            None,
            Some(vec![]),
            Some(vec![Some(4)]),
        ]);
        let b = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(10)]),
            Some(vec![Some(20), Some(21)]),
            None,
            Some(vec![]),
        ]);
        let k = StringArray::from(vec!["w", "x", "y", "z"]);
        let schema = Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("a", a.data_type().clone(), true),
            Field::new("b", b.data_type().clone(), true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![Arc::new(k), Arc::new(a), Arc::new(b)],
        )
        .unwrap()
    }

    fn output_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("a", DataType::Int32, true),
            Field::new("b", DataType::Int32, true),
        ]))
    }

    fn rows(batch: &RecordBatch) -> Vec<String> {
        let columns: Vec<_> = batch.columns().iter().map(text).collect();
        (0..batch.num_rows())
            .map(|r| {
                columns
                    .iter()
                    .map(|c| c[r].clone().unwrap_or_else(|| "NULL".into()))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    }

    #[test]
    fn zips_lists_and_pads_the_shorter_with_nulls() {
        let op = UnnestOperator::new(vec![1, 2], vec![], UnnestNulls::Drop, output_schema(), 100);
        assert_eq!(
            rows(&op.unnest(&input()).unwrap()),
            [
                "w|1|10",
                "w|2|NULL",
                "w|3|NULL",
                "x|NULL|20",
                "x|NULL|21",
                "z|4|NULL"
            ]
        );
    }

    #[test]
    fn null_handling_modes() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("a", DataType::Int32, true),
            Field::new("b", input().schema().field(2).data_type().clone(), true),
        ]));
        let unnest_a = |nulls| {
            let op = UnnestOperator::new(vec![1], vec![], nulls, Arc::clone(&schema), 100);
            rows(&op.unnest(&input()).unwrap().project(&[0, 1]).unwrap())
        };
        assert_eq!(unnest_a(UnnestNulls::Drop), ["w|1", "w|2", "w|3", "z|4"]);
        assert_eq!(
            unnest_a(UnnestNulls::Preserve),
            ["w|1", "w|2", "w|3", "x|NULL", "z|4"]
        );
        assert_eq!(
            unnest_a(UnnestNulls::PreserveAndExpandEmpty),
            ["w|1", "w|2", "w|3", "x|NULL", "y|NULL", "z|4"]
        );
    }

    #[test]
    fn expands_structs_and_splits_large_output() {
        let fields = Fields::from(vec![
            Field::new("x", DataType::Int32, true),
            Field::new("n", DataType::Int32, true),
        ]);
        let pairs = StructArray::new(
            fields.clone(),
            vec![
                Arc::new(Int32Array::from(vec![7, 8, 9])),
                Arc::new(Int32Array::from(vec![1, 2, 3])),
            ],
            None,
        );
        let list = ListArray::new(
            Arc::new(Field::new("item", DataType::Struct(fields.clone()), true)),
            arrow::buffer::OffsetBuffer::from_lengths([3]),
            Arc::new(pairs),
            None,
        );
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "l",
                list.data_type().clone(),
                true,
            )])),
            vec![Arc::new(list)],
        )
        .unwrap();
        // unnest(l) gives a struct column; a second operator expands it.
        let as_struct = Arc::new(Schema::new(vec![Field::new(
            "l",
            DataType::Struct(fields.clone()),
            true,
        )]));
        let mut op = UnnestOperator::new(vec![0], vec![], UnnestNulls::Drop, as_struct, 2);
        let mut out = Vec::new();
        op.on_batch(0, batch, &mut out).unwrap();
        assert_eq!(
            out.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(),
            [2, 1]
        );
        let flat = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Int32, true),
            Field::new("n", DataType::Int32, true),
        ]));
        let op = UnnestOperator::new(vec![], vec![0], UnnestNulls::Drop, flat, 100);
        assert_eq!(rows(&op.unnest(&out[0]).unwrap()), ["7|1", "8|2"]);
    }
}
