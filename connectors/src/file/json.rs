//! Newline-delimited JSON for the `file` connector: schema inference and the
//! reader.
//!
//! Each non-blank line is one JSON object; columns are matched to keys by
//! name (exactly), missing keys are NULL and keys that are not columns are
//! ignored. Numbers and booleans read into a text column become their text.
//!
//! Lines are decoded a batch at a time with Arrow's JSON decoder. When a
//! batch fails, its lines are decoded one by one to find the bad ones: with
//! `bad_rows = 'fail'` the first fails the query naming its file and line;
//! with `'skip'` they are dropped and counted. As for CSV, `'fail'` decodes
//! only the projected columns and `'skip'` decodes them all.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::compute::concat_batches;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::json::reader::{Decoder, ReaderBuilder, infer_json_schema_from_iterator};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::error::{BadRowKind, Error, Result};
use crate::file::BadRows;
use crate::file::source::FormatReader;
use crate::schema::normalize_inferred_schema;

/// Rows sampled to infer a schema.
const INFER_SAMPLE_ROWS: usize = 1000;

/// Read buffer per file.
const READ_BUFFER: usize = 256 * 1024;

/// Infers the schema of JSON `files` from their first rows: columns in the
/// order their keys first appear, types by Arrow's JSON inference (integers
/// `Int64`, floats `Float64`, strings `Utf8`; nested objects and arrays as
/// structs and lists). Lines that are not JSON objects are left out of the
/// sample (reading reports them).
pub(crate) fn infer_schema(files: &[PathBuf]) -> Result<SchemaRef> {
    let mut values = Vec::new();
    let mut key_order: Vec<String> = Vec::new();
    let mut line = Vec::new();
    'files: for path in files {
        let shown = path.display().to_string();
        let file = File::open(path).map_err(|e| Error::io(&shown, e))?;
        let mut reader = BufReader::with_capacity(READ_BUFFER, file);
        loop {
            line.clear();
            if reader
                .read_until(b'\n', &mut line)
                .map_err(|e| Error::io(&shown, e))?
                == 0
            {
                break;
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let Ok(value) = serde_json::from_slice::<serde_json::Value>(&line) else {
                continue;
            };
            if !value.is_object() {
                continue;
            }
            if let Ok(keys) = serde_json::from_slice::<KeyOrder>(&line) {
                for k in keys.0 {
                    if !key_order.contains(&k) {
                        key_order.push(k);
                    }
                }
            }
            values.push(value);
            if values.len() >= INFER_SAMPLE_ROWS {
                break 'files;
            }
        }
    }
    if values.is_empty() {
        let shown = files
            .first()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        return Err(Error::bad_file(
            shown,
            "no JSON objects found, so the columns cannot be inferred; declare them in CREATE TABLE",
        ));
    }
    let inferred = infer_json_schema_from_iterator(values.iter().map(Ok::<_, ArrowError>))
        .map_err(|e| Error::arrow("inferring the JSON schema", e))?;
    // serde_json's objects sort their keys; put columns in file order.
    let mut fields: Vec<_> = inferred.fields().iter().cloned().collect();
    fields.sort_by_key(|f| {
        key_order
            .iter()
            .position(|k| k == f.name())
            .unwrap_or(usize::MAX)
    });
    Ok(normalize_inferred_schema(&Schema::new(fields)))
}

/// The keys of a JSON object, in the order they appear.
struct KeyOrder(Vec<String>);

impl<'de> Deserialize<'de> for KeyOrder {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeysVisitor;
        impl<'de> Visitor<'de> for KeysVisitor {
            type Value = KeyOrder;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyOrder, A::Error> {
                let mut keys = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    keys.push(k);
                }
                Ok(KeyOrder(keys))
            }
        }
        d.deserialize_map(KeysVisitor)
    }
}

/// Reads one worker's JSON files.
pub(crate) struct JsonReader {
    bad_rows: BadRows,
    /// The columns decoded (a projection of the table's schema).
    decode_schema: SchemaRef,
    /// The schema of the batches produced.
    output_schema: SchemaRef,
    /// For each output column, its index in `decode_schema`.
    slots: Vec<usize>,
    batch_size: usize,
    decoder: Option<Decoder>,
    files: VecDeque<PathBuf>,
    current: Option<OpenFile>,
    skipped: u64,
}

impl fmt::Debug for JsonReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonReader")
            .field("bad_rows", &self.bad_rows)
            .field("decode_schema", &self.decode_schema)
            .field("files", &self.files)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct OpenFile {
    shown: String,
    reader: BufReader<File>,
    /// The line number of the next line.
    line: u64,
}

/// A block of lines to decode together.
#[derive(Debug, Default)]
struct Block {
    /// The lines' bytes, each ending with `\n`.
    bytes: Vec<u8>,
    /// End offset of each line in `bytes`.
    ends: Vec<usize>,
    /// The line number of each line.
    lines: Vec<u64>,
}

