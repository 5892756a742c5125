//! The text input syntax of values, as Postgres reads it: what `COPY ...
//! FROM STDIN` fields, text-format parameters and text casts go through.
//! One parser per type: integers ([`parse_integer`], also behind the
//! `tw_to_int*` casts), `bytea` ([`parse_bytea`], also behind `tw_bytea_in`),
//! booleans, and dates and timestamps with the zone offset that clients
//! append. Errors carry Postgres's SQLSTATE and message.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Int16Array, Int32Array, Int64Array, StringArray,
};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::DataType;
use arrow::util::display::FormatOptions;

use super::type_name;
use crate::error::{QueryError, SqlState};

/// Reads a boolean: `t`, `true`, `yes`, `on`, `1` and their opposites,
/// case-insensitive, with surrounding white space.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Reads `bytea` input: `\x` followed by hex digit pairs (white space
/// allowed between pairs), or the escape format, where `\\` is a backslash
/// and `\ooo` an octal byte.
///
/// # Errors
///
/// 22023 "invalid hexadecimal digit: "é"" or "invalid hexadecimal data: odd
/// number of digits" for bad hex; 22P02 "invalid input syntax for type
/// bytea" for a bad escape.
pub fn parse_bytea(s: &str) -> Result<Vec<u8>, QueryError> {
    if let Some(hex) = s.strip_prefix("\\x").or_else(|| s.strip_prefix("\\X")) {
        let mut out = Vec::with_capacity(hex.len() / 2);
        let mut chars = hex.chars();
        let digit = |c: char| {
            c.to_digit(16).ok_or_else(|| {
                QueryError::new(
                    SqlState::InvalidParameterValue,
                    format!("invalid hexadecimal digit: \"{c}\""),
                )
            })
        };
        while let Some(c) = chars.next() {
            if matches!(c, ' ' | '\n' | '\t' | '\r') {
                continue;
            }
            let high = digit(c)?;
            let low = match chars.next() {
                Some(c) => digit(c)?,
                None => {
                    return Err(QueryError::new(
                        SqlState::InvalidParameterValue,
                        "invalid hexadecimal data: odd number of digits",
                    ));
                }
            };
            out.push((high * 16 + low) as u8);
        }
        return Ok(out);
    }
    let invalid = || {
        QueryError::new(
            SqlState::InvalidTextRepresentation,
            "invalid input syntax for type bytea",
        )
    };
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let octal = bytes.get(i + 1..i + 4).ok_or_else(invalid)?;
            let valid = (b'0'..=b'3').contains(&octal[0])
                && octal[1..].iter().all(|b| (b'0'..=b'7').contains(b));
            if !valid {
                return Err(invalid());
            }
            out.push((octal[0] - b'0') * 64 + (octal[1] - b'0') * 8 + (octal[2] - b'0'));
            i += 4;
        }
    }
    Ok(out)
}

/// Reads integer input (digits with an optional sign and surrounding white
/// space) as `smallint`, `integer` or `bigint` (`ty`).
///
/// # Errors
///
/// 22P02 `invalid input syntax for type integer: "abc"`, or 22003 `value
/// "99999999999" is out of range for type integer`.
pub fn parse_integer(text: &str, ty: &DataType) -> Result<i64, QueryError> {
    let (min, max) = match ty {
        DataType::Int16 => (i64::from(i16::MIN), i64::from(i16::MAX)),
        DataType::Int32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    };
    let invalid = || {
        QueryError::new(
            SqlState::InvalidTextRepresentation,
            format!(
                "invalid input syntax for type {}: \"{text}\"",
                type_name(ty)
            ),
        )
    };
    // Postgres's white space: isspace() in the C locale.
    let trimmed = text.trim_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let value = digits
        .bytes()
        .try_fold(0_i64, |acc, d| {
            let d = i64::from(d - b'0');
            // Accumulate negatively, so that the minimum fits.
            acc.checked_mul(10)?.checked_sub(d)
        })
        .and_then(|v| if negative { Some(v) } else { v.checked_neg() })
        .filter(|v| (min..=max).contains(v));
    value.ok_or_else(|| {
        QueryError::new(
            SqlState::NumericOutOfRange,
            format!(
                "value \"{text}\" is out of range for type {}",
                type_name(ty)
            ),
        )
    })
}

