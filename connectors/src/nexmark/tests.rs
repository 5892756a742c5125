use std::collections::BTreeMap;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Int64Type, TimestampMicrosecondType};
use arrow::util::display::ArrayFormatter;
use tidewater_runtime::SqlState;

use super::*;

fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn spec(stream: &str, resume: Option<SplitOffsets>) -> SourceSpec {
    let options = options(&[
        ("table", stream),
        ("events_per_second", "0"),
        ("event_count", "5000"),
        ("seed", "9"),
    ]);
    let schema = NexmarkConnector.validate(&options, None).unwrap();
    SourceSpec {
        connector: CONNECTOR_NAME.into(),
        table: stream.into(),
        options,
        schema: schema.as_ref().clone(),
        projection: None,
        limit: None,
        watermark: None,
        resume,
    }
}

fn ctx(worker: usize, peers: usize) -> SourceContext {
    SourceContext {
        worker_index: worker,
        peers,
        process: 0,
        workers_per_process: peers,
        batch_size: 64,
    }
}

fn drain(reader: &mut dyn SourceReader, max: usize) -> (Vec<RecordBatch>, bool) {
    let mut out = Vec::new();
    for _ in 0..max {
        match reader.poll_next().unwrap() {
            SourcePoll::Batch(b) => out.push(b),
            SourcePoll::Finished => return (out, true),
            SourcePoll::Pending => {}
        }
    }
    (out, false)
}

fn texts(batches: &[RecordBatch]) -> Vec<String> {
    let mut rows = Vec::new();
    for b in batches {
        let formatters: Vec<_> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &Default::default()).unwrap())
            .collect();
        for i in 0..b.num_rows() {
            let row: Vec<String> = formatters.iter().map(|f| f.value(i).to_string()).collect();
            rows.push(row.join("|"));
        }
    }
    rows.sort();
    rows
}

fn read_all(stream: &str, peers: usize) -> Vec<RecordBatch> {
    let mut all = Vec::new();
    for w in 0..peers {
        let mut reader = NexmarkConnector
            .open(&spec(stream, None), &ctx(w, peers))
            .unwrap();
        let (batches, finished) = drain(reader.as_mut(), 100_000);
        assert!(finished);
        all.extend(batches);
    }
    all
}

#[test]
fn the_streams_keep_the_specification_proportions_at_any_worker_count() {
    for (stream, expected) in [("person", 100), ("auction", 300), ("bid", 4600)] {
        let one = texts(&read_all(stream, 1));
        assert_eq!(one.len(), expected, "{stream}");
        for peers in [2, 3] {
            assert_eq!(
                texts(&read_all(stream, peers)),
                one,
                "{stream} at {peers} workers"
            );
        }
    }
}

#[test]
fn bids_go_to_existing_auctions_and_people() {
    let bids = read_all("bid", 1);
    let people = read_all("person", 1);
    let auctions = read_all("auction", 1);
    let max = |batches: &[RecordBatch], c: usize| {
        batches
            .iter()
            .flat_map(|b| b.column(c).as_primitive::<Int64Type>().values().to_vec())
            .max()
            .unwrap()
    };
    let ids = |batches: &[RecordBatch], c: usize| -> Vec<i64> {
        batches
            .iter()
            .flat_map(|b| b.column(c).as_primitive::<Int64Type>().values().to_vec())
            .collect()
    };
    let (last_person, last_auction) = (max(&people, 0), max(&auctions, 0));
    assert_eq!(last_person, FIRST_PERSON_ID + 99);
    assert_eq!(last_auction, FIRST_AUCTION_ID + 299);
    assert!(
        ids(&bids, 0)
            .iter()
            .all(|a| (FIRST_AUCTION_ID..=last_auction).contains(a))
    );
    assert!(
        ids(&bids, 1)
            .iter()
            .all(|p| (FIRST_PERSON_ID..=last_person).contains(p))
    );
    // Hot auctions: half the bids go to the newest auction of their block
    // (one in three auctions), the rest to any of the 100 in flight.
    let mut per_auction: BTreeMap<i64, usize> = BTreeMap::new();
    for a in ids(&bids, 0) {
        *per_auction.entry(a).or_default() += 1;
    }
    let mut counts: Vec<usize> = per_auction.values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top: usize = counts.iter().take(100).sum();
    assert!(
        top * 2 > 4600,
        "the 100 hottest auctions have {top} of 4600 bids"
    );
    // Prices are positive; times follow the event numbers.
    assert!(ids(&bids, 2).iter().all(|p| *p >= 100));
    let times: Vec<i64> = bids
        .iter()
        .flat_map(|b| {
            b.column(5)
                .as_primitive::<TimestampMicrosecondType>()
                .values()
                .to_vec()
        })
        .collect();
    // At the nominal 10000 events per second, 5000 events span half a second.
    assert!(
        times
            .iter()
            .all(|t| (DEFAULT_START..DEFAULT_START + 500_000).contains(t))
    );
}

#[test]
fn a_resumed_reader_continues_without_loss_or_repetition() {
    let whole = texts(&read_all("bid", 1));
    let mut first = Vec::new();
    let mut offsets = SplitOffsets::new();
    for w in 0..2 {
        let mut reader = NexmarkConnector
            .open(&spec("bid", None), &ctx(w, 2))
            .unwrap();
        let (batches, finished) = drain(reader.as_mut(), 5);
        assert!(!finished);
        first.extend(batches);
        offsets.extend(reader.offsets());
    }
    let mut rest = Vec::new();
    for w in 0..3 {
        let mut reader = NexmarkConnector
            .open(&spec("bid", Some(offsets.clone())), &ctx(w, 3))
            .unwrap();
        let (batches, finished) = drain(reader.as_mut(), 100_000);
        assert!(finished);
        rest.extend(batches);
    }
    let mut resumed = texts(&first);
    resumed.extend(texts(&rest));
    resumed.sort();
    assert_eq!(resumed, whole);
}

#[test]
fn bad_options_and_columns_are_errors_that_name_them() {
    let check = |pairs: &[(&str, &str)], expected: &str| {
        let e = NexmarkConnector
            .validate(&options(pairs), None)
            .unwrap_err();
        assert_eq!(e.state, SqlState::InvalidParameterValue, "{}", e.message);
        assert!(
            e.message.contains(expected),
            "{:?} should mention {expected:?}",
            e.message
        );
    };
    check(&[], "missing option 'table'");
    check(&[("table", "bids")], "expected one of person, auction, bid");
    check(&[("table", "bid"), ("rate", "1")], "unknown option 'rate'");
    check(&[("table", "bid"), ("event_count", "-4")], "event_count");
    check(
        &[("table", "bid"), ("max_out_of_order", "1 month")],
        "max_out_of_order",
    );
    check(
        &[("table", "bid"), ("start_time", "yesterday")],
        "start_time",
    );
    let declared = Arc::new(Schema::new(vec![Field::new("nope", DataType::Int64, true)]));
    let e = NexmarkConnector
        .validate(&options(&[("table", "bid")]), Some(declared))
        .unwrap_err();
    assert!(e.message.contains("has no column nope"), "{}", e.message);
}
