//! [`ManagedTable`]: the writer of a managed table's log, used by the server
//! for `INSERT` and `COPY ... FROM`.
//!
//! One [`ManagedTable::append`] call, or one [`TableWriter`] from
//! [`ManagedTable::writer`] (for statements too large to hold in memory),
//! is one atomic statement: its batch frames, then a commit frame, written
//! together and made durable with `fdatasync` before the commit returns.
//! Statements from several threads are serialized by an internal mutex
//! (encoding and staging happen outside it).
//!
//! [`ManagedTable::open`] recovers from a crash: it reads the last segment's
//! frames, checks their CRCs, and truncates everything after the last
//! commit (a statement torn by SIGKILL or power loss is dropped whole).
//! Sealed segments end with a commit by construction; their CRCs are
//! checked whenever they are read.
//!
//! [`ManagedTable::snapshot`] is the committed length of the log; a scan
//! given that length (in the `committed_bytes` option) reads exactly the
//! statements committed before it, however many are appended meanwhile.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::SchemaRef;
use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::managed::log::{self, Commit, SCHEMA_FILE};
use crate::managed::{COMMITTED_BYTES_OPTION, PATH_OPTION};
use tidewater_runtime::pgtypes::type_name;

/// Default size at which the log rolls to a new segment file.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// A managed table's storage, open for appends.
#[derive(Debug)]
pub struct ManagedTable {
    /// The table directory.
    dir: PathBuf,
    /// The table's schema.
    schema: SchemaRef,
    /// Roll to a new segment once the active one is at least this long.
    segment_bytes: u64,
    /// Committed length of the log (logical bytes).
    committed: AtomicU64,
    /// Committed rows.
    rows: AtomicU64,
    /// The active segment and the statement counter.
    writer: Mutex<Writer>,
}

#[derive(Debug)]
struct Writer {
    /// The active (last) segment, opened for appending.
    file: File,
    /// Its path, for messages.
    path: PathBuf,
    /// Its base (logical offset of its first byte).
    base: u64,
    /// Its committed length.
    len: u64,
    /// The next statement's sequence number.
    next_statement: u64,
    /// Committed rows.
    total_rows: u64,
    /// Why the table refuses writes: a failed write could not be undone.
    poisoned: Option<String>,
}

impl ManagedTable {
    /// Creates the storage of a new table in `dir` (created if missing;
    /// it must not already hold a table).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidWrite`] if `dir` already holds a table,
    /// [`Error::Write`] if it cannot be written.
    pub fn create(dir: &Path, schema: SchemaRef) -> Result<Self> {
        if dir.join(SCHEMA_FILE).exists() {
            return Err(Error::InvalidWrite {
                path: dir.display().to_string(),
                message: "a table already exists in this directory".into(),
            });
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::write(dir.display(), e))?;
        if let Some(parent) = dir.parent() {
            log::sync_dir(parent)?;
        }
        for stale in log::list_segments(dir)? {
            std::fs::remove_file(&stale.path).map_err(|e| Error::write(stale.path.display(), e))?;
        }
        let (path, file) = log::create_segment(dir, 0)?;
        // The schema file goes last: a directory without it holds no table.
        log::write_schema(dir, &schema)?;
        tracing::info!(dir = %dir.display(), "created managed table");
        Ok(Self::from_parts(
            dir,
            schema,
            Writer {
                file,
                path,
                base: 0,
                len: 0,
                next_statement: 0,
                total_rows: 0,
                poisoned: None,
            },
        ))
    }

