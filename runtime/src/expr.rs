//! The expression codec: a serializable mirror of DataFusion's logical
//! [`Expr`] that dataflow plans carry to every worker, in any process.
//!
//! The planner converts optimized logical expressions with
//! [`ExprIr::try_from_expr`]; each worker turns them back into logical
//! expressions with [`ExprIr::to_expr`] (functions are looked up by name in
//! the shared [`FunctionRegistry`]) and lets DataFusion build the physical
//! expression against the node's input schema ([`SchemaIr`]). Literals travel
//! as one-row Arrow IPC, so every `ScalarValue` type round-trips.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use datafusion_common::{
    Column, DFSchema, DFSchemaRef, Result as DFResult, ScalarValue, TableReference, internal_err,
    not_impl_err,
};
use datafusion_expr::execution_props::ExecutionProps;
use datafusion_expr::expr::{
    AggregateFunction, AggregateFunctionParams, Alias, Case, Cast, InList, Like, NullTreatment,
    ScalarFunction, Sort, TryCast, WindowFunction, WindowFunctionParams,
};
use datafusion_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion_expr::{
    Between, BinaryExpr, Expr, Operator, WindowFrame, WindowFrameBound, WindowFrameUnits,
    WindowFunctionDefinition,
};
use datafusion_physical_expr::{PhysicalExpr, PhysicalSortExpr, create_physical_expr};
use serde::{Deserialize, Serialize};

use crate::functions::FunctionRegistry;

/// A table qualifier of a column: `[table]`, `[schema, table]` or
/// `[catalog, schema, table]`.
pub type QualifierIr = Vec<String>;

/// The parts of a table qualifier.
pub fn qualifier_to_ir(r: &TableReference) -> QualifierIr {
    match r {
        TableReference::Bare { table } => vec![table.to_string()],
        TableReference::Partial { schema, table } => vec![schema.to_string(), table.to_string()],
        TableReference::Full {
            catalog,
            schema,
            table,
        } => vec![catalog.to_string(), schema.to_string(), table.to_string()],
    }
}

fn qualifier_from_ir(q: &[String]) -> TableReference {
    match q {
        [t] => TableReference::bare(t.as_str()),
        [s, t] => TableReference::partial(s.as_str(), t.as_str()),
        [c, s, t] => TableReference::full(c.as_str(), s.as_str(), t.as_str()),
        _ => TableReference::bare(q.join(".")),
    }
}

/// A DataFusion schema (fields with optional table qualifiers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaIr {
    /// Qualifier and field of each column, in order.
    pub columns: Vec<(Option<QualifierIr>, Field)>,
}

impl SchemaIr {
    /// Captures a DataFusion schema.
    pub fn from_df_schema(schema: &DFSchema) -> Self {
        Self {
            columns: schema
                .iter()
                .map(|(q, f)| (q.map(qualifier_to_ir), f.as_ref().clone()))
                .collect(),
        }
    }

    /// Captures an Arrow schema (no qualifiers).
    pub fn from_arrow(schema: &Schema) -> Self {
        Self {
            columns: schema
                .fields()
                .iter()
                .map(|f| (None, f.as_ref().clone()))
                .collect(),
        }
    }

    /// A reference to each column, in order (a projection that keeps them).
    pub fn column_refs(&self) -> Vec<ExprIr> {
        self.columns
            .iter()
            .map(|(q, f)| ExprIr::Column {
                relation: q.clone(),
                name: f.name().clone(),
            })
            .collect()
    }

    /// Rebuilds the DataFusion schema.
    pub fn to_df_schema(&self) -> DFResult<DFSchemaRef> {
        let cols = self
            .columns
            .iter()
            .map(|(q, f)| (q.as_deref().map(qualifier_from_ir), Arc::new(f.clone())))
            .collect::<Vec<(Option<TableReference>, FieldRef)>>();
        Ok(Arc::new(DFSchema::new_with_metadata(cols, HashMap::new())?))
    }

    /// The Arrow schema of the batches (fields without qualifiers).
    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|(_, f)| f.clone())
                .collect::<Vec<_>>(),
        ))
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// True if the schema has no columns.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }
}

