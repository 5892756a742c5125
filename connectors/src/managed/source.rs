//! The `managed` connector's [`SourceReader`]: one worker's share of a
//! managed table's log, as of a snapshot.
//!
//! The reader walks the frame headers of every segment up to
//! `committed_bytes`, numbering the committed batch frames 0, 1, ...;
//! frame `i` is read by the worker with `owns_local_part(i)` (only process
//! 0 has the data directory). Batch frames not followed by a commit within
//! the snapshot are ignored. Payloads are read one at a time, their CRCs
//! checked, and decoded with only the projected columns; small frames
//! (single-row `INSERT`s) are merged into batches of about `batch_size`
//! rows, large ones sliced. A scan that needs no column uses the row counts
//! in the frame headers without decoding.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use tidewater_runtime::QueryError;
use tidewater_runtime::source::{SourceContext, SourcePoll, SourceReader, SplitOffsets};

use crate::error::{Error, Result};
use crate::managed::log::{self, FRAME_HEADER_LEN, PAYLOAD_HEADER_LEN, Payload};

/// A committed batch frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FrameRef {
    /// Index of its segment in the reader's list.
    segment: usize,
    /// Position of the frame (its header) in the segment file.
    position: u64,
    /// Logical offset of the frame in the table's log (a changelog offset).
    offset: u64,
    /// Payload length.
    len: u32,
    /// Rows in the frame.
    rows: u32,
}

/// One worker's reader of a managed table.
#[derive(Debug)]
pub struct ManagedSourceReader {
    /// The table directory, for messages.
    dir: PathBuf,
    /// Segment files, by base.
    segments: Vec<PathBuf>,
    /// The open segment file and its index.
    open: Option<(usize, File)>,
    /// This worker's frames, in log order.
    frames: VecDeque<FrameRef>,
    /// The schema of the batches produced.
    output_schema: SchemaRef,
    /// Columns to decode, in output order (`None` for all).
    projection: Option<Vec<usize>>,
    batch_size: usize,
    /// Rows still wanted, when the scan has a limit.
    remaining: Option<usize>,
    /// Decoded batches ready to return.
    ready: VecDeque<RecordBatch>,
    /// Buffer for one payload.
    payload: Vec<u8>,
    /// When following the log (a continuous query): the table, to see
    /// new commits, and the committed length read so far.
    follow: Option<(Arc<crate::managed::ManagedTable>, u64)>,
    /// Committed batch frames numbered so far (to assign frames).
    numbered: usize,
    /// Whether this worker reads the frames it numbers (the `follow` mode
    /// reads the whole log on one worker).
    owns_all: bool,
    /// Frames decoded into `ready` but not wholly returned yet: their
    /// logical offset, rows, and rows not yet returned (for the offsets of
    /// a follower).
    unreturned: VecDeque<(u64, u64, u64)>,
    /// Rows of the first frame to skip (a follower resumed in a frame).
    skip_rows: u64,
}

impl ManagedSourceReader {
    /// A reader of the frames of the table in `dir` below `committed_bytes`
    /// (`None`: everything committed now) that `ctx` owns.
    pub(crate) fn try_new(
        dir: &Path,
        committed_bytes: Option<u64>,
        output_schema: SchemaRef,
        projection: Option<Vec<usize>>,
        ctx: &SourceContext,
        limit: Option<usize>,
    ) -> Result<Self> {
        let mut reader = Self {
            dir: dir.to_path_buf(),
            segments: Vec::new(),
            open: None,
            frames: VecDeque::new(),
            output_schema,
            projection,
            batch_size: ctx.batch_size.max(1),
            remaining: limit,
            ready: VecDeque::new(),
            payload: Vec::new(),
            follow: None,
            numbered: 0,
            owns_all: false,
            unreturned: VecDeque::new(),
            skip_rows: 0,
        };
        if ctx.process != 0 || ctx.workers_per_process == 0 || limit == Some(0) {
            return Ok(reader);
        }
        let segments: Vec<_> = log::list_segments(dir)?
            .into_iter()
            .filter(|s| committed_bytes.is_none_or(|c| s.base < c))
            .collect();
        let mut index = 0usize;
        let mut uncommitted = Vec::new();
        for (i, segment) in segments.iter().enumerate() {
            let end = match (segments.get(i + 1), committed_bytes) {
                (Some(next), Some(c)) => next.base.min(c),
                (Some(next), None) => next.base,
                (None, Some(c)) => c,
                (None, None) => {
                    let len = std::fs::metadata(&segment.path)
                        .map_err(|e| Error::io(segment.path.display(), e))?
                        .len();
                    segment.base + len
                }
            };
            // Without a snapshot, the end of the last segment may be a write
            // in progress: stop quietly at a torn frame.
            let strict = committed_bytes.is_some() || i + 1 < segments.len();
            let frames = scan_headers(&segment.path, segment.base, end - segment.base, i, strict)?;
            for (frame, is_commit) in frames {
                if !is_commit {
                    uncommitted.push(frame);
                    continue;
                }
                for frame in uncommitted.drain(..) {
                    if ctx.owns_local_part(index) {
                        reader.frames.push_back(frame);
                    }
                    index += 1;
                }
            }
        }
        if !uncommitted.is_empty() {
            tracing::warn!(
                dir = %dir.display(),
                frames = uncommitted.len(),
                "ignoring batch frames without a commit in a managed table snapshot"
            );
        }
        reader.segments = segments.into_iter().map(|s| s.path).collect();
        Ok(reader)
    }

