//! How Arrow types appear to Postgres clients: the built-in type (OID) each
//! Arrow type is sent as, its `typlen`, and the Arrow type a client's
//! declared parameter OID stands for.
//!
//! Only built-in OIDs are used, so that every client library knows them.
//! Arrow types without a Postgres counterpart are sent as `text`, rendered
//! with Arrow's display. A result column whose field carries a declared
//! Postgres type ([`PG_TYPE_METADATA_KEY`]: a table column's
//! `varchar(10)` or `numeric(10,2)`, the system tables' `"char"`) is sent
//! as that type, with its type modifier, when the declared type is sent
//! like the Arrow type (`"char"`, `varchar` and `text` are all `Utf8`).

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, IntervalUnit, TimeUnit};
use pgwire::api::Type;
use tidewater_runtime::functions::postgres::{PG_TYPE_METADATA_KEY, parse_type_with_typmod};

/// The time zone of `timestamptz` values built from client parameters.
pub(crate) const UTC: &str = "+00:00";

/// The Postgres type a column of Arrow type `ty` is sent as.
pub(crate) fn pg_type(ty: &DataType) -> Type {
    match ty {
        DataType::Boolean => Type::BOOL,
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => Type::INT2,
        DataType::Int32 | DataType::UInt16 => Type::INT4,
        DataType::Int64 | DataType::UInt32 => Type::INT8,
        DataType::UInt64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => Type::NUMERIC,
        DataType::Float16 | DataType::Float32 => Type::FLOAT4,
        DataType::Float64 => Type::FLOAT8,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Type::TEXT,
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => Type::BYTEA,
        DataType::Date32 | DataType::Date64 => Type::DATE,
        DataType::Time32(_) | DataType::Time64(_) => Type::TIME,
        DataType::Timestamp(_, None) => Type::TIMESTAMP,
        DataType::Timestamp(_, Some(_)) => Type::TIMESTAMPTZ,
        DataType::Interval(_) | DataType::Duration(_) => Type::INTERVAL,
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            array_type(&pg_type(f.data_type())).unwrap_or(Type::TEXT)
        }
        DataType::Dictionary(_, value) => pg_type(value),
        _ => Type::TEXT,
    }
}

/// The Postgres type and type modifier a result column is sent as: its
/// declared type ([`PG_TYPE_METADATA_KEY`]) when that is sent like its
/// Arrow type, else the type of its Arrow type (modifier -1).
pub(crate) fn pg_field_type(field: &Field) -> (Type, i32) {
    let arrow = pg_type(field.data_type());
    let declared = field
        .metadata()
        .get(PG_TYPE_METADATA_KEY)
        .and_then(|t| parse_type_with_typmod(t))
        .and_then(|(oid, typmod)| Some((Type::from_oid(oid)?, typmod)))
        .filter(|(ty, _)| data_type_for_oid(ty.oid()).is_some_and(|t| pg_type(&t) == arrow));
    declared.unwrap_or((arrow, -1))
}

/// The array type whose elements are `element`, for the types we send.
pub(crate) fn array_type(element: &Type) -> Option<Type> {
    Some(match *element {
        Type::BOOL => Type::BOOL_ARRAY,
        Type::INT2 => Type::INT2_ARRAY,
        Type::INT4 => Type::INT4_ARRAY,
        Type::INT8 => Type::INT8_ARRAY,
        Type::NUMERIC => Type::NUMERIC_ARRAY,
        Type::FLOAT4 => Type::FLOAT4_ARRAY,
        Type::FLOAT8 => Type::FLOAT8_ARRAY,
        Type::TEXT => Type::TEXT_ARRAY,
        Type::BYTEA => Type::BYTEA_ARRAY,
        Type::DATE => Type::DATE_ARRAY,
        Type::TIME => Type::TIME_ARRAY,
        Type::TIMESTAMP => Type::TIMESTAMP_ARRAY,
        Type::TIMESTAMPTZ => Type::TIMESTAMPTZ_ARRAY,
        Type::INTERVAL => Type::INTERVAL_ARRAY,
        _ => return None,
    })
}

/// `pg_type.typlen`: the fixed size of a type, or -1 when variable.
pub(crate) fn type_size(ty: &Type) -> i16 {
    match *ty {
        Type::BOOL | Type::CHAR => 1,
        Type::INT2 => 2,
        Type::INT4 | Type::FLOAT4 | Type::DATE => 4,
        Type::INT8 | Type::FLOAT8 | Type::TIME | Type::TIMESTAMP | Type::TIMESTAMPTZ => 8,
        Type::INTERVAL => 16,
        _ => -1,
    }
}

