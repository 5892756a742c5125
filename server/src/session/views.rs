//! Materialized views in a session: creating one starts its job (a
//! continuous query publishing into the runtime's view store), dropping it
//! stops the job, queries over it read its state at one epoch, `SHOW
//! JOBS` lists the jobs.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use tidewater_planner::statement::CreateViewPlan;
use tidewater_planner::{Planner, PreparedQuery};
use tidewater_runtime::plan::{DataflowPlan, NodeKind, QueryConfig};
use tidewater_runtime::watermark::NO_WATERMARK;

use super::{ExecResult, RowStream, Session};
use crate::catalog::RelationKind;
use crate::error::{SqlError, SqlResult};

/// How long creating a view waits for its job to be built on this
/// process's workers.
const JOB_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether `plan` reads a materialized view.
pub(super) fn reads_views(plan: &DataflowPlan) -> bool {
    plan.nodes
        .iter()
        .any(|n| matches!(n.kind, NodeKind::ViewScan { .. }))
}

/// `plan` with every scan of a managed table following the table's log
/// (continuous queries read what is committed, then every later commit).
pub(super) fn with_followed_tables(mut plan: DataflowPlan) -> DataflowPlan {
    use tidewater_connectors::managed::{CONNECTOR_NAME, FOLLOW_OPTION};
    for node in &mut plan.nodes {
        if let NodeKind::Scan(spec) = &mut node.kind
            && spec.connector == CONNECTOR_NAME
        {
            spec.options
                .insert(FOLLOW_OPTION.to_string(), "true".to_string());
        }
    }
    plan
}

