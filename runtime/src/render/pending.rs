//! Input an operator has received but not yet processed, queued by epoch.
//!
//! Timely may deliver data of a later epoch before an earlier one has
//! completed (other workers can be ahead). The queue hands items over in
//! epoch order and reports an epoch complete once the input frontier has
//! passed it and none of its items are left. Watermark items do not queue:
//! they are combined per epoch ([`EpochWatermarks`]) and handed over with
//! the completion.
//!
//! In [`Order::Strict`] nothing of an epoch is handed over before every
//! earlier epoch is complete, so an operator's state at the end of an epoch
//! holds exactly the input up to it (the cut that checkpoints snapshot).
//! [`Order::Eager`] hands over later epochs' items while an earlier epoch is
//! still open, for bounded queries, which are never snapshotted and should
//! not hold data back.
//!
//! While a checkpoint's cut is requested ([`EpochQueue::request_cut`], see
//! [`crate::checkpoint`]), nothing of a later epoch is handed over; once
//! every epoch up to the cut is complete and handed over,
//! [`EpochQueue::take_cut`] returns it and the driver snapshots its operator
//! before draining on.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use timely::dataflow::operators::{Capability, InputCapability};
use timely::scheduling::Activator;

use super::OPERATOR_SLICE;
use crate::Epoch;
use crate::chunk::Item;
use crate::watermark::{EpochWatermarks, Timestamp};

/// How a driver hands epochs to its operator (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Order {
    /// An epoch's items only after every earlier epoch has completed.
    Strict,
    /// Items as soon as they arrive, in epoch order among those queued.
    Eager,
}

/// What the queue hands to a driver.
pub(super) enum Step {
    /// An item of input `side` at the capability's epoch.
    Item(usize, Item),
    /// The epoch is complete: no more input at or before it; the watermark
    /// reached at it, if one arrived.
    Complete(Option<Timestamp>),
}

/// One epoch's queued input.
struct EpochInput {
    /// Capability at the epoch, to emit its results.
    cap: Capability<Epoch>,
    items: VecDeque<(usize, Item)>,
}

/// The queue (see the module docs).
pub(super) struct EpochQueue {
    order: Order,
    epochs: BTreeMap<Epoch, EpochInput>,
    watermarks: EpochWatermarks,
    /// Items queued per input side.
    queued: [usize; 2],
    /// The epoch of a requested cut not yet handed over.
    cut: Option<Epoch>,
}

impl EpochQueue {
    pub(super) fn new(order: Order) -> Self {
        Self {
            order,
            epochs: BTreeMap::new(),
            watermarks: EpochWatermarks::default(),
            queued: [0; 2],
            cut: None,
        }
    }

    /// Asks for [`Step::Cut`] at the end of `epoch`.
    pub(super) fn request_cut(&mut self, epoch: Epoch) {
        self.cut = Some(epoch);
    }

    /// Whether a cut is requested and not yet taken.
    pub(super) fn cut_pending(&self) -> bool {
        self.cut.is_some()
    }

    /// The requested cut, once every epoch up to it is complete and handed
    /// over (the operator's state is then exactly that of the cut).
    pub(super) fn take_cut(&mut self, frontier: Option<Epoch>) -> Option<Epoch> {
        let cut = self.cut?;
        let complete = frontier.is_none_or(|f| f > cut);
        let handed = self.min_time().is_none_or(|e| e > cut);
        if complete && handed {
            self.cut = None;
            Some(cut)
        } else {
            None
        }
    }

    /// Queues the items of one container received on input `side`.
    pub(super) fn push(&mut self, time: &InputCapability<Epoch>, side: usize, items: Vec<Item>) {
        if items.is_empty() {
            return;
        }
        let epoch = *time.time();
        let input = self.epochs.entry(epoch).or_insert_with(|| EpochInput {
            cap: time.retain(0),
            items: VecDeque::new(),
        });
        for item in items {
            match item {
                Item::Watermark(t) => self.watermarks.receive(epoch, t),
                other => {
                    self.queued[side] += 1;
                    input.items.push_back((side, other));
                }
            }
        }
    }

    /// Hands queued input to `f` in epoch order: items, and the completion
    /// of every epoch before `frontier` (the earliest epoch still open
    /// upstream; `None` once the inputs have ended). Stops when the
    /// operator has used its slice (asking to be scheduled again) or when
    /// `f` returns false (the operator failed; the queue should be cleared).
    pub(super) fn drain(
        &mut self,
        frontier: Option<Epoch>,
        activator: &Activator,
        mut f: impl FnMut(&Capability<Epoch>, Step) -> bool,
    ) {
        let started = Instant::now();
        let mut cursor = self.epochs.keys().next().copied();
        while let Some(epoch) = cursor {
            // Nothing after a requested cut before the operator is snapshotted.
            if self.cut.is_some_and(|c| epoch > c) {
                return;
            }
            // In strict order an epoch's items wait until every earlier
            // epoch is complete (one between may still receive input).
            if self.order == Order::Strict && frontier.is_some_and(|f| epoch > f) {
                return;
            }
            let complete = frontier.is_none_or(|f| epoch < f);
            let input = self.epochs.get_mut(&epoch).expect("the cursor is a key");
            while let Some((side, item)) = input.items.pop_front() {
                self.queued[side] -= 1;
                if !f(&input.cap, Step::Item(side, item)) {
                    return;
                }
                if started.elapsed() >= OPERATOR_SLICE {
                    activator.activate();
                    return;
                }
            }
            if complete {
                let input = self.epochs.remove(&epoch).expect("the cursor is a key");
                let watermark = self.watermarks.complete(epoch);
                if !f(&input.cap, Step::Complete(watermark)) {
                    return;
                }
            } else if self.order == Order::Strict {
                return;
            }
            cursor = self.epochs.range(epoch + 1..).next().map(|(e, _)| *e);
        }
    }

    /// The earliest epoch with input or a completion still to hand over.
    pub(super) fn min_time(&self) -> Option<Epoch> {
        self.epochs.keys().next().copied()
    }

    /// Whether input `side` has items queued.
    pub(super) fn has_side(&self, side: usize) -> bool {
        self.queued[side] > 0
    }

    /// Drops everything queued (the operator failed or was canceled).
    pub(super) fn clear(&mut self) {
        self.epochs.clear();
        self.queued = [0; 2];
    }
}
