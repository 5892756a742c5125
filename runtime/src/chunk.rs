//! The container that flows along every dataflow edge: Arrow record batches,
//! watermarks, and errors that travel with the data to the query's sink.
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
    /// The event-time watermark of the sender as of the end of this item's
    /// epoch (see [`crate::watermark`]): one per epoch from every operator
    /// instance that has one, broadcast along exchanges. Counts as one
    /// record, so that the epoch cannot complete before it arrives.
    Watermark(crate::watermark::Timestamp),
}

impl Item {
    fn record_count(&self) -> i64 {
        match self {
            Item::Rows(b) => b.num_rows() as i64,
            Item::Error { weight, .. } => *weight as i64,
            Item::Watermark(_) => 1,
        }
    }
}

/// A message of batches and errors: the timely container of Tidewater.
#[derive(Debug, Clone, Default)]
pub struct Chunk {
    items: Vec<Item>,
    /// The serialized items, computed once when timely asks for the size
    /// of a chunk bound for another process and reused to write it.
    encoded: std::sync::OnceLock<Vec<EncodedItem>>,
}

/// One item serialized: tag, weight, payload.
type EncodedItem = (u64, u64, Vec<u8>);

impl Chunk {
    /// A chunk holding one batch.
    pub fn from_batch(batch: RecordBatch) -> Self {
        Self::from_items(vec![Item::Rows(batch)])
    }

    /// A chunk holding one error.
    pub fn from_error(error: QueryError, weight: u64) -> Self {
        Self::from_items(vec![Item::Error {
            error,
            weight: weight.max(1),
        }])
    }

    /// A chunk of items.
    pub fn from_items(items: Vec<Item>) -> Self {
        Self {
            items,
            encoded: std::sync::OnceLock::new(),
        }
    }

    /// Takes the items out.
    pub fn take_items(&mut self) -> Vec<Item> {
        self.encoded = std::sync::OnceLock::new();
        std::mem::take(&mut self.items)
    }

    fn encoded(&self) -> &[EncodedItem] {
        self.encoded
            .get_or_init(|| self.items.iter().map(encode_item).collect())
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
const TAG_WATERMARK: u64 = 3;

fn pad8(n: usize) -> usize {
    (n + 7) & !7
}

fn corrupt_frame(why: &str) -> QueryError {
    QueryError::new(
        crate::SqlState::Internal,
        format!("a data frame from another process is corrupt: {why}"),
    )
}

/// Serialized form of one item: a tag, a weight and a payload.
fn encode_item(item: &Item) -> EncodedItem {
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
        Item::Watermark(t) => (TAG_WATERMARK, 1, t.to_le_bytes().to_vec()),
    }
}

/// Reads little-endian `u64`s and padded payloads from a frame, failing
/// (instead of panicking) when the frame is shorter than it says.
struct FrameReader<'a> {
    rest: &'a [u8],
}

impl<'a> FrameReader<'a> {
    fn u64(&mut self) -> Option<u64> {
        let (head, rest) = self.rest.split_at_checked(8)?;
        self.rest = rest;
        Some(u64::from_le_bytes(head.try_into().ok()?))
    }

    /// A payload of `len` bytes followed by padding to 8 bytes.
    fn payload(&mut self, len: u64) -> Option<&'a [u8]> {
        let len = usize::try_from(len).ok()?;
        let padded = len.checked_add(7)? & !7;
        let (payload, rest) = self.rest.split_at_checked(padded)?;
        self.rest = rest;
        Some(&payload[..len])
    }
}

