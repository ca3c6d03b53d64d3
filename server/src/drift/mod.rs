//! Drift and feedback monitoring: is a component still seeing what it was trained on, and do
//! caseworkers still agree with it? Per (tenant, component), over the audit log's drift window
//! (the most recent successful predictions, [`komp_audit::Audit::drift_window`]), against the
//! `reference` in the component's signed manifest ([`komp_artifact::Reference`]).
//!
//! Signals:
//!
//! | signal | value | alert when |
//! |---|---|---|
//! | `labels` | PSI of the predicted-label shares | value > `max_psi` |
//! | `score` | PSI of the predicted label's score histogram | value > `max_psi` |
//! | `known_share` | PSI of the known-word share histogram | value > `max_psi` |
//! | `content_tokens` | PSI of the text length histogram | value > `max_psi` |
//! | `unknown_word_share` | unknown / all content tokens in the window | value > reference + `max_unknown_word_share_increase` |
//! | `override_rate` | overridden / decided predictions in the window | lower 95% Wilson bound > `max_override_rate` |
//!
//! Distribution signals need `min_predictions` observations, the override rate `min_feedback`
//! decisions; until then their state is `insufficient_data` and they cannot alert. The
//! Jensen–Shannon divergence (base 2, in [0, 1]) is reported next to each PSI.
//!
//! Feedback is attributed to the prediction it is about (the audit window keeps the latest
//! decision on each prediction), so a decision given days later counts in the window, and in the
//! day, of its prediction; `feedback.by_day` shows how each day's predictions fill up.
//!
//! An alert trips once per crossing: [`Alerts::update`] logs a structured `warn!` naming tenant,
//! component, signal, value and threshold when a signal goes into alert, and an `info!` when it
//! clears.

pub mod alerts;
pub use alerts::{evaluate, evaluate_all, evaluate_soon};

use komp_artifact::{Histogram, Reference};
use komp_audit::Tenant;
use komp_audit::{Decision, Observation};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// Probabilities below this are raised to it before PSI and JS, so that an empty bin on either
/// side gives a large but finite divergence.
pub const EPSILON: f64 = 1e-4;
/// 95% two-sided normal quantile.
pub const Z95: f64 = 1.959_963_984_540_054;
const DAY_MS: u64 = 86_400_000;

/// Drift monitoring settings (`drift` in the server config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriftConfig {
    /// Most recent successful predictions per (tenant, component) the window holds.
    pub window_predictions: usize,
    /// Only predictions from the last this many days count (0: no age limit).
    pub window_days: u32,
    /// Observations a distribution signal needs before it can alert.
    pub min_predictions: usize,
    /// Caseworker decisions the override rate needs before it can alert.
    pub min_feedback: usize,
    /// Population stability index above which a distribution signal alerts (0.1: moderate
    /// shift, 0.25: large, by the usual rule of thumb).
    pub max_psi: f64,
    /// Alert when the lower 95% Wilson bound of the override rate exceeds this.
    pub max_override_rate: f64,
    /// Alert when the window's unknown-word share exceeds the reference's by more than this.
    pub max_unknown_word_share_increase: f64,
}

impl Default for DriftConfig {
    fn default() -> Self {
        DriftConfig {
            window_predictions: 1000,
            window_days: 30,
            min_predictions: 200,
            min_feedback: 30,
            max_psi: 0.2,
            max_override_rate: 0.3,
            max_unknown_word_share_increase: 0.15,
        }
    }
}

