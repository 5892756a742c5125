//! The sqllogictest runner: drives a real Tidewater server over the
//! Postgres wire protocol, with the simple query protocol ([`Protocol::Simple`])
//! or the extended one ([`Protocol::Extended`]).
//!
//! [`TestServer`] starts a server in-process on a free port with a temporary
//! data directory. [`run_file`] runs one `.slt` file record by record and
//! reports how many records passed, so the same code serves the project's
//! own test files (which must pass completely) and outside conformance
//! corpora (where the pass rate is the result).
//!
//! Values are rendered as the `sqllogictest` Postgres engines do: text as
//! the server sends it in the simple protocol (`NULL` for null, `(empty)`
//! for the empty string), and from binary values in the extended protocol.
//! Errors display as `SQLSTATE: message`, so `.slt` files can pin both.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use futures::{StreamExt, pin_mut};
use sqllogictest::{DBOutput, DefaultColumnType, Record, Runner};
use tidewater_server::Server;
use tidewater_server::config::Config;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls};

/// Which protocol the engine uses for every statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `Query` messages, text results.
    Simple,
    /// `Parse`/`Bind`/`Execute`, binary results.
    Extended,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Simple => write!(f, "simple"),
            Protocol::Extended => write!(f, "extended"),
        }
    }
}

/// A server for tests: in-process, on a free loopback port, with a
/// temporary data directory removed when dropped.
#[derive(Debug)]
pub struct TestServer {
    server: Option<Server>,
    port: u16,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server with `workers` worker threads.
    ///
    /// # Errors
    ///
    /// When the server cannot start.
    pub async fn start(workers: usize) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let config = Config {
            data_dir: dir.path().join("data"),
            pg_listen: "127.0.0.1:0".parse()?,
            workers,
            ..Config::default()
        };
        let server = Server::start(config).await?;
        let port = server
            .pg_addr()
            .ok_or_else(|| anyhow::anyhow!("server has no pg listener"))?
            .port();
        Ok(Self {
            server: Some(server),
            port,
            _dir: dir,
        })
    }

    /// The pg port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

/// An error as the engine reports it.
#[derive(Debug)]
pub struct EngineError {
    code: Option<String>,
    message: String,
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for EngineError {}

impl From<tokio_postgres::Error> for EngineError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => Self {
                code: Some(db.code().code().to_string()),
                message: db.message().to_string(),
            },
            None => Self {
                code: None,
                message: e.to_string(),
            },
        }
    }
}

/// A sqllogictest engine over one pg connection.
#[derive(Debug)]
pub struct PgEngine {
    client: Client,
    protocol: Protocol,
    connection: tokio::task::JoinHandle<()>,
}

impl PgEngine {
    /// Connects to a server on `port`.
    ///
    /// # Errors
    ///
    /// When the connection fails.
    pub async fn connect(port: u16, protocol: Protocol) -> Result<Self, EngineError> {
        let (client, connection) = tokio_postgres::connect(
            &format!("host=127.0.0.1 port={port} user=tidewater dbname=tidewater"),
            NoTls,
        )
        .await?;
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self {
            client,
            protocol,
            connection,
        })
    }

    async fn run_simple(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, EngineError> {
        let mut rows = Vec::new();
        let mut count = 0;
        let mut columns = None;
        for message in self.client.simple_query(sql).await? {
            match message {
                tokio_postgres::SimpleQueryMessage::Row(row) => {
                    rows.push(
                        (0..row.len())
                            .map(|i| match row.get(i) {
                                None => "NULL".to_string(),
                                Some("") => "(empty)".to_string(),
                                Some(v) => v.to_string(),
                            })
                            .collect::<Vec<_>>(),
                    );
                }
                tokio_postgres::SimpleQueryMessage::RowDescription(d) => columns = Some(d.len()),
                tokio_postgres::SimpleQueryMessage::CommandComplete(n) => count = n,
                _ => {}
            }
        }
        Ok(match columns {
            Some(n) => DBOutput::Rows {
                types: vec![DefaultColumnType::Any; n],
                rows,
            },
            None => DBOutput::StatementComplete(count),
        })
    }

    async fn run_extended(
        &mut self,
        sql: &str,
    ) -> Result<DBOutput<DefaultColumnType>, EngineError> {
        let statement = self.client.prepare(sql).await?;
        let stream = self
            .client
            .query_raw(&statement, std::iter::empty::<&(dyn ToSql + Sync)>())
            .await?;
        pin_mut!(stream);
        let mut rows = Vec::new();
        while let Some(row) = stream.next().await {
            let row = row?;
            let mut values = Vec::with_capacity(row.len());
            for (i, column) in row.columns().iter().enumerate() {
                values.push(render_binary(&row, i, column.type_())?);
            }
            rows.push(values);
        }
        if statement.columns().is_empty() {
            Ok(DBOutput::StatementComplete(
                stream.rows_affected().unwrap_or(0),
            ))
        } else {
            Ok(DBOutput::Rows {
                types: vec![DefaultColumnType::Any; statement.columns().len()],
                rows,
            })
        }
    }
}

