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
