//! The `managed` connector: durable storage for tables created without a
//! connector (`CREATE TABLE orders (id BIGINT, ...)`), kept in the server's
//! data directory.
//!
//! A process holds one [`ManagedTable`] per table directory, shared by the
//! server's catalog and the connector's sinks ([`create_table`] at `CREATE
//! TABLE`, [`open_table`] at startup and when a sink writes). `INSERT`,
//! `CREATE TABLE ... AS` and `COPY` write through a `managed` sink
//! ([`Connector::open_sink`], a [`TableWriter`] per statement, options
//! `path`). To scan, the server plans a `managed` source with the options
//! from [`ManagedTable::scan_options`]:
//!
//! | option            | meaning                                                       |
//! |-------------------|---------------------------------------------------------------|
//! | `path`            | the table directory                                           |
//! | `committed_bytes` | the snapshot ([`ManagedTable::snapshot`]) the scan reads up to |
//! | `follow`          | `true`: a continuous query's scan, reading the committed rows, then every later commit, never ending (one reader, worker 0 of process 0) |
//!
//! Users never write these options. The log format is described in the
//! `log` module (`managed/log.rs`): frames in order are the table's changes in order,
//! and each frame's logical byte offset is stable, so a follower reads the
//! table as a changelog in commit order.

mod log;
mod source;
mod table;
#[cfg(test)]
mod test_util;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, Weak};

use arrow::datatypes::SchemaRef;
use parking_lot::Mutex;
use serde::Deserialize;
use tidewater_runtime::QueryError;
use tidewater_runtime::sink::{SinkSpec, SinkWriter};
use tidewater_runtime::source::{Connector, SourceContext, SourceReader, SourceSpec};

pub use self::source::ManagedSourceReader;
pub use self::table::{DEFAULT_SEGMENT_BYTES, ManagedTable, TableWriter};
use crate::error::{Error, Result};
use crate::options::{de, parse_options};
use crate::schema::same_columns;

/// The name of the connector in plans.
pub const CONNECTOR_NAME: &str = "managed";

/// The option holding the table directory.
pub const PATH_OPTION: &str = "path";

/// The option holding the snapshot to read.
pub const COMMITTED_BYTES_OPTION: &str = "committed_bytes";

/// The option that makes a scan follow the log (continuous queries).
pub const FOLLOW_OPTION: &str = "follow";

/// The options of a `managed` scan.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedOptions {
    /// The table directory.
    pub path: String,
    /// Read the log up to this many bytes (default: everything committed
    /// when the reader opens).
    #[serde(default, deserialize_with = "de::u64")]
    pub committed_bytes: Option<u64>,
    /// Follow the log: read what is committed, then every later commit
    /// (continuous queries; `committed_bytes` is then ignored).
    #[serde(default, deserialize_with = "de::bool")]
    pub follow: Option<bool>,
}

impl ManagedOptions {
    /// Parses a scan's options.
    ///
    /// # Errors
    ///
    /// An unknown option, a missing `path`, or an invalid `committed_bytes`.
    pub fn parse(options: &BTreeMap<String, String>) -> Result<Self> {
        parse_options(CONNECTOR_NAME, options)
    }
}

/// The managed tables open in this process, by directory: a directory has
/// one writer per process, whoever asks for it.
fn open_tables() -> &'static Mutex<HashMap<PathBuf, Weak<ManagedTable>>> {
    static TABLES: OnceLock<Mutex<HashMap<PathBuf, Weak<ManagedTable>>>> = OnceLock::new();
    TABLES.get_or_init(Mutex::default)
}

/// Creates the storage of a new table in `dir` ([`ManagedTable::create`])
/// and keeps it as the process's table for `dir`.
///
/// # Errors
///
/// As [`ManagedTable::create`].
pub fn create_table(dir: &Path, schema: SchemaRef) -> Result<Arc<ManagedTable>> {
    let mut tables = open_tables().lock();
    let table = Arc::new(ManagedTable::create(dir, schema)?);
    tables.retain(|_, t| t.strong_count() > 0);
    tables.insert(dir.to_path_buf(), Arc::downgrade(&table));
    Ok(table)
}

