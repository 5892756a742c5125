//! Builds a [`DataflowPlan`] into a timely dataflow on one worker.
//!
//! Building has two phases. First every node is *prepared*
//! ([`prepare`]): physical expressions and operator structs are created.
//! This is deterministic, so a plan that fails to prepare fails the same way
//! on every worker, and each worker then builds the same small dataflow that
//! reports the error. Only then are timely operators created, in the same
//! order on every worker.
//!
//! The timely drivers ([`unary`], [`binary`]) own what every operator
//! shares, so that operators stay plain structs (see [`crate::operators`]):
//! input is queued by epoch ([`pending`]) and handed over in epoch order;
//! watermark items are combined per epoch and an operator is told when an
//! epoch completes, with its watermark; input errors are forwarded
//! downstream (and the operator stops); panics inside an operator become
//! query errors; a canceled query drops its work. Sources ([`source`]) move
//! to the next epoch on a timer and send their partition's watermark when
//! they close one; the result sink ([`sink`]) hands rows to the client.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;
use timely::dataflow::operators::{Capability, CapabilityTrait, Concatenate};
use timely::worker::Worker;

use crate::Epoch;
use crate::chunk::{Chunk, Item};
use crate::error::{QueryError, SqlState};
use crate::input::Inputs;
use crate::memory::MemoryBudget;
use crate::operators::{Emit, UnaryOperator};
use crate::plan::{DataflowPlan, QueryConfig};
use crate::pool::ResultSender;
use crate::series::SeriesReader;
use crate::source::{ConnectorRegistry, SourceContext, SourcePoll, SourceReader};
use crate::watermark::Timestamp;

mod binary;
mod pending;
mod prepare;
mod sink;
mod source;
mod unary;

use prepare::{Prepared, PreparedRoute, prepare};

type Out = CapacityContainerBuilder<Chunk>;

/// How often a source or sink that waits on the client looks again.
const BACKPRESSURE_POLL: Duration = Duration::from_millis(1);

/// What one worker knows about one running query.
#[derive(Debug)]
pub(crate) struct QueryShared {
    /// Query id (the same on every worker).
    pub(crate) id: u64,
    /// Set when the query is canceled or has failed.
    pub(crate) cancel: Cell<bool>,
    /// Memory this worker may use for the query.
    pub(crate) budget: Rc<MemoryBudget>,
    /// Query settings.
    pub(crate) config: QueryConfig,
    /// Where this worker sits in the cluster.
    pub(crate) place: SourceContext,
    /// Connectors for scans and sinks.
    pub(crate) connectors: Arc<ConnectorRegistry>,
    /// Materialized view parts of this process.
    pub(crate) views: Arc<crate::view::ViewStore>,
    /// How far this query's sources have read (for `FLUSH`).
    pub(crate) progress: Arc<crate::progress::SourceProgress>,
    /// Inputs pushed by clients (worker 0 only).
    pub(crate) inputs: Option<Inputs>,
    /// Epoch length of sources.
    pub(crate) epoch_interval: Duration,
    /// Queries whose sink asks for cancellation (failed, or the client left);
    /// the worker loop broadcasts these.
    pub(crate) cancel_requests: Rc<RefCell<Vec<u64>>>,
    /// Queries whose result is complete before their input has ended (a
    /// satisfied limit on the way to the result); the worker loop
    /// broadcasts these, and sources then stop as if their input ended.
    pub(crate) finish_requests: Rc<RefCell<Vec<u64>>>,
    /// Set when the query's sources should stop (see `finish_requests`).
    pub(crate) finishing: Cell<bool>,
    /// The frontier of results not yet handed to the client's channel.
    pub(crate) sink_probe: timely::dataflow::ProbeHandle<Epoch>,
    /// The job's checkpoint coordination, when it is checkpointed.
    pub(crate) checkpoint: Option<Arc<crate::checkpoint::JobCheckpoint>>,
}

/// Epochs a source may run ahead of the results not yet handed to the
/// client. Rows between the sources and the client are bounded by this many
/// epochs of input: when operators or the client fall behind, sources wait
/// (backpressure) instead of filling memory.
const MAX_EPOCHS_AHEAD: Epoch = 4;

