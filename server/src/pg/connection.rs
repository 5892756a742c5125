//! One client connection: the startup handshake, then the simple and
//! extended query protocols and `COPY FROM STDIN`, each turned into calls
//! on the connection's [`Session`].
//!
//! Prepared statements and portals belong to the session
//! ([`crate::session::portal`]); the connection decodes parameter values
//! from their wire formats, encodes rows in the formats the client asked
//! for, and keeps the protocol's own state: after an error, messages are
//! skipped until Sync. Portals end with the (implicit or explicit)
//! transaction, at ReadyForQuery outside a block.
//!
//! # Cancellation
//!
//! A query stops when the client sends a CancelRequest (through the
//! session's cancel handle), when the client disconnects (the socket is
//! watched while waiting for results; dropping the row stream cancels the
//! query) and when the server shuts down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{Schema, SchemaRef};
use bytes::BytesMut;
use pgwire::api::Type;
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyInResponse, CopyOutResponse};
use pgwire::messages::data::{
    DataRow, FieldDescription, NoData, ParameterDescription, RowDescription,
};
use pgwire::messages::extendedquery::{
    BindComplete, CloseComplete, ParseComplete, PortalSuspended,
};
use pgwire::messages::response::{
    CommandComplete, EmptyQueryResponse, ReadyForQuery, TransactionStatus as WireStatus,
};
use pgwire::messages::startup::{
    Authentication, BackendKeyData, NegotiateProtocolVersion, ParameterStatus, SecretKey,
};
use sqlparser::ast::Statement;
use tidewater_planner::statement::{CopyFormat, CopyOptions};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::cancel::{CancelRegistry, Registration};
use super::encode::{
    EncodeContext, Format, char_column, encode_copy_row, encode_row, normalize_column,
    vector_column,
};
use super::error::{Severity, error_response, notice_response};
use super::params::{decode_param, expand_formats};
use super::protocol::{
    FrontendMessage, MessageReader, MessageWriter, ReadError, StartupPacket, Target,
};
use super::types::{pg_field_type, pg_type, type_size};
use crate::error::{SqlError, SqlResult};
use crate::session::copy::CopyIn;
use crate::session::portal::{PreparedStatement, ResultFormat};
use crate::session::{
    COLUMN_NUMBER_KEY, ExecResult, PortalStep, RowStream, ServerState, Session, TABLE_OID_KEY,
    TransactionStatus, rows_tag,
};

/// A client must finish the startup handshake within this time.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Protocol version 3.0, the one we speak.
const PROTOCOL_3_0: i32 = 3 << 16;
/// User name when the client sends none.
const DEFAULT_USER: &str = "tidewater";

/// Why handling a message stopped.
#[derive(Debug)]
enum Failure {
    /// A statement failed: report it and carry on.
    Sql(SqlError),
    /// The client broke the protocol: report it (FATAL) and close.
    Protocol(String),
    /// The client is gone or the server is shutting down: close.
    Closed,
}

impl From<SqlError> for Failure {
    fn from(e: SqlError) -> Self {
        Self::Sql(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        tracing::debug!(error = %e, "pg connection write failed");
        Self::Closed
    }
}

impl From<ReadError> for Failure {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Closed => Self::Closed,
            ReadError::Protocol(m) => Self::Protocol(m),
        }
    }
}

type Step<T = ()> = Result<T, Failure>;

/// Serves one client connection until it closes.
pub(crate) async fn run(
    socket: TcpStream,
    peer: SocketAddr,
    state: Arc<ServerState>,
    registry: Arc<CancelRegistry>,
    shutdown: CancellationToken,
) {
    let _ = socket.set_nodelay(true);
    let (read, write) = socket.into_split();
    let mut reader = MessageReader::new(read);
    let mut writer = MessageWriter::new(write);
    let started = tokio::select! {
        _ = shutdown.cancelled() => return,
        r = tokio::time::timeout(
            STARTUP_TIMEOUT,
            startup(&mut reader, &mut writer, state, &registry),
        ) => r,
    };
    let (session, registration) = match started {
        Ok(Ok(Some(s))) => s,
        Ok(Ok(None)) | Err(_) => return,
        Ok(Err(failure)) => {
            finish(&mut writer, failure).await;
            return;
        }
    };
    tracing::debug!(
        %peer,
        pid = registration.pid,
        user = session.user(),
        database = session.database(),
        "pg session started"
    );
    let mut connection = Connection {
        reader,
        writer,
        session,
        skipping: false,
        shutdown,
    };
    let failure = connection.serve().await;
    let shutting_down = connection.shutdown.is_cancelled();
    // Drop portals (and their running queries) before reporting.
    connection.session.close_all_portals();
    let failure = match failure {
        Failure::Closed if shutting_down => Failure::Sql(SqlError::new(
            "57P01",
            "terminating connection due to administrator command",
        )),
        other => other,
    };
    finish(&mut connection.writer, failure).await;
    tracing::debug!(%peer, pid = registration.pid, "pg session ended");
    drop(registration);
}