impl JsonReader {
    /// A reader of `files` producing `projection` (table column indices) of
    /// `table_schema` as `output_schema`.
    pub(crate) fn new(
        bad_rows: BadRows,
        table_schema: &Schema,
        output_schema: SchemaRef,
        projection: &[usize],
        files: Vec<PathBuf>,
        batch_size: usize,
    ) -> Result<Self> {
        let mut decoded: Vec<usize> = match bad_rows {
            BadRows::Fail => projection.to_vec(),
            BadRows::Skip => (0..table_schema.fields().len()).collect(),
        };
        decoded.sort_unstable();
        decoded.dedup();
        let slots = projection
            .iter()
            .map(|c| decoded.binary_search(c).unwrap_or_default())
            .collect();
        let decode_schema = Arc::new(
            table_schema
                .project(&decoded)
                .map_err(|e| Error::arrow("projecting the JSON columns", e))?,
        );
        Ok(Self {
            bad_rows,
            decode_schema,
            output_schema,
            slots,
            batch_size: batch_size.max(1),
            decoder: None,
            files: files.into(),
            current: None,
            skipped: 0,
        })
    }

    fn new_decoder(&self) -> Result<Decoder> {
        ReaderBuilder::new(Arc::clone(&self.decode_schema))
            .with_batch_size(self.batch_size)
            .with_coerce_primitive(true)
            .build_decoder()
            .map_err(|e| Error::arrow("creating the JSON decoder", e))
    }

    fn open_next(&mut self) -> Result<bool> {
        let Some(path) = self.files.pop_front() else {
            return Ok(false);
        };
        let shown = path.display().to_string();
        let file = File::open(&path).map_err(|e| Error::io(&shown, e))?;
        tracing::debug!(file = %shown, "reading JSON file");
        self.current = Some(OpenFile {
            shown,
            reader: BufReader::with_capacity(READ_BUFFER, file),
            line: 1,
        });
        Ok(true)
    }

    /// Reads up to a batch of non-blank lines; `at_end` when the file ended.
    fn read_block(file: &mut OpenFile, max: usize) -> Result<(Block, bool)> {
        let mut block = Block::default();
        while block.lines.len() < max {
            let start = block.bytes.len();
            let n = file
                .reader
                .read_until(b'\n', &mut block.bytes)
                .map_err(|e| Error::io(&file.shown, e))?;
            if n == 0 {
                return Ok((block, true));
            }
            let line = file.line;
            file.line += 1;
            if block.bytes[start..].iter().all(u8::is_ascii_whitespace) {
                block.bytes.truncate(start);
                continue;
            }
            if block.bytes.last() != Some(&b'\n') {
                block.bytes.push(b'\n');
            }
            block.ends.push(block.bytes.len());
            block.lines.push(line);
        }
        Ok((block, false))
    }

    /// Decodes a block in one go; `None` if any line is bad.
    fn decode_fast(&mut self, block: &Block) -> Result<Option<RecordBatch>> {
        let mut decoder = match self.decoder.take() {
            Some(d) => d,
            None => self.new_decoder()?,
        };
        let decoded = match decoder.decode(&block.bytes) {
            Ok(n) if n == block.bytes.len() => decoder.flush(),
            _ => return Ok(None),
        };
        match decoded {
            Ok(Some(batch)) if batch.num_rows() == block.lines.len() => {
                self.decoder = Some(decoder);
                Ok(Some(batch))
            }
            _ => Ok(None),
        }
    }

    /// Decodes a block line by line, failing on or skipping bad lines.
    fn decode_slow(&mut self, block: &Block, shown: &str) -> Result<RecordBatch> {
        let mut good = Vec::new();
        let mut start = 0;
        for (&end, &line) in block.ends.iter().zip(&block.lines) {
            let bytes = &block.bytes[start..end];
            start = end;
            let mut decoder = self.new_decoder()?;
            let result = match decoder.decode(bytes) {
                Ok(n) if n == bytes.len() => decoder.flush().map_err(|e| json_message(&e)),
                Ok(_) => Err("expected one JSON object per line".to_string()),
                Err(e) => Err(json_message(&e)),
            };
            let message = match result {
                Ok(Some(batch)) if batch.num_rows() == 1 => {
                    good.push(batch);
                    continue;
                }
                Ok(_) => "expected one JSON object per line".to_string(),
                Err(m) => m,
            };
            match self.bad_rows {
                BadRows::Fail => {
                    // Well-formed JSON with a value that does not fit is a
                    // value error; anything else is a format error.
                    let kind = match serde_json::from_slice::<IgnoredAny>(bytes) {
                        Ok(_) => BadRowKind::Value,
                        Err(_) => BadRowKind::Format,
                    };
                    return Err(Error::BadRow {
                        path: shown.to_string(),
                        line,
                        message,
                        kind,
                    });
                }
                BadRows::Skip => self.skipped += 1,
            }
        }
        concat_batches(&self.decode_schema, &good)
            .map_err(|e| Error::arrow(format!("reading {shown}"), e))
    }

    fn to_output(&self, decoded: &RecordBatch) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = self
            .slots
            .iter()
            .map(|&s| Arc::clone(decoded.column(s)))
            .collect();
        RecordBatch::try_new_with_options(
            Arc::clone(&self.output_schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(decoded.num_rows())),
        )
        .map_err(|e| Error::arrow("building a batch", e))
    }
}