/// A literal value, stored as a one-row Arrow IPC stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalarIr(#[serde(with = "serde_bytes_compat")] pub Vec<u8>);

mod serde_bytes_compat {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Vec::<u8>::deserialize(d)
    }
}

impl ScalarIr {
    /// Encodes a scalar value.
    pub fn encode(value: &ScalarValue) -> DFResult<Self> {
        let array = value.to_array_of_size(1)?;
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "v",
                array.data_type().clone(),
                true,
            )])),
            vec![array],
        )?;
        Ok(Self(encode_batch(&batch)?))
    }

    /// Decodes the scalar value.
    pub fn decode(&self) -> DFResult<ScalarValue> {
        let batch = decode_batch(&self.0)?;
        if batch.num_rows() != 1 || batch.num_columns() != 1 {
            return internal_err!("malformed literal in dataflow plan");
        }
        ScalarValue::try_from_array(batch.column(0), 0)
    }
}

/// Encodes one batch as an Arrow IPC stream (schema and batch).
pub fn encode_batch(batch: &RecordBatch) -> DFResult<Vec<u8>> {
    let mut out = Vec::with_capacity(batch.get_array_memory_size() + 256);
    {
        let mut writer = StreamWriter::try_new(&mut out, batch.schema_ref())?;
        writer.write(batch)?;
        writer.finish()?;
    }
    Ok(out)
}

/// Decodes a batch written by [`encode_batch`].
pub fn decode_batch(bytes: &[u8]) -> DFResult<RecordBatch> {
    let mut reader = StreamReader::try_new(std::io::Cursor::new(bytes), None)?;
    let schema = reader.schema();
    match reader.next() {
        Some(batch) => Ok(batch?),
        None => Ok(RecordBatch::new_empty(schema)),
    }
}

/// A sort key: expression, direction and null placement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SortIr {
    /// The key.
    pub expr: ExprIr,
    /// Ascending.
    pub asc: bool,
    /// Nulls before other values.
    pub nulls_first: bool,
}

/// A window frame boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FrameBoundIr {
    /// `n PRECEDING` (`UNBOUNDED` is a null value).
    Preceding(ScalarIr),
    /// `CURRENT ROW`.
    CurrentRow,
    /// `n FOLLOWING` (`UNBOUNDED` is a null value).
    Following(ScalarIr),
}

/// A window frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowFrameIr {
    /// `ROWS`, `RANGE` or `GROUPS`.
    pub units: String,
    /// Start bound.
    pub start: FrameBoundIr,
    /// End bound.
    pub end: FrameBoundIr,
}

/// A serializable logical expression (see the module docs).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ExprIr {
    Column {
        relation: Option<QualifierIr>,
        name: String,
    },
    Literal(ScalarIr),
    Alias {
        expr: Box<ExprIr>,
        relation: Option<QualifierIr>,
        name: String,
    },
    Binary {
        left: Box<ExprIr>,
        op: String,
        right: Box<ExprIr>,
    },
    Like {
        negated: bool,
        expr: Box<ExprIr>,
        pattern: Box<ExprIr>,
        escape_char: Option<char>,
        case_insensitive: bool,
        similar_to: bool,
    },
    Not(Box<ExprIr>),
    IsNull(Box<ExprIr>),
    IsNotNull(Box<ExprIr>),
    IsTrue(Box<ExprIr>),
    IsFalse(Box<ExprIr>),
    IsUnknown(Box<ExprIr>),
    IsNotTrue(Box<ExprIr>),
    IsNotFalse(Box<ExprIr>),
    IsNotUnknown(Box<ExprIr>),
    Negative(Box<ExprIr>),
    Between {
        expr: Box<ExprIr>,
        negated: bool,
        low: Box<ExprIr>,
        high: Box<ExprIr>,
    },
    Case {
        expr: Option<Box<ExprIr>>,
        when_then: Vec<(ExprIr, ExprIr)>,
        else_expr: Option<Box<ExprIr>>,
    },
    Cast {
        expr: Box<ExprIr>,
        field: Field,
    },
    TryCast {
        expr: Box<ExprIr>,
        field: Field,
    },
    ScalarFunction {
        name: String,
        args: Vec<ExprIr>,
    },
    AggregateFunction {
        name: String,
        args: Vec<ExprIr>,
        distinct: bool,
        filter: Option<Box<ExprIr>>,
        order_by: Vec<SortIr>,
        ignore_nulls: Option<bool>,
    },
    WindowFunction {
        /// `true` when `name` is an aggregate function used as a window function.
        aggregate: bool,
        name: String,
        args: Vec<ExprIr>,
        partition_by: Vec<ExprIr>,
        order_by: Vec<SortIr>,
        frame: WindowFrameIr,
        filter: Option<Box<ExprIr>>,
        ignore_nulls: Option<bool>,
        distinct: bool,
    },
    InList {
        expr: Box<ExprIr>,
        list: Vec<ExprIr>,
        negated: bool,
    },
}

