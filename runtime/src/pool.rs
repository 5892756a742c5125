//! The worker pool: long-lived timely workers that build, run and cancel
//! queries on command.
//!
//! Commands enter at worker 0 of process 0 (the *leader*). The leader feeds
//! them into a small command dataflow that broadcasts them to every worker in
//! every process; each command carries its own epoch, and a worker acts on a
//! command only once the frontier has passed it, so all workers build and
//! cancel dataflows in the same order. Query results are gathered on worker 0
//! and sent to the [`QueryHandle`] through a channel, so nothing but timely's
//! own exchange crosses process boundaries.
//!
//! Beside the pool, the leader process runs a few *local* instances: timely
//! instances of one worker each, with the same command loop. A query placed
//! on one of them ([`Placement::Local`]) reads all its input on that worker,
//! with no exchange and no progress traffic between workers; for a short
//! query (a point lookup, `SELECT 1`, a catalog query) that coordination is
//! most of its cost, and local instances run such queries side by side
//! instead of one after another through the pool's command log.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::Duration;

use arrow::array::RecordBatch;
use crossbeam_channel::{Receiver, Sender};
// Locks that cannot be poisoned: a panic on one thread must not make the
// pool unusable for every later query.
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use timely::WorkerConfig;
use timely::communication::Config as CommunicationConfig;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::InputHandle;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Input;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Broadcast;
use timely::worker::Worker;

use crate::error::{Error, QueryError, Result, SqlState};
use crate::input::{InputSender, Inputs};
use crate::memory::MemoryBudget;
use crate::plan::DataflowPlan;
use crate::progress::{ProgressStore, SourceProgress};
use crate::render::{QueryShared, build_query};
use crate::source::{ConnectorRegistry, SourceContext};
use crate::view::ViewStore;

/// Settings of the worker pool.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Worker threads in this process.
    pub workers: usize,
    /// Set when this process is one of a cluster.
    pub cluster: Option<ClusterConfig>,
    /// How often sources start a new epoch.
    pub epoch_interval: Duration,
    /// Single-worker instances for [`Placement::Local`] queries, started
    /// on the leader process only (0: local queries run on the pool).
    pub local_workers: usize,
}

/// Where a query runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// On every worker of the pool (every process of a cluster), its data
    /// exchanged between them.
    Distributed,
    /// On one single-worker local instance of the leader process, the
    /// least busy one: the whole input is read by that worker.
    Local,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            workers: cores,
            cluster: None,
            epoch_interval: Duration::from_millis(100),
            local_workers: cores,
        }
    }
}

/// Membership of a timely cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `host:port` of every process, in process order.
    pub addresses: Vec<String>,
    /// Index of this process.
    pub process: usize,
}

/// What a query sends to its client.
#[derive(Debug)]
pub enum QueryEvent {
    /// Result rows.
    Batch(RecordBatch),
    /// The query failed (no more events follow).
    Error(QueryError),
    /// The query completed (no more events follow).
    Done,
}

/// The channel a query's sink sends its events to.
pub(crate) type ResultSender = tokio::sync::mpsc::Sender<QueryEvent>;

/// Result events a query may have waiting for its client; when they are not
/// taken, the sink and then the sources wait (see `MAX_EPOCHS_AHEAD`).
const RESULT_QUEUE: usize = 64;

/// A command every worker executes in the same order.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Command {
    /// Build the dataflow of a query.
    Build { id: u64, plan: Vec<u8> },
    /// Cancel a query.
    Cancel { id: u64 },
    /// Stop a query's sources: its result is complete.
    Finish { id: u64 },
    /// Stop the worker.
    Shutdown,
}

/// A request from the server to the leader worker.
#[derive(Debug)]
enum Request {
    Build {
        id: u64,
        plan: Vec<u8>,
        results: ResultSender,
    },
    Cancel {
        id: u64,
    },
    Shutdown,
}

