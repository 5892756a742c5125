//! Lowering: an optimized DataFusion [`LogicalPlan`] becomes a runtime
//! [`DataflowPlan`].
//!
//! Each logical node becomes one or more dataflow nodes, and each edge gets
//! a data movement: aggregations run in two phases around a hash shuffle on
//! the group keys; equi-joins shuffle both inputs by their keys; sorts sort
//! locally and then once more after gathering on worker 0; limits take
//! locally and then globally. The lowering tracks whether a node's rows are
//! spread over all workers or already gathered on worker 0, and skips
//! shuffles that would move nothing.

use std::sync::Arc;

use datafusion_common::tree_node::TreeNode;
use datafusion_common::{DFSchema, DataFusionError, JoinType, NullEquality, Result};
use datafusion_expr::execution_props::ExecutionProps;
use datafusion_expr::logical_plan::{FetchType, SkipType};
use datafusion_expr::{Expr, LogicalPlan};
use tidewater_runtime::changelog::{OP_COLUMN, op_field};
use tidewater_runtime::expr::{ExprContext, ExprIr, SchemaIr, SortIr, encode_batch};
use tidewater_runtime::functions::FunctionRegistry;
use tidewater_runtime::operators::aggregate::partial_schema;
use tidewater_runtime::plan::{
    AggregatePhase, DataflowPlan, Edge, Exchange, JoinKind, NodeId, NodeKind, PlanNode,
    QueryConfig, UnnestNulls,
};
use tidewater_runtime::source::SourceSpec;
use tidewater_runtime::watermark::WatermarkSpec;

use crate::catalog::TableKind;
use crate::context::TableSourceAdapter;
use crate::error::PlanError;
use crate::estimate;
use crate::table_functions::{TableFunctionCall, TableFunctionSource};
use crate::window_tvf::WindowTvfNode;

/// Where a node's rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dist {
    /// Spread over the workers.
    Spread,
    /// All on worker 0.
    Single,
}

/// What the lowering knows of a node's output stream in a continuous
/// query.
#[derive(Debug, Clone, Copy, Default)]
struct StreamProps {
    /// Whether it is updating (carries the op column) rather than
    /// append-only.
    updating: bool,
    /// The column holding `window_end` of a window table function, when
    /// it passes through unchanged.
    window_end: Option<usize>,
    /// Whether it is fed by a source with a watermark.
    watermarked: bool,
}

/// Builds a dataflow plan.
#[derive(Debug, Default)]
struct Lowering {
    nodes: Vec<PlanNode>,
    dists: Vec<Dist>,
    /// Per node, in continuous queries.
    streams: Vec<StreamProps>,
    /// Whether the plan is a continuous query: aggregations then maintain
    /// their results (window aggregates, updating aggregates), and what
    /// cannot be maintained incrementally is refused.
    continuous: bool,
    /// TopN bounds found in filters (`rn <= N`) over `ROW_NUMBER()`
    /// windows, by the window node's address (see [`top_n_bound`]).
    top_n: std::collections::HashMap<usize, usize>,
}

/// The error for a plan node a continuous query cannot maintain.
fn not_continuous(what: &str) -> DataFusionError {
    PlanError::feature_not_supported(format!(
        "{what} is not supported in a continuous query yet (it cannot be maintained \
         incrementally here); run it as a query over the view instead"
    ))
    .into()
}

/// Whether `e` is the column `index` of `schema` (or an alias of it).
fn is_column(e: &Expr, schema: &DFSchema, index: usize) -> bool {
    let e = match e {
        Expr::Alias(a) => a.expr.as_ref(),
        other => other,
    };
    let Expr::Column(c) = e else { return false };
    let (qualifier, field) = schema.qualified_field(index);
    c.name == *field.name() && (c.relation.is_none() || c.relation.as_ref() == qualifier)
}

fn ir(e: &Expr) -> Result<ExprIr> {
    ExprIr::try_from_expr(e)
}

fn irs(es: &[Expr]) -> Result<Vec<ExprIr>> {
    es.iter().map(ir).collect()
}

fn not_supported(what: impl std::fmt::Display) -> DataFusionError {
    PlanError::feature_not_supported(format!("{what} is not supported yet")).into()
}

/// Lowers an optimized logical plan.
pub fn lower_plan(plan: &LogicalPlan, config: QueryConfig) -> Result<DataflowPlan> {
    let mut lowering = Lowering {
        continuous: config.continuous,
        ..Lowering::default()
    };
    let root = lowering.lower(plan)?;
    Ok(DataflowPlan {
        nodes: lowering.nodes,
        root,
        config,
    })
}

impl Lowering {
    fn push(&mut self, kind: NodeKind, inputs: Vec<Edge>, schema: SchemaIr, dist: Dist) -> NodeId {
        // By default a node's stream is like its first input's.
        let props = inputs
            .first()
            .map(|e| self.streams[e.from])
            .unwrap_or_default();
        self.streams.push(props);
        self.nodes.push(PlanNode {
            kind,
            inputs,
            schema,
        });
        self.dists.push(dist);
        self.nodes.len() - 1
    }

    fn schema(&self, id: NodeId) -> &SchemaIr {
        &self.nodes[id].schema
    }

    /// An edge that gathers `from` on worker 0 unless it is there already.
    fn gather(&self, from: NodeId) -> Edge {
        Edge {
            from,
            exchange: if self.dists[from] == Dist::Single {
                Exchange::Forward
            } else {
                Exchange::Single
            },
        }
    }

