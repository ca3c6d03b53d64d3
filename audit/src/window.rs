//! Drift windows: the most recent successful predictions of each (tenant, component), with the
//! latest caseworker decision on each. Kept next to the index, so they are rebuilt from the log on
//! open (a restart loses nothing) and follow retention.
//!
//! Feedback is attributed to its prediction, not to the time it arrives: a decision given days
//! later updates the observation of the prediction it is about, wherever that sits in the window.
//! A prediction that has already left the window keeps counting in [`crate::Monitoring`] only.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::record::{Coverage, Decision};
use crate::Tenant;

/// Default number of predictions a window keeps per (tenant, component).
pub const DEFAULT_WINDOW: usize = 1000;

/// One successful prediction in a drift window.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub seq: u64,
    /// Commit time of the prediction (ms since the epoch).
    pub time_ms: u64,
    /// Component version that made it.
    pub version: Arc<str>,
    pub label: Arc<str>,
    /// Score of the predicted label (`None` if the scores do not include it).
    pub score: Option<f32>,
    pub coverage: Option<Coverage>,
    /// The latest caseworker decision on this prediction, if any.
    pub decision: Option<Decision>,
}

#[derive(Debug)]
pub(crate) struct Windows {
    pub max: usize,
    pub by_key: BTreeMap<(Tenant, String), VecDeque<Observation>>,
}

impl Default for Windows {
    fn default() -> Self {
        Windows { max: DEFAULT_WINDOW, by_key: BTreeMap::new() }
    }
}

impl Windows {
    pub fn push(&mut self, tenant: &Tenant, component: &str, o: Observation) {
        if self.max == 0 {
            return;
        }
        let w = self.by_key.entry((*tenant, component.to_string())).or_default();
        w.push_back(o);
        while w.len() > self.max {
            w.pop_front();
        }
    }

    /// Sets the decision on the prediction `seq` if it is still in the window.
    pub fn decide(&mut self, tenant: &Tenant, component: &str, seq: u64, d: Decision) {
        // Lookup without allocating a key on the hot path would need a borrowed tuple; windows are few.
        if let Some(w) = self.by_key.get_mut(&(*tenant, component.to_string())) {
            if let Ok(i) = w.binary_search_by_key(&seq, |o| o.seq) {
                w[i].decision = Some(d);
            }
        }
    }

