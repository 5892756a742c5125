//! Framing of the Postgres wire protocol (version 3): reading frontend
//! messages from the socket and writing backend messages to it.
//!
//! Frontend messages are decoded here with bounds checks on every field, so
//! that a malformed message or garbage bytes become a [`ReadError::Protocol`]
//! (the connection answers with a FATAL error and closes) and never a panic.
//! Each message is first cut out of the stream by its length word, so a bad
//! body cannot desynchronise the stream. Backend messages are pgwire's
//! [`PgWireBackendMessage`]s, buffered and written on [`MessageWriter::flush`].

use bytes::{Buf, Bytes, BytesMut};
use pgwire::messages::PgWireBackendMessage;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// `SSLRequest` code.
const SSL_REQUEST_CODE: i32 = 80_877_103;
/// `GSSENCRequest` code.
const GSSENC_REQUEST_CODE: i32 = 80_877_104;
/// `CancelRequest` code.
const CANCEL_REQUEST_CODE: i32 = 80_877_102;
/// Largest startup packet Postgres accepts.
const MAX_STARTUP_PACKET: usize = 10_000;
/// Largest message of the kinds that carry data (queries, binds, copy data).
const MAX_LARGE_MESSAGE: usize = 0x3fff_ffff;
/// Largest message of the other kinds.
const MAX_SMALL_MESSAGE: usize = 10_000;
/// Buffered output beyond which rows are written out while streaming.
const FLUSH_THRESHOLD: usize = 64 * 1024;

/// The first packet of a connection (it has no type byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StartupPacket {
    /// The client asks for TLS.
    SslRequest,
    /// The client asks for GSSAPI encryption.
    GssEncRequest,
    /// A cancel request for another connection.
    Cancel {
        /// Process id from BackendKeyData.
        pid: i32,
        /// Secret key from BackendKeyData.
        secret: Bytes,
    },
    /// The startup message proper.
    Startup {
        /// Major protocol version.
        major: u16,
        /// Minor protocol version.
        minor: u16,
        /// Startup parameters (`user`, `database`, `options`, ...), in order.
        params: Vec<(String, String)>,
    },
}

/// What Describe and Close refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A prepared statement (`S`).
    Statement,
    /// A portal (`P`).
    Portal,
}

/// A frontend message after startup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrontendMessage {
    /// Simple query.
    Query(String),
    /// Parse a statement.
    Parse {
        /// Statement name (empty: unnamed).
        name: String,
        /// SQL text.
        query: String,
        /// Declared parameter type OIDs (0: unspecified).
        param_types: Vec<u32>,
    },
    /// Bind a statement to a portal.
    Bind {
        /// Portal name (empty: unnamed).
        portal: String,
        /// Statement name (empty: unnamed).
        statement: String,
        /// Parameter format codes (none, one for all, or one each).
        param_formats: Vec<i16>,
        /// Parameter values (`None` is NULL).
        params: Vec<Option<Bytes>>,
        /// Result column format codes (none, one for all, or one each).
        result_formats: Vec<i16>,
    },
    /// Describe a statement or portal.
    Describe {
        /// Statement or portal.
        target: Target,
        /// Its name.
        name: String,
    },
    /// Run a portal.
    Execute {
        /// Portal name.
        portal: String,
        /// Row limit (0: no limit).
        max_rows: i32,
    },
    /// Close a statement or portal.
    Close {
        /// Statement or portal.
        target: Target,
        /// Its name.
        name: String,
    },
    /// End of an extended-protocol batch.
    Sync,
    /// Send buffered output.
    Flush,
    /// The client is leaving.
    Terminate,
    /// COPY data.
    CopyData(Bytes),
    /// End of COPY data.
    CopyDone,
    /// The client aborts a COPY.
    CopyFail(String),
    /// A password or SASL message (we use trust authentication: ignored).
    Password,
}

impl FrontendMessage {
    /// The message's type byte.
    pub(crate) fn type_byte(&self) -> u8 {
        match self {
            Self::Query(_) => b'Q',
            Self::Parse { .. } => b'P',
            Self::Bind { .. } => b'B',
            Self::Describe { .. } => b'D',
            Self::Execute { .. } => b'E',
            Self::Close { .. } => b'C',
            Self::Sync => b'S',
            Self::Flush => b'H',
            Self::Terminate => b'X',
            Self::CopyData(_) => b'd',
            Self::CopyDone => b'c',
            Self::CopyFail(_) => b'f',
            Self::Password => b'p',
        }
    }
}

