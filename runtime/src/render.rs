//! Builds a [`DataflowPlan`] into a timely dataflow on one worker.
//!
//! Building has two phases. First every node is *prepared*: physical
//! expressions and operator structs are created. This is deterministic, so a
//! plan that fails to prepare fails the same way on every worker, and each
//! worker then builds the same small dataflow that reports the error. Only
//! then are timely operators created, in the same order on every worker.
//!
//! The timely wrappers here handle what every operator shares: input
//! errors are forwarded downstream (and the operator stops), panics inside an
//! operator become query errors, a canceled query drops its work, and
//! blocking operators keep a capability, downgraded as the input frontier
//! advances, to emit when their input ends.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use datafusion_expr::execution_props::ExecutionProps;
use datafusion_physical_expr::PhysicalExpr;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::operators::{Capability, CapabilityTrait, Concatenate, Probe};
use timely::dataflow::{Scope, Stream};
use timely::worker::Worker;
use tokio::sync::mpsc::error::TrySendError;

use crate::Epoch;
use crate::chunk::{Chunk, Item};
use crate::error::{QueryError, SqlState};
use crate::expr::ExprContext;
use crate::functions::FunctionRegistry;
use crate::input::Inputs;
use crate::memory::MemoryBudget;
use crate::operators::aggregate::AggregateOperator;
use crate::operators::filter::FilterOperator;
use crate::operators::hash_join::HashJoinOperator;
use crate::operators::limit::LimitOperator;
use crate::operators::project::ProjectOperator;
use crate::operators::sink::SinkOperator;
use crate::operators::sort::SortOperator;
use crate::operators::unnest::UnnestOperator;
use crate::operators::window::WindowOperator;
use crate::operators::{BinaryOperator, Emit, UnaryOperator};
use crate::plan::{DataflowPlan, Exchange, NodeKind, QueryConfig};
use crate::pool::{QueryEvent, ResultSender};
use crate::series::{SeriesReader, SeriesSpec};
use crate::shuffle::{EdgePact, Route};
use crate::source::{ConnectorRegistry, SourceContext, SourcePoll, SourceReader, SourceSpec};

type Out = CapacityContainerBuilder<Chunk>;

/// How long a source may produce before yielding its worker.
const SOURCE_SLICE: Duration = Duration::from_millis(10);

/// How often a source or sink that waits on the client looks again.
const BACKPRESSURE_POLL: Duration = Duration::from_millis(1);

/// How soon a connector's reader with nothing ready is polled again.
const SOURCE_POLL: Duration = Duration::from_millis(10);

/// How soon an input with nothing ready is polled again: a client is
/// sending it, and a copy should not wait on the poll.
const INPUT_POLL: Duration = Duration::from_millis(1);

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
    /// Inputs pushed by clients (worker 0 only).
    pub(crate) inputs: Option<Inputs>,
    /// Epoch length of sources.
    pub(crate) epoch_interval: Duration,
    /// Queries whose sink asks for cancellation (failed, or the client left);
    /// the worker loop broadcasts these.
    pub(crate) cancel_requests: Rc<RefCell<Vec<u64>>>,
    /// The frontier of results not yet handed to the client's channel.
    pub(crate) sink_probe: timely::dataflow::ProbeHandle<Epoch>,
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

    /// Whether a source at `epoch` must wait for the results to catch up.
    fn source_must_wait(&self, epoch: Epoch) -> bool {
        epoch >= MAX_EPOCHS_AHEAD && self.sink_probe.less_than(&(epoch - MAX_EPOCHS_AHEAD))
    }
}

/// A node ready to be wired into timely.
enum Prepared {
    Source(SourceSpec),
    /// An input pushed by a client (see [`crate::input`]).
    Input(u64),
    /// `generate_series`, with its output schema and limit.
    Series(SeriesSpec, arrow::datatypes::SchemaRef, Option<usize>),
    /// Rows produced on worker 0 (`None` elsewhere); evaluating them may
    /// have failed, which fails the query rather than its construction.
    Values(Option<Result<RecordBatch, QueryError>>),
    Unary(Box<dyn UnaryOperator>),
    Binary(Box<dyn BinaryOperator>),
    Union,
}

