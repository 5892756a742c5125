//! CSV for the `file` connector: schema inference and the reader.
//!
//! Rows are split by our own [`Tokenizer`] (so that each row's line number
//! and each field's quotedness are known), collected as text a batch at a
//! time, and converted to the column types with Arrow's cast kernels. A
//! value the cast rejects, a row with the wrong number of fields, invalid
//! UTF-8 or a NULL in a `NOT NULL` column makes the row *bad*: with
//! `bad_rows = 'fail'` the query fails naming the file, line, value and
//! column; with `bad_rows = 'skip'` the row is dropped and counted.
//!
//! NULLs follow Postgres's CSV rules: an unquoted field equal to
//! `null_string` (by default, the empty unquoted field) is NULL; a quoted
//! field never is, so `""` is the empty string.
//!
//! Columns are matched by position. With `bad_rows = 'fail'` only the
//! projected columns are converted; with `'skip'` every column is, so that
//! the set of rows skipped does not depend on the query.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions, StringArray, StringBuilder,
};
use arrow::compute::{CastOptions, cast_with_options, filter};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

use crate::error::{BadRowKind, Error, Result};
use crate::file::BadRows;
use crate::file::source::FormatReader;
use crate::file::tokenizer::{Record, Tokenizer};
use tidewater_runtime::pgtypes::type_name;

/// Rows sampled to infer a schema.
const INFER_SAMPLE_ROWS: usize = 1000;

/// Read buffer per file.
const READ_BUFFER: usize = 256 * 1024;

/// Values longer than this are shortened in error messages.
const MAX_VALUE_IN_MESSAGE: usize = 80;

/// The CSV dialect of a `file` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CsvConfig {
    /// The first line of each file is a header (skipped when reading).
    pub(crate) header: bool,
    /// The field separator.
    pub(crate) delimiter: u8,
    /// The quote character.
    pub(crate) quote: u8,
    /// The unquoted text that means NULL (`None`: the empty field).
    pub(crate) null_string: Option<String>,
}

impl Default for CsvConfig {
    fn default() -> Self {
        Self {
            header: true,
            delimiter: b',',
            quote: b'"',
            null_string: None,
        }
    }
}

impl CsvConfig {
    fn tokenizer(&self, path: &Path) -> Result<Tokenizer<BufReader<File>>> {
        let file = File::open(path).map_err(|e| Error::io(path.display(), e))?;
        Ok(Tokenizer::new(
            BufReader::with_capacity(READ_BUFFER, file),
            self.delimiter,
            self.quote,
        ))
    }

    fn is_null(&self, rec: &Record, i: usize) -> bool {
        !rec.is_quoted(i)
            && match &self.null_string {
                None => rec.field(i).is_empty(),
                Some(s) => rec.field(i) == s.as_bytes(),
            }
    }
}

