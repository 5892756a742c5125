//! The on-disk format of a managed table: its schema file and its log of
//! frames, split into segment files.
//!
//! ```text
//! <table dir>/
//!   schema.arrow                      Arrow IPC stream holding only the schema
//!   segment-00000000000000000000.log  frames at logical offsets [0, n)
//!   segment-<n, 20 digits>.log        frames at logical offsets [n, ...)
//! ```
//!
//! A segment is named by its *base*: the logical byte offset of its first
//! frame, so each frame has one logical offset for the table's lifetime
//! (usable as a changelog source offset), and the bases of consecutive
//! segments are contiguous. A segment is rolled only right after a commit,
//! so every segment but the last ends with a commit frame.
//!
//! A frame is `[len u32 LE][crc32 u32 LE][payload: len bytes]`, the CRC
//! covering the payload. The payload starts with an 8-byte header whose
//! first byte is the kind:
//!
//! - batch (`1`): `[1][0; 3][rows u32 LE]` then one Arrow IPC stream
//!   (schema, one record batch, end marker);
//! - commit (`2`): `[2][0; 7][statement u64][rows u64][total rows u64]`,
//!   ending one `append` call: the batch frames since the previous commit
//!   are its rows, in order.
//!
//! Readers must ignore batch frames not followed by a commit (there are
//! none below a snapshot, but the rule keeps the format self-describing).
//! Future changelog frames (deletes) will get kinds of their own.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;

use crate::error::{Error, Result};

/// The schema file in a table directory.
pub(crate) const SCHEMA_FILE: &str = "schema.arrow";

/// Schema metadata key recording the format version of the table.
const FORMAT_KEY: &str = "tidewater.managed.format";

/// The current format version.
const FORMAT_VERSION: &str = "1";

/// Length of a frame's `[len][crc]` header.
pub(crate) const FRAME_HEADER_LEN: u64 = 8;

/// Length of a payload's header.
pub(crate) const PAYLOAD_HEADER_LEN: usize = 8;

/// Length of a commit frame's payload.
const COMMIT_PAYLOAD_LEN: usize = PAYLOAD_HEADER_LEN + 24;

/// Kind byte of a batch frame.
const KIND_BATCH: u8 = 1;

/// Kind byte of a commit frame.
const KIND_COMMIT: u8 = 2;

/// Batches whose encoding is larger than this are split over several frames.
const MAX_FRAME_PAYLOAD: usize = 256 * 1024 * 1024;

/// A frame's payload, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Payload<'a> {
    /// Rows, as an Arrow IPC stream.
    Batch {
        /// Number of rows.
        rows: u32,
        /// The IPC stream.
        ipc: &'a [u8],
    },
    /// The end of one `append`.
    Commit(Commit),
}

/// The content of a commit frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Commit {
    /// The statement's sequence number (0, 1, ... per table).
    pub(crate) statement: u64,
    /// Rows the statement appended.
    pub(crate) rows: u64,
    /// Rows committed in the table, including this statement's.
    pub(crate) total_rows: u64,
}

/// The payload header's kind and row count, from its first 8 bytes.
pub(crate) fn payload_kind(header: &[u8; PAYLOAD_HEADER_LEN]) -> Option<(bool, u32)> {
    match header[0] {
        KIND_BATCH => Some((
            false,
            u32::from_le_bytes([header[4], header[5], header[6], header[7]]),
        )),
        KIND_COMMIT => Some((true, 0)),
        _ => None,
    }
}

/// Parses a payload; `None` if it is not a known frame.
pub(crate) fn parse_payload(payload: &[u8]) -> Option<Payload<'_>> {
    let header: &[u8; PAYLOAD_HEADER_LEN] = payload.get(..PAYLOAD_HEADER_LEN)?.try_into().ok()?;
    match payload_kind(header)? {
        (false, rows) => Some(Payload::Batch {
            rows,
            ipc: &payload[PAYLOAD_HEADER_LEN..],
        }),
        (true, _) => {
            if payload.len() != COMMIT_PAYLOAD_LEN {
                return None;
            }
            let word = |i: usize| {
                let start = PAYLOAD_HEADER_LEN + 8 * i;
                payload
                    .get(start..start + 8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_le_bytes)
            };
            Some(Payload::Commit(Commit {
                statement: word(0)?,
                rows: word(1)?,
                total_rows: word(2)?,
            }))
        }
    }
}

