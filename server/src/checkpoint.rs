//! Checkpoints of materialized views' jobs: where they are stored, how a
//! job is checkpointed while it runs, and how it is restored at start-up.
//!
//! The runtime cuts a job consistently at an epoch
//! ([`tidewater_runtime::checkpoint`]); this module writes each cut to the
//! checkpoint store, an [`ObjectStore`] (a directory under the data
//! directory, `checkpoints/`):
//!
//! ```text
//! checkpoints/job-<view oid>/state/<sha-256>.arrow        a state segment (content-addressed)
//! checkpoints/job-<view oid>/<seq, 20 digits>/manifest.json  one checkpoint, written last
//! ```
//!
//! An operator instance's keyed state is split into segments: the key
//! groups of one range of [`SEGMENT_KEY_GROUPS`] and one schema (a join
//! holds rows of both sides). A segment is Arrow IPC with one batch per key
//! group (the manifest lists them in order), named by the SHA-256 of its
//! bytes. Checkpoints are incremental: a segment whose content has not
//! changed since an earlier checkpoint exists already and is not written
//! again, so a checkpoint uploads only the key-group ranges that changed;
//! every manifest still names a complete state, so no chain of deltas is
//! ever replayed or compacted. The manifest is written last, in one atomic
//! put: a checkpoint without a readable manifest does not exist, so a
//! process killed while writing leaves the previous checkpoint in force.
//! Only the newest `checkpoint_retain` checkpoints are kept; segments no
//! kept manifest names are deleted.
//!
//! A job is checkpointed when it can be resumed exactly: every source is
//! a connector whose readers resume from offsets (managed tables,
//! `datagen`, `nexmark`), the query reads no other view and no constant
//! rows, and the server is a single process. Other jobs are recomputed
//! from their sources at start-up, as before.
//!
//! Each checkpointed job has a task that asks the runtime for a cut every
//! `checkpoint_interval` and writes the cuts it gets, off the worker
//! threads. At start-up, a job whose plan has the fingerprint of its
//! latest checkpoint restores from it: its operators take their key
//! groups' state, its sources resume at the saved offsets.

use std::collections::{BTreeMap, VecDeque};
use std::io::Cursor;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tidewater_runtime::Epoch;
use tidewater_runtime::checkpoint::{Cut, JobCheckpoint, RestoredState};
use tidewater_runtime::plan::{DataflowPlan, NodeKind};
use tidewater_runtime::source::{ConnectorRegistry, SplitOffsets};
use tidewater_runtime::state::StateSnapshot;

use crate::error::{SqlError, SqlResult};

/// How long `CHECKPOINT` waits for the checkpoint of one job.
const CHECKPOINT_TIMEOUT: Duration = Duration::from_secs(60);

/// The checkpoint settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointSettings {
    /// How often a running job is checkpointed.
    pub interval: Duration,
    /// How many completed checkpoints of a job are kept.
    pub retain: usize,
}

impl Default for CheckpointSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(10),
            retain: 3,
        }
    }
}

/// Key groups per state segment.
const SEGMENT_KEY_GROUPS: u64 = 16;

/// One state segment of an operator instance in a manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SegmentEntry {
    /// The segment's file name under the job's `state/`.
    file: String,
    /// The key group of each batch of the file, in order.
    key_groups: Vec<u64>,
    rows: usize,
    bytes: usize,
}

/// One operator instance's state in a manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OperatorEntry {
    node: usize,
    worker: usize,
    segments: Vec<SegmentEntry>,
    watermark: Option<i64>,
}

/// One source instance's offsets in a manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SourceEntry {
    node: usize,
    offsets: SplitOffsets,
}

/// A checkpoint's manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    version: u32,
    job: u64,
    seq: u64,
    /// The epoch the cut is at (of the run that took it).
    epoch: Epoch,
    /// Whether every input had ended.
    ended: bool,
    /// The plan's fingerprint: a restore needs the same plan.
    fingerprint: String,
    /// Workers of the run that took it.
    workers: usize,
    wall_time_micros: i64,
    duration_micros: u64,
    operators: Vec<OperatorEntry>,
    sources: Vec<SourceEntry>,
}