/// Why no message could be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The client closed the connection (or the socket failed).
    Closed,
    /// The client violated the protocol; the text says how.
    Protocol(String),
}

impl From<std::io::Error> for ReadError {
    fn from(_: std::io::Error) -> Self {
        Self::Closed
    }
}

/// Reads frontend messages from the read half of a connection.
#[derive(Debug)]
pub(crate) struct MessageReader {
    /// The socket.
    socket: OwnedReadHalf,
    /// Bytes read but not yet decoded.
    buf: BytesMut,
}

impl MessageReader {
    /// Wraps the read half of a connection.
    pub(crate) fn new(socket: OwnedReadHalf) -> Self {
        Self {
            socket,
            buf: BytesMut::with_capacity(8 * 1024),
        }
    }

    /// Reads until at least `n` bytes are buffered.
    async fn fill(&mut self, n: usize) -> Result<(), ReadError> {
        while self.buf.len() < n {
            self.buf
                .reserve(n.saturating_sub(self.buf.len()).clamp(1, 64 * 1024));
            if self.socket.read_buf(&mut self.buf).await? == 0 {
                return Err(ReadError::Closed);
            }
        }
        Ok(())
    }

    /// Reads the first packet of a connection (or the packet after an
    /// SSLRequest / GSSENCRequest was refused).
    pub(crate) async fn read_startup(&mut self) -> Result<StartupPacket, ReadError> {
        self.fill(4).await?;
        let len = i32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        let len = usize::try_from(len).unwrap_or(0);
        if !(8..=MAX_STARTUP_PACKET).contains(&len) {
            return Err(ReadError::Protocol(
                "invalid length of startup packet".into(),
            ));
        }
        self.fill(len).await?;
        let mut packet = self.buf.split_to(len).freeze();
        packet.advance(4);
        decode_startup(Body(packet))
    }

    /// Reads the next message after startup.
    pub(crate) async fn read_message(&mut self) -> Result<FrontendMessage, ReadError> {
        self.fill(1).await?;
        let kind = self.buf[0];
        let limit = match kind {
            b'Q' | b'P' | b'B' | b'd' | b'p' => MAX_LARGE_MESSAGE,
            b'D' | b'E' | b'C' | b'S' | b'H' | b'X' | b'c' | b'f' => MAX_SMALL_MESSAGE,
            other => {
                return Err(ReadError::Protocol(format!(
                    "invalid frontend message type {other}"
                )));
            }
        };
        self.fill(5).await?;
        let len = i32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
        let len = usize::try_from(len).unwrap_or(0);
        if !(4..=limit).contains(&len) {
            return Err(ReadError::Protocol(format!("invalid message length {len}")));
        }
        self.fill(len + 1).await?;
        let mut packet = self.buf.split_to(len + 1).freeze();
        packet.advance(5);
        decode_message(kind, Body(packet))
    }

    /// Resolves when the client has closed its side of the connection (or
    /// the socket failed); never resolves while the client is connected,
    /// including when it has sent more messages.
    pub(crate) async fn closed(&mut self) {
        let mut byte = [0u8; 1];
        match self.socket.peek(&mut byte).await {
            Ok(0) | Err(_) => {}
            Ok(_) => std::future::pending::<()>().await,
        }
    }
}

/// A message body with checked reads.
struct Body(Bytes);

fn short() -> ReadError {
    ReadError::Protocol("insufficient data left in message".into())
}

impl Body {
    fn u8(&mut self) -> Result<u8, ReadError> {
        if self.0.remaining() < 1 {
            return Err(short());
        }
        Ok(self.0.get_u8())
    }

    fn i16(&mut self) -> Result<i16, ReadError> {
        if self.0.remaining() < 2 {
            return Err(short());
        }
        Ok(self.0.get_i16())
    }

    fn i32(&mut self) -> Result<i32, ReadError> {
        if self.0.remaining() < 4 {
            return Err(short());
        }
        Ok(self.0.get_i32())
    }

