//! The protocol-independent session: every front end (pg wire, Flight SQL,
//! HTTP) turns its messages into calls here and its results back into its
//! wire format.
//!
//! A session parses statements ([`Session::parse`]), describes them
//! (parameter and result types, for the extended protocol), and executes
//! them with parameter values ([`Session::execute`]), producing an
//! [`ExecResult`]: rows streamed from the runtime, a command tag, or a
//! `COPY FROM STDIN` in progress.
//!
//! Transactions: every statement commits on its own when it completes.
//! `BEGIN` ... `COMMIT` are accepted so that clients that wrap work in them
//! run, but they group nothing: `ROLLBACK` cannot undo a statement that
//! completed, and says so in a warning. As in Postgres, an error inside a
//! `BEGIN` block makes later statements fail until `ROLLBACK`/`COMMIT`.
//! Savepoints (`SAVEPOINT`, `RELEASE`, `ROLLBACK TO SAVEPOINT`) are kept
//! by name as Postgres keeps them, so that their errors are Postgres's
//! (25P01 outside a block, 3B001 for an unknown name), and `ROLLBACK TO`
//! makes a failed block usable again; like `ROLLBACK`, it undoes nothing.

pub mod copy;
mod cursor;
pub mod portal;
pub mod settings;
mod views;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion_common::ScalarValue;
use parking_lot::Mutex;
use sqlparser::ast::{Set, Statement};
use tidewater_planner::origin::column_origins;
use tidewater_planner::statement::{
    CopyOptions, CreateTablePlan, DropPlan, DropTarget, LoweredQuery, explain_text,
};
use tidewater_planner::{Planned, Planner, PreparedQuery, QualifiedName, SessionInfo};
use tidewater_runtime::expr::SchemaIr;
use tidewater_runtime::plan::{DataflowPlan, NodeKind, PlanNode, QueryConfig};
use tidewater_runtime::pool::{Placement, QueryCanceller, QueryEvent, QueryHandle, Runtime};
use tidewater_runtime::sink::SinkSpec;

use crate::catalog::{Catalog, CatalogSnapshot, RelationClass, RelationKind};
use crate::error::{SqlError, SqlResult};
use copy::CopyIn;
use portal::{Cached, CachedPlan, Portal, PortalState, PreparedStatement, ResultFormat};
use settings::{QueryMode, Settings};

/// What every session of a server shares.
#[derive(Debug)]
pub struct ServerState {
    /// The catalog.
    pub catalog: Arc<Catalog>,
    /// The worker pool.
    pub runtime: Arc<Runtime>,
    /// Default per-worker query memory, in MiB.
    pub query_memory_limit_mb: usize,
    /// The jobs of materialized views.
    pub jobs: Arc<crate::jobs::Jobs>,
    /// Where the jobs' checkpoints are written.
    pub checkpoints: Arc<crate::checkpoint::CheckpointStore>,
}

/// Transaction block state, as reported in ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionStatus {
    /// Not in a block.
    Idle,
    /// Inside `BEGIN` ... `COMMIT`.
    InBlock,
    /// Inside a block after an error.
    Failed,
}

/// Input (in estimated bytes read from tables) up to which `query_mode =
/// auto` runs a query on one worker. One worker reads this in a few
/// milliseconds; below it, coordinating the pool's workers costs more
/// than their parallelism saves, and local queries of many sessions run
/// side by side.
const LOCAL_QUERY_MAX_BYTES: f64 = (4 << 20) as f64;

/// Field metadata of a result column that shows a table's column
/// unchanged: the table's OID (decimal), as Postgres reports it in
/// `RowDescription`. Set on [`StatementDescription::columns`] and
/// [`RowStream::schema`].
pub const TABLE_OID_KEY: &str = "tidewater.table_oid";
/// Field metadata next to [`TABLE_OID_KEY`]: the column's number in the
/// table (`attnum`, from 1).
pub const COLUMN_NUMBER_KEY: &str = "tidewater.column_number";

/// Parameter and result types of a statement.
#[derive(Debug, Clone)]
pub struct StatementDescription {
    /// Parameter types (`$1` first); `Utf8` where unknown.
    pub params: Vec<DataType>,
    /// Result columns, for statements that return rows.
    pub columns: Option<SchemaRef>,
}

/// Rows of a result, in order.
#[derive(Debug)]
pub struct RowStream {
    /// Result columns (names and types the client sees).
    pub schema: SchemaRef,
    source: RowSource,
    cancel_slot: Option<Arc<Mutex<Option<QueryCanceller>>>>,
    /// A subscription stays in `SHOW JOBS` while its rows are read.
    _subscription: Option<crate::jobs::SubscriptionGuard>,
}

#[derive(Debug)]
enum RowSource {
    Query(QueryHandle),
    Batches(VecDeque<RecordBatch>),
    Done,
}

impl RowStream {
    fn from_batches(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        Self {
            schema,
            source: RowSource::Batches(batches.into()),
            cancel_slot: None,
            _subscription: None,
        }
    }

    /// The next batch; `None` at the end. After an error, the stream ends.
    pub async fn next(&mut self) -> Option<SqlResult<RecordBatch>> {
        loop {
            let item = match &mut self.source {
                RowSource::Done => return None,
                RowSource::Batches(b) => return b.pop_front().map(Ok),
                RowSource::Query(handle) => handle.next().await,
            };
            match item {
                QueryEvent::Batch(b) if b.num_rows() == 0 => continue,
                QueryEvent::Batch(b) => return Some(Ok(b)),
                QueryEvent::Done => {
                    self.finish();
                    return None;
                }
                QueryEvent::Error(e) => {
                    self.finish();
                    return Some(Err(SqlError::from_query(e)));
                }
            }
        }
    }

    fn finish(&mut self) {
        self.source = RowSource::Done;
        if let Some(slot) = self.cancel_slot.take() {
            slot.lock().take();
        }
    }
}

