//! Statement planning: classifies a parsed statement and plans what the
//! server must run. Queries and `INSERT` become [`PreparedQuery`]s (bound to
//! parameters and lowered at execution); DDL becomes plans the server
//! applies to its catalog; session statements (`SET`, `BEGIN`, ...) pass
//! through.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion_common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion_common::{DataFusionError, Result, ScalarValue};
use datafusion_expr::logical_plan::{DmlStatement, WriteOp};
use datafusion_expr::planner::ContextProvider;
use datafusion_expr::{Expr, LogicalPlan, Volatility};
use datafusion_optimizer::analyzer::Analyzer;
use datafusion_sql::planner::SqlToRel;
use sqlparser::ast::{
    CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, CreateTableOptions,
    Expr as SqlExpr, ObjectType, SqlOption, Statement, Value,
};
use tidewater_runtime::pgtypes::PG_TYPE_METADATA_KEY;
use tidewater_runtime::plan::{DataflowPlan, QueryConfig};

use crate::catalog::{
    CatalogView, DEFAULT_METADATA_KEY, QualifiedName, SessionInfo, TableEntry, TableKind,
    WATERMARK_METADATA_KEY,
};
use crate::context::{PlannerContext, TableSourceAdapter};
use crate::error::PlanError;
use crate::lower::lower_plan;
use crate::names::{ident_name, output_names, qualify};
use crate::rules::optimizer_config::TidewaterOptimizerConfig;

/// A query (or the query part of an `INSERT`), planned but not yet bound to
/// parameter values.
#[derive(Debug, Clone)]
pub struct PreparedQuery {
    /// The unoptimized logical plan, possibly with `$n` placeholders.
    pub logical: LogicalPlan,
    /// Inferred type of each parameter (`$1` first); `None` when unknown.
    pub param_types: Vec<Option<DataType>>,
    /// The result columns as the client sees them (Postgres names).
    pub output: SchemaRef,
    /// A `SUBSCRIBE`: the query runs continuously and its result is a
    /// changefeed (`epoch`, `diff`, then the query's columns).
    pub subscribe: bool,
    /// Explained as a materialized view's query: lowered continuously
    /// (`EXPLAIN CREATE MATERIALIZED VIEW`).
    pub continuous: bool,
}

/// A query ready to run.
#[derive(Debug)]
pub struct LoweredQuery {
    /// The optimized logical plan.
    pub optimized: LogicalPlan,
    /// The dataflow plan.
    pub dataflow: DataflowPlan,
    /// Estimated bytes the query reads from its tables, when every table's
    /// size is known (see [`crate::estimate`]); small queries run on one
    /// worker.
    pub scanned_bytes: Option<f64>,
    /// The dataflow plan may run again, for another execution of the same
    /// prepared statement (with a fresh [`QueryConfig`]): the query has no
    /// parameters and calls no function whose value is fixed per statement
    /// (`now()`, `current_date`: stable functions, which the optimizer
    /// folds into the plan).
    pub reusable: bool,
}

/// `CREATE TABLE`.
#[derive(Debug, Clone)]
pub struct CreateTablePlan {
    /// Table name.
    pub name: QualifiedName,
    /// Declared columns (`None`: to be inferred by the connector).
    pub columns: Option<SchemaRef>,
    /// `WITH (...)` options, keys lower-cased.
    pub options: BTreeMap<String, String>,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// `AS query`.
    pub query: Option<PreparedQuery>,
    /// `PRIMARY KEY` and `UNIQUE` constraints, in the order written (the
    /// primary key's columns are NOT NULL in `columns`).
    pub constraints: Vec<KeyConstraint>,
}

/// A `PRIMARY KEY` or `UNIQUE` constraint of `CREATE TABLE`. Recorded in the
/// catalog and shown to clients as Postgres shows it; uniqueness is not
/// enforced (inserts do not check it), only the primary key's NOT NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyConstraint {
    /// `CONSTRAINT name`, when given (Postgres's names are generated
    /// otherwise: `<table>_pkey`, `<table>_<columns>_key`).
    pub name: Option<String>,
    /// A primary key (or a unique constraint).
    pub primary: bool,
    /// Its columns, in key order.
    pub columns: Vec<String>,
}

/// `CREATE VIEW`.
#[derive(Debug, Clone)]
pub struct CreateViewPlan {
    /// View name.
    pub name: QualifiedName,
    /// The view's query, as SQL.
    pub sql: String,
    /// Its columns.
    pub schema: SchemaRef,
    /// `OR REPLACE`.
    pub or_replace: bool,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
}

/// `CREATE INDEX`: recorded in the catalog; scans do not use indexes.
#[derive(Debug, Clone)]
pub struct CreateIndexPlan {
    /// Index name (in the table's schema); generated when omitted.
    pub name: Option<String>,
    /// The indexed table.
    pub table: QualifiedName,
    /// Indexed columns.
    pub columns: Vec<String>,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
}

/// What a `DROP` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropTarget {
    /// A table.
    Table(QualifiedName),
    /// A view.
    View(QualifiedName),
    /// A materialized view.
    MaterializedView(QualifiedName),
    /// A schema of a database.
    Schema {
        /// Database.
        database: String,
        /// Schema.
        schema: String,
    },
    /// A database.
    Database(String),
    /// An index.
    Index(QualifiedName),
}

/// `DROP ...`.
#[derive(Debug, Clone)]
pub struct DropPlan {
    /// Objects to drop.
    pub targets: Vec<DropTarget>,
    /// `IF EXISTS`.
    pub if_exists: bool,
    /// `CASCADE`.
    pub cascade: bool,
}

/// `COPY table FROM STDIN` format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFormat {
    /// Tab-separated text with `\N` for null.
    Text,
    /// CSV.
    Csv,
    /// Postgres's binary COPY format: a signature header, then per row a
    /// field count and length-prefixed binary values, then a trailer.
    Binary,
}

/// `COPY table [(columns)] FROM STDIN [WITH (...)]`.
#[derive(Debug, Clone)]
pub struct CopyPlan {
    /// Target table.
    pub table: TableEntry,
    /// Target columns (all when empty), in input order.
    pub columns: Vec<String>,
    /// How the data is written.
    pub options: CopyOptions,
}

