//! Hash aggregation, in two phases across workers.
//!
//! * **Partial** (on the worker where rows are): interns group keys with
//!   DataFusion's vectorized `GroupValues` and updates one
//!   `GroupsAccumulator` per aggregate; when the input ends it emits the
//!   group keys followed by every accumulator's intermediate state.
//! * **Final** (after a hash shuffle on the group keys, so each group is on
//!   one worker): merges partial states per group and emits final values
//!   when the input ends.
//! * **Single**: both steps at once, for input that is already on one worker.
//!
//! State: the group table and accumulators, accounted against the query's
//! memory budget. A global aggregate (no `GROUP BY`) in the final or single
//! phase always emits one row, even over empty input (`count(*)` is 0).
//! Input is append-only; retractions arrive with the continuous-query work.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, BooleanArray, RecordBatch, new_null_array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion_common::Result as DFResult;
use datafusion_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion_expr::{EmitTo, GroupsAccumulator};
use datafusion_functions_aggregate_common::aggregate::groups_accumulator::GroupsAccumulatorAdapter;
use datafusion_physical_expr::PhysicalExpr;
use datafusion_physical_expr::aggregate::{AggregateFunctionExpr, LoweredAggregateBuilder};

use crate::functions::arithmetic::CheckedArithmetic;
use datafusion_physical_expr::expressions::Column;
use datafusion_physical_plan::aggregates::group_values::{GroupValues, new_group_values};
use datafusion_physical_plan::aggregates::order::GroupOrdering;

use super::{Emit, OpResult, UnaryOperator, align_batch, slice_batches};
use crate::error::QueryError;
use crate::expr::{ExprContext, ExprIr, SchemaIr, evaluate_all};
use crate::memory::MemoryReservation;
use crate::plan::AggregatePhase;

/// One aggregate function call, ready to run.
#[derive(Debug)]
struct AggregateCall {
    /// The physical aggregate.
    expr: Arc<AggregateFunctionExpr>,
    /// What to feed `update_batch` (arguments, then ordering keys) or, in the
    /// final phase, the state columns to feed `merge_batch`.
    inputs: Vec<Arc<dyn PhysicalExpr>>,
    /// The call's state columns in a batch of group columns followed by
    /// every call's state (the partial phase's output, and snapshots).
    states: Vec<Arc<dyn PhysicalExpr>>,
    /// `FILTER (WHERE ...)`, applied in the partial/single phase.
    filter: Option<Arc<dyn PhysicalExpr>>,
    /// Types of the call's arguments (and ordering keys), to feed a
    /// filtered-out row for a global aggregate over empty input.
    input_types: Vec<DataType>,
}

/// A lowered aggregate call and its `FILTER (WHERE ...)`.
type LoweredCall = (Arc<AggregateFunctionExpr>, Option<Arc<dyn PhysicalExpr>>);

/// Lowers the aggregate calls of an aggregation over `ctx`'s schema.
fn lower_aggregates(ctx: &ExprContext<'_>, aggregates: &[ExprIr]) -> DFResult<Vec<LoweredCall>> {
    let schema = ctx.arrow_schema();
    aggregates
        .iter()
        .map(|a| {
            let expr = a.to_expr(ctx.registry)?;
            let lowered = LoweredAggregateBuilder::new(
                &expr,
                &ctx.schema,
                &schema,
                ctx.props,
                &PhysicalPlanningContext::default(),
            )
            .build()?;
            // Postgres's arithmetic in the arguments, as in every other
            // physical expression (see `ExprContext::physical`).
            let checked = |e: Arc<dyn PhysicalExpr>| CheckedArithmetic::apply_to(e, &schema);
            let agg = lowered.aggregate;
            let args = agg
                .expressions()
                .into_iter()
                .map(checked)
                .collect::<DFResult<Vec<_>>>()?;
            let order = agg
                .order_bys()
                .iter()
                .map(|s| checked(Arc::clone(&s.expr)))
                .collect::<DFResult<Vec<_>>>()?;
            let aggregate = agg
                .with_new_expressions(args, order)
                .map(Arc::new)
                .unwrap_or(agg);
            Ok((aggregate, lowered.filter.map(checked).transpose()?))
        })
        .collect()
}

