//! Schema helpers shared by connectors: the normalization applied to
//! inferred schemas. (Type names for messages come from
//! [`tidewater_runtime::pgtypes::type_name`].)

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

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
