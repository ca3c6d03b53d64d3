//! Drift monitoring in the server: evaluates a (tenant, component)'s window soon after each
//! prediction (off the answer's path, [`evaluate_soon`]) and after each feedback, for the
//! monitoring endpoint, on each metrics scrape and at start-up
//! (so alerts still tripped after a restart are logged again), and keeps the gauges and the
//! alert states. The computation is [`super`].

use crate::drift::{report, DriftReport, SignalState};
use crate::metrics::{DriftLabels, FeedbackLabels, OverrideRateLabels};
use crate::AppState;
use komp_audit::Tenant;

/// The drift report of `tenant`'s `component` now; updates its alert states (logging crossings)
/// and its gauges.
pub fn evaluate(s: &AppState, tenant: &Tenant, component: &str) -> DriftReport {
    let window = s.audit.drift_window(tenant, component);
    let reference_of = |version: &str| {
        let v = semver::Version::parse(version).ok()?;
        s.runtime.lookup(component, Some(&v)).ok()?.manifest().reference.clone()
    };
    let now_ms = komp_audit::system_time_ms(std::time::SystemTime::now());
    let r = report(&window, reference_of, &s.config.drift, now_ms);
    s.drift_alerts.update(tenant, component, &r);
    set_gauges(s, tenant, component, &r);
    r
}

/// Evaluates `tenant`'s `component` soon, off the caller's path: after a prediction, so that the
/// answer does not wait for it. An evaluation copies the whole window (1,000 predictions by
/// default) and computes every signal; inline, it was on the critical path of every prediction
/// (BENCHMARKS.md). Predictions committed while one is queued share it (it reads the window when
/// it runs), so under load it runs about once per batch, not once per prediction; one committed
/// after it has started queues the next, so the latest window is always evaluated. The
/// monitoring endpoint and `/metrics` still evaluate synchronously.
pub fn evaluate_soon(s: &crate::SharedState, tenant: &Tenant, component: &str) {
    if !s.drift_alerts.queue(tenant, component) {
        return;
    }
    let (s, tenant, component) = (s.clone(), *tenant, component.to_string());
    tokio::spawn(async move {
        s.drift_alerts.dequeue(&tenant, &component);
        evaluate(&s, &tenant, &component);
    });
}

/// Evaluates every (tenant, component) with predictions in its window.
pub fn evaluate_all(s: &AppState) {
    for (tenant, component) in s.audit.drift_keys() {
        evaluate(s, &tenant, &component);
    }
}

fn set_gauges(s: &AppState, tenant: &Tenant, component: &str, r: &DriftReport) {
    let m = &s.metrics;
    for sig in &r.signals {
        let l = DriftLabels {
            tenant: tenant.to_string(),
            component: component.to_string(),
            signal: sig.signal.to_string(),
        };
        let value = sig.value.unwrap_or(f64::NAN);
        if sig.measure == "psi" {
            m.drift_psi.get_or_create(&l).set(value);
            m.drift_js.get_or_create(&l).set(sig.js.unwrap_or(f64::NAN));
        }
        m.drift_value.get_or_create(&l).set(value);
        m.drift_threshold.get_or_create(&l).set(sig.threshold);
        m.drift_alert.get_or_create(&l).set(i64::from(sig.state == SignalState::Alert));
    }
    let l = FeedbackLabels { tenant: tenant.to_string(), component: component.to_string() };
    m.drift_window_predictions.get_or_create(&l).set(r.window.predictions as i64);
    m.feedback_window_decided.get_or_create(&l).set(r.feedback.decided as i64);
    let f = &r.feedback;
    for (estimate, v) in [
        ("point", f.override_rate.unwrap_or(f64::NAN)),
        ("wilson_lower_95", if f.decided > 0 { f.override_rate_wilson_95[0] } else { f64::NAN }),
        ("wilson_upper_95", if f.decided > 0 { f.override_rate_wilson_95[1] } else { f64::NAN }),
    ] {
        let l = OverrideRateLabels {
            tenant: tenant.to_string(),
            component: component.to_string(),
            estimate: estimate.to_string(),
        };
        m.feedback_override_rate.get_or_create(&l).set(v);
    }
}