/// The data format of a `COPY`, in either direction.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Format.
    pub format: CopyFormat,
    /// Field delimiter.
    pub delimiter: char,
    /// String that means null.
    pub null: String,
    /// Whether the first line is a header (csv).
    pub header: bool,
    /// Quote character (csv).
    pub quote: char,
    /// Escape character (csv).
    pub escape: char,
}

/// A classified statement.
#[derive(Debug)]
pub enum Planned {
    /// A query returning rows.
    Query(PreparedQuery),
    /// `INSERT INTO table ...`: run the query, append its rows.
    Insert {
        /// Target table.
        table: TableEntry,
        /// Rows to insert, already in the table's schema.
        query: PreparedQuery,
    },
    /// `CREATE TABLE`.
    CreateTable(CreateTablePlan),
    /// `CREATE VIEW`.
    CreateView(CreateViewPlan),
    /// `CREATE MATERIALIZED VIEW`: the view, and its query (as the view's
    /// SQL text plans) to run continuously.
    CreateMaterializedView {
        /// The view.
        view: CreateViewPlan,
        /// Its query.
        query: PreparedQuery,
    },
    /// `CREATE SCHEMA`.
    CreateSchema {
        /// Database.
        database: String,
        /// Schema name.
        schema: String,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
    },
    /// `CREATE DATABASE`.
    CreateDatabase {
        /// Name.
        name: String,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
    },
    /// `CREATE INDEX`.
    CreateIndex(CreateIndexPlan),
    /// `DROP ...`.
    Drop(DropPlan),
    /// `ALTER MATERIALIZED VIEW name SET PARALLELISM n`.
    AlterParallelism {
        /// The view.
        name: QualifiedName,
        /// The workers that are to run its job.
        parallelism: usize,
    },
    /// `EXPLAIN query`.
    Explain {
        /// The explained query.
        query: PreparedQuery,
    },
    /// `COPY ... FROM STDIN`.
    Copy(CopyPlan),
    /// `COPY ... TO STDOUT`: the query's rows as COPY data.
    CopyOut {
        /// The rows.
        query: PreparedQuery,
        /// Their format.
        options: CopyOptions,
    },
    /// A statement the session handles itself (`SET`, `SHOW`, `BEGIN`, ...).
    Session(Box<Statement>),
}

/// Plans statements against one catalog snapshot and session.
#[derive(Debug)]
pub struct Planner<'a> {
    ctx: PlannerContext<'a>,
}

fn option_value(o: &SqlExpr) -> Result<String> {
    match o {
        SqlExpr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Ok(s.clone()),
            Value::Number(n, _) => Ok(n.clone()),
            Value::Boolean(b) => Ok(b.to_string()),
            other => Ok(other.to_string()),
        },
        SqlExpr::Identifier(i) => Ok(i.value.clone()),
        other => Err(PlanError::invalid_parameter(format!(
            "option value must be a literal, not {other}"
        ))
        .into()),
    }
}

/// The `PRIMARY KEY` and `UNIQUE` constraints of `CREATE TABLE` (column
/// options and table constraints, in the order written), checked against
/// the declared columns. Other constraints (`CHECK`, `REFERENCES`) are not
/// recorded.
fn key_constraints(ct: &sqlparser::ast::CreateTable) -> Result<Vec<KeyConstraint>> {
    use sqlparser::ast::{ColumnOption, IndexColumn, TableConstraint};
    let name_of = |i: &sqlparser::ast::Ident| {
        if i.quote_style.is_some() {
            i.value.clone()
        } else {
            i.value.to_lowercase()
        }
    };
    let key_columns = |columns: &[IndexColumn]| {
        columns
            .iter()
            .map(|c| match &c.column.expr {
                SqlExpr::Identifier(i) => Ok(name_of(i)),
                other => Err(DataFusionError::from(PlanError::feature_not_supported(
                    format!("keys on expressions are not supported: {other}"),
                ))),
            })
            .collect::<Result<Vec<_>>>()
    };
    let mut out = Vec::new();
    for column in &ct.columns {
        for option in &column.options {
            let primary = match &option.option {
                ColumnOption::PrimaryKey(_) => true,
                ColumnOption::Unique(_) => false,
                _ => continue,
            };
            out.push(KeyConstraint {
                name: option.name.as_ref().map(name_of),
                primary,
                columns: vec![name_of(&column.name)],
            });
        }
    }
    for constraint in &ct.constraints {
        let (name, primary, columns) = match constraint {
            TableConstraint::PrimaryKey(pk) => (&pk.name, true, &pk.columns),
            TableConstraint::Unique(u) => (&u.name, false, &u.columns),
            _ => continue,
        };
        out.push(KeyConstraint {
            name: name.as_ref().map(name_of),
            primary,
            columns: key_columns(columns)?,
        });
    }
    if out.is_empty() {
        return Ok(out);
    }
    let table = ct
        .name
        .0
        .last()
        .map(|p| match p {
            sqlparser::ast::ObjectNamePart::Identifier(i) => name_of(i),
            other => other.to_string(),
        })
        .unwrap_or_default();
    if ct.columns.is_empty() {
        return Err(PlanError::feature_not_supported(
            "PRIMARY KEY and UNIQUE need the table's columns declared",
        )
        .into());
    }
    if out.iter().filter(|c| c.primary).count() > 1 {
        return Err(PlanError::new(
            "42P16",
            format!("multiple primary keys for table \"{table}\" are not allowed"),
        )
        .into());
    }
    for constraint in &out {
        let kind = if constraint.primary {
            "primary key"
        } else {
            "unique"
        };
        for (i, column) in constraint.columns.iter().enumerate() {
            if !ct.columns.iter().any(|c| name_of(&c.name) == *column) {
                return Err(PlanError::new(
                    "42703",
                    format!("column \"{column}\" named in key does not exist"),
                )
                .into());
            }
            if constraint.columns[..i].contains(column) {
                return Err(PlanError::new(
                    "42701",
                    format!("column \"{column}\" appears twice in {kind} constraint"),
                )
                .into());
            }
        }
    }
    Ok(out)
}

