//! # komp-audit: the prediction audit log
//!
//! Every prediction the municipal host makes is recorded here before the answer leaves the host
//! (EU AI Act art. 12 record keeping), and the caseworker's decision about it is
//! linked to it (art. 14 human oversight; the feedback loop municipalities asked for).
//!
//! * **Minimal**: records hold a keyed hash of the input ([`Audit::input_hmac`]), never the input.
//! * **Tamper-evident**: records form a SHA-256 hash chain; [`Audit::verify`]/[`verify_dir`]
//!   find any edited, deleted, inserted or reordered record.
//! * **Durable before acknowledged**: [`Audit::append`] returns only after `fdatasync`; a single
//!   writer thread batches concurrent appends into one write + one fsync (group commit).
//! * **Crash-safe**: after a kill at any moment [`Audit::open`] cuts off the torn last line (it
//!   was never acknowledged) and continues the chain.
//! * **Tenant-isolated**: every read takes the tenant; another tenant's records are "not found".
//! * **Retention**: [`Audit::purge_expired`] deletes whole expired segments and leaves an anchor
//!   plus a purge record so verification still works.
//!
//! See `README.md` for the on-disk format and the reasoning behind it.

mod chain;
mod checkpoint;
mod error;
mod index;
mod load;
mod record;
mod sealed;
mod state;
mod storage;
mod tenant;
mod time;
mod window;
mod writer;

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

pub use chain::{verify_dir, VerifyReport};
pub use error::{AuditError, ChainBreak, Result};
pub use index::{Kind, Monitoring};
pub use record::{
    new_request_id, AdminAction, AdminEvent, AdminRecord, Coverage, Decision, Feedback, FeedbackRecord, InputHmac,
    NewRecord, OperatingPointUsed, Outcome, PredictionRecord, PurgeRecord, Record, GENESIS_HASH, MAX_ADMIN_DETAILS,
    MAX_ERROR_CHARS, MAX_NOTE_CHARS,
};
pub use storage::Anchor;
pub use tenant::{InvalidTenant, Tenant};
pub use time::{format_rfc3339, ms_system_time, now_rfc3339, parse_rfc3339, system_time_ms};
pub use window::{Observation, DEFAULT_WINDOW};
pub use writer::{CommitStats, PurgeReport, Receipt, LATENCY_BUCKETS_US};

use chain::{walk_from, Loc};
use error::io_err;
use state::State;
use storage::{load_or_create_key, scan_lines, segment_name, sync_dir, write_anchor, KEY_FILE, LOCK_FILE};
use writer::{lock, read, Cmd, Integrity, Pending, Reply, Shared, Writer};

/// Minimum retention: the AI Act (art. 19, art. 26(6)) asks for logs to be kept at least six months.
pub const MIN_RETENTION: Duration = Duration::from_secs(183 * 86_400);
/// Default page size of [`Audit::query`].
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page [`Audit::query`] returns.
pub const MAX_LIMIT: usize = 10_000;

/// Source of "now" for record times. Real time by default; tests and simulations of retention
/// substitute their own.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> SystemTime + Send + Sync>);

impl Clock {
    /// A clock driven by `f`.
    pub fn new(f: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        Clock(Arc::new(f))
    }
    fn now_ms(&self) -> u64 {
        system_time_ms((self.0)())
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new(SystemTime::now)
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// Tunables. The defaults suit a municipal host; see README.md.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// How long records are kept; at least [`MIN_RETENTION`] (183 days). Default 183 days.
    pub retention: Duration,
    /// A segment is closed when it reaches this size (it is also closed when the UTC day
    /// changes, so retention can delete by day). Default 64 MiB.
    pub max_segment_bytes: u64,
    /// Most records per group commit. Default 4096.
    pub max_batch: usize,
    /// Where the HMAC key lives. Default `DIR/hmac.key`; put it elsewhere if copies of the log
    /// directory are handed out, so that the copies cannot be used to test guessed inputs.
    pub key_file: Option<PathBuf>,
    /// Time source for record times (default: system clock).
    pub clock: Clock,
    /// Most recent successful predictions kept per (tenant, component) for drift monitoring
    /// ([`Audit::drift_window`]). Default [`DEFAULT_WINDOW`]; 0 keeps none.
    pub drift_window: usize,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            retention: MIN_RETENTION,
            max_segment_bytes: 64 << 20,
            max_batch: 4096,
            key_file: None,
            clock: Clock::default(),
            drift_window: DEFAULT_WINDOW,
        }
    }
}