/// The schema of the partial phase's output: the group columns (as in
/// `group_fields`) followed by each aggregate's state fields. The final
/// phase reads the states by position; a state field whose name another
/// column has already (the ordering keys of two `first_value(x ORDER BY
/// y)` calls) gets the aggregate's position appended, as a schema must not
/// hold a name twice.
pub fn partial_schema(
    ctx: &ExprContext<'_>,
    group_fields: &SchemaIr,
    aggregates: &[ExprIr],
) -> DFResult<SchemaIr> {
    let mut columns = group_fields.columns.clone();
    let mut names: std::collections::HashSet<String> = columns
        .iter()
        .filter(|(q, _)| q.is_none())
        .map(|(_, f)| f.name().clone())
        .collect();
    for (k, (agg, _)) in lower_aggregates(ctx, aggregates)?.into_iter().enumerate() {
        for f in agg.state_fields()? {
            let mut field = f.as_ref().clone();
            if !names.insert(field.name().clone()) {
                let unique = format!("{}#{k}", field.name());
                names.insert(unique.clone());
                field = field.with_name(unique);
            }
            columns.push((None, field));
        }
    }
    Ok(SchemaIr { columns })
}

/// The parts of an aggregation every operator shares: its phase, group
/// keys, calls and output schema.
#[derive(Debug)]
pub(crate) struct AggregateSpec {
    /// Which phase this is.
    pub(crate) phase: AggregatePhase,
    /// Group key expressions over this operator's input.
    group_exprs: Vec<Arc<dyn PhysicalExpr>>,
    /// The aggregate calls.
    calls: Vec<AggregateCall>,
    /// Schema of the group columns (`None` for a global aggregate).
    group_schema: Option<SchemaRef>,
    /// Output schema.
    pub(crate) schema: SchemaRef,
}

impl AggregateSpec {
    /// Prepares an aggregation. `ctx` describes the original input of the
    /// aggregation (the partial phase's input), which the expressions refer to.
    pub(crate) fn try_new(
        ctx: &ExprContext<'_>,
        group_by: &[ExprIr],
        aggregates: &[ExprIr],
        phase: AggregatePhase,
        schema: SchemaRef,
    ) -> Result<Self, QueryError> {
        let input_schema = ctx.arrow_schema();
        let raw_group_exprs = ctx.physical_all(group_by)?;
        let lowered = lower_aggregates(ctx, aggregates)?;

        // Group keys: expressions over the raw input, or the leading columns
        // of the partial phase's output.
        let group_fields: Vec<Field> = raw_group_exprs
            .iter()
            .zip(group_by)
            .enumerate()
            .map(|(i, (e, _))| {
                Ok(Field::new(
                    format!("group_{i}"),
                    e.data_type(&input_schema)?,
                    e.nullable(&input_schema)?,
                ))
            })
            .collect::<DFResult<_>>()?;
        let group_exprs: Vec<Arc<dyn PhysicalExpr>> = match phase {
            AggregatePhase::Final => (0..group_by.len())
                .map(|i| Arc::new(Column::new(&format!("group_{i}"), i)) as Arc<dyn PhysicalExpr>)
                .collect(),
            _ => raw_group_exprs,
        };

        let mut calls = Vec::with_capacity(lowered.len());
        let mut state_offset = group_by.len();
        for (expr, filter) in lowered {
            let mut raw_inputs = expr.expressions();
            raw_inputs.extend(expr.order_bys().iter().map(|s| Arc::clone(&s.expr)));
            let input_types = raw_inputs
                .iter()
                .map(|e| e.data_type(&input_schema))
                .collect::<DFResult<_>>()?;
            let state_len = expr.state_fields()?.len();
            let states: Vec<Arc<dyn PhysicalExpr>> = (state_offset..state_offset + state_len)
                .map(|i| Arc::new(Column::new(&format!("state_{i}"), i)) as Arc<dyn PhysicalExpr>)
                .collect();
            state_offset += state_len;
            let inputs = match phase {
                AggregatePhase::Final => states.clone(),
                _ => raw_inputs,
            };
            calls.push(AggregateCall {
                expr,
                inputs,
                states,
                filter,
                input_types,
            });
        }
        let group_schema =
            (!group_by.is_empty()).then(|| Arc::new(Schema::new(group_fields)) as SchemaRef);
        Ok(Self {
            phase,
            group_exprs,
            calls,
            group_schema,
            schema,
        })
    }