    fn lower(&mut self, plan: &LogicalPlan) -> Result<NodeId> {
        let schema_of = |s: &DFSchema| SchemaIr::from_df_schema(s);
        match plan {
            LogicalPlan::Projection(p) => {
                let input = self.lower(&p.input)?;
                let dist = self.dists[input];
                let props = self.streams[input];
                let mut exprs = irs(&p.expr)?;
                let mut schema = schema_of(&p.schema);
                if props.updating {
                    // The op column goes along.
                    exprs.push(ExprIr::column(OP_COLUMN));
                    schema.columns.push((None, op_field()));
                }
                let window_end = props.window_end.and_then(|w| {
                    p.expr
                        .iter()
                        .position(|e| is_column(e, p.input.schema(), w))
                });
                let id = self.push(
                    NodeKind::Project { exprs },
                    vec![Edge::forward(input)],
                    schema,
                    dist,
                );
                self.streams[id].window_end = window_end;
                Ok(id)
            }
            LogicalPlan::Filter(f) => {
                if self.continuous
                    && let Some((window, limit)) = top_n_bound(f)
                {
                    let limit = self.top_n.get(&window).map_or(limit, |l| (*l).min(limit));
                    self.top_n.insert(window, limit);
                }
                let input = self.lower(&f.input)?;
                let dist = self.dists[input];
                let schema = self.schema(input).clone();
                Ok(self.push(
                    NodeKind::Filter {
                        predicate: ir(&f.predicate)?,
                    },
                    vec![Edge::forward(input)],
                    schema,
                    dist,
                ))
            }
            LogicalPlan::TableScan(scan) => self.lower_scan(scan),
            LogicalPlan::SubqueryAlias(a) => {
                // Same rows, new qualifiers: relabel the input's output schema.
                let input = self.lower(&a.input)?;
                let mut schema = schema_of(&a.schema);
                if self.streams[input].updating {
                    schema.columns.push((None, op_field()));
                }
                self.nodes[input].schema = schema;
                Ok(input)
            }
            LogicalPlan::Aggregate(agg) => self.lower_aggregate(agg),
            LogicalPlan::Extension(ext) => {
                let Some(window) = ext.node.as_any().downcast_ref::<WindowTvfNode>() else {
                    return Err(not_supported(format!("the plan node {}", ext.node.name())));
                };
                let input = self.lower(&window.input)?;
                let dist = self.dists[input];
                let props = self.streams[input];
                if self.continuous && props.updating {
                    return Err(not_continuous(
                        "a window table function over an updating input",
                    ));
                }
                if self.continuous && !props.watermarked {
                    return Err(PlanError::new(
                        "42P20",
                        format!(
                            "the time column {} of the window table function has no watermark: \
                             declare WATERMARK FOR it in CREATE TABLE to run windows continuously",
                            window.time
                        ),
                    )
                    .into());
                }
                let schema = schema_of(ext.node.schema());
                let window_end = schema.columns.len() - 2;
                let id = self.push(
                    NodeKind::WindowAssign {
                        time: ir(&window.time)?,
                        window: window.window,
                    },
                    vec![Edge::forward(input)],
                    schema,
                    dist,
                );
                self.streams[id].window_end = Some(window_end);
                Ok(id)
            }
            LogicalPlan::Join(j) if self.continuous => self.lower_continuous_join(j),
            LogicalPlan::Join(j) => self.lower_join(j),
            LogicalPlan::Sort(s) if self.continuous => match s.fetch {
                Some(limit) => self.lower_sort_top_n(s, limit),
                None => Err(not_continuous("ORDER BY without LIMIT")),
            },
            LogicalPlan::Limit(l) if self.continuous => self.lower_continuous_limit(l),
            LogicalPlan::Window(w) if self.continuous => self.lower_top_n(w),
            LogicalPlan::Sort(s) => {
                let input = self.lower(&s.input)?;
                let order = s
                    .expr
                    .iter()
                    .map(SortIr::try_from_sort)
                    .collect::<Result<Vec<_>>>()?;
                let schema = schema_of(s.input.schema());
                let local = if self.dists[input] == Dist::Single {
                    input
                } else {
                    self.push(
                        NodeKind::Sort {
                            order: order.clone(),
                            fetch: s.fetch,
                        },
                        vec![Edge::forward(input)],
                        schema.clone(),
                        Dist::Spread,
                    )
                };
                let edge = self.gather(local);
                Ok(self.push(
                    NodeKind::Sort {
                        order,
                        fetch: s.fetch,
                    },
                    vec![edge],
                    schema,
                    Dist::Single,
                ))
            }
            LogicalPlan::Limit(l) => {
                let skip = match l.get_skip_type()? {
                    SkipType::Literal(n) => n,
                    SkipType::UnsupportedExpr => {
                        return Err(not_supported("a non-constant OFFSET"));
                    }
                };
                let fetch = match l.get_fetch_type()? {
                    FetchType::Literal(n) => n,
                    FetchType::UnsupportedExpr => {
                        return Err(not_supported("a non-constant LIMIT"));
                    }
                };
                let input = self.lower(&l.input)?;
                let schema = schema_of(l.input.schema());
                let local = if self.dists[input] == Dist::Single {
                    input
                } else {
                    self.push(
                        NodeKind::Limit {
                            skip: 0,
                            fetch: fetch.map(|f| f.saturating_add(skip)),
                        },
                        vec![Edge::forward(input)],
                        schema.clone(),
                        Dist::Spread,
                    )
                };
                let edge = self.gather(local);
                Ok(self.push(
                    NodeKind::Limit { skip, fetch },
                    vec![edge],
                    schema,
                    Dist::Single,
                ))
            }
            LogicalPlan::Union(u) => {
                let schema = schema_of(&u.schema);
                let mut edges = Vec::with_capacity(u.inputs.len());
                for input in &u.inputs {
                    let id = self.lower(input)?;
                    let updating = self.streams[id].updating;
                    let mut target = schema.clone();
                    if updating {
                        target.columns.push((None, op_field()));
                    }
                    // Give every input the union's column names and types
                    // (an updating input keeps its op column).
                    let id = if self.schema(id).arrow_schema() == target.arrow_schema() {
                        id
                    } else {
                        let mut exprs: Vec<ExprIr> = input
                            .schema()
                            .iter()
                            .zip(u.schema.fields())
                            .map(|((q, f), target)| {
                                let col = ExprIr::Column {
                                    relation: q.map(tidewater_runtime::expr::qualifier_to_ir),
                                    name: f.name().clone(),
                                };
                                let col = if f.data_type() == target.data_type() {
                                    col
                                } else {
                                    ExprIr::Cast {
                                        expr: Box::new(col),
                                        field: target.as_ref().clone(),
                                    }
                                };
                                ExprIr::Alias {
                                    expr: Box::new(col),
                                    relation: None,
                                    name: target.name().clone(),
                                }
                            })
                            .collect();
                        if updating {
                            exprs.push(ExprIr::column(OP_COLUMN));
                        }
                        let dist = self.dists[id];
                        self.push(
                            NodeKind::Project { exprs },
                            vec![Edge::forward(id)],
                            target,
                            dist,
                        )
                    };
                    edges.push(Edge::forward(id));
                }
                let dist = if edges.iter().all(|e| self.dists[e.from] == Dist::Single) {
                    Dist::Single
                } else {
                    Dist::Spread
                };
                let updating = edges.iter().any(|e| self.streams[e.from].updating);
                let watermarked = edges.iter().all(|e| self.streams[e.from].watermarked);
                let mut schema = schema;
                if updating {
                    // Every input becomes a changelog: append-only ones
                    // are all inserts.
                    for edge in &mut edges {
                        if !self.streams[edge.from].updating {
                            edge.from = self.with_inserts(edge.from)?;
                        }
                    }
                    schema.columns.push((None, op_field()));
                }
                let id = self.push(NodeKind::Union, edges, schema, dist);
                self.streams[id] = StreamProps {
                    updating,
                    watermarked,
                    ..StreamProps::default()
                };
                Ok(id)
            }
            LogicalPlan::Window(w) => {
                let input = self.lower(&w.input)?;
                let keys = common_partition_keys(&w.window_expr);
                let edge = if keys.is_empty() || self.dists[input] == Dist::Single {
                    self.gather(input)
                } else {
                    Edge {
                        from: input,
                        exchange: Exchange::Hash(irs(&keys)?),
                    }
                };
                let dist = if matches!(edge.exchange, Exchange::Hash(_)) {
                    Dist::Spread
                } else {
                    Dist::Single
                };
                Ok(self.push(
                    NodeKind::Window {
                        exprs: irs(&w.window_expr)?,
                    },
                    vec![edge],
                    schema_of(&w.schema),
                    dist,
                ))
            }
            LogicalPlan::Values(v) => {
                let rows = v
                    .values
                    .iter()
                    .map(|row| irs(row))
                    .collect::<Result<Vec<_>>>()?;
                Ok(self.push(
                    NodeKind::Values { rows },
                    vec![],
                    schema_of(&v.schema),
                    Dist::Single,
                ))
            }
            LogicalPlan::EmptyRelation(e) => {
                let rows = if e.produce_one_row {
                    vec![vec![]]
                } else {
                    vec![]
                };
                Ok(self.push(
                    NodeKind::Values { rows },
                    vec![],
                    schema_of(&e.schema),
                    Dist::Single,
                ))
            }
            LogicalPlan::Repartition(r) => self.lower(&r.input),
            LogicalPlan::Subquery(_) => Err(not_supported("this form of subquery")),
            LogicalPlan::RecursiveQuery(_) => Err(not_supported("WITH RECURSIVE")),
            LogicalPlan::Unnest(u) => self.lower_unnest(u),
            LogicalPlan::Distinct(_) => Err(DataFusionError::Internal(
                "DISTINCT should have been rewritten to an aggregation".into(),
            )),
            other => Err(not_supported(format!("the plan node {}", other.display()))),
        }
    }

