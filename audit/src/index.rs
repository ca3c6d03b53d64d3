//! What the index knows of a record without reading it (location, request key, the facts of a
//! prediction and of a feedback), a segment's index in memory, and the monitoring counters.
//! `state.rs` puts them together; `sealed.rs` writes and reads them as files.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::chain::Loc;
use crate::record::Decision;
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

#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
    pub fn bytes(&self) -> &[u8; 16] {
        &self.0
    }
    /// From 16 bytes of an index file.
    pub fn from_slice(b: &[u8]) -> RequestKey {
        RequestKey(b.try_into().expect("a request key is 16 bytes"))
    }
}

/// What the index knows of a prediction without reading its record.
#[derive(Debug, Clone)]
pub(crate) struct PredFacts {
    pub seq: u64,
    pub loc: Loc,
    pub component: Arc<str>,
    /// Interned: labels come from a component's small label set.
    pub label: Option<Arc<str>>,
    pub ok: bool,
    pub human_review: bool,
}

/// A feedback record as the index knows it.
#[derive(Debug, Clone)]
pub(crate) struct FbInfo {
    pub seq: u64,
    pub loc: Loc,
    pub decision: Decision,
    /// Interned.
    pub final_label: Arc<str>,
}

#[derive(Debug, Default)]
pub(crate) struct TenantIndex {
    /// All of this tenant's records in the segment, in seq order.
    pub entries: Vec<Entry>,
    /// Its predictions in the segment.
    pub preds: HashMap<RequestKey, PredFacts>,
    /// Its feedback records in the segment, by the request they are about (oldest first).
    pub feedback: HashMap<RequestKey, Vec<FbInfo>>,
}

/// The index of one segment held in memory: the active segment's, and a sealed segment's until
/// its index file is written.
#[derive(Debug, Default)]
pub(crate) struct MemIndex {
    pub tenants: HashMap<Tenant, TenantIndex>,
    /// `prev_hash` of the segment's first record (kept in the index file's header).
    pub first_prev_hash: Option<String>,
}

/// Prediction-versus-decision statistics for one (tenant, component): the drift signal the
/// signature projects lacked. Counts cover the records still retained.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    pub(crate) fn finish(mut self) -> Self {
        if self.feedback > 0 {
            self.agreement_rate = Some(self.accepted as f64 / self.feedback as f64);
            self.override_rate = Some(self.overridden as f64 / self.feedback as f64);
        }
        self
    }
    /// Adds (`sign` 1) or removes (`sign` -1) the counts of `other`: a segment's contribution.
    pub(crate) fn add(&mut self, other: &Monitoring, sign: i64) {
        let add = |v: &mut u64, o: u64| *v = v.saturating_add_signed(sign * o as i64);
        add(&mut self.predictions, other.predictions);
        add(&mut self.errors, other.errors);
        add(&mut self.human_review, other.human_review);
        add(&mut self.feedback, other.feedback);
        add(&mut self.accepted, other.accepted);
        add(&mut self.overridden, other.overridden);
        for (l, n) in &other.label_counts {
            let c = self.label_counts.entry(l.clone()).or_default();
            add(c, *n);
            if *c == 0 {
                self.label_counts.remove(l);
            }
        }
        for (p, m) in &other.override_pairs {
            let mine = self.override_pairs.entry(p.clone()).or_default();
            for (f, n) in m {
                let c = mine.entry(f.clone()).or_default();
                add(c, *n);
                if *c == 0 {
                    mine.remove(f);
                }
            }
            if mine.is_empty() {
                self.override_pairs.remove(p);
            }
        }
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.predictions == 0 && self.feedback == 0
    }
    pub(crate) fn decision(&mut self, predicted: &str, d: &(Decision, Arc<str>), sign: i64) {
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
        let pred = std::mem::size_of::<PredFacts>() + std::mem::size_of::<RequestKey>();
        assert!(pred <= 112, "PredFacts + key is {pred} bytes");
    }
}
