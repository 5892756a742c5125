//! The function registry shared by the planner and every worker.
//!
//! Dataflow plans name functions; each worker resolves the names here, so the
//! planner and the workers must see the same set. It holds DataFusion's
//! built-in scalar, aggregate and window functions and Tidewater's own
//! (Postgres compatibility functions live in [`pg`]; arithmetic and
//! casts with Postgres's errors in [`arithmetic`] and [`int_cast`]; the
//! helpers the planner rewrites `generate_subscripts` and `LIKE … ESCAPE`
//! into in [`array_subscripts`] and [`like_escape`]; `sum`
//! typed as Postgres types it, replacing DataFusion's, in [`sum`];
//! Flink's `CURRENT_WATERMARK` in [`current_watermark`]).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use datafusion_common::{Result as DFResult, plan_err};
use datafusion_expr::{AggregateUDF, ScalarUDF, WindowUDF};

pub mod arithmetic;
pub mod array_subscripts;
pub mod bytea;
pub mod current_watermark;
pub mod expand_array;
pub mod int_cast;
pub mod like_escape;
pub mod named_cast;
pub mod pg;
pub mod scalar_subquery;
pub mod sum;

/// The result of a scalar function computed as `array`: one scalar when
/// every argument was (`all_scalar`), else the array.
///
/// # Errors
///
/// An empty array where a scalar is wanted (internal).
pub(crate) fn columnar_result(
    array: &arrow::array::ArrayRef,
    all_scalar: bool,
) -> DFResult<datafusion_expr::ColumnarValue> {
    Ok(if all_scalar {
        datafusion_expr::ColumnarValue::Scalar(datafusion_common::ScalarValue::try_from_array(
            array, 0,
        )?)
    } else {
        datafusion_expr::ColumnarValue::Array(Arc::clone(array))
    })
}

/// Functions by name (lower case), including aliases.
#[derive(Debug, Default)]
pub struct FunctionRegistry {
    scalars: HashMap<String, Arc<ScalarUDF>>,
    aggregates: HashMap<String, Arc<AggregateUDF>>,
    windows: HashMap<String, Arc<WindowUDF>>,
}

impl FunctionRegistry {
    /// The process-wide registry with every built-in function.
    pub fn shared() -> &'static FunctionRegistry {
        static REGISTRY: OnceLock<FunctionRegistry> = OnceLock::new();
        REGISTRY.get_or_init(FunctionRegistry::with_builtins)
    }

    fn with_builtins() -> Self {
        let mut r = Self::default();
        for f in datafusion_functions::all_default_functions()
            .into_iter()
            .chain(datafusion_functions_nested::all_default_nested_functions())
            .chain(pg::scalar_functions())
            .chain(std::iter::once(bytea::ByteaIn::udf()))
            .chain(std::iter::once(current_watermark::CurrentWatermark::udf()))
            .chain(std::iter::once(expand_array::ExpandArray::udf()))
            .chain(std::iter::once(array_subscripts::ArraySubscripts::udf()))
            .chain(std::iter::once(like_escape::LikeEscape::udf()))
            .chain(std::iter::once(pg::json::JsonBuildObject::udf()))
            .chain(arithmetic::CheckedArithmetic::all())
            .chain(int_cast::ToInteger::all())
            .chain(std::iter::once(named_cast::NamedCast::udf()))
        {
            r.add_scalar(f);
        }
        for f in datafusion_functions_aggregate::all_default_aggregate_functions() {
            r.add_aggregate(f);
        }
        r.add_aggregate(scalar_subquery::ScalarSubqueryValue::udaf());
        // Replaces DataFusion's `sum`.
        r.add_aggregate(sum::PgSum::udaf());
        for f in datafusion_functions_window::all_default_window_functions() {
            r.add_window(f);
        }
        r
    }

    /// Registers a scalar function under its name and aliases.
    pub fn add_scalar(&mut self, f: Arc<ScalarUDF>) {
        for alias in f.aliases() {
            self.scalars.insert(alias.to_lowercase(), Arc::clone(&f));
        }
        self.scalars.insert(f.name().to_lowercase(), f);
    }

    /// Registers an aggregate function under its name and aliases.
    pub fn add_aggregate(&mut self, f: Arc<AggregateUDF>) {
        for alias in f.aliases() {
            self.aggregates.insert(alias.to_lowercase(), Arc::clone(&f));
        }
        self.aggregates.insert(f.name().to_lowercase(), f);
    }

    /// Registers a window function under its name and aliases.
    pub fn add_window(&mut self, f: Arc<WindowUDF>) {
        for alias in f.aliases() {
            self.windows.insert(alias.to_lowercase(), Arc::clone(&f));
        }
        self.windows.insert(f.name().to_lowercase(), f);
    }

    /// Looks up a scalar function.
    pub fn scalar(&self, name: &str) -> DFResult<Arc<ScalarUDF>> {
        match self.scalars.get(&name.to_lowercase()) {
            Some(f) => Ok(Arc::clone(f)),
            None => plan_err!("function {name} does not exist"),
        }
    }

    /// Looks up an aggregate function.
    pub fn aggregate(&self, name: &str) -> DFResult<Arc<AggregateUDF>> {
        match self.aggregates.get(&name.to_lowercase()) {
            Some(f) => Ok(Arc::clone(f)),
            None => plan_err!("aggregate function {name} does not exist"),
        }
    }

    /// Looks up a window function.
    pub fn window(&self, name: &str) -> DFResult<Arc<WindowUDF>> {
        match self.windows.get(&name.to_lowercase()) {
            Some(f) => Ok(Arc::clone(f)),
            None => plan_err!("window function {name} does not exist"),
        }
    }

    /// Finds a scalar function, if registered.
    pub fn find_scalar(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        self.scalars.get(&name.to_lowercase()).cloned()
    }

    /// Finds an aggregate function, if registered.
    pub fn find_aggregate(&self, name: &str) -> Option<Arc<AggregateUDF>> {
        self.aggregates.get(&name.to_lowercase()).cloned()
    }

    /// Finds a window function, if registered.
    pub fn find_window(&self, name: &str) -> Option<Arc<WindowUDF>> {
        self.windows.get(&name.to_lowercase()).cloned()
    }

    /// Names of all scalar functions.
    pub fn scalar_names(&self) -> Vec<String> {
        self.scalars.keys().cloned().collect()
    }

    /// Names of all aggregate functions.
    pub fn aggregate_names(&self) -> Vec<String> {
        self.aggregates.keys().cloned().collect()
    }

    /// Names of all window functions.
    pub fn window_names(&self) -> Vec<String> {
        self.windows.keys().cloned().collect()
    }
}
