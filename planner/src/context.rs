//! DataFusion's view of our catalog: the [`ContextProvider`] that resolves
//! table names (Postgres rules: `pg_catalog` first, then the search path),
//! inlines views, and supplies functions, including the per-session ones
//! (`current_database()`, `version()`, ...) that fold to constants, and
//! the table functions of `FROM` ([`crate::table_functions`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, FieldRef, SchemaRef};
use datafusion_common::config::ConfigOptions;
use datafusion_common::{DataFusionError, Result, ScalarValue, TableReference};
use datafusion_expr::planner::{ContextProvider, ExprPlanner};
use datafusion_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion_expr::{
    AggregateUDF, ColumnarValue, Expr, HigherOrderUDF, LogicalPlan, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, TableSource, TableType, Volatility, WindowUDF,
};
use tidewater_runtime::functions::FunctionRegistry;

use crate::catalog::{CatalogView, QualifiedName, SessionInfo, TableEntry, TableKind};
use crate::error::PlanError;

/// A resolved table as DataFusion sees it.
#[derive(Debug)]
pub struct TableSourceAdapter {
    /// The catalog entry.
    pub entry: TableEntry,
    /// For views: the planned query, inlined by DataFusion.
    view_plan: Option<LogicalPlan>,
    /// Column `DEFAULT`s ([`crate::catalog::DEFAULT_METADATA_KEY`]), planned,
    /// by column name.
    defaults: HashMap<String, Expr>,
}

impl TableSource for TableSourceAdapter {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.entry.schema)
    }

    fn table_type(&self) -> TableType {
        match self.entry.kind {
            TableKind::View { .. } => TableType::View,
            TableKind::System { .. } => TableType::Temporary,
            TableKind::Source { .. } | TableKind::Materialized { .. } => TableType::Base,
        }
    }

    fn get_logical_plan(&'_ self) -> Option<Cow<'_, LogicalPlan>> {
        self.view_plan.as_ref().map(Cow::Borrowed)
    }

    fn get_column_default(&self, column: &str) -> Option<&Expr> {
        self.defaults.get(column)
    }
}

/// A function whose value is fixed for the statement (session settings);
/// the optimizer folds it into a literal, so workers never see it.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SessionConstant {
    name: String,
    value: ScalarValue,
    signature: Signature,
}

impl SessionConstant {
    fn udf(name: &str, value: ScalarValue, arity: usize) -> Arc<ScalarUDF> {
        let signature = if arity == 0 {
            Signature::nullary(Volatility::Stable)
        } else {
            Signature::any(arity, Volatility::Stable)
        };
        Arc::new(ScalarUDF::new_from_impl(Self {
            name: name.to_string(),
            value,
            signature,
        }))
    }
}

impl ScalarUDFImpl for SessionConstant {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.value.data_type())
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(self.value.clone()))
    }

    fn simplify(&self, _args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        Ok(ExprSimplifyResult::Simplified(Expr::Literal(
            self.value.clone(),
            None,
        )))
    }
}

fn session_functions(session: &SessionInfo) -> HashMap<String, Arc<ScalarUDF>> {
    let schemas = ScalarValue::List(ScalarValue::new_list_nullable(
        &session
            .search_path
            .iter()
            .map(|s| ScalarValue::Utf8(Some(s.clone())))
            .collect::<Vec<_>>(),
        &DataType::Utf8,
    ));
    let utf8 = |s: &str| ScalarValue::Utf8(Some(s.to_string()));
    let current_schema = session
        .search_path
        .first()
        .cloned()
        .unwrap_or_else(|| "public".into());
    let mut fns = HashMap::new();
    for (name, value, arity) in [
        ("current_database", utf8(&session.database), 0),
        ("current_catalog", utf8(&session.database), 0),
        ("current_schema", utf8(&current_schema), 0),
        ("current_user", utf8(&session.user), 0),
        ("session_user", utf8(&session.user), 0),
        ("user", utf8(&session.user), 0),
        ("current_role", utf8(&session.user), 0),
        ("version", utf8(&session.server_version), 0),
        ("current_schemas", schemas, 1),
        (
            "pg_backend_pid",
            ScalarValue::Int32(Some(std::process::id() as i32)),
            0,
        ),
        ("inet_server_port", ScalarValue::Int32(None), 0),
    ] {
        fns.insert(name.to_string(), SessionConstant::udf(name, value, arity));
    }
    fns
}

/// The [`ContextProvider`] for one statement.
#[derive(Debug)]
pub struct PlannerContext<'a> {
    catalog: &'a dyn CatalogView,
    session: &'a SessionInfo,
    registry: &'static FunctionRegistry,
    session_functions: HashMap<String, Arc<ScalarUDF>>,
    options: ConfigOptions,
    expr_planners: Vec<Arc<dyn ExprPlanner>>,
    /// Window table function calls of the statement being planned, by
    /// placeholder number ([`crate::window_tvf`]).
    window_calls: parking_lot::Mutex<Vec<crate::window_tvf::WindowCall>>,
}

