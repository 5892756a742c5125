//! Prepared statements and portals, owned by the session so that every
//! protocol (pg wire's extended protocol, Flight SQL's prepared statements)
//! shares them.
//!
//! A [`PreparedStatement`] is parsed and described once. It keeps the plan
//! of its query for as long as the catalog and the session's settings are
//! those it was planned with, so executing it again only binds parameters,
//! optimizes and lowers; a query without parameters (and without `now()`)
//! keeps its dataflow plan too, and runs again without any planning. A
//! [`Portal`] is a statement bound to parameter values; once executed it
//! holds the rows being read, so that a client can read them a few at a
//! time (an Execute with a row limit suspends the portal, the next one
//! resumes it).

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use datafusion_common::ScalarValue;
use parking_lot::Mutex;
use sqlparser::ast::Statement;
use tidewater_planner::statement::LoweredQuery;
use tidewater_planner::{PreparedQuery, QualifiedName};

use super::{RowStream, StatementDescription};
use crate::catalog::CatalogState;

/// How a client wants a result column's values (pg wire's format codes;
/// Arrow protocols ignore it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFormat {
    /// Text.
    Text,
    /// Binary.
    Binary,
}

/// A query planned for a prepared statement, kept while it stays valid.
#[derive(Debug, Clone)]
pub(super) enum CachedPlan {
    /// A query that returns rows.
    Query(PreparedQuery),
    /// An `INSERT` into `table`.
    Insert {
        /// The target table.
        table: QualifiedName,
        /// The rows.
        query: PreparedQuery,
    },
}

/// A plan with what it depends on.
#[derive(Debug)]
pub(super) struct Cached {
    /// The catalog it was planned against (the same `Arc` while unchanged).
    pub(super) catalog: Arc<CatalogState>,
    /// The settings generation it was planned with.
    pub(super) settings: u64,
    /// The plan.
    pub(super) plan: CachedPlan,
    /// Its dataflow plan, once lowered, when it may run again unchanged
    /// ([`LoweredQuery::reusable`]: no parameters, no `now()`).
    pub(super) lowered: Option<Arc<LoweredQuery>>,
}

impl Cached {
    /// Whether it still holds for a catalog in `state` and settings of
    /// `generation`.
    pub(super) fn holds_for(&self, state: &Arc<CatalogState>, generation: u64) -> bool {
        Arc::ptr_eq(&self.catalog, state) && self.settings == generation
    }
}

/// A parsed and described statement.
#[derive(Debug)]
pub struct PreparedStatement {
    /// The statement; `None` for an empty query string.
    pub statement: Option<Statement>,
    /// The Postgres type OIDs the client declared for the parameters (0:
    /// unspecified), as pg wire's Parse gives them.
    pub declared_oids: Vec<u32>,
    /// The parameter types the client declared (`None`: to be inferred).
    pub declared: Vec<Option<DataType>>,
    /// Parameter and result types.
    pub description: Option<StatementDescription>,
    /// The plan of its query, while valid.
    pub(super) cached: Mutex<Option<Cached>>,
}

impl PreparedStatement {
    /// The type each parameter is converted to: the described type, else
    /// the declared one, else text.
    pub fn param_types(&self) -> Vec<DataType> {
        let described = self.description.as_ref().map_or(&[][..], |d| &d.params[..]);
        let n = described.len().max(self.declared.len());
        (0..n)
            .map(|i| match described.get(i) {
                Some(t) => t.clone(),
                None => self
                    .declared
                    .get(i)
                    .cloned()
                    .flatten()
                    .unwrap_or(DataType::Utf8),
            })
            .collect()
    }

    /// The result columns, for statements that return rows.
    pub fn columns(&self) -> Option<&SchemaRef> {
        self.description.as_ref().and_then(|d| d.columns.as_ref())
    }
}

/// Where a portal is in its life.
#[derive(Debug)]
pub(super) enum PortalState {
    /// Bound, not yet executed.
    Ready,
    /// Returning rows; `pending` is the rest of a batch not read yet.
    Running {
        /// The rows.
        stream: RowStream,
        /// A batch being read and the next row of it.
        pending: Option<(RecordBatch, usize)>,
    },
    /// Returned all its rows.
    Exhausted,
    /// A command that completed, or a portal that failed.
    Done,
}

/// A bound statement.
#[derive(Debug)]
pub struct Portal {
    /// The statement.
    pub statement: Arc<PreparedStatement>,
    /// Parameter values.
    pub params: Vec<ScalarValue>,
    /// Format of each result column.
    pub formats: Vec<ResultFormat>,
    /// Progress.
    pub(super) state: PortalState,
}
