//! Projection: evaluates one physical expression per output column over each
//! batch. Stateless: each output row comes from the input row at the same
//! position.

use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::datatypes::SchemaRef;
use datafusion_physical_expr::PhysicalExpr;

use super::{Emit, OpResult, UnaryOperator};
use crate::expr::evaluate_all;

/// Evaluates expressions into the output columns.
#[derive(Debug)]
pub struct ProjectOperator {
    /// One expression per output column.
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    /// Output schema.
    schema: SchemaRef,
}

impl ProjectOperator {
    /// Creates the operator.
    pub fn new(exprs: Vec<Arc<dyn PhysicalExpr>>, schema: SchemaRef) -> Self {
        Self { exprs, schema }
    }

    /// Projects one batch.
    pub fn project(&self, batch: &RecordBatch) -> Result<RecordBatch, crate::QueryError> {
        let columns = evaluate_all(&self.exprs, batch)?;
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &options,
        )?)
    }
}

impl UnaryOperator for ProjectOperator {
    fn on_batch(
        &mut self,
        _epoch: crate::Epoch,
        batch: RecordBatch,
        out: &mut dyn Emit,
    ) -> OpResult {
        out.emit(self.project(&batch)?);
        Ok(())
    }
}

/// Evaluates literal rows (`VALUES`) into one batch of `schema`.
pub(crate) fn values_batch(
    ctx: &crate::expr::ExprContext<'_>,
    rows: &[Vec<crate::expr::ExprIr>],
    schema: SchemaRef,
) -> Result<RecordBatch, crate::QueryError> {
    if rows.is_empty() {
        return Ok(RecordBatch::new_empty(schema));
    }
    let one_row = RecordBatch::try_new_with_options(
        Arc::new(arrow::datatypes::Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )?;
    let mut columns: Vec<Vec<arrow::array::ArrayRef>> =
        vec![Vec::with_capacity(rows.len()); schema.fields().len()];
    for row in rows {
        for (i, e) in row.iter().enumerate() {
            let value = ctx.physical(e)?.evaluate(&one_row)?.into_array(1)?;
            let target = schema.field(i).data_type();
            let value = if value.data_type() == target {
                value
            } else {
                arrow::compute::cast(&value, target)?
            };
            columns[i].push(value);
        }
    }
    let columns = columns
        .into_iter()
        .map(|parts| {
            let refs: Vec<&dyn arrow::array::Array> = parts.iter().map(|a| a.as_ref()).collect();
            arrow::compute::concat(&refs)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new_with_options(
        schema,
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows.len())),
    )?)
}
