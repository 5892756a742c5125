//! The worker pool runs plans end to end: values, a hash shuffle feeding an
//! aggregation, backpressure from a client that does not read, and panics
//! in connectors that fail one query while the pool keeps serving, and
//! queries placed on the local single-worker instances.

use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion_common::ScalarValue;
use tidewater_runtime::expr::{ExprIr, ScalarIr, SchemaIr};
use tidewater_runtime::plan::{DataflowPlan, Edge, Exchange, NodeKind, PlanNode, QueryConfig};
use tidewater_runtime::pool::{Runtime, RuntimeConfig};
use tidewater_runtime::source::ConnectorRegistry;

fn lit(v: i64) -> ExprIr {
    ExprIr::Literal(ScalarIr::encode(&ScalarValue::Int64(Some(v))).unwrap())
}

fn runtime(workers: usize) -> Runtime {
    Runtime::start(
        RuntimeConfig {
            workers,
            ..RuntimeConfig::default()
        },
        Arc::new(ConnectorRegistry::default()),
    )
    .unwrap()
}

fn values_plan(n: i64) -> DataflowPlan {
    let schema = SchemaIr::from_arrow(&Schema::new(vec![Field::new("a", DataType::Int64, false)]));
    DataflowPlan {
        nodes: vec![
            PlanNode {
                kind: NodeKind::Values {
                    rows: (0..n).map(|i| vec![lit(i)]).collect(),
                },
                inputs: vec![],
                schema: schema.clone(),
            },
            PlanNode {
                kind: NodeKind::Project {
                    exprs: vec![ExprIr::column("a")],
                },
                inputs: vec![Edge {
                    from: 0,
                    exchange: Exchange::Hash(vec![ExprIr::column("a")]),
                }],
                schema,
            },
        ],
        root: 1,
        config: QueryConfig::default(),
    }
}

fn sum(batches: &[RecordBatch]) -> i64 {
    batches
        .iter()
        .map(|b| {
            b.column(0)
                .as_primitive::<Int64Type>()
                .values()
                .iter()
                .sum::<i64>()
        })
        .sum()
}

#[tokio::test]
async fn values_run_and_the_pool_keeps_serving() {
    let rt = runtime(2);
    let batches = rt
        .submit(&values_plan(100))
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(sum(&batches), (0..100).sum::<i64>());
    // The pool keeps running: a second query works too.
    let batches = rt
        .submit(&values_plan(10))
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(sum(&batches), 45);
    rt.shutdown();
}

/// A connector whose readers produce `batches` batches of 1024 rows each
/// and count how many they produced.
#[derive(Debug)]
struct Counting {
    produced: Arc<std::sync::atomic::AtomicUsize>,
    batches: usize,
}

#[derive(Debug)]
struct CountingReader {
    produced: Arc<std::sync::atomic::AtomicUsize>,
    left: usize,
}

/// A connector that panics when a reader is opened or polled (named by its
/// `at` option).
#[derive(Debug)]
struct Panicking;

impl tidewater_runtime::source::Connector for Panicking {
    fn name(&self) -> &'static str {
        "panicking"
    }

    fn validate(
        &self,
        _options: &std::collections::BTreeMap<String, String>,
        _declared: Option<arrow::datatypes::SchemaRef>,
    ) -> Result<arrow::datatypes::SchemaRef, tidewater_runtime::error::QueryError> {
        Ok(Arc::new(one_column()))
    }

    fn open(
        &self,
        spec: &tidewater_runtime::source::SourceSpec,
        _ctx: &tidewater_runtime::source::SourceContext,
    ) -> Result<
        Box<dyn tidewater_runtime::source::SourceReader>,
        tidewater_runtime::error::QueryError,
    > {
        match spec.options.get("at").map(String::as_str) {
            Some("open") => panic!("the footer is corrupt"),
            _ => Ok(Box::new(PanickingReader)),
        }
    }
}

#[derive(Debug)]
struct PanickingReader;

impl tidewater_runtime::source::SourceReader for PanickingReader {
    fn poll_next(
        &mut self,
    ) -> Result<tidewater_runtime::source::SourcePoll, tidewater_runtime::error::QueryError> {
        panic!("index out of bounds while decoding")
    }
}

