//! Jobs: the dataflows of materialized views, which outlive the sessions
//! that create them.
//!
//! The registry holds one job per materialized view, by the view's object
//! id (which is also the view's id in the runtime's
//! [`ViewStore`](tidewater_runtime::view::ViewStore)). A job's query handle
//! lives in a task that watches its events: an error marks the job failed
//! (`SHOW JOBS` shows it), the end of a bounded input marks it finished
//! (its view stays readable). Dropping the view stops the job: the task is
//! aborted, which drops the handle, which cancels the dataflow. At
//! start-up the server starts every view's job again (see
//! [`crate::Server::start`]).
//!
//! Subscriptions (`SUBSCRIBE`) are listed too, for as long as their
//! session reads them ([`Jobs::track_subscription`]); they are not
//! restarted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use tidewater_runtime::pool::{QueryEvent, QueryHandle};
use tidewater_runtime::progress::SourceProgress;
use tidewater_runtime::view::ViewStore;

use crate::checkpoint::JobCheckpointer;
use crate::error::{SqlError, SqlResult};

/// How long `FLUSH` waits for one view.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// What a job is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Its dataflow runs.
    Running,
    /// Its inputs ended; the view holds its final rows.
    Finished,
    /// It failed with this error; the view keeps the rows it had.
    Failed(String),
}

impl JobState {
    /// The state's name in `SHOW JOBS`.
    pub fn name(&self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Finished => "finished",
            JobState::Failed(_) => "failed",
        }
    }
}

#[derive(Debug)]
struct Job {
    name: String,
    started: SystemTime,
    state: Arc<Mutex<JobState>>,
    progress: Arc<SourceProgress>,
    task: tokio::task::JoinHandle<()>,
    /// Its checkpointing, when it is checkpointed.
    checkpointer: Option<Arc<JobCheckpointer>>,
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
}

/// Every job of the server.
#[derive(Debug, Default)]
pub struct Jobs {
    jobs: Mutex<BTreeMap<u64, Job>>,
    subscriptions: Arc<Mutex<BTreeMap<u64, Subscription>>>,
    /// The number of the next subscription (from 1).
    next_subscription: std::sync::atomic::AtomicU64,
}

impl Jobs {
    /// Registers the running query `handle` as the job of view `view`,
    /// watched by a task on the current tokio runtime, checkpointed by
    /// `checkpointer` when given.
    pub fn start(
        &self,
        view: u64,
        name: String,
        handle: QueryHandle,
        checkpointer: Option<Arc<JobCheckpointer>>,
    ) {
        let state = Arc::new(Mutex::new(JobState::Running));
        let progress = handle.progress();
        let task = {
            let state = Arc::clone(&state);
            let name = name.clone();
            let checkpointer = checkpointer.clone();
            tokio::spawn(async move {
                let mut handle = handle;
                loop {
                    match handle.next().await {
                        QueryEvent::Batch(_) => {}
                        QueryEvent::Done => {
                            *state.lock() = JobState::Finished;
                            // The final state, checkpointed at once.
                            if let Some(c) = checkpointer.as_ref() {
                                c.job.request();
                            }
                            // Keep the handle (and the progress) until the
                            // job is dropped.
                            std::future::pending::<()>().await;
                        }
                        QueryEvent::Error(e) => {
                            tracing::warn!(view = %name, error = %e, "materialized view failed");
                            *state.lock() = JobState::Failed(e.message);
                            std::future::pending::<()>().await;
                        }
                    }
                }
            })
        };
        let job = Job {
            name,
            started: SystemTime::now(),
            state,
            progress,
            task,
            checkpointer,
        };
        if let Some(old) = self.jobs.lock().insert(view, job) {
            old.task.abort();
        }
    }

    /// Stops the job of `view`, if it has one.
    pub fn stop(&self, view: u64) {
        if let Some(job) = self.jobs.lock().remove(&view) {
            job.task.abort();
        }
    }

    /// Stops the jobs whose view is not in `views` (dropped, or dropped
    /// with its schema).
    pub fn retain(&self, views: &[u64]) -> Vec<u64> {
        let mut jobs = self.jobs.lock();
        let gone: Vec<u64> = jobs
            .keys()
            .filter(|v| !views.contains(v))
            .copied()
            .collect();
        for view in &gone {
            if let Some(job) = jobs.remove(view) {
                job.task.abort();
            }
        }
        gone
    }

    /// The checkpointed jobs: view, name and checkpointing, by view id.
    pub fn checkpointers(&self) -> Vec<(u64, String, Arc<JobCheckpointer>)> {
        self.jobs
            .lock()
            .iter()
            .filter_map(|(view, job)| {
                job.checkpointer
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
        let id = self
            .next_subscription
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
            .map(|(view, job)| JobInfo {
                kind: JobKind::MaterializedView,
                view: *view,
                name: job.name.clone(),
                started: job.started,
                state: job.state.lock().clone(),
                rows_in: job.progress.rows_in(),
                late_rows: job.progress.late_rows(),
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
        type Target = (u64, String, Arc<SourceProgress>, Arc<Mutex<JobState>>);
        let targets: Vec<Target> = self
            .jobs
            .lock()
            .iter()
            .map(|(v, j)| {
                (
                    *v,
                    j.name.clone(),
                    Arc::clone(&j.progress),
                    Arc::clone(&j.state),
                )
            })
            .collect();
        for (view, name, progress, state) in targets {
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
