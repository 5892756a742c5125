//! Tidewater connectors: the sources (and, later, sinks) behind the
//! runtime's [`Connector`](tidewater_runtime::source::Connector) trait.
//!
//! One folder per connector, each with a typed options struct:
//!
//! - [`datagen`]: generated rows, unbounded or counted, deterministic by seed
//!   (`WITH (connector = 'datagen', rows_per_second = ..., 'fields.<col>.kind' = ...)`).
//! - [`nexmark`]: the person, auction and bid streams of the Nexmark benchmark.
//! - [`file`](mod@file): bounded tables over CSV, JSON and Parquet files
//!   (`WITH (connector = 'file', path = ..., format = ...)`).
//! - [`managed`]: durable storage for tables created without a connector,
//!   kept in the server's data directory ([`managed::ManagedTable`]).
//!
//! [`registry`] lists them all for the runtime.

pub mod datagen;
pub mod error;
pub mod file;
pub mod generator;
pub mod managed;
pub mod metrics;
pub mod nexmark;
pub mod options;
pub mod schema;

use std::sync::Arc;

use tidewater_runtime::source::ConnectorRegistry;

pub use crate::datagen::DatagenConnector;
pub use crate::error::{Error, Result};
pub use crate::file::{FileConnector, FileOptions};
pub use crate::managed::{ManagedConnector, ManagedTable};
pub use crate::nexmark::NexmarkConnector;

/// A registry of every connector of this crate.
pub fn registry() -> ConnectorRegistry {
    let mut registry = ConnectorRegistry::default();
    registry.register(Arc::new(DatagenConnector));
    registry.register(Arc::new(FileConnector));
    registry.register(Arc::new(ManagedConnector));
    registry.register(Arc::new(NexmarkConnector));
    registry
}

#[cfg(test)]
mod tests {
    #[test]
    fn registry_lists_every_connector() {
        assert_eq!(
            super::registry().names(),
            vec!["datagen", "file", "managed", "nexmark"]
        );
    }
}
