//! Crash safety of the `tidewater` binary: the server is killed with
//! SIGKILL at a random moment while clients write, restarted on the same
//! data directory, and then
//!
//! - the catalog opens (the server starts and answers);
//! - every row whose INSERT was acknowledged is there, exactly once and
//!   intact; a row whose INSERT was in flight may or may not be there, but
//!   no row appears that no client sent;
//! - a COPY FROM STDIN that was not acknowledged left nothing (COPY is
//!   atomic); one that was acknowledged left all its rows;
//! - DDL that was acknowledged (schemas, tables, views, drops) is there,
//!   and every relation the catalog lists can be read;
//! - the server takes new writes, which survive the next crash too.

mod clients_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::NaiveDateTime;
use clients_support::{ServerProcess, TestDir, execute_all, random_in, rows};
use futures::SinkExt;
use tokio_postgres::{Client, Error, ToStatement};

/// The table the insert and COPY tests write: every column is a function
/// of `id`, so a row can be checked on its own.
const EVENTS: &str = "CREATE TABLE events (id bigint NOT NULL, bucket integer, payload text, \
                      amount double precision, ts timestamp)";

/// Writers inserting at once in the insert test.
const WRITERS: i64 = 3;

/// The payload of event `id` (lengths vary so records straddle blocks).
fn payload(id: i64) -> String {
    format!("event-{id}-{}", "x".repeat((id % 97) as usize))
}

fn amount(id: i64) -> f64 {
    id as f64 * 1.5
}

fn ts(id: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(1_700_000_000 + id, 0)
        .expect("timestamp")
        .naive_utc()
}

/// Inserts one event with parameters.
const INSERT_EVENT: &str = "INSERT INTO events VALUES ($1, $2, $3, $4, $5)";

/// Runs [`INSERT_EVENT`] (or a statement prepared from it) for event `id`.
async fn insert_event<T>(client: &Client, statement: &T, id: i64) -> Result<u64, Error>
where
    T: ?Sized + ToStatement,
{
    client
        .execute(
            statement,
            &[
                &id,
                &((id % WRITERS) as i32),
                &payload(id),
                &amount(id),
                &ts(id),
            ],
        )
        .await
}

/// What the clients of one crash round did: ids sent and ids acknowledged.
#[derive(Debug, Default)]
struct Log {
    sent: BTreeSet<i64>,
    acked: BTreeSet<i64>,
}

/// Shared between writer tasks and the test; never held across an await.
type SharedLog = Arc<Mutex<Log>>;

/// Inserts events `first, first + step, ...` one statement at a time
/// until the connection fails. Writer 0 uses simple queries with
/// literals, the others a prepared statement with parameters. An error
/// before `killed` is set is a failure of the test.
async fn insert_stream(
    client: Client,
    writer: i64,
    first: i64,
    step: i64,
    log: SharedLog,
    killed: Arc<AtomicBool>,
) -> Result<(), String> {
    let statement = if writer == 0 {
        None
    } else {
        Some(
            client
                .prepare(INSERT_EVENT)
                .await
                .map_err(|e| format!("writer {writer}: prepare: {e:?}"))?,
        )
    };
    let mut id = first;
    loop {
        log.lock().expect("log").sent.insert(id);
        let result = match &statement {
            None => client
                .simple_query(&format!(
                    "INSERT INTO events VALUES ({id}, {}, '{}', {}, '{}')",
                    id % WRITERS,
                    payload(id),
                    amount(id),
                    ts(id).format("%Y-%m-%d %H:%M:%S")
                ))
                .await
                .map(|_| ()),
            Some(statement) => insert_event(&client, statement, id).await.map(|_| ()),
        };
        match result {
            Ok(()) => {
                log.lock().expect("log").acked.insert(id);
            }
            Err(_) if killed.load(Ordering::SeqCst) => return Ok(()),
            Err(e) => {
                return Err(format!(
                    "writer {writer}: insert {id} failed before the kill: {e:?}"
                ));
            }
        }
        id += step;
    }
}

