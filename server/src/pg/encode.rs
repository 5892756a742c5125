//! Result values on the wire: Arrow values encoded in Postgres's text and
//! binary formats, one `DataRow` at a time.
//!
//! Text output matches Postgres's `*out` functions: booleans `t`/`f`;
//! floats in the shortest form that reads back exactly when
//! `extra_float_digits` is at least 1 (Postgres 12 and later), `%.*g` with
//! 15 (float8) or 6 (float4) digits plus `extra_float_digits` otherwise;
//! numerics with their scale; dates and timestamps in ISO style with
//! fractional seconds trimmed, `timestamptz` in the session time zone;
//! intervals in the `postgres` IntervalStyle; bytea in hex; arrays as
//! `{a,b}`. Binary output follows Postgres's `*send` functions.

use std::fmt::Write as _;

use arrow::array::timezone::Tz;
use arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeBinaryBuilder, GenericListArray, OffsetSizeTrait,
};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Date64Type, Decimal32Type, Decimal64Type,
    Decimal128Type, Decimal256Type, DurationMicrosecondType, DurationMillisecondType,
    DurationNanosecondType, DurationSecondType, Float16Type, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, IntervalDayTimeType, IntervalMonthDayNanoType, IntervalUnit,
    IntervalYearMonthType, Time32MillisecondType, Time32SecondType, Time64MicrosecondType,
    Time64NanosecondType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use bytes::{BufMut, BytesMut};
use chrono::{Offset, TimeZone};

use super::types::{is_text, pg_type};
use crate::error::{SqlError, SqlResult};

/// Days from 1970-01-01 to 2000-01-01 (the Postgres epoch).
pub(crate) const PG_EPOCH_DAYS: i64 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
pub(crate) const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS * MICROS_PER_DAY;
pub(crate) const MICROS_PER_DAY: i64 = 86_400_000_000;
const MICROS_PER_HOUR: i64 = 3_600_000_000;
const MICROS_PER_MINUTE: i64 = 60_000_000;
const MICROS_PER_SECOND: i64 = 1_000_000;

/// Wire format of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Format code 0.
    Text,
    /// Format code 1.
    Binary,
}

impl Format {
    /// The format of a format code.
    ///
    /// # Errors
    ///
    /// 22023 for codes other than 0 and 1.
    pub(crate) fn from_code(code: i16) -> SqlResult<Self> {
        match code {
            0 => Ok(Self::Text),
            1 => Ok(Self::Binary),
            other => Err(SqlError::new(
                "22023",
                format!("unsupported format code: {other}"),
            )),
        }
    }

    /// The format code.
    pub(crate) fn code(self) -> i16 {
        match self {
            Self::Text => 0,
            Self::Binary => 1,
        }
    }
}

/// Session settings that change how values are rendered.
#[derive(Debug, Clone)]
pub(crate) struct EncodeContext {
    /// Time zone `timestamptz` values are shown in (`None`: UTC).
    tz: Option<Tz>,
    /// `extra_float_digits`.
    extra_float_digits: i32,
}

impl EncodeContext {
    /// Context for a session's `TimeZone` and `extra_float_digits`.
    pub(crate) fn new(timezone: &str, extra_float_digits: i32) -> Self {
        Self {
            tz: parse_timezone(timezone),
            extra_float_digits,
        }
    }
}

/// Parses a `TimeZone` setting: a zone name (`Europe/Paris`) or an ISO
/// offset (`+05:30`, `-8`). `None` stands for UTC (also the fallback for
/// zones we do not know).
pub(crate) fn parse_timezone(name: &str) -> Option<Tz> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("utc")
        || name.eq_ignore_ascii_case("gmt")
        || name.eq_ignore_ascii_case("z")
    {
        return None;
    }
    match short_offset(name) {
        Some(hours) => format!("{}{hours:02}:00", &name[..1]).parse().ok(),
        None => name.parse().ok(),
    }
}

/// `+5`, `-8`, `+10`: whole hours.
fn short_offset(name: &str) -> Option<u32> {
    let digits = name.strip_prefix('+').or_else(|| name.strip_prefix('-'))?;
    if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|h| *h <= 15)
}

/// Prepares a result column for encoding: dictionaries are unpacked.
///
/// # Errors
///
/// A cast failure (internal).
pub(crate) fn normalize_column(column: &ArrayRef) -> SqlResult<ArrayRef> {
    match column.data_type() {
        DataType::Dictionary(_, value) => arrow::compute::cast(column, value)
            .map_err(|e| SqlError::internal(format!("cannot unpack column: {e}"))),
        _ => Ok(std::sync::Arc::clone(column)),
    }
}

/// A text column of Postgres type `"char"` in its binary form: one byte
/// per value (the first byte of the text, 0 for the empty value), as
/// `charsend` writes it.
///
/// # Errors
///
/// A column that is not text (internal).
pub(crate) fn char_column(column: &ArrayRef) -> SqlResult<ArrayRef> {
    let text = arrow::compute::cast(column, &DataType::Utf8)
        .map_err(|e| SqlError::internal(format!("cannot send a \"char\" column: {e}")))?;
    let text = text.as_string::<i32>();
    let mut out = FixedSizeBinaryBuilder::with_capacity(text.len(), 1);
    for value in text {
        match value {
            Some(v) => out
                .append_value([v.as_bytes().first().copied().unwrap_or(0)])
                .map_err(|e| SqlError::internal(e.to_string()))?,
            None => out.append_null(),
        }
    }
    Ok(std::sync::Arc::new(out.finish()))
}