    /// A reader that follows the table's log: the statements committed
    /// now, then each one committed later, in commit order. One worker
    /// (worker 0 of process 0) reads them all, so that the order of rows,
    /// and the watermark that follows them, are the same at any worker
    /// count; the query spreads the rows after reading.
    ///
    /// Resumed from `resume` (the [`SourceReader::offsets`] of an earlier
    /// follower: split 0 is the logical offset of the first frame not
    /// wholly read, split 1 the rows of it already read), it continues with
    /// the rows after them.
    pub(crate) fn try_follow(
        dir: &Path,
        output_schema: SchemaRef,
        projection: Option<Vec<usize>>,
        ctx: &SourceContext,
        resume: Option<&SplitOffsets>,
    ) -> Result<Self> {
        let mut reader = Self::try_new(dir, Some(0), output_schema, projection, ctx, None)?;
        if ctx.process == 0 && ctx.worker_index == 0 {
            let table = crate::managed::open_table(dir)?;
            let from = resume.and_then(|r| r.get(&FOLLOW_OFFSET)).copied();
            reader.follow = Some((table, from.unwrap_or(0)));
            reader.skip_rows = resume
                .and_then(|r| r.get(&FOLLOW_ROWS))
                .copied()
                .unwrap_or(0);
            reader.owns_all = true;
        }
        Ok(reader)
    }

    /// Numbers the committed frames between the followed length and `to`.
    fn scan_to(&mut self, to: u64) -> Result<()> {
        let Some(from) = self.follow.as_ref().map(|(_, f)| *f) else {
            return Ok(());
        };
        let segments = log::list_segments(&self.dir)?;
        let mut uncommitted = Vec::new();
        for (i, segment) in segments.iter().enumerate() {
            let end = segments.get(i + 1).map_or(to, |n| n.base.min(to));
            if end <= from || segment.base >= to {
                continue;
            }
            let start = from.max(segment.base) - segment.base;
            let frames = scan_headers_from(
                &segment.path,
                segment.base,
                start,
                end - segment.base,
                i,
                true,
            )?;
            for (frame, is_commit) in frames {
                if !is_commit {
                    uncommitted.push(frame);
                    continue;
                }
                for frame in uncommitted.drain(..) {
                    if self.owns_all {
                        self.frames.push_back(frame);
                    }
                    self.numbered += 1;
                }
            }
        }
        self.segments = segments.into_iter().map(|s| s.path).collect();
        if let Some((_, f)) = self.follow.as_mut() {
            *f = to;
        }
        Ok(())
    }

    /// Reads and decodes one frame.
    fn read_frame(&mut self, frame: &FrameRef) -> Result<RecordBatch> {
        let path = &self.segments[frame.segment];
        let file = match self.open.take() {
            Some((i, f)) if i == frame.segment => f,
            _ => File::open(path).map_err(|e| Error::io(path.display(), e))?,
        };
        let mut file = file;
        let mut header = [0u8; FRAME_HEADER_LEN as usize];
        self.payload.resize(frame.len as usize, 0);
        file.seek(SeekFrom::Start(frame.position))
            .and_then(|_| file.read_exact(&mut header))
            .and_then(|()| file.read_exact(&mut self.payload))
            .map_err(|e| Error::io(path.display(), e))?;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if crc32fast::hash(&self.payload) != crc {
            return Err(Error::corrupt(
                path.display(),
                format!("checksum mismatch in the frame at offset {}", frame.offset),
            ));
        }
        let Some(Payload::Batch { ipc, .. }) = log::parse_payload(&self.payload) else {
            return Err(Error::corrupt(
                path.display(),
                format!("the frame at offset {} is not a batch", frame.offset),
            ));
        };
        let batch = log::decode_batch(ipc, self.projection.clone()).map_err(|e| {
            Error::corrupt(
                path.display(),
                format!("cannot decode the frame at offset {}: {e}", frame.offset),
            )
        })?;
        self.open = Some((frame.segment, file));
        RecordBatch::try_new_with_options(
            Arc::clone(&self.output_schema),
            batch.columns().to_vec(),
            &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
        )
        .map_err(|e| Error::arrow(format!("managed table {}", self.dir.display()), e))
    }

