//! temporary exploration
mod pg_support;
use pg_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explore() {
    let s = TestServer::start().await;
    let c = s.connect().await;
    create_slow_table(&c, "slow", 15).await;
    create_slow_table(&c, "mid", 12).await;
    let t = std::time::Instant::now();
    let _ = c.simple_query("SELECT count(*) FROM mid a JOIN mid b ON a.k = b.k").await.unwrap();
    println!("==> mid alone {:?}", t.elapsed());
    let t = std::time::Instant::now();
    let _ = c.simple_query("SELECT count(*) FROM mid a JOIN mid b ON a.k = b.k").await.unwrap();
    println!("==> mid alone {:?}", t.elapsed());
    let c2 = s.connect().await;
    let h = tokio::spawn(async move {
        let t = std::time::Instant::now();
        let r = c2.simple_query("SELECT count(*) FROM slow a JOIN slow b ON a.k = b.k").await.map(|m| m.len());
        println!("==> slow {:?} in {:?}", r, t.elapsed());
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let t = std::time::Instant::now();
    let _ = c.simple_query("SELECT count(*) FROM mid a JOIN mid b ON a.k = b.k").await.unwrap();
    println!("==> mid with slow running {:?}", t.elapsed());
    h.await.unwrap();
}