impl DriftConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.window_predictions == 0 || self.window_predictions > 1_000_000 {
            return Err(format!("drift.window_predictions must be 1..=1000000, got {}", self.window_predictions));
        }
        if self.min_predictions == 0 || self.min_predictions > self.window_predictions {
            return Err(format!(
                "drift.min_predictions must be 1..=window_predictions ({}), got {}",
                self.window_predictions, self.min_predictions
            ));
        }
        if self.min_feedback == 0 {
            return Err("drift.min_feedback must be at least 1".into());
        }
        if !(self.max_psi.is_finite() && self.max_psi > 0.0) {
            return Err(format!("drift.max_psi must be a positive number, got {}", self.max_psi));
        }
        for (name, v) in [
            ("max_override_rate", self.max_override_rate),
            ("max_unknown_word_share_increase", self.max_unknown_word_share_increase),
        ] {
            if !(0.0..1.0).contains(&v) {
                return Err(format!("drift.{name} must be in [0, 1), got {v}"));
            }
        }
        Ok(())
    }
}

/// Population stability index `Σ (a − e) ln(a / e)` of `actual` against `expected` (both shares
/// over the same bins; each is floored at [`EPSILON`] and renormalised).
pub fn psi(actual: &[f64], expected: &[f64]) -> f64 {
    let (a, e) = (floor(actual), floor(expected));
    a.iter().zip(&e).map(|(a, e)| (a - e) * (a / e).ln()).sum()
}

/// Jensen–Shannon divergence in bits (0 = equal, 1 = disjoint), with the same flooring as [`psi`].
pub fn js(actual: &[f64], expected: &[f64]) -> f64 {
    let (a, e) = (floor(actual), floor(expected));
    let kl = |p: &[f64], m: &[f64]| p.iter().zip(m).map(|(p, m)| p * (p / m).log2()).sum::<f64>();
    let m: Vec<f64> = a.iter().zip(&e).map(|(a, e)| (a + e) / 2.0).collect();
    (0.5 * kl(&a, &m) + 0.5 * kl(&e, &m)).clamp(0.0, 1.0)
}

fn floor(p: &[f64]) -> Vec<f64> {
    let v: Vec<f64> = p.iter().map(|x| x.max(EPSILON)).collect();
    let s: f64 = v.iter().sum();
    v.into_iter().map(|x| x / s).collect()
}

/// The 95% Wilson score interval of `k` successes in `n` trials (`[0, 1]` when `n` is 0).
pub fn wilson(k: u64, n: u64) -> [f64; 2] {
    if n == 0 {
        return [0.0, 1.0];
    }
    let (n, p, z2) = (n as f64, k as f64 / n as f64, Z95 * Z95);
    let d = 1.0 + z2 / n;
    let c = (p + z2 / (2.0 * n)) / d;
    let h = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / d;
    [(c - h).max(0.0), (c + h).min(1.0)]
}

/// Shares of `values` in the bins of `h`.
fn shares(h: &Histogram, values: impl Iterator<Item = f64>) -> (Vec<f64>, u64) {
    let mut counts = vec![0u64; h.shares.len()];
    let mut n = 0;
    for v in values {
        counts[h.bin(v)] += 1;
        n += 1;
    }
    (counts.iter().map(|c| if n == 0 { 0.0 } else { *c as f64 / n as f64 }).collect(), n)
}

/// Where a signal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalState {
    Ok,
    Alert,
    /// Fewer observations than the minimum: no alert either way.
    InsufficientData,
    /// The manifest has no reference for this signal (or the component does not report coverage).
    NoReference,
}

/// One signal of a [`DriftReport`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signal {
    pub signal: &'static str,
    /// `psi`, `share` or `wilson_lower_95` (what `value` and `threshold` are compared on).
    pub measure: &'static str,
    pub value: Option<f64>,
    pub threshold: f64,
    pub state: SignalState,
    /// Observations the value is computed from, and how many it needs.
    pub n: u64,
    pub min_n: u64,
    /// Jensen–Shannon divergence (bits) for distribution signals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub js: Option<f64>,
    /// The reference value, for `unknown_word_share`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<f64>,
    /// Live and reference shares per bin (label or histogram bin), for distribution signals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bins: Option<Vec<Bin>>,
}

