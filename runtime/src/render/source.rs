//! Source drivers: connector scans, client inputs, `generate_series`,
//! literal rows and plan errors.
//!
//! A source moves to the next epoch every `epoch_interval` and, when its
//! table has a watermark, sends its partition's watermark at the epoch it
//! closes (see [`crate::watermark`]). It yields its worker after a short
//! slice and waits while the results fall behind (backpressure).

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::{Scope, Stream};

use super::{BACKPRESSURE_POLL, Out, QueryShared, give_error, give_watermark, guard_panic};
use crate::Epoch;
use crate::checkpoint::JobCheckpoint;
use crate::chunk::Chunk;
use crate::error::{QueryError, SqlState};
use crate::source::{SourcePoll, SourceReader, SourceSpec};
use crate::watermark::WatermarkTracker;

/// How long a source may produce before yielding its worker.
const SOURCE_SLICE: Duration = Duration::from_millis(10);

/// How soon a connector's reader with nothing ready is polled again.
pub(super) const SOURCE_POLL: Duration = Duration::from_millis(10);

/// How soon an input with nothing ready is polled again: a client is
/// sending it, and a copy should not wait on the poll.
pub(super) const INPUT_POLL: Duration = Duration::from_millis(1);

pub(super) fn render_source<'s>(
    scope: Scope<'s, Epoch>,
    spec: SourceSpec,
    q: Rc<QueryShared>,
    node: usize,
) -> Stream<'s, Epoch, Chunk> {
    let name = format!("Scan {}", spec.table);
    let table = spec.table.clone();
    let checkpoint = q
        .checkpoint
        .as_ref()
        .map(|job| (Arc::clone(job), job.register_source(node)));
    render_reader(
        scope,
        name,
        table,
        q,
        SOURCE_POLL,
        checkpoint,
        move |q: &QueryShared| {
            // A bounded query reads all its input before anything fires:
            // watermarks matter only to continuous queries.
            let watermark = spec
                .watermark
                .as_ref()
                .filter(|_| q.config.continuous)
                .map(|w| {
                    let column = match &spec.projection {
                        Some(p) => p.iter().position(|c| *c == w.column),
                        None => Some(w.column),
                    };
                    column.map(|c| WatermarkTracker::new(w, c)).ok_or_else(|| {
                        QueryError::new(
                            SqlState::Internal,
                            format!(
                                "the scan of {} does not read its event-time column",
                                spec.table
                            ),
                        )
                    })
                })
                .transpose()?;
            let reader = q
                .connectors
                .get(&spec.connector)
                .and_then(|connector| connector.open(&spec, &q.place))?;
            Ok((reader, watermark))
        },
    )
}

/// A source operator polling the reader that `open` returns (opened on
/// the first activation, with the tracker of its partition's watermark
/// when the input has one); `what` names the input in error messages, and
/// a reader with nothing ready is polled again after `pending_poll`.
pub(super) fn render_reader<'s, F>(
    scope: Scope<'s, Epoch>,
    name: String,
    what: String,
    q: Rc<QueryShared>,
    pending_poll: Duration,
    checkpoint: Option<(Arc<JobCheckpoint>, usize)>,
    open: F,
) -> Stream<'s, Epoch, Chunk>
where
    F: FnOnce(&QueryShared) -> Result<Opened, QueryError> + 'static,
{
    let slot = q.progress.register();
    source::<_, Out, _, _>(scope, &name, move |cap, info| {
        let activator = scope.activator_for(info.address);
        let mut cap = Some(cap);
        let mut reader: Option<Box<dyn SourceReader>> = None;
        let mut watermark: Option<WatermarkTracker> = None;
        let mut open = Some(open);
        let mut epoch_started = Instant::now();
        let reading = format!("reading {what}");
        move |output| {
            let Some(c) = cap.as_mut() else {
                q.progress.finish(slot);
                return;
            };
            // Canceled, or the result is complete: the input ends here.
            if q.canceled() || q.finishing.get() {
                cap = None;
                q.progress.finish(slot);
                return;
            }
            if reader.is_none() {
                let opened = match open.take() {
                    Some(open) => guard_panic(&format!("opening {what}"), || open(&q)),
                    None => Err(QueryError::new(
                        SqlState::Internal,
                        format!("{what} was opened twice"),
                    )),
                };
                match opened {
                    Ok((r, w)) => {
                        reader = Some(r);
                        watermark = w;
                    }
                    Err(e) => {
                        give_error(output, &*c, e, 1);
                        cap = None;
                        return;
                    }
                }
            }
            let slice_start = Instant::now();
            let r = reader.as_mut().expect("opened above");
            loop {
                if epoch_started.elapsed() >= q.epoch_interval {
                    // Closing the epoch: the partition's watermark as of its
                    // end, unless the partition is idle.
                    if let Some(w) = watermark.as_ref().and_then(WatermarkTracker::current) {
                        give_watermark(output, &*c, w);
                    }
                    if !r.follows_log() {
                        q.progress.report(slot, Instant::now(), *c.time());
                    }
                    if let Some((job, slot)) = checkpoint.as_ref() {
                        job.source_closed(*slot, *c.time(), || r.offsets());
                    }
                    let next = *c.time() + 1;
                    c.downgrade(&next);
                    epoch_started = Instant::now();
                }
                if q.source_must_wait(*c.time()) {
                    activator.activate_after(BACKPRESSURE_POLL);
                    return;
                }
                let polled = guard_panic(&reading, || r.poll_next());
                match polled {
                    Ok(SourcePoll::Batch(batch)) => {
                        if let Some(w) = watermark.as_mut()
                            && let Err(e) = w.observe(&batch)
                        {
                            give_error(output, &*c, e, batch.num_rows() as u64);
                            cap = None;
                            return;
                        }
                        if batch.num_rows() > 0 {
                            q.progress.add_rows_in(batch.num_rows());
                            output
                                .session(&*c)
                                .give_container(&mut Chunk::from_batch(batch));
                        }
                    }
                    Ok(SourcePoll::Pending) => {
                        q.progress.report(slot, slice_start, *c.time());
                        activator.activate_after(pending_poll);
                        return;
                    }
                    Ok(SourcePoll::Finished) => {
                        if let Some((job, slot)) = checkpoint.as_ref() {
                            job.source_ended(*slot, r.offsets());
                        }
                        cap = None;
                        q.progress.finish(slot);
                        return;
                    }
                    Err(e) => {
                        give_error(output, &*c, e, 1);
                        cap = None;
                        return;
                    }
                }
                if slice_start.elapsed() >= SOURCE_SLICE {
                    activator.activate();
                    return;
                }
            }
        }
    })
}