/// Reads `events` and checks it against what was sent and acknowledged:
/// every acknowledged id is there, every id there was sent, no id twice,
/// every row intact. Returns the ids found.
async fn check_events(
    client: &Client,
    sent: &BTreeSet<i64>,
    acked: &BTreeSet<i64>,
    context: &str,
) -> BTreeSet<i64> {
    let found = client
        .query("SELECT id, bucket, payload, amount, ts FROM events", &[])
        .await
        .unwrap_or_else(|e| panic!("{context}: reading events: {e:?}"));
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for row in &found {
        let id: i64 = row.get("id");
        *counts.entry(id).or_default() += 1;
        let actual = (
            row.get::<_, Option<i32>>("bucket"),
            row.get::<_, Option<String>>("payload"),
            row.get::<_, Option<f64>>("amount"),
            row.get::<_, Option<NaiveDateTime>>("ts"),
        );
        let expected = (
            Some((id % WRITERS) as i32),
            Some(payload(id)),
            Some(amount(id)),
            Some(ts(id)),
        );
        // COPY rows carry the same values (see `copy_data`).
        assert_eq!(actual, expected, "{context}: row {id} is corrupt");
    }
    let duplicates: Vec<(&i64, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        duplicates.is_empty(),
        "{context}: ids stored more than once (id, times): {duplicates:?}"
    );
    let ids: BTreeSet<i64> = counts.into_keys().collect();
    let lost: Vec<&i64> = acked.difference(&ids).collect();
    assert!(
        lost.is_empty(),
        "{context}: {} acknowledged rows lost (of {}), first ones: {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(20)]
    );
    let phantoms: Vec<&i64> = ids.difference(sent).collect();
    assert!(
        phantoms.is_empty(),
        "{context}: rows nobody sent: {:?}",
        &phantoms[..phantoms.len().min(20)]
    );
    let count: i64 = client
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .unwrap_or_else(|e| panic!("{context}: count(*): {e:?}"))
        .get(0);
    assert_eq!(
        count as usize,
        ids.len(),
        "{context}: count(*) disagrees with a scan"
    );
    ids
}

/// Schema, table, view and rows created before the first crash, checked
/// after every restart.
async fn create_other_objects(client: &Client) {
    execute_all(
        client,
        &[
            "CREATE SCHEMA dur_s",
            "CREATE TABLE dur_s.side (k integer, v text)",
            "INSERT INTO dur_s.side VALUES (1, 'one'), (2, 'two')",
            "CREATE VIEW big_events AS SELECT id, payload FROM events WHERE amount > 300",
            "CREATE VIEW dur_s.side_view AS SELECT v FROM dur_s.side WHERE k = 2",
        ],
    )
    .await;
}

async fn check_other_objects(client: &Client, context: &str) {
    let relations = rows(
        client,
        "SELECT table_schema, table_name, table_type FROM information_schema.tables \
         WHERE table_schema IN ('public', 'dur_s') ORDER BY 1, 2",
    )
    .await;
    assert_eq!(
        relations,
        [
            "dur_s|side|BASE TABLE",
            "dur_s|side_view|VIEW",
            "public|big_events|VIEW",
            "public|events|BASE TABLE"
        ],
        "{context}: relations"
    );
    assert_eq!(
        rows(
            client,
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name = 'dur_s'"
        )
        .await,
        ["dur_s"],
        "{context}: schema"
    );
    assert_eq!(
        rows(client, "SELECT k, v FROM dur_s.side ORDER BY k").await,
        ["1|one", "2|two"],
        "{context}"
    );
    assert_eq!(
        rows(client, "SELECT v FROM dur_s.side_view").await,
        ["two"],
        "{context}"
    );
    assert_eq!(
        rows(
            client,
            "SELECT count(*) = (SELECT count(*) FROM events WHERE amount > 300) FROM big_events"
        )
        .await,
        ["t"],
        "{context}: view over events"
    );
}