    pub fn purge_through(&mut self, through_seq: u64) {
        for w in self.by_key.values_mut() {
            while w.front().is_some_and(|o| o.seq <= through_seq) {
                w.pop_front();
            }
        }
        self.by_key.retain(|_, w| !w.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use crate::{Audit, AuditConfig, Clock, Coverage, Decision, Feedback, NewRecord, Outcome};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    const DAY_MS: u64 = 86_400_000;

    fn rec(a: &Audit, id: &str, label: &str, cov: Option<Coverage>) -> NewRecord {
        NewRecord {
            tenant: "0101".parse().unwrap(),
            token_id: "tok".into(),
            request_id: id.into(),
            component: "postsortering".into(),
            version: "1.0.0".into(),
            digest: "sha256:ab".into(),
            input_hmac: a.input_hmac(id.as_bytes()),
            label: Some(label.into()),
            scores: [(label.to_string(), 0.75f32), ("other".to_string(), 0.25)].into_iter().collect(),
            requires_human_review: false,
            latency_us: 1,
            outcome: Outcome::Ok,
            coverage: cov,
            operating_point: None,
        }
    }

    fn fb(decision: Decision, final_label: Option<&str>) -> Feedback {
        Feedback { token_id: "tok".into(), decision, final_label: final_label.map(Into::into), note: None }
    }

    #[test]
    fn late_feedback_lands_on_its_prediction_and_the_window_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let now = Arc::new(AtomicU64::new(1_735_689_600_000)); // 2025-01-01
        let n2 = now.clone();
        let cfg = || AuditConfig {
            clock: Clock::new({
                let n = n2.clone();
                move || SystemTime::UNIX_EPOCH + Duration::from_millis(n.load(Ordering::SeqCst))
            }),
            drift_window: 3,
            ..Default::default()
        };
        let a = Audit::open(dir.path(), cfg()).unwrap();
        let cov = Coverage { content_tokens: 10, known_tokens: 7 };
        a.append(rec(&a, "r1", "affald", Some(cov))).unwrap();
        a.append(rec(&a, "r2", "skole", None)).unwrap();
        // A failed prediction is not an observation.
        let mut failed = rec(&a, "r-err", "x", None);
        (failed.label, failed.outcome) = (None, Outcome::Error { kind: "timeout".into(), message: "slow".into() });
        a.append(failed).unwrap();
        // Four days later: two more predictions, then feedback on the first day's r1 and r2.
        now.fetch_add(4 * DAY_MS, Ordering::SeqCst);
        a.append(rec(&a, "r3", "affald", None)).unwrap();
        a.add_feedback(&"0101".parse().unwrap(), "r2", fb(Decision::Overridden, Some("affald"))).unwrap();
        a.add_feedback(&"0101".parse().unwrap(), "r2", fb(Decision::Accepted, None)).unwrap(); // the latest counts
        a.add_feedback(&"0101".parse().unwrap(), "r3", fb(Decision::Overridden, Some("skole"))).unwrap();
        let w = a.drift_window(&"0101".parse().unwrap(), "postsortering");
        let seen: Vec<_> = w.iter().map(|o| (&*o.label, o.decision, o.time_ms / DAY_MS)).collect();
        let day0 = 1_735_689_600_000 / DAY_MS;
        assert_eq!(
            seen,
            [
                ("affald", None, day0),
                ("skole", Some(Decision::Accepted), day0),
                ("affald", Some(Decision::Overridden), day0 + 4)
            ]
        );
        assert_eq!((w[0].coverage, w[0].score, &*w[0].version), (Some(cov), Some(0.75), "1.0.0"));
        // The window holds 3: a fourth prediction pushes r1 out; feedback on r1 still counts in Monitoring.
        a.append(rec(&a, "r4", "miljoe", None)).unwrap();
        a.add_feedback(&"0101".parse().unwrap(), "r1", fb(Decision::Accepted, None)).unwrap();
        let w = a.drift_window(&"0101".parse().unwrap(), "postsortering");
        assert_eq!(w.iter().map(|o| &*o.label).collect::<Vec<_>>(), ["skole", "affald", "miljoe"]);
        assert_eq!(a.monitoring(&"0101".parse().unwrap(), "postsortering").feedback, 3);
        assert!(a.drift_window(&"0202".parse().unwrap(), "postsortering").is_empty());
        assert_eq!(a.drift_keys(), [("0101".parse::<crate::Tenant>().unwrap(), "postsortering".to_string())]);
        drop(a);
        // Rebuilt from the log on open.
        let b = Audit::open(dir.path(), cfg()).unwrap();
        assert_eq!(b.drift_window(&"0101".parse().unwrap(), "postsortering"), w);
    }

    #[test]
    fn coverage_is_recorded_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let a = Audit::open(dir.path(), AuditConfig::default()).unwrap();
        let bad = rec(&a, "r1", "affald", Some(Coverage { content_tokens: 1, known_tokens: 2 }));
        assert!(a.append(bad).unwrap_err().to_string().contains("known_tokens exceeds"));
        let cov = Coverage { content_tokens: 12, known_tokens: 3 };
        a.append(rec(&a, "r2", "affald", Some(cov))).unwrap();
        assert_eq!(a.get(&"0101".parse().unwrap(), "r2").unwrap().unwrap().prediction.coverage, Some(cov));
        let details = serde_json::json!({"coverage": {"content_tokens": 12, "known_tokens": 3}});
        assert_eq!(Coverage::from_details(&details), Some(cov));
        for bad in [
            serde_json::json!({}),
            serde_json::json!({"coverage": {"content_tokens": 2, "known_tokens": 3}}),
            serde_json::json!({"coverage": {"content_tokens": -1, "known_tokens": 0}}),
            serde_json::json!({"coverage": "lots"}),
        ] {
            assert_eq!(Coverage::from_details(&bad), None, "{bad}");
        }
    }
}
