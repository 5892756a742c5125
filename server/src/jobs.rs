//! Jobs: the dataflows of materialized views, which outlive the sessions
//! that create them.
//!
//! The registry holds one job per materialized view, by the view's object
//! id (which is also the view's id in the runtime's
//! [`ViewStore`](tidewater_runtime::view::ViewStore)). A job's query handle
//! lives in a task that supervises it. The end of a bounded input marks
//! the job finished (its view stays readable). An error in the job (a bad
//! row under a strict option, an operator error) cancels that run and
//! starts the job again after a backoff ([`RESTART_BACKOFF`], doubling),
//! from its last checkpoint when it is checkpointed ([`JobLauncher`]):
//! `SHOW JOBS` shows it `restarting` with the error meanwhile, and counts
//! its restarts. After [`MAX_RESTARTS`] restarts in a row that fail again
//! (a run that lasted [`HEALTHY_RUN`] starts the count anew) the job is
//! marked failed with the error; its view keeps the rows it had. Other
//! jobs and sessions are not touched. Dropping the view stops the job: the
//! task is aborted, which drops the handle, which cancels the dataflow. At
//! start-up the server starts every view's job again (see
//! [`crate::Server::start`]).
//!
//! Subscriptions (`SUBSCRIBE`) are listed too, for as long as their
//! session reads them ([`Jobs::track_subscription`]); they are not
//! restarted.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use tidewater_runtime::plan::{DataflowPlan, NodeKind};
use tidewater_runtime::pool::{Placement, QueryEvent, QueryHandle, Runtime};
use tidewater_runtime::progress::SourceProgress;
use tidewater_runtime::view::ViewStore;

use crate::catalog::Catalog;
use crate::checkpoint::{CheckpointStore, JobCheckpointer};
use crate::error::{SqlError, SqlResult};

/// The wait before the first restart of a failed job; it doubles with
/// each further restart in a row.
pub const RESTART_BACKOFF: Duration = Duration::from_secs(1);

/// Restarts in a row after which a failing job is marked failed.
pub const MAX_RESTARTS: u64 = 3;

/// A run that lasts this long before it fails was healthy: the restarts in
/// a row count from zero again.
pub const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// How long `FLUSH` waits for one view.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// What a job is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Its dataflow runs.
    Running,
    /// Its inputs ended; the view holds its final rows.
    Finished,
    /// Its run failed with this error; it starts again after a backoff.
    Restarting(String),
    /// It failed with this error; the view keeps the rows it had.
    Failed(String),
}

impl JobState {
    /// The state's name in `SHOW JOBS`.
    pub fn name(&self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Finished => "finished",
            JobState::Restarting(_) => "restarting",
            JobState::Failed(_) => "failed",
        }
    }
}

/// A job's state, shared with the task that supervises it.
#[derive(Debug)]
struct JobShared {
    state: Mutex<JobState>,
    /// The current run's source progress.
    progress: Mutex<Arc<SourceProgress>>,
    /// The current run's checkpointing, when it is checkpointed.
    checkpointer: Mutex<Option<Arc<JobCheckpointer>>>,
    /// Runs started after a failure.
    restarts: AtomicU64,
}

#[derive(Debug)]
struct Job {
    name: String,
    /// The workers that run it.
    parallelism: usize,
    started: SystemTime,
    shared: Arc<JobShared>,
    task: tokio::task::JoinHandle<()>,
}

/// One run of a job: its query and its checkpointing.
#[derive(Debug)]
pub struct JobRun {
    /// The running query.
    pub handle: QueryHandle,
    /// Its checkpointing, when it is checkpointed.
    pub checkpointer: Option<Arc<JobCheckpointer>>,
}

/// What starts (and restarts) the job of one materialized view.
#[derive(Debug)]
pub struct JobLauncher {
    /// The catalog (the connectors say which sources resume exactly).
    pub catalog: Arc<Catalog>,
    /// The worker pool.
    pub runtime: Arc<Runtime>,
    /// The checkpoint store.
    pub store: Arc<CheckpointStore>,
    /// The view's object id.
    pub view: u64,
    /// The job's continuous plan, ending in the view's publish (its scans
    /// of other views not yet at an epoch).
    pub plan: DataflowPlan,
}