impl QueryShared {
    fn canceled(&self) -> bool {
        self.cancel.get()
    }

    /// Asks every worker's sources to stop: the result is complete.
    fn finish_early(&self) {
        if !self.finishing.replace(true) {
            self.finish_requests.borrow_mut().push(self.id);
        }
    }

    /// How drivers hand epochs to operators: in strict order for continuous
    /// queries, whose state is cut at epoch boundaries; eagerly for bounded
    /// ones.
    fn order(&self) -> pending::Order {
        if self.config.continuous {
            pending::Order::Strict
        } else {
            pending::Order::Eager
        }
    }

    /// Whether a source at `epoch` must wait for the results to catch up.
    fn source_must_wait(&self, epoch: Epoch) -> bool {
        epoch >= MAX_EPOCHS_AHEAD && self.sink_probe.less_than(&(epoch - MAX_EPOCHS_AHEAD))
    }
}

/// Builds the dataflow of a query on this worker. `results` is set on the
/// worker that runs the query's sink (worker 0).
pub(crate) fn build_query(
    worker: &mut Worker,
    plan: &DataflowPlan,
    q: Rc<QueryShared>,
    results: Option<ResultSender>,
) {
    // Preparing runs user-influenced code (expressions, group values,
    // connectors' schemas): a panic there fails the query on every worker.
    let prepared = guard_panic("preparing the query", || prepare(plan, &q));
    let name = format!("query-{}", q.id);
    worker.dataflow_named::<Epoch, _, _>(&name, move |scope| match prepared {
        Ok(nodes) => {
            let ends_query = limits_that_end_the_query(plan);
            let mut streams: Vec<Option<Stream<'_, Epoch, Chunk>>> =
                Vec::with_capacity(nodes.len());
            for (id, (op, routes)) in nodes.into_iter().enumerate() {
                let inputs: Vec<_> = plan.nodes[id]
                    .inputs
                    .iter()
                    .map(|e| {
                        streams[e.from]
                            .clone()
                            .expect("inputs precede their consumer")
                    })
                    .collect();
                let kind = plan.nodes[id].kind.name();
                let stream = match op {
                    Prepared::Source(spec) => source::render_source(scope, spec, Rc::clone(&q), id),
                    Prepared::Input(id) => source::render_reader(
                        scope,
                        "Input".to_string(),
                        "the input".to_string(),
                        Rc::clone(&q),
                        source::INPUT_POLL,
                        None,
                        move |q: &QueryShared| {
                            // Worker 0 reads the input; the others have none.
                            let Some(inputs) = q.inputs.as_ref() else {
                                return Ok((Box::new(NoRows) as Box<dyn SourceReader>, None));
                            };
                            match inputs.take(id) {
                                Some(reader) => {
                                    Ok((Box::new(reader) as Box<dyn SourceReader>, None))
                                }
                                None => Err(QueryError::new(
                                    SqlState::QueryCanceled,
                                    "the client's input was closed before the query started",
                                )),
                            }
                        },
                    ),
                    Prepared::Series(spec, schema, limit) => source::render_reader(
                        scope,
                        "Series".to_string(),
                        "generate_series".to_string(),
                        Rc::clone(&q),
                        source::SOURCE_POLL,
                        None,
                        move |q: &QueryShared| {
                            let reader = SeriesReader::try_new(spec, schema, limit, &q.place)?;
                            Ok((Box::new(reader) as Box<dyn SourceReader>, None))
                        },
                    ),
                    Prepared::Values(batch) => source::render_values(scope, batch),
                    Prepared::ViewScan(spec) => {
                        source::render_view_scan(scope, spec, Rc::clone(&q))
                    }
                    Prepared::Unary(op) => {
                        let input = inputs
                            .into_iter()
                            .next()
                            .expect("unary operators have one input");
                        let ends_query = ends_query.contains(&id);
                        unary::render_unary(
                            input,
                            routes[0].pact(q.place.peers),
                            kind,
                            op,
                            Rc::clone(&q),
                            ends_query,
                            Some(id),
                        )
                    }
                    Prepared::Binary(op) => {
                        let mut inputs = inputs.into_iter();
                        let left = inputs.next().expect("binary operators have two inputs");
                        let right = inputs.next().expect("binary operators have two inputs");
                        binary::render_binary(
                            left,
                            right,
                            routes[0].pact(q.place.peers),
                            routes[1].pact(q.place.peers),
                            kind,
                            op,
                            Rc::clone(&q),
                            Some(id),
                        )
                    }
                    Prepared::Union => {
                        let exchanged: Vec<_> = inputs
                            .into_iter()
                            .zip(routes.iter())
                            .map(|(s, r)| match r {
                                PreparedRoute::Forward => s,
                                other => unary::render_unary(
                                    s,
                                    other.pact(q.place.peers),
                                    "Exchange",
                                    Box::new(PassThrough),
                                    Rc::clone(&q),
                                    false,
                                    None,
                                ),
                            })
                            .collect();
                        scope.concatenate(exchanged)
                    }
                };
                streams.push(Some(stream));
            }
            let root = streams[plan.root].take().expect("the root was rendered");
            if let Some(job) = q.checkpoint.as_ref() {
                job.worker_built();
            }
            sink::render_sink(root, q, results);
        }
        Err(error) => {
            let failed = source::render_values(scope, None);
            let error_stream = source::render_error(scope, error, q.place.worker_index == 0);
            sink::render_sink(scope.concatenate([failed, error_stream]), q, results);
        }
    });
}

