//! The `datagen` connector: an unbounded (or counted) table of generated
//! rows, as Flink's `datagen`.
//!
//! ```sql
//! CREATE TABLE t (id BIGINT, v INT, name TEXT, ts TIMESTAMP)
//!   WITH (connector = 'datagen', rows_per_second = '1000',
//!         'fields.id.kind' = 'sequence', 'fields.id.start' = '1',
//!         'fields.v.min' = '0', 'fields.v.max' = '99', 'fields.name.length' = '8');
//! ```
//!
//! Table options: `rows_per_second` (default 10000; 0 = as fast as
//! possible), `number_of_rows` (the table ends after this many rows;
//! unbounded when absent), `seed` (default 0).
//!
//! Column options, `fields.<column>.<option>` ([`ColumnGen`]):
//!
//! | kind | types | options |
//! |------|-------|---------|
//! | `random` (default) | integers, floats, booleans, text, timestamps, dates | `min`, `max` (numbers, timestamps, dates); `length` (text, default 10) |
//! | `sequence` | integers, text, timestamps, dates | `start` (default 0, or 2026-01-01 for times), `end` (the table ends after it), `step` (timestamps: an interval such as `1 second`; default 1 ms) |
//! | `values` | every type | `values`: a comma-separated list, picked at random |
//!
//! Determinism: row `i` is a function of the seed, the column and `i`
//! only, so a table produces the same rows at any worker count. Rows are
//! spread over the splits of [`crate::generator`] (row `i` belongs to split `i % 64`),
//! assigned to workers with `SourceContext::owns_split`; a reader's
//! offsets are each split's next row, and a reader opened with them
//! continues exactly where the other stopped.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float32Array, Float64Array, Int16Array, Int32Array,
    Int64Array, RecordBatch, RecordBatchOptions, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType};
use tidewater_runtime::QueryError;
use tidewater_runtime::pgtypes::text::{parse_fixed_interval_micros, parse_text_values};
use tidewater_runtime::source::{
    Connector, SourceContext, SourcePoll, SourceReader, SourceSpec, SplitOffsets,
};

use crate::error::{Error, Result};
use crate::generator::{Next, SplitPacer, mix, random};
use crate::options::CONNECTOR_OPTION;

/// The name of the connector in `WITH (connector = 'datagen')`.
pub const CONNECTOR_NAME: &str = "datagen";

const TABLE_OPTIONS: &[&str] = &["rows_per_second", "number_of_rows", "seed"];
const COLUMN_OPTIONS: &[&str] = &[
    "kind", "min", "max", "length", "start", "end", "step", "values",
];

/// Microseconds from the Unix epoch to 2026-01-01 00:00:00, the default
/// start of timestamp sequences.
const DEFAULT_TIME_START: i64 = 1_767_225_600_000_000;

/// How one column is generated.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnGen {
    /// A uniform random integer in `min..=max` (integers, and timestamps
    /// and dates in their integer representation).
    RandomInt {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// A uniform random float in `[min, max)`.
    RandomFloat {
        /// Smallest value.
        min: f64,
        /// Bound of the values.
        max: f64,
    },
    /// A random boolean.
    RandomBool,
    /// A random alphanumeric string.
    RandomText {
        /// Characters.
        length: usize,
    },
    /// `start + i * step` for row `i`; the table ends after `end`.
    Sequence {
        /// First value.
        start: i64,
        /// Step between rows.
        step: i64,
        /// Last value.
        end: Option<i64>,
    },
    /// One of the values, at random.
    Values(Vec<String>),
}

/// A datagen table's options, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct DatagenOptions {
    /// Rows per second over all workers (0: as fast as possible).
    pub rows_per_second: u64,
    /// Rows in all (`None`: unbounded).
    pub number_of_rows: Option<u64>,
    /// Seed of every random column.
    pub seed: u64,
    /// One generator per column of the schema.
    pub columns: Vec<ColumnGen>,
}

fn invalid(option: &str, value: &str, reason: impl Into<String>) -> Error {
    Error::InvalidOption {
        connector: CONNECTOR_NAME,
        option: option.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

fn parse_u64(option: &str, value: &str) -> Result<u64> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(option, value, "expected a non-negative integer"))
}

fn parse_i64(option: &str, value: &str) -> Result<i64> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(option, value, "expected an integer"))
}

