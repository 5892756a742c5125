//! The state of materialized views, as the jobs that maintain them publish
//! it, and as queries read it.
//!
//! A view's job ends in a publish operator on every worker
//! ([`crate::operators::publish`]); the rows reach it hashed on all their
//! columns, so each worker holds the part of the view in its key groups.
//! When an epoch completes, the operator publishes its part *as of that
//! epoch* into this process's [`ViewStore`]: the part's contents (an
//! immutable list of batches, shared with readers) and the epoch's changes
//! (a changelog batch, see [`crate::changelog`]). A part's *frontier* is
//! the first epoch it has not published: every epoch before it is final.
//!
//! Readers choose one epoch `E` for all parts (the server picks the newest
//! epoch that every part of its process has completed) and read each
//! part's contents as of `E`, so a query over a view sees one consistent
//! cut; a part still behind `E` (on another process) is waited for.
//! Consumers that follow a view (views over views, subscriptions) read the
//! contents at `E` and then every change after it. Each part keeps the
//! versions and changes of its last [`RETAINED_EPOCHS`] epochs for them: a
//! reader that falls further behind fails with a clear error rather than
//! holding the view's memory hostage.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parking_lot::Mutex;

use crate::Epoch;
use crate::error::{QueryError, SqlState};

/// Epochs of history (versions and changes) a view part keeps for readers
/// that are behind (about ten seconds at the default epoch interval).
pub const RETAINED_EPOCHS: Epoch = 100;

/// The parts of every materialized view whose job runs in this process.
#[derive(Debug, Default)]
pub struct ViewStore {
    parts: Mutex<HashMap<(u64, usize), Arc<ViewPart>>>,
}

impl ViewStore {
    /// The part of `view` held by worker `worker`, created (empty, with
    /// `schema`) by the view's publish operator when its job is built.
    pub fn create_part(&self, view: u64, worker: usize, schema: SchemaRef) -> Arc<ViewPart> {
        let part = Arc::new(ViewPart::new(schema));
        let old = self.parts.lock().insert((view, worker), Arc::clone(&part));
        if let Some(old) = old {
            old.mark_dropped();
        }
        part
    }

    /// The part of `view` that worker `worker` holds, if its job is built.
    pub fn part(&self, view: u64, worker: usize) -> Option<Arc<ViewPart>> {
        self.parts.lock().get(&(view, worker)).cloned()
    }

    /// Every part of `view` in this process, by worker.
    pub fn local_parts(&self, view: u64) -> Vec<(usize, Arc<ViewPart>)> {
        let mut parts: Vec<_> = self
            .parts
            .lock()
            .iter()
            .filter(|((v, _), _)| *v == view)
            .map(|((_, w), p)| (*w, Arc::clone(p)))
            .collect();
        parts.sort_by_key(|(w, _)| *w);
        parts
    }

    /// The newest epoch that every local part of `view` has published, or
    /// `None` when some part has published nothing yet (the view is empty
    /// as of its first epoch then: read at epoch 0).
    pub fn readable_epoch(&self, view: u64) -> Option<Epoch> {
        self.local_parts(view)
            .iter()
            .map(|(_, p)| p.frontier())
            .min()
            .and_then(|f| f.checked_sub(1))
    }

    /// Makes what the local parts of `view` hold final, once its job's run
    /// has stopped (failed): a part that has published no epoch yet (a
    /// restored part holds its checkpoint's contents) publishes epoch 0
    /// unchanged, so that readers see those contents rather than wait for
    /// an epoch that will not come. A later run creates new parts.
    pub fn seal(&self, view: u64) {
        for (_, part) in self.local_parts(view) {
            if part.frontier() == 0 {
                part.publish(0, None, Vec::new());
            }
        }
    }

    /// Forgets `view` (dropped): readers and followers still holding a
    /// part see it as dropped.
    pub fn remove(&self, view: u64) {
        let mut parts = self.parts.lock();
        parts.retain(|(v, _), part| {
            if *v == view {
                part.mark_dropped();
            }
            *v != view
        });
    }
}

/// One worker's part of a view.
#[derive(Debug)]
pub struct ViewPart {
    schema: SchemaRef,
    inner: Mutex<PartInner>,
    frontier: tokio::sync::watch::Sender<Epoch>,
}

#[derive(Debug)]
struct PartInner {
    /// Contents by the epoch from which they hold, oldest first; the first
    /// holds from before the retained history.
    versions: VecDeque<(Epoch, Contents)>,
    /// Changes by epoch, oldest first (only epochs with changes).
    changes: VecDeque<(Epoch, Vec<RecordBatch>)>,
    /// The newest epoch whose changes were dropped from the history.
    trimmed: Option<Epoch>,
    /// The first epoch not yet published.
    frontier: Epoch,
    dropped: bool,
    /// The watermark of the last epoch published.
    watermark: Option<crate::watermark::Timestamp>,
}