/// `plan` with the epoch each view scan reads: the newest epoch every
/// part of the view in this process has completed, so that all parts are
/// read as of the same epoch.
pub fn at_view_epochs<'a>(views: &ViewStore, plan: Cow<'a, DataflowPlan>) -> Cow<'a, DataflowPlan> {
    if !plan
        .nodes
        .iter()
        .any(|n| matches!(n.kind, NodeKind::ViewScan { .. }))
    {
        return plan;
    }
    let mut plan = plan.into_owned();
    for node in &mut plan.nodes {
        if let NodeKind::ViewScan { view, epoch, .. } = &mut node.kind
            && epoch.is_none()
        {
            *epoch = Some(views.readable_epoch(*view).unwrap_or(0));
        }
    }
    Cow::Owned(plan)
}

impl JobLauncher {
    /// Starts a run of the job: restored from its latest checkpoint when
    /// it is checkpointed (a single process, and every source resumes
    /// from offsets; see [`crate::checkpoint`]), from its sources'
    /// beginning otherwise.
    ///
    /// # Errors
    ///
    /// When the checkpoint store cannot be read or the query not submitted.
    pub async fn launch(&self) -> SqlResult<JobRun> {
        let plan = at_view_epochs(self.runtime.views(), Cow::Borrowed(&self.plan)).into_owned();
        let runtime = &self.runtime;
        let checkpointed = runtime.processes() == 1
            && crate::checkpoint::checkpointable(&plan, self.catalog.connectors());
        if !checkpointed {
            let handle = runtime.submit_on(&plan, Placement::Distributed)?;
            return Ok(JobRun {
                handle,
                checkpointer: None,
            });
        }
        let (restored, next_seq) = self.store.restore(self.view, &plan).await?;
        let (run, state) = match restored {
            Some((run, state)) => (run, Some(state)),
            None => (plan.clone(), None),
        };
        let (cuts_tx, cuts) = tokio::sync::mpsc::unbounded_channel();
        let job = Arc::new(tidewater_runtime::checkpoint::JobCheckpoint::new(
            runtime.local_workers(),
            state,
            cuts_tx,
        ));
        let handle = runtime.submit_job(&run, Arc::clone(&job))?;
        let workers = plan.config.workers(runtime.peers());
        let checkpointer = JobCheckpointer::start(
            Arc::clone(&self.store),
            self.view,
            job,
            cuts,
            plan,
            workers,
            next_seq,
        );
        Ok(JobRun {
            handle,
            checkpointer: Some(checkpointer),
        })
    }
}

/// Watches a run until it fails; returns its error. A run that finishes
/// marks the job finished, has its final state checkpointed, and is kept
/// (with its progress) until the job is dropped: this never returns then.
async fn watch(run: &mut JobRun, shared: &JobShared) -> String {
    loop {
        match run.handle.next().await {
            QueryEvent::Batch(_) => {}
            QueryEvent::Done => {
                *shared.state.lock() = JobState::Finished;
                if let Some(c) = run.checkpointer.as_ref() {
                    c.job.request();
                }
                std::future::pending::<()>().await;
            }
            QueryEvent::Error(e) => return e.message,
        }
    }
}

/// Supervises a job from its first run (see the module docs).
async fn supervise(
    name: String,
    shared: Arc<JobShared>,
    launcher: Arc<JobLauncher>,
    first: JobRun,
) {
    let mut run = first;
    let mut in_a_row = 0u64;
    loop {
        let since = Instant::now();
        let mut error = watch(&mut run, &shared).await;
        // Cancel the failed run (and its checkpointing) before the next.
        drop(run);
        *shared.checkpointer.lock() = None;
        launcher.runtime.views().seal(launcher.view);
        if since.elapsed() >= HEALTHY_RUN {
            in_a_row = 0;
        }
        run = loop {
            if in_a_row >= MAX_RESTARTS {
                tracing::warn!(view = %name, error = %error, "materialized view failed");
                *shared.state.lock() = JobState::Failed(error.clone());
                std::future::pending::<()>().await;
            }
            let backoff = RESTART_BACKOFF * 2u32.pow(in_a_row.min(16) as u32);
            in_a_row += 1;
            tracing::warn!(view = %name, error = %error, ?backoff, "materialized view failed; restarting it");
            *shared.state.lock() = JobState::Restarting(error.clone());
            tokio::time::sleep(backoff).await;
            match launcher.launch().await {
                Ok(run) => break run,
                Err(e) => error = e.message,
            }
        };
        shared.restarts.fetch_add(1, Ordering::Relaxed);
        *shared.progress.lock() = run.handle.progress();
        *shared.checkpointer.lock() = run.checkpointer.clone();
        *shared.state.lock() = JobState::Running;
    }
}

