//! Consistent cuts of a running job, for checkpoints (see ARCHITECTURE.md:
//! epochs are the checkpoint cut).
//!
//! A job that is checkpointed shares one [`JobCheckpoint`] between the
//! workers of this process. Each stateful operator instance and each source
//! instance registers a slot when its dataflow is built. To take a
//! checkpoint, [`JobCheckpoint::request`] picks the cut epoch `T`: the
//! newest epoch some source is still in. No source has closed `T` yet, and
//! no operator can have completed it (an epoch completes only once every
//! source has closed it), so:
//!
//! - each source records its offsets at the moment it closes `T` (after
//!   the last batch it emitted at `T`);
//! - each operator's driver hands over every input of epochs up to `T`,
//!   then takes the operator's [`snapshot`](crate::operators::UnaryOperator::snapshot)
//!   before any input of a later epoch (`render::pending`).
//!
//! The state therefore holds exactly the input up to the end of `T`, and
//! the offsets say where the input after `T` begins. A source or operator
//! that has ended counts with its final offsets or state. When every slot
//! has reported, the cut is complete and goes to the job's checkpoint
//! writer (the server's checkpoint store) as a [`Cut`].
//!
//! On restore the job is built again (at any worker count) with the cut's
//! merged operator state ([`RestoredState`]): each new operator instance
//! takes the key groups it owns, and each source resumes from the offsets
//! of the splits it owns (`SourceSpec::resume`).
//!
//! Checkpointed jobs run in one process (their sources' offsets and
//! operators' snapshots meet here).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::Epoch;
use crate::source::SplitOffsets;
use crate::state::StateSnapshot;

/// A plan node's id.
pub type NodeId = usize;

/// A complete consistent cut of a job.
#[derive(Debug)]
pub struct Cut {
    /// The epoch whose end the cut is at.
    pub epoch: Epoch,
    /// Whether every input had ended (the job's final state).
    pub ended: bool,
    /// Every operator instance's state: node, worker, snapshot.
    pub operators: Vec<(NodeId, usize, StateSnapshot)>,
    /// Every source instance's offsets, by node.
    pub sources: Vec<(NodeId, SplitOffsets)>,
    /// When the cut was requested.
    pub requested: Instant,
    /// When its last slot reported (the cut was then complete).
    pub completed: Instant,
    /// The longest an operator was paused to snapshot its state.
    pub pause: Duration,
}

/// Operator state restored from a checkpoint: the merged snapshot of every
/// instance, by node.
#[derive(Debug, Default)]
pub struct RestoredState {
    /// The merged state of each node.
    pub nodes: BTreeMap<NodeId, StateSnapshot>,
}

impl RestoredState {
    /// The part of node `node`'s state that worker `worker` of `peers` owns.
    pub fn for_worker(&self, node: NodeId, worker: usize, peers: usize) -> Option<StateSnapshot> {
        self.nodes.get(&node).map(|s| s.for_worker(worker, peers))
    }
}

#[derive(Debug)]
struct OperatorSlot {
    node: NodeId,
    worker: usize,
    /// The state after the operator's input ended.
    ended: Option<StateSnapshot>,
}

#[derive(Debug)]
struct SourceSlot {
    node: NodeId,
    /// The epoch the source is in (has not closed).
    current: Epoch,
    /// The offsets after its input ended.
    ended: Option<SplitOffsets>,
}

#[derive(Debug)]
struct PendingCut {
    epoch: Epoch,
    requested: Instant,
    pause: Duration,
    operators: BTreeMap<usize, StateSnapshot>,
    sources: BTreeMap<usize, SplitOffsets>,
}

#[derive(Debug, Default)]
struct Inner {
    built: usize,
    operators: Vec<OperatorSlot>,
    sources: Vec<SourceSlot>,
    pending: Option<PendingCut>,
}

/// The checkpoint coordination of one job in this process (see the module
/// docs).
#[derive(Debug)]
pub struct JobCheckpoint {
    local_workers: usize,
    restored: Option<RestoredState>,
    inner: Mutex<Inner>,
    completed: tokio::sync::mpsc::UnboundedSender<Cut>,
}

impl JobCheckpoint {
    /// Coordination for a job on `local_workers` workers, restored from
    /// `restored` when given; complete cuts are sent to `completed`.
    pub fn new(
        local_workers: usize,
        restored: Option<RestoredState>,
        completed: tokio::sync::mpsc::UnboundedSender<Cut>,
    ) -> Self {
        Self {
            local_workers,
            restored,
            inner: Mutex::new(Inner::default()),
            completed,
        }
    }

