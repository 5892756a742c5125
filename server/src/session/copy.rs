//! `COPY table [(columns)] FROM STDIN` in text and CSV formats.
//!
//! Data arrives in arbitrary chunks. Each byte is scanned once for the end
//! of its row (keeping the scanner's state between chunks, so a row split
//! over many messages costs no more than one that is not), complete rows
//! are parsed, and every few thousand rows are converted to a typed batch
//! and sent into the copy's query: an input feeding a sink into the table
//! ([`tidewater_runtime::input`], [`tidewater_runtime::sink`]). Memory is a
//! few batches, whatever the size of the copy. The sink commits when the
//! client ends the copy, so a failed or abandoned copy leaves the table
//! unchanged.
//!
//! Text format: fields are split at the delimiter byte; backslash escapes
//! (`\n`, `\t`, octal `\351`, hex `\xe9`, and a backslash before any other
//! byte, the delimiter included) produce bytes, and the field is then
//! checked to be UTF-8 (22021 otherwise, as in Postgres). The NULL marker is
//! matched against the field as written. Errors name the line, as Postgres
//! does (`COPY orders, line 3, column amount: ...`).

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, new_null_array};
use arrow::datatypes::SchemaRef;
use tidewater_planner::statement::{CopyFormat, CopyPlan};
use tidewater_runtime::input::InputSender;
use tidewater_runtime::pgtypes::text::parse_text_values;
use tidewater_runtime::pool::QueryHandle;
use tidewater_runtime::{QueryError, SqlState};

use crate::error::{SqlError, SqlResult};

const ROWS_PER_BATCH: usize = 8192;

/// Where the scanner of the incomplete row at the front of the buffer is.
#[derive(Debug, Default, Clone, Copy)]
struct ScanState {
    /// Bytes of the row scanned so far (no row end among them).
    scanned: usize,
    /// Text: the last byte scanned was an unpaired backslash. CSV: the last
    /// byte scanned was the escape character inside quotes.
    escaped: bool,
    /// CSV: the scan is inside a quoted field.
    in_quotes: bool,
}

/// The parsing half of a `COPY FROM STDIN`: bytes in, typed batches of
/// the table's columns out. It holds no connection to the runtime, so
/// that it can be driven (and property-tested) on its own.
#[derive(Debug)]
pub(crate) struct CopyParser {
    plan: CopyPlan,
    schema: SchemaRef,
    /// For each input field, the table column it fills.
    targets: Vec<usize>,
    /// Bytes not consumed yet: the start of an incomplete row.
    pending: Vec<u8>,
    /// How far the incomplete row has been scanned.
    scan: ScanState,
    /// Parsed rows not yet converted, with their line numbers.
    rows: Vec<(u64, Vec<Option<String>>)>,
    /// Lines consumed so far.
    line: u64,
    /// Whether the end marker `\.` was seen.
    ended: bool,
    /// Whether the CSV header is still to be skipped.
    skip_header: bool,
}

/// A `COPY FROM STDIN` in progress.
#[derive(Debug)]
pub struct CopyIn {
    parser: CopyParser,
    /// Where converted batches go.
    input: Option<InputSender>,
    /// The query writing them into the table.
    query: QueryHandle,
}

impl CopyIn {
    /// Starts a copy into the table of `plan`, sending rows through `input`
    /// to the `query` that writes them.
    ///
    /// # Errors
    ///
    /// Unknown columns.
    pub fn new(plan: CopyPlan, input: InputSender, query: QueryHandle) -> SqlResult<Self> {
        Ok(Self {
            parser: CopyParser::new(plan)?,
            input: Some(input),
            query,
        })
    }

    /// Number of columns the client sends per row.
    pub fn columns(&self) -> usize {
        self.parser.targets.len()
    }

    /// Whether the data is CSV (else text).
    pub fn is_csv(&self) -> bool {
        self.parser.plan.options.format == CopyFormat::Csv
    }

    /// Takes a chunk of the data stream.
    ///
    /// # Errors
    ///
    /// A malformed row or a value that does not parse, or a failure of the
    /// query writing the rows; the copy is then abandoned (nothing is
    /// stored).
    pub async fn write(&mut self, data: &[u8]) -> SqlResult<()> {
        self.parser.push(data)?;
        if self.parser.rows.len() >= ROWS_PER_BATCH {
            self.send_rows().await?;
        }
        Ok(())
    }