/// One bin of a distribution signal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bin {
    /// The label, or the bin's range `[lo, hi)`.
    pub bin: String,
    pub live: f64,
    pub reference: f64,
}

/// Feedback on the window's predictions, by prediction day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackWindow {
    pub predictions: u64,
    pub decided: u64,
    pub accepted: u64,
    pub overridden: u64,
    pub override_rate: Option<f64>,
    pub override_rate_wilson_95: [f64; 2],
    /// Per UTC day of the predictions (oldest first): decisions given so far on that day's
    /// predictions, however late they came.
    pub by_day: Vec<FeedbackDay>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackDay {
    pub day: String,
    pub predictions: u64,
    pub decided: u64,
    pub overridden: u64,
    pub override_rate: Option<f64>,
    pub override_rate_wilson_95: [f64; 2],
}

/// What the window is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowInfo {
    /// Observations compared (of the reference version, within the age limit).
    pub predictions: u64,
    pub max_predictions: usize,
    pub max_age_days: u32,
    /// First and last prediction time in the window (RFC 3339).
    pub from: Option<String>,
    pub to: Option<String>,
    /// Predictions in the window made by other versions than `version` (not compared).
    pub other_versions: u64,
}

/// Drift and feedback monitoring of one tenant's component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    /// The component version compared: the one that made the newest prediction in the window.
    pub version: Option<String>,
    /// `source` of the manifest's reference, or why there is none.
    pub reference: String,
    pub window: WindowInfo,
    pub signals: Vec<Signal>,
    pub feedback: FeedbackWindow,
    /// Signals in alert.
    pub alerts: Vec<&'static str>,
}

impl DriftReport {
    pub fn signal(&self, name: &str) -> Option<&Signal> {
        self.signals.iter().find(|s| s.signal == name)
    }
}

fn range_name(h: &Histogram, i: usize) -> String {
    let lo = if i == 0 { "-inf".to_string() } else { h.cuts[i - 1].to_string() };
    let hi = h.cuts.get(i).map_or("inf".to_string(), |c| c.to_string());
    format!("[{lo}, {hi})")
}

fn distribution(
    name: &'static str,
    live: Vec<f64>,
    reference: Vec<f64>,
    names: Vec<String>,
    n: u64,
    cfg: &DriftConfig,
) -> Signal {
    let enough = n >= cfg.min_predictions as u64;
    let (value, j) = if n > 0 { (Some(psi(&live, &reference)), Some(js(&live, &reference))) } else { (None, None) };
    let state = match value {
        Some(v) if enough && v > cfg.max_psi => SignalState::Alert,
        Some(_) if enough => SignalState::Ok,
        _ => SignalState::InsufficientData,
    };
    let bins = names
        .into_iter()
        .zip(live.iter().zip(&reference))
        .map(|(bin, (l, r))| Bin { bin, live: *l, reference: *r })
        .collect();
    Signal {
        signal: name,
        measure: "psi",
        value,
        threshold: cfg.max_psi,
        state,
        n,
        min_n: cfg.min_predictions as u64,
        js: j,
        reference: None,
        bins: Some(bins),
    }
}

fn histogram_signal(
    name: &'static str,
    h: Option<&Histogram>,
    values: impl Iterator<Item = f64>,
    cfg: &DriftConfig,
) -> Signal {
    match h {
        Some(h) => {
            let (live, n) = shares(h, values);
            let names = (0..h.shares.len()).map(|i| range_name(h, i)).collect();
            distribution(name, live, h.shares.clone(), names, n, cfg)
        }
        None => no_reference(name, "psi", cfg.max_psi, cfg.min_predictions),
    }
}

fn no_reference(name: &'static str, measure: &'static str, threshold: f64, min_n: usize) -> Signal {
    Signal {
        signal: name,
        measure,
        value: None,
        threshold,
        state: SignalState::NoReference,
        n: 0,
        min_n: min_n as u64,
        js: None,
        reference: None,
        bins: None,
    }
}