fn decode_item(tag: u64, weight: u64, payload: &[u8]) -> Item {
    match tag {
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
        TAG_WATERMARK if weight == 1 => match <[u8; 8]>::try_from(payload) {
            Ok(bytes) => Item::Watermark(i64::from_le_bytes(bytes)),
            Err(_) => Item::Error {
                error: corrupt_frame("a watermark is not 8 bytes"),
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
    }
}

/// Frame layout: item count, total weight (the records the frame counts
/// for), then per item its tag, weight, payload length and payload padded
/// to 8 bytes. A truncated or corrupt frame decodes to one error item
/// standing for the frame's total weight, so the query fails with an error
/// and progress tracking still sees every record the sender counted.
impl ContainerBytes for Chunk {
    fn from_bytes(bytes: timely::bytes::arc::Bytes) -> Self {
        let mut frame = FrameReader { rest: &bytes[..] };
        let mut items = Vec::new();
        let (Some(count), Some(total)) = (frame.u64(), frame.u64()) else {
            return Chunk::from_error(corrupt_frame("its header is truncated"), 1);
        };
        let mut decoded = 0u64;
        for _ in 0..count {
            let item = (|| {
                let tag = frame.u64()?;
                let weight = frame.u64()?;
                let len = frame.u64()?;
                Some((tag, weight, frame.payload(len)?))
            })();
            let Some((tag, weight, payload)) = item else {
                return Chunk::from_error(corrupt_frame("it is shorter than its items say"), total);
            };
            decoded = decoded.saturating_add(weight);
            items.push(decode_item(tag, weight, payload));
        }
        if decoded != total {
            return Chunk::from_error(corrupt_frame("its item weights do not add up"), total);
        }
        Chunk::from_items(items)
    }

    fn length_in_bytes(&self) -> usize {
        16 + self
            .encoded()
            .iter()
            .map(|(_, _, payload)| 24 + pad8(payload.len()))
            .sum::<usize>()
    }

    fn into_bytes<W: Write>(&self, writer: &mut W) {
        let write = |w: &mut W, bytes: &[u8]| w.write_all(bytes).expect("write to a byte buffer");
        write(writer, &(self.items.len() as u64).to_le_bytes());
        write(writer, &(self.record_count() as u64).to_le_bytes());
        for (tag, weight, payload) in self.encoded() {
            write(writer, &tag.to_le_bytes());
            write(writer, &weight.to_le_bytes());
            write(writer, &(payload.len() as u64).to_le_bytes());
            write(writer, payload);
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
            Item::Watermark(-42),
        ]);
        let mut bytes = Vec::new();
        chunk.into_bytes(&mut bytes);
        assert_eq!(bytes.len(), chunk.length_in_bytes());
        let back = Chunk::from_bytes(timely::bytes::arc::BytesMut::from(bytes).freeze());
        assert_eq!(back.record_count(), 8);
        assert!(matches!(back.items()[2], Item::Watermark(-42)));
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

    #[test]
    fn a_truncated_or_corrupt_frame_is_an_error_not_a_panic() {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2, 3]))]).unwrap();
        let chunk = Chunk::from_items(vec![Item::Rows(batch.clone()), Item::Rows(batch)]);
        let mut bytes = Vec::new();
        chunk.into_bytes(&mut bytes);
        let decode =
            |b: &[u8]| Chunk::from_bytes(timely::bytes::arc::BytesMut::from(b.to_vec()).freeze());
        for len in 0..bytes.len() {
            let back = decode(&bytes[..len]);
            assert!(
                back.items().iter().any(|i| matches!(i, Item::Error { .. })),
                "a frame cut at {len} bytes decoded without an error"
            );
            if len >= 16 {
                // The header survived: the records still add up.
                assert_eq!(back.record_count(), 6, "cut at {len}");
            }
        }
        // A length field pointing far past the end.
        let mut corrupt = bytes.clone();
        corrupt[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        let back = decode(&corrupt);
        assert_eq!(back.record_count(), 6);
        assert!(
            matches!(&back.items()[0], Item::Error { error, .. } if error.message.contains("corrupt"))
        );
        // An item count far above what the frame holds.
        let mut corrupt = bytes;
        corrupt[0..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(decode(&corrupt).record_count(), 6);
    }
}