/// An `int2vector` / `oidvector` column (lists of integers) in text
/// format: Postgres writes those as the elements separated by spaces
/// (`1 3`), not as an array literal, and clients (SQLAlchemy's reflection)
/// split them so.
///
/// # Errors
///
/// A column that is not a list of integers (internal).
pub(crate) fn vector_column(column: &ArrayRef) -> SqlResult<ArrayRef> {
    let lists = column
        .as_list_opt::<i32>()
        .ok_or_else(|| wrong_type(column.as_ref()))?;
    let mut out = arrow::array::StringBuilder::with_capacity(lists.len(), lists.len() * 4);
    let mut text = String::new();
    for row in 0..lists.len() {
        if lists.is_null(row) {
            out.append_null();
            continue;
        }
        let values = arrow::compute::cast(&lists.value(row), &DataType::Int64)
            .map_err(|e| SqlError::internal(format!("cannot send a vector column: {e}")))?;
        text.clear();
        for (i, v) in values.as_primitive::<Int64Type>().iter().enumerate() {
            if i > 0 {
                text.push(' ');
            }
            let _ = std::fmt::Write::write_fmt(&mut text, format_args!("{}", v.unwrap_or(0)));
        }
        out.append_value(&text);
    }
    Ok(std::sync::Arc::new(out.finish()))
}

/// Appends the fields of row `row` of `columns` to `buf` (the body of a
/// `DataRow` without its field count).
///
/// # Errors
///
/// A value that cannot be represented (for example a date out of range).
pub(crate) fn encode_row(
    columns: &[ArrayRef],
    formats: &[Format],
    row: usize,
    ctx: &EncodeContext,
    buf: &mut BytesMut,
) -> SqlResult<()> {
    for (i, column) in columns.iter().enumerate() {
        let format = formats.get(i).copied().unwrap_or(Format::Text);
        write_field(column.as_ref(), row, format, ctx, buf)?;
    }
    Ok(())
}

/// The start of binary `COPY` data: the signature, no flags, no header
/// extension.
pub(crate) const COPY_BINARY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The end of binary `COPY` data: a field count of -1.
pub(crate) const COPY_BINARY_TRAILER: &[u8] = &[0xff, 0xff];

/// Appends one row of `COPY ... TO STDOUT` data in `options`' format: a
/// text or CSV line with its line end, or a binary tuple (field count, then
/// each field length-prefixed in its binary form, as in `DataRow`).
/// `scratch` is reused between fields.
///
/// Text escapes backslash, the delimiter and control characters as
/// Postgres's `CopyAttributeOutText` does; CSV quotes a field holding the
/// delimiter, the quote, a line break or the NULL marker, doubling quotes
/// and escapes inside (`CopyAttributeOutCSV`).
///
/// # Errors
///
/// A value that cannot be represented.
pub(crate) fn encode_copy_row(
    columns: &[ArrayRef],
    row: usize,
    ctx: &EncodeContext,
    options: &tidewater_planner::statement::CopyOptions,
    scratch: &mut BytesMut,
    buf: &mut BytesMut,
) -> SqlResult<()> {
    use tidewater_planner::statement::CopyFormat;
    if options.format == CopyFormat::Binary {
        let count =
            i16::try_from(columns.len()).map_err(|_| SqlError::new("54011", "too many columns"))?;
        buf.put_i16(count);
        for column in columns {
            write_field(column.as_ref(), row, Format::Binary, ctx, buf)?;
        }
        return Ok(());
    }
    let mut delimiter = [0u8; 4];
    let delimiter = options.delimiter.encode_utf8(&mut delimiter).as_bytes();
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            buf.put_slice(delimiter);
        }
        if is_null(column.as_ref(), row) {
            buf.put_slice(options.null.as_bytes());
            continue;
        }
        scratch.clear();
        write_text(column.as_ref(), row, ctx, scratch)?;
        match options.format {
            CopyFormat::Csv => copy_csv_field(scratch, options, delimiter, buf),
            CopyFormat::Text | CopyFormat::Binary => copy_text_field(scratch, delimiter, buf),
        }
    }
    buf.put_u8(b'\n');
    Ok(())
}

fn copy_text_field(value: &[u8], delimiter: &[u8], buf: &mut BytesMut) {
    for &b in value {
        match b {
            b'\\' => buf.put_slice(b"\\\\"),
            b'\n' => buf.put_slice(b"\\n"),
            b'\r' => buf.put_slice(b"\\r"),
            b'\t' => buf.put_slice(b"\\t"),
            0x08 => buf.put_slice(b"\\b"),
            0x0c => buf.put_slice(b"\\f"),
            0x0b => buf.put_slice(b"\\v"),
            _ if delimiter.len() == 1 && b == delimiter[0] => {
                buf.put_u8(b'\\');
                buf.put_u8(b);
            }
            _ => buf.put_u8(b),
        }
    }
}

fn copy_csv_field(
    value: &[u8],
    options: &tidewater_planner::statement::CopyOptions,
    delimiter: &[u8],
    buf: &mut BytesMut,
) {
    let quote = options.quote as u8;
    let escape = options.escape as u8;
    let needs_quotes = value == options.null.as_bytes()
        || value
            .iter()
            .any(|&b| b == quote || b == b'\n' || b == b'\r' || delimiter.contains(&b));
    if !needs_quotes {
        buf.put_slice(value);
        return;
    }
    buf.put_u8(quote);
    for &b in value {
        if b == quote || b == escape {
            buf.put_u8(escape);
        }
        buf.put_u8(b);
    }
    buf.put_u8(quote);
}

