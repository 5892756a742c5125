//! Rows a client pushes into a running query: `COPY ... FROM STDIN` sends
//! the batches it parses through an [`InputSender`], and the plan's
//! [`NodeKind::Input`](crate::plan::NodeKind::Input) node produces them on
//! worker 0 of process 0.
//!
//! The channel is bounded, so a client that sends faster than the query
//! writes waits (backpressure) and a copy of any size holds a few batches
//! in memory. The input ends only when the sender says so
//! ([`InputSender::finish`]); a sender dropped without finishing (the
//! client went away) or [`InputSender::abort`]ed fails the query, so that
//! its sink commits nothing.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use crate::error::{QueryError, SqlState};
use crate::source::{SourcePoll, SourceReader};

/// Batches in flight between a sender and its query.
const INPUT_QUEUE: usize = 4;

/// What travels on an input's channel.
#[derive(Debug)]
enum InputEvent {
    Batch(RecordBatch),
    End,
    Abort(QueryError),
}

/// The sending half of an input (see the module docs).
#[derive(Debug)]
pub struct InputSender {
    tx: mpsc::Sender<InputEvent>,
}

impl InputSender {
    /// Sends a batch, waiting while the query is behind.
    ///
    /// # Errors
    ///
    /// The query has ended (it failed or was canceled); its error reaches
    /// the query's handle.
    pub async fn send(&self, batch: RecordBatch) -> Result<(), QueryError> {
        self.tx
            .send(InputEvent::Batch(batch))
            .await
            .map_err(|_| ended())
    }

    /// Ends the input: the query's input is complete.
    pub async fn finish(self) {
        let _ = self.tx.send(InputEvent::End).await;
    }

    /// Fails the query with `error` instead of ending its input.
    pub async fn abort(self, error: QueryError) {
        let _ = self.tx.send(InputEvent::Abort(error)).await;
    }
}

fn ended() -> QueryError {
    QueryError::new(
        SqlState::QueryCanceled,
        "the query reading this input has ended",
    )
}

/// The receiving half, read by the dataflow as a source.
#[derive(Debug)]
pub(crate) struct InputReader {
    rx: mpsc::Receiver<InputEvent>,
}

impl SourceReader for InputReader {
    fn poll_next(&mut self) -> Result<SourcePoll, QueryError> {
        match self.rx.try_recv() {
            Ok(InputEvent::Batch(b)) => Ok(SourcePoll::Batch(b)),
            Ok(InputEvent::End) => Ok(SourcePoll::Finished),
            Ok(InputEvent::Abort(e)) => Err(e),
            Err(TryRecvError::Empty) => Ok(SourcePoll::Pending),
            Err(TryRecvError::Disconnected) => Err(QueryError::new(
                SqlState::QueryCanceled,
                "the client stopped sending input before its end",
            )),
        }
    }
}

/// Inputs opened and not yet taken by their query's dataflow.
#[derive(Debug, Default, Clone)]
pub(crate) struct Inputs {
    open: Arc<Mutex<HashMap<u64, InputReader>>>,
}

impl Inputs {
    /// Opens input `id`.
    pub(crate) fn open(&self, id: u64) -> InputSender {
        let (tx, rx) = mpsc::channel(INPUT_QUEUE);
        self.open.lock().insert(id, InputReader { rx });
        InputSender { tx }
    }

    /// Takes input `id` for the dataflow that reads it.
    pub(crate) fn take(&self, id: u64) -> Option<InputReader> {
        self.open.lock().remove(&id)
    }

    /// Forgets input `id` (its query will not read it).
    pub(crate) fn forget(&self, id: u64) {
        self.open.lock().remove(&id);
    }
}
