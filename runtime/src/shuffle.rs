//! Data movement between workers: the hash shuffle by key group, and the
//! gather to one worker.
//!
//! Keys are hashed once per batch with DataFusion's vectorized
//! `create_hashes`; each hash picks one of [`KEY_GROUPS`] key groups, and each
//! key group belongs to one worker (contiguous ranges). The batch is split
//! with one `take` per destination. Errors always travel to worker 0, where
//! the query's sink reports them; watermarks go to every worker.

use std::rc::Rc;
use std::sync::Arc;

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use datafusion_common::hash_utils::{RandomState, create_hashes};
use datafusion_physical_expr::PhysicalExpr;
use timely::communication::{Pull, Push};
use timely::dataflow::channels::Message;
use timely::dataflow::channels::pact::{DistributorPact, ParallelizationContract, Pipeline};
use timely::dataflow::channels::pushers::exchange::Distributor;
use timely::logging::TimelyLogger;
use timely::progress::Timestamp;
use timely::worker::Worker;

use crate::chunk::{Chunk, Item};
use crate::error::QueryError;
use crate::expr::evaluate_all;

/// Number of key groups: the unit of keyed state and of its assignment to
/// workers. Fixed for the life of a checkpointed job.
pub const KEY_GROUPS: u64 = 256;

/// Seed of the shuffle hash. Must be the same in every process; operators
/// hash with other seeds for their own tables so that the two do not correlate.
const SHUFFLE_SEED: u64 = 0x7469_6465_7761_7465;

/// The worker that owns `key_group` when there are `peers` workers.
pub fn worker_for_key_group(key_group: u64, peers: usize) -> usize {
    ((key_group * peers as u64) / KEY_GROUPS) as usize
}

/// The key group of a row hash.
pub fn key_group_of(hash: u64) -> u64 {
    hash % KEY_GROUPS
}

/// Computes the shuffle hash of every row of `keys`.
pub fn shuffle_hashes(
    keys: &[arrow::array::ArrayRef],
    rows: usize,
) -> datafusion_common::Result<Vec<u64>> {
    let mut hashes = vec![0u64; rows];
    create_hashes(keys, &RandomState::with_seed(SHUFFLE_SEED), &mut hashes)?;
    Ok(hashes)
}

/// How a distributor routes rows.
#[derive(Debug, Clone)]
pub enum Route {
    /// By the hash of key expressions, over the first `n` workers (a job's
    /// parallelism; 0 for every worker).
    Hash(Vec<Arc<dyn PhysicalExpr>>, usize),
    /// Everything to one worker.
    Single(usize),
}

/// The [`Distributor`] behind every exchange edge of a dataflow.
#[derive(Debug)]
pub struct ChunkDistributor {
    route: Route,
    peers: usize,
}

impl ChunkDistributor {
    /// Creates a distributor for `peers` workers (of which a hash route
    /// may use only the first few).
    pub fn new(route: Route, peers: usize) -> Self {
        let peers = match &route {
            Route::Hash(_, n) if *n > 0 => (*n).min(peers),
            _ => peers,
        };
        Self { route, peers }
    }

    /// Splits one batch into per-worker batches (`None` where a worker gets no rows).
    fn split(
        &self,
        exprs: &[Arc<dyn PhysicalExpr>],
        batch: &RecordBatch,
    ) -> datafusion_common::Result<Vec<Option<RecordBatch>>> {
        let keys = evaluate_all(exprs, batch)?;
        let hashes = shuffle_hashes(&keys, batch.num_rows())?;
        let mut indices: Vec<Vec<u32>> = vec![Vec::new(); self.peers];
        for (row, hash) in hashes.iter().enumerate() {
            indices[worker_for_key_group(key_group_of(*hash), self.peers)].push(row as u32);
        }
        indices
            .into_iter()
            .map(|idx| {
                if idx.is_empty() {
                    Ok(None)
                } else if idx.len() == batch.num_rows() {
                    Ok(Some(batch.clone()))
                } else {
                    Ok(Some(take_record_batch(batch, &UInt32Array::from(idx))?))
                }
            })
            .collect()
    }
}

fn push<T: Clone, P: Push<Message<T, Chunk>>>(pusher: &mut P, time: &T, chunk: Chunk) {
    let mut chunk = chunk;
    Message::push_at(&mut chunk, time.clone(), pusher);
}

impl Distributor<Chunk> for ChunkDistributor {
    fn partition<T: Clone, P: Push<Message<T, Chunk>>>(
        &mut self,
        container: &mut Chunk,
        time: &T,
        pushers: &mut [P],
    ) {
        for item in container.take_items() {
            match (&self.route, item) {
                (_, Item::Error { error, weight }) => {
                    push(&mut pushers[0], time, Chunk::from_error(error, weight));
                }
                // Every receiver combines the watermarks of all senders.
                (_, Item::Watermark(t)) => {
                    for pusher in pushers.iter_mut() {
                        push(pusher, time, Chunk::from_items(vec![Item::Watermark(t)]));
                    }
                }
                (Route::Single(target), Item::Rows(batch)) => {
                    let target = (*target).min(pushers.len() - 1);
                    push(&mut pushers[target], time, Chunk::from_batch(batch));
                }
                (Route::Hash(exprs, _), Item::Rows(batch)) => match self.split(exprs, &batch) {
                    Ok(parts) => {
                        for (worker, part) in parts.into_iter().enumerate() {
                            if let Some(part) = part {
                                push(&mut pushers[worker], time, Chunk::from_batch(part));
                            }
                        }
                    }
                    Err(e) => push(
                        &mut pushers[0],
                        time,
                        Chunk::from_error(QueryError::from_datafusion(&e), batch.num_rows() as u64),
                    ),
                },
            }
        }
    }

    fn flush<T: Clone, P: Push<Message<T, Chunk>>>(&mut self, _time: &T, _pushers: &mut [P]) {}
}

/// The parallelization contract of a dataflow edge: stay on this worker, or
/// route through a [`ChunkDistributor`].
pub(crate) enum EdgePact {
    /// Stay on this worker.
    Forward,
    /// Route rows with this rule.
    Exchange(Route),
}

impl<T: Timestamp> ParallelizationContract<T, Chunk> for EdgePact {
    type Pusher = Box<dyn Push<Message<T, Chunk>>>;
    type Puller = Box<dyn Pull<Message<T, Chunk>>>;

    fn connect(
        self,
        worker: &Worker,
        identifier: usize,
        address: Rc<[usize]>,
        logging: Option<TimelyLogger>,
    ) -> (Self::Pusher, Self::Puller) {
        match self {
            EdgePact::Forward => {
                let (push, pull) = Pipeline.connect(worker, identifier, address, logging);
                (Box::new(push), Box::new(pull))
            }
            EdgePact::Exchange(route) => {
                let pact = DistributorPact(move |peers| ChunkDistributor::new(route, peers));
                let (push, pull) = pact.connect(worker, identifier, address, logging);
                (Box::new(push), Box::new(pull))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_groups_cover_all_workers_in_ranges() {
        for peers in 1..=8usize {
            let mut seen = vec![false; peers];
            let mut last = 0;
            for kg in 0..KEY_GROUPS {
                let w = worker_for_key_group(kg, peers);
                assert!(w >= last && w < peers);
                last = w;
                seen[w] = true;
            }
            assert!(seen.into_iter().all(|s| s));
        }
    }
}