/// Infers the schema of CSV `files`: column names from the first file's
/// header (`column_1`, ... without one), types from a sample of the first
/// rows. Every file's header must match the first one.
pub(crate) fn infer_schema(files: &[PathBuf], config: &CsvConfig) -> Result<SchemaRef> {
    let mut rec = Record::default();
    let mut names: Option<Vec<String>> = None;
    let mut samples: Vec<Vec<String>> = Vec::new();
    let mut sampled = 0;
    let mut first_path = String::new();
    for path in files {
        let shown = path.display().to_string();
        let mut tokens = config.tokenizer(path)?;
        let read = |t: &mut Tokenizer<_>, r: &mut Record| {
            t.read_record(r).map_err(|e| Error::io(&shown, e))
        };
        if config.header {
            if !read(&mut tokens, &mut rec)? {
                // An empty file has no header and no rows.
                continue;
            }
            let header = header_names(&rec, &shown)?;
            match &names {
                None => {
                    names = Some(header);
                    first_path = shown.clone();
                }
                Some(expected) if *expected != header => {
                    return Err(Error::bad_file(
                        &shown,
                        format!(
                            "header ({}) does not match the header of {first_path} ({})",
                            header.join(", "),
                            expected.join(", ")
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        while sampled < INFER_SAMPLE_ROWS && read(&mut tokens, &mut rec)? {
            let width = match &names {
                Some(n) => n.len(),
                None => {
                    let generated: Vec<String> =
                        (1..=rec.len()).map(|i| format!("column_{i}")).collect();
                    first_path = shown.clone();
                    names = Some(generated);
                    rec.len()
                }
            };
            if rec.len() != width || rec.is_unterminated() {
                continue;
            }
            samples.resize_with(width, Vec::new);
            for (i, column) in samples.iter_mut().enumerate() {
                if config.is_null(&rec, i) {
                    continue;
                }
                column.push(String::from_utf8_lossy(rec.field(i)).into_owned());
            }
            sampled += 1;
        }
        if sampled >= INFER_SAMPLE_ROWS && !config.header {
            break;
        }
    }
    let Some(names) = names else {
        let shown = files
            .first()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        return Err(Error::bad_file(
            shown,
            "the files are empty, so their columns cannot be inferred; declare them in CREATE TABLE",
        ));
    };
    samples.resize_with(names.len(), Vec::new);
    let fields: Fields = names
        .iter()
        .zip(&samples)
        .map(|(name, values)| Field::new(name, infer_column_type(values), true))
        .collect();
    Ok(Arc::new(Schema::new(fields)))
}

/// Checks that every file's first record has as many fields as `schema`
/// has columns (the declared columns are matched by position).
pub(crate) fn check_declared(files: &[PathBuf], config: &CsvConfig, schema: &Schema) -> Result<()> {
    for field in schema.fields() {
        if !arrow::compute::can_cast_types(&DataType::Utf8, field.data_type()) {
            return Err(Error::OptionConflict(format!(
                "column {} has type {}, which cannot be read from CSV",
                field.name(),
                type_name(field.data_type())
            )));
        }
    }
    let mut rec = Record::default();
    for path in files {
        let shown = path.display().to_string();
        let mut tokens = config.tokenizer(path)?;
        if tokens
            .read_record(&mut rec)
            .map_err(|e| Error::io(&shown, e))?
            && rec.len() != schema.fields().len()
        {
            let what = if config.header {
                "its header has"
            } else {
                "its first row has"
            };
            return Err(Error::bad_file(
                &shown,
                format!(
                    "{what} {} columns, but the table declares {}",
                    rec.len(),
                    schema.fields().len()
                ),
            ));
        }
    }
    Ok(())
}

fn header_names(rec: &Record, path: &str) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::with_capacity(rec.len());
    for i in 0..rec.len() {
        let raw = String::from_utf8_lossy(rec.field(i));
        let name = raw.trim();
        let name = if name.is_empty() {
            format!("column_{}", i + 1)
        } else {
            name.to_string()
        };
        if names.contains(&name) {
            return Err(Error::BadRow {
                path: path.to_string(),
                line: rec.line(),
                message: format!(
                    "duplicate column name '{name}' in the header; declare the columns in CREATE TABLE to read this file"
                ),
                kind: BadRowKind::Format,
            });
        }
        names.push(name);
    }
    Ok(names)
}

/// The type of a column from sampled (non-NULL) values, following Arrow's
/// CSV inference: booleans, 64-bit integers, floats, dates and timestamps
/// are recognized; anything else (and a column of only NULLs) is text.
fn infer_column_type(values: &[String]) -> DataType {
    const BOOL: u16 = 1;
    const INT: u16 = 2;
    const FLOAT: u16 = 4;
    const DATE: u16 = 8;
    const TIMESTAMP: u16 = 16;
    const TEXT: u16 = 256;
    let mut seen = 0u16;
    for v in values {
        seen |= if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
            BOOL
        } else if is_integer(v) {
            if v.parse::<i64>().is_ok() { INT } else { TEXT }
        } else if is_float(v) {
            FLOAT
        } else if is_date(v) {
            DATE
        } else if is_timestamp(v) {
            TIMESTAMP
        } else {
            TEXT
        };
        if seen & TEXT != 0 {
            return DataType::Utf8;
        }
    }
    let inferred = match seen {
        BOOL => DataType::Boolean,
        INT => DataType::Int64,
        FLOAT | 6 => DataType::Float64,
        DATE => DataType::Date32,
        TIMESTAMP | 24 => DataType::Timestamp(TimeUnit::Microsecond, None),
        _ => DataType::Utf8,
    };
    if inferred == DataType::Utf8 {
        return inferred;
    }
    // The patterns are a first cut; the cast that reads the column decides.
    let sample = StringArray::from_iter_values(values);
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    match cast_with_options(&sample, &inferred, &strict) {
        Ok(_) => inferred,
        Err(_) => DataType::Utf8,
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_integer(s: &str) -> bool {
    all_digits(s.strip_prefix('-').unwrap_or(s))
}

fn is_float(s: &str) -> bool {
    if matches!(s, "NaN" | "nan" | "inf" | "-inf") {
        return true;
    }
    let s = s.strip_prefix('-').unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => {
            (a.is_empty() || all_digits(a))
                && (b.is_empty() || all_digits(b))
                && !(a.is_empty() && b.is_empty())
        }
        None => exponent.is_some() && all_digits(mantissa),
    };
    let exponent_ok = match exponent {
        None => true,
        Some(e) => all_digits(e.strip_prefix(['+', '-']).unwrap_or(e)),
    };
    mantissa_ok && exponent_ok
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 19 || !s.is_char_boundary(10) || !is_date(&s[..10]) {
        return false;
    }
    let time_ok = (b[10] == b'T' || b[10] == b' ')
        && b[11..13].iter().all(u8::is_ascii_digit)
        && b[13] == b':'
        && b[14..16].iter().all(u8::is_ascii_digit)
        && b[16] == b':'
        && b[17..19].iter().all(u8::is_ascii_digit);
    if !time_ok {
        return false;
    }
    let mut rest = &b[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&digits) {
            return false;
        }
        rest = &fraction[digits..];
    }
    rest.first()
        .is_none_or(|c| !c.is_ascii_digit() && *c != b'.')
}

/// Reads one worker's CSV files.
#[derive(Debug)]
pub(crate) struct CsvReader {
    config: CsvConfig,
    bad_rows: BadRows,
    /// The table's full schema (columns by position in the file).
    table_schema: SchemaRef,
    /// The schema of the batches produced.
    output_schema: SchemaRef,
    /// Table columns converted, ascending.
    parsed: Vec<usize>,
    /// For each output column, its index in `parsed`.
    slots: Vec<usize>,
    batch_size: usize,
    files: VecDeque<PathBuf>,
    current: Option<OpenFile>,
    record: Record,
    skipped: u64,
}

#[derive(Debug)]
struct OpenFile {
    shown: String,
    tokens: Tokenizer<BufReader<File>>,
}

/// Rows of one file as text, before conversion.
#[derive(Debug, Default)]
struct TextBatch {
    /// One text column per converted table column.
    columns: Vec<StringArray>,
    /// The line of each row.
    lines: Vec<u64>,
    /// The file has no more rows.
    at_end: bool,
}

/// A row found bad while reading: where, what, and how to classify it.
struct BadRow {
    line: u64,
    message: String,
    kind: BadRowKind,
}

impl CsvReader {
    /// A reader of `files` producing `projection` (table column indices) of
    /// `table_schema` as `output_schema`.
    pub(crate) fn new(
        config: CsvConfig,
        bad_rows: BadRows,
        table_schema: SchemaRef,
        output_schema: SchemaRef,
        projection: &[usize],
        files: Vec<PathBuf>,
        batch_size: usize,
    ) -> Self {
        let mut parsed: Vec<usize> = match bad_rows {
            BadRows::Fail => projection.to_vec(),
            BadRows::Skip => (0..table_schema.fields().len()).collect(),
        };
        parsed.sort_unstable();
        parsed.dedup();
        let slots = projection
            .iter()
            .map(|c| parsed.binary_search(c).unwrap_or_default())
            .collect();
        Self {
            config,
            bad_rows,
            table_schema,
            output_schema,
            parsed,
            slots,
            batch_size: batch_size.max(1),
            files: files.into(),
            current: None,
            record: Record::default(),
            skipped: 0,
        }
    }

    /// Opens the next file (skipping its header); `false` when none is left.
    fn open_next(&mut self) -> Result<bool> {
        let Some(path) = self.files.pop_front() else {
            return Ok(false);
        };
        let shown = path.display().to_string();
        let mut tokens = self.config.tokenizer(&path)?;
        if self.config.header {
            tokens
                .read_record(&mut self.record)
                .map_err(|e| Error::io(&shown, e))?;
        }
        tracing::debug!(file = %shown, "reading CSV file");
        self.current = Some(OpenFile { shown, tokens });
        Ok(true)
    }

    /// Reads up to a batch of rows from the current file as text columns.
    fn read_text(&mut self) -> Result<TextBatch> {
        let Some(file) = self.current.as_mut() else {
            return Ok(TextBatch::default());
        };
        let width = self.table_schema.fields().len();
        let mut builders: Vec<StringBuilder> = self
            .parsed
            .iter()
            .map(|_| StringBuilder::with_capacity(self.batch_size, self.batch_size * 8))
            .collect();
        let mut lines = Vec::with_capacity(self.batch_size);
        let mut at_end = false;
        while lines.len() < self.batch_size {
            let rec = &mut self.record;
            if !file
                .tokens
                .read_record(rec)
                .map_err(|e| Error::io(&file.shown, e))?
            {
                at_end = true;
                break;
            }
            let text = match check_record(rec, width, &self.parsed, &self.table_schema) {
                Ok(text) => text,
                Err(bad) => {
                    match self.bad_rows {
                        BadRows::Fail => {
                            return Err(Error::BadRow {
                                path: file.shown.clone(),
                                line: bad.line,
                                message: bad.message,
                                kind: bad.kind,
                            });
                        }
                        BadRows::Skip => self.skipped += 1,
                    }
                    continue;
                }
            };
            for (b, &c) in builders.iter_mut().zip(&self.parsed) {
                if self.config.is_null(rec, c) {
                    b.append_null();
                } else {
                    b.append_value(text.get(rec.range(c)).unwrap_or_default());
                }
            }
            lines.push(rec.line());
        }
        Ok(TextBatch {
            columns: builders.iter_mut().map(|b| b.finish()).collect(),
            lines,
            at_end,
        })
    }

    /// Converts text columns to their types; bad rows fail or are dropped.
    fn convert(&mut self, text: Vec<StringArray>, lines: &[u64]) -> Result<RecordBatch> {
        let rows = lines.len();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(text.len());
        // The first bad row of each column (fail) or all bad rows (skip).
        let mut first_bad: Option<(usize, BadRow)> = None;
        let mut keep: Option<Vec<bool>> = None;
        for (strings, &c) in text.iter().zip(&self.parsed) {
            let field = self.table_schema.field(c);
            let converted: ArrayRef = if field.data_type() == &DataType::Utf8 {
                Arc::new(strings.clone())
            } else {
                cast_with_options(strings, field.data_type(), &CastOptions::default())
                    .map_err(|e| Error::arrow(format!("reading column {}", field.name()), e))?
            };
            for (row, kind) in bad_values(strings, &converted, !field.is_nullable()) {
                match self.bad_rows {
                    BadRows::Fail => {
                        if first_bad.as_ref().is_none_or(|(r, _)| row < *r) {
                            let message = match kind {
                                BadRowKind::Null => {
                                    format!("NULL in column {}, which is NOT NULL", field.name())
                                }
                                _ => format!(
                                    "cannot parse '{}' as {} (column {})",
                                    shorten(strings.value(row)),
                                    type_name(field.data_type()),
                                    field.name()
                                ),
                            };
                            let line = lines[row];
                            first_bad = Some((
                                row,
                                BadRow {
                                    line,
                                    message,
                                    kind,
                                },
                            ));
                        }
                        break;
                    }
                    BadRows::Skip => keep.get_or_insert_with(|| vec![true; rows])[row] = false,
                }
            }
            columns.push(converted);
        }
        if let Some((_, bad)) = first_bad {
            let path = self
                .current
                .as_ref()
                .map(|f| f.shown.clone())
                .unwrap_or_default();
            return Err(Error::BadRow {
                path,
                line: bad.line,
                message: bad.message,
                kind: bad.kind,
            });
        }
        let mut rows = rows;
        if let Some(keep) = keep {
            let dropped = keep.iter().filter(|k| !**k).count();
            self.skipped += dropped as u64;
            rows -= dropped;
            let mask = BooleanArray::from(keep);
            columns = columns
                .iter()
                .map(|c| filter(c, &mask))
                .collect::<Result<_, _>>()
                .map_err(|e| Error::arrow("skipping bad rows", e))?;
        }
        let output: Vec<ArrayRef> = self
            .slots
            .iter()
            .map(|&s| Arc::clone(&columns[s]))
            .collect();
        RecordBatch::try_new_with_options(
            Arc::clone(&self.output_schema),
            output,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .map_err(|e| Error::arrow("building a batch", e))
    }
}

/// Checks a record's shape and the UTF-8 of the fields to convert; returns
/// its bytes as text.
fn check_record<'r>(
    rec: &'r Record,
    width: usize,
    parsed: &[usize],
    schema: &Schema,
) -> Result<&'r str, BadRow> {
    if rec.is_unterminated() {
        return Err(BadRow {
            line: rec.line(),
            message: "unterminated quoted field".into(),
            kind: BadRowKind::Format,
        });
    }
    if rec.len() != width {
        return Err(BadRow {
            line: rec.line(),
            message: format!(
                "expected {width} column{}, found {}",
                if width == 1 { "" } else { "s" },
                rec.len()
            ),
            kind: BadRowKind::Format,
        });
    }
    match std::str::from_utf8(rec.data()) {
        Ok(s) => Ok(s),
        Err(_) => {
            let column = parsed
                .iter()
                .find(|&&c| std::str::from_utf8(rec.field(c)).is_err())
                .map(|&c| schema.field(c).name().clone())
                .unwrap_or_default();
            Err(BadRow {
                line: rec.line(),
                message: format!("invalid UTF-8 in column {column}"),
                kind: BadRowKind::Format,
            })
        }
    }
}

/// The rows of a converted column that are bad: text the cast turned into
/// NULL, or a NULL in a `NOT NULL` column.
fn bad_values<'a>(
    text: &'a StringArray,
    converted: &'a ArrayRef,
    not_null: bool,
) -> impl Iterator<Item = (usize, BadRowKind)> + 'a {
    let any_bad =
        converted.null_count() != text.null_count() || (not_null && text.null_count() > 0);
    (0..if any_bad { text.len() } else { 0 }).filter_map(move |row| {
        if text.is_valid(row) && converted.is_null(row) {
            Some((row, BadRowKind::Value))
        } else if not_null && text.is_null(row) {
            Some((row, BadRowKind::Null))
        } else {
            None
        }
    })
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= MAX_VALUE_IN_MESSAGE {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX_VALUE_IN_MESSAGE).collect();
        format!("{cut}...")
    }
}

