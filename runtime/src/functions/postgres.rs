//! Postgres compatibility: the built-in types with their real OIDs (the rows
//! of `pg_type`), the mapping from Arrow types to them, and the `pg_catalog`
//! functions that psql, pgjdbc and BI tools call (`format_type`,
//! `pg_get_userbyid`, `pg_table_is_visible`, `pg_size_pretty`, ...).
//!
//! Every function here is vectorized over Arrow arrays, returns NULL for a
//! NULL argument (as Postgres's strict functions do), and depends only on its
//! arguments, so that any worker of any process computes the same answer.
//!
//! Some answers depend on the session or on the catalog, which workers do
//! not have. Those functions come in two forms:
//!
//! - the version in the shared registry ([`scalar_functions`]) answers with
//!   a documented default: `pg_table_is_visible` is true for every
//!   relation, `pg_get_viewdef` is NULL, `current_setting` reads the server
//!   defaults ([`DEFAULT_SETTINGS`]);
//! - the planner can register a per-statement version under the same name
//!   ([`current_setting_udf`], [`CatalogLookup`], [`IndexDefinitions`]).
//!   It rewrites itself into
//!   literals (or a `CASE` / `IN` list over literals) when the optimizer
//!   simplifies expressions, so workers never see it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int32Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Int64Type, TimeUnit};
use datafusion_common::{DataFusionError, Result, ScalarValue, exec_err, plan_err};
use datafusion_expr::expr::{Case, InList};
use datafusion_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// OID of the `pg_catalog` namespace.
pub const PG_CATALOG_NAMESPACE: u32 = 11;
/// OID of the `information_schema` namespace (as in Postgres 15).
pub const INFORMATION_SCHEMA_NAMESPACE: u32 = 13207;
/// OID of the one role, the superuser that owns every object.
pub const SUPERUSER_OID: u32 = 10;
/// Name of the one role.
pub const SUPERUSER_NAME: &str = "tidewater";
/// OID of the `default` collation.
pub const DEFAULT_COLLATION_OID: u32 = 100;
/// `pg_database.encoding` of every database (UTF8).
pub const UTF8_ENCODING: i32 = 6;
/// Time zone of the `timestamp with time zone` values these functions return.
const UTC: &str = "+00:00";

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/// A built-in type: one row of `pg_type`, with the values of Postgres 15.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgType {
    /// `oid`.
    pub oid: u32,
    /// `typname`.
    pub name: String,
    /// `typnamespace`: [`PG_CATALOG_NAMESPACE`] or [`INFORMATION_SCHEMA_NAMESPACE`].
    pub namespace: u32,
    /// `typlen`: bytes, or -1 (varlena) / -2 (C string).
    pub len: i16,
    /// `typbyval`.
    pub by_val: bool,
    /// `typtype`: b(ase), p(seudo), r(ange), m(ultirange), d(omain).
    pub kind: char,
    /// `typcategory`.
    pub category: char,
    /// `typispreferred`.
    pub preferred: bool,
    /// `typdelim`.
    pub delim: char,
    /// `typsubscript` (`-` for none).
    pub subscript: &'static str,
    /// `typelem`: the element type of an array, or 0.
    pub elem: u32,
    /// `typarray`: the array type of this type, or 0.
    pub array: u32,
    /// `typinput`.
    pub input: &'static str,
    /// `typoutput`.
    pub output: &'static str,
    /// `typreceive`.
    pub receive: &'static str,
    /// `typsend`.
    pub send: &'static str,
    /// `typmodin`.
    pub modin: &'static str,
    /// `typmodout`.
    pub modout: &'static str,
    /// `typanalyze`.
    pub analyze: &'static str,
    /// `typalign`.
    pub align: char,
    /// `typstorage`.
    pub storage: char,
    /// `typcollation`.
    pub collation: u32,
    /// `typbasetype` (domains), or 0.
    pub base_type: u32,
    /// `typtypmod` (domains), or -1.
    pub typmod: i32,
}

impl PgType {
    /// Whether this is a "true" array type (`_int4`, not `name` or
    /// `int2vector`): Postgres prints those as `element[]`.
    pub fn is_array(&self) -> bool {
        self.elem != 0 && self.subscript == "array_subscript_handler"
    }
}

/// Well-known type OIDs.
pub mod oid {
    /// `boolean`
    pub const BOOL: u32 = 16;
    /// `bytea`
    pub const BYTEA: u32 = 17;
    /// `"char"`
    pub const CHAR: u32 = 18;
    /// `name`
    pub const NAME: u32 = 19;
    /// `bigint`
    pub const INT8: u32 = 20;
    /// `smallint`
    pub const INT2: u32 = 21;
    /// `integer`
    pub const INT4: u32 = 23;
    /// `text`
    pub const TEXT: u32 = 25;
    /// `oid`
    pub const OID: u32 = 26;
    /// `real`
    pub const FLOAT4: u32 = 700;
    /// `double precision`
    pub const FLOAT8: u32 = 701;
    /// `unknown`
    pub const UNKNOWN: u32 = 705;
    /// `character`
    pub const BPCHAR: u32 = 1042;
    /// `character varying`
    pub const VARCHAR: u32 = 1043;
    /// `date`
    pub const DATE: u32 = 1082;
    /// `time without time zone`
    pub const TIME: u32 = 1083;
    /// `timestamp without time zone`
    pub const TIMESTAMP: u32 = 1114;
    /// `timestamp with time zone`
    pub const TIMESTAMPTZ: u32 = 1184;
    /// `interval`
    pub const INTERVAL: u32 = 1186;
    /// `time with time zone`
    pub const TIMETZ: u32 = 1266;
    /// `bit`
    pub const BIT: u32 = 1560;
    /// `bit varying`
    pub const VARBIT: u32 = 1562;
    /// `numeric`
    pub const NUMERIC: u32 = 1700;
    /// `record`
    pub const RECORD: u32 = 2249;
    /// `anyarray`
    pub const ANYARRAY: u32 = 2277;
    /// `anyelement`
    pub const ANYELEMENT: u32 = 2283;
}

/// Every built-in type, ordered by OID.
pub fn pg_types() -> &'static [PgType] {
    static TYPES: OnceLock<Vec<PgType>> = OnceLock::new();
    TYPES.get_or_init(parse_type_table)
}

/// The built-in type with this OID.
pub fn pg_type(oid: u32) -> Option<&'static PgType> {
    let types = pg_types();
    types
        .binary_search_by_key(&oid, |t| t.oid)
        .ok()
        .map(|i| &types[i])
}

/// The built-in type with this `typname` (`pg_catalog` first).
pub fn pg_type_by_name(name: &str) -> Option<&'static PgType> {
    static BY_NAME: OnceLock<HashMap<&'static str, &'static PgType>> = OnceLock::new();
    let map = BY_NAME.get_or_init(|| {
        let mut map = HashMap::new();
        // Later entries win: insert information_schema types first.
        for t in pg_types()
            .iter()
            .filter(|t| t.namespace != PG_CATALOG_NAMESPACE)
        {
            map.insert(t.name.as_str(), t);
        }
        for t in pg_types()
            .iter()
            .filter(|t| t.namespace == PG_CATALOG_NAMESPACE)
        {
            map.insert(t.name.as_str(), t);
        }
        map
    });
    map.get(name).copied()
}

fn parse_type_table() -> Vec<PgType> {
    let mut types = Vec::new();
    for line in TYPE_TABLE.lines().filter(|l| !l.trim().is_empty()) {
        match parse_type_line(line) {
            Some(t) => types.push(t),
            None => debug_assert!(false, "bad type table line: {line}"),
        }
    }
    // Array types are derived from their element types.
    let arrays: Vec<PgType> = types
        .iter()
        .filter(|t| t.array != 0)
        .map(|e| PgType {
            oid: e.array,
            name: format!("_{}", e.name),
            namespace: e.namespace,
            len: -1,
            by_val: false,
            kind: if e.kind == 'p' { 'p' } else { 'b' },
            category: if e.kind == 'p' { 'P' } else { 'A' },
            preferred: false,
            delim: e.delim,
            subscript: "array_subscript_handler",
            elem: e.oid,
            array: 0,
            input: "array_in",
            output: "array_out",
            receive: "array_recv",
            send: "array_send",
            modin: e.modin,
            modout: e.modout,
            analyze: "array_typanalyze",
            align: if e.align == 'd' { 'd' } else { 'i' },
            storage: 'x',
            collation: e.collation,
            base_type: 0,
            typmod: -1,
        })
        .collect();
    types.extend(arrays);
    types.sort_by_key(|t| t.oid);
    types
}

fn parse_type_line(line: &'static str) -> Option<PgType> {
    let f: Vec<&'static str> = line.split(' ').collect();
    let [
        oid,
        name,
        nsp,
        len,
        by_val,
        kind,
        category,
        preferred,
        delim,
        subscript,
        elem,
        array,
        input,
        output,
        receive,
        send,
        modin,
        modout,
        analyze,
        align,
        storage,
        collation,
        base_type,
        typmod,
    ] = f.as_slice()
    else {
        return None;
    };
    let ch = |s: &str| s.chars().next();
    Some(PgType {
        oid: oid.parse().ok()?,
        name: (*name).to_string(),
        namespace: if *nsp == "p" {
            PG_CATALOG_NAMESPACE
        } else {
            INFORMATION_SCHEMA_NAMESPACE
        },
        len: len.parse().ok()?,
        by_val: *by_val == "t",
        kind: ch(kind)?,
        category: ch(category)?,
        preferred: *preferred == "t",
        delim: ch(delim)?,
        subscript,
        elem: elem.parse().ok()?,
        array: array.parse().ok()?,
        input,
        output,
        receive,
        send,
        modin,
        modout,
        analyze,
        align: ch(align)?,
        storage: ch(storage)?,
        collation: collation.parse().ok()?,
        base_type: base_type.parse().ok()?,
        typmod: typmod.parse().ok()?,
    })
}

/// The Postgres type (OID and typmod) that values of an Arrow type are
/// shown as: `Int64` is `bigint` (20), `Utf8` is `text` (25),
/// `Decimal128(10, 2)` is `numeric(10,2)` (1700 with typmod 655366), a list
/// is the array type of its element, and so on. Types without a Postgres
/// counterpart (structs, lists of lists, ...) are `text`. This is what the
/// pg wire front end sends (`server::pg::types`).
pub fn pg_type_of(data_type: &DataType) -> (u32, i32) {
    fn precision_typmod(unit: &TimeUnit) -> i32 {
        match unit {
            TimeUnit::Second => 0,
            TimeUnit::Millisecond => 3,
            TimeUnit::Microsecond | TimeUnit::Nanosecond => -1,
        }
    }
    match data_type {
        DataType::Boolean => (oid::BOOL, -1),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => (oid::INT2, -1),
        DataType::Int32 | DataType::UInt16 => (oid::INT4, -1),
        DataType::Int64 | DataType::UInt32 => (oid::INT8, -1),
        DataType::UInt64 => (oid::NUMERIC, -1),
        DataType::Float16 | DataType::Float32 => (oid::FLOAT4, -1),
        DataType::Float64 => (oid::FLOAT8, -1),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => {
            (oid::NUMERIC, numeric_typmod(i32::from(*p), i32::from(*s)))
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => (oid::TEXT, -1),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => (oid::BYTEA, -1),
        DataType::Date32 | DataType::Date64 => (oid::DATE, -1),
        DataType::Time32(unit) | DataType::Time64(unit) => (oid::TIME, precision_typmod(unit)),
        DataType::Timestamp(unit, None) => (oid::TIMESTAMP, precision_typmod(unit)),
        DataType::Timestamp(unit, Some(_)) => (oid::TIMESTAMPTZ, precision_typmod(unit)),
        DataType::Interval(_) | DataType::Duration(_) => (oid::INTERVAL, -1),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            // A list is an array of its element's type; a list of lists is text.
            let (elem, typmod) = pg_type_of(f.data_type());
            match pg_type(elem) {
                Some(t) if t.array != 0 => (t.array, typmod),
                _ => (oid::TEXT, -1),
            }
        }
        DataType::Dictionary(_, value) => pg_type_of(value),
        _ => (oid::TEXT, -1),
    }
}

/// Field metadata key holding a column's declared SQL type
/// (`character varying(10)`, `numeric(10,2)`), for types that Arrow
/// cannot tell apart (`varchar(n)`, `char(n)` and `text` are all `Utf8`).
/// [`pg_type_of_field`] prefers it to the Arrow type.
pub const PG_TYPE_METADATA_KEY: &str = "tidewater.pg_type";

/// The Postgres type (OID and typmod) of a column: its declared type
/// ([`PG_TYPE_METADATA_KEY`]) when it has one that names a known type,
/// else the type of its Arrow type ([`pg_type_of`]).
pub fn pg_type_of_field(field: &Field) -> (u32, i32) {
    field
        .metadata()
        .get(PG_TYPE_METADATA_KEY)
        .and_then(|declared| parse_type_with_typmod(declared))
        .unwrap_or_else(|| pg_type_of(field.data_type()))
}