impl Drop for RowStream {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The outcome of executing a statement.
#[derive(Debug)]
pub enum ExecResult {
    /// Rows.
    Rows(RowStream),
    /// A command completed; the tag (`CREATE TABLE`, `INSERT 0 3`, ...).
    Command(String),
    /// `COPY ... FROM STDIN`: the client now sends data.
    CopyIn(Box<CopyIn>),
    /// `COPY ... TO STDOUT`: these rows, sent as COPY data.
    CopyOut(RowStream, Box<CopyOptions>),
    /// An empty query.
    Empty,
}

/// A handle that cancels whatever a session is running (for the pg
/// CancelRequest).
#[derive(Debug, Clone, Default)]
pub struct CancelHandle(Arc<Mutex<Option<QueryCanceller>>>);

impl CancelHandle {
    /// Cancels the running query, if any.
    pub fn cancel(&self) {
        if let Some(c) = self.0.lock().as_ref() {
            c.cancel();
        }
    }
}

/// What executing a portal produced.
#[derive(Debug)]
pub enum PortalStep {
    /// Rows: read them with [`Session::portal_batch`].
    Rows,
    /// A command completed; its tag.
    Command(String),
    /// `COPY ... FROM STDIN`: the client now sends data.
    CopyIn(Box<CopyIn>),
    /// `COPY ... TO STDOUT`: these rows, sent as COPY data.
    CopyOut(RowStream, Box<CopyOptions>),
    /// An empty query.
    Empty,
}

/// One client session.
#[derive(Debug)]
pub struct Session {
    state: Arc<ServerState>,
    user: String,
    database: String,
    settings: Settings,
    transaction: TransactionStatus,
    /// The savepoints of the transaction block, outermost first.
    savepoints: Vec<String>,
    cancel: CancelHandle,
    notices: Vec<String>,
    /// Prepared statements by name ("" is the unnamed one).
    statements: HashMap<String, Arc<PreparedStatement>>,
    /// Portals by name ("" is the unnamed one).
    portals: HashMap<String, Portal>,
    /// Open SQL cursors (`DECLARE … CURSOR`).
    cursors: cursor::Cursors,
}

impl Session {
    /// Opens a session for `user` on `database`.
    ///
    /// # Errors
    ///
    /// 3D000 when the database does not exist.
    pub fn new(state: Arc<ServerState>, user: &str, database: &str) -> SqlResult<Self> {
        if !state.catalog.state().databases.contains_key(database) {
            return Err(SqlError::new(
                "3D000",
                format!("database \"{database}\" does not exist"),
            ));
        }
        let settings = Settings::new(user, state.query_memory_limit_mb);
        Ok(Self {
            state,
            user: user.to_string(),
            database: database.to_string(),
            settings,
            transaction: TransactionStatus::Idle,
            savepoints: Vec::new(),
            cancel: CancelHandle::default(),
            notices: Vec::new(),
            statements: HashMap::new(),
            portals: HashMap::new(),
            cursors: cursor::Cursors::new(),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Mutable settings (front ends apply startup options here).
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// The transaction status.
    pub fn transaction_status(&self) -> TransactionStatus {
        self.transaction
    }

    /// The handle that cancels this session's running query.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// Warnings and notices produced by the last statement.
    pub fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    /// The current database.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Parses SQL text into statements.
    ///
    /// # Errors
    ///
    /// 42601 with the parser's message.
    pub fn parse(&self, sql: &str) -> SqlResult<Vec<Statement>> {
        tidewater_planner::parse_sql(sql).map_err(SqlError::from)
    }

    fn session_info(&self) -> SessionInfo {
        // Like Postgres, schemas of the search path that do not exist are skipped.
        let state = self.state.catalog.state();
        let schemas = state.databases.get(&self.database);
        let search_path = self
            .settings
            .search_path(&self.user)
            .into_iter()
            .filter(|s| {
                crate::catalog::SYSTEM_SCHEMAS.contains(&s.as_str())
                    || schemas.is_some_and(|db| db.schemas.contains_key(s))
            })
            .collect();
        SessionInfo {
            database: self.database.clone(),
            search_path,
            settings: self.settings.all(),
            user: self.user.clone(),
            timezone: self.settings.timezone().to_string(),
            server_version: format!(
                "PostgreSQL {} (Tidewater {}) on {}-linux, compiled by rustc",
                settings::SERVER_VERSION,
                env!("CARGO_PKG_VERSION"),
                std::env::consts::ARCH
            ),
        }
    }

    fn snapshot(&self) -> CatalogSnapshot {
        self.state
            .catalog
            .snapshot()
            .with_settings(self.settings.all())
    }

    /// Describes a statement: its parameter types (given ones take
    /// precedence) and result columns, with the plan to keep for its
    /// executions when there is one.
    fn describe_planned(
        &self,
        statement: &Statement,
        param_types: &[Option<DataType>],
    ) -> SqlResult<(StatementDescription, Option<Cached>)> {
        let snapshot = self.snapshot();
        let info = self.session_info();
        let planner = Planner::new(&snapshot, &info);
        let planned = planner.plan(statement, param_types)?;
        let cached = cacheable(&planned).map(|plan| Cached {
            catalog: Arc::clone(&snapshot.state),
            settings: self.settings.generation(),
            plan,
            lowered: None,
        });
        let params = |q: &PreparedQuery| -> Vec<DataType> {
            q.param_types
                .iter()
                .map(|t| t.clone().unwrap_or(DataType::Utf8))
                .collect()
        };
        let description = match planned {
            Planned::Query(q) => StatementDescription {
                params: params(&q),
                columns: Some(result_schema(&snapshot, &q)),
            },
            Planned::Explain { query } => StatementDescription {
                params: params(&query),
                columns: Some(explain_schema()),
            },
            Planned::Insert { query, .. } => StatementDescription {
                params: params(&query),
                columns: None,
            },
            Planned::Session(stmt) => StatementDescription {
                params: Vec::new(),
                columns: self.session_statement_columns(&stmt),
            },
            _ => StatementDescription {
                params: Vec::new(),
                columns: None,
            },
        };
        Ok((description, cached))
    }

    /// Executes one statement with parameter values. `param_types` are
    /// the types the client declared, as given to [`Session::describe`]
    /// (the statement is planned again with them, so that it runs as it
    /// was described).
    ///
    /// # Errors
    ///
    /// Any failure, mapped to a SQLSTATE. Inside a transaction block the
    /// block becomes failed.
    pub async fn execute(
        &mut self,
        statement: &Statement,
        param_types: &[Option<DataType>],
        params: &[ScalarValue],
    ) -> SqlResult<ExecResult> {
        self.refuse_in_failed_block(statement)?;
        let result = self.execute_inner(statement, param_types, params).await;
        if result.is_err() && self.transaction == TransactionStatus::InBlock {
            self.transaction = TransactionStatus::Failed;
        }
        result
    }

    /// In a failed transaction block only `COMMIT` and `ROLLBACK` (to the
    /// start or to a savepoint) run, as in Postgres.
    fn refuse_in_failed_block(&self, statement: &Statement) -> SqlResult<()> {
        if self.transaction == TransactionStatus::Failed
            && !matches!(
                statement,
                Statement::Commit { .. } | Statement::Rollback { .. }
            )
        {
            return Err(SqlError::new(
                "25P02",
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        Ok(())
    }

    /// Checks that a savepoint statement runs in a transaction block and
    /// finds savepoint `name` (the innermost of that name) in it.
    fn savepoint_position(&self, what: &str, name: Option<&str>) -> SqlResult<Option<usize>> {
        if self.transaction == TransactionStatus::Idle {
            return Err(SqlError::new(
                "25P01",
                format!("{what} can only be used in transaction blocks"),
            ));
        }
        let Some(name) = name else { return Ok(None) };
        match self.savepoints.iter().rposition(|s| s == name) {
            Some(at) => Ok(Some(at)),
            None => Err(SqlError::new(
                "3B001",
                format!("savepoint \"{name}\" does not exist"),
            )),
        }
    }

    /// Marks the transaction block failed (a front end saw an error while
    /// streaming rows).
    pub fn mark_failed(&mut self) {
        if self.transaction == TransactionStatus::InBlock {
            self.transaction = TransactionStatus::Failed;
        }
    }

    fn query_config(&self) -> QueryConfig {
        let start = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        let workers = self.state.runtime.peers().max(1);
        QueryConfig {
            batch_size: 8192,
            memory_limit_per_worker: self
                .settings
                .query_memory_limit_bytes()
                .unwrap_or(self.state.query_memory_limit_mb << 20)
                .max(workers),
            start_time_nanos: start,
            continuous: false,
            parallelism: 0,
        }
    }

    fn lower(
        &self,
        planner: &Planner<'_>,
        query: &PreparedQuery,
        params: &[ScalarValue],
    ) -> SqlResult<LoweredQuery> {
        planner
            .bind_and_lower(query, params, self.query_config())
            .map_err(SqlError::from)
    }

    /// Starts `plan` of `query` where `placement` says and returns its rows.
    fn query_rows(
        &self,
        snapshot: &CatalogSnapshot,
        query: &PreparedQuery,
        plan: &DataflowPlan,
        placement: Placement,
    ) -> SqlResult<ExecResult> {
        let handle = self.submit_plan(plan, placement)?;
        let subscription = query.subscribe.then(|| {
            self.state
                .jobs
                .track_subscription(&self.user, handle.progress())
        });
        Ok(ExecResult::Rows(RowStream {
            schema: result_schema(snapshot, query),
            source: RowSource::Query(handle),
            cancel_slot: Some(Arc::clone(&self.cancel.0)),
            _subscription: subscription,
        }))
    }

    /// Where `lowered` runs: by `query_mode`, and in `auto` mode on one
    /// worker when it is known to read at most [`LOCAL_QUERY_MAX_BYTES`]
    /// (in a cluster, only from tables that process 0 holds: files may be
    /// on other hosts).
    fn placement(&self, lowered: &LoweredQuery) -> Placement {
        let small = lowered
            .scanned_bytes
            .is_some_and(|bytes| bytes <= LOCAL_QUERY_MAX_BYTES);
        let held_here = || {
            self.state.runtime.processes() == 1
                || lowered.dataflow.nodes.iter().all(|n| match &n.kind {
                    NodeKind::Scan(spec) => {
                        spec.connector == tidewater_connectors::managed::CONNECTOR_NAME
                    }
                    _ => true,
                })
        };
        match self.settings.query_mode() {
            QueryMode::Local => Placement::Local,
            QueryMode::Distributed => Placement::Distributed,
            QueryMode::Auto if small && held_here() => Placement::Local,
            QueryMode::Auto => Placement::Distributed,
        }
    }

    fn submit_plan(&self, plan: &DataflowPlan, placement: Placement) -> SqlResult<QueryHandle> {
        // A continuous query (a subscription) follows its managed tables;
        // any other reads what is committed when it starts.
        let plan = if plan.config.continuous {
            std::borrow::Cow::Owned(views::with_followed_tables(plan.clone()))
        } else {
            with_table_snapshots(plan)?
        };
        let plan = self.with_view_epochs(plan);
        // A view's parts are on the pool's workers: its readers run there.
        let placement = if views::reads_views(plan.as_ref()) {
            Placement::Distributed
        } else {
            placement
        };
        let handle = self.state.runtime.submit_on(plan.as_ref(), placement)?;
        *self.cancel.0.lock() = Some(handle.canceller());
        Ok(handle)
    }

    /// `plan` with a sink at its root that writes its rows into the managed
    /// table `table` (see `tidewater_runtime::sink`).
    fn sink_plan(&self, table: &QualifiedName, plan: DataflowPlan) -> SqlResult<DataflowPlan> {
        let storage = self.state.catalog.managed_table_by_name(table)?;
        let spec = SinkSpec {
            connector: tidewater_connectors::managed::CONNECTOR_NAME.to_string(),
            table: table.name.clone(),
            options: tidewater_connectors::managed::sink_options(&storage),
            schema: storage.schema().as_ref().clone(),
        };
        Ok(plan.with_sink(spec))
    }

    /// Runs `lowered` into the managed table `table`, a batch at a time,
    /// and returns the number of rows written (all or none).
    async fn write_into(&self, table: &QualifiedName, lowered: LoweredQuery) -> SqlResult<u64> {
        let placement = self.placement(&lowered);
        let plan = self.sink_plan(table, lowered.dataflow)?;
        let handle = self.submit_plan(&plan, placement)?;
        let result = handle.collect().await;
        self.cancel.0.lock().take();
        Ok(sink_rows(&result.map_err(SqlError::from_query)?))
    }

    async fn execute_inner(
        &mut self,
        statement: &Statement,
        param_types: &[Option<DataType>],
        params: &[ScalarValue],
    ) -> SqlResult<ExecResult> {
        let snapshot = self.snapshot();
        let info = self.session_info();
        let planner = Planner::new(&snapshot, &info);
        let planned = planner.plan(statement, param_types)?;
        self.run_planned(&planner, &snapshot, planned, params).await
    }

    async fn run_planned(
        &mut self,
        planner: &Planner<'_>,
        snapshot: &CatalogSnapshot,
        planned: Planned,
        params: &[ScalarValue],
    ) -> SqlResult<ExecResult> {
        match planned {
            Planned::Query(query) => {
                let lowered = self.lower(planner, &query, params)?;
                let placement = self.placement(&lowered);
                self.query_rows(snapshot, &query, &lowered.dataflow, placement)
            }
            Planned::CopyOut { query, options } => {
                let lowered = self.lower(planner, &query, params)?;
                let placement = self.placement(&lowered);
                match self.query_rows(snapshot, &query, &lowered.dataflow, placement)? {
                    ExecResult::Rows(rows) => Ok(ExecResult::CopyOut(rows, Box::new(options))),
                    _ => Err(SqlError::internal("a query did not produce rows")),
                }
            }
            Planned::Explain { query } => {
                let lowered = self.lower(planner, &query, params)?;
                let lines: Vec<String> =
                    explain_text(&lowered).lines().map(str::to_string).collect();
                let schema = explain_schema();
                let batch = RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![Arc::new(StringArray::from(lines))],
                )
                .map_err(|e| SqlError::internal(e.to_string()))?;
                Ok(ExecResult::Rows(RowStream::from_batches(
                    schema,
                    vec![batch],
                )))
            }
            Planned::Insert { table, query } => {
                let lowered = self.lower(planner, &query, params)?;
                let rows = self.write_into(&table.name, lowered).await?;
                Ok(ExecResult::Command(format!("INSERT 0 {rows}")))
            }
            Planned::CreateTable(plan) => self.create_table(planner, plan).await,
            Planned::CreateMaterializedView { view, query } => {
                self.create_materialized_view(planner, view, query).await
            }
            Planned::Session(stmt) if cursor::is_cursor_statement(&stmt) => {
                self.cursor_statement(planner, snapshot, &stmt).await
            }
            Planned::Session(stmt) if tidewater_planner::parse::is_flush(&stmt) => {
                self.state.jobs.flush(self.state.runtime.views()).await?;
                Ok(ExecResult::Command("FLUSH".into()))
            }
            Planned::Session(stmt) if tidewater_planner::parse::is_checkpoint(&stmt) => {
                for (_, name, checkpointer) in self.state.jobs.checkpointers() {
                    checkpointer.checkpoint_now(&name).await?;
                }
                Ok(ExecResult::Command("CHECKPOINT".into()))
            }
            Planned::CreateView(v) => {
                self.state.catalog.create_relation(
                    &v.name,
                    RelationKind::View { sql: v.sql },
                    v.schema,
                    v.if_not_exists,
                    v.or_replace,
                )?;
                Ok(ExecResult::Command("CREATE VIEW".into()))
            }
            Planned::CreateSchema {
                database,
                schema,
                if_not_exists,
            } => {
                if !self
                    .state
                    .catalog
                    .create_schema(&database, &schema, if_not_exists)?
                {
                    self.notices
                        .push(format!("schema \"{schema}\" already exists, skipping"));
                }
                Ok(ExecResult::Command("CREATE SCHEMA".into()))
            }
            Planned::CreateDatabase {
                name,
                if_not_exists,
            } => {
                if !self.state.catalog.create_database(&name, if_not_exists)? {
                    self.notices
                        .push(format!("database \"{name}\" already exists, skipping"));
                }
                Ok(ExecResult::Command("CREATE DATABASE".into()))
            }
            Planned::Drop(plan) => self.drop(plan),
            Planned::AlterParallelism { name, parallelism } => {
                self.alter_parallelism(&name, parallelism).await
            }
            Planned::CreateIndex(plan) => {
                let created = self.state.catalog.create_index(
                    &plan.table,
                    plan.name.as_deref(),
                    &plan.columns,
                    plan.if_not_exists,
                )?;
                if created.is_none() {
                    let name = plan.name.unwrap_or_default();
                    self.notices
                        .push(format!("relation \"{name}\" already exists, skipping"));
                }
                Ok(ExecResult::Command("CREATE INDEX".into()))
            }
            Planned::Copy(plan) => {
                let (id, input) = self.state.runtime.open_input();
                let schema = Arc::clone(&plan.table.schema);
                let source = DataflowPlan {
                    nodes: vec![PlanNode {
                        kind: NodeKind::Input { id },
                        inputs: vec![],
                        schema: SchemaIr::from_arrow(&schema),
                    }],
                    root: 0,
                    config: self.query_config(),
                };
                let sink = self.sink_plan(&plan.table.name, source)?;
                // COPY's input is read by worker 0 of the pool.
                let handle = self.submit_plan(&sink, Placement::Distributed)?;
                Ok(ExecResult::CopyIn(Box::new(CopyIn::new(
                    plan, input, handle,
                )?)))
            }
            Planned::Session(stmt) => self.session_statement(&stmt),
        }
    }

    async fn create_table(
        &mut self,
        planner: &Planner<'_>,
        plan: CreateTablePlan,
    ) -> SqlResult<ExecResult> {
        let catalog = Arc::clone(&self.state.catalog);
        if let Some(query) = &plan.query {
            let schema = strip_metadata(&query.output, false);
            let created = catalog.create_relation(
                &plan.name,
                RelationKind::Managed { dir: String::new() },
                Arc::clone(&schema),
                plan.if_not_exists,
                false,
            )?;
            if !created {
                self.notices.push(format!(
                    "relation \"{}\" already exists, skipping",
                    plan.name.name
                ));
                return Ok(ExecResult::Command("CREATE TABLE AS".into()));
            }
            let written = match self.lower(planner, query, &[]) {
                Ok(lowered) => self.write_into(&plan.name, lowered).await,
                Err(e) => Err(e),
            };
            return match written {
                Ok(rows) => Ok(ExecResult::Command(format!("SELECT {rows}"))),
                Err(e) => {
                    let _ = catalog.drop_relation(&plan.name, RelationClass::Table, true);
                    Err(e)
                }
            };
        }
        let (kind, schema) = match plan.options.get("connector") {
            None if !plan.options.is_empty() => {
                let first = plan.options.keys().next().cloned().unwrap_or_default();
                return Err(SqlError::new(
                    "22023",
                    format!(
                        "unknown option '{first}' for a table without a connector (add connector = '...')"
                    ),
                ));
            }
            None => {
                let schema = plan.columns.clone().ok_or_else(|| {
                    SqlError::syntax(
                        "CREATE TABLE needs a column list unless it names a connector or AS query",
                    )
                })?;
                (RelationKind::Managed { dir: String::new() }, schema)
            }
            Some(name) => {
                let connector = catalog
                    .connectors()
                    .get(name)
                    .map_err(SqlError::from_query)?;
                if name == "managed" {
                    return Err(SqlError::new(
                        "22023",
                        "connector 'managed' is internal; omit the connector option",
                    ));
                }
                let mut options = plan.options.clone();
                options.remove("connector");
                let schema = connector
                    .validate(&options, plan.columns.clone())
                    .map_err(SqlError::from_query)?;
                (
                    RelationKind::Connector {
                        connector: name.clone(),
                        options,
                    },
                    schema,
                )
            }
        };
        if !catalog.create_table_with_keys(
            &plan.name,
            kind,
            strip_metadata(&schema, true),
            plan.if_not_exists,
            &plan.constraints,
        )? {
            self.notices.push(format!(
                "relation \"{}\" already exists, skipping",
                plan.name.name
            ));
        }
        Ok(ExecResult::Command("CREATE TABLE".into()))
    }

    fn drop(&mut self, plan: DropPlan) -> SqlResult<ExecResult> {
        let catalog = Arc::clone(&self.state.catalog);
        let mut tag = "DROP TABLE";
        for target in &plan.targets {
            let (existed, what, name) = match target {
                DropTarget::Table(n) => (
                    catalog.drop_relation(n, RelationClass::Table, plan.if_exists)?,
                    "table",
                    n.name.clone(),
                ),
                DropTarget::View(n) => {
                    tag = "DROP VIEW";
                    (
                        catalog.drop_relation(n, RelationClass::View, plan.if_exists)?,
                        "view",
                        n.name.clone(),
                    )
                }
                DropTarget::MaterializedView(n) => {
                    tag = "DROP MATERIALIZED VIEW";
                    (
                        catalog.drop_relation(
                            n,
                            RelationClass::MaterializedView,
                            plan.if_exists,
                        )?,
                        "materialized view",
                        n.name.clone(),
                    )
                }
                DropTarget::Schema { database, schema } => {
                    tag = "DROP SCHEMA";
                    (
                        catalog.drop_schema(database, schema, plan.if_exists, plan.cascade)?,
                        "schema",
                        schema.clone(),
                    )
                }
                DropTarget::Index(n) => {
                    tag = "DROP INDEX";
                    (
                        catalog.drop_index(n, plan.if_exists)?,
                        "index",
                        n.name.clone(),
                    )
                }
                DropTarget::Database(name) => {
                    tag = "DROP DATABASE";
                    (
                        catalog.drop_database(name, plan.if_exists, &self.database)?,
                        "database",
                        name.clone(),
                    )
                }
            };
            if !existed {
                self.notices
                    .push(format!("{what} \"{name}\" does not exist, skipping"));
            }
        }
        self.stop_dropped_jobs();
        Ok(ExecResult::Command(tag.into()))
    }

    fn session_statement_columns(&self, statement: &Statement) -> Option<SchemaRef> {
        match statement {
            Statement::Fetch { .. } => self.cursor_columns(statement),
            Statement::ShowVariable { variable } if show_name(variable) == "jobs" => {
                Some(Self::jobs_schema())
            }
            Statement::ShowVariable { variable } if show_name(variable) == "checkpoints" => {
                Some(Self::checkpoints_schema())
            }
            Statement::ShowVariable { variable } => {
                let name = show_name(variable);
                if name == "all" {
                    Some(Arc::new(Schema::new(vec![
                        Field::new("name", DataType::Utf8, false),
                        Field::new("setting", DataType::Utf8, false),
                    ])))
                } else {
                    Some(Arc::new(Schema::new(vec![Field::new(
                        show_column(&name),
                        DataType::Utf8,
                        false,
                    )])))
                }
            }
            _ => None,
        }
    }

    fn session_statement(&mut self, statement: &Statement) -> SqlResult<ExecResult> {
        match statement {
            Statement::Set(set) => self.set(set),
            Statement::ShowVariable { variable } if show_name(variable) == "jobs" => {
                self.show_jobs()
            }
            Statement::ShowVariable { variable } if show_name(variable) == "checkpoints" => {
                self.show_checkpoints()
            }
            Statement::ShowVariable { variable } => {
                let name = show_name(variable);
                let (schema, columns) = if name == "all" {
                    let all = self.settings.all();
                    (
                        self.session_statement_columns(statement),
                        vec![
                            Arc::new(StringArray::from_iter_values(
                                all.iter().map(|(k, _)| k.clone()),
                            )) as _,
                            Arc::new(StringArray::from_iter_values(
                                all.iter().map(|(_, v)| v.clone()),
                            )) as _,
                        ],
                    )
                } else {
                    let value = match name.as_str() {
                        "transaction_isolation_level" => {
                            self.settings.get("transaction_isolation")?
                        }
                        other => self.settings.get(other)?,
                    };
                    (
                        self.session_statement_columns(statement),
                        vec![Arc::new(StringArray::from(vec![value])) as _],
                    )
                };
                let schema = schema.expect("SHOW has columns");
                let batch = RecordBatch::try_new(Arc::clone(&schema), columns)
                    .map_err(|e| SqlError::internal(e.to_string()))?;
                Ok(ExecResult::Rows(RowStream::from_batches(
                    schema,
                    vec![batch],
                )))
            }
            Statement::StartTransaction { .. } => {
                if self.transaction != TransactionStatus::Idle {
                    self.notices
                        .push("there is already a transaction in progress".into());
                }
                self.transaction = TransactionStatus::InBlock;
                self.savepoints.clear();
                Ok(ExecResult::Command("BEGIN".into()))
            }
            Statement::Savepoint { name } => {
                self.savepoint_position("SAVEPOINT", None)?;
                self.savepoints.push(name.value.clone());
                Ok(ExecResult::Command("SAVEPOINT".into()))
            }
            Statement::ReleaseSavepoint { name } => {
                if let Some(at) = self.savepoint_position("RELEASE SAVEPOINT", Some(&name.value))? {
                    self.savepoints.truncate(at);
                }
                Ok(ExecResult::Command("RELEASE".into()))
            }
            Statement::Rollback {
                savepoint: Some(name),
                ..
            } => {
                if let Some(at) =
                    self.savepoint_position("ROLLBACK TO SAVEPOINT", Some(&name.value))?
                {
                    self.savepoints.truncate(at + 1);
                }
                if self.transaction == TransactionStatus::InBlock {
                    self.notices.push(
                        "statements commit as they complete: ROLLBACK TO SAVEPOINT did not undo the statements after the savepoint"
                            .into(),
                    );
                }
                // As in Postgres, the block is usable again.
                self.transaction = TransactionStatus::InBlock;
                Ok(ExecResult::Command("ROLLBACK".into()))
            }
            Statement::Commit { .. } => {
                let tag = if self.transaction == TransactionStatus::Failed {
                    "ROLLBACK"
                } else {
                    if self.transaction == TransactionStatus::Idle {
                        self.notices
                            .push("there is no transaction in progress".into());
                    }
                    "COMMIT"
                };
                self.transaction = TransactionStatus::Idle;
                self.savepoints.clear();
                self.end_transaction_cursors();
                Ok(ExecResult::Command(tag.into()))
            }
            Statement::Rollback { .. } => {
                match self.transaction {
                    TransactionStatus::Idle => self.notices.push("there is no transaction in progress".into()),
                    TransactionStatus::InBlock => self.notices.push(
                        "statements commit as they complete: ROLLBACK did not undo the statements of this block"
                            .into(),
                    ),
                    TransactionStatus::Failed => {}
                }
                self.transaction = TransactionStatus::Idle;
                self.savepoints.clear();
                self.end_transaction_cursors();
                Ok(ExecResult::Command("ROLLBACK".into()))
            }
            Statement::Discard { .. } => {
                self.settings
                    .reset_all(&self.user, self.state.query_memory_limit_mb);
                Ok(ExecResult::Command("DISCARD ALL".into()))
            }
            Statement::Deallocate { name, .. } => {
                if name.value.eq_ignore_ascii_case("all") && name.quote_style.is_none() {
                    self.close_all_statements();
                    Ok(ExecResult::Command("DEALLOCATE ALL".into()))
                } else {
                    self.close_statement(&name.value);
                    Ok(ExecResult::Command("DEALLOCATE".into()))
                }
            }
            other => Err(SqlError::not_supported(format!(
                "statement not supported: {}",
                first_words(&other.to_string())
            ))),
        }
    }

    fn set(&mut self, set: &Set) -> SqlResult<ExecResult> {
        let value_text = |e: &sqlparser::ast::Expr| -> String {
            match e {
                sqlparser::ast::Expr::Value(v) => match &v.value {
                    sqlparser::ast::Value::SingleQuotedString(s)
                    | sqlparser::ast::Value::DoubleQuotedString(s) => s.clone(),
                    other => other.to_string(),
                },
                sqlparser::ast::Expr::Identifier(i) => i.value.clone(),
                other => other.to_string(),
            }
        };
        match set {
            Set::SingleAssignment {
                variable, values, ..
            } => {
                let name = setting_name(variable);
                let value = values.iter().map(value_text).collect::<Vec<_>>().join(", ");
                if value.eq_ignore_ascii_case("default") {
                    self.settings
                        .reset(&name, &self.user, self.state.query_memory_limit_mb)?;
                } else {
                    self.settings.set(&name, &value)?;
                }
            }
            Set::SetTimeZone { value, .. } => self.settings.set("timezone", &value_text(value))?,
            Set::SetNames { charset_name, .. } => self
                .settings
                .set("client_encoding", &charset_name.to_string())?,
            Set::SetTransaction { .. } | Set::SetSessionParam(_) => {}
            Set::MultipleAssignments { assignments } => {
                for a in assignments {
                    let value = value_text(&a.value);
                    self.settings.set(&setting_name(&a.name), &value)?;
                }
            }
            other => {
                return Err(SqlError::not_supported(format!("{other} is not supported")));
            }
        }
        Ok(ExecResult::Command("SET".into()))
    }

    /// Parses and describes `sql` as the prepared statement `name` (""
    /// replaces the unnamed one). `declared_oids` are the parameter types
    /// the client gave (0: unspecified). The plan of a query is kept for
    /// its executions.
    ///
    /// # Errors
    ///
    /// 42P05 for a name in use, 42601 for more than one statement, and the
    /// errors of planning.
    pub fn prepare(
        &mut self,
        name: &str,
        sql: &str,
        declared_oids: Vec<u32>,
    ) -> SqlResult<Arc<PreparedStatement>> {
        if name.is_empty() {
            // Replaced even if this one fails.
            self.statements.remove("");
        } else if self.statements.contains_key(name) {
            return Err(SqlError::new(
                "42P05",
                format!("prepared statement \"{name}\" already exists"),
            ));
        }
        let mut statements = self.parse(sql)?;
        if statements.len() > 1 {
            return Err(SqlError::syntax(
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        let statement = statements.pop();
        let declared: Vec<Option<DataType>> = declared_oids
            .iter()
            .map(|oid| tidewater_runtime::pgtypes::arrow_type_of_oid(*oid))
            .collect();
        let (description, cached) = match &statement {
            Some(s) => {
                let (d, c) = self.describe_planned(s, &declared)?;
                (Some(d), c)
            }
            None => (None, None),
        };
        let prepared = Arc::new(PreparedStatement {
            statement,
            declared_oids,
            declared,
            description,
            cached: Mutex::new(cached),
        });
        self.statements
            .insert(name.to_string(), Arc::clone(&prepared));
        Ok(prepared)
    }

    /// The prepared statement `name`.
    ///
    /// # Errors
    ///
    /// 26000 when there is none.
    pub fn prepared(&self, name: &str) -> SqlResult<Arc<PreparedStatement>> {
        self.statements.get(name).cloned().ok_or_else(|| {
            SqlError::new(
                "26000",
                format!("prepared statement \"{name}\" does not exist"),
            )
        })
    }

    /// Forgets the prepared statement `name`.
    pub fn close_statement(&mut self, name: &str) {
        self.statements.remove(name);
    }

    /// Forgets every prepared statement (`DEALLOCATE ALL`).
    fn close_all_statements(&mut self) {
        self.statements.clear();
    }

    /// Binds the prepared statement `statement` to parameter values as the
    /// portal `portal` ("" replaces the unnamed one).
    ///
    /// # Errors
    ///
    /// 26000 for an unknown statement, 42P03 for a portal name in use,
    /// 08P01 for a wrong number of values.
    pub fn bind(
        &mut self,
        portal: &str,
        statement: &str,
        params: Vec<ScalarValue>,
        formats: Vec<ResultFormat>,
    ) -> SqlResult<()> {
        if portal.is_empty() {
            self.portals.remove("");
        }
        let prepared = self.prepared(statement)?;
        if self.portals.contains_key(portal) {
            return Err(SqlError::new(
                "42P03",
                format!("portal \"{portal}\" already exists"),
            ));
        }
        let expected = prepared.param_types().len();
        if params.len() != expected {
            return Err(SqlError::new(
                "08P01",
                format!(
                    "bind message supplies {} parameters, but prepared statement \"{statement}\" requires {expected}",
                    params.len()
                ),
            ));
        }
        self.portals.insert(
            portal.to_string(),
            Portal {
                statement: prepared,
                params,
                formats,
                state: PortalState::Ready,
            },
        );
        Ok(())
    }

    /// The portal `name`.
    ///
    /// # Errors
    ///
    /// 34000 when there is none.
    pub fn portal(&self, name: &str) -> SqlResult<&Portal> {
        self.portals
            .get(name)
            .ok_or_else(|| SqlError::new("34000", format!("portal \"{name}\" does not exist")))
    }

    /// Forgets the portal `name` (and stops its query).
    pub fn close_portal(&mut self, name: &str) {
        self.portals.remove(name);
    }

    /// Forgets every portal (and stops their queries).
    pub fn close_all_portals(&mut self) {
        self.portals.clear();
    }

    /// The columns of the rows a running portal returns.
    pub fn portal_schema(&self, name: &str) -> Option<SchemaRef> {
        match &self.portals.get(name)?.state {
            PortalState::Running { stream, .. } => Some(Arc::clone(&stream.schema)),
            _ => None,
        }
    }

    /// The end of a pipeline (pg wire's Sync): outside a transaction block
    /// the transaction has ended, and with it every portal.
    pub fn sync(&mut self) {
        if self.transaction == TransactionStatus::Idle {
            self.portals.clear();
        }
    }

    /// Runs the portal `name`, or says it has rows to read
    /// ([`PortalStep::Rows`]) when it ran already.
    ///
    /// # Errors
    ///
    /// 34000 for an unknown portal, 55000 for one that completed, and the
    /// errors of the statement (the portal is then done).
    pub async fn execute_portal(&mut self, name: &str) -> SqlResult<PortalStep> {
        let portal = self
            .portals
            .get_mut(name)
            .ok_or_else(|| SqlError::new("34000", format!("portal \"{name}\" does not exist")))?;
        match &portal.state {
            PortalState::Ready => {}
            PortalState::Running { .. } | PortalState::Exhausted => {
                return Ok(PortalStep::Rows);
            }
            PortalState::Done => {
                return Err(SqlError::new(
                    "55000",
                    format!("portal \"{name}\" cannot be run"),
                ));
            }
        }
        portal.state = PortalState::Done;
        let prepared = Arc::clone(&portal.statement);
        let params = portal.params.clone();
        let Some(statement) = prepared.statement.as_ref() else {
            return Ok(PortalStep::Empty);
        };
        self.refuse_in_failed_block(statement)?;
        let result = self.execute_prepared(&prepared, statement, &params).await;
        if result.is_err() && self.transaction == TransactionStatus::InBlock {
            self.transaction = TransactionStatus::Failed;
        }
        let step = match result? {
            ExecResult::Rows(stream) => {
                if let Some(portal) = self.portals.get_mut(name) {
                    portal.state = PortalState::Running {
                        stream,
                        pending: None,
                    };
                }
                PortalStep::Rows
            }
            ExecResult::Command(tag) => PortalStep::Command(tag),
            ExecResult::CopyIn(copy) => PortalStep::CopyIn(copy),
            ExecResult::CopyOut(rows, options) => PortalStep::CopyOut(rows, options),
            ExecResult::Empty => PortalStep::Empty,
        };
        Ok(step)
    }

    /// Executes a prepared statement, with its kept plan when the catalog
    /// and the settings are as they were.
    async fn execute_prepared(
        &mut self,
        prepared: &PreparedStatement,
        statement: &Statement,
        params: &[ScalarValue],
    ) -> SqlResult<ExecResult> {
        let snapshot = self.snapshot();
        let generation = self.settings.generation();
        let kept = {
            let cached = prepared.cached.lock();
            cached
                .as_ref()
                .filter(|c| c.holds_for(&snapshot.state, generation))
                .map(|c| (c.plan.clone(), c.lowered.clone()))
        };
        // A kept dataflow plan runs again as it is: no planning at all.
        if let Some((CachedPlan::Query(query), Some(lowered))) = &kept {
            let mut plan = lowered.dataflow.clone();
            plan.config = QueryConfig {
                continuous: plan.config.continuous,
                ..self.query_config()
            };
            return self.query_rows(&snapshot, query, &plan, self.placement(lowered));
        }
        let info = self.session_info();
        let planner = Planner::new(&snapshot, &info);
        let planned = match kept {
            Some((CachedPlan::Query(query), _)) => {
                let lowered = self.lower(&planner, &query, params)?;
                let placement = self.placement(&lowered);
                let result = self.query_rows(&snapshot, &query, &lowered.dataflow, placement);
                if lowered.reusable
                    && let Some(cached) = prepared.cached.lock().as_mut()
                    && cached.holds_for(&snapshot.state, generation)
                {
                    cached.lowered = Some(Arc::new(lowered));
                }
                return result;
            }
            Some((CachedPlan::Insert { table, query }, _)) => {
                return {
                    let lowered = self.lower(&planner, &query, params)?;
                    let rows = self.write_into(&table, lowered).await?;
                    Ok(ExecResult::Command(format!("INSERT 0 {rows}")))
                };
            }
            None => {
                let planned = planner.plan(statement, &prepared.declared)?;
                *prepared.cached.lock() = cacheable(&planned).map(|plan| Cached {
                    catalog: Arc::clone(&snapshot.state),
                    settings: generation,
                    plan,
                    lowered: None,
                });
                planned
            }
        };
        self.run_planned(&planner, &snapshot, planned, params).await
    }

    /// The next rows of the portal `name`, at most `limit` of them; `None`
    /// once it has returned all its rows.
    ///
    /// # Errors
    ///
    /// 34000 for an unknown portal; the query's error (the portal is then
    /// done, and a transaction block failed).
    pub async fn portal_batch(
        &mut self,
        name: &str,
        limit: Option<usize>,
    ) -> SqlResult<Option<RecordBatch>> {
        let portal = self
            .portals
            .get_mut(name)
            .ok_or_else(|| SqlError::new("34000", format!("portal \"{name}\" does not exist")))?;
        let PortalState::Running { stream, pending } = &mut portal.state else {
            return Ok(None);
        };
        let (batch, offset) = match pending.take() {
            Some(p) => p,
            None => match stream.next().await {
                Some(Ok(b)) => (b, 0),
                None => {
                    portal.state = PortalState::Exhausted;
                    return Ok(None);
                }
                Some(Err(e)) => {
                    portal.state = PortalState::Done;
                    self.mark_failed();
                    return Err(e);
                }
            },
        };
        let left = batch.num_rows() - offset;
        let take = limit.map_or(left, |l| l.min(left));
        let out = batch.slice(offset, take);
        if take < left {
            *pending = Some((batch, offset + take));
        }
        Ok(Some(out))
    }

    /// Reportable parameters changed by the last statements.
    pub fn take_parameter_changes(&mut self) -> Vec<(String, String)> {
        self.settings.take_changes()
    }
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// The parameter a `SET` names: its parts joined by dots, without quotes
/// (`"MyApp".flag` is `MyApp.flag`; lookups ignore case).
fn setting_name(name: &sqlparser::ast::ObjectName) -> String {
    name.0
        .iter()
        .map(|part| match part.as_ident() {
            Some(i) => i.value.clone(),
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The parameter a `SHOW` names. The parser drops the dots between its
/// words, and Postgres allows several words only in a few fixed phrases
/// (`TRANSACTION ISOLATION LEVEL`, `TIME ZONE`, `SESSION AUTHORIZATION`);
/// any other words are the parts of a dotted custom name (`myapp.flag`).
fn show_name(variable: &[sqlparser::ast::Ident]) -> String {
    // Parameter names are case-insensitive, quoted or not.
    let words: Vec<String> = variable.iter().map(|i| i.value.to_lowercase()).collect();
    match words.join(" ").as_str() {
        "transaction isolation level" => "transaction_isolation_level".into(),
        "time zone" => "timezone".into(),
        "session authorization" => "session_authorization".into(),
        _ => words.join("."),
    }
}

fn show_column(name: &str) -> String {
    match name {
        "transaction_isolation_level" => "transaction_isolation".into(),
        other => other.to_string(),
    }
}

/// The schema of `EXPLAIN` output.
fn explain_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "QUERY PLAN",
        DataType::Utf8,
        false,
    )]))
}

/// The result schema shown to clients: nullable columns whose metadata is
/// only their declared Postgres type (`PG_TYPE_METADATA_KEY`) and, for
/// columns that show a table's column, [`TABLE_OID_KEY`] and
/// [`COLUMN_NUMBER_KEY`].
fn result_schema(snapshot: &CatalogSnapshot, query: &PreparedQuery) -> SchemaRef {
    use tidewater_runtime::pgtypes::PG_TYPE_METADATA_KEY;
    let mut origins = column_origins(&query.logical);
    if query.subscribe {
        // A changefeed's epoch and diff columns come first.
        origins.splice(0..0, [None, None]);
    }
    let fields: Vec<Field> = query
        .output
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut metadata = HashMap::new();
            if let Some(t) = f.metadata().get(PG_TYPE_METADATA_KEY) {
                metadata.insert(PG_TYPE_METADATA_KEY.to_string(), t.clone());
            }
            let origin = origins.get(i).and_then(Option::as_ref);
            if let Some((oid, column)) = origin
                .and_then(|o| Some((relation_oid(snapshot, &o.table)?, o.column.checked_add(1)?)))
            {
                metadata.insert(TABLE_OID_KEY.to_string(), oid.to_string());
                metadata.insert(COLUMN_NUMBER_KEY.to_string(), column.to_string());
            }
            Field::new(f.name(), f.data_type().clone(), true).with_metadata(metadata)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The OID of a table, view or system relation.
fn relation_oid(snapshot: &CatalogSnapshot, name: &QualifiedName) -> Option<u32> {
    if crate::catalog::SYSTEM_SCHEMAS.contains(&name.schema.as_str()) {
        crate::catalog::system::system_relation_oid(&name.schema, &name.name)
    } else {
        snapshot.state.relation(name).map(|r| r.oid)
    }
}

/// A table schema without planner metadata, keeping only each column's
/// declared SQL type and, for a table's own columns, its DEFAULT and
/// WATERMARK FOR.
fn strip_metadata(schema: &SchemaRef, table_columns: bool) -> SchemaRef {
    use tidewater_planner::catalog::{DEFAULT_METADATA_KEY, WATERMARK_METADATA_KEY};
    use tidewater_runtime::pgtypes::PG_TYPE_METADATA_KEY;
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| {
                let metadata = f
                    .metadata()
                    .iter()
                    .filter(|(k, _)| {
                        *k == PG_TYPE_METADATA_KEY
                            || (table_columns
                                && (*k == DEFAULT_METADATA_KEY || *k == WATERMARK_METADATA_KEY))
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                Field::new(f.name(), f.data_type().clone(), f.is_nullable()).with_metadata(metadata)
            })
            .collect::<Vec<_>>(),
    ))
}

/// The plan of a statement that is worth keeping for its next executions
/// (queries and `INSERT`s; DDL and session statements are planned anew).
fn cacheable(planned: &Planned) -> Option<CachedPlan> {
    match planned {
        Planned::Query(q) => Some(CachedPlan::Query(q.clone())),
        Planned::Insert { table, query } => Some(CachedPlan::Insert {
            table: table.name.clone(),
            query: query.clone(),
        }),
        _ => None,
    }
}

/// The command tag of a statement that returned `rows` rows.
pub fn rows_tag(statement: Option<&Statement>, rows: u64) -> String {
    match statement {
        Some(Statement::ShowVariable { .. } | Statement::ShowVariables { .. }) => "SHOW".into(),
        Some(Statement::Explain { .. } | Statement::ExplainTable { .. }) => "EXPLAIN".into(),
        Some(Statement::Fetch { .. }) => format!("FETCH {rows}"),
        _ => format!("SELECT {rows}"),
    }
}

/// `plan` with every scan of a managed table reading the table as it is
/// now: its committed length is fixed when the query is submitted, so
/// that every worker reads the same statements, and a plan kept for a
/// prepared statement reads what was committed before each execution.
fn with_table_snapshots(plan: &DataflowPlan) -> SqlResult<std::borrow::Cow<'_, DataflowPlan>> {
    use tidewater_connectors::managed::{
        COMMITTED_BYTES_OPTION, CONNECTOR_NAME, PATH_OPTION, open_table,
    };
    let managed =
        |n: &PlanNode| matches!(&n.kind, NodeKind::Scan(s) if s.connector == CONNECTOR_NAME);
    if !plan.nodes.iter().any(managed) {
        return Ok(std::borrow::Cow::Borrowed(plan));
    }
    let mut plan = plan.clone();
    for node in &mut plan.nodes {
        if let NodeKind::Scan(spec) = &mut node.kind
            && spec.connector == CONNECTOR_NAME
            && let Some(path) = spec.options.get(PATH_OPTION)
        {
            let table = open_table(std::path::Path::new(path)).map_err(|e| {
                SqlError::new("58030", format!("cannot open table {}: {e}", spec.table))
            })?;
            spec.options.insert(
                COMMITTED_BYTES_OPTION.to_string(),
                table.snapshot().to_string(),
            );
        }
    }
    Ok(std::borrow::Cow::Owned(plan))
}

/// The number of rows a sink wrote: the one value of its output.
pub(crate) fn sink_rows(batches: &[RecordBatch]) -> u64 {
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    batches
        .iter()
        .filter(|b| b.num_columns() == 1)
        .flat_map(|b| b.column(0).as_primitive_opt::<Int64Type>())
        .flat_map(|a| a.values().iter().copied())
        .map(|v| u64::try_from(v).unwrap_or(0))
        .sum()
}
