//! Memory accounting for a query's state on one worker.
//!
//! Operators that buffer rows (hash tables, sort buffers, join builds)
//! reserve what they hold from the query's [`MemoryBudget`]. When a
//! reservation would pass the limit the operator fails the query with a
//! clear error instead of letting the process run out of memory.

use std::cell::Cell;
use std::rc::Rc;

use crate::error::{QueryError, SqlState};

/// The memory one worker may use for one query.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    used: Cell<usize>,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Rc<Self> {
        Rc::new(Self {
            limit,
            used: Cell::new(0),
        })
    }

    /// Bytes currently reserved.
    pub fn used(&self) -> usize {
        self.used.get()
    }

    /// A new, empty reservation for the operator `owner`.
    pub fn reservation(self: &Rc<Self>, owner: &'static str) -> MemoryReservation {
        MemoryReservation {
            budget: Rc::clone(self),
            owner,
            size: 0,
        }
    }
}

/// Memory held by one operator; released when dropped.
#[derive(Debug)]
pub struct MemoryReservation {
    budget: Rc<MemoryBudget>,
    owner: &'static str,
    size: usize,
}

impl MemoryReservation {
    /// Bytes held.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Sets the reservation to `size` bytes.
    ///
    /// # Errors
    ///
    /// Fails (and keeps the old size) when growing would pass the limit.
    pub fn try_resize(&mut self, size: usize) -> Result<(), QueryError> {
        let others = self.budget.used.get() - self.size;
        if size > self.size && others + size > self.budget.limit {
            return Err(QueryError::new(
                SqlState::OutOfMemory,
                format!(
                    "query needs more memory than its limit of {} MiB per worker in {} \
                     (raise the setting query_memory_limit, or use more workers)",
                    self.budget.limit >> 20,
                    self.owner
                ),
            ));
        }
        self.budget.used.set(others + size);
        self.size = size;
        Ok(())
    }

    /// Grows the reservation by `bytes`.
    pub fn try_grow(&mut self, bytes: usize) -> Result<(), QueryError> {
        self.try_resize(self.size + bytes)
    }

    /// Releases everything.
    pub fn free(&mut self) {
        self.budget.used.set(self.budget.used.get() - self.size);
        self.size = 0;
    }
}

impl Drop for MemoryReservation {
    fn drop(&mut self) {
        self.free();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_the_budget_and_fail_past_it() {
        let budget = MemoryBudget::new(100);
        let mut a = budget.reservation("a");
        let mut b = budget.reservation("b");
        a.try_grow(60).unwrap();
        let err = b.try_grow(50).unwrap_err();
        assert_eq!(err.state, SqlState::OutOfMemory);
        assert!(err.message.contains("query_memory_limit"));
        assert_eq!(budget.used(), 60);
        b.try_grow(40).unwrap();
        drop(a);
        assert_eq!(budget.used(), 40);
        b.try_resize(10).unwrap();
        assert_eq!(budget.used(), 10);
    }
}