    /// A count that must be non-negative and leave room for `count`
    /// elements of at least `min_size` bytes each.
    fn count(&mut self, min_size: usize) -> Result<usize, ReadError> {
        let n = self.i16()?;
        let n = usize::try_from(n)
            .map_err(|_| ReadError::Protocol("invalid count in message".into()))?;
        if n.saturating_mul(min_size) > self.0.remaining() {
            return Err(short());
        }
        Ok(n)
    }

    fn bytes(&mut self, n: usize) -> Result<Bytes, ReadError> {
        if self.0.remaining() < n {
            return Err(short());
        }
        Ok(self.0.split_to(n))
    }

    /// A NUL-terminated UTF-8 string.
    fn cstr(&mut self) -> Result<String, ReadError> {
        let end = self
            .0
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| ReadError::Protocol("invalid string in message".into()))?;
        let raw = self.0.split_to(end);
        self.0.advance(1);
        String::from_utf8(raw.to_vec())
            .map_err(|_| ReadError::Protocol("invalid byte sequence for encoding \"UTF8\"".into()))
    }

    fn rest(&mut self) -> Bytes {
        self.0.split_off(0)
    }

    fn end(self) -> Result<(), ReadError> {
        if self.0.has_remaining() {
            return Err(ReadError::Protocol("invalid message format".into()));
        }
        Ok(())
    }
}

fn decode_startup(mut body: Body) -> Result<StartupPacket, ReadError> {
    let code = body.i32()?;
    match code {
        SSL_REQUEST_CODE => {
            body.end()?;
            Ok(StartupPacket::SslRequest)
        }
        GSSENC_REQUEST_CODE => {
            body.end()?;
            Ok(StartupPacket::GssEncRequest)
        }
        CANCEL_REQUEST_CODE => {
            let pid = body.i32()?;
            let secret = body.rest();
            if secret.is_empty() || secret.len() > 256 {
                return Err(ReadError::Protocol(
                    "invalid length of cancel request packet".into(),
                ));
            }
            Ok(StartupPacket::Cancel { pid, secret })
        }
        _ => {
            let major = (code >> 16) as u16;
            let minor = (code & 0xffff) as u16;
            let mut params = Vec::new();
            loop {
                let name = body.cstr()?;
                if name.is_empty() {
                    break;
                }
                let value = body.cstr()?;
                params.push((name, value));
            }
            body.end()?;
            Ok(StartupPacket::Startup {
                major,
                minor,
                params,
            })
        }
    }
}

fn target(byte: u8, what: &str) -> Result<Target, ReadError> {
    match byte {
        b'S' => Ok(Target::Statement),
        b'P' => Ok(Target::Portal),
        other => Err(ReadError::Protocol(format!(
            "invalid {what} message subtype {other}"
        ))),
    }
}

fn decode_message(kind: u8, mut body: Body) -> Result<FrontendMessage, ReadError> {
    let message = match kind {
        b'Q' => FrontendMessage::Query(body.cstr()?),
        b'P' => {
            let name = body.cstr()?;
            let query = body.cstr()?;
            let n = body.count(4)?;
            let mut param_types = Vec::with_capacity(n);
            for _ in 0..n {
                param_types.push(body.i32()? as u32);
            }
            FrontendMessage::Parse {
                name,
                query,
                param_types,
            }
        }
        b'B' => {
            let portal = body.cstr()?;
            let statement = body.cstr()?;
            let n = body.count(2)?;
            let mut param_formats = Vec::with_capacity(n);
            for _ in 0..n {
                param_formats.push(body.i16()?);
            }
            let n = body.count(4)?;
            let mut params = Vec::with_capacity(n);
            for _ in 0..n {
                let len = body.i32()?;
                params.push(match usize::try_from(len) {
                    Ok(len) => Some(body.bytes(len)?),
                    Err(_) if len == -1 => None,
                    Err(_) => {
                        return Err(ReadError::Protocol(format!(
                            "invalid parameter length {len}"
                        )));
                    }
                });
            }
            let n = body.count(2)?;
            let mut result_formats = Vec::with_capacity(n);
            for _ in 0..n {
                result_formats.push(body.i16()?);
            }
            FrontendMessage::Bind {
                portal,
                statement,
                param_formats,
                params,
                result_formats,
            }
        }
        b'D' => {
            let t = target(body.u8()?, "DESCRIBE")?;
            FrontendMessage::Describe {
                target: t,
                name: body.cstr()?,
            }
        }
        b'C' => {
            let t = target(body.u8()?, "CLOSE")?;
            FrontendMessage::Close {
                target: t,
                name: body.cstr()?,
            }
        }
        b'E' => FrontendMessage::Execute {
            portal: body.cstr()?,
            max_rows: body.i32()?,
        },
        b'S' => FrontendMessage::Sync,
        b'H' => FrontendMessage::Flush,
        b'X' => FrontendMessage::Terminate,
        b'd' => FrontendMessage::CopyData(body.rest()),
        b'c' => FrontendMessage::CopyDone,
        b'f' => FrontendMessage::CopyFail(body.cstr()?),
        b'p' => {
            body.rest();
            FrontendMessage::Password
        }
        other => {
            return Err(ReadError::Protocol(format!(
                "invalid frontend message type {other}"
            )));
        }
    };
    body.end()?;
    Ok(message)
}

