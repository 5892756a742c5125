//! `COPY table [(columns)] FROM STDIN` in text and CSV formats.
//!
//! Data arrives in arbitrary chunks; complete rows are parsed as they
//! arrive and converted to typed batches every few thousand rows. Nothing is
//! stored until the client ends the copy: then every row is appended in one
//! atomic commit, so a failed or abandoned copy leaves the table unchanged.
//! Errors name the line, as Postgres does (`COPY orders, line 3, column
//! amount: ...`).

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, new_null_array};
use arrow::datatypes::SchemaRef;
use tidewater_connectors::managed::ManagedTable;
use tidewater_planner::statement::{CopyFormat, CopyPlan};

use crate::error::{SqlError, SqlResult};
use crate::types::parse_text_values;

const ROWS_PER_BATCH: usize = 8192;

/// A `COPY FROM STDIN` in progress.
#[derive(Debug)]
pub struct CopyIn {
    plan: CopyPlan,
    storage: Arc<ManagedTable>,
    schema: SchemaRef,
    /// For each input field, the table column it fills.
    targets: Vec<usize>,
    /// Bytes of an incomplete row.
    pending: Vec<u8>,
    /// Parsed rows not yet converted, with their line numbers.
    rows: Vec<(u64, Vec<Option<String>>)>,
    /// Converted rows.
    batches: Vec<RecordBatch>,
    /// Lines consumed so far.
    line: u64,
    /// Whether the end marker `\.` was seen.
    ended: bool,
    /// Whether the CSV header is still to be skipped.
    skip_header: bool,
}

impl CopyIn {
    /// Starts a copy into the table of `plan`.
    ///
    /// # Errors
    ///
    /// Unknown columns.
    pub fn new(plan: CopyPlan, storage: Arc<ManagedTable>) -> SqlResult<Self> {
        let schema = Arc::clone(&plan.table.schema);
        let targets = if plan.columns.is_empty() {
            (0..schema.fields().len()).collect()
        } else {
            plan.columns
                .iter()
                .map(|c| {
                    schema.index_of(c).map_err(|_| {
                        SqlError::new("42703", format!("column \"{c}\" does not exist"))
                    })
                })
                .collect::<SqlResult<Vec<_>>>()?
        };
        let skip_header = plan.header;
        Ok(Self {
            plan,
            storage,
            schema,
            targets,
            pending: Vec::new(),
            rows: Vec::new(),
            batches: Vec::new(),
            line: 0,
            ended: false,
            skip_header,
        })
    }

    /// Number of columns the client sends per row.
    pub fn columns(&self) -> usize {
        self.targets.len()
    }

    /// Whether the data is CSV (else text).
    pub fn is_csv(&self) -> bool {
        self.plan.format == CopyFormat::Csv
    }

    fn error_at(&self, line: u64, column: Option<&str>, e: SqlError) -> SqlError {
        let column = column.map(|c| format!(", column {c}")).unwrap_or_default();
        let context = format!("COPY {}, line {line}{column}", self.plan.table.name.name);
        SqlError {
            message: e.message,
            detail: Some(context),
            ..e
        }
    }

    /// Takes a chunk of the data stream.
    ///
    /// # Errors
    ///
    /// A malformed row or a value that does not parse; the copy is then
    /// abandoned (nothing is stored).
    pub fn write(&mut self, data: &[u8]) -> SqlResult<()> {
        if self.ended {
            return Ok(());
        }
        self.pending.extend_from_slice(data);
        self.parse_complete_rows(false)?;
        if self.rows.len() >= ROWS_PER_BATCH {
            self.convert()?;
        }
        Ok(())
    }

    /// Ends the copy and stores every row atomically. Returns the row count.
    ///
    /// # Errors
    ///
    /// A malformed last row, or a storage failure.
    pub fn finish(mut self) -> SqlResult<u64> {
        self.parse_complete_rows(true)?;
        self.convert()?;
        let rows = self.storage.append(&self.batches).map_err(|e| {
            SqlError::new(
                "58030",
                format!("cannot write to {}: {e}", self.plan.table.name.name),
            )
        })?;
        Ok(rows)
    }