/// A part's contents at one epoch: immutable batches shared with readers.
pub type Contents = Arc<[RecordBatch]>;

impl ViewPart {
    fn new(schema: SchemaRef) -> Self {
        Self {
            schema,
            inner: Mutex::new(PartInner {
                versions: VecDeque::from([(0, Arc::from(Vec::new()))]),
                changes: VecDeque::new(),
                trimmed: None,
                frontier: 0,
                dropped: false,
                watermark: None,
            }),
            frontier: tokio::sync::watch::Sender::new(0),
        }
    }

    /// The view's columns (without an op column).
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The first epoch not yet published (every epoch before it is final).
    pub fn frontier(&self) -> Epoch {
        self.inner.lock().frontier
    }

    /// The event-time watermark of the last epoch published.
    pub fn watermark(&self) -> Option<crate::watermark::Timestamp> {
        self.inner.lock().watermark
    }

    /// Records the watermark the part's input has reached.
    pub fn set_watermark(&self, watermark: crate::watermark::Timestamp) {
        self.inner.lock().watermark = Some(watermark);
    }

    /// Rows in the part as of its last published epoch.
    pub fn rows(&self) -> usize {
        let inner = self.inner.lock();
        inner
            .versions
            .back()
            .map_or(0, |(_, c)| c.iter().map(RecordBatch::num_rows).sum())
    }

    /// Whether the view was dropped.
    pub fn is_dropped(&self) -> bool {
        self.inner.lock().dropped
    }

    fn mark_dropped(&self) {
        self.inner.lock().dropped = true;
        // Wake waiters, who then see the drop.
        self.frontier.send_modify(|_| {});
    }

    /// A watch of the part's frontier, for async waiters.
    pub fn watch_frontier(&self) -> tokio::sync::watch::Receiver<Epoch> {
        self.frontier.subscribe()
    }

    /// Sets the part's contents restored from a checkpoint, before any
    /// epoch of its job completes: they are the contents as of epoch 0
    /// until epoch 0's own changes are published over them.
    pub fn restore(&self, contents: Contents) {
        let mut inner = self.inner.lock();
        if inner.frontier == 0 {
            inner.versions.clear();
            inner.versions.push_back((0, contents));
        }
    }

    /// Publishes `epoch` as complete: the part's new contents (`None`:
    /// unchanged) and the epoch's changes (changelog batches).
    pub fn publish(&self, epoch: Epoch, contents: Option<Contents>, changes: Vec<RecordBatch>) {
        let frontier = epoch.saturating_add(1);
        {
            let mut inner = self.inner.lock();
            if frontier <= inner.frontier {
                return;
            }
            if let Some(contents) = contents {
                match inner.versions.back_mut() {
                    Some((e, c)) if *e == epoch => *c = contents,
                    _ => inner.versions.push_back((epoch, contents)),
                }
            }
            if !changes.is_empty() {
                inner.changes.push_back((epoch, changes));
            }
            // A final part (its input ended) keeps the history it has: a
            // reader that chose an epoch just before the end still finds it.
            let horizon = if frontier == Epoch::MAX {
                inner.frontier.saturating_sub(RETAINED_EPOCHS)
            } else {
                frontier.saturating_sub(RETAINED_EPOCHS)
            };
            inner.frontier = frontier;
            while inner.versions.len() > 1 && inner.versions[1].0 <= horizon {
                inner.versions.pop_front();
            }
            while inner.changes.front().is_some_and(|(e, _)| *e < horizon) {
                let (e, _) = inner.changes.pop_front().expect("non-empty");
                inner.trimmed = Some(e);
            }
        }
        self.frontier.send_replace(frontier);
    }

    /// The contents as of `epoch`, once the part has published it
    /// (`Ok(None)` while it has not).
    ///
    /// # Errors
    ///
    /// When the view was dropped, or `epoch` is older than the history kept.
    pub fn contents_at(&self, epoch: Epoch) -> Result<Option<Contents>, QueryError> {
        let inner = self.inner.lock();
        if inner.dropped {
            return Err(dropped());
        }
        if inner.frontier <= epoch {
            return Ok(None);
        }
        match inner.versions.iter().rev().find(|(e, _)| *e <= epoch) {
            Some((_, c)) => Ok(Some(Arc::clone(c))),
            None => Err(behind(epoch)),
        }
    }

    /// The changes of the epochs after `after` that are published, by
    /// epoch, and the part's frontier.
    ///
    /// # Errors
    ///
    /// When the view was dropped, or changes after `after` are no longer
    /// kept (the reader fell more than [`RETAINED_EPOCHS`] behind).
    pub fn changes_after(&self, after: Epoch) -> Result<(EpochChanges, Epoch), QueryError> {
        let inner = self.inner.lock();
        if inner.dropped {
            return Err(dropped());
        }
        if inner.trimmed.is_some_and(|t| t > after) {
            return Err(behind(after));
        }
        let changes = inner
            .changes
            .iter()
            .filter(|(e, _)| *e > after)
            .cloned()
            .collect();
        Ok((changes, inner.frontier))
    }
}