const MANIFEST: &str = "manifest.json";
const MANIFEST_VERSION: u32 = 2;
const STATE: &str = "state";

/// A completed checkpoint, as `SHOW CHECKPOINTS` lists it.
#[derive(Debug, Clone)]
pub struct CheckpointInfo {
    /// The view's object id.
    pub job: u64,
    /// Its number (per job, increasing).
    pub seq: u64,
    /// The epoch of the cut.
    pub epoch: Epoch,
    /// When it became durable.
    pub wall_time: SystemTime,
    /// Bytes of the state the checkpoint holds.
    pub bytes: u64,
    /// Bytes of it written by this checkpoint (segments that changed).
    pub written: u64,
    /// From the request of the cut to the manifest's write.
    pub duration: Duration,
    /// From the cut's completion (every operator's state copied) to the
    /// manifest's write: encoding and uploading, off the workers.
    pub write: Duration,
    /// The longest an operator was paused to copy its state.
    pub pause: Duration,
    /// State bytes per plan node (summed over instances), by node name.
    pub operators: Vec<(String, u64)>,
}

/// The checkpoint store of the server.
#[derive(Debug)]
pub struct CheckpointStore {
    store: Arc<dyn ObjectStore>,
    settings: CheckpointSettings,
}

fn store_error(e: impl std::fmt::Display) -> SqlError {
    SqlError::new("58030", format!("checkpoint store: {e}"))
}

fn job_prefix(job: u64) -> StorePath {
    StorePath::from(format!("checkpoints/job-{job}"))
}

fn checkpoint_prefix(job: u64, seq: u64) -> StorePath {
    StorePath::from(format!("checkpoints/job-{job}/{seq:020}"))
}

/// The fingerprint of a plan's nodes (a restore needs the same dataflow;
/// the query's settings may differ).
pub fn fingerprint(plan: &DataflowPlan) -> String {
    // Through a JSON value, whose objects are ordered by key: the plan's
    // maps (field metadata) iterate in no fixed order.
    let bytes = serde_json::to_value(&plan.nodes)
        .and_then(|v| serde_json::to_vec(&v))
        .unwrap_or_default();
    // FNV-1a: stable across builds and platforms.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Whether a job running `plan` can be checkpointed (see the module docs).
pub fn checkpointable(plan: &DataflowPlan, connectors: &ConnectorRegistry) -> bool {
    plan.nodes.iter().all(|n| match &n.kind {
        NodeKind::Scan(spec) => connectors
            .get(&spec.connector)
            .is_ok_and(|c| c.can_resume()),
        NodeKind::ViewScan { .. }
        | NodeKind::Input { .. }
        | NodeKind::Values { .. }
        | NodeKind::Rows { .. }
        | NodeKind::Series { .. } => false,
        _ => true,
    })
}

/// Where checkpoints are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// `checkpoints/` under the data directory.
    DataDir,
    /// An S3-compatible bucket: its name, the key prefix (possibly empty)
    /// and the S3 builder's options (over the `AWS_*` environment).
    S3 {
        /// The bucket.
        bucket: String,
        /// Keys start with it.
        prefix: String,
        /// `object_store`'s S3 options (`endpoint`, `region`…), checked.
        options: Vec<(object_store::aws::AmazonS3ConfigKey, String)>,
    },
}