/// A date or timestamp without the zone offset that may follow it
/// (`2024-07-19 +00`, `2024-07-19 10:00:00.5-08:00`), trimmed. The offset
/// is looked for after the date part, whose own `-`s are not offsets.
fn without_zone_offset(s: &str) -> &str {
    let s = s.trim();
    let date_end = s.find([' ', 'T']).unwrap_or(s.len());
    let rest = &s[date_end..];
    match rest.find(['+', '-']) {
        Some(i) if is_zone_offset(&rest[i + 1..]) => s[..date_end + i].trim_end(),
        _ => s,
    }
}

/// `hh`, `hhmm`, `hh:mm` or `hh:mm:ss` (the part of an offset after its sign).
fn is_zone_offset(s: &str) -> bool {
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if s.len() == 4 && digits(s) {
        return true;
    }
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() <= 3 && parts.iter().all(|p| p.len() <= 2 && digits(p))
}

/// The decimal type that holds a numeric written as `s` with the scale it
/// was written with (`2.50` has scale 2, `1.5e3` scale 0), as Postgres's
/// `numeric` without a type modifier keeps it: `Decimal128(38, scale)`.
/// `None` when `s` is not a plain decimal number (`NaN`, `Infinity`) or
/// its scale is above 38.
pub fn numeric_type_of_text(s: &str) -> Option<DataType> {
    let s = s.trim();
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let unsigned = mantissa.strip_prefix(['+', '-']).unwrap_or(mantissa);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let frac_digits = i32::try_from(frac.len()).ok()?;
    let scale = frac_digits.saturating_sub(exponent).max(0);
    let scale = i8::try_from(scale).ok().filter(|s| *s <= 38)?;
    Some(DataType::Decimal128(38, scale))
}

fn invalid(ty: &DataType, value: &str) -> QueryError {
    QueryError::new(
        SqlState::InvalidTextRepresentation,
        format!(
            "invalid input syntax for type {}: \"{value}\"",
            type_name(ty)
        ),
    )
}

/// Reads each value with [`parse`] into a column of `T`.
fn parse_each<T, A>(
    values: &[Option<&str>],
    parse: impl Fn(&str) -> Result<T, QueryError>,
    build: impl FnOnce(Vec<Option<T>>) -> A,
) -> Result<ArrayRef, (usize, QueryError)>
where
    A: arrow::array::Array + 'static,
{
    let mut out = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        out.push(match v {
            None => None,
            Some(s) => Some(parse(s).map_err(|e| (i, e))?),
        });
    }
    Ok(Arc::new(build(out)))
}

/// Reads an interval of fixed length (`5 seconds`, `1 minute 30
/// seconds`, `250 milliseconds`, `2 days`) as microseconds. Months have no
/// fixed length and are refused, as are negative and empty intervals.
pub fn parse_fixed_interval_micros(text: &str) -> Result<i64, String> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{IntervalMonthDayNanoType, IntervalUnit};
    let bad = || format!("expected a positive interval such as '1 second', not '{text}'");
    let array: ArrayRef = Arc::new(StringArray::from(vec![text]));
    let interval = arrow::compute::cast(&array, &DataType::Interval(IntervalUnit::MonthDayNano))
        .map_err(|_| bad())?;
    let interval = interval.as_primitive::<IntervalMonthDayNanoType>();
    if interval.null_count() > 0 {
        return Err(bad());
    }
    let v = interval.value(0);
    if v.months != 0 {
        return Err(format!(
            "an interval of months ('{text}') has no fixed length; use days"
        ));
    }
    (v.days as i64)
        .checked_mul(86_400_000_000)
        .and_then(|d| d.checked_add(v.nanoseconds / 1_000))
        .filter(|us| *us > 0)
        .ok_or_else(bad)
}