/// Resolves a type name with its modifier, as in a column definition:
/// `varchar(10)` is (1043, 14), `numeric(10,2)` is (1700, 655366),
/// `timestamp(3)` is (1114, 3), `int[]` is (1007, -1).
pub fn parse_type_with_typmod(text: &str) -> Option<(u32, i32)> {
    let t = parse_type_name(text)?;
    let base = if t.is_array() { pg_type(t.elem)? } else { t };
    let modifiers: Option<Vec<i32>> = text.find('(').and_then(|open| {
        let close = open + text[open..].find(')')?;
        text[open + 1..close]
            .split(',')
            .map(|m| m.trim().parse().ok())
            .collect()
    });
    let typmod = match (base.oid, modifiers.as_deref()) {
        (_, None) => -1,
        (oid::VARCHAR | oid::BPCHAR, Some([n])) => n.checked_add(VARHDRSZ)?,
        (oid::NUMERIC, Some([p])) => numeric_typmod(*p, 0),
        (oid::NUMERIC, Some([p, s])) => numeric_typmod(*p, *s),
        (
            oid::TIME | oid::TIMETZ | oid::TIMESTAMP | oid::TIMESTAMPTZ | oid::BIT | oid::VARBIT,
            Some([n]),
        ) => *n,
        // interval(p): every field, precision p.
        (oid::INTERVAL, Some([p])) => (0x7fff << 16) | (p & 0xffff),
        _ => -1,
    };
    Some((t.oid, typmod))
}

/// The typmod of `numeric(precision, scale)`.
pub fn numeric_typmod(precision: i32, scale: i32) -> i32 {
    ((precision << 16) | (scale & 0x7ff)) + VARHDRSZ
}

/// Header size Postgres adds to length typmods (`varchar(n)` is `n + 4`).
const VARHDRSZ: i32 = 4;

/// `numeric` precision and scale from a typmod, if it carries them.
pub fn numeric_precision_scale(typmod: i32) -> Option<(i32, i32)> {
    if typmod < VARHDRSZ {
        return None;
    }
    let t = typmod - VARHDRSZ;
    Some(((t >> 16) & 0xffff, ((t & 0x7ff) ^ 1024) - 1024))
}

/// Postgres's `format_type(oid, typmod)`: the SQL name of a type, with its
/// modifier (`character varying(10)`, `numeric(10,2)`,
/// `timestamp(3) without time zone`, `integer[]`). `typmod` `None` is
/// SQL NULL ("not given"), which differs from -1 for `bpchar` and `bit`.
/// Unknown OIDs print as `???`, OID 0 as `-`.
pub fn format_type(type_oid: u32, typmod: Option<i32>) -> String {
    if type_oid == 0 {
        return "-".to_string();
    }
    let Some(mut t) = pg_type(type_oid) else {
        return "???".to_string();
    };
    let mut is_array = false;
    if t.is_array() {
        match pg_type(t.elem) {
            Some(elem) => {
                t = elem;
                is_array = true;
            }
            None => return "???".to_string(),
        }
    }
    let given = typmod.is_some();
    let typmod = typmod.unwrap_or(-1);
    let with_typmod = given && typmod >= 0;
    let special = match t.oid {
        oid::BIT if with_typmod => Some(format!("bit({typmod})")),
        oid::BIT if !given => Some("bit".to_string()),
        oid::BOOL => Some("boolean".to_string()),
        oid::BPCHAR if with_typmod => Some(format!("character{}", length_typmod(typmod))),
        oid::BPCHAR if !given => Some("character".to_string()),
        oid::FLOAT4 => Some("real".to_string()),
        oid::FLOAT8 => Some("double precision".to_string()),
        oid::INT2 => Some("smallint".to_string()),
        oid::INT4 => Some("integer".to_string()),
        oid::INT8 => Some("bigint".to_string()),
        oid::NUMERIC => Some(
            match numeric_precision_scale(typmod).filter(|_| with_typmod) {
                Some((p, s)) => format!("numeric({p},{s})"),
                None => "numeric".to_string(),
            },
        ),
        oid::INTERVAL => Some(format!(
            "interval{}",
            interval_typmod(if with_typmod { typmod } else { -1 })
        )),
        oid::TIME => Some(format!(
            "time{} without time zone",
            precision(with_typmod, typmod)
        )),
        oid::TIMETZ => Some(format!(
            "time{} with time zone",
            precision(with_typmod, typmod)
        )),
        oid::TIMESTAMP => Some(format!(
            "timestamp{} without time zone",
            precision(with_typmod, typmod)
        )),
        oid::TIMESTAMPTZ => Some(format!(
            "timestamp{} with time zone",
            precision(with_typmod, typmod)
        )),
        oid::VARBIT if with_typmod => Some(format!("bit varying({typmod})")),
        oid::VARBIT => Some("bit varying".to_string()),
        oid::VARCHAR if with_typmod => Some(format!("character varying{}", length_typmod(typmod))),
        oid::VARCHAR => Some("character varying".to_string()),
        _ => None,
    };
    let mut out = match special {
        Some(s) => s,
        None => {
            let mut s = String::new();
            if t.namespace != PG_CATALOG_NAMESPACE {
                s.push_str("information_schema.");
            }
            s.push_str(&quote_ident(&t.name));
            if with_typmod && t.modout == "-" {
                let _ = write!(s, "({typmod})");
            }
            s
        }
    };
    if is_array {
        out.push_str("[]");
    }
    out
}

fn length_typmod(typmod: i32) -> String {
    if typmod > VARHDRSZ {
        format!("({})", typmod - VARHDRSZ)
    } else {
        String::new()
    }
}

fn precision(with_typmod: bool, typmod: i32) -> String {
    if with_typmod {
        format!("({typmod})")
    } else {
        String::new()
    }
}

/// The field and precision part of an `interval` type name.
fn interval_typmod(typmod: i32) -> String {
    const MONTH: i32 = 1 << 1;
    const YEAR: i32 = 1 << 2;
    const DAY: i32 = 1 << 3;
    const HOUR: i32 = 1 << 10;
    const MINUTE: i32 = 1 << 11;
    const SECOND: i32 = 1 << 12;
    const FULL_RANGE: i32 = 0x7fff;
    const FULL_PRECISION: i32 = 0xffff;
    if typmod < 0 {
        return String::new();
    }
    let fields = match (typmod >> 16) & 0x7fff {
        YEAR => " year",
        MONTH => " month",
        DAY => " day",
        HOUR => " hour",
        MINUTE => " minute",
        SECOND => " second",
        r if r == YEAR | MONTH => " year to month",
        r if r == DAY | HOUR => " day to hour",
        r if r == DAY | HOUR | MINUTE => " day to minute",
        r if r == DAY | HOUR | MINUTE | SECOND => " day to second",
        r if r == HOUR | MINUTE => " hour to minute",
        r if r == HOUR | MINUTE | SECOND => " hour to second",
        r if r == MINUTE | SECOND => " minute to second",
        FULL_RANGE => "",
        // Postgres raises "invalid INTERVAL typmod"; print the bare name.
        _ => return String::new(),
    };
    let precision = typmod & 0xffff;
    if precision == FULL_PRECISION {
        fields.to_string()
    } else {
        format!("{fields}({precision})")
    }
}

/// Resolves a type name as `::regtype` / `to_regtype` do: SQL spellings
/// (`integer`, `character varying(10)`, `double precision`,
/// `timestamp with time zone`, `int[]`) and `typname`s, optionally
/// qualified with `pg_catalog.` or `information_schema.`.
pub fn parse_type_name(text: &str) -> Option<&'static PgType> {
    let mut s = text.trim().to_string();
    let mut array = false;
    while let Some(rest) = s.strip_suffix("[]") {
        array = true;
        s = rest.trim_end().to_string();
    }
    // A type modifier does not change the type.
    if let Some(open) = s.find('(') {
        let close = s.rfind(')')?;
        let after = s[close + 1..].to_string();
        s = format!("{}{}", s[..open].trim_end(), after);
    }
    let quoted = s.starts_with('"') && s.ends_with('"') && s.len() >= 2;
    let mut name = if quoted {
        s[1..s.len() - 1].replace("\"\"", "\"")
    } else {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    for schema in ["pg_catalog.", "information_schema."] {
        if let Some(rest) = name.strip_prefix(schema) {
            name = rest.trim_matches('"').to_string();
        }
    }
    let canonical = if quoted {
        name.as_str()
    } else {
        match name.as_str() {
            "int" | "integer" => "int4",
            "smallint" => "int2",
            "bigint" => "int8",
            "real" => "float4",
            "float" | "double precision" => "float8",
            "boolean" => "bool",
            "decimal" | "dec" => "numeric",
            "character varying" | "char varying" => "varchar",
            "character" | "char" => "bpchar",
            "timestamp" | "timestamp without time zone" => "timestamp",
            "timestamp with time zone" => "timestamptz",
            "time" | "time without time zone" => "time",
            "time with time zone" => "timetz",
            "bit varying" => "varbit",
            other => other,
        }
    };
    let t = pg_type_by_name(canonical)?;
    if array {
        if t.is_array() {
            Some(t)
        } else {
            pg_type(t.array)
        }
    } else {
        Some(t)
    }
}

// ---------------------------------------------------------------------------
// Helpers shared with the catalog
// ---------------------------------------------------------------------------

/// Key words that Postgres's `quote_ident` quotes (every key word that is
/// not unreserved, Postgres 15).
const QUOTED_KEYWORDS: &str = "\
all analyse analyze and any array as asc asymmetric authorization between bigint binary \
bit boolean both case cast char character check coalesce collate collation column \
concurrently constraint create cross current_catalog current_date current_role \
current_schema current_time current_timestamp current_user dec decimal default \
deferrable desc distinct do else end except exists extract false fetch float for \
foreign freeze from full grant greatest group grouping having ilike in initially inner \
inout int integer intersect interval into is isnull join lateral leading least left \
like limit localtime localtimestamp national natural nchar none normalize not notnull \
null nullif numeric offset on only or order out outer overlaps overlay placing position \
precision primary real references returning right row select session_user setof similar \
smallint some substring symmetric table tablesample then time timestamp to trailing \
treat trim true union unique user using values varchar variadic verbose when where \
window with xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces \
xmlparse xmlpi xmlroot xmlserialize xmltable";

/// Postgres's `quote_ident`: double-quotes an identifier unless it is
/// lower case letters, digits and underscores (not starting with a digit)
/// and not a reserved key word.
pub fn quote_ident(ident: &str) -> Cow<'_, str> {
    let mut chars = ident.chars();
    let safe = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !QUOTED_KEYWORDS.split_whitespace().any(|k| k == ident);
    if safe {
        Cow::Borrowed(ident)
    } else {
        Cow::Owned(format!("\"{}\"", ident.replace('"', "\"\"")))
    }
}

/// Postgres's `pg_size_pretty(bigint)`: bytes, kB, MB, GB, TB or PB, with
/// half-up rounding and a unit chosen so that the number stays below 10240
/// (20480 after rounding).
pub fn size_pretty(size: i64) -> String {
    // (unit, limit, rounds, unit bits) as in Postgres 15's dbsize.c.
    const UNITS: [(&str, i64, bool, u32); 6] = [
        ("bytes", 10 * 1024, false, 0),
        ("kB", 20 * 1024 - 1, true, 10),
        ("MB", 20 * 1024 - 1, true, 20),
        ("GB", 20 * 1024 - 1, true, 30),
        ("TB", 20 * 1024 - 1, true, 40),
        ("PB", 20 * 1024 - 1, true, 50),
    ];
    let half_rounded = |x: i64| (x + if x < 0 { -1 } else { 1 }) / 2;
    let mut size = size;
    for (i, (name, limit, round, bits)) in UNITS.iter().enumerate() {
        let last = i + 1 == UNITS.len();
        if last || size.unsigned_abs() < limit.unsigned_abs() {
            if *round {
                size = half_rounded(size);
            }
            return format!("{size} {name}");
        }
        let (_, _, next_round, next_bits) = UNITS[i + 1];
        let shift = next_bits - bits - u32::from(next_round) + u32::from(*round);
        size /= 1i64 << shift;
    }
    format!("{size} bytes")
}

/// Encoding names by `pg_database.encoding` number (Postgres's `pg_enc`).
const ENCODINGS: &str = "\
SQL_ASCII EUC_JP EUC_CN EUC_KR EUC_TW EUC_JIS_2004 UTF8 MULE_INTERNAL LATIN1 LATIN2 \
LATIN3 LATIN4 LATIN5 LATIN6 LATIN7 LATIN8 LATIN9 LATIN10 WIN1256 WIN1258 WIN866 WIN874 \
KOI8R WIN1251 WIN1252 ISO_8859_5 ISO_8859_6 ISO_8859_7 ISO_8859_8 WIN1250 WIN1253 \
WIN1254 WIN1255 WIN1257 KOI8U SJIS BIG5 GBK UHC GB18030 JOHAB SHIFT_JIS_2004";

/// `pg_encoding_to_char`: the encoding's name, or `""` for an invalid number.
pub fn encoding_name(encoding: i64) -> &'static str {
    usize::try_from(encoding)
        .ok()
        .and_then(|i| ENCODINGS.split_whitespace().nth(i))
        .unwrap_or("")
}

/// The name `pg_get_userbyid` prints for a role OID.
pub fn user_name(role: i64) -> String {
    if role == i64::from(SUPERUSER_OID) {
        SUPERUSER_NAME.to_string()
    } else {
        format!("unknown (OID={role})")
    }
}

