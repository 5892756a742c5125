//! Test harness for the state contract (see the module docs of
//! [`super`]): an operator whose instances are snapshotted mid-stream and
//! rebuilt from the merged snapshot at another parallelism produces what
//! one instance that never stopped produces.
//!
//! Input is routed to the instances as the shuffle routes it (by the key
//! group of the key columns, to the worker owning it at that parallelism),
//! the restored instances take the key groups they own
//! ([`StateSnapshot::for_worker`]), and the outputs of every instance,
//! before and after the cut, are applied as one changelog and compared
//! with the uninterrupted run's.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::{BinaryOperator, UnaryOperator};
use crate::changelog;
use crate::shuffle::{key_group_of, shuffle_hashes, worker_for_key_group};
use crate::state::StateSnapshot;
use crate::watermark::Timestamp;

/// The net rows of a changelog (as text) with their multiplicities.
type Net = BTreeMap<Vec<String>, i64>;

/// (workers before the cut, workers after it).
const RESCALES: [(usize, usize); 4] = [(1, 3), (2, 1), (3, 2), (2, 2)];

fn apply(net: &mut Net, out: &[RecordBatch]) {
    for batch in out {
        let (data, diffs) = changelog::diffs(batch).unwrap();
        let options = FormatOptions::default().with_null("NULL");
        let columns: Vec<ArrayFormatter> = data
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for (i, d) in diffs.iter().enumerate() {
            let row: Vec<String> = columns.iter().map(|c| c.value(i).to_string()).collect();
            let n = net.entry(row.clone()).or_default();
            *n += d;
            if *n == 0 {
                net.remove(&row);
            }
        }
    }
}

/// `batch` split over `peers` workers by the key group of columns `keys`
/// (all to worker 0 without keys).
fn route(batch: &RecordBatch, keys: &[usize], peers: usize) -> Vec<RecordBatch> {
    let n = batch.num_rows();
    let owner: Vec<usize> = if keys.is_empty() {
        vec![0; n]
    } else {
        let columns: Vec<ArrayRef> = keys.iter().map(|k| Arc::clone(batch.column(*k))).collect();
        shuffle_hashes(&columns, n)
            .unwrap()
            .iter()
            .map(|h| worker_for_key_group(key_group_of(*h), peers))
            .collect()
    };
    (0..peers)
        .map(|w| {
            let mine: Vec<u32> = (0..n as u32).filter(|r| owner[*r as usize] == w).collect();
            take_record_batch(batch, &UInt32Array::from(mine)).unwrap()
        })
        .collect()
}

/// One epoch of a one-input script: its batch and the watermark it ends at.
pub(crate) type UnaryEpoch = (RecordBatch, Option<Timestamp>);

fn feed_unary<O: UnaryOperator>(
    ops: &mut [O],
    keys: &[usize],
    epoch: u64,
    (batch, watermark): &UnaryEpoch,
    out: &mut Vec<RecordBatch>,
) {
    let parts = route(batch, keys, ops.len());
    for (op, part) in ops.iter_mut().zip(parts) {
        if part.num_rows() > 0 {
            op.on_batch(epoch, part, out).unwrap();
        }
        op.on_epoch_end(epoch, *watermark, out).unwrap();
    }
}

/// Checks a one-input operator (`make` builds an instance; its input is
/// hash-partitioned on columns `keys`) over `script`, cut after epoch
/// `cut - 1`.
pub(crate) fn unary_rescales<O: UnaryOperator>(
    make: impl Fn() -> O,
    keys: &[usize],
    script: &[UnaryEpoch],
    cut: usize,
) {
    rescales(
        make,
        script,
        cut,
        |ops, e, step, out| feed_unary(ops, keys, e, step, out),
        |op, out| op.on_end(out).unwrap(),
        |op| op.snapshot().unwrap(),
        |op, s| op.restore(s).unwrap(),
    );
}

/// One epoch of a two-input script: batches of the left (0) and right (1)
/// inputs, in order.
pub(crate) type BinaryEpoch = Vec<(usize, RecordBatch)>;

fn feed_binary<O: BinaryOperator>(
    ops: &mut [O],
    keys: [&[usize]; 2],
    epoch: u64,
    batches: &BinaryEpoch,
    out: &mut Vec<RecordBatch>,
) {
    for (side, batch) in batches {
        let parts = route(batch, keys[*side], ops.len());
        for (op, part) in ops.iter_mut().zip(parts) {
            if part.num_rows() == 0 {
                continue;
            }
            if *side == 0 {
                op.on_left(epoch, part, out).unwrap();
            } else {
                op.on_right(epoch, part, out).unwrap();
            }
        }
    }
    for op in ops.iter_mut() {
        op.on_epoch_end(epoch, None, out).unwrap();
    }
}

/// [`unary_rescales`] for a two-input operator whose inputs are
/// partitioned on `keys` (left, right).
pub(crate) fn binary_rescales<O: BinaryOperator>(
    make: impl Fn() -> O,
    keys: [&[usize]; 2],
    script: &[BinaryEpoch],
    cut: usize,
) {
    rescales(
        make,
        script,
        cut,
        |ops, e, step, out| feed_binary(ops, keys, e, step, out),
        |op, out| {
            op.on_left_end(out).unwrap();
            op.on_right_end(out).unwrap();
        },
        |op| op.snapshot().unwrap(),
        |op, s| op.restore(s).unwrap(),
    );
}

/// The check of [`unary_rescales`] for any operator: `feed` routes one
/// epoch of the script to the instances, `end` ends an instance's input.
fn rescales<O, S>(
    make: impl Fn() -> O,
    script: &[S],
    cut: usize,
    feed: impl Fn(&mut [O], u64, &S, &mut Vec<RecordBatch>),
    end: impl Fn(&mut O, &mut Vec<RecordBatch>),
    snapshot: impl Fn(&mut O) -> StateSnapshot,
    restore: impl Fn(&mut O, StateSnapshot),
) {
    let mut whole = [make()];
    let mut out = Vec::new();
    for (e, step) in script.iter().enumerate() {
        feed(&mut whole, e as u64, step, &mut out);
    }
    end(&mut whole[0], &mut out);
    let mut expected = Net::new();
    apply(&mut expected, &out);
    assert!(!expected.is_empty(), "the script produces rows");
    for (before, after) in RESCALES {
        let mut got = Vec::new();
        let mut ops: Vec<O> = (0..before).map(|_| make()).collect();
        for (e, step) in script[..cut].iter().enumerate() {
            feed(&mut ops, e as u64, step, &mut got);
        }
        let snapshot = StateSnapshot::merge(ops.iter_mut().map(&snapshot));
        assert!(
            snapshot.num_rows() > 0,
            "the operator holds state at the cut"
        );
        let mut ops: Vec<O> = (0..after)
            .map(|i| {
                let mut op = make();
                restore(&mut op, snapshot.for_worker(i, after));
                op
            })
            .collect();
        for (e, step) in script.iter().enumerate().skip(cut) {
            feed(&mut ops, e as u64, step, &mut got);
        }
        for op in &mut ops {
            end(op, &mut got);
        }
        let mut net = Net::new();
        apply(&mut net, &got);
        assert_eq!(net, expected, "rescaled from {before} to {after} workers");
    }
}
