//! The one place where errors and notices become Postgres wire messages
//! (`ErrorResponse`, `NoticeResponse`).

use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::{ErrorResponse, NoticeResponse};

use crate::error::SqlError;

/// Severity of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Severity {
    /// The statement failed; the session continues.
    Error,
    /// The connection ends.
    Fatal,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Self::Error => "ERROR",
            Self::Fatal => "FATAL",
        }
    }
}

/// Maps an error to its `ErrorResponse`: severity (`S`, and `V` which
/// clients read unlocalised), SQLSTATE (`C`), message (`M`), detail (`D`)
/// and hint (`H`).
pub(crate) fn error_response(error: &SqlError, severity: Severity) -> PgWireBackendMessage {
    let mut fields = vec![
        (b'S', severity.as_str().to_string()),
        (b'V', severity.as_str().to_string()),
        (b'C', error.code.to_string()),
        (b'M', error.message.clone()),
    ];
    if let Some(detail) = &error.detail {
        fields.push((b'D', detail.clone()));
    }
    if let Some(hint) = &error.hint {
        fields.push((b'H', hint.clone()));
    }
    PgWireBackendMessage::ErrorResponse(ErrorResponse::new(fields))
}

/// Maps a session notice to its `NoticeResponse`. The session reports
/// notices as text; "..., skipping" notices of `IF [NOT] EXISTS` are
/// NOTICEs (00000) as in Postgres, the others (transaction block
/// warnings) WARNINGs with Postgres's codes.
pub(crate) fn notice_response(message: &str) -> PgWireBackendMessage {
    let (severity, code) = if message.ends_with("skipping") {
        ("NOTICE", "00000")
    } else if message.starts_with("there is already a transaction in progress") {
        ("WARNING", "25001")
    } else if message.starts_with("there is no transaction in progress") {
        ("WARNING", "25P01")
    } else {
        ("WARNING", "01000")
    };
    PgWireBackendMessage::NoticeResponse(NoticeResponse::new(vec![
        (b'S', severity.to_string()),
        (b'V', severity.to_string()),
        (b'C', code.to_string()),
        (b'M', message.to_string()),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_fields() {
        let e = SqlError::new("42P01", "relation \"t\" does not exist").with_hint("create it");
        let PgWireBackendMessage::ErrorResponse(r) = error_response(&e, Severity::Error) else {
            panic!("not an error response");
        };
        assert_eq!(
            r.fields,
            vec![
                (b'S', "ERROR".to_string()),
                (b'V', "ERROR".to_string()),
                (b'C', "42P01".to_string()),
                (b'M', "relation \"t\" does not exist".to_string()),
                (b'H', "create it".to_string()),
            ]
        );
        let PgWireBackendMessage::NoticeResponse(n) =
            notice_response("relation \"t\" already exists, skipping")
        else {
            panic!("not a notice");
        };
        assert_eq!(n.fields[0], (b'S', "NOTICE".to_string()));
    }
}