/// When this process started, in microseconds since the epoch (what
/// `pg_postmaster_start_time()` reports; set when the registry is built).
fn process_start_micros() -> i64 {
    static START: OnceLock<i64> = OnceLock::new();
    *START.get_or_init(now_micros)
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Server defaults that `current_setting` reports when the session does
/// not provide its own settings (see [`current_setting_udf`]). They match
/// the defaults of the server's session settings.
pub const DEFAULT_SETTINGS: &[(&str, &str)] = &[
    ("application_name", ""),
    ("bytea_output", "hex"),
    ("client_encoding", "UTF8"),
    ("client_min_messages", "notice"),
    ("DateStyle", "ISO, MDY"),
    ("default_transaction_isolation", "read committed"),
    ("default_transaction_read_only", "off"),
    ("extra_float_digits", "1"),
    ("idle_in_transaction_session_timeout", "0"),
    ("in_hot_standby", "off"),
    ("integer_datetimes", "on"),
    ("IntervalStyle", "postgres"),
    ("is_superuser", "on"),
    ("join_collapse_limit", "8"),
    ("lc_collate", "C"),
    ("lc_ctype", "C"),
    ("lc_messages", "C"),
    ("lc_monetary", "C"),
    ("lc_numeric", "C"),
    ("lc_time", "C"),
    ("lock_timeout", "0"),
    ("max_identifier_length", "63"),
    ("search_path", "\"$user\", public"),
    ("server_encoding", "UTF8"),
    ("server_version", "14.0"),
    ("server_version_num", "140000"),
    ("standard_conforming_strings", "on"),
    ("statement_timeout", "0"),
    ("synchronous_commit", "on"),
    ("TimeZone", "UTC"),
    ("transaction_isolation", "read committed"),
    ("transaction_read_only", "off"),
];

// ---------------------------------------------------------------------------
// Functions
// ---------------------------------------------------------------------------

/// Tidewater's Postgres compatibility scalar functions.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    // Fix the "postmaster start time" when the registry is built.
    let _ = process_start_micros();
    use Arg::{Any as A, Bool as B, Int as I, List as L, Oid as O, Text as T};
    use Func::*;
    let f = |name: &'static str, func: Func, args: &'static [Arg], required: usize| {
        Arc::new(ScalarUDF::new_from_impl(PgFunction::new(
            name, func, args, required,
        )))
    };
    let mut fns = vec![
        f("format_type", FormatType, &[O, I], 2),
        f("pg_get_userbyid", UserById, &[O], 1),
        f("pg_table_is_visible", TrueIfPresent, &[O], 1),
        f("pg_function_is_visible", TrueIfPresent, &[O], 1),
        f("pg_collation_is_visible", TrueIfPresent, &[O], 1),
        f("pg_type_is_visible", TypeIsVisible, &[O], 1),
        f("pg_get_expr", FirstText, &[T, O, B], 2),
        f("pg_get_indexdef", NullText, &[O, I, B], 1),
        f("pg_get_constraintdef", NullText, &[O, B], 1),
        f("pg_get_viewdef", NullText, &[A, A], 1),
        f("pg_get_triggerdef", NullText, &[O, B], 1),
        f("pg_get_ruledef", NullText, &[O, B], 1),
        f("pg_get_functiondef", NullText, &[O], 1),
        f("pg_get_function_result", NullText, &[O], 1),
        f("pg_get_function_arguments", NullText, &[O], 1),
        f("pg_get_function_identity_arguments", NullText, &[O], 1),
        f("pg_get_partkeydef", NullText, &[O], 1),
        f("pg_get_partition_constraintdef", NullText, &[O], 1),
        f("pg_get_statisticsobjdef_columns", NullText, &[O], 1),
        f("pg_get_serial_sequence", NullText, &[T, T], 2),
        f("obj_description", NullText, &[O, T], 1),
        f("col_description", NullText, &[O, I], 2),
        f("shobj_description", NullText, &[O, T], 2),
        f("pg_encoding_to_char", EncodingToChar, &[I], 1),
        f("pg_char_to_encoding", CharToEncoding, &[T], 1),
        f("pg_total_relation_size", ZeroSize, &[A], 1),
        f("pg_relation_size", ZeroSize, &[A, T], 1),
        f("pg_table_size", ZeroSize, &[A], 1),
        f("pg_indexes_size", ZeroSize, &[A], 1),
        f("pg_database_size", ZeroSize, &[A], 1),
        f("pg_size_pretty", SizePretty, &[I], 1),
        f("pg_tablespace_location", EmptyText, &[O], 1),
        f("pg_relation_is_publishable", FalseIfPresent, &[A], 1),
        f("pg_is_other_temp_schema", FalseIfPresent, &[O], 1),
        f("quote_ident", QuoteIdent, &[T], 1),
        f("to_regtype", ToRegtype, &[T], 1),
        f("oidvectortypes", OidVectorTypes, &[L], 1),
        f("array_upper", ArrayUpper, &[L, I], 2),
        f("array_lower", ArrayLower, &[L, I], 2),
        f("pg_is_in_recovery", Const(ConstValue::False), &[], 0),
        f("pg_jit_available", Const(ConstValue::False), &[], 0),
        f("pg_my_temp_schema", Const(ConstValue::ZeroOid), &[], 0),
        f("getdatabaseencoding", Const(ConstValue::Utf8Name), &[], 0),
        f("pg_client_encoding", Const(ConstValue::Utf8Name), &[], 0),
        f("txid_current", TxidCurrent, &[], 0),
        f("pg_postmaster_start_time", PostmasterStartTime, &[], 0),
        f("pg_conf_load_time", PostmasterStartTime, &[], 0),
    ];
    for name in [
        "has_table_privilege",
        "has_schema_privilege",
        "has_database_privilege",
        "has_column_privilege",
        "has_any_column_privilege",
        "has_function_privilege",
        "has_sequence_privilege",
        "has_tablespace_privilege",
        "has_type_privilege",
        "has_language_privilege",
        "has_foreign_data_wrapper_privilege",
        "has_server_privilege",
        "pg_has_role",
    ] {
        // (user, object, privilege), (object, privilege), or with a column.
        fns.push(f(name, TrueIfPresent, &[A, A, A, A], 2));
    }
    fns.push(Arc::new(current_setting_udf(
        DEFAULT_SETTINGS
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string())),
    )));
    fns
}

/// How an argument is coerced before the function sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Arg {
    /// An object id: `Int64`.
    Oid,
    /// An integer: `Int64`.
    Int,
    /// Text: `Utf8`.
    Text,
    /// A boolean.
    Bool,
    /// An object named by OID (`Int64`) or by name (`Utf8`), as the
    /// privilege and size functions accept.
    Any,
    /// An array: any list type, unchanged.
    List,
}

impl Arg {
    fn coerce(self, actual: &DataType) -> Option<DataType> {
        let integer = actual.is_integer() || matches!(actual, DataType::Null);
        Some(match self {
            Arg::Oid | Arg::Int => {
                if integer || actual.is_numeric() || is_string(actual) {
                    DataType::Int64
                } else {
                    return None;
                }
            }
            Arg::Text => DataType::Utf8,
            Arg::Bool => DataType::Boolean,
            Arg::Any if integer => DataType::Int64,
            Arg::Any => DataType::Utf8,
            Arg::List => match actual {
                DataType::List(_)
                | DataType::LargeList(_)
                | DataType::FixedSizeList(..)
                | DataType::Null => actual.clone(),
                _ => return None,
            },
        })
    }
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// A nullary function's constant answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ConstValue {
    False,
    ZeroOid,
    Utf8Name,
}

/// What a [`PgFunction`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Func {
    /// `format_type(oid, typmod)`.
    FormatType,
    /// `pg_get_userbyid(oid)`.
    UserById,
    /// True when every argument is non-NULL (visibility, privileges).
    TrueIfPresent,
    /// False when every argument is non-NULL.
    FalseIfPresent,
    /// `pg_type_is_visible(oid)`: true for `pg_catalog` types, false for
    /// `information_schema` ones, NULL for unknown OIDs.
    TypeIsVisible,
    /// The first argument, unchanged (`pg_get_expr`: our expression trees
    /// are stored as their SQL text).
    FirstText,
    /// Always NULL text (there are no indexes, constraints, comments, ...).
    NullText,
    /// Empty text for non-NULL input.
    EmptyText,
    /// `pg_encoding_to_char(int)`.
    EncodingToChar,
    /// `pg_char_to_encoding(name)`.
    CharToEncoding,
    /// 0 bytes for non-NULL input (sizes are not tracked yet).
    ZeroSize,
    /// `pg_size_pretty(bigint)`.
    SizePretty,
    /// `quote_ident(text)`.
    QuoteIdent,
    /// `to_regtype(text)`: the type's OID or NULL.
    ToRegtype,
    /// `oidvectortypes(oidvector)`: type names separated by `, `.
    OidVectorTypes,
    /// `array_upper(array, dim)`.
    ArrayUpper,
    /// `array_lower(array, dim)`.
    ArrayLower,
    /// A constant.
    Const(ConstValue),
    /// `txid_current()`: folded to the statement's start time in
    /// microseconds, which grows from statement to statement.
    TxidCurrent,
    /// `pg_postmaster_start_time()`.
    PostmasterStartTime,
}

/// A Postgres compatibility function (see [`Func`] for each one).
#[derive(Debug, PartialEq, Eq, Hash)]
struct PgFunction {
    name: &'static str,
    func: Func,
    args: &'static [Arg],
    /// Arguments that must be given; the rest of `args` are optional.
    required: usize,
    signature: Signature,
}

impl PgFunction {
    fn new(name: &'static str, func: Func, args: &'static [Arg], required: usize) -> Self {
        let volatility = match func {
            Func::TxidCurrent
            | Func::PostmasterStartTime
            | Func::TrueIfPresent
            | Func::TypeIsVisible => Volatility::Stable,
            _ => Volatility::Immutable,
        };
        let signature = if args.is_empty() {
            Signature::nullary(volatility)
        } else {
            Signature::user_defined(volatility)
        };
        Self {
            name,
            func,
            args,
            required,
            signature,
        }
    }

    fn output_type(&self) -> DataType {
        match self.func {
            Func::TrueIfPresent
            | Func::FalseIfPresent
            | Func::TypeIsVisible
            | Func::Const(ConstValue::False) => DataType::Boolean,
            Func::ZeroSize | Func::TxidCurrent => DataType::Int64,
            Func::CharToEncoding | Func::ArrayUpper | Func::ArrayLower => DataType::Int32,
            Func::ToRegtype | Func::Const(ConstValue::ZeroOid) => DataType::Int32,
            Func::PostmasterStartTime => {
                DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
            }
            _ => DataType::Utf8,
        }
    }

    fn evaluate(&self, args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
        let int = |i: usize| -> Result<Int64Array> {
            Ok(cast(&args[i], &DataType::Int64)?
                .as_primitive::<Int64Type>()
                .clone())
        };
        let text = |i: usize| -> Result<StringArray> {
            Ok(cast(&args[i], &DataType::Utf8)?.as_string::<i32>().clone())
        };
        let all_present = |row: usize| args.iter().all(|a| a.is_valid(row));
        Ok(match self.func {
            Func::FormatType => {
                let oids = int(0)?;
                let typmods = int(1)?;
                let out: StringArray = (0..rows)
                    .map(|r| {
                        if oids.is_null(r) {
                            return None;
                        }
                        let typmod = typmods.is_valid(r).then(|| clamp_i32(typmods.value(r)));
                        Some(match u32::try_from(oids.value(r)) {
                            Ok(o) => format_type(o, typmod),
                            Err(_) => "???".to_string(),
                        })
                    })
                    .collect();
                Arc::new(out)
            }
            Func::UserById => {
                let oids = int(0)?;
                Arc::new(
                    oids.iter()
                        .map(|o| o.map(user_name))
                        .collect::<StringArray>(),
                )
            }
            Func::TrueIfPresent | Func::FalseIfPresent => {
                let value = self.func == Func::TrueIfPresent;
                Arc::new(
                    (0..rows)
                        .map(|r| all_present(r).then_some(value))
                        .collect::<BooleanArray>(),
                )
            }
            Func::TypeIsVisible => {
                let oids = int(0)?;
                let out: BooleanArray = oids
                    .iter()
                    .map(|o| {
                        let t = pg_type(u32::try_from(o?).ok()?)?;
                        Some(t.namespace == PG_CATALOG_NAMESPACE)
                    })
                    .collect();
                Arc::new(out)
            }
            Func::FirstText => {
                let exprs = text(0)?;
                Arc::new(
                    (0..rows)
                        .map(|r| all_present(r).then(|| exprs.value(r)))
                        .collect::<StringArray>(),
                )
            }
            Func::NullText => Arc::new(StringArray::new_null(rows)),
            Func::EmptyText => Arc::new(
                (0..rows)
                    .map(|r| all_present(r).then_some(""))
                    .collect::<StringArray>(),
            ),
            Func::EncodingToChar => {
                let codes = int(0)?;
                Arc::new(
                    codes
                        .iter()
                        .map(|c| c.map(encoding_name))
                        .collect::<StringArray>(),
                )
            }
            Func::CharToEncoding => {
                let names = text(0)?;
                let out: Int32Array = names
                    .iter()
                    .map(|n| {
                        let n = n?.replace(['-', '_'], "");
                        let code = ENCODINGS
                            .split_whitespace()
                            .position(|e| e.replace('_', "").eq_ignore_ascii_case(&n))
                            .map_or(-1, |i| i32::try_from(i).unwrap_or(-1));
                        Some(code)
                    })
                    .collect();
                Arc::new(out)
            }
            Func::ZeroSize => Arc::new(
                (0..rows)
                    .map(|r| all_present(r).then_some(0i64))
                    .collect::<Int64Array>(),
            ),
            Func::SizePretty => {
                let sizes = int(0)?;
                Arc::new(
                    sizes
                        .iter()
                        .map(|s| s.map(size_pretty))
                        .collect::<StringArray>(),
                )
            }
            Func::QuoteIdent => {
                let idents = text(0)?;
                Arc::new(
                    idents
                        .iter()
                        .map(|s| s.map(|s| quote_ident(s).into_owned()))
                        .collect::<StringArray>(),
                )
            }
            Func::ToRegtype => {
                let names = text(0)?;
                let out: Int32Array = names
                    .iter()
                    .map(|n| parse_type_name(n?).and_then(|t| i32::try_from(t.oid).ok()))
                    .collect();
                Arc::new(out)
            }
            Func::OidVectorTypes => {
                let lists = list_values(&args[0])?;
                let out: StringArray = lists
                    .iter()
                    .map(|l| {
                        let l = l.as_ref()?;
                        let names: Vec<String> = l
                            .iter()
                            .map(|o| match o.and_then(|o| u32::try_from(o).ok()) {
                                Some(o) => format_type(o, None),
                                None => "-".to_string(),
                            })
                            .collect();
                        Some(names.join(", "))
                    })
                    .collect();
                Arc::new(out)
            }
            Func::ArrayUpper | Func::ArrayLower => {
                let lengths = list_lengths(&args[0])?;
                let dims = int(1)?;
                let upper = self.func == Func::ArrayUpper;
                let out: Int32Array = (0..rows)
                    .map(|r| {
                        let len = lengths.get(r).copied().flatten()?;
                        // Only the first dimension of a (possibly nested) list.
                        if dims.is_null(r) || dims.value(r) != 1 || len == 0 {
                            return None;
                        }
                        Some(if upper {
                            i32::try_from(len).unwrap_or(i32::MAX)
                        } else {
                            1
                        })
                    })
                    .collect();
                Arc::new(out)
            }
            Func::Const(ConstValue::False) => Arc::new(BooleanArray::from(vec![false; rows])),
            Func::Const(ConstValue::ZeroOid) => Arc::new(Int32Array::from(vec![0; rows])),
            Func::Const(ConstValue::Utf8Name) => Arc::new(StringArray::from(vec!["UTF8"; rows])),
            Func::TxidCurrent => Arc::new(Int64Array::from(vec![now_micros(); rows])),
            Func::PostmasterStartTime => Arc::new(
                TimestampMicrosecondArray::from(vec![process_start_micros(); rows])
                    .with_timezone(UTC),
            ),
        })
    }
}

