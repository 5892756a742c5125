//! The driver of one-input operators.
//!
//! Input is queued by epoch and handed over in epoch order ([`super::pending`]);
//! when an epoch completes the operator is told so with its watermark, which
//! is then sent on. The driver's capability follows the earliest epoch still
//! open upstream or queued here; once the input has ended and everything is
//! handed over, the operator's `on_end` emits what it still holds and the
//! capability is dropped. While the operator handles a batch, the
//! watermark of its last completed epoch is the thread's current one
//! (`CURRENT_WATERMARK`, [`crate::watermark::current_watermark`]). A satisfied limit that completes the result asks
//! the query's sources to stop (`QueryShared::finish_early`). In a
//! checkpointed job the operator restores its state before its first
//! input, is snapshotted at each requested cut (after every epoch up to it,
//! before anything later), and hands over its final state when its input
//! ends ([`super::OperatorCheckpoint`]).

use std::rc::Rc;

use timely::dataflow::Stream;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::Operator;

use super::pending::{EpochQueue, Step};
use super::{OperatorCheckpoint, Out, QueryShared, give_error, give_watermark, run_emitting};
use crate::Epoch;
use crate::chunk::{Chunk, Item};
use crate::operators::UnaryOperator;
use crate::shuffle::EdgePact;
use crate::watermark::with_current_watermark;

pub(super) fn render_unary<'s>(
    input: Stream<'s, Epoch, Chunk>,
    pact: EdgePact,
    name: &'static str,
    mut op: Box<dyn UnaryOperator>,
    q: Rc<QueryShared>,
    ends_query: bool,
    node: Option<usize>,
) -> Stream<'s, Epoch, Chunk> {
    let scope = input.scope();
    let keyed = !matches!(pact, EdgePact::Forward);
    let mut checkpoint = OperatorCheckpoint::register(&q, node, keyed);
    input.unary_frontier::<Out, _, _, _>(pact, name, move |cap, info| {
        let activator = scope.activator_for(info.address);
        let mut cap: Option<Capability<Epoch>> = Some(cap);
        let mut failed = false;
        let mut queue = EpochQueue::new(q.order());
        // The input frontier last reported to the operator.
        let mut reported: Epoch = 0;
        // The watermark of the last completed epoch (CURRENT_WATERMARK).
        let mut reached = None;
        move |(input, frontier), output| {
            if let Some(snapshot) = checkpoint.as_mut().and_then(|c| c.take_restore())
                && let Err(e) = super::guard_panic(name, || op.restore(snapshot))
                && let Some(c) = cap.as_ref()
            {
                give_error(output, c, e, 1);
                failed = true;
            }
            input.for_each(|time, data| queue.push(&time, 0, data.take_items()));
            let open = frontier.frontier().first().copied();
            while !(failed || q.canceled()) {
                if let Some(c) = checkpoint.as_ref() {
                    c.request(&mut queue);
                }
                queue.drain(open, &activator, |at, step| {
                    let epoch = *at.time();
                    failed = match step {
                        Step::Item(_, Item::Error { error, weight }) => {
                            give_error(output, at, error, weight);
                            true
                        }
                        Step::Item(_, Item::Rows(batch)) => {
                            !op.is_done()
                                && run_emitting(name, output, at, &q, |e| {
                                    with_current_watermark(reached, || op.on_batch(epoch, batch, e))
                                })
                        }
                        Step::Item(_, Item::Watermark(_)) => false,
                        Step::Complete(watermark) => {
                            let failed = run_emitting(name, output, at, &q, |e| {
                                op.on_epoch_end(epoch, watermark, e)
                            });
                            if !failed && let Some(w) = watermark {
                                reached = Some(w);
                                give_watermark(output, at, w);
                            }
                            failed
                        }
                    };
                    !failed
                });
                let Some(c) = checkpoint.as_ref() else { break };
                match c.take(&mut queue, open, || op.snapshot()) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        if let Some(c) = cap.as_ref() {
                            give_error(output, c, e, 1);
                        }
                        failed = true;
                    }
                }
            }
            if failed || q.canceled() {
                queue.clear();
            }
            // Every epoch before the frontier handed over: tell the operator.
            if !failed
                && !q.canceled()
                && let Some(open) = frontier.frontier().first().copied()
                && open > reported
                && queue.min_time().is_none_or(|t| t >= open)
            {
                reported = open;
                if let Err(e) = super::guard_panic(name, || op.on_frontier(open)) {
                    if let Some(c) = cap.as_ref() {
                        give_error(output, c, e, 1);
                    }
                    failed = true;
                }
            }
            if ends_query && op.is_done() {
                q.finish_early();
            }
            if let Some(c) = cap.as_mut() {
                let earliest = frontier
                    .frontier()
                    .first()
                    .copied()
                    .into_iter()
                    .chain(queue.min_time())
                    .min();
                match earliest {
                    Some(t) => c.downgrade(&t),
                    None => {
                        if !failed && !q.canceled() {
                            let failed = run_emitting(name, output, c, &q, |e| op.on_end(e));
                            if let Some(checkpoint) = checkpoint.as_ref()
                                && !failed
                            {
                                match super::guard_panic(name, || op.snapshot()) {
                                    Ok(snapshot) => checkpoint.ended(snapshot),
                                    Err(e) => give_error(output, c, e, 1),
                                }
                            }
                        }
                        cap = None;
                    }
                }
            }
        }
    })
}