    /// An empty table of groups.
    pub(crate) fn new_table(&self) -> Result<GroupTable, QueryError> {
        let accumulators = self
            .calls
            .iter()
            .map(|c| create_accumulator(&c.expr))
            .collect::<DFResult<Vec<_>>>()?;
        let group_values = match &self.group_schema {
            Some(schema) => Some(new_group_values(Arc::clone(schema), &GroupOrdering::None)?),
            None => None,
        };
        Ok(GroupTable {
            accumulators,
            group_values,
            group_indices: Vec::new(),
            seen_input: false,
        })
    }

    /// Number of group columns.
    pub(crate) fn group_len(&self) -> usize {
        self.group_exprs.len()
    }

    /// Whether this is a global aggregate (no `GROUP BY`).
    pub(crate) fn is_global(&self) -> bool {
        self.group_schema.is_none()
    }

    /// Evaluates the group keys over `batch`.
    pub(crate) fn group_keys(&self, batch: &RecordBatch) -> DFResult<Vec<ArrayRef>> {
        evaluate_all(&self.group_exprs, batch)
    }
}

/// Groups and their accumulators: the state of one aggregation (or of one
/// window of a window aggregation).
pub(crate) struct GroupTable {
    /// One accumulator per call.
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
    /// The group table (`None` for a global aggregate).
    group_values: Option<Box<dyn GroupValues>>,
    /// Scratch: group index of each row of the current batch.
    group_indices: Vec<usize>,
    /// Whether any input row arrived.
    seen_input: bool,
}

impl GroupTable {
    pub(crate) fn num_groups(&self) -> usize {
        match &self.group_values {
            Some(g) => g.len(),
            None => 1,
        }
    }

    /// Whether any input row arrived.
    pub(crate) fn seen_input(&self) -> bool {
        self.seen_input
    }

    /// Bytes held.
    pub(crate) fn size(&self) -> usize {
        self.group_values.as_ref().map_or(0, |g| g.size())
            + self.accumulators.iter().map(|a| a.size()).sum::<usize>()
            + self.group_indices.capacity() * size_of::<usize>()
    }

    fn intern(&mut self, keys: &[ArrayRef], rows: usize) -> DFResult<()> {
        self.seen_input = true;
        match &mut self.group_values {
            Some(g) => g.intern(keys, &mut self.group_indices)?,
            None => {
                self.group_indices.clear();
                self.group_indices.resize(rows, 0);
            }
        }
        Ok(())
    }

    /// Adds the rows of `batch` (input rows, or partial states in the
    /// final phase) with their group `keys`.
    pub(crate) fn update(
        &mut self,
        spec: &AggregateSpec,
        keys: &[ArrayRef],
        batch: &RecordBatch,
    ) -> DFResult<()> {
        let rows = batch.num_rows();
        self.intern(keys, rows)?;
        let total = self.num_groups();
        for (call, acc) in spec.calls.iter().zip(self.accumulators.iter_mut()) {
            let values = evaluate_all(&call.inputs, batch)?;
            match spec.phase {
                AggregatePhase::Final => acc.merge_batch(&values, &self.group_indices, total)?,
                AggregatePhase::Partial | AggregatePhase::Single => {
                    let filter = match &call.filter {
                        Some(f) => Some(f.evaluate(batch)?.into_array(rows)?),
                        None => None,
                    };
                    let filter: Option<&BooleanArray> = filter.as_ref().map(|f| f.as_boolean());
                    acc.update_batch(&values, &self.group_indices, filter, total)?;
                }
            }
        }
        Ok(())
    }