/// A subscription being read by a session.
#[derive(Debug)]
struct Subscription {
    name: String,
    started: SystemTime,
    progress: Arc<SourceProgress>,
}

/// Keeps a subscription listed; dropping it (with the subscription's rows)
/// removes it.
#[derive(Debug)]
pub struct SubscriptionGuard {
    id: u64,
    subscriptions: Arc<Mutex<BTreeMap<u64, Subscription>>>,
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.subscriptions.lock().remove(&self.id);
    }
}

/// What kind of dataflow a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// A materialized view's.
    MaterializedView,
    /// A session's subscription.
    Subscription,
}

impl JobKind {
    /// The kind's name in `SHOW JOBS`.
    pub fn name(self) -> &'static str {
        match self {
            JobKind::MaterializedView => "materialized view",
            JobKind::Subscription => "subscription",
        }
    }
}

/// A job as `SHOW JOBS` lists it.
#[derive(Debug, Clone)]
pub struct JobInfo {
    /// What it is.
    pub kind: JobKind,
    /// The view's object id (a subscription's own number).
    pub view: u64,
    /// The view's qualified name.
    pub name: String,
    /// When the job started.
    pub started: SystemTime,
    /// Its state.
    pub state: JobState,
    /// Rows its sources have read in this process.
    pub rows_in: u64,
    /// Rows its window operators dropped as late in this process.
    pub late_rows: u64,
    /// Runs started after a failure.
    pub restarts: u64,
    /// The workers that run it (0 for a subscription: the session's query).
    pub parallelism: usize,
}

/// Every job of the server.
#[derive(Debug, Default)]
pub struct Jobs {
    jobs: Mutex<BTreeMap<u64, Job>>,
    subscriptions: Arc<Mutex<BTreeMap<u64, Subscription>>>,
    /// The number of the next subscription (from 1).
    next_subscription: AtomicU64,
}

impl Jobs {
    /// Registers `run` as the job of view `view`, supervised by a task on
    /// the current tokio runtime that restarts it with `launcher` when it
    /// fails (see the module docs).
    pub fn start(&self, view: u64, name: String, launcher: Arc<JobLauncher>, run: JobRun) {
        let shared = Arc::new(JobShared {
            state: Mutex::new(JobState::Running),
            progress: Mutex::new(run.handle.progress()),
            checkpointer: Mutex::new(run.checkpointer.clone()),
            restarts: AtomicU64::new(0),
        });
        let parallelism = launcher.plan.config.workers(launcher.runtime.peers());
        let task = tokio::spawn(supervise(name.clone(), Arc::clone(&shared), launcher, run));
        let job = Job {
            name,
            parallelism,
            started: SystemTime::now(),
            shared,
            task,
        };
        if let Some(old) = self.jobs.lock().insert(view, job) {
            old.task.abort();
        }
    }

    /// Stops the job of `view`, if it has one, and returns once its run is
    /// canceled and its checkpoint writer has stopped (nothing of it
    /// writes any more).
    pub async fn stop_and_wait(&self, view: u64) {
        let Some(job) = self.jobs.lock().remove(&view) else {
            return;
        };
        job.task.abort();
        let _ = job.task.await;
        let checkpointer = job.shared.checkpointer.lock().take();
        if let Some(c) = checkpointer {
            c.stop().await;
        }
    }

    /// The checkpointing of `view`'s current run, when it is checkpointed.
    pub fn checkpointer(&self, view: u64) -> Option<Arc<JobCheckpointer>> {
        self.jobs
            .lock()
            .get(&view)
            .and_then(|j| j.shared.checkpointer.lock().clone())
    }

    /// Stops the job of `view`, if it has one.
    pub fn stop(&self, view: u64) {
        if let Some(job) = self.jobs.lock().remove(&view) {
            job.task.abort();
        }
    }

    /// Stops the jobs whose view is not in `views` (dropped, or dropped
    /// with its schema).
    /// Returns them with their checkpointing (to stop before their
    /// checkpoints are deleted).
    pub fn retain(&self, views: &[u64]) -> Vec<(u64, Option<Arc<JobCheckpointer>>)> {
        let mut jobs = self.jobs.lock();
        let gone: Vec<u64> = jobs
            .keys()
            .filter(|v| !views.contains(v))
            .copied()
            .collect();
        let mut out = Vec::new();
        for view in gone {
            if let Some(job) = jobs.remove(&view) {
                job.task.abort();
                out.push((view, job.shared.checkpointer.lock().take()));
            }
        }
        out
    }