    fn parse_complete_rows(&mut self, at_end: bool) -> SqlResult<()> {
        let mut data = std::mem::take(&mut self.pending);
        let mut start = 0;
        match self.plan.format {
            CopyFormat::Text => {
                while let Some(nl) = data[start..].iter().position(|b| *b == b'\n') {
                    let line = &data[start..start + nl];
                    start += nl + 1;
                    self.take_text_line(line)?;
                    if self.ended {
                        return Ok(());
                    }
                }
                if at_end && start < data.len() {
                    let line = data[start..].to_vec();
                    start = data.len();
                    self.take_text_line(&line)?;
                }
            }
            CopyFormat::Csv => {
                while let Some((consumed, lines, fields)) =
                    self.csv_record(&data[start..], at_end)?
                {
                    start += consumed;
                    let first_line = self.line + 1;
                    self.line += lines;
                    if fields.len() == 1 && fields[0].as_deref() == Some("\\.") {
                        self.ended = true;
                        return Ok(());
                    }
                    if self.skip_header {
                        self.skip_header = false;
                        continue;
                    }
                    self.push_row(first_line, fields)?;
                }
            }
        }
        // Keep the incomplete row, reusing the buffer.
        data.drain(..start);
        self.pending = data;
        Ok(())
    }

    fn take_text_line(&mut self, line: &[u8]) -> SqlResult<()> {
        self.line += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line == b"\\." {
            self.ended = true;
            return Ok(());
        }
        let text = std::str::from_utf8(line).map_err(|_| {
            self.error_at(
                self.line,
                None,
                SqlError::new("22021", "invalid byte sequence for encoding \"UTF8\""),
            )
        })?;
        let delimiter = self.plan.delimiter;
        let fields = text
            .split(delimiter)
            .map(|f| {
                if f == self.plan.null {
                    Ok(None)
                } else {
                    unescape_text(f).map(Some)
                }
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(|m| self.error_at(self.line, None, SqlError::new("22P04", m)))?;
        self.push_row(self.line, fields)
    }

    /// Parses one CSV record from `data`; returns bytes consumed, lines
    /// spanned and fields, or `None` if the record is incomplete.
    #[allow(clippy::type_complexity)]
    fn csv_record(
        &self,
        data: &[u8],
        at_end: bool,
    ) -> SqlResult<Option<(usize, u64, Vec<Option<String>>)>> {
        if data.is_empty() {
            return Ok(None);
        }
        let delimiter = self.plan.delimiter as u8;
        let quote = self.plan.quote as u8;
        let escape = self.plan.escape as u8;
        let mut fields = Vec::new();
        let mut field = Vec::new();
        let mut quoted = false;
        let mut in_quotes = false;
        let mut lines = 1;
        let mut i = 0;
        let finish_field = |field: &mut Vec<u8>,
                            quoted: bool,
                            fields: &mut Vec<Option<String>>|
         -> Result<(), String> {
            let s = String::from_utf8(std::mem::take(field))
                .map_err(|_| "invalid byte sequence for encoding \"UTF8\"".to_string())?;
            if !quoted && s == self.plan.null {
                fields.push(None);
            } else {
                fields.push(Some(s));
            }
            Ok(())
        };
        while i < data.len() {
            let b = data[i];
            if in_quotes {
                if b == escape && escape != quote && data.get(i + 1) == Some(&quote) {
                    field.push(quote);
                    i += 2;
                    continue;
                }
                if b == quote {
                    if data.get(i + 1) == Some(&quote) {
                        field.push(quote);
                        i += 2;
                        continue;
                    }
                    if i + 1 == data.len() && !at_end {
                        return Ok(None);
                    }
                    in_quotes = false;
                } else {
                    if b == b'\n' {
                        lines += 1;
                    }
                    field.push(b);
                }
                i += 1;
                continue;
            }
            if b == quote {
                in_quotes = true;
                quoted = true;
            } else if b == delimiter {
                finish_field(&mut field, quoted, &mut fields)
                    .map_err(|m| self.error_at(self.line + 1, None, SqlError::new("22021", m)))?;
                quoted = false;
            } else if b == b'\n' {
                if field.last() == Some(&b'\r') && !quoted {
                    field.pop();
                }
                finish_field(&mut field, quoted, &mut fields)
                    .map_err(|m| self.error_at(self.line + 1, None, SqlError::new("22021", m)))?;
                return Ok(Some((i + 1, 1.max(lines), fields)));
            } else {
                field.push(b);
            }
            i += 1;
        }
        if !at_end {
            return Ok(None);
        }
        if in_quotes {
            return Err(self.error_at(
                self.line + 1,
                None,
                SqlError::new("22P04", "unterminated CSV quoted field"),
            ));
        }
        if field.last() == Some(&b'\r') {
            field.pop();
        }
        finish_field(&mut field, quoted, &mut fields)
            .map_err(|m| self.error_at(self.line + 1, None, SqlError::new("22021", m)))?;
        Ok(Some((data.len(), lines, fields)))
    }

    fn push_row(&mut self, line: u64, fields: Vec<Option<String>>) -> SqlResult<()> {
        if fields.len() != self.targets.len() {
            let message = if fields.len() < self.targets.len() {
                format!(
                    "missing data for column \"{}\"",
                    self.schema.field(self.targets[fields.len()]).name()
                )
            } else {
                "extra data after last expected column".to_string()
            };
            return Err(self.error_at(line, None, SqlError::new("22P04", message)));
        }
        self.rows.push((line, fields));
        Ok(())
    }

    fn convert(&mut self) -> SqlResult<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        let n = rows.len();
        let mut columns: Vec<Option<ArrayRef>> = vec![None; self.schema.fields().len()];
        for (input, target) in self.targets.iter().enumerate() {
            let field = self.schema.field(*target);
            let values: Vec<Option<&str>> = rows.iter().map(|(_, r)| r[input].as_deref()).collect();
            if !field.is_nullable()
                && let Some(row) = values.iter().position(Option::is_none)
            {
                return Err(self.error_at(
                    rows[row].0,
                    Some(field.name()),
                    SqlError::new(
                        "23502",
                        format!(
                            "null value in column \"{}\" violates not-null constraint",
                            field.name()
                        ),
                    ),
                ));
            }
            let array = parse_text_values(&values, field.data_type())
                .map_err(|(row, e)| self.error_at(rows[row].0, Some(field.name()), e))?;
            columns[*target] = Some(array);
        }
        let columns = columns
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let field = self.schema.field(i);
                match c {
                    Some(c) => Ok(c),
                    None if field.is_nullable() => Ok(new_null_array(field.data_type(), n)),
                    None => Err(SqlError::new(
                        "23502",
                        format!(
                            "null value in column \"{}\" violates not-null constraint",
                            field.name()
                        ),
                    )),
                }
            })
            .collect::<SqlResult<Vec<_>>>()?;
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), columns)
            .map_err(|e| SqlError::internal(e.to_string()))?;
        self.batches.push(batch);
        Ok(())
    }
}

/// Decodes the backslash escapes of the text format.
fn unescape_text(field: &str) -> Result<String, String> {
    if !field.contains('\\') {
        return Ok(field.to_string());
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('v') => out.push('\u{b}'),
            Some('x') => {
                let mut hex = String::new();
                while hex.len() < 2 && chars.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                    hex.push(chars.next().unwrap_or('0'));
                }
                let v =
                    u8::from_str_radix(&hex, 16).map_err(|_| "invalid \\x escape".to_string())?;
                out.push(v as char);
            }
            Some(d @ '0'..='7') => {
                let mut oct = d.to_string();
                while oct.len() < 3 && chars.peek().is_some_and(|c| ('0'..='7').contains(c)) {
                    oct.push(chars.next().unwrap_or('0'));
                }
                let v =
                    u8::from_str_radix(&oct, 8).map_err(|_| "invalid octal escape".to_string())?;
                out.push(v as char);
            }
            Some(other) => out.push(other),
            None => return Err("end-of-copy marker corrupt".into()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes() {
        assert_eq!(unescape_text("a\\tb\\\\c\\n").unwrap(), "a\tb\\c\n");
        assert_eq!(unescape_text("\\101").unwrap(), "A");
    }
}