fn clamp_i32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

/// The values of each list of a list array, as `i64`s.
fn list_values(array: &ArrayRef) -> Result<Vec<Option<Vec<Option<i64>>>>> {
    let list = match array.data_type() {
        DataType::Null => return Ok(vec![None; array.len()]),
        DataType::List(_) => array.as_list::<i32>().clone(),
        DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            cast(array, &DataType::List(Arc::clone(f)))?
                .as_list::<i32>()
                .clone()
        }
        other => return exec_err!("expected an array, got {other}"),
    };
    let mut out = Vec::with_capacity(list.len());
    for i in 0..list.len() {
        if list.is_null(i) {
            out.push(None);
            continue;
        }
        let values = cast(&list.value(i), &DataType::Int64)?;
        out.push(Some(values.as_primitive::<Int64Type>().iter().collect()));
    }
    Ok(out)
}

/// The length of each list of a list array.
fn list_lengths(array: &ArrayRef) -> Result<Vec<Option<usize>>> {
    Ok(match array.data_type() {
        DataType::Null => vec![None; array.len()],
        DataType::List(_) => {
            let l = array.as_list::<i32>();
            (0..l.len())
                .map(|i| l.is_valid(i).then(|| l.value_length(i) as usize))
                .collect()
        }
        DataType::LargeList(_) => {
            let l = array.as_list::<i64>();
            (0..l.len())
                .map(|i| {
                    l.is_valid(i)
                        .then(|| usize::try_from(l.value_length(i)).unwrap_or(0))
                })
                .collect()
        }
        DataType::FixedSizeList(_, n) => {
            let l = array.as_fixed_size_list();
            let n = usize::try_from(*n).unwrap_or(0);
            (0..l.len()).map(|i| l.is_valid(i).then_some(n)).collect()
        }
        other => return exec_err!("expected an array, got {other}"),
    })
}

/// Checks the number of arguments and coerces them to `args`.
fn coerce_args(
    name: &str,
    args: &[Arg],
    required: usize,
    actual: &[DataType],
) -> Result<Vec<DataType>> {
    if actual.len() < required || actual.len() > args.len() {
        let types: Vec<String> = actual.iter().map(ToString::to_string).collect();
        return plan_err!("function {name}({}) does not exist", types.join(", "));
    }
    actual
        .iter()
        .zip(args)
        .map(|(t, a)| {
            a.coerce(t).ok_or_else(|| {
                DataFusionError::Plan(format!(
                    "function {name} does not accept an argument of type {t}"
                ))
            })
        })
        .collect()
}

/// Runs `eval` over the arguments as arrays, and returns a scalar when every
/// argument was a scalar (so that constant folding stays cheap).
fn invoke_vectorized(
    args: &ScalarFunctionArgs,
    eval: impl FnOnce(&[ArrayRef], usize) -> Result<ArrayRef>,
) -> Result<ColumnarValue> {
    let scalar = args
        .args
        .iter()
        .all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let rows = if scalar { 1 } else { args.number_rows };
    let arrays: Vec<ArrayRef> = args
        .args
        .iter()
        .map(|a| a.to_array(rows))
        .collect::<Result<_>>()?;
    let out = eval(&arrays, rows)?;
    if scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
    } else {
        Ok(ColumnarValue::Array(out))
    }
}

impl ScalarUDFImpl for PgFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_args(self.name, self.args, self.required, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.output_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        invoke_vectorized(&args, |arrays, rows| self.evaluate(arrays, rows))
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let value = match self.func {
            Func::TxidCurrent => match info.query_execution_start_time() {
                Some(t) => ScalarValue::Int64(Some(t.timestamp_micros())),
                None => return Ok(ExprSimplifyResult::Original(args)),
            },
            Func::PostmasterStartTime => {
                ScalarValue::TimestampMicrosecond(Some(process_start_micros()), Some(UTC.into()))
            }
            _ => return Ok(ExprSimplifyResult::Original(args)),
        };
        Ok(ExprSimplifyResult::Simplified(Expr::Literal(value, None)))
    }
}

// ---------------------------------------------------------------------------
// Session and catalog dependent functions
// ---------------------------------------------------------------------------

/// `current_setting(name [, missing_ok])` over a fixed set of settings.
///
/// The registry holds one over [`DEFAULT_SETTINGS`]. A session should
/// register its own (`current_setting_udf(session.settings().all())`)
/// for each statement: the optimizer folds calls with constant arguments
/// into literals using that instance, so the session's values reach the
/// result. A call on a non-constant argument is evaluated by the workers
/// with the registry's defaults.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CurrentSetting {
    /// Settings by lower-case name.
    settings: Vec<(String, String)>,
    signature: Signature,
}

/// Builds `current_setting` over the given `(name, value)` settings.
pub fn current_setting_udf(settings: impl IntoIterator<Item = (String, String)>) -> ScalarUDF {
    let mut settings: Vec<(String, String)> = settings
        .into_iter()
        .map(|(k, v)| (k.to_lowercase(), v))
        .collect();
    settings.sort();
    settings.dedup_by(|a, b| a.0 == b.0);
    ScalarUDF::new_from_impl(CurrentSetting {
        settings,
        signature: Signature::user_defined(Volatility::Stable),
    })
}

impl CurrentSetting {
    fn get(&self, name: &str) -> Option<&str> {
        let key = name.to_lowercase();
        let key = match key.as_str() {
            "time zone" | "time_zone" => "timezone",
            other => other,
        };
        self.settings
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| self.settings[i].1.as_str())
    }
}

impl ScalarUDFImpl for CurrentSetting {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_args(self.name(), &[Arg::Text, Arg::Bool], 1, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        invoke_vectorized(&args, |arrays, rows| {
            let names = cast(&arrays[0], &DataType::Utf8)?;
            let names = names.as_string::<i32>();
            let missing_ok = match arrays.get(1) {
                Some(a) => Some(cast(a, &DataType::Boolean)?.as_boolean().clone()),
                None => None,
            };
            let mut out = Vec::with_capacity(rows);
            for r in 0..rows {
                if names.is_null(r) {
                    out.push(None);
                    continue;
                }
                let name = names.value(r);
                match self.get(name) {
                    Some(v) => out.push(Some(v.to_string())),
                    None if missing_ok
                        .as_ref()
                        .is_some_and(|m| m.is_valid(r) && m.value(r)) =>
                    {
                        out.push(None)
                    }
                    None => return exec_err!("unrecognized configuration parameter \"{name}\""),
                }
            }
            Ok(Arc::new(StringArray::from(out)) as ArrayRef)
        })
    }
}

/// A function whose answer comes from the catalog of one statement:
/// `pg_table_is_visible(oid)` (the relations visible through the
/// session's search path), `pg_get_viewdef(oid)` (view definitions), the
/// text of `oid::regclass`, or the OID of `'name'::regclass`. The planner
/// builds it for each statement from a catalog snapshot and registers it
/// under the function's name, ahead of the registry. Calls with a constant
/// argument fold to a literal; other calls are rewritten by the optimizer
/// into a `CASE` over the known keys (an `IN` list for
/// [`CatalogLookup::membership`]), so workers evaluate plain expressions
/// and never need the catalog.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CatalogLookup {
    name: String,
    /// Sorted by key; all keys of one kind.
    entries: Vec<(LookupKey, ScalarValue)>,
    /// Value for a key that is not present.
    default: ScalarValue,
    /// Whether keys are names (text) rather than OIDs.
    by_name: bool,
    /// Whether a second argument (a `pretty` flag) is accepted and ignored.
    optional_flag: bool,
    signature: Signature,
}

/// A key of a [`CatalogLookup`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum LookupKey {
    Oid(i64),
    Name(String),
}

impl CatalogLookup {
    /// A function `name(oid)` answering the given value for the given
    /// OIDs and `default` for others; NULL for NULL. The result type is
    /// the type of `default` (give a typed NULL, e.g. `Utf8(None)`).
    pub fn new(
        name: &str,
        entries: impl IntoIterator<Item = (u32, ScalarValue)>,
        default: ScalarValue,
    ) -> Self {
        let entries = entries
            .into_iter()
            .map(|(k, v)| (LookupKey::Oid(i64::from(k)), v))
            .collect();
        Self::from_entries(name, entries, default, false)
    }

    /// A function `name(text)` keyed by relation or schema names, as
    /// `to_regclass` is: each key is a name as [`canonical_name`] spells it
    /// (`public.orders`, or `orders` for a visible relation), and the
    /// argument is brought to that spelling before the lookup, so
    /// `'ORDERS'`, `'"orders"'` and `'public.orders'` all match.
    pub fn by_name(
        name: &str,
        entries: impl IntoIterator<Item = (String, ScalarValue)>,
        default: ScalarValue,
    ) -> Self {
        let entries = entries
            .into_iter()
            .map(|(k, v)| (LookupKey::Name(k), v))
            .collect();
        Self::from_entries(name, entries, default, true)
    }

    /// A boolean function `name(oid)`: true for the given OIDs, false for
    /// others (NULL for NULL), like `pg_table_is_visible`.
    pub fn membership(name: &str, oids: impl IntoIterator<Item = u32>) -> Self {
        Self::new(
            name,
            oids.into_iter()
                .map(|o| (o, ScalarValue::Boolean(Some(true)))),
            ScalarValue::Boolean(Some(false)),
        )
    }

    fn from_entries(
        name: &str,
        mut entries: Vec<(LookupKey, ScalarValue)>,
        default: ScalarValue,
        by_name: bool,
    ) -> Self {
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
        Self {
            name: name.to_string(),
            entries,
            default,
            by_name,
            optional_flag: false,
            signature: Signature::user_defined(Volatility::Stable),
        }
    }

    /// Accepts (and ignores) an optional second argument, such as the
    /// `pretty` flag of `pg_get_viewdef(oid, pretty)`.
    pub fn with_optional_flag(mut self) -> Self {
        self.optional_flag = true;
        self
    }

    fn value_type(&self) -> DataType {
        self.default.data_type()
    }

    fn lookup(&self, key: &LookupKey) -> ScalarValue {
        match self.entries.binary_search_by(|(k, _)| k.cmp(key)) {
            Ok(i) => self.entries[i].1.clone(),
            Err(_) => self.default.clone(),
        }
    }

    /// Converts a value to the result type (NULL of that type for NULL).
    fn typed(&self, v: ScalarValue) -> Result<ScalarValue> {
        if v.is_null() {
            ScalarValue::try_from(&self.value_type())
        } else {
            v.cast_to(&self.value_type())
        }
    }

    fn key_literal(key: &LookupKey) -> Expr {
        Expr::Literal(
            match key {
                LookupKey::Oid(o) => ScalarValue::Int64(Some(*o)),
                LookupKey::Name(n) => ScalarValue::Utf8(Some(n.clone())),
            },
            None,
        )
    }
}

