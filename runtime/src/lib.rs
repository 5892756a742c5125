//! Tidewater runtime: executes dataflow plans on a pool of timely-dataflow workers.
//!
//! The runtime owns the contracts between the crates: the serializable
//! [`plan::DataflowPlan`] and its expression codec ([`expr`]), the
//! [`source::Connector`] and [`source::SourceReader`] traits that
//! connectors implement, the Arrow batch
//! container that flows between timely operators ([`chunk`]), and the worker
//! pool ([`pool::Runtime`]) that builds, runs and cancels queries.
//!
//! Time is counted in *epochs* (the timely timestamp, `u64`). A source moves
//! to the next epoch on a short interval; when the frontier passes an epoch
//! every operator has seen all of it. Bounded queries are the special case
//! where every source ends: the frontier becomes empty and the blocking
//! operators (final aggregate, sort, join build) emit their results.

pub mod changelog;
pub mod checkpoint;
pub mod chunk;
pub mod error;
pub mod expr;
pub mod functions;
pub mod input;
pub mod memory;
pub mod operators;
pub mod pgtypes;
pub mod plan;
pub mod pool;
pub mod progress;
mod render;
pub mod rows;
pub mod series;
pub mod settings;
pub mod shuffle;
pub mod sink;
pub mod source;
pub mod state;
pub mod view;
pub mod watermark;

pub use error::{Error, QueryError, Result, SqlState};

/// The timely timestamp of every dataflow: the epoch number.
pub type Epoch = u64;