    /// Opens the table in `dir`, recovering from a crash: anything after the
    /// last commit is truncated.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the directory or its files cannot be read,
    /// [`Error::Corrupt`] if the schema file or the segment layout is not
    /// valid.
    pub fn open(dir: &Path) -> Result<Self> {
        let schema = log::read_schema(dir)?;
        remove_staging_files(dir)?;
        let mut segments = log::list_segments(dir)?;
        if segments.is_empty() {
            let (path, _) = log::create_segment(dir, 0)?;
            segments.push(log::Segment { base: 0, path });
        }
        // Sealed segments must be contiguous: each starts where the previous ends.
        for pair in segments.windows(2) {
            let len = std::fs::metadata(&pair[0].path)
                .map_err(|e| Error::io(pair[0].path.display(), e))?
                .len();
            if pair[0].base + len != pair[1].base {
                return Err(Error::corrupt(
                    dir.display(),
                    format!(
                        "segment {} ends at offset {} but the next segment starts at {}",
                        pair[0].path.display(),
                        pair[0].base + len,
                        pair[1].base
                    ),
                ));
            }
        }
        let (active, recovered) = loop {
            let Some(last) = segments.last() else {
                return Err(Error::corrupt(dir.display(), "no segment files"));
            };
            let recovered = log::recover_segment(&last.path)?;
            if recovered.committed_len < recovered.file_len {
                tracing::warn!(
                    segment = %last.path.display(),
                    discarded_bytes = recovered.file_len - recovered.committed_len,
                    "discarding an uncommitted tail of a managed table (interrupted write)"
                );
                truncate(&last.path, recovered.committed_len)?;
            }
            if recovered.last_commit.is_some() || segments.len() == 1 {
                break (last.clone(), recovered);
            }
            // A segment rolled to but never committed in: drop it and
            // continue from the previous one, which ends with a commit.
            std::fs::remove_file(&last.path).map_err(|e| Error::write(last.path.display(), e))?;
            log::sync_dir(dir)?;
            segments.pop();
        };
        let file = OpenOptions::new()
            .append(true)
            .open(&active.path)
            .map_err(|e| Error::io(active.path.display(), e))?;
        let (next_statement, total_rows) = match recovered.last_commit {
            Some(c) => (c.statement + 1, c.total_rows),
            None => (0, 0),
        };
        tracing::info!(
            dir = %dir.display(),
            rows = total_rows,
            committed_bytes = active.base + recovered.committed_len,
            "opened managed table"
        );
        Ok(Self::from_parts(
            dir,
            schema,
            Writer {
                file,
                path: active.path,
                base: active.base,
                len: recovered.committed_len,
                next_statement,
                total_rows,
                poisoned: None,
            },
        ))
    }

    fn from_parts(dir: &Path, schema: SchemaRef, writer: Writer) -> Self {
        Self {
            dir: dir.to_path_buf(),
            schema,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            committed: AtomicU64::new(writer.base + writer.len),
            rows: AtomicU64::new(writer.total_rows),
            writer: Mutex::new(writer),
        }
    }

    /// Rolls the log to a new segment once the active one reaches `bytes`
    /// (default [`DEFAULT_SEGMENT_BYTES`]).
    pub fn with_segment_bytes(mut self, bytes: u64) -> Self {
        self.segment_bytes = bytes.max(1);
        self
    }

    /// The table directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The table's schema.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// The committed length of the log, in bytes: a snapshot for scans.
    pub fn snapshot(&self) -> u64 {
        self.committed.load(Ordering::Acquire)
    }