    /// The restored state of node `node` that worker `worker` of `peers`
    /// takes. An operator whose input is hash-partitioned (`keyed`) takes
    /// the key groups it owns. One whose input is not (a partial
    /// aggregate next to its source) holds mergeable state of any keys:
    /// worker 0 takes all of it, since it always reads a share of the
    /// input (the first split, a followed table) and so sees the watermark
    /// that fires the state.
    pub fn restored_for(
        &self,
        node: NodeId,
        worker: usize,
        peers: usize,
        keyed: bool,
    ) -> Option<StateSnapshot> {
        let restored = self.restored.as_ref()?;
        if keyed {
            restored.for_worker(node, worker, peers)
        } else if worker == 0 {
            restored.nodes.get(&node).cloned()
        } else {
            None
        }
    }

    /// Registers an operator instance; returns its slot.
    pub fn register_operator(&self, node: NodeId, worker: usize) -> usize {
        let mut inner = self.inner.lock();
        inner.operators.push(OperatorSlot {
            node,
            worker,
            ended: None,
        });
        inner.operators.len() - 1
    }

    /// Registers a source instance; returns its slot.
    pub fn register_source(&self, node: NodeId) -> usize {
        let mut inner = self.inner.lock();
        inner.sources.push(SourceSlot {
            node,
            current: 0,
            ended: None,
        });
        inner.sources.len() - 1
    }

    /// A worker has built the job's dataflow (all its slots are registered).
    pub fn worker_built(&self) {
        self.inner.lock().built += 1;
    }

    /// Starts a cut, unless one is in progress or the dataflow is not
    /// built on every worker yet; returns its epoch.
    pub fn request(&self) -> Option<Epoch> {
        let mut inner = self.inner.lock();
        if inner.built < self.local_workers || inner.pending.is_some() {
            return None;
        }
        let epoch = inner
            .sources
            .iter()
            .filter(|s| s.ended.is_none())
            .map(|s| s.current)
            .max()
            .unwrap_or(Epoch::MAX);
        inner.pending = Some(PendingCut {
            epoch,
            requested: Instant::now(),
            pause: Duration::ZERO,
            operators: BTreeMap::new(),
            sources: BTreeMap::new(),
        });
        self.complete_if_done(&mut inner);
        Some(epoch)
    }

    /// The epoch of the cut operator `slot` still owes a snapshot for.
    pub fn cut_for_operator(&self, slot: usize) -> Option<Epoch> {
        let inner = self.inner.lock();
        inner
            .pending
            .as_ref()
            .filter(|p| !p.operators.contains_key(&slot))
            .map(|p| p.epoch)
    }

    /// Operator `slot`'s state at the end of epoch `epoch`, which took
    /// `took` to copy.
    pub fn report_operator(
        &self,
        slot: usize,
        epoch: Epoch,
        snapshot: StateSnapshot,
        took: Duration,
    ) {
        let mut inner = self.inner.lock();
        if let Some(p) = inner.pending.as_mut()
            && p.epoch == epoch
        {
            p.operators.insert(slot, snapshot);
            p.pause = p.pause.max(took);
        }
        self.complete_if_done(&mut inner);
    }

    /// Operator `slot`'s input has ended; `snapshot` is its final state.
    pub fn operator_ended(&self, slot: usize, snapshot: StateSnapshot) {
        let mut inner = self.inner.lock();
        if let Some(s) = inner.operators.get_mut(slot) {
            s.ended = Some(snapshot);
        }
        self.complete_if_done(&mut inner);
    }

    /// Source `slot` closes epoch `epoch`; `offsets` says where its input
    /// after that epoch begins (asked only when a cut needs it).
    pub fn source_closed(&self, slot: usize, epoch: Epoch, offsets: impl FnOnce() -> SplitOffsets) {
        let mut inner = self.inner.lock();
        if let Some(s) = inner.sources.get_mut(slot) {
            s.current = s.current.max(epoch + 1);
        }
        if let Some(p) = inner.pending.as_mut()
            && p.epoch == epoch
        {
            p.sources.insert(slot, offsets());
            self.complete_if_done(&mut inner);
        }
    }

    /// Source `slot`'s input has ended at `offsets`.
    pub fn source_ended(&self, slot: usize, offsets: SplitOffsets) {
        let mut inner = self.inner.lock();
        if let Some(s) = inner.sources.get_mut(slot) {
            s.ended = Some(offsets);
        }
        self.complete_if_done(&mut inner);
    }