/// Whether values of `ty` are sent as text (a text type, or the fallback
/// for types without a Postgres counterpart).
pub(crate) fn is_text(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::CHAR | Type::UNKNOWN
    )
}

/// The Arrow type a client's declared parameter type stands for; `None`
/// for unspecified (0), `unknown` and types we do not know (the planner
/// then infers the type).
pub(crate) fn data_type_for_oid(oid: u32) -> Option<DataType> {
    let ty = Type::from_oid(oid)?;
    Some(match ty {
        Type::BOOL => DataType::Boolean,
        Type::INT2 => DataType::Int16,
        Type::INT4 => DataType::Int32,
        Type::INT8 => DataType::Int64,
        Type::FLOAT4 => DataType::Float32,
        Type::FLOAT8 => DataType::Float64,
        Type::NUMERIC => DataType::Decimal128(38, 10),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::CHAR => DataType::Utf8,
        Type::BYTEA => DataType::Binary,
        Type::DATE => DataType::Date32,
        Type::TIME => DataType::Time64(TimeUnit::Microsecond),
        Type::TIMESTAMP => DataType::Timestamp(TimeUnit::Microsecond, None),
        Type::TIMESTAMPTZ => DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from(UTC))),
        Type::INTERVAL => DataType::Interval(IntervalUnit::MonthDayNano),
        other => {
            let element = match other {
                Type::BOOL_ARRAY => DataType::Boolean,
                Type::INT2_ARRAY => DataType::Int16,
                Type::INT4_ARRAY => DataType::Int32,
                Type::INT8_ARRAY => DataType::Int64,
                Type::FLOAT4_ARRAY => DataType::Float32,
                Type::FLOAT8_ARRAY => DataType::Float64,
                Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => DataType::Utf8,
                _ => return None,
            };
            DataType::List(Arc::new(Field::new("item", element, true)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_arrow_types_to_builtin_oids() {
        let cases: Vec<(DataType, u32)> = vec![
            (DataType::Boolean, 16),
            (DataType::Int8, 21),
            (DataType::Int16, 21),
            (DataType::Int32, 23),
            (DataType::Int64, 20),
            (DataType::UInt32, 20),
            (DataType::UInt64, 1700),
            (DataType::Float16, 700),
            (DataType::Float32, 700),
            (DataType::Float64, 701),
            (DataType::Decimal128(10, 2), 1700),
            (DataType::Utf8View, 25),
            (DataType::LargeBinary, 17),
            (DataType::Date32, 1082),
            (DataType::Time64(TimeUnit::Nanosecond), 1083),
            (DataType::Timestamp(TimeUnit::Nanosecond, None), 1114),
            (
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                1184,
            ),
            (DataType::Interval(IntervalUnit::DayTime), 1186),
            (DataType::Duration(TimeUnit::Second), 1186),
            (DataType::Null, 25),
            (DataType::new_list(DataType::Utf8, true), 1009),
            (DataType::new_list(DataType::Int32, true), 1007),
            (DataType::new_list(DataType::Int64, true), 1016),
            (
                DataType::new_list(DataType::new_list(DataType::Int64, true), true),
                25,
            ),
        ];
        for (ty, oid) in cases {
            assert_eq!(pg_type(&ty).oid(), oid, "{ty}");
        }
        assert_eq!(data_type_for_oid(0), None);
        assert_eq!(data_type_for_oid(705), None);
        assert_eq!(data_type_for_oid(20), Some(DataType::Int64));
    }

    #[test]
    fn declared_column_types_when_sent_alike() {
        let declared = |ty: DataType, declared: &str| {
            let field = Field::new("c", ty, true)
                .with_metadata([(PG_TYPE_METADATA_KEY.to_string(), declared.to_string())].into());
            let (ty, typmod) = pg_field_type(&field);
            (ty.oid(), typmod)
        };
        assert_eq!(declared(DataType::Utf8, "\"char\""), (18, -1));
        assert_eq!(declared(DataType::Utf8, "VARCHAR(10)"), (1043, 14));
        assert_eq!(
            declared(DataType::Decimal128(10, 2), "NUMERIC(10,2)"),
            (1700, 655_366)
        );
        assert_eq!(declared(DataType::Int32, "INTEGER"), (23, -1));
        // A declared type sent differently from the values is not used.
        assert_eq!(declared(DataType::Int64, "INTEGER"), (20, -1));
        assert_eq!(declared(DataType::Utf8, "nonsense"), (25, -1));
        assert_eq!(
            pg_field_type(&Field::new("c", DataType::Decimal128(10, 2), true)),
            (Type::NUMERIC, -1)
        );
    }
}