fn push_frame(out: &mut Vec<u8>, payload: &[u8]) -> Result<()> {
    let len = u32::try_from(payload.len()).map_err(|_| Error::InvalidWrite {
        path: String::new(),
        message: format!("a frame of {} bytes is too large", payload.len()),
    })?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// Appends the frames of `batch` (one, or several for a very large batch)
/// to `out`.
pub(crate) fn encode_batch(batch: &RecordBatch, out: &mut Vec<u8>) -> Result<()> {
    let rows = batch.num_rows();
    let mut payload = Vec::with_capacity(batch.get_array_memory_size() + 1024);
    payload.push(KIND_BATCH);
    payload.extend_from_slice(&[0; 3]);
    payload.extend_from_slice(&u32::try_from(rows).unwrap_or(u32::MAX).to_le_bytes());
    let mut writer = StreamWriter::try_new(&mut payload, &batch.schema())
        .map_err(|e| Error::arrow("encoding a batch for a managed table", e))?;
    writer
        .write(batch)
        .and_then(|()| writer.finish())
        .map_err(|e| Error::arrow("encoding a batch for a managed table", e))?;
    drop(writer);
    if (payload.len() > MAX_FRAME_PAYLOAD || u32::try_from(rows).is_err()) && rows > 1 {
        let half = rows / 2;
        encode_batch(&batch.slice(0, half), out)?;
        return encode_batch(&batch.slice(half, rows - half), out);
    }
    push_frame(out, &payload)
}

/// Appends a commit frame to `out`.
pub(crate) fn encode_commit(commit: Commit, out: &mut Vec<u8>) -> Result<()> {
    let mut payload = Vec::with_capacity(COMMIT_PAYLOAD_LEN);
    payload.push(KIND_COMMIT);
    payload.extend_from_slice(&[0; 7]);
    payload.extend_from_slice(&commit.statement.to_le_bytes());
    payload.extend_from_slice(&commit.rows.to_le_bytes());
    payload.extend_from_slice(&commit.total_rows.to_le_bytes());
    push_frame(out, &payload)
}

/// Decodes the IPC stream of a batch frame, keeping `projection` (column
/// indices; `None` for all).
pub(crate) fn decode_batch(
    ipc: &[u8],
    projection: Option<Vec<usize>>,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut reader = StreamReader::try_new(Cursor::new(ipc), projection)?;
    match reader.next() {
        Some(batch) => batch,
        None => Err(arrow::error::ArrowError::IpcError(
            "frame holds no batch".into(),
        )),
    }
}

/// The file name of the segment starting at logical offset `base`.
pub(crate) fn segment_file_name(base: u64) -> String {
    format!("segment-{base:020}.log")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("segment-")?.strip_suffix(".log")?;
    if digits.len() != 20 {
        return None;
    }
    digits.parse().ok()
}

/// A segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Logical offset of its first byte.
    pub(crate) base: u64,
    /// Its path.
    pub(crate) path: PathBuf,
}

/// The segments of the table in `dir`, by base.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<Segment>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir.display(), e))?;
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir.display(), e))?;
        if let Some(base) = entry.file_name().to_str().and_then(parse_segment_name) {
            segments.push(Segment {
                base,
                path: entry.path(),
            });
        }
    }
    segments.sort_by_key(|s| s.base);
    Ok(segments)
}

/// Writes the schema file of a new table (atomically: a temporary file,
/// then a rename).
pub(crate) fn write_schema(dir: &Path, schema: &Schema) -> Result<()> {
    let mut metadata = schema.metadata().clone();
    metadata.insert(FORMAT_KEY.to_string(), FORMAT_VERSION.to_string());
    let stored = schema.clone().with_metadata(metadata);
    let mut bytes = Vec::new();
    let mut writer = StreamWriter::try_new(&mut bytes, &stored)
        .map_err(|e| Error::arrow("encoding a managed table's schema", e))?;
    writer
        .finish()
        .map_err(|e| Error::arrow("encoding a managed table's schema", e))?;
    drop(writer);
    let tmp = dir.join(format!("{SCHEMA_FILE}.tmp"));
    let mut file = File::create(&tmp).map_err(|e| Error::write(tmp.display(), e))?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::write(tmp.display(), e))?;
    let target = dir.join(SCHEMA_FILE);
    std::fs::rename(&tmp, &target).map_err(|e| Error::write(target.display(), e))?;
    sync_dir(dir)
}

/// Reads the schema file of the table in `dir`.
pub(crate) fn read_schema(dir: &Path) -> Result<SchemaRef> {
    let path = dir.join(SCHEMA_FILE);
    let mut bytes = Vec::new();
    File::open(&path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| Error::io(path.display(), e))?;
    let reader = StreamReader::try_new(Cursor::new(bytes), None)
        .map_err(|e| Error::corrupt(path.display(), format!("cannot decode the schema: {e}")))?;
    let schema = reader.schema();
    let mut metadata = schema.metadata().clone();
    match metadata.remove(FORMAT_KEY).as_deref() {
        Some(FORMAT_VERSION) => {}
        Some(other) => {
            return Err(Error::corrupt(
                path.display(),
                format!(
                    "format version {other} is not supported by this server (it reads version {FORMAT_VERSION})"
                ),
            ));
        }
        None => {
            return Err(Error::corrupt(
                path.display(),
                "not a managed table schema file",
            ));
        }
    }
    Ok(Arc::new(schema.as_ref().clone().with_metadata(metadata)))
}