/// Changes by epoch, oldest first.
pub type EpochChanges = Vec<(Epoch, Vec<RecordBatch>)>;

fn dropped() -> QueryError {
    QueryError::new(
        SqlState::UndefinedTable,
        "the materialized view was dropped",
    )
}

fn behind(epoch: Epoch) -> QueryError {
    QueryError::new(
        SqlState::QueryCanceled,
        format!(
            "fell more than {RETAINED_EPOCHS} epochs behind the materialized view \
             (epoch {epoch} is no longer kept)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};

    fn batch(v: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, true)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![v]))]).unwrap()
    }

    #[test]
    fn a_sealed_view_serves_its_restored_contents() {
        let store = ViewStore::default();
        let restored = store.create_part(8, 0, batch(0).schema());
        restored.restore(Arc::from(vec![batch(5)]));
        let ahead = store.create_part(8, 1, batch(0).schema());
        ahead.publish(4, Some(Arc::from(vec![batch(6), batch(7)])), vec![]);
        assert_eq!(store.readable_epoch(8), None);
        store.seal(8);
        assert_eq!(store.readable_epoch(8), Some(0));
        assert_eq!(restored.contents_at(0).unwrap().unwrap().len(), 1);
        // A part that had published keeps its epochs.
        assert_eq!(ahead.frontier(), 5);
    }

    #[test]
    fn readers_see_the_contents_as_of_their_epoch() {
        let store = ViewStore::default();
        let part = store.create_part(7, 0, batch(0).schema());
        assert_eq!(store.readable_epoch(7), None);
        assert!(part.contents_at(0).unwrap().is_none());
        part.publish(0, None, vec![]);
        assert_eq!(part.contents_at(0).unwrap().unwrap().len(), 0);
        part.publish(3, Some(Arc::from(vec![batch(1)])), vec![batch(1)]);
        assert_eq!(store.readable_epoch(7), Some(3));
        assert_eq!(part.contents_at(2).unwrap().unwrap().len(), 0);
        assert_eq!(part.contents_at(3).unwrap().unwrap().len(), 1);
        assert!(part.contents_at(4).unwrap().is_none());
        let (changes, frontier) = part.changes_after(0).unwrap();
        assert_eq!((changes.len(), changes[0].0, frontier), (1, 3, 4));
        assert!(part.changes_after(3).unwrap().0.is_empty());
        // A second part behind holds the readable epoch back.
        let other = store.create_part(7, 1, batch(0).schema());
        assert_eq!(store.readable_epoch(7), None);
        other.publish(1, None, vec![]);
        assert_eq!(store.readable_epoch(7), Some(1));
        store.remove(7);
        assert!(part.contents_at(3).is_err() && store.local_parts(7).is_empty());
    }

    #[test]
    fn restored_contents_stand_until_epoch_0_publishes_over_them() {
        let store = ViewStore::default();
        let part = store.create_part(2, 0, batch(0).schema());
        part.restore(Arc::from(vec![batch(1), batch(2)]));
        // Restoring completes no epoch: epoch 0 still publishes its changes.
        assert!(part.contents_at(0).unwrap().is_none());
        part.publish(0, None, vec![]);
        assert_eq!(part.contents_at(0).unwrap().unwrap().len(), 2);
        let other = store.create_part(3, 0, batch(0).schema());
        other.restore(Arc::from(vec![batch(1)]));
        other.publish(
            0,
            Some(Arc::from(vec![batch(1), batch(5), batch(6)])),
            vec![batch(5)],
        );
        assert_eq!(other.contents_at(0).unwrap().unwrap().len(), 3);
    }

    #[test]
    fn history_is_trimmed_and_readers_behind_it_fail() {
        let store = ViewStore::default();
        let part = store.create_part(1, 0, batch(0).schema());
        for e in 0..(3 * RETAINED_EPOCHS) {
            part.publish(
                e,
                Some(Arc::from(vec![batch(e as i64)])),
                vec![batch(e as i64)],
            );
        }
        let last = 3 * RETAINED_EPOCHS - 1;
        assert!(part.changes_after(last - 10).is_ok());
        assert!(part.changes_after(5).is_err());
        assert!(part.contents_at(5).is_err());
        let c = part.contents_at(last - 5).unwrap().unwrap();
        let v = c[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0);
        assert_eq!(v, (last - 5) as i64);
        let inner = part.inner.lock();
        assert!(inner.versions.len() as u64 <= RETAINED_EPOCHS + 1);
        assert!(inner.changes.len() as u64 <= RETAINED_EPOCHS + 1);
    }
}
