//! A two-process timely cluster on loopback: the `tidewater` binary started
//! twice (`--cluster-hosts FILE --process I`, two workers each), clients on
//! process 0, and queries whose data must cross between the processes.
//!
//! Where the data lives:
//!
//! - managed tables (`facts`, `dims`) are stored by process 0 and scanned by
//!   its workers 0 and 1; every hash exchange sends about half of the rows
//!   to workers 2 and 3 in process 1, and the result comes back to worker 0;
//! - the CSV table `events` has four files, one per worker (part `i` goes to
//!   worker `i % peers`), so files 2 and 3 are read only by process 1.
//!
//! A correct total over `events`, a join of `events` with `facts` and a
//! division by zero raised only on a row of file 3 therefore prove that
//! batches and errors crossed from process 1 to process 0 and back.
//! Finally SIGTERM stops process 0, whose shutdown command must stop process 1.
//!
//! A second cluster runs the continuous-query workload of
//! `equivalence_support` (nexmark and datagen sources split over the four
//! workers, a managed table on process 0 fed while its views run): every
//! view, whose parts live on both processes, equals its batch query.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

mod equivalence_support;
mod pg_support;

/// How long the cluster may take to start (timely retries connections once a second).
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long one statement may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long each process may take to exit after SIGTERM to process 0.
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// A join of the CSV table (both processes) with a managed table
/// (process 0), grouped.
const CROSS_JOIN: &str = "SELECT e.k, count(*), sum(f.v + e.w) FROM events e \
     JOIN facts f ON e.id = f.id GROUP BY e.k ORDER BY e.k";

const PROCESSES: usize = 2;
const WORKERS_PER_PROCESS: usize = 2;

/// One started process of the cluster.
struct Proc {
    index: usize,
    child: Option<Child>,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// The processes of a cluster; killed (and their logs printed) when the
/// test fails or ends early.
struct Cluster {
    procs: Vec<Proc>,
    pg_addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts the cluster and waits until process 0 accepts pg connections.
    /// Retries with new ports when a process exits during startup (a port
    /// taken by someone else between choosing and binding it).
    async fn start() -> Self {
        let mut failures = String::new();
        for attempt in 1..=3 {
            match Self::try_start().await {
                Ok(cluster) => return cluster,
                Err(message) => {
                    eprintln!("cluster start attempt {attempt} failed:\n{message}");
                    let _ = write!(failures, "\n--- attempt {attempt} ---\n{message}");
                }
            }
        }
        panic!("the cluster did not start:{failures}");
    }

    async fn try_start() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let ports = free_ports(PROCESSES + 1);
        let hosts_file = dir.path().join("hosts");
        let hosts: String = ports[..PROCESSES]
            .iter()
            .map(|p| format!("127.0.0.1:{p}\n"))
            .collect();
        std::fs::write(&hosts_file, format!("# tidewater test cluster\n{hosts}"))
            .map_err(|e| format!("writing the hosts file: {e}"))?;
        let pg_addr: SocketAddr = format!("127.0.0.1:{}", ports[PROCESSES]).parse().unwrap();

