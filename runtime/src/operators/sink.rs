//! Sink: writes the rows of a statement (`INSERT`, `CREATE TABLE ... AS`,
//! `COPY ... FROM STDIN`) into a table through its connector's
//! [`SinkWriter`], a batch at a time.
//!
//! Its input is gathered on worker 0, which alone opens the writer (on the
//! first batch, or at the end for a statement of no rows). Each batch is
//! given the table's column types (a cast where they differ) and checked
//! against its NOT NULL columns (23502, as in Postgres). When the input
//! ends the writer commits, and the operator emits one row: the number of
//! rows written. State: the open writer, nothing else; a query that fails
//! or is canceled drops it uncommitted, which leaves the table as it was.
//! Input is append-only.

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::{Emit, OpResult, UnaryOperator};
use crate::error::{QueryError, SqlState};
use crate::sink::{SinkSpec, SinkWriter};
use crate::source::Connector;

/// The schema of a sink's output: the number of rows written.
pub fn sink_output_schema() -> Schema {
    Schema::new(vec![Field::new("rows", DataType::Int64, false)])
}

/// Writes its input into a table.
#[derive(Debug)]
pub struct SinkOperator {
    /// What to write to.
    spec: SinkSpec,
    /// The table's columns, as batches must have them.
    table_schema: SchemaRef,
    /// The connector that opens the writer; `None` on workers that write
    /// nothing (all but worker 0).
    connector: Option<Arc<dyn Connector>>,
    /// The writer, once opened.
    writer: Option<Box<dyn SinkWriter>>,
    /// The output schema ([`sink_output_schema`]).
    output: SchemaRef,
}

impl SinkOperator {
    /// A sink writing through `connector`, or one that only passes the end
    /// on (`connector` `None`: a worker that receives no rows).
    pub fn new(spec: SinkSpec, connector: Option<Arc<dyn Connector>>) -> Self {
        let table_schema = Arc::new(spec.schema.clone());
        Self {
            spec,
            table_schema,
            connector,
            writer: None,
            output: Arc::new(sink_output_schema()),
        }
    }

    fn writer(&mut self) -> Result<&mut Box<dyn SinkWriter>, QueryError> {
        if self.writer.is_none() {
            let connector = self.connector.as_ref().ok_or_else(|| {
                QueryError::new(
                    SqlState::Internal,
                    format!(
                        "rows for {} reached a worker that does not write",
                        self.spec.table
                    ),
                )
            })?;
            self.writer = Some(connector.open_sink(&self.spec)?);
        }
        Ok(self.writer.as_mut().expect("opened above"))
    }

    /// The batch with the table's column types and names; NULLs in NOT
    /// NULL columns are refused.
    fn conform(&self, batch: &RecordBatch) -> Result<RecordBatch, QueryError> {
        let fields = self.table_schema.fields();
        if batch.num_columns() != fields.len() {
            return Err(QueryError::new(
                SqlState::Internal,
                format!(
                    "rows for {} have {} columns, the table has {}",
                    self.spec.table,
                    batch.num_columns(),
                    fields.len()
                ),
            ));
        }
        let columns = batch
            .columns()
            .iter()
            .zip(fields)
            .map(|(column, field)| {
                if !field.is_nullable() && column.null_count() > 0 {
                    return Err(QueryError::new(
                        SqlState::NotNullViolation,
                        format!(
                            "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                            field.name(),
                            self.spec.table
                        ),
                    ));
                }
                if column.data_type() == field.data_type() {
                    Ok(Arc::clone(column))
                } else {
                    Ok(arrow::compute::cast(column, field.data_type())?)
                }
            })
            .collect::<Result<Vec<_>, QueryError>>()?;
        Ok(RecordBatch::try_new(
            Arc::clone(&self.table_schema),
            columns,
        )?)
    }
}

impl UnaryOperator for SinkOperator {
    fn on_batch(
        &mut self,
        _epoch: crate::Epoch,
        batch: RecordBatch,
        _out: &mut dyn Emit,
    ) -> OpResult {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let batch = self.conform(&batch)?;
        self.writer()?.write(&batch)
    }

