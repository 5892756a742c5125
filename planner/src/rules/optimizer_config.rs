//! The configuration the optimizer runs with: DataFusion's
//! [`OptimizerContext`] plus Tidewater's function registry. Some of
//! DataFusion's rules look functions up by name (`DISTINCT ON` becomes
//! `first_value` aggregates) and panic when the configuration has no
//! registry.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion_common::alias::AliasGenerator;
use datafusion_common::config::ConfigOptions;
use datafusion_common::{Result, not_impl_err};
use datafusion_expr::planner::ExprPlanner;
use datafusion_expr::registry::FunctionRegistry as DataFusionRegistry;
use datafusion_expr::{AggregateUDF, HigherOrderUDF, ScalarUDF, WindowUDF};
use datafusion_optimizer::optimizer::{OptimizerConfig, OptimizerContext};
use tidewater_runtime::functions::FunctionRegistry;

/// Tidewater's registry as DataFusion's [`DataFusionRegistry`] (read
/// only).
#[derive(Debug, Clone, Copy)]
pub struct SharedRegistry;

impl DataFusionRegistry for SharedRegistry {
    fn udfs(&self) -> HashSet<String> {
        FunctionRegistry::shared()
            .scalar_names()
            .into_iter()
            .collect()
    }

    fn higher_order_function_names(&self) -> HashSet<String> {
        HashSet::new()
    }

    fn udafs(&self) -> HashSet<String> {
        FunctionRegistry::shared()
            .aggregate_names()
            .into_iter()
            .collect()
    }

    fn udwfs(&self) -> HashSet<String> {
        FunctionRegistry::shared()
            .window_names()
            .into_iter()
            .collect()
    }

    fn udf(&self, name: &str) -> Result<Arc<ScalarUDF>> {
        FunctionRegistry::shared().scalar(name)
    }

    fn higher_order_function(&self, name: &str) -> Result<Arc<HigherOrderUDF>> {
        not_impl_err!("higher-order function {name}")
    }

    fn udaf(&self, name: &str) -> Result<Arc<AggregateUDF>> {
        FunctionRegistry::shared().aggregate(name)
    }

    fn udwf(&self, name: &str) -> Result<Arc<WindowUDF>> {
        FunctionRegistry::shared().window(name)
    }

    fn expr_planners(&self) -> Vec<Arc<dyn ExprPlanner>> {
        vec![]
    }
}

/// [`OptimizerContext`] with the function registry.
#[derive(Debug)]
pub struct TidewaterOptimizerConfig {
    /// Start time, alias generator and options.
    inner: OptimizerContext,
}

impl TidewaterOptimizerConfig {
    /// A configuration with `options`, for a query that started at `start`
    /// (the value of `now()`).
    pub fn new(options: Arc<ConfigOptions>, start: DateTime<Utc>) -> Self {
        Self {
            inner: OptimizerContext::new_with_config_options(options)
                .with_query_execution_start_time(start),
        }
    }
}

impl OptimizerConfig for TidewaterOptimizerConfig {
    fn query_execution_start_time(&self) -> Option<DateTime<Utc>> {
        self.inner.query_execution_start_time()
    }

    fn alias_generator(&self) -> &Arc<AliasGenerator> {
        self.inner.alias_generator()
    }

    fn options(&self) -> Arc<ConfigOptions> {
        self.inner.options()
    }

    fn function_registry(&self) -> Option<&dyn DataFusionRegistry> {
        Some(&SharedRegistry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_find_functions_by_name() {
        let config = TidewaterOptimizerConfig::new(Arc::new(ConfigOptions::default()), Utc::now());
        let registry = config.function_registry().expect("a registry");
        assert_eq!(registry.udaf("first_value").unwrap().name(), "first_value");
        assert!(registry.udf("tw_checked_add").is_ok());
        assert!(registry.udf("no_such_function").is_err());
    }
}
