//! Bind parameters: values a client sends in text or binary format,
//! turned into [`ScalarValue`]s of the type the statement expects.
//!
//! A value is first read as the type the client declared (its OID in Parse
//! or, for unspecified OIDs, the type the statement expects), then cast
//! when the two differ. Text values are parsed with Postgres's input
//! syntax ([`tidewater_runtime::pgtypes::text::parse_text_values`]); binary values follow
//! Postgres's `*recv` functions. A numeric keeps the scale it was written
//! with (`1.25` stays `Decimal128(38, 2)` where the statement expects some
//! decimal), as Postgres's `numeric` does, so that `$1 * 2` is `2.50`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, ListArray, StringArray, new_empty_array, new_null_array};
use arrow::buffer::OffsetBuffer;
use arrow::compute::{CastOptions, cast_with_options, concat};
use arrow::datatypes::{DataType, FieldRef, IntervalMonthDayNano};
use arrow::util::display::FormatOptions;
use datafusion_common::ScalarValue;
use pgwire::api::Type;

use super::encode::{Format, PG_EPOCH_DAYS, PG_EPOCH_MICROS};
use tidewater_runtime::pgtypes::text::{numeric_type_of_text, parse_text_values};
use tidewater_runtime::pgtypes::{UTC, arrow_type_of_oid, type_name};

use super::types::{is_text, pg_type};
use crate::error::{SqlError, SqlResult};

/// Converts parameter `index` (0-based) to a value of type `expected`.
///
/// `declared` is the OID the client gave in Parse (0: unspecified).
///
/// # Errors
///
/// 22P02 / 22003 for text that does not parse or does not fit, 22P03 for
/// malformed binary data, 22021 for invalid UTF-8, 0A000 for a binary
/// format we cannot read.
pub(crate) fn decode_param(
    index: usize,
    value: Option<&[u8]>,
    format: Format,
    declared: u32,
    expected: &DataType,
) -> SqlResult<ScalarValue> {
    let Some(bytes) = value else {
        return ScalarValue::try_from(expected).map_err(|e| SqlError::from_datafusion(&e));
    };
    // A binary "char" is one byte; 0 is the empty value.
    let bytes = if declared == Type::CHAR.oid() && format == Format::Binary && bytes == [0] {
        &[][..]
    } else {
        bytes
    };
    // The type the bytes are written in.
    let wire = match arrow_type_of_oid(declared) {
        Some(t) if !(format == Format::Text && is_text(&pg_type(&t))) => t,
        _ => expected.clone(),
    };
    let array = match format {
        Format::Text => {
            let text = std::str::from_utf8(bytes).map_err(|_| {
                SqlError::new("22021", "invalid byte sequence for encoding \"UTF8\"")
            })?;
            match &wire {
                DataType::List(field) => parse_text_array(text, field)?,
                w if is_decimal(w) => parse_numeric(text, w)?,
                _ => parse_text_values(&[Some(text)], &wire)
                    .map_err(|(_, e)| SqlError::from_query(e))?,
            }
        }
        Format::Binary if is_decimal(&wire) => {
            let text = numeric_from_binary(bytes).ok_or_else(|| bad_binary(index))?;
            parse_numeric(&text, &wire)?
        }
        Format::Binary => decode_binary(index, bytes, &wire)?,
    };
    let keeps_scale = is_decimal(array.data_type()) && is_decimal(expected);
    let array = if array.data_type() == expected || keeps_scale {
        array
    } else {
        cast_value(&array, expected)?
    };
    ScalarValue::try_from_array(&array, 0).map_err(|e| SqlError::from_datafusion(&e))
}

fn is_decimal(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..)
    )
}

/// A numeric in the scale it is written with ([`numeric_type_of_text`]),
/// or as `wire` when that type cannot hold it.
fn parse_numeric(text: &str, wire: &DataType) -> SqlResult<ArrayRef> {
    if let Some(natural) = numeric_type_of_text(text)
        && let Ok(array) = parse_text_values(&[Some(text)], &natural)
    {
        return Ok(array);
    }
    parse_text_values(&[Some(text)], wire).map_err(|(_, e)| SqlError::from_query(e))
}