fn rate(k: u64, n: u64) -> Option<f64> {
    (n > 0).then(|| k as f64 / n as f64)
}

/// Computes the report of one window. `reference_of(version)` gives the manifest reference of that
/// component version (`None` if it is not installed or has none); `now_ms` bounds the window's age.
pub fn report(
    window: &[Observation],
    reference_of: impl Fn(&str) -> Option<Reference>,
    cfg: &DriftConfig,
    now_ms: u64,
) -> DriftReport {
    let min_time = if cfg.window_days == 0 { 0 } else { now_ms.saturating_sub(u64::from(cfg.window_days) * DAY_MS) };
    let recent: Vec<&Observation> = window.iter().filter(|o| o.time_ms >= min_time).collect();
    let version = recent.last().map(|o| o.version.to_string());
    let obs: Vec<&Observation> = recent.iter().copied().filter(|o| Some(&*o.version) == version.as_deref()).collect();
    let reference = version.as_deref().and_then(&reference_of);
    let n = obs.len() as u64;
    let window_info = WindowInfo {
        predictions: n,
        max_predictions: cfg.window_predictions,
        max_age_days: cfg.window_days,
        from: obs.first().map(|o| komp_audit::format_rfc3339(o.time_ms)),
        to: obs.last().map(|o| komp_audit::format_rfc3339(o.time_ms)),
        other_versions: (recent.len() - obs.len()) as u64,
    };

    let mut signals = Vec::new();
    let reference_text = match &reference {
        None => {
            for s in ["labels", "score", "known_share", "content_tokens"] {
                signals.push(no_reference(s, "psi", cfg.max_psi, cfg.min_predictions));
            }
            signals.push(no_reference(
                "unknown_word_share",
                "share",
                cfg.max_unknown_word_share_increase,
                cfg.min_predictions,
            ));
            match &version {
                Some(v) => format!("version {v} is not installed or its manifest has no reference"),
                None => "no predictions in the window".to_string(),
            }
        }
        Some(r) => {
            // Labels: the union of the reference's and the window's labels, in name order.
            let mut counts: BTreeMap<&str, u64> = r.labels.keys().map(|l| (l.as_str(), 0)).collect();
            for o in &obs {
                *counts.entry(&o.label).or_default() += 1;
            }
            let names: Vec<String> = counts.keys().map(|l| l.to_string()).collect();
            let live = counts.values().map(|c| rate(*c, n).unwrap_or(0.0)).collect();
            let refs = counts.keys().map(|l| r.labels.get(*l).copied().unwrap_or(0.0)).collect();
            signals.push(distribution("labels", live, refs, names, n, cfg));
            signals.push(histogram_signal(
                "score",
                Some(&r.score),
                obs.iter().filter_map(|o| o.score).map(f64::from),
                cfg,
            ));
            let cov: Vec<komp_audit::Coverage> = obs.iter().filter_map(|o| o.coverage).collect();
            signals.push(histogram_signal(
                "known_share",
                r.known_share.as_ref(),
                cov.iter()
                    .filter(|c| c.content_tokens > 0)
                    .map(|c| f64::from(c.known_tokens) / f64::from(c.content_tokens)),
                cfg,
            ));
            signals.push(histogram_signal(
                "content_tokens",
                r.content_tokens.as_ref(),
                cov.iter().map(|c| f64::from(c.content_tokens)),
                cfg,
            ));
            signals.push(match r.unknown_word_share {
                None => no_reference(
                    "unknown_word_share",
                    "share",
                    cfg.max_unknown_word_share_increase,
                    cfg.min_predictions,
                ),
                Some(base) => {
                    let total: u64 = cov.iter().map(|c| u64::from(c.content_tokens)).sum();
                    let unknown: u64 = cov.iter().map(|c| u64::from(c.content_tokens - c.known_tokens)).sum();
                    let value = rate(unknown, total);
                    let threshold = base + cfg.max_unknown_word_share_increase;
                    let m = cov.len() as u64;
                    let enough = m >= cfg.min_predictions as u64;
                    let state = match value {
                        Some(v) if enough && v > threshold => SignalState::Alert,
                        Some(_) if enough => SignalState::Ok,
                        _ => SignalState::InsufficientData,
                    };
                    Signal {
                        signal: "unknown_word_share",
                        measure: "share",
                        value,
                        threshold,
                        state,
                        n: m,
                        min_n: cfg.min_predictions as u64,
                        js: None,
                        reference: Some(base),
                        bins: None,
                    }
                }
            });
            r.source.clone()
        }
    };

    // Feedback: on every prediction of the window, by prediction day.
    let decided = |os: &[&Observation]| {
        let d = os.iter().filter(|o| o.decision.is_some()).count() as u64;
        let over = os.iter().filter(|o| o.decision == Some(Decision::Overridden)).count() as u64;
        (d, over)
    };
    let (d, over) = decided(&obs);
    let mut by_day = Vec::new();
    for day in obs.chunk_by(|a, b| a.time_ms / DAY_MS == b.time_ms / DAY_MS) {
        let (dd, dover) = decided(day);
        by_day.push(FeedbackDay {
            day: komp_audit::format_rfc3339(day[0].time_ms / DAY_MS * DAY_MS)[..10].to_string(),
            predictions: day.len() as u64,
            decided: dd,
            overridden: dover,
            override_rate: rate(dover, dd),
            override_rate_wilson_95: wilson(dover, dd),
        });
    }
    let interval = wilson(over, d);
    let feedback = FeedbackWindow {
        predictions: n,
        decided: d,
        accepted: d - over,
        overridden: over,
        override_rate: rate(over, d),
        override_rate_wilson_95: interval,
        by_day,
    };
    let enough = d >= cfg.min_feedback as u64;
    signals.push(Signal {
        signal: "override_rate",
        measure: "wilson_lower_95",
        value: (d > 0).then_some(interval[0]),
        threshold: cfg.max_override_rate,
        state: match d > 0 {
            true if enough && interval[0] > cfg.max_override_rate => SignalState::Alert,
            true if enough => SignalState::Ok,
            _ => SignalState::InsufficientData,
        },
        n: d,
        min_n: cfg.min_feedback as u64,
        js: None,
        reference: None,
        bins: None,
    });
    let alerts = signals.iter().filter(|s| s.state == SignalState::Alert).map(|s| s.signal).collect();
    DriftReport { version, reference: reference_text, window: window_info, signals, feedback, alerts }
}