/// Starts writers, lets them get a random number (200 to 800) of
/// acknowledgements and run a random few milliseconds more, then SIGKILLs the
/// server. Returns what they sent and what was acknowledged.
async fn insert_until_killed(server: &mut ServerProcess, first_id: i64, context: &str) -> Log {
    let log: SharedLog = Arc::default();
    let killed = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let client = server.connect().await;
        writers.push(tokio::spawn(insert_stream(
            client,
            writer,
            first_id + writer,
            WRITERS,
            Arc::clone(&log),
            Arc::clone(&killed),
        )));
    }
    let target = random_in(200, 800) as usize;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while log.lock().expect("log").acked.len() < target {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{context}: fewer than {target} inserts acknowledged in 120s\n{}",
            server.log()
        );
        if writers.iter().any(|w| w.is_finished()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(Duration::from_micros(random_in(0, 20_000))).await;
    killed.store(true, Ordering::SeqCst);
    server.kill();
    for writer in writers {
        tokio::time::timeout(Duration::from_secs(30), writer)
            .await
            .unwrap_or_else(|_| panic!("{context}: a writer hangs after the kill"))
            .expect("writer task")
            .unwrap_or_else(|e| panic!("{context}: {e}"));
    }
    let log = Arc::try_unwrap(log)
        .expect("writers are done")
        .into_inner()
        .expect("log");
    assert!(
        log.acked.len() >= target,
        "{context}: only {} inserts acknowledged",
        log.acked.len()
    );
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_inserts_loses_no_acknowledged_row() {
    let dir = TestDir::new();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data).await;
    let client = server.connect().await;
    execute_all(&client, &[EVENTS]).await;
    create_other_objects(&client).await;
    drop(client);

    let mut sent = BTreeSet::new();
    let mut acked = BTreeSet::new();
    // Three crashes in a row: each restart recovers what the last one left,
    // including a log that may end in a torn record, and then writes more.
    for round in 0..3i64 {
        let context = format!("round {round}");
        let log = insert_until_killed(&mut server, round * 1_000_000, &context).await;
        let in_flight: BTreeSet<i64> = log.sent.difference(&log.acked).copied().collect();
        println!(
            "{context}: killed after {} acknowledged inserts, in flight: {in_flight:?}",
            log.acked.len()
        );
        sent.extend(log.sent);
        acked.extend(log.acked);

        server = ServerProcess::start(&data).await;
        let client = server.connect().await;
        let context = format!(
            "{context}, after restart (log {})",
            server.log_path.display()
        );
        let found = check_events(&client, &sent, &acked, &context).await;
        let survived: Vec<&i64> = in_flight.intersection(&found).collect();
        println!("{context}: in-flight inserts stored: {survived:?}");
        check_other_objects(&client, &context).await;
        // Whatever survived is as good as acknowledged from now on.
        acked.extend(&found);
        sent = found;
    }

    // New single inserts after the last restart survive a clean stop and
    // another crash.
    let client = server.connect().await;
    for id in 9_000_000..9_000_010i64 {
        insert_event(&client, INSERT_EVENT, id)
            .await
            .unwrap_or_else(|e| panic!("insert {id} after recovery: {e:?}\n{}", server.log()));
        sent.insert(id);
        acked.insert(id);
    }
    drop(client);
    server.stop();
    let mut server = ServerProcess::start(&data).await;
    let client = server.connect().await;
    check_events(&client, &sent, &acked, "after a clean stop").await;
    server.kill();
    let server = ServerProcess::start(&data).await;
    let client = server.connect().await;
    check_events(&client, &sent, &acked, "after a final crash").await;
    check_other_objects(&client, "after a final crash").await;
}

/// COPY text data for ids `ids`, in chunks of `chunk` rows.
fn copy_data(ids: std::ops::Range<i64>, chunk: usize) -> Vec<Bytes> {
    let ids: Vec<i64> = ids.collect();
    ids.chunks(chunk)
        .map(|chunk| {
            let mut text = String::new();
            for &id in chunk {
                text.push_str(&format!(
                    "{id}\t{}\t{}\t{}\t{}\n",
                    id % WRITERS,
                    payload(id),
                    amount(id),
                    ts(id).format("%Y-%m-%d %H:%M:%S")
                ));
            }
            Bytes::from(text)
        })
        .collect()
}

