//! Session settings (`SET` / `SHOW`): the Postgres parameters clients set
//! and read at connect time, plus Tidewater's own.

use std::collections::BTreeMap;

use crate::error::{SqlError, SqlResult};

/// The Postgres version Tidewater reports to clients. Clients such as psql
/// choose their catalog queries by server version; those of Postgres 14
/// are the ones Tidewater's `pg_catalog` answers completely.
pub const SERVER_VERSION: &str = "14.0";
/// `server_version_num` matching [`SERVER_VERSION`].
pub const SERVER_VERSION_NUM: &str = "140000";

/// A known parameter.
#[derive(Debug, Clone, Copy)]
struct Param {
    name: &'static str,
    default: &'static str,
    /// Reported to the client in ParameterStatus when it changes.
    report: bool,
    /// Clients may not change it.
    read_only: bool,
}

const PARAMS: &[Param] = &[
    Param {
        name: "application_name",
        default: "",
        report: true,
        read_only: false,
    },
    Param {
        name: "client_encoding",
        default: "UTF8",
        report: true,
        read_only: false,
    },
    Param {
        name: "client_min_messages",
        default: "notice",
        report: false,
        read_only: false,
    },
    Param {
        name: "datestyle",
        default: "ISO, MDY",
        report: true,
        read_only: false,
    },
    Param {
        name: "default_transaction_isolation",
        default: "read committed",
        report: false,
        read_only: false,
    },
    Param {
        name: "default_transaction_read_only",
        default: "off",
        report: true,
        read_only: false,
    },
    Param {
        name: "extra_float_digits",
        default: "1",
        report: false,
        read_only: false,
    },
    Param {
        name: "in_hot_standby",
        default: "off",
        report: true,
        read_only: true,
    },
    Param {
        name: "integer_datetimes",
        default: "on",
        report: true,
        read_only: true,
    },
    Param {
        name: "intervalstyle",
        default: "postgres",
        report: true,
        read_only: false,
    },
    Param {
        name: "is_superuser",
        default: "on",
        report: true,
        read_only: true,
    },
    Param {
        name: "lc_collate",
        default: "C",
        report: false,
        read_only: true,
    },
    Param {
        name: "lc_ctype",
        default: "C",
        report: false,
        read_only: true,
    },
    Param {
        name: "lc_messages",
        default: "C",
        report: false,
        read_only: false,
    },
    Param {
        name: "lc_monetary",
        default: "C",
        report: false,
        read_only: false,
    },
    Param {
        name: "lc_numeric",
        default: "C",
        report: false,
        read_only: false,
    },
    Param {
        name: "lc_time",
        default: "C",
        report: false,
        read_only: false,
    },
    Param {
        name: "lock_timeout",
        default: "0",
        report: false,
        read_only: false,
    },
    Param {
        name: "max_identifier_length",
        default: "63",
        report: false,
        read_only: true,
    },
    Param {
        name: "query_memory_limit",
        default: "",
        report: false,
        read_only: false,
    },
    Param {
        name: "search_path",
        default: "\"$user\", public",
        report: false,
        read_only: false,
    },
    Param {
        name: "server_encoding",
        default: "UTF8",
        report: true,
        read_only: true,
    },
    Param {
        name: "server_version",
        default: SERVER_VERSION,
        report: true,
        read_only: true,
    },
    Param {
        name: "server_version_num",
        default: SERVER_VERSION_NUM,
        report: false,
        read_only: true,
    },
    Param {
        name: "session_authorization",
        default: "",
        report: true,
        read_only: false,
    },
    Param {
        name: "standard_conforming_strings",
        default: "on",
        report: true,
        read_only: false,
    },
    Param {
        name: "statement_timeout",
        default: "0",
        report: false,
        read_only: false,
    },
    Param {
        name: "idle_in_transaction_session_timeout",
        default: "0",
        report: false,
        read_only: false,
    },
    Param {
        name: "timezone",
        default: "UTC",
        report: true,
        read_only: false,
    },
    Param {
        name: "transaction_isolation",
        default: "read committed",
        report: false,
        read_only: false,
    },
    Param {
        name: "transaction_read_only",
        default: "off",
        report: false,
        read_only: false,
    },
    Param {
        name: "join_collapse_limit",
        default: "8",
        report: false,
        read_only: false,
    },
    Param {
        name: "bytea_output",
        default: "hex",
        report: false,
        read_only: false,
    },
    Param {
        name: "synchronous_commit",
        default: "on",
        report: false,
        read_only: false,
    },
];

fn param(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name == name)
}