macro_rules! operators {
    ($($name:ident),* $(,)?) => {
        fn operator_name(op: &Operator) -> &'static str {
            match op { $(Operator::$name => stringify!($name),)* }
        }
        fn operator_from_name(name: &str) -> DFResult<Operator> {
            match name {
                $(stringify!($name) => Ok(Operator::$name),)*
                other => internal_err!("unknown operator {other} in dataflow plan"),
            }
        }
    };
}

operators!(
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Plus,
    Minus,
    Multiply,
    Divide,
    Modulo,
    And,
    Or,
    IsDistinctFrom,
    IsNotDistinctFrom,
    RegexMatch,
    RegexIMatch,
    RegexNotMatch,
    RegexNotIMatch,
    LikeMatch,
    ILikeMatch,
    NotLikeMatch,
    NotILikeMatch,
    BitwiseAnd,
    BitwiseOr,
    BitwiseXor,
    BitwiseShiftRight,
    BitwiseShiftLeft,
    StringConcat,
    AtArrow,
    ArrowAt,
    Arrow,
    LongArrow,
    HashArrow,
    HashLongArrow,
    AtAt,
    IntegerDivide,
    HashMinus,
    AtQuestion,
    Question,
    QuestionAnd,
    QuestionPipe,
    Colon,
);

fn boxed(e: &Expr) -> DFResult<Box<ExprIr>> {
    Ok(Box::new(ExprIr::try_from_expr(e)?))
}

fn list(es: &[Expr]) -> DFResult<Vec<ExprIr>> {
    es.iter().map(ExprIr::try_from_expr).collect()
}

fn sorts(s: &[Sort]) -> DFResult<Vec<SortIr>> {
    s.iter().map(SortIr::try_from_sort).collect()
}

fn ignore_nulls(n: &Option<NullTreatment>) -> Option<bool> {
    n.as_ref().map(|n| matches!(n, NullTreatment::IgnoreNulls))
}

fn null_treatment(n: Option<bool>) -> Option<NullTreatment> {
    n.map(|ignore| {
        if ignore {
            NullTreatment::IgnoreNulls
        } else {
            NullTreatment::RespectNulls
        }
    })
}

impl SortIr {
    /// Converts a logical sort expression.
    pub fn try_from_sort(s: &Sort) -> DFResult<Self> {
        Ok(Self {
            expr: ExprIr::try_from_expr(&s.expr)?,
            asc: s.asc,
            nulls_first: s.nulls_first,
        })
    }

    /// Rebuilds the logical sort expression.
    pub fn to_sort(&self, registry: &FunctionRegistry) -> DFResult<Sort> {
        Ok(Sort::new(
            self.expr.to_expr(registry)?,
            self.asc,
            self.nulls_first,
        ))
    }
}

impl WindowFrameIr {
    fn from_frame(f: &WindowFrame) -> DFResult<Self> {
        let bound = |b: &WindowFrameBound| -> DFResult<FrameBoundIr> {
            Ok(match b {
                WindowFrameBound::Preceding(v) => FrameBoundIr::Preceding(ScalarIr::encode(v)?),
                WindowFrameBound::CurrentRow => FrameBoundIr::CurrentRow,
                WindowFrameBound::Following(v) => FrameBoundIr::Following(ScalarIr::encode(v)?),
            })
        };
        Ok(Self {
            units: match f.units {
                WindowFrameUnits::Rows => "ROWS",
                WindowFrameUnits::Range => "RANGE",
                WindowFrameUnits::Groups => "GROUPS",
            }
            .to_string(),
            start: bound(&f.start_bound)?,
            end: bound(&f.end_bound)?,
        })
    }