/// Which end of the log [`Audit::query`] starts from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Newest first (the default: "what happened lately").
    #[default]
    NewestFirst,
    /// Oldest first (for paging through a period in chain order).
    OldestFirst,
}

/// Query filter. All conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct Filter {
    pub component: Option<String>,
    /// Only records of this kind (predictions, feedback or admin actions); all when `None`.
    pub kind: Option<Kind>,
    /// Inclusive lower bound on commit time.
    #[serde(skip)]
    pub since: Option<SystemTime>,
    /// Exclusive upper bound on commit time.
    #[serde(skip)]
    pub until: Option<SystemTime>,
    /// Page cursor: only records strictly after this seq *in the chosen order* (`seq > after_seq`
    /// oldest-first, `seq < after_seq` newest-first). Pass the last seq of the previous page.
    pub after_seq: Option<u64>,
    /// Page size; default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`].
    pub limit: Option<usize>,
    pub order: Order,
}

/// A prediction together with all feedback given on it (oldest first; the last one counts).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    pub prediction: PredictionRecord,
    pub feedback: Vec<FeedbackRecord>,
}

/// Monitoring counters of one (tenant, component).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitoringEntry {
    pub tenant: Tenant,
    pub component: String,
    #[serde(flatten)]
    pub monitoring: Monitoring,
}

/// The audit log of one host. Cheap to clone (shared handle); dropping the last clone stops the
/// writer thread after everything queued has been committed.
#[derive(Clone)]
pub struct Audit {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    tx: Option<mpsc::Sender<Cmd>>,
    handle: Option<std::thread::JoinHandle<()>>,
    key: [u8; 32],
    _lock: File,
}

impl Drop for Inner {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl fmt::Debug for Audit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Audit").field("dir", &self.inner.shared.dir).finish_non_exhaustive()
    }
}