        let mut cluster = Cluster {
            procs: Vec::new(),
            pg_addr,
            dir,
        };
        // Start the followers first: process 0 is the one that must be up last
        // for the test to proceed, and the order must not matter anyway.
        for index in (0..PROCESSES).rev() {
            cluster.spawn(index, &hosts_file)?;
        }

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let mut exited = None;
            for p in &mut cluster.procs {
                if let Some(status) = p.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                    p.child = None;
                    exited = Some((p.index, status));
                }
            }
            if let Some((index, status)) = exited {
                return Err(format!(
                    "process {index} exited during startup with {status}\n{}",
                    cluster.logs()
                ));
            }
            if let Ok(Ok((client, connection))) = tokio::time::timeout(
                Duration::from_secs(5),
                tokio_postgres::connect(&cluster.conn_str(), NoTls),
            )
            .await
            {
                drop(client);
                drop(connection);
                return Ok(cluster);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "process 0 did not accept pg connections on {pg_addr} within {START_TIMEOUT:?}\n{}",
                    cluster.logs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn spawn(&mut self, index: usize, hosts_file: &Path) -> Result<(), String> {
        let data_dir = self.dir.path().join(format!("data-{index}"));
        let stdout = self.dir.path().join(format!("process-{index}.stdout"));
        let stderr = self.dir.path().join(format!("process-{index}.stderr"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_tidewater"));
        command
            .arg("--cluster-hosts")
            .arg(hosts_file)
            .arg("--process")
            .arg(index.to_string())
            .arg("--workers")
            .arg(WORKERS_PER_PROCESS.to_string())
            .arg("--data-dir")
            .arg(&data_dir);
        if index == 0 {
            command.arg("--pg-listen").arg(self.pg_addr.to_string());
        }
        // Settings of the environment running the tests must not leak in.
        for (key, _) in std::env::vars() {
            if key.starts_with("TIDEWATER_") {
                command.env_remove(key);
            }
        }
        let child = command
            .env("TIDEWATER_LOG", "info")
            .env("RUST_BACKTRACE", "1")
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).map_err(|e| format!("{}: {e}", stdout.display()))?)
            .stderr(File::create(&stderr).map_err(|e| format!("{}: {e}", stderr.display()))?)
            .spawn()
            .map_err(|e| format!("cannot start process {index}: {e}"))?;
        self.procs.push(Proc {
            index,
            child: Some(child),
            stdout,
            stderr,
        });
        Ok(())
    }

    fn conn_str(&self) -> String {
        format!(
            "host={} port={} user=tidewater connect_timeout=5",
            self.pg_addr.ip(),
            self.pg_addr.port()
        )
    }

    fn proc(&mut self, index: usize) -> &mut Proc {
        self.procs
            .iter_mut()
            .find(|p| p.index == index)
            .expect("process exists")
    }

    /// Connects a client to process 0.
    async fn connect(&self) -> Client {
        let (client, connection) = tokio_postgres::connect(&self.conn_str(), NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to process 0: {e}\n{}", self.logs()));
        tokio::spawn(async move {
            let _ = connection.await;
        });
        // Every query on every worker of both processes: small queries
        // would otherwise run on one local worker of process 0.
        client
            .batch_execute("SET query_mode = distributed")
            .await
            .unwrap_or_else(|e| panic!("cannot set query_mode: {e}\n{}", self.logs()));
        client
    }

    /// The output of every process so far.
    fn logs(&self) -> String {
        let mut out = String::new();
        let mut procs: Vec<&Proc> = self.procs.iter().collect();
        procs.sort_by_key(|p| p.index);
        for p in procs {
            for (name, path) in [("stdout", &p.stdout), ("stderr", &p.stderr)] {
                let text =
                    std::fs::read_to_string(path).unwrap_or_else(|e| format!("<unreadable: {e}>"));
                let text = tail(&text, 200);
                let _ = writeln!(out, "===== process {} {name} =====\n{text}", p.index);
            }
        }
        out
    }

    /// Sends SIGTERM to a process.
    fn terminate(&mut self, index: usize) {
        let pid = self
            .proc(index)
            .child
            .as_ref()
            .expect("process is running")
            .id();
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid} failed: {status}");
    }

    /// Waits until a process exits, up to `timeout`.
    async fn wait_exit(&mut self, index: usize, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let p = self.proc(index);
            let child = p.child.as_mut().expect("process is running");
            if let Some(status) = child.try_wait().expect("try_wait") {
                p.child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs a simple query and returns its rows as text, failing with the
    /// processes' logs.
    async fn rows(&self, client: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
        match self.run(client, sql).await {
            Ok(rows) => rows,
            Err(e) => panic!("{sql}\nfailed: {e:?}\n{}", self.logs()),
        }
    }

    /// Runs a simple query with a timeout; the rows of its last statement.
    async fn run(
        &self,
        client: &Client,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>, tokio_postgres::Error> {
        let messages = tokio::time::timeout(QUERY_TIMEOUT, client.simple_query(sql))
            .await
            .unwrap_or_else(|_| {
                panic!("{sql}\ntook longer than {QUERY_TIMEOUT:?}\n{}", self.logs())
            })?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }

    /// Runs a query that must fail; returns its SQLSTATE and message.
    async fn error(&self, client: &Client, sql: &str) -> (String, String) {
        match self.run(client, sql).await {
            Ok(rows) => panic!(
                "{sql}\nsucceeded with {} rows but should fail\n{}",
                rows.len(),
                self.logs()
            ),
            Err(e) => match e.as_db_error() {
                Some(db) => (db.code().code().to_string(), db.message().to_string()),
                None => panic!(
                    "{sql}\nfailed without a server error: {e:?}\n{}",
                    self.logs()
                ),
            },
        }
    }

    /// Compares a query's rows with the expected ones, showing both and the logs.
    async fn check(&self, client: &Client, sql: &str, expected: Vec<Vec<Option<String>>>) {
        let actual = self.rows(client, sql).await;
        if actual != expected {
            let first_diff = actual
                .iter()
                .zip(&expected)
                .position(|(a, e)| a != e)
                .unwrap_or(actual.len().min(expected.len()));
            panic!(
                "{sql}\nwrong result: {} rows, expected {}; first difference at row {first_diff}:\n  \
                 actual:   {:?}\n  expected: {:?}\n{}",
                actual.len(),
                expected.len(),
                actual.get(first_diff),
                expected.get(first_diff),
                self.logs()
            );
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let running = self.procs.iter().any(|p| p.child.is_some());
        if std::thread::panicking() || running {
            eprintln!("{}", self.logs());
        }
        for p in &mut self.procs {
            if let Some(mut child) = p.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let skip = all.len().saturating_sub(lines);
    let mut out = String::new();
    if skip > 0 {
        let _ = writeln!(out, "[... {skip} earlier lines]");
    }
    for line in &all[skip..] {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `n` distinct loopback ports that were free a moment ago.
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local address").port())
        .collect()
}

/// A row of text values.
fn row(values: &[&dyn ToString]) -> Vec<Option<String>> {
    values.iter().map(|v| Some(v.to_string())).collect()
}

// ---------------------------------------------------------------------------
// The data.

const FACTS: i64 = 12_000;
const FACT_GROUPS: i64 = 500;
const EVENT_FILES: i64 = 4;
const EVENTS_PER_FILE: i64 = 1_000;

/// A row of `facts (id BIGINT, k INT, v BIGINT, tag TEXT)`.
#[derive(Debug, Clone)]
struct Fact {
    id: i64,
    k: i64,
    v: i64,
    tag: Option<String>,
}

fn facts() -> Vec<Fact> {
    (1..=FACTS)
        .map(|id| Fact {
            id,
            k: id % FACT_GROUPS,
            v: (id * 7919) % 10_007 - 5_000,
            tag: (id % 11 != 0).then(|| format!("t{}", id % 17)),
        })
        .collect()
}

/// `dims (k INT, name TEXT)`: keys 0..600 except multiples of 3 (some fact
/// keys have no dimension row, some dimension rows no fact).
fn dims() -> Vec<(i64, String)> {
    (0..600)
        .filter(|k| k % 3 != 0)
        .map(|k| (k, format!("n{:02}", k % 40)))
        .collect()
}

/// A row of the CSV table `events (id BIGINT, k INT, w BIGINT)`.
#[derive(Debug, Clone, Copy)]
struct Event {
    id: i64,
    k: i64,
    w: i64,
}

/// Events of file `file`: ids `file * 1000 + 1 ..= (file + 1) * 1000`.
fn events_of_file(file: i64) -> Vec<Event> {
    (file * EVENTS_PER_FILE + 1..=(file + 1) * EVENTS_PER_FILE)
        .map(|id| Event {
            id,
            k: id % 37,
            w: id % 101 + 1,
        })
        .collect()
}

fn events() -> Vec<Event> {
    (0..EVENT_FILES).flat_map(events_of_file).collect()
}

fn sql_text(value: &Option<String>) -> String {
    match value {
        Some(s) => format!("'{s}'"),
        None => "NULL".to_string(),
    }
}

// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_process_cluster_runs_shuffling_queries_and_shuts_down() {
    let mut cluster = Cluster::start().await;
    let client = cluster.connect().await;

    // Managed tables, written through process 0 in several inserts (frames
    // that process 0's two workers split between them).
    cluster
        .rows(
            &client,
            "CREATE TABLE facts (id BIGINT, k INT, v BIGINT, tag TEXT)",
        )
        .await;
    cluster
        .rows(&client, "CREATE TABLE dims (k INT, name TEXT)")
        .await;
    let facts = facts();
    for chunk in facts.chunks(1_000) {
        let mut sql = String::from("INSERT INTO facts VALUES ");
        for (i, f) in chunk.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let _ = write!(
                sql,
                "{sep}({}, {}, {}, {})",
                f.id,
                f.k,
                f.v,
                sql_text(&f.tag)
            );
        }
        cluster.rows(&client, &sql).await;
    }
    let dims = dims();
    let mut sql = String::from("INSERT INTO dims VALUES ");
    for (i, (k, name)) in dims.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(sql, "{sep}({k}, '{name}')");
    }
    cluster.rows(&client, &sql).await;

    // The CSV table: one file per worker, so process 1 reads files 2 and 3.
    let csv_dir = cluster.dir.path().join("events");
    std::fs::create_dir(&csv_dir).unwrap();
    for file in 0..EVENT_FILES {
        let mut text = String::from("id,k,w\n");
        for e in events_of_file(file) {
            let _ = writeln!(text, "{},{},{}", e.id, e.k, e.w);
        }
        std::fs::write(csv_dir.join(format!("part-{file}.csv")), text).unwrap();
    }
    let create = format!(
        "CREATE TABLE events (id BIGINT, k INT, w BIGINT) \
         WITH (connector = 'file', path = '{}', format = 'csv')",
        csv_dir.display()
    );
    cluster.rows(&client, &create).await;
    let events = events();

    // Global counts.
    cluster
        .check(&client, "SELECT count(*) FROM facts", vec![row(&[&FACTS])])
        .await;
    let total_w: i64 = events.iter().map(|e| e.w).sum();
    cluster
        .check(
            &client,
            "SELECT count(*), sum(w), min(id), max(id) FROM events",
            vec![row(&[
                &events.len(),
                &total_w,
                &1,
                &(EVENT_FILES * EVENTS_PER_FILE),
            ])],
        )
        .await;
    // Rows that only process 1 reads (files 2 and 3).
    let late: Vec<&Event> = events
        .iter()
        .filter(|e| e.id > 2 * EVENTS_PER_FILE)
        .collect();
    cluster
        .check(
            &client,
            &format!(
                "SELECT count(*), sum(w) FROM events WHERE id > {}",
                2 * EVENTS_PER_FILE
            ),
            vec![row(&[&late.len(), &late.iter().map(|e| e.w).sum::<i64>()])],
        )
        .await;

    // GROUP BY with many groups: partial aggregates on process 0, final
    // aggregates on all four workers.
    let mut groups: BTreeMap<i64, (i64, i64, i64, i64, i64)> = BTreeMap::new();
    for f in &facts {
        let g = groups.entry(f.k).or_insert((0, 0, i64::MAX, i64::MIN, 0));
        g.0 += 1;
        g.1 += f.v;
        g.2 = g.2.min(f.v);
        g.3 = g.3.max(f.v);
        g.4 += i64::from(f.tag.is_some());
    }
    assert_eq!(groups.len() as i64, FACT_GROUPS);
    cluster
        .check(
            &client,
            "SELECT k, count(*), sum(v), min(v), max(v), count(tag) FROM facts GROUP BY k ORDER BY k",
            groups
                .iter()
                .map(|(k, (n, s, lo, hi, tags))| row(&[k, n, s, lo, hi, tags]))
                .collect(),
        )
        .await;
    // Grouping by text with NULLs.
    let mut by_tag: BTreeMap<Option<String>, (i64, i64)> = BTreeMap::new();
    for f in &facts {
        let g = by_tag.entry(f.tag.clone()).or_default();
        g.0 += 1;
        g.1 += f.v;
    }
    let mut expected: Vec<Vec<Option<String>>> = by_tag
        .iter()
        .filter(|(t, _)| t.is_some())
        .map(|(t, (n, s))| vec![t.clone(), Some(n.to_string()), Some(s.to_string())])
        .collect();
    let (n, s) = by_tag[&None];
    expected.push(vec![None, Some(n.to_string()), Some(s.to_string())]);
    cluster
        .check(
            &client,
            "SELECT tag, count(*), sum(v) FROM facts GROUP BY tag ORDER BY tag NULLS LAST",
            expected,
        )
        .await;
    // GROUP BY over the CSV table, read by both processes.
    let mut event_groups: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for e in &events {
        let g = event_groups.entry(e.k).or_default();
        g.0 += 1;
        g.1 += e.w;
    }
    cluster
        .check(
            &client,
            "SELECT k, count(*), sum(w) FROM events GROUP BY k ORDER BY k",
            event_groups
                .iter()
                .map(|(k, (n, s))| row(&[k, n, s]))
                .collect(),
        )
        .await;

    // Hash join of two managed tables with a GROUP BY on top.
    let dim_names: BTreeMap<i64, &str> = dims.iter().map(|(k, n)| (*k, n.as_str())).collect();
    let mut joined: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for f in &facts {
        if let Some(name) = dim_names.get(&f.k) {
            let g = joined.entry(name).or_default();
            g.0 += 1;
            g.1 += f.v;
        }
    }
    let join_sql = "SELECT d.name, count(*), sum(f.v) FROM facts f JOIN dims d ON f.k = d.k \
                    GROUP BY d.name ORDER BY d.name";
    cluster
        .check(
            &client,
            join_sql,
            joined
                .iter()
                .map(|(name, (n, s))| row(&[name, n, s]))
                .collect(),
        )
        .await;
    // The plan shuffles both join inputs and the aggregate by hash.
    let plan: String = cluster
        .rows(&client, &format!("EXPLAIN {join_sql}"))
        .await
        .into_iter()
        .map(|r| r.into_iter().flatten().collect::<Vec<_>>().join(" ") + "\n")
        .collect();
    for needle in [
        "HashJoin",
        "[hash f.k]",
        "[hash d.k]",
        "[hash d.name]",
        "[gather]",
    ] {
        assert!(plan.contains(needle), "EXPLAIN lacks {needle:?}:\n{plan}");
    }

    // A join of the CSV table (both processes) with a managed table
    // (process 0), grouped.
    let fact_v: BTreeMap<i64, i64> = facts.iter().map(|f| (f.id, f.v)).collect();
    let mut cross: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for e in &events {
        let g = cross.entry(e.k).or_default();
        g.0 += 1;
        g.1 += fact_v[&e.id] + e.w;
    }
    let cross_rows: Vec<_> = cross.iter().map(|(k, (n, s))| row(&[k, n, s])).collect();
    cluster.check(&client, CROSS_JOIN, cross_rows.clone()).await;
    // A bigger shuffle: every fact meets every fact of its group.
    let pairs: i64 = groups.values().map(|g| g.0 * g.0).sum();
    cluster
        .check(
            &client,
            "SELECT count(*) FROM facts a JOIN facts b ON a.k = b.k",
            vec![row(&[&pairs])],
        )
        .await;

    // ORDER BY ... LIMIT (with OFFSET).
    let mut sorted = facts.clone();
    sorted.sort_by(|a, b| b.v.cmp(&a.v).then(a.id.cmp(&b.id)));
    cluster
        .check(
            &client,
            "SELECT id, v, tag FROM facts ORDER BY v DESC, id LIMIT 15 OFFSET 5",
            sorted[5..20]
                .iter()
                .map(|f| vec![Some(f.id.to_string()), Some(f.v.to_string()), f.tag.clone()])
                .collect(),
        )
        .await;
    let mut sorted_events = events.clone();
    sorted_events.sort_by(|a, b| b.w.cmp(&a.w).then(b.id.cmp(&a.id)));
    cluster
        .check(
            &client,
            "SELECT id, w FROM events ORDER BY w DESC, id DESC LIMIT 12",
            sorted_events[..12]
                .iter()
                .map(|e| row(&[&e.id, &e.w]))
                .collect(),
        )
        .await;

    // Window functions: the top two facts per group, and a running sum.
    let mut by_group: BTreeMap<i64, Vec<&Fact>> = BTreeMap::new();
    for f in &facts {
        by_group.entry(f.k).or_default().push(f);
    }
    let mut expected = Vec::new();
    for (k, members) in &mut by_group {
        members.sort_by(|a, b| b.v.cmp(&a.v).then(a.id.cmp(&b.id)));
        for (rn, f) in members.iter().take(2).enumerate() {
            expected.push(row(&[k, &(rn + 1), &f.id, &f.v]));
        }
    }
    cluster
        .check(
            &client,
            "SELECT k, rn, id, v FROM (\
               SELECT k, id, v, row_number() OVER (PARTITION BY k ORDER BY v DESC, id) AS rn \
               FROM facts) AS ranked \
             WHERE rn <= 2 ORDER BY k, rn",
            expected,
        )
        .await;
    let mut expected = Vec::new();
    let mut running: BTreeMap<i64, i64> = BTreeMap::new();
    for e in &events {
        // Events are generated in id order.
        let total = running.entry(e.k).or_default();
        *total += e.w;
        if e.k == 5 {
            expected.push(row(&[&e.id, &e.w, total]));
        }
    }
    cluster
        .check(
            &client,
            "SELECT id, w, running FROM (\
               SELECT id, k, w, sum(w) OVER (PARTITION BY k ORDER BY id \
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running \
               FROM events) AS t \
             WHERE k = 5 ORDER BY id",
            expected,
        )
        .await;

    // A parameterized query through the extended protocol.
    let count: i64 = tokio::time::timeout(
        QUERY_TIMEOUT,
        client.query_one(
            "SELECT count(*) FROM facts WHERE k = $1 AND v > $2",
            &[&7i32, &0i64],
        ),
    )
    .await
    .expect("extended query timed out")
    .unwrap_or_else(|e| panic!("extended query failed: {e:?}\n{}", cluster.logs()))
    .get(0);
    assert_eq!(
        count,
        facts.iter().filter(|f| f.k == 7 && f.v > 0).count() as i64
    );

    // Runtime errors. Only rows of file 3 pass the filter, so the division
    // by zero happens in process 1 (worker 3) and the error crosses to the
    // sink on worker 0.
    assert!(
        events
            .iter()
            .any(|e| e.id > 3 * EVENTS_PER_FILE && e.w == 1)
    );
    let failing = format!(
        "SELECT id, 100 / (w - 1) FROM events WHERE id > {}",
        3 * EVENTS_PER_FILE
    );
    // The division runs where the file is read: the only gather is the result's.
    let plan: Vec<String> = cluster
        .rows(&client, &format!("EXPLAIN {failing}"))
        .await
        .into_iter()
        .map(|r| r.into_iter().flatten().collect::<Vec<_>>().join(" "))
        .collect();
    let gathers: Vec<&String> = plan.iter().filter(|l| l.contains("[gather]")).collect();
    assert!(
        gathers.len() == 1 && gathers[0].contains("Result"),
        "expected the division before the only gather:\n{}",
        plan.join("\n")
    );
    let (state, message) = cluster.error(&client, &failing).await;
    assert_eq!(state, "22012", "{message}\n{}", cluster.logs());
    assert!(message.contains("division by zero"), "{message}");
    // An error after a shuffle, on every worker's final aggregate.
    let (state, message) = cluster
        .error(&client, "SELECT k, sum(v) / (k - k) FROM facts GROUP BY k")
        .await;
    assert_eq!(state, "22012", "{message}\n{}", cluster.logs());
    // The session and the cluster still answer, with exact results.
    cluster
        .check(&client, "SELECT count(*) FROM facts", vec![row(&[&FACTS])])
        .await;
    cluster.check(&client, CROSS_JOIN, cross_rows.clone()).await;
    // A new session too, choosing where queries run by their size: the
    // managed tables on a local worker of process 0, the files on the
    // cluster (they may be on any host).
    let second = cluster.connect().await;
    second.batch_execute("SET query_mode = auto").await.unwrap();
    cluster
        .check(
            &second,
            "SELECT count(*) FROM events",
            vec![row(&[&events.len()])],
        )
        .await;
    cluster.check(&second, CROSS_JOIN, cross_rows.clone()).await;
    cluster
        .check(&second, "SELECT count(*) FROM facts", vec![row(&[&FACTS])])
        .await;
    drop(second);

    // SIGTERM to process 0, with a client still connected: it stops, and
    // its shutdown command stops process 1.
    cluster.terminate(0);
    let status = cluster.wait_exit(0, EXIT_TIMEOUT).await;
    let status = status.unwrap_or_else(|| {
        panic!(
            "process 0 did not exit within {EXIT_TIMEOUT:?} of SIGTERM\n{}",
            cluster.logs()
        )
    });
    assert!(
        status.success(),
        "process 0 exited with {status}\n{}",
        cluster.logs()
    );
    let status = cluster.wait_exit(1, EXIT_TIMEOUT).await;
    let status = status.unwrap_or_else(|| {
        panic!(
            "process 1 did not exit within {EXIT_TIMEOUT:?} of process 0's shutdown\n{}",
            cluster.logs()
        )
    });
    assert!(
        status.success(),
        "process 1 exited with {status}\n{}",
        cluster.logs()
    );
    let closed = Instant::now() + EXIT_TIMEOUT;
    while !client.is_closed() {
        assert!(
            Instant::now() < closed,
            "the client's connection is still open after process 0 exited"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let logs = cluster.logs();
    assert!(!logs.contains("panicked"), "a process panicked:\n{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_process_cluster_views_equal_their_batch_queries() {
    // The processes' logs are printed if a check fails (see `Drop`).
    let cluster = Cluster::start().await;
    let client = cluster.connect().await;
    equivalence_support::nexmark_views(&client, "the two-process cluster").await;
    equivalence_support::managed_views(&client, "the two-process cluster").await;
    let logs = cluster.logs();
    assert!(!logs.contains("panicked"), "a process panicked:\n{logs}");
}