    /// `unnest` of list columns (one level) and of struct columns: a
    /// row-local operator on the input's workers.
    fn lower_unnest(&mut self, u: &datafusion_expr::logical_plan::Unnest) -> Result<NodeId> {
        let input = self.lower(&u.input)?;
        let mut lists = Vec::with_capacity(u.list_type_columns.len());
        for (index, column) in &u.list_type_columns {
            if column.depth != 1 || lists.contains(index) {
                return Err(not_supported("unnest of a nested array at several depths"));
            }
            lists.push(*index);
        }
        let nulls = match u.options.null_handling {
            datafusion_common::NullHandling::Drop => UnnestNulls::Drop,
            datafusion_common::NullHandling::Preserve => UnnestNulls::Preserve,
            datafusion_common::NullHandling::PreserveAndExpandEmpty => {
                UnnestNulls::PreserveAndExpandEmpty
            }
        };
        let dist = self.dists[input];
        Ok(self.push(
            NodeKind::Unnest {
                lists,
                structs: u.struct_type_columns.clone(),
                nulls,
            },
            vec![Edge::forward(input)],
            SchemaIr::from_df_schema(&u.schema),
            dist,
        ))
    }

    /// A table function in `FROM`: its rows on worker 0.
    fn lower_table_function(
        &mut self,
        scan: &datafusion_expr::logical_plan::TableScan,
        source: &TableFunctionSource,
    ) -> Result<NodeId> {
        let schema = SchemaIr::from_df_schema(&scan.projected_schema);
        let limit = scan.fetch.filter(|_| scan.filters.is_empty());
        let mut id = match &source.call {
            TableFunctionCall::Series(Some(spec)) => self.push(
                NodeKind::Series {
                    spec: spec.clone(),
                    limit,
                },
                vec![],
                schema.clone(),
                Dist::Single,
            ),
            TableFunctionCall::Series(None) => self.push(
                NodeKind::Values { rows: vec![] },
                vec![],
                schema.clone(),
                Dist::Single,
            ),
            TableFunctionCall::Parameterized(_) => {
                return Err(DataFusionError::Internal(format!(
                    "{}() was lowered before its parameters were bound",
                    source.name
                )));
            }
        };
        if let Some(predicate) = datafusion_expr::utils::conjunction(scan.filters.iter().cloned()) {
            id = self.push(
                NodeKind::Filter {
                    predicate: ir(&predicate)?,
                },
                vec![Edge::forward(id)],
                schema,
                Dist::Single,
            );
        }
        Ok(id)
    }

    /// Lowers `swapped` (`j` with its inputs swapped) and restores `j`'s
    /// column order.
    fn lower_swapped_join(
        &mut self,
        j: &datafusion_expr::logical_plan::Join,
        swapped: &datafusion_expr::logical_plan::Join,
    ) -> Result<NodeId> {
        let id = self.lower_join(swapped)?;
        if swapped.schema == j.schema {
            return Ok(id);
        }
        let exprs = j
            .schema
            .columns()
            .into_iter()
            .map(|c| ir(&Expr::Column(c)))
            .collect::<Result<Vec<_>>>()?;
        let dist = self.dists[id];
        Ok(self.push(
            NodeKind::Project { exprs },
            vec![Edge::forward(id)],
            SchemaIr::from_df_schema(&j.schema),
            dist,
        ))
    }