/// The limits whose satisfaction completes the result: those on the
/// chain of one-input nodes from the root down. Such a node's output
/// depends only on its input, so once a limit on the chain has all its
/// rows nothing else can change the result, and the sources may stop
/// (which ends a `LIMIT` over an unbounded table; blocking operators above
/// it emit when the input then ends). Below a join or union the other
/// inputs still matter, so the chain stops there.
fn limits_that_end_the_query(plan: &DataflowPlan) -> Vec<usize> {
    use crate::plan::NodeKind;
    let mut limits = Vec::new();
    let mut id = plan.root;
    loop {
        let node = &plan.nodes[id];
        if let NodeKind::Limit { .. } = node.kind {
            limits.push(id);
        }
        match node.inputs.as_slice() {
            [edge] => id = edge.from,
            _ => break,
        }
    }
    limits
}

/// A reader of no rows (an input on the workers that do not read it).
#[derive(Debug)]
struct NoRows;

impl SourceReader for NoRows {
    fn poll_next(&mut self) -> Result<SourcePoll, QueryError> {
        Ok(SourcePoll::Finished)
    }
}

/// An operator that forwards its input (used to move rows along an edge).
struct PassThrough;

impl UnaryOperator for PassThrough {
    fn on_batch(
        &mut self,
        _epoch: Epoch,
        batch: RecordBatch,
        out: &mut dyn Emit,
    ) -> crate::operators::OpResult {
        out.emit(batch);
        Ok(())
    }
}

fn panic_message(p: Box<dyn Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs user-influenced code (an operator callback, a connector, query
/// preparation), turning a panic into a query error (XX000) that names
/// `what`: the worker survives and the query fails on every worker alike.
fn guard_panic<T>(what: &str, f: impl FnOnce() -> Result<T, QueryError>) -> Result<T, QueryError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let message = panic_message(p);
            tracing::error!(what, panic = %message, "panic in a query");
            Err(QueryError::new(
                SqlState::Internal,
                format!("internal error in {what}: {message}"),
            ))
        }
    }
}

/// Longest an operator works in one activation before yielding its worker
/// (other operators and queries on the worker get their turn in between).
const OPERATOR_SLICE: Duration = Duration::from_millis(20);

type OutputSession<'a> = timely::dataflow::operators::generic::OutputBuilderSession<'a, Epoch, Out>;

/// Hands an operator's output rows straight to its timely output.
struct Emitter<'o, 'a, C: CapabilityTrait<Epoch>> {
    output: &'o mut OutputSession<'a>,
    cap: &'o C,
    query: &'o QueryShared,
}

