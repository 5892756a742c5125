//! Shared setup of the pg wire protocol tests: a server started in-process
//! on a free port with a temporary data directory, and clients for it.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;

use tidewater_server::Server;
use tidewater_server::config::Config;
use tokio_postgres::{Client, NoTls};

/// A running server and its data directory.
pub struct TestServer {
    pub server: Server,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server with two workers on a free port.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            pg_listen: "127.0.0.1:0".parse().expect("address"),
            workers: 2,
            ..Config::default()
        };
        let server = Server::start(config).await.expect("server starts");
        let addr = server.pg_addr().expect("pg listener");
        Self { server, addr, _dir: dir }
    }

    /// A libpq-style connection string with extra settings.
    pub fn conn_str(&self, extra: &str) -> String {
        format!("host={} port={} user=tidewater {extra}", self.addr.ip(), self.addr.port())
    }

    /// Connects a client (its connection task is spawned).
    pub async fn connect(&self) -> Client {
        self.connect_with("").await
    }

    /// Connects with extra connection string settings.
    pub async fn connect_with(&self, extra: &str) -> Client {
        let (client, connection) = tokio_postgres::connect(&self.conn_str(extra), NoTls)
            .await
            .expect("connects");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }
}

/// The values of a simple query's rows, as text (`None` for NULL).
pub async fn simple_rows(client: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => {
                Some((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

/// The single text value of a one-row, one-column simple query.
pub async fn simple_value(client: &Client, sql: &str) -> Option<String> {
    let rows = simple_rows(client, sql).await;
    assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
    assert_eq!(rows[0].len(), 1, "{sql}: {rows:?}");
    rows[0][0].clone()
}

/// The SQLSTATE of a failed query.
pub fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code()
        .map(|c| c.code().to_string())
        .unwrap_or_else(|| panic!("not a server error: {e:?}"))
}
