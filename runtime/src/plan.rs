//! Dataflow plans: what the planner produces and every worker builds.
//!
//! A plan is a DAG of [`PlanNode`]s in topological order (a node's inputs
//! come before it). Each input [`Edge`] says how rows move from the producing
//! node's workers to the consuming node's: stay ([`Exchange::Forward`]), hash
//! shuffle by key ([`Exchange::Hash`]) or gather on worker 0
//! ([`Exchange::Single`]). The root's rows are the query result; the runtime
//! gathers them on worker 0 and streams them to the client.
//!
//! Plans are serialized (bincode) and sent to all workers in all processes;
//! everything in them is plain data.

use std::fmt;

use arrow::datatypes::{DataType, Field};
use serde::{Deserialize, Serialize};

use crate::Epoch;
use crate::expr::{ExprIr, SchemaIr, SortIr};
use crate::series::SeriesSpec;
use crate::sink::SinkSpec;
use crate::source::SourceSpec;

/// Index of a node in [`DataflowPlan::nodes`].
pub type NodeId = usize;

/// A query, ready to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataflowPlan {
    /// Nodes in topological order.
    pub nodes: Vec<PlanNode>,
    /// The node whose output is the result.
    pub root: NodeId,
    /// Settings of this query.
    pub config: QueryConfig,
}

/// Settings that apply to one query.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QueryConfig {
    /// Preferred rows per batch.
    pub batch_size: usize,
    /// Memory one worker may hold for this query's state, in bytes.
    pub memory_limit_per_worker: usize,
    /// Query start, nanoseconds since the Unix epoch (`now()`).
    pub start_time_nanos: i64,
    /// Whether the query runs continuously (a job): operators then see
    /// epochs strictly in order, so that their state can be cut at an
    /// epoch's end (see `render::pending`).
    #[serde(default)]
    pub continuous: bool,
    /// How many workers do the query's work (a job's parallelism): its
    /// sources' splits and its hash-partitioned state go to the first
    /// `parallelism` workers only, the others take part in its dataflow
    /// but hold nothing. 0: every worker.
    #[serde(default)]
    pub parallelism: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            batch_size: 8192,
            memory_limit_per_worker: 4 << 30,
            start_time_nanos: 0,
            continuous: false,
            parallelism: 0,
        }
    }
}

impl QueryConfig {
    /// The workers that do the query's work, of `peers`.
    pub fn workers(&self, peers: usize) -> usize {
        match self.parallelism {
            0 => peers,
            n => n.min(peers),
        }
    }
}

/// One operator of the plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanNode {
    /// What the node does.
    pub kind: NodeKind,
    /// Inputs, in the order the operator expects them.
    pub inputs: Vec<Edge>,
    /// The schema of the node's output.
    pub schema: SchemaIr,
}

/// An input of a node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Edge {
    /// The producing node.
    pub from: NodeId,
    /// How rows move along the edge.
    pub exchange: Exchange,
}

impl Edge {
    /// An edge that keeps rows on their worker.
    pub fn forward(from: NodeId) -> Self {
        Self {
            from,
            exchange: Exchange::Forward,
        }
    }
}

/// How rows move between workers along an edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Exchange {
    /// Rows stay on the worker that produced them.
    Forward,
    /// Rows go to the worker owning the key group of these keys (evaluated
    /// over the producing node's schema).
    Hash(Vec<ExprIr>),
    /// All rows go to worker 0.
    Single,
}

/// The phase of an aggregation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AggregatePhase {
    /// Group and aggregate input rows into partial states; output is the
    /// group columns followed by each aggregate's state columns.
    Partial,
    /// Merge partial states (from [`AggregatePhase::Partial`]) by group and
    /// produce final values. `group_by` and `aggregates` are the same
    /// expressions as the partial phase's, over the partial phase's input.
    Final,
    /// Aggregate input rows to final values in one step.
    Single,
}