/// Parses a timestamp (`2026-03-01 12:00:00[.ffffff]`) to microseconds,
/// as Postgres reads timestamp text.
fn parse_timestamp(option: &str, value: &str) -> Result<i64> {
    let t = DataType::Timestamp(TimeUnit::Microsecond, None);
    parse_text_values(&[Some(value)], &t)
        .ok()
        .and_then(|a| {
            let a = a.as_primitive::<TimestampMicrosecondType>();
            (a.null_count() == 0).then(|| a.value(0))
        })
        .ok_or_else(|| {
            invalid(
                option,
                value,
                "expected a timestamp such as '2026-03-01 12:00:00'",
            )
        })
}

/// Parses an interval such as `1 second` or `250 milliseconds` to
/// microseconds.
fn parse_interval(option: &str, value: &str) -> Result<i64> {
    parse_fixed_interval_micros(value).map_err(|reason| invalid(option, value, reason))
}

/// The integer range of an integer type.
fn int_range(t: &DataType) -> Option<(i64, i64)> {
    match t {
        DataType::Int16 => Some((i16::MIN as i64, i16::MAX as i64)),
        DataType::Int32 => Some((i32::MIN as i64, i32::MAX as i64)),
        DataType::Int64 => Some((i64::MIN, i64::MAX)),
        _ => None,
    }
}

fn is_time(t: &DataType) -> bool {
    matches!(t, DataType::Timestamp(..) | DataType::Date32)
}

/// Parses a value of a time column's options.
fn parse_time(t: &DataType, option: &str, value: &str) -> Result<i64> {
    let micros = parse_timestamp(option, value)?;
    Ok(match t {
        DataType::Date32 => micros.div_euclid(86_400_000_000),
        _ => micros,
    })
}

