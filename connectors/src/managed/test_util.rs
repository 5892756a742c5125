//! Helpers for the `managed` connector's tests.

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use tidewater_runtime::source::{Connector, SourceContext, SourcePoll, SourceSpec};

use crate::managed::{ManagedConnector, ManagedTable};

/// `(id BIGINT NOT NULL, name TEXT)`.
pub(crate) fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]))
}

/// Rows with ids `ids` and names `n<id>`.
pub(crate) fn rows(ids: std::ops::Range<i64>) -> RecordBatch {
    let names: Vec<String> = ids.clone().map(|i| format!("n{i}")).collect();
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(ids)),
            Arc::new(StringArray::from(names)),
        ],
    )
    .unwrap()
}

/// A single-process context for worker `worker` of `workers`.
pub(crate) fn ctx(worker: usize, workers: usize, batch_size: usize) -> SourceContext {
    SourceContext {
        worker_index: worker,
        peers: workers,
        process: 0,
        workers_per_process: workers,
        batch_size,
    }
}

/// A scan of `table` as of now.
pub(crate) fn scan_spec(
    table: &ManagedTable,
    projection: Option<Vec<usize>>,
    limit: Option<usize>,
) -> SourceSpec {
    let options = table.scan_options();
    let schema = ManagedConnector
        .validate(&options, Some(table.schema()))
        .unwrap();
    SourceSpec {
        connector: "managed".into(),
        table: "test.public.m".into(),
        options,
        schema: schema.as_ref().clone(),
        projection,
        limit,
        watermark: None,
        resume: None,
    }
}

/// Reads a scan to the end; checks batch schemas and sizes.
pub(crate) fn read(spec: &SourceSpec, ctx: &SourceContext) -> Vec<RecordBatch> {
    let mut reader = ManagedConnector.open(spec, ctx).unwrap();
    let expected = spec.output_schema().unwrap();
    let mut out = Vec::new();
    loop {
        match reader.poll_next().unwrap() {
            SourcePoll::Batch(b) => {
                assert_eq!(b.schema(), expected);
                assert!(b.num_rows() <= ctx.batch_size);
                out.push(b);
            }
            SourcePoll::Pending => {}
            SourcePoll::Finished => return out,
        }
    }
}

/// The ids in column `column` of `batches`, in order.
pub(crate) fn ids(batches: &[RecordBatch], column: usize) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| {
            b.column(column)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .values()
                .to_vec()
        })
        .collect()
}