/// Appends one length-prefixed field (-1 for NULL).
fn write_field(
    array: &dyn Array,
    row: usize,
    format: Format,
    ctx: &EncodeContext,
    buf: &mut BytesMut,
) -> SqlResult<()> {
    if is_null(array, row) {
        buf.put_i32(-1);
        return Ok(());
    }
    let start = buf.len();
    buf.put_i32(0);
    match format {
        Format::Text => write_text(array, row, ctx, buf)?,
        Format::Binary => write_binary(array, row, ctx, buf)?,
    }
    let len = i32::try_from(buf.len() - start - 4)
        .map_err(|_| SqlError::new("54000", "value too large to send"))?;
    buf[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

fn is_null(array: &dyn Array, row: usize) -> bool {
    array.data_type() == &DataType::Null || array.is_null(row)
}

fn wrong_type(array: &dyn Array) -> SqlError {
    SqlError::internal(format!("unexpected array for {}", array.data_type()))
}

fn prim<T: ArrowPrimitiveType>(array: &dyn Array, row: usize) -> SqlResult<T::Native> {
    array
        .as_primitive_opt::<T>()
        .map(|a| a.value(row))
        .ok_or_else(|| wrong_type(array))
}

fn fmt_err(_: std::fmt::Error) -> SqlError {
    SqlError::internal("cannot format value")
}

/// Writes the text form of a non-null value.
fn write_text(
    array: &dyn Array,
    row: usize,
    ctx: &EncodeContext,
    buf: &mut BytesMut,
) -> SqlResult<()> {
    macro_rules! display {
        ($t:ty) => {
            write!(buf, "{}", prim::<$t>(array, row)?).map_err(fmt_err)?
        };
    }
    match array.data_type() {
        DataType::Boolean => {
            let v = array
                .as_boolean_opt()
                .ok_or_else(|| wrong_type(array))?
                .value(row);
            buf.put_u8(if v { b't' } else { b'f' });
        }
        DataType::Int8 => display!(Int8Type),
        DataType::Int16 => display!(Int16Type),
        DataType::Int32 => display!(Int32Type),
        DataType::Int64 => display!(Int64Type),
        DataType::UInt8 => display!(UInt8Type),
        DataType::UInt16 => display!(UInt16Type),
        DataType::UInt32 => display!(UInt32Type),
        DataType::UInt64 => display!(UInt64Type),
        DataType::Float16 => {
            let v = prim::<Float16Type>(array, row)?.to_f32();
            buf.put_slice(format_float4(v, ctx.extra_float_digits).as_bytes());
        }
        DataType::Float32 => {
            let v = prim::<Float32Type>(array, row)?;
            buf.put_slice(format_float4(v, ctx.extra_float_digits).as_bytes());
        }
        DataType::Float64 => {
            let v = prim::<Float64Type>(array, row)?;
            buf.put_slice(format_float8(v, ctx.extra_float_digits).as_bytes());
        }
        DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => {
            let (unscaled, scale) = decimal_parts(array, row)?;
            buf.put_slice(format_decimal(&unscaled, scale).as_bytes());
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            buf.put_slice(string_value(array, row)?.as_bytes());
        }
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let bytes = binary_value(array, row)?;
            buf.reserve(2 + 2 * bytes.len());
            buf.put_slice(b"\\x");
            for b in bytes {
                buf.put_u8(HEX[usize::from(b >> 4)]);
                buf.put_u8(HEX[usize::from(b & 0xf)]);
            }
        }
        DataType::Date32 | DataType::Date64 => write_date(buf, date_days(array, row)?),
        DataType::Time32(_) | DataType::Time64(_) => write_time(buf, time_micros(array, row)?),
        DataType::Timestamp(_, tz) => {
            let micros = timestamp_micros(array, row)?;
            if tz.is_some() {
                let offset = utc_offset(ctx.tz.as_ref(), micros);
                let local = micros.saturating_add(i64::from(offset) * MICROS_PER_SECOND);
                write_timestamp(buf, local, Some(offset));
            } else {
                write_timestamp(buf, micros, None);
            }
        }
        DataType::Interval(_) | DataType::Duration(_) => {
            let (months, days, micros) = interval_parts(array, row)?;
            write_interval(buf, months, days, micros);
        }
        DataType::List(_) => write_text_list(
            array
                .as_list_opt::<i32>()
                .ok_or_else(|| wrong_type(array))?,
            row,
            ctx,
            buf,
        )?,
        DataType::LargeList(_) => {
            write_text_list(
                array
                    .as_list_opt::<i64>()
                    .ok_or_else(|| wrong_type(array))?,
                row,
                ctx,
                buf,
            )?;
        }
        DataType::FixedSizeList(_, _) => {
            let list = array
                .as_fixed_size_list_opt()
                .ok_or_else(|| wrong_type(array))?;
            write_text_elements(list.value(row).as_ref(), ctx, buf)?;
        }
        _ => {
            let formatter =
                ArrayFormatter::try_new(array, &FormatOptions::default()).map_err(|e| {
                    SqlError::internal(format!("cannot format {}: {e}", array.data_type()))
                })?;
            write!(buf, "{}", formatter.value(row)).map_err(fmt_err)?;
        }
    }
    Ok(())
}

fn write_text_list<O: OffsetSizeTrait>(
    list: &GenericListArray<O>,
    row: usize,
    ctx: &EncodeContext,
    buf: &mut BytesMut,
) -> SqlResult<()> {
    write_text_elements(list.value(row).as_ref(), ctx, buf)
}

/// `{a,b,NULL}` with Postgres's quoting of elements.
fn write_text_elements(
    values: &dyn Array,
    ctx: &EncodeContext,
    buf: &mut BytesMut,
) -> SqlResult<()> {
    let nested = matches!(
        values.data_type(),
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _)
    );
    buf.put_u8(b'{');
    let mut element = BytesMut::new();
    for i in 0..values.len() {
        if i > 0 {
            buf.put_u8(b',');
        }
        if is_null(values, i) {
            buf.put_slice(b"NULL");
            continue;
        }
        element.clear();
        write_text(values, i, ctx, &mut element)?;
        if nested || !needs_quotes(&element) {
            buf.put_slice(&element);
        } else {
            buf.put_u8(b'"');
            for b in element.iter() {
                if *b == b'"' || *b == b'\\' {
                    buf.put_u8(b'\\');
                }
                buf.put_u8(*b);
            }
            buf.put_u8(b'"');
        }
    }
    buf.put_u8(b'}');
    Ok(())
}

fn needs_quotes(element: &[u8]) -> bool {
    element.is_empty()
        || element.eq_ignore_ascii_case(b"null")
        || element
            .iter()
            .any(|b| matches!(b, b'{' | b'}' | b',' | b'"' | b'\\') || b.is_ascii_whitespace())
}