/// The canonical spelling of a possibly qualified SQL name, as the keys of
/// [`CatalogLookup::by_name`]: unquoted parts lower-cased, quoted parts
/// unquoted, joined with dots (`Public."Orders"` is `public.Orders`).
/// `None` for a malformed name.
pub fn canonical_name(text: &str) -> Option<String> {
    let mut parts = Vec::new();
    let mut chars = text.trim().chars().peekable();
    loop {
        let mut part = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        part.push('"');
                    }
                    '"' => break,
                    c => part.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == '.' || c.is_whitespace() {
                    break;
                }
                part.extend(c.to_lowercase());
                chars.next();
            }
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if part.is_empty() {
            return None;
        }
        parts.push(part);
        match chars.next() {
            None => break,
            Some('.') => {
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
            }
            Some(_) => return None,
        }
    }
    Some(parts.join("."))
}

impl ScalarUDFImpl for CatalogLookup {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let key = if self.by_name { Arg::Text } else { Arg::Oid };
        let max = if self.optional_flag { 2 } else { 1 };
        let mut out = coerce_args(&self.name, &[key, Arg::Any][..max], 1, arg_types)?;
        // The flag is ignored; keep its type.
        if let (Some(o), Some(t)) = (out.get_mut(1), arg_types.get(1)) {
            *o = t.clone();
        }
        Ok(out)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.value_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        invoke_vectorized(&args, |arrays, rows| {
            let Some(keys) = arrays.first() else {
                return exec_err!("{} needs an argument", self.name);
            };
            let values: Vec<ScalarValue> = if self.by_name {
                let keys = cast(keys, &DataType::Utf8)?;
                let keys = keys.as_string::<i32>();
                keys.iter()
                    .map(|k| match k.and_then(canonical_name) {
                        Some(k) => self.typed(self.lookup(&LookupKey::Name(k))),
                        None => self.typed(ScalarValue::Null),
                    })
                    .collect::<Result<_>>()?
            } else {
                let keys = cast(keys, &DataType::Int64)?;
                let keys = keys.as_primitive::<Int64Type>();
                keys.iter()
                    .map(|k| match k {
                        Some(k) => self.typed(self.lookup(&LookupKey::Oid(k))),
                        None => self.typed(ScalarValue::Null),
                    })
                    .collect::<Result<_>>()?
            };
            if values.is_empty() || rows == 0 {
                return Ok(arrow::array::new_empty_array(&self.value_type()));
            }
            ScalarValue::iter_to_array(values)
        })
    }

    fn simplify(&self, mut args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        // Constant arguments are folded by evaluating the call.
        if args.is_empty() || matches!(args[0], Expr::Literal(..)) {
            return Ok(ExprSimplifyResult::Original(args));
        }
        let key = args.swap_remove(0);
        let lit = |v: ScalarValue| Expr::Literal(v, None);
        let all_true = self
            .entries
            .iter()
            .all(|(_, v)| *v == ScalarValue::Boolean(Some(true)));
        if self.default == ScalarValue::Boolean(Some(false)) && all_true && !self.entries.is_empty()
        {
            // NULL IN (...) is NULL, as the function's answer for NULL.
            let list = self
                .entries
                .iter()
                .map(|(k, _)| Self::key_literal(k))
                .collect();
            return Ok(ExprSimplifyResult::Simplified(Expr::InList(InList::new(
                Box::new(key),
                list,
                false,
            ))));
        }
        let null = self.typed(ScalarValue::Null)?;
        let mut when_then = vec![(
            Box::new(Expr::IsNull(Box::new(key.clone()))),
            Box::new(lit(null)),
        )];
        for (k, v) in &self.entries {
            when_then.push((
                Box::new(key.clone().eq(Self::key_literal(k))),
                Box::new(lit(self.typed(v.clone())?)),
            ));
        }
        Ok(ExprSimplifyResult::Simplified(Expr::Case(Case::new(
            None,
            when_then,
            Some(Box::new(lit(self.typed(self.default.clone())?))),
        ))))
    }
}

/// What `pg_get_indexdef` answers for one index (see [`IndexDefinitions`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IndexDefinition {
    /// The index's OID.
    pub oid: u32,
    /// `pg_get_indexdef(oid)` and `pg_get_indexdef(oid, 0, false)`:
    /// `CREATE INDEX name ON schema.table USING btree (col, ...)`.
    pub definition: String,
    /// `pg_get_indexdef(oid, 0, true)`: the same with the table named as
    /// the search path finds it (without its schema when visible).
    pub pretty: String,
    /// `pg_get_indexdef(oid, n, _)` for `n` from 1: the `n`-th key column
    /// (a quoted identifier).
    pub columns: Vec<String>,
}

impl IndexDefinition {
    /// The answer for column `column` (0: the whole definition); empty
    /// text for a column number the index does not have, as Postgres.
    fn answer(&self, column: i64, pretty: bool) -> &str {
        match column {
            0 if pretty => &self.pretty,
            0 => &self.definition,
            n => usize::try_from(n)
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|n| self.columns.get(n))
                .map_or("", String::as_str),
        }
    }
}

/// `pg_get_indexdef(oid [, column, pretty])` over the indexes of one
/// statement's catalog, built like a [`CatalogLookup`]: NULL for a NULL
/// argument or an OID that is not an index, the definition for column 0,
/// the column's name for columns 1 to n, empty text for other column
/// numbers. Calls with constant arguments fold to a literal; others are
/// rewritten into a `CASE` over the index OIDs and column numbers.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IndexDefinitions {
    /// Sorted by OID.
    indexes: Vec<IndexDefinition>,
    signature: Signature,
}

impl IndexDefinitions {
    /// The function's name.
    pub const NAME: &'static str = "pg_get_indexdef";

    /// The lookup over `indexes`.
    pub fn new(indexes: impl IntoIterator<Item = IndexDefinition>) -> Self {
        let mut indexes: Vec<IndexDefinition> = indexes.into_iter().collect();
        indexes.sort_by_key(|i| i.oid);
        indexes.dedup_by_key(|i| i.oid);
        Self {
            indexes,
            signature: Signature::user_defined(Volatility::Stable),
        }
    }

    fn find(&self, oid: i64) -> Option<&IndexDefinition> {
        self.indexes
            .binary_search_by_key(&oid, |i| i64::from(i.oid))
            .ok()
            .map(|i| &self.indexes[i])
    }
}

impl ScalarUDFImpl for IndexDefinitions {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_args(Self::NAME, &[Arg::Oid, Arg::Int, Arg::Bool], 1, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        invoke_vectorized(&args, |arrays, rows| {
            let Some(oids) = arrays.first() else {
                return exec_err!("{} needs an argument", Self::NAME);
            };
            let oids = cast(oids, &DataType::Int64)?;
            let oids = oids.as_primitive::<Int64Type>();
            let columns = arrays
                .get(1)
                .map(|a| cast(a, &DataType::Int64))
                .transpose()?;
            let columns = columns.as_ref().map(|a| a.as_primitive::<Int64Type>());
            let pretty = arrays
                .get(2)
                .map(|a| cast(a, &DataType::Boolean))
                .transpose()?;
            let pretty = pretty.as_ref().map(|a| a.as_boolean());
            let out: StringArray = (0..rows)
                .map(|r| {
                    let oid = oids.is_valid(r).then(|| oids.value(r))?;
                    let column = match columns {
                        Some(c) => c.is_valid(r).then(|| c.value(r))?,
                        None => 0,
                    };
                    let pretty = match pretty {
                        Some(p) => p.is_valid(r).then(|| p.value(r))?,
                        None => false,
                    };
                    self.find(oid).map(|i| i.answer(column, pretty))
                })
                .collect();
            Ok(Arc::new(out) as ArrayRef)
        })
    }

    fn simplify(&self, args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        // Constant arguments are folded by evaluating the call.
        if args.iter().all(|a| matches!(a, Expr::Literal(..))) {
            return Ok(ExprSimplifyResult::Original(args));
        }
        let lit = |v: ScalarValue| Expr::Literal(v, None);
        let text = |s: &str| lit(ScalarValue::Utf8(Some(s.to_string())));
        let null = || lit(ScalarValue::Utf8(None));
        let mut args = args.into_iter();
        let oid = args.next().unwrap_or_else(null);
        let column = args
            .next()
            .unwrap_or_else(|| lit(ScalarValue::Int64(Some(0))));
        let pretty = args
            .next()
            .unwrap_or_else(|| lit(ScalarValue::Boolean(Some(false))));
        let any_null = oid
            .clone()
            .is_null()
            .or(column.clone().is_null())
            .or(pretty.clone().is_null());
        let mut when_then = vec![(Box::new(any_null), Box::new(null()))];
        for index in &self.indexes {
            let whole = if index.pretty == index.definition {
                text(&index.definition)
            } else {
                Expr::Case(Case::new(
                    None,
                    vec![(Box::new(pretty.clone()), Box::new(text(&index.pretty)))],
                    Some(Box::new(text(&index.definition))),
                ))
            };
            let mut by_column = vec![(
                Box::new(column.clone().eq(lit(ScalarValue::Int64(Some(0))))),
                Box::new(whole),
            )];
            for (n, name) in (1i64..).zip(&index.columns) {
                by_column.push((
                    Box::new(column.clone().eq(lit(ScalarValue::Int64(Some(n))))),
                    Box::new(text(name)),
                ));
            }
            when_then.push((
                Box::new(
                    oid.clone()
                        .eq(lit(ScalarValue::Int64(Some(i64::from(index.oid))))),
                ),
                Box::new(Expr::Case(Case::new(
                    None,
                    by_column,
                    Some(Box::new(text(""))),
                ))),
            ));
        }
        Ok(ExprSimplifyResult::Simplified(Expr::Case(Case::new(
            None,
            when_then,
            Some(Box::new(null())),
        ))))
    }
}

// ---------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------

