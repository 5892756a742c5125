//! The definitions of the system relations (parsed from [`super::defs`])
//! and a row builder that turns named cell values into an Arrow batch with
//! the relation's columns.
//!
//! Column types follow what the pg wire adapter sends for each Arrow type:
//! `oid`, `xid` and the `reg*` types except `regproc` are `Int32` (shown as
//! `integer`; every OID Tidewater hands out is below 2^31), `name`, `text`,
//! `"char"`, `regproc` and the other textual types are `Utf8`, `int2` /
//! `int4` / `int8` are `Int16` / `Int32` / `Int64`, arrays (and the
//! `int2vector` / `oidvector` types) are `List`s of their element,
//! `timestamp with time zone` is `Timestamp(Microsecond, "+00:00")`.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array,
    Int16Array, Int32Array, Int64Array, ListArray, ListBuilder, RecordBatch, StringArray,
    StringBuilder, TimestampMicrosecondArray, new_null_array,
};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use tidewater_runtime::pgtypes::{PG_TYPE_METADATA_KEY, PgType, arrow_type, pg_type_by_name};

use super::defs;

/// Whether a system relation is a table or a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SystemKind {
    /// `relkind = 'r'`.
    Table,
    /// `relkind = 'v'`.
    View,
}

/// A column of a system relation.
#[derive(Debug, Clone)]
pub(super) struct SystemColumn {
    /// Column name.
    pub(super) name: &'static str,
    /// Its Postgres type.
    pub(super) pg_type: &'static PgType,
    /// Declared NOT NULL.
    pub(super) not_null: bool,
}

/// A table or view of `pg_catalog` or `information_schema`.
#[derive(Debug, Clone)]
pub(super) struct SystemRelation {
    /// `pg_catalog` or `information_schema`.
    pub(super) schema: &'static str,
    /// Relation name.
    pub(super) name: &'static str,
    /// Its OID (as in Postgres 15).
    pub(super) oid: u32,
    /// Table or view.
    pub(super) kind: SystemKind,
    /// Columns in order.
    pub(super) columns: Vec<SystemColumn>,
    /// The Arrow schema of its rows.
    pub(super) arrow_schema: SchemaRef,
}

/// Every system relation, `pg_catalog` first, each schema ordered by name.
pub(super) fn system_relations() -> &'static [SystemRelation] {
    static RELATIONS: OnceLock<Vec<SystemRelation>> = OnceLock::new();
    RELATIONS.get_or_init(|| {
        let mut out = parse_relations("pg_catalog", defs::PG_CATALOG);
        out.extend(parse_relations(
            "information_schema",
            defs::INFORMATION_SCHEMA,
        ));
        out
    })
}

/// The system relation `schema.name`.
pub(super) fn system_relation(schema: &str, name: &str) -> Option<&'static SystemRelation> {
    static BY_NAME: OnceLock<HashMap<(&'static str, &'static str), usize>> = OnceLock::new();
    let index = BY_NAME.get_or_init(|| {
        system_relations()
            .iter()
            .enumerate()
            .map(|(i, r)| ((r.schema, r.name), i))
            .collect()
    });
    index.get(&(schema, name)).map(|i| &system_relations()[*i])
}

fn parse_relations(schema: &'static str, spec: &'static str) -> Vec<SystemRelation> {
    let mut out = Vec::new();
    for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        match parse_relation(schema, entry) {
            Some(r) => out.push(r),
            None => {
                debug_assert!(false, "bad system relation definition: {entry}");
                tracing::error!(entry, "bad system relation definition");
            }
        }
    }
    out.sort_by_key(|r| r.name);
    out
}

fn parse_relation(schema: &'static str, entry: &'static str) -> Option<SystemRelation> {
    let (head, body) = entry.split_once(':')?;
    let mut head = head.split_whitespace();
    let name = head.next()?;
    let oid = head.next()?.parse().ok()?;
    let kind = match head.next()? {
        "r" => SystemKind::Table,
        "v" => SystemKind::View,
        _ => return None,
    };
    let mut columns = Vec::new();
    for col in body.split(',') {
        let mut parts = col.split_whitespace();
        let col_name = parts.next()?;
        let ty = parts.next()?;
        let (ty, not_null) = match ty.strip_suffix('!') {
            Some(t) => (t, true),
            None => (ty, false),
        };
        columns.push(SystemColumn {
            name: col_name,
            pg_type: pg_type_by_name(ty)?,
            not_null,
        });
    }
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| {
            let field = Field::new(c.name, arrow_type(c.pg_type), !c.not_null);
            // `"char"` columns are `Utf8` like `text`, `int2vector` and
            // `oidvector` lists like arrays; clients see their type.
            match c.pg_type.name.as_str() {
                "char" => field.with_metadata(
                    [(PG_TYPE_METADATA_KEY.to_string(), "\"char\"".to_string())].into(),
                ),
                name @ ("int2vector" | "oidvector") => field
                    .with_metadata([(PG_TYPE_METADATA_KEY.to_string(), name.to_string())].into()),
                _ => field,
            }
        })
        .collect();
    Some(SystemRelation {
        schema,
        name,
        oid,
        kind,
        columns,
        arrow_schema: Arc::new(Schema::new(fields)),
    })
}

