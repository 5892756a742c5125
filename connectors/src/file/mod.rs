//! The `file` connector: bounded tables over CSV, newline-delimited JSON and
//! Parquet files.
//!
//! ```sql
//! CREATE TABLE t [(cols)] WITH (connector = 'file', path = 'data/*.csv', format = 'csv', ...)
//! ```
//!
//! Options ([`FileOptions`]):
//!
//! | option        | formats | meaning                                                         |
//! |---------------|---------|-----------------------------------------------------------------|
//! | `path`        | all     | a file, a directory (its files, sorted, hidden ones skipped), or a glob; relative to the server's working directory |
//! | `format`      | all     | `csv`, `json` or `parquet`; default from the path's extension (`.csv`, `.json`/`.jsonl`/`.ndjson`, `.parquet`) |
//! | `bad_rows`    | csv, json | `fail` (default): a malformed row fails the query, naming file and line; `skip`: it is dropped and counted |
//! | `header`      | csv     | the first line of each file is a header (default `true`)        |
//! | `delimiter`   | csv     | one ASCII character (default `,`; `\t` for tab)                  |
//! | `quote`       | csv     | one ASCII character (default `"`)                                |
//! | `null_string` | csv     | unquoted text meaning NULL (default: the empty unquoted field)   |
//!
//! Schema: declared columns are read by position (CSV) or by name (JSON,
//! Parquet). Without declared columns the schema is inferred: CSV and JSON
//! from the first rows (integers `Int64`, floats `Float64`, text `Utf8`,
//! timestamps `Timestamp(Microsecond)`), Parquet from the file metadata;
//! all files must agree.
//!
//! Parallelism: each file (for Parquet, each row group) is a part, read by
//! the worker that owns it (`SourceContext::owns_part`).

mod csv;
mod json;
mod parquet;
mod paths;
mod source;
mod tokenizer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use serde::Deserialize;
use tidewater_runtime::QueryError;
use tidewater_runtime::source::{Connector, SourceContext, SourceReader, SourceSpec};

pub use self::source::FileSourceReader;
use crate::error::{Error, Result};
use crate::file::csv::CsvConfig;
use crate::options::de::{self, OptionEnum};
use crate::options::parse_options;

/// The name of the connector in `WITH (connector = 'file')`.
pub const CONNECTOR_NAME: &str = "file";

/// A file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Comma-separated values.
    Csv,
    /// Newline-delimited JSON objects.
    Json,
    /// Apache Parquet.
    Parquet,
}

impl OptionEnum for FileFormat {
    const VALUES: &'static [(&'static str, Self)] = &[
        ("csv", FileFormat::Csv),
        ("json", FileFormat::Json),
        ("parquet", FileFormat::Parquet),
    ];
}

impl FileFormat {
    /// The format's name as written in `format = '...'`.
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Json => "json",
            FileFormat::Parquet => "parquet",
        }
    }

    fn from_extension(path: &str) -> Option<Self> {
        let ext = Path::new(path).extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(FileFormat::Csv),
            "json" | "jsonl" | "ndjson" => Some(FileFormat::Json),
            "parquet" | "parq" => Some(FileFormat::Parquet),
            _ => None,
        }
    }
}

/// What to do with a malformed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BadRows {
    /// Fail the query with an error naming the file and line.
    #[default]
    Fail,
    /// Drop the row and count it.
    Skip,
}

impl OptionEnum for BadRows {
    const VALUES: &'static [(&'static str, Self)] =
        &[("fail", BadRows::Fail), ("skip", BadRows::Skip)];
}

/// The options of a `file` table, as written in `WITH (...)`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOptions {
    /// A file, directory or glob.
    pub path: String,
    /// `csv`, `json` or `parquet` (default: from the path's extension).
    #[serde(default, deserialize_with = "de::option_enum")]
    pub format: Option<FileFormat>,
    /// `fail` (default) or `skip`.
    #[serde(default, deserialize_with = "de::option_enum")]
    pub bad_rows: Option<BadRows>,
    /// CSV: the first line is a header (default true).
    #[serde(default, deserialize_with = "de::bool")]
    pub header: Option<bool>,
    /// CSV: the field separator (default `,`).
    #[serde(default, deserialize_with = "de::ascii_char")]
    pub delimiter: Option<u8>,
    /// CSV: the quote character (default `"`).
    #[serde(default, deserialize_with = "de::ascii_char")]
    pub quote: Option<u8>,
    /// CSV: the unquoted text meaning NULL (default: empty).
    #[serde(default, deserialize_with = "de::string")]
    pub null_string: Option<String>,
}

