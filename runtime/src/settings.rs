//! The registry of session settings, the one list of them: name, default,
//! whether clients may change it and are told when it changes, and what
//! `pg_settings` says about it (unit, category, description, context, type,
//! range, allowed values, as in Postgres 15).
//!
//! The server's session settings (`SET`, `SHOW`, ParameterStatus), the
//! `pg_settings` view and `current_setting()` all read it.

/// The Postgres version Tidewater reports to clients. Clients such as psql
/// choose their catalog queries by server version; those of Postgres 14
/// are the ones Tidewater's `pg_catalog` answers completely.
pub const SERVER_VERSION: &str = "14.0";
/// `server_version_num` matching [`SERVER_VERSION`].
pub const SERVER_VERSION_NUM: &str = "140000";

/// One setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// Name as Postgres spells it (`DateStyle`, `search_path`); lookups
    /// ignore case.
    pub name: &'static str,
    /// Default value.
    pub default: &'static str,
    /// Reported to the client in ParameterStatus at startup and when it
    /// changes.
    pub report: bool,
    /// Clients may not change it.
    pub read_only: bool,
    /// Listed in `pg_settings` (Postgres hides a few).
    pub listed: bool,
    /// `pg_settings.unit`.
    pub unit: Option<&'static str>,
    /// `pg_settings.category`.
    pub category: &'static str,
    /// `pg_settings.short_desc`.
    pub description: &'static str,
    /// `pg_settings.context`: `user`, `superuser` or `internal`.
    pub context: &'static str,
    /// `pg_settings.vartype`: `bool`, `integer`, `string` or `enum`.
    pub vartype: &'static str,
    /// `pg_settings.min_val` and `max_val`.
    pub range: Option<(&'static str, &'static str)>,
    /// `pg_settings.enumvals`.
    pub enumvals: &'static [&'static str],
}

const LOCALE: &str = "Client Connection Defaults / Locale and Formatting";
const STATEMENT: &str = "Client Connection Defaults / Statement Behavior";
const PRESET: &str = "Preset Options";
const ISOLATION_LEVELS: &[&str] = &[
    "serializable",
    "repeatable read",
    "read committed",
    "read uncommitted",
];
const TIMEOUT: Option<(&str, &str)> = Some(("0", "2147483647"));

/// A changeable, unreported setting of `vartype` in `category`.
const fn user(
    name: &'static str,
    default: &'static str,
    category: &'static str,
    description: &'static str,
    vartype: &'static str,
) -> Setting {
    Setting {
        name,
        default,
        report: false,
        read_only: false,
        listed: true,
        unit: None,
        category,
        description,
        context: "user",
        vartype,
        range: None,
        enumvals: &[],
    }
}

/// A read-only setting that describes the server.
const fn preset(
    name: &'static str,
    default: &'static str,
    description: &'static str,
    vartype: &'static str,
) -> Setting {
    Setting {
        read_only: true,
        context: "internal",
        ..user(name, default, PRESET, description, vartype)
    }
}