const COPY_EVENTS: &str = "COPY events (id, bucket, payload, amount, ts) FROM STDIN";

/// Runs a whole COPY of `ids` and returns the row count it reports.
async fn copy_all(client: &Client, ids: std::ops::Range<i64>) -> u64 {
    let sink = client.copy_in(COPY_EVENTS).await.expect("start COPY");
    futures::pin_mut!(sink);
    for chunk in copy_data(ids, 5_000) {
        sink.send(chunk).await.expect("send COPY data");
    }
    sink.finish().await.expect("finish COPY")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_copy_keeps_copy_atomic() {
    let dir = TestDir::new();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data).await;
    let client = server.connect().await;
    execute_all(&client, &[EVENTS]).await;
    create_other_objects(&client).await;

    // Acknowledged before any crash: single inserts and a whole COPY.
    let mut sent: BTreeSet<i64> = BTreeSet::new();
    for id in 0..50i64 {
        insert_event(&client, INSERT_EVENT, id)
            .await
            .expect("insert");
        sent.insert(id);
    }
    assert_eq!(
        copy_all(&client, 1_000..11_000).await,
        10_000,
        "rows of the first COPY"
    );
    sent.extend(1_000..11_000);
    let mut acked = sent.clone();
    drop(client);

    // Round 0: killed while the COPY data streams in; round 1: killed
    // while the server may be committing it (right after CopyDone).
    for round in 0..2i64 {
        let context = format!("COPY round {round}");
        let copy_ids = (round + 1) * 1_000_000..(round + 1) * 1_000_000 + 200_000;
        let chunks = copy_data(copy_ids.clone(), 2_000);
        let copier = server.connect().await;
        // Another session inserts while the COPY runs.
        let log: SharedLog = Arc::default();
        let killed = Arc::new(AtomicBool::new(false));
        let inserter = tokio::spawn(insert_stream(
            server.connect().await,
            1,
            (round + 1) * 10_000_000 + 1,
            WRITERS,
            Arc::clone(&log),
            Arc::clone(&killed),
        ));
        let sink = copier.copy_in(COPY_EVENTS).await.expect("start COPY");
        futures::pin_mut!(sink);
        let copy_finished = if round == 0 {
            let stop_after = random_in(1, chunks.len() as u64 - 1) as usize;
            for chunk in &chunks[..stop_after] {
                sink.send(chunk.clone()).await.expect("send COPY data");
            }
            // Let the server take in what was sent before it dies.
            tokio::time::sleep(Duration::from_millis(random_in(0, 200))).await;
            killed.store(true, Ordering::SeqCst);
            server.kill();
            false
        } else {
            for chunk in &chunks {
                sink.send(chunk.clone()).await.expect("send COPY data");
            }
            let finish = sink.finish();
            let kill_after = Duration::from_micros(random_in(0, 50_000));
            tokio::select! {
                result = finish => {
                    // Finished before the kill: acknowledged.
                    killed.store(true, Ordering::SeqCst);
                    server.kill();
                    assert_eq!(result.expect("finish COPY"), 200_000, "{context}: rows copied");
                    true
                }
                () = tokio::time::sleep(kill_after) => {
                    killed.store(true, Ordering::SeqCst);
                    server.kill();
                    false
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), inserter)
            .await
            .unwrap_or_else(|_| panic!("{context}: the inserter hangs after the kill"))
            .expect("inserter task")
            .unwrap_or_else(|e| panic!("{context}: {e}"));
        let log = Arc::try_unwrap(log)
            .expect("inserter is done")
            .into_inner()
            .expect("log");
        sent.extend(&log.sent);
        acked.extend(&log.acked);
        sent.extend(copy_ids.clone());
        if copy_finished {
            acked.extend(copy_ids.clone());
        }

        server = ServerProcess::start(&data).await;
        let client = server.connect().await;
        let context = format!(
            "{context}, after restart (log {})",
            server.log_path.display()
        );
        let found = check_events(&client, &sent, &acked, &context).await;
        let copied = found.iter().filter(|id| copy_ids.contains(id)).count();
        println!(
            "{context}: COPY acknowledged: {copy_finished}, its rows visible: {copied}, \
             inserts acknowledged meanwhile: {}",
            log.acked.len()
        );
        if round == 0 {
            assert_eq!(
                copied, 0,
                "{context}: rows of a COPY killed mid-stream are visible"
            );
        } else {
            assert!(
                copied == 0 || copied as i64 == copy_ids.end - copy_ids.start,
                "{context}: {copied} of {} rows of an unacknowledged COPY are visible (all or none)",
                copy_ids.end - copy_ids.start
            );
        }
        check_other_objects(&client, &context).await;
        acked.extend(&found);
        sent = found;
    }

    // A COPY after recovery works and survives a crash.
    let client = server.connect().await;
    assert_eq!(
        copy_all(&client, 5_000_000..5_010_000).await,
        10_000,
        "rows of a COPY after recovery"
    );
    sent.extend(5_000_000..5_010_000);
    acked.extend(5_000_000..5_010_000);
    server.kill();
    let server = ServerProcess::start(&data).await;
    let client = server.connect().await;
    check_events(&client, &sent, &acked, "after the last crash").await;
}

/// One acknowledged step of the DDL loop.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ddl {
    CreateTable(u64),
    Insert(u64),
    CreateView(u64),
    DropTable(u64),
    CreateSchema(u64),
}