/// Join types, as in DataFusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinKind {
    /// Matching pairs.
    Inner,
    /// All left rows, matched or padded with nulls.
    Left,
    /// All right rows, matched or padded with nulls.
    Right,
    /// All rows of both sides.
    Full,
    /// Left rows with a match.
    LeftSemi,
    /// Left rows without a match.
    LeftAnti,
    /// Right rows with a match.
    RightSemi,
    /// Right rows without a match.
    RightAnti,
    /// All left rows plus a boolean `mark` column: whether it matched.
    LeftMark,
    /// All right rows plus a boolean `mark` column: whether it matched.
    RightMark,
}

/// How [`NodeKind::Unnest`] counts NULL and empty lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnnestNulls {
    /// NULL and empty lists give no rows (SQL `unnest`).
    Drop,
    /// A NULL list gives one row with a NULL element; an empty list none.
    Preserve,
    /// NULL and empty lists both give one row with a NULL element.
    PreserveAndExpandEmpty,
}

/// The windows of a window table function, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Serialize, Deserialize)]
pub enum WindowSpec {
    /// `TUMBLE(..., size [, offset])`: windows of `size` that do not overlap.
    Tumble {
        /// Window length.
        size: i64,
        /// Shift of the window boundaries from the Unix epoch.
        offset: i64,
    },
    /// `HOP(..., slide, size [, offset])`: windows of `size` starting every
    /// `slide`.
    Hop {
        /// Distance between window starts.
        slide: i64,
        /// Window length.
        size: i64,
        /// Shift of the window boundaries from the Unix epoch.
        offset: i64,
    },
}