impl Audit {
    /// Opens (creating if needed) the audit log in `dir`, recovering from any crash: a torn last
    /// line is moved to `DIR/recovered/` and cut off, an interrupted purge is completed, and the
    /// index, monitoring counters and drift windows are restored: from the sealed segments'
    /// index files and the checkpoint plus the active segment's records when those agree with the
    /// segments, else from every record. Old damage to the chain does not stop the log
    /// (availability matters, and appending does not hide it); it is logged and available from
    /// [`Audit::integrity`]. Only one process may open a directory at a time.
    pub fn open(dir: impl AsRef<Path>, config: AuditConfig) -> Result<Audit> {
        let dir = dir.as_ref().to_path_buf();
        if config.retention < MIN_RETENTION {
            return Err(AuditError::InvalidRecord(format!(
                "retention must be at least {} days",
                MIN_RETENTION.as_secs() / 86_400
            )));
        }
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock_file =
            OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(io_err(&lock_path))?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(AuditError::Locked(dir)),
            Err(fs::TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
        }
        let key = load_or_create_key(&config.key_file.clone().unwrap_or_else(|| dir.join(KEY_FILE)))?;

        // 0. The state: from the sealed segments' index files and the checkpoint if they agree
        //    with the segments (then only the segments after them are read), else from every
        //    record, writing the index files as the walk goes.
        let fresh = || {
            let mut s = State::default();
            s.windows.max = config.drift_window;
            s
        };
        let mut state = fresh();
        let files = storage::list_segments(&dir)?;
        let anchor = storage::read_anchor(&dir)?;
        let mut w;
        let sealed = match load::from_index(&dir, &files, anchor.as_ref(), &mut state) {
            Some(s) => {
                w = walk_from(&dir, s.rest, Some(s.start), false, &mut load::Rebuild { dir: &dir, state: &mut state })?;
                s.segments
            }
            None => {
                state = fresh();
                let idir = sealed::index_dir(&dir);
                // Derived files only: whatever is there is replaced as the walk seals segments.
                if idir.is_dir() {
                    fs::remove_dir_all(&idir).map_err(io_err(&idir))?;
                } else if idir.exists() {
                    fs::remove_file(&idir).map_err(io_err(&idir))?;
                }
                w = walk_from(&dir, files, None, false, &mut load::Rebuild { dir: &dir, state: &mut state })?;
                Vec::new()
            }
        };
        let check_in_background = !sealed.is_empty();
        w.segments.splice(0..0, sealed);
        if let Some(b) = &w.first_break {
            tracing::error!(break_ = %b, "audit hash chain is broken (old damage); appending continues, run `komp audit verify`");
        }

        // 1. A torn tail is an append that was never acknowledged: keep a copy, cut it off.
        if let Some((path, off, bytes)) = w.torn.take() {
            let rdir = dir.join("recovered");
            fs::create_dir_all(&rdir).map_err(io_err(&rdir))?;
            let name = format!("{}.{off}.torn", path.file_name().unwrap().to_string_lossy());
            let keep = rdir.join(name);
            fs::write(&keep, &bytes).map_err(io_err(&keep))?;
            let f = OpenOptions::new().write(true).open(&path).map_err(io_err(&path))?;
            f.set_len(off).and_then(|_| f.sync_all()).map_err(io_err(&path))?;
            tracing::warn!(file = %path.display(), bytes = bytes.len(), "audit: cut off torn last line after crash");
        }

        // 2. Finish an interrupted purge: purge record durable, but anchor and/or deletion not.
        let anchor_seq = w.anchor.as_ref().map_or(0, |a| a.seq);
        if let Some((purge_seq, through_seq, through_hash, through_time, _)) = w.last_purge.clone() {
            if through_seq > anchor_seq {
                write_anchor(&dir, &Anchor { seq: through_seq, hash: through_hash, time_ms: through_time, purge_seq })?;
                state.purge_through(through_seq);
                w.anchor = storage::read_anchor(&dir)?;
            }
        }
        // A sealed segment is cut to its records before the next one is created, so only the
        // last segment can have preallocated zeros at its end; trim any others left behind.
        let nseg = w.segments.len();
        for s in w.segments.iter_mut().take(nseg.saturating_sub(1)) {
            if s.file_len > s.bytes {
                let f = OpenOptions::new().write(true).open(&s.path).map_err(io_err(&s.path))?;
                f.set_len(s.bytes).and_then(|_| f.sync_all()).map_err(io_err(&s.path))?;
                s.file_len = s.bytes;
            }
        }
        if let Some(a) = &w.anchor {
            let before = w.segments.len();
            let mut keep = Vec::with_capacity(before);
            for s in w.segments.drain(..) {
                let wholly_old = s.first_seq <= a.seq && s.last.as_ref().is_none_or(|l| l.0 <= a.seq);
                if wholly_old && s.first_seq != a.seq + 1 {
                    fs::remove_file(&s.path).map_err(io_err(&s.path))?;
                    let _ = fs::remove_file(sealed::index_path(&dir, s.first_seq));
                } else {
                    keep.push(s);
                }
            }
            if keep.len() != before {
                sync_dir(&dir)?;
            }
            w.segments = keep;
        }

        // 3. The writer continues after the last good record, in the last segment.
        let (head_seq, head_hash, head_time) = w.head.clone();
        if w.segments.last().is_none_or(|s| s.last.is_none() && s.first_seq != head_seq + 1) {
            let path = dir.join(segment_name(head_seq + 1));
            w.segments.push(chain::SegmentInfo {
                first_seq: head_seq + 1,
                path,
                last: None,
                first_time_ms: None,
                last_time_ms: 0,
                bytes: 0,
                file_len: 0,
            });
        }
        let active = w.segments.last_mut().unwrap();
        let file = Writer::open_segment(&active.path)?;
        sync_dir(&dir)?;
        // Records continue at the end of the last complete line (`active.bytes`, after the cut
        // above); anything beyond it is preallocated zeros.
        let prealloc_end = file.metadata().map_err(io_err(&active.path))?.len().max(active.bytes);
        let seg_day = active.first_time_ms.unwrap_or(head_time) / time::DAY_MS;

        let shared = Arc::new(Shared {
            dir: dir.clone(),
            state: RwLock::new(state),
            stats: Default::default(),
            head: Mutex::new((head_seq, head_hash.clone())),
            integrity: Mutex::new(Integrity { pending: check_in_background, first_break: w.first_break.clone() }),
            integrity_checked: Default::default(),
            poisoned: Mutex::new(None),
            durable_seq: std::sync::atomic::AtomicU64::new(head_seq),
        });
        // Every segment but the active one (those walked just now are checked again; cheap).
        let checked: Vec<chain::SegmentInfo> = w.segments[..w.segments.len() - 1].to_vec();
        let anchor = w.anchor.clone();
        let writer = Writer {
            shared: shared.clone(),
            file: Arc::new(file),
            segments: w.segments,
            seg_day,
            next_seq: head_seq + 1,
            prev_hash: head_hash,
            last_time_ms: head_time,
            max_segment_bytes: config.max_segment_bytes.max(1),
            max_batch: config.max_batch.max(1),
            retention_ms: config.retention.as_millis() as u64,
            clock: config.clock.clone(),
            prealloc_end,
            inflight: Default::default(),
            inflight_ids: Default::default(),
            pending_seal: None,
        };
        if check_in_background {
            // The sealed segments were taken from their index files; their records are checked
            // here, off the start-up path, as a full walk would have checked them.
            let (dir, checker) = (dir.clone(), shared.clone());
            let spawned = std::thread::Builder::new().name("komp-audit-check".into()).spawn(move || {
                let shared = checker;
                let found = load::check_sealed(&dir, &checked, anchor.as_ref());
                if let Some(b) = &found {
                    tracing::error!(break_ = %b, "audit hash chain is broken (old damage); appending continues, run `komp audit verify`");
                }
                let mut i = lock(&shared.integrity);
                // A break among the sealed segments comes before anything in the active one.
                if found.is_some() {
                    i.first_break = found;
                }
                i.pending = false;
                shared.integrity_checked.notify_all();
            });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "audit: cannot start the integrity check of sealed segments");
                lock(&shared.integrity).pending = false;
            }
        }
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("komp-audit-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(io_err(&dir))?;
        Ok(Audit { inner: Arc::new(Inner { shared, tx: Some(tx), handle: Some(handle), key, _lock: lock_file }) })
    }

    /// The directory of this log.
    pub fn dir(&self) -> &Path {
        &self.inner.shared.dir
    }

    /// HMAC-SHA256 of a prediction's raw input under this host's secret key. Equal inputs give
    /// equal hashes (so a municipality holding a document can show it was the input), but the
    /// log alone reveals nothing about inputs.
    pub fn input_hmac(&self, input: &[u8]) -> InputHmac {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.inner.key).expect("any key length");
        mac.update(input);
        InputHmac(hex::encode(mac.finalize().into_bytes()))
    }

    fn send(&self, cmd: Cmd) -> Result<()> {
        self.inner
            .tx
            .as_ref()
            .expect("sender lives as long as Audit")
            .send(cmd)
            .map_err(|_| AuditError::Unavailable("audit writer stopped".into()))
    }

    /// Appends a prediction record and returns once it is on disk (fsynced). Blocks the calling
    /// thread; from async code use [`Audit::append_async`].
    pub fn append(&self, rec: NewRecord) -> Result<Receipt> {
        let body = rec.into_record()?;
        self.append_blocking(Pending::Prediction(body))
    }

    /// Async [`Audit::append`]: awaits the group commit without blocking a runtime thread.
    /// Dropping the future does not cancel the write.
    pub async fn append_async(&self, rec: NewRecord) -> Result<Receipt> {
        let body = rec.into_record()?;
        self.append_pending_async(Pending::Prediction(body)).await
    }

    fn append_blocking(&self, p: Pending) -> Result<Receipt> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Cmd::Append(p, Reply::Sync(tx)))?;
        rx.recv().map_err(|_| AuditError::Unavailable("audit writer stopped".into()))?
    }

    async fn append_pending_async(&self, p: Pending) -> Result<Receipt> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Cmd::Append(p, Reply::Async(tx)))?;
        rx.await.map_err(|_| AuditError::Unavailable("audit writer stopped".into()))?
    }

    /// Records a tenant's administrative action (durably, in the chain, like a prediction), so
    /// that who moved a component's decision point, or validated it, is on the same tamper-evident
    /// record as the predictions it affects.
    pub fn record_admin(&self, tenant: &Tenant, event: AdminEvent) -> Result<Receipt> {
        let body = prepare_admin(tenant, event)?;
        self.append_blocking(Pending::Admin(body))
    }

    /// Async [`Audit::record_admin`].
    pub async fn record_admin_async(&self, tenant: &Tenant, event: AdminEvent) -> Result<Receipt> {
        let body = prepare_admin(tenant, event)?;
        self.append_pending_async(Pending::Admin(body)).await
    }

    /// Records a caseworker's decision on the tenant's prediction `request_id` (durably, in the
    /// chain). Unknown request ids and other tenants' request ids both give
    /// [`AuditError::NotFound`]. Feedback may be given more than once; the latest counts.
    pub fn add_feedback(&self, tenant: &Tenant, request_id: &str, fb: Feedback) -> Result<Receipt> {
        let body = self.prepare_feedback(tenant, request_id, fb)?;
        self.append_blocking(Pending::Feedback(body))
    }

    /// Async [`Audit::add_feedback`].
    pub async fn add_feedback_async(&self, tenant: &Tenant, request_id: &str, fb: Feedback) -> Result<Receipt> {
        let body = self.prepare_feedback(tenant, request_id, fb)?;
        self.append_pending_async(Pending::Feedback(body)).await
    }

    fn prepare_feedback(&self, tenant: &Tenant, request_id: &str, fb: Feedback) -> Result<FeedbackRecord> {
        let p = read(&self.inner.shared.state)
            .find_pred(tenant, &index::RequestKey::of(request_id))?
            .ok_or(AuditError::NotFound)?;
        let predicted = match (&p.label, p.ok) {
            (Some(l), true) => l.to_string(),
            _ => {
                return Err(AuditError::InvalidFeedback(
                    "the prediction failed; there is no label to accept or override".into(),
                ))
            }
        };
        let (final_label, note) = fb.validate(&predicted)?;
        Ok(FeedbackRecord {
            seq: 0,
            time: String::new(),
            time_ms: 0,
            tenant: *tenant,
            token_id: fb.token_id,
            request_id: request_id.to_string(),
            component: p.component.to_string(),
            predicted_label: predicted,
            decision: fb.decision,
            final_label,
            note,
            prev_hash: String::new(),
            hash: String::new(),
        })
    }

    /// Reads lines at `locs` (in the given order), checking each line's own hash.
    fn read_lines(&self, locs: &[Loc], mut f: impl FnMut(&[u8], Record) -> Result<()>) -> Result<()> {
        let mut files: HashMap<u64, (PathBuf, File)> = HashMap::new();
        let mut buf = Vec::new();
        for loc in locs {
            let (path, file) = &*match files.entry(loc.seg) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let path = self.inner.shared.dir.join(segment_name(loc.seg));
                    let file = File::open(&path).map_err(io_err(&path))?;
                    e.insert((path, file))
                }
            };
            buf.resize(loc.len as usize, 0);
            file.read_exact_at(&mut buf, loc.off).map_err(io_err(path))?;
            let rec = record::decode(&buf).map_err(|reason| {
                AuditError::ChainBroken(Box::new(ChainBreak {
                    seq: 0,
                    file: path.clone(),
                    line: 0,
                    reason: format!("record at byte {}: {reason}", loc.off),
                }))
            })?;
            f(&buf, rec)?;
        }
        Ok(())
    }

    /// The tenant's prediction `request_id` with its feedback, or `None` (also when it belongs
    /// to another tenant, or has been deleted by retention).
    pub fn get(&self, tenant: &Tenant, request_id: &str) -> Result<Option<Case>> {
        let locs: Vec<Loc> = {
            let st = read(&self.inner.shared.state);
            let key = index::RequestKey::of(request_id);
            let Some(p) = st.find_pred(tenant, &key)? else { return Ok(None) };
            let feedback = st.feedback_of(tenant, &key, p.loc.seg)?;
            std::iter::once(p.loc).chain(feedback.iter().map(|f| f.loc)).collect()
        };
        let mut case: Option<Case> = None;
        self.read_lines(&locs, |_, rec| {
            match (rec, &mut case) {
                // The index keys ids by 16 bytes; the record itself has the final word.
                (Record::Prediction(p), None) if p.request_id == request_id => {
                    case = Some(Case { prediction: p, feedback: Vec::new() })
                }
                (Record::Feedback(f), Some(c)) => c.feedback.push(f),
                _ => {}
            }
            Ok(())
        })?;
        Ok(case)
    }

    fn select(&self, tenant: &Tenant, filter: &Filter, limit: usize) -> Result<Vec<Loc>> {
        let since = filter.since.map(system_time_ms);
        let until = filter.until.map(system_time_ms);
        // One part per segment, in the requested order. In-memory segments are paged under the
        // lock (at most `limit` locations each); sealed ones outside the bounds are skipped, the
        // others are read after the lock is released, so appends never wait for a query's reads.
        enum Part {
            Paged(Vec<Loc>),
            Sealed(Arc<sealed::SealedIndex>),
        }
        let parts: Vec<Part> = {
            let st = read(&self.inner.shared.state);
            let part = |s: &state::SegIndex| match s {
                state::SegIndex::Memory(_) => {
                    let e = s.entries(tenant).unwrap_or_default();
                    Some(Part::Paged(page(&e, filter, since, until, limit)))
                }
                state::SegIndex::Disk(d) => {
                    let h = &d.header;
                    let outside = since.is_some_and(|x| h.last_time_ms < x)
                        || until.is_some_and(|u| h.first_time_ms >= u)
                        || filter.after_seq.is_some_and(|a| match filter.order {
                            Order::OldestFirst => h.last_seq <= a,
                            Order::NewestFirst => h.first_seq >= a,
                        });
                    (!outside).then(|| Part::Sealed(d.clone()))
                }
            };
            match filter.order {
                Order::OldestFirst => st.segments.values().filter_map(part).collect(),
                Order::NewestFirst => st.segments.values().rev().filter_map(part).collect(),
            }
        };
        let mut out = Vec::new();
        for p in parts {
            let room = limit - out.len();
            if room == 0 {
                break;
            }
            match p {
                Part::Paged(locs) => out.extend(locs.into_iter().take(room)),
                Part::Sealed(d) => out.extend(page(&d.entries(tenant)?, filter, since, until, room)),
            }
        }
        Ok(out)
    }

    /// The tenant's records (predictions and/or feedback) matching `filter`, one page.
    pub fn query(&self, tenant: &Tenant, filter: &Filter) -> Result<Vec<Record>> {
        let limit = filter.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
        let locs = self.select(tenant, filter, limit)?;
        let mut out = Vec::with_capacity(locs.len());
        self.read_lines(&locs, |_, rec| {
            out.push(rec);
            Ok(())
        })?;
        Ok(out)
    }

    /// Writes the tenant's records committed in `[since, until)` as JSON Lines, oldest first,
    /// byte-for-byte as stored (so each line's `hash` can be checked). Returns the line count.
    pub fn export_jsonl(
        &self,
        tenant: &Tenant,
        since: Option<SystemTime>,
        until: Option<SystemTime>,
        out: &mut dyn Write,
    ) -> Result<u64> {
        let filter = Filter { since, until, order: Order::OldestFirst, ..Default::default() };
        let locs = self.select(tenant, &filter, usize::MAX)?;
        let mut n = 0;
        self.read_lines(&locs, |line, _| {
            out.write_all(line).and_then(|_| out.write_all(b"\n")).map_err(io_err("<export output>"))?;
            n += 1;
            Ok(())
        })?;
        out.flush().map_err(io_err("<export output>"))?;
        Ok(n)
    }

    /// Prediction-versus-decision counters of one tenant's component (zeros if none).
    pub fn monitoring(&self, tenant: &Tenant, component: &str) -> Monitoring {
        read(&self.inner.shared.state).monitoring(tenant, component)
    }

    /// Counters of every (tenant, component), for the Prometheus endpoint (operator-only).
    pub fn monitoring_all(&self) -> Vec<MonitoringEntry> {
        read(&self.inner.shared.state)
            .monitoring_all()
            .into_iter()
            .map(|((tenant, component), monitoring)| MonitoringEntry { tenant, component, monitoring })
            .collect()
    }

    /// The drift window of one tenant's component: its most recent successful predictions (oldest
    /// first, at most [`AuditConfig::drift_window`]) with the latest caseworker decision on each,
    /// however late it came. Empty if there are none.
    pub fn drift_window(&self, tenant: &Tenant, component: &str) -> Vec<Observation> {
        read(&self.inner.shared.state)
            .windows
            .by_key
            .get(&(*tenant, component.to_string()))
            .map(|w| w.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every (tenant, component) with a non-empty drift window (operator-only: metrics).
    pub fn drift_keys(&self) -> Vec<(Tenant, String)> {
        read(&self.inner.shared.state).windows.by_key.keys().cloned().collect()
    }

    /// Group-commit statistics (commits, records, latency histogram, batch sizes).
    pub fn stats(&self) -> CommitStats {
        self.inner.shared.stats.snapshot()
    }

    /// Last acknowledged (seq, hash). Publishing it periodically elsewhere (logs, another
    /// system) makes truncation of the newest records detectable.
    pub fn head(&self) -> (u64, String) {
        lock(&self.inner.shared.head).clone()
    }

    /// The first chain break `open` found, if any (old damage the log kept running with).
    /// Segments sealed before the start are checked in the background after `open` returns;
    /// this waits for that check.
    pub fn integrity(&self) -> Option<ChainBreak> {
        let shared = &self.inner.shared;
        let mut i = lock(&shared.integrity);
        while i.pending {
            i = shared.integrity_checked.wait(i).unwrap_or_else(|e| e.into_inner());
        }
        i.first_break.clone()
    }

    /// Recomputes every hash and link on disk, and checks that the last acknowledged record is
    /// still there. Safe to run while appending.
    pub fn verify(&self) -> Result<VerifyReport> {
        chain::verify_with_head(&self.inner.shared.dir, Some(self.head()))
    }

    /// Deletes whole segments whose newest record is older than the retention period at `now`,
    /// recording a purge record and an anchor so the remaining chain still verifies.
    pub fn purge_expired(&self, now: SystemTime) -> Result<PurgeReport> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Cmd::Purge { now_ms: system_time_ms(now), reply: tx })?;
        rx.recv().map_err(|_| AuditError::Unavailable("audit writer stopped".into()))?
    }
}