    fn lower_scan(&mut self, scan: &datafusion_expr::logical_plan::TableScan) -> Result<NodeId> {
        if let Some(source) = scan.source.downcast_ref::<TableFunctionSource>() {
            return self.lower_table_function(scan, source);
        }
        let Some(adapter) = scan.source.downcast_ref::<TableSourceAdapter>() else {
            return Err(DataFusionError::Internal(format!(
                "unknown table source for {}",
                scan.table_name
            )));
        };
        let entry = &adapter.entry;
        let schema = SchemaIr::from_df_schema(&scan.projected_schema);
        let mut id = match &entry.kind {
            TableKind::Source { connector, options } => {
                let watermark = crate::catalog::watermark_of(&entry.schema);
                let mut projection = scan.projection.clone();
                let mut scan_schema = schema.clone();
                // A continuous scan always reads its event-time column, so
                // that its partition tracks the watermark even when the
                // query does not use the column (dropped right after).
                let extra_time_column = match (&watermark, &mut projection) {
                    (Some((column, _)), Some(p)) if self.continuous && !p.contains(column) => {
                        p.push(*column);
                        scan_schema.columns.push((
                            Some(tidewater_runtime::expr::qualifier_to_ir(&scan.table_name)),
                            entry.schema.field(*column).clone(),
                        ));
                        true
                    }
                    _ => false,
                };
                let spec = SourceSpec {
                    connector: connector.clone(),
                    table: entry.name.to_string(),
                    options: options.clone(),
                    schema: entry.schema.as_ref().clone(),
                    limit: if scan.filters.is_empty() {
                        scan.fetch
                    } else {
                        None
                    },
                    watermark: watermark.and_then(|(column, delay_micros)| {
                        let read = projection.as_ref().is_none_or(|p| p.contains(&column));
                        read.then_some(WatermarkSpec {
                            column,
                            delay_micros,
                            idle_timeout: None,
                        })
                    }),
                    projection,
                    resume: None,
                };
                let watermarked = spec.watermark.is_some();
                let mut id = self.push(NodeKind::Scan(spec), vec![], scan_schema, Dist::Spread);
                self.streams[id].watermarked = watermarked;
                if extra_time_column {
                    let exprs = schema.column_refs();
                    let props = self.streams[id];
                    id = self.push(
                        NodeKind::Project { exprs },
                        vec![Edge::forward(id)],
                        schema.clone(),
                        Dist::Spread,
                    );
                    self.streams[id] = props;
                }
                id
            }
            TableKind::Materialized { view } => {
                let follow = self.continuous;
                let mut schema = schema.clone();
                if follow {
                    // A continuous query reads the view's changes.
                    schema.columns.push((None, op_field()));
                }
                let id = self.push(
                    NodeKind::ViewScan {
                        view: *view,
                        name: entry.name.to_string(),
                        epoch: None,
                        follow,
                        projection: scan.projection.clone(),
                    },
                    vec![],
                    schema,
                    Dist::Spread,
                );
                self.streams[id].updating = follow;
                id
            }
            TableKind::System { batch } => {
                let batch = match &scan.projection {
                    Some(p) => batch.project(p)?,
                    None => batch.clone(),
                };
                let batch = batch.with_schema(schema.arrow_schema())?;
                let id = self.push(
                    NodeKind::Rows {
                        ipc: encode_batch(&batch)?,
                    },
                    vec![],
                    schema.clone(),
                    Dist::Single,
                );
                if let Some(fetch) = scan.fetch.filter(|_| scan.filters.is_empty()) {
                    self.push(
                        NodeKind::Limit {
                            skip: 0,
                            fetch: Some(fetch),
                        },
                        vec![Edge::forward(id)],
                        schema.clone(),
                        Dist::Single,
                    )
                } else {
                    id
                }
            }
            TableKind::View { .. } => {
                return Err(DataFusionError::Internal(format!(
                    "view {} was not inlined",
                    entry.name
                )));
            }
        };
        if let Some(predicate) = datafusion_expr::utils::conjunction(scan.filters.iter().cloned()) {
            let dist = self.dists[id];
            id = self.push(
                NodeKind::Filter {
                    predicate: ir(&predicate)?,
                },
                vec![Edge::forward(id)],
                schema,
                dist,
            );
        }
        Ok(id)
    }

    fn lower_aggregate(
        &mut self,
        agg: &datafusion_expr::logical_plan::Aggregate,
    ) -> Result<NodeId> {
        if agg
            .group_expr
            .iter()
            .any(|e| matches!(e, Expr::GroupingSet(_)))
        {
            return Err(not_supported("GROUPING SETS, ROLLUP and CUBE"));
        }
        let input = self.lower(&agg.input)?;
        let input_schema = SchemaIr::from_df_schema(agg.input.schema());
        let group_by = irs(&agg.group_expr)?;
        let aggregates = irs(&agg.aggr_expr)?;
        let output = SchemaIr::from_df_schema(&agg.schema);
        if self.continuous {
            return self.lower_continuous_aggregate(
                agg,
                input,
                input_schema,
                group_by,
                aggregates,
                output,
            );
        }

        if self.dists[input] == Dist::Single {
            return Ok(self.push(
                NodeKind::Aggregate {
                    group_by,
                    aggregates,
                    phase: AggregatePhase::Single,
                    input_schema,
                },
                vec![Edge::forward(input)],
                output,
                Dist::Single,
            ));
        }

        let props = ExecutionProps::new();
        let ctx = ExprContext::try_new(FunctionRegistry::shared(), &input_schema, &props)?;
        let group_fields = SchemaIr {
            columns: output.columns[..group_by.len()].to_vec(),
        };
        let partial_out = partial_schema(&ctx, &group_fields, &aggregates)?;
        let partial = self.push(
            NodeKind::Aggregate {
                group_by: group_by.clone(),
                aggregates: aggregates.clone(),
                phase: AggregatePhase::Partial,
                input_schema: input_schema.clone(),
            },
            vec![Edge::forward(input)],
            partial_out,
            Dist::Spread,
        );
        let (exchange, dist) = if group_by.is_empty() {
            (Exchange::Single, Dist::Single)
        } else {
            let keys = group_fields.column_refs();
            (Exchange::Hash(keys), Dist::Spread)
        };
        Ok(self.push(
            NodeKind::Aggregate {
                group_by,
                aggregates,
                phase: AggregatePhase::Final,
                input_schema,
            },
            vec![Edge {
                from: partial,
                exchange,
            }],
            output,
            dist,
        ))
    }