impl FormatReader for CsvReader {
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            if self.current.is_none() && !self.open_next()? {
                return Ok(None);
            }
            let text = self.read_text()?;
            let batch = if text.lines.is_empty() {
                None
            } else {
                Some(self.convert(text.columns, &text.lines)?)
            };
            if text.at_end {
                self.current = None;
            }
            if let Some(batch) = batch.filter(|b| b.num_rows() > 0) {
                return Ok(Some(batch));
            }
        }
    }

    fn take_skipped(&mut self) -> u64 {
        std::mem::take(&mut self.skipped)
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use tidewater_runtime::SqlState;
    use tidewater_runtime::source::{Connector, SourcePoll, SourceReader};

    use super::*;
    use crate::file::FileConnector;
    use crate::file::test_util::{count, ctx, opts, pretty, scan, spec, write};

    fn schema(fields: &[(&str, DataType, bool)]) -> SchemaRef {
        Arc::new(Schema::new(
            fields
                .iter()
                .map(|(n, t, nullable)| Field::new(*n, t.clone(), *nullable))
                .collect::<Vec<_>>(),
        ))
    }

    #[test]
    fn infers_types_like_arrow() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "t.csv",
            "id,price,mixed,flag,day,at,name,empty\n\
             1,1.5,1,true,2024-01-02,2024-01-02 03:04:05,alice,\n\
             -2,2e3,2.25,FALSE,2024-02-03,2024-01-02T03:04:05.123456,bob,\n",
        );
        let (schema, batches) = scan(&[("path", &path), ("format", "csv")], None).unwrap();
        let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
        assert_eq!(
            schema,
            tests::schema(&[
                ("id", DataType::Int64, true),
                ("price", DataType::Float64, true),
                ("mixed", DataType::Float64, true),
                ("flag", DataType::Boolean, true),
                ("day", DataType::Date32, true),
                ("at", ts, true),
                ("name", DataType::Utf8, true),
                ("empty", DataType::Utf8, true),
            ])
        );
        assert_eq!(
            pretty(&batches),
            "+----+--------+-------+-------+------------+----------------------------+-------+-------+\n\
             | id | price  | mixed | flag  | day        | at                         | name  | empty |\n\
             +----+--------+-------+-------+------------+----------------------------+-------+-------+\n\
             | 1  | 1.5    | 1.0   | true  | 2024-01-02 | 2024-01-02T03:04:05        | alice |       |\n\
             | -2 | 2000.0 | 2.25  | false | 2024-02-03 | 2024-01-02T03:04:05.123456 | bob   |       |\n\
             +----+--------+-------+-------+------------+----------------------------+-------+-------+"
        );
        assert_eq!(batches[0].column(7).null_count(), 2);
    }

    #[test]
    fn too_large_integers_and_odd_values_infer_as_text() {
        let values: Vec<String> = ["99999999999999999999", "1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(infer_column_type(&values), DataType::Utf8);
        let values: Vec<String> = ["2024-13-45"].iter().map(|s| s.to_string()).collect();
        assert_eq!(infer_column_type(&values), DataType::Utf8);
        assert!(is_float(".5") && is_float("5.") && is_float("1e-3") && !is_float("."));
        assert!(is_timestamp("2024-01-02T03:04:05Z") && !is_timestamp("2024-01-02T03:04:0"));
    }

    #[test]
    fn empty_unquoted_is_null_quoted_empty_is_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "t.csv", "a,b\n,\"\"\nx,NA\n");
        let (_, batches) = scan(&[("path", &path)], None).unwrap();
        let b = &batches[0];
        assert!(b.column(0).is_null(0));
        assert!(b.column(1).is_valid(0));
        assert_eq!(
            b.column(1)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .value(0),
            ""
        );

        let (_, batches) = scan(&[("path", &path), ("null_string", "NA")], None).unwrap();
        let b = &batches[0];
        // With null_string set, only that text is NULL.
        assert!(b.column(0).is_valid(0));
        assert!(b.column(1).is_null(1));
    }

    #[test]
    fn declared_columns_are_read_by_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "t.csv", "x;y\n1;a\n2;b\n");
        let declared = schema(&[
            ("id", DataType::Int32, false),
            ("label", DataType::Utf8, true),
        ]);
        let (s, batches) = scan(
            &[("path", &path), ("delimiter", ";")],
            Some(Arc::clone(&declared)),
        )
        .unwrap();
        assert_eq!(s, declared);
        assert_eq!(
            pretty(&batches),
            "+----+-------+\n| id | label |\n+----+-------+\n| 1  | a     |\n| 2  | b     |\n+----+-------+"
        );

        let no_header = write(dir.path(), "n.csv", "1\ta\n2\tb\n");
        let (_, batches) = scan(
            &[
                ("path", &no_header),
                ("header", "false"),
                ("delimiter", "\\t"),
            ],
            Some(declared),
        )
        .unwrap();
        assert_eq!(count(&batches), 2);
    }

    #[test]
    fn header_false_names_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "t.csv", "1,a\n2,b\n");
        let (s, batches) = scan(&[("path", &path), ("header", "false")], None).unwrap();
        assert_eq!(s.field(0).name(), "column_1");
        assert_eq!(s.field(1).name(), "column_2");
        assert_eq!(count(&batches), 2);
    }

    #[test]
    fn declared_column_count_must_match_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "t.csv", "a,b,c\n1,2,3\n");
        let declared = schema(&[("a", DataType::Int64, true), ("b", DataType::Int64, true)]);
        let e = scan(&[("path", &path)], Some(declared)).unwrap_err();
        assert_eq!(
            e.message,
            format!("file {path}: its header has 3 columns, but the table declares 2")
        );
    }

    #[test]
    fn bad_value_names_file_line_value_type_and_column() {
        let dir = tempfile::tempdir().unwrap();
        // The quoted note spans lines 3-4, and there is an empty line, so
        // the bad row is on line 7.
        let path = write(
            dir.path(),
            "x.csv",
            "id,amount,note\n1,10,a\n2,20,\"two\nlines\"\n\n5,50,b\n6,abc,c\n",
        );
        let declared = schema(&[
            ("id", DataType::Int64, true),
            ("amount", DataType::Int64, true),
            ("note", DataType::Utf8, true),
        ]);
        let e = scan(&[("path", &path)], Some(declared)).unwrap_err();
        assert_eq!(e.state, SqlState::InvalidTextRepresentation);
        assert_eq!(
            e.message,
            format!("file {path} line 7: cannot parse 'abc' as bigint (column amount)")
        );
    }

    #[test]
    fn bad_row_line_numbers_are_right_across_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("n\n");
        for i in 0..50 {
            text.push_str(&format!("{i}\n"));
        }
        text.push_str("oops\n");
        let path = write(dir.path(), "t.csv", &text);
        let declared = schema(&[("n", DataType::Int64, true)]);
        let options = opts(&[("path", &path)]);
        let spec = spec(options, &declared, None, None);
        // Batches of 7 rows: the bad row (line 52) is in the 8th batch.
        let mut reader = FileConnector.open(&spec, &ctx(0, 1, 7)).unwrap();
        let mut rows = 0;
        let e = loop {
            match reader.poll_next() {
                Ok(SourcePoll::Batch(b)) => rows += b.num_rows(),
                Ok(_) => panic!("expected an error"),
                Err(e) => break e,
            }
        };
        assert_eq!(rows, 49);
        assert_eq!(
            e.message,
            format!("file {path} line 52: cannot parse 'oops' as bigint (column n)")
        );
    }

    #[test]
    fn wrong_column_count_and_unterminated_quote_are_format_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "t.csv", "a,b\n1,2\n3,4,5\n");
        let e = scan(&[("path", &path)], None).unwrap_err();
        assert_eq!(e.state, SqlState::BadFileFormat);
        assert_eq!(
            e.message,
            format!("file {path} line 3: expected 2 columns, found 3")
        );

        let path = write(dir.path(), "u.csv", "a,b\n1,2\n3,\"open\n");
        let e = scan(&[("path", &path)], None).unwrap_err();
        assert_eq!(
            e.message,
            format!("file {path} line 3: unterminated quoted field")
        );
    }

    #[test]
    fn null_in_not_null_column_is_a_bad_row() {
        let dir = tempfile::tempdir().unwrap();
        let path2 = write(dir.path(), "u.csv", "a,b\n1,x\n,y\n");
        let e = scan(
            &[("path", &path2)],
            Some(schema(&[
                ("a", DataType::Int64, false),
                ("b", DataType::Utf8, true),
            ])),
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            format!("file {path2} line 3: NULL in column a, which is NOT NULL")
        );
        assert_eq!(e.state, SqlState::DataException);
    }

    #[test]
    fn empty_lines_are_skipped_but_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "t.csv", "a\n1\n\n\r\n,\n");
        let declared = schema(&[("a", DataType::Int64, false)]);
        let e = scan(&[("path", &path)], Some(declared)).unwrap_err();
        assert_eq!(
            e.message,
            format!("file {path} line 5: expected 1 column, found 2")
        );
    }

    #[test]
    fn skip_mode_drops_and_counts_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "t.csv",
            "id,amount\n1,10\n2,abc\n3\n4,40\n5,50,extra\n6,\"60\"\n",
        );
        let declared = schema(&[
            ("id", DataType::Int64, true),
            ("amount", DataType::Int64, true),
        ]);
        let options = opts(&[("path", &path), ("bad_rows", "skip")]);
        FileConnector
            .validate(&options, Some(Arc::clone(&declared)))
            .unwrap();
        let mut spec = spec(options, &declared, Some(vec![0]), None);
        spec.table = "csv_tests.skip".into();
        let mut reader = FileConnector.try_open(&spec, &ctx(0, 1, 2)).unwrap();
        let mut ids = Vec::new();
        loop {
            match reader.poll_next().unwrap() {
                SourcePoll::Batch(b) => {
                    let col = b
                        .column(0)
                        .as_any()
                        .downcast_ref::<arrow::array::Int64Array>()
                        .unwrap();
                    ids.extend(col.iter().flatten());
                }
                SourcePoll::Pending => {}
                SourcePoll::Finished => break,
            }
        }
        // Rows are checked on every column, even the unprojected `amount`.
        assert_eq!(ids, vec![1, 4, 6]);
        assert_eq!(reader.skipped_rows(), 3);
        assert_eq!(crate::metrics::skipped_rows("csv_tests.skip"), 3);
    }

    #[test]
    fn inference_ignores_malformed_rows_and_rejects_duplicate_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "t.csv", "a,b\n1,2\nbad\n3,4\n");
        let (s, _) = scan(&[("path", &path), ("bad_rows", "skip")], None).unwrap();
        assert_eq!(s.field(0).data_type(), &DataType::Int64);

        let path = write(dir.path(), "d.csv", "a,a\n1,2\n");
        let e = scan(&[("path", &path)], None).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "file {path} line 1: duplicate column name 'a' in the header; declare the columns in CREATE TABLE to read this file"
            )
        );
    }

    #[test]
    fn files_with_different_headers_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let first = write(dir.path(), "1.csv", "a,b\n1,2\n");
        let second = write(dir.path(), "2.csv", "a,c\n1,2\n");
        let e = scan(
            &[("path", dir.path().to_str().unwrap()), ("format", "csv")],
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            format!("file {second}: header (a, c) does not match the header of {first} (a, b)")
        );
    }

    #[test]
    fn empty_file_cannot_be_inferred() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "t.csv", "");
        let e = scan(&[("path", &path)], None).unwrap_err();
        assert!(
            e.message
                .contains("cannot be inferred; declare them in CREATE TABLE"),
            "{}",
            e.message
        );
        let declared = schema(&[("a", DataType::Int64, true)]);
        let (_, batches) = scan(&[("path", &path)], Some(declared)).unwrap();
        assert_eq!(count(&batches), 0);
    }
}