/// An input edge ready to be wired.
enum PreparedRoute {
    Forward,
    Hash(Vec<Arc<dyn PhysicalExpr>>),
    Single,
}

impl PreparedRoute {
    fn pact(&self) -> EdgePact {
        match self {
            PreparedRoute::Forward => EdgePact::Forward,
            PreparedRoute::Hash(exprs) => EdgePact::Exchange(Route::Hash(exprs.clone())),
            PreparedRoute::Single => EdgePact::Exchange(Route::Single(0)),
        }
    }
}

fn prepare(
    plan: &DataflowPlan,
    q: &QueryShared,
) -> Result<Vec<(Prepared, Vec<PreparedRoute>)>, QueryError> {
    plan.validate().map_err(|e| e.into_query_error())?;
    let registry = FunctionRegistry::shared();
    let mut props = ExecutionProps::new();
    props.query_execution_start_time = Some(chrono::DateTime::from_timestamp_nanos(
        plan.config.start_time_nanos,
    ));
    let mut prepared = Vec::with_capacity(plan.nodes.len());
    for node in &plan.nodes {
        let mut routes = Vec::with_capacity(node.inputs.len());
        for edge in &node.inputs {
            routes.push(match &edge.exchange {
                Exchange::Forward => PreparedRoute::Forward,
                Exchange::Single => PreparedRoute::Single,
                Exchange::Hash(keys) => {
                    let ctx =
                        ExprContext::try_new(registry, &plan.nodes[edge.from].schema, &props)?;
                    PreparedRoute::Hash(ctx.physical_all(keys)?)
                }
            });
        }
        let input_schema = |i: usize| &plan.nodes[node.inputs[i].from].schema;
        // Nullability is checked where it is a constraint (inserts into NOT
        // NULL columns); within a query every column may hold nulls.
        let output_schema = nullable_schema(&node.schema.arrow_schema());
        let op = match &node.kind {
            NodeKind::Scan(spec) => Prepared::Source(spec.clone()),
            NodeKind::Input { id } => Prepared::Input(*id),
            NodeKind::Sink(spec) => {
                // Looked up on every worker, so that all prepare alike;
                // only worker 0 receives the rows and writes them.
                let connector = q.connectors.get(&spec.connector)?;
                let connector = (q.place.worker_index == 0).then_some(connector);
                Prepared::Unary(Box::new(SinkOperator::new(spec.clone(), connector)))
            }
            NodeKind::Values { rows } => {
                if q.place.worker_index == 0 {
                    let ctx = ExprContext::try_new(
                        registry,
                        &crate::expr::SchemaIr { columns: vec![] },
                        &props,
                    )?;
                    // Guarded here, so that a panic fails the query the
                    // same way as an error instead of making this worker's
                    // dataflow differ from the others'.
                    Prepared::Values(Some(guard_panic("VALUES", || {
                        crate::operators::project::values_batch(&ctx, rows, output_schema)
                    })))
                } else {
                    Prepared::Values(None)
                }
            }
            NodeKind::Rows { ipc } => {
                if q.place.worker_index == 0 {
                    Prepared::Values(Some(guard_panic("rows", || {
                        crate::expr::decode_batch(ipc)
                            .and_then(|b| Ok(b.with_schema(Arc::clone(&output_schema))?))
                            .map_err(|e| QueryError::from_datafusion(&e))
                    })))
                } else {
                    Prepared::Values(None)
                }
            }
            NodeKind::Series { spec, limit } => {
                Prepared::Series(spec.clone(), output_schema, *limit)
            }
            NodeKind::Unnest {
                lists,
                structs,
                nulls,
            } => Prepared::Unary(Box::new(UnnestOperator::new(
                lists.clone(),
                structs.clone(),
                *nulls,
                output_schema,
                q.config.batch_size,
            ))),
            NodeKind::Project { exprs } => {
                let ctx = ExprContext::try_new(registry, input_schema(0), &props)?;
                Prepared::Unary(Box::new(ProjectOperator::new(
                    ctx.physical_all(exprs)?,
                    output_schema,
                )))
            }
            NodeKind::Filter { predicate } => {
                let ctx = ExprContext::try_new(registry, input_schema(0), &props)?;
                Prepared::Unary(Box::new(FilterOperator::new(ctx.physical(predicate)?)))
            }
            NodeKind::Aggregate {
                group_by,
                aggregates,
                phase,
                input_schema: agg_input,
            } => {
                let ctx = ExprContext::try_new(registry, agg_input, &props)?;
                Prepared::Unary(Box::new(
                    AggregateOperator::try_new(
                        &ctx,
                        group_by,
                        aggregates,
                        *phase,
                        output_schema,
                        q.budget.reservation("aggregate"),
                        q.config.batch_size,
                    )?
                    .with_answers_empty_input(q.place.worker_index == 0),
                ))
            }
            NodeKind::HashJoin {
                join_type,
                left_keys,
                right_keys,
                filter,
                null_equals_null,
                null_aware,
            } => {
                let left = ExprContext::try_new(registry, input_schema(0), &props)?;
                let right = ExprContext::try_new(registry, input_schema(1), &props)?;
                let both = ExprContext::try_new(
                    registry,
                    &concat_schemas(input_schema(0), input_schema(1)),
                    &props,
                )?;
                Prepared::Binary(Box::new(HashJoinOperator::try_new(
                    *join_type,
                    left.physical_all(left_keys)?,
                    right.physical_all(right_keys)?,
                    filter.as_ref().map(|f| both.physical(f)).transpose()?,
                    *null_equals_null,
                    *null_aware,
                    left.arrow_schema(),
                    right.arrow_schema(),
                    output_schema,
                    q.budget.reservation("hash join"),
                    q.config.batch_size,
                )?))
            }
            NodeKind::NestedLoopJoin { join_type, filter } => {
                let left = ExprContext::try_new(registry, input_schema(0), &props)?;
                let right = ExprContext::try_new(registry, input_schema(1), &props)?;
                let both = ExprContext::try_new(
                    registry,
                    &concat_schemas(input_schema(0), input_schema(1)),
                    &props,
                )?;
                Prepared::Binary(Box::new(HashJoinOperator::try_new(
                    *join_type,
                    Vec::new(),
                    Vec::new(),
                    filter.as_ref().map(|f| both.physical(f)).transpose()?,
                    false,
                    false,
                    left.arrow_schema(),
                    right.arrow_schema(),
                    output_schema,
                    q.budget.reservation("nested loop join"),
                    q.config.batch_size,
                )?))
            }
            NodeKind::Sort { order, fetch } => {
                let ctx = ExprContext::try_new(registry, input_schema(0), &props)?;
                Prepared::Unary(Box::new(SortOperator::try_new(
                    ctx.physical_sort(order)?,
                    *fetch,
                    output_schema,
                    q.budget.reservation("sort"),
                    q.config.batch_size,
                )?))
            }
            NodeKind::Limit { skip, fetch } => {
                Prepared::Unary(Box::new(LimitOperator::new(*skip, *fetch)))
            }
            NodeKind::Union => Prepared::Union,
            NodeKind::Window { exprs } => {
                let ctx = ExprContext::try_new(registry, input_schema(0), &props)?;
                Prepared::Unary(Box::new(WindowOperator::try_new(
                    &ctx,
                    exprs,
                    output_schema,
                    q.budget.reservation("window"),
                    q.config.batch_size,
                )?))
            }
        };
        prepared.push((op, routes));
    }
    Ok(prepared)
}

