//! The contract between the runtime and the connectors that take rows: a
//! [`Connector`](crate::source::Connector) that accepts writes opens a
//! [`SinkWriter`] for a [`SinkSpec`], the dataflow's sink operator
//! ([`crate::operators::sink`]) hands it the query's rows, and commits it
//! when the input ends without an error.
//!
//! A writer is used from one worker thread. `INSERT ... SELECT`,
//! `CREATE TABLE ... AS` and `COPY ... FROM STDIN` all write this way, so
//! they run in the memory of a batch at a time, whatever their size.
//!
//! # Errors
//!
//! [`QueryError`]s, shown to the user as they are.
//!
//! # Cancellation
//!
//! A writer that is dropped without [`SinkWriter::commit`] (the query
//! failed or was canceled) must leave the target as it was.

use std::collections::BTreeMap;
use std::fmt::Debug;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use serde::{Deserialize, Serialize};

use crate::error::QueryError;

/// What a sink writes to: the table, its connector and options, and the
/// columns it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SinkSpec {
    /// Connector name (`managed`, ...).
    pub connector: String,
    /// Table name, for messages.
    pub table: String,
    /// Options the connector needs to find the table.
    pub options: BTreeMap<String, String>,
    /// The table's columns: the sink casts rows to these types and refuses
    /// NULLs in NOT NULL columns before writing.
    pub schema: Schema,
}

/// Writes one statement's rows; nothing is visible to readers until
/// [`SinkWriter::commit`].
pub trait SinkWriter: Send + Debug {
    /// Takes a batch in the spec's schema.
    ///
    /// # Errors
    ///
    /// A storage failure; the statement then fails and nothing is kept.
    fn write(&mut self, batch: &RecordBatch) -> Result<(), QueryError>;

    /// Makes every written row visible and durable at once; returns the
    /// number of rows.
    ///
    /// # Errors
    ///
    /// A storage failure; nothing is kept.
    fn commit(self: Box<Self>) -> Result<u64, QueryError>;
}