    /// Makes a global aggregate that saw no rows answer for empty input:
    /// one group that saw one filtered-out row, so that every aggregate
    /// gives its value for no rows (count 0, others NULL).
    pub(crate) fn answer_empty_input(&mut self, spec: &AggregateSpec) -> DFResult<()> {
        let excluded = BooleanArray::from(vec![false]);
        for (call, acc) in spec.calls.iter().zip(self.accumulators.iter_mut()) {
            let row: Vec<ArrayRef> = call
                .input_types
                .iter()
                .map(|t| new_null_array(t, 1))
                .collect();
            acc.update_batch(&row, &[0], Some(&excluded), 1)?;
        }
        self.seen_input = true;
        Ok(())
    }

    /// Takes every group out: the group columns, then each call's final
    /// value (or, in the partial phase, its state columns).
    pub(crate) fn emit(&mut self, phase: AggregatePhase) -> DFResult<Vec<ArrayRef>> {
        let mut columns: Vec<ArrayRef> = match &mut self.group_values {
            Some(g) => g.emit(EmitTo::All)?,
            None => Vec::new(),
        };
        for acc in &mut self.accumulators {
            match phase {
                AggregatePhase::Partial => columns.extend(acc.state(EmitTo::All)?),
                AggregatePhase::Final | AggregatePhase::Single => {
                    columns.push(acc.evaluate(EmitTo::All)?)
                }
            }
        }
        Ok(columns)
    }

    /// Takes every group out as state: the group columns, then each call's
    /// state columns (the partial phase's output, whatever the phase).
    pub(crate) fn take_state(&mut self) -> DFResult<Vec<ArrayRef>> {
        self.emit(AggregatePhase::Partial)
    }

    /// Merges state taken by [`Self::take_state`] (a batch of group
    /// columns followed by state columns) into the table.
    pub(crate) fn merge_state(
        &mut self,
        spec: &AggregateSpec,
        state: &RecordBatch,
    ) -> DFResult<()> {
        let rows = state.num_rows();
        let keys: Vec<ArrayRef> = state.columns()[..spec.group_len()].to_vec();
        self.intern(&keys, rows)?;
        let total = self.num_groups();
        for (call, acc) in spec.calls.iter().zip(self.accumulators.iter_mut()) {
            let values = evaluate_all(&call.states, state)?;
            acc.merge_batch(&values, &self.group_indices, total)?;
        }
        Ok(())
    }
}

/// Hash aggregation over a bounded input (see the module docs).
pub struct AggregateOperator {
    spec: AggregateSpec,
    table: GroupTable,
    /// Memory held by the table and accumulators.
    reservation: MemoryReservation,
    /// Rows per output batch.
    batch_size: usize,
    /// Whether this instance produces the row of a global aggregate over
    /// empty input. Global aggregates run where all their input is gathered
    /// (worker 0); the instances on other workers see nothing and must not
    /// answer for the whole input.
    answers_empty_input: bool,
}

impl std::fmt::Debug for AggregateOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AggregateOperator")
            .field("spec", &self.spec)
            .finish()
    }
}

impl AggregateOperator {
    /// Creates the operator. `ctx` describes the original input of the
    /// aggregation (the partial phase's input), which the expressions refer to.
    pub fn try_new(
        ctx: &ExprContext<'_>,
        group_by: &[ExprIr],
        aggregates: &[ExprIr],
        phase: AggregatePhase,
        schema: SchemaRef,
        reservation: MemoryReservation,
        batch_size: usize,
    ) -> Result<Self, QueryError> {
        let spec = AggregateSpec::try_new(ctx, group_by, aggregates, phase, schema)?;
        let table = spec.new_table()?;
        Ok(Self {
            spec,
            table,
            reservation,
            batch_size,
            answers_empty_input: true,
        })
    }

    /// Sets whether this instance produces the row of a global aggregate
    /// over empty input (only the instance on the worker that gathers the
    /// input should).
    pub fn with_answers_empty_input(mut self, answers: bool) -> Self {
        self.answers_empty_input = answers;
        self
    }

