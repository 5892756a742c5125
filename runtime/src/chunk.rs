//! The container that flows along every dataflow edge: Arrow record batches,
//! and errors that travel with the data to the query's sink.
//!
//! A [`Chunk`] counts one timely record per row (and an error counts as the
//! rows it stands in for), so splitting a chunk by key in a shuffle keeps the
//! counts that timely's progress tracking relies on. Between processes a
//! chunk travels as Arrow IPC.

use std::io::Write;

use arrow::array::RecordBatch;
use timely::Accountable;
use timely::dataflow::channels::ContainerBytes;

use crate::error::QueryError;
use crate::expr::{decode_batch, encode_batch};

/// One element of a [`Chunk`].
#[derive(Debug, Clone)]
pub enum Item {
    /// Rows.
    Rows(RecordBatch),
    /// A failure of the query on some worker. `weight` is the number of
    /// records the error replaces, so that record counts are preserved when
    /// an error stands in for a batch that could not be processed.
    Error {
        /// The failure.
        error: QueryError,
        /// Records this item counts for (at least 1).
        weight: u64,
    },
}

impl Item {
    fn record_count(&self) -> i64 {
        match self {
            Item::Rows(b) => b.num_rows() as i64,
            Item::Error { weight, .. } => *weight as i64,
        }
    }
}

/// A message of batches and errors: the timely container of Tidewater.
#[derive(Debug, Clone, Default)]
pub struct Chunk {
    items: Vec<Item>,
}

impl Chunk {
    /// A chunk holding one batch.
    pub fn from_batch(batch: RecordBatch) -> Self {
        Self {
            items: vec![Item::Rows(batch)],
        }
    }

    /// A chunk holding one error.
    pub fn from_error(error: QueryError, weight: u64) -> Self {
        Self {
            items: vec![Item::Error {
                error,
                weight: weight.max(1),
            }],
        }
    }

    /// A chunk of items.
    pub fn from_items(items: Vec<Item>) -> Self {
        Self { items }
    }

    /// Takes the items out.
    pub fn take_items(&mut self) -> Vec<Item> {
        std::mem::take(&mut self.items)
    }

    /// The items.
    pub fn items(&self) -> &[Item] {
        &self.items
    }
}

impl Accountable for Chunk {
    fn record_count(&self) -> i64 {
        self.items.iter().map(Item::record_count).sum()
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

const TAG_ROWS: u64 = 1;
const TAG_ERROR: u64 = 2;

fn pad8(n: usize) -> usize {
    (n + 7) & !7
}

/// Serialized form of one item: a tag, a weight and a payload.
fn encode_item(item: &Item) -> (u64, u64, Vec<u8>) {
    match item {
        Item::Rows(batch) => match encode_batch(batch) {
            Ok(bytes) => (TAG_ROWS, batch.num_rows() as u64, bytes),
            Err(e) => (
                TAG_ERROR,
                (batch.num_rows() as u64).max(1),
                serde_json::to_vec(&QueryError::from_datafusion(&e)).unwrap_or_default(),
            ),
        },
        Item::Error { error, weight } => (
            TAG_ERROR,
            *weight,
            serde_json::to_vec(error).unwrap_or_default(),
        ),
    }
}

impl ContainerBytes for Chunk {
    fn from_bytes(bytes: timely::bytes::arc::Bytes) -> Self {
        let mut slice: &[u8] = &bytes[..];
        let read_u64 = |slice: &mut &[u8]| -> u64 {
            let (head, rest) = slice.split_at(8);
            *slice = rest;
            u64::from_le_bytes(head.try_into().expect("8 bytes"))
        };
        let count = read_u64(&mut slice) as usize;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            let tag = read_u64(&mut slice);
            let weight = read_u64(&mut slice);
            let len = read_u64(&mut slice) as usize;
            let (payload, rest) = slice.split_at(pad8(len));
            slice = rest;
            let payload = &payload[..len];
            let item = match tag {
                TAG_ROWS => match decode_batch(payload) {
                    Ok(batch) if batch.num_rows() as u64 == weight => Item::Rows(batch),
                    Ok(_) => Item::Error {
                        error: QueryError::new(
                            crate::SqlState::Internal,
                            "batch received from another process has the wrong row count",
                        ),
                        weight,
                    },
                    Err(e) => Item::Error {
                        error: QueryError::from_datafusion(&e),
                        weight,
                    },
                },
                _ => Item::Error {
                    error: serde_json::from_slice(payload).unwrap_or_else(|e| {
                        QueryError::new(
                            crate::SqlState::Internal,
                            format!("undecodable error from another process: {e}"),
                        )
                    }),
                    weight,
                },
            };
            items.push(item);
        }
        Chunk { items }
    }

    fn length_in_bytes(&self) -> usize {
        8 + self
            .items
            .iter()
            .map(|item| {
                let (_, _, payload) = encode_item(item);
                24 + pad8(payload.len())
            })
            .sum::<usize>()
    }

    fn into_bytes<W: Write>(&self, writer: &mut W) {
        let write = |w: &mut W, bytes: &[u8]| w.write_all(bytes).expect("write to a byte buffer");
        write(writer, &(self.items.len() as u64).to_le_bytes());
        for item in &self.items {
            let (tag, weight, payload) = encode_item(item);
            write(writer, &tag.to_le_bytes());
            write(writer, &weight.to_le_bytes());
            write(writer, &(payload.len() as u64).to_le_bytes());
            write(writer, &payload);
            write(writer, &[0u8; 8][..pad8(payload.len()) - payload.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::SqlState;

    #[test]
    fn chunk_round_trips_through_bytes() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])),
                Arc::new(StringArray::from(vec!["x", "yy", "zzz"])),
            ],
        )
        .unwrap();
        let chunk = Chunk::from_items(vec![
            Item::Rows(batch.clone()),
            Item::Error {
                error: QueryError::new(SqlState::DivisionByZero, "division by zero"),
                weight: 4,
            },
        ]);
        let mut bytes = Vec::new();
        chunk.into_bytes(&mut bytes);
        assert_eq!(bytes.len(), chunk.length_in_bytes());
        let back = Chunk::from_bytes(timely::bytes::arc::BytesMut::from(bytes).freeze());
        assert_eq!(back.record_count(), 7);
        match &back.items()[0] {
            Item::Rows(b) => assert_eq!(b, &batch),
            other => panic!("expected rows, got {other:?}"),
        }
        match &back.items()[1] {
            Item::Error { error, weight } => {
                assert_eq!(error.state, SqlState::DivisionByZero);
                assert_eq!(*weight, 4);
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }
}
