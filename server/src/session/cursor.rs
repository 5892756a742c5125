//! SQL cursors: `DECLARE c [NO SCROLL] CURSOR [WITH HOLD] FOR query`,
//! `FETCH [FORWARD] [n | ALL | NEXT] [FROM | IN] c` and `CLOSE c | ALL`.
//!
//! A cursor holds the running query's row stream; `FETCH n` reads the next
//! `n` rows from it (fewer at the end). A cursor over a subscription
//! (`DECLARE c CURSOR FOR SUBSCRIBE …`) never ends, so there `FETCH`
//! waits for at least one row and then returns the rows that are ready,
//! up to `n`, as Materialize does. As in Postgres, a cursor without `WITH
//! HOLD` needs a transaction block and is closed when the block ends;
//! cursors scan forward only (`55000` otherwise).

use std::collections::HashMap;

use arrow::array::RecordBatch;
use futures::FutureExt;
use sqlparser::ast::{CloseCursor, DeclareType, FetchDirection, Statement, Value};
use tidewater_planner::{Planned, Planner};

use super::{ExecResult, RowStream, Session, TransactionStatus};
use crate::catalog::CatalogSnapshot;
use crate::error::{SqlError, SqlResult};

/// An open cursor.
#[derive(Debug)]
pub(super) struct Cursor {
    rows: RowStream,
    /// Rows read from the stream but not fetched yet.
    pending: Option<RecordBatch>,
    /// Over a subscription: `FETCH` returns what is ready once it has a row.
    subscribe: bool,
    /// `WITH HOLD`: survives the end of the transaction block.
    hold: bool,
}

/// The open cursors of a session, by name.
pub(super) type Cursors = HashMap<String, Cursor>;

/// Whether `statement` is a cursor statement this module runs.
pub(super) fn is_cursor_statement(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::Declare { .. } | Statement::Fetch { .. } | Statement::Close { .. }
    )
}

fn no_cursor(name: &str) -> SqlError {
    SqlError::new("34000", format!("cursor \"{name}\" does not exist"))
}

/// How many rows a `FETCH` asks for (`None`: all).
fn fetch_count(direction: &FetchDirection) -> SqlResult<Option<u64>> {
    let number = |v: &sqlparser::ast::ValueWithSpan| -> SqlResult<u64> {
        match &v.value {
            Value::Number(n, _) => n
                .parse::<u64>()
                .map_err(|_| SqlError::new("22023", format!("invalid FETCH count: {n}"))),
            other => Err(SqlError::new(
                "42601",
                format!("invalid FETCH count: {other}"),
            )),
        }
    };
    match direction {
        FetchDirection::Next | FetchDirection::Forward { limit: None } => Ok(Some(1)),
        FetchDirection::Count { limit } | FetchDirection::Forward { limit: Some(limit) } => {
            number(limit).map(Some)
        }
        FetchDirection::All | FetchDirection::ForwardAll => Ok(None),
        _ => Err(SqlError::new(
            "55000",
            "cursor can only scan forward (only FETCH [FORWARD] n, NEXT and ALL are supported)",
        )
        .with_hint(
            "Declare it with the SCROLL option to enable backward scan (not supported yet).",
        )),
    }
}

impl Session {
    /// The columns a `FETCH` from an open cursor returns.
    pub(super) fn cursor_columns(
        &self,
        statement: &Statement,
    ) -> Option<arrow::datatypes::SchemaRef> {
        match statement {
            Statement::Fetch { name, .. } => self
                .cursors
                .get(&name.value)
                .map(|c| std::sync::Arc::clone(&c.rows.schema)),
            _ => None,
        }
    }

    /// Closes the cursors that do not outlive the transaction block.
    pub(super) fn end_transaction_cursors(&mut self) {
        self.cursors.retain(|_, c| c.hold);
    }

