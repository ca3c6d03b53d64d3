//! The writer: pipelined group commit.
//!
//! Callers put their record on a channel and wait for the reply. The writer thread takes
//! everything that is queued (up to `max_batch`), assigns seqs, chains the hashes and writes the
//! whole batch with one positional write into the active segment. A second thread, the sync
//! thread, takes every written batch, makes them durable with one `fdatasync`, updates the index
//! and answers every caller. So the next batch is encoded and written while the previous one
//! syncs, and under load the number of fsyncs grows much more slowly than the number of
//! records. Nobody is answered before the `fdatasync` that covers their record has returned.
//!
//! Segment files are preallocated with zeros ahead of the records ([`PREALLOC_CHUNK`]), so most
//! commits overwrite existing space and `fdatasync` need not commit a size change to the file
//! system journal. Readers and crash recovery stop at the first NUL byte (record lines never
//! contain one); sealed segments are cut to their exact length.

use std::collections::{HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release};
use std::sync::{mpsc, Arc, Condvar, Mutex, RwLock};
use std::time::Instant;

use serde::Serialize;

use crate::chain::{Loc, SegmentInfo};
use crate::error::{io_err, ChainBreak};
use crate::index::RequestKey;
use crate::record::{encode, AdminRecord, FeedbackRecord, PredictionRecord, PurgeRecord, Record};
use crate::state::State;
use crate::storage::{segment_name, sync_dir, write_anchor, Anchor};
use crate::time::{format_rfc3339, DAY_MS};
use crate::{AuditError, Clock, Result, Tenant};

/// Proof that a record is durable: its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub seq: u64,
    pub hash: String,
    /// RFC 3339 commit time.
    pub time: String,
    pub request_id: String,
}

/// What retention did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    /// Segment files deleted.
    pub segments: usize,
    /// Records deleted with them.
    pub records: u64,
    /// The new anchor (also recorded in the chain as a purge record), if anything was deleted.
    pub anchor: Option<Anchor>,
}

pub(crate) enum Reply {
    Sync(mpsc::SyncSender<Result<Receipt>>),
    Async(tokio::sync::oneshot::Sender<Result<Receipt>>),
}

impl Reply {
    fn send(self, r: Result<Receipt>) {
        // A caller that gave up (dropped future) just does not hear about it; the record stays.
        match self {
            Reply::Sync(tx) => drop(tx.send(r)),
            Reply::Async(tx) => drop(tx.send(r)),
        }
    }
}

pub(crate) enum Pending {
    Prediction(PredictionRecord),
    Feedback(FeedbackRecord),
    Purge(PurgeRecord),
    Admin(AdminRecord),
}

#[allow(clippy::large_enum_variant)] // appends are the common case; boxing would only add an allocation
pub(crate) enum Cmd {
    Append(Pending, Reply),
    Purge { now_ms: u64, reply: mpsc::SyncSender<Result<PurgeReport>> },
}

/// Upper bounds (µs) of the commit latency histogram buckets.
pub const LATENCY_BUCKETS_US: [u64; 12] =
    [50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 1_000_000];

/// Group-commit statistics, for Prometheus.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CommitStats {
    /// Fsync groups made durable (= fsyncs of segment data; one group can hold several written
    /// batches).
    pub commits: u64,
    /// Records made durable.
    pub records: u64,
    /// Sum of commit durations, µs (histogram `_sum`): from the start of the first write of an
    /// fsync group to the end of its `fdatasync` (so it includes waiting for the sync thread).
    pub commit_micros_total: u64,
    pub last_batch_size: u64,
    pub max_batch_size: u64,
    pub last_commit_micros: u64,
    pub max_commit_micros: u64,
    /// Cumulative histogram of commit latency: (upper bound µs, commits <= bound); the `+Inf`
    /// bucket is `commits`.
    pub latency_buckets: Vec<(u64, u64)>,
    /// Appends refused because the writer could not write or fsync.
    pub failed_commits: u64,
}