/// Checks the options of one column and builds its generator.
fn column_gen(name: &str, t: &DataType, opts: &BTreeMap<&str, &str>) -> Result<ColumnGen> {
    let key = |o: &str| format!("fields.{name}.{o}");
    let get = |o: &str| opts.get(o).copied();
    let kind = get("kind").unwrap_or(if get("values").is_some() {
        "values"
    } else if get("start").is_some() || get("end").is_some() || get("step").is_some() {
        "sequence"
    } else {
        "random"
    });
    let allowed: &[&str] = match kind {
        "random" => &["kind", "min", "max", "length"],
        "sequence" => &["kind", "start", "end", "step"],
        "values" => &["kind", "values"],
        other => {
            return Err(invalid(
                &key("kind"),
                other,
                "expected one of random, sequence, values",
            ));
        }
    };
    if let Some(o) = opts.keys().find(|o| !allowed.contains(o)) {
        return Err(Error::OptionConflict(format!(
            "option '{}' does not apply to kind '{kind}' of column {name}",
            key(o)
        )));
    }
    let unsupported = || {
        Error::OptionConflict(format!(
            "datagen cannot generate column {name} of type {t} with kind '{kind}'"
        ))
    };
    match kind {
        "values" => {
            let list = get("values").ok_or_else(|| Error::MissingOption {
                connector: CONNECTOR_NAME,
                option: key("values"),
            })?;
            let values: Vec<String> = list.split(',').map(|v| v.trim().to_string()).collect();
            if values.iter().any(String::is_empty) {
                return Err(invalid(
                    &key("values"),
                    list,
                    "expected a comma-separated list of values",
                ));
            }
            Ok(ColumnGen::Values(values))
        }
        "sequence" => {
            let (start, step) = if is_time(t) {
                let start = match get("start") {
                    Some(v) => parse_time(t, &key("start"), v)?,
                    None => match t {
                        DataType::Date32 => DEFAULT_TIME_START / 86_400_000_000,
                        _ => DEFAULT_TIME_START,
                    },
                };
                let step = match (t, get("step")) {
                    (DataType::Date32, Some(v)) => {
                        let us = parse_interval(&key("step"), v)?;
                        if us % 86_400_000_000 != 0 {
                            return Err(invalid(&key("step"), v, "a date steps by whole days"));
                        }
                        us / 86_400_000_000
                    }
                    (DataType::Date32, None) => 1,
                    (_, Some(v)) => parse_interval(&key("step"), v)?,
                    (_, None) => 1_000,
                };
                (start, step)
            } else if int_range(t).is_some() || *t == DataType::Utf8 {
                let start = get("start")
                    .map(|v| parse_i64(&key("start"), v))
                    .transpose()?;
                if let Some(v) = get("step") {
                    return Err(invalid(
                        &key("step"),
                        v,
                        "only timestamp and date sequences take a step",
                    ));
                }
                (start.unwrap_or(0), 1)
            } else {
                return Err(unsupported());
            };
            let end = match get("end") {
                Some(v) if is_time(t) => Some(parse_time(t, &key("end"), v)?),
                Some(v) => Some(parse_i64(&key("end"), v)?),
                None => None,
            };
            if let Some(e) = end
                && e < start
            {
                return Err(Error::OptionConflict(format!(
                    "{} is before {} for column {name}",
                    key("end"),
                    key("start")
                )));
            }
            if let Some((lo, hi)) = int_range(t)
                && (start < lo || end.unwrap_or(start) > hi)
            {
                return Err(Error::OptionConflict(format!(
                    "the sequence of column {name} does not fit its type {t}"
                )));
            }
            Ok(ColumnGen::Sequence { start, step, end })
        }
        _ => {
            if let Some(v) = get("length")
                && *t != DataType::Utf8
            {
                return Err(invalid(
                    &key("length"),
                    v,
                    "only text columns take a length",
                ));
            }
            match t {
                DataType::Utf8 => {
                    if let Some(o) = ["min", "max"].iter().find(|o| get(o).is_some()) {
                        return Err(Error::OptionConflict(format!(
                            "option '{}' does not apply to text column {name} (use length)",
                            key(o)
                        )));
                    }
                    let length = match get("length") {
                        Some(v) => parse_u64(&key("length"), v)? as usize,
                        None => 10,
                    };
                    if length > 1 << 20 {
                        return Err(invalid(
                            &key("length"),
                            &length.to_string(),
                            "at most 1048576",
                        ));
                    }
                    Ok(ColumnGen::RandomText { length })
                }
                DataType::Boolean => {
                    if let Some(o) = ["min", "max"].iter().find(|o| get(o).is_some()) {
                        return Err(Error::OptionConflict(format!(
                            "option '{}' does not apply to boolean column {name}",
                            key(o)
                        )));
                    }
                    Ok(ColumnGen::RandomBool)
                }
                DataType::Float32 | DataType::Float64 => {
                    let parse = |o: &str, default: f64| -> Result<f64> {
                        match get(o) {
                            Some(v) => v
                                .trim()
                                .parse::<f64>()
                                .ok()
                                .filter(|f| f.is_finite())
                                .ok_or_else(|| invalid(&key(o), v, "expected a number")),
                            None => Ok(default),
                        }
                    };
                    let (min, max) = (parse("min", 0.0)?, parse("max", 1.0)?);
                    if max < min {
                        return Err(Error::OptionConflict(format!(
                            "{} is below {} for column {name}",
                            key("max"),
                            key("min")
                        )));
                    }
                    Ok(ColumnGen::RandomFloat { min, max })
                }
                t if is_time(t) => {
                    let min = match get("min") {
                        Some(v) => parse_time(t, &key("min"), v)?,
                        None => parse_time(t, "", "2026-01-01")?,
                    };
                    let max = match get("max") {
                        Some(v) => parse_time(t, &key("max"), v)?,
                        None => parse_time(t, "", "2026-12-31 23:59:59")?,
                    };
                    if max < min {
                        return Err(Error::OptionConflict(format!(
                            "{} is before {} for column {name}",
                            key("max"),
                            key("min")
                        )));
                    }
                    Ok(ColumnGen::RandomInt { min, max })
                }
                t => {
                    let (lo, hi) = int_range(t).ok_or_else(unsupported)?;
                    let min = get("min")
                        .map(|v| parse_i64(&key("min"), v))
                        .transpose()?
                        .unwrap_or(lo);
                    let max = get("max")
                        .map(|v| parse_i64(&key("max"), v))
                        .transpose()?
                        .unwrap_or(hi);
                    if min < lo || max > hi {
                        return Err(Error::OptionConflict(format!(
                            "the range of column {name} does not fit its type {t}"
                        )));
                    }
                    if max < min {
                        return Err(Error::OptionConflict(format!(
                            "{} is below {} for column {name}",
                            key("max"),
                            key("min")
                        )));
                    }
                    Ok(ColumnGen::RandomInt { min, max })
                }
            }
        }
    }
}