    /// An aggregation in a continuous query: a window aggregation when it
    /// groups by a window's `window_end` (append-only output, each window
    /// emitted once the watermark passes its end), otherwise an updating
    /// aggregation (a changelog of each group's values).
    fn lower_continuous_aggregate(
        &mut self,
        agg: &datafusion_expr::logical_plan::Aggregate,
        input: NodeId,
        input_schema: SchemaIr,
        group_by: Vec<ExprIr>,
        aggregates: Vec<ExprIr>,
        output: SchemaIr,
    ) -> Result<NodeId> {
        let props = self.streams[input];
        let key_edge = |this: &Self, from: NodeId, keys: Vec<ExprIr>| {
            if keys.is_empty() {
                this.gather(from)
            } else {
                Edge {
                    from,
                    exchange: Exchange::Hash(keys),
                }
            }
        };
        let dist = if group_by.is_empty() {
            Dist::Single
        } else {
            Dist::Spread
        };
        let window_end = props.window_end.and_then(|w| {
            agg.group_expr
                .iter()
                .position(|e| is_column(e, agg.input.schema(), w))
        });
        if window_end.is_some() && props.updating {
            return Err(not_continuous(
                "a window aggregation over an updating input",
            ));
        }
        if let Some(window_end) = window_end {
            let props = ExecutionProps::new();
            let ctx = ExprContext::try_new(FunctionRegistry::shared(), &input_schema, &props)?;
            let group_fields = SchemaIr {
                columns: output.columns[..group_by.len()].to_vec(),
            };
            let partial_out = partial_schema(&ctx, &group_fields, &aggregates)?;
            let keys = group_fields.column_refs();
            let partial = self.push(
                NodeKind::WindowAggregate {
                    group_by: group_by.clone(),
                    aggregates: aggregates.clone(),
                    phase: AggregatePhase::Partial,
                    input_schema: input_schema.clone(),
                    window_end,
                },
                vec![Edge::forward(input)],
                partial_out,
                Dist::Spread,
            );
            let edge = key_edge(self, partial, keys);
            let id = self.push(
                NodeKind::WindowAggregate {
                    group_by,
                    aggregates,
                    phase: AggregatePhase::Final,
                    input_schema,
                    window_end,
                },
                vec![edge],
                output,
                dist,
            );
            self.streams[id].window_end = Some(window_end);
            return Ok(id);
        }
        let edge = key_edge(self, input, group_by.clone());
        let mut schema = output;
        schema.columns.push((None, op_field()));
        let id = self.push(
            NodeKind::UpdatingAggregate {
                group_by,
                aggregates,
                input_schema,
            },
            vec![edge],
            schema,
            dist,
        );
        self.streams[id] = StreamProps {
            updating: true,
            window_end: None,
            watermarked: props.watermarked,
        };
        Ok(id)
    }

    /// An append-only node's rows as a changelog of inserts (an op column
    /// of `+I`), to meet updating streams in a union.
    fn with_inserts(&mut self, from: NodeId) -> Result<NodeId> {
        let mut schema = self.schema(from).clone();
        let mut exprs: Vec<ExprIr> = schema.column_refs();
        let insert =
            datafusion_expr::lit(tidewater_runtime::changelog::Op::Insert as i8).alias(OP_COLUMN);
        exprs.push(ir(&insert)?);
        schema.columns.push((None, op_field()));
        let dist = self.dists[from];
        let props = self.streams[from];
        let id = self.push(
            NodeKind::Project { exprs },
            vec![Edge::forward(from)],
            schema,
            dist,
        );
        self.streams[id] = StreamProps {
            updating: true,
            ..props
        };
        Ok(id)
    }

    /// An equi-join in a continuous query: both inputs hashed on their
    /// keys into an updating join that keeps both sides' rows.
    fn lower_continuous_join(&mut self, j: &datafusion_expr::logical_plan::Join) -> Result<NodeId> {
        let join_type = match j.join_type {
            JoinType::Inner => JoinKind::Inner,
            JoinType::Left => JoinKind::Left,
            JoinType::Right => JoinKind::Right,
            JoinType::Full => JoinKind::Full,
            _ => {
                return Err(not_continuous(
                    "a semi, anti or mark join (IN, EXISTS or NOT IN with a subquery)",
                ));
            }
        };
        if j.on.is_empty() {
            return Err(not_continuous(
                "a join without an equality condition (a cross or theta join)",
            ));
        }
        let left = self.lower(&j.left)?;
        let right = self.lower(&j.right)?;
        let (left_keys, right_keys) = join_keys(j)?;
        let filter = j.filter.as_ref().map(ir).transpose()?;
        let mut schema = SchemaIr::from_df_schema(&j.schema);
        schema.columns.push((None, op_field()));
        let watermarked = self.streams[left].watermarked && self.streams[right].watermarked;
        let edges = vec![
            Edge {
                from: left,
                exchange: Exchange::Hash(left_keys.clone()),
            },
            Edge {
                from: right,
                exchange: Exchange::Hash(right_keys.clone()),
            },
        ];
        let id = self.push(
            NodeKind::StreamJoin {
                join_type,
                left_keys,
                right_keys,
                filter,
                null_equals_null: j.null_equality == NullEquality::NullEqualsNull,
            },
            edges,
            schema,
            Dist::Spread,
        );
        self.streams[id] = StreamProps {
            updating: true,
            window_end: None,
            watermarked,
        };
        Ok(id)
    }

