//! The batch-equivalence invariant of continuous queries: once its inputs
//! have ended (a counted nexmark stream) or been flushed (a managed table
//! fed while the views run), every materialized view equals its defining
//! query run as a batch over the same input (for windows over unbounded
//! input: the windows at or behind the final watermark), and the views are
//! the same at 1, 2 and 4 workers. The views cover windows, updating
//! aggregates, joins (inner and outer), TopN and DISTINCT, over nexmark,
//! datagen and managed tables (see `equivalence_support`; `cluster.rs`
//! runs the same workload on two processes).

mod equivalence_support;
mod pg_support;

use equivalence_support::{Rows, managed_views, nexmark_views};
use pg_support::TestServer;
use tokio_postgres::Client;

/// Runs `workload` on a fresh server at 1, 2 and 4 workers and checks
/// that its views are the same at every count.
async fn same_at_1_2_and_4_workers(workload: impl AsyncFn(&Client, &str) -> Vec<Rows>) {
    let mut results = Vec::new();
    for workers in [1, 2, 4] {
        let server = TestServer::start_with_workers(workers).await;
        let client = server.connect().await;
        results.push((
            workers,
            workload(&client, &format!("{workers} workers")).await,
        ));
    }
    for (workers, result) in &results[1..] {
        assert_eq!(
            &results[0].1, result,
            "the views differ between 1 and {workers} workers"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nexmark_views_equal_their_batch_queries_at_1_2_and_4_workers() {
    same_at_1_2_and_4_workers(nexmark_views).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_table_views_equal_their_batch_queries_at_1_2_and_4_workers() {
    same_at_1_2_and_4_workers(managed_views).await;
}