/// The settings of one session.
#[derive(Debug, Clone)]
pub struct Settings {
    values: BTreeMap<String, String>,
    /// Reportable parameters changed since last taken.
    changed: Vec<String>,
}

impl Settings {
    /// Defaults for a session of `user`, with the query memory limit of
    /// the server.
    pub fn new(user: &str, query_memory_limit_mb: usize) -> Self {
        let mut values: BTreeMap<String, String> = PARAMS
            .iter()
            .map(|p| (p.name.to_string(), p.default.to_string()))
            .collect();
        values.insert("session_authorization".into(), user.to_string());
        values.insert(
            "query_memory_limit".into(),
            format!("{query_memory_limit_mb}MB"),
        );
        Self {
            values,
            changed: Vec::new(),
        }
    }

    /// The parameters every client receives after authentication.
    pub fn startup_parameters(&self) -> Vec<(String, String)> {
        PARAMS
            .iter()
            .filter(|p| p.report)
            .map(|p| {
                (
                    display_name(p.name).to_string(),
                    self.values[p.name].clone(),
                )
            })
            .collect()
    }

    /// Reads a setting (case-insensitive). Custom settings (with a dot) read
    /// as set.
    ///
    /// # Errors
    ///
    /// 42704 for an unknown parameter.
    pub fn get(&self, name: &str) -> SqlResult<String> {
        let key = canonical(name);
        self.values.get(&key).cloned().ok_or_else(|| {
            SqlError::new(
                "42704",
                format!("unrecognized configuration parameter \"{name}\""),
            )
        })
    }

    /// Changes a setting.
    ///
    /// # Errors
    ///
    /// 42704 unknown parameter, 55P02 read-only, 22023 bad value.
    pub fn set(&mut self, name: &str, value: &str) -> SqlResult<()> {
        let key = canonical(name);
        let value = match param(&key) {
            Some(p) if p.read_only => {
                if self
                    .values
                    .get(&key)
                    .is_some_and(|v| v.eq_ignore_ascii_case(value))
                {
                    return Ok(());
                }
                return Err(SqlError::new(
                    "55P02",
                    format!("parameter \"{name}\" cannot be changed"),
                ));
            }
            Some(_) => normalize_value(&key, value)?,
            None if key.contains('.') => value.to_string(),
            None => {
                return Err(SqlError::new(
                    "42704",
                    format!("unrecognized configuration parameter \"{name}\""),
                ));
            }
        };
        if param(&key).is_some_and(|p| p.report) && self.values.get(&key) != Some(&value) {
            self.changed.push(key.clone());
        }
        self.values.insert(key, value);
        Ok(())
    }

    /// Resets a setting to its default.
    ///
    /// # Errors
    ///
    /// 42704 unknown parameter.
    pub fn reset(&mut self, name: &str, user: &str, query_memory_limit_mb: usize) -> SqlResult<()> {
        let key = canonical(name);
        let defaults = Settings::new(user, query_memory_limit_mb);
        match defaults.values.get(&key) {
            Some(v) => {
                let v = v.clone();
                self.set(&key, &v)
            }
            None if key.contains('.') => {
                self.values.remove(&key);
                Ok(())
            }
            None => Err(SqlError::new(
                "42704",
                format!("unrecognized configuration parameter \"{name}\""),
            )),
        }
    }

    /// Resets every setting.
    pub fn reset_all(&mut self, user: &str, query_memory_limit_mb: usize) {
        let defaults = Settings::new(user, query_memory_limit_mb);
        for (k, v) in defaults.values {
            if param(&k).is_some_and(|p| !p.read_only) {
                let _ = self.set(&k, &v);
            }
        }
    }

    /// Reportable parameters that changed since the last call, with values.
    pub fn take_changes(&mut self) -> Vec<(String, String)> {
        let mut changed = std::mem::take(&mut self.changed);
        changed.dedup();
        changed
            .into_iter()
            .map(|k| (display_name(&k).to_string(), self.values[&k].clone()))
            .collect()
    }

    /// All settings with values, for `SHOW ALL` and `pg_settings`.
    pub fn all(&self) -> Vec<(String, String)> {
        self.values
            .iter()
            .map(|(k, v)| (display_name(k).to_string(), v.clone()))
            .collect()
    }

    /// Schemas of the search path for `user`, in order.
    pub fn search_path(&self, user: &str) -> Vec<String> {
        self.values["search_path"]
            .split(',')
            .map(|s| s.trim().trim_matches('"').to_string())
            .filter(|s| !s.is_empty())
            .map(|s| if s == "$user" { user.to_string() } else { s })
            .collect()
    }

