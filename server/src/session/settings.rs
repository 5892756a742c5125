//! Session settings (`SET` / `SHOW`): the values of one session, for the
//! settings of the registry ([`tidewater_runtime::settings`]), plus the
//! custom (dotted) ones clients set.

use std::collections::BTreeMap;

use crate::error::{SqlError, SqlResult};

pub use tidewater_runtime::settings::{SERVER_VERSION, SERVER_VERSION_NUM};
use tidewater_runtime::settings::{SETTINGS, Setting, setting};

/// The registry's entry for a canonical (lower-case) key.
fn param(key: &str) -> Option<&'static Setting> {
    setting(key)
}

/// The settings of one session.
#[derive(Debug, Clone)]
pub struct Settings {
    values: BTreeMap<String, String>,
    /// Reportable parameters changed since last taken.
    changed: Vec<String>,
    /// Counts changes, so that plans made with other values are not reused.
    generation: u64,
}

impl Settings {
    /// Defaults for a session of `user`, with the query memory limit of
    /// the server.
    pub fn new(user: &str, query_memory_limit_mb: usize) -> Self {
        let mut values: BTreeMap<String, String> = SETTINGS
            .iter()
            .map(|p| (canonical(p.name), p.default.to_string()))
            .collect();
        values.insert("session_authorization".into(), user.to_string());
        values.insert(
            "query_memory_limit".into(),
            format!("{query_memory_limit_mb}MB"),
        );
        Self {
            values,
            changed: Vec::new(),
            generation: 0,
        }
    }

    /// The parameters every client receives after authentication.
    pub fn startup_parameters(&self) -> Vec<(String, String)> {
        SETTINGS
            .iter()
            .filter(|p| p.report)
            .map(|p| (p.name.to_string(), self.values[&canonical(p.name)].clone()))
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
        self.generation += 1;
        Ok(())
    }

    /// A number that changes whenever a setting does.
    pub fn generation(&self) -> u64 {
        self.generation
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
                self.generation += 1;
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

    /// `statement_timeout`, when set (0 is none).
    pub fn statement_timeout(&self) -> Option<std::time::Duration> {
        parse_millis(&self.values["statement_timeout"])
            .filter(|ms| *ms > 0)
            .map(std::time::Duration::from_millis)
    }

    /// The query memory limit in bytes, per worker.
    pub fn query_memory_limit_bytes(&self) -> Option<usize> {
        parse_memory(&self.values["query_memory_limit"])
    }

    /// Where queries run (`query_mode`).
    pub fn query_mode(&self) -> QueryMode {
        match self.values["query_mode"].as_str() {
            "local" => QueryMode::Local,
            "distributed" => QueryMode::Distributed,
            _ => QueryMode::Auto,
        }
    }
}

/// Where a session's queries run (the `query_mode` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryMode {
    /// Local when the query's input is known to be small, else distributed.
    Auto,
    /// On one worker.
    Local,
    /// On every worker.
    Distributed,
}

/// The key of a parameter in a session's values: the registry's name in
/// lower case (aliases resolved), or the name itself in lower case for a
/// custom setting.
fn canonical(name: &str) -> String {
    match setting(name) {
        Some(p) => p.name.to_ascii_lowercase(),
        None => name.to_ascii_lowercase(),
    }
}

/// The spelling Postgres uses for a parameter (`DateStyle`, `TimeZone`).
fn display_name(key: &str) -> &str {
    setting(key).map_or(key, |p| p.name)
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
        "statement_timeout" | "idle_in_transaction_session_timeout" | "lock_timeout" => {
            let ms = parse_millis(value).ok_or_else(bad)?;
            if ms > i32::MAX as u64 {
                return Err(bad());
            }
            format_millis(ms)
        }
        "query_memory_limit" => {
            parse_memory(value).filter(|n| *n > 0).ok_or_else(bad)?;
            value.trim().to_string()
        }
        "query_mode" => {
            let v = value.trim().trim_matches('\'').to_ascii_lowercase();
            let allowed = setting(key).map_or(&[][..], |s| s.enumvals);
            if !allowed.contains(&v.as_str()) {
                return Err(bad());
            }
            v
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

/// A time setting in milliseconds: a number (of milliseconds) or a number
/// with a unit (`ms`, `s`, `min`, `h`, `d`), as Postgres reads them.
fn parse_millis(value: &str) -> Option<u64> {
    let v = value.trim().trim_matches('\'').trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit.trim() {
        "" | "ms" => 1.0,
        "s" => 1e3,
        "min" => 6e4,
        "h" => 3.6e6,
        "d" => 8.64e7,
        _ => return None,
    };
    let ms = (number * scale).round();
    (ms.is_finite() && ms >= 0.0).then_some(ms as u64)
}

/// Milliseconds as `SHOW` prints them: in the largest unit that divides
/// them (`0`, `250ms`, `5s`, `2min`, `1h`, `1d`).
fn format_millis(ms: u64) -> String {
    if ms == 0 {
        return "0".into();
    }
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("min", 60_000),
        ("s", 1000),
    ] {
        if ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
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
        for (given, shown, ms) in [
            ("0", "0", None),
            ("250", "250ms", Some(250)),
            ("'5s'", "5s", Some(5000)),
            ("1.5s", "1500ms", Some(1500)),
            ("2min", "2min", Some(120_000)),
        ] {
            s.set("statement_timeout", given).unwrap();
            assert_eq!(s.get("statement_timeout").unwrap(), shown);
            assert_eq!(
                s.statement_timeout(),
                ms.map(std::time::Duration::from_millis)
            );
        }
        for bad in ["-1", "5 parsecs", "x", "99999999999"] {
            assert!(s.set("statement_timeout", bad).is_err(), "{bad}");
        }
        assert_eq!(s.set("extra_float_digits", "9").unwrap_err().code, "22023");
        assert_eq!(s.query_mode(), QueryMode::Auto);
        s.set("query_mode", "LOCAL").unwrap();
        assert_eq!(s.query_mode(), QueryMode::Local);
        assert_eq!(s.get("query_mode").unwrap(), "local");
        assert_eq!(s.set("query_mode", "nowhere").unwrap_err().code, "22023");
    }
}