/// The value of one cell.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    /// SQL NULL (or the column's zero value when it is NOT NULL).
    Null,
    /// A boolean.
    Bool(bool),
    /// Any integer, OID, or timestamp in microseconds.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text (also `"char"` and `name`).
    Text(String),
    /// An array of integers or OIDs.
    Ints(Vec<i64>),
    /// An array of text.
    Texts(Vec<String>),
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<i16> for Value {
    fn from(v: i16) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<char> for Value {
    fn from(v: char) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Rows of one system relation, built cell by cell.
#[derive(Debug)]
pub(super) struct Rows {
    relation: &'static SystemRelation,
    /// Cells by column, then row.
    columns: Vec<Vec<Value>>,
    index: HashMap<&'static str, usize>,
}

impl Rows {
    /// No rows yet.
    pub(super) fn new(relation: &'static SystemRelation) -> Self {
        Self {
            relation,
            columns: vec![Vec::new(); relation.columns.len()],
            index: relation
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.name, i))
                .collect(),
        }
    }

    /// Adds a row with the named cells; the other cells are NULL (or the
    /// zero value of a NOT NULL column).
    pub(super) fn push(&mut self, cells: Vec<(&str, Value)>) {
        let mut row = vec![Value::Null; self.columns.len()];
        for (name, value) in cells {
            match self.index.get(name) {
                Some(i) => row[*i] = value,
                None => {
                    debug_assert!(false, "{} has no column {name}", self.relation.name);
                    tracing::error!(
                        relation = self.relation.name,
                        column = name,
                        "unknown system column"
                    );
                }
            }
        }
        for (column, value) in self.columns.iter_mut().zip(row) {
            column.push(value);
        }
    }

    /// The rows as a batch with the relation's schema.
    pub(super) fn finish(self) -> Result<RecordBatch, ArrowError> {
        let schema = Arc::clone(&self.relation.arrow_schema);
        let rows = self.columns.first().map_or(0, Vec::len);
        let arrays = schema
            .fields()
            .iter()
            .zip(self.columns)
            .map(|(field, values)| build_array(field.data_type(), !field.is_nullable(), values))
            .collect::<Result<Vec<_>, _>>()?;
        RecordBatch::try_new_with_options(
            schema,
            arrays,
            &arrow::array::RecordBatchOptions::new().with_row_count(Some(rows)),
        )
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// Builds one column. In a NOT NULL column, NULL cells become the type's
/// zero value (false, 0, empty text or array).
fn build_array(
    data_type: &DataType,
    not_null: bool,
    values: Vec<Value>,
) -> Result<ArrayRef, ArrowError> {
    let len = values.len();
    let ints = || -> Vec<Option<i64>> {
        values
            .iter()
            .map(|v| int(v).or(if not_null { Some(0) } else { None }))
            .collect()
    };
    Ok(match data_type {
        DataType::Boolean => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Value::Bool(b) => Some(*b),
                    _ if not_null => Some(false),
                    _ => None,
                })
                .collect::<BooleanArray>(),
        ),
        DataType::Int16 => Arc::new(
            ints()
                .into_iter()
                .map(|v| v.map(|v| i16::try_from(v).unwrap_or(i16::MAX)))
                .collect::<Int16Array>(),
        ),
        DataType::Int32 => Arc::new(
            ints()
                .into_iter()
                .map(|v| v.map(|v| i32::try_from(v).unwrap_or(i32::MAX)))
                .collect::<Int32Array>(),
        ),
        DataType::Int64 => Arc::new(ints().into_iter().collect::<Int64Array>()),
        DataType::Float32 | DataType::Float64 => {
            let floats: Vec<Option<f64>> = values
                .iter()
                .map(|v| match v {
                    Value::Float(f) => Some(*f),
                    Value::Int(i) => Some(*i as f64),
                    _ if not_null => Some(0.0),
                    _ => None,
                })
                .collect();
            if matches!(data_type, DataType::Float32) {
                Arc::new(
                    floats
                        .into_iter()
                        .map(|f| f.map(|f| f as f32))
                        .collect::<Float32Array>(),
                )
            } else {
                Arc::new(floats.into_iter().collect::<Float64Array>())
            }
        }
        DataType::Decimal128(p, s) => Arc::new(
            ints()
                .into_iter()
                .map(|v| v.map(i128::from))
                .collect::<Decimal128Array>()
                .with_precision_and_scale(*p, *s)?,
        ),
        DataType::Timestamp(TimeUnit::Microsecond, tz) => {
            let array: TimestampMicrosecondArray = ints().into_iter().collect();
            Arc::new(array.with_timezone_opt(tz.clone()))
        }
        DataType::Date32 => Arc::new(
            ints()
                .into_iter()
                .map(|v| v.map(|v| i32::try_from(v).unwrap_or(0)))
                .collect::<Date32Array>(),
        ),
        DataType::Utf8 => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Value::Text(s) => Some(s.clone()),
                    Value::Int(i) => Some(i.to_string()),
                    _ if not_null => Some(String::new()),
                    _ => None,
                })
                .collect::<StringArray>(),
        ),
        DataType::Binary => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Value::Text(s) => Some(s.as_bytes().to_vec()),
                    _ if not_null => Some(Vec::new()),
                    _ => None,
                })
                .collect::<BinaryArray>(),
        ),
        DataType::List(item) if item.data_type() == &DataType::Utf8 => {
            let mut builder = ListBuilder::new(StringBuilder::new());
            for v in &values {
                match v {
                    Value::Texts(items) => {
                        for item in items {
                            builder.values().append_value(item);
                        }
                        builder.append(true);
                    }
                    _ if not_null => builder.append(true),
                    _ => builder.append(false),
                }
            }
            let array: ArrayRef = Arc::new(builder.finish());
            arrow::compute::cast(&array, data_type)?
        }
        DataType::List(_) => {
            let lists: Vec<Option<Vec<Option<i64>>>> = values
                .iter()
                .map(|v| match v {
                    Value::Ints(items) => Some(items.iter().copied().map(Some).collect()),
                    _ if not_null => Some(Vec::new()),
                    _ => None,
                })
                .collect();
            let array: ArrayRef =
                Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(lists));
            arrow::compute::cast(&array, data_type)?
        }
        other => new_null_array(other, len),
    })
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int32Type;

    use super::*;

    #[test]
    fn every_definition_parses() {
        let relations = system_relations();
        assert_eq!(
            relations
                .iter()
                .filter(|r| r.schema == "pg_catalog")
                .count(),
            139
        );
        assert_eq!(
            relations
                .iter()
                .filter(|r| r.schema == "information_schema")
                .count(),
            64
        );
        let class = system_relation("pg_catalog", "pg_class").unwrap();
        assert_eq!(class.oid, 1259);
        assert_eq!(class.kind, SystemKind::Table);
        assert_eq!(class.columns.len(), 33);
        assert_eq!(class.arrow_schema.field(0).data_type(), &DataType::Int32);
        let columns = system_relation("information_schema", "columns").unwrap();
        assert_eq!(columns.kind, SystemKind::View);
        assert_eq!(
            columns
                .arrow_schema
                .field_with_name("ordinal_position")
                .unwrap()
                .data_type(),
            &DataType::Int32
        );
        let index = system_relation("pg_catalog", "pg_index").unwrap();
        assert_eq!(
            index
                .arrow_schema
                .field_with_name("indkey")
                .unwrap()
                .data_type(),
            &DataType::List(Arc::new(Field::new("item", DataType::Int16, true)))
        );
    }

    #[test]
    fn rows_fill_defaults_and_types() {
        let relation = system_relation("pg_catalog", "pg_namespace").unwrap();
        let mut rows = Rows::new(relation);
        rows.push(vec![
            ("oid", 11u32.into()),
            ("nspname", "pg_catalog".into()),
        ]);
        rows.push(vec![
            ("oid", 2200u32.into()),
            ("nspname", "public".into()),
            ("nspacl", Value::Texts(vec!["a=UC/a".into()])),
        ]);
        let batch = rows.finish().unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.column(0).as_primitive::<Int32Type>().value(1), 2200);
        // NOT NULL nspowner defaults to 0; nullable nspacl stays NULL.
        assert_eq!(batch.column(2).as_primitive::<Int32Type>().value(0), 0);
        assert!(batch.column(3).is_null(0));
        assert_eq!(batch.column(3).as_list::<i32>().value(1).len(), 1);
    }
}
