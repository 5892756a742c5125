//! The contract between the runtime and connectors: a [`Connector`] checks a
//! table's options and opens a [`SourceReader`] for each worker's share.
//!
//! A reader is polled from its worker's thread; it must not block for long
//! (return [`SourcePoll::Pending`] when nothing is ready) and must return
//! [`SourcePoll::Finished`] once a bounded input is exhausted.
//!
//! # Errors
//!
//! Errors are [`QueryError`]s: they are shown to the user as they are, so
//! they name the file, line or option at fault.
//!
//! # Cancellation
//!
//! A canceled query stops polling its readers and drops them.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::error::{QueryError, SqlState};
use crate::sink::{SinkSpec, SinkWriter};

/// What a scan asks of a connector: the table, its options, and which
/// columns to read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceSpec {
    /// Connector name (`file`, `managed`, ...).
    pub connector: String,
    /// Qualified table name, for messages.
    pub table: String,
    /// The table's `WITH (...)` options, plus any the server adds.
    pub options: BTreeMap<String, String>,
    /// Full schema of the table.
    pub schema: Schema,
    /// Indices of the columns to produce, in order; `None` for all.
    pub projection: Option<Vec<usize>>,
    /// Upper bound on the rows needed, when the plan has a limit.
    pub limit: Option<usize>,
    /// The table's `WATERMARK FOR`, if it has one; the projection then
    /// includes the event-time column.
    #[serde(default)]
    pub watermark: Option<crate::watermark::WatermarkSpec>,
    /// Where to resume reading: the offsets a reader reported
    /// ([`SourceReader::offsets`]), merged over every worker (`None`: from
    /// the start). Each reader takes the offsets of the splits it owns.
    #[serde(default)]
    pub resume: Option<SplitOffsets>,
}

/// Where a source stands: for each split, the position of the next row to
/// read (its meaning is the connector's: a row index, a log position).
/// Offsets are kept per split, not per worker, so that a split's position
/// follows it to whichever worker reads it at another worker count.
pub type SplitOffsets = BTreeMap<u64, u64>;

impl SourceSpec {
    /// The schema of the batches the reader must produce.
    pub fn output_schema(&self) -> arrow::error::Result<SchemaRef> {
        match &self.projection {
            Some(p) => Ok(Arc::new(self.schema.project(p)?)),
            None => Ok(Arc::new(self.schema.clone())),
        }
    }
}

/// Where a reader runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceContext {
    /// Global index of this worker.
    pub worker_index: usize,
    /// Number of workers in the cluster.
    pub peers: usize,
    /// Index of this process.
    pub process: usize,
    /// Workers per process.
    pub workers_per_process: usize,
    /// Preferred rows per batch.
    pub batch_size: usize,
}

impl SourceContext {
    /// The share of `n` parts (files, row groups, segments) this worker reads:
    /// part `i` goes to worker `i % peers`.
    pub fn owns_part(&self, part: usize) -> bool {
        part % self.peers == self.worker_index
    }

    /// Whether this worker reads split `split` of `splits`: splits are
    /// assigned in contiguous ranges, like key groups, so the assignment
    /// depends only on the split and the worker count.
    pub fn owns_split(&self, split: u64, splits: u64) -> bool {
        splits > 0 && ((split * self.peers as u64) / splits) as usize == self.worker_index
    }

    /// Like [`Self::owns_part`], but for data only process 0 can reach (its
    /// data directory): parts are spread over process 0's workers.
    pub fn owns_local_part(&self, part: usize) -> bool {
        self.process == 0 && part % self.workers_per_process == self.worker_index
    }
}

/// The result of polling a reader.
#[derive(Debug)]
pub enum SourcePoll {
    /// A batch of rows in the spec's output schema.
    Batch(RecordBatch),
    /// Nothing ready now; poll again later.
    Pending,
    /// The input has ended.
    Finished,
}

/// A pull-based reader of one worker's share of a table.
pub trait SourceReader: Send + Debug {
    /// Produces the next batch, if any.
    fn poll_next(&mut self) -> Result<SourcePoll, QueryError>;

    /// The offset of every split this reader owns, after the last batch
    /// it returned; a reader opened with these offsets (in
    /// [`SourceSpec::resume`]) continues with exactly the rows this one
    /// would have produced next. Readers of inputs that cannot resume
    /// report none.
    fn offsets(&self) -> SplitOffsets {
        SplitOffsets::new()
    }

    /// Whether the reader follows a log whose end it catches up with: its
    /// `Pending` then means "everything committed so far is read" (see
    /// [`crate::progress`]). Other readers (generators) have emitted what
    /// they owe whenever their epoch closes.
    fn follows_log(&self) -> bool {
        false
    }
}

/// A kind of table: checks options and opens readers.
pub trait Connector: Send + Sync + Debug {
    /// The name used in `WITH (connector = '...')`.
    fn name(&self) -> &'static str;

    /// Checks `options` (an unknown option is an error naming it) and returns
    /// the table's schema: `declared` when the user gave columns, otherwise
    /// the inferred one.
    fn validate(
        &self,
        options: &BTreeMap<String, String>,
        declared: Option<SchemaRef>,
    ) -> Result<SchemaRef, QueryError>;

    /// Whether the readers of a continuous scan report offsets and resume
    /// from them ([`SourceReader::offsets`], [`SourceSpec::resume`]): only
    /// jobs whose every source can resume are checkpointed.
    fn can_resume(&self) -> bool {
        false
    }

    /// Opens the reader for this worker's share.
    fn open(
        &self,
        spec: &SourceSpec,
        ctx: &SourceContext,
    ) -> Result<Box<dyn SourceReader>, QueryError>;

    /// Opens a writer for one statement's rows (see [`crate::sink`]).
    /// Connectors whose tables take no writes keep this default, which
    /// refuses.
    fn open_sink(&self, spec: &SinkSpec) -> Result<Box<dyn SinkWriter>, QueryError> {
        Err(QueryError::new(
            SqlState::FeatureNotSupported,
            format!(
                "cannot write to {}: tables of connector '{}' take no writes",
                spec.table,
                self.name()
            ),
        ))
    }
}

/// The connectors known to this process, by name.
#[derive(Debug, Default, Clone)]
pub struct ConnectorRegistry {
    connectors: HashMap<String, Arc<dyn Connector>>,
}

impl ConnectorRegistry {
    /// Registers a connector.
    pub fn register(&mut self, connector: Arc<dyn Connector>) {
        self.connectors
            .insert(connector.name().to_string(), connector);
    }

    /// Looks up a connector by name.
    pub fn get(&self, name: &str) -> Result<Arc<dyn Connector>, QueryError> {
        self.connectors.get(name).cloned().ok_or_else(|| {
            let mut known: Vec<_> = self.connectors.keys().cloned().collect();
            known.sort();
            QueryError::new(
                SqlState::InvalidParameterValue,
                format!(
                    "unknown connector '{name}' (known connectors: {})",
                    known.join(", ")
                ),
            )
        })
    }

    /// Names of the registered connectors.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<_> = self.connectors.keys().cloned().collect();
        names.sort();
        names
    }
}