impl FileOptions {
    /// Parses a table's options.
    ///
    /// # Errors
    ///
    /// An unknown option, a missing `path`, an invalid value, CSV options
    /// with another format, or no `format` when the path's extension does
    /// not tell it.
    pub fn parse(options: &BTreeMap<String, String>) -> Result<Self> {
        let parsed: Self = parse_options(CONNECTOR_NAME, options)?;
        let format = parsed.format()?;
        if format != FileFormat::Csv {
            let csv_only = [
                ("header", parsed.header.is_some()),
                ("delimiter", parsed.delimiter.is_some()),
                ("quote", parsed.quote.is_some()),
                ("null_string", parsed.null_string.is_some()),
            ];
            if let Some((name, _)) = csv_only.iter().find(|(_, given)| *given) {
                return Err(Error::OptionConflict(format!(
                    "option '{name}' is only valid with format 'csv' (this table's format is '{}')",
                    format.name()
                )));
            }
        }
        if format == FileFormat::Parquet && parsed.bad_rows.is_some() {
            return Err(Error::OptionConflict(
                "option 'bad_rows' is only valid with formats 'csv' and 'json' (this table's format is 'parquet')"
                    .into(),
            ));
        }
        let csv = parsed.csv();
        if csv.delimiter == csv.quote {
            return Err(Error::OptionConflict(
                "options 'delimiter' and 'quote' must be different characters".into(),
            ));
        }
        Ok(parsed)
    }

    /// The format: the `format` option, else the path's extension.
    pub fn format(&self) -> Result<FileFormat> {
        match self
            .format
            .or_else(|| FileFormat::from_extension(&self.path))
        {
            Some(f) => Ok(f),
            None => Err(Error::OptionConflict(format!(
                "missing option 'format' for connector 'file': the path '{}' does not tell the format \
                 (use format = 'csv', 'json' or 'parquet')",
                self.path
            ))),
        }
    }

    fn bad_rows(&self) -> BadRows {
        self.bad_rows.unwrap_or_default()
    }

    fn csv(&self) -> CsvConfig {
        let default = CsvConfig::default();
        CsvConfig {
            header: self.header.unwrap_or(default.header),
            delimiter: self.delimiter.unwrap_or(default.delimiter),
            quote: self.quote.unwrap_or(default.quote),
            null_string: self.null_string.clone(),
        }
    }
}

/// The `file` connector.
#[derive(Debug, Default, Clone, Copy)]
pub struct FileConnector;

impl FileConnector {
    /// Checks options and files and returns the table's schema.
    ///
    /// # Errors
    ///
    /// Invalid options, no matching file, an unreadable file, or a schema
    /// that cannot be inferred or does not fit the declared columns.
    pub fn try_validate(
        &self,
        options: &BTreeMap<String, String>,
        declared: Option<SchemaRef>,
    ) -> Result<SchemaRef> {
        let options = FileOptions::parse(options)?;
        let format = options.format()?;
        let files = paths::resolve_paths(&options.path)?;
        match (format, declared) {
            (FileFormat::Csv, Some(schema)) => {
                csv::check_declared(&files, &options.csv(), &schema)?;
                Ok(schema)
            }
            (FileFormat::Csv, None) => csv::infer_schema(&files, &options.csv()),
            (FileFormat::Json, Some(schema)) => {
                for path in &files {
                    std::fs::File::open(path).map_err(|e| Error::io(path.display(), e))?;
                }
                Ok(schema)
            }
            (FileFormat::Json, None) => json::infer_schema(&files),
            (FileFormat::Parquet, Some(schema)) => {
                parquet::check_declared(&files, &schema)?;
                Ok(schema)
            }
            (FileFormat::Parquet, None) => parquet::infer_schema(&files),
        }
    }

