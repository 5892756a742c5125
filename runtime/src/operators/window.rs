//! Window functions (`OVER (PARTITION BY ... ORDER BY ... frame)`).
//!
//! Rows arrive partitioned by the hash of the common `PARTITION BY` keys (or
//! all on worker 0 when there are none). The operator buffers its input until
//! it ends; then, for each window expression, it sorts the rows by that
//! expression's partition and order keys, evaluates DataFusion's window
//! function over each partition, and scatters the results back to the input
//! order. Output: the input columns followed by one column per expression.
//! State: the buffered rows, accounted against the memory budget.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::{
    SortColumn, SortOptions, concat, concat_batches, lexsort_to_indices, take, take_record_batch,
};
use arrow::datatypes::SchemaRef;
use datafusion_common::utils::evaluate_partition_ranges;
use datafusion_common::{Result as DFResult, internal_err};
use datafusion_expr::Expr;
use datafusion_expr::expr::{WindowFunction, WindowFunctionParams};
use datafusion_physical_expr::window::WindowExpr;
use datafusion_physical_plan::windows::create_window_expr;

use super::{Emit, OpResult, UnaryOperator, align_batch, slice_batches};
use crate::error::QueryError;
use crate::expr::{ExprContext, ExprIr};
use crate::memory::MemoryReservation;

/// Evaluates window functions (see the module docs).
#[derive(Debug)]
pub struct WindowOperator {
    /// One physical window expression per output column.
    exprs: Vec<Arc<dyn WindowExpr>>,
    /// Schema of the input.
    input_schema: SchemaRef,
    /// Schema of the output.
    schema: SchemaRef,
    /// Buffered input.
    buffer: Vec<RecordBatch>,
    /// Memory held by the buffer.
    reservation: MemoryReservation,
    /// Rows per output batch.
    batch_size: usize,
}

fn lower_window(ctx: &ExprContext<'_>, e: &ExprIr, name: String) -> DFResult<Arc<dyn WindowExpr>> {
    let mut expr = e.to_expr(ctx.registry)?;
    while let Expr::Alias(a) = expr {
        expr = *a.expr;
    }
    let Expr::WindowFunction(w) = expr else {
        return internal_err!("window node with a non-window expression {expr}");
    };
    let WindowFunction {
        fun,
        params:
            WindowFunctionParams {
                args,
                partition_by,
                order_by,
                window_frame,
                filter,
                null_treatment,
                distinct,
            },
    } = *w;
    let args = args
        .iter()
        .map(|a| ctx.physical(&ExprIr::try_from_expr(a)?))
        .collect::<DFResult<Vec<_>>>()?;
    let partition_by = partition_by
        .iter()
        .map(|a| ctx.physical(&ExprIr::try_from_expr(a)?))
        .collect::<DFResult<Vec<_>>>()?;
    let order_by = order_by
        .iter()
        .map(crate::expr::SortIr::try_from_sort)
        .collect::<DFResult<Vec<_>>>()?;
    let order_by = ctx.physical_sort(&order_by)?;
    let filter = filter
        .map(|f| ctx.physical(&ExprIr::try_from_expr(&f)?))
        .transpose()?;
    create_window_expr(
        &fun,
        name,
        &args,
        &partition_by,
        &order_by,
        Arc::new(window_frame),
        ctx.arrow_schema(),
        matches!(
            null_treatment,
            Some(datafusion_expr::expr::NullTreatment::IgnoreNulls)
        ),
        distinct,
        filter,
    )
}

impl WindowOperator {
    /// Creates the operator; `schema` is the output schema (input columns
    /// followed by one column per expression).
    pub fn try_new(
        ctx: &ExprContext<'_>,
        exprs: &[ExprIr],
        schema: SchemaRef,
        reservation: MemoryReservation,
        batch_size: usize,
    ) -> Result<Self, QueryError> {
        let input_schema = ctx.arrow_schema();
        let offset = input_schema.fields().len();
        let exprs = exprs
            .iter()
            .enumerate()
            .map(|(i, e)| lower_window(ctx, e, schema.field(offset + i).name().clone()))
            .collect::<DFResult<Vec<_>>>()?;
        Ok(Self {
            exprs,
            input_schema,
            schema,
            buffer: Vec::new(),
            reservation,
            batch_size,
        })
    }

    /// Evaluates one window expression over all rows, in input order.
    fn evaluate(expr: &Arc<dyn WindowExpr>, batch: &RecordBatch) -> Result<ArrayRef, QueryError> {
        let rows = batch.num_rows();
        let partition_keys: Vec<SortColumn> = expr
            .partition_by()
            .iter()
            .map(|p| {
                Ok(SortColumn {
                    values: p.evaluate(batch)?.into_array(rows)?,
                    options: Some(SortOptions::default()),
                })
            })
            .collect::<DFResult<_>>()?;
        let mut sort_keys = partition_keys.clone();
        sort_keys.extend(
            expr.order_by()
                .iter()
                .map(|o| o.evaluate_to_sort_column(batch))
                .collect::<DFResult<Vec<_>>>()?,
        );
        if sort_keys.is_empty() {
            return Ok(expr.evaluate(batch)?);
        }
        let indices = lexsort_to_indices(&sort_keys, None)?;
        let sorted = take_record_batch(batch, &indices)?;
        let sorted_partition_keys: Vec<SortColumn> = partition_keys
            .iter()
            .map(|k| {
                Ok(SortColumn {
                    values: take(k.values.as_ref(), &indices, None)?,
                    options: k.options,
                })
            })
            .collect::<Result<_, arrow::error::ArrowError>>()?;
        let ranges = evaluate_partition_ranges(rows, &sorted_partition_keys)?;
        let parts = ranges
            .into_iter()
            .map(|r| expr.evaluate(&sorted.slice(r.start, r.end - r.start)))
            .collect::<DFResult<Vec<_>>>()?;
        let refs: Vec<&dyn arrow::array::Array> = parts.iter().map(|a| a.as_ref()).collect();
        let in_sorted_order = concat(&refs)?;
        // Scatter back: row indices[i] of the input got result i.
        let mut inverse = vec![0u32; rows];
        for (i, original) in indices.values().iter().enumerate() {
            inverse[*original as usize] = i as u32;
        }
        Ok(take(
            in_sorted_order.as_ref(),
            &UInt32Array::from(inverse),
            None,
        )?)
    }
}

impl UnaryOperator for WindowOperator {
    fn on_batch(
        &mut self,
        _epoch: crate::Epoch,
        batch: RecordBatch,
        _out: &mut dyn Emit,
    ) -> OpResult {
        self.reservation.try_grow(batch.get_array_memory_size())?;
        self.buffer.push(batch);
        Ok(())
    }

    fn on_end(&mut self, out: &mut dyn Emit) -> OpResult {
        let batch = concat_batches(&self.input_schema, &self.buffer)?;
        self.buffer.clear();
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let mut columns = batch.columns().to_vec();
        for expr in &self.exprs {
            columns.push(Self::evaluate(expr, &batch)?);
        }
        let result = align_batch(&self.schema, columns)?;
        self.reservation.free();
        slice_batches(result, self.batch_size, out);
        Ok(())
    }
}
