//! Parsing a table's `WITH (...)` options (a map of strings) into a
//! connector's typed options struct.
//!
//! Options structs derive `Deserialize` with `#[serde(deny_unknown_fields)]`;
//! `parse_options` turns serde's complaints into [`Error`]s that name the
//! connector, the option and, for unknown options, the valid ones. Values
//! arrive as strings, so non-string fields use the helpers in `de`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::de::value::MapDeserializer;

use crate::error::{Error, Result};

/// The option naming the connector itself. The server may pass it along
/// with the others; connectors ignore it.
pub const CONNECTOR_OPTION: &str = "connector";

/// Parses `options` (minus [`CONNECTOR_OPTION`]) into `T`.
///
/// # Errors
///
/// [`Error::UnknownOption`] for an option `T` does not have,
/// [`Error::MissingOption`] for a required one that is absent, and
/// [`Error::InvalidOption`] for a value that does not parse.
pub(crate) fn parse_options<T: DeserializeOwned>(
    connector: &'static str,
    options: &BTreeMap<String, String>,
) -> Result<T> {
    let current: RefCell<Option<(String, String)>> = RefCell::new(None);
    let entries = options
        .iter()
        .filter(|(k, _)| k.as_str() != CONNECTOR_OPTION)
        .map(|(k, v)| {
            current.replace(Some((k.clone(), v.clone())));
            (k.clone(), v.clone())
        });
    let deserializer = MapDeserializer::<_, OptionError>::new(entries);
    T::deserialize(deserializer).map_err(|e| match e {
        OptionError::Unknown { option, expected } => Error::UnknownOption {
            connector,
            option,
            valid: expected.join(", "),
        },
        OptionError::Missing(option) => Error::MissingOption {
            connector,
            option: option.to_string(),
        },
        OptionError::Invalid(reason) => {
            let (option, value) = current.take().unwrap_or_default();
            Error::InvalidOption {
                connector,
                option,
                value,
                reason,
            }
        }
    })
}

/// The error serde reports while deserializing options.
#[derive(Debug)]
enum OptionError {
    Unknown {
        option: String,
        expected: &'static [&'static str],
    },
    Missing(&'static str),
    Invalid(String),
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionError::Unknown { option, .. } => write!(f, "unknown option '{option}'"),
            OptionError::Missing(option) => write!(f, "missing option '{option}'"),
            OptionError::Invalid(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for OptionError {}

impl serde::de::Error for OptionError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        OptionError::Invalid(msg.to_string())
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        OptionError::Unknown {
            option: field.to_string(),
            expected,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        OptionError::Missing(field)
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        OptionError::Invalid(format!("expected one of {}", expected.join(", ")))
    }
}

/// Deserializers for option values written as strings.
pub(crate) mod de {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer};

    /// A value chosen from a fixed list of names (case-insensitive).
    pub(crate) trait OptionEnum: Sized + Copy + 'static {
        /// The accepted names, lower case, and their values.
        const VALUES: &'static [(&'static str, Self)];
    }

    /// An optional [`OptionEnum`]; use with `#[serde(default)]`.
    pub(crate) fn option_enum<'de, D: Deserializer<'de>, T: OptionEnum>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        let s = String::deserialize(d)?;
        let wanted = s.trim().to_ascii_lowercase();
        T::VALUES
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, v)| Some(*v))
            .ok_or_else(|| {
                let names: Vec<_> = T::VALUES.iter().map(|(n, _)| *n).collect();
                D::Error::custom(format!("expected one of {}", names.join(", ")))
            })
    }

    /// An optional boolean: `true`/`false` (also `t`/`f`, `yes`/`no`, `on`/`off`,
    /// `1`/`0`, as Postgres accepts).
    pub(crate) fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "on" | "1" => Ok(Some(true)),
            "false" | "f" | "no" | "off" | "0" => Ok(Some(false)),
            _ => Err(D::Error::custom("expected true or false")),
        }
    }

    /// An optional string.
    pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        String::deserialize(d).map(Some)
    }

    /// An optional unsigned integer.
    pub(crate) fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let s = String::deserialize(d)?;
        s.trim()
            .parse()
            .map(Some)
            .map_err(|_| D::Error::custom("expected a non-negative integer"))
    }

    /// An optional single ASCII character; `\t` and `tab` mean a tab.
    pub(crate) fn ascii_char<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "\\t" | "tab" => Ok(Some(b'\t')),
            _ => match s.as_bytes() {
                [b] if b.is_ascii() && *b != b'\n' && *b != b'\r' => Ok(Some(*b)),
                _ => Err(D::Error::custom(
                    "expected a single ASCII character other than a line break",
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::de::OptionEnum;
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Color {
        Red,
        Blue,
    }

    impl OptionEnum for Color {
        const VALUES: &'static [(&'static str, Self)] =
            &[("red", Color::Red), ("blue", Color::Blue)];
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct TestOptions {
        path: String,
        #[serde(default, deserialize_with = "de::bool")]
        header: Option<bool>,
        #[serde(default, deserialize_with = "de::option_enum")]
        color: Option<Color>,
        #[serde(default, deserialize_with = "de::ascii_char")]
        delimiter: Option<u8>,
        #[serde(default, deserialize_with = "de::u64")]
        count: Option<u64>,
    }

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_typed_values_and_ignores_connector() {
        let o: TestOptions = parse_options(
            "test",
            &opts(&[
                ("connector", "test"),
                ("path", "a"),
                ("header", "FALSE"),
                ("color", "Blue"),
                ("delimiter", "\\t"),
                ("count", "12"),
            ]),
        )
        .unwrap();
        assert_eq!(o.path, "a");
        assert_eq!(o.header, Some(false));
        assert_eq!(o.color, Some(Color::Blue));
        assert_eq!(o.delimiter, Some(b'\t'));
        assert_eq!(o.count, Some(12));
    }

    #[test]
    fn unknown_option_lists_valid_ones() {
        let e = parse_options::<TestOptions>("test", &opts(&[("pathh", "a")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown option 'pathh' for connector 'test' (valid options: path, header, color, delimiter, count)"
        );
    }

    #[test]
    fn missing_option_is_named() {
        let e = parse_options::<TestOptions>("test", &opts(&[("header", "true")])).unwrap_err();
        assert_eq!(e.to_string(), "missing option 'path' for connector 'test'");
    }

    #[test]
    fn invalid_value_names_option_and_value() {
        let e = parse_options::<TestOptions>("test", &opts(&[("path", "a"), ("header", "maybe")]))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value 'maybe' for option 'header' of connector 'test': expected true or false"
        );
        let e = parse_options::<TestOptions>("test", &opts(&[("color", "green"), ("path", "a")]))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value 'green' for option 'color' of connector 'test': expected one of red, blue"
        );
        let e = parse_options::<TestOptions>("test", &opts(&[("delimiter", ";;"), ("path", "a")]))
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid value ';;' for option 'delimiter'"),
            "{e}"
        );
    }
}