#[derive(Debug)]
struct Shared {
    requests: Sender<Request>,
    leader: Mutex<Option<Thread>>,
    next_id: AtomicU64,
    stopped: AtomicBool,
    is_leader: bool,
    peers: usize,
    processes: usize,
    /// Inputs opened for queries not yet built.
    inputs: Inputs,
    /// Queries submitted whose handles are still alive (to find the least
    /// busy local instance).
    running: AtomicUsize,
    /// How far the sources of running queries have read.
    progress: Arc<ProgressStore>,
    /// The checkpoint coordination of checkpointed jobs.
    checkpoints: Arc<crate::checkpoint::CheckpointRegistry>,
}

impl Shared {
    fn send(&self, request: Request) -> Result<()> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(Error::Unavailable("the runtime has shut down".into()));
        }
        self.requests
            .send(request)
            .map_err(|_| Error::Unavailable("the worker pool has stopped".into()))?;
        if let Some(t) = self.leader.lock().as_ref() {
            t.unpark();
        }
        Ok(())
    }
}

/// Stack size of a worker thread. Workers build and evaluate expression
/// trees as deep as the planner admits (`MAX_NESTING` levels), recursively;
/// the stack is reserved address space, used only as deep as a query needs.
const WORKER_STACK_BYTES: usize = 256 << 20;

/// This process's worker threads, and the communication threads behind
/// them (kept until the workers are joined).
struct WorkerThreads {
    workers: Vec<std::thread::JoinHandle<()>>,
    _communication: Box<dyn std::any::Any + Send>,
}

impl std::fmt::Debug for WorkerThreads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WorkerThreads({})", self.workers.len())
    }
}

/// Starts the timely workers of `communication`, each on a thread with a
/// [`WORKER_STACK_BYTES`] stack running `logic` (what `timely::execute`
/// does, but with the stack size set).
fn spawn_workers(
    communication: CommunicationConfig,
    thread_name: &str,
    logic: impl Fn(&mut Worker) + Send + Sync + 'static,
) -> Result<WorkerThreads> {
    let (builders, others) = communication.try_build().map_err(Error::Unavailable)?;
    let logic = Arc::new(logic);
    let mut workers = Vec::with_capacity(builders.len());
    for (index, builder) in builders.into_iter().enumerate() {
        let logic = Arc::clone(&logic);
        let handle = std::thread::Builder::new()
            .name(format!("{thread_name}-{index}"))
            .stack_size(WORKER_STACK_BYTES)
            .spawn(move || {
                let allocator = build_allocator(builder);
                let mut worker = Worker::new(
                    WorkerConfig::default(),
                    allocator,
                    Some(std::time::Instant::now()),
                );
                logic(&mut worker);
            })
            .map_err(|e| Error::Unavailable(format!("cannot start a worker thread: {e}")))?;
        workers.push(handle);
    }
    Ok(WorkerThreads {
        workers,
        _communication: others,
    })
}

/// The allocator of one worker thread, built on that thread (timely keeps
/// its own builder trait private; these are its three cases).
fn build_allocator(
    builder: timely::communication::AllocatorBuilder,
) -> timely::communication::Allocator {
    use timely::communication::{Allocator, AllocatorBuilder};
    match builder {
        AllocatorBuilder::Thread(_) => Allocator::Thread(Default::default()),
        AllocatorBuilder::Process(p) => Allocator::Process(p.build()),
        AllocatorBuilder::Tcp(t) => Allocator::Tcp(t.build()),
    }
}

/// The worker pool and the local instances beside it.
#[derive(Debug)]
pub struct Runtime {
    pool: Instance,
    local: Vec<Instance>,
    /// The parts of materialized views held by this process's workers.
    views: Arc<ViewStore>,
}

impl Runtime {
    /// Starts the workers of this process, and on the leader its local
    /// instances. In a cluster, this blocks until all processes are
    /// connected.
    ///
    /// # Errors
    ///
    /// Fails when timely cannot set up communication (for example an
    /// address in use).
    pub fn start(config: RuntimeConfig, connectors: Arc<ConnectorRegistry>) -> Result<Self> {
        let views = Arc::new(ViewStore::default());
        let pool = Instance::start(
            &config,
            Arc::clone(&connectors),
            Arc::clone(&views),
            "tidewater-worker",
        )?;
        // Built before the local instances, so that a failure to start one
        // stops (on drop) what did start.
        let mut runtime = Self {
            pool,
            local: Vec::new(),
            views: Arc::clone(&views),
        };
        if runtime.pool.shared.is_leader {
            let single = RuntimeConfig {
                workers: 1,
                cluster: None,
                ..config.clone()
            };
            for i in 0..config.local_workers {
                let name = format!("tidewater-local{i}");
                let instance =
                    Instance::start(&single, Arc::clone(&connectors), Arc::clone(&views), &name)?;
                runtime.local.push(instance);
            }
        }
        Ok(runtime)
    }

