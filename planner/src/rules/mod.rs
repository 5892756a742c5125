//! Tidewater's own logical optimizer rules, and the rule list: DataFusion's
//! default rules with ours inserted where they belong.

use std::sync::Arc;

use datafusion_optimizer::optimizer::Optimizer;

pub mod array_literal;
pub mod decorrelate;
pub mod int4_constants;
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