/// Buffers backend messages and writes them to the write half of a
/// connection.
#[derive(Debug)]
pub(crate) struct MessageWriter {
    /// The socket.
    socket: OwnedWriteHalf,
    /// Encoded messages not yet written.
    buf: BytesMut,
}

impl MessageWriter {
    /// Wraps the write half of a connection.
    pub(crate) fn new(socket: OwnedWriteHalf) -> Self {
        Self {
            socket,
            buf: BytesMut::with_capacity(16 * 1024),
        }
    }

    /// Buffers a message.
    ///
    /// # Errors
    ///
    /// A message too large for the protocol (the connection then ends).
    pub(crate) fn send(&mut self, message: PgWireBackendMessage) -> std::io::Result<()> {
        let start = self.buf.len();
        message.encode(&mut self.buf).map_err(|e| {
            self.buf.truncate(start);
            std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
        })
    }

    /// Buffers raw bytes (the one-byte answer to SSLRequest).
    pub(crate) fn send_raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Writes everything buffered.
    ///
    /// # Errors
    ///
    /// The client is gone.
    pub(crate) async fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.socket.write_all(&self.buf).await?;
            self.buf.clear();
        }
        self.socket.flush().await
    }

    /// Writes out buffered output once enough has accumulated.
    ///
    /// # Errors
    ///
    /// The client is gone.
    pub(crate) async fn flush_if_full(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= FLUSH_THRESHOLD {
            self.flush().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::BufMut;

    use super::*;

    fn body(bytes: &[u8]) -> Body {
        Body(Bytes::copy_from_slice(bytes))
    }

    proptest::proptest! {
        /// Random bodies of every message kind and of the startup packet:
        /// a message or a protocol error, never a panic.
        #[test]
        fn random_messages_never_panic(
            kind in proptest::sample::select(b"QPBdpDECSHXcf".to_vec()),
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        ) {
            let _ = decode_message(kind, body(&bytes));
            let _ = decode_startup(body(&bytes));
        }

        /// A Bind whose counts and lengths are random (the fields a
        /// client can lie about), the rest well formed.
        #[test]
        fn bind_with_random_counts_never_panics(
            counts in proptest::collection::vec(proptest::prelude::any::<i16>(), 3),
            lengths in proptest::collection::vec(proptest::prelude::any::<i32>(), 0..4),
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..32),
        ) {
            let mut b = BytesMut::new();
            b.put_slice(b"portal\0stmt\0");
            b.put_i16(counts[0]);
            b.put_i16(1);
            b.put_i16(counts[1]);
            for len in &lengths {
                b.put_i32(*len);
                b.put_slice(&tail[..tail.len().min((*len).max(0) as usize)]);
            }
            b.put_i16(counts[2]);
            b.put_slice(&tail);
            let _ = decode_message(b'B', Body(b.freeze()));
        }
    }

    #[test]
    fn decodes_startup_and_requests() {
        let mut b = BytesMut::new();
        b.put_i32(196_608);
        b.put_slice(b"user\0ann\0database\0db\0\0");
        let packet = decode_startup(Body(b.freeze())).unwrap();
        assert_eq!(
            packet,
            StartupPacket::Startup {
                major: 3,
                minor: 0,
                params: vec![
                    ("user".into(), "ann".into()),
                    ("database".into(), "db".into())
                ],
            }
        );
        let mut b = BytesMut::new();
        b.put_i32(CANCEL_REQUEST_CODE);
        b.put_i32(7);
        b.put_i32(42);
        match decode_startup(Body(b.freeze())).unwrap() {
            StartupPacket::Cancel { pid, secret } => {
                assert_eq!(pid, 7);
                assert_eq!(&secret[..], &42i32.to_be_bytes());
            }
            other => panic!("unexpected {other:?}"),
        }
        // Missing terminator.
        let mut b = BytesMut::new();
        b.put_i32(196_608);
        b.put_slice(b"user\0ann");
        assert!(matches!(
            decode_startup(Body(b.freeze())),
            Err(ReadError::Protocol(_))
        ));
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        // Bind with a parameter longer than the message.
        let mut b = BytesMut::new();
        b.put_slice(b"\0\0");
        b.put_i16(0);
        b.put_i16(1);
        b.put_i32(1000);
        b.put_slice(b"ab");
        assert!(matches!(
            decode_message(b'B', body(&b)),
            Err(ReadError::Protocol(_))
        ));
        // Negative counts.
        let mut b = BytesMut::new();
        b.put_slice(b"\0\0");
        b.put_i16(-3);
        assert!(matches!(
            decode_message(b'B', body(&b)),
            Err(ReadError::Protocol(_))
        ));
        // Empty bodies where fields are needed.
        for kind in [b'Q', b'P', b'B', b'D', b'C', b'E', b'f'] {
            assert!(matches!(
                decode_message(kind, body(&[])),
                Err(ReadError::Protocol(_))
            ));
        }
        // Trailing bytes.
        assert!(matches!(
            decode_message(b'S', body(&[1])),
            Err(ReadError::Protocol(_))
        ));
        // Bad describe subtype.
        assert!(matches!(
            decode_message(b'D', body(b"Z\0")),
            Err(ReadError::Protocol(_))
        ));
        // Invalid UTF-8.
        assert!(matches!(
            decode_message(b'Q', body(b"\xff\0")),
            Err(ReadError::Protocol(_))
        ));
    }

    #[tokio::test]
    async fn closed_resolves_only_when_the_client_leaves() {
        use tokio::io::AsyncWriteExt;
        use tokio::time::{Duration, timeout};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (read, _write) = server.into_split();
        let mut reader = MessageReader::new(read);
        // Connected and silent, then connected with pending input.
        assert!(
            timeout(Duration::from_millis(50), reader.closed())
                .await
                .is_err()
        );
        client.write_all(b"S\0\0\0\x04").await.unwrap();
        assert!(
            timeout(Duration::from_millis(50), reader.closed())
                .await
                .is_err()
        );
        assert_eq!(reader.read_message().await.unwrap(), FrontendMessage::Sync);
        // Gone.
        drop(client);
        timeout(Duration::from_secs(5), reader.closed())
            .await
            .unwrap();
        assert!(matches!(
            reader.read_message().await,
            Err(ReadError::Closed)
        ));
    }

    #[test]
    fn decodes_extended_messages() {
        let mut b = BytesMut::new();
        b.put_slice(b"s1\0SELECT $1\0");
        b.put_i16(1);
        b.put_i32(23);
        assert_eq!(
            decode_message(b'P', body(&b)).unwrap(),
            FrontendMessage::Parse {
                name: "s1".into(),
                query: "SELECT $1".into(),
                param_types: vec![23],
            }
        );
        let mut b = BytesMut::new();
        b.put_slice(b"p\0s1\0");
        b.put_i16(1);
        b.put_i16(1);
        b.put_i16(2);
        b.put_i32(4);
        b.put_i32(5);
        b.put_i32(-1);
        b.put_i16(0);
        assert_eq!(
            decode_message(b'B', body(&b)).unwrap(),
            FrontendMessage::Bind {
                portal: "p".into(),
                statement: "s1".into(),
                param_formats: vec![1],
                params: vec![Some(Bytes::copy_from_slice(&5i32.to_be_bytes())), None],
                result_formats: vec![],
            }
        );
        let mut b = BytesMut::new();
        b.put_slice(b"p\0");
        b.put_i32(10);
        assert_eq!(
            decode_message(b'E', body(&b)).unwrap(),
            FrontendMessage::Execute {
                portal: "p".into(),
                max_rows: 10
            }
        );
    }
}