    fn to_frame(&self) -> DFResult<WindowFrame> {
        let bound = |b: &FrameBoundIr| -> DFResult<WindowFrameBound> {
            Ok(match b {
                FrameBoundIr::Preceding(v) => WindowFrameBound::Preceding(v.decode()?),
                FrameBoundIr::CurrentRow => WindowFrameBound::CurrentRow,
                FrameBoundIr::Following(v) => WindowFrameBound::Following(v.decode()?),
            })
        };
        let units = match self.units.as_str() {
            "ROWS" => WindowFrameUnits::Rows,
            "RANGE" => WindowFrameUnits::Range,
            "GROUPS" => WindowFrameUnits::Groups,
            other => return internal_err!("unknown window frame units {other}"),
        };
        Ok(WindowFrame::new_bounds(
            units,
            bound(&self.start)?,
            bound(&self.end)?,
        ))
    }
}

impl ExprIr {
    /// A reference to an unqualified column.
    pub fn column(name: impl Into<String>) -> Self {
        ExprIr::Column {
            relation: None,
            name: name.into(),
        }
    }

    /// Converts an optimized logical expression. Subqueries, placeholders and
    /// other expressions that must be planned away first are rejected.
    pub fn try_from_expr(e: &Expr) -> DFResult<Self> {
        Ok(match e {
            Expr::Alias(Alias {
                expr,
                relation,
                name,
                ..
            }) => ExprIr::Alias {
                expr: boxed(expr)?,
                relation: relation.as_ref().map(qualifier_to_ir),
                name: name.clone(),
            },
            Expr::Column(c) => ExprIr::Column {
                relation: c.relation.as_ref().map(qualifier_to_ir),
                name: c.name.clone(),
            },
            Expr::Literal(v, _) => ExprIr::Literal(ScalarIr::encode(v)?),
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => ExprIr::Binary {
                left: boxed(left)?,
                op: operator_name(op).to_string(),
                right: boxed(right)?,
            },
            Expr::Like(l) | Expr::SimilarTo(l) => ExprIr::Like {
                negated: l.negated,
                expr: boxed(&l.expr)?,
                pattern: boxed(&l.pattern)?,
                escape_char: l.escape_char,
                case_insensitive: l.case_insensitive,
                similar_to: matches!(e, Expr::SimilarTo(_)),
            },
            Expr::Not(x) => ExprIr::Not(boxed(x)?),
            Expr::IsNull(x) => ExprIr::IsNull(boxed(x)?),
            Expr::IsNotNull(x) => ExprIr::IsNotNull(boxed(x)?),
            Expr::IsTrue(x) => ExprIr::IsTrue(boxed(x)?),
            Expr::IsFalse(x) => ExprIr::IsFalse(boxed(x)?),
            Expr::IsUnknown(x) => ExprIr::IsUnknown(boxed(x)?),
            Expr::IsNotTrue(x) => ExprIr::IsNotTrue(boxed(x)?),
            Expr::IsNotFalse(x) => ExprIr::IsNotFalse(boxed(x)?),
            Expr::IsNotUnknown(x) => ExprIr::IsNotUnknown(boxed(x)?),
            Expr::Negative(x) => ExprIr::Negative(boxed(x)?),
            Expr::Between(Between {
                expr,
                negated,
                low,
                high,
            }) => ExprIr::Between {
                expr: boxed(expr)?,
                negated: *negated,
                low: boxed(low)?,
                high: boxed(high)?,
            },
            Expr::Case(Case {
                expr,
                when_then_expr,
                else_expr,
            }) => ExprIr::Case {
                expr: expr.as_deref().map(boxed).transpose()?,
                when_then: when_then_expr
                    .iter()
                    .map(|(w, t)| Ok((ExprIr::try_from_expr(w)?, ExprIr::try_from_expr(t)?)))
                    .collect::<DFResult<_>>()?,
                else_expr: else_expr.as_deref().map(boxed).transpose()?,
            },
            Expr::Cast(Cast { expr, field }) => ExprIr::Cast {
                expr: boxed(expr)?,
                field: field.as_ref().clone(),
            },
            Expr::TryCast(TryCast { expr, field }) => ExprIr::TryCast {
                expr: boxed(expr)?,
                field: field.as_ref().clone(),
            },
            Expr::ScalarFunction(ScalarFunction { func, args }) => ExprIr::ScalarFunction {
                name: func.name().to_string(),
                args: list(args)?,
            },
            Expr::AggregateFunction(AggregateFunction {
                func,
                params:
                    AggregateFunctionParams {
                        args,
                        distinct,
                        filter,
                        order_by,
                        null_treatment,
                    },
            }) => ExprIr::AggregateFunction {
                name: func.name().to_string(),
                args: list(args)?,
                distinct: *distinct,
                filter: filter.as_deref().map(boxed).transpose()?,
                order_by: sorts(order_by)?,
                ignore_nulls: ignore_nulls(null_treatment),
            },
            Expr::WindowFunction(w) => {
                let WindowFunction {
                    fun,
                    params:
                        WindowFunctionParams {
                            args,
                            partition_by,
                            order_by,
                            window_frame,
                            filter,
                            null_treatment,
                            distinct,
                        },
                } = w.as_ref();
                let (aggregate, name) = match fun {
                    WindowFunctionDefinition::AggregateUDF(f) => (true, f.name().to_string()),
                    WindowFunctionDefinition::WindowUDF(f) => (false, f.name().to_string()),
                };
                ExprIr::WindowFunction {
                    aggregate,
                    name,
                    args: list(args)?,
                    partition_by: list(partition_by)?,
                    order_by: sorts(order_by)?,
                    frame: WindowFrameIr::from_frame(window_frame)?,
                    filter: filter.as_deref().map(boxed).transpose()?,
                    ignore_nulls: ignore_nulls(null_treatment),
                    distinct: *distinct,
                }
            }
            Expr::InList(InList {
                expr,
                list: items,
                negated,
            }) => ExprIr::InList {
                expr: boxed(expr)?,
                list: list(items)?,
                negated: *negated,
            },
            Expr::ScalarSubquery(_)
            | Expr::Exists(_)
            | Expr::InSubquery(_)
            | Expr::SetComparison(_) => {
                return not_impl_err!("this form of subquery is not supported yet: {e}");
            }
            Expr::OuterReferenceColumn(_, c) => {
                return not_impl_err!(
                    "correlated subquery referencing {c} could not be decorrelated; \
                     rewrite it as a join"
                );
            }
            Expr::Placeholder(p) => {
                return internal_err!("parameter {} was not bound before planning", p.id);
            }
            other => return not_impl_err!("expression not supported yet: {other}"),
        })
    }

