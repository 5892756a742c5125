//! What the generating connectors (`datagen`, `nexmark`) share: a seeded
//! hash that makes every value a function of the seed and a position, and
//! the pacing of a worker's splits.
//!
//! A generated table is a sequence of positions `0, 1, 2, …` (rows, or
//! Nexmark events), spread over [`SPLITS`] splits: position `p` belongs to
//! split `p % SPLITS`. A worker reads the splits it owns
//! (`SourceContext::owns_split`); a split's offset is how many of its
//! positions have been produced, so a reader opened with the offsets of
//! another continues exactly where that one stopped, at any worker count.

use std::time::Instant;

use tidewater_runtime::source::{SourceContext, SplitOffsets};

/// Splits of every generated table.
pub const SPLITS: u64 = 64;

/// SplitMix64: a fast, well-mixed hash of a 64-bit value.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The random value number `stream` of position `position` under `seed`.
pub(crate) fn random(seed: u64, stream: u64, position: u64) -> u64 {
    mix(mix(seed ^ mix(stream + 1)) ^ position)
}

/// What [`SplitPacer::next`] hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// Positions to produce now (ascending).
    Positions(Vec<u64>),
    /// Nothing is due yet.
    Pending,
    /// Every split has ended.
    Finished,
}

/// The splits one worker reads and how far each has got.
#[derive(Debug)]
pub(crate) struct SplitPacer {
    /// Owned splits and their offsets.
    splits: Vec<(u64, u64)>,
    /// Offsets when the reader opened (the rate counts from there).
    started_at: Vec<u64>,
    opened: Instant,
    /// Positions per second over all splits (0: as fast as possible).
    rate: u64,
    /// Positions in all (`None`: unbounded).
    total: Option<u64>,
    batch: u64,
}

impl SplitPacer {
    pub(crate) fn new(
        ctx: &SourceContext,
        resume: Option<&SplitOffsets>,
        rate: u64,
        total: Option<u64>,
        batch: usize,
    ) -> Self {
        let splits: Vec<(u64, u64)> = (0..SPLITS)
            .filter(|s| ctx.owns_split(*s, SPLITS))
            .map(|s| (s, resume.and_then(|r| r.get(&s)).copied().unwrap_or(0)))
            .collect();
        Self {
            started_at: splits.iter().map(|(_, o)| *o).collect(),
            splits,
            opened: Instant::now(),
            rate,
            total,
            batch: batch.max(1) as u64,
        }
    }

    /// Positions of split `split` in all.
    fn split_len(&self, split: u64) -> u64 {
        match self.total {
            Some(total) if split < total => (total - split).div_ceil(SPLITS),
            Some(_) => 0,
            None => u64::MAX,
        }
    }

    /// The offset the rate allows split `index` to have reached by now.
    fn allowed(&self, index: usize) -> u64 {
        if self.rate == 0 {
            return u64::MAX;
        }
        let per_split = self.rate as f64 / SPLITS as f64;
        self.started_at[index] + (self.opened.elapsed().as_secs_f64() * per_split) as u64
    }

    /// The next positions to produce: whole rounds (offset `k` of every
    /// owned split, for consecutive `k`), in ascending order, so that a
    /// worker's output moves through the sequence (and through event time)
    /// evenly, whichever splits it owns. A split whose offset is ahead of
    /// the others (a resumed reader) joins the rounds when they reach it.
    pub(crate) fn next(&mut self) -> Next {
        let limits: Vec<u64> = (0..self.splits.len())
            .map(|i| self.split_len(self.splits[i].0).min(self.allowed(i)))
            .collect();
        let due = self
            .splits
            .iter()
            .zip(&limits)
            .filter(|((_, offset), limit)| offset < limit)
            .map(|((_, offset), _)| *offset)
            .min();
        let Some(first) = due else {
            let ended = self
                .splits
                .iter()
                .all(|(split, offset)| *offset >= self.split_len(*split));
            return if ended { Next::Finished } else { Next::Pending };
        };
        let rounds = (self.batch / self.splits.len() as u64).max(1);
        let last = first.saturating_add(rounds);
        let mut positions = Vec::with_capacity(self.batch as usize);
        for k in first..last {
            for ((split, offset), limit) in self.splits.iter().zip(&limits) {
                if k >= *offset && k < *limit {
                    positions.push(split + k * SPLITS);
                }
            }
        }
        for ((_, offset), limit) in self.splits.iter_mut().zip(&limits) {
            if *offset < *limit {
                *offset = (*offset).max(last.min(*limit));
            }
        }
        Next::Positions(positions)
    }

    /// Each owned split's offset.
    pub(crate) fn offsets(&self) -> SplitOffsets {
        self.splits.iter().copied().collect()
    }
}
