//! Helpers shared by the join operators: assembling output rows from index
//! pairs, padding unmatched rows with nulls, and applying a join filter.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, RecordBatch, RecordBatchOptions, UInt32Array,
    UInt64Array, new_null_array,
};
use arrow::buffer::BooleanBuffer;
use arrow::compute::{and, filter, take};
use arrow::datatypes::SchemaRef;
use datafusion_physical_expr::PhysicalExpr;

use crate::error::QueryError;

/// Takes `indices` of every column of `batch`; a null index gives a null row.
pub(crate) fn take_columns(
    batch: &RecordBatch,
    indices: &dyn Array,
) -> Result<Vec<ArrayRef>, QueryError> {
    batch
        .columns()
        .iter()
        .map(|c| Ok(take(c.as_ref(), indices, None)?))
        .collect()
}

/// `n` null rows for every column of `schema`.
pub(crate) fn null_columns(schema: &SchemaRef, n: usize) -> Vec<ArrayRef> {
    schema
        .fields()
        .iter()
        .map(|f| new_null_array(f.data_type(), n))
        .collect()
}

/// Builds an output batch from column lists.
pub(crate) fn batch_of(
    schema: &SchemaRef,
    columns: Vec<ArrayRef>,
    rows: usize,
) -> Result<RecordBatch, QueryError> {
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    let columns = columns
        .into_iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(c)
            } else {
                arrow::compute::cast(&c, f.data_type())
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &options,
    )?)
}

/// Evaluates the join filter over candidate pairs (`left` rows at
/// `left_idx`, `right` rows at `right_idx`) and keeps the pairs where it is
/// true.
pub(crate) fn apply_filter(
    filter_expr: &Arc<dyn PhysicalExpr>,
    filter_schema: &SchemaRef,
    left: &RecordBatch,
    right: &RecordBatch,
    left_idx: UInt64Array,
    right_idx: UInt32Array,
) -> Result<(UInt64Array, UInt32Array), QueryError> {
    if left_idx.is_empty() {
        return Ok((left_idx, right_idx));
    }
    let mut columns = take_columns(left, &left_idx)?;
    columns.extend(take_columns(right, &right_idx)?);
    let intermediate = batch_of(filter_schema, columns, left_idx.len())?;
    let mask = filter_expr
        .evaluate(&intermediate)?
        .into_array(left_idx.len())?;
    let mask = mask.as_boolean();
    let mask = strip_nulls(mask);
    let left_idx = filter(&left_idx, &mask)?;
    let right_idx = filter(&right_idx, &mask)?;
    Ok((
        left_idx.as_primitive().clone(),
        right_idx.as_primitive().clone(),
    ))
}

/// A mask where null counts as false.
pub(crate) fn strip_nulls(mask: &BooleanArray) -> BooleanArray {
    match mask.nulls() {
        None => mask.clone(),
        Some(nulls) => {
            let values = mask.values() & nulls.inner();
            BooleanArray::new(values, None)
        }
    }
}

/// AND of two masks, null counting as false.
pub(crate) fn and_masks(a: &BooleanArray, b: &BooleanArray) -> Result<BooleanArray, QueryError> {
    Ok(strip_nulls(&and(a, b)?))
}

/// A boolean array of `bits`.
pub(crate) fn mask_of(bits: &[bool]) -> BooleanArray {
    BooleanArray::new(BooleanBuffer::from(bits), None)
}