/// Sends the FATAL error that ends a connection, if there is one.
async fn finish(writer: &mut MessageWriter, failure: Failure) {
    let error = match failure {
        Failure::Closed => return,
        Failure::Protocol(m) => {
            tracing::debug!(error = %m, "pg protocol violation");
            SqlError::new("08P01", m)
        }
        Failure::Sql(e) => e,
    };
    if writer.send(error_response(&error, Severity::Fatal)).is_ok() {
        let _ = writer.flush().await;
    }
}

/// The startup handshake: SSL negotiation, cancel requests, the startup
/// message and its parameters, trust authentication and the session's
/// parameters. `None` when the connection ends without a session (a
/// cancel request, or the client went away).
async fn startup(
    reader: &mut MessageReader,
    writer: &mut MessageWriter,
    state: Arc<ServerState>,
    registry: &Arc<CancelRegistry>,
) -> Step<Option<(Session, Registration)>> {
    let mut negotiations = 0;
    let (major, minor, params) = loop {
        match reader.read_startup().await {
            Err(ReadError::Closed) => return Ok(None),
            Err(ReadError::Protocol(m)) => return Err(Failure::Protocol(m)),
            Ok(StartupPacket::SslRequest | StartupPacket::GssEncRequest) if negotiations < 2 => {
                negotiations += 1;
                writer.send_raw(b"N");
                writer.flush().await?;
            }
            Ok(StartupPacket::SslRequest | StartupPacket::GssEncRequest) => {
                return Err(Failure::Protocol("too many encryption requests".into()));
            }
            Ok(StartupPacket::Cancel { pid, secret }) => {
                let found = registry.cancel(pid, &secret);
                tracing::debug!(pid, found, "pg cancel request");
                return Ok(None);
            }
            Ok(StartupPacket::Startup {
                major,
                minor,
                params,
            }) => break (major, minor, params),
        }
    };
    if major != 3 {
        return Err(Failure::Sql(SqlError::not_supported(format!(
            "unsupported frontend protocol {major}.{minor}: server supports 3.0 to 3.0"
        ))));
    }
    let mut user = String::new();
    let mut database = String::new();
    let mut options = String::new();
    let mut settings = Vec::new();
    let mut unsupported = Vec::new();
    for (name, value) in params {
        match name.as_str() {
            "user" => user = value,
            "database" => database = value,
            "options" => options = value,
            "replication" => {
                if !matches!(
                    value.to_ascii_lowercase().as_str(),
                    "false" | "off" | "no" | "0"
                ) {
                    return Err(Failure::Sql(SqlError::not_supported(
                        "replication connections are not supported",
                    )));
                }
            }
            n if n.starts_with("_pq_.") => unsupported.push(name),
            _ => settings.push((name, value)),
        }
    }
    if minor > 0 || !unsupported.is_empty() {
        writer.send(PgWireBackendMessage::NegotiateProtocolVersion(
            NegotiateProtocolVersion::new(PROTOCOL_3_0, unsupported),
        ))?;
    }
    if user.is_empty() {
        user = DEFAULT_USER.to_string();
    }
    if database.is_empty() {
        database = user.clone();
    }
    let mut session = Session::new(state, &user, &database)?;
    for (name, value) in parse_options(&options)?.into_iter().chain(settings) {
        match session.settings_mut().set(&name, &value) {
            Ok(()) => {}
            // Clients send their locale's encoding; we always speak UTF8
            // and say so in ParameterStatus.
            Err(_) if name.eq_ignore_ascii_case("client_encoding") => {}
            Err(e) => return Err(Failure::Sql(e)),
        }
    }
    session.take_parameter_changes();
    let registration = registry.register(session.cancel_handle());
    writer.send(PgWireBackendMessage::Authentication(Authentication::Ok))?;
    for (name, value) in session.settings().startup_parameters() {
        writer.send(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
            name, value,
        )))?;
    }
    writer.send(PgWireBackendMessage::BackendKeyData(BackendKeyData::new(
        registration.pid,
        SecretKey::I32(registration.secret),
    )))?;
    writer.send(ready_for_query(session.transaction_status()))?;
    writer.flush().await?;
    Ok(Some((session, registration)))
}