/// Writes the binary form of a non-null value.
fn write_binary(
    array: &dyn Array,
    row: usize,
    ctx: &EncodeContext,
    buf: &mut BytesMut,
) -> SqlResult<()> {
    match array.data_type() {
        DataType::Boolean => {
            let v = array
                .as_boolean_opt()
                .ok_or_else(|| wrong_type(array))?
                .value(row);
            buf.put_u8(u8::from(v));
        }
        DataType::Int8 => buf.put_i16(i16::from(prim::<Int8Type>(array, row)?)),
        DataType::Int16 => buf.put_i16(prim::<Int16Type>(array, row)?),
        DataType::UInt8 => buf.put_i16(i16::from(prim::<UInt8Type>(array, row)?)),
        DataType::Int32 => buf.put_i32(prim::<Int32Type>(array, row)?),
        DataType::UInt16 => buf.put_i32(i32::from(prim::<UInt16Type>(array, row)?)),
        DataType::Int64 => buf.put_i64(prim::<Int64Type>(array, row)?),
        DataType::UInt32 => buf.put_i64(i64::from(prim::<UInt32Type>(array, row)?)),
        DataType::UInt64 => {
            write_numeric_binary(buf, &prim::<UInt64Type>(array, row)?.to_string(), 0)
        }
        DataType::Float16 => buf.put_f32(prim::<Float16Type>(array, row)?.to_f32()),
        DataType::Float32 => buf.put_f32(prim::<Float32Type>(array, row)?),
        DataType::Float64 => buf.put_f64(prim::<Float64Type>(array, row)?),
        DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => {
            let (unscaled, scale) = decimal_parts(array, row)?;
            write_numeric_binary(buf, &unscaled, scale);
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            buf.put_slice(string_value(array, row)?.as_bytes());
        }
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => {
            buf.put_slice(binary_value(array, row)?);
        }
        DataType::Date32 | DataType::Date64 => {
            let days = date_days(array, row)? - PG_EPOCH_DAYS;
            buf.put_i32(
                i32::try_from(days).map_err(|_| SqlError::new("22008", "date out of range"))?,
            );
        }
        DataType::Time32(_) | DataType::Time64(_) => buf.put_i64(time_micros(array, row)?),
        DataType::Timestamp(_, _) => {
            let micros = timestamp_micros(array, row)?;
            buf.put_i64(micros.saturating_sub(PG_EPOCH_MICROS));
        }
        DataType::Interval(_) | DataType::Duration(_) => {
            let (months, days, micros) = interval_parts(array, row)?;
            buf.put_i64(micros);
            buf.put_i32(days);
            buf.put_i32(months);
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _)
            if !is_text(&pg_type(array.data_type())) =>
        {
            let values = match array.data_type() {
                DataType::List(_) => array.as_list_opt::<i32>().map(|l| l.value(row)),
                DataType::LargeList(_) => array.as_list_opt::<i64>().map(|l| l.value(row)),
                _ => array.as_fixed_size_list_opt().map(|l| l.value(row)),
            }
            .ok_or_else(|| wrong_type(array))?;
            write_binary_array(values.as_ref(), ctx, buf)?;
        }
        _ => write_text(array, row, ctx, buf)?,
    }
    Ok(())
}

/// A one-dimensional array in `array_send` form.
fn write_binary_array(
    values: &dyn Array,
    ctx: &EncodeContext,
    buf: &mut BytesMut,
) -> SqlResult<()> {
    let element = pg_type(values.data_type());
    let len = i32::try_from(values.len())
        .map_err(|_| SqlError::new("54000", "array too large to send"))?;
    let has_nulls = (0..values.len()).any(|i| is_null(values, i));
    buf.put_i32(i32::from(len > 0));
    buf.put_i32(i32::from(has_nulls));
    buf.put_u32(element.oid());
    if len > 0 {
        buf.put_i32(len);
        buf.put_i32(1);
    }
    for i in 0..values.len() {
        write_field(values, i, Format::Binary, ctx, buf)?;
    }
    Ok(())
}

fn string_value(array: &dyn Array, row: usize) -> SqlResult<&str> {
    match array.data_type() {
        DataType::Utf8 => array.as_string_opt::<i32>().map(|a| a.value(row)),
        DataType::LargeUtf8 => array.as_string_opt::<i64>().map(|a| a.value(row)),
        DataType::Utf8View => array.as_string_view_opt().map(|a| a.value(row)),
        _ => None,
    }
    .ok_or_else(|| wrong_type(array))
}

fn binary_value(array: &dyn Array, row: usize) -> SqlResult<&[u8]> {
    match array.data_type() {
        DataType::Binary => array.as_binary_opt::<i32>().map(|a| a.value(row)),
        DataType::LargeBinary => array.as_binary_opt::<i64>().map(|a| a.value(row)),
        DataType::BinaryView => array.as_binary_view_opt().map(|a| a.value(row)),
        DataType::FixedSizeBinary(_) => array.as_fixed_size_binary_opt().map(|a| a.value(row)),
        _ => None,
    }
    .ok_or_else(|| wrong_type(array))
}

/// The unscaled integer (decimal digits, maybe `-`) and scale of a decimal.
fn decimal_parts(array: &dyn Array, row: usize) -> SqlResult<(String, i32)> {
    Ok(match array.data_type() {
        DataType::Decimal32(_, s) => (
            prim::<Decimal32Type>(array, row)?.to_string(),
            i32::from(*s),
        ),
        DataType::Decimal64(_, s) => (
            prim::<Decimal64Type>(array, row)?.to_string(),
            i32::from(*s),
        ),
        DataType::Decimal128(_, s) => (
            prim::<Decimal128Type>(array, row)?.to_string(),
            i32::from(*s),
        ),
        DataType::Decimal256(_, s) => (
            prim::<Decimal256Type>(array, row)?.to_string(),
            i32::from(*s),
        ),
        _ => return Err(wrong_type(array)),
    })
}