    /// Rebuilds the logical expression, resolving functions in `registry`.
    pub fn to_expr(&self, registry: &FunctionRegistry) -> DFResult<Expr> {
        let b = |e: &ExprIr| -> DFResult<Box<Expr>> { Ok(Box::new(e.to_expr(registry)?)) };
        let l = |es: &[ExprIr]| -> DFResult<Vec<Expr>> {
            es.iter().map(|e| e.to_expr(registry)).collect()
        };
        let s = |ss: &[SortIr]| -> DFResult<Vec<Sort>> {
            ss.iter().map(|s| s.to_sort(registry)).collect()
        };
        Ok(match self {
            ExprIr::Column { relation, name } => Expr::Column(Column::new(
                relation.as_deref().map(qualifier_from_ir),
                name.clone(),
            )),
            ExprIr::Literal(v) => Expr::Literal(v.decode()?, None),
            ExprIr::Alias {
                expr,
                relation,
                name,
            } => Expr::Alias(Alias::new(
                expr.to_expr(registry)?,
                relation.as_deref().map(qualifier_from_ir),
                name.clone(),
            )),
            ExprIr::Binary { left, op, right } => Expr::BinaryExpr(BinaryExpr::new(
                b(left)?,
                operator_from_name(op)?,
                b(right)?,
            )),
            ExprIr::Like {
                negated,
                expr,
                pattern,
                escape_char,
                case_insensitive,
                similar_to,
            } => {
                let like = Like::new(
                    *negated,
                    b(expr)?,
                    b(pattern)?,
                    *escape_char,
                    *case_insensitive,
                );
                if *similar_to {
                    Expr::SimilarTo(like)
                } else {
                    Expr::Like(like)
                }
            }
            ExprIr::Not(x) => Expr::Not(b(x)?),
            ExprIr::IsNull(x) => Expr::IsNull(b(x)?),
            ExprIr::IsNotNull(x) => Expr::IsNotNull(b(x)?),
            ExprIr::IsTrue(x) => Expr::IsTrue(b(x)?),
            ExprIr::IsFalse(x) => Expr::IsFalse(b(x)?),
            ExprIr::IsUnknown(x) => Expr::IsUnknown(b(x)?),
            ExprIr::IsNotTrue(x) => Expr::IsNotTrue(b(x)?),
            ExprIr::IsNotFalse(x) => Expr::IsNotFalse(b(x)?),
            ExprIr::IsNotUnknown(x) => Expr::IsNotUnknown(b(x)?),
            ExprIr::Negative(x) => Expr::Negative(b(x)?),
            ExprIr::Between {
                expr,
                negated,
                low,
                high,
            } => Expr::Between(Between::new(b(expr)?, *negated, b(low)?, b(high)?)),
            ExprIr::Case {
                expr,
                when_then,
                else_expr,
            } => Expr::Case(Case::new(
                expr.as_deref().map(b).transpose()?,
                when_then
                    .iter()
                    .map(|(w, t)| Ok((b(w)?, b(t)?)))
                    .collect::<DFResult<_>>()?,
                else_expr.as_deref().map(b).transpose()?,
            )),
            ExprIr::Cast { expr, field } => Expr::Cast(Cast {
                expr: b(expr)?,
                field: Arc::new(field.clone()),
            }),
            ExprIr::TryCast { expr, field } => Expr::TryCast(TryCast {
                expr: b(expr)?,
                field: Arc::new(field.clone()),
            }),
            ExprIr::ScalarFunction { name, args } => {
                Expr::ScalarFunction(ScalarFunction::new_udf(registry.scalar(name)?, l(args)?))
            }
            ExprIr::AggregateFunction {
                name,
                args,
                distinct,
                filter,
                order_by,
                ignore_nulls,
            } => Expr::AggregateFunction(AggregateFunction::new_udf(
                registry.aggregate(name)?,
                l(args)?,
                *distinct,
                filter.as_deref().map(b).transpose()?,
                s(order_by)?,
                null_treatment(*ignore_nulls),
            )),
            ExprIr::WindowFunction {
                aggregate,
                name,
                args,
                partition_by,
                order_by,
                frame,
                filter,
                ignore_nulls,
                distinct,
            } => {
                let fun = if *aggregate {
                    WindowFunctionDefinition::AggregateUDF(registry.aggregate(name)?)
                } else {
                    WindowFunctionDefinition::WindowUDF(registry.window(name)?)
                };
                Expr::WindowFunction(Box::new(WindowFunction {
                    fun,
                    params: WindowFunctionParams {
                        args: l(args)?,
                        partition_by: l(partition_by)?,
                        order_by: s(order_by)?,
                        window_frame: frame.to_frame()?,
                        filter: filter.as_deref().map(b).transpose()?,
                        null_treatment: null_treatment(*ignore_nulls),
                        distinct: *distinct,
                    },
                }))
            }
            ExprIr::InList {
                expr,
                list,
                negated,
            } => Expr::InList(InList::new(b(expr)?, l(list)?, *negated)),
        })
    }
}