/// What opening a source gives: its reader, and the tracker of its
/// partition's watermark when the input has one.
pub(super) type Opened = (Box<dyn SourceReader>, Option<WatermarkTracker>);

pub(super) fn render_values<'s>(
    scope: Scope<'s, Epoch>,
    batch: Option<Result<RecordBatch, QueryError>>,
) -> Stream<'s, Epoch, Chunk> {
    source::<_, Out, _, _>(scope, "Values", move |cap, _info| {
        let mut cap = Some(cap);
        let mut batch = batch;
        move |output| {
            if let Some(c) = cap.take() {
                match batch.take() {
                    Some(Ok(b)) if b.num_rows() > 0 => {
                        output.session(&c).give_container(&mut Chunk::from_batch(b));
                    }
                    Some(Err(e)) => {
                        output
                            .session(&c)
                            .give_container(&mut Chunk::from_error(e, 1));
                    }
                    _ => {}
                }
            }
        }
    })
}

pub(super) fn render_error<'s>(
    scope: Scope<'s, Epoch>,
    error: QueryError,
    emit: bool,
) -> Stream<'s, Epoch, Chunk> {
    source::<_, Out, _, _>(scope, "PlanError", move |cap, _info| {
        let mut cap = Some(cap);
        let mut error = Some(error);
        move |output| {
            if let Some(c) = cap.take()
                && emit
                && let Some(e) = error.take()
            {
                output
                    .session(&c)
                    .give_container(&mut Chunk::from_error(e, 1));
            }
        }
    })
}

/// What a scan of a materialized view reads (see [`NodeKind::ViewScan`]).
///
/// [`NodeKind::ViewScan`]: crate::plan::NodeKind::ViewScan
pub(crate) struct ViewScanSpec {
    pub(crate) view: u64,
    pub(crate) name: String,
    pub(crate) epoch: Option<Epoch>,
    pub(crate) follow: bool,
    pub(crate) projection: Option<Vec<usize>>,
    /// The output schema (with the op column when following).
    pub(crate) schema: arrow::datatypes::SchemaRef,
}

/// How long a view scan waits for its part to exist or to reach the
/// epoch it reads (a part of another process may be a little behind).
const VIEW_WAIT: Duration = Duration::from_secs(30);