/// Days since 1970-01-01.
fn date_days(array: &dyn Array, row: usize) -> SqlResult<i64> {
    match array.data_type() {
        DataType::Date32 => Ok(i64::from(prim::<Date32Type>(array, row)?)),
        DataType::Date64 => Ok(prim::<Date64Type>(array, row)?.div_euclid(86_400_000)),
        _ => Err(wrong_type(array)),
    }
}

/// Microseconds since midnight.
fn time_micros(array: &dyn Array, row: usize) -> SqlResult<i64> {
    match array.data_type() {
        DataType::Time32(TimeUnit::Second) => {
            Ok(i64::from(prim::<Time32SecondType>(array, row)?) * MICROS_PER_SECOND)
        }
        DataType::Time32(_) => Ok(i64::from(prim::<Time32MillisecondType>(array, row)?) * 1000),
        DataType::Time64(TimeUnit::Microsecond) => prim::<Time64MicrosecondType>(array, row),
        DataType::Time64(_) => Ok(prim::<Time64NanosecondType>(array, row)?.div_euclid(1000)),
        _ => Err(wrong_type(array)),
    }
}

/// Microseconds since 1970-01-01 00:00:00 (UTC for `timestamptz`).
fn timestamp_micros(array: &dyn Array, row: usize) -> SqlResult<i64> {
    match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            Ok(prim::<TimestampSecondType>(array, row)?.saturating_mul(MICROS_PER_SECOND))
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            Ok(prim::<TimestampMillisecondType>(array, row)?.saturating_mul(1000))
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            prim::<TimestampMicrosecondType>(array, row)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            Ok(prim::<TimestampNanosecondType>(array, row)?.div_euclid(1000))
        }
        _ => Err(wrong_type(array)),
    }
}

/// `(months, days, microseconds)` of an interval or duration. Durations
/// are split into whole days and the rest, like Postgres's
/// `justify_hours` on the difference of two timestamps.
fn interval_parts(array: &dyn Array, row: usize) -> SqlResult<(i32, i32, i64)> {
    let duration = |micros: i64| {
        let days = micros / MICROS_PER_DAY;
        (
            0,
            i32::try_from(days).unwrap_or(if days < 0 { i32::MIN } else { i32::MAX }),
            micros % MICROS_PER_DAY,
        )
    };
    Ok(match array.data_type() {
        DataType::Interval(IntervalUnit::YearMonth) => {
            (prim::<IntervalYearMonthType>(array, row)?, 0, 0)
        }
        DataType::Interval(IntervalUnit::DayTime) => {
            let v = prim::<IntervalDayTimeType>(array, row)?;
            (0, v.days, i64::from(v.milliseconds) * 1000)
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            let v = prim::<IntervalMonthDayNanoType>(array, row)?;
            (v.months, v.days, v.nanoseconds / 1000)
        }
        DataType::Duration(TimeUnit::Second) => {
            duration(prim::<DurationSecondType>(array, row)?.saturating_mul(MICROS_PER_SECOND))
        }
        DataType::Duration(TimeUnit::Millisecond) => {
            duration(prim::<DurationMillisecondType>(array, row)?.saturating_mul(1000))
        }
        DataType::Duration(TimeUnit::Microsecond) => {
            duration(prim::<DurationMicrosecondType>(array, row)?)
        }
        DataType::Duration(TimeUnit::Nanosecond) => {
            duration(prim::<DurationNanosecondType>(array, row)? / 1000)
        }
        _ => return Err(wrong_type(array)),
    })
}

/// The UTC offset of `tz` (UTC when `None`), in seconds, at the instant `micros` (UTC).
fn utc_offset(tz: Option<&Tz>, micros: i64) -> i32 {
    match (tz, chrono::DateTime::from_timestamp_micros(micros)) {
        (Some(tz), Some(t)) => tz
            .offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc(),
        _ => 0,
    }
}

/// Proleptic Gregorian `(year, month, day)` of a day number (days since
/// 1970-01-01); year 0 is 1 BC.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DD`; returns whether the year is BC (the caller appends ` BC`).
fn write_ymd(buf: &mut BytesMut, days: i64) -> bool {
    let (year, month, day) = civil_from_days(days);
    let bc = year <= 0;
    let year = if bc { 1 - year } else { year };
    let _ = write!(buf, "{year:04}-{month:02}-{day:02}");
    bc
}

fn write_date(buf: &mut BytesMut, days: i64) {
    if write_ymd(buf, days) {
        buf.put_slice(b" BC");
    }
}

/// `HH:MM:SS[.ffffff]` with trailing zeros of the fraction trimmed.
fn write_time(buf: &mut BytesMut, micros: i64) {
    let hours = micros / MICROS_PER_HOUR;
    let minutes = micros % MICROS_PER_HOUR / MICROS_PER_MINUTE;
    let seconds = micros % MICROS_PER_MINUTE / MICROS_PER_SECOND;
    let _ = write!(buf, "{hours:02}:{minutes:02}:");
    write_seconds(buf, seconds, micros % MICROS_PER_SECOND);
}

