//! Preparing a plan: every node's physical expressions and operator
//! struct, created before any timely operator (see [`super`]).

use std::sync::Arc;

use arrow::array::RecordBatch;
use datafusion_expr::execution_props::ExecutionProps;
use datafusion_physical_expr::PhysicalExpr;

use super::{QueryShared, guard_panic, nullable_schema};
use crate::error::QueryError;
use crate::expr::ExprContext;
use crate::functions::FunctionRegistry;
use crate::operators::aggregate::AggregateOperator;
use crate::operators::changefeed::ChangefeedOperator;
use crate::operators::filter::FilterOperator;
use crate::operators::hash_join::HashJoinOperator;
use crate::operators::limit::LimitOperator;
use crate::operators::project::ProjectOperator;
use crate::operators::publish::PublishOperator;
use crate::operators::retracting_aggregate::RetractingAggregateOperator;
use crate::operators::sink::SinkOperator;
use crate::operators::sort::SortOperator;
use crate::operators::stream_join::StreamJoinOperator;
use crate::operators::top_n::TopNOperator;
use crate::operators::unnest::UnnestOperator;
use crate::operators::updating_aggregate::UpdatingAggregateOperator;
use crate::operators::window::WindowOperator;
use crate::operators::window_aggregate::WindowAggregateOperator;
use crate::operators::window_assign::WindowAssignOperator;
use crate::operators::{BinaryOperator, UnaryOperator};
use crate::plan::{DataflowPlan, Exchange, NodeKind};
use crate::series::SeriesSpec;
use crate::shuffle::{EdgePact, Route};
use crate::source::SourceSpec;

/// A node ready to be wired into timely.
pub(super) enum Prepared {
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
    /// A materialized view's part on this worker.
    ViewScan(super::source::ViewScanSpec),
}

/// An input edge ready to be wired.
pub(super) enum PreparedRoute {
    Forward,
    Hash(Vec<Arc<dyn PhysicalExpr>>),
    Single,
}

impl PreparedRoute {
    /// The edge's contract; hash routes spread rows over the first
    /// `workers` workers (the query's parallelism).
    pub(super) fn pact(&self, workers: usize) -> EdgePact {
        match self {
            PreparedRoute::Forward => EdgePact::Forward,
            PreparedRoute::Hash(exprs) => EdgePact::Exchange(Route::Hash(exprs.clone(), workers)),
            PreparedRoute::Single => EdgePact::Exchange(Route::Single(0)),
        }
    }
}

pub(super) fn prepare(
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
            NodeKind::StreamJoin {
                join_type,
                left_keys,
                right_keys,
                filter,
                null_equals_null,
            } => {
                // Keys and filter refer to the sides' data columns (an
                // updating side's op column is not part of the join).
                let (left_data, right_data) =
                    (data_columns(input_schema(0)), data_columns(input_schema(1)));
                let left = ExprContext::try_new(registry, &left_data, &props)?;
                let right = ExprContext::try_new(registry, &right_data, &props)?;
                let both = ExprContext::try_new(
                    registry,
                    &concat_schemas(&left_data, &right_data),
                    &props,
                )?;
                Prepared::Binary(Box::new(StreamJoinOperator::try_new(
                    *join_type,
                    left.physical_all(left_keys)?,
                    right.physical_all(right_keys)?,
                    filter.as_ref().map(|f| both.physical(f)).transpose()?,
                    *null_equals_null,
                    left.arrow_schema(),
                    right.arrow_schema(),
                    output_schema,
                    q.budget.reservation("stream join"),
                )?))
            }
            NodeKind::TopN {
                partition_by,
                order_by,
                limit,
            } => {
                let data = data_columns(input_schema(0));
                let ctx = ExprContext::try_new(registry, &data, &props)?;
                Prepared::Unary(Box::new(TopNOperator::try_new(
                    ctx.physical_all(partition_by)?,
                    ctx.physical_sort(order_by)?,
                    *limit,
                    ctx.arrow_schema(),
                    output_schema,
                    q.budget.reservation("top n"),
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
            NodeKind::UpdatingAggregate {
                group_by,
                aggregates,
                input_schema: agg_input,
            } => {
                let ctx = ExprContext::try_new(registry, agg_input, &props)?;
                if crate::changelog::is_updating(&input_schema(0).arrow_schema()) {
                    // A changelog: groups are aggregated again from their
                    // rows, so that retractions (of a min or max too) work.
                    Prepared::Unary(Box::new(
                        RetractingAggregateOperator::try_new(
                            &ctx,
                            group_by,
                            aggregates,
                            output_schema,
                            q.budget.reservation("updating aggregate"),
                        )?
                        .with_answers_global(q.place.worker_index == 0),
                    ))
                } else {
                    Prepared::Unary(Box::new(UpdatingAggregateOperator::try_new(
                        &ctx,
                        group_by,
                        aggregates,
                        output_schema,
                        q.budget.reservation("updating aggregate"),
                    )?))
                }
            }
            NodeKind::Publish { view } => {
                let input = nullable_schema(&input_schema(0).arrow_schema());
                let part = q.views.create_part(
                    *view,
                    q.place.worker_index,
                    crate::changelog::data_schema(&input),
                );
                Prepared::Unary(Box::new(PublishOperator::try_new(part)?))
            }
            NodeKind::Changefeed => {
                Prepared::Unary(Box::new(ChangefeedOperator::new(output_schema)))
            }
            NodeKind::ViewScan {
                view,
                name,
                epoch,
                follow,
                projection,
            } => Prepared::ViewScan(super::source::ViewScanSpec {
                view: *view,
                name: name.clone(),
                epoch: *epoch,
                follow: *follow,
                projection: projection.clone(),
                schema: output_schema,
            }),
            NodeKind::WindowAggregate {
                group_by,
                aggregates,
                phase,
                input_schema: agg_input,
                window_end,
            } => {
                let ctx = ExprContext::try_new(registry, agg_input, &props)?;
                Prepared::Unary(Box::new(
                    WindowAggregateOperator::try_new(
                        &ctx,
                        group_by,
                        aggregates,
                        *phase,
                        *window_end,
                        output_schema,
                        q.budget.reservation("window aggregate"),
                        q.config.batch_size,
                    )?
                    .with_late_counter(q.progress.late_rows_counter()),
                ))
            }
            NodeKind::WindowAssign { time, window } => {
                let ctx = ExprContext::try_new(registry, input_schema(0), &props)?;
                Prepared::Unary(Box::new(WindowAssignOperator::try_new(
                    ctx.physical(time)?,
                    *window,
                    output_schema,
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

/// A stream's columns without its op column (when it is updating).
fn data_columns(schema: &crate::expr::SchemaIr) -> crate::expr::SchemaIr {
    let mut data = schema.clone();
    if crate::changelog::is_updating(&data.arrow_schema()) {
        data.columns.pop();
    }
    data
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
