//! In-memory index and monitoring counters, rebuilt from the segments on open and updated by
//! the writer after every commit. Lookups by request id and per-tenant range scans never touch
//! other tenants' data, and never read the disk except for the records they return.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;

use crate::chain::Loc;
use crate::record::{Decision, Record};
use crate::Tenant;

/// Record kinds a query can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// [`crate::PredictionRecord`]s.
    Prediction,
    /// [`crate::FeedbackRecord`]s.
    Feedback,
    /// [`crate::AdminRecord`]s.
    Admin,
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub seq: u64,
    pub time_ms: u64,
    pub kind: Kind,
    pub component: Arc<str>,
    pub loc: Loc,
}

/// A request id as a 16-byte key: the index holds one per retained prediction, so it must be
/// small. Ids made by [`crate::new_request_id`] (32 hex digits) map losslessly; any other id
/// maps to the first 16 bytes of its SHA-256 (a collision would need ~2^64 ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RequestKey([u8; 16]);

impl RequestKey {
    pub fn of(request_id: &str) -> RequestKey {
        let mut k = [0u8; 16];
        if request_id.len() == 32
            && request_id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && hex::decode_to_slice(request_id, &mut k).is_ok()
        {
            return RequestKey(k);
        }
        use sha2::Digest;
        let d = sha2::Sha256::digest(request_id.as_bytes());
        k.copy_from_slice(&d[..16]);
        RequestKey(k)
    }
}

#[derive(Debug)]
pub(crate) struct PredInfo {
    pub seq: u64,
    pub component: Arc<str>,
    /// Interned: labels come from a component's small label set.
    pub label: Option<Arc<str>>,
    pub ok: bool,
    pub human_review: bool,
    /// Seqs of feedback records, oldest first.
    pub feedback: Vec<u64>,
    /// Latest feedback (the one that counts): decision and final label (interned).
    pub latest: Option<(Decision, Arc<str>)>,
}

#[derive(Debug, Default)]
pub(crate) struct TenantIndex {
    /// All of this tenant's records, in seq order.
    pub entries: Vec<Entry>,
    pub by_request: HashMap<RequestKey, PredInfo>,
}

impl TenantIndex {
    pub fn find(&self, seq: u64) -> Option<&Entry> {
        self.entries.binary_search_by_key(&seq, |e| e.seq).ok().map(|i| &self.entries[i])
    }
}

/// Prediction-versus-decision statistics for one (tenant, component): the drift signal the
/// signature projects lacked. Counts cover the records still retained.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Monitoring {
    /// Prediction records (successful or not).
    pub predictions: u64,
    /// Predictions whose outcome was not "ok".
    pub errors: u64,
    /// Predictions flagged `requires_human_review`.
    pub human_review: u64,
    /// Predictions with at least one feedback (latest feedback wins).
    pub feedback: u64,
    pub accepted: u64,
    pub overridden: u64,
    /// accepted / feedback; `None` until there is feedback.
    pub agreement_rate: Option<f64>,
    /// overridden / feedback; `None` until there is feedback.
    pub override_rate: Option<f64>,
    /// Predicted label -> count (successful predictions).
    pub label_counts: BTreeMap<String, u64>,
    /// Predicted label -> final label -> count, for overridden predictions.
    pub override_pairs: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Monitoring {
    fn finish(mut self) -> Self {
        if self.feedback > 0 {
            self.agreement_rate = Some(self.accepted as f64 / self.feedback as f64);
            self.override_rate = Some(self.overridden as f64 / self.feedback as f64);
        }
        self
    }
    fn decision(&mut self, predicted: &str, d: &(Decision, Arc<str>), sign: i64) {
        let add = |v: &mut u64| *v = v.saturating_add_signed(sign);
        add(&mut self.feedback);
        match d.0 {
            Decision::Accepted => add(&mut self.accepted),
            Decision::Overridden => {
                add(&mut self.overridden);
                let m = self.override_pairs.entry(predicted.to_string()).or_default();
                let c = m.entry(d.1.to_string()).or_default();
                add(c);
                if *c == 0 {
                    m.remove(&*d.1);
                    if m.is_empty() {
                        self.override_pairs.remove(predicted);
                    }
                }
            }
        }
    }
}

/// All in-memory state derived from the log.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub tenants: HashMap<Tenant, TenantIndex>,
    /// (tenant, component) -> counters (rates filled in on read).
    pub monitoring: BTreeMap<(Tenant, String), Monitoring>,
    /// Interned component names and labels, so index entries stay small.
    components: HashMap<String, Arc<str>>,
    /// Recent predictions per (tenant, component), for drift monitoring.
    pub windows: crate::window::Windows,
}

impl State {
    fn intern(&mut self, c: &str) -> Arc<str> {
        if let Some(a) = self.components.get(c) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(c);
        self.components.insert(c.to_string(), a.clone());
        a
    }