    /// Ends the copy: the rows are committed to the table at once. Returns
    /// the row count.
    ///
    /// # Errors
    ///
    /// A malformed last row, or a failure of the query writing the rows.
    pub async fn finish(mut self) -> SqlResult<u64> {
        self.parser.end_of_data()?;
        self.send_rows().await?;
        if let Some(input) = self.input.take() {
            input.finish().await;
        }
        let batches = self.query.collect().await.map_err(SqlError::from_query)?;
        Ok(super::sink_rows(&batches))
    }

    /// Abandons the copy (the client sent CopyFail): nothing is stored.
    pub async fn abort(mut self, reason: &str) {
        if let Some(input) = self.input.take() {
            input
                .abort(QueryError::new(
                    SqlState::QueryCanceled,
                    format!("COPY from stdin failed: {reason}"),
                ))
                .await;
        }
    }

    /// Converts the parsed rows to a batch and sends it to the query.
    async fn send_rows(&mut self) -> SqlResult<()> {
        let Some(batch) = self.parser.take_batch()? else {
            return Ok(());
        };
        let Some(input) = self.input.as_ref() else {
            return Ok(());
        };
        if input.send(batch).await.is_err() {
            // The query stopped: its own error says why.
            self.input = None;
            let error = loop {
                match self.query.next().await {
                    tidewater_runtime::pool::QueryEvent::Error(e) => break e,
                    tidewater_runtime::pool::QueryEvent::Done => {
                        break QueryError::new(
                            SqlState::Internal,
                            "the query writing the copied rows ended early",
                        );
                    }
                    tidewater_runtime::pool::QueryEvent::Batch(_) => {}
                }
            };
            return Err(SqlError::from_query(error));
        }
        Ok(())
    }
}

impl CopyParser {
    /// A parser for the data of the copy `plan`.
    ///
    /// # Errors
    ///
    /// Unknown columns; the binary format (not read yet).
    pub(crate) fn new(plan: CopyPlan) -> SqlResult<Self> {
        if plan.options.format == CopyFormat::Binary {
            return Err(SqlError::not_supported("COPY FROM STDIN (FORMAT binary)"));
        }
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
        let skip_header = plan.options.header;
        Ok(Self {
            plan,
            schema,
            targets,
            pending: Vec::new(),
            scan: ScanState::default(),
            rows: Vec::new(),
            line: 0,
            ended: false,
            skip_header,
        })
    }

    /// Takes a chunk of the data stream, parsing the rows it completes.
    ///
    /// # Errors
    ///
    /// A malformed row.
    pub(crate) fn push(&mut self, data: &[u8]) -> SqlResult<()> {
        if self.ended {
            return Ok(());
        }
        self.pending.extend_from_slice(data);
        self.take_complete_rows(false)
    }