/// Settings in the startup `options` parameter: `-c name=value`,
/// `-cname=value` or `--name=value`, separated by spaces (a backslash
/// escapes the next character).
fn parse_options(options: &str) -> SqlResult<Vec<(String, String)>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = options.chars();
    let mut in_word = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
                in_word = true;
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    let bad = |w: &str| {
        SqlError::syntax(format!(
            "invalid command-line argument for server process: {w}"
        ))
        .with_hint("Use \"-c name=value\".")
    };
    let mut settings = Vec::new();
    let mut words = words.into_iter();
    while let Some(w) = words.next() {
        let assignment = if w == "-c" {
            words.next().ok_or_else(|| bad(&w))?
        } else if let Some(rest) = w.strip_prefix("--").or_else(|| w.strip_prefix("-c")) {
            rest.to_string()
        } else {
            return Err(bad(&w));
        };
        let (name, value) = assignment.split_once('=').ok_or_else(|| bad(&assignment))?;
        settings.push((name.replace('-', "_"), value.to_string()));
    }
    Ok(settings)
}

fn ready_for_query(status: TransactionStatus) -> PgWireBackendMessage {
    PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(match status {
        TransactionStatus::Idle => WireStatus::Idle,
        TransactionStatus::InBlock => WireStatus::Transaction,
        TransactionStatus::Failed => WireStatus::Error,
    }))
}

fn command_complete(tag: impl Into<String>) -> PgWireBackendMessage {
    PgWireBackendMessage::CommandComplete(CommandComplete::new(tag.into()))
}

/// `RowDescription` for result columns sent in `formats`: each column's
/// type and type modifier and, for a column of a table, the table's OID
/// and the column's number.
fn row_description(schema: &Schema, formats: &[Format]) -> PgWireBackendMessage {
    let fields = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let (ty, typmod) = pg_field_type(f);
            // OIDs are unsigned; the message field is signed.
            let table = f
                .metadata()
                .get(TABLE_OID_KEY)
                .and_then(|v| v.parse::<u32>().ok())
                .map(|oid| oid as i32);
            let column = f
                .metadata()
                .get(COLUMN_NUMBER_KEY)
                .and_then(|v| v.parse::<i16>().ok());
            let (table, column) = table.zip(column).unwrap_or((0, 0));
            FieldDescription::new(
                f.name().clone(),
                table,
                column,
                ty.oid(),
                type_size(&ty),
                typmod,
                formats.get(i).copied().unwrap_or(Format::Text).code(),
            )
        })
        .collect();
    PgWireBackendMessage::RowDescription(RowDescription::new(fields))
}

/// How the columns of a result are sent: their formats and, when the
/// rows were described before execution, the types announced then
/// (batches are cast to them if needed).
#[derive(Debug)]
struct RowEncoding {
    /// Format of each column.
    formats: Vec<Format>,
    /// Column types announced in RowDescription.
    described: Option<SchemaRef>,
}