/// The message of a JSON decoding error, without Arrow's prefix.
fn json_message(e: &ArrowError) -> String {
    match e {
        ArrowError::JsonError(m) => m.clone(),
        other => other.to_string(),
    }
}

impl FormatReader for JsonReader {
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            if self.current.is_none() && !self.open_next()? {
                return Ok(None);
            }
            let Some(file) = self.current.as_mut() else {
                return Ok(None);
            };
            let (block, at_end) = Self::read_block(file, self.batch_size)?;
            let shown = file.shown.clone();
            if at_end {
                self.current = None;
            }
            if block.lines.is_empty() {
                continue;
            }
            let decoded = match self.decode_fast(&block)? {
                Some(batch) => batch,
                None => self.decode_slow(&block, &shown)?,
            };
            if decoded.num_rows() > 0 {
                return self.to_output(&decoded).map(Some);
            }
        }
    }

    fn take_skipped(&mut self) -> u64 {
        std::mem::take(&mut self.skipped)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, Int64Array};
    use arrow::datatypes::{DataType, Field};
    use tidewater_runtime::SqlState;
    use tidewater_runtime::source::{SourcePoll, SourceReader};

    use super::*;
    use crate::file::FileConnector;
    use crate::file::test_util::{count, ctx, opts, pretty, scan, spec, write};

    #[test]
    fn infers_columns_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "t.json",
            "{\"zeta\": 1, \"alpha\": \"a\", \"mid\": 1.5}\n\
             \n\
             {\"zeta\": 2, \"mid\": 2, \"flag\": true, \"tags\": [\"x\"], \"nothing\": null}\n",
        );
        let (schema, batches) = scan(&[("path", &path)], None).unwrap();
        let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            vec!["zeta", "alpha", "mid", "flag", "tags", "nothing"]
        );
        let types: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        assert_eq!(
            types,
            vec![
                DataType::Int64,
                DataType::Utf8,
                DataType::Float64,
                DataType::Boolean,
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                DataType::Utf8,
            ]
        );
        assert_eq!(count(&batches), 2);
        // A missing key is NULL.
        assert!(batches[0].column(1).is_null(1));
    }

    #[test]
    fn declared_columns_are_matched_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "t.jsonl",
            "{\"b\": \"x\", \"a\": 1, \"ignored\": {\"deep\": 1}}\n{\"a\": 2, \"b\": 7}\n",
        );
        let declared = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        let (_, batches) = scan(&[("path", &path)], Some(declared)).unwrap();
        assert_eq!(
            pretty(&batches),
            "+---+---+\n| a | b |\n+---+---+\n| 1 | x |\n| 2 | 7 |\n+---+---+"
        );
    }

    #[test]
    fn bad_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "t.json",
            "{\"a\": 1}\n\n{\"a\": 2}\n{\"a\": \"abc\"}\n{\"a\": 4}\n",
        );
        let declared = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
        let e = scan(&[("path", &path)], Some(Arc::clone(&declared))).unwrap_err();
        assert_eq!(e.state, SqlState::InvalidTextRepresentation);
        assert!(
            e.message.starts_with(&format!("file {path} line 4: ")) && e.message.contains("abc"),
            "{}",
            e.message
        );

        let broken = write(
            dir.path(),
            "b.json",
            "{\"a\": 1}\n{\"a\": \n{\"a\": 3}\n[1]\n",
        );
        let e = scan(&[("path", &broken)], Some(declared)).unwrap_err();
        assert_eq!(e.state, SqlState::BadFileFormat);
        assert!(
            e.message.starts_with(&format!("file {broken} line 2: ")),
            "{}",
            e.message
        );
    }

    #[test]
    fn skip_mode_drops_and_counts_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "t.json",
            "{\"a\": 1, \"b\": \"x\"}\n{\"a\": \"abc\"}\nnot json\n{\"a\": 4, \"b\": \"y\"}\n{\"a\": 5, \"b\": [1]}\n",
        );
        let declared = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        let options = opts(&[("path", &path), ("bad_rows", "skip")]);
        let spec = spec(options, &declared, Some(vec![0]), None);
        let mut reader = FileConnector.try_open(&spec, &ctx(0, 1, 2)).unwrap();
        let mut values = Vec::new();
        loop {
            match reader.poll_next().unwrap() {
                SourcePoll::Batch(b) => {
                    assert_eq!(b.num_columns(), 1);
                    let a = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                    values.extend(a.iter().flatten());
                }
                SourcePoll::Pending => {}
                SourcePoll::Finished => break,
            }
        }
        assert_eq!(values, vec![1, 4]);
        assert_eq!(reader.skipped_rows(), 3);
    }

    #[test]
    fn file_without_objects_cannot_be_inferred() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "t.json", "\n[1, 2]\n");
        let e = scan(&[("path", &path)], None).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "file {path}: no JSON objects found, so the columns cannot be inferred; declare them in CREATE TABLE"
            )
        );
    }
}
