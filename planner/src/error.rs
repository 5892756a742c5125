//! Planning errors that carry a SQLSTATE. They travel inside
//! `DataFusionError::External` through DataFusion's planner; the server
//! finds them again when it maps errors to the wire.

use datafusion_common::DataFusionError;

/// A user-facing planning error with its SQLSTATE.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PlanError {
    /// SQLSTATE code.
    pub code: &'static str,
    /// Message.
    pub message: String,
    /// A hint on how to fix it, when there is one.
    pub hint: Option<String>,
}

impl PlanError {
    /// An error with an explicit SQLSTATE.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// The same error with a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// 42P01: a relation that does not exist.
    pub fn undefined_table(name: &str) -> Self {
        Self::new("42P01", format!("relation \"{name}\" does not exist"))
    }

    /// 42P07: a relation that exists already.
    pub fn duplicate_table(name: &str) -> Self {
        Self::new("42P07", format!("relation \"{name}\" already exists"))
    }

    /// 3F000: a schema that does not exist.
    pub fn undefined_schema(name: &str) -> Self {
        Self::new("3F000", format!("schema \"{name}\" does not exist"))
    }

    /// 3D000: a database that does not exist.
    pub fn undefined_database(name: &str) -> Self {
        Self::new("3D000", format!("database \"{name}\" does not exist"))
    }

    /// 0A000: a feature Tidewater does not support (yet).
    pub fn feature_not_supported(message: impl Into<String>) -> Self {
        Self::new("0A000", message)
    }

    /// 42601: a syntax error.
    pub fn syntax(message: impl Into<String>) -> Self {
        Self::new("42601", message)
    }

    /// 22023: an invalid option value.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new("22023", message)
    }

    /// 42804: a type mismatch.
    pub fn datatype_mismatch(message: impl Into<String>) -> Self {
        Self::new("42804", message)
    }
}

impl From<PlanError> for DataFusionError {
    fn from(e: PlanError) -> Self {
        DataFusionError::External(Box::new(e))
    }
}

/// Finds a [`PlanError`] inside a DataFusion error, if there is one.
pub fn find_plan_error(e: &DataFusionError) -> Option<&PlanError> {
    match e {
        DataFusionError::External(inner) => inner.downcast_ref::<PlanError>(),
        DataFusionError::Context(_, inner) => find_plan_error(inner),
        DataFusionError::Shared(inner) => find_plan_error(inner),
        DataFusionError::Diagnostic(_, inner) => find_plan_error(inner),
        DataFusionError::Collection(errors) => errors.iter().find_map(find_plan_error),
        _ => None,
    }
}