/// What an operator does.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum NodeKind {
    /// Reads a table through its connector.
    Scan(SourceSpec),
    /// Literal rows, produced on worker 0.
    Values {
        /// Rows of expressions (no column references).
        rows: Vec<Vec<ExprIr>>,
    },
    /// Materialized rows (system tables), produced on worker 0.
    Rows {
        /// The rows as an Arrow IPC stream.
        ipc: Vec<u8>,
    },
    /// `generate_series(...)`, produced on worker 0. The schema has the
    /// value column, or no column when only the row count is used.
    Series {
        /// The series.
        spec: SeriesSpec,
        /// Upper bound on the rows needed.
        limit: Option<usize>,
    },
    /// Replaces list columns by their elements (one row per element, the
    /// other columns repeated) and struct columns by their fields.
    Unnest {
        /// Input columns holding lists, each at most once.
        lists: Vec<usize>,
        /// Input columns holding structs.
        structs: Vec<usize>,
        /// How NULL and empty lists count.
        nulls: UnnestNulls,
    },
    /// Evaluates expressions over each row.
    Project {
        /// One expression per output column.
        exprs: Vec<ExprIr>,
    },
    /// Keeps rows for which the predicate is true.
    Filter {
        /// Boolean expression over the input.
        predicate: ExprIr,
    },
    /// Hash aggregation.
    Aggregate {
        /// Group keys over the (original) input.
        group_by: Vec<ExprIr>,
        /// Aggregate function calls over the (original) input.
        aggregates: Vec<ExprIr>,
        /// Which phase this node runs.
        phase: AggregatePhase,
        /// Schema of the original input of the aggregation (the partial
        /// phase's input); the expressions refer to it.
        input_schema: SchemaIr,
    },
    /// Window aggregation (`GROUP BY window_start, window_end, ...` over a
    /// window table function): like [`NodeKind::Aggregate`], but each
    /// window's groups are emitted once the watermark passes the window's
    /// end (see [`crate::operators::window_aggregate`]).
    WindowAggregate {
        /// Group keys over the (original) input; one is the window end.
        group_by: Vec<ExprIr>,
        /// Aggregate function calls over the (original) input.
        aggregates: Vec<ExprIr>,
        /// Which phase this node runs.
        phase: AggregatePhase,
        /// Schema of the original input of the aggregation.
        input_schema: SchemaIr,
        /// Position of the window end among `group_by`.
        window_end: usize,
    },
    /// Updating aggregation (`GROUP BY` without windows in a continuous
    /// query): emits a changelog of each group's values as they change
    /// (see [`crate::operators::updating_aggregate`]). Its input is hashed
    /// on the group keys; its schema ends with the op column.
    UpdatingAggregate {
        /// Group keys over the input.
        group_by: Vec<ExprIr>,
        /// Aggregate function calls over the input.
        aggregates: Vec<ExprIr>,
        /// Schema of the input.
        input_schema: SchemaIr,
    },
    /// Keeps the rows of a materialized view (its input, hashed on all
    /// data columns) and publishes them as of each epoch (see
    /// [`crate::operators::publish`]); produces nothing.
    Publish {
        /// The view (its catalog object id).
        view: u64,
    },
    /// The rows of a subscription: its input (gathered, in epoch order)
    /// with the epoch and the change (+1/-1) of each row in front (see
    /// [`crate::operators::changefeed`]).
    Changefeed,
    /// Reads a materialized view's rows on every worker (each worker its
    /// own part): as of `epoch`, and with `follow` every later change too
    /// (the output is then updating, and its epochs are the view's).
    ViewScan {
        /// The view (its catalog object id).
        view: u64,
        /// The view's name, for messages.
        name: String,
        /// The epoch to read (set when the query is submitted).
        epoch: Option<Epoch>,
        /// Whether to go on with the view's changes after `epoch`.
        follow: bool,
        /// The view's columns to read, in order; `None` for all.
        projection: Option<Vec<usize>>,
    },
    /// A window table function (`TUMBLE`, `HOP`): appends `window_start`,
    /// `window_end` and `window_time` to each row, once per window the
    /// row's time falls in.
    WindowAssign {
        /// The row's time (a timestamp expression over the input).
        time: ExprIr,
        /// Which windows.
        window: WindowSpec,
    },
    /// Equi-join: the first input is built into a hash table, the second
    /// probes it. Both inputs are partitioned by their keys.
    HashJoin {
        /// Join type.
        join_type: JoinKind,
        /// Keys over the left (build) input.
        left_keys: Vec<ExprIr>,
        /// Keys over the right (probe) input.
        right_keys: Vec<ExprIr>,
        /// Extra condition over the concatenated left and right columns.
        filter: Option<ExprIr>,
        /// Whether `NULL` keys match each other.
        null_equals_null: bool,
        /// `NOT IN` semantics for anti joins (see the hash join operator).
        null_aware: bool,
    },
    /// Updating equi-join of a continuous query (inner or outer, over
    /// append-only or updating inputs): keeps both sides' rows per key and
    /// emits a changelog (see [`crate::operators::stream_join`]). Both
    /// inputs are partitioned by their keys; its schema ends with the op
    /// column.
    StreamJoin {
        /// Join type (inner, left, right or full).
        join_type: JoinKind,
        /// Keys over the left input.
        left_keys: Vec<ExprIr>,
        /// Keys over the right input.
        right_keys: Vec<ExprIr>,
        /// Extra condition over the concatenated left and right columns.
        filter: Option<ExprIr>,
        /// Whether `NULL` keys match each other.
        null_equals_null: bool,
    },
    /// TopN of a continuous query (`ROW_NUMBER() OVER (PARTITION BY …
    /// ORDER BY …) <= limit`): the input's columns and the row number of
    /// each partition's first `limit` rows, as a changelog (see
    /// [`crate::operators::top_n`]). Its input is hashed on the partition
    /// keys; its schema ends with the op column.
    TopN {
        /// Partition keys over the input.
        partition_by: Vec<ExprIr>,
        /// Order within a partition.
        order_by: Vec<SortIr>,
        /// Rows kept per partition.
        limit: usize,
    },
    /// Join on an arbitrary condition (or none: a cross join), on worker 0.
    NestedLoopJoin {
        /// Join type.
        join_type: JoinKind,
        /// Condition over the concatenated left and right columns.
        filter: Option<ExprIr>,
    },
    /// Sorts (and optionally keeps the first `fetch` rows).
    Sort {
        /// Sort keys.
        order: Vec<SortIr>,
        /// Keep only this many rows.
        fetch: Option<usize>,
    },
    /// Skips and limits rows, in arrival order.
    Limit {
        /// Rows to skip.
        skip: usize,
        /// Rows to keep after skipping.
        fetch: Option<usize>,
    },
    /// Concatenates its inputs (all with the same schema).
    Union,
    /// Window functions (`OVER`): appends one column per expression.
    Window {
        /// Window function calls over the input.
        exprs: Vec<ExprIr>,
    },
    /// Rows a client pushes into the query while it runs (`COPY ... FROM
    /// STDIN`), produced on worker 0 of process 0 (see
    /// [`crate::pool::Runtime::open_input`]).
    Input {
        /// The input, as opened.
        id: u64,
    },
    /// Writes its input (gathered on worker 0) into a table, committing
    /// when the input ends; its output is one row, the number of rows
    /// written (see [`crate::sink`]).
    Sink(SinkSpec),
}

