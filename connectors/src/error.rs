//! Errors of the connectors, and their conversion into the runtime's
//! [`QueryError`] at the trait boundary.
//!
//! Every message is shown to the user verbatim, so each variant names what is
//! at fault: the option, the file and line, or the managed table's directory.

use std::io;

use arrow::error::ArrowError;
use parquet::errors::ParquetError;
use tidewater_runtime::{QueryError, SqlState};

/// Result type of the connectors.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of malformed row a [`Error::BadRow`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadRowKind {
    /// A value could not be converted to its column's type (SQLSTATE 22P02).
    Value,
    /// The row is not well formed: wrong number of columns, invalid JSON,
    /// invalid UTF-8 (SQLSTATE 22P04).
    Format,
    /// A NULL in a column declared `NOT NULL` (SQLSTATE 22000).
    Null,
}

/// Errors raised by connectors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `WITH (...)` option the connector does not know.
    #[error("unknown option '{option}' for connector '{connector}' (valid options: {valid})")]
    UnknownOption {
        /// The connector's name.
        connector: &'static str,
        /// The option as written.
        option: String,
        /// The options the connector accepts, comma separated.
        valid: String,
    },
    /// A required option is absent.
    #[error("missing option '{option}' for connector '{connector}'")]
    MissingOption {
        /// The connector's name.
        connector: &'static str,
        /// The option that must be given.
        option: String,
    },
    /// An option has a value the connector cannot use.
    #[error("invalid value '{value}' for option '{option}' of connector '{connector}': {reason}")]
    InvalidOption {
        /// The connector's name.
        connector: &'static str,
        /// The option at fault.
        option: String,
        /// Its value as written.
        value: String,
        /// What is expected instead.
        reason: String,
    },
    /// Options that are valid one by one but not together.
    #[error("{0}")]
    OptionConflict(String),
    /// A path, directory or glob that matches no file.
    #[error("no files match path '{path}'{hint}")]
    NoFiles {
        /// The path as written.
        path: String,
        /// Extra explanation (for example, that a directory is empty).
        hint: String,
    },
    /// An I/O error on a file or directory.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An I/O error while writing a managed table.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A malformed row in a file (with `bad_rows = 'fail'`).
    #[error("file {path} line {line}: {message}")]
    BadRow {
        /// The file.
        path: String,
        /// The 1-based line where the row starts (a CSV header is line 1).
        line: u64,
        /// What is wrong with the row.
        message: String,
        /// The class of the problem.
        kind: BadRowKind,
    },
    /// A file that cannot be read as the table's format or schema.
    #[error("file {path}: {message}")]
    BadFile {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A Parquet decoding error.
    #[error("file {path}: {source}")]
    Parquet {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: ParquetError,
    },
    /// An Arrow error, with what was being done.
    #[error("{context}: {source}")]
    Arrow {
        /// What was being done, naming the file or table.
        context: String,
        /// The underlying error.
        #[source]
        source: ArrowError,
    },
    /// A managed table's files do not have the expected layout or content.
    #[error("managed table {path}: {message}")]
    Corrupt {
        /// The table directory or file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A write to a managed table that does not fit its schema.
    #[error("managed table {path}: {message}")]
    InvalidWrite {
        /// The table directory.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// The SQLSTATE class of this error.
    pub fn state(&self) -> SqlState {
        match self {
            Error::UnknownOption { .. }
            | Error::MissingOption { .. }
            | Error::InvalidOption { .. }
            | Error::OptionConflict(_) => SqlState::InvalidParameterValue,
            Error::NoFiles { .. } | Error::Io { .. } | Error::Write { .. } => SqlState::IoError,
            Error::BadRow { kind, .. } => match kind {
                BadRowKind::Value => SqlState::InvalidTextRepresentation,
                BadRowKind::Format => SqlState::BadFileFormat,
                BadRowKind::Null => SqlState::DataException,
            },
            Error::BadFile { .. } | Error::Parquet { .. } => SqlState::BadFileFormat,
            Error::Arrow { source, .. } => QueryError::from_arrow(source).state,
            Error::Corrupt { .. } => SqlState::Internal,
            Error::InvalidWrite { .. } => SqlState::DataException,
        }
    }

    /// Converts this error into the form shown to the user.
    pub fn into_query_error(self) -> QueryError {
        let state = self.state();
        match &self {
            Error::Corrupt { .. } | Error::Write { .. } => {
                tracing::error!(error = %self, "connector storage error");
            }
            _ => {}
        }
        QueryError::new(state, self.to_string())
    }

    pub(crate) fn io(path: impl std::fmt::Display, source: io::Error) -> Self {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }

    pub(crate) fn write(path: impl std::fmt::Display, source: io::Error) -> Self {
        Error::Write {
            path: path.to_string(),
            source,
        }
    }

    pub(crate) fn arrow(context: impl Into<String>, source: ArrowError) -> Self {
        Error::Arrow {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn bad_file(path: impl std::fmt::Display, message: impl Into<String>) -> Self {
        Error::BadFile {
            path: path.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn corrupt(path: impl std::fmt::Display, message: impl Into<String>) -> Self {
        Error::Corrupt {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

impl From<Error> for QueryError {
    fn from(e: Error) -> Self {
        e.into_query_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_row_message_and_state() {
        let e = Error::BadRow {
            path: "data/x.csv".into(),
            line: 7,
            message: "cannot parse 'abc' as BIGINT (column amount)".into(),
            kind: BadRowKind::Value,
        };
        let q = e.into_query_error();
        assert_eq!(q.state, SqlState::InvalidTextRepresentation);
        assert_eq!(
            q.message,
            "file data/x.csv line 7: cannot parse 'abc' as BIGINT (column amount)"
        );
    }

    #[test]
    fn option_errors_are_invalid_parameter() {
        let e = Error::MissingOption {
            connector: "file",
            option: "path".into(),
        };
        assert_eq!(e.state(), SqlState::InvalidParameterValue);
        assert_eq!(e.to_string(), "missing option 'path' for connector 'file'");
    }
}