impl<'a> PlannerContext<'a> {
    /// Creates the context.
    pub fn new(catalog: &'a dyn CatalogView, session: &'a SessionInfo) -> Self {
        let mut options = ConfigOptions::default();
        options.sql_parser.dialect = datafusion_common::config::Dialect::PostgreSQL;
        options.sql_parser.enable_ident_normalization = true;
        options.optimizer.filter_null_join_keys = true;
        // Uncorrelated scalar subqueries become joins: the runtime has no
        // physical subquery expression.
        options
            .optimizer
            .enable_physical_uncorrelated_scalar_subquery = false;
        // Time zone of `timestamptz` values (stored in UTC, shown in the
        // session's TimeZone by the protocol front ends).
        options.execution.time_zone = Some("+00:00".to_string());
        let expr_planners: Vec<Arc<dyn ExprPlanner>> = vec![
            Arc::new(datafusion_functions::core::planner::CoreFunctionPlanner::default()),
            Arc::new(datafusion_functions_nested::planner::NestedFunctionPlanner),
            Arc::new(datafusion_functions_nested::planner::FieldAccessPlanner),
            Arc::new(datafusion_functions::datetime::planner::DatetimeFunctionPlanner),
            Arc::new(datafusion_functions::unicode::planner::UnicodeFunctionPlanner),
            Arc::new(datafusion_functions_aggregate::planner::AggregateFunctionPlanner),
            Arc::new(datafusion_functions_window::planner::WindowFunctionPlanner),
        ];
        Self {
            catalog,
            session,
            registry: FunctionRegistry::shared(),
            session_functions: {
                let mut fns = session_functions(session);
                for f in catalog.statement_functions(session) {
                    fns.insert(f.name().to_string(), f);
                }
                fns
            },
            options,
            expr_planners,
            window_calls: Default::default(),
        }
    }

    /// The session.
    pub fn session(&self) -> &SessionInfo {
        self.session
    }

    /// The catalog.
    pub fn catalog(&self) -> &dyn CatalogView {
        self.catalog
    }

    /// Resolves a table reference with Postgres rules.
    pub fn resolve(&self, name: &TableReference) -> Result<TableEntry> {
        let db = &self.session.database;
        let found = match name {
            TableReference::Bare { table } => std::iter::once("pg_catalog")
                .chain(self.session.search_path.iter().map(String::as_str))
                .find_map(|schema| {
                    self.catalog
                        .table(&QualifiedName::new(db, schema, table.as_ref()))
                }),
            TableReference::Partial { schema, table } => {
                self.catalog
                    .table(&QualifiedName::new(db, schema.as_ref(), table.as_ref()))
            }
            TableReference::Full {
                catalog,
                schema,
                table,
            } => {
                if catalog.as_ref() != db {
                    return Err(PlanError::feature_not_supported(format!(
                        "cross-database references are not implemented: {name}"
                    ))
                    .into());
                }
                self.catalog.table(&QualifiedName::new(
                    catalog.as_ref(),
                    schema.as_ref(),
                    table.as_ref(),
                ))
            }
        };
        found.ok_or_else(|| PlanError::undefined_table(name.table()).into())
    }

    fn plan_view(&self, sql: &str) -> Result<LogicalPlan> {
        let mut statements = crate::parse_sql(sql)?;
        if statements.len() != 1 {
            return Err(DataFusionError::Plan(format!(
                "view definition is not one query: {sql}"
            )));
        }
        let mut statement = statements.remove(0);
        self.prepare_statement(&mut statement)?;
        let planner =
            datafusion_sql::planner::SqlToRel::new_with_options(self, crate::parser_options());
        planner.sql_statement_to_plan(statement)
    }

    /// Rewrites a statement into the form DataFusion's SQL planner accepts
    /// (Postgres spellings, duplicate result names).
    /// The source of a window table function call: its window node over
    /// the table, planned as `SELECT * FROM table`.
    fn window_source(&self, call: &crate::window_tvf::WindowCall) -> Result<Arc<dyn TableSource>> {
        let input = self.plan_view(&format!("SELECT * FROM {}", call.table))?;
        let wanted = if call.time.quote_style.is_some() {
            call.time.value.clone()
        } else {
            call.time.value.to_lowercase()
        };
        let (qualifier, field) = input
            .schema()
            .iter()
            .find(|(_, f)| *f.name() == wanted)
            .ok_or_else(|| {
                DataFusionError::from(PlanError::new(
                    "42703",
                    format!(
                        "column \"{wanted}\" of DESCRIPTOR does not exist in {}",
                        call.table
                    ),
                ))
            })?;
        let time = Expr::Column(datafusion_common::Column::new(
            qualifier.cloned(),
            field.name(),
        ));
        let node = crate::window_tvf::WindowTvfNode::try_new(input, time, call.window)?;
        Ok(Arc::new(crate::window_tvf::WindowTableSource::new(node)))
    }