impl NodeKind {
    /// A short name for plans and logs.
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::Scan(_) => "Scan",
            NodeKind::Values { .. } => "Values",
            NodeKind::Rows { .. } => "Rows",
            NodeKind::Series { .. } => "Series",
            NodeKind::Unnest { .. } => "Unnest",
            NodeKind::Project { .. } => "Project",
            NodeKind::Filter { .. } => "Filter",
            NodeKind::Aggregate { phase, .. } => match phase {
                AggregatePhase::Partial => "PartialAggregate",
                AggregatePhase::Final => "FinalAggregate",
                AggregatePhase::Single => "Aggregate",
            },
            NodeKind::WindowAggregate { phase, .. } => match phase {
                AggregatePhase::Partial => "PartialWindowAggregate",
                AggregatePhase::Final => "FinalWindowAggregate",
                AggregatePhase::Single => "WindowAggregate",
            },
            NodeKind::UpdatingAggregate { .. } => "UpdatingAggregate",
            NodeKind::Publish { .. } => "Publish",
            NodeKind::Changefeed => "Changefeed",
            NodeKind::ViewScan { .. } => "ViewScan",
            NodeKind::WindowAssign { window, .. } => match window {
                WindowSpec::Tumble { .. } => "Tumble",
                WindowSpec::Hop { .. } => "Hop",
            },
            NodeKind::HashJoin { .. } => "HashJoin",
            NodeKind::StreamJoin { .. } => "StreamJoin",
            NodeKind::TopN { .. } => "TopN",
            NodeKind::NestedLoopJoin { .. } => "NestedLoopJoin",
            NodeKind::Sort { .. } => "Sort",
            NodeKind::Limit { .. } => "Limit",
            NodeKind::Union => "Union",
            NodeKind::Window { .. } => "Window",
            NodeKind::Input { .. } => "Input",
            NodeKind::Sink(_) => "Sink",
        }
    }
}

impl DataflowPlan {
    /// The plan with a [`NodeKind::Sink`] at its root, writing the old
    /// root's rows (gathered on worker 0) into `spec`'s table.
    pub fn with_sink(mut self, spec: SinkSpec) -> Self {
        let from = self.root;
        self.nodes.push(PlanNode {
            kind: NodeKind::Sink(spec),
            inputs: vec![Edge {
                from,
                exchange: Exchange::Single,
            }],
            schema: SchemaIr::from_arrow(&crate::operators::sink::sink_output_schema()),
        });
        self.root = self.nodes.len() - 1;
        self
    }

    /// How many of node `id`'s columns are data (all but the changelog's
    /// op column of an updating stream).
    fn data_columns(&self, id: NodeId) -> usize {
        let schema = &self.nodes[id].schema;
        if crate::changelog::is_updating(&schema.arrow_schema()) {
            schema.columns.len() - 1
        } else {
            schema.columns.len()
        }
    }

