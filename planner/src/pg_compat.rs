//! Postgres spellings that DataFusion's SQL planner does not know, rewritten
//! in the syntax tree before planning. Clients (psql, pgjdbc, BI tools)
//! send these in their catalog queries:
//!
//! - `COLLATE "C"` / `COLLATE pg_catalog.default` (Tidewater compares
//!   strings bytewise, which is the `C` collation) is dropped;
//! - `a OPERATOR(pg_catalog.~) b` becomes `a ~ b`;
//! - type names qualified with `pg_catalog.` lose the qualifier, and the
//!   Postgres-internal names (`int4`, `name`, `"char"`, `oid`, ...) map to
//!   SQL types;
//! - object identifier types: `'orders'::regclass` becomes the table's OID
//!   (an error 42P01 when there is no such relation, as in Postgres),
//!   `oid::regclass` its name as text, likewise `regtype` (via
//!   `format_type`), `regnamespace` and `regproc`; a parameter
//!   (`$1::regclass`) is resolved as a name when its value is bound;
//! - `ARRAY(subquery)` becomes `(SELECT array_agg(v) FROM (subquery) AS
//!   s(v))`;
//! - the set-returning `information_schema._pg_expandarray(a)` in an
//!   expression becomes `unnest(_pg_expandarray(a))` (the scalar function
//!   builds the `(x, n)` pairs, the unnest makes them rows), and field
//!   selection from a composite, `(expr).field`, becomes `(expr)['field']`;
//! - table functions in `FROM` lose a `pg_catalog.` or
//!   `information_schema.` qualifier (`FROM pg_catalog.generate_series(1,
//!   3)`), which DataFusion would take for the function's name, and the
//!   bare alias of a one-column function names its column too
//!   (`generate_series(1, 3) AS g` has the column `g`);
//! - `generate_subscripts(a, dim)` in an expression becomes
//!   `unnest(tw_array_subscripts(a, dim))`, beside the `unnest(a)` it is
//!   usually called with;
//! - `LIKE p ESCAPE 'c'` with an escape other than the backslash becomes
//!   `LIKE tw_like_escape(p, 'c')`, which DataFusion's `LIKE` takes.

use std::ops::ControlFlow;

use datafusion_common::{DataFusionError, Result, TableReference};
use sqlparser::ast::{
    AccessExpr, BinaryOperator, CastKind, DataType, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentList, FunctionArguments, Ident, ObjectName, ObjectNamePart, Query, Statement,
    Subscript, TableFactor, Value, VisitMut, VisitorMut,
};

use crate::context::PlannerContext;
use crate::error::PlanError;

/// Applies every rewrite of this module to `statement`.
///
/// # Errors
///
/// A `'name'::regclass` naming no relation (42P01), an unsupported
/// collation (0A000).
pub(crate) fn rewrite(statement: &mut Statement, ctx: &PlannerContext<'_>) -> Result<()> {
    let mut rewriter = Rewriter { ctx, error: None };
    let _ = statement.visit(&mut rewriter);
    match rewriter.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

struct Rewriter<'a, 'b> {
    ctx: &'a PlannerContext<'b>,
    error: Option<DataFusionError>,
}

fn ident_text(i: &Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

fn name_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => ident_text(i),
            other => other.to_string(),
        })
        .collect()
}

/// The last part of a possibly `pg_catalog`-qualified name.
fn unqualified(name: &ObjectName) -> Option<String> {
    let parts = name_parts(name);
    match parts.as_slice() {
        [n] => Some(n.clone()),
        [schema, n] if schema == "pg_catalog" => Some(n.clone()),
        _ => None,
    }
}

fn function(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

fn string_literal(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

fn is_placeholder(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if matches!(v.value, Value::Placeholder(_)))
}

/// Object identifier types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OidType {
    Regclass,
    Regtype,
    Regnamespace,
    Regproc,
}

/// What a type name in a cast means.
enum TypeTarget {
    Sql(DataType),
    Oid(OidType),
}

