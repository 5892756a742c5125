//! How far the sources of running queries have read, for `FLUSH`.
//!
//! Each source instance of a query reports, as it reads, that everything
//! its input owed as of an instant has been emitted at or before an epoch:
//! a reader of a log when it has caught up with the log's end (a poll with
//! nothing new), a generator whenever it closes an epoch. `FLUSH` takes
//! the instant it began and waits until every source of a job has reported
//! a later instant; the largest epoch reported is then the one the job's
//! view must complete to reflect every row committed before `FLUSH`.
//!
//! The same record counts the rows a query's sources have read and the
//! rows its window operators dropped as late (`SHOW JOBS`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

use crate::Epoch;

/// Source progress of the queries of one timely instance, by query id.
#[derive(Debug, Default)]
pub struct ProgressStore {
    queries: Mutex<HashMap<u64, Arc<SourceProgress>>>,
}

impl ProgressStore {
    /// The progress of query `id` (created on first use).
    pub fn query(&self, id: u64) -> Arc<SourceProgress> {
        Arc::clone(self.queries.lock().entry(id).or_default())
    }

    /// Forgets query `id`.
    pub fn forget(&self, id: u64) {
        self.queries.lock().remove(&id);
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// The latest report: everything owed as of the instant is out, at
    /// epochs up to the epoch.
    reported: Option<(Instant, Epoch)>,
    /// The source has ended.
    done: bool,
}

/// The progress of one query's source instances in this process.
#[derive(Debug, Default)]
pub struct SourceProgress {
    slots: Mutex<Vec<Slot>>,
    rows_in: AtomicU64,
    late_rows: Arc<AtomicU64>,
}

impl SourceProgress {
    /// Counts `n` rows read by a source.
    pub fn add_rows_in(&self, n: usize) {
        self.rows_in.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Rows the query's sources have read in this process.
    pub fn rows_in(&self) -> u64 {
        self.rows_in.load(Ordering::Relaxed)
    }

    /// The counter of rows dropped as late, for the window operators.
    pub fn late_rows_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.late_rows)
    }

    /// Rows dropped as late in this process.
    pub fn late_rows(&self) -> u64 {
        self.late_rows.load(Ordering::Relaxed)
    }

    /// A new source instance; returns its slot.
    pub fn register(&self) -> usize {
        let mut slots = self.slots.lock();
        slots.push(Slot::default());
        slots.len() - 1
    }

    /// Source `slot` has emitted, at epochs up to `epoch`, all its input
    /// owed as of `at`.
    pub fn report(&self, slot: usize, at: Instant, epoch: Epoch) {
        if let Some(s) = self.slots.lock().get_mut(slot) {
            s.reported = Some((at, epoch));
        }
    }

    /// Source `slot` has ended.
    pub fn finish(&self, slot: usize) {
        if let Some(s) = self.slots.lock().get_mut(slot) {
            s.done = true;
        }
    }

    /// Once every source has reported an instant after `since` (or ended):
    /// the largest epoch they reported, which holds everything owed as of
    /// `since` (`Some(0)` when there are none).
    pub fn caught_up_since(&self, since: Instant) -> Option<Epoch> {
        let slots = self.slots.lock();
        let mut epoch = 0;
        for s in slots.iter() {
            if s.done {
                continue;
            }
            match s.reported {
                Some((at, e)) if at >= since => epoch = epoch.max(e),
                _ => return None,
            }
        }
        Some(epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_waits_for_every_source_to_report_after_it_began() {
        let store = ProgressStore::default();
        let p = store.query(1);
        let (a, b, c) = (p.register(), p.register(), p.register());
        let before = Instant::now();
        p.report(a, before, 3);
        let since = Instant::now();
        assert_eq!(p.caught_up_since(since), None);
        p.report(a, Instant::now(), 5);
        p.finish(c);
        assert_eq!(p.caught_up_since(since), None);
        p.report(b, Instant::now(), 7);
        assert_eq!(p.caught_up_since(since), Some(7));
        store.forget(1);
        assert_eq!(store.query(1).caught_up_since(since), Some(0));
    }
}
