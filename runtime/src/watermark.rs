//! Event time and watermarks.
//!
//! Event time is data: a column of the rows (`WATERMARK FOR ts AS ts -
//! INTERVAL '5' SECOND` names it). A watermark is a promise that no more
//! rows with an event time at or before it will arrive (rows that break the
//! promise are *late*). Watermarks are [`Timestamp`]s: microseconds since the
//! Unix epoch, whatever the unit of the column.
//!
//! # How watermarks travel
//!
//! Each source instance (one worker's share of a table: its *partition*)
//! tracks its own watermark with a [`WatermarkTracker`] and, when it closes
//! an epoch, sends it downstream as an [`crate::chunk::Item::Watermark`] at
//! that epoch. A partition that has not seen a row yet sends
//! [`NO_WATERMARK`], holding time back; an idle partition (nothing for its
//! `idle_timeout`) and a finished one send nothing, and so do not hold time
//! back. Exchanges broadcast watermark items to every worker. Each operator
//! instance combines what arrived at an epoch by minimum (over its inputs
//! and their senders) and never moves backwards ([`EpochWatermarks`]); when
//! the epoch completes it hands the result to its operator and sends it on.
//! When every input has ended the watermark is, in effect, the end of time:
//! operators then fire whatever they still hold ([`crate::operators`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, make_array};
use arrow::datatypes::{DataType, Int64Type, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::Epoch;
use crate::error::{QueryError, SqlState};

/// Event time: microseconds since the Unix epoch.
pub type Timestamp = i64;

/// The watermark of a partition that has not seen a row yet.
pub const NO_WATERMARK: Timestamp = Timestamp::MIN;

/// A table's `WATERMARK FOR column AS column - delay`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatermarkSpec {
    /// Index of the event-time column in the table's schema.
    pub column: usize,
    /// How far the watermark stays behind the largest event time seen, in
    /// microseconds (0 for `WATERMARK FOR column`).
    pub delay_micros: i64,
    /// After how long without rows a partition stops holding time back
    /// (`None`: never).
    pub idle_timeout: Option<Duration>,
}

/// Converts one value of an event-time column to a [`Timestamp`].
fn to_micros(unit: TimeUnit, value: i64) -> Timestamp {
    match unit {
        TimeUnit::Second => value.saturating_mul(1_000_000),
        TimeUnit::Millisecond => value.saturating_mul(1_000),
        TimeUnit::Microsecond => value,
        TimeUnit::Nanosecond => value.div_euclid(1_000),
    }
}

/// A [`Timestamp`] in `unit` (rounded down).
pub fn from_micros(unit: TimeUnit, micros: Timestamp) -> i64 {
    match unit {
        TimeUnit::Second => micros.div_euclid(1_000_000),
        TimeUnit::Millisecond => micros.div_euclid(1_000),
        TimeUnit::Microsecond => micros,
        TimeUnit::Nanosecond => micros.saturating_mul(1_000),
    }
}

thread_local! {
    /// The watermark of the operator running on this thread, as its driver
    /// last handed it over (see [`current_watermark`]).
    static CURRENT: std::cell::Cell<Option<Timestamp>> = const { std::cell::Cell::new(None) };
}

/// The watermark the operator now running on this thread has reached
/// (that of its last completed epoch), `None` outside continuous queries
/// or before any: what `CURRENT_WATERMARK(col)` returns.
pub fn current_watermark() -> Option<Timestamp> {
    CURRENT.get()
}

/// Runs `f` with [`current_watermark`] set to `watermark` (restored after,
/// even if `f` panics).
pub(crate) fn with_current_watermark<R>(watermark: Option<Timestamp>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Timestamp>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.set(self.0);
        }
    }
    let _restore = Restore(CURRENT.replace(watermark));
    f()
}

/// The unit and raw values of a timestamp column (every timestamp type
/// stores `i64`s; the cast only relabels the buffer).
fn raw_times(column: &dyn Array) -> Result<(TimeUnit, Int64Array), QueryError> {
    let DataType::Timestamp(unit, _) = column.data_type() else {
        return Err(QueryError::new(
            SqlState::DatatypeMismatch,
            format!(
                "an event-time column must be a timestamp, not {}",
                column.data_type()
            ),
        ));
    };
    let raw = arrow::compute::cast(&make_array(column.to_data()), &DataType::Int64)?;
    Ok((*unit, raw.as_primitive::<Int64Type>().clone()))
}

/// The largest event time in `column` (a timestamp column), ignoring nulls.
pub fn max_event_time(column: &ArrayRef) -> Result<Option<Timestamp>, QueryError> {
    let (unit, raw) = raw_times(column.as_ref())?;
    Ok(arrow::compute::max(&raw).map(|v| to_micros(unit, v)))
}

/// Reads the event times of a timestamp column as [`Timestamp`]s (nulls as
/// `None`).
pub fn event_times(column: &dyn Array) -> Result<Vec<Option<Timestamp>>, QueryError> {
    let (unit, raw) = raw_times(column)?;
    Ok(raw.iter().map(|v| v.map(|v| to_micros(unit, v))).collect())
}