/// The locations of `filter`'s page among one segment's entries of a tenant (at most `room`).
fn page(e: &[index::Entry], filter: &Filter, since: Option<u64>, until: Option<u64>, room: usize) -> Vec<Loc> {
    // seq and time_ms both increase along `entries`, so bounds are binary searches.
    let mut lo = 0;
    let mut hi = e.len();
    if let Some(s) = since {
        lo = lo.max(e.partition_point(|x| x.time_ms < s));
    }
    if let Some(u) = until {
        hi = hi.min(e.partition_point(|x| x.time_ms < u));
    }
    if let Some(a) = filter.after_seq {
        match filter.order {
            Order::OldestFirst => lo = lo.max(e.partition_point(|x| x.seq <= a)),
            Order::NewestFirst => hi = hi.min(e.partition_point(|x| x.seq < a)),
        }
    }
    if lo >= hi {
        return Vec::new();
    }
    let keep = |x: &&index::Entry| {
        filter.kind.is_none_or(|k| k == x.kind) && filter.component.as_deref().is_none_or(|c| c == &*x.component)
    };
    let range = &e[lo..hi];
    match filter.order {
        Order::OldestFirst => range.iter().filter(keep).take(room).map(|x| x.loc).collect(),
        Order::NewestFirst => range.iter().rev().filter(keep).take(room).map(|x| x.loc).collect(),
    }
}

