//! Errors of the runtime, and the serializable [`QueryError`] that travels
//! with a query's data from any worker (in any process) to the client.

use arrow::error::ArrowError;
use datafusion_common::DataFusionError;
use serde::{Deserialize, Serialize};

/// Result type of the runtime.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors raised while building or running a dataflow.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error from a DataFusion kernel or expression.
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
    /// An error from an Arrow kernel.
    #[error(transparent)]
    Arrow(#[from] ArrowError),
    /// A query failed on some worker; the error carries its class.
    #[error("{0}")]
    Query(#[from] QueryError),
    /// The plan could not be decoded or is inconsistent.
    #[error("invalid dataflow plan: {0}")]
    InvalidPlan(String),
    /// The worker pool is not running (shut down, or a non-leader process).
    #[error("the worker pool is not accepting queries: {0}")]
    Unavailable(String),
}

impl Error {
    /// Converts this error into the serializable form that travels to the client.
    pub fn into_query_error(self) -> QueryError {
        match self {
            Error::Query(e) => e,
            Error::DataFusion(e) => QueryError::from_datafusion(&e),
            Error::Arrow(e) => QueryError::from_arrow(&e),
            Error::InvalidPlan(m) => QueryError::new(SqlState::Internal, m),
            Error::Unavailable(m) => QueryError::new(SqlState::Unavailable, m),
        }
    }
}

/// The class of a query error, as the client sees it. Each maps to one
/// SQLSTATE in the protocol front ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SqlState {
    /// 22012
    DivisionByZero,
    /// 21000 (a scalar subquery returned more than one row)
    CardinalityViolation,
    /// 22003
    NumericOutOfRange,
    /// 22P02 (invalid text representation / failed cast)
    InvalidTextRepresentation,
    /// 22023
    InvalidParameterValue,
    /// 22021 (invalid byte sequence for the encoding)
    CharacterNotInRepertoire,
    /// 23502
    NotNullViolation,
    /// 22004 (a NULL where none is allowed, such as a JSON object key)
    NullValueNotAllowed,
    /// 22019 (an escape string of more than one character)
    InvalidEscapeCharacter,
    /// 22025 (a LIKE pattern ending in its escape character)
    InvalidEscapeSequence,
    /// 54001
    StackDepthExceeded,
    /// 22000 (other data exceptions)
    DataException,
    /// 42804 (an expression of the wrong type, such as an event-time
    /// column that is not a timestamp)
    DatatypeMismatch,
    /// 57014
    QueryCanceled,
    /// 42P01 (a relation that does not exist, or no longer)
    UndefinedTable,
    /// 53200
    OutOfMemory,
    /// 0A000
    FeatureNotSupported,
    /// 58030 (I/O error reading or writing data)
    IoError,
    /// 22P04 (bad copy / file format)
    BadFileFormat,
    /// 57P03
    Unavailable,
    /// XX000
    Internal,
}

impl SqlState {
    /// The five-character SQLSTATE code.
    pub fn code(self) -> &'static str {
        match self {
            SqlState::DivisionByZero => "22012",
            SqlState::CardinalityViolation => "21000",
            SqlState::NumericOutOfRange => "22003",
            SqlState::InvalidTextRepresentation => "22P02",
            SqlState::InvalidParameterValue => "22023",
            SqlState::DatatypeMismatch => "42804",
            SqlState::CharacterNotInRepertoire => "22021",
            SqlState::NotNullViolation => "23502",
            SqlState::NullValueNotAllowed => "22004",
            SqlState::InvalidEscapeCharacter => "22019",
            SqlState::InvalidEscapeSequence => "22025",
            SqlState::StackDepthExceeded => "54001",
            SqlState::DataException => "22000",
            SqlState::QueryCanceled => "57014",
            SqlState::UndefinedTable => "42P01",
            SqlState::OutOfMemory => "53200",
            SqlState::FeatureNotSupported => "0A000",
            SqlState::IoError => "58030",
            SqlState::BadFileFormat => "22P04",
            SqlState::Unavailable => "57P03",
            SqlState::Internal => "XX000",
        }
    }
}

/// A query failure that can cross process boundaries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    /// The class of the error.
    pub state: SqlState,
    /// The message shown to the user.
    pub message: String,
}

impl QueryError {
    /// Creates an error of the given class.
    pub fn new(state: SqlState, message: impl Into<String>) -> Self {
        Self {
            state,
            message: message.into(),
        }
    }