    /// The plan with a [`NodeKind::Publish`] at its root: the old root's
    /// rows, hashed on every data column, become view `view`'s state.
    pub fn with_publish(mut self, view: u64) -> Self {
        let from = self.root;
        let schema = &self.nodes[from].schema;
        let data_columns = self.data_columns(from);
        let keys = (0..data_columns)
            .map(|i| ExprIr::Column {
                relation: schema.columns[i].0.clone(),
                name: schema.columns[i].1.name().clone(),
            })
            .collect::<Vec<_>>();
        let exchange = if keys.is_empty() {
            Exchange::Single
        } else {
            Exchange::Hash(keys)
        };
        self.nodes.push(PlanNode {
            kind: NodeKind::Publish { view },
            inputs: vec![Edge { from, exchange }],
            schema: SchemaIr { columns: vec![] },
        });
        self.root = self.nodes.len() - 1;
        self
    }

    /// The plan with a [`NodeKind::Changefeed`] at its root: the old root's
    /// rows gathered on worker 0, each with its epoch and change.
    pub fn with_changefeed(mut self) -> Self {
        use crate::operators::changefeed::{DIFF_COLUMN, EPOCH_COLUMN};
        let from = self.root;
        let input = &self.nodes[from].schema;
        let data_columns = self.data_columns(from);
        let mut columns = vec![
            (None, Field::new(EPOCH_COLUMN, DataType::Int64, false)),
            (None, Field::new(DIFF_COLUMN, DataType::Int64, false)),
        ];
        columns.extend(input.columns[..data_columns].iter().cloned());
        self.nodes.push(PlanNode {
            kind: NodeKind::Changefeed,
            inputs: vec![Edge {
                from,
                exchange: Exchange::Single,
            }],
            schema: SchemaIr { columns },
        });
        self.root = self.nodes.len() - 1;
        self
    }

    /// Serializes the plan for the workers.
    pub fn encode(&self) -> Vec<u8> {
        bincode::serialize(self).expect("dataflow plans always serialize")
    }

    /// Decodes a plan from [`Self::encode`].
    pub fn decode(bytes: &[u8]) -> crate::Result<Self> {
        bincode::deserialize(bytes).map_err(|e| crate::Error::InvalidPlan(e.to_string()))
    }

    /// Checks the structural invariants: inputs precede their consumers,
    /// the root exists, and nodes have as many inputs as they read.
    pub fn validate(&self) -> crate::Result<()> {
        if self.root >= self.nodes.len() {
            return Err(crate::Error::InvalidPlan("root out of range".into()));
        }
        for (id, node) in self.nodes.iter().enumerate() {
            let inputs = match node.kind {
                NodeKind::Scan(_)
                | NodeKind::Values { .. }
                | NodeKind::Rows { .. }
                | NodeKind::Series { .. }
                | NodeKind::ViewScan { .. }
                | NodeKind::Input { .. } => Some(0),
                NodeKind::HashJoin { .. }
                | NodeKind::StreamJoin { .. }
                | NodeKind::NestedLoopJoin { .. } => Some(2),
                NodeKind::Union => None,
                _ => Some(1),
            };
            if inputs.is_some_and(|n| n != node.inputs.len()) {
                return Err(crate::Error::InvalidPlan(format!(
                    "node {id} ({}) has {} inputs",
                    node.kind.name(),
                    node.inputs.len()
                )));
            }
            for edge in &node.inputs {
                if edge.from >= id {
                    return Err(crate::Error::InvalidPlan(format!(
                        "node {id} reads node {} which does not precede it",
                        edge.from
                    )));
                }
            }
        }
        Ok(())
    }

