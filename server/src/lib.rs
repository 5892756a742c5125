//! Tidewater server: sessions, catalog and protocol front ends.
//!
//! [`Server::start`] opens the catalog in the data directory, starts the
//! worker pool and the protocol listeners. Each protocol adapter ([`pg`]
//! for the Postgres wire protocol) is thin: it turns messages into calls on
//! the protocol-independent [`session::Session`] and results back into its
//! wire format.

pub mod catalog;
pub mod checkpoint;
pub mod config;
pub mod error;
pub mod jobs;
pub mod pg;
pub mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tidewater_runtime::pool::{ClusterConfig, Runtime, RuntimeConfig};
use tokio_util::sync::CancellationToken;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::session::ServerState;

/// A running server.
#[derive(Debug)]
pub struct Server {
    state: Option<Arc<ServerState>>,
    runtime: Arc<Runtime>,
    pg_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The threads that run client sessions (process 0 only).
    sessions: Option<SessionThreads>,
    /// The exclusive lock on the data directory (process 0 only).
    _data_dir_lock: Option<std::fs::File>,
}

/// Stack size of a session thread. Sessions parse, plan and lower
/// statements, and keep and drop their trees, recursively; the planner
/// admits statements up to `MAX_NESTING` levels deep
/// ([`tidewater_planner::parse::MAX_NESTING`]), and a thread's stack must
/// hold the deepest walk of such a tree. The stack is reserved address
/// space, used only as deep as a statement needs.
const SESSION_STACK_BYTES: usize = 256 << 20;

/// Starts the job of every materialized view in the catalog, in creation
/// order (a view over another view after it), on the session threads. A
/// view whose job cannot start is logged and left without one (`SHOW
/// JOBS` does not list it; reading it fails until it is dropped).
async fn restart_views(state: &Arc<ServerState>, handle: &tokio::runtime::Handle) {
    let mut views = Vec::new();
    let catalog = state.catalog.state();
    for (db_name, db) in &catalog.databases {
        for (schema_name, schema) in &db.schemas {
            for (name, rel) in &schema.relations {
                if let catalog::RelationKind::MaterializedView {
                    sql, parallelism, ..
                } = &rel.kind
                {
                    views.push((
                        rel.oid,
                        db_name.clone(),
                        format!("{db_name}.{schema_name}.{name}"),
                        sql.clone(),
                        *parallelism,
                    ));
                }
            }
        }
    }
    views.sort_by_key(|v| v.0);
    for (oid, database, name, sql, parallelism) in views {
        let state = Arc::clone(state);
        let started = handle
            .spawn(async move {
                let session = session::Session::new(state, "tidewater", &database)?;
                session
                    .restart_view_job(u64::from(oid), &name, &sql, parallelism)
                    .await?;
                Ok::<_, error::SqlError>(name)
            })
            .await;
        match started {
            Ok(Ok(name)) => tracing::info!(view = %name, "materialized view started"),
            Ok(Err(e)) => tracing::error!(oid, error = %e, "cannot start a materialized view"),
            Err(e) => tracing::error!(oid, error = %e, "starting a materialized view panicked"),
        }
    }
}

/// The tokio runtime on which every client connection runs: its own
/// threads, with [`SESSION_STACK_BYTES`] stacks, whatever runtime started
/// the server.
#[derive(Debug)]
struct SessionThreads(Option<tokio::runtime::Runtime>);

impl SessionThreads {
    fn start(threads: usize) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("tidewater-session")
            .thread_stack_size(SESSION_STACK_BYTES)
            .enable_all()
            .build()
            .context("cannot start the session threads")?;
        Ok(Self(Some(runtime)))
    }

    fn handle(&self) -> Option<&tokio::runtime::Handle> {
        self.0.as_ref().map(tokio::runtime::Runtime::handle)
    }
}