/// Which (tenant, component, signal) alerts are tripped, so each crossing is logged once.
#[derive(Debug, Default)]
pub struct Alerts {
    active: Mutex<BTreeSet<(String, String, &'static str)>>,
    /// (tenant, component)s with an evaluation queued ([`evaluate_soon`]).
    queued: Mutex<BTreeSet<(Tenant, String)>>,
}

/// A change of alert state found by [`Alerts::update`].
#[derive(Debug, Clone, PartialEq)]
pub struct Crossing {
    pub signal: &'static str,
    pub tripped: bool,
}

impl Alerts {
    /// Records the report's alert states; logs and returns the crossings (tripped or cleared).
    pub fn update(&self, tenant: &Tenant, component: &str, r: &DriftReport) -> Vec<Crossing> {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for s in &r.signals {
            let key = (tenant.to_string(), component.to_string(), s.signal);
            let alert = s.state == SignalState::Alert;
            if alert && active.insert(key.clone()) {
                tracing::warn!(
                    tenant = %tenant,
                    component,
                    signal = s.signal,
                    measure = s.measure,
                    value = s.value.unwrap_or(f64::NAN),
                    threshold = s.threshold,
                    n = s.n,
                    version = r.version.as_deref().unwrap_or(""),
                    "drift alert: {} of {component} for tenant {tenant} is {:.4} ({}), above the threshold {}",
                    s.signal,
                    s.value.unwrap_or(f64::NAN),
                    s.measure,
                    s.threshold
                );
                out.push(Crossing { signal: s.signal, tripped: true });
            } else if !alert && active.remove(&key) {
                tracing::info!(
                    tenant = %tenant,
                    component,
                    signal = s.signal,
                    value = s.value.unwrap_or(f64::NAN),
                    threshold = s.threshold,
                    "drift alert cleared: {} of {component} for tenant {tenant}",
                    s.signal
                );
                out.push(Crossing { signal: s.signal, tripped: false });
            }
        }
        out
    }

