//! All state derived from the log: one index per live segment (in memory for the active
//! segment, a file for each sealed one), the monitoring counters with each segment's share, and
//! the drift windows. Rebuilt or restored on open and updated by the sync thread after every
//! commit. Lookups by request id and per-tenant range scans never touch other tenants' data.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::chain::Loc;
use crate::index::{Entry, FbInfo, Kind, MemIndex, Monitoring, PredFacts, RequestKey};
use crate::record::{Decision, Record};
use crate::{Result, Tenant};

/// The index of one live segment.
#[derive(Debug)]
pub(crate) enum SegIndex {
    Memory(MemIndex),
    Disk(Arc<crate::sealed::SealedIndex>),
}

impl SegIndex {
    fn pred(&self, tenant: &Tenant, key: &RequestKey) -> Result<Option<PredFacts>> {
        match self {
            SegIndex::Memory(m) => Ok(m.tenants.get(tenant).and_then(|t| t.preds.get(key)).cloned()),
            SegIndex::Disk(d) => d.pred(tenant, key),
        }
    }
    fn feedback(&self, tenant: &Tenant, key: &RequestKey) -> Result<Vec<FbInfo>> {
        match self {
            SegIndex::Memory(m) => {
                Ok(m.tenants.get(tenant).and_then(|t| t.feedback.get(key)).cloned().unwrap_or_default())
            }
            SegIndex::Disk(d) => d.feedback(tenant, key),
        }
    }
    /// The tenant's records in this segment, in seq order.
    pub fn entries<'a>(&'a self, tenant: &Tenant) -> Result<std::borrow::Cow<'a, [Entry]>> {
        match self {
            SegIndex::Memory(m) => {
                Ok(std::borrow::Cow::Borrowed(m.tenants.get(tenant).map_or(&[][..], |t| &t.entries[..])))
            }
            SegIndex::Disk(d) => Ok(std::borrow::Cow::Owned(d.entries(tenant)?)),
        }
    }
}

/// The newest purge record seen: (purge seq, through_seq, through_hash, through_time, segments).
pub(crate) type LastPurge = (u64, u64, String, u64, Vec<String>);

/// All state derived from the log: the per-segment indexes (in memory for the active segment,
/// on disk for sealed ones), the monitoring counters and the drift windows.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// One index per live segment, by first seq; the last one is the active segment's.
    pub segments: BTreeMap<u64, SegIndex>,
    /// (tenant, component) -> counters over the retained records (rates filled in on read).
    pub monitoring: BTreeMap<(Tenant, String), Monitoring>,
    /// What each live segment's predictions add to `monitoring` (their feedback included,
    /// wherever it was recorded), so retention can take a whole segment's share away without
    /// reading it. Small: one entry per (segment, tenant, component).
    pub contributions: BTreeMap<u64, BTreeMap<(Tenant, String), Monitoring>>,
    /// Interned component names and labels, so index entries stay small.
    components: HashMap<String, Arc<str>>,
    /// Recent predictions per (tenant, component), for drift monitoring.
    pub windows: crate::window::Windows,
    /// The newest purge record applied.
    pub last_purge: Option<LastPurge>,
    /// A durable record could not be indexed (a sealed segment's index file was unreadable):
    /// no more index files or checkpoints are written, so the next start re-reads the records.
    pub index_incomplete: bool,
}

impl State {
    pub fn intern(&mut self, c: &str) -> Arc<str> {
        if let Some(a) = self.components.get(c) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(c);
        self.components.insert(c.to_string(), a.clone());
        a
    }

    fn mem(&mut self, seg: u64) -> Result<&mut MemIndex> {
        let s = self.segments.entry(seg).or_insert_with(|| SegIndex::Memory(MemIndex::default()));
        match s {
            SegIndex::Memory(m) => Ok(m),
            // Records are only ever applied to the active segment, which is in memory; a sealed
            // segment never receives records again.
            SegIndex::Disk(d) => Err(crate::AuditError::Metadata {
                path: d.path().to_path_buf(),
                reason: format!("a record of segment {seg} arrived after the segment was sealed"),
            }),
        }
    }

    /// Applies `f` to the counters of (tenant, component) and to the share of segment `seg`.
    fn count(&mut self, seg: u64, tenant: &Tenant, component: &str, f: impl Fn(&mut Monitoring)) {
        f(self.monitoring.entry((*tenant, component.to_string())).or_default());
        f(self.contributions.entry(seg).or_default().entry((*tenant, component.to_string())).or_default());
    }

