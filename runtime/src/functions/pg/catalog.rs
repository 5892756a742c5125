//! Catalog identity (the one role, namespaces, encodings) and the
//! functions whose answers come from the catalog of a statement
//! (`pg_table_is_visible`, `pg_get_viewdef`, `regclass` text,
//! `pg_get_indexdef`), which the planner registers per statement and the
//! optimizer rewrites into literals, so that workers never need the
//! catalog.

use super::{Arg, coerce_args, invoke_vectorized};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use datafusion_common::{Result, ScalarValue, exec_err};
use datafusion_expr::expr::{Case, InList};
use datafusion_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// OID of the one role, the superuser that owns every object.
pub const SUPERUSER_OID: u32 = 10;
/// Name of the one role.
pub const SUPERUSER_NAME: &str = "tidewater";
/// `pg_database.encoding` of every database (UTF8).
pub const UTF8_ENCODING: i32 = 6;

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
pub(super) const ENCODINGS: &str = "\
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

#[cfg(test)]
mod tests {
    use arrow::array::{BooleanArray, Int64Array, RecordBatch};
    use arrow::datatypes::{Field, Schema};
    use datafusion_common::DFSchema;
    use datafusion_expr::ScalarUDF;
    use datafusion_expr::col;
    use datafusion_expr::execution_props::ExecutionProps;
    use datafusion_expr::physical_planning_context::PhysicalPlanningContext;

    use super::super::test_util::*;
    use super::*;

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
    fn encoding_names() {
        assert_eq!(encoding_name(41), "SHIFT_JIS_2004");
        assert_eq!(encoding_name(6), "UTF8");
        assert_eq!(encoding_name(99), "");
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
}