fn cast_value(array: &ArrayRef, to: &DataType) -> SqlResult<ArrayRef> {
    let options = CastOptions {
        safe: false,
        format_options: FormatOptions::default(),
    };
    cast_with_options(array, to, &options).map_err(|e| {
        SqlError::new(
            "22P02",
            format!("cannot convert parameter to type {}: {e}", type_name(to)),
        )
    })
}

fn bad_binary(index: usize) -> SqlError {
    SqlError::new(
        "22P03",
        format!(
            "incorrect binary data format in bind parameter {}",
            index + 1
        ),
    )
}

fn fixed<const N: usize>(index: usize, bytes: &[u8]) -> SqlResult<[u8; N]> {
    bytes.try_into().map_err(|_| bad_binary(index))
}

/// Reads a binary value written as the Postgres type of `wire`.
fn decode_binary(index: usize, bytes: &[u8], wire: &DataType) -> SqlResult<ArrayRef> {
    if let DataType::List(field) = wire {
        return decode_binary_array(index, bytes, field);
    }
    let ty = pg_type(wire);
    let scalar = match ty {
        Type::BOOL => ScalarValue::Boolean(Some(fixed::<1>(index, bytes)?[0] != 0)),
        Type::INT2 => ScalarValue::Int16(Some(i16::from_be_bytes(fixed(index, bytes)?))),
        Type::INT4 => ScalarValue::Int32(Some(i32::from_be_bytes(fixed(index, bytes)?))),
        Type::INT8 => ScalarValue::Int64(Some(i64::from_be_bytes(fixed(index, bytes)?))),
        Type::FLOAT4 => ScalarValue::Float32(Some(f32::from_be_bytes(fixed(index, bytes)?))),
        Type::FLOAT8 => ScalarValue::Float64(Some(f64::from_be_bytes(fixed(index, bytes)?))),
        Type::NUMERIC => {
            let text = numeric_from_binary(bytes).ok_or_else(|| bad_binary(index))?;
            let strings: ArrayRef = Arc::new(StringArray::from(vec![text.as_str()]));
            return match wire {
                DataType::Decimal32(..)
                | DataType::Decimal64(..)
                | DataType::Decimal128(..)
                | DataType::Decimal256(..) => parse_text_values(&[Some(text.as_str())], wire)
                    .map_err(|(_, e)| SqlError::from_query(e)),
                _ => Ok(strings),
            };
        }
        Type::BYTEA => ScalarValue::Binary(Some(bytes.to_vec())),
        Type::DATE => {
            let days = i64::from(i32::from_be_bytes(fixed(index, bytes)?)) + PG_EPOCH_DAYS;
            ScalarValue::Date32(Some(
                i32::try_from(days).map_err(|_| SqlError::new("22008", "date out of range"))?,
            ))
        }
        Type::TIME => {
            ScalarValue::Time64Microsecond(Some(i64::from_be_bytes(fixed(index, bytes)?)))
        }
        Type::TIMESTAMP | Type::TIMESTAMPTZ => {
            let micros = i64::from_be_bytes(fixed(index, bytes)?)
                .checked_add(PG_EPOCH_MICROS)
                .ok_or_else(|| SqlError::new("22008", "timestamp out of range"))?;
            let tz = (ty == Type::TIMESTAMPTZ).then(|| Arc::from(UTC));
            ScalarValue::TimestampMicrosecond(Some(micros), tz)
        }
        Type::INTERVAL => {
            let raw: [u8; 16] = fixed(index, bytes)?;
            let micros = i64::from_be_bytes([
                raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7],
            ]);
            let days = i32::from_be_bytes([raw[8], raw[9], raw[10], raw[11]]);
            let months = i32::from_be_bytes([raw[12], raw[13], raw[14], raw[15]]);
            let nanos = micros
                .checked_mul(1000)
                .ok_or_else(|| SqlError::new("22008", "interval out of range"))?;
            ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(months, days, nanos)))
        }
        ref t if is_text(t) => {
            let text = std::str::from_utf8(bytes).map_err(|_| {
                SqlError::new("22021", "invalid byte sequence for encoding \"UTF8\"")
            })?;
            ScalarValue::Utf8(Some(text.to_string()))
        }
        _ => {
            return Err(SqlError::not_supported(format!(
                "binary format for parameters of type {} is not supported; send it in text format",
                type_name(wire)
            )));
        }
    };
    scalar.to_array().map_err(|e| SqlError::from_datafusion(&e))
}