/// The process's table for `dir`, opened ([`ManagedTable::open`]) if no one
/// holds it.
///
/// # Errors
///
/// As [`ManagedTable::open`].
pub fn open_table(dir: &Path) -> Result<Arc<ManagedTable>> {
    let mut tables = open_tables().lock();
    if let Some(table) = tables.get(dir).and_then(Weak::upgrade) {
        return Ok(table);
    }
    let table = Arc::new(ManagedTable::open(dir)?);
    tables.retain(|_, t| t.strong_count() > 0);
    tables.insert(dir.to_path_buf(), Arc::downgrade(&table));
    Ok(table)
}

/// The options of a `managed` sink: the table directory.
pub fn sink_options(table: &ManagedTable) -> BTreeMap<String, String> {
    BTreeMap::from([(PATH_OPTION.to_string(), table.dir().display().to_string())])
}

/// A statement writing into a managed table through a sink.
#[derive(Debug)]
struct ManagedSinkWriter(TableWriter);

impl SinkWriter for ManagedSinkWriter {
    fn write(&mut self, batch: &arrow::array::RecordBatch) -> Result<(), QueryError> {
        self.0.write(batch).map_err(Error::into_query_error)
    }

    fn commit(self: Box<Self>) -> Result<u64, QueryError> {
        self.0.commit().map_err(Error::into_query_error)
    }
}

/// The `managed` connector.
#[derive(Debug, Default, Clone, Copy)]
pub struct ManagedConnector;

impl ManagedConnector {
    /// Checks the options and returns the stored schema (which must match
    /// the declared one, if given).
    ///
    /// # Errors
    ///
    /// Invalid options, a directory without a table, or a declared schema
    /// that differs from the stored one.
    pub fn try_validate(
        &self,
        options: &BTreeMap<String, String>,
        declared: Option<SchemaRef>,
    ) -> Result<SchemaRef> {
        let options = ManagedOptions::parse(options)?;
        let stored = log::read_schema(Path::new(&options.path))?;
        if let Some(declared) = declared
            && !same_columns(&declared, &stored)
        {
            return Err(Error::Corrupt {
                path: options.path,
                message: "the catalog's columns differ from the stored schema".into(),
            });
        }
        Ok(stored)
    }

    /// Opens this worker's share of the scan.
    ///
    /// # Errors
    ///
    /// Invalid options, or unreadable table files.
    pub fn try_open(&self, spec: &SourceSpec, ctx: &SourceContext) -> Result<ManagedSourceReader> {
        let options = ManagedOptions::parse(&spec.options)?;
        let dir = Path::new(&options.path);
        let output_schema = spec
            .output_schema()
            .map_err(|e| Error::arrow(format!("projecting the columns of {}", spec.table), e))?;
        if options.follow == Some(true) {
            return ManagedSourceReader::try_follow(
                dir,
                output_schema,
                spec.projection.clone(),
                ctx,
                spec.resume.as_ref(),
            );
        }
        ManagedSourceReader::try_new(
            dir,
            options.committed_bytes,
            output_schema,
            spec.projection.clone(),
            ctx,
            spec.limit,
        )
    }
}

impl Connector for ManagedConnector {
    fn name(&self) -> &'static str {
        CONNECTOR_NAME
    }

    /// A follower resumes at its log position.
    fn can_resume(&self) -> bool {
        true
    }

    fn validate(
        &self,
        options: &BTreeMap<String, String>,
        declared: Option<SchemaRef>,
    ) -> Result<SchemaRef, QueryError> {
        self.try_validate(options, declared)
            .map_err(Error::into_query_error)
    }

    fn open(
        &self,
        spec: &SourceSpec,
        ctx: &SourceContext,
    ) -> Result<Box<dyn SourceReader>, QueryError> {
        match self.try_open(spec, ctx) {
            Ok(reader) => Ok(Box::new(reader)),
            Err(e) => Err(e.into_query_error()),
        }
    }

    fn open_sink(&self, spec: &SinkSpec) -> Result<Box<dyn SinkWriter>, QueryError> {
        let options = ManagedOptions::parse(&spec.options).map_err(Error::into_query_error)?;
        let writer = open_table(Path::new(&options.path))
            .and_then(|table| table.writer())
            .map_err(Error::into_query_error)?;
        Ok(Box::new(ManagedSinkWriter(writer)))
    }
}