/// The built-in types of Postgres 15 except array types (derived from
/// their elements by [`pg_types`]), one per line:
/// `oid typname namespace(p: pg_catalog, i: information_schema) typlen
/// typbyval typtype typcategory typispreferred typdelim typsubscript typelem
/// typarray typinput typoutput typreceive typsend typmodin typmodout
/// typanalyze typalign typstorage typcollation typbasetype typtypmod`.
/// Generated from `pg_type` of a Postgres 15 server (types of kind b, p, r
/// and m in `pg_catalog`, and the domains of `information_schema`).
const TYPE_TABLE: &str = "\
16 bool p 1 t b B t , - 0 1000 boolin boolout boolrecv boolsend - - - c p 0 0 -1
17 bytea p -1 f b U f , - 0 1001 byteain byteaout bytearecv byteasend - - - i x 0 0 -1
18 char p 1 t b Z f , - 0 1002 charin charout charrecv charsend - - - c p 0 0 -1
19 name p 64 f b S f , raw_array_subscript_handler 18 1003 namein nameout namerecv namesend - - - c p 950 0 -1
20 int8 p 8 t b N f , - 0 1016 int8in int8out int8recv int8send - - - d p 0 0 -1
21 int2 p 2 t b N f , - 0 1005 int2in int2out int2recv int2send - - - s p 0 0 -1
22 int2vector p -1 f b A f , array_subscript_handler 21 1006 int2vectorin int2vectorout int2vectorrecv int2vectorsend - - - i p 0 0 -1
23 int4 p 4 t b N f , - 0 1007 int4in int4out int4recv int4send - - - i p 0 0 -1
24 regproc p 4 t b N f , - 0 1008 regprocin regprocout regprocrecv regprocsend - - - i p 0 0 -1
25 text p -1 f b S t , - 0 1009 textin textout textrecv textsend - - - i x 100 0 -1
26 oid p 4 t b N t , - 0 1028 oidin oidout oidrecv oidsend - - - i p 0 0 -1
27 tid p 6 f b U f , - 0 1010 tidin tidout tidrecv tidsend - - - s p 0 0 -1
28 xid p 4 t b U f , - 0 1011 xidin xidout xidrecv xidsend - - - i p 0 0 -1
29 cid p 4 t b U f , - 0 1012 cidin cidout cidrecv cidsend - - - i p 0 0 -1
30 oidvector p -1 f b A f , array_subscript_handler 26 1013 oidvectorin oidvectorout oidvectorrecv oidvectorsend - - - i p 0 0 -1
32 pg_ddl_command p 8 t p P f , - 0 0 pg_ddl_command_in pg_ddl_command_out pg_ddl_command_recv pg_ddl_command_send - - - d p 0 0 -1
114 json p -1 f b U f , - 0 199 json_in json_out json_recv json_send - - - i x 0 0 -1
142 xml p -1 f b U f , - 0 143 xml_in xml_out xml_recv xml_send - - - i x 0 0 -1
194 pg_node_tree p -1 f b Z f , - 0 0 pg_node_tree_in pg_node_tree_out pg_node_tree_recv pg_node_tree_send - - - i x 100 0 -1
269 table_am_handler p 4 t p P f , - 0 0 table_am_handler_in table_am_handler_out - - - - - i p 0 0 -1
325 index_am_handler p 4 t p P f , - 0 0 index_am_handler_in index_am_handler_out - - - - - i p 0 0 -1
600 point p 16 f b G f , raw_array_subscript_handler 701 1017 point_in point_out point_recv point_send - - - d p 0 0 -1
601 lseg p 32 f b G f , raw_array_subscript_handler 600 1018 lseg_in lseg_out lseg_recv lseg_send - - - d p 0 0 -1
602 path p -1 f b G f , - 0 1019 path_in path_out path_recv path_send - - - d x 0 0 -1
603 box p 32 f b G f ; raw_array_subscript_handler 600 1020 box_in box_out box_recv box_send - - - d p 0 0 -1
604 polygon p -1 f b G f , - 0 1027 poly_in poly_out poly_recv poly_send - - - d x 0 0 -1
628 line p 24 f b G f , raw_array_subscript_handler 701 629 line_in line_out line_recv line_send - - - d p 0 0 -1
650 cidr p -1 f b I f , - 0 651 cidr_in cidr_out cidr_recv cidr_send - - - i m 0 0 -1
700 float4 p 4 t b N f , - 0 1021 float4in float4out float4recv float4send - - - i p 0 0 -1
701 float8 p 8 t b N t , - 0 1022 float8in float8out float8recv float8send - - - d p 0 0 -1
705 unknown p -2 f p X f , - 0 0 unknownin unknownout unknownrecv unknownsend - - - c p 0 0 -1
718 circle p 24 f b G f , - 0 719 circle_in circle_out circle_recv circle_send - - - d p 0 0 -1
774 macaddr8 p 8 f b U f , - 0 775 macaddr8_in macaddr8_out macaddr8_recv macaddr8_send - - - i p 0 0 -1
790 money p 8 t b N f , - 0 791 cash_in cash_out cash_recv cash_send - - - d p 0 0 -1
829 macaddr p 6 f b U f , - 0 1040 macaddr_in macaddr_out macaddr_recv macaddr_send - - - i p 0 0 -1
869 inet p -1 f b I t , - 0 1041 inet_in inet_out inet_recv inet_send - - - i m 0 0 -1
1033 aclitem p 12 f b U f , - 0 1034 aclitemin aclitemout - - - - - i p 0 0 -1
1042 bpchar p -1 f b S f , - 0 1014 bpcharin bpcharout bpcharrecv bpcharsend bpchartypmodin bpchartypmodout - i x 100 0 -1
1043 varchar p -1 f b S f , - 0 1015 varcharin varcharout varcharrecv varcharsend varchartypmodin varchartypmodout - i x 100 0 -1
1082 date p 4 t b D f , - 0 1182 date_in date_out date_recv date_send - - - i p 0 0 -1
1083 time p 8 t b D f , - 0 1183 time_in time_out time_recv time_send timetypmodin timetypmodout - d p 0 0 -1
1114 timestamp p 8 t b D f , - 0 1115 timestamp_in timestamp_out timestamp_recv timestamp_send timestamptypmodin timestamptypmodout - d p 0 0 -1
1184 timestamptz p 8 t b D t , - 0 1185 timestamptz_in timestamptz_out timestamptz_recv timestamptz_send timestamptztypmodin timestamptztypmodout - d p 0 0 -1
1186 interval p 16 f b T t , - 0 1187 interval_in interval_out interval_recv interval_send intervaltypmodin intervaltypmodout - d p 0 0 -1
1266 timetz p 12 f b D f , - 0 1270 timetz_in timetz_out timetz_recv timetz_send timetztypmodin timetztypmodout - d p 0 0 -1
1560 bit p -1 f b V f , - 0 1561 bit_in bit_out bit_recv bit_send bittypmodin bittypmodout - i x 0 0 -1
1562 varbit p -1 f b V t , - 0 1563 varbit_in varbit_out varbit_recv varbit_send varbittypmodin varbittypmodout - i x 0 0 -1
1700 numeric p -1 f b N f , - 0 1231 numeric_in numeric_out numeric_recv numeric_send numerictypmodin numerictypmodout - i m 0 0 -1
1790 refcursor p -1 f b U f , - 0 2201 textin textout textrecv textsend - - - i x 0 0 -1
2202 regprocedure p 4 t b N f , - 0 2207 regprocedurein regprocedureout regprocedurerecv regproceduresend - - - i p 0 0 -1
2203 regoper p 4 t b N f , - 0 2208 regoperin regoperout regoperrecv regopersend - - - i p 0 0 -1
2204 regoperator p 4 t b N f , - 0 2209 regoperatorin regoperatorout regoperatorrecv regoperatorsend - - - i p 0 0 -1
2205 regclass p 4 t b N f , - 0 2210 regclassin regclassout regclassrecv regclasssend - - - i p 0 0 -1
2206 regtype p 4 t b N f , - 0 2211 regtypein regtypeout regtyperecv regtypesend - - - i p 0 0 -1
2249 record p -1 f p P f , - 0 2287 record_in record_out record_recv record_send - - - d x 0 0 -1
2275 cstring p -2 f p P f , - 0 1263 cstring_in cstring_out cstring_recv cstring_send - - - c p 0 0 -1
2276 any p 4 t p P f , - 0 0 any_in any_out - - - - - i p 0 0 -1
2277 anyarray p -1 f p P f , - 0 0 anyarray_in anyarray_out anyarray_recv anyarray_send - - - d x 0 0 -1
2278 void p 4 t p P f , - 0 0 void_in void_out void_recv void_send - - - i p 0 0 -1
2279 trigger p 4 t p P f , - 0 0 trigger_in trigger_out - - - - - i p 0 0 -1
2280 language_handler p 4 t p P f , - 0 0 language_handler_in language_handler_out - - - - - i p 0 0 -1
2281 internal p 8 t p P f , - 0 0 internal_in internal_out - - - - - d p 0 0 -1
2283 anyelement p 4 t p P f , - 0 0 anyelement_in anyelement_out - - - - - i p 0 0 -1
2776 anynonarray p 4 t p P f , - 0 0 anynonarray_in anynonarray_out - - - - - i p 0 0 -1
2950 uuid p 16 f b U f , - 0 2951 uuid_in uuid_out uuid_recv uuid_send - - - c p 0 0 -1
2970 txid_snapshot p -1 f b U f , - 0 2949 txid_snapshot_in txid_snapshot_out txid_snapshot_recv txid_snapshot_send - - - d x 0 0 -1
3115 fdw_handler p 4 t p P f , - 0 0 fdw_handler_in fdw_handler_out - - - - - i p 0 0 -1
3220 pg_lsn p 8 t b U f , - 0 3221 pg_lsn_in pg_lsn_out pg_lsn_recv pg_lsn_send - - - d p 0 0 -1
3310 tsm_handler p 4 t p P f , - 0 0 tsm_handler_in tsm_handler_out - - - - - i p 0 0 -1
3361 pg_ndistinct p -1 f b Z f , - 0 0 pg_ndistinct_in pg_ndistinct_out pg_ndistinct_recv pg_ndistinct_send - - - i x 100 0 -1
3402 pg_dependencies p -1 f b Z f , - 0 0 pg_dependencies_in pg_dependencies_out pg_dependencies_recv pg_dependencies_send - - - i x 100 0 -1
3500 anyenum p 4 t p P f , - 0 0 anyenum_in anyenum_out - - - - - i p 0 0 -1
3614 tsvector p -1 f b U f , - 0 3643 tsvectorin tsvectorout tsvectorrecv tsvectorsend - - ts_typanalyze i x 0 0 -1
3615 tsquery p -1 f b U f , - 0 3645 tsqueryin tsqueryout tsqueryrecv tsquerysend - - - i p 0 0 -1
3642 gtsvector p -1 f b U f , - 0 3644 gtsvectorin gtsvectorout - - - - - i p 0 0 -1
3734 regconfig p 4 t b N f , - 0 3735 regconfigin regconfigout regconfigrecv regconfigsend - - - i p 0 0 -1
3769 regdictionary p 4 t b N f , - 0 3770 regdictionaryin regdictionaryout regdictionaryrecv regdictionarysend - - - i p 0 0 -1
3802 jsonb p -1 f b U f , jsonb_subscript_handler 0 3807 jsonb_in jsonb_out jsonb_recv jsonb_send - - - i x 0 0 -1
3831 anyrange p -1 f p P f , - 0 0 anyrange_in anyrange_out - - - - - d x 0 0 -1
3838 event_trigger p 4 t p P f , - 0 0 event_trigger_in event_trigger_out - - - - - i p 0 0 -1
3904 int4range p -1 f r R f , - 0 3905 range_in range_out range_recv range_send - - range_typanalyze i x 0 0 -1
3906 numrange p -1 f r R f , - 0 3907 range_in range_out range_recv range_send - - range_typanalyze i x 0 0 -1
3908 tsrange p -1 f r R f , - 0 3909 range_in range_out range_recv range_send - - range_typanalyze d x 0 0 -1
3910 tstzrange p -1 f r R f , - 0 3911 range_in range_out range_recv range_send - - range_typanalyze d x 0 0 -1
3912 daterange p -1 f r R f , - 0 3913 range_in range_out range_recv range_send - - range_typanalyze i x 0 0 -1
3926 int8range p -1 f r R f , - 0 3927 range_in range_out range_recv range_send - - range_typanalyze d x 0 0 -1
4072 jsonpath p -1 f b U f , - 0 4073 jsonpath_in jsonpath_out jsonpath_recv jsonpath_send - - - i x 0 0 -1
4089 regnamespace p 4 t b N f , - 0 4090 regnamespacein regnamespaceout regnamespacerecv regnamespacesend - - - i p 0 0 -1
4096 regrole p 4 t b N f , - 0 4097 regrolein regroleout regrolerecv regrolesend - - - i p 0 0 -1
4191 regcollation p 4 t b N f , - 0 4192 regcollationin regcollationout regcollationrecv regcollationsend - - - i p 0 0 -1
4451 int4multirange p -1 f m R f , - 0 6150 multirange_in multirange_out multirange_recv multirange_send - - multirange_typanalyze i x 0 0 -1
4532 nummultirange p -1 f m R f , - 0 6151 multirange_in multirange_out multirange_recv multirange_send - - multirange_typanalyze i x 0 0 -1
4533 tsmultirange p -1 f m R f , - 0 6152 multirange_in multirange_out multirange_recv multirange_send - - multirange_typanalyze d x 0 0 -1
4534 tstzmultirange p -1 f m R f , - 0 6153 multirange_in multirange_out multirange_recv multirange_send - - multirange_typanalyze d x 0 0 -1
4535 datemultirange p -1 f m R f , - 0 6155 multirange_in multirange_out multirange_recv multirange_send - - multirange_typanalyze i x 0 0 -1
4536 int8multirange p -1 f m R f , - 0 6157 multirange_in multirange_out multirange_recv multirange_send - - multirange_typanalyze d x 0 0 -1
4537 anymultirange p -1 f p P f , - 0 0 anymultirange_in anymultirange_out - - - - - d x 0 0 -1
4538 anycompatiblemultirange p -1 f p P f , - 0 0 anycompatiblemultirange_in anycompatiblemultirange_out - - - - - d x 0 0 -1
4600 pg_brin_bloom_summary p -1 f b Z f , - 0 0 brin_bloom_summary_in brin_bloom_summary_out brin_bloom_summary_recv brin_bloom_summary_send - - - i x 100 0 -1
4601 pg_brin_minmax_multi_summary p -1 f b Z f , - 0 0 brin_minmax_multi_summary_in brin_minmax_multi_summary_out brin_minmax_multi_summary_recv brin_minmax_multi_summary_send - - - i x 100 0 -1
5017 pg_mcv_list p -1 f b Z f , - 0 0 pg_mcv_list_in pg_mcv_list_out pg_mcv_list_recv pg_mcv_list_send - - - i x 100 0 -1
5038 pg_snapshot p -1 f b U f , - 0 5039 pg_snapshot_in pg_snapshot_out pg_snapshot_recv pg_snapshot_send - - - d x 0 0 -1
5069 xid8 p 8 t b U f , - 0 271 xid8in xid8out xid8recv xid8send - - - d p 0 0 -1
5077 anycompatible p 4 t p P f , - 0 0 anycompatible_in anycompatible_out - - - - - i p 0 0 -1
5078 anycompatiblearray p -1 f p P f , - 0 0 anycompatiblearray_in anycompatiblearray_out anycompatiblearray_recv anycompatiblearray_send - - - d x 0 0 -1
5079 anycompatiblenonarray p 4 t p P f , - 0 0 anycompatiblenonarray_in anycompatiblenonarray_out - - - - - i p 0 0 -1
5080 anycompatiblerange p -1 f p P f , - 0 0 anycompatiblerange_in anycompatiblerange_out - - - - - d x 0 0 -1
13221 cardinal_number i 4 t d N f , - 0 13220 domain_in int4out domain_recv int4send - - - i p 0 23 -1
13224 character_data i -1 f d S f , - 0 13223 domain_in varcharout domain_recv varcharsend - - - i x 950 1043 -1
13226 sql_identifier i 64 f d S f , - 0 13225 domain_in nameout domain_recv namesend - - - c p 950 19 -1
13232 time_stamp i 8 t d D f , - 0 13231 domain_in timestamptz_out domain_recv timestamptz_send - - - d p 0 1184 2
13234 yes_or_no i -1 f d S f , - 0 13233 domain_in varcharout domain_recv varcharsend - - - i x 950 1043 7
";

#[cfg(test)]
mod tests {
    use arrow::array::{ListArray, RecordBatch};
    use arrow::datatypes::{Field, Int32Type, Schema};
    use datafusion_common::DFSchema;
    use datafusion_common::config::ConfigOptions;
    use datafusion_expr::col;
    use datafusion_expr::execution_props::ExecutionProps;
    use datafusion_expr::physical_planning_context::PhysicalPlanningContext;

    use super::*;

    fn udf(name: &str) -> Arc<ScalarUDF> {
        scalar_functions()
            .into_iter()
            .find(|f| f.name() == name)
            .unwrap_or_else(|| panic!("no function {name}"))
    }

