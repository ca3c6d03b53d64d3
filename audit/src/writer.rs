//! The single writer thread: group commit.
//!
//! Callers put their record on a channel and wait for the reply. The writer takes everything
//! that is queued (up to `max_batch`), assigns seqs, chains the hashes, writes the whole batch
//! with one `write` and makes it durable with one `fdatasync`, then updates the index and
//! answers every caller. While one fsync is in flight the next batch accumulates, so under load
//! the number of fsyncs grows much more slowly than the number of records.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::time::Instant;

use serde::Serialize;

use crate::chain::{Loc, SegmentInfo};
use crate::error::{io_err, ChainBreak};
use crate::index::State;
use crate::record::{encode, AdminRecord, FeedbackRecord, PredictionRecord, PurgeRecord, Record};
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
    /// Batches written and fsynced (= fsyncs of segment data).
    pub commits: u64,
    /// Records made durable.
    pub records: u64,
    /// Sum of write+fsync durations, µs (histogram `_sum`).
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
    pub integrity: Mutex<Option<ChainBreak>>,
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

pub(crate) struct Writer {
    pub shared: Arc<Shared>,
    pub file: File,
    /// All live segments, oldest first; the last one is the active segment.
    pub segments: Vec<SegmentInfo>,
    pub seg_day: u64,
    pub next_seq: u64,
    pub prev_hash: String,
    pub last_time_ms: u64,
    pub poisoned: Option<String>,
    pub max_segment_bytes: u64,
    pub max_batch: usize,
    pub retention_ms: u64,
    pub clock: Clock,
}

impl Writer {
    /// Opens (or creates) the active segment for appending.
    pub(crate) fn open_segment(path: &std::path::Path) -> Result<File> {
        OpenOptions::new().create(true).append(true).open(path).map_err(io_err(path))
    }

    pub(crate) fn run(mut self, rx: mpsc::Receiver<Cmd>) {
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
                        self.commit(std::mem::take(&mut appends));
                        let r = self.purge(now_ms);
                        let _ = reply.send(r);
                    }
                }
            }
            self.commit(appends);
        }
        // Channel closed: Audit dropped. Everything acknowledged is already durable.
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

    /// Starts a new segment named after the next seq. The old one is already fsynced.
    fn rotate(&mut self, day: u64) -> Result<()> {
        let path = self.shared.dir.join(segment_name(self.next_seq));
        let file = Self::open_segment(&path)?;
        sync_dir(&self.shared.dir)?;
        self.file = file;
        self.seg_day = day;
        self.segments.push(SegmentInfo {
            first_seq: self.next_seq,
            path,
            last: None,
            first_time_ms: None,
            last_time_ms: 0,
            bytes: 0,
        });
        Ok(())
    }

    fn commit(&mut self, appends: Vec<(Pending, Reply)>) {
        if appends.is_empty() {
            return;
        }
        if let Some(p) = &self.poisoned {
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
        let time = format_rfc3339(now);
        let (start_seq, start_prev) = (self.next_seq, self.prev_hash.clone());
        let seg = self.active().first_seq;
        let base = self.active().bytes;
        let mut buf: Vec<u8> = Vec::with_capacity(appends.len() * 512);
        let mut done: Vec<(Record, Loc, Reply)> = Vec::with_capacity(appends.len());
        {
            let st = read(&self.shared.state);
            let mut batch_ids: HashSet<(Tenant, String)> = HashSet::new();
            for (p, reply) in appends {
                let (seq, prev) = (self.next_seq, std::mem::take(&mut self.prev_hash));
                let mut rec = match p {
                    Pending::Prediction(mut r) => {
                        let dup = st
                            .tenants
                            .get(&r.tenant)
                            .is_some_and(|t| t.by_request.contains_key(&crate::index::RequestKey::of(&r.request_id)));
                        if dup || !batch_ids.insert((r.tenant.clone(), r.request_id.clone())) {
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
        let t0 = Instant::now();
        let path = self.active().path.clone();
        if let Err(e) = self.file.write_all(&buf) {
            // Nothing was acknowledged: cut the partial batch off and carry on (e.g. disk full).
            let rolled_back = self.file.set_len(base).and_then(|_| self.file.sync_data());
            if let Err(e2) = rolled_back {
                self.poisoned =
                    Some(format!("write to {} failed ({e}) and could not be rolled back ({e2})", path.display()));
                tracing::error!(error = %e2, "audit log poisoned");
            }
            self.fail(start_seq, start_prev, done, format!("write to {} failed: {e}", path.display()));
            return;
        }
        if let Err(e) = self.file.sync_data() {
            // After a failed fsync the page cache state is unknown (Linux may drop the dirty pages
            // and report success next time): stop accepting records until a restart re-reads disk.
            let msg = format!("fsync of {} failed: {e}", path.display());
            tracing::error!(%msg, "audit log poisoned");
            self.poisoned = Some(msg.clone());
            self.fail(start_seq, start_prev, done, msg);
            return;
        }
        let us = t0.elapsed().as_micros() as u64;
        self.last_time_ms = now;
        let last_hash = self.prev_hash.clone();
        let last_seq = self.next_seq - 1;
        let a = self.active();
        a.bytes += buf.len() as u64;
        a.first_time_ms.get_or_insert(now);
        a.last_time_ms = now;
        a.last = Some((last_seq, last_hash.clone()));
        {
            let mut st = write(&self.shared.state);
            for (rec, loc, _) in &done {
                st.apply(rec, *loc);
            }
        }
        *lock(&self.shared.head) = (last_seq, last_hash);
        self.shared.stats.record(done.len() as u64, us);
        for (rec, _, reply) in done {
            let request_id = match &rec {
                Record::Prediction(p) => p.request_id.clone(),
                Record::Feedback(f) => f.request_id.clone(),
                Record::Purge(_) | Record::Admin(_) => String::new(),
            };
            reply.send(Ok(Receipt { seq: rec.seq(), hash: rec.hash().to_string(), time: time.clone(), request_id }));
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
    fn purge(&mut self, now_ms: u64) -> Result<PurgeReport> {
        if let Some(p) = &self.poisoned {
            return Err(AuditError::Unavailable(p.clone()));
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
            self.commit(vec![(Pending::Purge(rec), Reply::Sync(tx))]);
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