/// Maps a Postgres type spelling to a type DataFusion knows.
fn map_type(t: &DataType) -> Option<TypeTarget> {
    match t {
        DataType::Regclass => Some(TypeTarget::Oid(OidType::Regclass)),
        DataType::Custom(name, modifiers) => {
            let n = unqualified(name)?;
            let sql = match n.as_str() {
                "regclass" => return Some(TypeTarget::Oid(OidType::Regclass)),
                "regtype" => return Some(TypeTarget::Oid(OidType::Regtype)),
                "regnamespace" => return Some(TypeTarget::Oid(OidType::Regnamespace)),
                "regproc" | "regprocedure" => return Some(TypeTarget::Oid(OidType::Regproc)),
                "oid" | "regoper" | "regoperator" | "regrole" | "regconfig" | "xid" | "cid" => {
                    DataType::Int(None)
                }
                "int2" | "smallint" => DataType::SmallInt(None),
                "int4" | "integer" | "int" => DataType::Int(None),
                "int8" | "bigint" => DataType::BigInt(None),
                "float4" | "real" => DataType::Real,
                "float8" => DataType::DoublePrecision,
                "bool" | "boolean" => DataType::Boolean,
                "text" | "name" | "char" | "bpchar" | "unknown" => DataType::Text,
                "varchar" => DataType::Varchar(None),
                "numeric" | "decimal" if modifiers.is_empty() => {
                    DataType::Numeric(sqlparser::ast::ExactNumberInfo::None)
                }
                "bytea" => DataType::Bytea,
                "date" => DataType::Date,
                "timestamp" => DataType::Timestamp(None, sqlparser::ast::TimezoneInfo::None),
                "timestamptz" => {
                    DataType::Timestamp(None, sqlparser::ast::TimezoneInfo::WithTimeZone)
                }
                "interval" => DataType::Interval {
                    fields: None,
                    precision: None,
                },
                "int2vector" | "oidvector" => DataType::Text,
                _ => return None,
            };
            Some(TypeTarget::Sql(sql))
        }
        DataType::Array(sqlparser::ast::ArrayElemTypeDef::SquareBracket(inner, size)) => {
            match map_type(inner)? {
                TypeTarget::Sql(inner) => Some(TypeTarget::Sql(DataType::Array(
                    sqlparser::ast::ArrayElemTypeDef::SquareBracket(Box::new(inner), *size),
                ))),
                TypeTarget::Oid(_) => Some(TypeTarget::Sql(DataType::Array(
                    sqlparser::ast::ArrayElemTypeDef::SquareBracket(
                        Box::new(DataType::Int(None)),
                        *size,
                    ),
                ))),
            }
        }
        other => pg_sql_type(other).map(TypeTarget::Sql),
    }
}

/// Postgres's meaning of a standard type spelling that DataFusion reads
/// differently or not at all, as a spelling DataFusion reads the Postgres
/// way: `FLOAT` and `FLOAT(25..53)` are `double precision` (DataFusion
/// makes every `FLOAT` 32-bit), `FLOAT(1..24)` is `real`, and
/// `CHARACTER [VARYING] (n)` is `char(n)` / `varchar(n)`. `None` when the
/// type needs no change. Used for column types and casts alike.
pub(crate) fn pg_sql_type(t: &DataType) -> Option<DataType> {
    use sqlparser::ast::{ArrayElemTypeDef, ExactNumberInfo};
    match t {
        DataType::Float(ExactNumberInfo::Precision(p)) if *p <= 24 => Some(DataType::Real),
        DataType::Float(_) => Some(DataType::DoublePrecision),
        DataType::Character(len) => Some(DataType::Char(*len)),
        DataType::CharacterVarying(len) | DataType::CharVarying(len) => {
            Some(DataType::Varchar(*len))
        }
        DataType::Array(ArrayElemTypeDef::SquareBracket(inner, size)) => pg_sql_type(inner)
            .map(|inner| DataType::Array(ArrayElemTypeDef::SquareBracket(Box::new(inner), *size))),
        _ => None,
    }
}

