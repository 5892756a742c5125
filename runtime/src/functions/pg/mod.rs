//! Postgres compatibility functions: the `pg_catalog` functions that
//! psql, pgjdbc and BI tools call (`format_type`, `pg_get_userbyid`,
//! `pg_size_pretty`, `txid_current`, array helpers, ...), by concern:
//!
//! - this module: the shared registry's functions ([`scalar_functions`]);
//! - [`catalog`](mod@catalog): catalog identity and the per-statement
//!   catalog lookups;
//! - [`settings`](mod@settings): `current_setting`;
//! - [`json`](mod@json): `json_build_object`.
//!
//! Types and their names live in [`crate::pgtypes`].
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
//!   defaults ([`crate::settings::SETTINGS`]);
//! - the planner can register a per-statement version under the same name
//!   ([`settings::current_setting_udf`], [`catalog::CatalogLookup`],
//!   [`catalog::IndexDefinitions`]). It rewrites itself into
//!   literals (or a `CASE` / `IN` list over literals) when the optimizer
//!   simplifies expressions, so workers never see it.

pub mod catalog;
pub mod json;
pub mod settings;

use catalog::{ENCODINGS, encoding_name, size_pretty, user_name};
use settings::current_setting_udf;

use crate::pgtypes::{PG_CATALOG_NAMESPACE, format_type, parse_type_name, pg_type, quote_ident};

use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int32Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, TimeUnit};
use datafusion_common::{DataFusionError, Result, ScalarValue, exec_err, plan_err};
use datafusion_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// Time zone of the `timestamp with time zone` values these functions return.
const UTC: &str = "+00:00";

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
        crate::settings::SETTINGS
            .iter()
            .map(|s| (s.name.to_string(), s.default.to_string())),
    )));
    fns
}

/// How an argument is coerced before the function sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Arg {
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
pub(super) fn coerce_args(
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
pub(super) fn invoke_vectorized(
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

/// Helpers of the function tests: calling a function as a worker does.
#[cfg(test)]
pub(crate) mod test_util {
    use arrow::datatypes::Field;
    use datafusion_common::config::ConfigOptions;

    use super::*;

    pub(crate) fn udf(name: &str) -> Arc<ScalarUDF> {
        scalar_functions()
            .into_iter()
            .find(|f| f.name() == name)
            .unwrap_or_else(|| panic!("no function {name}"))
    }

    /// Calls a function the way a worker does after the planner coerced
    /// its arguments.
    pub(crate) fn call(f: &ScalarUDF, args: Vec<ColumnarValue>) -> Result<ColumnarValue> {
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

    pub(crate) fn array(v: ColumnarValue) -> ArrayRef {
        v.to_array(1).unwrap()
    }

    pub(crate) fn strings(v: ColumnarValue) -> Vec<Option<String>> {
        let a = cast(&array(v), &DataType::Utf8).unwrap();
        a.as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect()
    }

    pub(crate) fn ints(values: Vec<Option<i64>>) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(Int64Array::from(values)))
    }

    pub(crate) fn text(values: Vec<Option<&str>>) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(StringArray::from(values)))
    }

    pub(crate) fn scalar_text(v: ColumnarValue) -> Option<String> {
        match v {
            ColumnarValue::Scalar(s) => (!s.is_null()).then(|| s.to_string()),
            ColumnarValue::Array(_) => panic!("expected a scalar"),
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::ListArray;
    use arrow::datatypes::Int32Type;

    use super::test_util::*;
    use super::*;

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