/// A one-row list array of `values` (elements of `field`'s type).
fn one_list(field: &FieldRef, values: ArrayRef) -> SqlResult<ArrayRef> {
    let values = if values.data_type() == field.data_type() {
        values
    } else {
        cast_value(&values, field.data_type())?
    };
    let offsets = OffsetBuffer::from_lengths([values.len()]);
    let list = ListArray::try_new(Arc::clone(field), offsets, values, None)
        .map_err(|e| SqlError::internal(format!("cannot build an array parameter: {e}")))?;
    Ok(Arc::new(list))
}

/// `array_recv` of a one-dimensional array (or an empty one).
fn decode_binary_array(index: usize, bytes: &[u8], field: &FieldRef) -> SqlResult<ArrayRef> {
    let mut rest = bytes;
    let mut word = || -> SqlResult<i32> {
        let (head, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| bad_binary(index))?;
        rest = tail;
        Ok(i32::from_be_bytes(*head))
    };
    let ndim = word()?;
    let _has_nulls = word()?;
    let element_oid = word()? as u32;
    let element = arrow_type_of_oid(element_oid).unwrap_or_else(|| field.data_type().clone());
    let len = match ndim {
        0 => 0,
        1 => {
            let len = usize::try_from(word()?).map_err(|_| bad_binary(index))?;
            let _lower_bound = word()?;
            len
        }
        _ => {
            return Err(SqlError::not_supported(
                "multidimensional array parameters are not supported",
            ));
        }
    };
    let mut elements = Vec::with_capacity(len.min(rest.len() / 4 + 1));
    for _ in 0..len {
        let (head, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| bad_binary(index))?;
        rest = tail;
        let element_len = i32::from_be_bytes(*head);
        elements.push(match usize::try_from(element_len) {
            Ok(n) if n <= rest.len() => {
                let (value, tail) = rest.split_at(n);
                rest = tail;
                decode_binary(index, value, &element)?
            }
            Err(_) if element_len == -1 => new_null_array(&element, 1),
            _ => return Err(bad_binary(index)),
        });
    }
    if !rest.is_empty() {
        return Err(bad_binary(index));
    }
    let values = if elements.is_empty() {
        new_empty_array(&element)
    } else {
        let refs: Vec<&dyn Array> = elements.iter().map(AsRef::as_ref).collect();
        concat(&refs)
            .map_err(|e| SqlError::internal(format!("cannot build an array parameter: {e}")))?
    };
    one_list(field, values)
}

/// A one-dimensional array literal (`{a,"b c",NULL}`) parsed into a
/// one-row list of `field`'s type.
fn parse_text_array(text: &str, field: &FieldRef) -> SqlResult<ArrayRef> {
    let malformed = |why: &str| {
        SqlError::new("22P02", format!("malformed array literal: \"{text}\""))
            .with_detail(why.to_string())
    };
    let inner = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| malformed("Array value must start with \"{\" and end with \"}\"."))?;
    let mut elements: Vec<Option<String>> = Vec::new();
    if !inner.trim().is_empty() {
        let mut chars = inner.chars().peekable();
        loop {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            let mut value = String::new();
            let mut quoted = false;
            if chars.next_if_eq(&'"').is_some() {
                quoted = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => value.push(
                            chars
                                .next()
                                .ok_or_else(|| malformed("Unexpected end of input."))?,
                        ),
                        Some(c) => value.push(c),
                        None => return Err(malformed("Unexpected end of input.")),
                    }
                }
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
            } else {
                while let Some(c) = chars.next_if(|c| *c != ',') {
                    match c {
                        '{' | '}' | '"' => {
                            return Err(SqlError::not_supported(
                                "multidimensional array parameters are not supported",
                            ));
                        }
                        '\\' => value.push(
                            chars
                                .next()
                                .ok_or_else(|| malformed("Unexpected end of input."))?,
                        ),
                        c => value.push(c),
                    }
                }
                value = value.trim_end().to_string();
                if value.is_empty() {
                    return Err(malformed("Unexpected \",\" character."));
                }
            }
            elements.push((quoted || !value.eq_ignore_ascii_case("null")).then_some(value));
            match chars.next() {
                None => break,
                Some(',') => {}
                Some(_) => return Err(malformed("Unexpected array element.")),
            }
        }
    }
    let refs: Vec<Option<&str>> = elements.iter().map(Option::as_deref).collect();
    let values =
        parse_text_values(&refs, field.data_type()).map_err(|(_, e)| SqlError::from_query(e))?;
    one_list(field, values)
}