    /// Calls a function the way a worker does after the planner coerced
    /// its arguments.
    fn call(f: &ScalarUDF, args: Vec<ColumnarValue>) -> Result<ColumnarValue> {
        let types: Vec<DataType> = args.iter().map(|a| a.data_type()).collect();
        let coerced = if f.signature().type_signature.supports_zero_argument() {
            types.clone()
        } else {
            f.coerce_types(&types)?
        };
        let rows = args
            .iter()
            .find_map(|a| match a {
                ColumnarValue::Array(a) => Some(a.len()),
                ColumnarValue::Scalar(_) => None,
            })
            .unwrap_or(1);
        let args: Vec<ColumnarValue> = args
            .into_iter()
            .zip(&coerced)
            .map(|(a, t)| a.cast_to(t, None))
            .collect::<Result<_>>()?;
        let arg_fields = coerced
            .iter()
            .map(|t| Arc::new(Field::new("a", t.clone(), true)))
            .collect();
        let return_type = f.return_type(&coerced)?;
        f.invoke_with_args(ScalarFunctionArgs {
            args,
            arg_fields,
            number_rows: rows,
            return_field: Arc::new(Field::new("r", return_type, true)),
            config_options: Arc::new(ConfigOptions::default()),
        })
    }

    fn array(v: ColumnarValue) -> ArrayRef {
        v.to_array(1).unwrap()
    }

    fn strings(v: ColumnarValue) -> Vec<Option<String>> {
        let a = cast(&array(v), &DataType::Utf8).unwrap();
        a.as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect()
    }