    /// Gathers about a batch of rows from the next frames.
    fn fill(&mut self) -> Result<()> {
        let mut parts = Vec::new();
        let mut rows = 0usize;
        let want = self
            .remaining
            .map_or(self.batch_size, |r| r.min(self.batch_size));
        while rows < want {
            let Some(frame) = self.frames.pop_front() else {
                break;
            };
            self.unreturned
                .push_back((frame.offset, u64::from(frame.rows), u64::from(frame.rows)));
            let batch = if self.output_schema.fields().is_empty() {
                RecordBatch::try_new_with_options(
                    Arc::clone(&self.output_schema),
                    vec![],
                    &RecordBatchOptions::new().with_row_count(Some(frame.rows as usize)),
                )
                .map_err(|e| Error::arrow("building a batch", e))?
            } else {
                self.read_frame(&frame)?
            };
            // A resumed follower skips the rows of its first frame it read before.
            let skip = (std::mem::take(&mut self.skip_rows) as usize).min(batch.num_rows());
            if skip > 0 {
                self.returned(skip);
            }
            let batch = batch.slice(skip, batch.num_rows() - skip);
            rows += batch.num_rows();
            parts.push(batch);
        }
        let merged = match parts.len() {
            0 => return Ok(()),
            1 => parts
                .pop()
                .unwrap_or_else(|| RecordBatch::new_empty(Arc::clone(&self.output_schema))),
            _ => concat_batches(&self.output_schema, &parts)
                .map_err(|e| Error::arrow(format!("managed table {}", self.dir.display()), e))?,
        };
        let mut start = 0;
        while start < merged.num_rows() {
            let len = self.batch_size.min(merged.num_rows() - start);
            self.ready.push_back(merged.slice(start, len));
            start += len;
        }
        Ok(())
    }

    fn try_poll(&mut self) -> Result<SourcePoll> {
        if self.remaining == Some(0) {
            return Ok(SourcePoll::Finished);
        }
        if self.ready.is_empty() {
            self.fill()?;
        }
        if self.ready.is_empty()
            && let Some((table, followed)) = self.follow.as_ref()
        {
            let committed = table.snapshot();
            if committed <= *followed {
                return Ok(SourcePoll::Pending);
            }
            self.scan_to(committed)?;
            self.fill()?;
            if self.ready.is_empty() {
                return Ok(SourcePoll::Pending);
            }
        }
        let Some(mut batch) = self.ready.pop_front() else {
            return Ok(SourcePoll::Finished);
        };
        if let Some(remaining) = self.remaining.as_mut() {
            if batch.num_rows() > *remaining {
                batch = batch.slice(0, *remaining);
            }
            *remaining -= batch.num_rows();
        }
        self.returned(batch.num_rows());
        Ok(SourcePoll::Batch(batch))
    }

    /// Counts `rows` as returned, from the oldest unreturned frames.
    fn returned(&mut self, rows: usize) {
        let mut rows = rows as u64;
        while rows > 0 {
            let Some(front) = self.unreturned.front_mut() else {
                break;
            };
            let n = rows.min(front.2);
            front.2 -= n;
            rows -= n;
            if front.2 == 0 {
                self.unreturned.pop_front();
            }
        }
        // Frames of no rows are wholly returned.
        while self.unreturned.front().is_some_and(|f| f.2 == 0) {
            self.unreturned.pop_front();
        }
    }
}

impl SourceReader for ManagedSourceReader {
    fn poll_next(&mut self) -> Result<SourcePoll, QueryError> {
        self.try_poll().map_err(Error::into_query_error)
    }

    fn follows_log(&self) -> bool {
        self.follow.is_some()
    }