fn concat_schemas(
    left: &crate::expr::SchemaIr,
    right: &crate::expr::SchemaIr,
) -> crate::expr::SchemaIr {
    crate::expr::SchemaIr {
        columns: left
            .columns
            .iter()
            .chain(right.columns.iter())
            .cloned()
            .collect(),
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
                    Prepared::Source(spec) => render_source(scope, spec, Rc::clone(&q)),
                    Prepared::Input(id) => render_reader(
                        scope,
                        "Input".to_string(),
                        "the input".to_string(),
                        Rc::clone(&q),
                        INPUT_POLL,
                        move |q: &QueryShared| {
                            // Worker 0 reads the input; the others have none.
                            let Some(inputs) = q.inputs.as_ref() else {
                                return Ok(Box::new(NoRows) as Box<dyn SourceReader>);
                            };
                            match inputs.take(id) {
                                Some(reader) => Ok(Box::new(reader) as Box<dyn SourceReader>),
                                None => Err(QueryError::new(
                                    SqlState::QueryCanceled,
                                    "the client's input was closed before the query started",
                                )),
                            }
                        },
                    ),
                    Prepared::Series(spec, schema, limit) => render_reader(
                        scope,
                        "Series".to_string(),
                        "generate_series".to_string(),
                        Rc::clone(&q),
                        SOURCE_POLL,
                        move |q: &QueryShared| {
                            let reader = SeriesReader::try_new(spec, schema, limit, &q.place)?;
                            Ok(Box::new(reader) as Box<dyn SourceReader>)
                        },
                    ),
                    Prepared::Values(batch) => render_values(scope, batch),
                    Prepared::Unary(op) => {
                        let input = inputs
                            .into_iter()
                            .next()
                            .expect("unary operators have one input");
                        render_unary(input, routes[0].pact(), kind, op, Rc::clone(&q))
                    }
                    Prepared::Binary(op) => {
                        let mut inputs = inputs.into_iter();
                        let left = inputs.next().expect("binary operators have two inputs");
                        let right = inputs.next().expect("binary operators have two inputs");
                        render_binary(
                            left,
                            right,
                            routes[0].pact(),
                            routes[1].pact(),
                            kind,
                            op,
                            Rc::clone(&q),
                        )
                    }
                    Prepared::Union => {
                        let exchanged: Vec<_> = inputs
                            .into_iter()
                            .zip(routes.iter())
                            .map(|(s, r)| match r {
                                PreparedRoute::Forward => s,
                                other => render_unary(
                                    s,
                                    other.pact(),
                                    "Exchange",
                                    Box::new(PassThrough),
                                    Rc::clone(&q),
                                ),
                            })
                            .collect();
                        scope.concatenate(exchanged)
                    }
                };
                streams.push(Some(stream));
            }
            let root = streams[plan.root].take().expect("the root was rendered");
            render_sink(root, q, results);
        }
        Err(error) => {
            let failed = render_values(scope, None);
            let error_stream = render_error(scope, error, q.place.worker_index == 0);
            render_sink(scope.concatenate([failed, error_stream]), q, results);
        }
    });
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
    fn on_batch(&mut self, batch: RecordBatch, out: &mut dyn Emit) -> crate::operators::OpResult {
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

/// Input received but not processed yet: the items of each received
/// container, with the capability to emit their results at its time and the
/// input (0 or 1) they came from. One capability per container, not per item.
#[derive(Default)]
struct Pending {
    queue: VecDeque<(Capability<Epoch>, usize, VecDeque<Item>)>,
}

impl Pending {
    /// Queues the items of one container received on input `side`.
    fn push(&mut self, cap: Capability<Epoch>, side: usize, items: Vec<Item>) {
        if !items.is_empty() {
            self.queue.push_back((cap, side, items.into()));
        }
    }

    /// Hands pending items, oldest first, to `f` until none is left or the
    /// operator has used its `OPERATOR_SLICE`; then it asks to run again.
    fn drain(
        &mut self,
        activator: &timely::scheduling::Activator,
        mut f: impl FnMut(&Capability<Epoch>, usize, Item),
    ) {
        let started = Instant::now();
        while let Some((cap, side, items)) = self.queue.front_mut() {
            if let Some(item) = items.pop_front() {
                f(cap, *side, item);
            }
            if items.is_empty() {
                self.queue.pop_front();
            }
            if started.elapsed() >= OPERATOR_SLICE && !self.queue.is_empty() {
                activator.activate();
                break;
            }
        }
    }

    /// The earliest time of pending input.
    fn min_time(&self) -> Option<Epoch> {
        self.queue.iter().map(|(c, _, _)| *c.time()).min()
    }

    /// Whether input `side` has items pending.
    fn has_side(&self, side: usize) -> bool {
        self.queue.iter().any(|(_, s, _)| *s == side)
    }

    fn clear(&mut self) {
        self.queue.clear();
    }
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

fn render_unary<'s>(
    input: Stream<'s, Epoch, Chunk>,
    pact: EdgePact,
    name: &'static str,
    mut op: Box<dyn UnaryOperator>,
    q: Rc<QueryShared>,
) -> Stream<'s, Epoch, Chunk> {
    let scope = input.scope();
    input.unary_frontier::<Out, _, _, _>(pact, name, move |cap, info| {
        let activator = scope.activator_for(info.address);
        let mut cap: Option<Capability<Epoch>> = Some(cap);
        let mut failed = false;
        let mut pending = Pending::default();
        move |(input, frontier), output| {
            input.for_each(|time, data| pending.push(time.retain(0), 0, data.take_items()));
            pending.drain(&activator, |time, _, item| match item {
                Item::Error { error, weight } => {
                    failed = true;
                    give_error(output, time, error, weight);
                }
                Item::Rows(batch) => {
                    if !(failed || q.canceled() || op.is_done()) {
                        failed = run_emitting(name, output, time, &q, |e| op.on_batch(batch, e));
                    }
                }
            });
            if failed || q.canceled() {
                pending.clear();
            }
            if let Some(c) = cap.as_mut() {
                let earliest = frontier
                    .frontier()
                    .first()
                    .copied()
                    .into_iter()
                    .chain(pending.min_time())
                    .min();
                match earliest {
                    Some(t) => c.downgrade(&t),
                    None => {
                        if !failed && !q.canceled() {
                            run_emitting(name, output, c, &q, |e| op.on_end(e));
                        }
                        cap = None;
                    }
                }
            }
        }
    })
}

