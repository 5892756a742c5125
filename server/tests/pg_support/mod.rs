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
        Self::start_with_workers(2).await
    }

    /// Starts a server with `workers` workers on a free port.
    pub async fn start_with_workers(workers: usize) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            pg_listen: "127.0.0.1:0".parse().expect("address"),
            workers,
            ..Config::default()
        };
        let server = Server::start(config).await.expect("server starts");
        let addr = server.pg_addr().expect("pg listener");
        Self {
            server,
            addr,
            _dir: dir,
        }
    }

    /// A libpq-style connection string with extra settings.
    pub fn conn_str(&self, extra: &str) -> String {
        format!(
            "host={} port={} user=tidewater {extra}",
            self.addr.ip(),
            self.addr.port()
        )
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
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_string))
                    .collect(),
            ),
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

/// A client that speaks the wire protocol byte by byte, for what
/// tokio-postgres cannot send (text-format parameters, explicit pipelines,
/// malformed messages).
pub struct RawClient {
    pub stream: tokio::net::TcpStream,
    buf: Vec<u8>,
}

/// A backend message: type byte and body.
pub type Message = (u8, Vec<u8>);

impl RawClient {
    /// Opens a TCP connection without starting up.
    pub async fn open(addr: SocketAddr) -> Self {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("tcp connect");
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    /// Opens a connection and completes startup as `user` on `database`.
    pub async fn connect(addr: SocketAddr) -> Self {
        let mut c = Self::open(addr).await;
        c.send(&startup(&[
            ("user", "tidewater"),
            ("database", "tidewater"),
        ]))
        .await;
        let messages = c.until_ready().await;
        assert!(messages.iter().any(|(t, _)| *t == b'R'), "{messages:?}");
        c
    }

    /// Writes bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Reads one byte (the answer to SSLRequest).
    pub async fn recv_byte(&mut self) -> u8 {
        self.fill(1).await.expect("a byte");
        self.buf.remove(0)
    }

    async fn fill(&mut self, n: usize) -> Option<()> {
        use tokio::io::AsyncReadExt;
        while self.buf.len() < n {
            let mut chunk = [0u8; 8192];
            let read = tokio::time::timeout(
                std::time::Duration::from_secs(30),
                self.stream.read(&mut chunk),
            )
            .await
            .expect("server answers within 30s");
            match read {
                Ok(0) | Err(_) => return None,
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
            }
        }
        Some(())
    }

    /// Reads one message; `None` when the server closed the connection.
    pub async fn recv(&mut self) -> Option<Message> {
        self.fill(5).await?;
        let len = i32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        self.fill(len + 1).await?;
        let kind = self.buf[0];
        let body = self.buf[5..len + 1].to_vec();
        self.buf.drain(..len + 1);
        Some((kind, body))
    }

    /// Reads messages up to and including ReadyForQuery.
    pub async fn until_ready(&mut self) -> Vec<Message> {
        let mut out = Vec::new();
        loop {
            let m = self
                .recv()
                .await
                .unwrap_or_else(|| panic!("connection closed after {out:?}"));
            let done = m.0 == b'Z';
            out.push(m);
            if done {
                return out;
            }
        }
    }

    /// Reads messages until the server closes the connection.
    pub async fn until_closed(&mut self) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(m) = self.recv().await {
            out.push(m);
        }
        out
    }
}

fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn cstr(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

/// A startup message (protocol 3.0).
pub fn startup(params: &[(&str, &str)]) -> Vec<u8> {
    startup_version(3, 0, params)
}

/// A startup message for a given protocol version.
pub fn startup_version(major: u16, minor: u16, params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&major.to_be_bytes());
    body.extend_from_slice(&minor.to_be_bytes());
    for (k, v) in params {
        cstr(&mut body, k);
        cstr(&mut body, v);
    }
    body.push(0);
    let mut out = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

/// SSLRequest.
pub fn ssl_request() -> Vec<u8> {
    let mut out = 8i32.to_be_bytes().to_vec();
    out.extend_from_slice(&80_877_103i32.to_be_bytes());
    out
}

/// Simple Query.
pub fn query(sql: &str) -> Vec<u8> {
    let mut body = Vec::new();
    cstr(&mut body, sql);
    message(b'Q', &body)
}

/// Parse.
pub fn parse(name: &str, sql: &str, oids: &[u32]) -> Vec<u8> {
    let mut body = Vec::new();
    cstr(&mut body, name);
    cstr(&mut body, sql);
    body.extend_from_slice(&(oids.len() as i16).to_be_bytes());
    for o in oids {
        body.extend_from_slice(&o.to_be_bytes());
    }
    message(b'P', &body)
}

/// Bind.
pub fn bind(
    portal: &str,
    statement: &str,
    formats: &[i16],
    params: &[Option<&[u8]>],
    results: &[i16],
) -> Vec<u8> {
    let mut body = Vec::new();
    cstr(&mut body, portal);
    cstr(&mut body, statement);
    body.extend_from_slice(&(formats.len() as i16).to_be_bytes());
    for f in formats {
        body.extend_from_slice(&f.to_be_bytes());
    }
    body.extend_from_slice(&(params.len() as i16).to_be_bytes());
    for p in params {
        match p {
            Some(v) => {
                body.extend_from_slice(&(v.len() as i32).to_be_bytes());
                body.extend_from_slice(v);
            }
            None => body.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    body.extend_from_slice(&(results.len() as i16).to_be_bytes());
    for f in results {
        body.extend_from_slice(&f.to_be_bytes());
    }
    message(b'B', &body)
}

/// Describe (`b'S'` statement or `b'P'` portal).
pub fn describe(kind: u8, name: &str) -> Vec<u8> {
    let mut body = vec![kind];
    cstr(&mut body, name);
    message(b'D', &body)
}

/// Execute.
pub fn execute(portal: &str, max_rows: i32) -> Vec<u8> {
    let mut body = Vec::new();
    cstr(&mut body, portal);
    body.extend_from_slice(&max_rows.to_be_bytes());
    message(b'E', &body)
}

/// Close (`b'S'` or `b'P'`).
pub fn close(kind: u8, name: &str) -> Vec<u8> {
    let mut body = vec![kind];
    cstr(&mut body, name);
    message(b'C', &body)
}

/// Sync.
pub fn sync() -> Vec<u8> {
    message(b'S', &[])
}

/// Any message, for malformed ones.
pub fn raw_message(kind: u8, body: &[u8]) -> Vec<u8> {
    message(kind, body)
}

/// The type bytes of messages, as a string (`"1t T2DC Z"` style checks).
pub fn kinds(messages: &[Message]) -> String {
    messages.iter().map(|(k, _)| *k as char).collect()
}

/// The fields of an ErrorResponse / NoticeResponse body.
pub fn error_fields(body: &[u8]) -> std::collections::HashMap<char, String> {
    let mut fields = std::collections::HashMap::new();
    let mut rest = body;
    while let Some((&code, tail)) = rest.split_first() {
        if code == 0 {
            break;
        }
        let end = tail.iter().position(|b| *b == 0).expect("terminated field");
        fields.insert(
            code as char,
            String::from_utf8_lossy(&tail[..end]).into_owned(),
        );
        rest = &tail[end + 1..];
    }
    fields
}

/// The SQLSTATE of the first ErrorResponse among `messages`.
pub fn error_code(messages: &[Message]) -> Option<String> {
    messages
        .iter()
        .find(|(k, _)| *k == b'E')
        .map(|(_, body)| error_fields(body)[&'C'].clone())
}

/// The fields of a DataRow body.
pub fn data_row(body: &[u8]) -> Vec<Option<Vec<u8>>> {
    let n = i16::from_be_bytes([body[0], body[1]]) as usize;
    let mut rest = &body[2..];
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let len = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        rest = &rest[4..];
        if len < 0 {
            out.push(None);
        } else {
            out.push(Some(rest[..len as usize].to_vec()));
            rest = &rest[len as usize..];
        }
    }
    out
}

/// DataRows of `messages` with text values.
pub fn text_rows(messages: &[Message]) -> Vec<Vec<Option<String>>> {
    messages
        .iter()
        .filter(|(k, _)| *k == b'D')
        .map(|(_, body)| {
            data_row(body)
                .into_iter()
                .map(|v| v.map(|b| String::from_utf8(b).expect("utf-8")))
                .collect()
        })
        .collect()
}

/// Type OIDs of a RowDescription body.
pub fn row_description_oids(body: &[u8]) -> Vec<(String, u32, i16)> {
    let n = i16::from_be_bytes([body[0], body[1]]) as usize;
    let mut rest = &body[2..];
    let mut out = Vec::new();
    for _ in 0..n {
        let end = rest.iter().position(|b| *b == 0).expect("name");
        let name = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[end + 1..];
        let oid = u32::from_be_bytes([rest[6], rest[7], rest[8], rest[9]]);
        let format = i16::from_be_bytes([rest[16], rest[17]]);
        out.push((name, oid, format));
        rest = &rest[18..];
    }
    out
}

/// A table of `2^doublings` rows that all share one key, for slow self
/// joins: `slow(n)` joins it with itself.
pub async fn create_slow_table(client: &Client, name: &str, doublings: usize) {
    client
        .batch_execute(&format!(
            "CREATE TABLE {name} (k INT, v BIGINT); INSERT INTO {name} VALUES (1, 1)"
        ))
        .await
        .expect("create slow table");
    for _ in 0..doublings {
        client
            .simple_query(&format!("INSERT INTO {name} SELECT k, v FROM {name}"))
            .await
            .expect("double slow table");
    }
}

/// The error of a connection attempt that must fail.
pub async fn connect_error(conn_str: &str) -> tokio_postgres::Error {
    match tokio_postgres::connect(conn_str, NoTls).await {
        Ok(_) => panic!("{conn_str}: connected"),
        Err(e) => e,
    }
}