#[derive(Default)]
pub(crate) struct Stats {
    commits: AtomicU64,
    records: AtomicU64,
    micros: AtomicU64,
    last_batch: AtomicU64,
    max_batch: AtomicU64,
    last_us: AtomicU64,
    max_us: AtomicU64,
    failed: AtomicU64,
    buckets: [AtomicU64; LATENCY_BUCKETS_US.len()],
}

impl Stats {
    fn record(&self, n: u64, us: u64) {
        self.commits.fetch_add(1, Relaxed);
        self.records.fetch_add(n, Relaxed);
        self.micros.fetch_add(us, Relaxed);
        self.last_batch.store(n, Relaxed);
        self.max_batch.fetch_max(n, Relaxed);
        self.last_us.store(us, Relaxed);
        self.max_us.fetch_max(us, Relaxed);
        if let Some(i) = LATENCY_BUCKETS_US.iter().position(|b| us <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
    }
    pub fn snapshot(&self) -> CommitStats {
        let mut acc = 0;
        CommitStats {
            commits: self.commits.load(Relaxed),
            records: self.records.load(Relaxed),
            commit_micros_total: self.micros.load(Relaxed),
            last_batch_size: self.last_batch.load(Relaxed),
            max_batch_size: self.max_batch.load(Relaxed),
            last_commit_micros: self.last_us.load(Relaxed),
            max_commit_micros: self.max_us.load(Relaxed),
            latency_buckets: LATENCY_BUCKETS_US
                .iter()
                .zip(&self.buckets)
                .map(|(b, c)| {
                    acc += c.load(Relaxed);
                    (*b, acc)
                })
                .collect(),
            failed_commits: self.failed.load(Relaxed),
        }
    }
}

/// State shared between the writer thread and readers.
pub(crate) struct Shared {
    pub dir: PathBuf,
    pub state: RwLock<State>,
    pub stats: Stats,
    /// Last acknowledged (seq, hash).
    pub head: Mutex<(u64, String)>,
    /// First chain break found by `open` (old damage; the log keeps working).
    pub integrity: Mutex<Integrity>,
    /// Signalled when the background check of the sealed segments is done.
    pub integrity_checked: Condvar,
    /// Set when the log must stop accepting records (a failed fsync): why.
    pub poisoned: Mutex<Option<String>>,
    /// Highest seq that is durable and in the index.
    pub durable_seq: AtomicU64,
}

/// What is known about old damage to the chain.
pub(crate) struct Integrity {
    /// The sealed segments are still being checked in the background.
    pub pending: bool,
    pub first_break: Option<ChainBreak>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
pub(crate) fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}
pub(crate) fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

/// Preallocation step of the active segment, in bytes (at most; smaller segments use a quarter
/// of their size). The writer keeps the segment's size ahead of its contents by writing zeros
/// this far past the end, so that most group commits overwrite space that already exists:
/// `fdatasync` then flushes data only. Extending the file on every commit changes its size, a
/// metadata update that makes each `fdatasync` commit the file system journal as well.
/// Zeros are written rather than `fallocate`d: on ext4 a write into fallocated (unwritten)
/// space converts the extent, which is again metadata that `fdatasync` must commit.
pub(crate) const PREALLOC_CHUNK: u64 = 1 << 20;

static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// A written batch on its way to the sync thread.
struct SyncJob {
    /// A segment sealed before this batch: its index is written to disk before the batch is
    /// applied, so the checkpoint written with it holds exactly that segment's records.
    seal: Option<SegmentInfo>,
    file: Arc<File>,
    path: PathBuf,
    records: Vec<(Record, Loc, Reply)>,
    time: String,
    written: Instant,
}

pub(crate) struct Writer {
    pub shared: Arc<Shared>,
    pub file: Arc<File>,
    /// All live segments, oldest first; the last one is the active segment.
    pub segments: Vec<SegmentInfo>,
    pub seg_day: u64,
    pub next_seq: u64,
    pub prev_hash: String,
    pub last_time_ms: u64,
    pub max_segment_bytes: u64,
    pub max_batch: usize,
    pub retention_ms: u64,
    pub clock: Clock,
    /// Size of the active segment file: zeros from its logical end (`active().bytes`) to here.
    pub prealloc_end: u64,
    /// Request ids written but not yet durable (so not yet in the index), by the last seq of
    /// their batch: duplicates must be refused against these too.
    pub inflight: VecDeque<(u64, Vec<(Tenant, RequestKey)>)>,
    pub inflight_ids: HashSet<(Tenant, RequestKey)>,
    /// A sealed segment whose index the sync thread has not been told to write yet.
    pub pending_seal: Option<SegmentInfo>,
}

impl Writer {
    /// Opens (or creates) a segment for writing. Writes are positional (at the segment's
    /// logical end), not appends: the file may be longer than its contents (preallocated).
    pub(crate) fn open_segment(path: &std::path::Path) -> Result<File> {
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io_err(path))
    }