fn one_column() -> Schema {
    Schema::new(vec![Field::new("a", DataType::Int64, false)])
}

fn scan_plan(connector: &str, options: &[(&str, &str)]) -> DataflowPlan {
    let schema = one_column();
    DataflowPlan {
        nodes: vec![PlanNode {
            kind: NodeKind::Scan(tidewater_runtime::source::SourceSpec {
                connector: connector.into(),
                table: "t".into(),
                options: options
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                schema: schema.clone(),
                projection: None,
                limit: None,
                watermark: None,
                resume: None,
            }),
            inputs: vec![],
            schema: SchemaIr::from_arrow(&schema),
        }],
        root: 0,
        config: QueryConfig::default(),
    }
}

/// A connector that panics while opening or reading fails that query with
/// an internal error, and the pool goes on serving the next query (on every
/// worker: the next query shuffles).
#[tokio::test]
async fn a_panicking_connector_fails_its_query_not_the_pool() {
    let mut registry = ConnectorRegistry::default();
    registry.register(Arc::new(Panicking));
    let rt = Runtime::start(
        RuntimeConfig {
            workers: 2,
            ..RuntimeConfig::default()
        },
        Arc::new(registry),
    )
    .unwrap();
    for (at, expected) in [
        ("open", "the footer is corrupt"),
        ("poll", "index out of bounds while decoding"),
    ] {
        let err = rt
            .submit(&scan_plan("panicking", &[("at", at)]))
            .unwrap()
            .collect()
            .await
            .unwrap_err();
        assert_eq!(err.state, tidewater_runtime::SqlState::Internal, "{at}");
        assert!(err.message.contains(expected), "{at}: {}", err.message);
        let batches = rt
            .submit(&values_plan(100))
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(
            sum(&batches),
            (0..100).sum::<i64>(),
            "after a panic at {at}"
        );
    }
    rt.shutdown();
}

/// Rows hash-shuffled by key meet on one worker: every worker reads the
/// keys 0..1024 once, and a single-phase count by key after the shuffle
/// sees each key once per worker. A shuffle that left rows where they were
/// read, or sent one key to two workers, would give each worker its own
/// groups: 2 x 1024 groups counting 1 each.
#[tokio::test]
async fn a_hash_shuffle_brings_each_key_to_one_worker() {
    let produced = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut registry = ConnectorRegistry::default();
    registry.register(Arc::new(Counting {
        produced: Arc::clone(&produced),
        batches: 1,
    }));
    let rt = Runtime::start(
        RuntimeConfig {
            workers: 2,
            ..RuntimeConfig::default()
        },
        Arc::new(registry),
    )
    .unwrap();
    let mut plan = scan_plan("counting", &[]);
    let input = plan.nodes[0].schema.clone();
    let output = SchemaIr::from_arrow(&Schema::new(vec![
        Field::new("a", DataType::Int64, false),
        Field::new("n", DataType::Int64, false),
    ]));
    plan.nodes.push(PlanNode {
        kind: NodeKind::Aggregate {
            group_by: vec![ExprIr::column("a")],
            aggregates: vec![ExprIr::AggregateFunction {
                name: "count".into(),
                args: vec![ExprIr::column("a")],
                distinct: false,
                filter: None,
                order_by: vec![],
                ignore_nulls: None,
            }],
            phase: tidewater_runtime::plan::AggregatePhase::Single,
            input_schema: input,
        },
        inputs: vec![Edge {
            from: 0,
            exchange: Exchange::Hash(vec![ExprIr::column("a")]),
        }],
        schema: output,
    });
    plan.root = 1;
    let batches = rt.submit(&plan).unwrap().collect().await.unwrap();
    assert_eq!(produced.load(std::sync::atomic::Ordering::SeqCst), 2);
    let mut counts = std::collections::BTreeMap::new();
    for b in &batches {
        let keys = b.column(0).as_primitive::<Int64Type>();
        let n = b.column(1).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            assert!(
                counts.insert(keys.value(i), n.value(i)).is_none(),
                "key {} was grouped on two workers",
                keys.value(i)
            );
        }
    }
    assert_eq!(counts.len(), 1024);
    assert!(counts.values().all(|n| *n == 2), "{counts:?}");
    rt.shutdown();
}

