//! The driver of two-input operators (joins).
//!
//! Both inputs share one epoch queue ([`super::pending`]): items of either
//! side are handed over in epoch order, and an epoch completes when both
//! inputs have passed it, with the smaller of the two sides' watermarks.
//! Each side's end is reported once that side's frontier is empty and
//! none of its items are queued; the left (build) side ends first.
//! Checkpoints work as in the one-input driver ([`super::unary`]).

use std::rc::Rc;

use timely::dataflow::Stream;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::Operator;

use super::pending::{EpochQueue, Step};
use super::{OperatorCheckpoint, Out, QueryShared, give_error, give_watermark, run_emitting};
use crate::Epoch;
use crate::chunk::{Chunk, Item};
use crate::operators::BinaryOperator;
use crate::shuffle::EdgePact;

#[allow(clippy::too_many_arguments)]
pub(super) fn render_binary<'s>(
    left: Stream<'s, Epoch, Chunk>,
    right: Stream<'s, Epoch, Chunk>,
    left_pact: EdgePact,
    right_pact: EdgePact,
    name: &'static str,
    mut op: Box<dyn BinaryOperator>,
    q: Rc<QueryShared>,
    node: Option<usize>,
) -> Stream<'s, Epoch, Chunk> {
    let scope = left.scope();
    let keyed = !matches!(left_pact, EdgePact::Forward) || !matches!(right_pact, EdgePact::Forward);
    let mut checkpoint = OperatorCheckpoint::register(&q, node, keyed);
    left.binary_frontier::<Chunk, Out, _, _, _, _>(
        right,
        left_pact,
        right_pact,
        name,
        move |cap, info| {
            let activator = scope.activator_for(info.address);
            let mut cap: Option<Capability<Epoch>> = Some(cap);
            let mut failed = false;
            let mut left_ended = false;
            let mut right_ended = false;
            let mut queue = EpochQueue::new(q.order());
            move |(left, left_frontier), (right, right_frontier), output| {
                if let Some(snapshot) = checkpoint.as_mut().and_then(|c| c.take_restore())
                    && let Err(e) = super::guard_panic(name, || op.restore(snapshot))
                    && let Some(c) = cap.as_ref()
                {
                    give_error(output, c, e, 1);
                    failed = true;
                }
                left.for_each(|time, data| queue.push(&time, 0, data.take_items()));
                right.for_each(|time, data| queue.push(&time, 1, data.take_items()));
                let open = left_frontier
                    .frontier()
                    .first()
                    .copied()
                    .into_iter()
                    .chain(right_frontier.frontier().first().copied())
                    .min();
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
                            Step::Item(side, Item::Rows(batch)) => {
                                run_emitting(name, output, at, &q, |e| {
                                    if side == 0 {
                                        op.on_left(epoch, batch, e)
                                    } else {
                                        op.on_right(epoch, batch, e)
                                    }
                                })
                            }
                            Step::Item(_, Item::Watermark(_)) => false,
                            Step::Complete(watermark) => {
                                let failed = run_emitting(name, output, at, &q, |e| {
                                    op.on_epoch_end(epoch, watermark, e)
                                });
                                if !failed && let Some(w) = watermark {
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
                if let Some(c) = cap.as_mut() {
                    if !left_ended && left_frontier.is_empty() && !queue.has_side(0) {
                        left_ended = true;
                        if !failed && !q.canceled() {
                            failed = run_emitting(name, output, c, &q, |e| op.on_left_end(e));
                        }
                    }
                    if !right_ended && left_ended && right_frontier.is_empty() && !queue.has_side(1)
                    {
                        right_ended = true;
                        if !failed && !q.canceled() {
                            failed = run_emitting(name, output, c, &q, |e| op.on_right_end(e));
                        }
                    }
                    let earliest = open.into_iter().chain(queue.min_time()).min();
                    match earliest {
                        Some(t) => c.downgrade(&t),
                        None if left_ended && right_ended => {
                            if let Some(checkpoint) = checkpoint.as_ref()
                                && !failed
                                && !q.canceled()
                            {
                                match super::guard_panic(name, || op.snapshot()) {
                                    Ok(snapshot) => checkpoint.ended(snapshot),
                                    Err(e) => give_error(output, c, e, 1),
                                }
                            }
                            cap = None;
                        }
                        None => activator.activate(),
                    }
                }
            }
        },
    )
}