/// A column's `DEFAULT` expression, as SQL (a `NULL` default is none).
/// A table's `WATERMARK FOR column [AS column - INTERVAL ...]` (which the
/// parser passed on as a check constraint, see
/// [`crate::parse::WATERMARK_MARKER`]): the column and the delay in
/// microseconds.
fn watermark_clause(ct: &sqlparser::ast::CreateTable) -> Result<Option<(String, i64)>> {
    use sqlparser::ast::{
        BinaryOperator, FunctionArg, FunctionArgExpr, FunctionArguments, TableConstraint,
    };
    let name_of = |i: &sqlparser::ast::Ident| {
        if i.quote_style.is_some() {
            i.value.clone()
        } else {
            i.value.to_lowercase()
        }
    };
    let mut found = None;
    for constraint in &ct.constraints {
        let TableConstraint::Check(check) = constraint else {
            continue;
        };
        if check
            .name
            .as_ref()
            .is_none_or(|n| n.value != crate::parse::WATERMARK_MARKER)
        {
            continue;
        }
        let args: Vec<&SqlExpr> = match check.expr.as_ref() {
            SqlExpr::Function(f) => match &f.args {
                FunctionArguments::List(list) => list
                    .args
                    .iter()
                    .filter_map(|a| match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        let Some(SqlExpr::Identifier(column)) = args.first() else {
            return Err(PlanError::syntax("WATERMARK FOR needs a column name").into());
        };
        let column = name_of(column);
        let is_column = |e: &SqlExpr| matches!(e, SqlExpr::Identifier(i) if name_of(i) == column);
        let delay = match args.get(1) {
            None => 0,
            Some(e) if is_column(e) => 0,
            Some(SqlExpr::BinaryOp {
                left,
                op: BinaryOperator::Minus,
                right,
            }) if is_column(left) => {
                crate::window_tvf::interval_literal_micros(right, "WATERMARK delay")?
            }
            Some(other) => {
                return Err(PlanError::feature_not_supported(format!(
                    "WATERMARK FOR {column} AS {other}: only {column} and {column} - INTERVAL '...' are supported"
                ))
                .into());
            }
        };
        if found.replace((column, delay)).is_some() {
            return Err(PlanError::syntax("a table has at most one WATERMARK FOR").into());
        }
    }
    Ok(found)
}

fn column_default(column: &sqlparser::ast::ColumnDef) -> Option<String> {
    column.options.iter().find_map(|o| match &o.option {
        sqlparser::ast::ColumnOption::Default(SqlExpr::Value(v))
            if matches!(v.value, Value::Null) =>
        {
            None
        }
        sqlparser::ast::ColumnOption::Default(e) => Some(e.to_string()),
        _ => None,
    })
}

fn with_options(options: &CreateTableOptions) -> Result<BTreeMap<String, String>> {
    let list: &[SqlOption] = match options {
        CreateTableOptions::None => &[],
        CreateTableOptions::With(l) => l,
        other => {
            return Err(PlanError::syntax(format!("unsupported table options: {other}")).into());
        }
    };
    let mut map = BTreeMap::new();
    for o in list {
        match o {
            SqlOption::KeyValue { key, value } => {
                let key = key.value.to_lowercase();
                if map.insert(key.clone(), option_value(value)?).is_some() {
                    return Err(PlanError::invalid_parameter(format!(
                        "option '{key}' given twice"
                    ))
                    .into());
                }
            }
            other => {
                return Err(PlanError::syntax(format!("unsupported table option: {other}")).into());
            }
        }
    }
    Ok(map)
}

impl<'a> Planner<'a> {
    /// Creates a planner.
    pub fn new(catalog: &'a dyn CatalogView, session: &'a SessionInfo) -> Self {
        Self {
            ctx: PlannerContext::new(catalog, session),
        }
    }

    fn sql_to_rel(&self) -> SqlToRel<'_, PlannerContext<'a>> {
        SqlToRel::new_with_options(&self.ctx, crate::parser_options())
    }

    fn plan_logical(
        &self,
        statement: &Statement,
        param_types: &[Option<DataType>],
    ) -> Result<LogicalPlan> {
        let fields = param_types
            .iter()
            .map(|t| {
                t.as_ref()
                    .map(|t| Arc::new(Field::new("", t.clone(), true)))
            })
            .collect();
        let mut pctx =
            datafusion_sql::planner::PlannerContext::new().with_prepare_param_data_types(fields);
        crate::rules::clause_checks::check_clauses(statement)?;
        let mut statement = statement.clone();
        self.ctx.prepare_statement(&mut statement)?;
        self.sql_to_rel()
            .sql_statement_to_plan_with_context(statement, &mut pctx)
            .map_err(crate::rules::clause_checks::with_pg_sqlstate)
    }

    fn prepare_query(
        &self,
        statement: &Statement,
        param_types: &[Option<DataType>],
    ) -> Result<PreparedQuery> {
        if let Statement::Query(q) = statement
            && let Some(inner) = crate::parse::subscribed_query(q)
        {
            let inner =
                self.prepare_query(&Statement::Query(Box::new(inner.clone())), param_types)?;
            use tidewater_runtime::operators::changefeed::{DIFF_COLUMN, EPOCH_COLUMN};
            let mut fields = vec![
                Arc::new(Field::new(EPOCH_COLUMN, DataType::Int64, false)),
                Arc::new(Field::new(DIFF_COLUMN, DataType::Int64, false)),
            ];
            fields.extend(inner.output.fields().iter().cloned());
            return Ok(PreparedQuery {
                output: Arc::new(Schema::new(fields)),
                subscribe: true,
                continuous: true,
                ..inner
            });
        }
        let logical = self.plan_logical(statement, param_types)?;
        let logical = crate::rules::int4_literals::type_int4_literals(logical, param_types)?;
        let mut types = crate::params::parameter_types(&logical)?;
        let count = types
            .keys()
            .filter_map(|k| k.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()))
            .max()
            .unwrap_or(0)
            .max(param_types.len());
        let param_types = (1..=count)
            .map(|i| {
                types
                    .remove(&format!("${i}"))
                    .flatten()
                    .or_else(|| param_types.get(i - 1).cloned().flatten())
            })
            .collect();
        let mut output = Arc::clone(logical.schema().inner());
        if let Statement::Query(q) = statement
            && let Some(names) = output_names(q)
            && names.len() == output.fields().len()
        {
            let fields: Vec<Field> = output
                .fields()
                .iter()
                .zip(names)
                .map(|(f, n)| match n {
                    Some(n) => f.as_ref().clone().with_name(n),
                    None => f.as_ref().clone(),
                })
                .collect();
            output = Arc::new(Schema::new(fields));
        }
        if output
            .fields()
            .iter()
            .any(|f| crate::names::shown_name(f.name()) != f.name())
        {
            output = Arc::new(Schema::new(
                output
                    .fields()
                    .iter()
                    .map(|f| {
                        f.as_ref()
                            .clone()
                            .with_name(crate::names::shown_name(f.name()))
                    })
                    .collect::<Vec<_>>(),
            ));
        }
        Ok(PreparedQuery {
            logical,
            param_types,
            output,
            subscribe: false,
            continuous: false,
        })
    }

    /// Plans the query of a view from its SQL text (a materialized view's,
    /// when it is created and when the server starts its job again).
    pub fn prepare_view_query(&self, sql: &str) -> Result<PreparedQuery> {
        self.rewrite(sql)
    }

    fn rewrite(&self, sql: &str) -> Result<PreparedQuery> {
        let statements = crate::parse_sql(sql)?;
        self.prepare_query(&statements[0], &[])
    }

    fn quote_literal(s: &str) -> String {
        format!("'{}'", s.replace('\'', "''"))
    }

    /// Plans one statement. `param_types` are the types the client declared
    /// for `$1..` (extended protocol), where known.
    ///
    /// # Errors
    ///
    /// Planning errors carry SQLSTATEs ([`PlanError`]).
    pub fn plan(&self, statement: &Statement, param_types: &[Option<DataType>]) -> Result<Planned> {
        catch_panics("planning", || self.plan_statement(statement, param_types))
    }

    fn plan_statement(
        &self,
        statement: &Statement,
        param_types: &[Option<DataType>],
    ) -> Result<Planned> {
        let session = self.ctx.session();
        let catalog = self.ctx.catalog();
        match statement {
            Statement::Query(_) => Ok(Planned::Query(self.prepare_query(statement, param_types)?)),
            Statement::Insert(_) => {
                let prepared = self.prepare_query(statement, param_types)?;
                let LogicalPlan::Dml(DmlStatement {
                    target, op, input, ..
                }) = &prepared.logical
                else {
                    return Err(DataFusionError::Internal(
                        "INSERT did not plan to DML".into(),
                    ));
                };
                if !matches!(op, WriteOp::Insert(_)) {
                    return Err(PlanError::feature_not_supported(format!("{op}")).into());
                }
                let Some(adapter) = target.downcast_ref::<TableSourceAdapter>() else {
                    return Err(DataFusionError::Internal("unknown INSERT target".into()));
                };
                let table = adapter.entry.clone();
                if !matches!(&table.kind, TableKind::Source { connector, .. } if connector == "managed")
                {
                    return Err(PlanError::new(
                        "42809",
                        format!(
                            "cannot insert into {}: only tables created without a connector accept INSERT",
                            table.name.name
                        ),
                    )
                    .into());
                }
                Ok(Planned::Insert {
                    table,
                    query: PreparedQuery {
                        logical: input.as_ref().clone(),
                        param_types: prepared.param_types,
                        output: Arc::clone(input.schema().inner()),
                        subscribe: false,
                        continuous: false,
                    },
                })
            }
            Statement::CreateTable(ct) => {
                if ct.temporary || ct.external || ct.or_replace {
                    return Err(PlanError::feature_not_supported(
                        "CREATE TEMPORARY/EXTERNAL/OR REPLACE TABLE is not supported",
                    )
                    .into());
                }
                let name = qualify(&ct.name, session, catalog)?;
                let options = with_options(&ct.table_options)?;
                let constraints = key_constraints(ct)?;
                let primary_key: Vec<&String> = constraints
                    .iter()
                    .filter(|c| c.primary)
                    .flat_map(|c| &c.columns)
                    .collect();
                let columns = if ct.columns.is_empty() {
                    None
                } else {
                    // Postgres spellings DataFusion reads differently
                    // (FLOAT is float8, CHARACTER VARYING is varchar).
                    let mut column_defs = ct.columns.clone();
                    for c in &mut column_defs {
                        if let Some(t) = crate::pg_compat::pg_sql_type(&c.data_type) {
                            c.data_type = t;
                        }
                    }
                    let schema = self.sql_to_rel().build_schema(column_defs.clone())?;
                    // Keep each column's declared SQL type (varchar(10),
                    // numeric(10,2)) for the catalog and clients; primary
                    // key columns are NOT NULL.
                    let fields: Vec<Field> = schema
                        .fields()
                        .iter()
                        .zip(&column_defs)
                        .map(|(f, c)| {
                            let mut metadata = f.metadata().clone();
                            metadata
                                .insert(PG_TYPE_METADATA_KEY.to_string(), c.data_type.to_string());
                            if let Some(default) = column_default(c) {
                                metadata.insert(DEFAULT_METADATA_KEY.to_string(), default);
                            }
                            let nullable = f.is_nullable() && !primary_key.contains(&f.name());
                            f.as_ref()
                                .clone()
                                .with_metadata(metadata)
                                .with_nullable(nullable)
                        })
                        .collect();
                    Some(Arc::new(Schema::new(fields)))
                };
                let columns = match (watermark_clause(ct)?, columns) {
                    (None, columns) => columns,
                    (Some(_), None) => {
                        return Err(PlanError::syntax(
                            "WATERMARK FOR needs the table's columns declared",
                        )
                        .into());
                    }
                    (Some((column, delay)), Some(schema)) => {
                        let Ok(index) = schema.index_of(&column) else {
                            return Err(PlanError::new(
                                "42703",
                                format!("column \"{column}\" of WATERMARK FOR does not exist"),
                            )
                            .into());
                        };
                        let field = schema.field(index);
                        if !matches!(field.data_type(), DataType::Timestamp(..)) {
                            return Err(PlanError::datatype_mismatch(format!(
                                "the WATERMARK FOR column \"{column}\" must be a timestamp, not {}",
                                crate::window_tvf::sql_type_name(field.data_type())
                            ))
                            .into());
                        }
                        let mut fields: Vec<Field> =
                            schema.fields().iter().map(|f| f.as_ref().clone()).collect();
                        let mut metadata = fields[index].metadata().clone();
                        metadata.insert(WATERMARK_METADATA_KEY.to_string(), delay.to_string());
                        fields[index] = fields[index].clone().with_metadata(metadata);
                        Some(Arc::new(Schema::new(fields)))
                    }
                };
                let query = match &ct.query {
                    Some(q) => Some(self.prepare_query(&Statement::Query(q.clone()), &[])?),
                    None => None,
                };
                if query.is_some() && !options.is_empty() {
                    return Err(PlanError::feature_not_supported(
                        "CREATE TABLE ... WITH (connector ...) AS query is not supported",
                    )
                    .into());
                }
                Ok(Planned::CreateTable(CreateTablePlan {
                    name,
                    columns,
                    options,
                    if_not_exists: ct.if_not_exists,
                    query,
                    constraints,
                }))
            }
            Statement::CreateView(cv) => {
                if cv.materialized && cv.or_replace {
                    return Err(PlanError::feature_not_supported(
                        "CREATE OR REPLACE MATERIALIZED VIEW is not supported",
                    )
                    .into());
                }
                let name = qualify(&cv.name, session, catalog)?;
                let query = Statement::Query(cv.query.clone());
                let prepared = self.prepare_query(&query, &[])?;
                let mut schema = prepared.output;
                let mut sql = cv.query.to_string();
                if !cv.columns.is_empty() {
                    if cv.columns.len() != schema.fields().len() {
                        return Err(PlanError::syntax(format!(
                            "CREATE VIEW specifies {} column names, but the query returns {} columns",
                            cv.columns.len(),
                            schema.fields().len()
                        ))
                        .into());
                    }
                    let names: Vec<String> = cv
                        .columns
                        .iter()
                        .map(|c| c.name.value.to_lowercase())
                        .collect();
                    schema = Arc::new(Schema::new(
                        schema
                            .fields()
                            .iter()
                            .zip(&names)
                            .map(|(f, n)| f.as_ref().clone().with_name(n))
                            .collect::<Vec<_>>(),
                    ));
                    let quoted: Vec<String> = names
                        .iter()
                        .map(|n| format!("\"{}\"", n.replace('"', "\"\"")))
                        .collect();
                    sql = format!("SELECT * FROM ({sql}) AS v({})", quoted.join(", "));
                } else if schema.fields() != prepared.logical.schema().inner().fields() {
                    // Keep the Postgres column names the view shows.
                    let names: Vec<String> = schema
                        .fields()
                        .iter()
                        .map(|f| format!("\"{}\"", f.name().replace('"', "\"\"")))
                        .collect();
                    sql = format!("SELECT * FROM ({sql}) AS v({})", names.join(", "));
                }
                let plan = CreateViewPlan {
                    name,
                    sql,
                    schema,
                    or_replace: cv.or_replace,
                    if_not_exists: cv.if_not_exists,
                };
                if cv.materialized {
                    let query = self.prepare_view_query(&plan.sql)?;
                    return Ok(Planned::CreateMaterializedView { view: plan, query });
                }
                Ok(Planned::CreateView(plan))
            }
            Statement::CreateSchema {
                schema_name,
                if_not_exists,
                ..
            } => {
                let name = match schema_name {
                    sqlparser::ast::SchemaName::Simple(n) => ident_name(n)?,
                    other => {
                        return Err(PlanError::feature_not_supported(format!(
                            "CREATE SCHEMA {other} is not supported"
                        ))
                        .into());
                    }
                };
                Ok(Planned::CreateSchema {
                    database: session.database.clone(),
                    schema: name,
                    if_not_exists: *if_not_exists,
                })
            }
            Statement::CreateIndex(ci) => {
                if ci.unique {
                    return Err(PlanError::feature_not_supported(
                        "CREATE UNIQUE INDEX is not supported: uniqueness is not enforced",
                    )
                    .into());
                }
                if ci.predicate.is_some() {
                    return Err(PlanError::feature_not_supported(
                        "partial indexes are not supported",
                    )
                    .into());
                }
                let reference = datafusion_sql::planner::object_name_to_table_reference(
                    ci.table_name.clone(),
                    true,
                )?;
                let table = self.ctx.resolve(&reference)?;
                if !matches!(table.kind, TableKind::Source { .. }) {
                    return Err(PlanError::new(
                        "42809",
                        format!("\"{}\" is not a table", table.name.name),
                    )
                    .into());
                }
                let columns = ci
                    .columns
                    .iter()
                    .map(|c| match &c.column.expr {
                        SqlExpr::Identifier(i) => {
                            let name = if i.quote_style.is_some() {
                                i.value.clone()
                            } else {
                                i.value.to_lowercase()
                            };
                            if table.schema.field_with_name(&name).is_err() {
                                return Err(DataFusionError::from(PlanError::new(
                                    "42703",
                                    format!("column \"{name}\" does not exist"),
                                )));
                            }
                            Ok(name)
                        }
                        other => Err(PlanError::feature_not_supported(format!(
                            "indexes on expressions are not supported: {other}"
                        ))
                        .into()),
                    })
                    .collect::<Result<Vec<_>>>()?;
                let name = match &ci.name {
                    Some(n) => Some(ident_name(n)?),
                    None => None,
                };
                Ok(Planned::CreateIndex(CreateIndexPlan {
                    name,
                    table: table.name,
                    columns,
                    if_not_exists: ci.if_not_exists,
                }))
            }
            Statement::CreateDatabase {
                db_name,
                if_not_exists,
                ..
            } => Ok(Planned::CreateDatabase {
                name: ident_name(db_name)?,
                if_not_exists: *if_not_exists,
            }),
            Statement::Drop {
                object_type,
                if_exists,
                names,
                cascade,
                ..
            } => {
                let targets = names
                    .iter()
                    .map(|n| {
                        Ok(match object_type {
                            ObjectType::Table => DropTarget::Table(qualify(n, session, catalog)?),
                            ObjectType::View => DropTarget::View(qualify(n, session, catalog)?),
                            ObjectType::MaterializedView => {
                                DropTarget::MaterializedView(qualify(n, session, catalog)?)
                            }
                            ObjectType::Schema => DropTarget::Schema {
                                database: session.database.clone(),
                                schema: ident_name(n)?,
                            },
                            ObjectType::Database => DropTarget::Database(ident_name(n)?),
                            ObjectType::Index => DropTarget::Index(qualify(n, session, catalog)?),
                            other => {
                                return Err(DataFusionError::from(
                                    PlanError::feature_not_supported(format!(
                                        "DROP {other} is not supported"
                                    )),
                                ));
                            }
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Planned::Drop(DropPlan {
                    targets,
                    if_exists: *if_exists,
                    cascade: *cascade,
                }))
            }
            Statement::Explain {
                statement: inner,
                analyze,
                ..
            } => {
                if *analyze {
                    return Err(PlanError::feature_not_supported(
                        "EXPLAIN ANALYZE is not supported yet",
                    )
                    .into());
                }
                match self.plan(inner, param_types)? {
                    Planned::Query(query) | Planned::Insert { query, .. } => {
                        Ok(Planned::Explain { query })
                    }
                    Planned::CreateMaterializedView { query, .. } => Ok(Planned::Explain {
                        query: PreparedQuery {
                            continuous: true,
                            ..query
                        },
                    }),
                    _ => Err(PlanError::feature_not_supported("EXPLAIN of this statement").into()),
                }
            }
            Statement::ShowTables { .. } => {
                let schema = session
                    .search_path
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "public".into());
                Ok(Planned::Query(self.rewrite(&format!(
                    "SELECT table_name FROM information_schema.tables \
                     WHERE table_schema = {} AND table_catalog = {} ORDER BY table_name",
                    Self::quote_literal(&schema),
                    Self::quote_literal(&session.database)
                ))?))
            }
            Statement::ExplainTable { table_name, .. } => {
                let reference = datafusion_sql::planner::object_name_to_table_reference(
                    table_name.clone(),
                    true,
                )?;
                let entry = self.ctx.resolve(&reference)?;
                Ok(Planned::Query(self.rewrite(&format!(
                    "SELECT column_name, data_type, is_nullable FROM information_schema.columns \
                     WHERE table_catalog = {} AND table_schema = {} AND table_name = {} \
                     ORDER BY ordinal_position",
                    Self::quote_literal(&entry.name.database),
                    Self::quote_literal(&entry.name.schema),
                    Self::quote_literal(&entry.name.name)
                ))?))
            }
            Statement::Copy {
                source,
                to,
                target,
                options,
                legacy_options,
                ..
            } => self.plan_copy(source, *to, target, options, legacy_options),
            Statement::Update(_) | Statement::Delete(_) => Err(PlanError::feature_not_supported(
                "UPDATE and DELETE are not supported yet: tables are append-only",
            )
            .into()),
            other if crate::parse::alter_parallelism(other).is_some() => {
                self.plan_alter_parallelism(other)
            }
            other => Ok(Planned::Session(Box::new(other.clone()))),
        }
    }

    fn plan_alter_parallelism(&self, statement: &Statement) -> Result<Planned> {
        let Some((name, n)) = crate::parse::alter_parallelism(statement) else {
            return Err(PlanError::new("XX000", "not an ALTER MATERIALIZED VIEW").into());
        };
        let parallelism = n.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
            PlanError::new(
                "22023",
                format!("parallelism must be a positive integer, not {n}"),
            )
        })?;
        let reference =
            datafusion_sql::planner::object_name_to_table_reference(name.clone(), true)?;
        let entry = self.ctx.resolve(&reference)?;
        if !matches!(entry.kind, TableKind::Materialized { .. }) {
            return Err(PlanError::new(
                "42809",
                format!("\"{}\" is not a materialized view", entry.name.name),
            )
            .into());
        }
        Ok(Planned::AlterParallelism {
            name: entry.name.clone(),
            parallelism,
        })
    }

    fn plan_copy(
        &self,
        source: &CopySource,
        to: bool,
        target: &CopyTarget,
        options: &[CopyOption],
        legacy_options: &[CopyLegacyOption],
    ) -> Result<Planned> {
        let format = copy_options(options, legacy_options)?;
        if to {
            return self.plan_copy_out(source, target, format);
        }
        if format.format == CopyFormat::Binary {
            return Err(PlanError::feature_not_supported(
                "COPY ... FROM STDIN (FORMAT binary) is not supported yet (use text or csv)",
            )
            .into());
        }
        if !matches!(target, CopyTarget::Stdin) {
            return Err(PlanError::feature_not_supported(
                "only COPY ... FROM STDIN and COPY ... TO STDOUT are supported",
            )
            .into());
        }
        let CopySource::Table {
            table_name,
            columns,
        } = source
        else {
            return Err(PlanError::syntax("COPY FROM needs a table").into());
        };
        let reference =
            datafusion_sql::planner::object_name_to_table_reference(table_name.clone(), true)?;
        let table = self.ctx.resolve(&reference)?;
        if !matches!(&table.kind, TableKind::Source { connector, .. } if connector == "managed") {
            return Err(PlanError::new(
                "42809",
                format!(
                    "cannot copy into {}: only tables created without a connector accept COPY",
                    table.name.name
                ),
            )
            .into());
        }
        let columns = columns
            .iter()
            .map(|c| {
                let name = if c.quote_style.is_some() {
                    c.value.clone()
                } else {
                    c.value.to_lowercase()
                };
                if table.schema.field_with_name(&name).is_err() {
                    return Err(DataFusionError::from(PlanError::new(
                        "42703",
                        format!(
                            "column \"{name}\" of relation \"{}\" does not exist",
                            table.name.name
                        ),
                    )));
                }
                Ok(name)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Planned::Copy(CopyPlan {
            table,
            columns,
            options: format,
        }))
    }

    /// `COPY (query) TO STDOUT` and `COPY table [(columns)] TO STDOUT`: the
    /// query's rows, sent as COPY data.
    fn plan_copy_out(
        &self,
        source: &CopySource,
        target: &CopyTarget,
        options: CopyOptions,
    ) -> Result<Planned> {
        if !matches!(target, CopyTarget::Stdout) {
            return Err(PlanError::feature_not_supported(
                "COPY TO a file or program is not supported: use COPY ... TO STDOUT",
            )
            .into());
        }
        let query = match source {
            CopySource::Query(q) => self.prepare_query(&Statement::Query(q.clone()), &[])?,
            CopySource::Table {
                table_name,
                columns,
            } => {
                let list = if columns.is_empty() {
                    "*".to_string()
                } else {
                    columns
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                self.rewrite(&format!("SELECT {list} FROM {table_name}"))?
            }
        };
        Ok(Planned::CopyOut { query, options })
    }

    /// Binds parameter values, type-checks, optimizes and lowers a query.
    ///
    /// # Errors
    ///
    /// Type errors, unsupported constructs (0A000), and optimizer errors.
    pub fn bind_and_lower(
        &self,
        query: &PreparedQuery,
        params: &[ScalarValue],
        config: QueryConfig,
    ) -> Result<LoweredQuery> {
        catch_panics("planning", || {
            self.try_bind_and_lower(query, params, config)
        })
    }

    fn try_bind_and_lower(
        &self,
        query: &PreparedQuery,
        params: &[ScalarValue],
        config: QueryConfig,
    ) -> Result<LoweredQuery> {
        let mut plan = query.logical.clone();
        if !params.is_empty() || !query.param_types.is_empty() {
            if params.len() != query.param_types.len() {
                return Err(PlanError::new(
                    "08P01",
                    format!(
                        "bind message supplies {} parameters, but prepared statement requires {}",
                        params.len(),
                        query.param_types.len()
                    ),
                )
                .into());
            }
            let values = params
                .iter()
                .zip(&query.param_types)
                .map(|(v, t)| match t {
                    // A numeric keeps the scale it was written with, as
                    // Postgres's `numeric` does (`$1 * 2` of 1.25 is 2.50).
                    Some(t) if is_decimal(t) && is_decimal(&v.data_type()) => Ok(v.clone()),
                    Some(t) if &v.data_type() != t => v.cast_to(t),
                    _ => Ok(v.clone()),
                })
                .collect::<Result<Vec<_>>>()?;
            plan = crate::table_functions::bind_parameters(plan, &values)?;
            plan = plan.with_param_values(values)?;
        }
        let reusable = query.param_types.is_empty() && !calls_stable_functions(&plan);
        let options = Arc::new(self.ctx.options().clone());
        let plan = crate::rules::array_literal::rewrite_array_literals(plan)?;
        let plan = crate::rules::pg_semantics::apply_pg_semantics(plan)?;
        let plan = crate::rules::decorrelate::decorrelate_row_subqueries(plan)?;
        let analyzed = Analyzer::new().execute_and_check(plan, &options, |_, _| {})?;
        let analyzed = crate::rules::pg_casts::rewrite_pg_casts(analyzed)?;
        let start = chrono::DateTime::from_timestamp_nanos(config.start_time_nanos);
        let mut props = datafusion_expr::execution_props::ExecutionProps::new();
        props.query_execution_start_time = Some(start);
        let analyzed = crate::rules::pg_arithmetic::rewrite_pg_arithmetic(analyzed, &props)?;
        let optimizer_ctx = TidewaterOptimizerConfig::new(options, start);
        let optimized = crate::rules::optimizer().optimize(analyzed, &optimizer_ctx, |_, _| {})?;
        let dataflow = if query.subscribe {
            lower_plan(
                &optimized,
                QueryConfig {
                    continuous: true,
                    ..config
                },
            )?
            .with_changefeed()
        } else if query.continuous {
            lower_plan(
                &optimized,
                QueryConfig {
                    continuous: true,
                    ..config
                },
            )?
        } else {
            lower_plan(&optimized, config)?
        };
        let scanned_bytes = crate::estimate::scanned_bytes(&optimized);
        Ok(LoweredQuery {
            optimized,
            dataflow,
            scanned_bytes,
            reusable,
        })
    }

    /// The catalog snapshot.
    pub fn catalog(&self) -> &dyn CatalogView {
        self.ctx.catalog()
    }

    /// The session.
    pub fn session(&self) -> &SessionInfo {
        self.ctx.session()
    }
}

/// A `COPY` option that must be one character (`delimiter`, `quote`,
/// `escape`), given as `value`: it must be a single one-byte character, as
/// in Postgres (0A000 otherwise).
///
/// # Errors
///
/// 0A000 "COPY delimiter must be a single one-byte character".
pub(crate) fn copy_option_char(what: &str, value: &str) -> Result<char> {
    let mut chars = value.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii() => Ok(c),
        _ => Err(PlanError::feature_not_supported(format!(
            "COPY {what} must be a single one-byte character"
        ))
        .into()),
    }
}

/// The format options of a `COPY` (`WITH (FORMAT csv, ...)` and the
/// syntax before Postgres 9.0), with Postgres's defaults and checks.
fn copy_options(
    options: &[CopyOption],
    legacy_options: &[CopyLegacyOption],
) -> Result<CopyOptions> {
    let mut plan = CopyOptions {
        format: CopyFormat::Text,
        delimiter: '\t',
        null: "\\N".into(),
        header: false,
        quote: '"',
        escape: '"',
    };
    let mut delimiter = None;
    let mut null = None;
    let mut quote = None;
    let mut escape = None;
    for o in options {
        match o {
            CopyOption::Format(f) => {
                plan.format = match f.value.to_lowercase().as_str() {
                    "text" => CopyFormat::Text,
                    "csv" => CopyFormat::Csv,
                    "binary" => CopyFormat::Binary,
                    other => {
                        return Err(PlanError::invalid_parameter(format!(
                            "COPY format \"{other}\" not recognized"
                        ))
                        .into());
                    }
                }
            }
            CopyOption::Delimiter(c) => delimiter = Some(*c),
            CopyOption::Null(s) => null = Some(s.clone()),
            CopyOption::Header(h) => plan.header = *h,
            CopyOption::Quote(c) => quote = Some(*c),
            CopyOption::Escape(c) => escape = Some(*c),
            other => {
                return Err(PlanError::feature_not_supported(format!(
                    "COPY option {other} is not supported"
                ))
                .into());
            }
        }
    }
    // The syntax before Postgres 9.0, which clients and dumps still
    // write: `WITH CSV HEADER`, `DELIMITER ','`, `NULL 'x'`.
    for o in legacy_options {
        match o {
            CopyLegacyOption::Delimiter(c) => delimiter = Some(*c),
            CopyLegacyOption::Null(s) => null = Some(s.clone()),
            CopyLegacyOption::Csv(csv_options) => {
                plan.format = CopyFormat::Csv;
                for o in csv_options {
                    match o {
                        CopyLegacyCsvOption::Header => plan.header = true,
                        CopyLegacyCsvOption::Quote(c) => quote = Some(*c),
                        CopyLegacyCsvOption::Escape(c) => escape = Some(*c),
                        other => {
                            return Err(PlanError::feature_not_supported(format!(
                                "COPY option {other} is not supported"
                            ))
                            .into());
                        }
                    }
                }
            }
            CopyLegacyOption::Header => plan.header = true,
            CopyLegacyOption::Binary => plan.format = CopyFormat::Binary,
            other => {
                return Err(PlanError::feature_not_supported(format!(
                    "COPY option {other} is not supported"
                ))
                .into());
            }
        }
    }
    if plan.format == CopyFormat::Binary {
        // Postgres: the text options mean nothing in binary mode.
        for (what, given) in [
            ("DELIMITER", delimiter.is_some()),
            ("NULL", null.is_some()),
            ("HEADER", plan.header),
            ("QUOTE", quote.is_some()),
            ("ESCAPE", escape.is_some()),
        ] {
            if given {
                return Err(PlanError::new(
                    "42601",
                    format!("cannot specify {what} in BINARY mode"),
                )
                .into());
            }
        }
        return Ok(plan);
    }
    let csv = plan.format == CopyFormat::Csv;
    if csv {
        plan.delimiter = ',';
        plan.null = String::new();
    }
    if let Some(d) = delimiter {
        plan.delimiter = copy_option_char("delimiter", &d.to_string())?;
    }
    if let Some(n) = null {
        plan.null = n;
    }
    for (what, given, target) in [
        ("quote", quote, &mut plan.quote),
        ("escape", escape, &mut plan.escape),
    ] {
        if let Some(c) = given {
            if !csv {
                return Err(PlanError::feature_not_supported(format!(
                    "COPY {what} available only in CSV mode"
                ))
                .into());
            }
            *target = copy_option_char(what, &c.to_string())?;
        }
    }
    if escape.is_none() {
        // The escape character defaults to the quote character.
        plan.escape = plan.quote;
    }
    check_copy_plan(&plan)?;
    Ok(plan)
}

/// The checks of Postgres's `ProcessCopyOptions` on a complete plan.
fn check_copy_plan(plan: &CopyOptions) -> Result<()> {
    let invalid = |m: &str| -> Result<()> { Err(PlanError::invalid_parameter(m).into()) };
    let csv = plan.format == CopyFormat::Csv;
    if matches!(plan.delimiter, '\n' | '\r') {
        return invalid("COPY delimiter cannot be newline or carriage return");
    }
    if plan.null.contains(['\n', '\r']) {
        return invalid("COPY null representation cannot use newline or carriage return");
    }
    if !csv && "\\.abcdefghijklmnopqrstuvwxyz0123456789".contains(plan.delimiter) {
        return invalid(&format!("COPY delimiter cannot be \"{}\"", plan.delimiter));
    }
    if plan.header && !csv {
        return Err(
            PlanError::feature_not_supported("COPY HEADER available only in CSV mode").into(),
        );
    }
    if csv && plan.delimiter == plan.quote {
        return invalid("COPY delimiter and quote must be different");
    }
    if plan.null.contains(plan.delimiter) {
        return invalid("COPY delimiter must not appear in the NULL specification");
    }
    if csv && plan.null.contains(plan.quote) {
        return invalid("CSV quote character must not appear in the NULL specification");
    }
    Ok(())
}

/// Runs `f`, turning a panic (a bug, in Tidewater or DataFusion) into an
/// internal error (XX000) that names what failed, so that the session
/// survives it.
fn catch_panics<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".to_string());
        Err(DataFusionError::Internal(format!(
            "{what} failed unexpectedly: {message}"
        )))
    })
}