    /// The end of the data: parses the last row, which may lack its
    /// newline.
    ///
    /// # Errors
    ///
    /// A malformed last row.
    pub(crate) fn end_of_data(&mut self) -> SqlResult<()> {
        self.take_complete_rows(true)
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

    /// Parses every complete row of the buffer (and, `at_end`, the last
    /// one without a newline), keeping the incomplete one.
    fn take_complete_rows(&mut self, at_end: bool) -> SqlResult<()> {
        let data = std::mem::take(&mut self.pending);
        let mut start = 0;
        let result = (|| {
            loop {
                let end = match self.plan.options.format {
                    CopyFormat::Csv => self.scan_csv(&data[start..]),
                    // Binary input is refused in `new`.
                    CopyFormat::Text | CopyFormat::Binary => self.scan_text(&data[start..]),
                };
                let (record, next) = match end {
                    Some(newline) => (&data[start..start + newline], start + newline + 1),
                    None if at_end && start < data.len() => {
                        if self.scan.in_quotes {
                            return Err(self.error_at(
                                self.line + 1,
                                None,
                                SqlError::new("22P04", "unterminated CSV quoted field"),
                            ));
                        }
                        (&data[start..], data.len())
                    }
                    None => return Ok(()),
                };
                self.scan = ScanState::default();
                start = next;
                match self.plan.options.format {
                    CopyFormat::Csv => self.take_csv_record(record)?,
                    CopyFormat::Text | CopyFormat::Binary => self.take_text_line(record)?,
                }
                if self.ended {
                    return Ok(());
                }
            }
        })();
        // Keep the incomplete row, reusing the buffer; a row that continues
        // over many messages is not moved again.
        let mut data = data;
        if self.ended {
            data.clear();
        } else if start > 0 {
            data.drain(..start);
        }
        self.pending = data;
        result
    }

    /// The end of the text row at the start of `data` (the index of its
    /// newline), scanning on from where the last call stopped.
    fn scan_text(&mut self, data: &[u8]) -> Option<usize> {
        let ScanState {
            mut scanned,
            mut escaped,
            ..
        } = self.scan;
        while scanned < data.len() {
            let b = data[scanned];
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'\n' {
                return Some(scanned);
            }
            scanned += 1;
        }
        self.scan.scanned = scanned;
        self.scan.escaped = escaped;
        None
    }

    /// The end of the CSV record at the start of `data`: a newline outside
    /// quotes.
    fn scan_csv(&mut self, data: &[u8]) -> Option<usize> {
        let quote = self.plan.options.quote as u8;
        let escape = self.plan.options.escape as u8;
        let ScanState {
            mut scanned,
            mut escaped,
            mut in_quotes,
        } = self.scan;
        while scanned < data.len() {
            let b = data[scanned];
            if escaped {
                escaped = false;
            } else if in_quotes && b == escape && escape != quote {
                escaped = true;
            } else if b == quote {
                in_quotes = !in_quotes;
            } else if b == b'\n' && !in_quotes {
                return Some(scanned);
            }
            scanned += 1;
        }
        self.scan = ScanState {
            scanned,
            escaped,
            in_quotes,
        };
        None
    }

    fn take_text_line(&mut self, line: &[u8]) -> SqlResult<()> {
        self.line += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line == b"\\." {
            self.ended = true;
            return Ok(());
        }
        let delimiter = self.plan.options.delimiter as u8;
        let null = self.plan.options.null.as_bytes();
        let mut fields = Vec::with_capacity(self.targets.len());
        let mut field_start = 0;
        let mut i = 0;
        loop {
            let at_end = i == line.len();
            if at_end || line[i] == delimiter {
                let raw = &line[field_start..i];
                fields.push(if raw == null {
                    None
                } else {
                    Some(unescape_text(raw).map_err(|e| self.error_at(self.line, None, e))?)
                });
                if at_end {
                    break;
                }
                field_start = i + 1;
            } else if line[i] == b'\\' {
                // The escaped byte never ends a field.
                i += 1;
            }
            i = (i + 1).min(line.len());
        }
        self.push_row(self.line, fields)
    }

    fn take_csv_record(&mut self, record: &[u8]) -> SqlResult<()> {
        let first_line = self.line + 1;
        self.line += 1 + record.iter().filter(|b| **b == b'\n').count() as u64;
        let fields = self
            .csv_fields(record)
            .map_err(|e| self.error_at(first_line, None, e))?;
        if fields.len() == 1 && fields[0].as_deref() == Some("\\.") {
            self.ended = true;
            return Ok(());
        }
        if self.skip_header {
            self.skip_header = false;
            return Ok(());
        }
        self.push_row(first_line, fields)
    }

    /// The fields of one complete CSV record (without its newline).
    fn csv_fields(&self, record: &[u8]) -> SqlResult<Vec<Option<String>>> {
        let delimiter = self.plan.options.delimiter as u8;
        let quote = self.plan.options.quote as u8;
        let escape = self.plan.options.escape as u8;
        let record = record.strip_suffix(b"\r").unwrap_or(record);
        let mut fields = Vec::with_capacity(self.targets.len());
        let mut field = Vec::new();
        let mut quoted = false;
        let mut in_quotes = false;
        let mut i = 0;
        let finish = |field: &mut Vec<u8>, quoted: bool, fields: &mut Vec<Option<String>>| {
            let bytes = std::mem::take(field);
            if !quoted && bytes == self.plan.options.null.as_bytes() {
                fields.push(None);
                return Ok(());
            }
            fields.push(Some(utf8(bytes)?));
            Ok::<(), SqlError>(())
        };
        while i < record.len() {
            let b = record[i];
            if in_quotes {
                if b == escape
                    && escape != quote
                    && matches!(record.get(i + 1), Some(&n) if n == quote || n == escape)
                {
                    field.push(record[i + 1]);
                    i += 2;
                    continue;
                }
                if b == quote {
                    if record.get(i + 1) == Some(&quote) {
                        field.push(quote);
                        i += 2;
                        continue;
                    }
                    in_quotes = false;
                } else {
                    field.push(b);
                }
            } else if b == quote {
                in_quotes = true;
                quoted = true;
            } else if b == delimiter {
                finish(&mut field, quoted, &mut fields)?;
                quoted = false;
            } else {
                field.push(b);
            }
            i += 1;
        }
        if in_quotes {
            return Err(SqlError::new("22P04", "unterminated CSV quoted field"));
        }
        finish(&mut field, quoted, &mut fields)?;
        Ok(fields)
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

    /// The rows parsed so far as a batch of the table's columns (`None`
    /// when there are none).
    ///
    /// # Errors
    ///
    /// A value that does not parse as its column's type, or a NULL in a
    /// NOT NULL column.
    pub(crate) fn take_batch(&mut self) -> SqlResult<Option<RecordBatch>> {
        if self.rows.is_empty() {
            return Ok(None);
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
                    not_null_violation(field.name(), &self.plan.table.name.name),
                ));
            }
            let array = parse_text_values(&values, field.data_type()).map_err(|(row, e)| {
                self.error_at(rows[row].0, Some(field.name()), SqlError::from_query(e))
            })?;
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
                    None => Err(not_null_violation(field.name(), &self.plan.table.name.name)),
                }
            })
            .collect::<SqlResult<Vec<_>>>()?;
        RecordBatch::try_new(Arc::clone(&self.schema), columns)
            .map(Some)
            .map_err(|e| SqlError::internal(e.to_string()))
    }
}