    /// Opens this worker's share of the scan.
    ///
    /// # Errors
    ///
    /// Invalid options, no matching file, or an unreadable file.
    pub fn try_open(&self, spec: &SourceSpec, ctx: &SourceContext) -> Result<FileSourceReader> {
        let options = FileOptions::parse(&spec.options)?;
        let format = options.format()?;
        let files = paths::resolve_paths(&options.path)?;
        let table_schema = std::sync::Arc::new(spec.schema.clone());
        let output_schema = spec
            .output_schema()
            .map_err(|e| Error::arrow(format!("projecting the columns of {}", spec.table), e))?;
        let projection: Vec<usize> = match &spec.projection {
            Some(p) => p.clone(),
            None => (0..spec.schema.fields().len()).collect(),
        };
        // Text formats parse a batch at a time: no more than the limit needs.
        let text_batch_size = spec
            .limit
            .map_or(ctx.batch_size, |l| l.clamp(1, ctx.batch_size.max(1)));
        let owned_files = || -> Vec<PathBuf> {
            files
                .iter()
                .enumerate()
                .filter(|(i, _)| ctx.owns_part(*i))
                .map(|(_, f)| f.clone())
                .collect()
        };
        let inner: Box<dyn source::FormatReader> = match format {
            FileFormat::Csv => Box::new(csv::CsvReader::new(
                options.csv(),
                options.bad_rows(),
                table_schema,
                output_schema,
                &projection,
                owned_files(),
                text_batch_size,
            )),
            FileFormat::Json => Box::new(json::JsonReader::new(
                options.bad_rows(),
                &table_schema,
                output_schema,
                &projection,
                owned_files(),
                text_batch_size,
            )?),
            FileFormat::Parquet => Box::new(parquet::ParquetReader::try_new(
                table_schema,
                output_schema,
                projection,
                files.clone(),
                |part| ctx.owns_part(part),
                ctx.batch_size,
                spec.limit,
            )?),
        };
        Ok(FileSourceReader::new(spec.table.clone(), inner, spec.limit))
    }
}

impl Connector for FileConnector {
    fn name(&self) -> &'static str {
        CONNECTOR_NAME
    }

    fn validate(
        &self,
        options: &BTreeMap<String, String>,
        declared: Option<SchemaRef>,
    ) -> Result<SchemaRef, QueryError> {
        self.try_validate(options, declared)
            .map_err(Error::into_query_error)
    }

    fn open(
        &self,
        spec: &SourceSpec,
        ctx: &SourceContext,
    ) -> Result<Box<dyn SourceReader>, QueryError> {
        match self.try_open(spec, ctx) {
            Ok(reader) => Ok(Box::new(reader)),
            Err(e) => Err(e.into_query_error()),
        }
    }
}