    /// `ROW_NUMBER() OVER (PARTITION BY … ORDER BY …)` under a filter that
    /// bounds it (`rn <= N`) in a continuous query: a TopN. The filter
    /// stays above it (it may hold more conditions).
    fn lower_top_n(&mut self, w: &datafusion_expr::logical_plan::Window) -> Result<NodeId> {
        let refuse = || {
            not_continuous(
                "a window function (OVER) other than ROW_NUMBER() bounded by a filter \
                 (… WHERE rn <= N, a TopN)",
            )
        };
        let Some(limit) = self.top_n.get(&(w as *const _ as usize)).copied() else {
            return Err(refuse());
        };
        let [expr] = w.window_expr.as_slice() else {
            return Err(refuse());
        };
        let Some(params) = row_number_params(expr) else {
            return Err(refuse());
        };
        if params.order_by.is_empty() {
            return Err(not_continuous("a TopN without ORDER BY"));
        }
        let input = self.lower(&w.input)?;
        let partition_by = irs(&params.partition_by)?;
        let order_by = params
            .order_by
            .iter()
            .map(SortIr::try_from_sort)
            .collect::<Result<Vec<_>>>()?;
        let mut schema = SchemaIr::from_df_schema(&w.schema);
        schema.columns.push((None, op_field()));
        self.push_top_n(input, partition_by, order_by, limit, schema)
    }

    fn push_top_n(
        &mut self,
        input: NodeId,
        partition_by: Vec<ExprIr>,
        order_by: Vec<SortIr>,
        limit: usize,
        schema: SchemaIr,
    ) -> Result<NodeId> {
        let (edge, dist) = if partition_by.is_empty() {
            (self.gather(input), Dist::Single)
        } else {
            (
                Edge {
                    from: input,
                    exchange: Exchange::Hash(partition_by.clone()),
                },
                Dist::Spread,
            )
        };
        let props = self.streams[input];
        let id = self.push(
            NodeKind::TopN {
                partition_by,
                order_by,
                limit,
            },
            vec![edge],
            schema,
            dist,
        );
        self.streams[id] = StreamProps {
            updating: true,
            window_end: None,
            watermarked: props.watermarked,
        };
        Ok(id)
    }

    /// `ORDER BY … LIMIT n` in a continuous query: a TopN without
    /// partitions whose row number is dropped.
    fn lower_sort_top_n(
        &mut self,
        sort: &datafusion_expr::logical_plan::Sort,
        limit: usize,
    ) -> Result<NodeId> {
        let input = self.lower(&sort.input)?;
        let order_by = sort
            .expr
            .iter()
            .map(SortIr::try_from_sort)
            .collect::<Result<Vec<_>>>()?;
        let data = SchemaIr::from_df_schema(sort.input.schema());
        let mut schema = data.clone();
        schema.columns.push((
            None,
            arrow::datatypes::Field::new(
                ROW_NUMBER_COLUMN,
                arrow::datatypes::DataType::UInt64,
                false,
            ),
        ));
        schema.columns.push((None, op_field()));
        let top = self.push_top_n(input, Vec::new(), order_by, limit, schema)?;
        let mut exprs: Vec<ExprIr> = data.column_refs();
        exprs.push(ExprIr::column(OP_COLUMN));
        let mut out = data;
        out.columns.push((None, op_field()));
        Ok(self.push(
            NodeKind::Project { exprs },
            vec![Edge::forward(top)],
            out,
            Dist::Single,
        ))
    }

    /// `LIMIT` in a continuous query: only over `ORDER BY` (a TopN).
    fn lower_continuous_limit(
        &mut self,
        l: &datafusion_expr::logical_plan::Limit,
    ) -> Result<NodeId> {
        let skip = match l.get_skip_type()? {
            SkipType::Literal(n) => n,
            SkipType::UnsupportedExpr => return Err(not_supported("a non-constant OFFSET")),
        };
        let fetch = match l.get_fetch_type()? {
            FetchType::Literal(n) => n,
            FetchType::UnsupportedExpr => return Err(not_supported("a non-constant LIMIT")),
        };
        match (l.input.as_ref(), skip, fetch) {
            (LogicalPlan::Sort(sort), 0, Some(n)) => {
                let limit = sort.fetch.map_or(n, |f| f.min(n));
                self.lower_sort_top_n(sort, limit)
            }
            (_, 0, Some(_)) => Err(not_continuous("LIMIT without ORDER BY")),
            _ => Err(not_continuous("OFFSET")),
        }
    }

    fn lower_join(&mut self, j: &datafusion_expr::logical_plan::Join) -> Result<NodeId> {
        if let Some(swapped) = swap_join_sides(j)? {
            return self.lower_swapped_join(j, &swapped);
        }
        let left = self.lower(&j.left)?;
        let right = self.lower(&j.right)?;
        let join_type = match j.join_type {
            JoinType::Inner => JoinKind::Inner,
            JoinType::Left => JoinKind::Left,
            JoinType::Right => JoinKind::Right,
            JoinType::Full => JoinKind::Full,
            JoinType::LeftSemi => JoinKind::LeftSemi,
            JoinType::RightSemi => JoinKind::RightSemi,
            JoinType::LeftAnti => JoinKind::LeftAnti,
            JoinType::RightAnti => JoinKind::RightAnti,
            JoinType::LeftMark => JoinKind::LeftMark,
            JoinType::RightMark => JoinKind::RightMark,
        };
        let filter = j.filter.as_ref().map(ir).transpose()?;
        let schema = SchemaIr::from_df_schema(&j.schema);
        let both_single = self.dists[left] == Dist::Single && self.dists[right] == Dist::Single;
        if j.on.is_empty() {
            let edges = vec![self.gather(left), self.gather(right)];
            return Ok(self.push(
                NodeKind::NestedLoopJoin { join_type, filter },
                edges,
                schema,
                Dist::Single,
            ));
        }
        let (left_keys, right_keys) = join_keys(j)?;
        let (edges, dist) = if both_single {
            (
                vec![Edge::forward(left), Edge::forward(right)],
                Dist::Single,
            )
        } else if j.null_aware {
            // NOT IN depends on whole-input facts (is the subquery empty,
            // does it hold a NULL): join on one worker.
            (vec![self.gather(left), self.gather(right)], Dist::Single)
        } else {
            (
                vec![
                    Edge {
                        from: left,
                        exchange: Exchange::Hash(left_keys.clone()),
                    },
                    Edge {
                        from: right,
                        exchange: Exchange::Hash(right_keys.clone()),
                    },
                ],
                Dist::Spread,
            )
        };
        Ok(self.push(
            NodeKind::HashJoin {
                join_type,
                left_keys,
                right_keys,
                filter,
                null_equals_null: j.null_equality == NullEquality::NullEqualsNull,
                null_aware: j.null_aware,
            },
            edges,
            schema,
            dist,
        ))
    }
}