    /// Plans the `DEFAULT` expressions of a table's columns.
    fn plan_defaults(&self, entry: &TableEntry) -> Result<HashMap<String, Expr>> {
        let mut defaults = HashMap::new();
        for field in entry.schema.fields() {
            let Some(sql) = field.metadata().get(crate::catalog::DEFAULT_METADATA_KEY) else {
                continue;
            };
            let bad = |e: &dyn std::fmt::Display| {
                DataFusionError::Plan(format!(
                    "default of column \"{}\" ({sql}): {e}",
                    field.name()
                ))
            };
            let dialect = sqlparser::dialect::PostgreSqlDialect {};
            let mut statement = sqlparser::parser::Parser::new(&dialect)
                .try_with_sql(&format!("SELECT {sql}"))
                .and_then(|mut p| p.parse_statement())
                .map_err(|e| bad(&e))?;
            crate::pg_compat::rewrite(&mut statement, self)?;
            let sqlparser::ast::Statement::Query(query) = statement else {
                return Err(bad(&"not an expression"));
            };
            let sqlparser::ast::SetExpr::Select(select) = *query.body else {
                return Err(bad(&"not an expression"));
            };
            let Some(sqlparser::ast::SelectItem::UnnamedExpr(parsed)) =
                select.projection.into_iter().next()
            else {
                return Err(bad(&"not an expression"));
            };
            let expr = datafusion_sql::planner::SqlToRel::new(self).sql_to_expr(
                parsed,
                &datafusion_common::DFSchema::empty(),
                &mut datafusion_sql::planner::PlannerContext::new(),
            )?;
            defaults.insert(field.name().clone(), expr);
        }
        Ok(defaults)
    }

    pub(crate) fn prepare_statement(
        &self,
        statement: &mut sqlparser::ast::Statement,
    ) -> Result<()> {
        crate::pg_compat::rewrite(statement, self)?;
        crate::names::distinct_select_names(statement);
        let first = self.window_calls.lock().len();
        let calls = crate::window_tvf::rewrite_calls(statement, first)?;
        self.window_calls.lock().extend(calls);
        Ok(())
    }
}

impl ContextProvider for PlannerContext<'_> {
    fn get_table_source(&self, name: TableReference) -> Result<Arc<dyn TableSource>> {
        if name.schema().is_none()
            && let Some(number) = name
                .table()
                .strip_prefix(crate::window_tvf::PLACEHOLDER_PREFIX)
                .and_then(|n| n.parse::<usize>().ok())
        {
            let call = self.window_calls.lock().get(number).cloned();
            if let Some(call) = call {
                return self.window_source(&call);
            }
        }
        let entry = self.resolve(&name)?;
        let view_plan = match &entry.kind {
            TableKind::View { sql } => Some(
                self.plan_view(sql)
                    .map_err(|e| e.context(format!("planning view {}", entry.name)))?,
            ),
            _ => None,
        };
        let defaults = self.plan_defaults(&entry)?;
        Ok(Arc::new(TableSourceAdapter {
            entry,
            view_plan,
            defaults,
        }))
    }

    fn get_table_function_source(
        &self,
        name: &str,
        args: Vec<Expr>,
    ) -> Result<Arc<dyn TableSource>> {
        crate::table_functions::resolve(name, args)
    }

    fn get_expr_planners(&self) -> &[Arc<dyn ExprPlanner>] {
        &self.expr_planners
    }

    fn get_function_meta(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        let name = name.strip_prefix("pg_catalog.").unwrap_or(name);
        self.session_functions
            .get(name)
            .cloned()
            .or_else(|| self.registry.find_scalar(name))
    }

    fn get_higher_order_meta(&self, _name: &str) -> Option<Arc<HigherOrderUDF>> {
        None
    }

    fn get_aggregate_meta(&self, name: &str) -> Option<Arc<AggregateUDF>> {
        self.registry
            .find_aggregate(name.strip_prefix("pg_catalog.").unwrap_or(name))
    }

    fn get_window_meta(&self, name: &str) -> Option<Arc<WindowUDF>> {
        self.registry
            .find_window(name.strip_prefix("pg_catalog.").unwrap_or(name))
    }

    fn get_variable_type(&self, _variable_names: &[String]) -> Option<DataType> {
        None
    }

    fn get_variable_field(&self, _variable_names: &[String]) -> Option<FieldRef> {
        None
    }

    fn options(&self) -> &ConfigOptions {
        &self.options
    }

    fn udf_names(&self) -> Vec<String> {
        let mut names = self.registry.scalar_names();
        names.extend(self.session_functions.keys().cloned());
        names
    }

    fn higher_order_function_names(&self) -> Vec<String> {
        Vec::new()
    }

    fn udaf_names(&self) -> Vec<String> {
        self.registry.aggregate_names()
    }

    fn udwf_names(&self) -> Vec<String> {
        self.registry.window_names()
    }
}
