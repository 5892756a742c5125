//! How Arrow types appear to Postgres clients as pgwire's types, on top of
//! the one home of type identity, [`tidewater_runtime::pgtypes`]: the
//! built-in type (OID) each column is sent as and its `typlen`.
//!
//! Only built-in OIDs are used, so that every client library knows them.
//! Arrow types without a Postgres counterpart are sent as `text`, rendered
//! with Arrow's display. A result column whose field carries a declared
//! Postgres type ([`PG_TYPE_METADATA_KEY`]: a table column's
//! `varchar(10)` or `numeric(10,2)`, the system tables' `"char"`) is sent
//! as that type, with its type modifier, when the declared type is sent
//! like the Arrow type (`"char"`, `varchar` and `text` are all `Utf8`).

use arrow::datatypes::{DataType, Field};
use pgwire::api::Type;
use tidewater_runtime::pgtypes::{
    PG_TYPE_METADATA_KEY, arrow_type_of_oid, parse_type_with_typmod, pg_type_of,
};

/// The Postgres type a column of Arrow type `ty` is sent as
/// ([`pg_type_of`]), as pgwire's type.
pub(crate) fn pg_type(ty: &DataType) -> Type {
    Type::from_oid(pg_type_of(ty).0).unwrap_or(Type::TEXT)
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
        .filter(|(ty, _)| arrow_type_of_oid(ty.oid()).is_some_and(|t| pg_type(&t) == arrow));
    declared.unwrap_or((arrow, -1))
}

/// `pg_type.typlen` of a type: its fixed size, or -1 when variable.
pub(crate) fn type_size(ty: &Type) -> i16 {
    tidewater_runtime::pgtypes::pg_type(ty.oid()).map_or(-1, |t| t.len)
}

/// Whether values of `ty` are sent as text (a text type, or the fallback
/// for types without a Postgres counterpart).
pub(crate) fn is_text(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::CHAR | Type::UNKNOWN
    )
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{IntervalUnit, TimeUnit};

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
        assert_eq!(type_size(&Type::INT8), 8);
        assert_eq!(type_size(&Type::TEXT), -1);
        assert_eq!(type_size(&Type::CHAR), 1);
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