/// Reads text values into an array of `ty`. On failure returns the index
/// of the first bad value and the error.
pub fn parse_text_values(
    values: &[Option<&str>],
    ty: &DataType,
) -> Result<ArrayRef, (usize, QueryError)> {
    match ty {
        DataType::Boolean => parse_each(
            values,
            |s| parse_bool(s).ok_or_else(|| invalid(ty, s)),
            BooleanArray::from,
        ),
        DataType::Binary => parse_each(values, parse_bytea, BinaryArray::from_iter),
        DataType::Int16 => parse_each(
            values,
            |s| parse_integer(s, ty).map(|v| v as i16),
            Int16Array::from,
        ),
        DataType::Int32 => parse_each(
            values,
            |s| parse_integer(s, ty).map(|v| v as i32),
            Int32Array::from,
        ),
        DataType::Int64 => parse_each(values, |s| parse_integer(s, ty), Int64Array::from),
        DataType::Utf8 => Ok(Arc::new(StringArray::from(values.to_vec()))),
        _ => {
            let ignores_zone = matches!(
                ty,
                DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, None)
            );
            let trimmed: Vec<Option<&str>> = values
                .iter()
                .map(|v| {
                    v.map(|s| {
                        if ignores_zone {
                            without_zone_offset(s)
                        } else {
                            s.trim()
                        }
                    })
                })
                .collect();
            let strings: ArrayRef = Arc::new(StringArray::from(trimmed.clone()));
            let options = CastOptions {
                safe: false,
                format_options: FormatOptions::default(),
            };
            match cast_with_options(&strings, ty, &options) {
                Ok(a) => Ok(a),
                Err(_) => {
                    // Find the first value that does not parse.
                    for (i, v) in trimmed.iter().enumerate() {
                        let Some(s) = v else { continue };
                        let one: ArrayRef = Arc::new(StringArray::from(vec![*s]));
                        if cast_with_options(&one, ty, &options).is_err() {
                            return Err((i, invalid(ty, values[i].unwrap_or_default())));
                        }
                    }
                    Err((
                        0,
                        QueryError::new(
                            SqlState::InvalidTextRepresentation,
                            format!("cannot convert text to {}", type_name(ty)),
                        ),
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Date32Type, Int64Type, TimeUnit, TimestampMicrosecondType};

    use super::*;

    proptest::proptest! {
        /// Random text as a bytea value, and through the text input of
        /// every column type: a value or a clean error, never a panic.
        #[test]
        fn random_text_input_never_panics(
            text in "(\\\\x)?[0-9a-fA-F\\\\éТ\u{0}-\u{7f}]{0,32}",
        ) {
            if let Ok(bytes) = parse_bytea(&text)
                && let Some(hex) = text.strip_prefix("\\x")
            {
                proptest::prop_assert_eq!(bytes.len() * 2, hex.chars().filter(|c| !c.is_whitespace()).count());
            }
            let _ = parse_bool(&text);
            let _ = numeric_type_of_text(&text);
            for ty in [
                DataType::Boolean,
                DataType::Int16,
                DataType::Int32,
                DataType::Int64,
                DataType::Float64,
                DataType::Decimal128(12, 3),
                DataType::Utf8,
                DataType::Binary,
                DataType::Date32,
                DataType::Time64(TimeUnit::Microsecond),
                DataType::Timestamp(TimeUnit::Microsecond, None),
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano),
            ] {
                let _ = parse_integer(&text, &ty);
                if let Err((row, e)) = parse_text_values(&[Some(text.as_str()), None], &ty) {
                    proptest::prop_assert_eq!(row, 0);
                    proptest::prop_assert!(!e.to_string().is_empty());
                }
            }
        }
    }

    #[test]
    fn parses_postgres_text_input() {
        let a = parse_text_values(&[Some(" 12"), None, Some("-3")], &DataType::Int64).unwrap();
        assert_eq!(a.as_primitive::<Int64Type>().value(0), 12);
        assert!(a.is_null(1));
        let (row, err) =
            parse_text_values(&[Some("1"), Some("abc")], &DataType::Int64).unwrap_err();
        assert_eq!(row, 1);
        assert_eq!(err.state, SqlState::InvalidTextRepresentation);
        assert_eq!(err.message, "invalid input syntax for type bigint: \"abc\"");
        let b = parse_text_values(&[Some("t"), Some("off")], &DataType::Boolean).unwrap();
        assert!(b.as_boolean().value(0) && !b.as_boolean().value(1));
        let x = parse_text_values(&[Some("\\x0aff")], &DataType::Binary).unwrap();
        assert_eq!(x.as_binary::<i32>().value(0), &[0x0a, 0xff]);
        let (_, e) = parse_text_values(&[Some("99999999999")], &DataType::Int32).unwrap_err();
        assert_eq!(e.state, SqlState::NumericOutOfRange);
        assert_eq!(
            e.message,
            "value \"99999999999\" is out of range for type integer"
        );
    }

    #[test]
    fn bytea_input_as_postgres_reads_it() {
        assert_eq!(parse_bytea("\\x0a0B").unwrap(), vec![10, 11]);
        assert_eq!(parse_bytea("\\x0a 0b\n").unwrap(), vec![10, 11]);
        assert_eq!(parse_bytea("ab\\\\c\\001").unwrap(), b"ab\\c\x01".to_vec());
        assert_eq!(parse_bytea("plain").unwrap(), b"plain".to_vec());
        assert_eq!(parse_bytea("caf\u{e9}").unwrap(), "café".as_bytes());
        // A multi-byte character where a hex digit belongs is named, not a panic.
        let e = parse_bytea("\\xa\u{e9}0").unwrap_err();
        assert_eq!(e.state, SqlState::InvalidParameterValue);
        assert_eq!(e.message, "invalid hexadecimal digit: \"\u{e9}\"");
        let e = parse_bytea("\\x0").unwrap_err();
        assert_eq!(e.message, "invalid hexadecimal data: odd number of digits");
        for bad in ["\\9", "\\", "\\40", "\\400", "a\\x"] {
            let e = parse_bytea(bad).unwrap_err();
            assert_eq!(e.state, SqlState::InvalidTextRepresentation, "{bad}");
        }
    }

    #[test]
    fn dates_and_timestamps_ignore_a_zone_offset() {
        let d = parse_text_values(
            &[
                Some("2024-07-19 +00"),
                Some("2024-07-19"),
                Some(" 2024-07-19 -08:00 "),
            ],
            &DataType::Date32,
        )
        .unwrap();
        let d = d.as_primitive::<Date32Type>();
        assert_eq!(d.value(0), 19_923);
        assert_eq!(d.value(1), 19_923);
        assert_eq!(d.value(2), 19_923);
        let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
        let t = parse_text_values(
            &[
                Some("2024-02-29 23:59:00.000201+00"),
                Some("2024-02-29 23:59:00.000201 -08:00"),
                Some("2024-02-29T23:59:00.000201+0530"),
                Some("2024-02-29 23:59:00.000201"),
            ],
            &ts,
        )
        .unwrap();
        let t = t.as_primitive::<TimestampMicrosecondType>();
        for i in 0..4 {
            assert_eq!(t.value(i), 1_709_251_140_000_201, "row {i}");
        }
        let (_, e) =
            parse_text_values(&[Some("2024-07-19 +00:xx")], &DataType::Date32).unwrap_err();
        assert_eq!(e.state, SqlState::InvalidTextRepresentation);
        // With a time zone, the offset counts.
        let tz = DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()));
        let t = parse_text_values(&[Some("2024-02-29 23:59:00+01")], &tz).unwrap();
        assert_eq!(
            t.as_primitive::<TimestampMicrosecondType>().value(0),
            1_709_247_540_000_000
        );
    }

    #[test]
    fn numeric_text_keeps_its_scale() {
        for (text, scale) in [
            ("2.50", Some(2)),
            ("-0.005", Some(3)),
            ("12", Some(0)),
            ("+.5", Some(1)),
            ("1.5e3", Some(0)),
            ("15E-3", Some(3)),
            (" 7. ", Some(0)),
            ("NaN", None),
            ("1.2.3", None),
            ("", None),
            ("1e-40", None),
        ] {
            assert_eq!(
                numeric_type_of_text(text),
                scale.map(|s| DataType::Decimal128(38, s)),
                "{text}"
            );
        }
    }

    #[test]
    fn fixed_intervals_in_microseconds() {
        assert_eq!(parse_fixed_interval_micros("4 second"), Ok(4_000_000));
        assert_eq!(
            parse_fixed_interval_micros("1 minute 30 seconds"),
            Ok(90_000_000)
        );
        assert_eq!(parse_fixed_interval_micros("250 milliseconds"), Ok(250_000));
        assert!(parse_fixed_interval_micros("1 month").is_err());
        assert!(parse_fixed_interval_micros("-1 second").is_err());
        assert!(parse_fixed_interval_micros("soon").is_err());
    }
}
