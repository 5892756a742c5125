//! Rows as bytes: the `arrow-row` encoding of whole rows (or of keys), the
//! form in which stateful operators of continuous queries keep multisets of
//! rows (views, updating aggregates over changelogs, joins, TopN).
//!
//! Equal rows encode to equal bytes, so a multiset is a map from encoding
//! to count ([`Multiset`]). With sort options the encoding also orders rows
//! as `ORDER BY` would ([`RowCodec::sorted`]), which TopN uses to keep its
//! partitions ordered.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::compute::SortOptions;
use arrow::datatypes::{DataType, SchemaRef};
use arrow_row::{RowConverter, Rows, SortField};

use crate::error::{QueryError, SqlState};

fn internal(e: impl std::fmt::Display) -> QueryError {
    QueryError::new(SqlState::Internal, e.to_string())
}

/// One encoded row (or key), owned.
pub type RowBytes = Box<[u8]>;

/// Encodes rows of one schema to bytes and back.
pub struct RowCodec {
    converter: RowConverter,
    schema: SchemaRef,
}

impl std::fmt::Debug for RowCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowCodec")
            .field("columns", &self.schema.fields().len())
            .finish_non_exhaustive()
    }
}

impl RowCodec {
    /// A codec for rows of `schema`.
    ///
    /// # Errors
    ///
    /// When a column type cannot be row-encoded.
    pub fn try_new(schema: SchemaRef) -> Result<Self, QueryError> {
        let options = vec![SortOptions::default(); schema.fields().len()];
        Self::sorted(schema, &options)
    }

    /// A codec whose encoding orders rows by the columns of `schema` with
    /// `options` (one per column).
    ///
    /// # Errors
    ///
    /// When a column type cannot be row-encoded.
    pub fn sorted(schema: SchemaRef, options: &[SortOptions]) -> Result<Self, QueryError> {
        let converter = RowConverter::new(
            schema
                .fields()
                .iter()
                .zip(options)
                .map(|(f, o)| SortField::new_with_options(f.data_type().clone(), *o))
                .collect(),
        )
        .map_err(|e| QueryError::new(SqlState::FeatureNotSupported, e.to_string()))?;
        Ok(Self { converter, schema })
    }

    /// A codec for keys of the given types.
    ///
    /// # Errors
    ///
    /// When a type cannot be row-encoded.
    pub fn for_types(types: &[DataType]) -> Result<Self, QueryError> {
        let fields: Vec<arrow::datatypes::Field> = types
            .iter()
            .enumerate()
            .map(|(i, t)| arrow::datatypes::Field::new(format!("k{i}"), t.clone(), true))
            .collect();
        Self::try_new(Arc::new(arrow::datatypes::Schema::new(fields)))
    }

    /// The schema decoded rows have.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Encodes the rows of `columns` (one array per column of the schema).
    ///
    /// # Errors
    ///
    /// When the columns do not match the schema.
    pub fn encode(&self, columns: &[ArrayRef]) -> Result<Rows, QueryError> {
        self.converter.convert_columns(columns).map_err(internal)
    }

    /// Decodes encoded rows into a batch, each row repeated by its count
    /// (rows with a count of zero or less are left out).
    ///
    /// # Errors
    ///
    /// When a row is not an encoding of this codec's schema.
    pub fn decode<'a>(
        &self,
        rows: impl IntoIterator<Item = (&'a [u8], i64)>,
    ) -> Result<RecordBatch, QueryError> {
        let parser = self.converter.parser();
        let mut repeated = Vec::new();
        for (bytes, count) in rows {
            for _ in 0..count.max(0) {
                repeated.push(parser.parse(bytes));
            }
        }
        let len = repeated.len();
        let columns = self.converter.convert_rows(repeated).map_err(internal)?;
        RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(len)),
        )
        .map_err(internal)
    }
}

/// A multiset of encoded rows: each row with its multiplicity. Only
/// non-zero counts are kept.
#[derive(Debug, Default, Clone)]
pub struct Multiset {
    counts: HashMap<RowBytes, i64>,
    /// Sum of the counts.
    total: i64,
}

impl Multiset {
    /// Adds `diff` copies of `row` (takes them away when negative); returns
    /// the row's count before and after.
    pub fn add(&mut self, row: &[u8], diff: i64) -> (i64, i64) {
        self.total += diff;
        match self.counts.get_mut(row) {
            Some(c) => {
                let before = *c;
                *c += diff;
                let after = *c;
                if after == 0 {
                    self.counts.remove(row);
                }
                (before, after)
            }
            None => {
                if diff != 0 {
                    self.counts.insert(row.into(), diff);
                }
                (0, diff)
            }
        }
    }

    /// The count of `row`.
    pub fn count(&self, row: &[u8]) -> i64 {
        self.counts.get(row).copied().unwrap_or(0)
    }

    /// Sum of all counts.
    pub fn total(&self) -> i64 {
        self.total
    }

    /// Whether no row has a count.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Distinct rows held.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Every row with its count.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], i64)> {
        self.counts.iter().map(|(r, c)| (r.as_ref(), *c))
    }

    /// Bytes held, roughly.
    pub fn size(&self) -> usize {
        self.counts.keys().map(|k| k.len() + 40).sum()
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn rows_round_trip_with_counts_and_multisets_cancel() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let codec = RowCodec::try_new(Arc::clone(&schema)).unwrap();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![Some(1), None, Some(1)])),
            Arc::new(StringArray::from(vec![Some("a"), Some("b"), Some("a")])),
        ];
        let rows = codec.encode(&columns).unwrap();
        let mut set = Multiset::default();
        for r in rows.iter() {
            set.add(r.as_ref(), 1);
        }
        assert_eq!(set.len(), 2);
        assert_eq!(set.total(), 3);
        assert_eq!(set.count(rows.row(0).as_ref()), 2);
        let batch = codec.decode(set.iter()).unwrap();
        assert_eq!(batch.num_rows(), 3);
        assert_eq!(set.add(rows.row(1).as_ref(), -1), (1, 0));
        assert_eq!(set.len(), 1);
        let batch = codec.decode(set.iter()).unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.column(1).len(), 2);
    }

    #[test]
    fn sorted_codec_orders_like_order_by() {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, true)]));
        let desc = SortOptions {
            descending: true,
            nulls_first: false,
        };
        let codec = RowCodec::sorted(schema, &[desc]).unwrap();
        let col: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(3)]));
        let rows = codec.encode(&[col]).unwrap();
        assert!(rows.row(2) < rows.row(0));
        assert!(rows.row(0) < rows.row(1));
    }
}