impl Rewriter<'_, '_> {
    fn fail(&mut self, e: DataFusionError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// The rewritten expression, or `NULL` in its place once its error is
    /// recorded.
    fn or_null(&mut self, rewritten: Result<Expr>) -> Expr {
        rewritten.unwrap_or_else(|e| {
            self.fail(e);
            Expr::value(Value::Null)
        })
    }

    /// `left op ANY (subquery)`, or `ALL` when `all`, rewritten by
    /// [`quantified_comparison`].
    fn quantified_subquery(
        &mut self,
        left: Expr,
        op: &BinaryOperator,
        subquery: Expr,
        all: bool,
    ) -> Expr {
        let rewritten = match subquery {
            Expr::Subquery(q) => quantified_comparison(left, op, *q, all),
            other => Err(DataFusionError::Internal(format!(
                "quantified comparison with {other}, not a subquery"
            ))),
        };
        self.or_null(rewritten)
    }

    /// `_pg_expandarray(a)` as `unnest(expand_array(a))` and
    /// `ARRAY(subquery)` as an `array_agg` subquery; other calls unchanged.
    fn rewrite_function(&mut self, f: Function) -> Expr {
        if let Some(array) = expandarray_argument(&f) {
            return function(
                "unnest",
                vec![function(
                    tidewater_runtime::functions::expand_array::NAME,
                    vec![array],
                )],
            );
        }
        if unqualified(&f.name).as_deref() == Some("generate_subscripts")
            && f.over.is_none()
            && let FunctionArguments::List(list) = &f.args
        {
            let args = list
                .args
                .iter()
                .filter_map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
                    _ => None,
                })
                .collect::<Vec<_>>();
            if args.len() == list.args.len() {
                return function(
                    "unnest",
                    vec![function(
                        tidewater_runtime::functions::array_subscripts::NAME,
                        args,
                    )],
                );
            }
        }
        if unqualified(&f.name).as_deref() == Some("array")
            && let FunctionArguments::Subquery(q) = f.args
        {
            let rewritten = array_subquery(*q);
            return self.or_null(rewritten);
        }
        Expr::Function(f)
    }

    /// `expr::<oid type>`. A parameter (`$1::regclass`) is a name, like a
    /// literal, looked up when its value is bound.
    fn oid_cast(&mut self, expr: Expr, target: OidType) -> Expr {
        if is_placeholder(&expr) {
            return match target {
                OidType::Regclass => function("to_regclass", vec![expr]),
                OidType::Regtype => function("to_regtype", vec![expr]),
                OidType::Regnamespace => function("to_regnamespace", vec![expr]),
                OidType::Regproc => expr,
            };
        }
        match (target, string_literal(&expr)) {
            (OidType::Regclass, Some(name)) => {
                // Resolve now: Postgres raises an error for an unknown name.
                let reference = TableReference::from(name.to_lowercase().as_str());
                if let Err(e) = self.ctx.resolve(&reference) {
                    self.fail(e);
                }
                function("to_regclass", vec![expr])
            }
            (OidType::Regclass, None) => function("regclass_name", vec![expr]),
            (OidType::Regtype, Some(_)) => function("to_regtype", vec![expr]),
            (OidType::Regtype, None) => {
                function("format_type", vec![expr, Expr::value(Value::Null)])
            }
            (OidType::Regnamespace, Some(_)) => function("to_regnamespace", vec![expr]),
            (OidType::Regnamespace, None) => function("regnamespace_name", vec![expr]),
            (OidType::Regproc, Some(name)) => {
                let bare = name.strip_prefix("pg_catalog.").unwrap_or(name).to_string();
                Expr::value(Value::SingleQuotedString(bare))
            }
            (OidType::Regproc, None) => expr,
        }
    }
}