    /// The session time zone.
    pub fn timezone(&self) -> &str {
        &self.values["timezone"]
    }

    /// `extra_float_digits`.
    pub fn extra_float_digits(&self) -> i32 {
        self.values["extra_float_digits"].parse().unwrap_or(1)
    }

    /// The query memory limit in bytes, per worker.
    pub fn query_memory_limit_bytes(&self) -> Option<usize> {
        parse_memory(&self.values["query_memory_limit"])
    }
}

/// Lower-cases a parameter name and maps aliases.
fn canonical(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "time zone" | "time_zone" => "timezone".into(),
        "names" => "client_encoding".into(),
        _ => lower,
    }
}

/// The spelling Postgres uses in ParameterStatus messages.
fn display_name(key: &str) -> &str {
    match key {
        "datestyle" => "DateStyle",
        "timezone" => "TimeZone",
        "intervalstyle" => "IntervalStyle",
        other => other,
    }
}

fn parse_memory(value: &str) -> Option<usize> {
    let v = value.trim().to_ascii_uppercase();
    let (num, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: usize = num.parse().ok()?;
    let mult = match unit.trim() {
        "" | "B" => 1,
        "KB" | "K" => 1 << 10,
        "MB" | "M" => 1 << 20,
        "GB" | "G" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

fn normalize_value(key: &str, value: &str) -> SqlResult<String> {
    let bad = || {
        SqlError::new(
            "22023",
            format!("invalid value for parameter \"{key}\": \"{value}\""),
        )
    };
    Ok(match key {
        "client_encoding" => {
            let v = value.to_ascii_uppercase().replace('-', "");
            if v != "UTF8" && v != "UNICODE" {
                return Err(SqlError::not_supported(format!(
                    "client encoding \"{value}\" is not supported: only UTF8 is"
                )));
            }
            "UTF8".into()
        }
        "extra_float_digits" => {
            let n: i32 = value.trim().parse().map_err(|_| bad())?;
            if !(-15..=3).contains(&n) {
                return Err(bad());
            }
            n.to_string()
        }
        "timezone" => {
            let tz = value.trim().trim_matches('\'');
            if tz.eq_ignore_ascii_case("utc")
                || tz.eq_ignore_ascii_case("gmt")
                || tz.eq_ignore_ascii_case("z")
                || tz.eq_ignore_ascii_case("local")
                || tz.eq_ignore_ascii_case("default")
            {
                "UTC".into()
            } else if tz.parse::<chrono::FixedOffset>().is_ok() || is_offset(tz) || tz.contains('/')
            {
                tz.to_string()
            } else {
                return Err(bad());
            }
        }
        "query_memory_limit" => {
            parse_memory(value).filter(|n| *n > 0).ok_or_else(bad)?;
            value.trim().to_string()
        }
        "datestyle" => {
            let v = value.to_ascii_uppercase();
            if !v.contains("ISO") {
                return Err(SqlError::not_supported(
                    "only the ISO DateStyle is supported",
                ));
            }
            if v.contains("DMY") {
                "ISO, DMY".into()
            } else if v.contains("YMD") {
                "ISO, YMD".into()
            } else {
                "ISO, MDY".into()
            }
        }
        _ => value.to_string(),
    })
}

fn is_offset(tz: &str) -> bool {
    let t = tz
        .strip_prefix('+')
        .or_else(|| tz.strip_prefix('-'))
        .unwrap_or(tz);
    !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_show_reset_and_reporting() {
        let mut s = Settings::new("ann", 1024);
        assert_eq!(s.get("DateStyle").unwrap(), "ISO, MDY");
        s.set("application_name", "psql").unwrap();
        s.set("extra_float_digits", "3").unwrap();
        assert_eq!(
            s.take_changes(),
            vec![("application_name".to_string(), "psql".to_string())]
        );
        assert!(s.take_changes().is_empty());
        assert_eq!(s.get("nope").unwrap_err().code, "42704");
        assert_eq!(s.set("server_version", "9").unwrap_err().code, "55P02");
        s.set("my.custom", "x").unwrap();
        assert_eq!(s.get("my.custom").unwrap(), "x");
        assert_eq!(
            s.search_path("ann"),
            vec!["ann".to_string(), "public".to_string()]
        );
        s.reset("extra_float_digits", "ann", 1024).unwrap();
        assert_eq!(s.extra_float_digits(), 1);
        assert_eq!(s.query_memory_limit_bytes(), Some(1024 << 20));
        assert_eq!(s.set("extra_float_digits", "9").unwrap_err().code, "22023");
    }
}