/// Everything a worker needs to turn [`ExprIr`]s into physical expressions
/// for one operator: the input schema and the query's execution properties.
#[derive(Debug)]
pub struct ExprContext<'a> {
    /// Function lookup.
    pub registry: &'a FunctionRegistry,
    /// Input schema of the operator.
    pub schema: DFSchemaRef,
    /// Execution properties (query start time for `now()`).
    pub props: &'a ExecutionProps,
}

impl<'a> ExprContext<'a> {
    /// Creates a context for an operator whose input has `schema`.
    pub fn try_new(
        registry: &'a FunctionRegistry,
        schema: &SchemaIr,
        props: &'a ExecutionProps,
    ) -> DFResult<Self> {
        Ok(Self {
            registry,
            schema: schema.to_df_schema()?,
            props,
        })
    }

    /// The Arrow schema of the input batches.
    ///
    /// Every field is nullable: operators keep rows in this schema, and a
    /// column may hold nulls within a query whatever its declaration.
    pub fn arrow_schema(&self) -> SchemaRef {
        let schema = self.schema.inner();
        Arc::new(Schema::new_with_metadata(
            schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
            schema.metadata().clone(),
        ))
    }

    /// Builds one physical expression.
    pub fn physical(&self, e: &ExprIr) -> DFResult<Arc<dyn PhysicalExpr>> {
        let expr = e.to_expr(self.registry)?;
        let physical = create_physical_expr(
            &expr,
            &self.schema,
            self.props,
            &PhysicalPlanningContext::default(),
        )?;
        crate::functions::arithmetic::CheckedArithmetic::apply_to(physical, self.schema.as_arrow())
    }

