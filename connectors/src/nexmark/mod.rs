//! The `nexmark` connector: the person, auction and bid streams of the
//! Nexmark benchmark (an online auction), generated deterministically.
//!
//! ```sql
//! CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel TEXT, url TEXT,
//!                   date_time TIMESTAMP, extra TEXT,
//!                   WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
//!   WITH (connector = 'nexmark', table = 'bid', events_per_second = '50000');
//! ```
//!
//! Options: `table` (`person`, `auction` or `bid`; required),
//! `events_per_second` (over all three streams; default 10000; 0 = as fast
//! as possible), `event_count` (the stream ends after this many events of
//! all kinds; default: never), `seed` (default 0), `start_time` (event time
//! of the first event, default `2026-01-01 00:00:00`), `max_out_of_order`
//! (an interval: event times are moved back by up to this much, at random;
//! default 0, in order).
//!
//! The event sequence follows the specification (and the Beam and Flink
//! generators): of every 50 events, 1 is a new person, 3 are new auctions
//! and 46 are bids. Sellers and bidders are recent people, bids go to
//! auctions still open, and a share of them to "hot" auctions and
//! bidders. Event `n` happens at `start_time + n / events_per_second`
//! (with `events_per_second = 0`, as if at 10000 events per second). Each event is
//! a function of the seed and its number only, so the streams are the same
//! at any worker count; events are spread over the splits of
//! [`crate::generator`].
//!
//! Columns: declared columns are read by name (each must be one of the
//! stream's, in a type its values cast to); without declared columns, the
//! table has all of them:
//!
//! - `person`: `id, name, email_address, credit_card, city, state, date_time, extra`
//! - `auction`: `id, item_name, description, initial_bid, reserve, date_time, expires, seller, category, extra`
//! - `bid`: `auction, bidder, price, channel, url, date_time, extra`

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int64Array, RecordBatch, RecordBatchOptions, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use tidewater_runtime::QueryError;
use tidewater_runtime::pgtypes::text::{parse_fixed_interval_micros, parse_text_values};
use tidewater_runtime::source::{
    Connector, SourceContext, SourcePoll, SourceReader, SourceSpec, SplitOffsets,
};

use crate::error::{Error, Result};
use crate::generator::{Next, SplitPacer, random};
use crate::options::CONNECTOR_OPTION;

/// The name of the connector in `WITH (connector = 'nexmark')`.
pub const CONNECTOR_NAME: &str = "nexmark";

const OPTIONS: &[&str] = &[
    "table",
    "events_per_second",
    "event_count",
    "seed",
    "start_time",
    "max_out_of_order",
];

const PERSON_PROPORTION: u64 = 1;
const AUCTION_PROPORTION: u64 = 3;
const PROPORTION_DENOMINATOR: u64 = 50;
const FIRST_PERSON_ID: i64 = 1000;
const FIRST_AUCTION_ID: i64 = 1000;
const FIRST_CATEGORY_ID: i64 = 10;
const NUM_CATEGORIES: u64 = 5;
const NUM_ACTIVE_PEOPLE: u64 = 1000;
const NUM_IN_FLIGHT_AUCTIONS: u64 = 100;
const HOT_AUCTION_RATIO: u64 = 2;
const HOT_SELLER_RATIO: u64 = 4;
const HOT_BIDDER_RATIO: u64 = 4;
/// Microseconds an auction stays open, at most.
const MAX_AUCTION_LENGTH: u64 = 10 * 60 * 1_000_000;

/// The rate event times follow when events are generated as fast as
/// possible (`events_per_second = 0`).
const NOMINAL_EVENTS_PER_SECOND: u64 = 10_000;

/// 2026-01-01 00:00:00 in microseconds.
const DEFAULT_START: i64 = 1_767_225_600_000_000;