/// Reads this worker's part of a view: its contents as of the plan's
/// epoch and, when following, every change after it. A follower's epochs
/// count from the epoch it started at (its first output, the contents, is
/// at epoch 0; the changes of the view's epoch `e` at `e - start`), so it
/// keeps pace with the other sources of its query.
pub(super) fn render_view_scan<'s>(
    scope: Scope<'s, Epoch>,
    spec: ViewScanSpec,
    q: Rc<QueryShared>,
) -> Stream<'s, Epoch, Chunk> {
    let name = format!("ViewScan {}", spec.name);
    source::<_, Out, _, _>(scope, &name, move |cap, info| {
        let activator = scope.activator_for(info.address);
        let mut cap = Some(cap);
        let mut part: Option<Arc<crate::view::ViewPart>> = None;
        let opened = Instant::now();
        // The view epoch read up to, once the contents are out, and the
        // epoch the follower started at.
        let mut at: Option<(Epoch, Epoch)> = None;
        move |output| {
            let Some(c) = cap.as_mut() else { return };
            if q.canceled() || q.finishing.get() {
                cap = None;
                return;
            }
            let fail = |output: &mut super::OutputSession<'_>, c: &_, e: QueryError| {
                give_error(output, c, e, 1);
            };
            if part.is_none() {
                match q.views.part(spec.view, q.place.worker_index) {
                    Some(p) => part = Some(p),
                    None if opened.elapsed() < VIEW_WAIT => {
                        activator.activate_after(SOURCE_POLL);
                        return;
                    }
                    None => {
                        let e = QueryError::new(
                            SqlState::Unavailable,
                            format!("materialized view {} is not running", spec.name),
                        );
                        fail(output, &*c, e);
                        cap = None;
                        return;
                    }
                }
            }
            let p = part.as_ref().expect("found above");
            let project = |b: &RecordBatch| -> Result<RecordBatch, QueryError> {
                let mut b = match &spec.projection {
                    Some(cols) => {
                        let mut cols = cols.clone();
                        if crate::changelog::is_updating(b.schema_ref()) {
                            cols.push(b.num_columns() - 1);
                        }
                        b.project(&cols)
                            .map_err(|e| QueryError::new(SqlState::Internal, e.to_string()))?
                    }
                    None => b.clone(),
                };
                b = b
                    .with_schema(Arc::clone(&spec.schema))
                    .map_err(|e| QueryError::new(SqlState::Internal, e.to_string()))?;
                Ok(b)
            };
            match at {
                None => {
                    let epoch = spec.epoch.unwrap_or_else(|| p.frontier().saturating_sub(1));
                    let contents = match p.contents_at(epoch) {
                        Ok(Some(contents)) => contents,
                        Ok(None) if opened.elapsed() < VIEW_WAIT => {
                            activator.activate_after(SOURCE_POLL);
                            return;
                        }
                        Ok(None) => {
                            let e = QueryError::new(
                                SqlState::Unavailable,
                                format!(
                                    "materialized view {} did not reach epoch {epoch} in time",
                                    spec.name
                                ),
                            );
                            fail(output, &*c, e);
                            cap = None;
                            return;
                        }
                        Err(e) => {
                            fail(output, &*c, e);
                            cap = None;
                            return;
                        }
                    };
                    let updating = crate::changelog::updating_schema(p.schema());
                    for batch in contents.iter() {
                        let batch = if spec.follow {
                            crate::changelog::all_ops(
                                batch,
                                crate::changelog::Op::Insert,
                                &updating,
                            )
                        } else {
                            Ok(batch.clone())
                        };
                        match batch.and_then(|b| project(&b)) {
                            Ok(b) if b.num_rows() > 0 => {
                                q.progress.add_rows_in(b.num_rows());
                                output
                                    .session(&*c)
                                    .give_container(&mut Chunk::from_batch(b));
                            }
                            Ok(_) => {}
                            Err(e) => {
                                fail(output, &*c, e);
                                cap = None;
                                return;
                            }
                        }
                    }
                    if !spec.follow {
                        cap = None;
                        return;
                    }
                    at = Some((epoch, epoch));
                    activator.activate_after(SOURCE_POLL);
                }
                Some((after, start)) => {
                    if q.source_must_wait(*c.time()) {
                        activator.activate_after(BACKPRESSURE_POLL);
                        return;
                    }
                    let (changes, frontier) = match p.changes_after(after) {
                        Ok(r) => r,
                        Err(e) => {
                            fail(output, &*c, e);
                            cap = None;
                            return;
                        }
                    };
                    for (e, batches) in changes {
                        let t = e - start;
                        if t > *c.time() {
                            c.downgrade(&t);
                        }
                        for b in &batches {
                            match project(b) {
                                Ok(b) if b.num_rows() > 0 => {
                                    q.progress.add_rows_in(b.num_rows());
                                    output
                                        .session(&*c)
                                        .give_container(&mut Chunk::from_batch(b));
                                }
                                Ok(_) => {}
                                Err(e) => {
                                    fail(output, &*c, e);
                                    cap = None;
                                    return;
                                }
                            }
                        }
                    }
                    if frontier == Epoch::MAX {
                        // The view is final: so is this input.
                        cap = None;
                        return;
                    }
                    let done = frontier.saturating_sub(1);
                    if done > after {
                        at = Some((done, start));
                        let t = frontier - start;
                        if t > *c.time() {
                            c.downgrade(&t);
                        }
                    }
                    activator.activate_after(SOURCE_POLL);
                }
            }
        }
    })
}