/// The statements of step `i` of the DDL loop, each with what its
/// acknowledgement means: create table `t_i`, insert a row, and on some
/// steps create a view on it, a schema with a table, or drop the table
/// of the step before (when no view depends on it).
fn ddl_step(i: u64) -> Vec<(String, Ddl)> {
    let mut steps = vec![
        (
            format!("CREATE TABLE t_{i} (id bigint, name text)"),
            Ddl::CreateTable(i),
        ),
        (
            format!("INSERT INTO t_{i} VALUES ({i}, 'row of t_{i}')"),
            Ddl::Insert(i),
        ),
    ];
    if i.is_multiple_of(4) {
        steps.push((
            format!("CREATE VIEW v_{i} AS SELECT name FROM t_{i}"),
            Ddl::CreateView(i),
        ));
    }
    if i.is_multiple_of(5) && i > 0 && !(i - 1).is_multiple_of(4) {
        steps.push((format!("DROP TABLE t_{}", i - 1), Ddl::DropTable(i - 1)));
    }
    if i.is_multiple_of(7) {
        steps.push((format!("CREATE SCHEMA s_{i}"), Ddl::CreateSchema(i)));
    }
    steps
}

/// The relations and schemas a sequence of acknowledged steps leaves.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    tables: BTreeMap<u64, bool>,
    views: BTreeSet<u64>,
    schemas: BTreeSet<u64>,
}

impl Expected {
    fn apply(&mut self, step: Ddl) {
        match step {
            Ddl::CreateTable(i) => {
                self.tables.insert(i, false);
            }
            Ddl::Insert(i) => {
                self.tables.insert(i, true);
            }
            Ddl::CreateView(i) => {
                self.views.insert(i);
            }
            Ddl::DropTable(i) => {
                self.tables.remove(&i);
            }
            Ddl::CreateSchema(i) => {
                self.schemas.insert(i);
            }
        }
    }
}

/// Names in `public` (or schemas) matching `prefix<number>`, as numbers.
fn numbered(names: &[String], prefix: &str) -> BTreeSet<u64> {
    names
        .iter()
        .filter_map(|n| n.strip_prefix(prefix)?.parse().ok())
        .collect()
}

