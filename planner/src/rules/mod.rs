//! Tidewater's own logical optimizer rules, and the rule list: DataFusion's
//! default rules with ours inserted where they belong. Also the rewrites
//! that run before analysis or between analysis and optimization (each
//! module says when), the checks of where aggregates and window functions
//! may appear ([`clause_checks`]), and the optimizer's configuration
//! ([`optimizer_config`]).

use std::sync::Arc;

use datafusion_optimizer::optimizer::Optimizer;

pub mod array_literal;
pub mod clause_checks;
pub mod decorrelate;
pub mod int4_constants;
pub mod optimizer_config;
pub mod pg_arithmetic;
pub mod pg_casts;
pub mod pg_semantics;

/// The optimizer used for every query.
pub fn optimizer() -> Optimizer {
    let mut optimizer = Optimizer::new();
    // Right after DataFusion's scalar subquery rule, which handles the
    // subqueries it can and leaves the others for ours.
    let position = optimizer
        .rules
        .iter()
        .position(|r| r.name() == "scalar_subquery_to_join")
        .map_or(0, |p| p + 1);
    optimizer
        .rules
        .insert(position, Arc::new(decorrelate::DecorrelateScalarSubqueries));
    optimizer
}