    /// Adds a committed record.
    pub fn apply(&mut self, rec: &Record, loc: Loc) {
        match rec {
            Record::Prediction(p) => {
                let component = self.intern(&p.component);
                let m = self.monitoring.entry((p.tenant.clone(), p.component.clone())).or_default();
                m.predictions += 1;
                let ok = p.outcome == "ok";
                if !ok {
                    m.errors += 1;
                }
                if p.requires_human_review {
                    m.human_review += 1;
                }
                if let (true, Some(l)) = (ok, &p.label) {
                    *m.label_counts.entry(l.clone()).or_default() += 1;
                }
                let label = p.label.as_deref().map(|l| self.intern(l));
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
                let t = self.tenants.entry(p.tenant.clone()).or_default();
                t.entries.push(Entry {
                    seq: p.seq,
                    time_ms: p.time_ms,
                    kind: Kind::Prediction,
                    component: component.clone(),
                    loc,
                });
                t.by_request.insert(
                    RequestKey::of(&p.request_id),
                    PredInfo {
                        seq: p.seq,
                        component,
                        label,
                        ok,
                        human_review: p.requires_human_review,
                        feedback: Vec::new(),
                        latest: None,
                    },
                );
            }
            Record::Feedback(f) => {
                let component = self.intern(&f.component);
                let final_label = self.intern(&f.final_label);
                let t = self.tenants.entry(f.tenant.clone()).or_default();
                t.entries.push(Entry { seq: f.seq, time_ms: f.time_ms, kind: Kind::Feedback, component, loc });
                // The prediction may have been purged by retention; then the feedback only stays
                // queryable and no longer counts.
                if let Some(p) = t.by_request.get_mut(&RequestKey::of(&f.request_id)) {
                    p.feedback.push(f.seq);
                    self.windows.decide(&f.tenant, &f.component, p.seq, f.decision);
                    let new = (f.decision, final_label);
                    let old = p.latest.replace(new.clone());
                    let predicted = p.label.as_deref().unwrap_or_default().to_string();
                    let m = self.monitoring.entry((f.tenant.clone(), f.component.clone())).or_default();
                    if let Some(old) = old {
                        m.decision(&predicted, &old, -1);
                    }
                    m.decision(&predicted, &new, 1);
                }
            }
            Record::Admin(a) => {
                let component = self.intern(&a.component);
                let t = self.tenants.entry(a.tenant.clone()).or_default();
                t.entries.push(Entry { seq: a.seq, time_ms: a.time_ms, kind: Kind::Admin, component, loc });
            }
            Record::Purge(_) => {}
        }
    }

    /// Forgets everything up to and including `through_seq` (retention).
    pub fn purge_through(&mut self, through_seq: u64) {
        for (tenant, t) in self.tenants.iter_mut() {
            let cut = t.entries.partition_point(|e| e.seq <= through_seq);
            if cut == 0 {
                continue;
            }
            t.entries.drain(..cut);
            let monitoring = &mut self.monitoring;
            t.by_request.retain(|_, p| {
                if p.seq > through_seq {
                    return true;
                }
                if let Some(m) = monitoring.get_mut(&(tenant.clone(), p.component.to_string())) {
                    m.predictions -= 1;
                    if !p.ok {
                        m.errors -= 1;
                    }
                    if p.human_review {
                        m.human_review -= 1;
                    }
                    if let (true, Some(l)) = (p.ok, &p.label) {
                        if let Some(c) = m.label_counts.get_mut(&**l) {
                            *c -= 1;
                            if *c == 0 {
                                m.label_counts.remove(&**l);
                            }
                        }
                    }
                    if let Some(d) = &p.latest {
                        m.decision(p.label.as_deref().unwrap_or_default(), d, -1);
                    }
                }
                false
            });
        }
        self.tenants.retain(|_, t| !t.entries.is_empty());
        self.monitoring.retain(|_, m| m.predictions > 0);
        self.windows.purge_through(through_seq);
    }

    pub fn monitoring(&self, tenant: &Tenant, component: &str) -> Monitoring {
        self.monitoring.get(&(*tenant, component.to_string())).cloned().unwrap_or_default().finish()
    }

    pub fn monitoring_all(&self) -> BTreeMap<(Tenant, String), Monitoring> {
        self.monitoring.iter().map(|(k, v)| (k.clone(), v.clone().finish())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_keys_are_lossless_for_our_ids_and_distinct_for_others() {
        let id = crate::new_request_id();
        let mut raw = [0u8; 16];
        hex::decode_to_slice(&id, &mut raw).unwrap();
        assert_eq!(RequestKey::of(&id), RequestKey(raw));
        assert_ne!(RequestKey::of(&id), RequestKey::of(&crate::new_request_id()));
        // Not our format: hashed, still stable and distinct.
        assert_eq!(RequestKey::of("case-17"), RequestKey::of("case-17"));
        assert_ne!(RequestKey::of("case-17"), RequestKey::of("case-18"));
        assert_ne!(RequestKey::of(&id.to_uppercase()), RequestKey::of(&id));
    }

    #[test]
    fn index_entries_stay_small() {
        // One Entry per retained record and one PredInfo + key per retained prediction live in
        // memory for the whole retention period (183 days): keep them compact.
        assert!(std::mem::size_of::<Entry>() <= 64, "Entry is {} bytes", std::mem::size_of::<Entry>());
        let pred = std::mem::size_of::<PredInfo>() + std::mem::size_of::<RequestKey>();
        assert!(pred <= 112, "PredInfo + key is {pred} bytes");
    }
}
