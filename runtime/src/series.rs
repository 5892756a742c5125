//! `generate_series`: a bounded source of integers or timestamps from
//! `start` to `stop` (inclusive) by `step`, as Postgres's set-returning
//! function of that name.
//!
//! The rows are produced on worker 0 only, in order, a batch at a time (a
//! long series streams and stops early when the query is canceled or its
//! limit is reached); the other workers produce nothing. A series whose
//! `step` runs away from `stop` is empty; a zero step is rejected when the
//! plan is made.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int64Array, RecordBatch, RecordBatchOptions, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, IntervalMonthDayNano, SchemaRef, TimestampMicrosecondType};
use serde::{Deserialize, Serialize};

use crate::error::{QueryError, SqlState};
use crate::operators::align_batch;
use crate::source::{SourceContext, SourcePoll, SourceReader};

/// Which series to produce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SeriesSpec {
    /// `start, start + step, ...` while not past `stop` (the output column
    /// is an integer type; values are computed as `i64`).
    Integers {
        /// First value.
        start: i64,
        /// Last value allowed.
        stop: i64,
        /// Increment (not zero).
        step: i64,
    },
    /// Timestamps in microseconds, each the previous one plus `step` (so a
    /// step of one month from January 31 gives February 29, then March 29).
    Timestamps {
        /// First value.
        start: i64,
        /// Last value allowed.
        stop: i64,
        /// Months of the step.
        months: i32,
        /// Days of the step.
        days: i32,
        /// Nanoseconds of the step.
        nanos: i64,
        /// Time zone in which months and days are added (`+00:00` for
        /// `timestamp without time zone`).
        time_zone: String,
    },
}

impl SeriesSpec {
    /// Whether the series counts up (a zero step counts as up).
    fn ascending(&self) -> bool {
        match self {
            SeriesSpec::Integers { step, .. } => *step >= 0,
            SeriesSpec::Timestamps {
                months,
                days,
                nanos,
                ..
            } => {
                // Postgres compares intervals with 30-day months.
                let span = (i128::from(*months) * 30 + i128::from(*days)) * 86_400_000_000_000
                    + i128::from(*nanos);
                span >= 0
            }
        }
    }

    fn bounds(&self) -> (i64, i64) {
        match self {
            SeriesSpec::Integers { start, stop, .. }
            | SeriesSpec::Timestamps { start, stop, .. } => (*start, *stop),
        }
    }
}

/// Reads a series on worker 0.
#[derive(Debug)]
pub struct SeriesReader {
    spec: SeriesSpec,
    /// Output schema: the value column, or no column when only the number
    /// of rows matters (`count(*)`).
    schema: SchemaRef,
    /// Time zone of timestamp steps.
    time_zone: Option<arrow::array::timezone::Tz>,
    /// The next value, `None` once the series is exhausted.
    next: Option<i64>,
    /// Rows still allowed by a limit.
    remaining: Option<usize>,
    batch_size: usize,
}

impl SeriesReader {
    /// Opens the reader for this worker: the whole series on worker 0,
    /// nothing elsewhere.
    ///
    /// # Errors
    ///
    /// An unknown time zone in a timestamp series.
    pub fn try_new(
        spec: SeriesSpec,
        schema: SchemaRef,
        limit: Option<usize>,
        ctx: &SourceContext,
    ) -> Result<Self, QueryError> {
        let time_zone = match &spec {
            SeriesSpec::Timestamps { time_zone, .. } => {
                Some(time_zone.parse().map_err(|e: arrow::error::ArrowError| {
                    QueryError::new(SqlState::InvalidParameterValue, e.to_string())
                })?)
            }
            SeriesSpec::Integers { .. } => None,
        };
        let (start, stop) = spec.bounds();
        let in_range = if spec.ascending() {
            start <= stop
        } else {
            start >= stop
        };
        let next = (ctx.worker_index == 0 && in_range).then_some(start);
        Ok(Self {
            spec,
            schema,
            time_zone,
            next,
            remaining: limit,
            batch_size: ctx.batch_size.max(1),
        })
    }

    /// The value after `value`, if it is still in the series.
    fn successor(&self, value: i64) -> Option<i64> {
        let (next, stop) = match &self.spec {
            SeriesSpec::Integers { step, stop, .. } => (value.checked_add(*step)?, *stop),
            SeriesSpec::Timestamps {
                months,
                days,
                nanos,
                stop,
                ..
            } => {
                let tz = self.time_zone?;
                let delta = IntervalMonthDayNano::new(*months, *days, *nanos);
                (
                    TimestampMicrosecondType::add_month_day_nano(value, delta, tz)?,
                    *stop,
                )
            }
        };
        let in_range = if self.spec.ascending() {
            next <= stop
        } else {
            next >= stop
        };
        // A step too small to move a timestamp would never end.
        (in_range && next != value).then_some(next)
    }
}

