use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit, TimestampMicrosecondType};
use arrow::util::display::ArrayFormatter;
use tidewater_runtime::SqlState;

use super::*;
use crate::generator::SPLITS;

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("v", DataType::Int32, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        Field::new("flag", DataType::Boolean, true),
        Field::new("color", DataType::Utf8, true),
        Field::new("x", DataType::Float64, true),
    ])
}

fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn spec(options: BTreeMap<String, String>, resume: Option<SplitOffsets>) -> SourceSpec {
    SourceSpec {
        connector: CONNECTOR_NAME.into(),
        table: "t".into(),
        options,
        schema: schema(),
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
        batch_size: 100,
    }
}

fn counted() -> BTreeMap<String, String> {
    options(&[
        ("connector", "datagen"),
        ("rows_per_second", "0"),
        ("number_of_rows", "1000"),
        ("seed", "42"),
        ("fields.id.kind", "sequence"),
        ("fields.id.start", "1"),
        ("fields.v.min", "-5"),
        ("fields.v.max", "5"),
        ("fields.name.length", "8"),
        ("fields.ts.start", "2026-03-01 12:00:00"),
        ("fields.ts.step", "1 second"),
        ("fields.color.values", "red, green,blue"),
    ])
}

/// Every row as text, one string per row.
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

/// Reads a reader until it finishes (or `max` batches).
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

fn read_all(opts: &BTreeMap<String, String>, peers: usize) -> Vec<String> {
    let mut all = Vec::new();
    for w in 0..peers {
        let mut reader = DatagenConnector
            .open(&spec(opts.clone(), None), &ctx(w, peers))
            .unwrap();
        let (batches, finished) = drain(reader.as_mut(), 10_000);
        assert!(finished);
        all.extend(batches);
    }
    texts(&all)
}

#[test]
fn the_same_rows_at_any_worker_count() {
    let opts = counted();
    let one = read_all(&opts, 1);
    assert_eq!(one.len(), 1000);
    for peers in [2, 3, 4] {
        assert_eq!(read_all(&opts, peers), one, "at {peers} workers");
    }
    // The sequence covers 1..=1000 once.
    let ids: std::collections::BTreeSet<i64> = one
        .iter()
        .map(|r| r.split('|').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, (1..=1000).collect());
    // Another seed gives other random values.
    let mut reseeded = counted();
    reseeded.insert("seed".into(), "7".into());
    assert_ne!(read_all(&reseeded, 1), one);
}

#[test]
fn values_stay_in_their_ranges() {
    let mut reader = DatagenConnector
        .open(&spec(counted(), None), &ctx(0, 1))
        .unwrap();
    let (batches, _) = drain(reader.as_mut(), 10_000);
    for b in &batches {
        let v = b.column(1).as_primitive::<arrow::datatypes::Int32Type>();
        assert!(v.iter().all(|x| (-5..=5).contains(&x.unwrap())));
        let names = b.column(2).as_string::<i32>();
        assert!(names.iter().all(|n| n.unwrap().len() == 8));
        let colors = b.column(5).as_string::<i32>();
        assert!(
            colors
                .iter()
                .all(|c| ["red", "green", "blue"].contains(&c.unwrap()))
        );
        let x = b.column(6).as_primitive::<arrow::datatypes::Float64Type>();
        assert!(x.iter().all(|x| (0.0..1.0).contains(&x.unwrap())));
        let id = b.column(0).as_primitive::<Int64Type>();
        let ts = b.column(3).as_primitive::<TimestampMicrosecondType>();
        for i in 0..b.num_rows() {
            // ts follows the row: 12:00:00 + (id - 1) seconds.
            assert_eq!(
                ts.value(i),
                1_772_366_400_000_000 + (id.value(i) - 1) * 1_000_000
            );
        }
    }
}

#[test]
fn a_reader_resumed_from_offsets_continues_where_the_other_stopped() {
    let opts = counted();
    let whole = read_all(&opts, 1);
    // Two workers read a few batches each, then stop.
    let mut first = Vec::new();
    let mut offsets = SplitOffsets::new();
    for w in 0..2 {
        let mut reader = DatagenConnector
            .open(&spec(opts.clone(), None), &ctx(w, 2))
            .unwrap();
        let (batches, finished) = drain(reader.as_mut(), 3);
        assert!(!finished);
        first.extend(batches);
        offsets.extend(reader.offsets());
    }
    assert_eq!(offsets.len() as u64, SPLITS);
    // Three workers resume from the offsets.
    let mut rest = Vec::new();
    for w in 0..3 {
        let mut reader = DatagenConnector
            .open(&spec(opts.clone(), Some(offsets.clone())), &ctx(w, 3))
            .unwrap();
        let (batches, finished) = drain(reader.as_mut(), 10_000);
        assert!(finished);
        rest.extend(batches);
    }
    let mut resumed = texts(&first);
    resumed.extend(texts(&rest));
    resumed.sort();
    assert_eq!(resumed, whole, "no row lost, none repeated");
}

#[test]
fn a_sequence_end_ends_the_table_and_the_rate_paces_it() {
    let opts = options(&[
        ("fields.id.kind", "sequence"),
        ("fields.id.start", "10"),
        ("fields.id.end", "19"),
        ("rows_per_second", "0"),
    ]);
    assert_eq!(read_all(&opts, 2).len(), 10);
    // At 1 row per second, nothing is due at once.
    let paced = options(&[("rows_per_second", "1")]);
    let mut reader = DatagenConnector
        .open(&spec(paced, None), &ctx(0, 1))
        .unwrap();
    assert!(matches!(reader.poll_next().unwrap(), SourcePoll::Pending));
}

#[test]
fn bad_options_are_errors_that_name_the_option() {
    let schema = Arc::new(schema());
    let check = |pairs: &[(&str, &str)], expected: &str| {
        let e = DatagenConnector
            .validate(&options(pairs), Some(Arc::clone(&schema)))
            .unwrap_err();
        assert_eq!(e.state, SqlState::InvalidParameterValue, "{}", e.message);
        assert!(
            e.message.contains(expected),
            "{:?} should mention {expected:?}",
            e.message
        );
    };
    check(
        &[("rows_per_secnd", "1")],
        "unknown option 'rows_per_secnd'",
    );
    check(&[("rows_per_second", "-1")], "rows_per_second");
    check(&[("fields.nope.min", "1")], "column nope");
    check(
        &[("fields.v.min", "9"), ("fields.v.max", "1")],
        "fields.v.max is below fields.v.min",
    );
    check(&[("fields.v.max", "99999999999")], "does not fit its type");
    check(&[("fields.id.length", "3")], "fields.id.length");
    check(&[("fields.id.kind", "sideways")], "fields.id.kind");
    check(&[("fields.name.min", "1")], "fields.name.min");
    check(&[("fields.ts.step", "fast")], "fields.ts.step");
    check(
        &[("fields.id.start", "5"), ("fields.id.end", "1")],
        "before",
    );
    check(
        &[("fields.id.kind", "sequence"), ("fields.id.min", "1")],
        "does not apply",
    );
    let e = DatagenConnector.validate(&options(&[]), None).unwrap_err();
    assert!(e.message.contains("columns declared"));
    // A type datagen cannot make.
    let decimal = Arc::new(Schema::new(vec![Field::new(
        "d",
        DataType::Decimal128(10, 2),
        true,
    )]));
    let e = DatagenConnector
        .validate(&options(&[]), Some(decimal))
        .unwrap_err();
    assert!(
        e.message.contains("cannot generate column d"),
        "{}",
        e.message
    );
}