/// `statement_timeout` for one statement: once it expires, the statement's
/// running query is canceled (its rows stop with the cancel error, which
/// [`StatementTimer::finish`] reports as the timeout), and a statement
/// still executing (planning, waiting) is abandoned.
struct StatementTimer {
    deadline: Option<tokio::time::Instant>,
    fired: Arc<std::sync::atomic::AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl StatementTimer {
    fn start(timeout: Option<Duration>, cancel: crate::session::CancelHandle) -> Self {
        let fired = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let Some(timeout) = timeout else {
            return Self {
                deadline: None,
                fired,
                task: None,
            };
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let task = {
            let fired = Arc::clone(&fired);
            tokio::spawn(async move {
                tokio::time::sleep_until(deadline).await;
                fired.store(true, std::sync::atomic::Ordering::SeqCst);
                cancel.cancel();
            })
        };
        Self {
            deadline: Some(deadline),
            fired,
            task: Some(task),
        }
    }

    /// Returns once the timeout has passed (never without one).
    async fn expired(&self) {
        match self.deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    }

    /// The statement's outcome, its cancellation by the timer reported as
    /// the timeout.
    fn finish(self, step: Step) -> Step {
        if let Some(task) = &self.task {
            task.abort();
        }
        match step {
            Err(Failure::Sql(e))
                if e.code == "57014" && self.fired.load(std::sync::atomic::Ordering::SeqCst) =>
            {
                Err(Failure::Sql(statement_timed_out()))
            }
            other => other,
        }
    }
}

fn statement_timed_out() -> SqlError {
    SqlError::new("57014", "canceling statement due to statement timeout")
}

/// Where rows come from.
enum RowsFrom<'a> {
    /// A simple query's result.
    Stream(&'a mut RowStream),
    /// A portal of the session.
    Portal(&'a str),
}

/// How sending rows ended.
#[derive(Debug)]
enum Outcome {
    /// All rows sent; the count sent by this call.
    Done(u64),
    /// The row limit was reached.
    Suspended,
    /// The query failed.
    Failed(SqlError),
}

impl RowEncoding {
    /// The columns of a batch, as announced to the client.
    fn prepare(&self, batch: &RecordBatch) -> SqlResult<Vec<ArrayRef>> {
        if batch.num_columns() != self.formats.len() {
            return Err(SqlError::internal(format!(
                "result has {} columns, expected {}",
                batch.num_columns(),
                self.formats.len()
            )));
        }
        let schema = batch.schema();
        batch
            .columns()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let c = normalize_column(c)?;
                let field = match self.described.as_ref() {
                    Some(s) => s.field(i),
                    None => schema.field(i),
                };
                let t = field.data_type();
                let c = if pg_type(t) == pg_type(c.data_type()) {
                    c
                } else {
                    arrow::compute::cast(&c, t).map_err(|e| {
                        SqlError::internal(format!("result column {i} has an unexpected type: {e}"))
                    })?
                };
                match (self.formats[i], pg_field_type(field).0) {
                    (Format::Binary, Type::CHAR) => char_column(&c),
                    (Format::Text, Type::INT2_VECTOR | Type::OID_VECTOR) => vector_column(&c),
                    _ => Ok(c),
                }
            })
            .collect()
    }
}

/// Awaits `next` (the next rows of a result). When they are not ready,
/// what was sent so far is flushed first, so that a slow or continuous
/// query shows rows as they come; a client that goes away, or a server
/// shutdown, ends the wait.
async fn flushed_while_waiting<T>(
    writer: &mut MessageWriter,
    reader: &mut MessageReader,
    shutdown: &CancellationToken,
    next: impl Future<Output = T>,
) -> Result<T, Failure> {
    tokio::pin!(next);
    if let Poll::Ready(item) = futures::poll!(&mut next) {
        return Ok(item);
    }
    writer.flush().await?;
    tokio::select! {
        item = &mut next => Ok(item),
        _ = reader.closed() => Err(Failure::Closed),
        _ = shutdown.cancelled() => Err(Failure::Closed),
    }
}

/// Parameter OIDs for ParameterDescription: the declared ones, else those
/// of the inferred types.
fn param_oids(prepared: &PreparedStatement) -> Vec<u32> {
    prepared
        .param_types()
        .iter()
        .enumerate()
        .map(|(i, t)| match prepared.declared_oids.get(i) {
            Some(oid) if *oid != 0 => *oid,
            _ => pg_type(t).oid(),
        })
        .collect()
}

fn session_format(f: Format) -> ResultFormat {
    match f {
        Format::Text => ResultFormat::Text,
        Format::Binary => ResultFormat::Binary,
    }
}

fn wire_format(f: ResultFormat) -> Format {
    match f {
        ResultFormat::Text => Format::Text,
        ResultFormat::Binary => Format::Binary,
    }
}

/// A connection after startup. Prepared statements and portals belong to
/// the session; the connection keeps only the protocol's state.
#[derive(Debug)]
struct Connection {
    reader: MessageReader,
    writer: MessageWriter,
    session: Session,
    /// After an error in the extended protocol: skip messages until Sync.
    skipping: bool,
    /// Server shutdown.
    shutdown: CancellationToken,
}

impl Connection {
    /// Handles messages until the connection ends; returns why it ended.
    async fn serve(&mut self) -> Failure {
        loop {
            let message = tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => return Failure::Closed,
                m = self.reader.read_message() => m,
            };
            let message = match message {
                Ok(m) => m,
                Err(e) => return e.into(),
            };
            if let Err(failure) = self.handle(message).await {
                match failure {
                    Failure::Sql(e) => {
                        if let Err(f) = self.report(&e) {
                            return f;
                        }
                        self.skipping = true;
                    }
                    other => return other,
                }
            }
        }
    }