fn is_decimal(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..)
    )
}

/// Whether `plan` (subqueries included) calls a stable function or reads
/// a variable: values fixed once per statement, which a plan kept for
/// later executions would repeat.
fn calls_stable_functions(plan: &LogicalPlan) -> bool {
    let mut found = false;
    let _ = plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                found = match e {
                    Expr::ScalarFunction(f) => f.func.signature().volatility == Volatility::Stable,
                    Expr::ScalarVariable(..) => true,
                    _ => false,
                };
                Ok(if found {
                    TreeNodeRecursion::Stop
                } else {
                    TreeNodeRecursion::Continue
                })
            })
        })
    });
    found
}

/// Renders `EXPLAIN` output: the optimized logical plan and the dataflow plan.
pub fn explain_text(lowered: &LoweredQuery) -> String {
    format!(
        "Logical plan:\n{}\n\nDataflow plan:\n{}",
        lowered.optimized.display_indent(),
        lowered.dataflow
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_planning_is_an_internal_error() {
        let result: Result<()> = catch_panics("planning", || panic!("index out of bounds"));
        match result {
            Err(DataFusionError::Internal(m)) => {
                assert_eq!(m, "planning failed unexpectedly: index out of bounds");
            }
            other => panic!("expected an internal error, got {other:?}"),
        }
    }
}