    /// Number of workers in the cluster.
    pub fn peers(&self) -> usize {
        self.pool.shared.peers
    }

    /// Number of processes in the cluster.
    pub fn processes(&self) -> usize {
        self.pool.shared.processes
    }

    /// Worker threads of the pool in this process.
    pub fn local_workers(&self) -> usize {
        self.pool.shared.peers / self.pool.shared.processes.max(1)
    }

    /// The materialized view parts this process's workers hold.
    pub fn views(&self) -> &Arc<ViewStore> {
        &self.views
    }

    /// Starts a query on the pool. Results arrive through the returned
    /// handle.
    ///
    /// # Errors
    ///
    /// Fails when this process is not the leader or the pool has stopped.
    pub fn submit(&self, plan: &DataflowPlan) -> Result<QueryHandle> {
        self.submit_on(plan, Placement::Distributed)
    }

    /// Starts a query where `placement` says (on the pool when there are no
    /// local instances).
    ///
    /// # Errors
    ///
    /// Fails when this process is not the leader or the runtime has
    /// stopped.
    pub fn submit_on(&self, plan: &DataflowPlan, placement: Placement) -> Result<QueryHandle> {
        let instance = match placement {
            Placement::Distributed => &self.pool,
            Placement::Local => self
                .local
                .iter()
                .min_by_key(|i| i.shared.running.load(Ordering::Relaxed))
                .unwrap_or(&self.pool),
        };
        instance.submit(plan)
    }

    /// Starts a checkpointed job on the pool of this single-process
    /// runtime: its workers share `checkpoint` (see [`crate::checkpoint`]).
    ///
    /// # Errors
    ///
    /// As [`Self::submit_on`]; a multi-process cluster cannot checkpoint.
    pub fn submit_job(
        &self,
        plan: &DataflowPlan,
        checkpoint: Arc<crate::checkpoint::JobCheckpoint>,
    ) -> Result<QueryHandle> {
        if self.processes() > 1 {
            return Err(Error::Unavailable(
                "checkpointed jobs run in a single process".into(),
            ));
        }
        self.pool.submit_with(plan, Some(checkpoint))
    }

    /// Opens an input for a query about to be submitted to the pool: its
    /// plan reads it with [`NodeKind::Input`](crate::plan::NodeKind::Input)
    /// `{ id }`, and the returned sender feeds it (see [`crate::input`]).
    pub fn open_input(&self) -> (u64, InputSender) {
        self.pool.open_input()
    }

    /// Stops every worker (in every process, when run by the leader) and
    /// waits for this process's workers to exit.
    pub fn shutdown(&self) {
        self.pool.shutdown();
        for instance in &self.local {
            instance.shutdown();
        }
    }