    /// Builds several physical expressions.
    pub fn physical_all(&self, es: &[ExprIr]) -> DFResult<Vec<Arc<dyn PhysicalExpr>>> {
        es.iter().map(|e| self.physical(e)).collect()
    }

    /// Builds physical sort expressions.
    pub fn physical_sort(&self, sorts: &[SortIr]) -> DFResult<Vec<PhysicalSortExpr>> {
        sorts
            .iter()
            .map(|s| {
                Ok(PhysicalSortExpr {
                    expr: self.physical(&s.expr)?,
                    options: arrow::compute::SortOptions {
                        descending: !s.asc,
                        nulls_first: s.nulls_first,
                    },
                })
            })
            .collect()
    }
}

/// Evaluates physical expressions over a batch, producing arrays of the
/// batch's length.
pub fn evaluate_all(
    exprs: &[Arc<dyn PhysicalExpr>],
    batch: &RecordBatch,
) -> DFResult<Vec<ArrayRef>> {
    exprs
        .iter()
        .map(|e| e.evaluate(batch)?.into_array(batch.num_rows()))
        .collect()
}

/// The data type an expression yields over `schema`.
pub fn data_type_of(e: &Arc<dyn PhysicalExpr>, schema: &Schema) -> DFResult<DataType> {
    e.data_type(schema)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion_expr::{col, lit};

    #[test]
    fn expressions_round_trip() {
        let registry = FunctionRegistry::shared();
        let exprs = vec![
            col("a").eq(lit(3i64)).and(col("b").is_null()),
            col("t.c").like(lit("x%")),
            Expr::Cast(Cast::new(Box::new(col("a")), DataType::Float64)),
            lit(ScalarValue::Decimal128(Some(1234), 10, 2)),
            lit(ScalarValue::Utf8(None)),
            col("a").in_list(vec![lit(1), lit(2)], true),
        ];
        for e in exprs {
            let ir = ExprIr::try_from_expr(&e).unwrap();
            let bytes = bincode::serialize(&ir).unwrap();
            let back: ExprIr = bincode::deserialize(&bytes).unwrap();
            assert_eq!(back.to_expr(registry).unwrap(), e);
        }
    }

    #[test]
    fn functions_resolve_by_name() {
        let registry = FunctionRegistry::shared();
        let e = ExprIr::ScalarFunction {
            name: "abs".into(),
            args: vec![ExprIr::column("a")],
        };
        assert!(e.to_expr(registry).is_ok());
        let bad = ExprIr::ScalarFunction {
            name: "no_such_function".into(),
            args: vec![],
        };
        assert!(bad.to_expr(registry).is_err());
    }
}