/// Seconds zero-padded to two digits, then the fraction if not zero.
fn write_seconds(buf: &mut BytesMut, seconds: i64, fraction: i64) {
    let _ = write!(buf, "{:02}", seconds.abs());
    if fraction != 0 {
        let digits = format!("{:06}", fraction.abs());
        buf.put_u8(b'.');
        buf.put_slice(digits.trim_end_matches('0').as_bytes());
    }
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM]]` of local wall-clock
/// microseconds, with the UTC offset for `timestamptz`.
fn write_timestamp(buf: &mut BytesMut, local_micros: i64, offset: Option<i32>) {
    let days = local_micros.div_euclid(MICROS_PER_DAY);
    let bc = write_ymd(buf, days);
    buf.put_u8(b' ');
    write_time(buf, local_micros.rem_euclid(MICROS_PER_DAY));
    if let Some(offset) = offset {
        let sign = if offset < 0 { '-' } else { '+' };
        let offset = offset.abs();
        let _ = write!(buf, "{sign}{:02}", offset / 3600);
        if offset % 3600 != 0 {
            let _ = write!(buf, ":{:02}", offset % 3600 / 60);
            if offset % 60 != 0 {
                let _ = write!(buf, ":{:02}", offset % 60);
            }
        }
    }
    if bc {
        buf.put_slice(b" BC");
    }
}

/// An interval in the `postgres` IntervalStyle: `1 year 2 mons 3 days
/// 04:05:06.5`, `-1 days +02:00:00`, `00:00:00` for zero.
fn write_interval(buf: &mut BytesMut, months: i32, days: i32, micros: i64) {
    let mut is_zero = true;
    let mut is_before = false;
    let mut part = |buf: &mut BytesMut, value: i64, unit: &str| {
        if value == 0 {
            return;
        }
        let space = if is_zero { "" } else { " " };
        let plus = if is_before && value > 0 { "+" } else { "" };
        let plural = if value != 1 { "s" } else { "" };
        let _ = write!(buf, "{space}{plus}{value} {unit}{plural}");
        is_before = value < 0;
        is_zero = false;
    };
    part(buf, i64::from(months / 12), "year");
    part(buf, i64::from(months % 12), "mon");
    part(buf, i64::from(days), "day");
    let hours = micros / MICROS_PER_HOUR;
    let minutes = micros % MICROS_PER_HOUR / MICROS_PER_MINUTE;
    let seconds = micros % MICROS_PER_MINUTE / MICROS_PER_SECOND;
    let fraction = micros % MICROS_PER_SECOND;
    if is_zero || micros != 0 {
        let minus = micros < 0;
        let space = if is_zero { "" } else { " " };
        let sign = if minus {
            "-"
        } else if is_before {
            "+"
        } else {
            ""
        };
        let _ = write!(buf, "{space}{sign}{:02}:{:02}:", hours.abs(), minutes.abs());
        write_seconds(buf, seconds, fraction);
    }
}

/// Places the decimal point in an unscaled integer: `("1250", 2)` is
/// `12.50`, `("-5", 3)` is `-0.005`, `("12", -2)` is `1200`.
pub(crate) fn format_decimal(unscaled: &str, scale: i32) -> String {
    let (negative, digits) = match unscaled.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, unscaled),
    };
    let sign = if negative { "-" } else { "" };
    if scale <= 0 {
        let zeros = if digits == "0" {
            0
        } else {
            scale.unsigned_abs() as usize
        };
        return format!("{sign}{digits}{}", "0".repeat(zeros));
    }
    let scale = scale as usize;
    let padded = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
    } else {
        digits.to_string()
    };
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// `numeric_send` of an unscaled integer and scale: base-10000 digits,
/// weight, sign and display scale.
fn write_numeric_binary(buf: &mut BytesMut, unscaled: &str, scale: i32) {
    let (negative, digits) = match unscaled.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, unscaled),
    };
    let dscale = scale.max(0) as usize;
    let (int, frac) = if scale <= 0 {
        (
            format!("{digits}{}", "0".repeat(scale.unsigned_abs() as usize)),
            String::new(),
        )
    } else if digits.len() <= dscale {
        (
            String::new(),
            format!("{}{digits}", "0".repeat(dscale - digits.len())),
        )
    } else {
        let (i, f) = digits.split_at(digits.len() - dscale);
        (i.to_string(), f.to_string())
    };
    let int = int.trim_start_matches('0');
    let int_padded = format!("{}{int}", "0".repeat((4 - int.len() % 4) % 4));
    let frac_padded = format!("{frac}{}", "0".repeat((4 - frac.len() % 4) % 4));
    let group = |s: &str| -> Vec<i16> {
        s.as_bytes()
            .chunks(4)
            .map(|c| c.iter().fold(0i16, |acc, d| acc * 10 + i16::from(d - b'0')))
            .collect()
    };
    let mut groups = group(&int_padded);
    let mut weight = groups.len() as i32 - 1;
    groups.extend(group(&frac_padded));
    let leading = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading);
    weight -= leading as i32;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    buf.put_i16(groups.len() as i16);
    buf.put_i16(weight as i16);
    buf.put_u16(if negative && !groups.is_empty() {
        0x4000
    } else {
        0
    });
    buf.put_u16(dscale as u16);
    for g in groups {
        buf.put_i16(g);
    }
}

/// `float8out`.
pub(crate) fn format_float8(v: f64, extra_float_digits: i32) -> String {
    if let Some(s) = special_float(v.is_nan(), v.is_infinite(), v.is_sign_negative()) {
        return s.to_string();
    }
    if extra_float_digits > 0 {
        shortest(&format!("{v:e}"), 15)
    } else {
        precision_g(
            &format!("{:.*e}", (15 + extra_float_digits - 1).max(0) as usize, v),
            15 + extra_float_digits,
        )
    }
}

/// `float4out`.
pub(crate) fn format_float4(v: f32, extra_float_digits: i32) -> String {
    if let Some(s) = special_float(v.is_nan(), v.is_infinite(), v.is_sign_negative()) {
        return s.to_string();
    }
    if extra_float_digits > 0 {
        shortest(&format!("{v:e}"), 6)
    } else {
        precision_g(
            &format!("{:.*e}", (6 + extra_float_digits - 1).max(0) as usize, v),
            6 + extra_float_digits,
        )
    }
}

fn special_float(nan: bool, infinite: bool, negative: bool) -> Option<&'static str> {
    match (nan, infinite, negative) {
        (true, _, _) => Some("NaN"),
        (false, true, false) => Some("Infinity"),
        (false, true, true) => Some("-Infinity"),
        _ => None,
    }
}