    /// The checkpointed jobs: view, name and checkpointing, by view id.
    pub fn checkpointers(&self) -> Vec<(u64, String, Arc<JobCheckpointer>)> {
        self.jobs
            .lock()
            .iter()
            .filter_map(|(view, job)| {
                job.shared
                    .checkpointer
                    .lock()
                    .as_ref()
                    .map(|c| (*view, job.name.clone(), Arc::clone(c)))
            })
            .collect()
    }

    /// Lists a subscription of `user`'s session until the guard is dropped.
    pub fn track_subscription(
        &self,
        user: &str,
        progress: Arc<SourceProgress>,
    ) -> SubscriptionGuard {
        let id = self.next_subscription.fetch_add(1, Ordering::Relaxed);
        self.subscriptions.lock().insert(
            id,
            Subscription {
                name: format!("subscription {id} ({user})"),
                started: SystemTime::now(),
                progress,
            },
        );
        SubscriptionGuard {
            id,
            subscriptions: Arc::clone(&self.subscriptions),
        }
    }

    /// Every job: the views' by view id, then the subscriptions.
    pub fn list(&self) -> Vec<JobInfo> {
        let mut out: Vec<JobInfo> = self
            .jobs
            .lock()
            .iter()
            .map(|(view, job)| {
                // One lock at a time: a guard in a field lives to the end
                // of the struct expression.
                let progress = Arc::clone(&job.shared.progress.lock());
                JobInfo {
                    kind: JobKind::MaterializedView,
                    view: *view,
                    name: job.name.clone(),
                    started: job.started,
                    state: job.shared.state.lock().clone(),
                    rows_in: progress.rows_in(),
                    late_rows: progress.late_rows(),
                    restarts: job.shared.restarts.load(Ordering::Relaxed),
                    parallelism: job.parallelism,
                }
            })
            .collect();
        out.extend(self.subscriptions.lock().iter().map(|(id, sub)| JobInfo {
            kind: JobKind::Subscription,
            view: *id,
            name: sub.name.clone(),
            started: sub.started,
            state: JobState::Running,
            rows_in: sub.progress.rows_in(),
            late_rows: sub.progress.late_rows(),
            restarts: 0,
            parallelism: 0,
        }));
        out
    }

    /// Waits until every running job's view reflects all the rows its
    /// sources had committed when this call began (for generators: up to
    /// their epoch then). Views are flushed in creation order, so a view
    /// over another view is flushed after it.
    ///
    /// # Errors
    ///
    /// When a view does not catch up within [`FLUSH_TIMEOUT`].
    pub async fn flush(&self, views: &ViewStore) -> SqlResult<()> {
        let targets: Vec<(u64, String, Arc<JobShared>)> = self
            .jobs
            .lock()
            .iter()
            .map(|(v, j)| (*v, j.name.clone(), Arc::clone(&j.shared)))
            .collect();
        for (view, name, shared) in targets {
            let progress = Arc::clone(&shared.progress.lock());
            let state = &shared.state;
            let since = Instant::now();
            let deadline = tokio::time::Instant::now() + FLUSH_TIMEOUT;
            let timed_out = || {
                SqlError::new(
                    "57014",
                    format!("FLUSH timed out waiting for materialized view {name}"),
                )
            };
            // The epoch holding everything the sources owed at `since`.
            let epoch = loop {
                if *state.lock() != JobState::Running {
                    break None;
                }
                if let Some(e) = progress.caught_up_since(since) {
                    break Some(e);
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(timed_out());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            };
            let Some(epoch) = epoch else { continue };
            // Every part of the view has published that epoch.
            for (_, part) in views.local_parts(view) {
                let mut frontier = part.watch_frontier();
                let reached = tokio::time::timeout_at(
                    deadline,
                    frontier.wait_for(|f| *f > epoch || part.is_dropped()),
                )
                .await;
                match reached {
                    Ok(Ok(_)) => {}
                    Ok(Err(_)) => {}
                    Err(_) if *state.lock() != JobState::Running => {}
                    Err(_) => return Err(timed_out()),
                }
            }
        }
        Ok(())
    }
}
