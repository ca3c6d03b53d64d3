//! Prometheus metrics of the server (`GET /metrics`).
//!
//! Each server owns its registry (no global recorder), so several servers can
//! run in one process, as they do in the tests.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PredictionLabels {
    pub tenant: String,
    pub component: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ComponentLabels {
    pub component: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FeedbackLabels {
    pub tenant: String,
    pub component: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DriftLabels {
    pub tenant: String,
    pub component: String,
    pub signal: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OverrideRateLabels {
    pub tenant: String,
    pub component: String,
    /// `point`, `wilson_lower_95` or `wilson_upper_95`.
    pub estimate: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub status: u16,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 18))
}

/// All metrics the server exports.
pub struct Metrics {
    registry: Registry,
    pub predictions: Family<PredictionLabels, Counter>,
    pub prediction_seconds: Family<ComponentLabels, Histogram, fn() -> Histogram>,
    pub http_responses: Family<HttpLabels, Counter>,
    pub in_flight: Gauge,
    pub instances_installed: Gauge,
    pub audit_commit_seconds: Histogram,
    pub feedback_agreement: Family<FeedbackLabels, Gauge<f64, AtomicU64>>,
    pub feedback_override: Family<FeedbackLabels, Gauge<f64, AtomicU64>>,
    pub rate_limited: Family<FeedbackLabels, Counter>,
    pub saturated: Counter,
    /// Serial of the revocation list in force (0: none yet).
    pub revocation_serial: Gauge,
    /// Seconds until the revocation list expires; negative once it has.
    pub revocation_expires_in: Gauge,
    /// 1 while the revocation list in force has expired (or never expires).
    pub revocation_stale: Gauge,
    /// Syncs from upstream that failed (unreachable, withheld list, ...).
    pub sync_failures: Counter,
    /// Drift monitoring (`crate::drift`), per tenant, component and signal.
    pub drift_psi: Family<DriftLabels, Gauge<f64, AtomicU64>>,
    pub drift_js: Family<DriftLabels, Gauge<f64, AtomicU64>>,
    pub drift_value: Family<DriftLabels, Gauge<f64, AtomicU64>>,
    pub drift_threshold: Family<DriftLabels, Gauge<f64, AtomicU64>>,
    pub drift_alert: Family<DriftLabels, Gauge>,
    pub drift_window_predictions: Family<FeedbackLabels, Gauge>,
    pub feedback_window_decided: Family<FeedbackLabels, Gauge>,
    pub feedback_override_rate: Family<OverrideRateLabels, Gauge<f64, AtomicU64>>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("komp");
        let predictions = Family::<PredictionLabels, Counter>::default();
        registry.register("predictions", "Predictions by tenant, component and outcome", predictions.clone());
        let prediction_seconds = Family::<ComponentLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register("prediction_seconds", "Time in the sandbox per prediction", prediction_seconds.clone());
        let http_responses = Family::<HttpLabels, Counter>::default();
        registry.register("http_responses", "HTTP responses by status", http_responses.clone());
        let in_flight = Gauge::default();
        registry.register("predictions_in_flight", "Predictions running or queued now", in_flight.clone());
        let instances_installed = Gauge::default();
        registry.register("components_installed", "Installed component versions", instances_installed.clone());
        let audit_commit_seconds = latency_histogram();
        registry.register(
            "audit_append_seconds",
            "Time until an audit record is durable",
            audit_commit_seconds.clone(),
        );
        let feedback_agreement = Family::<FeedbackLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "feedback_agreement_ratio",
            "Share of predictions with feedback that caseworkers accepted",
            feedback_agreement.clone(),
        );
        let feedback_override = Family::<FeedbackLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "feedback_override_ratio",
            "Share of predictions with feedback that caseworkers overrode",
            feedback_override.clone(),
        );
        let rate_limited = Family::<FeedbackLabels, Counter>::default();
        registry.register("rate_limited", "Requests refused by a tenant's rate limit", rate_limited.clone());
        let saturated = Counter::default();
        registry.register(
            "saturated",
            "Requests refused with 503 because all prediction slots were busy",
            saturated.clone(),
        );
        let revocation_serial = Gauge::default();
        registry.register(
            "revocation_list_serial",
            "Serial of the revocation list in force",
            revocation_serial.clone(),
        );
        let revocation_expires_in = Gauge::default();
        registry.register(
            "revocation_list_expires_in_seconds",
            "Seconds until the revocation list in force expires (negative: expired)",
            revocation_expires_in.clone(),
        );
        let revocation_stale = Gauge::default();
        registry.register(
            "revocation_list_stale",
            "1 when the revocation list in force has expired or carries no expiry",
            revocation_stale.clone(),
        );
        let sync_failures = Counter::default();
        registry.register("sync_failures", "Syncs from the upstream registry that failed", sync_failures.clone());
        let drift_psi = Family::<DriftLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "drift_psi",
            "Population stability index of a distribution in the drift window against the manifest's reference (NaN: no data or reference)",
            drift_psi.clone(),
        );
        let drift_js = Family::<DriftLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "drift_js",
            "Jensen-Shannon divergence (bits) of a distribution in the drift window against the manifest's reference",
            drift_js.clone(),
        );
        let drift_value = Family::<DriftLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "drift_value",
            "The value each drift signal is compared on (PSI, unknown-word share, or the override rate's lower 95% Wilson bound)",
            drift_value.clone(),
        );
        let drift_threshold = Family::<DriftLabels, Gauge<f64, AtomicU64>>::default();
        registry.register("drift_threshold", "The alert threshold of each drift signal", drift_threshold.clone());
        let drift_alert = Family::<DriftLabels, Gauge>::default();
        registry.register("drift_alert", "1 while a drift signal is above its threshold", drift_alert.clone());
        let drift_window_predictions = Family::<FeedbackLabels, Gauge>::default();
        registry.register(
            "drift_window_predictions",
            "Predictions in the drift window that are compared with the reference",
            drift_window_predictions.clone(),
        );
        let feedback_window_decided = Family::<FeedbackLabels, Gauge>::default();
        registry.register(
            "feedback_window_decided",
            "Predictions in the drift window with a caseworker decision (late ones included)",
            feedback_window_decided.clone(),
        );
        let feedback_override_rate = Family::<OverrideRateLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "feedback_override_rate",
            "Share of decided predictions in the drift window that caseworkers overrode, with its 95% Wilson interval",
            feedback_override_rate.clone(),
        );
        Metrics {
            drift_psi,
            drift_js,
            drift_value,
            drift_threshold,
            drift_alert,
            drift_window_predictions,
            feedback_window_decided,
            feedback_override_rate,
            registry,
            revocation_serial,
            revocation_expires_in,
            revocation_stale,
            sync_failures,
            predictions,
            prediction_seconds,
            http_responses,
            in_flight,
            instances_installed,
            audit_commit_seconds,
            feedback_agreement,
            feedback_override,
            rate_limited,
            saturated,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