impl StoreLocation {
    /// The location of `url` (`s3://bucket[/prefix]`; none: the data
    /// directory) with `options`.
    ///
    /// # Errors
    ///
    /// Another scheme, no bucket, or an option the S3 builder does not know.
    pub fn parse(url: Option<&str>, options: &BTreeMap<String, String>) -> Result<Self, String> {
        let Some(url) = url else {
            if let Some(key) = options.keys().next() {
                return Err(format!(
                    "checkpoint_store_options ({key}) given without a checkpoint_store"
                ));
            }
            return Ok(Self::DataDir);
        };
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            format!("checkpoint_store must be an s3://bucket/prefix URL, not '{url}'")
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("checkpoint_store '{url}' names no bucket"));
        }
        let options = options
            .iter()
            .map(|(key, value)| {
                key.parse()
                    .map(|k| (k, value.clone()))
                    .map_err(|_| format!("unknown checkpoint_store_options key '{key}'"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self::S3 {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            options,
        })
    }
}

impl CheckpointStore {
    /// The store at `location` (`data_dir` for [`StoreLocation::DataDir`]).
    ///
    /// # Errors
    ///
    /// When the directory cannot be created or the S3 client not built.
    pub fn open(
        data_dir: &std::path::Path,
        location: &StoreLocation,
        settings: CheckpointSettings,
    ) -> SqlResult<Self> {
        let (bucket, prefix, options) = match location {
            StoreLocation::DataDir => return Self::open_local(data_dir, settings),
            StoreLocation::S3 {
                bucket,
                prefix,
                options,
            } => (bucket, prefix, options),
        };
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (key, value) in options {
            builder = builder.with_config(*key, value);
        }
        let s3: Arc<dyn ObjectStore> = Arc::new(builder.build().map_err(store_error)?);
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            s3
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(
                s3,
                StorePath::from(prefix.as_str()),
            ))
        };
        Ok(Self { store, settings })
    }

    /// The store in `data_dir/checkpoints`.
    ///
    /// # Errors
    ///
    /// When the directory cannot be created.
    pub fn open_local(data_dir: &std::path::Path, settings: CheckpointSettings) -> SqlResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(store_error)?;
        let store = LocalFileSystem::new_with_prefix(data_dir)
            .map_err(store_error)?
            .with_automatic_cleanup(true);
        Ok(Self {
            store: Arc::new(store),
            settings,
        })
    }

    /// The settings.
    pub fn settings(&self) -> CheckpointSettings {
        self.settings
    }

    /// The sequence numbers of `job`'s checkpoints, newest first.
    async fn list(&self, job: u64) -> SqlResult<Vec<u64>> {
        let listing = self
            .store
            .list_with_delimiter(Some(&job_prefix(job)))
            .await
            .map_err(store_error)?;
        let mut seqs: Vec<u64> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().and_then(|f| f.parse().ok()))
            .collect();
        seqs.sort_unstable_by(|a, b| b.cmp(a));
        Ok(seqs)
    }

    async fn manifest(&self, job: u64, seq: u64) -> Option<Manifest> {
        let path = checkpoint_prefix(job, seq).join(MANIFEST);
        let bytes = self.store.get(&path).await.ok()?.bytes().await.ok()?;
        match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(m) if m.version == MANIFEST_VERSION && m.job == job && m.seq == seq => Some(m),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(job, seq, error = %e, "ignoring an unreadable checkpoint manifest");
                None
            }
        }
    }

    /// Deletes every checkpoint of `job` (its view was dropped).
    pub async fn delete_job(&self, job: u64) -> SqlResult<()> {
        let prefix = job_prefix(job);
        let paths: Vec<StorePath> = self
            .store
            .list(Some(&prefix))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(store_error)?;
        for path in paths {
            self.store.delete(&path).await.map_err(store_error)?;
        }
        Ok(())
    }

    /// Deletes the checkpoints of `job` older than the newest `retain`
    /// complete ones and incomplete ones older than the newest complete,
    /// then the state segments no kept manifest names.
    async fn trim(&self, job: u64) -> SqlResult<()> {
        let mut kept: Vec<Manifest> = Vec::new();
        for seq in self.list(job).await? {
            if kept.len() >= self.settings.retain {
                self.delete_checkpoint(job, seq).await?;
            } else if let Some(m) = self.manifest(job, seq).await {
                kept.push(m);
            } else if !kept.is_empty() {
                self.delete_checkpoint(job, seq).await?;
            }
        }
        let named: std::collections::BTreeSet<&str> = kept
            .iter()
            .flat_map(|m| &m.operators)
            .flat_map(|o| &o.segments)
            .map(|s| s.file.as_str())
            .collect();
        let stored: Vec<StorePath> = self
            .store
            .list(Some(&job_prefix(job).join(STATE)))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(store_error)?;
        for path in stored {
            if path.filename().is_some_and(|f| !named.contains(f)) {
                self.store.delete(&path).await.map_err(store_error)?;
            }
        }
        Ok(())
    }

    async fn delete_checkpoint(&self, job: u64, seq: u64) -> SqlResult<()> {
        let prefix = checkpoint_prefix(job, seq);
        // The manifest first: a half-deleted checkpoint does not exist.
        let _ = self.store.delete(&prefix.clone().join(MANIFEST)).await;
        let paths: Vec<StorePath> = self
            .store
            .list(Some(&prefix))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(store_error)?;
        for path in paths {
            self.store.delete(&path).await.map_err(store_error)?;
        }
        Ok(())
    }

    /// Writes `cut` as checkpoint `seq` of `job`; returns what it wrote.
    async fn write(
        &self,
        job: u64,
        seq: u64,
        cut: Cut,
        plan: &DataflowPlan,
        fingerprint: &str,
        workers: usize,
    ) -> SqlResult<CheckpointInfo> {
        let state = job_prefix(job).join(STATE);
        let mut operators = Vec::new();
        let mut by_node: BTreeMap<usize, u64> = BTreeMap::new();
        let (mut total, mut written) = (0u64, 0u64);
        for (node, worker, snapshot) in cut.operators {
            let mut segments = Vec::new();
            for (bytes, key_groups, rows) in encode_segments(&snapshot)? {
                let file = format!("{}.arrow", content_name(&bytes));
                let path = state.clone().join(file.as_str());
                // An unchanged segment is stored already (incremental).
                if self.store.head(&path).await.is_err() {
                    written += bytes.len() as u64;
                    self.store
                        .put(&path, bytes.clone().into())
                        .await
                        .map_err(store_error)?;
                }
                total += bytes.len() as u64;
                *by_node.entry(node).or_default() += bytes.len() as u64;
                segments.push(SegmentEntry {
                    file,
                    key_groups,
                    rows,
                    bytes: bytes.len(),
                });
            }
            operators.push(OperatorEntry {
                node,
                worker,
                segments,
                watermark: snapshot.watermark,
            });
        }
        let wall_time = SystemTime::now();
        let manifest = Manifest {
            version: MANIFEST_VERSION,
            job,
            seq,
            epoch: cut.epoch,
            ended: cut.ended,
            fingerprint: fingerprint.to_string(),
            workers,
            wall_time_micros: wall_time
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as i64),
            duration_micros: cut.requested.elapsed().as_micros() as u64,
            operators,
            sources: cut
                .sources
                .into_iter()
                .map(|(node, offsets)| SourceEntry { node, offsets })
                .collect(),
        };
        let json = serde_json::to_vec_pretty(&manifest).map_err(store_error)?;
        self.store
            .put(&checkpoint_prefix(job, seq).join(MANIFEST), json.into())
            .await
            .map_err(store_error)?;
        let duration = cut.requested.elapsed();
        let write = cut.completed.elapsed();
        self.trim(job).await?;
        Ok(CheckpointInfo {
            job,
            seq,
            epoch: cut.epoch,
            wall_time,
            bytes: total,
            written,
            duration,
            write,
            pause: cut.pause,
            operators: by_node
                .into_iter()
                .map(|(node, bytes)| {
                    let name = plan
                        .nodes
                        .get(node)
                        .map_or("?", |n| n.kind.name())
                        .to_string();
                    (format!("{node}:{name}"), bytes)
                })
                .collect(),
        })
    }

    /// What restoring `job` from its latest checkpoint gives `plan`: the
    /// plan with its sources' offsets, the operators' state, and the next
    /// checkpoint number. `None` when there is no checkpoint, or it was
    /// taken of another plan (the job is then recomputed). A checkpoint
    /// whose state cannot be read is skipped for the one before it.
    pub async fn restore(
        &self,
        job: u64,
        plan: &DataflowPlan,
    ) -> SqlResult<(Option<(DataflowPlan, RestoredState)>, u64)> {
        let seqs = self.list(job).await?;
        let next = seqs.first().map_or(1, |s| s + 1);
        for seq in seqs {
            let Some(manifest) = self.manifest(job, seq).await else {
                continue;
            };
            if manifest.fingerprint != fingerprint(plan) {
                tracing::warn!(
                    job,
                    seq,
                    "the view's plan changed since its checkpoint: recomputing it"
                );
                return Ok((None, next));
            }
            match self.load(job, manifest, plan).await {
                Ok(restored) => return Ok((Some(restored), next)),
                Err(e) => tracing::warn!(
                    job,
                    seq,
                    error = %e.message,
                    "skipping a checkpoint whose state cannot be read"
                ),
            }
        }
        Ok((None, next))
    }

    /// The state and source offsets of checkpoint `manifest`.
    async fn load(
        &self,
        job: u64,
        manifest: Manifest,
        plan: &DataflowPlan,
    ) -> SqlResult<(DataflowPlan, RestoredState)> {
        let state = job_prefix(job).join(STATE);
        let mut instances: BTreeMap<usize, Vec<StateSnapshot>> = BTreeMap::new();
        for entry in &manifest.operators {
            let mut snapshot = StateSnapshot {
                watermark: entry.watermark,
                ..StateSnapshot::default()
            };
            for segment in &entry.segments {
                let bytes = self
                    .store
                    .get(&state.clone().join(segment.file.as_str()))
                    .await
                    .map_err(store_error)?
                    .bytes()
                    .await
                    .map_err(store_error)?;
                if content_name(&bytes) != segment.file.trim_end_matches(".arrow") {
                    return Err(store_error(format!("segment {} is damaged", segment.file)));
                }
                let batches = decode_batches(&bytes)?;
                if batches.len() != segment.key_groups.len() {
                    return Err(store_error(format!(
                        "segment {} holds {} key groups, its manifest {}",
                        segment.file,
                        batches.len(),
                        segment.key_groups.len()
                    )));
                }
                for (kg, batch) in segment.key_groups.iter().zip(batches) {
                    snapshot.key_groups.entry(*kg).or_default().push(batch);
                }
            }
            instances.entry(entry.node).or_default().push(snapshot);
        }
        let restored = RestoredState {
            nodes: instances
                .into_iter()
                .map(|(node, parts)| (node, StateSnapshot::merge(parts)))
                .collect(),
        };
        let mut offsets: BTreeMap<usize, SplitOffsets> = BTreeMap::new();
        for entry in manifest.sources {
            offsets.entry(entry.node).or_default().extend(entry.offsets);
        }
        let mut plan = plan.clone();
        for (id, node) in plan.nodes.iter_mut().enumerate() {
            if let NodeKind::Scan(spec) = &mut node.kind {
                spec.resume = Some(offsets.remove(&id).unwrap_or_default());
            }
        }
        tracing::info!(
            job,
            seq = manifest.seq,
            epoch = manifest.epoch,
            "restoring a materialized view from its checkpoint"
        );
        Ok((plan, restored))
    }
}