#[allow(clippy::too_many_arguments)]
fn render_binary<'s>(
    left: Stream<'s, Epoch, Chunk>,
    right: Stream<'s, Epoch, Chunk>,
    left_pact: EdgePact,
    right_pact: EdgePact,
    name: &'static str,
    mut op: Box<dyn BinaryOperator>,
    q: Rc<QueryShared>,
) -> Stream<'s, Epoch, Chunk> {
    let scope = left.scope();
    left.binary_frontier::<Chunk, Out, _, _, _, _>(
        right,
        left_pact,
        right_pact,
        name,
        move |cap, info| {
            let activator = scope.activator_for(info.address);
            let mut cap: Option<Capability<Epoch>> = Some(cap);
            let mut failed = false;
            let mut left_ended = false;
            let mut right_ended = false;
            let mut pending = Pending::default();
            move |(left, left_frontier), (right, right_frontier), output| {
                for (side, input) in [(0, left), (1, right)] {
                    input.for_each(|time, data| {
                        pending.push(time.retain(0), side, data.take_items())
                    });
                }
                pending.drain(&activator, |time, side, item| match item {
                    Item::Error { error, weight } => {
                        failed = true;
                        give_error(output, time, error, weight);
                    }
                    Item::Rows(batch) => {
                        if !(failed || q.canceled()) {
                            failed = run_emitting(name, output, time, &q, |e| {
                                if side == 0 {
                                    op.on_left(batch, e)
                                } else {
                                    op.on_right(batch, e)
                                }
                            });
                        }
                    }
                });
                if failed || q.canceled() {
                    pending.clear();
                }
                if let Some(c) = cap.as_mut() {
                    if !left_ended && left_frontier.is_empty() && !pending.has_side(0) {
                        left_ended = true;
                        if !failed && !q.canceled() {
                            failed = run_emitting(name, output, c, &q, |e| op.on_left_end(e));
                        }
                    }
                    if !right_ended
                        && left_ended
                        && right_frontier.is_empty()
                        && !pending.has_side(1)
                    {
                        right_ended = true;
                        if !failed && !q.canceled() {
                            failed = run_emitting(name, output, c, &q, |e| op.on_right_end(e));
                        }
                    }
                    let earliest = left_frontier
                        .frontier()
                        .first()
                        .copied()
                        .into_iter()
                        .chain(right_frontier.frontier().first().copied())
                        .chain(pending.min_time())
                        .min();
                    match earliest {
                        Some(t) => c.downgrade(&t),
                        None if left_ended && right_ended => cap = None,
                        None => activator.activate(),
                    }
                }
            }
        },
    )
}