/// Splits Rust's `{:e}` output (`-1.25e-3`) into sign, digits and exponent.
fn split_exp(s: &str) -> (bool, String, i32) {
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (mantissa, exp) = s.split_once('e').unwrap_or((s, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (negative, digits, exp.parse().unwrap_or(0))
}

/// Scientific notation the way Postgres writes it: `1.5e+300`, `1e-05`.
fn scientific(negative: bool, digits: &str, exp: i32) -> String {
    let sign = if negative { "-" } else { "" };
    let (first, rest) = digits.split_at(1.min(digits.len()));
    let point = if rest.is_empty() { "" } else { "." };
    let exp_sign = if exp < 0 { '-' } else { '+' };
    format!("{sign}{first}{point}{rest}e{exp_sign}{:02}", exp.abs())
}

/// Shortest round-trip digits, fixed notation when the decimal exponent
/// is in `-4..threshold`, as Postgres's `double_to_shortest_decimal`.
fn shortest(formatted: &str, threshold: i32) -> String {
    let (negative, digits, exp) = split_exp(formatted);
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    if (-4..threshold).contains(&exp) {
        fixed(negative, digits, exp)
    } else {
        scientific(negative, digits, exp)
    }
}

/// Fixed notation of `0.digits × 10^(exp+1)`.
fn fixed(negative: bool, digits: &str, exp: i32) -> String {
    let sign = if negative { "-" } else { "" };
    let point = exp + 1;
    if point <= 0 {
        format!(
            "{sign}0.{}{digits}",
            "0".repeat(point.unsigned_abs() as usize)
        )
    } else if point as usize >= digits.len() {
        format!(
            "{sign}{digits}{}",
            "0".repeat(point as usize - digits.len())
        )
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{sign}{int}.{frac}")
    }
}

/// C's `%.{precision}g` from Rust's `{:.(precision-1)e}` output.
fn precision_g(formatted: &str, precision: i32) -> String {
    let precision = precision.max(1);
    let (negative, digits, exp) = split_exp(formatted);
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    if exp < -4 || exp >= precision {
        scientific(negative, digits, exp)
    } else {
        fixed(negative, digits, exp)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        BinaryArray, BooleanArray, Date32Array, Decimal128Array, DurationMicrosecondArray,
        Float32Array, Float64Array, Int32Array, IntervalMonthDayNanoArray, ListArray, StringArray,
        Time64MicrosecondArray, TimestampMicrosecondArray, UInt64Array,
    };
    use arrow::datatypes::IntervalMonthDayNano;

    use super::*;

    fn text(array: ArrayRef, ctx: &EncodeContext) -> Vec<Option<String>> {
        (0..array.len())
            .map(|row| {
                let mut buf = BytesMut::new();
                write_field(array.as_ref(), row, Format::Text, ctx, &mut buf).unwrap();
                let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
                (len >= 0).then(|| String::from_utf8(buf[4..].to_vec()).unwrap())
            })
            .collect()
    }

    fn one(array: ArrayRef) -> String {
        text(array, &EncodeContext::new("UTC", 1))
            .remove(0)
            .unwrap()
    }

    fn binary(array: ArrayRef) -> Vec<u8> {
        let mut buf = BytesMut::new();
        write_field(
            array.as_ref(),
            0,
            Format::Binary,
            &EncodeContext::new("UTC", 1),
            &mut buf,
        )
        .unwrap();
        buf[4..].to_vec()
    }

    #[test]
    fn floats_like_postgres() {
        let cases = [
            (0.1, "0.1"),
            (1e100, "1e+100"),
            (-0.0, "-0"),
            (0.0, "0"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
            (1e15, "1e+15"),
            (1e14, "100000000000000"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123.456, "123.456"),
            (1.0 / 3.0, "0.3333333333333333"),
            (-2.5e-300, "-2.5e-300"),
            (12345.0, "12345"),
        ];
        for (v, expected) in cases {
            assert_eq!(format_float8(v, 1), expected, "{v}");
        }
        assert_eq!(format_float8(1.0 / 3.0, 0), "0.333333333333333");
        assert_eq!(format_float8(0.1, 0), "0.1");
        assert_eq!(format_float8(1e15, 0), "1e+15");
        assert_eq!(format_float8(123456789.125, -10), "1.2346e+08");
        assert_eq!(format_float4(0.1, 1), "0.1");
        assert_eq!(format_float4(1e6, 1), "1e+06");
        assert_eq!(format_float4(123456.0, 1), "123456");
        assert_eq!(format_float4(1.0 / 3.0, 0), "0.333333");
        assert_eq!(format_float4(f32::NAN, 0), "NaN");
    }

    #[test]
    fn scalars_in_text() {
        assert_eq!(
            text(
                Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
                &EncodeContext::new("UTC", 1)
            ),
            vec![Some("t".into()), Some("f".into()), None]
        );
        let d = Decimal128Array::from(vec![1250, -5, 0])
            .with_precision_and_scale(10, 2)
            .unwrap();
        assert_eq!(
            text(Arc::new(d), &EncodeContext::new("UTC", 1)),
            vec![
                Some("12.50".into()),
                Some("-0.05".into()),
                Some("0.00".into())
            ]
        );
        assert_eq!(
            one(Arc::new(BinaryArray::from(vec![
                &[10u8, 11, 0xf0, 0x9c][..]
            ]))),
            "\\x0a0bf09c"
        );
        assert_eq!(
            one(Arc::new(UInt64Array::from(vec![u64::MAX]))),
            "18446744073709551615"
        );
        assert_eq!(one(Arc::new(Date32Array::from(vec![20454]))), "2026-01-01");
        assert_eq!(
            one(Arc::new(Date32Array::from(vec![-719_163]))),
            "0001-12-31 BC"
        );
        assert_eq!(
            one(Arc::new(Time64MicrosecondArray::from(vec![36_000_500_000]))),
            "10:00:00.5"
        );
        let ts = 1_767_261_600_000_000i64; // 2026-01-01 10:00:00 UTC
        assert_eq!(
            one(Arc::new(TimestampMicrosecondArray::from(vec![ts]))),
            "2026-01-01 10:00:00"
        );
        assert_eq!(
            one(Arc::new(TimestampMicrosecondArray::from(vec![
                ts + 500_000
            ]))),
            "2026-01-01 10:00:00.5"
        );
        let tstz =
            Arc::new(TimestampMicrosecondArray::from(vec![ts]).with_timezone("+00:00")) as ArrayRef;
        assert_eq!(one(Arc::clone(&tstz)), "2026-01-01 10:00:00+00");
        assert_eq!(
            text(Arc::clone(&tstz), &EncodeContext::new("+05:30", 1)),
            vec![Some("2026-01-01 15:30:00+05:30".into())]
        );
        assert_eq!(
            text(
                Arc::clone(&tstz),
                &EncodeContext::new("America/New_York", 1)
            ),
            vec![Some("2026-01-01 05:00:00-05".into())]
        );
        assert_eq!(
            text(tstz, &EncodeContext::new("-8", 1)),
            vec![Some("2026-01-01 02:00:00-08".into())]
        );
    }

    #[test]
    fn intervals_in_postgres_style() {
        let iv = |months, days, micros: i64| {
            one(Arc::new(IntervalMonthDayNanoArray::from(vec![
                IntervalMonthDayNano::new(months, days, micros * 1000),
            ])))
        };
        assert_eq!(iv(0, 1, 7_200_000_000), "1 day 02:00:00");
        assert_eq!(iv(3, 0, 0), "3 mons");
        assert_eq!(iv(0, 0, 1_500_000), "00:00:01.5");
        assert_eq!(iv(0, 0, 0), "00:00:00");
        assert_eq!(iv(14, 2, 0), "1 year 2 mons 2 days");
        assert_eq!(iv(1, 0, 0), "1 mon");
        assert_eq!(iv(0, -1, 7_200_000_000), "-1 days +02:00:00");
        assert_eq!(iv(0, 0, -3_600_000_000), "-01:00:00");
        assert_eq!(
            one(Arc::new(DurationMicrosecondArray::from(vec![
                93_600_000_000
            ]))),
            "1 day 02:00:00"
        );
    }

    #[test]
    fn arrays_in_text_and_binary() {
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![
            Some(1),
            None,
            Some(3),
        ])]);
        assert_eq!(one(Arc::new(list.clone())), "{1,NULL,3}");
        let bin = binary(Arc::new(list));
        let mut expected = BytesMut::new();
        expected.put_i32(1);
        expected.put_i32(1);
        expected.put_u32(23);
        expected.put_i32(3);
        expected.put_i32(1);
        expected.put_i32(4);
        expected.put_i32(1);
        expected.put_i32(-1);
        expected.put_i32(4);
        expected.put_i32(3);
        assert_eq!(bin, expected.to_vec());

        let values = StringArray::from(vec![
            Some("a"),
            Some("b c"),
            Some(""),
            Some("x\"y"),
            Some("NULL"),
        ]);
        let offsets = arrow::buffer::OffsetBuffer::new(vec![0, 5].into());
        let field = Arc::new(arrow::datatypes::Field::new("item", DataType::Utf8, true));
        let list = ListArray::new(field, offsets, Arc::new(values), None);
        assert_eq!(one(Arc::new(list)), r#"{a,"b c","","x\"y","NULL"}"#);
    }

    #[test]
    fn binary_scalars() {
        assert_eq!(
            binary(Arc::new(Int32Array::from(vec![7]))),
            7i32.to_be_bytes()
        );
        assert_eq!(
            binary(Arc::new(Float64Array::from(vec![0.5]))),
            0.5f64.to_be_bytes()
        );
        assert_eq!(
            binary(Arc::new(Float32Array::from(vec![0.5]))),
            0.5f32.to_be_bytes()
        );
        assert_eq!(
            binary(Arc::new(Date32Array::from(vec![10_958]))),
            1i32.to_be_bytes()
        );
        let d = Decimal128Array::from(vec![1_234_500])
            .with_precision_and_scale(10, 2)
            .unwrap();
        // 12345.00: digits [1, 2345], weight 1, scale 2.
        let mut expected = BytesMut::new();
        for v in [2i16, 1, 0, 2, 1, 2345] {
            expected.put_i16(v);
        }
        assert_eq!(binary(Arc::new(d)), expected.to_vec());
        let d = Decimal128Array::from(vec![-5])
            .with_precision_and_scale(10, 3)
            .unwrap();
        // -0.005: digits [50], weight -1, negative, scale 3.
        let mut expected = BytesMut::new();
        for v in [1i16, -1, 0x4000, 3, 50] {
            expected.put_i16(v);
        }
        assert_eq!(binary(Arc::new(d)), expected.to_vec());
    }

    #[test]
    fn decimal_text() {
        assert_eq!(format_decimal("1250", 2), "12.50");
        assert_eq!(format_decimal("-5", 3), "-0.005");
        assert_eq!(format_decimal("12", -2), "1200");
        assert_eq!(format_decimal("0", 0), "0");
    }

    #[test]
    fn char_columns_are_one_byte_in_binary() {
        let chars: ArrayRef = Arc::new(StringArray::from(vec![Some("r"), Some(""), None]));
        let bytes = char_column(&chars).unwrap();
        assert_eq!(binary(Arc::clone(&bytes)), b"r");
        let mut buf = BytesMut::new();
        let ctx = EncodeContext::new("UTC", 1);
        write_field(bytes.as_ref(), 1, Format::Binary, &ctx, &mut buf).unwrap();
        assert_eq!(&buf[..], &[0, 0, 0, 1, 0]);
        buf.clear();
        write_field(bytes.as_ref(), 2, Format::Binary, &ctx, &mut buf).unwrap();
        assert_eq!(&buf[..], &(-1i32).to_be_bytes());
    }
}
