//! Cancel keys: every connection gets a process id and secret
//! (`BackendKeyData`); a `CancelRequest` on a new connection that names
//! both cancels that session's running query.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use parking_lot::Mutex;

use crate::session::CancelHandle;

/// The cancel handles of the connected sessions, by process id.
#[derive(Debug)]
pub(crate) struct CancelRegistry {
    /// Secret and cancel handle of each session.
    sessions: Mutex<HashMap<i32, (i32, CancelHandle)>>,
    /// The next process id to hand out.
    next_pid: AtomicI32,
}

impl CancelRegistry {
    /// An empty registry.
    pub(crate) fn new() -> Self {
        let start = (random_u64() % 50_000) as i32 + 10_000;
        Self {
            sessions: Mutex::new(HashMap::new()),
            next_pid: AtomicI32::new(start),
        }
    }

    /// Registers a session; it stays registered while the returned
    /// [`Registration`] lives.
    pub(crate) fn register(self: &Arc<Self>, handle: CancelHandle) -> Registration {
        let mut sessions = self.sessions.lock();
        let pid = loop {
            let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
            let pid = if pid <= 0 {
                pid.wrapping_neg().max(1)
            } else {
                pid
            };
            if !sessions.contains_key(&pid) {
                break pid;
            }
        };
        let secret = random_u64() as i32;
        sessions.insert(pid, (secret, handle));
        Registration {
            registry: Arc::clone(self),
            pid,
            secret,
        }
    }

    /// Cancels the running query of the session with this process id and
    /// secret; returns whether one matched. A wrong secret is ignored, as
    /// in Postgres.
    pub(crate) fn cancel(&self, pid: i32, secret: &[u8]) -> bool {
        let handle = {
            let sessions = self.sessions.lock();
            match sessions.get(&pid) {
                Some((s, handle)) if s.to_be_bytes() == secret => handle.clone(),
                _ => return false,
            }
        };
        handle.cancel();
        true
    }
}

/// A session's entry in the [`CancelRegistry`], removed on drop.
#[derive(Debug)]
pub(crate) struct Registration {
    /// The registry.
    registry: Arc<CancelRegistry>,
    /// Process id sent in BackendKeyData.
    pub(crate) pid: i32,
    /// Secret sent in BackendKeyData.
    pub(crate) secret: i32,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.sessions.lock().remove(&self.pid);
    }
}

/// A random number from the standard library's randomly keyed hasher.
fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_cancel_and_unregister() {
        let registry = Arc::new(CancelRegistry::new());
        let a = registry.register(CancelHandle::default());
        let b = registry.register(CancelHandle::default());
        assert_ne!(a.pid, b.pid);
        assert!(registry.cancel(a.pid, &a.secret.to_be_bytes()));
        assert!(!registry.cancel(a.pid, &a.secret.wrapping_add(1).to_be_bytes()));
        let pid = a.pid;
        let secret = a.secret;
        drop(a);
        assert!(!registry.cancel(pid, &secret.to_be_bytes()));
        assert!(registry.cancel(b.pid, &b.secret.to_be_bytes()));
    }
}
