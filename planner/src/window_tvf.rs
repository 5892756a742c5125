//! Window table functions, in Flink's syntax:
//!
//! ```sql
//! SELECT * FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND [, offset]))
//! SELECT * FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '5' SECOND, INTERVAL '1' MINUTE [, offset]))
//! -- also with named arguments: DATA => TABLE bid, TIMECOL => DESCRIPTOR(ts), SIZE =>, SLIDE =>, OFFSET =>
//! ```
//!
//! The result is the table's columns followed by `window_start`,
//! `window_end` and `window_time` (the window's last instant), one row per
//! window a row's time falls in.
//!
//! The parser drops the `TABLE` keyword of the table argument
//! ([`crate::parse`]); [`rewrite_calls`] then replaces each call in `FROM`
//! by a reference to a placeholder table that the planner's catalog
//! answers with a [`WindowTableSource`], whose logical plan (inlined by
//! DataFusion, as a view's is) is a [`WindowTvfNode`] over the table. The
//! lowering turns the node into a `WindowAssign` dataflow node.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, SchemaRef};
use datafusion_common::{DFSchema, DFSchemaRef, DataFusionError, ExprSchema, Result};
use datafusion_expr::{Expr, LogicalPlan, TableSource, TableType, UserDefinedLogicalNodeCore};
use sqlparser::ast::{
    Expr as SqlExpr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName,
    ObjectNamePart, TableAlias, TableFactor, Value,
};
use tidewater_runtime::plan::WindowSpec;

use crate::error::PlanError;

/// The Postgres name of a type, for messages.
pub fn sql_type_name(t: &DataType) -> String {
    tidewater_runtime::pgtypes::format_type(tidewater_runtime::pgtypes::pg_type_of(t).0, None)
}

/// The prefix of the placeholder tables that stand for window calls.
pub const PLACEHOLDER_PREFIX: &str = "__tidewater_window_";

/// A window table function call found in a statement.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowCall {
    /// The table argument, as written.
    pub table: ObjectName,
    /// The time column.
    pub time: Ident,
    /// The windows.
    pub window: WindowSpec,
}

/// An interval literal (`INTERVAL '10' SECOND`, `INTERVAL '1 minute'`) as
/// microseconds.
pub fn interval_literal_micros(expr: &SqlExpr, what: &str) -> Result<i64> {
    let SqlExpr::Interval(interval) = expr else {
        return Err(PlanError::feature_not_supported(format!(
            "{what} must be an interval literal such as INTERVAL '10' SECOND, not {expr}"
        ))
        .into());
    };
    let value = match interval.value.as_ref() {
        SqlExpr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        other => other.to_string(),
    };
    let text = match &interval.leading_field {
        Some(unit) => format!("{value} {unit}"),
        None => value,
    };
    tidewater_runtime::pgtypes::text::parse_fixed_interval_micros(&text)
        .map_err(|reason| PlanError::invalid_parameter(format!("invalid {what}: {reason}")).into())
}

