//! The `file` connector's [`SourceReader`]: one worker's share of a table's
//! files, in whichever format, with the scan's limit applied.
//!
//! Each [`SourceReader::poll_next`] returns one batch of at most about
//! `batch_size` rows (never a whole file), then [`SourcePoll::Finished`]
//! once the share is read or the limit reached. Rows skipped as bad
//! (`bad_rows = 'skip'`) are counted on the reader ([`FileSourceReader::skipped_rows`])
//! and in the process-wide metric [`crate::metrics::skipped_rows`], and
//! logged as a warning when the reader finishes.

use std::fmt;

use arrow::array::RecordBatch;
use tidewater_runtime::QueryError;
use tidewater_runtime::source::{SourcePoll, SourceReader};

use crate::error::Result;
use crate::metrics;

/// Reads one format's files for one worker.
pub(crate) trait FormatReader: Send + fmt::Debug {
    /// The next batch, in the scan's output schema; `None` at the end.
    fn next_batch(&mut self) -> Result<Option<RecordBatch>>;

    /// Rows skipped as bad since the last call.
    fn take_skipped(&mut self) -> u64 {
        0
    }
}

/// One worker's reader of a `file` table.
#[derive(Debug)]
pub struct FileSourceReader {
    /// The table, for logs and metrics.
    table: String,
    /// The format's reader.
    inner: Box<dyn FormatReader>,
    /// Rows still wanted, when the scan has a limit.
    remaining: Option<usize>,
    /// Rows skipped as bad so far.
    skipped: u64,
    /// Rows produced so far.
    rows: u64,
    /// The reader has returned `Finished`.
    finished: bool,
}

impl FileSourceReader {
    pub(crate) fn new(table: String, inner: Box<dyn FormatReader>, limit: Option<usize>) -> Self {
        Self {
            table,
            inner,
            remaining: limit,
            skipped: 0,
            rows: 0,
            finished: false,
        }
    }

    /// Rows this reader skipped as bad (`bad_rows = 'skip'`) so far.
    pub fn skipped_rows(&self) -> u64 {
        self.skipped
    }

    fn collect_skipped(&mut self) {
        let n = self.inner.take_skipped();
        if n > 0 {
            self.skipped += n;
            metrics::add_skipped_rows(&self.table, n);
        }
    }

    fn finish(&mut self) -> SourcePoll {
        if !self.finished {
            self.finished = true;
            self.collect_skipped();
            if self.skipped > 0 {
                tracing::warn!(
                    table = %self.table,
                    skipped_rows = self.skipped,
                    rows = self.rows,
                    "skipped malformed rows (bad_rows = 'skip')"
                );
            } else {
                tracing::debug!(table = %self.table, rows = self.rows, "file scan finished");
            }
        }
        SourcePoll::Finished
    }

    fn try_poll(&mut self) -> Result<SourcePoll> {
        if self.finished || self.remaining == Some(0) {
            return Ok(self.finish());
        }
        let next = self.inner.next_batch();
        self.collect_skipped();
        let Some(mut batch) = next? else {
            return Ok(self.finish());
        };
        if let Some(remaining) = self.remaining.as_mut() {
            if batch.num_rows() > *remaining {
                batch = batch.slice(0, *remaining);
            }
            *remaining -= batch.num_rows();
        }
        self.rows += batch.num_rows() as u64;
        Ok(SourcePoll::Batch(batch))
    }
}

impl SourceReader for FileSourceReader {
    fn poll_next(&mut self) -> Result<SourcePoll, QueryError> {
        self.try_poll().map_err(|e| {
            self.finished = true;
            e.into_query_error()
        })
    }
}