const FIRST_NAMES: &[&str] = &[
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: &[&str] = &[
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];
const US_STATES: &[&str] = &["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES: &[&str] = &[
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const CHANNELS: &[&str] = &["Google", "Facebook", "Baidu", "Apple"];

/// One of the three streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// New people.
    Person,
    /// New auctions.
    Auction,
    /// Bids.
    Bid,
}

impl Stream {
    /// The stream's columns.
    pub fn schema(self) -> Schema {
        let ts = || DataType::Timestamp(TimeUnit::Microsecond, None);
        let cols: Vec<(&str, DataType)> = match self {
            Stream::Person => vec![
                ("id", DataType::Int64),
                ("name", DataType::Utf8),
                ("email_address", DataType::Utf8),
                ("credit_card", DataType::Utf8),
                ("city", DataType::Utf8),
                ("state", DataType::Utf8),
                ("date_time", ts()),
                ("extra", DataType::Utf8),
            ],
            Stream::Auction => vec![
                ("id", DataType::Int64),
                ("item_name", DataType::Utf8),
                ("description", DataType::Utf8),
                ("initial_bid", DataType::Int64),
                ("reserve", DataType::Int64),
                ("date_time", ts()),
                ("expires", ts()),
                ("seller", DataType::Int64),
                ("category", DataType::Int64),
                ("extra", DataType::Utf8),
            ],
            Stream::Bid => vec![
                ("auction", DataType::Int64),
                ("bidder", DataType::Int64),
                ("price", DataType::Int64),
                ("channel", DataType::Utf8),
                ("url", DataType::Utf8),
                ("date_time", ts()),
                ("extra", DataType::Utf8),
            ],
        };
        Schema::new(
            cols.into_iter()
                .map(|(n, t)| Field::new(n, t, true))
                .collect::<Vec<_>>(),
        )
    }

    /// The stream's name in `table = '...'`.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Person => "person",
            Stream::Auction => "auction",
            Stream::Bid => "bid",
        }
    }

    /// Whether event `n` belongs to this stream.
    fn owns(self, n: u64) -> bool {
        let offset = n % PROPORTION_DENOMINATOR;
        match self {
            Stream::Person => offset < PERSON_PROPORTION,
            Stream::Auction => {
                (PERSON_PROPORTION..PERSON_PROPORTION + AUCTION_PROPORTION).contains(&offset)
            }
            Stream::Bid => offset >= PERSON_PROPORTION + AUCTION_PROPORTION,
        }
    }
}

/// A nexmark table's options, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct NexmarkOptions {
    /// Which stream.
    pub stream: Stream,
    /// Events per second over all streams (0: as fast as possible).
    pub events_per_second: u64,
    /// Events in all (`None`: unbounded).
    pub event_count: Option<u64>,
    /// Seed.
    pub seed: u64,
    /// Event time of event 0, in microseconds.
    pub start_time: i64,
    /// How far event times may move back, in microseconds.
    pub max_out_of_order: i64,
}