    /// The number of committed rows.
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Acquire)
    }

    /// The options of a `managed` scan of the table as of now: `path` and
    /// `committed_bytes` (the current [`Self::snapshot`]).
    pub fn scan_options(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (PATH_OPTION.to_string(), self.dir.display().to_string()),
            (
                COMMITTED_BYTES_OPTION.to_string(),
                self.snapshot().to_string(),
            ),
        ])
    }

    /// Appends `batches` as one atomic statement and makes it durable;
    /// returns the number of rows appended. Batches must have the table's
    /// column types (names may differ); empty batches are ignored, and a
    /// statement of no rows writes nothing.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidWrite`] if a batch does not fit the schema (nothing
    /// is written), [`Error::Write`] if the write or fsync fails (the
    /// statement is rolled back; if even that fails, the table refuses
    /// further writes until it is opened again).
    pub fn append(&self, batches: &[RecordBatch]) -> Result<u64> {
        let mut frames = Vec::new();
        let mut rows = 0u64;
        for batch in batches {
            if batch.num_rows() == 0 {
                continue;
            }
            let batch = self.conform(batch)?;
            rows += batch.num_rows() as u64;
            log::encode_batch(&batch, &mut frames).map_err(|e| self.with_path(e))?;
        }
        self.commit_frames(None, frames, rows)
    }

    /// Starts a statement whose rows are written a batch at a time and
    /// made visible all at once by [`TableWriter::commit`] (see
    /// [`TableWriter`]).
    ///
    /// # Errors
    ///
    /// None today; kept fallible for storage that must prepare a write.
    pub fn writer(self: &Arc<Self>) -> Result<TableWriter> {
        Ok(TableWriter {
            table: Arc::clone(self),
            frames: Vec::new(),
            staged: None,
            rows: 0,
        })
    }

    /// Writes one statement: the frames of `staged` (a file of frames, from
    /// its start), then `frames`, then the commit frame; syncs, and makes
    /// them visible. A failure rolls the segment back.
    fn commit_frames(
        &self,
        staged: Option<&mut File>,
        mut frames: Vec<u8>,
        rows: u64,
    ) -> Result<u64> {
        if rows == 0 {
            return Ok(0);
        }
        let mut w = self.writer.lock();
        if let Some(reason) = &w.poisoned {
            return Err(Error::InvalidWrite {
                path: self.dir.display().to_string(),
                message: format!(
                    "the table refuses writes after an unrecoverable write error ({reason}); restart the server"
                ),
            });
        }
        if w.len >= self.segment_bytes {
            self.roll(&mut w)?;
        }
        let commit = Commit {
            statement: w.next_statement,
            rows,
            total_rows: w.total_rows + rows,
        };
        log::encode_commit(commit, &mut frames)?;
        let mut copied = 0u64;
        let written = (|| {
            if let Some(staged) = staged {
                staged.seek(SeekFrom::Start(0))?;
                copied = std::io::copy(staged, &mut w.file)?;
            }
            w.file.write_all(&frames)?;
            w.file.sync_data()
        })();
        if let Err(e) = written {
            let undo = w.file.set_len(w.len).and_then(|()| w.file.sync_data());
            if let Err(undo_error) = undo {
                tracing::error!(
                    segment = %w.path.display(),
                    error = %undo_error,
                    "cannot roll back a failed write; the table refuses writes until reopened"
                );
                w.poisoned = Some(undo_error.to_string());
            }
            return Err(Error::write(w.path.display(), e));
        }
        w.len += copied + frames.len() as u64;
        w.next_statement += 1;
        w.total_rows = commit.total_rows;
        self.rows.store(w.total_rows, Ordering::Release);
        self.committed.store(w.base + w.len, Ordering::Release);
        Ok(rows)
    }

    /// Checks a batch against the schema and gives it the table's field
    /// names.
    fn conform(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let invalid = |message: String| Error::InvalidWrite {
            path: self.dir.display().to_string(),
            message,
        };
        let fields = self.schema.fields();
        if batch.num_columns() != fields.len() {
            return Err(invalid(format!(
                "a batch has {} columns, but the table has {}",
                batch.num_columns(),
                fields.len()
            )));
        }
        for (field, column) in fields.iter().zip(batch.columns()) {
            if column.data_type() != field.data_type() {
                return Err(invalid(format!(
                    "column {} has type {}, but a batch has {} ({})",
                    field.name(),
                    type_name(field.data_type()),
                    type_name(column.data_type()),
                    column.data_type()
                )));
            }
            if !field.is_nullable() && column.null_count() > 0 {
                return Err(invalid(format!(
                    "null value in column {} violates its NOT NULL constraint",
                    field.name()
                )));
            }
        }
        RecordBatch::try_new(Arc::clone(&self.schema), batch.columns().to_vec())
            .map_err(|e| Error::arrow(format!("managed table {}", self.dir.display()), e))
    }

    fn with_path(&self, e: Error) -> Error {
        match e {
            Error::InvalidWrite { message, .. } => Error::InvalidWrite {
                path: self.dir.display().to_string(),
                message,
            },
            other => other,
        }
    }

    /// Starts a new segment at the end of the active one.
    fn roll(&self, w: &mut Writer) -> Result<()> {
        let base = w.base + w.len;
        let (path, file) = log::create_segment(&self.dir, base)?;
        tracing::debug!(segment = %path.display(), "rolled managed table to a new segment");
        w.file = file;
        w.path = path;
        w.base = base;
        w.len = 0;
        Ok(())
    }
}

/// Encoded frames a [`TableWriter`] keeps in memory before it moves them
/// to a staging file.
const STAGE_IN_MEMORY: usize = 8 << 20;

/// Prefix of staging files in a table directory.
pub(crate) const STAGING_PREFIX: &str = "staging-";

/// One statement's rows on their way into a [`ManagedTable`]
/// ([`ManagedTable::writer`]): each batch is checked and encoded as it
/// comes; encoded frames beyond a few MiB go to a staging file in the
/// table directory, so a statement of any size takes bounded memory.
/// [`TableWriter::commit`] appends them to the log with one commit frame;
/// until then readers see nothing, and a writer dropped uncommitted (or a
/// crash) leaves the table as it was. Staging files left by a crash are
/// removed when the table is opened.
#[derive(Debug)]
pub struct TableWriter {
    /// The table.
    table: Arc<ManagedTable>,
    /// Encoded frames not yet staged.
    frames: Vec<u8>,
    /// The staging file, once frames outgrew memory.
    staged: Option<(PathBuf, File)>,
    /// Rows written.
    rows: u64,
}