impl SourceReader for SeriesReader {
    fn poll_next(&mut self) -> Result<SourcePoll, QueryError> {
        let mut want = self.batch_size;
        if let Some(r) = self.remaining {
            want = want.min(r);
        }
        let Some(first) = self.next.filter(|_| want > 0) else {
            return Ok(SourcePoll::Finished);
        };
        let mut values = Vec::with_capacity(want);
        let mut current = Some(first);
        while let Some(v) = current {
            if values.len() == want {
                break;
            }
            values.push(v);
            current = self.successor(v);
        }
        self.next = current;
        if let Some(r) = &mut self.remaining {
            *r -= values.len();
        }
        let rows = values.len();
        let batch = if self.schema.fields().is_empty() {
            RecordBatch::try_new_with_options(
                Arc::clone(&self.schema),
                vec![],
                &RecordBatchOptions::new().with_row_count(Some(rows)),
            )?
        } else {
            let column: ArrayRef = match (&self.spec, self.schema.field(0).data_type()) {
                (SeriesSpec::Timestamps { .. }, DataType::Timestamp(_, tz)) => {
                    Arc::new(TimestampMicrosecondArray::from(values).with_timezone_opt(tz.clone()))
                }
                (SeriesSpec::Timestamps { .. }, _) => {
                    Arc::new(TimestampMicrosecondArray::from(values))
                }
                (SeriesSpec::Integers { .. }, _) => Arc::new(Int64Array::from(values)),
            };
            align_batch(&self.schema, vec![column])?
        };
        Ok(SourcePoll::Batch(batch))
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;
    use arrow::datatypes::{Field, Int32Type, Schema, TimeUnit};

    use super::*;

    fn ctx(worker_index: usize, batch_size: usize) -> SourceContext {
        SourceContext {
            worker_index,
            peers: 2,
            process: 0,
            workers_per_process: 2,
            batch_size,
        }
    }

    fn read(mut reader: SeriesReader) -> Vec<RecordBatch> {
        let mut out = Vec::new();
        loop {
            match reader.poll_next().unwrap() {
                SourcePoll::Batch(b) => out.push(b),
                SourcePoll::Finished => return out,
                SourcePoll::Pending => panic!("a series is never pending"),
            }
        }
    }

    fn ints(spec: SeriesSpec, limit: Option<usize>) -> Vec<i32> {
        let schema = Arc::new(Schema::new(vec![Field::new("g", DataType::Int32, true)]));
        read(SeriesReader::try_new(spec, schema, limit, &ctx(0, 3)).unwrap())
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int32Type>().values().to_vec())
            .collect()
    }

    #[test]
    fn integer_series_like_postgres() {
        let s = |start, stop, step| SeriesSpec::Integers { start, stop, step };
        assert_eq!(ints(s(1, 7, 1), None), [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(ints(s(1, 10, 4), None), [1, 5, 9]);
        assert_eq!(ints(s(5, 1, -2), None), [5, 3, 1]);
        assert_eq!(ints(s(5, 1, 1), None), Vec::<i32>::new());
        assert_eq!(ints(s(1, 100, 1), Some(4)), [1, 2, 3, 4]);
        assert_eq!(
            ints(s(2_147_483_646, 2_147_483_647, 1), None),
            [2_147_483_646, 2_147_483_647]
        );
        // Other workers produce nothing.
        let schema = Arc::new(Schema::new(vec![Field::new("g", DataType::Int64, true)]));
        assert!(
            read(SeriesReader::try_new(s(1, 5, 1), schema, None, &ctx(1, 3)).unwrap()).is_empty()
        );
    }

    #[test]
    fn counts_rows_without_columns() {
        let spec = SeriesSpec::Integers {
            start: 1,
            stop: 10,
            step: 1,
        };
        let batches =
            read(SeriesReader::try_new(spec, Arc::new(Schema::empty()), None, &ctx(0, 4)).unwrap());
        assert_eq!(
            batches
                .iter()
                .map(RecordBatch::num_rows)
                .collect::<Vec<_>>(),
            [4, 4, 2]
        );
    }

    #[test]
    fn timestamp_series_adds_the_step_each_time() {
        let micros = |s: &str| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                .unwrap()
                .and_utc()
                .timestamp_micros()
        };
        let spec = SeriesSpec::Timestamps {
            start: micros("2024-01-31 00:00:00"),
            stop: micros("2024-05-01 00:00:00"),
            months: 1,
            days: 0,
            nanos: 0,
            time_zone: "+00:00".into(),
        };
        let schema = Arc::new(Schema::new(vec![Field::new(
            "g",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            true,
        )]));
        let batches = read(SeriesReader::try_new(spec, schema, None, &ctx(0, 100)).unwrap());
        let text = arrow::compute::cast(batches[0].column(0), &DataType::Utf8).unwrap();
        assert_eq!(
            text.as_string::<i32>().iter().flatten().collect::<Vec<_>>(),
            [
                "2024-01-31T00:00:00",
                "2024-02-29T00:00:00",
                "2024-03-29T00:00:00",
                "2024-04-29T00:00:00"
            ]
        );
    }
}