    /// Handles one message; a [`Failure::Sql`] is an error in the extended
    /// protocol (the caller reports it and skips to Sync).
    async fn handle(&mut self, message: FrontendMessage) -> Step {
        match message {
            FrontendMessage::Terminate => Err(Failure::Closed),
            FrontendMessage::Sync => {
                self.skipping = false;
                self.ready().await
            }
            FrontendMessage::Flush => Ok(self.writer.flush().await?),
            // Stray COPY messages (after a failed COPY) and password
            // messages (trust authentication) are ignored.
            FrontendMessage::CopyData(_)
            | FrontendMessage::CopyDone
            | FrontendMessage::CopyFail(_)
            | FrontendMessage::Password => Ok(()),
            _ if self.skipping => Ok(()),
            FrontendMessage::Query(sql) => {
                self.simple_query(&sql).await?;
                self.ready().await
            }
            FrontendMessage::Parse {
                name,
                query,
                param_types,
            } => {
                self.session.prepare(&name, &query, param_types)?;
                self.send_notices()?;
                Ok(self
                    .writer
                    .send(PgWireBackendMessage::ParseComplete(ParseComplete::new()))?)
            }
            FrontendMessage::Bind {
                portal,
                statement,
                param_formats,
                params,
                result_formats,
            } => self.bind(
                &portal,
                &statement,
                &param_formats,
                &params,
                &result_formats,
            ),
            FrontendMessage::Describe { target, name } => self.describe(target, &name),
            FrontendMessage::Execute { portal, max_rows } => self.execute(&portal, max_rows).await,
            FrontendMessage::Close { target, name } => {
                match target {
                    Target::Statement => self.session.close_statement(&name),
                    Target::Portal => self.session.close_portal(&name),
                }
                Ok(self
                    .writer
                    .send(PgWireBackendMessage::CloseComplete(CloseComplete::new()))?)
            }
        }
    }

    /// Sends an error (with the notices before it); marks a transaction
    /// block failed.
    fn report(&mut self, error: &SqlError) -> Step {
        self.session.mark_failed();
        self.send_notices()?;
        self.writer.send(error_response(error, Severity::Error))?;
        Ok(())
    }

    fn send_notices(&mut self) -> Step {
        for notice in self.session.take_notices() {
            self.writer.send(notice_response(&notice))?;
        }
        Ok(())
    }

