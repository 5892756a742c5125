//! The changelog op column of updating streams.
//!
//! Every stream is append-only or updating (see ARCHITECTURE.md). The
//! batches of an updating stream carry, as their last column, the op
//! column [`OP_COLUMN`] (`Int8`, not null): what each row does to the
//! result, as in Flink's `RowKind`:
//!
//! | op | value | diff |
//! |----|-------|------|
//! | [`Op::Insert`] (`+I`)        | 0 | +1 |
//! | [`Op::Delete`] (`-D`)        | 1 | -1 |
//! | [`Op::UpdateBefore`] (`-U`)  | 2 | -1 |
//! | [`Op::UpdateAfter`] (`+U`)   | 3 | +1 |
//!
//! An update is a `-U` row (the old value) followed, in the same epoch, by
//! a `+U` row (the new one). Consumers that keep multisets (views,
//! subscriptions) only need the diff of each row; operators that key their
//! state (aggregates) also read the kind. Append-only streams have no op
//! column: every row is an insert.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Int8Array, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType, Field, Int8Type, Schema, SchemaRef};

use crate::error::{QueryError, SqlState};

/// Name of the op column, the last column of an updating stream's batches.
pub const OP_COLUMN: &str = "__op";

/// What a row of an updating stream does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i8)]
pub enum Op {
    /// A new row.
    Insert = 0,
    /// A row taken back.
    Delete = 1,
    /// The old value of an updated row.
    UpdateBefore = 2,
    /// The new value of an updated row.
    UpdateAfter = 3,
}

impl Op {
    /// The op with this column value.
    pub fn from_i8(v: i8) -> Option<Self> {
        match v {
            0 => Some(Self::Insert),
            1 => Some(Self::Delete),
            2 => Some(Self::UpdateBefore),
            3 => Some(Self::UpdateAfter),
            _ => None,
        }
    }

    /// +1 for a row added to the result, -1 for one taken away.
    pub fn diff(self) -> i64 {
        match self {
            Self::Insert | Self::UpdateAfter => 1,
            Self::Delete | Self::UpdateBefore => -1,
        }
    }

    /// Flink's short name (`+I`, `-D`, `-U`, `+U`).
    pub fn short_name(self) -> &'static str {
        match self {
            Self::Insert => "+I",
            Self::Delete => "-D",
            Self::UpdateBefore => "-U",
            Self::UpdateAfter => "+U",
        }
    }
}

/// The op column's field.
pub fn op_field() -> Field {
    Field::new(OP_COLUMN, DataType::Int8, false)
}

/// Whether `schema` is that of an updating stream (its last column is the
/// op column).
pub fn is_updating(schema: &Schema) -> bool {
    schema
        .fields()
        .last()
        .is_some_and(|f| f.name() == OP_COLUMN && f.data_type() == &DataType::Int8)
}

/// `schema` with the op column appended.
pub fn updating_schema(schema: &Schema) -> SchemaRef {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(op_field());
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `schema` without its op column (unchanged when it has none).
pub fn data_schema(schema: &Schema) -> SchemaRef {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    if is_updating(schema) {
        fields.pop();
    }
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `batch` (data columns) with an op column of `ops`, as `schema` (which
/// ends with the op column).
pub fn with_ops(
    batch: &RecordBatch,
    ops: Int8Array,
    schema: &SchemaRef,
) -> Result<RecordBatch, QueryError> {
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.push(Arc::new(ops));
    RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )
    .map_err(|e| {
        QueryError::new(
            SqlState::Internal,
            format!("building a changelog batch: {e}"),
        )
    })
}

/// `batch` with every row marked `op`.
pub fn all_ops(batch: &RecordBatch, op: Op, schema: &SchemaRef) -> Result<RecordBatch, QueryError> {
    with_ops(
        batch,
        Int8Array::from(vec![op as i8; batch.num_rows()]),
        schema,
    )
}

/// Splits a batch of an updating stream into its data columns and its ops.
///
/// # Errors
///
/// When the batch has no op column or an op value is unknown.
pub fn split_ops(batch: &RecordBatch) -> Result<(RecordBatch, Vec<Op>), QueryError> {
    if !is_updating(batch.schema_ref()) {
        return Err(QueryError::new(
            SqlState::Internal,
            "a batch of an updating stream has no op column",
        ));
    }
    let last = batch.num_columns() - 1;
    let column = batch.column(last).as_primitive::<Int8Type>();
    let ops = (0..column.len())
        .map(|i| {
            Op::from_i8(column.value(i)).ok_or_else(|| {
                QueryError::new(
                    SqlState::Internal,
                    format!("unknown changelog op {}", column.value(i)),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut data = batch.clone();
    data.remove_column(last);
    Ok((data, ops))
}

/// The rows of `batch` (of either kind of stream) with their diffs: an
/// append-only batch is all +1.
pub fn diffs(batch: &RecordBatch) -> Result<(RecordBatch, Vec<i64>), QueryError> {
    if is_updating(batch.schema_ref()) {
        let (data, ops) = split_ops(batch)?;
        Ok((data, ops.into_iter().map(Op::diff).collect()))
    } else {
        Ok((batch.clone(), vec![1; batch.num_rows()]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;

    #[test]
    fn ops_round_trip_through_the_column() {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, true)]));
        let data = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Int64Array::from(vec![1, 2, 3, 4]))],
        )
        .unwrap();
        let updating = updating_schema(&schema);
        assert!(is_updating(&updating) && !is_updating(&schema));
        assert_eq!(data_schema(&updating).as_ref(), schema.as_ref());
        let ops = Int8Array::from(vec![0, 1, 2, 3]);
        let batch = with_ops(&data, ops, &updating).unwrap();
        let (back, ops) = split_ops(&batch).unwrap();
        assert_eq!(back.num_columns(), 1);
        assert_eq!(
            ops,
            vec![Op::Insert, Op::Delete, Op::UpdateBefore, Op::UpdateAfter]
        );
        let (_, d) = diffs(&batch).unwrap();
        assert_eq!(d, vec![1, -1, -1, 1]);
        let (_, d) = diffs(&data).unwrap();
        assert_eq!(d, vec![1, 1, 1, 1]);
        assert!(split_ops(&data).is_err());
        let bad = with_ops(&data, Int8Array::from(vec![0, 9, 0, 0]), &updating).unwrap();
        assert!(split_ops(&bad).is_err());
    }
}