/// `numeric_recv` into decimal text (`-12.50`, `NaN`, `Infinity`).
fn numeric_from_binary(bytes: &[u8]) -> Option<String> {
    let word = |i: usize| -> Option<i16> {
        Some(i16::from_be_bytes([*bytes.get(i)?, *bytes.get(i + 1)?]))
    };
    let ndigits = usize::try_from(word(0)?).ok()?;
    let weight = i32::from(word(2)?);
    let sign = word(4)? as u16;
    let dscale = usize::try_from(word(6)?).ok()?;
    if bytes.len() != 8 + 2 * ndigits {
        return None;
    }
    match sign {
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        0x0000 | 0x4000 => {}
        _ => return None,
    }
    let digits: Vec<i16> = (0..ndigits)
        .map(|i| word(8 + 2 * i))
        .collect::<Option<_>>()?;
    if digits.iter().any(|d| !(0..10_000).contains(d)) {
        return None;
    }
    let digit = |group: i32| -> i16 {
        usize::try_from(group)
            .ok()
            .and_then(|g| digits.get(g).copied())
            .unwrap_or(0)
    };
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        for g in 0..=weight {
            if g == 0 {
                out.push_str(&digit(0).to_string());
            } else {
                out.push_str(&format!("{:04}", digit(g)));
            }
        }
    }
    if dscale > 0 {
        let mut frac = String::new();
        let mut g = weight + 1;
        while frac.len() < dscale {
            frac.push_str(&format!("{:04}", digit(g)));
            g += 1;
        }
        frac.truncate(dscale);
        out.push('.');
        out.push_str(&frac);
    }
    Some(out)
}

