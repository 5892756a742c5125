//! Window table functions: `TUMBLE` and `HOP` assign each row to the
//! windows its time falls in, appending `window_start`, `window_end` and
//! `window_time` (the window's last instant, `window_end - 1µs`, as in
//! Flink's `window_end - 1ms`). A tumbling window holds each row once; a
//! hopping window of size `size` every `slide` holds it in `size / slide`
//! windows (rounded up). Rows whose time is NULL belong to no window, nor
//! do rows whose windows would end beyond the timestamp range.
//!
//! Windows are aligned to the Unix epoch plus the offset: with a size of
//! 10 minutes, windows start at :00, :10, :20, …

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, TimestampMicrosecondArray, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::SchemaRef;
use datafusion_physical_expr::PhysicalExpr;

use super::{Emit, OpResult, UnaryOperator, align_batch};
use crate::Epoch;
use crate::error::{QueryError, SqlState};
use crate::plan::WindowSpec;
use crate::watermark::{Timestamp, event_times};

/// The windows (start, end) that hold time `t`, earliest first; none for
/// a time so close to the ends of the timestamp range that its windows'
/// bounds cannot be represented.
pub fn windows_of(window: &WindowSpec, t: Timestamp, out: &mut Vec<(Timestamp, Timestamp)>) {
    out.clear();
    let (step, size, offset) = match *window {
        WindowSpec::Tumble { size, offset } => (size, size, offset),
        WindowSpec::Hop {
            slide,
            size,
            offset,
        } => (slide, size, offset),
    };
    let Some(mut start) = t
        .checked_sub(offset)
        .and_then(|d| t.checked_sub(d.rem_euclid(step)))
    else {
        return;
    };
    let earliest = t.saturating_sub(size);
    while start > earliest {
        match start.checked_add(size) {
            Some(end) => out.push((start, end)),
            None => {
                out.clear();
                return;
            }
        }
        match start.checked_sub(step) {
            Some(s) => start = s,
            None => break,
        }
    }
    out.reverse();
}

/// Checks a window specification: sizes and slides must be positive.
pub fn validate_window(window: &WindowSpec) -> Result<(), QueryError> {
    let bad = |what: &str| {
        Err(QueryError::new(
            SqlState::InvalidParameterValue,
            format!("the {what} of a window must be a positive interval"),
        ))
    };
    match *window {
        WindowSpec::Tumble { size, .. } if size <= 0 => bad("size"),
        WindowSpec::Hop { slide, .. } if slide <= 0 => bad("slide"),
        WindowSpec::Hop { size, .. } if size <= 0 => bad("size"),
        _ => Ok(()),
    }
}

/// The window table function operator (see the module docs).
#[derive(Debug)]
pub struct WindowAssignOperator {
    time: Arc<dyn PhysicalExpr>,
    window: WindowSpec,
    schema: SchemaRef,
    scratch: Vec<(Timestamp, Timestamp)>,
}

impl WindowAssignOperator {
    /// Assigns rows to `window` by the timestamp `time`; `schema` is the
    /// input's columns followed by the three window columns.
    pub fn try_new(
        time: Arc<dyn PhysicalExpr>,
        window: WindowSpec,
        schema: SchemaRef,
    ) -> Result<Self, QueryError> {
        validate_window(&window)?;
        Ok(Self {
            time,
            window,
            schema,
            scratch: Vec::new(),
        })
    }
}

impl UnaryOperator for WindowAssignOperator {
    fn on_batch(&mut self, _epoch: Epoch, batch: RecordBatch, out: &mut dyn Emit) -> OpResult {
        let rows = batch.num_rows();
        let times = self.time.evaluate(&batch)?.into_array(rows)?;
        let times = event_times(times.as_ref())?;
        let mut indices = Vec::with_capacity(rows);
        let mut starts = Vec::with_capacity(rows);
        let mut ends = Vec::with_capacity(rows);
        for (row, t) in times.iter().enumerate() {
            let Some(t) = *t else { continue };
            windows_of(&self.window, t, &mut self.scratch);
            for (start, end) in &self.scratch {
                indices.push(row as u32);
                starts.push(*start);
                ends.push(*end);
            }
        }
        if indices.is_empty() {
            return Ok(());
        }
        let mut columns: Vec<ArrayRef> = if indices.len() == rows {
            batch.columns().to_vec()
        } else {
            let indices = UInt32Array::from(indices);
            batch
                .columns()
                .iter()
                .map(|c| take(c.as_ref(), &indices, None))
                .collect::<Result<_, _>>()?
        };
        let window_time: Vec<Timestamp> = ends.iter().map(|e| e - 1).collect();
        columns.push(Arc::new(TimestampMicrosecondArray::from(starts)));
        columns.push(Arc::new(TimestampMicrosecondArray::from(ends)));
        columns.push(Arc::new(TimestampMicrosecondArray::from(window_time)));
        out.emit(align_batch(&self.schema, columns)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tumbling_and_hopping_windows_hold_the_right_times() {
        let mut out = Vec::new();
        let tumble = WindowSpec::Tumble {
            size: 10,
            offset: 0,
        };
        windows_of(&tumble, 25, &mut out);
        assert_eq!(out, vec![(20, 30)]);
        windows_of(&tumble, -1, &mut out);
        assert_eq!(out, vec![(-10, 0)]);
        windows_of(
            &WindowSpec::Tumble {
                size: 10,
                offset: 3,
            },
            25,
            &mut out,
        );
        assert_eq!(out, vec![(23, 33)]);
        let hop = WindowSpec::Hop {
            slide: 5,
            size: 10,
            offset: 0,
        };
        windows_of(&hop, 25, &mut out);
        assert_eq!(out, vec![(20, 30), (25, 35)]);
        windows_of(&hop, 24, &mut out);
        assert_eq!(out, vec![(15, 25), (20, 30)]);
        // A size that is not a multiple of the slide.
        let odd = WindowSpec::Hop {
            slide: 4,
            size: 10,
            offset: 0,
        };
        windows_of(&odd, 12, &mut out);
        assert_eq!(out, vec![(4, 14), (8, 18), (12, 22)]);
        assert!(validate_window(&WindowSpec::Tumble { size: 0, offset: 0 }).is_err());
        // At the ends of the range: no overflow, no window past the end.
        windows_of(&tumble, i64::MAX, &mut out);
        assert!(out.is_empty());
        windows_of(&hop, i64::MIN, &mut out);
        assert!(out.iter().all(|(s, e)| s < e));
    }
}