impl Session {
    /// `plan` with the epoch each view scan reads (see
    /// [`crate::jobs::at_view_epochs`]).
    pub(super) fn with_view_epochs<'a>(
        &self,
        plan: Cow<'a, DataflowPlan>,
    ) -> Cow<'a, DataflowPlan> {
        crate::jobs::at_view_epochs(self.state.runtime.views(), plan)
    }

    /// The settings of a view's job run by `parallelism` workers (`None`:
    /// every worker).
    fn job_config(&self, parallelism: Option<usize>) -> QueryConfig {
        QueryConfig {
            continuous: true,
            parallelism: parallelism.unwrap_or(0),
            ..self.query_config()
        }
    }

    pub(super) async fn create_materialized_view(
        &mut self,
        planner: &Planner<'_>,
        view: CreateViewPlan,
        query: PreparedQuery,
    ) -> SqlResult<ExecResult> {
        // Planned first: a query that cannot run continuously changes nothing.
        let lowered = planner
            .bind_and_lower(&query, &[], self.job_config(None))
            .map_err(SqlError::from)?;
        let catalog = Arc::clone(&self.state.catalog);
        let state = catalog.state();
        let depends_on = tidewater_planner::origin::tables_read(&query.logical)
            .iter()
            .filter_map(|name| state.relation(name).map(|r| r.oid))
            .collect();
        let created = catalog.create_relation(
            &view.name,
            RelationKind::MaterializedView {
                sql: view.sql.clone(),
                depends_on,
                parallelism: None,
            },
            view.schema,
            view.if_not_exists,
            false,
        )?;
        if !created {
            self.notices.push(format!(
                "relation \"{}\" already exists, skipping",
                view.name.name
            ));
            return Ok(ExecResult::Command("CREATE MATERIALIZED VIEW".into()));
        }
        let oid = catalog
            .state()
            .relation(&view.name)
            .map(|r| u64::from(r.oid))
            .ok_or_else(|| SqlError::internal("the new view is not in the catalog"))?;
        if let Err(e) = self
            .start_view_job(oid, &view.name.to_string(), lowered.dataflow, true)
            .await
        {
            let _ = catalog.drop_relation(
                &view.name,
                crate::catalog::RelationClass::MaterializedView,
                true,
            );
            self.state.jobs.stop(oid);
            return Err(e);
        }
        Ok(ExecResult::Command("CREATE MATERIALIZED VIEW".into()))
    }

    /// Starts the job of view `oid` from its continuous `plan` and waits
    /// until its parts exist on this process's workers. A job whose first
    /// run fails before that is an error when `fail_fast` (creating the
    /// view); otherwise (at start-up) it is left to restart.
    async fn start_view_job(
        &self,
        oid: u64,
        name: &str,
        plan: DataflowPlan,
        fail_fast: bool,
    ) -> SqlResult<()> {
        let launcher = Arc::new(crate::jobs::JobLauncher {
            catalog: Arc::clone(&self.state.catalog),
            runtime: Arc::clone(&self.state.runtime),
            store: Arc::clone(&self.state.checkpoints),
            view: oid,
            plan: with_followed_tables(plan.with_publish(oid)),
        });
        let run = launcher.launch().await?;
        self.state.jobs.start(oid, name.to_string(), launcher, run);
        let runtime = &self.state.runtime;
        let deadline = tokio::time::Instant::now() + JOB_START_TIMEOUT;
        let workers = runtime.local_workers();
        loop {
            if runtime.views().local_parts(oid).len() >= workers {
                return Ok(());
            }
            if let Some(job) = self
                .state
                .jobs
                .list()
                .into_iter()
                .find(|j| j.kind == crate::jobs::JobKind::MaterializedView && j.view == oid)
            {
                match job.state {
                    crate::jobs::JobState::Failed(e) => return Err(SqlError::new("XX000", e)),
                    crate::jobs::JobState::Restarting(e) if fail_fast => {
                        return Err(SqlError::new("XX000", e));
                    }
                    crate::jobs::JobState::Restarting(_) => return Ok(()),
                    _ => {}
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(SqlError::new(
                    "57P03",
                    format!("the job of materialized view {name} did not start in time"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Starts the job of a materialized view stored in the catalog (at
    /// server start, or at a new parallelism): its query is planned again
    /// from its SQL text.
    pub async fn restart_view_job(
        &self,
        oid: u64,
        name: &str,
        sql: &str,
        parallelism: Option<usize>,
    ) -> SqlResult<()> {
        let snapshot = self.snapshot();
        let info = self.session_info();
        let planner = Planner::new(&snapshot, &info);
        let query = planner.prepare_view_query(sql).map_err(SqlError::from)?;
        let lowered = planner
            .bind_and_lower(&query, &[], self.job_config(parallelism))
            .map_err(SqlError::from)?;
        self.start_view_job(oid, name, lowered.dataflow, false)
            .await
    }

    /// `ALTER MATERIALIZED VIEW name SET PARALLELISM n`: the view's job is
    /// checkpointed, stopped, and started again on `n` workers, restored
    /// from that checkpoint (its key groups spread over the new workers,
    /// its sources' splits reassigned with their offsets), so that the
    /// view is rescaled without recomputing it. A job that is not
    /// checkpointed (see [`crate::checkpoint`]) is recomputed. The
    /// parallelism is kept in the catalog for later starts.
    pub(super) async fn alter_parallelism(
        &self,
        name: &tidewater_planner::QualifiedName,
        parallelism: usize,
    ) -> SqlResult<ExecResult> {
        let runtime = &self.state.runtime;
        if runtime.processes() > 1 {
            return Err(SqlError::new(
                "0A000",
                "SET PARALLELISM is not supported in a cluster yet",
            ));
        }
        if parallelism > runtime.peers() {
            return Err(SqlError::new(
                "22023",
                format!(
                    "parallelism {parallelism} is more than the server's {} workers",
                    runtime.peers()
                ),
            ));
        }
        let state = self.state.catalog.state();
        let (oid, sql) = match state.relation(name) {
            Some(r) => match &r.kind {
                RelationKind::MaterializedView { sql, .. } => (u64::from(r.oid), sql.clone()),
                _ => {
                    return Err(SqlError::new(
                        "42809",
                        format!("\"{}\" is not a materialized view", name.name),
                    ));
                }
            },
            None => {
                return Err(SqlError::new(
                    "42P01",
                    format!("relation \"{name}\" does not exist"),
                ));
            }
        };
        let shown = name.to_string();
        if let Some(c) = self.state.jobs.checkpointer(oid) {
            c.checkpoint_now(&shown).await?;
        }
        self.state.catalog.set_view_parallelism(name, parallelism)?;
        self.state.jobs.stop_and_wait(oid).await;
        self.restart_view_job(oid, &shown, &sql, Some(parallelism))
            .await?;
        Ok(ExecResult::Command("ALTER MATERIALIZED VIEW".into()))
    }

    /// Stops the jobs (and forgets the state) of views no longer in the
    /// catalog.
    pub(super) fn stop_dropped_jobs(&self) {
        let state = self.state.catalog.state();
        let mut views = Vec::new();
        for db in state.databases.values() {
            for schema in db.schemas.values() {
                for rel in schema.relations.values() {
                    if matches!(rel.kind, RelationKind::MaterializedView { .. }) {
                        views.push(u64::from(rel.oid));
                    }
                }
            }
        }
        for (view, checkpointer) in self.state.jobs.retain(&views) {
            self.state.runtime.views().remove(view);
            let store = Arc::clone(&self.state.checkpoints);
            tokio::spawn(async move {
                if let Some(c) = checkpointer {
                    c.stop().await;
                }
                if let Err(e) = store.delete_job(view).await {
                    tracing::warn!(view, error = %e.message, "cannot delete a dropped view's checkpoints");
                }
            });
        }
    }

    /// The columns of `SHOW JOBS`.
    pub(super) fn jobs_schema() -> SchemaRef {
        let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
        Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("state", DataType::Utf8, false),
            Field::new("started", ts.clone(), false),
            Field::new("epoch", DataType::Int64, true),
            Field::new("rows", DataType::Int64, false),
            Field::new("rows_in", DataType::Int64, false),
            Field::new("late_rows", DataType::Int64, false),
            Field::new("watermark", ts, true),
            Field::new("lag_ms", DataType::Int64, true),
            Field::new("error", DataType::Utf8, true),
            Field::new("restarts", DataType::Int64, false),
            Field::new("parallelism", DataType::Int64, true),
        ]))
    }

    /// `SHOW JOBS`: every materialized view's job, with its state, the
    /// epoch its view is readable at, its rows, the rows its sources read
    /// and the late rows it dropped, its watermark (on this process's
    /// workers), how far the watermark is behind the clock, the error of a
    /// failed (or restarting) job, how often it was restarted, and how many
    /// workers run it.
    pub(super) fn show_jobs(&self) -> SqlResult<ExecResult> {
        let views = self.state.runtime.views();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64);
        let micros = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as i64)
        };
        let jobs = self.state.jobs.list();
        let mut epoch = Vec::new();
        let mut rows = Vec::new();
        let mut watermark = Vec::new();
        let mut lag = Vec::new();
        for job in &jobs {
            if job.kind == crate::jobs::JobKind::Subscription {
                epoch.push(None);
                rows.push(0);
                watermark.push(None);
                lag.push(None);
                continue;
            }
            let parts = views.local_parts(job.view);
            // A final view (its inputs ended) has no current epoch.
            epoch.push(
                views
                    .readable_epoch(job.view)
                    .and_then(|e| i64::try_from(e).ok())
                    .filter(|e| *e < i64::MAX - 1),
            );
            rows.push(parts.iter().map(|(_, p)| p.rows() as i64).sum::<i64>());
            let w = parts
                .iter()
                .map(|(_, p)| p.watermark())
                .min()
                .flatten()
                .filter(|w| *w != NO_WATERMARK && *w != i64::MAX);
            watermark.push(w);
            lag.push(w.map(|w| (now - w) / 1000));
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                jobs.iter().map(|j| j.name.clone()),
            )),
            Arc::new(StringArray::from_iter_values(
                jobs.iter().map(|j| j.kind.name()),
            )),
            Arc::new(StringArray::from_iter_values(
                jobs.iter().map(|j| j.state.name()),
            )),
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                jobs.iter().map(|j| micros(j.started)),
            )),
            Arc::new(Int64Array::from(epoch)),
            Arc::new(Int64Array::from(rows)),
            Arc::new(Int64Array::from_iter_values(
                jobs.iter()
                    .map(|j| i64::try_from(j.rows_in).unwrap_or(i64::MAX)),
            )),
            Arc::new(Int64Array::from_iter_values(
                jobs.iter()
                    .map(|j| i64::try_from(j.late_rows).unwrap_or(i64::MAX)),
            )),
            Arc::new(TimestampMicrosecondArray::from(watermark)),
            Arc::new(Int64Array::from(lag)),
            Arc::new(StringArray::from_iter(jobs.iter().map(
                |j| match &j.state {
                    crate::jobs::JobState::Failed(e) | crate::jobs::JobState::Restarting(e) => {
                        Some(e.clone())
                    }
                    _ => None,
                },
            ))),
            Arc::new(Int64Array::from_iter_values(
                jobs.iter()
                    .map(|j| i64::try_from(j.restarts).unwrap_or(i64::MAX)),
            )),
            Arc::new(Int64Array::from_iter(jobs.iter().map(|j| {
                (j.kind == crate::jobs::JobKind::MaterializedView)
                    .then(|| i64::try_from(j.parallelism).unwrap_or(i64::MAX))
            }))),
        ];
        let schema = Self::jobs_schema();
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns)
            .map_err(|e| SqlError::internal(e.to_string()))?;
        Ok(ExecResult::Rows(RowStream::from_batches(
            schema,
            vec![batch],
        )))
    }

    /// The columns of `SHOW CHECKPOINTS`.
    pub(super) fn checkpoints_schema() -> SchemaRef {
        let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
        Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("checkpoint", DataType::Int64, false),
            Field::new("epoch", DataType::Int64, true),
            Field::new("wall_time", ts, false),
            Field::new("bytes", DataType::Int64, false),
            Field::new("written_bytes", DataType::Int64, false),
            Field::new("duration_ms", DataType::Int64, false),
            Field::new("write_ms", DataType::Int64, false),
            Field::new("pause_ms", DataType::Int64, false),
            Field::new("operators", DataType::Utf8, false),
        ]))
    }

    /// `SHOW CHECKPOINTS`: the recent checkpoints of every checkpointed
    /// job, oldest first: its number, the epoch of its cut (empty for the
    /// final state of a job whose inputs ended), when it became durable,
    /// the bytes of state it holds and of those it wrote (checkpoints are
    /// incremental), how long it took from the request of its cut, of which
    /// encoding and writing (after every operator had copied its state),
    /// the longest an operator paused to copy its state, and the bytes per
    /// operator (`node:kind=bytes`).
    pub(super) fn show_checkpoints(&self) -> SqlResult<ExecResult> {
        let micros = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as i64)
        };
        let mut rows = Vec::new();
        for (_, name, checkpointer) in self.state.jobs.checkpointers() {
            for info in checkpointer.written() {
                rows.push((name.clone(), info));
            }
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|(n, _)| n.clone()),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows.iter()
                    .map(|(_, i)| i64::try_from(i.seq).unwrap_or(i64::MAX)),
            )),
            Arc::new(Int64Array::from_iter(rows.iter().map(|(_, i)| {
                i64::try_from(i.epoch).ok().filter(|e| *e < i64::MAX)
            }))),
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                rows.iter().map(|(_, i)| micros(i.wall_time)),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows.iter()
                    .map(|(_, i)| i64::try_from(i.bytes).unwrap_or(i64::MAX)),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows.iter()
                    .map(|(_, i)| i64::try_from(i.written).unwrap_or(i64::MAX)),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|(_, i)| i.duration.as_millis() as i64),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|(_, i)| i.write.as_millis() as i64),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|(_, i)| i.pause.as_millis() as i64),
            )),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|(_, i)| {
                i.operators
                    .iter()
                    .map(|(op, bytes)| format!("{op}={bytes}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }))),
        ];
        let schema = Self::checkpoints_schema();
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns)
            .map_err(|e| SqlError::internal(e.to_string()))?;
        Ok(ExecResult::Rows(RowStream::from_batches(
            schema,
            vec![batch],
        )))
    }
}