/// The equality keys of a join: over its left input, and over its right.
fn join_keys(j: &datafusion_expr::logical_plan::Join) -> Result<(Vec<ExprIr>, Vec<ExprIr>)> {
    let left =
        j.on.iter()
            .map(|(l, _)| ir(l))
            .collect::<Result<Vec<_>>>()?;
    let right =
        j.on.iter()
            .map(|(_, r)| ir(r))
            .collect::<Result<Vec<_>>>()?;
    Ok((left, right))
}

/// Name of the row number column of an `ORDER BY … LIMIT` TopN (dropped
/// right after it).
const ROW_NUMBER_COLUMN: &str = "__row_number";

/// The `ROW_NUMBER()` window function's parameters, if `expr` is one.
fn row_number_params(expr: &Expr) -> Option<&datafusion_expr::expr::WindowFunctionParams> {
    let Expr::WindowFunction(w) = unalias_ref(expr) else {
        return None;
    };
    (w.fun.name() == "row_number" && w.params.args.is_empty()).then_some(&w.params)
}

/// `expr` without the aliases around it.
fn unalias_ref(mut expr: &Expr) -> &Expr {
    while let Expr::Alias(a) = expr {
        expr = &a.expr;
    }
    expr
}

/// The unsigned integer a literal (maybe cast) holds.
fn literal_u64(expr: &Expr) -> Option<u64> {
    match unalias_ref(expr) {
        Expr::Literal(v, _) => match v.cast_to(&arrow::datatypes::DataType::Int64).ok()? {
            datafusion_common::ScalarValue::Int64(Some(n)) => u64::try_from(n).ok(),
            _ => None,
        },
        Expr::Cast(c) => literal_u64(&c.expr),
        Expr::TryCast(c) => literal_u64(&c.expr),
        _ => None,
    }
}

/// The column an expression reads, through casts.
fn column_of(expr: &Expr) -> Option<&datafusion_common::Column> {
    match unalias_ref(expr) {
        Expr::Column(c) => Some(c),
        Expr::Cast(c) => column_of(&c.expr),
        Expr::TryCast(c) => column_of(&c.expr),
        _ => None,
    }
}

/// The `ROW_NUMBER()` window node that column `c` of `plan` comes from,
/// through projections and aliases that pass it on unchanged (by address).
fn row_number_window(plan: &LogicalPlan, c: &datafusion_common::Column) -> Option<usize> {
    let index = plan.schema().index_of_column(c).ok()?;
    match plan {
        LogicalPlan::Projection(p) => {
            let inner = column_of(&p.expr[index])?;
            row_number_window(&p.input, inner)
        }
        LogicalPlan::SubqueryAlias(a) => {
            let inner = a.input.schema().columns().get(index)?.clone();
            row_number_window(&a.input, &inner)
        }
        LogicalPlan::Filter(f) => row_number_window(&f.input, c),
        LogicalPlan::Window(w) => {
            let first = w.input.schema().fields().len();
            let expr = w.window_expr.get(index.checked_sub(first)?)?;
            row_number_params(expr)?;
            Some(w as *const _ as usize)
        }
        _ => None,
    }
}

/// A filter's bound on a row number: `rn <= N`, `rn < N`, `rn = N`,
/// `N >= rn` … among its conjuncts; the window node (by address) and N.
fn top_n_bound(f: &datafusion_expr::logical_plan::Filter) -> Option<(usize, usize)> {
    use datafusion_expr::Operator;
    let mut best: Option<(usize, usize)> = None;
    for conjunct in datafusion_expr::utils::split_conjunction(&f.predicate) {
        let Expr::BinaryExpr(b) = conjunct else {
            continue;
        };
        let (column, op, n) = match (column_of(&b.left), literal_u64(&b.right)) {
            (Some(c), Some(n)) => (c, b.op, n),
            _ => match (literal_u64(&b.left), column_of(&b.right)) {
                (Some(n), Some(c)) => match b.op.swap() {
                    Some(op) => (c, op, n),
                    None => continue,
                },
                _ => continue,
            },
        };
        let limit = match op {
            Operator::LtEq | Operator::Eq => n,
            Operator::Lt => n.saturating_sub(1),
            _ => continue,
        };
        let Some(window) = row_number_window(&f.input, column) else {
            continue;
        };
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if best.is_none_or(|(_, l)| limit < l) {
            best = Some((window, limit));
        }
    }
    best
}

/// The join with its inputs swapped, when its right input looks much
/// smaller than its left: the hash join builds its left input, and building
/// the smaller one saves memory and time. Joins whose sides matter beyond
/// the build (NOT IN's null-aware anti join, mark joins, joins without
/// equality keys) keep their sides.
fn swap_join_sides(
    j: &datafusion_expr::logical_plan::Join,
) -> Result<Option<datafusion_expr::logical_plan::Join>> {
    if j.null_aware || j.on.is_empty() {
        return Ok(None);
    }
    let (swapped_type, margin) = match j.join_type {
        // Only the left input's columns come out either way: always build
        // the smaller side.
        JoinType::LeftSemi => (JoinType::RightSemi, 1.0),
        JoinType::LeftAnti => (JoinType::RightAnti, 1.0),
        // The swap costs a projection that restores the column order: do
        // it only for a clear difference, as estimates are rough.
        JoinType::Inner => (JoinType::Inner, 4.0),
        JoinType::Left => (JoinType::Right, 4.0),
        JoinType::Right => (JoinType::Left, 4.0),
        JoinType::Full => (JoinType::Full, 4.0),
        _ => return Ok(None),
    };
    let (Some(left), Some(right)) = (
        estimate::estimated_bytes(&j.left),
        estimate::estimated_bytes(&j.right),
    ) else {
        return Ok(None);
    };
    if right * margin >= left {
        return Ok(None);
    }
    // `try_new` derives the swapped schema, with the outer join's
    // nullable side marked as such.
    datafusion_expr::logical_plan::Join::try_new(
        Arc::clone(&j.right),
        Arc::clone(&j.left),
        j.on.iter().map(|(l, r)| (r.clone(), l.clone())).collect(),
        j.filter.clone(),
        swapped_type,
        j.join_constraint,
        j.null_equality,
        false,
    )
    .map(Some)
}