fn render_source<'s>(
    scope: Scope<'s, Epoch>,
    spec: SourceSpec,
    q: Rc<QueryShared>,
) -> Stream<'s, Epoch, Chunk> {
    let name = format!("Scan {}", spec.table);
    let table = spec.table.clone();
    render_reader(
        scope,
        name,
        table,
        q,
        SOURCE_POLL,
        move |q: &QueryShared| {
            q.connectors
                .get(&spec.connector)
                .and_then(|connector| connector.open(&spec, &q.place))
        },
    )
}

/// A source operator polling the reader that `open` returns (opened on
/// the first activation); `what` names the input in error messages, and a
/// reader with nothing ready is polled again after `pending_poll`.
fn render_reader<'s, F>(
    scope: Scope<'s, Epoch>,
    name: String,
    what: String,
    q: Rc<QueryShared>,
    pending_poll: Duration,
    open: F,
) -> Stream<'s, Epoch, Chunk>
where
    F: FnOnce(&QueryShared) -> Result<Box<dyn SourceReader>, QueryError> + 'static,
{
    source::<_, Out, _, _>(scope, &name, move |cap, info| {
        let activator = scope.activator_for(info.address);
        let mut cap = Some(cap);
        let mut reader: Option<Box<dyn SourceReader>> = None;
        let mut open = Some(open);
        let mut epoch_started = Instant::now();
        let reading = format!("reading {what}");
        move |output| {
            let Some(c) = cap.as_mut() else { return };
            if q.canceled() {
                cap = None;
                return;
            }
            if reader.is_none() {
                let opened = match open.take() {
                    Some(open) => guard_panic(&format!("opening {what}"), || open(&q)),
                    None => Err(QueryError::new(
                        SqlState::Internal,
                        format!("{what} was opened twice"),
                    )),
                };
                match opened {
                    Ok(r) => reader = Some(r),
                    Err(e) => {
                        give_error(output, &*c, e, 1);
                        cap = None;
                        return;
                    }
                }
            }
            let slice_start = Instant::now();
            let r = reader.as_mut().expect("opened above");
            loop {
                if epoch_started.elapsed() >= q.epoch_interval {
                    let next = *c.time() + 1;
                    c.downgrade(&next);
                    epoch_started = Instant::now();
                }
                if q.source_must_wait(*c.time()) {
                    activator.activate_after(BACKPRESSURE_POLL);
                    return;
                }
                let polled = guard_panic(&reading, || r.poll_next());
                match polled {
                    Ok(SourcePoll::Batch(batch)) => {
                        if batch.num_rows() > 0 {
                            output
                                .session(&*c)
                                .give_container(&mut Chunk::from_batch(batch));
                        }
                    }
                    Ok(SourcePoll::Pending) => {
                        activator.activate_after(pending_poll);
                        return;
                    }
                    Ok(SourcePoll::Finished) => {
                        cap = None;
                        return;
                    }
                    Err(e) => {
                        give_error(output, &*c, e, 1);
                        cap = None;
                        return;
                    }
                }
                if slice_start.elapsed() >= SOURCE_SLICE {
                    activator.activate();
                    return;
                }
            }
        }
    })
}