/// The operator a `OPERATOR(schema.op)` names, if it is a standard one.
fn standard_operator(parts: &[String]) -> Option<BinaryOperator> {
    let op = match parts {
        [op] => op.as_str(),
        [schema, op] if schema == "pg_catalog" => op.as_str(),
        _ => return None,
    };
    Some(match op {
        "~" => BinaryOperator::PGRegexMatch,
        "~*" => BinaryOperator::PGRegexIMatch,
        "!~" => BinaryOperator::PGRegexNotMatch,
        "!~*" => BinaryOperator::PGRegexNotIMatch,
        "~~" => BinaryOperator::PGLikeMatch,
        "~~*" => BinaryOperator::PGILikeMatch,
        "!~~" => BinaryOperator::PGNotLikeMatch,
        "!~~*" => BinaryOperator::PGNotILikeMatch,
        "=" => BinaryOperator::Eq,
        "<>" | "!=" => BinaryOperator::NotEq,
        "<" => BinaryOperator::Lt,
        "<=" => BinaryOperator::LtEq,
        ">" => BinaryOperator::Gt,
        ">=" => BinaryOperator::GtEq,
        "+" => BinaryOperator::Plus,
        "-" => BinaryOperator::Minus,
        "*" => BinaryOperator::Multiply,
        "/" => BinaryOperator::Divide,
        "%" => BinaryOperator::Modulo,
        "||" => BinaryOperator::StringConcat,
        _ => return None,
    })
}

/// `ARRAY(SELECT e FROM ... [ORDER BY o])` as an aggregate subquery:
/// `(SELECT array_agg(e ORDER BY o) FROM ...)`, which also works when the
/// subquery is correlated; other shapes go through a derived table.
fn array_subquery(query: Query) -> Result<Expr> {
    if let Some(e) = array_agg_subquery(&query) {
        return Ok(e);
    }
    let sql = format!(
        "SELECT array_agg(__tw_array_value) FROM ({query}) AS __tw_array(__tw_array_value)"
    );
    let statements = crate::parse_sql(&sql)?;
    match statements.into_iter().next() {
        Some(Statement::Query(q)) => Ok(Expr::Subquery(q)),
        _ => Err(DataFusionError::Internal(
            "ARRAY(subquery) rewrite did not parse".into(),
        )),
    }
}