/// The `PARTITION BY` keys shared by every window expression (empty if they
/// differ or there are none).
fn common_partition_keys(exprs: &[Expr]) -> Vec<Expr> {
    let mut common: Option<Vec<Expr>> = None;
    for e in exprs {
        let mut keys = Vec::new();
        let _ = e.apply(|e| {
            if let Expr::WindowFunction(w) = e {
                keys = w.params.partition_by.clone();
                return Ok(datafusion_common::tree_node::TreeNodeRecursion::Stop);
            }
            Ok(datafusion_common::tree_node::TreeNodeRecursion::Continue)
        });
        match &common {
            None => common = Some(keys),
            Some(c) if *c == keys => {}
            Some(_) => return Vec::new(),
        }
    }
    common.unwrap_or_default()
}

/// The output schema a client sees for a lowered plan.
pub fn output_schema(plan: &LogicalPlan) -> arrow::datatypes::SchemaRef {
    Arc::clone(plan.schema().inner())
}

#[cfg(test)]
mod tests {
    use datafusion_common::Column;
    use datafusion_expr::{LogicalPlanBuilder, lit};

    use super::*;

    /// A VALUES list of `rows` rows with one column `k`, under `alias`. Its
    /// estimated size grows with its rows.
    fn relation(alias: &str, rows: usize) -> LogicalPlanBuilder {
        let rows = (0..rows).map(|i| vec![lit(i as i64)]).collect();
        LogicalPlanBuilder::values(rows)
            .unwrap()
            .project(vec![Expr::Column(Column::from_name("column1")).alias("k")])
            .unwrap()
            .alias(alias)
            .unwrap()
    }

    /// A one-row relation whose column `k` is NOT NULL (a literal).
    fn not_null_row(alias: &str) -> LogicalPlanBuilder {
        LogicalPlanBuilder::empty(true)
            .project(vec![lit(1i64).alias("k")])
            .unwrap()
            .alias(alias)
            .unwrap()
    }

    fn join(
        left: LogicalPlanBuilder,
        right: LogicalPlanBuilder,
        join_type: JoinType,
    ) -> datafusion_expr::logical_plan::Join {
        let plan = left
            .join(
                right.build().unwrap(),
                join_type,
                (vec!["l.k"], vec!["r.k"]),
                None,
            )
            .unwrap()
            .build()
            .unwrap();
        match plan {
            LogicalPlan::Join(j) => j,
            other => panic!("not a join: {other}"),
        }
    }

    fn column(name: &str) -> ExprIr {
        ir(&Expr::Column(Column::from_qualified_name(name))).unwrap()
    }

    #[test]
    fn semi_join_builds_the_much_smaller_side() {
        let j = join(relation("l", 100), relation("r", 1), JoinType::LeftSemi);
        let swapped = swap_join_sides(&j).unwrap().expect("swapped");
        assert_eq!(swapped.join_type, JoinType::RightSemi);
        assert_eq!(swapped.left, j.right);
        assert_eq!(swapped.right, j.left);
        assert_eq!(swapped.on, [(j.on[0].1.clone(), j.on[0].0.clone())]);
        // Only the (original) left input's columns come out, as before.
        assert_eq!(swapped.schema, j.schema);

        // A larger right side, or sizes too close for an inner join, keep
        // their sides.
        let j = join(relation("l", 1), relation("r", 100), JoinType::LeftSemi);
        assert!(swap_join_sides(&j).unwrap().is_none());
        let j = join(relation("l", 100), relation("r", 50), JoinType::Inner);
        assert!(swap_join_sides(&j).unwrap().is_none());
    }

    #[test]
    fn swapped_inner_join_restores_column_order() {
        let j = join(relation("l", 100), relation("r", 1), JoinType::Inner);
        let plan = lower_plan(&LogicalPlan::Join(j.clone()), QueryConfig::default()).unwrap();
        let root = &plan.nodes[plan.root];
        let NodeKind::Project { exprs } = &root.kind else {
            panic!("no projection over the swapped join: {:?}", root.kind);
        };
        assert_eq!(exprs, &[column("l.k"), column("r.k")]);
        assert_eq!(root.schema, SchemaIr::from_df_schema(&j.schema));
        let joined = &plan.nodes[root.inputs[0].from];
        let NodeKind::HashJoin {
            join_type,
            left_keys,
            right_keys,
            ..
        } = &joined.kind
        else {
            panic!("not a hash join: {:?}", joined.kind);
        };
        assert_eq!(*join_type, JoinKind::Inner);
        // The small input is now the build (left) side.
        assert_eq!(left_keys, &[column("r.k")]);
        assert_eq!(right_keys, &[column("l.k")]);
    }

    #[test]
    fn swapped_outer_join_keeps_the_outer_sides_nullable() {
        let j = join(relation("l", 100), not_null_row("r"), JoinType::Left);
        let swapped = swap_join_sides(&j).unwrap().expect("swapped");
        assert_eq!(swapped.join_type, JoinType::Right);
        // `r.k` is NULL where no row of `r` matches, on either side.
        let nullable = |schema: &DFSchema, name: &str| {
            schema
                .field_with_qualified_name(&"r".into(), name)
                .unwrap()
                .is_nullable()
        };
        assert!(nullable(&j.schema, "k"));
        assert!(nullable(&swapped.schema, "k"));
    }
}