    fn fmt_node(
        &self,
        f: &mut fmt::Formatter<'_>,
        id: NodeId,
        indent: usize,
        via: Option<&Exchange>,
    ) -> fmt::Result {
        let node = &self.nodes[id];
        write!(f, "{:indent$}", "", indent = indent * 2)?;
        match via {
            Some(Exchange::Hash(keys)) => write!(f, "[hash {}] ", ExprList(keys))?,
            Some(Exchange::Single) => write!(f, "[gather] ")?,
            _ => {}
        }
        write!(f, "{}", node.kind.name())?;
        match &node.kind {
            NodeKind::Scan(spec) => {
                write!(f, ": {} connector={}", spec.table, spec.connector)?;
                if let Some(p) = &spec.projection {
                    let names: Vec<_> = p
                        .iter()
                        .map(|i| spec.schema.field(*i).name().as_str())
                        .collect();
                    write!(f, " columns=[{}]", names.join(", "))?;
                }
                if let Some(l) = spec.limit {
                    write!(f, " limit={l}")?;
                }
            }
            NodeKind::Values { rows } => write!(f, ": {} rows", rows.len())?,
            NodeKind::Rows { .. } => {}
            NodeKind::Series { spec, limit } => {
                match spec {
                    SeriesSpec::Integers { start, stop, step } => {
                        write!(f, ": {start} to {stop} step {step}")?
                    }
                    SeriesSpec::Timestamps {
                        start,
                        stop,
                        months,
                        days,
                        nanos,
                        ..
                    } => write!(
                        f,
                        ": {start} to {stop} (microseconds) step {months} months {days} days {nanos} ns"
                    )?,
                }
                if let Some(l) = limit {
                    write!(f, " limit={l}")?;
                }
            }
            NodeKind::Unnest {
                lists,
                structs,
                nulls,
            } => {
                let names = |columns: &[usize]| {
                    columns
                        .iter()
                        .map(|c| format!("#{c}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                write!(f, ": lists=[{}]", names(lists))?;
                if !structs.is_empty() {
                    write!(f, " structs=[{}]", names(structs))?;
                }
                if *nulls != UnnestNulls::Drop {
                    write!(f, " nulls={nulls:?}")?;
                }
            }
            NodeKind::Project { exprs } => write!(f, ": {}", ExprList(exprs))?,
            NodeKind::Filter { predicate } => write!(f, ": {}", DisplayExpr(predicate))?,
            NodeKind::Aggregate {
                group_by,
                aggregates,
                ..
            } => write!(
                f,
                ": group_by=[{}] aggregates=[{}]",
                ExprList(group_by),
                ExprList(aggregates)
            )?,
            NodeKind::UpdatingAggregate {
                group_by,
                aggregates,
                ..
            } => write!(
                f,
                ": group_by=[{}] aggregates=[{}]",
                ExprList(group_by),
                ExprList(aggregates)
            )?,
            NodeKind::Publish { view } => write!(f, ": view {view}")?,
            NodeKind::Changefeed => {}
            NodeKind::ViewScan {
                name,
                follow,
                projection,
                ..
            } => {
                write!(f, ": {name}")?;
                if let Some(p) = projection {
                    write!(f, " columns={p:?}")?;
                }
                if *follow {
                    write!(f, " follow")?;
                }
            }
            NodeKind::WindowAggregate {
                group_by,
                aggregates,
                ..
            } => write!(
                f,
                ": group_by=[{}] aggregates=[{}]",
                ExprList(group_by),
                ExprList(aggregates)
            )?,
            NodeKind::WindowAssign { time, window } => {
                let secs = |us: &i64| Micros(*us);
                match window {
                    WindowSpec::Tumble { size, offset } => {
                        write!(f, ": {} size={}", DisplayExpr(time), secs(size))?;
                        if *offset != 0 {
                            write!(f, " offset={}", secs(offset))?;
                        }
                    }
                    WindowSpec::Hop {
                        slide,
                        size,
                        offset,
                    } => {
                        write!(
                            f,
                            ": {} slide={} size={}",
                            DisplayExpr(time),
                            secs(slide),
                            secs(size)
                        )?;
                        if *offset != 0 {
                            write!(f, " offset={}", secs(offset))?;
                        }
                    }
                }
            }
            NodeKind::HashJoin {
                join_type,
                left_keys,
                right_keys,
                filter,
                ..
            }
            | NodeKind::StreamJoin {
                join_type,
                left_keys,
                right_keys,
                filter,
                ..
            } => {
                write!(f, ": {join_type:?} on [")?;
                for (i, (l, r)) in left_keys.iter().zip(right_keys).enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{} = {}", DisplayExpr(l), DisplayExpr(r))?;
                }
                write!(f, "]")?;
                if let Some(fl) = filter {
                    write!(f, " filter={}", DisplayExpr(fl))?;
                }
            }
            NodeKind::NestedLoopJoin { join_type, filter } => {
                write!(f, ": {join_type:?}")?;
                if let Some(fl) = filter {
                    write!(f, " filter={}", DisplayExpr(fl))?;
                }
            }
            NodeKind::Sort { order, fetch } => {
                write!(f, ": {}", SortList(order))?;
                if let Some(n) = fetch {
                    write!(f, " fetch={n}")?;
                }
            }
            NodeKind::TopN {
                partition_by,
                order_by,
                limit,
            } => {
                write!(
                    f,
                    ": partition_by=[{}] order_by=[{}] limit={limit}",
                    ExprList(partition_by),
                    SortList(order_by)
                )?;
            }
            NodeKind::Limit { skip, fetch } => {
                write!(f, ": skip={skip}")?;
                if let Some(n) = fetch {
                    write!(f, " fetch={n}")?;
                }
            }
            NodeKind::Union => {}
            NodeKind::Window { exprs } => write!(f, ": {}", ExprList(exprs))?,
            NodeKind::Input { id } => write!(f, ": {id}")?,
            NodeKind::Sink(spec) => write!(f, ": {} connector={}", spec.table, spec.connector)?,
        }
        // A continuous plan says what each node's output stream is.
        if self.config.continuous && !matches!(node.kind, NodeKind::Publish { .. }) {
            if crate::changelog::is_updating(&node.schema.arrow_schema()) {
                write!(f, " (updating)")?;
            } else {
                write!(f, " (append-only)")?;
            }
        }
        writeln!(f)?;
        for edge in &node.inputs {
            self.fmt_node(f, edge.from, indent + 1, Some(&edge.exchange))?;
        }
        Ok(())
    }
}

impl fmt::Display for DataflowPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Result [gather]")?;
        self.fmt_node(f, self.root, 1, None)
    }
}