fn not_null_violation(column: &str, table: &str) -> SqlError {
    SqlError::new(
        "23502",
        format!(
            "null value in column \"{column}\" of relation \"{table}\" violates not-null constraint"
        ),
    )
}

/// Checks a field's bytes are UTF-8 without NUL, as Postgres's text types
/// require.
fn utf8(bytes: Vec<u8>) -> SqlResult<String> {
    let bad = |at: usize, bytes: &[u8]| {
        let shown: Vec<String> = bytes[at..]
            .iter()
            .take(2)
            .map(|b| format!("0x{b:02x}"))
            .collect();
        SqlError::new(
            "22021",
            format!(
                "invalid byte sequence for encoding \"UTF8\": {}",
                shown.join(" ")
            ),
        )
    };
    if let Some(nul) = bytes.iter().position(|b| *b == 0) {
        return Err(bad(nul, &bytes));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        bad(at, e.as_bytes())
    })
}

/// Decodes the backslash escapes of the text format into bytes, then
/// checks them as UTF-8.
fn unescape_text(field: &[u8]) -> SqlResult<String> {
    if !field.contains(&b'\\') {
        return utf8(field.to_vec());
    }
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    let digits = |from: usize, max: usize, radix: u32| {
        let mut value = 0u32;
        let mut n = 0;
        while n < max
            && let Some(d) = field
                .get(from + n)
                .and_then(|b| (*b as char).to_digit(radix))
        {
            value = value * radix + d;
            n += 1;
        }
        (value, n)
    };
    while i < field.len() {
        let b = field[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let Some(&next) = field.get(i + 1) else {
            // A backslash at the very end of a line: Postgres keeps it.
            out.push(b'\\');
            break;
        };
        i += 2;
        match next {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let (value, n) = digits(i - 1, 3, 8);
                // Postgres keeps the low byte of a value above \377.
                out.push((value & 0xff) as u8);
                i += n - 1;
            }
            b'x' => match digits(i, 2, 16) {
                (_, 0) => out.push(b'x'),
                (value, n) => {
                    out.push(value as u8);
                    i += n;
                }
            },
            other => out.push(other),
        }
    }
    utf8(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use arrow::array::Array;
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use proptest::prelude::*;
    use tidewater_planner::catalog::{QualifiedName, TableEntry, TableKind};

    use super::*;
    use tidewater_planner::statement::CopyOptions;

    fn plan(format: CopyFormat, delimiter: char) -> CopyPlan {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("raw", DataType::Binary, true),
            Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ]);
        CopyPlan {
            table: TableEntry {
                name: QualifiedName::new("tidewater", "public", "t"),
                schema: Arc::new(schema),
                kind: TableKind::Source {
                    connector: "managed".into(),
                    options: BTreeMap::new(),
                },
            },
            columns: vec![],
            options: CopyOptions {
                format,
                delimiter,
                null: if format == CopyFormat::Csv { "" } else { "\\N" }.into(),
                header: false,
                quote: '"',
                escape: '"',
            },
        }
    }

    /// Feeds `data` to a parser in the chunks `cuts` gives, then ends it:
    /// the batches, or the first error.
    fn parse_in_chunks(plan: CopyPlan, data: &[u8], cuts: &[usize]) -> SqlResult<Vec<RecordBatch>> {
        let mut parser = CopyParser::new(plan)?;
        let mut batches = Vec::new();
        let mut at = 0;
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        cuts.sort_unstable();
        for cut in cuts.into_iter().chain([data.len()]) {
            parser.push(&data[at..cut])?;
            at = cut;
            batches.extend(parser.take_batch()?);
        }
        parser.end_of_data()?;
        batches.extend(parser.take_batch()?);
        Ok(batches)
    }

    fn is_sqlstate(code: &str) -> bool {
        code.len() == 5
            && code
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    }

    /// A text-format field for `value`, escaped as Postgres's COPY TO writes
    /// it.
    fn escape_text(value: &str) -> String {
        let mut out = String::new();
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c => out.push(c),
            }
        }
        out
    }

    fn escape_csv(value: &str) -> String {
        format!("\"{}\"", value.replace('"', "\"\""))
    }

    fn names(batches: &[RecordBatch]) -> Vec<Option<String>> {
        batches
            .iter()
            .flat_map(|b| {
                let names = b
                    .column(1)
                    .as_any()
                    .downcast_ref::<arrow::array::StringArray>()
                    .expect("text column")
                    .clone();
                (0..names.len()).map(move |i| names.is_valid(i).then(|| names.value(i).to_string()))
            })
            .collect()
    }

    proptest! {
        /// Random bytes, cut anywhere, in either format: a value or a
        /// clean SQLSTATE, never a panic; and the cuts never change
        /// whether it succeeds or how many rows it gives.
        #[test]
        fn random_input_never_panics(
            data in proptest::collection::vec(any::<u8>(), 0..400),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
            csv in any::<bool>(),
        ) {
            let format = if csv { CopyFormat::Csv } else { CopyFormat::Text };
            let delimiter = if csv { ',' } else { '\t' };
            let whole = parse_in_chunks(plan(format, delimiter), &data, &[]);
            let chunked = parse_in_chunks(plan(format, delimiter), &data, &cuts);
            match (&whole, &chunked) {
                (Ok(a), Ok(b)) => {
                    let rows = |x: &[RecordBatch]| x.iter().map(RecordBatch::num_rows).sum::<usize>();
                    prop_assert_eq!(rows(a), rows(b));
                }
                (Err(a), Err(b)) => {
                    // Which error comes first may differ (a batch converted
                    // early), not whether there is one.
                    prop_assert!(is_sqlstate(a.code), "{:?}", a);
                    prop_assert!(is_sqlstate(b.code), "{:?}", b);
                }
                _ => prop_assert!(false, "whole {:?} but chunked {:?}", whole, chunked),
            }
        }

        /// Rows of random text (any characters, delimiters, quotes,
        /// backslashes and newlines among them) written as Postgres writes
        /// them come back as they were, however the stream is cut.
        #[test]
        fn written_rows_read_back(
            values in proptest::collection::vec(proptest::option::of("[^\\x00]{0,12}"), 1..20),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
            csv in any::<bool>(),
        ) {
            let mut data = String::new();
            for (i, v) in values.iter().enumerate() {
                let field = match (v, csv) {
                    (None, true) => String::new(),
                    (None, false) => "\\N".to_string(),
                    (Some(v), true) => escape_csv(v),
                    (Some(v), false) => escape_text(v),
                };
                // `raw` and `at` are NULL.
                if csv {
                    data.push_str(&format!("{i},{field},,\n"));
                } else {
                    data.push_str(&format!("{i}\t{field}\t\\N\t\\N\n"));
                }
            }
            let format = if csv { CopyFormat::Csv } else { CopyFormat::Text };
            let delimiter = if csv { ',' } else { '\t' };
            let batches = parse_in_chunks(plan(format, delimiter), data.as_bytes(), &cuts);
            prop_assert!(batches.is_ok(), "{:?}", batches);
            let batches = batches.unwrap_or_default();
            prop_assert_eq!(names(&batches), values);
        }
    }

    #[test]
    fn text_escapes_produce_bytes() {
        assert_eq!(unescape_text(b"a\\tb\\\\c\\n").unwrap(), "a\tb\\c\n");
        assert_eq!(unescape_text(b"\\101").unwrap(), "A");
        // UTF-8 written as octal or hex escapes is one character.
        assert_eq!(unescape_text(b"\\303\\251").unwrap(), "é");
        assert_eq!(unescape_text(b"caf\\xc3\\xa9").unwrap(), "café");
        assert_eq!(unescape_text(b"\\xz").unwrap(), "xz");
        assert_eq!(unescape_text(b"a\\|b").unwrap(), "a|b");
        // An escape that makes invalid UTF-8, or a NUL, is refused.
        let e = unescape_text(b"\\351").unwrap_err();
        assert_eq!(e.code, "22021");
        assert_eq!(
            e.message,
            "invalid byte sequence for encoding \"UTF8\": 0xe9"
        );
        assert_eq!(unescape_text(b"a\\000").unwrap_err().code, "22021");
        assert_eq!(unescape_text("é".as_bytes()).unwrap(), "é");
    }
}
