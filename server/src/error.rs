//! The protocol-independent error a client sees: a SQLSTATE, a message and
//! optional detail and hint. Every failure (planning, execution, catalog,
//! I/O) is mapped to one here; each protocol adapter then maps this to its
//! wire form in one function.

use datafusion_common::{DataFusionError, SchemaError};
use tidewater_planner::find_plan_error;
use tidewater_runtime::{QueryError, SqlState};

/// An error reported to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SqlError {
    /// SQLSTATE (five characters).
    pub code: &'static str,
    /// Primary message.
    pub message: String,
    /// Optional detail.
    pub detail: Option<String>,
    /// Optional hint.
    pub hint: Option<String>,
}

/// Result type of session operations.
pub type SqlResult<T> = Result<T, SqlError>;

impl SqlError {
    /// An error with a code and message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// 0A000.
    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::new("0A000", message)
    }

    /// XX000, logged with its cause.
    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::error!(error = %message, "internal error");
        Self::new("XX000", message)
    }

    /// 42601.
    pub fn syntax(message: impl Into<String>) -> Self {
        Self::new("42601", message)
    }

    /// Maps a runtime query error.
    pub fn from_query(e: QueryError) -> Self {
        if e.state == SqlState::Internal {
            tracing::error!(error = %e.message, "internal error while running a query");
        }
        Self::new(e.state.code(), e.message)
    }

    /// Maps a planning or execution error from DataFusion.
    pub fn from_datafusion(e: &DataFusionError) -> Self {
        if let Some(p) = find_plan_error(e) {
            let error = Self::new(p.code, p.message.clone());
            return match &p.hint {
                Some(hint) => error.with_hint(hint.clone()),
                None => error,
            };
        }
        match e {
            DataFusionError::Context(_, inner) => Self::from_datafusion(inner),
            DataFusionError::Diagnostic(_, inner) => Self::from_datafusion(inner),
            DataFusionError::Shared(inner) => Self::from_datafusion(inner),
            DataFusionError::SQL(p, _) => Self::syntax(format!("syntax error: {p}")),
            DataFusionError::SchemaError(s, _) => match s.as_ref() {
                SchemaError::FieldNotFound { field, .. } => Self::new(
                    "42703",
                    format!("column \"{}\" does not exist", field.flat_name()),
                ),
                SchemaError::AmbiguousReference { field } => Self::new(
                    "42702",
                    format!("column reference \"{}\" is ambiguous", field.name),
                ),
                SchemaError::DuplicateQualifiedField { name, .. }
                | SchemaError::DuplicateUnqualifiedField { name } => Self::new(
                    "42701",
                    format!("column \"{name}\" specified more than once"),
                ),
            },
            DataFusionError::NotImplemented(m) => Self::not_supported(m.clone()),
            DataFusionError::Plan(m) => Self::from_plan_message(m),
            DataFusionError::Configuration(m) => Self::new("22023", m.clone()),
            DataFusionError::Internal(m) => Self::internal(m.clone()),
            DataFusionError::Collection(errors) => match errors.first() {
                Some(first) => Self::from_datafusion(first),
                None => Self::internal("empty error collection"),
            },
            other => Self::from_query(QueryError::from_datafusion(other)),
        }
    }

    fn from_plan_message(m: &str) -> Self {
        let lower = m.to_ascii_lowercase();
        let code = if lower.contains("invalid function")
            || lower.contains("does not exist") && lower.contains("function")
            || lower.contains("no function matches")
            || lower.contains("failed to coerce")
            || lower.contains("cannot infer common")
            || lower.contains("does not support")
            || lower.contains("function '")
        {
            "42883"
        } else if lower.contains("cannot be cast")
            || lower.contains("type")
                && (lower.contains("mismatch")
                    || lower.contains("coerc")
                    || lower.contains("expected"))
        {
            "42804"
        } else if lower.contains("must appear in the group by") || lower.contains("group by") {
            "42803"
        } else if lower.contains("duplicate") || lower.contains("unique expression names") {
            "42712"
        } else {
            "42000"
        };
        Self::new(code, m.to_string())
    }
}

impl From<DataFusionError> for SqlError {
    fn from(e: DataFusionError) -> Self {
        Self::from_datafusion(&e)
    }
}

impl From<QueryError> for SqlError {
    fn from(e: QueryError) -> Self {
        Self::from_query(e)
    }
}

impl From<tidewater_runtime::Error> for SqlError {
    fn from(e: tidewater_runtime::Error) -> Self {
        Self::from_query(e.into_query_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_planner_and_runtime_errors() {
        let e = DataFusionError::from(tidewater_planner::PlanError::undefined_table("nope"));
        let s = SqlError::from_datafusion(&e);
        assert_eq!(s.code, "42P01");
        assert_eq!(s.message, "relation \"nope\" does not exist");
        let e = DataFusionError::Context("ctx".into(), Box::new(e));
        assert_eq!(SqlError::from_datafusion(&e).code, "42P01");
        let div =
            DataFusionError::ArrowError(Box::new(arrow::error::ArrowError::DivideByZero), None);
        assert_eq!(SqlError::from_datafusion(&div).code, "22012");
        assert_eq!(
            SqlError::from_datafusion(&DataFusionError::NotImplemented("x".into())).code,
            "0A000"
        );
    }
}