fn render_values<'s>(
    scope: Scope<'s, Epoch>,
    batch: Option<Result<RecordBatch, QueryError>>,
) -> Stream<'s, Epoch, Chunk> {
    source::<_, Out, _, _>(scope, "Values", move |cap, _info| {
        let mut cap = Some(cap);
        let mut batch = batch;
        move |output| {
            if let Some(c) = cap.take() {
                match batch.take() {
                    Some(Ok(b)) if b.num_rows() > 0 => {
                        output.session(&c).give_container(&mut Chunk::from_batch(b));
                    }
                    Some(Err(e)) => {
                        output
                            .session(&c)
                            .give_container(&mut Chunk::from_error(e, 1));
                    }
                    _ => {}
                }
            }
        }
    })
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

fn render_error<'s>(
    scope: Scope<'s, Epoch>,
    error: QueryError,
    emit: bool,
) -> Stream<'s, Epoch, Chunk> {
    source::<_, Out, _, _>(scope, "PlanError", move |cap, _info| {
        let mut cap = Some(cap);
        let mut error = Some(error);
        move |output| {
            if let Some(c) = cap.take()
                && emit
                && let Some(e) = error.take()
            {
                output
                    .session(&c)
                    .give_container(&mut Chunk::from_error(e, 1));
            }
        }
    })
}

