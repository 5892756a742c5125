//! The result sink: gathers the result on worker 0 and hands it to the
//! client's channel.

use std::collections::VecDeque;
use std::rc::Rc;

use timely::dataflow::Stream;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Capability, Probe};
use tokio::sync::mpsc::error::TrySendError;

use super::{BACKPRESSURE_POLL, Out, QueryShared};
use crate::Epoch;
use crate::chunk::{Chunk, Item};
use crate::error::QueryError;
use crate::pool::{QueryEvent, ResultSender};
use crate::shuffle::{EdgePact, Route};

/// Gathers the result on worker 0 and forwards it to the client's channel.
///
/// Events the channel has no room for wait here, holding the capability of
/// their epoch: the sink probe then stays behind and sources wait
/// (`QueryShared::source_must_wait`), so a slow client slows the query down
/// instead of growing its memory.
pub(super) fn render_sink(
    stream: Stream<'_, Epoch, Chunk>,
    q: Rc<QueryShared>,
    results: Option<ResultSender>,
) {
    let scope = stream.scope();
    let probe = q.sink_probe.clone();
    let mut results = results;
    let mut finished = false;
    let mut pending: VecDeque<(Option<Capability<Epoch>>, QueryEvent)> = VecDeque::new();
    stream
        .unary_frontier::<Out, _, _, _>(
            EdgePact::Exchange(Route::Single(0)),
            "Result",
            move |cap, info| {
                // The operator's own capability follows the input frontier,
                // so it holds the probe back no further than the input does
                // (only waiting events do), and it keeps the dataflow alive
                // until the last event has been sent: without it, an end
                // event waiting for room in a full queue would be dropped
                // with the completed dataflow.
                let mut own = Some(cap);
                let activator = scope.activator_for(info.address);
                move |(input, frontier), _output| {
                    if let (Some(c), Some(t)) = (own.as_mut(), frontier.frontier().first())
                        && c.time() < t
                    {
                        c.downgrade(t);
                    }
                    input.for_each(|time, data| {
                        let cap = time.retain(0);
                        for item in data.take_items() {
                            if finished {
                                continue;
                            }
                            match item {
                                Item::Rows(batch) => {
                                    pending
                                        .push_back((Some(cap.clone()), QueryEvent::Batch(batch)));
                                }
                                Item::Watermark(_) => {}
                                Item::Error { error, .. } => {
                                    pending
                                        .push_back((Some(cap.clone()), QueryEvent::Error(error)));
                                    finished = true;
                                    q.cancel.set(true);
                                    q.cancel_requests.borrow_mut().push(q.id);
                                }
                            }
                        }
                    });
                    if frontier.is_empty() && !finished {
                        finished = true;
                        let last = if q.canceled() {
                            QueryEvent::Error(QueryError::canceled())
                        } else {
                            QueryEvent::Done
                        };
                        pending.push_back((None, last));
                    }
                    match results.as_ref() {
                        Some(tx) => {
                            while let Some((cap, event)) = pending.pop_front() {
                                match tx.try_send(event) {
                                    Ok(()) => {}
                                    Err(TrySendError::Full(event)) => {
                                        pending.push_front((cap, event));
                                        activator.activate_after(BACKPRESSURE_POLL);
                                        break;
                                    }
                                    Err(TrySendError::Closed(_)) => {
                                        // The client is gone: stop the query.
                                        if !q.canceled() {
                                            q.cancel.set(true);
                                            q.cancel_requests.borrow_mut().push(q.id);
                                        }
                                        pending.clear();
                                        break;
                                    }
                                }
                            }
                        }
                        None => pending.clear(),
                    }
                    if finished && frontier.is_empty() && pending.is_empty() {
                        results = None;
                        own = None;
                    }
                }
            },
        )
        .probe_with(&probe);
}