    fn emit(&mut self, out: &mut dyn Emit) -> Result<(), QueryError> {
        let global = self.spec.is_global();
        if !global && self.table.num_groups() == 0 {
            return Ok(());
        }
        if global
            && (self.spec.phase == AggregatePhase::Partial || !self.answers_empty_input)
            && !self.table.seen_input()
        {
            // A partial global aggregate that saw no rows contributes nothing;
            // the final phase produces the row for empty input.
            return Ok(());
        }
        let columns = self.table.emit(self.spec.phase)?;
        let batch = align_batch(&self.spec.schema, columns)?;
        self.reservation.free();
        slice_batches(batch, self.batch_size, out);
        Ok(())
    }
}

fn create_accumulator(expr: &Arc<AggregateFunctionExpr>) -> DFResult<Box<dyn GroupsAccumulator>> {
    if expr.groups_accumulator_supported() {
        expr.create_groups_accumulator()
    } else {
        let expr = Arc::clone(expr);
        Ok(Box::new(GroupsAccumulatorAdapter::new(move || {
            expr.create_accumulator()
        })))
    }
}

impl UnaryOperator for AggregateOperator {
    fn on_batch(
        &mut self,
        _epoch: crate::Epoch,
        batch: RecordBatch,
        _out: &mut dyn Emit,
    ) -> OpResult {
        let keys = self.spec.group_keys(&batch)?;
        self.table.update(&self.spec, &keys, &batch)?;
        self.reservation.try_resize(self.table.size())
    }

    fn on_end(&mut self, out: &mut dyn Emit) -> OpResult {
        if self.spec.is_global()
            && !self.table.seen_input()
            && self.spec.phase != AggregatePhase::Partial
            && self.answers_empty_input
        {
            self.table.answer_empty_input(&self.spec)?;
        }
        self.emit(out)
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::DataType;
    use datafusion_expr::execution_props::ExecutionProps;
    use datafusion_expr::{col, lit};
    use datafusion_functions_aggregate::expr_fn::{avg, count, max, min, sum};

    use super::*;
    use crate::functions::FunctionRegistry;
    use crate::memory::MemoryBudget;

    #[test]
    fn global_aggregate_over_no_rows_counts_zero_and_is_null_otherwise() {
        let input =
            SchemaIr::from_arrow(&Schema::new(vec![Field::new("a", DataType::Float64, true)]));
        let props = ExecutionProps::new();
        let ctx = ExprContext::try_new(FunctionRegistry::shared(), &input, &props).unwrap();
        let aggregates: Vec<ExprIr> = [
            count(lit(1)),
            sum(col("a")),
            min(col("a")),
            max(col("a")),
            avg(col("a")),
        ]
        .iter()
        .map(|e| ExprIr::try_from_expr(e).unwrap())
        .collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("count", DataType::Int64, true),
            Field::new("sum", DataType::Float64, true),
            Field::new("min", DataType::Float64, true),
            Field::new("max", DataType::Float64, true),
            Field::new("avg", DataType::Float64, true),
        ]));
        let budget = MemoryBudget::new(1 << 30);
        for phase in [AggregatePhase::Single, AggregatePhase::Final] {
            let mut op = AggregateOperator::try_new(
                &ctx,
                &[],
                &aggregates,
                phase,
                Arc::clone(&schema),
                budget.reservation("t"),
                1024,
            )
            .unwrap();
            let mut out = Vec::new();
            op.on_end(&mut out).unwrap();
            assert_eq!(out.len(), 1);
            let row = &out[0];
            assert_eq!(row.num_rows(), 1);
            assert_eq!(
                row.column(0)
                    .as_primitive::<arrow::datatypes::Int64Type>()
                    .value(0),
                0
            );
            for c in 1..5 {
                assert!(
                    row.column(c).is_null(0),
                    "column {c} of {phase:?} should be NULL"
                );
            }
        }
        // Other workers' instances answer nothing.
        let mut op = AggregateOperator::try_new(
            &ctx,
            &[],
            &aggregates,
            AggregatePhase::Final,
            schema,
            budget.reservation("t"),
            1024,
        )
        .unwrap()
        .with_answers_empty_input(false);
        let mut out = Vec::new();
        op.on_end(&mut out).unwrap();
        assert!(out.is_empty());
    }
}