    /// The tenant's prediction with this key, in whichever live segment holds it.
    pub fn find_pred(&self, tenant: &Tenant, key: &RequestKey) -> Result<Option<PredFacts>> {
        for s in self.segments.values().rev() {
            if let Some(p) = s.pred(tenant, key)? {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    /// Feedback records on the tenant's prediction `key` (which lives in segment `from_seg`),
    /// oldest first.
    pub fn feedback_of(&self, tenant: &Tenant, key: &RequestKey, from_seg: u64) -> Result<Vec<FbInfo>> {
        let mut out = Vec::new();
        for s in self.segments.range(from_seg..).map(|(_, s)| s) {
            out.extend(s.feedback(tenant, key)?);
        }
        Ok(out)
    }

    /// The latest decision on the tenant's prediction `key` (in segment `from_seg`).
    fn latest_decision(
        &self,
        tenant: &Tenant,
        key: &RequestKey,
        from_seg: u64,
    ) -> Result<Option<(Decision, Arc<str>)>> {
        for s in self.segments.range(from_seg..).rev().map(|(_, s)| s) {
            if let Some(f) = s.feedback(tenant, key)?.last() {
                return Ok(Some((f.decision, f.final_label.clone())));
            }
        }
        Ok(None)
    }

    /// Adds a committed record (always to the active segment, `loc.seg`). Fails only if a
    /// sealed segment's index file cannot be read (feedback on an older prediction).
    pub fn apply(&mut self, rec: &Record, loc: Loc) -> Result<()> {
        let seg = loc.seg;
        let m = self.mem(seg)?;
        m.first_prev_hash.get_or_insert_with(|| rec.prev_hash().to_string());
        match rec {
            Record::Prediction(p) => {
                let component = self.intern(&p.component);
                let ok = p.outcome == "ok";
                let label = p.label.as_deref().map(|l| self.intern(l));
                self.count(seg, &p.tenant, &p.component, |m| {
                    m.predictions += 1;
                    if !ok {
                        m.errors += 1;
                    }
                    if p.requires_human_review {
                        m.human_review += 1;
                    }
                    if let (true, Some(l)) = (ok, &p.label) {
                        *m.label_counts.entry(l.clone()).or_default() += 1;
                    }
                });
                if let (true, Some(l)) = (ok, &label) {
                    let version = self.intern(&p.version);
                    let o = crate::window::Observation {
                        seq: p.seq,
                        time_ms: p.time_ms,
                        version,
                        label: l.clone(),
                        score: p.scores.get(&**l).copied(),
                        coverage: p.coverage,
                        decision: None,
                    };
                    self.windows.push(&p.tenant, &p.component, o);
                }
                let t = self.mem(seg)?.tenants.entry(p.tenant).or_default();
                t.entries.push(Entry {
                    seq: p.seq,
                    time_ms: p.time_ms,
                    kind: Kind::Prediction,
                    component: component.clone(),
                    loc,
                });
                t.preds.insert(
                    RequestKey::of(&p.request_id),
                    PredFacts { seq: p.seq, loc, component, label, ok, human_review: p.requires_human_review },
                );
            }
            Record::Feedback(f) => {
                let component = self.intern(&f.component);
                let final_label = self.intern(&f.final_label);
                let key = RequestKey::of(&f.request_id);
                // The prediction may have been purged by retention; then the feedback only stays
                // queryable and no longer counts.
                let counted = match self.find_pred(&f.tenant, &key)? {
                    Some(p) => {
                        let old = self.latest_decision(&f.tenant, &key, p.loc.seg)?;
                        Some((p, old))
                    }
                    None => None,
                };
                let t = self.mem(seg)?.tenants.entry(f.tenant).or_default();
                t.entries.push(Entry { seq: f.seq, time_ms: f.time_ms, kind: Kind::Feedback, component, loc });
                t.feedback.entry(key).or_default().push(FbInfo {
                    seq: f.seq,
                    loc,
                    decision: f.decision,
                    final_label: final_label.clone(),
                });
                if let Some((p, old)) = counted {
                    self.windows.decide(&f.tenant, &f.component, p.seq, f.decision);
                    let predicted = p.label.as_deref().unwrap_or_default().to_string();
                    let new = (f.decision, final_label);
                    self.count(p.loc.seg, &f.tenant, &f.component, |m| {
                        if let Some(old) = &old {
                            m.decision(&predicted, old, -1);
                        }
                        m.decision(&predicted, &new, 1);
                    });
                }
            }
            Record::Admin(a) => {
                let component = self.intern(&a.component);
                let t = self.mem(seg)?.tenants.entry(a.tenant).or_default();
                t.entries.push(Entry { seq: a.seq, time_ms: a.time_ms, kind: Kind::Admin, component, loc });
            }
            Record::Purge(p) => {
                self.last_purge =
                    Some((p.seq, p.through_seq, p.through_hash.clone(), p.through_time_ms, p.segments.clone()));
            }
        }
        Ok(())
    }

    /// Forgets every segment that starts at or before `through_seq` (retention deletes whole
    /// segments, so they end there too), with their share of the counters.
    pub fn purge_through(&mut self, through_seq: u64) {
        let gone: Vec<u64> = self.segments.range(..=through_seq).map(|(k, _)| *k).collect();
        for k in gone {
            self.segments.remove(&k);
        }
        let gone: Vec<u64> = self.contributions.range(..=through_seq).map(|(k, _)| *k).collect();
        for k in gone {
            if let Some(share) = self.contributions.remove(&k) {
                for (key, m) in share {
                    if let Some(total) = self.monitoring.get_mut(&key) {
                        total.add(&m, -1);
                    }
                }
            }
        }
        self.monitoring.retain(|_, m| !m.is_empty());
        self.windows.purge_through(through_seq);
    }

    pub fn monitoring(&self, tenant: &Tenant, component: &str) -> Monitoring {
        self.monitoring.get(&(*tenant, component.to_string())).cloned().unwrap_or_default().finish()
    }

    pub fn monitoring_all(&self) -> BTreeMap<(Tenant, String), Monitoring> {
        self.monitoring.iter().map(|(k, v)| (k.clone(), v.clone().finish())).collect()
    }
}