/// Gathers the result on worker 0 and forwards it to the client's channel.
///
/// Events the channel has no room for wait here, holding the capability of
/// their epoch: the sink probe then stays behind and sources wait
/// (`QueryShared::source_must_wait`), so a slow client slows the query down
/// instead of growing its memory.
fn render_sink(
    stream: Stream<'_, Epoch, Chunk>,
    q: Rc<QueryShared>,
    results: Option<ResultSender>,
) {
    let scope = stream.scope();
    let probe = q.sink_probe.clone();
    let mut results = results;
    let mut finished = false;
    let mut pending: VecDeque<(Option<Capability<Epoch>>, QueryEvent)> = VecDeque::new();
    stream
        .unary_frontier::<Out, _, _, _>(
            EdgePact::Exchange(Route::Single(0)),
            "Result",
            move |cap, info| {
                // The operator's own capability follows the input frontier,
                // so it holds the probe back no further than the input does
                // (only waiting events do), and it keeps the dataflow alive
                // until the last event has been sent: without it, an end
                // event waiting for room in a full queue would be dropped
                // with the completed dataflow.
                let mut own = Some(cap);
                let activator = scope.activator_for(info.address);
                move |(input, frontier), _output| {
                    if let (Some(c), Some(t)) = (own.as_mut(), frontier.frontier().first())
                        && c.time() < t
                    {
                        c.downgrade(t);
                    }
                    input.for_each(|time, data| {
                        let cap = time.retain(0);
                        for item in data.take_items() {
                            if finished {
                                continue;
                            }
                            match item {
                                Item::Rows(batch) => {
                                    pending
                                        .push_back((Some(cap.clone()), QueryEvent::Batch(batch)));
                                }
                                Item::Error { error, .. } => {
                                    pending
                                        .push_back((Some(cap.clone()), QueryEvent::Error(error)));
                                    finished = true;
                                    q.cancel.set(true);
                                    q.cancel_requests.borrow_mut().push(q.id);
                                }
                            }
                        }
                    });
                    if frontier.is_empty() && !finished {
                        finished = true;
                        let last = if q.canceled() {
                            QueryEvent::Error(QueryError::canceled())
                        } else {
                            QueryEvent::Done
                        };
                        pending.push_back((None, last));
                    }
                    match results.as_ref() {
                        Some(tx) => {
                            while let Some((cap, event)) = pending.pop_front() {
                                match tx.try_send(event) {
                                    Ok(()) => {}
                                    Err(TrySendError::Full(event)) => {
                                        pending.push_front((cap, event));
                                        activator.activate_after(BACKPRESSURE_POLL);
                                        break;
                                    }
                                    Err(TrySendError::Closed(_)) => {
                                        // The client is gone: stop the query.
                                        if !q.canceled() {
                                            q.cancel.set(true);
                                            q.cancel_requests.borrow_mut().push(q.id);
                                        }
                                        pending.clear();
                                        break;
                                    }
                                }
                            }
                        }
                        None => pending.clear(),
                    }
                    if finished && frontier.is_empty() && pending.is_empty() {
                        results = None;
                        own = None;
                    }
                }
            },
        )
        .probe_with(&probe);
}
