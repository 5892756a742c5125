//! The worker pool runs plans end to end: values, shuffles, aggregation,
//! errors and cancellation.

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
async fn values_shuffle_and_gather() {
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
    let schema = Schema::new(vec![Field::new("a", DataType::Int64, false)]);
    let plan = DataflowPlan {
        nodes: vec![PlanNode {
            kind: NodeKind::Scan(tidewater_runtime::source::SourceSpec {
                connector: "counting".into(),
                table: "t".into(),
                options: Default::default(),
                schema: schema.clone(),
                projection: None,
                limit: None,
            }),
            inputs: vec![],
            schema: SchemaIr::from_arrow(&schema),
        }],
        root: 0,
        config: QueryConfig::default(),
    };
    let mut handle = rt.submit(&plan).unwrap();
    // Nobody reads: production stalls far below the 2 x 20000 batches.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let stalled = produced.load(std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let later = produced.load(std::sync::atomic::Ordering::SeqCst);
    assert!(stalled < total, "sources ran on: {stalled} batches");
    assert_eq!(stalled, later, "sources kept producing while nobody read");
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
