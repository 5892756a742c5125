//! Text input of values (`COPY ... FROM STDIN`, text-format parameters):
//! Postgres's input syntax for each type, parsed into Arrow arrays.
//!
//! As in Postgres, a zone offset after a date or a timestamp without time
//! zone (`2024-07-19 +00`, `2024-07-19 10:00:00+02`, as pgjdbc sends them)
//! is accepted and ignored.

use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryArray, BooleanArray, StringArray};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::DataType;
use arrow::util::display::FormatOptions;

use crate::error::SqlError;

/// The Postgres name of the type an Arrow type is shown as, for messages.
pub fn pg_type_name(ty: &DataType) -> &'static str {
    match ty {
        DataType::Boolean => "boolean",
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "smallint",
        DataType::Int32 | DataType::UInt16 => "integer",
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => "bigint",
        DataType::Float16 | DataType::Float32 => "real",
        DataType::Float64 => "double precision",
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => "numeric",
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text",
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "bytea",
        DataType::Date32 | DataType::Date64 => "date",
        DataType::Time32(_) | DataType::Time64(_) => "time without time zone",
        DataType::Timestamp(_, None) => "timestamp without time zone",
        DataType::Timestamp(_, Some(_)) => "timestamp with time zone",
        DataType::Interval(_) | DataType::Duration(_) => "interval",
        _ => "unknown",
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn parse_bytea(s: &str) -> Option<Vec<u8>> {
    if let Some(hex) = s.strip_prefix("\\x") {
        if hex.len() % 2 != 0 {
            return None;
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect()
    } else {
        // Escape format: backslash-octal and doubled backslashes.
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'\\' {
                if bytes.get(i + 1) == Some(&b'\\') {
                    out.push(b'\\');
                    i += 2;
                } else {
                    let oct = std::str::from_utf8(bytes.get(i + 1..i + 4)?).ok()?;
                    out.push(u8::from_str_radix(oct, 8).ok()?);
                    i += 4;
                }
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        Some(out)
    }
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

fn invalid(ty: &DataType, value: &str) -> SqlError {
    SqlError::new(
        "22P02",
        format!(
            "invalid input syntax for type {}: \"{value}\"",
            pg_type_name(ty)
        ),
    )
}

/// Parses text values into an array of `ty`. On failure returns the index
/// of the first bad value and the error.
pub fn parse_text_values(
    values: &[Option<&str>],
    ty: &DataType,
) -> Result<ArrayRef, (usize, SqlError)> {
    match ty {
        DataType::Boolean => {
            let mut out = Vec::with_capacity(values.len());
            for (i, v) in values.iter().enumerate() {
                out.push(match v {
                    None => None,
                    Some(s) => Some(parse_bool(s).ok_or_else(|| (i, invalid(ty, s)))?),
                });
            }
            Ok(Arc::new(BooleanArray::from(out)))
        }
        DataType::Binary => {
            let mut out = Vec::with_capacity(values.len());
            for (i, v) in values.iter().enumerate() {
                out.push(match v {
                    None => None,
                    Some(s) => Some(parse_bytea(s).ok_or_else(|| (i, invalid(ty, s)))?),
                });
            }
            Ok(Arc::new(BinaryArray::from_iter(out)))
        }
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
                            let value = values[i].unwrap_or_default();
                            let err = if matches!(
                                ty,
                                DataType::Int16 | DataType::Int32 | DataType::Int64
                            ) && s.parse::<i128>().is_ok()
                            {
                                SqlError::new(
                                    "22003",
                                    format!(
                                        "value \"{value}\" is out of range for type {}",
                                        pg_type_name(ty)
                                    ),
                                )
                            } else {
                                invalid(ty, value)
                            };
                            return Err((i, err));
                        }
                    }
                    Err((
                        0,
                        SqlError::new(
                            "22P02",
                            format!("cannot convert text to {}", pg_type_name(ty)),
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

    #[test]
    fn parses_postgres_text_input() {
        let a = parse_text_values(&[Some(" 12"), None, Some("-3")], &DataType::Int64).unwrap();
        assert_eq!(a.as_primitive::<Int64Type>().value(0), 12);
        assert!(a.is_null(1));
        let (row, err) =
            parse_text_values(&[Some("1"), Some("abc")], &DataType::Int64).unwrap_err();
        assert_eq!(row, 1);
        assert_eq!(err.code, "22P02");
        assert_eq!(err.message, "invalid input syntax for type bigint: \"abc\"");
        let b = parse_text_values(&[Some("t"), Some("off")], &DataType::Boolean).unwrap();
        assert!(b.as_boolean().value(0) && !b.as_boolean().value(1));
        let x = parse_text_values(&[Some("\\x0aff")], &DataType::Binary).unwrap();
        assert_eq!(x.as_binary::<i32>().value(0), &[0x0a, 0xff]);
        let (_, e) = parse_text_values(&[Some("99999999999")], &DataType::Int32).unwrap_err();
        assert_eq!(e.code, "22003");
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
        assert_eq!(e.code, "22P02");
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
}