    fn ints(values: Vec<Option<i64>>) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(Int64Array::from(values)))
    }

    fn text(values: Vec<Option<&str>>) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(StringArray::from(values)))
    }

    fn scalar_text(v: ColumnarValue) -> Option<String> {
        match v {
            ColumnarValue::Scalar(s) => (!s.is_null()).then(|| s.to_string()),
            ColumnarValue::Array(_) => panic!("expected a scalar"),
        }
    }

    #[test]
    fn type_table_matches_postgres() {
        let types = pg_types();
        assert_eq!(types.len(), 195);
        assert!(types.windows(2).all(|w| w[0].oid < w[1].oid));
        let int4 = pg_type(23).unwrap();
        assert_eq!(
            (int4.name.as_str(), int4.len, int4.by_val, int4.array),
            ("int4", 4, true, 1007)
        );
        let arr = pg_type(1007).unwrap();
        assert_eq!(
            (arr.name.as_str(), arr.elem, arr.category, arr.input),
            ("_int4", 23, 'A', "array_in")
        );
        assert!(arr.is_array() && !pg_type(oid::NAME).unwrap().is_array());
        assert_eq!(pg_type(1015).unwrap().modin, "varchartypmodin");
        assert_eq!(pg_type(2287).unwrap().kind, 'p');
        assert_eq!(pg_type_by_name("text").unwrap().oid, 25);
        assert_eq!(
            pg_type_by_name("sql_identifier").unwrap().base_type,
            oid::NAME
        );
        // Every element/array reference resolves.
        for t in types {
            assert!(t.elem == 0 || pg_type(t.elem).is_some(), "{}", t.name);
            assert!(t.array == 0 || pg_type(t.array).is_some(), "{}", t.name);
        }
    }

    #[test]
    fn format_type_prints_postgres_names() {
        let cases: &[(u32, Option<i32>, &str)] = &[
            (1043, Some(14), "character varying(10)"),
            (1043, Some(-1), "character varying"),
            (1043, None, "character varying"),
            (1042, None, "character"),
            (1042, Some(-1), "bpchar"),
            (1042, Some(9), "character(5)"),
            (1700, Some(655_366), "numeric(10,2)"),
            (1700, Some(-1), "numeric"),
            (1700, Some(4), "numeric(0,0)"),
            (1700, Some(3), "numeric"),
            (1114, Some(3), "timestamp(3) without time zone"),
            (1114, Some(-1), "timestamp without time zone"),
            (1184, Some(0), "timestamp(0) with time zone"),
            (1083, Some(2), "time(2) without time zone"),
            (1266, None, "time with time zone"),
            (1186, Some(-1), "interval"),
            (1186, Some(2_147_418_115), "interval(3)"),
            (1186, Some(470_286_339), "interval day to second(3)"),
            (1186, Some(327_679), "interval year"),
            (1186, Some(201_392_127), "interval hour to minute"),
            (1015, Some(14), "character varying(10)[]"),
            (1007, None, "integer[]"),
            (99_999, None, "???"),
            (0, None, "-"),
            (18, None, "\"char\""),
            (19, None, "name"),
            (13_226, None, "information_schema.sql_identifier"),
            (13_220, None, "information_schema.cardinal_number[]"),
            (2277, Some(-1), "anyarray"),
            (1560, Some(5), "bit(5)"),
            (1560, Some(-1), "\"bit\""),
            (1560, None, "bit"),
            (1562, Some(5), "bit varying(5)"),
            (16, Some(5), "boolean"),
            (23, Some(12), "integer"),
            (20, None, "bigint"),
            (701, None, "double precision"),
            (25, None, "text"),
            (25, Some(5), "text(5)"),
            (1009, None, "text[]"),
        ];
        for (oid, typmod, expected) in cases {
            assert_eq!(
                format_type(*oid, *typmod),
                *expected,
                "format_type({oid}, {typmod:?})"
            );
        }
    }

    #[test]
    fn arrow_types_map_to_postgres_types() {
        use arrow::datatypes::IntervalUnit;
        let list = |t: DataType| DataType::List(Arc::new(Field::new("item", t, true)));
        let cases = [
            (DataType::Int64, (20, -1)),
            (DataType::Int32, (23, -1)),
            (DataType::Int16, (21, -1)),
            (DataType::Utf8, (25, -1)),
            (DataType::Boolean, (16, -1)),
            (DataType::Float64, (701, -1)),
            (DataType::Float32, (700, -1)),
            (DataType::Decimal128(10, 2), (1700, 655_366)),
            (DataType::Date32, (1082, -1)),
            (DataType::Timestamp(TimeUnit::Microsecond, None), (1114, -1)),
            (
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                (1184, -1),
            ),
            (DataType::Timestamp(TimeUnit::Millisecond, None), (1114, 3)),
            (DataType::Time64(TimeUnit::Microsecond), (1083, -1)),
            (DataType::Interval(IntervalUnit::MonthDayNano), (1186, -1)),
            (DataType::Binary, (17, -1)),
            (list(DataType::Int32), (1007, -1)),
            (list(list(DataType::Utf8)), (25, -1)),
            (list(DataType::Null), (1009, -1)),
            (DataType::UInt64, (1700, -1)),
            (list(DataType::Decimal128(10, 2)), (1231, 655_366)),
            (DataType::Null, (25, -1)),
        ];
        for (t, expected) in cases {
            assert_eq!(pg_type_of(&t), expected, "{t}");
        }
        for (declared, expected) in [
            ("character varying(10)", (1043, 14)),
            ("VARCHAR(10)", (1043, 14)),
            ("CHAR(5)", (1042, 9)),
            ("NUMERIC(10,2)", (1700, 655_366)),
            ("numeric(12)", (1700, numeric_typmod(12, 0))),
            ("TIMESTAMP(3) WITH TIME ZONE", (1184, 3)),
            ("interval(2)", (1186, 2_147_418_114)),
            ("varchar(20)[]", (1015, 24)),
            ("text", (25, -1)),
        ] {
            assert_eq!(
                parse_type_with_typmod(declared),
                Some(expected),
                "{declared}"
            );
        }
        assert_eq!(parse_type_with_typmod("nope(1)"), None);
        let declared = Field::new("note", DataType::Utf8, true)
            .with_metadata([(PG_TYPE_METADATA_KEY.to_string(), "VARCHAR(10)".to_string())].into());
        assert_eq!(pg_type_of_field(&declared), (1043, 14));
        assert_eq!(
            format_type(1043, Some(pg_type_of_field(&declared).1)),
            "character varying(10)"
        );
        assert_eq!(
            pg_type_of_field(&Field::new("t", DataType::Utf8, true)),
            (25, -1)
        );
        let (o, m) = pg_type_of(&DataType::Decimal128(38, 10));
        assert_eq!(format_type(o, Some(m)), "numeric(38,10)");
    }

    #[test]
    fn quote_ident_and_type_names() {
        for (input, expected) in [
            ("Foo", "\"Foo\""),
            ("foo", "foo"),
            ("select", "\"select\""),
            ("a b", "\"a b\""),
            ("a\"b", "\"a\"\"b\""),
            ("", "\"\""),
            ("_x1", "_x1"),
            ("1x", "\"1x\""),
            ("abort", "abort"),
            ("é", "\"é\""),
        ] {
            assert_eq!(quote_ident(input), expected);
        }
        assert_eq!(QUOTED_KEYWORDS.split_whitespace().count(), 151);
        assert_eq!(encoding_name(41), "SHIFT_JIS_2004");
        let oid_of = |s: &str| parse_type_name(s).map(|t| t.oid);
        assert_eq!(oid_of("integer"), Some(23));
        assert_eq!(oid_of("pg_catalog.int4"), Some(23));
        assert_eq!(oid_of("character varying(10)"), Some(1043));
        assert_eq!(oid_of("double  precision"), Some(701));
        assert_eq!(oid_of("timestamp with time zone"), Some(1184));
        assert_eq!(oid_of("int[]"), Some(1007));
        assert_eq!(oid_of("text[][]"), Some(1009));
        assert_eq!(oid_of("\"char\""), Some(18));
        assert_eq!(oid_of("char"), Some(1042));
        assert_eq!(oid_of("nope"), None);
        assert_eq!(oid_of("varchar(10"), None);
    }

    #[test]
    fn canonical_names() {
        assert_eq!(canonical_name("Orders").as_deref(), Some("orders"));
        assert_eq!(
            canonical_name(" public . \"My\"\"T\" ").as_deref(),
            Some("public.My\"T")
        );
        assert_eq!(canonical_name("\"a.b\"").as_deref(), Some("a.b"));
        assert_eq!(canonical_name(""), None);
        assert_eq!(canonical_name("a..b"), None);
        assert_eq!(canonical_name("\"open"), None);
        assert_eq!(canonical_name("a b"), None);
    }

    #[test]
    fn size_pretty_rounds_like_postgres() {
        for (size, expected) in [
            (0, "0 bytes"),
            (1, "1 bytes"),
            (10_239, "10239 bytes"),
            (10_240, "10 kB"),
            (10_752, "11 kB"),
            (20_479 * 1024, "20 MB"),
            (20_971_520, "20 MB"),
            (1_073_741_824, "1024 MB"),
            (10_995_116_277_760, "10 TB"),
            (-10_240, "-10 kB"),
            (-10_752, "-11 kB"),
            (i64::MAX, "8192 PB"),
            (i64::MIN, "-8192 PB"),
            (22_517_998_136_852_480, "20 PB"),
        ] {
            assert_eq!(size_pretty(size), expected, "{size}");
        }
    }

    #[test]
    fn catalog_functions_are_vectorized_and_null_safe() {
        let out = call(
            &udf("format_type"),
            vec![
                ints(vec![Some(23), None, Some(1043)]),
                ints(vec![None, Some(1), Some(14)]),
            ],
        )
        .unwrap();
        assert_eq!(
            strings(out),
            vec![
                Some("integer".into()),
                None,
                Some("character varying(10)".into())
            ]
        );
        // Int32 OIDs and a NULL literal typmod are accepted.
        let oids = ColumnarValue::Array(Arc::new(Int32Array::from(vec![Some(1700)])));
        let out = call(
            &udf("format_type"),
            vec![oids, ColumnarValue::Scalar(ScalarValue::Null)],
        )
        .unwrap();
        assert_eq!(strings(out), vec![Some("numeric".into())]);
        // All-scalar arguments give a scalar.
        let out = call(
            &udf("format_type"),
            vec![
                ColumnarValue::Scalar(ScalarValue::Int64(Some(25))),
                ColumnarValue::Scalar(ScalarValue::Int64(Some(-1))),
            ],
        )
        .unwrap();
        assert_eq!(scalar_text(out).as_deref(), Some("text"));

        let out = call(
            &udf("pg_get_userbyid"),
            vec![ints(vec![Some(10), Some(5), None])],
        )
        .unwrap();
        assert_eq!(
            strings(out),
            vec![
                Some("tidewater".into()),
                Some("unknown (OID=5)".into()),
                None
            ]
        );

        let out = call(
            &udf("pg_table_is_visible"),
            vec![ints(vec![Some(16_385), None])],
        )
        .unwrap();
        assert_eq!(strings(out), vec![Some("true".into()), None]);

        let out = call(
            &udf("pg_type_is_visible"),
            vec![ints(vec![Some(23), Some(13_226), Some(99_999)])],
        )
        .unwrap();
        assert_eq!(
            strings(out),
            vec![Some("true".into()), Some("false".into()), None]
        );

        let out = call(
            &udf("pg_get_expr"),
            vec![text(vec![Some("42"), None]), ints(vec![Some(1), Some(1)])],
        )
        .unwrap();
        assert_eq!(strings(out), vec![Some("42".into()), None]);

        let out = call(
            &udf("obj_description"),
            vec![
                ints(vec![Some(1), Some(2)]),
                text(vec![Some("pg_class"), None]),
            ],
        )
        .unwrap();
        assert_eq!(strings(out), vec![None, None]);

        let out = call(
            &udf("pg_encoding_to_char"),
            vec![ints(vec![Some(6), Some(0), Some(99), Some(-1)])],
        )
        .unwrap();
        assert_eq!(
            strings(out),
            vec![
                Some("UTF8".into()),
                Some("SQL_ASCII".into()),
                Some(String::new()),
                Some(String::new())
            ]
        );

        let out = call(
            &udf("has_table_privilege"),
            vec![
                text(vec![Some("tidewater"), None]),
                text(vec![Some("orders"), Some("orders")]),
                text(vec![Some("SELECT"), Some("SELECT")]),
            ],
        )
        .unwrap();
        assert_eq!(strings(out), vec![Some("true".into()), None]);
        assert!(
            call(
                &udf("has_table_privilege"),
                vec![text(vec![Some("orders")])]
            )
            .is_err()
        );

        let out = call(&udf("pg_size_pretty"), vec![ints(vec![Some(10_752), None])]).unwrap();
        assert_eq!(strings(out), vec![Some("11 kB".into()), None]);

        let out = call(
            &udf("pg_total_relation_size"),
            vec![ints(vec![Some(16_385), None])],
        )
        .unwrap();
        assert_eq!(strings(out), vec![Some("0".into()), None]);

        let out = call(
            &udf("quote_ident"),
            vec![text(vec![Some("Orders"), Some("orders"), None])],
        )
        .unwrap();
        assert_eq!(
            strings(out),
            vec![Some("\"Orders\"".into()), Some("orders".into()), None]
        );

        let out = call(
            &udf("to_regtype"),
            vec![text(vec![Some("bigint"), Some("nope"), None])],
        )
        .unwrap();
        assert_eq!(strings(out), vec![Some("20".into()), None, None]);

        let out = call(&udf("pg_is_in_recovery"), vec![]).unwrap();
        assert_eq!(scalar_text(out).as_deref(), Some("false"));

        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(23), Some(25)]),
            Some(vec![]),
            None,
        ]);
        let lists = ColumnarValue::Array(Arc::new(list));
        let out = call(&udf("oidvectortypes"), vec![lists.clone()]).unwrap();
        assert_eq!(
            strings(out),
            vec![Some("integer, text".into()), Some(String::new()), None]
        );
        let out = call(
            &udf("array_upper"),
            vec![lists.clone(), ints(vec![Some(1), Some(1), Some(1)])],
        )
        .unwrap();
        assert_eq!(strings(out), vec![Some("2".into()), None, None]);
        let out = call(
            &udf("array_lower"),
            vec![lists, ints(vec![Some(1), Some(1), Some(2)])],
        )
        .unwrap();
        assert_eq!(strings(out), vec![Some("1".into()), None, None]);
        assert!(
            call(
                &udf("array_upper"),
                vec![text(vec![Some("x")]), ints(vec![Some(1)])]
            )
            .is_err()
        );
    }

    #[test]
    fn current_setting_reads_its_settings() {
        let f = current_setting_udf([("TimeZone".to_string(), "Europe/Paris".to_string())]);
        let out = call(
            &f,
            vec![text(vec![Some("timezone"), Some("TIMEZONE"), None])],
        )
        .unwrap();
        assert_eq!(
            strings(out),
            vec![
                Some("Europe/Paris".into()),
                Some("Europe/Paris".into()),
                None
            ]
        );
        let err = call(&f, vec![text(vec![Some("nope")])]).unwrap_err();
        assert!(
            err.to_string()
                .contains("unrecognized configuration parameter \"nope\""),
            "{err}"
        );
        let out = call(
            &f,
            vec![
                text(vec![Some("nope")]),
                ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))),
            ],
        )
        .unwrap();
        assert_eq!(strings(out), vec![None]);
        let defaults = udf("current_setting");
        let out = call(
            &defaults,
            vec![ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                "server_version_num".into(),
            )))],
        )
        .unwrap();
        assert_eq!(scalar_text(out).as_deref(), Some("140000"));
    }

    /// Simplifies `f(x)` and evaluates the result over a batch, as workers do.
    fn simplify_and_evaluate(f: &ScalarUDF, keys: Vec<Option<i64>>) -> ArrayRef {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let batch =
            RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(Int64Array::from(keys))])
                .unwrap();
        let ExprSimplifyResult::Simplified(expr) = f
            .simplify(vec![col("x")], &SimplifyContext::default())
            .unwrap()
        else {
            panic!("{} was not simplified", f.name());
        };
        assert!(
            !expr.to_string().contains(f.name()),
            "the rewritten expression still calls {}: {expr}",
            f.name()
        );
        let df_schema = DFSchema::try_from(schema.as_ref().clone()).unwrap();
        let physical = datafusion_physical_expr::create_physical_expr(
            &expr,
            &df_schema,
            &ExecutionProps::new(),
            &PhysicalPlanningContext::default(),
        )
        .unwrap();
        physical
            .evaluate(&batch)
            .unwrap()
            .to_array(batch.num_rows())
            .unwrap()
    }

    #[test]
    fn catalog_lookups_rewrite_to_literals() {
        let visible = ScalarUDF::new_from_impl(CatalogLookup::membership(
            "pg_table_is_visible",
            [16_385, 16_390],
        ));
        let out = simplify_and_evaluate(&visible, vec![Some(16_385), Some(1), None]);
        assert_eq!(
            out.as_boolean().iter().collect::<Vec<_>>(),
            vec![Some(true), Some(false), None]
        );
        let out = call(&visible, vec![ints(vec![Some(16_390), Some(7)])]).unwrap();
        assert_eq!(
            strings(out),
            vec![Some("true".into()), Some("false".into())]
        );

        let viewdef = ScalarUDF::new_from_impl(
            CatalogLookup::new(
                "pg_get_viewdef",
                [(16_391, ScalarValue::Utf8(Some(" SELECT 1;".into())))],
                ScalarValue::Utf8(None),
            )
            .with_optional_flag(),
        );
        let out = simplify_and_evaluate(&viewdef, vec![Some(16_391), Some(5), None]);
        assert_eq!(
            out.as_string::<i32>().iter().collect::<Vec<_>>(),
            vec![Some(" SELECT 1;"), None, None]
        );
        assert_eq!(
            viewdef
                .coerce_types(&[DataType::Int32, DataType::Boolean])
                .unwrap(),
            vec![DataType::Int64, DataType::Boolean]
        );

        let to_regclass = ScalarUDF::new_from_impl(CatalogLookup::by_name(
            "to_regclass",
            [
                ("orders".to_string(), ScalarValue::Int32(Some(16_385))),
                (
                    "public.orders".to_string(),
                    ScalarValue::Int32(Some(16_385)),
                ),
            ],
            ScalarValue::Int32(None),
        ));
        let out = call(
            &to_regclass,
            vec![text(vec![
                Some("ORDERS"),
                Some("\"public\".orders"),
                Some("x.orders"),
                Some("a..b"),
                None,
            ])],
        )
        .unwrap();
        assert_eq!(
            strings(out),
            vec![Some("16385".into()), Some("16385".into()), None, None, None]
        );
        // A literal argument is left for constant folding.
        let literal = Expr::Literal(ScalarValue::Utf8(Some("orders".into())), None);
        assert!(matches!(
            to_regclass
                .simplify(vec![literal], &SimplifyContext::default())
                .unwrap(),
            ExprSimplifyResult::Original(_)
        ));

        let empty = ScalarUDF::new_from_impl(CatalogLookup::membership("pg_table_is_visible", []));
        let out = simplify_and_evaluate(&empty, vec![Some(1), None]);
        assert_eq!(
            out.as_boolean().iter().collect::<Vec<_>>(),
            vec![Some(false), None]
        );
    }

    #[test]
    fn index_definitions_answer_by_column_and_pretty_flag() {
        let f = ScalarUDF::new_from_impl(IndexDefinitions::new([
            IndexDefinition {
                oid: 16_390,
                definition: "CREATE INDEX i2 ON s2.t USING btree (\"Y\", x)".into(),
                pretty: "CREATE INDEX i2 ON s2.t USING btree (\"Y\", x)".into(),
                columns: vec!["\"Y\"".into(), "x".into()],
            },
            IndexDefinition {
                oid: 16_387,
                definition: "CREATE INDEX i1 ON public.orders USING btree (id)".into(),
                pretty: "CREATE INDEX i1 ON orders USING btree (id)".into(),
                columns: vec!["id".into()],
            },
        ]));
        let expected = |pretty: bool| -> Vec<Option<String>> {
            [
                Some(if pretty {
                    "CREATE INDEX i1 ON orders USING btree (id)"
                } else {
                    "CREATE INDEX i1 ON public.orders USING btree (id)"
                }),
                Some("id"),
                Some(""),
                Some(""),
                Some("CREATE INDEX i2 ON s2.t USING btree (\"Y\", x)"),
                Some("x"),
                None,
                None,
                None,
            ]
            .into_iter()
            .map(|s| s.map(str::to_string))
            .collect()
        };
        let oids = || {
            ints(vec![
                Some(16_387),
                Some(16_387),
                Some(16_387),
                Some(16_387),
                Some(16_390),
                Some(16_390),
                Some(1),
                None,
                Some(16_387),
            ])
        };
        let columns = || {
            ints(vec![
                Some(0),
                Some(1),
                Some(2),
                Some(-1),
                Some(0),
                Some(2),
                Some(0),
                Some(0),
                None,
            ])
        };
        for pretty in [false, true] {
            let flag = ColumnarValue::Scalar(ScalarValue::Boolean(Some(pretty)));
            let out = call(&f, vec![oids(), columns(), flag]).unwrap();
            assert_eq!(strings(out), expected(pretty), "pretty {pretty}");
        }
        // One argument: the whole definition, schema-qualified.
        let out = call(&f, vec![ints(vec![Some(16_387), Some(5), None])]).unwrap();
        assert_eq!(
            strings(out),
            vec![
                Some("CREATE INDEX i1 ON public.orders USING btree (id)".into()),
                None,
                None
            ]
        );
        // A NULL flag gives NULL; constant arguments give a scalar.
        let out = call(
            &f,
            vec![
                ColumnarValue::Scalar(ScalarValue::Int32(Some(16_390))),
                ColumnarValue::Scalar(ScalarValue::Int64(Some(1))),
                ColumnarValue::Scalar(ScalarValue::Boolean(None)),
            ],
        )
        .unwrap();
        assert_eq!(scalar_text(out), None);
        let out = call(
            &f,
            vec![
                ColumnarValue::Scalar(ScalarValue::Utf8(Some("16390".into()))),
                ColumnarValue::Scalar(ScalarValue::Int32(Some(1))),
                ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))),
            ],
        )
        .unwrap();
        assert_eq!(scalar_text(out).as_deref(), Some("\"Y\""));
        assert!(f.coerce_types(&[]).is_err());
        assert!(
            f.coerce_types(&[
                DataType::Int64,
                DataType::Int64,
                DataType::Boolean,
                DataType::Int64
            ])
            .is_err()
        );

        // Rewritten for workers: the same answers from plain expressions.
        let schema = Arc::new(Schema::new(vec![
            Field::new("o", DataType::Int64, true),
            Field::new("c", DataType::Int64, true),
            Field::new("p", DataType::Boolean, true),
        ]));
        for pretty in [false, true] {
            let batch = RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    array(oids()),
                    array(columns()),
                    Arc::new(BooleanArray::from(vec![Some(pretty); 9])),
                ],
            )
            .unwrap();
            let ExprSimplifyResult::Simplified(expr) = f
                .simplify(
                    vec![col("o"), col("c"), col("p")],
                    &SimplifyContext::default(),
                )
                .unwrap()
            else {
                panic!("pg_get_indexdef was not simplified");
            };
            assert!(!expr.to_string().contains("pg_get_indexdef"), "{expr}");
            let df_schema = DFSchema::try_from(schema.as_ref().clone()).unwrap();
            let physical = datafusion_physical_expr::create_physical_expr(
                &expr,
                &df_schema,
                &ExecutionProps::new(),
                &PhysicalPlanningContext::default(),
            )
            .unwrap();
            let out = physical.evaluate(&batch).unwrap();
            assert_eq!(strings(out), expected(pretty), "rewritten, pretty {pretty}");
        }
        // A literal call is left for constant folding.
        let literal = Expr::Literal(ScalarValue::Int64(Some(16_387)), None);
        assert!(matches!(
            f.simplify(vec![literal], &SimplifyContext::default())
                .unwrap(),
            ExprSimplifyResult::Original(_)
        ));
        // Without indexes every call is NULL.
        let empty = ScalarUDF::new_from_impl(IndexDefinitions::new([]));
        let out = simplify_and_evaluate(&empty, vec![Some(16_387), None]);
        assert_eq!(out.null_count(), 2);
    }

    #[test]
    fn time_functions_fold_at_plan_time() {
        let ctx = SimplifyContext::builder().with_current_time().build();
        let txid = udf("txid_current");
        let ExprSimplifyResult::Simplified(Expr::Literal(ScalarValue::Int64(Some(v)), _)) =
            txid.simplify(vec![], &ctx).unwrap()
        else {
            panic!("txid_current was not folded");
        };
        assert!(v > 0);
        let start = udf("pg_postmaster_start_time");
        let a = start.simplify(vec![], &SimplifyContext::default()).unwrap();
        let b = start.simplify(vec![], &SimplifyContext::default()).unwrap();
        assert!(
            matches!((a, b), (ExprSimplifyResult::Simplified(x), ExprSimplifyResult::Simplified(y)) if x == y)
        );
    }
}
