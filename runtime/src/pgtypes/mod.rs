//! Postgres type identity, the one home of it: the built-in types with
//! their real OIDs (the rows of `pg_type`), how Arrow types are shown as
//! them ([`pg_type_of`]) and which Arrow type a client's type OID stands for
//! ([`arrow_type_of_oid`]), type names and modifiers (`format_type`,
//! `varchar(10)`, `numeric(10,2)`), and the text input syntax of values
//! ([`text`]). The pg wire front end, the catalog, the planner and the
//! connectors all ask here.

mod table;
pub mod text;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType, Field, TimeUnit};

use table::TYPE_TABLE;

/// OID of the `pg_catalog` namespace.
pub const PG_CATALOG_NAMESPACE: u32 = 11;
/// OID of the `information_schema` namespace (as in Postgres 15).
pub const INFORMATION_SCHEMA_NAMESPACE: u32 = 13207;
/// OID of the `default` collation.
pub const DEFAULT_COLLATION_OID: u32 = 100;
/// Time zone of the `timestamp with time zone` values of client parameters
/// and system tables.
pub const UTC: &str = "+00:00";

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

/// Key words that Postgres's `quote_ident` quotes (every key word that is
/// not unreserved, Postgres 15), sorted.
#[rustfmt::skip]
const QUOTED_KEYWORDS: &[&str] = &[
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric",
    "authorization", "between", "bigint", "binary", "bit", "boolean", "both", "case", "cast",
    "char", "character", "check", "coalesce", "collate", "collation", "column", "concurrently",
    "constraint", "create", "cross", "current_catalog", "current_date", "current_role",
    "current_schema", "current_time", "current_timestamp", "current_user", "dec", "decimal",
    "default", "deferrable", "desc", "distinct", "do", "else", "end", "except", "exists",
    "extract", "false", "fetch", "float", "for", "foreign", "freeze", "from", "full", "grant",
    "greatest", "group", "grouping", "having", "ilike", "in", "initially", "inner", "inout",
    "int", "integer", "intersect", "interval", "into", "is", "isnull", "join", "lateral",
    "leading", "least", "left", "like", "limit", "localtime", "localtimestamp", "national",
    "natural", "nchar", "none", "normalize", "not", "notnull", "null", "nullif", "numeric",
    "offset", "on", "only", "or", "order", "out", "outer", "overlaps", "overlay", "placing",
    "position", "precision", "primary", "real", "references", "returning", "right", "row",
    "select", "session_user", "setof", "similar", "smallint", "some", "substring", "symmetric",
    "table", "tablesample", "then", "time", "timestamp", "to", "trailing", "treat", "trim",
    "true", "union", "unique", "user", "using", "values", "varchar", "variadic", "verbose",
    "when", "where", "window", "with", "xmlattributes", "xmlconcat", "xmlelement", "xmlexists",
    "xmlforest", "xmlnamespaces", "xmlparse", "xmlpi", "xmlroot", "xmlserialize", "xmltable",
];

/// Postgres's `quote_ident`: double-quotes an identifier unless it is
/// lower case letters, digits and underscores (not starting with a digit)
/// and not a reserved key word.
pub fn quote_ident(ident: &str) -> Cow<'_, str> {
    let mut chars = ident.chars();
    let safe = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && QUOTED_KEYWORDS.binary_search(&ident).is_err();
    if safe {
        Cow::Borrowed(ident)
    } else {
        Cow::Owned(format!("\"{}\"", ident.replace('"', "\"\"")))
    }
}

/// The Arrow type that holds values of Postgres type `t`: what system
/// tables store their columns as, and (through [`arrow_type_of_oid`]) what
/// a client's declared parameter type stands for. Domains are their base
/// type, arrays lists of their element, OID types `Int32`; types without
/// an Arrow counterpart are text.
pub fn arrow_type(t: &PgType) -> DataType {
    let list = |inner: DataType| DataType::List(Arc::new(Field::new("item", inner, true)));
    if t.kind == 'd' {
        return pg_type(t.base_type).map_or(DataType::Utf8, arrow_type);
    }
    if t.is_array() {
        return list(pg_type(t.elem).map_or(DataType::Utf8, arrow_type));
    }
    match t.name.as_str() {
        "bool" => DataType::Boolean,
        "int2" => DataType::Int16,
        "int4" | "oid" | "xid" | "cid" | "regclass" | "regtype" | "regnamespace" | "regrole"
        | "regoper" | "regoperator" | "regconfig" | "regdictionary" | "regcollation" => {
            DataType::Int32
        }
        "int8" | "xid8" => DataType::Int64,
        "float4" => DataType::Float32,
        "float8" => DataType::Float64,
        "numeric" => DataType::Decimal128(38, 0),
        "int2vector" => list(DataType::Int16),
        "oidvector" => list(DataType::Int32),
        "timestamptz" => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
        "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "time" => DataType::Time64(TimeUnit::Microsecond),
        "date" => DataType::Date32,
        "interval" => DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano),
        "bytea" => DataType::Binary,
        _ => DataType::Utf8,
    }
}