    /// Queues an evaluation of (tenant, component); false if one is queued already (it will see
    /// the window as it is when it runs, so it covers this caller too).
    pub fn queue(&self, tenant: &Tenant, component: &str) -> bool {
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        queued.insert((*tenant, component.to_string()))
    }

    /// Takes (tenant, component) off the queue, just before its evaluation reads the window: a
    /// prediction committed after this queues a new evaluation.
    pub fn dequeue(&self, tenant: &Tenant, component: &str) {
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        queued.remove(&(*tenant, component.to_string()));
    }

    /// Whether the alert of (tenant, component, signal) is tripped.
    pub fn is_active(&self, tenant: &Tenant, component: &str, signal: &str) -> bool {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        active.iter().any(|(t, c, s)| t == tenant.as_str() && c == component && *s == signal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use komp_audit::Coverage;
    use std::sync::Arc;

    #[test]
    fn psi_js_and_wilson_match_hand_computed_values() {
        assert_eq!(psi(&[0.5, 0.5], &[0.5, 0.5]), 0.0);
        let p = psi(&[0.6, 0.4], &[0.5, 0.5]);
        assert!((p - (0.1 * 1.2f64.ln() - 0.1 * 0.8f64.ln())).abs() < 1e-6, "{p}");
        assert!((psi(&[0.6, 0.4], &[0.5, 0.5]) - psi(&[0.5, 0.5], &[0.6, 0.4])).abs() < 1e-12, "PSI is symmetric");
        // An empty reference bin gives a large, finite PSI.
        let p = psi(&[0.5, 0.5], &[1.0, 0.0]);
        assert!(p.is_finite() && p > 2.0, "{p}");
        assert_eq!(js(&[0.3, 0.7], &[0.3, 0.7]), 0.0);
        let j = js(&[1.0, 0.0], &[0.0, 1.0]);
        assert!(j > 0.99 && j <= 1.0, "{j}");
        assert!((js(&[0.2, 0.8], &[0.6, 0.4]) - js(&[0.6, 0.4], &[0.2, 0.8])).abs() < 1e-12);
        // Wilson: textbook values (e.g. Newcombe 1998).
        let w = wilson(0, 10);
        assert!(w[0] == 0.0 && (w[1] - 0.2775).abs() < 1e-4, "{w:?}");
        let w = wilson(5, 10);
        assert!((w[0] - 0.2366).abs() < 1e-4 && (w[1] - 0.7634).abs() < 1e-4, "{w:?}");
        let w = wilson(81, 263);
        assert!((w[0] - 0.2553).abs() < 1e-3 && (w[1] - 0.3662).abs() < 1e-3, "{w:?}");
        assert_eq!(wilson(0, 0), [0.0, 1.0]);
    }

    fn reference() -> Reference {
        Reference {
            source: "test reference".into(),
            n: 1000,
            labels: [("a", 0.5), ("b", 0.3), ("c", 0.2)].into_iter().map(|(l, s)| (l.to_string(), s)).collect(),
            score: Histogram { cuts: vec![0.5, 0.9], shares: vec![0.2, 0.5, 0.3] },
            known_share: Some(Histogram { cuts: vec![0.5, 0.9], shares: vec![0.1, 0.6, 0.3] }),
            content_tokens: Some(Histogram { cuts: vec![20.0, 80.0], shares: vec![0.3, 0.6, 0.1] }),
            unknown_word_share: Some(0.15),
        }
    }

    /// A deterministic stream: observation i gets label, score and coverage cycled through
    /// patterns whose shares are the reference's (`shift` = false) or a surge of one label with
    /// new vocabulary (`shift` = true).
    fn stream(n: usize, shift: bool, start_ms: u64) -> Vec<Observation> {
        (0..n)
            .map(|i| {
                let k = i % 10;
                let (label, score, content, known) = if shift {
                    ("c", if k < 6 { 0.4 } else { 0.7 }, 10, 4)
                } else {
                    let label = ["a", "a", "a", "a", "a", "b", "b", "b", "c", "c"][k];
                    let score = [0.3, 0.4, 0.6, 0.6, 0.7, 0.7, 0.8, 0.95, 0.95, 0.99][k];
                    let content = [10, 10, 10, 30, 30, 30, 30, 30, 30, 100][k];
                    let known = [3, 7, 7, 21, 21, 21, 21, 30, 30, 100][k];
                    (label, score, content, known)
                };
                Observation {
                    seq: i as u64 + 1,
                    time_ms: start_ms + i as u64 * 60_000,
                    version: Arc::from("1.0.0"),
                    label: Arc::from(label),
                    score: Some(score),
                    coverage: Some(Coverage { content_tokens: content, known_tokens: known }),
                    decision: None,
                }
            })
            .collect()
    }

    const NOW: u64 = 1_735_689_600_000;

    #[test]
    fn a_stable_stream_raises_nothing_and_a_shifted_one_alerts() {
        let cfg = DriftConfig { min_predictions: 100, ..Default::default() };
        let r = report(&stream(200, false, NOW - 86_400_000), |_| Some(reference()), &cfg, NOW);
        assert!(r.alerts.is_empty(), "{r:#?}");
        assert_eq!(r.window.predictions, 200);
        for s in ["labels", "score", "known_share", "content_tokens", "unknown_word_share"] {
            assert_eq!(r.signal(s).unwrap().state, SignalState::Ok, "{s}: {:?}", r.signal(s));
        }
        let shifted = report(&stream(200, true, NOW - 86_400_000), |_| Some(reference()), &cfg, NOW);
        for s in ["labels", "score", "known_share", "unknown_word_share"] {
            assert_eq!(shifted.signal(s).unwrap().state, SignalState::Alert, "{s}: {:?}", shifted.signal(s));
        }
        // Too few observations: no alert, whatever the values.
        let few = report(&stream(50, true, NOW - 86_400_000), |_| Some(reference()), &cfg, NOW);
        assert!(few.alerts.is_empty());
        assert_eq!(few.signal("labels").unwrap().state, SignalState::InsufficientData);
        // No reference: nothing to compare, but feedback still works.
        let none = report(&stream(200, true, NOW - 86_400_000), |_| None, &cfg, NOW);
        assert_eq!(none.signal("labels").unwrap().state, SignalState::NoReference);
        assert!(none.reference.contains("no reference"), "{}", none.reference);
    }

    #[test]
    fn window_age_and_versions_limit_what_is_compared() {
        let cfg = DriftConfig { min_predictions: 10, window_days: 2, ..Default::default() };
        let mut w = stream(30, false, NOW - 5 * 86_400_000);
        w.extend(stream(20, false, NOW - 3_600_000).into_iter().map(|mut o| {
            o.seq += 100;
            o
        }));
        for o in w.iter_mut().skip(40) {
            o.version = Arc::from("1.1.0");
        }
        let r = report(&w, |v| (v == "1.1.0").then(reference), &cfg, NOW);
        assert_eq!(r.version.as_deref(), Some("1.1.0"));
        assert_eq!((r.window.predictions, r.window.other_versions), (10, 10));
    }

    #[test]
    fn late_feedback_counts_on_its_prediction_day_and_alerts_on_the_wilson_bound() {
        let cfg = DriftConfig { min_predictions: 10, min_feedback: 30, max_override_rate: 0.3, ..Default::default() };
        let day = 86_400_000;
        let mut w = stream(40, false, NOW - 10 * day);
        w.extend(stream(40, false, NOW - 9 * day).into_iter().map(|mut o| {
            o.seq += 100;
            o
        }));
        // Decisions on the first day's predictions only (they came in days later): 30 of 40
        // overridden; the second day has none yet.
        for (i, o) in w.iter_mut().take(40).enumerate() {
            o.decision = Some(if i < 30 { Decision::Overridden } else { Decision::Accepted });
        }
        let r = report(&w, |_| Some(reference()), &cfg, NOW);
        assert_eq!((r.feedback.decided, r.feedback.overridden), (40, 30));
        assert_eq!(r.feedback.by_day.len(), 2);
        assert_eq!((r.feedback.by_day[0].decided, r.feedback.by_day[0].overridden), (40, 30));
        assert_eq!((r.feedback.by_day[1].predictions, r.feedback.by_day[1].decided), (40, 0));
        let s = r.signal("override_rate").unwrap();
        assert_eq!(s.state, SignalState::Alert, "{s:?}");
        assert_eq!(s.value, Some(wilson(30, 40)[0]));
        // 12 of 40 overridden: rate 0.3, lower bound below it: no alert.
        for (i, o) in w.iter_mut().take(40).enumerate() {
            o.decision = Some(if i < 12 { Decision::Overridden } else { Decision::Accepted });
        }
        let r = report(&w, |_| Some(reference()), &cfg, NOW);
        assert_eq!(r.signal("override_rate").unwrap().state, SignalState::Ok);
    }

    #[test]
    fn an_alert_trips_once_per_crossing_and_clears() {
        let cfg = DriftConfig { min_predictions: 100, ..Default::default() };
        let alerts = Alerts::default();
        let stable = report(&stream(200, false, NOW - 1000), |_| Some(reference()), &cfg, NOW);
        let shifted = report(&stream(200, true, NOW - 1000), |_| Some(reference()), &cfg, NOW);
        assert!(alerts.update(&"0101".parse().unwrap(), "x", &stable).is_empty());
        let tripped = alerts.update(&"0101".parse().unwrap(), "x", &shifted);
        assert!(tripped.iter().all(|c| c.tripped) && tripped.iter().any(|c| c.signal == "labels"), "{tripped:?}");
        assert!(alerts.update(&"0101".parse().unwrap(), "x", &shifted).is_empty(), "logged once per crossing");
        assert!(
            alerts.is_active(&"0101".parse().unwrap(), "x", "labels")
                && !alerts.is_active(&"0202".parse().unwrap(), "x", "labels")
        );
        let cleared = alerts.update(&"0101".parse().unwrap(), "x", &stable);
        assert_eq!(cleared.len(), tripped.len());
        assert!(cleared.iter().all(|c| !c.tripped));
        assert!(!alerts.is_active(&"0101".parse().unwrap(), "x", "labels"));
    }

    #[test]
    fn config_is_checked() {
        DriftConfig::default().validate().unwrap();
        let bad = DriftConfig { min_predictions: 5000, ..Default::default() };
        assert!(bad.validate().unwrap_err().contains("min_predictions"));
        let bad = DriftConfig { max_psi: -1.0, ..Default::default() };
        assert!(bad.validate().unwrap_err().contains("max_psi"));
        let bad = DriftConfig { max_override_rate: 1.5, ..Default::default() };
        assert!(bad.validate().unwrap_err().contains("max_override_rate"));
    }
}