    /// The writer loop. Group commit is pipelined over two threads: this one takes what is
    /// queued, assigns seqs, chains hashes and writes the batch; the sync thread takes every
    /// written batch, makes them durable with one `fdatasync`, updates the index and answers
    /// the callers. So the next batch is encoded and written while the previous one syncs, and
    /// nobody hears back before the `fdatasync` that covers their record has returned.
    pub(crate) fn run(mut self, rx: mpsc::Receiver<Cmd>) {
        let (sync_tx, sync_rx) = mpsc::channel::<SyncJob>();
        let shared = self.shared.clone();
        let syncer =
            std::thread::Builder::new().name("komp-audit-sync".into()).spawn(move || sync_loop(shared, sync_rx));
        let syncer = match syncer {
            Ok(h) => Some(h),
            Err(e) => {
                // Every append is refused (poisoned): nothing could be made durable.
                *lock(&self.shared.poisoned) = Some(format!("cannot start the audit sync thread: {e}"));
                None
            }
        };
        let mut batch = Vec::new();
        while let Ok(cmd) = rx.recv() {
            batch.push(cmd);
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(c) => batch.push(c),
                    Err(_) => break,
                }
            }
            let mut appends = Vec::with_capacity(batch.len());
            for cmd in batch.drain(..) {
                match cmd {
                    Cmd::Append(p, r) => appends.push((p, r)),
                    Cmd::Purge { now_ms, reply } => {
                        // keep order: what was queued before the purge commits first
                        self.commit(std::mem::take(&mut appends), &sync_tx);
                        let r = self.purge(now_ms, &sync_tx);
                        let _ = reply.send(r);
                    }
                }
            }
            self.commit(appends, &sync_tx);
        }
        // Channel closed: Audit dropped. Let the sync thread finish what was written (its callers
        // are still waiting), then give the active segment back its exact length.
        drop(sync_tx);
        if let Some(h) = syncer {
            let _ = h.join();
        }
        if lock(&self.shared.poisoned).is_none() {
            let bytes = self.active().bytes;
            if self.prealloc_end > bytes {
                if let Err(e) = self.file.set_len(bytes).and_then(|_| self.file.sync_all()) {
                    tracing::warn!(error = %e, "audit: could not trim the preallocated end of the active segment");
                }
            }
        }
    }

    fn active(&mut self) -> &mut SegmentInfo {
        self.segments.last_mut().expect("there is always an active segment")
    }

    fn now(&self) -> u64 {
        self.clock.now_ms().max(self.last_time_ms)
    }

    fn maybe_rotate(&mut self, now: u64) -> Result<()> {
        let day = now / DAY_MS;
        let bytes = self.active().bytes;
        if bytes == 0 {
            self.seg_day = day;
            return Ok(());
        }
        if bytes < self.max_segment_bytes && self.seg_day == day {
            return Ok(());
        }
        self.rotate(day)
    }

    /// Seals the active segment and starts a new one named after the next seq. Sealing cuts the
    /// preallocated zeros off (sealed segments are exactly their records) and fsyncs the file
    /// before the new segment exists. So after a crash only the last segment can end in zeros or
    /// a torn batch: the old segment's last batch may still be waiting for the sync thread, and
    /// it must not be lost behind a newer segment. (Its callers are still answered by the sync
    /// thread, after its own `fdatasync`.)
    fn rotate(&mut self, day: u64) -> Result<()> {
        let old = self.active().path.clone();
        let bytes = self.active().bytes;
        if self.prealloc_end > bytes {
            self.file.set_len(bytes).map_err(io_err(&old))?;
            self.prealloc_end = bytes;
        }
        if let Err(e) = self.file.sync_all() {
            let msg = format!("fsync of {} failed: {e}", old.display());
            tracing::error!(%msg, "audit log poisoned");
            *lock(&self.shared.poisoned) = Some(msg);
            return Err(io_err(&old)(e));
        }
        let path = self.shared.dir.join(segment_name(self.next_seq));
        let file = Self::open_segment(&path)?;
        sync_dir(&self.shared.dir)?;
        let sealed = self.active().clone();
        if sealed.last.is_some() {
            self.pending_seal = Some(SegmentInfo { file_len: sealed.bytes, ..sealed });
        }
        self.file = Arc::new(file);
        self.prealloc_end = 0;
        self.seg_day = day;
        self.segments.push(SegmentInfo {
            first_seq: self.next_seq,
            path,
            last: None,
            first_time_ms: None,
            last_time_ms: 0,
            bytes: 0,
            file_len: 0,
        });
        Ok(())
    }

    /// Forgets in-flight request ids whose batches the sync thread has made durable (and put
    /// into the index).
    fn prune_inflight(&mut self) {
        let durable = self.shared.durable_seq.load(Acquire);
        while self.inflight.front().is_some_and(|(last, _)| *last <= durable) {
            for id in self.inflight.pop_front().unwrap().1 {
                self.inflight_ids.remove(&id);
            }
        }
    }

    fn poisoned(&self) -> Option<String> {
        lock(&self.shared.poisoned).clone()
    }

    fn commit(&mut self, appends: Vec<(Pending, Reply)>, sync_tx: &mpsc::Sender<SyncJob>) {
        if appends.is_empty() {
            return;
        }
        if let Some(p) = self.poisoned() {
            for (_, r) in appends {
                r.send(Err(AuditError::Unavailable(p.clone())));
            }
            return;
        }
        let now = self.now();
        if let Err(e) = self.maybe_rotate(now) {
            let msg = e.to_string();
            self.shared.stats.failed.fetch_add(1, Relaxed);
            for (_, r) in appends {
                r.send(Err(AuditError::Unavailable(msg.clone())));
            }
            return;
        }
        self.prune_inflight();
        let time = format_rfc3339(now);
        let (start_seq, start_prev) = (self.next_seq, self.prev_hash.clone());
        let seg = self.active().first_seq;
        let base = self.active().bytes;
        let mut buf: Vec<u8> = Vec::with_capacity(appends.len() * 512);
        let mut done: Vec<(Record, Loc, Reply)> = Vec::with_capacity(appends.len());
        let mut batch_ids: HashSet<(Tenant, RequestKey)> = HashSet::new();
        {
            let st = read(&self.shared.state);
            for (p, reply) in appends {
                let (seq, prev) = (self.next_seq, std::mem::take(&mut self.prev_hash));
                let mut rec = match p {
                    Pending::Prediction(mut r) => {
                        let id = (r.tenant, RequestKey::of(&r.request_id));
                        let indexed = match st.find_pred(&r.tenant, &id.1) {
                            Ok(p) => p.is_some(),
                            Err(e) => {
                                // Uniqueness cannot be checked: refuse rather than risk a duplicate.
                                self.prev_hash = prev;
                                reply.send(Err(AuditError::Unavailable(format!("cannot check the request id: {e}"))));
                                continue;
                            }
                        };
                        let dup = indexed || self.inflight_ids.contains(&id);
                        if dup || !batch_ids.insert(id) {
                            self.prev_hash = prev;
                            reply.send(Err(AuditError::DuplicateRequestId));
                            continue;
                        }
                        (r.seq, r.time, r.time_ms, r.prev_hash) = (seq, time.clone(), now, prev);
                        Record::Prediction(r)
                    }
                    Pending::Feedback(mut f) => {
                        (f.seq, f.time, f.time_ms, f.prev_hash) = (seq, time.clone(), now, prev);
                        Record::Feedback(f)
                    }
                    Pending::Purge(mut p) => {
                        (p.seq, p.time, p.time_ms, p.prev_hash) = (seq, time.clone(), now, prev);
                        Record::Purge(p)
                    }
                    Pending::Admin(mut a) => {
                        (a.seq, a.time, a.time_ms, a.prev_hash) = (seq, time.clone(), now, prev);
                        Record::Admin(a)
                    }
                };
                let (line, hash) = encode(&rec);
                let loc = Loc { seg, off: base + buf.len() as u64, len: line.len() as u32 };
                buf.extend_from_slice(&line);
                buf.push(b'\n');
                rec.set_hash(hash.clone());
                self.prev_hash = hash;
                self.next_seq += 1;
                done.push((rec, loc, reply));
            }
        }
        if done.is_empty() {
            return;
        }
        let written = Instant::now();
        let path = self.active().path.clone();
        if let Err(e) = self.file.write_all_at(&buf, base) {
            // Nothing was acknowledged: blank the partial batch again (a later, shorter batch must
            // not leave pieces of it behind) and carry on (e.g. disk full).
            if let Err(e2) = write_zeros(&self.file, base, base + buf.len() as u64) {
                let msg = format!("write to {} failed ({e}) and could not be rolled back ({e2})", path.display());
                tracing::error!(%msg, "audit log poisoned");
                *lock(&self.shared.poisoned) = Some(msg);
            }
            self.fail(start_seq, start_prev, done, format!("write to {} failed: {e}", path.display()));
            return;
        }
        let end = base + buf.len() as u64;
        if end > self.prealloc_end {
            self.preallocate(end, &path);
        }
        self.last_time_ms = now;
        let last = (self.next_seq - 1, self.prev_hash.clone());
        let a = self.active();
        a.bytes = end;
        a.first_time_ms.get_or_insert(now);
        a.last_time_ms = now;
        a.last = Some(last.clone());
        if !batch_ids.is_empty() {
            self.inflight_ids.extend(batch_ids.iter().cloned());
            self.inflight.push_back((last.0, batch_ids.into_iter().collect()));
        }
        let job =
            SyncJob { seal: self.pending_seal.take(), file: self.file.clone(), path, records: done, time, written };
        if let Err(mpsc::SendError(job)) = sync_tx.send(job) {
            // The sync thread is gone (it cannot be, short of a panic): nothing can become durable.
            let msg = "audit sync thread stopped".to_string();
            *lock(&self.shared.poisoned) = Some(msg.clone());
            self.fail(start_seq, start_prev, job.records, msg);
        }
    }

    /// Extends the active segment with zeros up to the next multiple of the preallocation step
    /// past `end`. Best effort: if it fails (disk full) the records are still written, and the
    /// file simply grows with each commit, as it would without preallocation.
    fn preallocate(&mut self, end: u64, path: &std::path::Path) {
        let chunk = (self.max_segment_bytes / 4).clamp(4096, PREALLOC_CHUNK);
        let target = end.div_ceil(chunk) * chunk;
        match write_zeros(&self.file, end, target) {
            Ok(()) => self.prealloc_end = target,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "audit: could not preallocate segment space");
                self.prealloc_end = end;
            }
        }
    }

    fn fail(&mut self, start_seq: u64, start_prev: String, done: Vec<(Record, Loc, Reply)>, msg: String) {
        self.next_seq = start_seq;
        self.prev_hash = start_prev;
        self.shared.stats.failed.fetch_add(1, Relaxed);
        for (_, _, r) in done {
            r.send(Err(AuditError::Unavailable(msg.clone())));
        }
    }

    /// Retention: deletes the oldest whole segments whose newest record is older than the
    /// retention period. Order: (1) durable purge record, (2) anchor file, (3) delete files.
    /// A crash between the steps is finished by the next `open`.
    fn purge(&mut self, now_ms: u64, sync_tx: &mpsc::Sender<SyncJob>) -> Result<PurgeReport> {
        if let Some(p) = self.poisoned() {
            return Err(AuditError::Unavailable(p));
        }
        let cutoff = now_ms.saturating_sub(self.retention_ms);
        let active = self.active();
        if active.last.is_some() && active.last_time_ms < cutoff {
            // The whole active segment has expired (no traffic for months): seal it.
            self.rotate(self.now() / DAY_MS)?;
        }
        let n = self.segments[..self.segments.len() - 1]
            .iter()
            .take_while(|s| s.last.is_none() || s.last_time_ms < cutoff)
            .count();
        if n == 0 {
            return Ok(PurgeReport::default());
        }
        let victims: Vec<SegmentInfo> = self.segments[..n].to_vec();
        let last = victims.iter().rev().find_map(|s| s.last.clone().map(|l| (l, s.last_time_ms)));
        let mut report = PurgeReport { segments: n, records: 0, anchor: None };
        if let Some(((through_seq, through_hash), through_time)) = last {
            let first = self.anchor_seq_floor(&victims);
            report.records = through_seq + 1 - first;
            let rec = PurgeRecord {
                seq: 0,
                time: String::new(),
                time_ms: 0,
                through_seq,
                through_hash: through_hash.clone(),
                through_time_ms: through_time,
                segments: victims.iter().map(|s| s.path.file_name().unwrap().to_string_lossy().into_owned()).collect(),
                retention_secs: self.retention_ms / 1000,
                prev_hash: String::new(),
                hash: String::new(),
            };
            let (tx, rx) = mpsc::sync_channel(1);
            self.commit(vec![(Pending::Purge(rec), Reply::Sync(tx))], sync_tx);
            let receipt = rx.recv().map_err(|_| AuditError::Unavailable("purge record lost".into()))??;
            let anchor = Anchor { seq: through_seq, hash: through_hash, time_ms: through_time, purge_seq: receipt.seq };
            write_anchor(&self.shared.dir, &anchor)?;
            report.anchor = Some(anchor);
            write(&self.shared.state).purge_through(through_seq);
        }
        for s in &victims {
            match fs::remove_file(&s.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&s.path)(e)),
            }
            // Derived data: a leftover index file is ignored (and replaced) by the next open.
            let _ = fs::remove_file(crate::sealed::index_path(&self.shared.dir, s.first_seq));
        }
        sync_dir(&self.shared.dir)?;
        self.segments.drain(..n);
        tracing::info!(segments = n, records = report.records, "audit retention purge");
        Ok(report)
    }

    fn anchor_seq_floor(&self, victims: &[SegmentInfo]) -> u64 {
        victims.first().map_or(1, |s| s.first_seq)
    }
}