fn array_agg_subquery(query: &Query) -> Option<Expr> {
    use sqlparser::ast::{GroupByExpr, OrderByKind, SelectItem, SetExpr};
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let simple = query.limit_clause.is_none()
        && query.fetch.is_none()
        && select.distinct.is_none()
        && select.having.is_none()
        && matches!(&select.group_by, GroupByExpr::Expressions(e, _) if e.is_empty());
    let [SelectItem::UnnamedExpr(item) | SelectItem::ExprWithAlias { expr: item, .. }] =
        select.projection.as_slice()
    else {
        return None;
    };
    if !simple {
        return None;
    }
    let mut order = Vec::new();
    if let Some(order_by) = &query.order_by {
        let OrderByKind::Expressions(exprs) = &order_by.kind else {
            return None;
        };
        for o in exprs {
            let mut o = o.clone();
            if let Expr::Value(v) = &o.expr
                && let Value::Number(n, _) = &v.value
            {
                if n != "1" {
                    return None;
                }
                o.expr = item.clone();
            }
            order.push(o);
        }
    }
    let order_sql = if order.is_empty() {
        String::new()
    } else {
        format!(
            " ORDER BY {}",
            order
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut select = select.as_ref().clone();
    let aggregate = crate::parse_sql(&format!("SELECT array_agg({item}{order_sql})")).ok()?;
    let Some(Statement::Query(q)) = aggregate.into_iter().next() else {
        return None;
    };
    let SetExpr::Select(s) = *q.body else {
        return None;
    };
    select.projection = s.projection;
    let mut query = query.clone();
    query.order_by = None;
    query.body = Box::new(SetExpr::Select(Box::new(select)));
    Some(Expr::Subquery(Box::new(query)))
}

/// `x op ANY (subquery)` / `x op ALL (subquery)` with Postgres's
/// three-valued logic. `= ANY` is `IN` and `<> ALL` is `NOT IN`; the other
/// operators compare with the subquery's minimum or maximum:
/// `x > ANY (S)` is true when `x > min(S)`, false when `S` is empty or all
/// comparisons are false, and NULL when `x` or an element of `S` is NULL
/// and no comparison is true.
fn quantified_comparison(left: Expr, op: &BinaryOperator, query: Query, all: bool) -> Result<Expr> {
    use BinaryOperator::{Eq, Gt, GtEq, Lt, LtEq, NotEq};
    match (op, all) {
        (Eq, false) => {
            return Ok(Expr::InSubquery {
                expr: Box::new(left),
                subquery: Box::new(query),
                negated: false,
            });
        }
        (NotEq, true) => {
            return Ok(Expr::InSubquery {
                expr: Box::new(left),
                subquery: Box::new(query),
                negated: true,
            });
        }
        _ => {}
    }
    let x = format!("({left})");
    // The condition that makes one comparison true (ANY) or false (ALL).
    let decisive = match (op, all) {
        (Gt, false) => format!("{x} > min(__tw_v)"),
        (GtEq, false) => format!("{x} >= min(__tw_v)"),
        (Lt, false) => format!("{x} < max(__tw_v)"),
        (LtEq, false) => format!("{x} <= max(__tw_v)"),
        (NotEq, false) | (Eq, true) => format!("({x} <> min(__tw_v) OR {x} <> max(__tw_v))"),
        (Gt, true) => format!("NOT ({x} > max(__tw_v))"),
        (GtEq, true) => format!("NOT ({x} >= max(__tw_v))"),
        (Lt, true) => format!("NOT ({x} < min(__tw_v))"),
        (LtEq, true) => format!("NOT ({x} <= min(__tw_v))"),
        _ => {
            return Err(PlanError::feature_not_supported(format!(
                "{op} {} (subquery) is not supported",
                if all { "ALL" } else { "ANY" }
            ))
            .into());
        }
    };
    let (empty, hit) = if all {
        ("true", "false")
    } else {
        ("false", "true")
    };
    let sql = format!(
        "SELECT CASE WHEN count(*) = 0 THEN {empty} WHEN {decisive} THEN {hit} \
         WHEN {x} IS NULL OR count(__tw_v) < count(*) THEN NULL ELSE {empty} END \
         FROM ({query}) AS __tw_s(__tw_v)"
    );
    match crate::parse_sql(&sql)?.into_iter().next() {
        Some(Statement::Query(q)) => Ok(Expr::Subquery(q)),
        _ => Err(DataFusionError::Internal(
            "quantified comparison rewrite did not parse".into(),
        )),
    }
}

/// `LIKE pattern ESCAPE 'c'`: the backslash is left to DataFusion; any
/// other escape (or none, `ESCAPE ''`) rewrites the pattern to backslash
/// escapes at run time (`tw_like_escape`).
fn like_escape(
    pattern: Expr,
    escape: sqlparser::ast::ValueWithSpan,
) -> (Box<Expr>, Option<sqlparser::ast::ValueWithSpan>) {
    if matches!(&escape.value, Value::SingleQuotedString(s) if s == "\\") {
        return (Box::new(pattern), Some(escape));
    }
    let escape = Expr::Value(escape);
    (
        Box::new(function(
            tidewater_runtime::functions::like_escape::NAME,
            vec![pattern, escape],
        )),
        None,
    )
}

/// The single argument of a call to `information_schema._pg_expandarray`
/// (also accepted unqualified), if `f` is one.
fn expandarray_argument(f: &Function) -> Option<Expr> {
    let parts = name_parts(&f.name);
    let is_expandarray = match parts.as_slice() {
        [n] => n == "_pg_expandarray",
        [schema, n] => schema == "information_schema" && n == "_pg_expandarray",
        _ => false,
    };
    if !is_expandarray || f.over.is_some() || f.filter.is_some() {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] => Some(e.clone()),
        _ => None,
    }
}

impl VisitorMut for Rewriter<'_, '_> {
    type Break = ();

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            name,
            args: Some(_),
            alias,
            ..
        } = factor
        {
            let parts = name_parts(name);
            match parts.as_slice() {
                [_] => {}
                [schema, function] if schema == "pg_catalog" || schema == "information_schema" => {
                    *name = ObjectName::from(vec![Ident::new(function.as_str())]);
                }
                _ => self.fail(
                    PlanError::new("42883", format!("function {name}() does not exist")).into(),
                ),
            }
            // A function returning one column: a bare alias also names
            // the column (`generate_series(1, 3) AS g` has column `g`).
            if let Some(alias) = alias
                && alias.columns.is_empty()
                && name_parts(name)
                    .last()
                    .is_some_and(|f| crate::table_functions::returns_one_column(f))
            {
                alias.columns = vec![sqlparser::ast::TableAliasColumnDef {
                    name: alias.name.clone(),
                    data_type: None,
                }];
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        fn has_except_all(set: &sqlparser::ast::SetExpr) -> bool {
            use sqlparser::ast::{SetExpr, SetOperator, SetQuantifier};
            match set {
                SetExpr::SetOperation {
                    op,
                    set_quantifier,
                    left,
                    right,
                } => {
                    (matches!(op, SetOperator::Except | SetOperator::Minus)
                        && matches!(
                            set_quantifier,
                            SetQuantifier::All | SetQuantifier::AllByName
                        ))
                        || has_except_all(left)
                        || has_except_all(right)
                }
                _ => false,
            }
        }
        if has_except_all(&query.body) {
            self.fail(
                PlanError::feature_not_supported("EXCEPT ALL is not supported yet (EXCEPT is)")
                    .into(),
            );
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let taken = std::mem::replace(expr, Expr::value(Value::Null));
        *expr = match taken {
            Expr::Collate {
                expr: inner,
                collation,
            } => {
                let parts = name_parts(&collation);
                let name = parts.last().map(String::as_str).unwrap_or_default();
                if !matches!(
                    name,
                    "default" | "C" | "c" | "POSIX" | "posix" | "ucs_basic"
                ) {
                    self.fail(
                        PlanError::feature_not_supported(format!(
                            "collation \"{collation}\" is not supported: strings compare bytewise (the \"C\" collation)"
                        ))
                        .into(),
                    );
                }
                *inner
            }
            Expr::Like {
                negated,
                any,
                expr: inner,
                pattern,
                escape_char: Some(escape),
            } => {
                let (pattern, escape_char) = like_escape(*pattern, escape);
                Expr::Like {
                    negated,
                    any,
                    expr: inner,
                    pattern,
                    escape_char,
                }
            }
            Expr::ILike {
                negated,
                any,
                expr: inner,
                pattern,
                escape_char: Some(escape),
            } => {
                let (pattern, escape_char) = like_escape(*pattern, escape);
                Expr::ILike {
                    negated,
                    any,
                    expr: inner,
                    pattern,
                    escape_char,
                }
            }
            Expr::BinaryOp {
                left,
                op: BinaryOperator::PGCustomBinaryOperator(parts),
                right,
            } => {
                let parts: Vec<String> = parts.iter().map(|p| p.to_lowercase()).collect();
                match standard_operator(&parts) {
                    Some(op) => Expr::BinaryOp { left, op, right },
                    None => Expr::BinaryOp {
                        left,
                        op: BinaryOperator::PGCustomBinaryOperator(parts),
                        right,
                    },
                }
            }
            Expr::Cast {
                kind,
                expr: inner,
                data_type,
                array,
                format,
            } => match map_type(&data_type) {
                Some(TypeTarget::Sql(t)) => Expr::Cast {
                    kind,
                    expr: inner,
                    data_type: t,
                    array,
                    format,
                },
                Some(TypeTarget::Oid(oid)) if kind != CastKind::TryCast => {
                    self.oid_cast(*inner, oid)
                }
                _ => Expr::Cast {
                    kind,
                    expr: inner,
                    data_type,
                    array,
                    format,
                },
            },
            Expr::AnyOp {
                left,
                compare_op,
                right,
                ..
            } if matches!(right.as_ref(), Expr::Subquery(_)) => {
                self.quantified_subquery(*left, &compare_op, *right, false)
            }
            Expr::AllOp {
                left,
                compare_op,
                right,
            } if matches!(right.as_ref(), Expr::Subquery(_)) => {
                self.quantified_subquery(*left, &compare_op, *right, true)
            }
            Expr::Function(f) => self.rewrite_function(f),
            Expr::CompoundFieldAccess { root, access_chain }
                if matches!(root.as_ref(), Expr::Nested(_)) =>
            {
                let access_chain = access_chain
                    .into_iter()
                    .map(|a| match a {
                        AccessExpr::Dot(Expr::Identifier(field)) => {
                            AccessExpr::Subscript(Subscript::Index {
                                index: Expr::value(Value::SingleQuotedString(ident_text(&field))),
                            })
                        }
                        other => other,
                    })
                    .collect();
                Expr::CompoundFieldAccess { root, access_chain }
            }
            other => other,
        };
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{CatalogView, QualifiedName, SessionInfo, TableEntry};

    #[derive(Debug)]
    struct Empty;

    impl CatalogView for Empty {
        fn table(&self, _name: &QualifiedName) -> Option<TableEntry> {
            None
        }
        fn schema_exists(&self, _database: &str, schema: &str) -> bool {
            schema == "public"
        }
        fn database_exists(&self, _database: &str) -> bool {
            true
        }
    }

    fn rewritten(sql: &str) -> Result<String> {
        let session = SessionInfo::default();
        let catalog = Empty;
        let ctx = PlannerContext::new(&catalog, &session);
        let mut statement = crate::parse_sql(sql)?.remove(0);
        rewrite(&mut statement, &ctx)?;
        Ok(statement.to_string())
    }

    #[test]
    fn rewrites_postgres_spellings() {
        assert_eq!(
            rewritten(
                "SELECT a FROM t WHERE a OPERATOR(pg_catalog.~) '^x$' COLLATE pg_catalog.default"
            )
            .unwrap(),
            "SELECT a FROM t WHERE a ~ '^x$'"
        );
        assert_eq!(
            rewritten(
                "SELECT c.oid::pg_catalog.regclass::pg_catalog.text, 1::oid, 'x'::pg_catalog.text"
            )
            .unwrap(),
            "SELECT regclass_name(c.oid)::TEXT, 1::INT, 'x'::TEXT"
        );
        assert_eq!(
            rewritten("SELECT ARRAY(SELECT a FROM t WHERE b = x.c ORDER BY 1 DESC)").unwrap(),
            "SELECT (SELECT array_agg(a ORDER BY a DESC) FROM t WHERE b = x.c)"
        );
        assert_eq!(
            rewritten("SELECT ARRAY(SELECT DISTINCT a FROM t)").unwrap(),
            "SELECT (SELECT array_agg(__tw_array_value) FROM (SELECT DISTINCT a FROM t) AS __tw_array (__tw_array_value))"
        );
        assert_eq!(
            rewritten("SELECT * FROM pg_attribute WHERE attrelid = $1::regclass").unwrap(),
            "SELECT * FROM pg_attribute WHERE attrelid = to_regclass($1)"
        );
        assert_eq!(
            rewritten("SELECT $1::pg_catalog.regtype, $2::regnamespace").unwrap(),
            "SELECT to_regtype($1), to_regnamespace($2)"
        );
        assert_eq!(
            rewritten(
                "SELECT (information_schema._pg_expandarray(i.indkey)).n, \
                 information_schema._pg_expandarray(i.indkey) AS keys FROM pg_index i"
            )
            .unwrap(),
            "SELECT (unnest(_pg_expandarray(i.indkey)))['n'], \
             unnest(_pg_expandarray(i.indkey)) AS keys FROM pg_index i"
        );
        assert_eq!(
            rewritten("SELECT * FROM (SELECT 1) AS r WHERE r.a = (r.keys).x").unwrap(),
            "SELECT * FROM (SELECT 1) AS r WHERE r.a = (r.keys)['x']"
        );
        assert_eq!(
            rewritten("SELECT * FROM pg_catalog.generate_series(1, 3) AS g(n)").unwrap(),
            "SELECT * FROM generate_series(1, 3) AS g (n)"
        );
        assert_eq!(
            rewritten("SELECT sum(g) FROM generate_series(1, 3) AS g").unwrap(),
            "SELECT sum(g) FROM generate_series(1, 3) AS g (g)"
        );
        let err = rewritten("SELECT * FROM s.f(1)").unwrap_err();
        assert_eq!(crate::find_plan_error(&err).map(|e| e.code), Some("42883"));
        let err = rewritten("SELECT 'nope'::regclass").unwrap_err();
        assert_eq!(crate::find_plan_error(&err).map(|e| e.code), Some("42P01"));
        assert!(rewritten("SELECT a COLLATE \"de_DE\" FROM t").is_err());
    }
}