/// The watermark of one source partition: the largest event time seen,
/// minus the delay.
#[derive(Debug, Clone)]
pub struct WatermarkTracker {
    /// Column of the event time in the batches the partition produces.
    column: usize,
    delay_micros: i64,
    idle_timeout: Option<Duration>,
    max_seen: Option<Timestamp>,
    /// A watermark the reader knows better than the rows it produced (see
    /// [`crate::source::SourceReader::watermark`]).
    floor: Option<Timestamp>,
    last_row: Instant,
}

impl WatermarkTracker {
    /// Tracks `spec` over batches whose event time is column `column`.
    pub fn new(spec: &WatermarkSpec, column: usize) -> Self {
        Self {
            column,
            delay_micros: spec.delay_micros,
            idle_timeout: spec.idle_timeout,
            max_seen: None,
            floor: None,
            last_row: Instant::now(),
        }
    }

    /// Takes note of a batch the partition produced.
    pub fn observe(&mut self, batch: &RecordBatch) -> Result<(), QueryError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.last_row = Instant::now();
        if let Some(max) = max_event_time(batch.column(self.column))? {
            self.max_seen = Some(self.max_seen.map_or(max, |m| m.max(max)));
        }
        Ok(())
    }

    /// Raises the watermark to at least `t` (a reader that knows its input
    /// better than its rows show, such as a managed table's log).
    pub fn advance_to(&mut self, t: Timestamp) {
        self.floor = Some(self.floor.map_or(t, |f| f.max(t)));
        self.last_row = Instant::now();
    }

    /// The watermark to send for the epoch being closed, or `None` when the
    /// partition is idle.
    pub fn current(&self) -> Option<Timestamp> {
        if self
            .idle_timeout
            .is_some_and(|timeout| self.last_row.elapsed() >= timeout)
        {
            return None;
        }
        let from_rows = self
            .max_seen
            .map(|m| m.saturating_sub(self.delay_micros))
            .unwrap_or(NO_WATERMARK);
        Some(self.floor.map_or(from_rows, |f| f.max(from_rows)))
    }
}

/// The watermarks an operator instance received, per epoch, and the
/// watermark it has reached: the minimum over what arrived at each
/// completed epoch, never moving backwards.
#[derive(Debug, Default, Clone)]
pub struct EpochWatermarks {
    received: BTreeMap<Epoch, Timestamp>,
    current: Option<Timestamp>,
}

impl EpochWatermarks {
    /// Records a watermark item received at `epoch`.
    pub fn receive(&mut self, epoch: Epoch, t: Timestamp) {
        self.received
            .entry(epoch)
            .and_modify(|m| *m = (*m).min(t))
            .or_insert(t);
    }

    /// Completes `epoch`: returns the watermark reached (if any arrived at
    /// it) to hand to the operator and send on.
    pub fn complete(&mut self, epoch: Epoch) -> Option<Timestamp> {
        let arrived = self.received.remove(&epoch)?;
        let next = self.current.map_or(arrived, |c| c.max(arrived));
        self.current = Some(next);
        Some(next)
    }

    /// The watermark reached so far.
    pub fn current(&self) -> Option<Timestamp> {
        self.current
    }

    /// Whether a watermark arrived at `epoch` and awaits its completion.
    pub fn has(&self, epoch: Epoch) -> bool {
        self.received.contains_key(&epoch)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::TimestampMillisecondArray;
    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn a_partition_watermark_trails_the_largest_event_time() {
        let spec = WatermarkSpec {
            column: 0,
            delay_micros: 5_000_000,
            idle_timeout: None,
        };
        let mut t = WatermarkTracker::new(&spec, 0);
        assert_eq!(t.current(), Some(NO_WATERMARK));
        let schema = Arc::new(Schema::new(vec![Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            true,
        )]));
        let batch = |v: Vec<Option<i64>>| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![Arc::new(TimestampMillisecondArray::from(v))],
            )
            .unwrap()
        };
        t.observe(&batch(vec![Some(10_000), None, Some(7_000)]))
            .unwrap();
        assert_eq!(t.current(), Some(5_000_000));
        // Out of order: an older row does not move it back.
        t.observe(&batch(vec![Some(1_000)])).unwrap();
        assert_eq!(t.current(), Some(5_000_000));
        t.advance_to(9_000_000);
        assert_eq!(t.current(), Some(9_000_000));
    }

    #[test]
    fn an_idle_partition_stops_holding_time_back() {
        let spec = WatermarkSpec {
            column: 0,
            delay_micros: 0,
            idle_timeout: Some(Duration::ZERO),
        };
        let t = WatermarkTracker::new(&spec, 0);
        assert_eq!(t.current(), None);
    }

    #[test]
    fn epoch_watermarks_take_the_minimum_and_never_go_back() {
        let mut w = EpochWatermarks::default();
        w.receive(1, 100);
        w.receive(1, 50);
        assert_eq!(w.complete(1), Some(50));
        // A partition that rejoins behind does not move time backwards.
        w.receive(2, 20);
        assert_eq!(w.complete(2), Some(50));
        // Nothing arrived at epoch 3.
        assert_eq!(w.complete(3), None);
        assert_eq!(w.current(), Some(50));
        w.receive(4, 70);
        assert!(w.has(4));
        assert_eq!(w.complete(4), Some(70));
    }
}
