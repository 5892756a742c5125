//! Rough size estimates of logical plans, for choosing join build sides
//! and where a query runs.
//!
//! A join builds a hash table of one input and streams the other past it;
//! building the smaller input is what keeps a query inside its memory
//! budget. Exact statistics are not needed for that choice, only an order
//! of magnitude: a scan is estimated by the bytes of its table on disk (file
//! sizes for file tables, committed log bytes for managed tables) scaled by
//! the share of columns it reads, and each operator above scales that by a
//! fixed factor. Unknown sizes stay unknown, and then the plan keeps the
//! join sides the optimizer gave it.

use std::path::Path;

use datafusion_common::JoinType;
use datafusion_common::tree_node::TreeNodeRecursion;
use datafusion_expr::{LogicalPlan, TableScan};

use crate::catalog::TableKind;
use crate::context::TableSourceAdapter;

/// Share of rows a filter is assumed to keep.
const FILTER_SELECTIVITY: f64 = 0.3;
/// Share of rows a grouped aggregation is assumed to keep.
const GROUPS_PER_ROW: f64 = 0.5;
/// Bytes assumed per row where only a row count is known.
const ROW_BYTES: f64 = 64.0;

/// Estimated bytes of `plan`'s output, if the sizes of its tables are known.
pub(crate) fn estimated_bytes(plan: &LogicalPlan) -> Option<f64> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            let mut bytes = scan_bytes(scan)?;
            if !scan.filters.is_empty() {
                bytes *= FILTER_SELECTIVITY;
            }
            if let Some(fetch) = scan.fetch {
                bytes = bytes.min(fetch as f64 * ROW_BYTES);
            }
            Some(bytes)
        }
        LogicalPlan::Filter(f) => Some(estimated_bytes(&f.input)? * FILTER_SELECTIVITY),
        LogicalPlan::Aggregate(a) => {
            if a.group_expr.is_empty() {
                Some(ROW_BYTES)
            } else {
                Some(estimated_bytes(&a.input)? * GROUPS_PER_ROW)
            }
        }
        LogicalPlan::Join(j) => {
            let left = estimated_bytes(&j.left);
            let right = estimated_bytes(&j.right);
            match j.join_type {
                JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => left,
                JoinType::RightSemi | JoinType::RightAnti | JoinType::RightMark => right,
                // Most joins follow a key to one row: about the larger input.
                _ => Some(left?.max(right?)),
            }
        }
        LogicalPlan::Limit(l) => {
            let input = estimated_bytes(&l.input)?;
            match l.get_fetch_type() {
                Ok(datafusion_expr::logical_plan::FetchType::Literal(Some(n))) => {
                    Some(input.min(n as f64 * ROW_BYTES))
                }
                _ => Some(input),
            }
        }
        LogicalPlan::Union(u) => u.inputs.iter().map(|i| estimated_bytes(i)).sum(),
        LogicalPlan::Values(v) => Some(v.values.len() as f64 * ROW_BYTES),
        LogicalPlan::EmptyRelation(_) => Some(0.0),
        other => {
            let inputs = other.inputs();
            match inputs.as_slice() {
                [input] => estimated_bytes(input),
                _ => None,
            }
        }
    }
}

/// Estimated bytes `plan` reads from its tables (every scan, subqueries
/// included), if the size of every input is known.
pub(crate) fn scanned_bytes(plan: &LogicalPlan) -> Option<f64> {
    let mut total = Some(0.0);
    let _ = plan.apply_with_subqueries(|node| {
        let bytes = match node {
            LogicalPlan::TableScan(scan) => scan_bytes(scan),
            LogicalPlan::Values(_) | LogicalPlan::EmptyRelation(_) => estimated_bytes(node),
            leaf if leaf.inputs().is_empty() => None,
            _ => return Ok(TreeNodeRecursion::Continue),
        };
        total = total.zip(bytes).map(|(t, b)| t + b);
        Ok(if total.is_some() {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    });
    total
}

/// Bytes of the columns `scan` reads: its table's bytes scaled by the
/// share of columns read.
fn scan_bytes(scan: &TableScan) -> Option<f64> {
    let adapter = scan.source.downcast_ref::<TableSourceAdapter>()?;
    let total_columns = adapter.entry.schema.fields().len().max(1);
    let read_columns = scan
        .projection
        .as_ref()
        .map_or(total_columns, |p| p.len().max(1));
    let share = read_columns as f64 / total_columns as f64;
    Some(table_bytes(&adapter.entry.kind)? * share)
}

/// Bytes a table holds, as far as can be told cheaply.
fn table_bytes(kind: &TableKind) -> Option<f64> {
    match kind {
        TableKind::System { batch } => Some(batch.get_array_memory_size() as f64),
        TableKind::View { .. } | TableKind::Materialized { .. } => None,
        TableKind::Source { connector, options } => match connector.as_str() {
            "managed" => options.get("committed_bytes")?.parse::<f64>().ok(),
            "file" => path_bytes(options.get("path")?),
            _ => None,
        },
    }
}

/// Bytes of the files a `path` option names: a file, a directory (its files)
/// or a glob (the files of the directory above its first wildcard, which
/// over-counts only when the glob selects some of them).
fn path_bytes(path: &str) -> Option<f64> {
    let fixed = match path.find(['*', '?', '[']) {
        Some(i) => match path[..i].rsplit_once('/') {
            Some(("", _)) => Path::new("/").to_path_buf(),
            Some((dir, _)) => Path::new(dir).to_path_buf(),
            None => Path::new(".").to_path_buf(),
        },
        None => Path::new(path).to_path_buf(),
    };
    let meta = std::fs::metadata(&fixed).ok()?;
    if meta.is_file() {
        return Some(meta.len() as f64);
    }
    let mut total = 0u64;
    for entry in std::fs::read_dir(&fixed).ok()?.flatten() {
        if let Ok(m) = entry.metadata()
            && m.is_file()
        {
            total += m.len();
        }
    }
    Some(total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_count_files_directories_and_globs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), vec![b'x'; 100]).unwrap();
        std::fs::write(dir.path().join("b.csv"), vec![b'x'; 50]).unwrap();
        let d = dir.path().to_str().unwrap();
        assert_eq!(path_bytes(&format!("{d}/a.csv")), Some(100.0));
        assert_eq!(path_bytes(d), Some(150.0));
        assert_eq!(path_bytes(&format!("{d}/*.csv")), Some(150.0));
        assert_eq!(path_bytes(&format!("{d}/missing.csv")), None);
    }
}