    /// Runs `DECLARE`, `FETCH` or `CLOSE`.
    pub(super) async fn cursor_statement(
        &mut self,
        planner: &Planner<'_>,
        snapshot: &CatalogSnapshot,
        statement: &Statement,
    ) -> SqlResult<ExecResult> {
        match statement {
            Statement::Declare { stmts } => {
                let [declare] = stmts.as_slice() else {
                    return Err(SqlError::not_supported("DECLARE of several cursors"));
                };
                let (Some(DeclareType::Cursor), Some(query)) =
                    (&declare.declare_type, &declare.for_query)
                else {
                    return Err(SqlError::not_supported(
                        "DECLARE of variables (only DECLARE … CURSOR FOR query)",
                    ));
                };
                let [name] = declare.names.as_slice() else {
                    return Err(SqlError::new("42601", "DECLARE CURSOR needs one name"));
                };
                if declare.binary == Some(true) {
                    return Err(SqlError::not_supported("BINARY cursors"));
                }
                if declare.scroll == Some(true) {
                    return Err(SqlError::not_supported("SCROLL cursors"));
                }
                let hold = declare.hold == Some(true);
                if !hold && self.transaction == TransactionStatus::Idle {
                    return Err(SqlError::new(
                        "25P01",
                        "DECLARE CURSOR can only be used in transaction blocks",
                    ));
                }
                if self.cursors.contains_key(&name.value) {
                    return Err(SqlError::new(
                        "42P03",
                        format!("cursor \"{}\" already exists", name.value),
                    ));
                }
                let Planned::Query(query) = planner.plan(&Statement::Query(query.clone()), &[])?
                else {
                    return Err(SqlError::internal(
                        "a cursor's query did not plan as a query",
                    ));
                };
                let lowered = self.lower(planner, &query, &[])?;
                let placement = self.placement(&lowered);
                let ExecResult::Rows(rows) =
                    self.query_rows(snapshot, &query, &lowered.dataflow, placement)?
                else {
                    return Err(SqlError::internal("a query did not produce rows"));
                };
                self.cursors.insert(
                    name.value.clone(),
                    Cursor {
                        rows,
                        pending: None,
                        subscribe: query.subscribe,
                        hold,
                    },
                );
                Ok(ExecResult::Command("DECLARE CURSOR".into()))
            }
            Statement::Fetch {
                name, direction, ..
            } => {
                let count = fetch_count(direction)?;
                let cursor = self
                    .cursors
                    .get_mut(&name.value)
                    .ok_or_else(|| no_cursor(&name.value))?;
                let batches = cursor.fetch(count).await?;
                let schema = std::sync::Arc::clone(&cursor.rows.schema);
                Ok(ExecResult::Rows(RowStream::from_batches(schema, batches)))
            }
            Statement::Close { cursor } => {
                match cursor {
                    CloseCursor::All => self.cursors.clear(),
                    CloseCursor::Specific { name } => {
                        self.cursors
                            .remove(&name.value)
                            .ok_or_else(|| no_cursor(&name.value))?;
                    }
                }
                Ok(ExecResult::Command("CLOSE CURSOR".into()))
            }
            _ => Err(SqlError::internal("not a cursor statement")),
        }
    }
}

impl Cursor {
    /// The next `count` rows (all when `None`); for a subscription, at
    /// least one row and then whatever is ready.
    async fn fetch(&mut self, count: Option<u64>) -> SqlResult<Vec<RecordBatch>> {
        let mut out = Vec::new();
        let mut left = count.unwrap_or(u64::MAX);
        while left > 0 {
            let batch = match self.pending.take() {
                Some(b) => b,
                None if self.subscribe && !out.is_empty() => {
                    // Only what is ready now.
                    match self.rows.next().now_or_never() {
                        Some(Some(b)) => b?,
                        Some(None) | None => break,
                    }
                }
                None => match self.rows.next().await {
                    Some(b) => b?,
                    None => break,
                },
            };
            let n = batch.num_rows() as u64;
            if n > left {
                let take = usize::try_from(left).unwrap_or(usize::MAX);
                self.pending = Some(batch.slice(take, batch.num_rows() - take));
                out.push(batch.slice(0, take));
                break;
            }
            left -= n;
            out.push(batch);
        }
        Ok(out)
    }
}