/// Every setting, by name.
pub const SETTINGS: &[Setting] = &[
    Setting {
        report: true,
        ..user(
            "application_name",
            "",
            "Reporting and Logging / What to Log",
            "Sets the application name to be reported in statistics and logs.",
            "string",
        )
    },
    Setting {
        enumvals: &["escape", "hex"],
        ..user(
            "bytea_output",
            "hex",
            STATEMENT,
            "Sets the output format for bytea.",
            "enum",
        )
    },
    Setting {
        report: true,
        ..user(
            "client_encoding",
            "UTF8",
            LOCALE,
            "Sets the client's character set encoding.",
            "string",
        )
    },
    Setting {
        enumvals: &[
            "debug5", "debug4", "debug3", "debug2", "debug1", "log", "notice", "warning", "error",
        ],
        ..user(
            "client_min_messages",
            "notice",
            STATEMENT,
            "Sets the message levels that are sent to the client.",
            "enum",
        )
    },
    Setting {
        report: true,
        ..user(
            "DateStyle",
            "ISO, MDY",
            LOCALE,
            "Sets the display format for date and time values.",
            "string",
        )
    },
    user(
        "default_table_access_method",
        "heap",
        STATEMENT,
        "Sets the default table access method for new tables.",
        "string",
    ),
    Setting {
        enumvals: ISOLATION_LEVELS,
        ..user(
            "default_transaction_isolation",
            "read committed",
            STATEMENT,
            "Sets the transaction isolation level of each new transaction.",
            "enum",
        )
    },
    Setting {
        report: true,
        ..user(
            "default_transaction_read_only",
            "off",
            STATEMENT,
            "Sets the default read-only status of new transactions.",
            "bool",
        )
    },
    Setting {
        range: Some(("-15", "3")),
        ..user(
            "extra_float_digits",
            "1",
            LOCALE,
            "Sets the number of digits displayed for floating-point values.",
            "integer",
        )
    },
    Setting {
        unit: Some("ms"),
        range: TIMEOUT,
        ..user(
            "idle_in_transaction_session_timeout",
            "0",
            STATEMENT,
            "Sets the maximum allowed idle time between queries, when in a transaction.",
            "integer",
        )
    },
    Setting {
        report: true,
        ..preset(
            "in_hot_standby",
            "off",
            "Shows whether hot standby is currently active.",
            "bool",
        )
    },
    Setting {
        report: true,
        ..preset(
            "integer_datetimes",
            "on",
            "Shows whether datetimes are integer based.",
            "bool",
        )
    },
    Setting {
        report: true,
        enumvals: &["postgres", "postgres_verbose", "sql_standard", "iso_8601"],
        ..user(
            "IntervalStyle",
            "postgres",
            LOCALE,
            "Sets the display format for interval values.",
            "enum",
        )
    },
    Setting {
        report: true,
        listed: false,
        ..preset(
            "is_superuser",
            "on",
            "Shows whether the current user is a superuser.",
            "bool",
        )
    },
    Setting {
        range: Some(("1", "2147483647")),
        ..user(
            "join_collapse_limit",
            "8",
            "Query Tuning / Other Planner Options",
            "Sets the FROM-list size beyond which JOIN constructs are not flattened.",
            "integer",
        )
    },
    preset(
        "lc_collate",
        "C",
        "Shows the collation order locale.",
        "string",
    ),
    preset(
        "lc_ctype",
        "C",
        "Shows the character classification and case conversion locale.",
        "string",
    ),
    Setting {
        context: "superuser",
        ..user(
            "lc_messages",
            "C",
            LOCALE,
            "Sets the language in which messages are displayed.",
            "string",
        )
    },
    user(
        "lc_monetary",
        "C",
        LOCALE,
        "Sets the locale for formatting monetary amounts.",
        "string",
    ),
    user(
        "lc_numeric",
        "C",
        LOCALE,
        "Sets the locale for formatting numbers.",
        "string",
    ),
    user(
        "lc_time",
        "C",
        LOCALE,
        "Sets the locale for formatting date and time values.",
        "string",
    ),
    Setting {
        unit: Some("ms"),
        range: TIMEOUT,
        ..user(
            "lock_timeout",
            "0",
            STATEMENT,
            "Sets the maximum allowed duration of any wait for a lock.",
            "integer",
        )
    },
    Setting {
        range: Some(("63", "63")),
        ..preset(
            "max_identifier_length",
            "63",
            "Shows the maximum identifier length.",
            "integer",
        )
    },
    user(
        "query_memory_limit",
        "",
        "Resource Usage / Memory",
        "Sets the memory one query may use on each worker.",
        "string",
    ),
    Setting {
        enumvals: &["auto", "local", "distributed"],
        ..user(
            "query_mode",
            "auto",
            "Query Tuning / Other Planner Options",
            "Sets where queries run: on one worker (local), on every worker (distributed), or chosen by the size of their input (auto).",
            "enum",
        )
    },
    user(
        "search_path",
        "\"$user\", public",
        STATEMENT,
        "Sets the schema search order for names that are not schema-qualified.",
        "string",
    ),
    Setting {
        report: true,
        ..preset(
            "server_encoding",
            "UTF8",
            "Shows the server (database) character set encoding.",
            "string",
        )
    },
    Setting {
        report: true,
        ..preset(
            "server_version",
            SERVER_VERSION,
            "Shows the server version.",
            "string",
        )
    },
    preset(
        "server_version_num",
        SERVER_VERSION_NUM,
        "Shows the server version as an integer.",
        "integer",
    ),
    Setting {
        report: true,
        listed: false,
        ..user(
            "session_authorization",
            "",
            STATEMENT,
            "Sets the session user name.",
            "string",
        )
    },
    Setting {
        report: true,
        ..user(
            "standard_conforming_strings",
            "on",
            "Version and Platform Compatibility / Previous PostgreSQL Versions",
            "Causes '...' strings to treat backslashes literally.",
            "bool",
        )
    },
    Setting {
        unit: Some("ms"),
        range: TIMEOUT,
        ..user(
            "statement_timeout",
            "0",
            STATEMENT,
            "Sets the maximum allowed duration of any statement.",
            "integer",
        )
    },
    Setting {
        enumvals: &["local", "remote_write", "remote_apply", "on", "off"],
        ..user(
            "synchronous_commit",
            "on",
            "Write-Ahead Log / Settings",
            "Sets the current transaction's synchronization level.",
            "enum",
        )
    },
    Setting {
        report: true,
        ..user(
            "TimeZone",
            "UTC",
            LOCALE,
            "Sets the time zone for displaying and interpreting time stamps.",
            "string",
        )
    },
    Setting {
        enumvals: ISOLATION_LEVELS,
        ..user(
            "transaction_isolation",
            "read committed",
            STATEMENT,
            "Sets the current transaction's isolation level.",
            "enum",
        )
    },
    user(
        "transaction_read_only",
        "off",
        STATEMENT,
        "Sets the current transaction's read-only status.",
        "bool",
    ),
];

/// The setting named `name` (case-insensitive; `time zone` and `names`
/// are the spellings of `TimeZone` and `client_encoding` in `SET`).
pub fn setting(name: &str) -> Option<&'static Setting> {
    let name = match name.to_ascii_lowercase().as_str() {
        "time zone" | "time_zone" => "timezone".to_string(),
        "names" => "client_encoding".to_string(),
        other => other.to_string(),
    };
    SETTINGS.iter().find(|s| s.name.eq_ignore_ascii_case(&name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_sorted_unique_and_found_by_any_case() {
        let names: Vec<String> = SETTINGS.iter().map(|s| s.name.to_lowercase()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            names, sorted,
            "SETTINGS must be sorted by name, without duplicates"
        );
        assert_eq!(setting("datestyle").map(|s| s.name), Some("DateStyle"));
        assert_eq!(setting("TIME ZONE").map(|s| s.name), Some("TimeZone"));
        assert_eq!(setting("names").map(|s| s.name), Some("client_encoding"));
        assert!(setting("nope").is_none());
        assert!(
            SETTINGS
                .iter()
                .filter(|s| s.read_only)
                .all(|s| s.context == "internal")
        );
    }
}
