//! Tidewater planner: SQL text to runtime dataflow plans.
//!
//! Statements are parsed with `sqlparser` (Postgres dialect). Queries are
//! bound to a DataFusion [`LogicalPlan`](datafusion_expr::LogicalPlan)
//! through our [`context::PlannerContext`], type-checked by DataFusion's
//! analyzer, optimized by its optimizer and lowered ([`lower`]) to a
//! [`DataflowPlan`](tidewater_runtime::plan::DataflowPlan). DDL and session
//! statements are classified ([`statement::Planned`]) for the server to
//! execute against its catalog.

pub mod catalog;
pub mod context;
pub mod error;
mod estimate;
pub mod lower;
mod names;
pub mod origin;
mod params;
pub mod parse;
mod pg_compat;
pub mod rules;
pub mod statement;
pub mod table_functions;
pub mod window_tvf;

use datafusion_sql::planner::ParserOptions;

pub use catalog::{CatalogView, QualifiedName, SessionInfo, TableEntry, TableKind};
pub use error::{PlanError, find_plan_error};
pub use parse::parse_sql;
pub use statement::{Planned, Planner, PreparedQuery};

/// DataFusion SQL planner options matching Postgres behaviour.
pub(crate) fn parser_options() -> ParserOptions {
    ParserOptions::new()
        .with_enable_ident_normalization(true)
        .with_support_varchar_with_length(true)
        .with_map_string_types_to_utf8view(false)
        .with_default_null_ordering(datafusion_sql::planner::NullOrdering::NullsMax)
}