impl DatagenOptions {
    /// Checks `options` against `schema`.
    pub fn parse(options: &BTreeMap<String, String>, schema: &Schema) -> Result<Self> {
        let mut rows_per_second = 10_000;
        let mut number_of_rows = None;
        let mut seed = 0;
        let mut per_column: BTreeMap<String, BTreeMap<&str, &str>> = BTreeMap::new();
        for (key, value) in options {
            match key.as_str() {
                CONNECTOR_OPTION => {}
                "rows_per_second" => rows_per_second = parse_u64(key, value)?,
                "number_of_rows" => number_of_rows = Some(parse_u64(key, value)?),
                "seed" => seed = parse_u64(key, value)?,
                other => {
                    let column_option = other
                        .strip_prefix("fields.")
                        .and_then(|rest| rest.rsplit_once('.'))
                        .filter(|(_, o)| COLUMN_OPTIONS.contains(o));
                    let Some((column, option)) = column_option else {
                        return Err(Error::UnknownOption {
                            connector: CONNECTOR_NAME,
                            option: other.to_string(),
                            valid: format!(
                                "{}, fields.<column>.{{{}}}",
                                TABLE_OPTIONS.join(", "),
                                COLUMN_OPTIONS.join(", ")
                            ),
                        });
                    };
                    if schema.index_of(column).is_err() {
                        return Err(Error::OptionConflict(format!(
                            "option '{other}' names column {column}, which the table does not have"
                        )));
                    }
                    per_column
                        .entry(column.to_string())
                        .or_default()
                        .insert(option, value.as_str());
                }
            }
        }
        let empty = BTreeMap::new();
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                column_gen(
                    f.name(),
                    f.data_type(),
                    per_column.get(f.name()).unwrap_or(&empty),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            rows_per_second,
            number_of_rows,
            seed,
            columns,
        })
    }

    /// Rows in all: the row count, or where a sequence ends.
    pub fn total_rows(&self) -> Option<u64> {
        let sequence_rows = self
            .columns
            .iter()
            .filter_map(|c| match c {
                ColumnGen::Sequence {
                    start,
                    step,
                    end: Some(end),
                } => Some(((end - start) / step) as u64 + 1),
                _ => None,
            })
            .min();
        match (self.number_of_rows, sequence_rows) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

const ALPHANUMERIC: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Generates rows `rows` (row indices) of one column.
fn generate_column(
    generator: &ColumnGen,
    t: &DataType,
    seed: u64,
    column: usize,
    rows: &[u64],
) -> std::result::Result<ArrayRef, arrow::error::ArrowError> {
    let ints = |f: &dyn Fn(u64) -> i64| -> Vec<i64> { rows.iter().map(|r| f(*r)).collect() };
    let values: Vec<i64> = match generator {
        ColumnGen::RandomInt { min, max } => {
            let span = (*max as i128 - *min as i128 + 1) as u128;
            ints(&|r| {
                (*min as i128 + (random(seed, column as u64, r) as u128 % span) as i128) as i64
            })
        }
        ColumnGen::Sequence { start, step, .. } => {
            ints(&|r| start.wrapping_add((r as i64).wrapping_mul(*step)))
        }
        ColumnGen::RandomFloat { min, max } => {
            let values = rows.iter().map(|r| {
                let unit = (random(seed, column as u64, *r) >> 11) as f64 / (1u64 << 53) as f64;
                min + unit * (max - min)
            });
            return Ok(match t {
                DataType::Float32 => {
                    Arc::new(Float32Array::from_iter_values(values.map(|v| v as f32)))
                }
                _ => Arc::new(Float64Array::from_iter_values(values)),
            });
        }
        ColumnGen::RandomBool => {
            return Ok(Arc::new(BooleanArray::from_iter(
                rows.iter()
                    .map(|r| Some(random(seed, column as u64, *r) & 1 == 1)),
            )));
        }
        ColumnGen::RandomText { length } => {
            let mut buf = String::with_capacity(*length);
            let strings: Vec<String> = rows
                .iter()
                .map(|r| {
                    buf.clear();
                    let mut state = random(seed, column as u64, *r);
                    for i in 0..*length {
                        if i % 10 == 0 && i > 0 {
                            state = mix(state);
                        }
                        buf.push(ALPHANUMERIC[(state % 62) as usize] as char);
                        state /= 62;
                    }
                    buf.clone()
                })
                .collect();
            return Ok(Arc::new(StringArray::from(strings)));
        }
        ColumnGen::Values(list) => {
            let picks: Vec<&str> = rows
                .iter()
                .map(|r| {
                    list[(random(seed, column as u64, *r) % list.len() as u64) as usize].as_str()
                })
                .collect();
            let text: ArrayRef = Arc::new(StringArray::from(picks));
            return arrow::compute::cast(&text, t);
        }
    };
    Ok(match t {
        DataType::Int16 => Arc::new(Int16Array::from_iter_values(
            values.iter().map(|v| *v as i16),
        )),
        DataType::Int32 => Arc::new(Int32Array::from_iter_values(
            values.iter().map(|v| *v as i32),
        )),
        DataType::Int64 => Arc::new(Int64Array::from(values)),
        DataType::Date32 => Arc::new(Date32Array::from_iter_values(
            values.iter().map(|v| *v as i32),
        )),
        // Times are generated in microseconds, whatever the column's unit.
        DataType::Timestamp(TimeUnit::Microsecond, tz) => {
            Arc::new(TimestampMicrosecondArray::from(values).with_timezone_opt(tz.clone()))
        }
        DataType::Timestamp(_, tz) => {
            let micros: ArrayRef =
                Arc::new(TimestampMicrosecondArray::from(values).with_timezone_opt(tz.clone()));
            return arrow::compute::cast(&micros, t);
        }
        DataType::Utf8 => Arc::new(StringArray::from_iter_values(
            values.iter().map(|v| v.to_string()),
        )),
        other => {
            return Err(arrow::error::ArrowError::InvalidArgumentError(format!(
                "datagen cannot generate {other}"
            )));
        }
    })
}

/// One worker's share of a datagen table.
#[derive(Debug)]
pub struct DatagenReader {
    options: DatagenOptions,
    /// The full schema and the generated columns' positions in it.
    schema: SchemaRef,
    output: SchemaRef,
    projection: Vec<usize>,
    pacer: SplitPacer,
}

impl DatagenReader {
    fn new(spec: &SourceSpec, ctx: &SourceContext, options: DatagenOptions) -> Result<Self> {
        let schema = Arc::new(spec.schema.clone());
        let output = spec
            .output_schema()
            .map_err(|e| Error::arrow("datagen projection", e))?;
        let projection = spec
            .projection
            .clone()
            .unwrap_or_else(|| (0..schema.fields().len()).collect());
        let mut total = options.total_rows();
        if let Some(limit) = spec.limit {
            total = Some(total.map_or(limit as u64, |t| t.min(limit as u64)));
        }
        let pacer = SplitPacer::new(
            ctx,
            spec.resume.as_ref(),
            options.rows_per_second,
            total,
            ctx.batch_size,
        );
        Ok(Self {
            options,
            schema,
            output,
            projection,
            pacer,
        })
    }

    fn generate(&self, rows: &[u64]) -> std::result::Result<RecordBatch, arrow::error::ArrowError> {
        let columns = self
            .projection
            .iter()
            .map(|c| {
                generate_column(
                    &self.options.columns[*c],
                    self.schema.field(*c).data_type(),
                    self.options.seed,
                    *c,
                    rows,
                )
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        RecordBatch::try_new_with_options(
            Arc::clone(&self.output),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows.len())),
        )
    }
}

impl SourceReader for DatagenReader {
    fn poll_next(&mut self) -> Result<SourcePoll, QueryError> {
        match self.pacer.next() {
            Next::Positions(rows) => {
                let batch = self
                    .generate(&rows)
                    .map_err(|e| Error::arrow("datagen", e).into_query_error())?;
                Ok(SourcePoll::Batch(batch))
            }
            Next::Pending => Ok(SourcePoll::Pending),
            Next::Finished => Ok(SourcePoll::Finished),
        }
    }

    fn offsets(&self) -> SplitOffsets {
        self.pacer.offsets()
    }
}

/// The `datagen` connector.
#[derive(Debug, Default, Clone, Copy)]
pub struct DatagenConnector;

impl Connector for DatagenConnector {
    fn name(&self) -> &'static str {
        CONNECTOR_NAME
    }

    /// Generated rows resume at their sequence position per split.
    fn can_resume(&self) -> bool {
        true
    }

    fn validate(
        &self,
        options: &BTreeMap<String, String>,
        declared: Option<SchemaRef>,
    ) -> Result<SchemaRef, QueryError> {
        let Some(schema) = declared else {
            return Err(Error::OptionConflict(
                "a datagen table needs its columns declared".to_string(),
            )
            .into_query_error());
        };
        DatagenOptions::parse(options, &schema).map_err(Error::into_query_error)?;
        Ok(schema)
    }

    fn open(
        &self,
        spec: &SourceSpec,
        ctx: &SourceContext,
    ) -> Result<Box<dyn SourceReader>, QueryError> {
        let options =
            DatagenOptions::parse(&spec.options, &spec.schema).map_err(Error::into_query_error)?;
        let reader = DatagenReader::new(spec, ctx, options).map_err(Error::into_query_error)?;
        Ok(Box::new(reader))
    }
}

#[cfg(test)]
mod tests;