/// The format of each of `n` values from a format code list (none: all
/// text; one: for all; else one each).
///
/// # Errors
///
/// 08P01 with `mismatch(number of codes)` when the counts do not match,
/// 22023 for an unknown code.
pub(crate) fn expand_formats(
    codes: &[i16],
    n: usize,
    mismatch: impl FnOnce(usize) -> String,
) -> SqlResult<Vec<Format>> {
    match codes.len() {
        0 => Ok(vec![Format::Text; n]),
        1 => Ok(vec![Format::from_code(codes[0])?; n]),
        len if len == n => codes.iter().map(|c| Format::from_code(*c)).collect(),
        len => Err(SqlError::new("08P01", mismatch(len))),
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{IntervalUnit, TimeUnit};

    use super::*;

    fn interval_type() -> DataType {
        DataType::Interval(IntervalUnit::MonthDayNano)
    }

    fn time_type() -> DataType {
        DataType::Time64(TimeUnit::Microsecond)
    }

    /// The types a parameter can take, scalar and array.
    fn param_types() -> Vec<DataType> {
        use arrow::datatypes::Field;
        let scalars = vec![
            DataType::Boolean,
            DataType::Int16,
            DataType::Int32,
            DataType::Int64,
            DataType::Float32,
            DataType::Float64,
            DataType::Decimal128(10, 2),
            DataType::Decimal128(38, 10),
            DataType::Utf8,
            DataType::Binary,
            DataType::Date32,
            time_type(),
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            interval_type(),
        ];
        let arrays: Vec<DataType> = scalars
            .iter()
            .map(|t| DataType::List(Arc::new(Field::new("item", t.clone(), true))))
            .collect();
        scalars.into_iter().chain(arrays).collect()
    }

    proptest::proptest! {
        /// Random bytes as a parameter of every type, in text and binary
        /// format, declared or not: a value or a clean SQLSTATE, never a
        /// panic.
        #[test]
        fn random_parameter_bytes_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            binary in proptest::prelude::any::<bool>(),
            declared in proptest::prelude::any::<bool>(),
        ) {
            let format = if binary { Format::Binary } else { Format::Text };
            for expected in param_types() {
                let oid = if declared { pg_type(&expected).oid() } else { 0 };
                if let Err(e) = decode_param(0, Some(&bytes), format, oid, &expected) {
                    proptest::prop_assert!(
                        e.code.len() == 5 && e.code.bytes().all(|b| b.is_ascii_alphanumeric()),
                        "{:?}", e
                    );
                }
            }
        }

        /// Text that looks like a value (digits, signs, separators, hex
        /// escapes, multi-byte characters) through the text decoder of
        /// every type.
        #[test]
        fn value_like_text_never_panics(text in "[-+0-9.eE:\\\\x{}, \"aéТ]{0,24}") {
            for expected in param_types() {
                let _ = decode_param(0, Some(text.as_bytes()), Format::Text, 0, &expected);
            }
        }
    }

    #[test]
    fn text_and_binary_params() {
        let v = decode_param(0, Some(b"42"), Format::Text, 0, &DataType::Int64).unwrap();
        assert_eq!(v, ScalarValue::Int64(Some(42)));
        let v = decode_param(
            0,
            Some(&7i32.to_be_bytes()),
            Format::Binary,
            23,
            &DataType::Int64,
        )
        .unwrap();
        assert_eq!(v, ScalarValue::Int64(Some(7)));
        let v = decode_param(0, None, Format::Binary, 23, &DataType::Int64).unwrap();
        assert_eq!(v, ScalarValue::Int64(None));
        let e = decode_param(0, Some(b"abc"), Format::Text, 0, &DataType::Int64).unwrap_err();
        assert_eq!(e.code, "22P02");
        let e = decode_param(1, Some(&[1, 2]), Format::Binary, 23, &DataType::Int32).unwrap_err();
        assert_eq!(e.code, "22P03");
        assert_eq!(
            e.message,
            "incorrect binary data format in bind parameter 2"
        );
        let v = decode_param(0, Some(b"hi"), Format::Binary, 25, &DataType::Utf8).unwrap();
        assert_eq!(v, ScalarValue::Utf8(Some("hi".into())));
        let v = decode_param(
            0,
            Some(&1i32.to_be_bytes()),
            Format::Binary,
            1082,
            &DataType::Date32,
        )
        .unwrap();
        assert_eq!(v, ScalarValue::Date32(Some(10_958)));
        let mut iv = Vec::new();
        iv.extend_from_slice(&1_500_000i64.to_be_bytes());
        iv.extend_from_slice(&2i32.to_be_bytes());
        iv.extend_from_slice(&3i32.to_be_bytes());
        let v = decode_param(0, Some(&iv), Format::Binary, 1186, &interval_type()).unwrap();
        assert_eq!(
            v,
            ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(3, 2, 1_500_000_000)))
        );
        let v = decode_param(
            0,
            Some(&5_000_000i64.to_be_bytes()),
            Format::Binary,
            0,
            &time_type(),
        )
        .unwrap();
        assert_eq!(v, ScalarValue::Time64Microsecond(Some(5_000_000)));
    }

    fn int64s(v: &ScalarValue) -> Vec<Option<i64>> {
        let ScalarValue::List(list) = v else {
            panic!("not a list: {v:?}")
        };
        let values = list.value(0);
        values
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap()
            .iter()
            .collect()
    }

    #[test]
    fn array_params() {
        let ints = DataType::new_list(DataType::Int64, true);
        let v = decode_param(0, Some(b"{1, 2,NULL}"), Format::Text, 0, &ints).unwrap();
        assert_eq!(int64s(&v), vec![Some(1), Some(2), None]);
        let texts = DataType::new_list(DataType::Utf8, true);
        let v = decode_param(
            0,
            Some(br#"{a,"b,c","NULL",NULL,"q\"x"}"#),
            Format::Text,
            1009,
            &texts,
        )
        .unwrap();
        let ScalarValue::List(list) = v else {
            panic!("not a list")
        };
        let values = list.value(0);
        let values = values.as_any().downcast_ref::<StringArray>().unwrap();
        let got: Vec<Option<&str>> = values.iter().collect();
        assert_eq!(
            got,
            vec![Some("a"), Some("b,c"), Some("NULL"), None, Some("q\"x")]
        );
        let v = decode_param(0, Some(b"{}"), Format::Text, 0, &ints).unwrap();
        assert!(int64s(&v).is_empty());
        for bad in [&b"1,2"[..], b"{1,,2}", b"{{1},{2}}", b"{\"a}"] {
            assert!(
                decode_param(0, Some(bad), Format::Text, 0, &ints).is_err(),
                "{bad:?}"
            );
        }
        // Binary int4[] {7, NULL} into bigint[].
        let mut b = Vec::new();
        for w in [1i32, 1, 23, 2, 1, 4, 7, -1] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        let v = decode_param(0, Some(&b), Format::Binary, 1007, &ints).unwrap();
        assert_eq!(int64s(&v), vec![Some(7), None]);
        assert_eq!(v.data_type(), ints);
        assert_eq!(
            decode_param(0, Some(&b[..20]), Format::Binary, 1007, &ints)
                .unwrap_err()
                .code,
            "22P03"
        );
        let mut empty = Vec::new();
        for w in [0i32, 0, 25] {
            empty.extend_from_slice(&w.to_be_bytes());
        }
        let v = decode_param(0, Some(&empty), Format::Binary, 1009, &texts).unwrap();
        let ScalarValue::List(list) = v else {
            panic!("not a list")
        };
        assert_eq!((list.len(), list.value(0).len()), (1, 0));
    }

    #[test]
    fn numeric_binary_round_trip() {
        // 12345.00 and -0.005 as numeric_send writes them.
        let mut b = Vec::new();
        for w in [2i16, 1, 0, 2, 1, 2345] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(numeric_from_binary(&b).as_deref(), Some("12345.00"));
        let mut b = Vec::new();
        for w in [1i16, -1, 0x4000, 3, 50] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(numeric_from_binary(&b).as_deref(), Some("-0.005"));
        assert_eq!(numeric_from_binary(&[0, 5]), None);
        let v = decode_param(
            0,
            Some(&b),
            Format::Binary,
            1700,
            &DataType::Decimal128(10, 3),
        )
        .unwrap();
        assert_eq!(v, ScalarValue::Decimal128(Some(-5), 38, 3));
        let v = decode_param(0, Some(&b), Format::Binary, 1700, &DataType::Float64).unwrap();
        assert_eq!(v, ScalarValue::Float64(Some(-0.005)));
    }

    #[test]
    fn numeric_params_keep_their_scale() {
        let numeric = DataType::Decimal128(38, 10);
        let v = decode_param(0, Some(b"1.25"), Format::Text, 1700, &numeric).unwrap();
        assert_eq!(v, ScalarValue::Decimal128(Some(125), 38, 2));
        let v = decode_param(
            0,
            Some(b"1.25"),
            Format::Text,
            0,
            &DataType::Decimal128(10, 2),
        )
        .unwrap();
        assert_eq!(v, ScalarValue::Decimal128(Some(125), 38, 2));
        // Too many digits for its own scale: read as the expected type.
        let long = format!("1.{}", "1".repeat(40));
        let v = decode_param(0, Some(long.as_bytes()), Format::Text, 0, &numeric).unwrap();
        assert_eq!(v, ScalarValue::Decimal128(Some(11_111_111_111), 38, 10));
        // Other expected types are still cast to.
        let v = decode_param(0, Some(b"2.5"), Format::Text, 1700, &DataType::Float64).unwrap();
        assert_eq!(v, ScalarValue::Float64(Some(2.5)));
        let v = decode_param(0, None, Format::Text, 1700, &numeric).unwrap();
        assert_eq!(v, ScalarValue::Decimal128(None, 38, 10));
    }

    #[test]
    fn char_params() {
        let v = decode_param(0, Some(b"r"), Format::Binary, 18, &DataType::Utf8).unwrap();
        assert_eq!(v, ScalarValue::Utf8(Some("r".into())));
        let v = decode_param(0, Some(&[0]), Format::Binary, 18, &DataType::Utf8).unwrap();
        assert_eq!(v, ScalarValue::Utf8(Some(String::new())));
        let v = decode_param(0, Some(b"v"), Format::Text, 18, &DataType::Utf8).unwrap();
        assert_eq!(v, ScalarValue::Utf8(Some("v".into())));
    }

    #[test]
    fn format_codes() {
        let msg = |n| format!("{n} formats");
        assert_eq!(expand_formats(&[], 2, msg).unwrap(), vec![Format::Text; 2]);
        assert_eq!(
            expand_formats(&[1], 2, msg).unwrap(),
            vec![Format::Binary; 2]
        );
        assert_eq!(expand_formats(&[1, 2], 2, msg).unwrap_err().code, "22023");
        let e = expand_formats(&[1, 0, 1], 2, msg).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), ("08P01", "3 formats"));
    }
}