    /// The error of a canceled query.
    pub fn canceled() -> Self {
        Self::new(
            SqlState::QueryCanceled,
            "canceling statement due to user request",
        )
    }

    /// Classifies a DataFusion error raised while executing.
    pub fn from_datafusion(e: &DataFusionError) -> Self {
        match e {
            DataFusionError::ArrowError(a, _) => Self::from_arrow(a),
            DataFusionError::Context(_, inner) => Self::from_datafusion(inner),
            DataFusionError::Shared(inner) => Self::from_datafusion(inner),
            DataFusionError::External(inner) => match inner.downcast_ref::<QueryError>() {
                Some(q) => q.clone(),
                None => Self::new(SqlState::Internal, inner.to_string()),
            },
            DataFusionError::NotImplemented(m) => {
                Self::new(SqlState::FeatureNotSupported, m.clone())
            }
            DataFusionError::ResourcesExhausted(m) => Self::new(SqlState::OutOfMemory, m.clone()),
            DataFusionError::Execution(m) => Self::classify_message(m),
            DataFusionError::IoError(io) => Self::new(SqlState::IoError, io.to_string()),
            other => Self::classify_message(&other.strip_backtrace()),
        }
    }

    /// Classifies an Arrow error raised by a kernel.
    pub fn from_arrow(e: &ArrowError) -> Self {
        match e {
            ArrowError::DivideByZero => Self::new(SqlState::DivisionByZero, "division by zero"),
            ArrowError::ArithmeticOverflow(m) => Self::new(SqlState::NumericOutOfRange, m.clone()),
            ArrowError::InvalidArgumentError(m) | ArrowError::CastError(m)
                if is_decimal_overflow(m) =>
            {
                Self::new(SqlState::NumericOutOfRange, "numeric field overflow")
            }
            ArrowError::CastError(m) | ArrowError::ParseError(m) => {
                Self::new(SqlState::InvalidTextRepresentation, m.clone())
            }
            ArrowError::ComputeError(m) => Self::classify_message(m),
            ArrowError::IoError(m, _) => Self::new(SqlState::IoError, m.clone()),
            ArrowError::ExternalError(inner) => match inner.downcast_ref::<DataFusionError>() {
                Some(df) => Self::from_datafusion(df),
                None => Self::new(SqlState::Internal, inner.to_string()),
            },
            other => Self::new(SqlState::Internal, other.to_string()),
        }
    }

    fn classify_message(m: &str) -> Self {
        let lower = m.to_ascii_lowercase();
        let state = if lower.contains("divide by zero") || lower.contains("division by zero") {
            SqlState::DivisionByZero
        } else if lower.contains("overflow") || lower.contains("out of range") {
            SqlState::NumericOutOfRange
        } else if lower.contains("cannot cast")
            || lower.contains("cast error")
            || lower.contains("parse")
        {
            SqlState::InvalidTextRepresentation
        } else {
            SqlState::DataException
        };
        let message = if state == SqlState::DivisionByZero {
            "division by zero".to_string()
        } else {
            m.to_string()
        };
        Self::new(state, message)
    }
}

/// Whether an Arrow message says a value does not fit a decimal type's
/// precision (Postgres: "numeric field overflow").
fn is_decimal_overflow(m: &str) -> bool {
    (m.contains("too large to store in a Decimal") || m.contains("too small to store in a Decimal"))
        || (m.starts_with("Cannot cast to Decimal")
            && (m.contains("Overflowing on") || m.contains("overflows")))
}

impl From<DataFusionError> for QueryError {
    fn from(e: DataFusionError) -> Self {
        Self::from_datafusion(&e)
    }
}

impl From<ArrowError> for QueryError {
    fn from(e: ArrowError) -> Self {
        Self::from_arrow(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_overflow_is_numeric_field_overflow() {
        for e in [
            ArrowError::InvalidArgumentError(
                "1234.50 is too large to store in a Decimal128 of precision 5. Max is 999.99"
                    .into(),
            ),
            ArrowError::CastError("Cannot cast to Decimal128(5, 2). Overflowing on 1e30".into()),
        ] {
            let q = QueryError::from_arrow(&e);
            assert_eq!(
                (q.state.code(), q.message.as_str()),
                ("22003", "numeric field overflow")
            );
        }
        let other = QueryError::from_arrow(&ArrowError::InvalidArgumentError("bad".into()));
        assert_eq!(other.state, SqlState::Internal);
    }
}
