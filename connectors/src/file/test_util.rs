//! Helpers for the `file` connector's tests: options, specs, contexts, and
//! driving readers to the end.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::util::pretty::pretty_format_batches;
use tidewater_runtime::QueryError;
use tidewater_runtime::source::{Connector, SourceContext, SourcePoll, SourceReader, SourceSpec};

use crate::file::FileConnector;

/// Options from pairs.
pub(crate) fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Writes `contents` to `dir/name` and returns the path as a string.
pub(crate) fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.display().to_string()
}

/// Worker `worker` of `peers` in one process.
pub(crate) fn ctx(worker: usize, peers: usize, batch_size: usize) -> SourceContext {
    SourceContext {
        worker_index: worker,
        peers,
        process: 0,
        workers_per_process: peers,
        batch_size,
    }
}

/// A scan of table `t` with `options` and `schema`.
pub(crate) fn spec(
    options: BTreeMap<String, String>,
    schema: &SchemaRef,
    projection: Option<Vec<usize>>,
    limit: Option<usize>,
) -> SourceSpec {
    SourceSpec {
        connector: "file".into(),
        table: "test.public.t".into(),
        options,
        schema: schema.as_ref().clone(),
        projection,
        limit,
        watermark: None,
        resume: None,
    }
}

/// Polls `reader` to the end; checks every batch has the spec's schema.
pub(crate) fn drain(
    mut reader: Box<dyn SourceReader>,
    spec: &SourceSpec,
) -> Result<Vec<RecordBatch>, QueryError> {
    let expected = spec.output_schema().unwrap();
    let mut out = Vec::new();
    loop {
        match reader.poll_next()? {
            SourcePoll::Batch(b) => {
                assert_eq!(
                    b.schema(),
                    expected,
                    "batch schema differs from the output schema"
                );
                out.push(b);
            }
            SourcePoll::Pending => {}
            SourcePoll::Finished => return Ok(out),
        }
    }
}

/// Validates `options` and reads the whole table with one worker.
pub(crate) fn scan(
    options: &[(&str, &str)],
    declared: Option<SchemaRef>,
) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
    let options = opts(options);
    let schema = FileConnector.validate(&options, declared)?;
    let spec = spec(options, &schema, None, None);
    let reader = FileConnector.open(&spec, &ctx(0, 1, 1024))?;
    Ok((Arc::clone(&schema), drain(reader, &spec)?))
}

/// Batches as an aligned table, for comparisons.
pub(crate) fn pretty(batches: &[RecordBatch]) -> String {
    pretty_format_batches(batches).unwrap().to_string()
}

/// The rows of `batches`, one string per row, sorted.
pub(crate) fn sorted_rows(batches: &[RecordBatch]) -> Vec<String> {
    let text = pretty(batches);
    let mut rows: Vec<String> = text
        .lines()
        .skip(3)
        .filter(|l| l.starts_with('|'))
        .map(str::to_string)
        .collect();
    rows.sort();
    rows
}

/// Total rows.
pub(crate) fn count(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}