impl TableWriter {
    /// Adds a batch (in the table's column types).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidWrite`] if the batch does not fit the schema,
    /// [`Error::Write`] if the staging file cannot be written.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let batch = self.table.conform(batch)?;
        log::encode_batch(&batch, &mut self.frames).map_err(|e| self.table.with_path(e))?;
        self.rows += batch.num_rows() as u64;
        if self.frames.len() >= STAGE_IN_MEMORY {
            self.stage()?;
        }
        Ok(())
    }

    /// Moves the frames in memory to the staging file.
    fn stage(&mut self) -> Result<()> {
        if self.staged.is_none() {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let name = format!(
                "{STAGING_PREFIX}{}-{}.tmp",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let path = self.table.dir.join(name);
            let file = OpenOptions::new()
                .create_new(true)
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| Error::write(path.display(), e))?;
            self.staged = Some((path, file));
        }
        let (path, file) = self.staged.as_mut().expect("created above");
        file.write_all(&self.frames)
            .map_err(|e| Error::write(path.display(), e))?;
        self.frames.clear();
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Makes the statement's rows visible and durable; returns their count.
    ///
    /// # Errors
    ///
    /// [`Error::Write`] if the log cannot be written (nothing is kept).
    pub fn commit(mut self) -> Result<u64> {
        let frames = std::mem::take(&mut self.frames);
        let staged = self.staged.as_mut().map(|(_, f)| f);
        self.table.commit_frames(staged, frames, self.rows)
    }
}

impl Drop for TableWriter {
    fn drop(&mut self) {
        if let Some((path, file)) = self.staged.take() {
            drop(file);
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove a staging file");
            }
        }
    }
}

/// Removes the staging files of writes a crash interrupted.
fn remove_staging_files(dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir.display(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir.display(), e))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(STAGING_PREFIX) {
            tracing::info!(file = %entry.path().display(), "removing the staging file of an interrupted write");
            std::fs::remove_file(entry.path())
                .map_err(|e| Error::write(entry.path().display(), e))?;
        }
    }
    Ok(())
}