fn chain_decode(line: &[u8], path: &Path) -> Result<Record> {
    record::decode(line).map_err(|reason| {
        AuditError::ChainBroken(Box::new(ChainBreak { seq: 0, file: path.to_path_buf(), line: 0, reason }))
    })
}

/// Exports one tenant's records from a log directory without opening it for writing (the CLI's
/// `komp audit export`; works while the host runs). Lines are copied as stored; lines whose own
/// hash does not verify are refused.
pub fn export_dir(
    dir: impl AsRef<Path>,
    tenant: &Tenant,
    since: Option<SystemTime>,
    until: Option<SystemTime>,
    out: &mut dyn Write,
) -> Result<u64> {
    let dir = dir.as_ref();
    let (since, until) = (since.map(system_time_ms).unwrap_or(0), until.map(system_time_ms).unwrap_or(u64::MAX));
    let mut n = 0;
    for (_, path) in storage::list_segments(dir)? {
        scan_lines(&path, |_, line| {
            let rec = chain_decode(line, &path)?;
            if rec.tenant() == Some(tenant) && (since..until).contains(&rec.time_ms()) {
                out.write_all(line).and_then(|_| out.write_all(b"\n")).map_err(io_err("<export output>"))?;
                n += 1;
            }
            Ok(())
        })?;
    }
    out.flush().map_err(io_err("<export output>"))?;
    Ok(n)
}

fn prepare_admin(tenant: &Tenant, e: AdminEvent) -> Result<AdminRecord> {
    if e.component.is_empty() || e.component.len() > 200 || e.token_id.len() > 200 {
        return Err(AuditError::InvalidRecord("admin record: component or token id empty or over 200 bytes".into()));
    }
    let n = serde_json::to_vec(&e.details).map(|v| v.len()).unwrap_or(usize::MAX);
    if n > MAX_ADMIN_DETAILS {
        return Err(AuditError::InvalidRecord(format!(
            "admin record details are {n} bytes; at most {MAX_ADMIN_DETAILS} are kept"
        )));
    }
    Ok(AdminRecord {
        seq: 0,
        time: String::new(),
        time_ms: 0,
        tenant: *tenant,
        token_id: e.token_id,
        component: e.component,
        action: e.action,
        details: e.details,
        prev_hash: String::new(),
        hash: String::new(),
    })
}