    /// Waits until this process's workers exit (followers run until the
    /// leader shuts the cluster down).
    pub fn join(&self) {
        self.pool.join();
        for instance in &self.local {
            instance.join();
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// One timely instance: its workers in this process, fed by the leader.
#[derive(Debug)]
struct Instance {
    shared: Arc<Shared>,
    guards: Mutex<Option<WorkerThreads>>,
}

impl Instance {
    fn start(
        config: &RuntimeConfig,
        connectors: Arc<ConnectorRegistry>,
        views: Arc<ViewStore>,
        thread_name: &str,
    ) -> Result<Self> {
        let workers = config.workers.max(1);
        let (communication, process, processes) = match &config.cluster {
            None if workers == 1 => (CommunicationConfig::Thread, 0, 1),
            None => (CommunicationConfig::Process(workers), 0, 1),
            Some(c) => (
                CommunicationConfig::Cluster {
                    threads: workers,
                    process: c.process,
                    addresses: c.addresses.clone(),
                    report: false,
                    zerocopy: false,
                },
                c.process,
                c.addresses.len(),
            ),
        };
        let (tx, rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            requests: tx,
            leader: Mutex::new(None),
            next_id: AtomicU64::new(1),
            stopped: AtomicBool::new(false),
            is_leader: process == 0,
            peers: workers * processes,
            processes,
            inputs: Inputs::default(),
            running: AtomicUsize::new(0),
            progress: Arc::new(ProgressStore::default()),
            checkpoints: Arc::default(),
        });
        let progress = Arc::clone(&shared.progress);
        let checkpoints = Arc::clone(&shared.checkpoints);
        let inputs = shared.inputs.clone();
        let (ready_tx, ready_rx) = crossbeam_channel::bounded::<Thread>(1);
        let epoch_interval = config.epoch_interval;
        let logic = move |worker: &mut Worker| {
            let place = SourceContext {
                worker_index: worker.index(),
                peers: worker.peers(),
                process,
                workers_per_process: workers,
                batch_size: 8192,
            };
            if worker.index() == 0 {
                let _ = ready_tx.send(std::thread::current());
            }
            let rx = (worker.index() == 0).then(|| rx.clone());
            let inputs = (worker.index() == 0).then(|| inputs.clone());
            let services = Services {
                connectors: Arc::clone(&connectors),
                views: Arc::clone(&views),
                progress: Arc::clone(&progress),
                checkpoints: Arc::clone(&checkpoints),
                epoch_interval,
            };
            run_worker(worker, place, rx, services, inputs);
        };
        let guards = spawn_workers(communication, thread_name, logic)?;
        if process == 0 {
            let leader = ready_rx
                .recv_timeout(Duration::from_secs(60))
                .map_err(|_| Error::Unavailable("worker 0 did not start".into()))?;
            *shared.leader.lock() = Some(leader);
        }
        Ok(Self {
            shared,
            guards: Mutex::new(Some(guards)),
        })
    }

    fn submit(&self, plan: &DataflowPlan) -> Result<QueryHandle> {
        self.submit_with(plan, None)
    }

    fn submit_with(
        &self,
        plan: &DataflowPlan,
        checkpoint: Option<Arc<crate::checkpoint::JobCheckpoint>>,
    ) -> Result<QueryHandle> {
        let inputs: Vec<u64> = plan
            .nodes
            .iter()
            .filter_map(|n| match n.kind {
                crate::plan::NodeKind::Input { id } => Some(id),
                _ => None,
            })
            .collect();
        let forget = |inputs: &[u64]| inputs.iter().for_each(|i| self.shared.inputs.forget(*i));
        if !self.shared.is_leader {
            forget(&inputs);
            return Err(Error::Unavailable("only process 0 accepts queries".into()));
        }
        if let Err(e) = plan.validate() {
            forget(&inputs);
            return Err(e);
        }
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        if let Some(job) = checkpoint {
            self.shared.checkpoints.insert(id, job);
        }
        let (tx, rx) = tokio::sync::mpsc::channel(RESULT_QUEUE);
        let sent = self.shared.send(Request::Build {
            id,
            plan: plan.encode(),
            results: tx,
        });
        if let Err(e) = sent {
            forget(&inputs);
            self.shared.checkpoints.forget(id);
            return Err(e);
        }
        self.shared.running.fetch_add(1, Ordering::Relaxed);
        Ok(QueryHandle {
            id,
            events: rx,
            shared: Arc::clone(&self.shared),
            finished: false,
            inputs,
        })
    }

    fn open_input(&self) -> (u64, InputSender) {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        (id, self.shared.inputs.open(id))
    }

    fn shutdown(&self) {
        if self.shared.is_leader {
            let _ = self.shared.send(Request::Shutdown);
        }
        self.shared.stopped.store(true, Ordering::Release);
        self.join();
    }

    fn join(&self) {
        let guards = self.guards.lock().take();
        if let Some(threads) = guards {
            for worker in threads.workers {
                if worker.join().is_err() {
                    tracing::error!("a worker thread panicked");
                }
            }
        }
    }
}

/// A running query: a stream of [`QueryEvent`]s. Dropping the handle before
/// the query finished cancels it.
#[derive(Debug)]
pub struct QueryHandle {
    id: u64,
    events: tokio::sync::mpsc::Receiver<QueryEvent>,
    shared: Arc<Shared>,
    finished: bool,
    /// The inputs the plan reads (forgotten when the handle goes, in case
    /// the dataflow never took them).
    inputs: Vec<u64>,
}

impl QueryHandle {
    /// The query id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The next event; `Done` or `Error` ends the stream.
    pub async fn next(&mut self) -> QueryEvent {
        if self.finished {
            return QueryEvent::Done;
        }
        let event = self.events.recv().await.unwrap_or_else(|| {
            QueryEvent::Error(QueryError::new(
                SqlState::Internal,
                "the worker pool stopped while running the query",
            ))
        });
        if matches!(event, QueryEvent::Done | QueryEvent::Error(_)) {
            self.finished = true;
        }
        event
    }

    /// How far the query's sources in this process have read.
    pub fn progress(&self) -> Arc<SourceProgress> {
        self.shared.progress.query(self.id)
    }

    /// A handle that cancels this query from anywhere.
    pub fn canceller(&self) -> QueryCanceller {
        QueryCanceller {
            id: self.id,
            shared: Arc::clone(&self.shared),
        }
    }

    /// Collects every batch; the first error fails.
    pub async fn collect(mut self) -> Result<Vec<RecordBatch>, QueryError> {
        let mut batches = Vec::new();
        loop {
            match self.next().await {
                QueryEvent::Batch(b) => batches.push(b),
                QueryEvent::Error(e) => return Err(e),
                QueryEvent::Done => return Ok(batches),
            }
        }
    }
}

impl Drop for QueryHandle {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.shared.send(Request::Cancel { id: self.id });
        }
        for input in &self.inputs {
            self.shared.inputs.forget(*input);
        }
        self.shared.progress.forget(self.id);
        self.shared.checkpoints.forget(self.id);
        self.shared.running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Cancels one query; cheap to clone and send across threads.
#[derive(Debug, Clone)]
pub struct QueryCanceller {
    id: u64,
    shared: Arc<Shared>,
}

impl QueryCanceller {
    /// Asks every worker to stop the query. Its handle then reports
    /// "canceling statement due to user request".
    pub fn cancel(&self) {
        let _ = self.shared.send(Request::Cancel { id: self.id });
    }
}

type CommandInput = InputHandle<u64, CapacityContainerBuilder<Vec<Command>>>;

/// What every worker of a process shares with its queries.
struct Services {
    connectors: Arc<ConnectorRegistry>,
    views: Arc<ViewStore>,
    progress: Arc<ProgressStore>,
    checkpoints: Arc<crate::checkpoint::CheckpointRegistry>,
    epoch_interval: Duration,
}

/// The loop of one worker thread.
fn run_worker(
    worker: &mut Worker,
    place: SourceContext,
    requests: Option<Receiver<Request>>,
    services: Services,
    inputs: Option<Inputs>,
) {
    let Services {
        connectors,
        views,
        progress,
        checkpoints,
        epoch_interval,
    } = services;
    let mut input: CommandInput = InputHandle::new();
    let ready: Rc<RefCell<VecDeque<Command>>> = Rc::new(RefCell::new(VecDeque::new()));
    {
        let ready = Rc::clone(&ready);
        worker.dataflow_named::<u64, _, _>("commands", |scope| {
            let mut stash: BTreeMap<u64, Vec<Command>> = BTreeMap::new();
            scope.input_from(&mut input).broadcast().sink(
                Pipeline,
                "CommandLog",
                move |(inp, frontier)| {
                    inp.for_each(|time, data| {
                        stash.entry(*time.time()).or_default().append(data);
                    });
                    while let Some((&t, _)) = stash.first_key_value() {
                        if frontier.less_equal(&t) {
                            break;
                        }
                        let (_, commands) = stash.pop_first().expect("non-empty");
                        ready.borrow_mut().extend(commands);
                    }
                },
            );
        });
    }
    // Only the leader feeds commands; everyone else closes the input so the
    // command frontier follows the leader alone.
    let mut input = match requests {
        Some(_) => Some(input),
        None => {
            input.close();
            None
        }
    };
    let mut senders: HashMap<u64, ResultSender> = HashMap::new();
    let mut queries: HashMap<u64, (usize, Rc<QueryShared>)> = HashMap::new();
    let cancel_requests: Rc<RefCell<Vec<u64>>> = Rc::new(RefCell::new(Vec::new()));
    let finish_requests: Rc<RefCell<Vec<u64>>> = Rc::new(RefCell::new(Vec::new()));
    let mut shutting_down = false;

    loop {
        // The leader turns requests (and its sinks' cancel requests) into commands.
        if let (Some(rx), Some(inp)) = (requests.as_ref(), input.as_mut()) {
            let mut commands = Vec::new();
            for id in cancel_requests.borrow_mut().drain(..) {
                commands.push(Command::Cancel { id });
            }
            for id in finish_requests.borrow_mut().drain(..) {
                commands.push(Command::Finish { id });
            }
            while let Ok(request) = rx.try_recv() {
                match request {
                    Request::Build { id, plan, results } => {
                        senders.insert(id, results);
                        commands.push(Command::Build { id, plan });
                    }
                    Request::Cancel { id } => commands.push(Command::Cancel { id }),
                    Request::Shutdown => commands.push(Command::Shutdown),
                }
            }
            for command in commands {
                let stop = matches!(command, Command::Shutdown);
                inp.send(command);
                let next = inp.time() + 1;
                inp.advance_to(next);
                if stop {
                    shutting_down = true;
                    break;
                }
            }
            if shutting_down {
                input = None;
            }
        } else {
            // Followers only relay their sinks' requests by failing locally.
            cancel_requests.borrow_mut().clear();
            finish_requests.borrow_mut().clear();
        }

        let commands: Vec<Command> = ready.borrow_mut().drain(..).collect();
        for command in commands {
            match command {
                Command::Build { id, plan } => {
                    let results = senders.remove(&id);
                    let plan = match DataflowPlan::decode(&plan) {
                        Ok(p) => p,
                        Err(e) => {
                            if let Some(tx) = results {
                                let _ = tx.try_send(QueryEvent::Error(e.into_query_error()));
                            }
                            continue;
                        }
                    };
                    let shared = Rc::new(QueryShared {
                        id,
                        cancel: std::cell::Cell::new(false),
                        budget: MemoryBudget::new(plan.config.memory_limit_per_worker),
                        config: plan.config,
                        place: SourceContext {
                            batch_size: plan.config.batch_size,
                            // The workers that do the query's work.
                            peers: plan.config.workers(place.peers),
                            ..place
                        },
                        connectors: Arc::clone(&connectors),
                        views: Arc::clone(&views),
                        progress: progress.query(id),
                        inputs: inputs.clone(),
                        epoch_interval,
                        cancel_requests: Rc::clone(&cancel_requests),
                        finish_requests: Rc::clone(&finish_requests),
                        finishing: std::cell::Cell::new(false),
                        sink_probe: timely::dataflow::ProbeHandle::new(),
                        checkpoint: checkpoints.get(id),
                    });
                    let index = worker.next_dataflow_index();
                    build_query(worker, &plan, Rc::clone(&shared), results);
                    queries.insert(id, (index, shared));
                }
                Command::Cancel { id } => {
                    if let Some((_, q)) = queries.get(&id) {
                        q.cancel.set(true);
                    }
                }
                Command::Finish { id } => {
                    if let Some((_, q)) = queries.get(&id) {
                        q.finishing.set(true);
                    }
                }
                Command::Shutdown => {
                    tracing::debug!(worker = worker.index(), "worker stopping");
                    return;
                }
            }
        }

        // Forget queries whose dataflows have completed.
        if !queries.is_empty() {
            let installed = worker.installed_dataflows();
            queries.retain(|_, (index, _)| installed.contains(index));
        }

        worker.step_or_park(Some(Duration::from_millis(50)));
    }
}