/// Writes zeros over `[from, to)` of `file`.
fn write_zeros(file: &File, from: u64, to: u64) -> std::io::Result<()> {
    let mut off = from;
    while off < to {
        let n = (to - off).min(ZEROS.len() as u64) as usize;
        file.write_all_at(&ZEROS[..n], off)?;
        off += n as u64;
    }
    Ok(())
}

/// The sync thread: makes written batches durable and only then answers their callers.
///
/// It takes every batch that is waiting and issues one `fdatasync` per file among them (a
/// rotation can put two segments in one group). `fdatasync` covers every write that completed
/// before it was called, and a batch reaches this thread only after its write completed. If an
/// `fdatasync` fails, the log is poisoned: after a failed fsync Linux may drop the dirty pages
/// and report success next time, so every batch from then on is refused until a restart
/// re-reads the disk.
fn sync_loop(shared: Arc<Shared>, rx: mpsc::Receiver<SyncJob>) {
    while let Ok(job) = rx.recv() {
        let mut jobs = vec![job];
        while let Ok(j) = rx.try_recv() {
            jobs.push(j);
        }
        let mut failure = lock(&shared.poisoned).clone();
        if failure.is_none() {
            let mut synced: Vec<*const File> = Vec::with_capacity(2);
            for j in &jobs {
                if synced.contains(&Arc::as_ptr(&j.file)) {
                    continue;
                }
                if let Err(e) = j.file.sync_data() {
                    let msg = format!("fsync of {} failed: {e}", j.path.display());
                    tracing::error!(%msg, "audit log poisoned");
                    *lock(&shared.poisoned) = Some(msg.clone());
                    failure = Some(msg);
                    break;
                }
                synced.push(Arc::as_ptr(&j.file));
            }
        }
        if let Some(msg) = failure {
            shared.stats.failed.fetch_add(1, Relaxed);
            for j in jobs {
                for (_, _, r) in j.records {
                    r.send(Err(AuditError::Unavailable(msg.clone())));
                }
            }
            continue;
        }
        let us = jobs[0].written.elapsed().as_micros() as u64;
        let n: usize = jobs.iter().map(|j| j.records.len()).sum();
        let last = jobs.last().and_then(|j| j.records.last()).map(|(r, _, _)| (r.seq(), r.hash().to_string()));
        for j in &jobs {
            if let Some(seg) = &j.seal {
                // Once a day or per 64 MiB: the sealed segment's index goes to disk and its
                // memory is freed. If that fails the index stays in memory (still correct) and
                // the next start rebuilds the file.
                if let Err(e) = seal_shared(&shared.dir, &shared.state, seg) {
                    tracing::warn!(segment = %seg.path.display(), error = %e, "audit: could not write a segment index");
                }
            }
            let mut st = write(&shared.state);
            for (rec, loc, _) in &j.records {
                if let Err(e) = st.apply(rec, *loc) {
                    // Durable, but not indexed: the next start re-reads it (see `index_incomplete`).
                    tracing::error!(seq = rec.seq(), error = %e, "audit: could not index a durable record");
                    st.index_incomplete = true;
                }
            }
        }
        if let Some(last) = last {
            shared.durable_seq.store(last.0, Release);
            *lock(&shared.head) = last;
        }
        shared.stats.record(n as u64, us);
        for j in jobs {
            for (rec, _, reply) in j.records {
                let request_id = match &rec {
                    Record::Prediction(p) => p.request_id.clone(),
                    Record::Feedback(f) => f.request_id.clone(),
                    Record::Purge(_) | Record::Admin(_) => String::new(),
                };
                reply.send(Ok(Receipt {
                    seq: rec.seq(),
                    hash: rec.hash().to_string(),
                    time: j.time.clone(),
                    request_id,
                }));
            }
        }
    }
}

/// [`crate::load::seal`] on the shared state while the log runs: the index file is written under
/// a read lock (queries go on), the swap and the checkpoint's snapshot take the write lock briefly.
fn seal_shared(dir: &std::path::Path, state: &RwLock<State>, segment: &SegmentInfo) -> Result<()> {
    let Some((last_seq, _)) = &segment.last else { return Ok(()) };
    let path = {
        let st = read(state);
        if st.index_incomplete {
            return Ok(());
        }
        let Some(crate::state::SegIndex::Memory(mem)) = st.segments.get(&segment.first_seq) else { return Ok(()) };
        crate::sealed::write(dir, segment, mem)?
    };
    let snapshot = crate::load::swap_in(&mut write(state), segment.first_seq, *last_seq, &path)?;
    crate::checkpoint::save(dir, &snapshot)
}