/// A length of time in microseconds, shown in the largest whole unit.
struct Micros(i64);

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0;
        for (unit, name) in [
            (86_400_000_000, "d"),
            (3_600_000_000, "h"),
            (60_000_000, "min"),
            (1_000_000, "s"),
            (1_000, "ms"),
        ] {
            if us != 0 && us % unit == 0 {
                return write!(f, "{}{name}", us / unit);
            }
        }
        write!(f, "{us}us")
    }
}

/// Displays an [`ExprIr`] in SQL-like form for `EXPLAIN`.
#[derive(Debug)]
pub struct DisplayExpr<'a>(pub &'a ExprIr);

struct ExprList<'a>(&'a [ExprIr]);

impl fmt::Display for ExprList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{}", DisplayExpr(e))?;
        }
        Ok(())
    }
}

/// Sort keys, as `ORDER BY` lists them.
struct SortList<'a>(&'a [SortIr]);

impl fmt::Display for SortList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(
                f,
                "{} {} NULLS {}",
                DisplayExpr(&s.expr),
                if s.asc { "ASC" } else { "DESC" },
                if s.nulls_first { "FIRST" } else { "LAST" }
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for DisplayExpr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.to_expr(crate::functions::FunctionRegistry::shared()) {
            Ok(e) => write!(f, "{e}"),
            Err(_) => write!(f, "{:?}", self.0),
        }
    }
}
