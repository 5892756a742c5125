//! Operator state by key group: what an operator's snapshot holds, and how
//! snapshots move between parallelisms.
//!
//! Keyed state is partitioned into the fixed [`KEY_GROUPS`] of the hash
//! shuffle: a row's key group is the same in the shuffle that routed it and
//! in the state that keeps it, so the worker that owns a key group receives
//! its rows and holds its state. A snapshot is Arrow batches per key group
//! (the checkpoint store writes them as Arrow IPC); restoring at another
//! worker count merges every instance's snapshot and gives each new
//! instance the key groups it owns ([`StateSnapshot::for_worker`]).

use std::collections::BTreeMap;

use arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;

use crate::error::QueryError;
use crate::shuffle::{KEY_GROUPS, key_group_of, shuffle_hashes, worker_for_key_group};
use crate::watermark::Timestamp;

/// A key group: `0..KEY_GROUPS`.
pub type KeyGroup = u64;

/// The state of one operator instance at the end of an epoch.
#[derive(Debug, Clone, Default)]
pub struct StateSnapshot {
    /// Keyed state: batches per key group (the operator defines their
    /// schema).
    pub key_groups: BTreeMap<KeyGroup, Vec<RecordBatch>>,
    /// The watermark the operator had reached, if it tracks one.
    pub watermark: Option<Timestamp>,
}

impl StateSnapshot {
    /// Whether the snapshot holds nothing.
    pub fn is_empty(&self) -> bool {
        self.key_groups.is_empty() && self.watermark.is_none()
    }

    /// Adds the rows of `batch` to the key groups of their keys (`keys`, one
    /// array per key column, hashed as the shuffle hashes them).
    pub fn add_keyed(&mut self, keys: &[ArrayRef], batch: &RecordBatch) -> Result<(), QueryError> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        if keys.is_empty() {
            // Unkeyed state (a global aggregate) lives in key group 0.
            self.key_groups.entry(0).or_default().push(batch.clone());
            return Ok(());
        }
        let hashes = shuffle_hashes(keys, rows).map_err(|e| QueryError::from_datafusion(&e))?;
        let mut by_group: BTreeMap<KeyGroup, Vec<u32>> = BTreeMap::new();
        for (row, hash) in hashes.iter().enumerate() {
            by_group
                .entry(key_group_of(*hash))
                .or_default()
                .push(row as u32);
        }
        for (group, rows_of_group) in by_group {
            let part = if rows_of_group.len() == rows {
                batch.clone()
            } else {
                take_record_batch(batch, &UInt32Array::from(rows_of_group))?
            };
            self.key_groups.entry(group).or_default().push(part);
        }
        Ok(())
    }

    /// Merges the snapshots of several instances of one operator. The
    /// watermark is the smallest of theirs (the one every instance had
    /// reached).
    pub fn merge(parts: impl IntoIterator<Item = StateSnapshot>) -> Self {
        let mut merged = StateSnapshot::default();
        let mut watermark: Option<Option<Timestamp>> = None;
        for part in parts {
            for (group, batches) in part.key_groups {
                merged.key_groups.entry(group).or_default().extend(batches);
            }
            watermark = Some(match watermark {
                None => part.watermark,
                Some(w) => match (w, part.watermark) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    _ => None,
                },
            });
        }
        merged.watermark = watermark.flatten();
        merged
    }

    /// The part of the snapshot that worker `index` of `peers` owns (its key
    /// groups; every worker gets the watermark).
    pub fn for_worker(&self, index: usize, peers: usize) -> Self {
        StateSnapshot {
            key_groups: self
                .key_groups
                .iter()
                .filter(|(group, _)| worker_for_key_group(**group, peers) == index)
                .map(|(group, batches)| (*group, batches.clone()))
                .collect(),
            watermark: self.watermark,
        }
    }

    /// Every batch of the snapshot, key group by key group.
    pub fn batches(&self) -> impl Iterator<Item = &RecordBatch> {
        self.key_groups.values().flatten()
    }

    /// Rows held.
    pub fn num_rows(&self) -> usize {
        self.batches().map(|b| b.num_rows()).sum()
    }
}

const _: () = assert!(KEY_GROUPS > 0);

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn key_groups_split_between_workers_and_merge_back() {
        let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, true)]));
        let keys: ArrayRef = Arc::new(Int64Array::from_iter_values(0..1000));
        let batch = RecordBatch::try_new(schema, vec![Arc::clone(&keys)]).unwrap();
        let mut snapshot = StateSnapshot {
            watermark: Some(7),
            ..Default::default()
        };
        snapshot.add_keyed(&[keys], &batch).unwrap();
        assert_eq!(snapshot.num_rows(), 1000);
        for peers in [1, 2, 3, 4] {
            let parts: Vec<_> = (0..peers).map(|i| snapshot.for_worker(i, peers)).collect();
            assert_eq!(parts.iter().map(|p| p.num_rows()).sum::<usize>(), 1000);
            let merged = StateSnapshot::merge(parts);
            assert_eq!(merged.num_rows(), 1000);
            assert_eq!(merged.key_groups.len(), snapshot.key_groups.len());
            assert_eq!(merged.watermark, Some(7));
        }
    }
}