impl Drop for SessionThreads {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which an async caller may not do.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Takes the exclusive lock on `data_dir` (created when missing), so that
/// two servers never write one data directory. The operating system
/// releases it when the process exits, however it exits.
fn lock_data_dir(data_dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let path = data_dir.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "the data directory {} is in use by another tidewater process",
            data_dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Reads the cluster hosts file: one `host:port` per line (blank lines and
/// `#` comments ignored).
fn read_hosts(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read cluster hosts file {}", path.display()))?;
    let hosts: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    anyhow::ensure!(
        !hosts.is_empty(),
        "cluster hosts file {} lists no hosts",
        path.display()
    );
    Ok(hosts)
}

impl Server {
    /// Starts the server. In a cluster, process 0 serves clients; the other
    /// processes only run workers (see [`Server::is_leader`]).
    ///
    /// # Errors
    ///
    /// Bad configuration, an unusable data directory, or a listener that
    /// cannot bind.
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        config.validate()?;
        let cluster = match &config.cluster {
            Some(c) => {
                let addresses = read_hosts(&c.hosts_file)?;
                anyhow::ensure!(
                    c.process < addresses.len(),
                    "process index {} is not below the number of hosts ({})",
                    c.process,
                    addresses.len()
                );
                Some(ClusterConfig {
                    addresses,
                    process: c.process,
                })
            }
            None => None,
        };
        let leader = cluster.as_ref().is_none_or(|c| c.process == 0);
        let connectors = Arc::new(tidewater_connectors::registry());
        let runtime_config = RuntimeConfig {
            workers: config.workers,
            cluster,
            // As many local instances as workers: small queries of many
            // sessions then use the cores the pool would.
            local_workers: config.workers,
            ..RuntimeConfig::default()
        };
        let runtime = {
            let connectors = Arc::clone(&connectors);
            tokio::task::spawn_blocking(move || Runtime::start(runtime_config, connectors))
                .await
                .context("worker pool startup panicked")??
        };
        let runtime = Arc::new(runtime);
        tracing::info!(
            workers = config.workers,
            peers = runtime.peers(),
            "worker pool ready"
        );
        let shutdown = CancellationToken::new();
        if !leader {
            return Ok(Self {
                state: None,
                runtime,
                pg_addr: None,
                shutdown,
                tasks: Vec::new(),
                sessions: None,
                _data_dir_lock: None,
            });
        }

        let lock = lock_data_dir(&config.data_dir)?;
        let catalog = Catalog::open(&config.data_dir, connectors).map_err(|e| {
            anyhow::anyhow!(
                "cannot open the catalog in {}: {e}",
                config.data_dir.display()
            )
        })?;
        let sessions =
            SessionThreads::start(std::thread::available_parallelism().map_or(2, |n| n.get()))?;
        let handle = sessions.handle().context("session threads")?.clone();
        let state = Arc::new(ServerState {
            catalog: Arc::new(catalog),
            runtime: Arc::clone(&runtime),
            query_memory_limit_mb: config.query_memory_limit_mb,
            jobs: Arc::new(jobs::Jobs::default()),
            checkpoints: Arc::new(
                checkpoint::CheckpointStore::open(
                    &config.data_dir,
                    &config.checkpoint_store()?,
                    config.checkpoint_settings()?,
                )
                .map_err(|e| anyhow::anyhow!("{}", e.message))?,
            ),
        });
        restart_views(&state, &handle).await;
        let listener = std::net::TcpListener::bind(config.pg_listen)
            .with_context(|| format!("cannot listen for pg clients on {}", config.pg_listen))?;
        listener.set_nonblocking(true)?;
        let pg_addr = listener.local_addr()?;
        tracing::info!(address = %pg_addr, data_dir = %config.data_dir.display(), "pg wire protocol listening");
        let task = {
            let state = Arc::clone(&state);
            let shutdown = shutdown.clone();
            handle.spawn(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => pg::serve(listener, state, shutdown).await,
                    Err(e) => tracing::error!(error = %e, "cannot serve pg clients"),
                }
            })
        };
        Ok(Self {
            state: Some(state),
            runtime,
            pg_addr: Some(pg_addr),
            shutdown,
            tasks: vec![task],
            sessions: Some(sessions),
            _data_dir_lock: Some(lock),
        })
    }

    /// Whether this process serves clients (process 0).
    pub fn is_leader(&self) -> bool {
        self.state.is_some()
    }

    /// The address of the pg listener.
    pub fn pg_addr(&self) -> Option<SocketAddr> {
        self.pg_addr
    }

    /// Waits until a follower's workers are stopped by the leader.
    pub async fn wait_follower(&self) {
        let runtime = Arc::clone(&self.runtime);
        let _ = tokio::task::spawn_blocking(move || runtime.join()).await;
    }

    /// Stops listeners, then the worker pool.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        self.state = None;
        self.sessions = None;
        let runtime = Arc::clone(&self.runtime);
        let _ = tokio::task::spawn_blocking(move || runtime.shutdown()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_directory_is_locked_by_one_server_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = lock_data_dir(&data).unwrap();
        let err = lock_data_dir(&data).unwrap_err().to_string();
        assert!(err.contains("in use by another tidewater process"), "{err}");
        drop(first);
        lock_data_dir(&data).unwrap();
    }
}