    /// Sends the pending cut once every slot has reported.
    fn complete_if_done(&self, inner: &mut Inner) {
        let Some(p) = inner.pending.as_ref() else {
            return;
        };
        let operators_done = inner
            .operators
            .iter()
            .enumerate()
            .all(|(i, s)| s.ended.is_some() || p.operators.contains_key(&i));
        let sources_done = inner
            .sources
            .iter()
            .enumerate()
            .all(|(i, s)| s.ended.is_some() || p.sources.contains_key(&i));
        if !(operators_done && sources_done) {
            return;
        }
        let mut p = inner.pending.take().expect("checked above");
        let ended = inner.sources.iter().all(|s| s.ended.is_some())
            && inner.operators.iter().all(|s| s.ended.is_some());
        let operators = inner
            .operators
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let snapshot = p
                    .operators
                    .remove(&i)
                    .or_else(|| s.ended.clone())
                    .unwrap_or_default();
                (s.node, s.worker, snapshot)
            })
            .collect();
        let sources = inner
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let offsets = p
                    .sources
                    .remove(&i)
                    .or_else(|| s.ended.clone())
                    .unwrap_or_default();
                (s.node, offsets)
            })
            .collect();
        let _ = self.completed.send(Cut {
            epoch: if ended { Epoch::MAX } else { p.epoch },
            ended,
            operators,
            sources,
            requested: p.requested,
            completed: Instant::now(),
            pause: p.pause,
        });
    }
}

/// The checkpoint coordination of every checkpointed job of this process,
/// by query id (the workers look their job up when they build it).
#[derive(Debug, Default)]
pub struct CheckpointRegistry {
    jobs: Mutex<BTreeMap<u64, Arc<JobCheckpoint>>>,
}

impl CheckpointRegistry {
    /// Registers the coordination of query `id`.
    pub fn insert(&self, id: u64, job: Arc<JobCheckpoint>) {
        self.jobs.lock().insert(id, job);
    }

    /// The coordination of query `id`, if it is checkpointed.
    pub fn get(&self, id: u64) -> Option<Arc<JobCheckpoint>> {
        self.jobs.lock().get(&id).cloned()
    }

    /// Forgets query `id`.
    pub fn forget(&self, id: u64) {
        self.jobs.lock().remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_completes_when_every_slot_reported_at_its_epoch() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let job = JobCheckpoint::new(1, None, tx);
        let op = job.register_operator(3, 0);
        let a = job.register_source(0);
        let b = job.register_source(1);
        assert_eq!(job.request(), None, "not built yet");
        job.worker_built();
        job.source_closed(a, 0, SplitOffsets::new);
        job.source_closed(a, 1, SplitOffsets::new);
        // Source a is in epoch 2, b in 0: the cut is at 2.
        assert_eq!(job.request(), Some(2));
        assert_eq!(job.request(), None, "one cut at a time");
        job.source_closed(b, 0, || panic!("not needed"));
        job.source_closed(a, 2, || SplitOffsets::from([(0, 30)]));
        assert_eq!(job.cut_for_operator(op), Some(2));
        job.report_operator(op, 2, StateSnapshot::default(), Duration::ZERO);
        assert!(rx.try_recv().is_err(), "source b has not closed epoch 2");
        job.source_ended(b, SplitOffsets::from([(1, 7)]));
        let cut = rx.try_recv().expect("complete");
        assert_eq!(cut.epoch, 2);
        assert!(!cut.ended);
        assert_eq!(
            cut.sources,
            vec![
                (0, SplitOffsets::from([(0, 30)])),
                (1, SplitOffsets::from([(1, 7)]))
            ]
        );
        assert_eq!(cut.operators.len(), 1);
        assert_eq!(job.cut_for_operator(op), None);
    }

    #[test]
    fn an_ended_job_is_cut_at_its_final_state() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let job = JobCheckpoint::new(1, None, tx);
        let op = job.register_operator(1, 0);
        let s = job.register_source(0);
        job.worker_built();
        job.source_ended(s, SplitOffsets::from([(0, 5)]));
        job.operator_ended(op, StateSnapshot::default());
        assert_eq!(job.request(), Some(Epoch::MAX));
        let cut = rx.try_recv().expect("complete at once");
        assert!(cut.ended);
        assert_eq!(cut.epoch, Epoch::MAX);
    }
}