    /// A follower's position (see [`ManagedSourceReader::try_follow`]);
    /// other readers do not resume.
    fn offsets(&self) -> SplitOffsets {
        let Some((_, followed)) = self.follow.as_ref() else {
            return SplitOffsets::new();
        };
        let (offset, read) = match (self.unreturned.front(), self.frames.front()) {
            (Some((offset, rows, left)), _) => (*offset, rows - left + self.skip_rows),
            (None, Some(frame)) => (frame.offset, self.skip_rows),
            (None, None) => (*followed, 0),
        };
        SplitOffsets::from([(FOLLOW_OFFSET, offset), (FOLLOW_ROWS, read)])
    }
}

/// The split of a follower's offsets holding the logical offset of the
/// first frame not wholly read.
const FOLLOW_OFFSET: u64 = 0;
/// The split holding the rows of that frame already read.
const FOLLOW_ROWS: u64 = 1;

/// Reads the frame headers of the first `len` bytes of a segment: each
/// frame and whether it is a commit. A frame that does not fit in `len` is
/// an error when `strict`, else the end of the scan.
fn scan_headers(
    path: &Path,
    base: u64,
    len: u64,
    segment: usize,
    strict: bool,
) -> Result<Vec<(FrameRef, bool)>> {
    scan_headers_from(path, base, 0, len, segment, strict)
}