/// Checks the catalog after a crash in the DDL loop against the
/// acknowledged steps; `in_flight` is the step that was sent but not
/// acknowledged (its effect may or may not be there).
async fn check_ddl(client: &Client, expected: &Expected, in_flight: Option<Ddl>, context: &str) {
    let tables = rows(
        client,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .await;
    let views = rows(
        client,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'VIEW'",
    )
    .await;
    let schemas = rows(
        client,
        "SELECT schema_name FROM information_schema.schemata",
    )
    .await;
    let (tables, views, schemas) = (
        numbered(&tables, "t_"),
        numbered(&views, "v_"),
        numbered(&schemas, "s_"),
    );

    let mut expected_tables: BTreeSet<u64> = expected.tables.keys().copied().collect();
    let mut expected_views = expected.views.clone();
    let mut expected_schemas = expected.schemas.clone();
    // The step in flight counts as done when its effect is visible.
    match in_flight {
        Some(Ddl::CreateTable(i)) if tables.contains(&i) => {
            expected_tables.insert(i);
        }
        Some(Ddl::DropTable(i)) if !tables.contains(&i) => {
            expected_tables.remove(&i);
        }
        Some(Ddl::CreateView(i)) if views.contains(&i) => {
            expected_views.insert(i);
        }
        Some(Ddl::CreateSchema(i)) if schemas.contains(&i) => {
            expected_schemas.insert(i);
        }
        _ => {}
    }
    assert_eq!(
        tables, expected_tables,
        "{context}: tables (in flight: {in_flight:?})"
    );
    assert_eq!(
        views, expected_views,
        "{context}: views (in flight: {in_flight:?})"
    );
    assert_eq!(
        schemas, expected_schemas,
        "{context}: schemas (in flight: {in_flight:?})"
    );

    // Every table can be read and holds what was acknowledged.
    for &i in &tables {
        let contents = rows(client, &format!("SELECT id, name FROM t_{i}")).await;
        let row = format!("{i}|row of t_{i}");
        let inserted = expected.tables.get(&i).copied().unwrap_or(false);
        if inserted {
            assert_eq!(contents, [row], "{context}: t_{i}");
        } else if in_flight == Some(Ddl::Insert(i)) {
            assert!(
                contents.is_empty() || contents == [row],
                "{context}: t_{i} (insert in flight): {contents:?}"
            );
        } else {
            assert!(
                contents.is_empty(),
                "{context}: t_{i} should be empty: {contents:?}"
            );
        }
    }
    for &i in &views {
        let contents = rows(client, &format!("SELECT name FROM v_{i}")).await;
        assert!(contents.len() <= 1, "{context}: v_{i}: {contents:?}");
    }
}

/// Runs the DDL loop from step `first` until the connection fails (after
/// `killed` is set; an earlier error fails the test). Returns the
/// acknowledged steps and the one in flight.
async fn ddl_loop(
    client: Client,
    first: u64,
    acked: Arc<Mutex<Vec<Ddl>>>,
    killed: Arc<AtomicBool>,
) -> Result<Option<Ddl>, String> {
    for i in first.. {
        for (sql, step) in ddl_step(i) {
            match client.simple_query(&sql).await {
                Ok(_) => acked.lock().expect("acked").push(step),
                Err(_) if killed.load(Ordering::SeqCst) => return Ok(Some(step)),
                Err(e) => return Err(format!("{sql} failed before the kill: {e:?}")),
            }
        }
    }
    Ok(None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_create_table_loop_keeps_the_catalog_consistent() {
    let dir = TestDir::new();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data).await;
    let mut expected = Expected::default();
    let mut next_step = 0;
    for round in 0..3 {
        let context = format!("DDL round {round}");
        let acked: Arc<Mutex<Vec<Ddl>>> = Arc::default();
        let killed = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(ddl_loop(
            server.connect().await,
            next_step,
            Arc::clone(&acked),
            Arc::clone(&killed),
        ));
        let target = random_in(30, 120) as usize;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while acked.lock().expect("acked").len() < target && !task.is_finished() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{context}: fewer than {target} DDL statements acknowledged in 120s\n{}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_micros(random_in(0, 10_000))).await;
        killed.store(true, Ordering::SeqCst);
        server.kill();
        let in_flight = tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .unwrap_or_else(|_| panic!("{context}: the DDL loop hangs after the kill"))
            .expect("DDL task")
            .unwrap_or_else(|e| panic!("{context}: {e}"));
        let acked = std::mem::take(&mut *acked.lock().expect("acked"));
        for &step in &acked {
            expected.apply(step);
        }

        server = ServerProcess::start(&data).await;
        let client = server.connect().await;
        let context = format!(
            "{context}, after restart (log {})",
            server.log_path.display()
        );
        println!(
            "{context}: killed after {} acknowledged statements, in flight: {in_flight:?}",
            acked.len()
        );
        check_ddl(&client, &expected, in_flight, &context).await;

        // Settle the step in flight so the next round starts from a known
        // catalog: finish it if it left nothing, then move on.
        let last = in_flight.or(acked.last().copied());
        let step_of = |d: Ddl| match d {
            Ddl::CreateTable(i) | Ddl::Insert(i) | Ddl::CreateView(i) | Ddl::CreateSchema(i) => i,
            Ddl::DropTable(i) => i + 1,
        };
        if let Some(last) = last {
            let i = step_of(last);
            for (sql, step) in ddl_step(i) {
                let effect_visible = match step {
                    Ddl::CreateTable(t) => expected.tables.contains_key(&t) || table_exists(&client, t).await,
                    Ddl::Insert(t) => !rows(&client, &format!("SELECT id FROM t_{t}")).await.is_empty(),
                    Ddl::CreateView(v) => {
                        expected.views.contains(&v)
                            || !rows(
                                &client,
                                &format!("SELECT 1 FROM information_schema.tables WHERE table_name = 'v_{v}'"),
                            )
                            .await
                            .is_empty()
                    }
                    Ddl::DropTable(t) => !table_exists(&client, t).await,
                    Ddl::CreateSchema(s) => {
                        expected.schemas.contains(&s)
                            || !rows(
                                &client,
                                &format!("SELECT 1 FROM information_schema.schemata WHERE schema_name = 's_{s}'"),
                            )
                            .await
                            .is_empty()
                    }
                };
                if !effect_visible {
                    client.simple_query(&sql).await.unwrap_or_else(|e| {
                        panic!("{context}: redoing {sql}: {e:?}\n{}", server.log())
                    });
                }
                expected.apply(step);
            }
            next_step = i + 1;
        }
        check_ddl(&client, &expected, None, &format!("{context}, settled")).await;

        // Creating an object that exists fails as in Postgres.
        if let Some((&t, _)) = expected.tables.iter().next() {
            let err = client
                .simple_query(&format!("CREATE TABLE t_{t} (x integer)"))
                .await
                .expect_err("creating an existing table");
            assert_eq!(
                err.code().map(|c| c.code()),
                Some("42P07"),
                "{context}: {err:?}"
            );
        }
    }

    // A clean restart sees the same catalog.
    server.stop();
    let server = ServerProcess::start(&data).await;
    let client = server.connect().await;
    check_ddl(&client, &expected, None, "after a clean restart").await;
    assert_tables_readable(&client, &data).await;
}

async fn table_exists(client: &Client, i: u64) -> bool {
    !rows(
        client,
        &format!("SELECT 1 FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 't_{i}'"),
    )
    .await
    .is_empty()
}

/// Every relation information_schema lists outside the system schemas
/// can be read.
async fn assert_tables_readable(client: &Client, data: &Path) {
    let relations = rows(
        client,
        "SELECT table_schema, table_name FROM information_schema.tables \
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    .await;
    for relation in relations {
        let (schema, name) = relation.split_once('|').expect("schema|name");
        let sql = format!("SELECT count(*) FROM \"{schema}\".\"{name}\"");
        client
            .simple_query(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql} in {}: {e:?}", data.display()));
    }
}