impl tidewater_runtime::source::SourceReader for CountingReader {
    fn poll_next(
        &mut self,
    ) -> Result<tidewater_runtime::source::SourcePoll, tidewater_runtime::error::QueryError> {
        use tidewater_runtime::source::SourcePoll;
        if self.left == 0 {
            return Ok(SourcePoll::Finished);
        }
        self.left -= 1;
        self.produced
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let column = arrow::array::Int64Array::from_iter_values(0..1024);
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, false)]));
        Ok(SourcePoll::Batch(
            RecordBatch::try_new(schema, vec![Arc::new(column)]).unwrap(),
        ))
    }
}

impl tidewater_runtime::source::Connector for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }

    fn validate(
        &self,
        _options: &std::collections::BTreeMap<String, String>,
        _declared: Option<arrow::datatypes::SchemaRef>,
    ) -> Result<arrow::datatypes::SchemaRef, tidewater_runtime::error::QueryError> {
        Ok(Arc::new(Schema::new(vec![Field::new(
            "a",
            DataType::Int64,
            false,
        )])))
    }

    fn open(
        &self,
        _spec: &tidewater_runtime::source::SourceSpec,
        _ctx: &tidewater_runtime::source::SourceContext,
    ) -> Result<
        Box<dyn tidewater_runtime::source::SourceReader>,
        tidewater_runtime::error::QueryError,
    > {
        Ok(Box::new(CountingReader {
            produced: Arc::clone(&self.produced),
            left: self.batches,
        }))
    }
}

/// A client that stops reading stops the sources after a bounded number of
/// batches (backpressure), and gets every row once it reads again.
#[tokio::test]
async fn a_client_that_does_not_read_holds_the_sources_back() {
    let produced = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let total = 20_000;
    let mut registry = ConnectorRegistry::default();
    registry.register(Arc::new(Counting {
        produced: Arc::clone(&produced),
        batches: total,
    }));
    let rt = Runtime::start(
        RuntimeConfig {
            workers: 2,
            epoch_interval: std::time::Duration::from_millis(10),
            ..RuntimeConfig::default()
        },
        Arc::new(registry),
    )
    .unwrap();
    let plan = scan_plan("counting", &[]);
    let mut handle = rt.submit(&plan).unwrap();
    // Nobody reads: production stalls far below the 2 x 20000 batches.
    // Waits (with a deadline) until the count has not moved for a second;
    // without backpressure it moves until every batch is produced.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut last = produced.load(std::sync::atomic::Ordering::SeqCst);
    let mut unchanged = 0;
    while unchanged < 10 {
        assert!(
            std::time::Instant::now() < deadline,
            "sources never stalled: {last} batches"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let now = produced.load(std::sync::atomic::Ordering::SeqCst);
        unchanged = if now == last { unchanged + 1 } else { 0 };
        last = now;
    }
    assert!(
        last < total,
        "sources ran on while nobody read: {last} batches"
    );
    // Reading again lets the query finish with every row.
    let mut rows = 0;
    loop {
        match handle.next().await {
            tidewater_runtime::pool::QueryEvent::Batch(b) => rows += b.num_rows(),
            tidewater_runtime::pool::QueryEvent::Done => break,
            tidewater_runtime::pool::QueryEvent::Error(e) => panic!("{e}"),
        }
    }
    assert_eq!(rows, 2 * total * 1024);
    rt.shutdown();
}

/// A connector whose one reader per worker emits one row: the number of
/// workers the query runs on (`SourceContext::peers`).
#[derive(Debug)]
struct Placed;

#[derive(Debug)]
struct PlacedReader(Option<i64>);

impl tidewater_runtime::source::Connector for Placed {
    fn name(&self) -> &'static str {
        "placed"
    }

    fn validate(
        &self,
        _options: &std::collections::BTreeMap<String, String>,
        _declared: Option<arrow::datatypes::SchemaRef>,
    ) -> Result<arrow::datatypes::SchemaRef, tidewater_runtime::error::QueryError> {
        Ok(Arc::new(one_column()))
    }

    fn open(
        &self,
        _spec: &tidewater_runtime::source::SourceSpec,
        ctx: &tidewater_runtime::source::SourceContext,
    ) -> Result<
        Box<dyn tidewater_runtime::source::SourceReader>,
        tidewater_runtime::error::QueryError,
    > {
        Ok(Box::new(PlacedReader(Some(ctx.peers as i64))))
    }
}

