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
        Metrics {
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
