//! Schema helpers shared by connectors: SQL names of Arrow types for
//! messages, and the normalization applied to inferred schemas.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

/// The SQL name of an Arrow type, as users write it (`BIGINT`, `TEXT`, ...),
/// for error messages.
pub fn sql_type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Null => "NULL".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INTEGER".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 => "TINYINT UNSIGNED".into(),
        DataType::UInt16 => "SMALLINT UNSIGNED".into(),
        DataType::UInt32 => "INTEGER UNSIGNED".into(),
        DataType::UInt64 => "BIGINT UNSIGNED".into(),
        DataType::Float16 => "HALF FLOAT".into(),
        DataType::Float32 => "REAL".into(),
        DataType::Float64 => "DOUBLE PRECISION".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "TEXT".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "BYTEA".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Time32(_) | DataType::Time64(_) => "TIME".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMPTZ".into(),
        DataType::Interval(_) | DataType::Duration(_) => "INTERVAL".into(),
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => format!("NUMERIC({p},{s})"),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("NUMERIC({p},{s})"),
        DataType::Dictionary(_, value) => sql_type_name(value),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::FixedSizeList(f, _) => {
            format!("{}[]", sql_type_name(f.data_type()))
        }
        other => other.to_string(),
    }
}

/// Normalizes a type inferred from text (CSV or JSON): timestamps become
/// `Timestamp(Microsecond)`, columns with only NULLs become `Utf8`, nested
/// types are normalized recursively.
pub(crate) fn normalize_inferred_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Null => DataType::Utf8,
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        DataType::Date64 => DataType::Timestamp(TimeUnit::Microsecond, None),
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::List(f) => DataType::List(Arc::new(normalize_inferred_field(f))),
        DataType::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(|f| normalize_inferred_field(f))
                .collect::<Fields>(),
        ),
        other => other.clone(),
    }
}

fn normalize_inferred_field(field: &Field) -> Field {
    Field::new(
        field.name(),
        normalize_inferred_type(field.data_type()),
        field.is_nullable(),
    )
}

/// Normalizes every column of an inferred schema (see
/// [`normalize_inferred_type`]); inferred columns are nullable.
pub(crate) fn normalize_inferred_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), normalize_inferred_type(f.data_type()), true))
            .collect::<Fields>(),
    ))
}

/// A schema without schema-level or top-level field metadata.
pub(crate) fn strip_metadata(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_metadata(Default::default()))
            .collect::<Fields>(),
    ))
}

/// Whether two schemas have the same column names and types, in order
/// (nullability and metadata aside).
pub(crate) fn same_columns(a: &Schema, b: &Schema) -> bool {
    a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields().iter())
            .all(|(x, y)| x.name() == y.name() && x.data_type() == y.data_type())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_common_types() {
        assert_eq!(sql_type_name(&DataType::Int64), "BIGINT");
        assert_eq!(sql_type_name(&DataType::Utf8View), "TEXT");
        assert_eq!(sql_type_name(&DataType::Decimal128(15, 2)), "NUMERIC(15,2)");
        assert_eq!(
            sql_type_name(&DataType::Timestamp(TimeUnit::Microsecond, None)),
            "TIMESTAMP"
        );
    }

    #[test]
    fn normalizes_inferred_types() {
        assert_eq!(
            normalize_inferred_type(&DataType::Timestamp(TimeUnit::Nanosecond, None)),
            DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert_eq!(normalize_inferred_type(&DataType::Null), DataType::Utf8);
        let list = DataType::List(Arc::new(Field::new("item", DataType::Null, true)));
        assert_eq!(
            normalize_inferred_type(&list),
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
        );
    }
}