/// Reads the arguments of `TUMBLE`/`HOP` (positional or named).
fn window_call(name: &str, args: &[FunctionArg]) -> Result<WindowCall> {
    let upper = name.to_ascii_uppercase();
    let params: &[&str] = match upper.as_str() {
        "TUMBLE" => &["DATA", "TIMECOL", "SIZE", "OFFSET"],
        "HOP" => &["DATA", "TIMECOL", "SLIDE", "SIZE", "OFFSET"],
        _ => {
            return Err(PlanError::feature_not_supported(format!(
                "the window table function {upper} is not supported yet (TUMBLE and HOP are)"
            ))
            .into());
        }
    };
    let mut values: Vec<Option<&SqlExpr>> = vec![None; params.len()];
    for (i, arg) in args.iter().enumerate() {
        let (slot, expr) = match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => (i, e),
            FunctionArg::Named {
                name,
                arg: FunctionArgExpr::Expr(e),
                ..
            }
            | FunctionArg::ExprNamed {
                name: SqlExpr::Identifier(name),
                arg: FunctionArgExpr::Expr(e),
                ..
            } => {
                let wanted = name.value.to_ascii_uppercase();
                let Some(slot) = params.iter().position(|p| *p == wanted) else {
                    return Err(PlanError::syntax(format!(
                        "{upper} has no argument {wanted} (it takes {})",
                        params.join(", ")
                    ))
                    .into());
                };
                (slot, e)
            }
            other => {
                return Err(
                    PlanError::syntax(format!("unexpected argument of {upper}: {other}")).into(),
                );
            }
        };
        if slot >= params.len() {
            return Err(PlanError::syntax(format!(
                "{upper} takes at most {} arguments ({})",
                params.len(),
                params.join(", ")
            ))
            .into());
        }
        if values[slot].replace(expr).is_some() {
            return Err(PlanError::syntax(format!(
                "argument {} of {upper} is given twice",
                params[slot]
            ))
            .into());
        }
    }
    let required = params.len() - 1;
    if let Some(missing) = (0..required).find(|i| values[*i].is_none()) {
        return Err(PlanError::syntax(format!(
            "{upper} needs its {} argument ({upper}({}))",
            params[missing],
            params.join(", ")
        ))
        .into());
    }
    let table = match values[0].expect("checked above") {
        SqlExpr::Identifier(i) => ObjectName(vec![ObjectNamePart::Identifier(i.clone())]),
        SqlExpr::CompoundIdentifier(parts) => ObjectName(
            parts
                .iter()
                .cloned()
                .map(ObjectNamePart::Identifier)
                .collect(),
        ),
        other => {
            return Err(PlanError::feature_not_supported(format!(
                "the DATA argument of {upper} must be TABLE name, not {other}"
            ))
            .into());
        }
    };
    let time = match values[1].expect("checked above") {
        SqlExpr::Function(f) if f.name.to_string().eq_ignore_ascii_case("descriptor") => {
            match &f.args {
                FunctionArguments::List(list) => match list.args.as_slice() {
                    [FunctionArg::Unnamed(FunctionArgExpr::Expr(SqlExpr::Identifier(i)))] => {
                        i.clone()
                    }
                    _ => {
                        return Err(PlanError::syntax(format!(
                            "the TIMECOL of {upper} must be DESCRIPTOR(column) with one column"
                        ))
                        .into());
                    }
                },
                _ => {
                    return Err(PlanError::syntax(format!(
                        "the TIMECOL of {upper} must be DESCRIPTOR(column)"
                    ))
                    .into());
                }
            }
        }
        other => {
            return Err(PlanError::syntax(format!(
                "the TIMECOL of {upper} must be DESCRIPTOR(column), not {other}"
            ))
            .into());
        }
    };
    let interval = |slot: usize| -> Result<i64> {
        let what = format!("{} of {upper}", params[slot]);
        interval_literal_micros(values[slot].expect("checked above"), &what)
    };
    let offset = match values[params.len() - 1] {
        Some(e) => interval_literal_micros(e, &format!("OFFSET of {upper}"))?,
        None => 0,
    };
    let window = match upper.as_str() {
        "TUMBLE" => WindowSpec::Tumble {
            size: interval(2)?,
            offset,
        },
        _ => {
            let (slide, size) = (interval(2)?, interval(3)?);
            WindowSpec::Hop {
                slide,
                size,
                offset,
            }
        }
    };
    Ok(WindowCall {
        table,
        time,
        window,
    })
}

/// Replaces every window table function in `FROM` by a placeholder table
/// (aliased to the call's alias, or to the table's name), and returns the
/// calls in placeholder order.
/// Placeholders are numbered from `first`.
pub fn rewrite_calls(
    statement: &mut sqlparser::ast::Statement,
    first: usize,
) -> Result<Vec<WindowCall>> {
    use std::ops::ControlFlow;

    use sqlparser::ast::VisitMut;
    let mut calls = Vec::new();
    let mut failure = None;
    let _ = statement.visit(&mut Rewriter {
        first,
        calls: &mut calls,
        failure: &mut failure,
    });
    struct Rewriter<'a> {
        first: usize,
        calls: &'a mut Vec<WindowCall>,
        failure: &'a mut Option<DataFusionError>,
    }
    impl sqlparser::ast::VisitorMut for Rewriter<'_> {
        type Break = ();
        fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
            let TableFactor::TableFunction { expr, alias } = factor else {
                return ControlFlow::Continue(());
            };
            let SqlExpr::Function(f) = expr else {
                return ControlFlow::Continue(());
            };
            let name = f.name.to_string();
            if !["tumble", "hop", "cumulate", "session"]
                .iter()
                .any(|w| name.eq_ignore_ascii_case(w))
            {
                return ControlFlow::Continue(());
            }
            let args: &[FunctionArg] = match &f.args {
                FunctionArguments::List(list) => &list.args,
                _ => &[],
            };
            match window_call(&name, args) {
                Ok(call) => {
                    let placeholder =
                        format!("{PLACEHOLDER_PREFIX}{}", self.first + self.calls.len());
                    let alias = alias.clone().unwrap_or_else(|| TableAlias {
                        explicit: false,
                        name: call
                            .table
                            .0
                            .last()
                            .and_then(|p| p.as_ident().cloned())
                            .unwrap_or_else(|| Ident::new(&placeholder)),
                        columns: vec![],
                        at: None,
                    });
                    self.calls.push(call);
                    *factor = TableFactor::Table {
                        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::with_quote(
                            '"',
                            placeholder,
                        ))]),
                        alias: Some(alias),
                        args: None,
                        with_hints: vec![],
                        version: None,
                        with_ordinality: false,
                        partitions: vec![],
                        json_path: None,
                        sample: None,
                        index_hints: vec![],
                    };
                    ControlFlow::Continue(())
                }
                Err(e) => {
                    *self.failure = Some(e);
                    ControlFlow::Break(())
                }
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(calls),
    }
}