fn float_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "Infinity".into()
    } else if v == f64::NEG_INFINITY {
        "-Infinity".into()
    } else {
        v.to_string()
    }
}

/// Renders a binary-format value as the sqllogictest Postgres extended
/// engine does.
fn render_binary(row: &tokio_postgres::Row, i: usize, ty: &Type) -> Result<String, EngineError> {
    fn text<T: ToString>(v: Option<T>) -> String {
        v.map_or_else(|| "NULL".to_string(), |v| v.to_string())
    }
    let out = match *ty {
        Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map_or_else(
            || "NULL".into(),
            |b| if b { "t".into() } else { "f".into() },
        ),
        Type::INT2 => text(row.try_get::<_, Option<i16>>(i)?),
        Type::INT4 => text(row.try_get::<_, Option<i32>>(i)?),
        Type::INT8 => text(row.try_get::<_, Option<i64>>(i)?),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)?
            .map_or_else(|| "NULL".into(), |v| float_text(f64::from(v))),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)?
            .map_or_else(|| "NULL".into(), float_text),
        Type::NUMERIC => text(row.try_get::<_, Option<rust_decimal::Decimal>>(i)?),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
            match row.try_get::<_, Option<String>>(i)? {
                None => "NULL".into(),
                Some(s) if s.is_empty() => "(empty)".into(),
                Some(s) => s,
            }
        }
        // Postgres's one-byte "char" (pg_class.relkind and friends).
        Type::CHAR => match row.try_get::<_, Option<i8>>(i)? {
            None => "NULL".into(),
            Some(0) => "(empty)".into(),
            Some(c) => char::from(c.to_ne_bytes()[0]).to_string(),
        },
        Type::DATE => text(row.try_get::<_, Option<chrono::NaiveDate>>(i)?),
        Type::TIME => text(row.try_get::<_, Option<chrono::NaiveTime>>(i)?),
        Type::TIMESTAMP => text(row.try_get::<_, Option<chrono::NaiveDateTime>>(i)?),
        Type::TIMESTAMPTZ => text(row.try_get::<_, Option<chrono::DateTime<chrono::Utc>>>(i)?),
        _ => {
            return Err(EngineError {
                code: None,
                message: format!("the test engine cannot render type {ty}"),
            });
        }
    };
    Ok(out)
}

#[async_trait]
impl sqllogictest::AsyncDB for PgEngine {
    type Error = EngineError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        match self.protocol {
            Protocol::Simple => self.run_simple(sql).await,
            Protocol::Extended => self.run_extended(sql).await,
        }
    }

    async fn shutdown(&mut self) {
        self.connection.abort();
    }

    fn engine_name(&self) -> &str {
        match self.protocol {
            Protocol::Simple => "postgres",
            Protocol::Extended => "postgres-extended",
        }
    }

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await
    }

    fn error_sql_state(err: &Self::Error) -> Option<String> {
        err.code.clone()
    }
}

/// The outcome of running one file.
#[derive(Debug, Default)]
pub struct FileReport {
    /// Records run (statements and queries).
    pub total: usize,
    /// Records that passed.
    pub passed: usize,
    /// The first failures, rendered.
    pub failures: Vec<String>,
}

/// Runs every record of a file against the server on `port`, continuing
/// after failures. At most `keep_failures` failure messages are kept.
///
/// # Errors
///
/// When the file cannot be read or parsed.
pub async fn run_file(
    path: &Path,
    port: u16,
    protocol: Protocol,
    keep_failures: usize,
) -> anyhow::Result<FileReport> {
    let records = sqllogictest::parse_file::<DefaultColumnType>(path)
        .map_err(|e| anyhow::anyhow!("cannot parse {}: {e}", path.display()))?;
    let mut runner = Runner::new(move || PgEngine::connect(port, protocol));
    runner.add_label("tidewater");
    let mut report = FileReport::default();
    for record in records {
        let counted = matches!(record, Record::Statement { .. } | Record::Query { .. });
        let result = runner.run_async(record).await;
        if counted {
            report.total += 1;
        }
        match result {
            Ok(_) => {
                if counted {
                    report.passed += 1;
                }
            }
            Err(e) => {
                if report.failures.len() < keep_failures {
                    report.failures.push(e.display(false).to_string());
                }
            }
        }
    }
    Ok(report)
}