/// The name of a segment: the SHA-256 of its bytes, in hex.
fn content_name(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An encoded segment: its Arrow IPC bytes, the key group of each batch,
/// and its rows.
type Segment = (Vec<u8>, Vec<u64>, usize);

/// A snapshot's keyed state as segments (see the module docs).
fn encode_segments(snapshot: &StateSnapshot) -> SqlResult<Vec<Segment>> {
    // (key-group range, schema) -> the key groups' batches, in order.
    type Groups = Vec<(u64, Vec<RecordBatch>)>;
    let mut segments: BTreeMap<(u64, usize), Groups> = BTreeMap::new();
    let mut schemas: Vec<arrow::datatypes::SchemaRef> = Vec::new();
    for (kg, parts) in &snapshot.key_groups {
        for part in parts.iter().filter(|b| b.num_rows() > 0) {
            let schema = match schemas.iter().position(|s| s == part.schema_ref()) {
                Some(i) => i,
                None => {
                    schemas.push(part.schema());
                    schemas.len() - 1
                }
            };
            let groups = segments
                .entry((kg / SEGMENT_KEY_GROUPS, schema))
                .or_default();
            match groups.last_mut() {
                Some((last, batches)) if last == kg => batches.push(part.clone()),
                _ => groups.push((*kg, vec![part.clone()])),
            }
        }
    }
    let mut encoded = Vec::new();
    for ((_, schema), groups) in segments {
        let schema = &schemas[schema];
        let mut bytes = Vec::new();
        let mut rows = 0;
        let mut key_groups = Vec::new();
        {
            let mut writer = FileWriter::try_new(&mut bytes, schema).map_err(store_error)?;
            for (kg, batches) in &groups {
                let batch = concat_batches(schema, batches).map_err(store_error)?;
                rows += batch.num_rows();
                key_groups.push(*kg);
                writer.write(&batch).map_err(store_error)?;
            }
            writer.finish().map_err(store_error)?;
        }
        encoded.push((bytes, key_groups, rows));
    }
    Ok(encoded)
}

fn decode_batches(bytes: &[u8]) -> SqlResult<Vec<RecordBatch>> {
    let reader = FileReader::try_new(Cursor::new(bytes), None).map_err(store_error)?;
    reader.collect::<Result<Vec<_>, _>>().map_err(store_error)
}

/// The checkpointing of one running job: the runtime's coordination, and
/// the checkpoints written so far (newest last).
#[derive(Debug)]
pub struct JobCheckpointer {
    /// The runtime's coordination of the job.
    pub job: Arc<JobCheckpoint>,
    written: Mutex<VecDeque<CheckpointInfo>>,
    durable: tokio::sync::watch::Sender<(u64, Epoch)>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for JobCheckpointer {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().take() {
            task.abort();
        }
    }
}

/// Checkpoints kept in memory per job for `SHOW CHECKPOINTS`.
const LISTED: usize = 10;

impl JobCheckpointer {
    /// Starts checkpointing a job: `job` coordinates it in the runtime,
    /// `cuts` receives its complete cuts; checkpoints are numbered from
    /// `next_seq`.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        store: Arc<CheckpointStore>,
        view: u64,
        job: Arc<JobCheckpoint>,
        mut cuts: tokio::sync::mpsc::UnboundedReceiver<Cut>,
        plan: DataflowPlan,
        workers: usize,
        next_seq: u64,
    ) -> Arc<Self> {
        let this = Arc::new(Self {
            job: Arc::clone(&job),
            written: Mutex::new(VecDeque::new()),
            durable: tokio::sync::watch::Sender::new((0, 0)),
            task: Mutex::new(None),
        });
        let weak = Arc::downgrade(&this);
        let fingerprint = fingerprint(&plan);
        let interval = store.settings().interval;
        let task = tokio::spawn(async move {
            let mut seq = next_seq;
            let mut timer = tokio::time::interval(interval);
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is immediate: skip it.
            timer.tick().await;
            let mut ended = false;
            loop {
                tokio::select! {
                    _ = timer.tick(), if !ended => {
                        job.request();
                    }
                    cut = cuts.recv() => {
                        let Some(cut) = cut else { return };
                        let epoch = cut.epoch;
                        ended = cut.ended;
                        match store.write(view, seq, cut, &plan, &fingerprint, workers).await {
                            Ok(info) => {
                                tracing::debug!(view, seq, epoch, bytes = info.bytes, "checkpoint written");
                                let Some(this) = weak.upgrade() else { return };
                                let mut written = this.written.lock();
                                written.push_back(info);
                                while written.len() > LISTED {
                                    written.pop_front();
                                }
                                drop(written);
                                this.durable.send_replace((seq, epoch));
                            }
                            Err(e) => {
                                tracing::warn!(view, seq, error = %e.message, "checkpoint failed");
                            }
                        }
                        seq += 1;
                    }
                }
            }
        });
        *this.task.lock() = Some(task);
        this
    }

    /// Stops writing checkpoints, and returns once a write in progress
    /// is abandoned (a torn checkpoint has no manifest: it does not exist).
    pub async fn stop(&self) {
        let task = self.task.lock().take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    /// The checkpoints written since the job started, oldest first.
    pub fn written(&self) -> Vec<CheckpointInfo> {
        self.written.lock().iter().cloned().collect()
    }

    /// Takes a checkpoint now and waits until it is durable.
    ///
    /// # Errors
    ///
    /// When none is durable within [`CHECKPOINT_TIMEOUT`].
    pub async fn checkpoint_now(&self, name: &str) -> SqlResult<()> {
        let deadline = tokio::time::Instant::now() + CHECKPOINT_TIMEOUT;
        let mut durable = self.durable.subscribe();
        let before = durable.borrow().0;
        // A cut in progress completes first; then this one is requested.
        let mut requested = None;
        loop {
            if requested.is_none() {
                requested = self.job.request().map(|_| *durable.borrow());
            }
            let changed = tokio::time::timeout_at(
                deadline.min(tokio::time::Instant::now() + Duration::from_millis(20)),
                durable.changed(),
            )
            .await;
            let (seq, _) = *durable.borrow();
            if let Some((at_request, _)) = requested
                && seq > at_request
                && seq > before
            {
                return Ok(());
            }
            if matches!(changed, Ok(Err(_))) || tokio::time::Instant::now() >= deadline {
                return Err(SqlError::new(
                    "57014",
                    format!("CHECKPOINT timed out waiting for materialized view {name}"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use tidewater_runtime::expr::SchemaIr;
    use tidewater_runtime::plan::{PlanNode, QueryConfig};
    use tidewater_runtime::source::SourceSpec;

    fn plan() -> DataflowPlan {
        DataflowPlan {
            nodes: vec![PlanNode {
                kind: NodeKind::Scan(SourceSpec {
                    connector: "datagen".into(),
                    table: "t".into(),
                    options: Default::default(),
                    schema: Schema::empty(),
                    projection: None,
                    limit: None,
                    watermark: None,
                    resume: None,
                }),
                inputs: vec![],
                schema: SchemaIr { columns: vec![] },
            }],
            root: 0,
            config: QueryConfig::default(),
        }
    }

    fn numbers(values: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values.to_vec()))]).unwrap()
    }

    fn names(values: &[&str]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(values.to_vec()))]).unwrap()
    }

    /// A cut of one operator holding `n` in key group 40, and two schemas
    /// in key group 3 (as a join holds both sides).
    fn cut(epoch: Epoch, n: i64) -> Cut {
        let mut snapshot = StateSnapshot::default();
        snapshot
            .key_groups
            .insert(3, vec![numbers(&[1, 2]), names(&["a"])]);
        snapshot.key_groups.insert(40, vec![numbers(&[n])]);
        snapshot.watermark = Some(epoch as i64);
        Cut {
            epoch,
            ended: false,
            operators: vec![(0, 0, snapshot)],
            sources: vec![(0, SplitOffsets::from([(0, epoch * 10)]))],
            requested: std::time::Instant::now(),
            completed: std::time::Instant::now(),
            pause: Duration::ZERO,
        }
    }

    /// The restored value of key group 40 and the source's offset.
    async fn restored(store: &CheckpointStore) -> Option<(i64, u64)> {
        let (restored, _) = store.restore(9, &plan()).await.unwrap();
        let (plan, state) = restored?;
        let node = &state.nodes[&0];
        assert_eq!(node.key_groups[&3].len(), 2, "both schemas of key group 3");
        let n = node.key_groups[&40][0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0);
        let NodeKind::Scan(spec) = &plan.nodes[0].kind else {
            unreachable!()
        };
        Some((n, spec.resume.as_ref().unwrap()[&0]))
    }

    #[tokio::test]
    async fn checkpoints_are_incremental_and_a_torn_one_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let settings = CheckpointSettings {
            interval: Duration::from_secs(1),
            retain: 2,
        };
        let store = CheckpointStore::open_local(dir.path(), settings).unwrap();
        let fp = fingerprint(&plan());
        assert_eq!(restored(&store).await, None);
        let first = store
            .write(9, 1, cut(1, 100), &plan(), &fp, 1)
            .await
            .unwrap();
        assert_eq!(first.written, first.bytes);
        assert_eq!(restored(&store).await, Some((100, 10)));
        // Only key group 40's segment changed: the other is not written again.
        let second = store
            .write(9, 2, cut(2, 200), &plan(), &fp, 1)
            .await
            .unwrap();
        assert!(second.written < second.bytes, "{second:?}");
        assert_eq!(restored(&store).await, Some((200, 20)));

        let manifest = dir
            .path()
            .join("checkpoints/job-9/00000000000000000002/manifest.json");
        let text = std::fs::read(&manifest).unwrap();
        // A truncated manifest: the previous checkpoint restores.
        std::fs::write(&manifest, &text[..text.len() / 2]).unwrap();
        assert_eq!(restored(&store).await, Some((100, 10)));
        // Killed before the manifest's put: its segments may be written,
        // its directory is not (it holds only the manifest).
        std::fs::remove_dir_all(manifest.parent().unwrap()).unwrap();
        assert_eq!(restored(&store).await, Some((100, 10)));
        assert_eq!(store.restore(9, &plan()).await.unwrap().1, 2);

        // A damaged segment makes its checkpoint unreadable: the one
        // before restores.
        store
            .write(9, 3, cut(3, 300), &plan(), &fp, 1)
            .await
            .unwrap();
        assert_eq!(restored(&store).await, Some((300, 30)));
        let m: Manifest = serde_json::from_slice(
            &std::fs::read(
                dir.path()
                    .join("checkpoints/job-9/00000000000000000003/manifest.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let segment = m.operators[0]
            .segments
            .iter()
            .find(|s| s.key_groups == [40])
            .unwrap();
        let path = dir
            .path()
            .join("checkpoints/job-9/state")
            .join(&segment.file);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(restored(&store).await, Some((100, 10)));

        // Retention: two complete checkpoints are kept, and only the
        // segments they name.
        store
            .write(9, 4, cut(4, 400), &plan(), &fp, 1)
            .await
            .unwrap();
        store
            .write(9, 5, cut(5, 500), &plan(), &fp, 1)
            .await
            .unwrap();
        let mut kept: Vec<String> = std::fs::read_dir(dir.path().join("checkpoints/job-9"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        kept.sort();
        assert_eq!(
            kept,
            ["00000000000000000004", "00000000000000000005", "state"]
        );
        // Key group 3's segments (shared) and 40's of checkpoints 4 and 5.
        let segments = std::fs::read_dir(dir.path().join("checkpoints/job-9/state"))
            .unwrap()
            .count();
        assert_eq!(segments, 4);
        assert_eq!(restored(&store).await, Some((500, 50)));

        // Another plan does not restore from these checkpoints.
        let mut other = plan();
        other.root = 1;
        if let NodeKind::Scan(spec) = &mut other.nodes[0].kind {
            spec.table = "u".into();
        }
        assert!(store.restore(9, &other).await.unwrap().0.is_none());
        store.delete_job(9).await.unwrap();
        assert_eq!(restored(&store).await, None);
    }
}