/// The Arrow type a client's declared type OID stands for ([`arrow_type`]
/// of the type); `None` for unspecified (0), `unknown` and the types a
/// client does not bind values of (the planner then infers the type). A
/// `numeric` parameter starts with scale 10; its value's own scale is kept
/// when it is bound.
pub fn arrow_type_of_oid(type_oid: u32) -> Option<DataType> {
    const BASE: &[u32] = &[
        oid::BOOL,
        oid::INT2,
        oid::INT4,
        oid::INT8,
        oid::FLOAT4,
        oid::FLOAT8,
        oid::NUMERIC,
        oid::TEXT,
        oid::VARCHAR,
        oid::BPCHAR,
        oid::NAME,
        oid::CHAR,
        oid::BYTEA,
        oid::DATE,
        oid::TIME,
        oid::TIMESTAMP,
        oid::TIMESTAMPTZ,
        oid::INTERVAL,
    ];
    const ARRAY_ELEMENTS: &[u32] = &[
        oid::BOOL,
        oid::INT2,
        oid::INT4,
        oid::INT8,
        oid::FLOAT4,
        oid::FLOAT8,
        oid::TEXT,
        oid::VARCHAR,
    ];
    let t = pg_type(type_oid)?;
    let known = if t.is_array() {
        ARRAY_ELEMENTS.contains(&t.elem)
    } else {
        BASE.contains(&t.oid)
    };
    if !known {
        return None;
    }
    Some(match t.oid {
        oid::NUMERIC => DataType::Decimal128(38, 10),
        _ => arrow_type(t),
    })
}

/// The SQL name of the Postgres type values of an Arrow type are shown as
/// (`bigint`, `text`, `numeric(15,2)`, `timestamp without time zone`,
/// `integer[]`), for messages.
pub fn type_name(data_type: &DataType) -> String {
    let (type_oid, typmod) = pg_type_of(data_type);
    format_type(type_oid, Some(typmod))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(QUOTED_KEYWORDS.len(), 151);
        assert!(QUOTED_KEYWORDS.is_sorted());
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
    fn oids_stand_for_arrow_types_and_types_have_names() {
        assert_eq!(arrow_type_of_oid(0), None);
        assert_eq!(arrow_type_of_oid(oid::UNKNOWN), None);
        assert_eq!(arrow_type_of_oid(20), Some(DataType::Int64));
        assert_eq!(
            arrow_type_of_oid(1007),
            Some(DataType::new_list(DataType::Int32, true))
        );
        assert_eq!(
            arrow_type_of_oid(1015),
            Some(DataType::new_list(DataType::Utf8, true))
        );
        assert_eq!(arrow_type_of_oid(1001), None);
        // Every type a client can declare round-trips through pg_type_of.
        for type_oid in [
            16, 21, 23, 20, 700, 701, 25, 17, 1082, 1083, 1114, 1184, 1186,
        ] {
            let t = arrow_type_of_oid(type_oid).unwrap();
            assert_eq!(pg_type_of(&t).0, type_oid, "{t}");
        }
        assert_eq!(type_name(&DataType::Int64), "bigint");
        assert_eq!(type_name(&DataType::Utf8View), "text");
        assert_eq!(type_name(&DataType::Decimal128(15, 2)), "numeric(15,2)");
        assert_eq!(
            type_name(&DataType::Timestamp(TimeUnit::Microsecond, None)),
            "timestamp without time zone"
        );
        assert_eq!(
            type_name(&DataType::new_list(DataType::Int32, true)),
            "integer[]"
        );
    }
}
