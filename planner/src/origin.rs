//! Where a query's result columns come from: the table column a result
//! column shows unchanged, which Postgres reports in `RowDescription`
//! (table OID and column number) and clients use for metadata (pgjdbc's
//! `getTableName`, `isNullable`).
//!
//! A column is traced down the logical plan through plain column
//! references: projections, filters, sorts, limits, aliases, `DISTINCT`,
//! joins, window inputs and grouping columns, to a table scan. Any other
//! expression (a cast, a function, an aggregate, a set operation) has no
//! origin. Views are inlined when planned, so their columns trace to the
//! tables they read.

use datafusion_common::JoinType;
use datafusion_expr::logical_plan::{Aggregate, Distinct, Join, Projection, TableScan};
use datafusion_expr::{Expr, LogicalPlan};

use crate::catalog::QualifiedName;
use crate::context::TableSourceAdapter;

/// The table column a result column shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnOrigin {
    /// The table (or system table).
    pub table: QualifiedName,
    /// The column's position in the table, from 0.
    pub column: usize,
}

/// The origin of each output column of `plan`.
pub fn column_origins(plan: &LogicalPlan) -> Vec<Option<ColumnOrigin>> {
    (0..plan.schema().fields().len())
        .map(|i| origin(plan, i))
        .collect()
}

/// The origin of output column `index` of `plan`.
fn origin(plan: &LogicalPlan, index: usize) -> Option<ColumnOrigin> {
    match plan {
        LogicalPlan::Projection(Projection { expr, input, .. }) => {
            column_of(input, expr.get(index)?)
        }
        LogicalPlan::Filter(f) => origin(&f.input, index),
        LogicalPlan::Sort(s) => origin(&s.input, index),
        LogicalPlan::Limit(l) => origin(&l.input, index),
        LogicalPlan::SubqueryAlias(a) => origin(&a.input, index),
        LogicalPlan::Repartition(r) => origin(&r.input, index),
        LogicalPlan::Distinct(Distinct::All(input)) => origin(input, index),
        LogicalPlan::Window(w) => origin(&w.input, index),
        LogicalPlan::Aggregate(Aggregate {
            input, group_expr, ..
        }) => column_of(input, group_expr.get(index)?),
        LogicalPlan::Join(Join {
            left,
            right,
            join_type,
            ..
        }) => {
            let left_len = left.schema().fields().len();
            match join_type {
                JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => {
                    if index < left_len {
                        origin(left, index)
                    } else {
                        origin(right, index - left_len)
                    }
                }
                // One side's columns, then perhaps a mark column.
                JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => {
                    (index < left_len).then(|| origin(left, index)).flatten()
                }
                JoinType::RightSemi | JoinType::RightAnti | JoinType::RightMark => (index
                    < right.schema().fields().len())
                .then(|| origin(right, index))
                .flatten(),
            }
        }
        LogicalPlan::TableScan(TableScan {
            source, projection, ..
        }) => {
            let column = match projection {
                Some(p) => *p.get(index)?,
                None => index,
            };
            let adapter = source.downcast_ref::<TableSourceAdapter>()?;
            (column < adapter.entry.schema.fields().len()).then(|| ColumnOrigin {
                table: adapter.entry.name.clone(),
                column,
            })
        }
        _ => None,
    }
}

/// The origin of `expr` evaluated over `input`, when it is a column
/// (possibly renamed).
fn column_of(input: &LogicalPlan, expr: &Expr) -> Option<ColumnOrigin> {
    match expr {
        Expr::Alias(a) => column_of(input, &a.expr),
        Expr::Column(c) => origin(input, input.schema().index_of_column(c).ok()?),
        _ => None,
    }
}

/// The tables, views' tables and materialized views `plan` reads (in its
/// subqueries too), each once, in the order first read.
pub fn tables_read(plan: &LogicalPlan) -> Vec<QualifiedName> {
    use datafusion_common::tree_node::TreeNodeRecursion;
    let mut out: Vec<QualifiedName> = Vec::new();
    let _ = plan.apply_with_subqueries(|p| {
        if let LogicalPlan::TableScan(TableScan { source, .. }) = p
            && let Some(adapter) = source.downcast_ref::<TableSourceAdapter>()
            && !out.contains(&adapter.entry.name)
        {
            out.push(adapter.entry.name.clone());
        }
        Ok(TreeNodeRecursion::Continue)
    });
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::catalog::{CatalogView, SessionInfo, TableEntry, TableKind};
    use crate::statement::{Planned, Planner};

    #[derive(Debug)]
    struct Tables;

    impl CatalogView for Tables {
        fn table(&self, name: &QualifiedName) -> Option<TableEntry> {
            let columns: &[(&str, DataType)] = match name.name.as_str() {
                "t" => &[
                    ("a", DataType::Int32),
                    ("b", DataType::Utf8),
                    ("c", DataType::Int64),
                ],
                "u" => &[("x", DataType::Int32), ("y", DataType::Utf8)],
                "v" => &[("y", DataType::Utf8), ("a", DataType::Int32)],
                _ => return None,
            };
            let schema = Arc::new(Schema::new(
                columns
                    .iter()
                    .map(|(n, t)| Field::new(*n, t.clone(), true))
                    .collect::<Vec<_>>(),
            ));
            let kind = if name.name == "v" {
                TableKind::View {
                    sql: "SELECT u.y, t.a FROM t JOIN u ON t.a = u.x".into(),
                }
            } else {
                TableKind::Source {
                    connector: "managed".into(),
                    options: BTreeMap::new(),
                }
            };
            Some(TableEntry {
                name: name.clone(),
                schema,
                kind,
            })
        }
        fn schema_exists(&self, _database: &str, schema: &str) -> bool {
            schema == "public"
        }
        fn database_exists(&self, _database: &str) -> bool {
            true
        }
    }

    /// `table.column` (or `-`) for each result column of `sql`.
    fn origins(sql: &str) -> Vec<String> {
        let session = SessionInfo::default();
        let catalog = Tables;
        let planner = Planner::new(&catalog, &session);
        let statement = crate::parse_sql(sql).unwrap().remove(0);
        let Planned::Query(query) = planner.plan(&statement, &[]).unwrap() else {
            panic!("not a query: {sql}");
        };
        column_origins(&query.logical)
            .into_iter()
            .map(|o| o.map_or("-".into(), |o| format!("{}.{}", o.table.name, o.column)))
            .collect()
    }

    #[test]
    fn traces_columns_to_tables() {
        assert_eq!(
            origins("SELECT c, a AS renamed, a + 1, 'x' FROM t WHERE b = $1 ORDER BY b LIMIT 3"),
            ["t.2", "t.0", "-", "-"]
        );
        assert_eq!(origins("SELECT * FROM t"), ["t.0", "t.1", "t.2"]);
        assert_eq!(
            origins(
                "SELECT s.b, u.y FROM (SELECT DISTINCT b, a FROM t) s LEFT JOIN u ON s.a = u.x"
            ),
            ["t.1", "u.1"]
        );
        assert_eq!(
            origins("SELECT b, count(*), max(c) FROM t GROUP BY b"),
            ["t.1", "-", "-"]
        );
        assert_eq!(origins("SELECT * FROM v"), ["u.1", "t.0"]);
        assert_eq!(
            origins("SELECT a FROM t WHERE a IN (SELECT x FROM u) UNION ALL SELECT x FROM u"),
            ["-"]
        );
        assert_eq!(
            origins("SELECT a, row_number() OVER (ORDER BY c) FROM t"),
            ["t.0", "-"]
        );
    }
}