impl tidewater_runtime::source::SourceReader for PlacedReader {
    fn poll_next(
        &mut self,
    ) -> Result<tidewater_runtime::source::SourcePoll, tidewater_runtime::error::QueryError> {
        use tidewater_runtime::source::SourcePoll;
        Ok(match self.0.take() {
            Some(peers) => SourcePoll::Batch(
                RecordBatch::try_new(
                    Arc::new(one_column()),
                    vec![Arc::new(arrow::array::Int64Array::from(vec![peers]))],
                )
                .unwrap(),
            ),
            None => SourcePoll::Finished,
        })
    }
}

/// A local query runs on one single-worker instance (one reader, which
/// sees one peer), a distributed one on every worker of the pool (two
/// readers seeing two); many local queries run at once, and a panic on a
/// local instance fails only its query.
#[tokio::test]
async fn local_queries_run_on_one_worker_beside_the_pool() {
    use tidewater_runtime::pool::Placement;
    let mut registry = ConnectorRegistry::default();
    registry.register(Arc::new(Placed));
    registry.register(Arc::new(Panicking));
    let rt = Runtime::start(
        RuntimeConfig {
            workers: 2,
            local_workers: 2,
            ..RuntimeConfig::default()
        },
        Arc::new(registry),
    )
    .unwrap();
    let placed = scan_plan("placed", &[]);
    let on = |placement| rt.submit_on(&placed, placement).unwrap().collect();
    let distributed = on(Placement::Distributed).await.unwrap();
    assert_eq!(
        distributed.iter().map(RecordBatch::num_rows).sum::<usize>(),
        2
    );
    assert_eq!(sum(&distributed), 4);
    let local = on(Placement::Local).await.unwrap();
    assert_eq!(local.iter().map(RecordBatch::num_rows).sum::<usize>(), 1);
    assert_eq!(sum(&local), 1);

    // Queries in flight together, spread over the local instances; each
    // shuffles (a hash exchange on one worker is local).
    let handles: Vec<_> = (0..16)
        .map(|n| {
            rt.submit_on(&values_plan(n), Placement::Local)
                .unwrap()
                .collect()
        })
        .collect();
    for (n, handle) in handles.into_iter().enumerate() {
        assert_eq!(sum(&handle.await.unwrap()), (0..n as i64).sum::<i64>());
    }

    for _ in 0..2 {
        let err = rt
            .submit_on(&scan_plan("panicking", &[("at", "poll")]), Placement::Local)
            .unwrap()
            .collect()
            .await
            .unwrap_err();
        assert_eq!(err.state, tidewater_runtime::SqlState::Internal);
    }
    for _ in 0..2 {
        assert_eq!(sum(&on(Placement::Local).await.unwrap()), 1);
    }
    rt.shutdown();
}

/// A client slower than the query to the very end: the result queue is
/// full when the last rows and then the end are sent, and the client still
/// gets every row and then `Done`, on the pool and on a local instance.
/// (The sink must keep the dataflow alive until its end event is sent.)
#[tokio::test]
async fn a_slow_client_gets_every_row_and_the_end() {
    use tidewater_runtime::pool::{Placement, QueryEvent};
    let batches = 100;
    let mut registry = ConnectorRegistry::default();
    registry.register(Arc::new(Counting {
        produced: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        batches,
    }));
    let rt = Runtime::start(
        RuntimeConfig {
            workers: 2,
            local_workers: 1,
            ..RuntimeConfig::default()
        },
        Arc::new(registry),
    )
    .unwrap();
    for (placement, readers) in [(Placement::Distributed, 2), (Placement::Local, 1)] {
        let mut handle = rt
            .submit_on(&scan_plan("counting", &[]), placement)
            .unwrap();
        let mut rows = 0;
        loop {
            match handle.next().await {
                QueryEvent::Batch(b) => rows += b.num_rows(),
                QueryEvent::Done => break,
                QueryEvent::Error(e) => panic!("{placement:?} after {rows} rows: {e}"),
            }
            // Slower than the sink's retries: the queue refills each time.
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        }
        assert_eq!(rows, readers * batches * 1024, "{placement:?}");
    }
    rt.shutdown();
}