/// Creates an empty segment file (failing if it exists) and makes its
/// directory entry durable.
pub(crate) fn create_segment(dir: &Path, base: u64) -> Result<(PathBuf, File)> {
    let path = dir.join(segment_file_name(base));
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::write(path.display(), e))?;
    sync_dir(dir)?;
    Ok((path, file))
}

/// Makes the entries of `dir` (created, renamed, removed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    match File::open(dir).and_then(|d| d.sync_all()) {
        Ok(()) => Ok(()),
        // Some platforms cannot fsync a directory; there is nothing more to do.
        Err(e)
            if e.kind() == io::ErrorKind::PermissionDenied
                || e.kind() == io::ErrorKind::Unsupported =>
        {
            Ok(())
        }
        Err(e) => Err(Error::write(dir.display(), e)),
    }
}

/// The committed prefix of a segment, found by reading all its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recovered {
    /// Length of the segment up to the end of its last valid commit frame.
    pub(crate) committed_len: u64,
    /// The last commit, if any.
    pub(crate) last_commit: Option<Commit>,
    /// Length of the file as found.
    pub(crate) file_len: u64,
}

/// Reads a segment's frames, checking lengths and CRCs, and finds the end
/// of its last commit. Reading stops at the first frame that is torn
/// (extends past the end of the file), fails its CRC or is of an unknown
/// kind: with an append-only log, that and everything after it was never
/// committed.
pub(crate) fn recover_segment(path: &Path) -> Result<Recovered> {
    let file = File::open(path).map_err(|e| Error::io(path.display(), e))?;
    let file_len = file
        .metadata()
        .map_err(|e| Error::io(path.display(), e))?
        .len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut payload = Vec::new();
    let mut pos = 0u64;
    let mut committed_len = 0u64;
    let mut last_commit = None;
    while pos + FRAME_HEADER_LEN <= file_len {
        let mut header = [0u8; FRAME_HEADER_LEN as usize];
        reader
            .read_exact(&mut header)
            .map_err(|e| Error::io(path.display(), e))?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let end = pos + FRAME_HEADER_LEN + u64::from(len);
        if end > file_len {
            break;
        }
        payload.resize(len as usize, 0);
        reader
            .read_exact(&mut payload)
            .map_err(|e| Error::io(path.display(), e))?;
        if crc32fast::hash(&payload) != crc {
            break;
        }
        match parse_payload(&payload) {
            Some(Payload::Commit(c)) => {
                committed_len = end;
                last_commit = Some(c);
            }
            Some(Payload::Batch { .. }) => {}
            None => break,
        }
        pos = end;
    }
    Ok(Recovered {
        committed_len,
        last_commit,
        file_len,
    })
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field};

    use super::*;

    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as _),
            (
                "name",
                Arc::new(StringArray::from(vec!["a", "b", "c"])) as _,
            ),
        ])
        .unwrap()
    }

    fn frames(bytes: &[u8]) -> Vec<Payload<'_>> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
            let payload = &bytes[pos + 8..pos + 8 + len];
            assert_eq!(
                crc32fast::hash(payload).to_le_bytes(),
                bytes[pos + 4..pos + 8]
            );
            out.push(parse_payload(payload).unwrap());
            pos += 8 + len;
        }
        out
    }

    #[test]
    fn batch_and_commit_frames_round_trip() {
        let mut out = Vec::new();
        encode_batch(&batch(), &mut out).unwrap();
        let commit = Commit {
            statement: 4,
            rows: 3,
            total_rows: 10,
        };
        encode_commit(commit, &mut out).unwrap();
        let parsed = frames(&out);
        assert_eq!(parsed.len(), 2);
        let Payload::Batch { rows, ipc } = parsed[0] else {
            panic!("expected a batch frame")
        };
        assert_eq!(rows, 3);
        assert_eq!(decode_batch(ipc, None).unwrap(), batch());
        let projected = decode_batch(ipc, Some(vec![1])).unwrap();
        assert_eq!(projected.num_columns(), 1);
        assert_eq!(projected.schema().field(0).name(), "name");
        assert_eq!(parsed[1], Payload::Commit(commit));
    }

    #[test]
    fn schema_file_round_trips_and_names_segments() {
        let dir = tempfile::tempdir().unwrap();
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]);
        write_schema(dir.path(), &schema).unwrap();
        assert_eq!(read_schema(dir.path()).unwrap().as_ref(), &schema);
        assert_eq!(segment_file_name(42), "segment-00000000000000000042.log");
        assert_eq!(
            parse_segment_name("segment-00000000000000000042.log"),
            Some(42)
        );
        assert_eq!(parse_segment_name("segment-42.log"), None);
    }
}