    fn on_end(&mut self, out: &mut dyn Emit) -> OpResult {
        if self.connector.is_none() {
            return Ok(());
        }
        self.writer()?;
        let writer = self.writer.take().expect("opened above");
        let rows = writer.commit()?;
        let rows = i64::try_from(rows).unwrap_or(i64::MAX);
        out.emit(RecordBatch::try_new(
            Arc::clone(&self.output),
            vec![Arc::new(Int64Array::from(vec![rows]))],
        )?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use arrow::array::{AsArray, Int32Array};
    use arrow::datatypes::Int64Type;
    use parking_lot::Mutex;

    use super::*;
    use crate::source::{SourceContext, SourcePoll, SourceReader, SourceSpec};

    /// Committed and written batches of every writer it opened.
    #[derive(Debug, Default)]
    struct Table {
        committed: Mutex<Vec<RecordBatch>>,
        opened: Mutex<usize>,
    }

    #[derive(Debug)]
    struct MemoryConnector(Arc<Table>);

    #[derive(Debug)]
    struct MemoryWriter {
        table: Arc<Table>,
        staged: Vec<RecordBatch>,
    }

    impl SinkWriter for MemoryWriter {
        fn write(&mut self, batch: &RecordBatch) -> Result<(), QueryError> {
            self.staged.push(batch.clone());
            Ok(())
        }

        fn commit(self: Box<Self>) -> Result<u64, QueryError> {
            let rows = self.staged.iter().map(|b| b.num_rows() as u64).sum();
            self.table.committed.lock().extend(self.staged);
            Ok(rows)
        }
    }

    impl Connector for MemoryConnector {
        fn name(&self) -> &'static str {
            "memory"
        }

        fn validate(
            &self,
            _options: &BTreeMap<String, String>,
            _declared: Option<SchemaRef>,
        ) -> Result<SchemaRef, QueryError> {
            unreachable!("not scanned")
        }

        fn open(
            &self,
            _spec: &SourceSpec,
            _ctx: &SourceContext,
        ) -> Result<Box<dyn SourceReader>, QueryError> {
            #[derive(Debug)]
            struct Nothing;
            impl SourceReader for Nothing {
                fn poll_next(&mut self) -> Result<SourcePoll, QueryError> {
                    Ok(SourcePoll::Finished)
                }
            }
            Ok(Box::new(Nothing))
        }

        fn open_sink(&self, _spec: &SinkSpec) -> Result<Box<dyn SinkWriter>, QueryError> {
            *self.0.opened.lock() += 1;
            Ok(Box::new(MemoryWriter {
                table: Arc::clone(&self.0),
                staged: Vec::new(),
            }))
        }
    }

    fn spec() -> SinkSpec {
        SinkSpec {
            connector: "memory".into(),
            table: "t".into(),
            options: BTreeMap::new(),
            schema: Schema::new(vec![
                Field::new("id", DataType::Int64, false),
                Field::new("v", DataType::Int64, true),
            ]),
        }
    }

    fn input(ids: Vec<Option<i32>>, v: Vec<Option<i32>>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("b", DataType::Int32, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(ids)),
                Arc::new(Int32Array::from(v)),
            ],
        )
        .unwrap()
    }

    #[test]
    fn writes_with_the_table_types_and_commits_at_the_end() {
        let table = Arc::new(Table::default());
        let mut op = SinkOperator::new(spec(), Some(Arc::new(MemoryConnector(Arc::clone(&table)))));
        let mut out = Vec::new();
        op.on_batch(
            0,
            input(vec![Some(1), Some(2)], vec![None, Some(5)]),
            &mut out,
        )
        .unwrap();
        op.on_batch(0, input(vec![Some(3)], vec![Some(6)]), &mut out)
            .unwrap();
        assert!(
            table.committed.lock().is_empty(),
            "nothing is visible before the end"
        );
        op.on_end(&mut out).unwrap();
        let committed = table.committed.lock();
        assert_eq!(committed.len(), 2);
        assert_eq!(committed[0].schema().field(0).name(), "id");
        assert_eq!(committed[0].column(0).data_type(), &DataType::Int64);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].column(0).as_primitive::<Int64Type>().value(0), 3);
    }

    #[test]
    fn a_null_in_a_not_null_column_is_refused_and_nothing_is_committed() {
        let table = Arc::new(Table::default());
        let mut op = SinkOperator::new(spec(), Some(Arc::new(MemoryConnector(Arc::clone(&table)))));
        let mut out = Vec::new();
        op.on_batch(0, input(vec![Some(1)], vec![Some(1)]), &mut out)
            .unwrap();
        let err = op
            .on_batch(0, input(vec![None], vec![Some(1)]), &mut out)
            .unwrap_err();
        assert_eq!(err.state, SqlState::NotNullViolation);
        assert_eq!(
            err.message,
            "null value in column \"id\" of relation \"t\" violates not-null constraint"
        );
        // The driver stops calling a failed operator; dropping it commits nothing.
        drop(op);
        assert!(table.committed.lock().is_empty());
    }

    #[test]
    fn an_empty_statement_commits_zero_rows_and_other_workers_stay_silent() {
        let table = Arc::new(Table::default());
        let mut op = SinkOperator::new(spec(), Some(Arc::new(MemoryConnector(Arc::clone(&table)))));
        let mut out = Vec::new();
        op.on_end(&mut out).unwrap();
        assert_eq!(out[0].column(0).as_primitive::<Int64Type>().value(0), 0);
        assert_eq!(*table.opened.lock(), 1);
        let mut silent = SinkOperator::new(spec(), None);
        let mut out = Vec::new();
        silent.on_end(&mut out).unwrap();
        assert!(out.is_empty());
    }
}