#[cfg(test)]
pub(crate) mod test_util;

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, Field, Schema};
    use tidewater_runtime::SqlState;

    use super::test_util::{count, ctx, drain, opts, pretty, scan, sorted_rows, spec, write};
    use super::*;

    fn validate_err(options: &[(&str, &str)]) -> QueryError {
        FileConnector.validate(&opts(options), None).unwrap_err()
    }

    #[test]
    fn unknown_option_names_it_and_the_valid_ones() {
        let e = validate_err(&[("connector", "file"), ("pathh", "x.csv")]);
        assert_eq!(e.state, SqlState::InvalidParameterValue);
        assert_eq!(
            e.message,
            "unknown option 'pathh' for connector 'file' \
             (valid options: path, format, bad_rows, header, delimiter, quote, null_string)"
        );
    }

    #[test]
    fn option_values_and_combinations_are_checked() {
        assert_eq!(
            validate_err(&[("format", "csv")]).message,
            "missing option 'path' for connector 'file'"
        );
        assert_eq!(
            validate_err(&[("path", "x.csv"), ("format", "xml")]).message,
            "invalid value 'xml' for option 'format' of connector 'file': expected one of csv, json, parquet"
        );
        assert_eq!(
            validate_err(&[("path", "x.csv"), ("bad_rows", "ignore")]).message,
            "invalid value 'ignore' for option 'bad_rows' of connector 'file': expected one of fail, skip"
        );
        assert_eq!(
            validate_err(&[("path", "x.json"), ("header", "true")]).message,
            "option 'header' is only valid with format 'csv' (this table's format is 'json')"
        );
        assert_eq!(
            validate_err(&[("path", "x.parquet"), ("bad_rows", "skip")]).message,
            "option 'bad_rows' is only valid with formats 'csv' and 'json' (this table's format is 'parquet')"
        );
        assert_eq!(
            validate_err(&[("path", "data/")]).message,
            "missing option 'format' for connector 'file': the path 'data/' does not tell the format \
             (use format = 'csv', 'json' or 'parquet')"
        );
        assert_eq!(
            validate_err(&[("path", "x.csv"), ("delimiter", "\""), ("quote", "\"")]).message,
            "options 'delimiter' and 'quote' must be different characters"
        );
    }

    #[test]
    fn missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = format!("{}/missing.csv", dir.path().display());
        let e = validate_err(&[("path", &path)]);
        assert_eq!(e.state, SqlState::IoError);
        assert_eq!(
            e.message,
            format!("no files match path '{path}' (no such file or directory)")
        );
    }

    #[test]
    fn reads_a_directory_and_a_glob() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "1.csv", "id,name\n1,a\n2,b\n");
        write(dir.path(), "2.csv", "id,name\n3,c\n");
        write(dir.path(), ".3.csv", "id,name\n99,hidden\n");
        write(dir.path(), "notes.txt", "id,name\n4,d\n");
        let (_, batches) = scan(
            &[("path", dir.path().to_str().unwrap()), ("format", "csv")],
            None,
        )
        .unwrap();
        assert_eq!(count(&batches), 4);
        let glob = format!("{}/*.csv", dir.path().display());
        let (schema, batches) = scan(&[("path", &glob)], None).unwrap();
        assert_eq!(schema.field(0).data_type(), &DataType::Int64);
        assert_eq!(
            pretty(&batches),
            "+----+------+\n| id | name |\n+----+------+\n| 1  | a    |\n| 2  | b    |\n| 3  | c    |\n+----+------+"
        );
    }

    #[test]
    fn files_are_split_across_workers() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            let rows: String = (0..10).map(|r| format!("{},{}\n", i * 10 + r, i)).collect();
            write(dir.path(), &format!("{i}.csv"), &format!("id,file\n{rows}"));
        }
        let options = opts(&[("path", dir.path().to_str().unwrap()), ("format", "csv")]);
        let schema = FileConnector.validate(&options, None).unwrap();
        let s = spec(options, &schema, None, None);
        let all = drain(FileConnector.open(&s, &ctx(0, 1, 4)).unwrap(), &s).unwrap();
        let w0 = drain(FileConnector.open(&s, &ctx(0, 2, 4)).unwrap(), &s).unwrap();
        let w1 = drain(FileConnector.open(&s, &ctx(1, 2, 4)).unwrap(), &s).unwrap();
        assert_eq!((count(&all), count(&w0), count(&w1)), (50, 30, 20));
        assert!(all.iter().all(|b| b.num_rows() <= 4));
        let mut union = sorted_rows(&w0);
        union.extend(sorted_rows(&w1));
        union.sort();
        assert_eq!(union, sorted_rows(&all));
    }

    #[test]
    fn projection_and_limit() {
        let dir = tempfile::tempdir().unwrap();
        let rows: String = (0..100).map(|r| format!("{r},n{r},{}.5\n", r)).collect();
        let path = write(dir.path(), "t.csv", &format!("id,name,score\n{rows}"));
        for (format, file) in [
            ("csv", path.clone()),
            ("json", {
                let lines: String = (0..100)
                    .map(|r| format!("{{\"id\": {r}, \"name\": \"n{r}\", \"score\": {r}.5}}\n"))
                    .collect();
                write(dir.path(), "t.json", &lines)
            }),
        ] {
            let options = opts(&[("path", &file), ("format", format)]);
            let schema = FileConnector.validate(&options, None).unwrap();
            assert_eq!(
                schema.as_ref(),
                &Schema::new(vec![
                    Field::new("id", DataType::Int64, true),
                    Field::new("name", DataType::Utf8, true),
                    Field::new("score", DataType::Float64, true),
                ]),
                "{format}"
            );
            let s = spec(options, &schema, Some(vec![2, 1]), Some(15));
            let batches = drain(FileConnector.open(&s, &ctx(0, 1, 8)).unwrap(), &s).unwrap();
            assert_eq!(count(&batches), 15, "{format}");
            assert_eq!(batches[0].schema().field(0).name(), "score");
            let last = batches.last().unwrap();
            let names = last
                .column(1)
                .as_any()
                .downcast_ref::<arrow::array::StringArray>()
                .unwrap();
            assert_eq!(names.value(last.num_rows() - 1), "n14", "{format}");
        }
    }
}