/// [`scan_headers`] from position `start` of the segment (a frame
/// boundary) up to `len`.
fn scan_headers_from(
    path: &Path,
    base: u64,
    start: u64,
    len: u64,
    segment: usize,
    strict: bool,
) -> Result<Vec<(FrameRef, bool)>> {
    let mut file = File::open(path).map_err(|e| Error::io(path.display(), e))?;
    file.seek(SeekFrom::Start(start))
        .map_err(|e| Error::io(path.display(), e))?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut frames = Vec::new();
    let mut position = start;
    let corrupt = |position: u64, what: &str| {
        Error::corrupt(
            path.display(),
            format!(
                "{what} at offset {} (snapshot ends at {})",
                base + position,
                base + len
            ),
        )
    };
    while position < len {
        if position + FRAME_HEADER_LEN + PAYLOAD_HEADER_LEN as u64 > len {
            if !strict {
                break;
            }
            return Err(corrupt(position, "truncated frame"));
        }
        let mut head = [0u8; FRAME_HEADER_LEN as usize + PAYLOAD_HEADER_LEN];
        reader
            .read_exact(&mut head)
            .map_err(|e| Error::io(path.display(), e))?;
        let frame_len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let end = position + FRAME_HEADER_LEN + u64::from(frame_len);
        if end > len || (frame_len as usize) < PAYLOAD_HEADER_LEN {
            if !strict {
                break;
            }
            return Err(corrupt(position, "frame extends past the snapshot"));
        }
        let mut payload_header = [0u8; PAYLOAD_HEADER_LEN];
        payload_header.copy_from_slice(&head[FRAME_HEADER_LEN as usize..]);
        let Some((is_commit, rows)) = log::payload_kind(&payload_header) else {
            if !strict {
                break;
            }
            return Err(corrupt(position, "unknown frame kind"));
        };
        frames.push((
            FrameRef {
                segment,
                position,
                offset: base + position,
                len: frame_len,
                rows,
            },
            is_commit,
        ));
        let skip = i64::from(frame_len) - PAYLOAD_HEADER_LEN as i64;
        reader
            .seek_relative(skip)
            .map_err(|e| Error::io(path.display(), e))?;
        position = end;
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tidewater_runtime::source::Connector;

    use super::*;
    use crate::managed::test_util::{ctx, ids, read, rows, scan_spec, schema};
    use crate::managed::{ManagedConnector, ManagedTable};

    #[test]
    fn a_snapshot_does_not_see_later_statements() {
        let dir = tempfile::tempdir().unwrap();
        let table = ManagedTable::create(dir.path(), schema())
            .unwrap()
            .with_segment_bytes(512);
        table.append(&[rows(0..5)]).unwrap();
        let old = scan_spec(&table, None, None);
        table.append(&[rows(5..10)]).unwrap();
        table.append(&[rows(10..15)]).unwrap();
        assert_eq!(
            ids(&read(&old, &ctx(0, 1, 100)), 0),
            (0..5).collect::<Vec<_>>()
        );
        let new = scan_spec(&table, None, None);
        assert_eq!(
            ids(&read(&new, &ctx(0, 1, 100)), 0),
            (0..15).collect::<Vec<_>>()
        );
    }

    #[test]
    fn projection_limit_and_count_only() {
        let dir = tempfile::tempdir().unwrap();
        let table = ManagedTable::create(dir.path(), schema()).unwrap();
        for i in 0..20 {
            table.append(&[rows(i * 3..i * 3 + 3)]).unwrap();
        }
        let spec = scan_spec(&table, Some(vec![1, 0]), None);
        let batches = read(&spec, &ctx(0, 1, 7));
        // Small frames are merged into batches of the requested size.
        assert_eq!(batches[0].num_rows(), 7);
        assert_eq!(batches[0].schema().field(0).name(), "name");
        assert_eq!(ids(&batches, 1), (0..60).collect::<Vec<_>>());

        let spec = scan_spec(&table, Some(vec![0]), Some(10));
        assert_eq!(
            ids(&read(&spec, &ctx(0, 1, 4)), 0),
            (0..10).collect::<Vec<_>>()
        );

        let spec = scan_spec(&table, Some(vec![]), None);
        let batches = read(&spec, &ctx(0, 1, 8));
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 60);
    }

    #[test]
    fn frames_are_split_among_process_zero_workers() {
        let dir = tempfile::tempdir().unwrap();
        let table = ManagedTable::create(dir.path(), schema())
            .unwrap()
            .with_segment_bytes(1024);
        for i in 0..9 {
            table.append(&[rows(i * 10..i * 10 + 10)]).unwrap();
        }
        let spec = scan_spec(&table, None, None);
        let w0 = ids(&read(&spec, &ctx(0, 2, 1000)), 0);
        let w1 = ids(&read(&spec, &ctx(1, 2, 1000)), 0);
        assert_eq!((w0.len(), w1.len()), (50, 40));
        let mut union = [w0, w1].concat();
        union.sort_unstable();
        assert_eq!(union, (0..90).collect::<Vec<_>>());
        // Other processes have no data directory: they read nothing.
        let elsewhere = SourceContext {
            worker_index: 2,
            peers: 4,
            process: 1,
            workers_per_process: 2,
            batch_size: 1000,
        };
        assert!(read(&spec, &elsewhere).is_empty());
    }

    #[test]
    fn options_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let table = ManagedTable::create(dir.path(), schema()).unwrap();
        let mut options = table.scan_options();
        options.insert("compression".into(), "zstd".into());
        let e = ManagedConnector.validate(&options, None).unwrap_err();
        assert_eq!(
            e.message,
            "unknown option 'compression' for connector 'managed' (valid options: path, committed_bytes, follow)"
        );
        let options = BTreeMap::from([
            ("path".to_string(), dir.path().display().to_string()),
            ("committed_bytes".to_string(), "-1".to_string()),
        ]);
        let e = ManagedConnector.validate(&options, None).unwrap_err();
        assert_eq!(
            e.message,
            "invalid value '-1' for option 'committed_bytes' of connector 'managed': expected a non-negative integer"
        );
        let missing = BTreeMap::from([(
            "path".to_string(),
            dir.path().join("nope").display().to_string(),
        )]);
        let e = ManagedConnector.validate(&missing, None).unwrap_err();
        assert!(e.message.starts_with("cannot read "), "{}", e.message);
    }

    #[test]
    fn without_a_snapshot_reads_what_is_committed() {
        let dir = tempfile::tempdir().unwrap();
        let table = ManagedTable::create(dir.path(), schema()).unwrap();
        table.append(&[rows(0..4)]).unwrap();
        let mut spec = scan_spec(&table, None, None);
        spec.options.remove("committed_bytes");
        // An append in progress: a batch frame with no commit yet, torn.
        let segment = log::list_segments(dir.path()).unwrap().pop().unwrap().path;
        let mut frames = Vec::new();
        log::encode_batch(&rows(4..8), &mut frames).unwrap();
        let mut bytes = std::fs::read(&segment).unwrap();
        bytes.extend_from_slice(&frames[..frames.len() - 3]);
        std::fs::write(&segment, &bytes).unwrap();
        assert_eq!(
            ids(&read(&spec, &ctx(0, 1, 100)), 0),
            (0..4).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_corrupted_committed_frame_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let table = ManagedTable::create(dir.path(), schema()).unwrap();
        table.append(&[rows(0..4)]).unwrap();
        let spec = scan_spec(&table, None, None);
        let segment = log::list_segments(dir.path()).unwrap().pop().unwrap().path;
        let mut bytes = std::fs::read(&segment).unwrap();
        bytes[40] ^= 0xFF;
        std::fs::write(&segment, &bytes).unwrap();
        let mut reader = ManagedConnector.open(&spec, &ctx(0, 1, 100)).unwrap();
        let e = reader.poll_next().unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "managed table {}: checksum mismatch in the frame at offset 0",
                segment.display()
            )
        );
    }
}
