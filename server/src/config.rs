//! Server configuration: one typed struct with defaults in code,
//! overridable by a TOML file, `TIDEWATER_*` environment variables and
//! command-line flags (in that order of precedence, lowest first). Unknown
//! keys in the file are errors.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything the server needs to start.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where catalog and table data live.
    pub data_dir: PathBuf,
    /// Postgres wire protocol listener.
    pub pg_listen: SocketAddr,
    /// Arrow Flight SQL listener (not served yet).
    pub flight_listen: SocketAddr,
    /// HTTP and web UI listener (not served yet).
    pub http_listen: SocketAddr,
    /// Worker threads in this process (default: number of cores).
    pub workers: usize,
    /// Memory one query may use on one worker, in MiB.
    pub query_memory_limit_mb: usize,
    /// Cluster membership, when running as one process of a cluster.
    pub cluster: Option<ClusterSettings>,
    /// How often running materialized views are checkpointed: an interval
    /// such as `10 seconds` or `500 milliseconds`.
    pub checkpoint_interval: String,
    /// Completed checkpoints kept per materialized view.
    pub checkpoint_retain: usize,
    /// Where checkpoints go: `s3://bucket/prefix`, or (none) the data
    /// directory.
    pub checkpoint_store: Option<String>,
    /// Options of an S3 checkpoint store (`endpoint`, `region`, …).
    pub checkpoint_store_options: std::collections::BTreeMap<String, String>,
}

/// Cluster settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// File listing `host:port` of every process, one per line, in order.
    pub hosts_file: PathBuf,
    /// Index of this process (0 serves clients).
    pub process: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("tidewater-data"),
            pg_listen: "127.0.0.1:6543".parse().expect("valid address"),
            flight_listen: "127.0.0.1:6544".parse().expect("valid address"),
            http_listen: "127.0.0.1:6545".parse().expect("valid address"),
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            query_memory_limit_mb: 4096,
            cluster: None,
            checkpoint_interval: "10 seconds".to_string(),
            checkpoint_retain: 3,
            checkpoint_store: None,
            checkpoint_store_options: Default::default(),
        }
    }
}

impl Config {
    /// Reads a TOML config file over the defaults.
    ///
    /// # Errors
    ///
    /// Unreadable file, bad TOML, unknown keys or bad values.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("invalid config file {}: {e}", path.display()))
    }

    /// Applies `TIDEWATER_*` environment variables.
    ///
    /// # Errors
    ///
    /// A variable whose value does not parse.
    pub fn apply_env(
        &mut self,
        vars: impl Iterator<Item = (String, String)>,
    ) -> anyhow::Result<()> {
        for (key, value) in vars {
            let Some(name) = key.strip_prefix("TIDEWATER_") else {
                continue;
            };
            let bad = |e: &dyn std::fmt::Display| anyhow::anyhow!("invalid value for {key}: {e}");
            match name {
                "DATA_DIR" => self.data_dir = PathBuf::from(value),
                "PG_LISTEN" => self.pg_listen = value.parse().map_err(|e| bad(&e))?,
                "FLIGHT_LISTEN" => self.flight_listen = value.parse().map_err(|e| bad(&e))?,
                "HTTP_LISTEN" => self.http_listen = value.parse().map_err(|e| bad(&e))?,
                "WORKERS" => self.workers = value.parse().map_err(|e| bad(&e))?,
                "QUERY_MEMORY_LIMIT_MB" => {
                    self.query_memory_limit_mb = value.parse().map_err(|e| bad(&e))?
                }
                "CHECKPOINT_INTERVAL" => self.checkpoint_interval = value,
                "CHECKPOINT_RETAIN" => {
                    self.checkpoint_retain = value.parse().map_err(|e| bad(&e))?
                }
                "CHECKPOINT_STORE" => self.checkpoint_store = Some(value),
                "LOG" | "CONFIG" => {}
                other => anyhow::bail!("unknown environment setting TIDEWATER_{other}"),
            }
        }
        Ok(())
    }

    /// Checks values that cannot be expressed in types.
    ///
    /// # Errors
    ///
    /// Zero workers or memory.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.workers > 0, "workers must be at least 1");
        anyhow::ensure!(
            self.query_memory_limit_mb > 0,
            "query_memory_limit_mb must be at least 1"
        );
        self.checkpoint_settings()?;
        self.checkpoint_store()?;
        Ok(())
    }

    /// Where checkpoints go.
    ///
    /// # Errors
    ///
    /// A store URL that is not `s3://bucket/…`, or an unknown option.
    pub fn checkpoint_store(&self) -> anyhow::Result<crate::checkpoint::StoreLocation> {
        crate::checkpoint::StoreLocation::parse(
            self.checkpoint_store.as_deref(),
            &self.checkpoint_store_options,
        )
        .map_err(|e| anyhow::anyhow!(e))
    }

    /// The checkpoint settings.
    ///
    /// # Errors
    ///
    /// An interval that does not parse or is not positive, or a retention
    /// of zero.
    pub fn checkpoint_settings(&self) -> anyhow::Result<crate::checkpoint::CheckpointSettings> {
        let micros = tidewater_runtime::pgtypes::text::parse_fixed_interval_micros(
            &self.checkpoint_interval,
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "invalid checkpoint_interval '{}': {e}",
                self.checkpoint_interval
            )
        })?;
        anyhow::ensure!(
            micros > 0,
            "checkpoint_interval must be positive, not '{}'",
            self.checkpoint_interval
        );
        anyhow::ensure!(
            self.checkpoint_retain > 0,
            "checkpoint_retain must be at least 1"
        );
        Ok(crate::checkpoint::CheckpointSettings {
            interval: std::time::Duration::from_micros(micros as u64),
            retain: self.checkpoint_retain,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_env_and_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, "workers = 3\npg_listen = \"127.0.0.1:7000\"\n").unwrap();
        let mut c = Config::from_file(&path).unwrap();
        assert_eq!(c.workers, 3);
        assert_eq!(c.pg_listen.port(), 7000);
        c.apply_env([("TIDEWATER_WORKERS".to_string(), "5".to_string())].into_iter())
            .unwrap();
        assert_eq!(c.workers, 5);
        std::fs::write(&path, "wokers = 3\n").unwrap();
        let err = Config::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("wokers"), "{err}");
        assert!(
            c.apply_env([("TIDEWATER_NOPE".to_string(), "1".to_string())].into_iter())
                .is_err()
        );
    }

    #[test]
    fn checkpoint_store_urls_and_options() {
        use crate::checkpoint::StoreLocation;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(
            &path,
            "checkpoint_store = \"s3://b/some/prefix/\"\n\
             [checkpoint_store_options]\nendpoint = \"http://127.0.0.1:9000\"\n\
             allow_http = \"true\"\n",
        )
        .unwrap();
        let mut c = Config::from_file(&path).unwrap();
        match c.checkpoint_store().unwrap() {
            StoreLocation::S3 {
                bucket,
                prefix,
                options,
            } => {
                assert_eq!((bucket.as_str(), prefix.as_str()), ("b", "some/prefix"));
                assert_eq!(options.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        c.checkpoint_store_options
            .insert("endpont".into(), "x".into());
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("endpont"), "{err}");
        for bad in ["/var/ck", "gs://b/p", "s3:///p"] {
            c.checkpoint_store = Some(bad.into());
            assert!(c.checkpoint_store().is_err(), "{bad}");
        }
        let c = Config::default();
        assert_eq!(c.checkpoint_store().unwrap(), StoreLocation::DataDir);
    }
}