/// The logical node of a window table function (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WindowTvfNode {
    /// The table's rows.
    pub input: LogicalPlan,
    /// The time column (a column of the input).
    pub time: Expr,
    /// The windows.
    pub window: WindowSpec,
    schema: DFSchemaRef,
}

impl WindowTvfNode {
    /// The node over `input`, assigning windows by `time` (a column of
    /// it, which must be a timestamp).
    pub fn try_new(input: LogicalPlan, time: Expr, window: WindowSpec) -> Result<Self> {
        tidewater_runtime::operators::window_assign::validate_window(&window)
            .map_err(|e| DataFusionError::from(PlanError::invalid_parameter(e.message)))?;
        let input_schema = input.schema();
        let time_type = match &time {
            Expr::Column(c) => input_schema.field_from_column(c)?.data_type().clone(),
            other => {
                return Err(DataFusionError::Internal(format!(
                    "window time is not a column: {other}"
                )));
            }
        };
        let DataType::Timestamp(_, tz) = &time_type else {
            return Err(PlanError::datatype_mismatch(format!(
                "the time column {time} of a window table function must be a timestamp, not {}",
                sql_type_name(&time_type)
            ))
            .into());
        };
        let window_type = DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, tz.clone());
        let mut fields: Vec<(Option<datafusion_common::TableReference>, Arc<Field>)> = input_schema
            .iter()
            .map(|(q, f)| (q.cloned(), Arc::clone(f)))
            .collect();
        let qualifier = input_schema.iter().next().and_then(|(q, _)| q.cloned());
        for name in ["window_start", "window_end", "window_time"] {
            fields.push((
                qualifier.clone(),
                Arc::new(Field::new(name, window_type.clone(), true)),
            ));
        }
        let schema = Arc::new(DFSchema::new_with_metadata(fields, Default::default())?);
        Ok(Self {
            input,
            time,
            window,
            schema,
        })
    }
}

impl PartialOrd for WindowTvfNode {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.input.partial_cmp(&other.input) {
            Some(Ordering::Equal) => self.time.partial_cmp(&other.time),
            other => other,
        }
    }
}

impl UserDefinedLogicalNodeCore for WindowTvfNode {
    fn name(&self) -> &str {
        "WindowTvf"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![self.time.clone()]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "WindowTvf: {:?} on {}", self.window, self.time)
    }

    fn with_exprs_and_inputs(&self, exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        let time = exprs
            .into_iter()
            .next()
            .unwrap_or_else(|| self.time.clone());
        let input = inputs
            .into_iter()
            .next()
            .ok_or_else(|| DataFusionError::Internal("WindowTvf needs its input".into()))?;
        Self::try_new(input, time, self.window)
    }
}

/// What the planner's catalog answers for a placeholder table: the
/// window node over the table, inlined by DataFusion as a view's plan is.
#[derive(Debug)]
pub struct WindowTableSource {
    plan: LogicalPlan,
}

impl WindowTableSource {
    /// A source for `node`.
    pub fn new(node: WindowTvfNode) -> Self {
        Self {
            plan: LogicalPlan::Extension(datafusion_expr::Extension {
                node: Arc::new(node),
            }),
        }
    }
}

impl TableSource for WindowTableSource {
    fn schema(&self) -> SchemaRef {
        Arc::clone(self.plan.schema().inner())
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn get_logical_plan(&'_ self) -> Option<Cow<'_, LogicalPlan>> {
        Some(Cow::Borrowed(&self.plan))
    }
}
