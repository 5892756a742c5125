//! Process-wide connector metrics.
//!
//! Readers are boxed behind the runtime's `SourceReader` trait, which has no
//! way to report metrics, so counters that users need live here, keyed by the
//! table name of the scan (`SourceSpec::table`):
//!
//! - **skipped rows**: rows a `file` table with `bad_rows = 'skip'` dropped
//!   because they were malformed. Each reader adds its count as it reads;
//!   [`skipped_rows`] is the total since the process started.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use parking_lot::Mutex;

static SKIPPED_ROWS: LazyLock<Mutex<BTreeMap<String, u64>>> = LazyLock::new(Default::default);

/// Adds `n` to the skipped-row count of `table`.
pub(crate) fn add_skipped_rows(table: &str, n: u64) {
    if n == 0 {
        return;
    }
    let mut counts = SKIPPED_ROWS.lock();
    match counts.get_mut(table) {
        Some(c) => *c += n,
        None => {
            counts.insert(table.to_string(), n);
        }
    }
}

/// Rows skipped as malformed while reading `table` (`bad_rows = 'skip'`),
/// over all scans since the process started.
pub fn skipped_rows(table: &str) -> u64 {
    SKIPPED_ROWS.lock().get(table).copied().unwrap_or(0)
}

/// Skipped-row counts of every table that skipped any.
pub fn skipped_rows_by_table() -> BTreeMap<String, u64> {
    SKIPPED_ROWS.lock().clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_accumulate_per_table() {
        add_skipped_rows("metrics_test.a", 2);
        add_skipped_rows("metrics_test.a", 3);
        add_skipped_rows("metrics_test.b", 0);
        assert_eq!(skipped_rows("metrics_test.a"), 5);
        assert_eq!(skipped_rows("metrics_test.b"), 0);
        assert!(!skipped_rows_by_table().contains_key("metrics_test.b"));
    }
}