    /// ParameterStatus for changed settings, then ReadyForQuery.
    async fn ready(&mut self) -> Step {
        self.session.sync();
        self.send_notices()?;
        for (name, value) in self.session.take_parameter_changes() {
            self.writer
                .send(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                    name, value,
                )))?;
        }
        self.writer
            .send(ready_for_query(self.session.transaction_status()))?;
        self.writer.flush().await?;
        Ok(())
    }

    /// A simple Query: every statement of the string in turn, stopping at
    /// the first error.
    async fn simple_query(&mut self, sql: &str) -> Step {
        // A simple Query replaces the unnamed statement and portal.
        self.session.close_statement("");
        self.session.close_portal("");
        let statements = match self.session.parse(sql) {
            Ok(s) => s,
            Err(e) => return self.report(&e),
        };
        if statements.is_empty() {
            self.writer.send(PgWireBackendMessage::EmptyQueryResponse(
                EmptyQueryResponse::new(),
            ))?;
            return Ok(());
        }
        for statement in &statements {
            match self.simple_statement(statement).await {
                Ok(()) => {}
                Err(Failure::Sql(e)) => return self.report(&e),
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    async fn simple_statement(&mut self, statement: &Statement) -> Step {
        let timer = self.statement_timer();
        let step = self.simple_statement_timed(statement, &timer).await;
        timer.finish(step)
    }

    /// A timer of `statement_timeout` for the statement that starts now.
    fn statement_timer(&self) -> StatementTimer {
        StatementTimer::start(
            self.session.settings().statement_timeout(),
            self.session.cancel_handle(),
        )
    }

    async fn simple_statement_timed(
        &mut self,
        statement: &Statement,
        timer: &StatementTimer,
    ) -> Step {
        let result = tokio::select! {
            r = self.session.execute(statement, &[], &[]) => r,
            _ = timer.expired() => return Err(Failure::Sql(statement_timed_out())),
            _ = self.reader.closed() => return Err(Failure::Closed),
            _ = self.shutdown.cancelled() => return Err(Failure::Closed),
        };
        self.send_notices()?;
        match result? {
            ExecResult::Rows(mut stream) => {
                let encoding = RowEncoding {
                    formats: vec![Format::Text; stream.schema.fields().len()],
                    described: None,
                };
                self.writer
                    .send(row_description(&stream.schema, &encoding.formats))?;
                match self
                    .send_rows(RowsFrom::Stream(&mut stream), &encoding, None)
                    .await?
                {
                    Outcome::Done(rows) => self
                        .writer
                        .send(command_complete(rows_tag(Some(statement), rows)))?,
                    // Without a row limit the rows are never suspended.
                    Outcome::Suspended => self
                        .writer
                        .send(command_complete(rows_tag(Some(statement), 0)))?,
                    Outcome::Failed(e) => return Err(Failure::Sql(e)),
                }
            }
            ExecResult::Command(tag) => self.writer.send(command_complete(tag))?,
            ExecResult::CopyIn(copy) => self.copy_in(copy).await?,
            ExecResult::CopyOut(mut rows, options) => self.copy_out(&mut rows, &options).await?,
            ExecResult::Empty => self.writer.send(PgWireBackendMessage::EmptyQueryResponse(
                EmptyQueryResponse::new(),
            ))?,
        }
        Ok(())
    }

    /// Sends rows as DataRows, at most `limit`. Output is flushed whenever
    /// the next batch is not ready yet, so a slow or continuous query shows
    /// rows as they come.
    async fn send_rows(
        &mut self,
        mut from: RowsFrom<'_>,
        encoding: &RowEncoding,
        limit: Option<u64>,
    ) -> Step<Outcome> {
        let ctx = EncodeContext::new(
            self.session.settings().timezone(),
            self.session.settings().extra_float_digits(),
        );
        let fields = i16::try_from(encoding.formats.len())
            .map_err(|_| SqlError::new("54011", "too many result columns"))?;
        let mut sent = 0u64;
        // One buffer for every row: each DataRow takes its bytes with
        // `split`, and the space is reused once the message is encoded.
        let mut body = BytesMut::new();
        loop {
            let left = match limit {
                Some(l) if sent >= l => return Ok(Outcome::Suspended),
                Some(l) => Some(usize::try_from(l - sent).unwrap_or(usize::MAX)),
                None => None,
            };
            let session = &mut self.session;
            let next = async {
                match &mut from {
                    RowsFrom::Stream(stream) => stream.next().await.transpose(),
                    RowsFrom::Portal(name) => session.portal_batch(name, left).await,
                }
            };
            let next =
                flushed_while_waiting(&mut self.writer, &mut self.reader, &self.shutdown, next)
                    .await?;
            let batch = match next {
                Ok(Some(batch)) => batch,
                Ok(None) => return Ok(Outcome::Done(sent)),
                Err(e) => return Ok(Outcome::Failed(e)),
            };
            let columns = match encoding.prepare(&batch) {
                Ok(c) => c,
                Err(e) => return Ok(Outcome::Failed(e)),
            };
            for row in 0..batch.num_rows() {
                if let Err(e) = encode_row(&columns, &encoding.formats, row, &ctx, &mut body) {
                    return Ok(Outcome::Failed(e));
                }
                self.writer
                    .send(PgWireBackendMessage::DataRow(DataRow::new(
                        body.split(),
                        fields,
                    )))?;
                self.writer.flush_if_full().await?;
            }
            sent += batch.num_rows() as u64;
        }
    }

    /// `COPY ... TO STDOUT`: CopyOutResponse, a CopyData message per row
    /// (in binary: the header with the first, the trailer alone; flushed whenever the next batch is not ready, so that a
    /// `COPY (SUBSCRIBE ...)` shows changes as they come), CopyDone and
    /// `COPY n`. A query that fails midway ends with its error.
    async fn copy_out(&mut self, rows: &mut RowStream, options: &CopyOptions) -> Step {
        let ctx = EncodeContext::new(
            self.session.settings().timezone(),
            self.session.settings().extra_float_digits(),
        );
        let columns = rows.schema.fields().len();
        let count =
            i16::try_from(columns).map_err(|_| SqlError::new("54011", "too many columns"))?;
        let binary = options.format == CopyFormat::Binary;
        let format = Format::from_code(i16::from(binary))?;
        self.writer
            .send(PgWireBackendMessage::CopyOutResponse(CopyOutResponse::new(
                i8::from(binary),
                count,
                vec![i16::from(binary); columns],
            )))?;
        let mut body = BytesMut::new();
        let mut scratch = BytesMut::new();
        if binary {
            body.extend_from_slice(crate::pg::encode::COPY_BINARY_HEADER);
        }
        if options.header && options.format == CopyFormat::Csv {
            let names: Vec<ArrayRef> = rows
                .schema
                .fields()
                .iter()
                .map(|f| Arc::new(StringArray::from(vec![f.name().as_str()])) as ArrayRef)
                .collect();
            encode_copy_row(&names, 0, &ctx, options, &mut scratch, &mut body)?;
            self.writer
                .send(PgWireBackendMessage::CopyData(CopyData::new(
                    body.split().freeze(),
                )))?;
        }
        let encoding = RowEncoding {
            formats: vec![format; columns],
            described: None,
        };
        let mut sent = 0u64;
        loop {
            let next = flushed_while_waiting(
                &mut self.writer,
                &mut self.reader,
                &self.shutdown,
                rows.next(),
            )
            .await?;
            let batch = match next {
                None => break,
                Some(Ok(batch)) => batch,
                Some(Err(e)) => return Err(Failure::Sql(e)),
            };
            let columns = encoding.prepare(&batch)?;
            // One CopyData per row, as Postgres sends them (clients such
            // as tokio-postgres's binary reader rely on it); the binary
            // header goes with the first.
            for row in 0..batch.num_rows() {
                encode_copy_row(&columns, row, &ctx, options, &mut scratch, &mut body)?;
                self.writer
                    .send(PgWireBackendMessage::CopyData(CopyData::new(
                        body.split().freeze(),
                    )))?;
            }
            sent += batch.num_rows() as u64;
            self.writer.flush_if_full().await?;
        }
        if binary {
            body.extend_from_slice(crate::pg::encode::COPY_BINARY_TRAILER);
        }
        if !body.is_empty() {
            self.writer
                .send(PgWireBackendMessage::CopyData(CopyData::new(
                    body.split().freeze(),
                )))?;
        }
        self.writer
            .send(PgWireBackendMessage::CopyDone(CopyDone::new()))?;
        self.writer.send(command_complete(format!("COPY {sent}")))?;
        Ok(())
    }

    /// `COPY ... FROM STDIN`: CopyInResponse, then CopyData until CopyDone
    /// (store and report the row count) or CopyFail (store nothing).
    async fn copy_in(&mut self, mut copy: Box<CopyIn>) -> Step {
        let columns = copy.columns();
        let count =
            i16::try_from(columns).map_err(|_| SqlError::new("54011", "too many columns"))?;
        self.writer
            .send(PgWireBackendMessage::CopyInResponse(CopyInResponse::new(
                0,
                count,
                vec![0; columns],
            )))?;
        self.writer.flush().await?;
        loop {
            let message = tokio::select! {
                _ = self.shutdown.cancelled() => return Err(Failure::Closed),
                m = self.reader.read_message() => m?,
            };
            match message {
                FrontendMessage::CopyData(data) => {
                    let written = tokio::select! {
                        r = copy.write(&data) => r,
                        _ = self.shutdown.cancelled() => return Err(Failure::Closed),
                    };
                    written?
                }
                FrontendMessage::CopyDone => {
                    let rows = tokio::select! {
                        r = copy.finish() => r?,
                        _ = self.shutdown.cancelled() => return Err(Failure::Closed),
                    };
                    self.writer.send(command_complete(format!("COPY {rows}")))?;
                    return Ok(());
                }
                FrontendMessage::CopyFail(reason) => {
                    copy.abort(&reason).await;
                    return Err(Failure::Sql(SqlError::new(
                        "57014",
                        format!("COPY from stdin failed: {reason}"),
                    )));
                }
                FrontendMessage::Flush | FrontendMessage::Sync => {}
                FrontendMessage::Terminate => return Err(Failure::Closed),
                other => {
                    return Err(Failure::Sql(SqlError::new(
                        "08P01",
                        format!(
                            "unexpected message type 0x{:02X} during COPY from stdin",
                            other.type_byte()
                        ),
                    )));
                }
            }
        }
    }

    /// Bind: convert parameter values and create a portal.
    fn bind(
        &mut self,
        portal: &str,
        statement: &str,
        param_formats: &[i16],
        params: &[Option<bytes::Bytes>],
        result_formats: &[i16],
    ) -> Step {
        if portal.is_empty() {
            // Replaced even if this Bind fails.
            self.session.close_portal("");
        }
        let prepared = self.session.prepared(statement)?;
        let types = prepared.param_types();
        if params.len() != types.len() {
            return Err(SqlError::new(
                "08P01",
                format!(
                    "bind message supplies {} parameters, but prepared statement \"{statement}\" requires {}",
                    params.len(),
                    types.len()
                ),
            )
            .into());
        }
        let formats = expand_formats(param_formats, params.len(), |n| {
            format!(
                "bind message has {n} parameter formats but {} parameters",
                params.len()
            )
        })?;
        let values = params
            .iter()
            .zip(&types)
            .enumerate()
            .map(|(i, (value, ty))| {
                let declared = prepared.declared_oids.get(i).copied().unwrap_or(0);
                decode_param(i, value.as_deref(), formats[i], declared, ty)
            })
            .collect::<SqlResult<Vec<_>>>()?;
        let columns = prepared.columns().map_or(0, |c| c.fields().len());
        let formats = expand_formats(result_formats, columns, |n| {
            format!("bind message has {n} result formats but query has {columns} columns")
        })?;
        self.session.bind(
            portal,
            statement,
            values,
            formats.into_iter().map(session_format).collect(),
        )?;
        Ok(self
            .writer
            .send(PgWireBackendMessage::BindComplete(BindComplete::new()))?)
    }

    /// Describe: parameter and row descriptions of a statement, or the row
    /// description of a portal (with its result formats).
    fn describe(&mut self, target: Target, name: &str) -> Step {
        let (columns, formats) = match target {
            Target::Statement => {
                let prepared = self.session.prepared(name)?;
                self.writer
                    .send(PgWireBackendMessage::ParameterDescription(
                        ParameterDescription::new(param_oids(&prepared)),
                    ))?;
                (prepared.columns().cloned(), Vec::new())
            }
            Target::Portal => {
                let portal = self.session.portal(name)?;
                (
                    portal.statement.columns().cloned(),
                    portal.formats.iter().copied().map(wire_format).collect(),
                )
            }
        };
        match columns {
            Some(schema) => self.writer.send(row_description(&schema, &formats))?,
            None => self
                .writer
                .send(PgWireBackendMessage::NoData(NoData::new()))?,
        }
        Ok(())
    }

    /// Execute: run a portal, or resume a suspended one, returning at most
    /// `max_rows` rows (0: all).
    async fn execute(&mut self, name: &str, max_rows: i32) -> Step {
        let timer = self.statement_timer();
        let step = self.execute_timed(name, max_rows, &timer).await;
        timer.finish(step)
    }

    async fn execute_timed(&mut self, name: &str, max_rows: i32, timer: &StatementTimer) -> Step {
        let limit = u64::try_from(max_rows).ok().filter(|l| *l > 0);
        let step = tokio::select! {
            r = self.session.execute_portal(name) => r,
            _ = timer.expired() => return Err(Failure::Sql(statement_timed_out())),
            _ = self.reader.closed() => return Err(Failure::Closed),
            _ = self.shutdown.cancelled() => return Err(Failure::Closed),
        };
        self.send_notices()?;
        match step? {
            PortalStep::Rows => {}
            PortalStep::Command(tag) => return Ok(self.writer.send(command_complete(tag))?),
            PortalStep::CopyIn(copy) => return self.copy_in(copy).await,
            PortalStep::CopyOut(mut rows, options) => {
                return self.copy_out(&mut rows, &options).await;
            }
            PortalStep::Empty => {
                return Ok(self.writer.send(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ))?);
            }
        }
        let (encoding, statement) = {
            let portal = self.session.portal(name)?;
            let described = portal.statement.columns().cloned();
            // Rows from a statement described as returning none are sent
            // in text.
            let formats = match &described {
                Some(_) => portal.formats.iter().copied().map(wire_format).collect(),
                None => Vec::new(),
            };
            (
                RowEncoding { formats, described },
                Arc::clone(&portal.statement),
            )
        };
        let encoding = if encoding.described.is_none() {
            // Unknown width: take it from the first batch's schema.
            let width = self
                .session
                .portal_schema(name)
                .map_or(0, |s| s.fields().len());
            RowEncoding {
                formats: vec![Format::Text; width],
                described: None,
            }
        } else {
            encoding
        };
        match self
            .send_rows(RowsFrom::Portal(name), &encoding, limit)
            .await?
        {
            Outcome::Suspended => {
                self.writer
                    .send(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()))?;
            }
            Outcome::Done(rows) => {
                self.writer.send(command_complete(rows_tag(
                    statement.statement.as_ref(),
                    rows,
                )))?;
            }
            Outcome::Failed(e) => return Err(Failure::Sql(e)),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_options() {
        assert_eq!(
            parse_options("-c search_path=a,b --application-name=x -cDateStyle=ISO").unwrap(),
            vec![
                ("search_path".to_string(), "a,b".to_string()),
                ("application_name".to_string(), "x".to_string()),
                ("DateStyle".to_string(), "ISO".to_string()),
            ]
        );
        assert_eq!(
            parse_options("-c application_name=a\\ b").unwrap(),
            vec![("application_name".to_string(), "a b".to_string())]
        );
        assert!(parse_options("").unwrap().is_empty());
        assert_eq!(parse_options("-x").unwrap_err().code, "42601");
        assert_eq!(parse_options("-c").unwrap_err().code, "42601");
        assert_eq!(parse_options("-c novalue").unwrap_err().code, "42601");
    }
}