impl<C: CapabilityTrait<Epoch>> Emit for Emitter<'_, '_, C> {
    fn emit(&mut self, batch: RecordBatch) {
        if batch.num_rows() > 0 {
            self.output
                .session(self.cap)
                .give_container(&mut Chunk::from_batch(batch));
        }
    }

    fn should_stop(&self) -> bool {
        self.query.canceled()
    }
}

/// Sends watermark `t` at `cap`'s epoch.
fn give_watermark(output: &mut OutputSession<'_>, cap: &impl CapabilityTrait<Epoch>, t: Timestamp) {
    output
        .session(cap)
        .give_container(&mut Chunk::from_items(vec![Item::Watermark(t)]));
}

fn give_error(
    output: &mut OutputSession<'_>,
    cap: &impl CapabilityTrait<Epoch>,
    error: QueryError,
    weight: u64,
) {
    output
        .session(cap)
        .give_container(&mut Chunk::from_error(error, weight));
}

/// Runs an operator callback with an emitter at `cap`; a failure (error or
/// panic) becomes an error item at `cap`. Returns whether it failed.
fn run_emitting(
    name: &str,
    output: &mut OutputSession<'_>,
    cap: &Capability<Epoch>,
    q: &QueryShared,
    f: impl FnOnce(&mut dyn Emit) -> crate::operators::OpResult,
) -> bool {
    let mut emitter = Emitter {
        output: &mut *output,
        cap,
        query: q,
    };
    match guard_panic(name, || f(&mut emitter)) {
        Ok(()) => false,
        Err(e) => {
            give_error(output, cap, e, 1);
            true
        }
    }
}

/// The same schema with every field nullable.
fn nullable_schema(schema: &arrow::datatypes::SchemaRef) -> arrow::datatypes::SchemaRef {
    if schema.fields().iter().all(|f| f.is_nullable()) {
        return Arc::clone(schema);
    }
    Arc::new(arrow::datatypes::Schema::new_with_metadata(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
        schema.metadata().clone(),
    ))
}

/// An operator instance's part in its job's checkpoints (see
/// [`crate::checkpoint`]): its slot, and the state it restores from.
struct OperatorCheckpoint {
    job: Arc<crate::checkpoint::JobCheckpoint>,
    slot: usize,
    restore: Option<crate::state::StateSnapshot>,
}

impl OperatorCheckpoint {
    /// The operator of plan node `node` in a checkpointed job registers
    /// itself (`None` when the query is not checkpointed).
    /// `keyed`: whether its input is hash-partitioned (see
    /// [`crate::checkpoint::JobCheckpoint::restored_for`]).
    fn register(q: &QueryShared, node: Option<usize>, keyed: bool) -> Option<Self> {
        let job = q.checkpoint.as_ref()?;
        let node = node?;
        let worker = q.place.worker_index;
        Some(Self {
            slot: job.register_operator(node, worker),
            restore: job.restored_for(node, worker, q.place.peers, keyed),
            job: Arc::clone(job),
        })
    }

    /// The restored state, the first time it is asked for.
    fn take_restore(&mut self) -> Option<crate::state::StateSnapshot> {
        self.restore.take()
    }

    /// Passes a requested cut on to the operator's queue.
    fn request(&self, queue: &mut pending::EpochQueue) {
        if !queue.cut_pending()
            && let Some(epoch) = self.job.cut_for_operator(self.slot)
        {
            queue.request_cut(epoch);
        }
    }

    /// Hands the snapshot over when the queue has reached the cut; returns
    /// whether it did (the driver then drains on).
    fn take(
        &self,
        queue: &mut pending::EpochQueue,
        frontier: Option<Epoch>,
        snapshot: impl FnOnce() -> Result<crate::state::StateSnapshot, QueryError>,
    ) -> Result<bool, QueryError> {
        let Some(epoch) = queue.take_cut(frontier) else {
            return Ok(false);
        };
        let started = std::time::Instant::now();
        let snapshot = snapshot()?;
        self.job
            .report_operator(self.slot, epoch, snapshot, started.elapsed());
        Ok(true)
    }

    /// The operator's input has ended with this final state.
    fn ended(&self, snapshot: crate::state::StateSnapshot) {
        self.job.operator_ended(self.slot, snapshot);
    }
}
