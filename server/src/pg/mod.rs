//! The Postgres wire protocol front end (protocol 3.0), built on pgwire's
//! message types.
//!
//! [`serve`] accepts connections and runs each in its own task. The
//! adapter is thin: every statement goes to the connection's
//! [`Session`](crate::session::Session); this module only translates
//! between messages and session calls.
//!
//! - [`protocol`]: framing and bounds-checked decoding of frontend
//!   messages, buffered writing of backend messages;
//! - [`connection`]: startup, simple and extended query protocols, COPY;
//! - [`encode`] / [`params`]: values in text and binary format;
//! - [`types`]: Arrow types as Postgres types (OIDs);
//! - [`error`]: errors and notices as wire messages;
//! - [`cancel`]: cancel keys and CancelRequest.
//!
//! No TLS (SSLRequest is answered `N`) and trust authentication: the user
//! name from the startup message is taken as given.
//!
//! A misbehaving client only ever ends its own connection: malformed
//! messages get a FATAL error and the connection closes, and a panic in a
//! connection task stays in that task.

mod cancel;
mod connection;
mod encode;
mod error;
mod params;
mod protocol;
mod types;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::session::ServerState;
use cancel::CancelRegistry;

/// How long connections get to end after shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Accepts Postgres clients on `listener` until `shutdown` is cancelled,
/// then ends the open connections (each gets a FATAL 57P01).
pub async fn serve(listener: TcpListener, state: Arc<ServerState>, shutdown: CancellationToken) {
    let registry = Arc::new(CancelRegistry::new());
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    connections.spawn(connection::run(
                        socket,
                        peer,
                        Arc::clone(&state),
                        Arc::clone(&registry),
                        shutdown.clone(),
                    ));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off.
                    tracing::warn!(error = %e, "cannot accept a pg connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(joined) = connections.join_next(), if !connections.is_empty() => log_join(joined),
        }
    }
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while let Some(joined) = connections.join_next().await {
            log_join(joined);
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            remaining = connections.len(),
            "pg connections did not end in time; aborting them"
        );
        connections.abort_all();
    }
}

fn log_join(joined: Result<(), tokio::task::JoinError>) {
    if let Err(e) = joined
        && e.is_panic()
    {
        tracing::error!(error = %e, "a pg connection task panicked");
    }
}
