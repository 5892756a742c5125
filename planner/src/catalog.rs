//! What the planner needs from the server's catalog: resolving names to
//! tables and views, and the session's name-resolution settings.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

/// A fully qualified object name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QualifiedName {
    /// Database.
    pub database: String,
    /// Schema.
    pub schema: String,
    /// Object name.
    pub name: String,
}

impl QualifiedName {
    /// Creates a name.
    pub fn new(
        database: impl Into<String>,
        schema: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            database: database.into(),
            schema: schema.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.database, self.schema, self.name)
    }
}

/// What a table name refers to.
#[derive(Debug, Clone)]
pub enum TableKind {
    /// Rows read through a connector (managed tables use the `managed`
    /// connector with options pointing at their storage).
    Source {
        /// Connector name.
        connector: String,
        /// Options for the connector.
        options: BTreeMap<String, String>,
    },
    /// A view: planned from its SQL text when referenced.
    View {
        /// The view's query.
        sql: String,
    },
    /// A materialized view: its rows live in the runtime, kept by the
    /// view's job (see `tidewater_runtime::view`).
    Materialized {
        /// The view's id in the runtime (its catalog object id).
        view: u64,
    },
    /// A system table (`pg_catalog`, `information_schema`), materialized
    /// from the catalog when the statement is planned.
    System {
        /// Its rows.
        batch: RecordBatch,
    },
}

/// Field metadata key holding a table column's `DEFAULT` expression, as
/// SQL (`42`, `'x'`, `now()`). `INSERT` and `COPY` evaluate it, once per
/// statement, for the columns they do not name.
pub const DEFAULT_METADATA_KEY: &str = "tidewater.default";

/// Field metadata key marking a table's event-time column (`WATERMARK FOR
/// column AS column - INTERVAL ...`): the watermark's delay behind the
/// largest event time seen, in microseconds.
pub const WATERMARK_METADATA_KEY: &str = "tidewater.watermark";

/// The event-time column of `schema` and its watermark delay, if the table
/// has a `WATERMARK FOR`.
pub fn watermark_of(schema: &arrow::datatypes::Schema) -> Option<(usize, i64)> {
    schema.fields().iter().enumerate().find_map(|(i, f)| {
        f.metadata()
            .get(WATERMARK_METADATA_KEY)
            .and_then(|d| d.parse().ok())
            .map(|delay| (i, delay))
    })
}

/// A table, view or system table, resolved.
#[derive(Debug, Clone)]
pub struct TableEntry {
    /// Its name.
    pub name: QualifiedName,
    /// Its columns.
    pub schema: SchemaRef,
    /// Its kind.
    pub kind: TableKind,
}

/// The catalog as the planner sees it: a consistent snapshot for one
/// statement.
pub trait CatalogView: Send + Sync + fmt::Debug {
    /// Looks up a table or view by its exact qualified name.
    fn table(&self, name: &QualifiedName) -> Option<TableEntry>;

    /// Whether a schema exists in a database.
    fn schema_exists(&self, database: &str, schema: &str) -> bool;

    /// Whether a database exists.
    fn database_exists(&self, database: &str) -> bool;

    /// Functions whose answers depend on this catalog and session for one
    /// statement (`pg_table_is_visible`, `current_setting`, ...). They fold
    /// to constants during optimization; they take precedence over the
    /// shared registry.
    fn statement_functions(&self, _session: &SessionInfo) -> Vec<Arc<datafusion_expr::ScalarUDF>> {
        Vec::new()
    }
}

/// Per-session settings that affect planning.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// Current database.
    pub database: String,
    /// Schemas searched for unqualified names, in order.
    pub search_path: Vec<String>,
    /// Current user.
    pub user: String,
    /// Session time zone (for `now()` and timestamptz display).
    pub timezone: String,
    /// Server version string reported by `version()`.
    pub server_version: String,
    /// The session's settings (name and value), for `current_setting()`
    /// and `pg_settings`.
    pub settings: Vec<(String, String)>,
}

impl SessionInfo {
    /// The schema in which unqualified new objects are created: the first
    /// existing schema of the search path.
    pub fn creation_schema(&self, catalog: &dyn CatalogView) -> Option<String> {
        self.search_path
            .iter()
            .find(|s| catalog.schema_exists(&self.database, s))
            .cloned()
    }
}

/// A session for tests: database `db`, search path `public`, user `u`,
/// time zone UTC, no settings.
#[cfg(test)]
impl Default for SessionInfo {
    fn default() -> Self {
        Self {
            database: "db".into(),
            search_path: vec!["public".into()],
            user: "u".into(),
            timezone: "UTC".into(),
            server_version: "x".into(),
            settings: vec![],
        }
    }
}

/// Shared handle to a catalog snapshot.
pub type CatalogRef = Arc<dyn CatalogView>;