fn truncate(path: &Path, len: u64) -> Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::write(path.display(), e))?;
    file.set_len(len)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::write(path.display(), e))
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use arrow::array::Int32Array;
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::managed::log::list_segments;
    use crate::managed::test_util::{ctx, ids, read, rows, scan_spec, schema};

    fn last_segment(dir: &Path) -> PathBuf {
        list_segments(dir).unwrap().pop().unwrap().path
    }

    #[test]
    fn append_and_reopen_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders");
        let table = ManagedTable::create(&path, schema()).unwrap();
        assert_eq!(table.append(&[rows(0..3), rows(3..5)]).unwrap(), 5);
        assert_eq!(table.append(&[rows(5..6)]).unwrap(), 1);
        assert_eq!(table.append(&[]).unwrap(), 0);
        assert_eq!(table.rows(), 6);
        let snapshot = table.snapshot();
        drop(table);

        let table = ManagedTable::open(&path).unwrap();
        assert_eq!(table.schema(), schema());
        assert_eq!(table.rows(), 6);
        assert_eq!(table.snapshot(), snapshot);
        table.append(&[rows(6..8)]).unwrap();
        let batches = read(&scan_spec(&table, None, None), &ctx(0, 1, 1024));
        assert_eq!(ids(&batches, 0), (0..8).collect::<Vec<_>>());

        let e = ManagedTable::create(&path, schema()).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("a table already exists in this directory"),
            "{e}"
        );
    }

    #[test]
    fn recovers_to_the_last_commit_after_a_torn_write() {
        let dir = tempfile::tempdir().unwrap();
        let table = ManagedTable::create(dir.path(), schema()).unwrap();
        table.append(&[rows(0..10)]).unwrap();
        let committed = table.snapshot();
        table.append(&[rows(10..20)]).unwrap();
        let full = table.snapshot();
        drop(table);

        // Cut the second statement in the middle of its batch frame, as a
        // SIGKILL during the write would.
        let segment = last_segment(dir.path());
        let file = OpenOptions::new().write(true).open(&segment).unwrap();
        file.set_len(committed + (full - committed) / 2).unwrap();
        drop(file);
        let table = ManagedTable::open(dir.path()).unwrap();
        assert_eq!(table.rows(), 10);
        assert_eq!(table.snapshot(), committed);
        assert_eq!(std::fs::metadata(&segment).unwrap().len(), committed);

        // Garbage after the last commit (a torn frame header and payload).
        let mut file = OpenOptions::new().append(true).open(&segment).unwrap();
        file.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 1, 0, 0])
            .unwrap();
        drop(file);
        drop(table);
        let table = ManagedTable::open(dir.path()).unwrap();
        assert_eq!(table.rows(), 10);

        // A complete batch frame with no commit after it is dropped too.
        let mut frames = Vec::new();
        log::encode_batch(&rows(100..101), &mut frames).unwrap();
        drop(table);
        let mut file = OpenOptions::new().append(true).open(&segment).unwrap();
        file.write_all(&frames).unwrap();
        drop(file);
        let table = ManagedTable::open(dir.path()).unwrap();
        assert_eq!(table.rows(), 10);
        table.append(&[rows(10..12)]).unwrap();
        drop(table);

        // A corrupted commit (bad CRC) ends the committed prefix.
        let table = ManagedTable::open(dir.path()).unwrap();
        let before_last = committed;
        let len = table.snapshot();
        drop(table);
        let mut bytes = std::fs::read(&segment).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xFF;
        std::fs::write(&segment, &bytes).unwrap();
        let table = ManagedTable::open(dir.path()).unwrap();
        assert_eq!(table.rows(), 10);
        assert_eq!(table.snapshot(), before_last);
        assert!(len > before_last);
        let batches = read(&scan_spec(&table, None, None), &ctx(0, 1, 1024));
        assert_eq!(ids(&batches, 0), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn rolls_segments_and_recovers_an_uncommitted_new_segment() {
        let dir = tempfile::tempdir().unwrap();
        let table = ManagedTable::create(dir.path(), schema())
            .unwrap()
            .with_segment_bytes(1);
        for i in 0..4 {
            table.append(&[rows(i * 10..i * 10 + 10)]).unwrap();
        }
        assert_eq!(list_segments(dir.path()).unwrap().len(), 4);
        let snapshot = table.snapshot();
        drop(table);
        // A roll that crashed before its first commit leaves a torn segment.
        let (_, mut file) = log::create_segment(dir.path(), snapshot).unwrap();
        file.write_all(&[1, 2, 3]).unwrap();
        drop(file);
        let table = ManagedTable::open(dir.path())
            .unwrap()
            .with_segment_bytes(1);
        assert_eq!(list_segments(dir.path()).unwrap().len(), 4);
        assert_eq!((table.rows(), table.snapshot()), (40, snapshot));
        table.append(&[rows(40..45)]).unwrap();
        let batches = read(&scan_spec(&table, None, None), &ctx(0, 1, 1024));
        assert_eq!(ids(&batches, 0), (0..45).collect::<Vec<_>>());
    }

    #[test]
    fn concurrent_appends_are_atomic_statements() {
        let dir = tempfile::tempdir().unwrap();
        let table = Arc::new(
            ManagedTable::create(dir.path(), schema())
                .unwrap()
                .with_segment_bytes(4096),
        );
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let table = Arc::clone(&table);
                std::thread::spawn(move || {
                    for s in 0..20 {
                        let first = (t * 20 + s) * 10;
                        // Two batches per statement: they must stay adjacent.
                        table
                            .append(&[rows(first..first + 4), rows(first + 4..first + 10)])
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(table.rows(), 1600);
        let got = ids(
            &read(&scan_spec(&table, None, None), &ctx(0, 1, 100_000)),
            0,
        );
        assert_eq!(got.len(), 1600);
        for statement in got.chunks(10) {
            let first = statement[0];
            assert_eq!(first % 10, 0);
            assert_eq!(
                statement,
                (first..first + 10).collect::<Vec<_>>().as_slice()
            );
        }
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1600).collect::<Vec<_>>());
        drop(table);
        let reopened = ManagedTable::open(dir.path()).unwrap();
        assert_eq!(reopened.rows(), 1600);
    }

    #[test]
    fn rejects_batches_that_do_not_fit() {
        let dir = tempfile::tempdir().unwrap();
        let table = ManagedTable::create(dir.path(), schema()).unwrap();
        let wrong = RecordBatch::try_from_iter([
            ("id", Arc::new(Int32Array::from(vec![1])) as _),
            (
                "name",
                Arc::new(arrow::array::StringArray::from(vec!["a"])) as _,
            ),
        ])
        .unwrap();
        let e = table.append(&[rows(0..1), wrong]).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "managed table {}: column id has type bigint, but a batch has integer (Int32)",
                dir.path().display()
            )
        );
        let nullable = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]));
        let null_id = RecordBatch::try_new(
            nullable,
            vec![
                Arc::new(arrow::array::Int64Array::from(vec![None])),
                Arc::new(arrow::array::StringArray::from(vec!["a"])),
            ],
        )
        .unwrap();
        let e = table.append(&[null_id]).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("null value in column id violates its NOT NULL constraint"),
            "{e}"
        );
        // Nothing was written.
        assert_eq!((table.rows(), table.snapshot()), (0, 0));
    }
}