fn invalid(option: &str, value: &str, reason: impl Into<String>) -> Error {
    Error::InvalidOption {
        connector: CONNECTOR_NAME,
        option: option.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

impl NexmarkOptions {
    /// Checks `options`.
    pub fn parse(options: &BTreeMap<String, String>) -> Result<Self> {
        let mut parsed = NexmarkOptions {
            stream: Stream::Bid,
            events_per_second: 10_000,
            event_count: None,
            seed: 0,
            start_time: DEFAULT_START,
            max_out_of_order: 0,
        };
        let mut stream = None;
        let count = |k: &str, v: &str| -> Result<u64> {
            v.trim()
                .parse()
                .map_err(|_| invalid(k, v, "expected a non-negative integer"))
        };
        for (key, value) in options {
            match key.as_str() {
                CONNECTOR_OPTION => {}
                "table" => {
                    stream = Some(match value.trim().to_ascii_lowercase().as_str() {
                        "person" => Stream::Person,
                        "auction" => Stream::Auction,
                        "bid" => Stream::Bid,
                        _ => {
                            return Err(invalid(
                                key,
                                value,
                                "expected one of person, auction, bid",
                            ));
                        }
                    })
                }
                "events_per_second" => parsed.events_per_second = count(key, value)?,
                "event_count" => parsed.event_count = Some(count(key, value)?),
                "seed" => parsed.seed = count(key, value)?,
                "start_time" => {
                    let t = DataType::Timestamp(TimeUnit::Microsecond, None);
                    parsed.start_time = parse_text_values(&[Some(value.as_str())], &t)
                        .ok()
                        .and_then(|a| {
                            let a = arrow::array::AsArray::as_primitive::<
                                arrow::datatypes::TimestampMicrosecondType,
                            >(&a);
                            arrow::array::Array::is_valid(a, 0).then(|| a.value(0))
                        })
                        .ok_or_else(|| {
                            invalid(
                                key,
                                value,
                                "expected a timestamp such as '2026-03-01 12:00:00'",
                            )
                        })?;
                }
                "max_out_of_order" => {
                    parsed.max_out_of_order =
                        parse_fixed_interval_micros(value).map_err(|r| invalid(key, value, r))?
                }
                other => {
                    return Err(Error::UnknownOption {
                        connector: CONNECTOR_NAME,
                        option: other.to_string(),
                        valid: OPTIONS.join(", "),
                    });
                }
            }
        }
        parsed.stream = stream.ok_or(Error::MissingOption {
            connector: CONNECTOR_NAME,
            option: "table".to_string(),
        })?;
        Ok(parsed)
    }
}

/// Checks declared columns against the stream's: each must be one of its
/// columns, in a type its values cast to.
fn check_columns(stream: Stream, declared: &Schema) -> Result<()> {
    let full = stream.schema();
    for f in declared.fields() {
        let Ok(source) = full.field_with_name(f.name()) else {
            let names: Vec<_> = full.fields().iter().map(|f| f.name().as_str()).collect();
            return Err(Error::OptionConflict(format!(
                "the nexmark {} stream has no column {} (its columns: {})",
                stream.name(),
                f.name(),
                names.join(", ")
            )));
        };
        if !arrow::compute::can_cast_types(source.data_type(), f.data_type()) {
            return Err(Error::OptionConflict(format!(
                "column {} of a nexmark table cannot be {} (it is {})",
                f.name(),
                f.data_type(),
                source.data_type()
            )));
        }
    }
    Ok(())
}

/// A price: roughly log-uniform between 1 and 10^6 (cents scale, as in the
/// specification's generator).
fn price(r: u64) -> i64 {
    let unit = (r >> 11) as f64 / (1u64 << 53) as f64;
    (10f64.powf(unit * 6.0) * 100.0).round() as i64
}

/// A word of `len` lowercase letters.
fn word(mut r: u64, len: usize, out: &mut String) {
    for _ in 0..len {
        out.push((b'a' + (r % 26) as u8) as char);
        r /= 26;
        if r == 0 {
            r = crate::generator::mix(len as u64 ^ out.len() as u64);
        }
    }
}

/// Generates events into columns.
struct Columns {
    wanted: Vec<String>,
    values: BTreeMap<&'static str, ColumnValues>,
}

enum ColumnValues {
    Int(Vec<i64>),
    Time(Vec<i64>),
    Text(Vec<String>),
}

/// One worker's share of a nexmark stream.
#[derive(Debug)]
pub struct NexmarkReader {
    options: NexmarkOptions,
    output: SchemaRef,
    pacer: SplitPacer,
    /// Rows this reader may still produce, when the scan has a limit.
    remaining: Option<usize>,
}

impl NexmarkReader {
    fn time_of(&self, n: u64) -> i64 {
        let o = &self.options;
        let rate = if o.events_per_second == 0 {
            NOMINAL_EVENTS_PER_SECOND
        } else {
            o.events_per_second
        };
        let step = 1_000_000.0 / rate as f64;
        let mut t = o.start_time + (n as f64 * step) as i64;
        if o.max_out_of_order > 0 {
            t -= (random(o.seed, 99, n) % (o.max_out_of_order as u64 + 1)) as i64;
        }
        t
    }

    fn generate(
        &self,
        events: &[u64],
    ) -> std::result::Result<RecordBatch, arrow::error::ArrowError> {
        let o = &self.options;
        let seed = o.seed;
        let r = |stream: u64, n: u64| random(seed, stream, n);
        let wanted: Vec<String> = self
            .output
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut cols = Columns {
            wanted,
            values: BTreeMap::new(),
        };
        let want = |c: &Columns, name: &str| c.wanted.iter().any(|w| w == name);
        let events: Vec<u64> = events
            .iter()
            .copied()
            .filter(|n| o.stream.owns(*n))
            .collect();
        let ints =
            |f: &dyn Fn(u64) -> i64| ColumnValues::Int(events.iter().map(|n| f(*n)).collect());
        let times =
            |f: &dyn Fn(u64) -> i64| ColumnValues::Time(events.iter().map(|n| f(*n)).collect());
        let texts = |f: &dyn Fn(u64, &mut String)| {
            ColumnValues::Text(
                events
                    .iter()
                    .map(|n| {
                        let mut s = String::new();
                        f(*n, &mut s);
                        s
                    })
                    .collect(),
            )
        };
        let block = |n: u64| n / PROPORTION_DENOMINATOR;
        let person_id = |n: u64| FIRST_PERSON_ID + block(n) as i64;
        let last_auction = |n: u64| FIRST_AUCTION_ID + (block(n) * AUCTION_PROPORTION) as i64 + 2;
        let recent_person = |n: u64, stream: u64, hot_ratio: u64| {
            let last = person_id(n);
            if r(stream, n) % hot_ratio > 0 {
                ((last / hot_ratio as i64) * hot_ratio as i64).max(FIRST_PERSON_ID)
            } else {
                // One of the most recent people (fewer at the start).
                let active = NUM_ACTIVE_PEOPLE.min((last - FIRST_PERSON_ID + 1) as u64);
                last - (r(stream + 1, n) % active) as i64
            }
        };
        let date_time = |n: u64| self.time_of(n);
        let mut put = |name: &'static str, make: &dyn Fn() -> ColumnValues| {
            if want(&cols, name) {
                let v = make();
                cols.values.insert(name, v);
            }
        };
        match o.stream {
            Stream::Person => {
                put("id", &|| ints(&person_id));
                put("name", &|| {
                    texts(&|n, s| {
                        s.push_str(FIRST_NAMES[(r(1, n) % FIRST_NAMES.len() as u64) as usize]);
                        s.push(' ');
                        s.push_str(LAST_NAMES[(r(2, n) % LAST_NAMES.len() as u64) as usize]);
                    })
                });
                put("email_address", &|| {
                    texts(&|n, s| {
                        word(r(3, n), 7, s);
                        s.push('@');
                        word(r(4, n), 5, s);
                        s.push_str(".com");
                    })
                });
                put("credit_card", &|| {
                    texts(&|n, s| {
                        let v = r(5, n);
                        for i in 0..4 {
                            if i > 0 {
                                s.push(' ');
                            }
                            s.push_str(&format!("{:04}", (v >> (i * 16)) % 10_000));
                        }
                    })
                });
                put("city", &|| {
                    texts(&|n, s| {
                        s.push_str(US_CITIES[(r(6, n) % US_CITIES.len() as u64) as usize])
                    })
                });
                put("state", &|| {
                    texts(&|n, s| {
                        s.push_str(US_STATES[(r(7, n) % US_STATES.len() as u64) as usize])
                    })
                });
                put("date_time", &|| times(&date_time));
                put("extra", &|| texts(&|_, _| {}));
            }
            Stream::Auction => {
                let auction_id = |n: u64| {
                    FIRST_AUCTION_ID
                        + (block(n) * AUCTION_PROPORTION) as i64
                        + (n % PROPORTION_DENOMINATOR - PERSON_PROPORTION) as i64
                };
                let initial = |n: u64| price(r(10, n));
                put("id", &|| ints(&auction_id));
                put("item_name", &|| texts(&|n, s| word(r(11, n), 8, s)));
                put("description", &|| {
                    texts(&|n, s| {
                        word(r(12, n), 10, s);
                        s.push(' ');
                        word(r(13, n), 10, s);
                    })
                });
                put("initial_bid", &|| ints(&initial));
                put("reserve", &|| ints(&|n| initial(n) + price(r(14, n))));
                put("date_time", &|| times(&date_time));
                put("expires", &|| {
                    times(&|n| date_time(n) + (r(15, n) % MAX_AUCTION_LENGTH) as i64 + 1)
                });
                put("seller", &|| {
                    ints(&|n| recent_person(n, 16, HOT_SELLER_RATIO))
                });
                put("category", &|| {
                    ints(&|n| FIRST_CATEGORY_ID + (r(18, n) % NUM_CATEGORIES) as i64)
                });
                put("extra", &|| texts(&|_, _| {}));
            }
            Stream::Bid => {
                put("auction", &|| {
                    ints(&|n| {
                        let last = last_auction(n);
                        if r(20, n) % HOT_AUCTION_RATIO > 0 {
                            ((last / HOT_AUCTION_RATIO as i64) * HOT_AUCTION_RATIO as i64)
                                .max(FIRST_AUCTION_ID)
                        } else {
                            // One of the auctions in flight (fewer at the start).
                            let in_flight =
                                NUM_IN_FLIGHT_AUCTIONS.min((last - FIRST_AUCTION_ID + 1) as u64);
                            last - (r(21, n) % in_flight) as i64
                        }
                    })
                });
                put("bidder", &|| {
                    ints(&|n| recent_person(n, 22, HOT_BIDDER_RATIO))
                });
                put("price", &|| ints(&|n| price(r(24, n))));
                put("channel", &|| {
                    texts(&|n, s| s.push_str(CHANNELS[(r(25, n) % CHANNELS.len() as u64) as usize]))
                });
                put("url", &|| {
                    texts(&|n, s| {
                        s.push_str("https://www.nexmark.com/");
                        word(r(26, n), 5, s);
                        s.push('/');
                        word(r(27, n), 5, s);
                        s.push_str("/item.htm?query=1");
                    })
                });
                put("date_time", &|| times(&date_time));
                put("extra", &|| texts(&|_, _| {}));
            }
        }
        let rows = events.len();
        let mut columns = Vec::with_capacity(self.output.fields().len());
        for f in self.output.fields() {
            let values = cols
                .values
                .remove(f.name().as_str())
                .expect("every declared column is generated");
            let array: ArrayRef = match values {
                ColumnValues::Int(v) => Arc::new(Int64Array::from(v)),
                ColumnValues::Time(v) => Arc::new(TimestampMicrosecondArray::from(v)),
                ColumnValues::Text(v) => Arc::new(StringArray::from(v)),
            };
            columns.push(if array.data_type() == f.data_type() {
                array
            } else {
                arrow::compute::cast(&array, f.data_type())?
            });
        }
        RecordBatch::try_new_with_options(
            Arc::clone(&self.output),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
    }
}

impl SourceReader for NexmarkReader {
    fn poll_next(&mut self) -> Result<SourcePoll, QueryError> {
        if self.remaining == Some(0) {
            return Ok(SourcePoll::Finished);
        }
        loop {
            return match self.pacer.next() {
                Next::Positions(events) => {
                    let mut batch = self
                        .generate(&events)
                        .map_err(|e| Error::arrow("nexmark", e).into_query_error())?;
                    if batch.num_rows() == 0 {
                        continue;
                    }
                    if let Some(remaining) = self.remaining.as_mut() {
                        batch = batch.slice(0, batch.num_rows().min(*remaining));
                        *remaining -= batch.num_rows();
                    }
                    Ok(SourcePoll::Batch(batch))
                }
                Next::Pending => Ok(SourcePoll::Pending),
                Next::Finished => Ok(SourcePoll::Finished),
            };
        }
    }

    fn offsets(&self) -> SplitOffsets {
        self.pacer.offsets()
    }
}

/// The `nexmark` connector.
#[derive(Debug, Default, Clone, Copy)]
pub struct NexmarkConnector;

impl Connector for NexmarkConnector {
    fn name(&self) -> &'static str {
        CONNECTOR_NAME
    }

    /// Events resume at their sequence position per split.
    fn can_resume(&self) -> bool {
        true
    }

    fn validate(
        &self,
        options: &BTreeMap<String, String>,
        declared: Option<SchemaRef>,
    ) -> Result<SchemaRef, QueryError> {
        let parsed = NexmarkOptions::parse(options).map_err(Error::into_query_error)?;
        match declared {
            Some(schema) => {
                check_columns(parsed.stream, &schema).map_err(Error::into_query_error)?;
                Ok(schema)
            }
            None => Ok(Arc::new(parsed.stream.schema())),
        }
    }

    fn open(
        &self,
        spec: &SourceSpec,
        ctx: &SourceContext,
    ) -> Result<Box<dyn SourceReader>, QueryError> {
        let options = NexmarkOptions::parse(&spec.options).map_err(Error::into_query_error)?;
        let output = spec
            .output_schema()
            .map_err(|e| Error::arrow("nexmark projection", e).into_query_error())?;
        // Events are paced over all streams; each reader keeps its own.
        let batch = ctx.batch_size.max(1) * PROPORTION_DENOMINATOR as usize
            / match options.stream {
                Stream::Person => PERSON_PROPORTION as usize,
                Stream::Auction => AUCTION_PROPORTION as usize,
                Stream::Bid => 46,
            };
        let pacer = SplitPacer::new(
            ctx,
            spec.resume.as_ref(),
            options.events_per_second,
            options.event_count,
            batch,
        );
        Ok(Box::new(NexmarkReader {
            options,
            output,
            pacer,
            remaining: spec.limit,
        }))
    }
}

#[cfg(test)]
mod tests;
