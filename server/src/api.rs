//! The JSON API for case systems (`/v1`).

use super::auth::{Principal, Role};
use super::extract::{Path, Query, RawBody};
use super::{error_kind, ApiError, SharedState};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use komp_audit::Tenant;
use komp_runtime::runtime::{InstalledComponent, PredictionOutcome};
use komp_runtime::RuntimeError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

/// `GET /v1/components`: what this tenant may call.
pub async fn catalog(State(s): State<SharedState>, p: Principal) -> Result<Json<Value>, ApiError> {
    let list: Vec<Value> = s
        .runtime
        .components()
        .iter()
        .filter(|c| s.allowed(&p.tenant, &c.manifest().name))
        .map(|c| {
            let m = c.manifest();
            json!({
                "name": m.name,
                "version": m.version.to_string(),
                "description": m.description,
                "digest": c.digest(),
                "publisher": m.publisher,
                "ai_act_risk_class": m.ai_act.risk_class,
                "labels": m.labels,
                "withdrawn": c.withdrawn(),
            })
        })
        .collect();
    Ok(Json(json!({ "components": list })))
}

/// `GET /v1/components/{name}`: the manifest with model card, ALTAI, AI Act
/// class, signatures and endorsement state, golden vector status.
pub async fn component(
    State(s): State<SharedState>,
    p: Principal,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    s.require_allowed(&p, &name)?;
    let c = s.runtime.lookup(&name, None)?;
    Ok(Json(describe(&s, &c)))
}

pub fn describe(s: &SharedState, c: &InstalledComponent) -> Value {
    let m = c.manifest();
    let versions = s.runtime.versions(&m.name);
    json!({
        "name": m.name,
        "version": m.version.to_string(),
        "versions": versions,
        "digest": c.digest(),
        "withdrawn": c.withdrawn(),
        "manifest": {
            "description": m.description,
            "publisher": m.publisher,
            "licence": m.licence,
            "world": m.world,
            "labels": m.labels,
            "input_schema": m.input_schema,
            "models": m.models,
            "reference": m.reference,
        },
        "model_card": m.model_card,
        "altai": m.altai,
        "ai_act": m.ai_act,
        "provenance": s.verifier.provenance.lock().expect("lock").get(c.digest()).cloned().unwrap_or(json!({ "signatures": [] })),
        "golden_vectors": { "count": m.golden_vectors.len(), "passed_at_install": c.golden_passed() },
    })
}

/// The body of a successful prediction.
#[derive(Serialize)]
pub struct PredictResponse {
    pub request_id: String,
    #[serde(flatten)]
    pub outcome: PredictionOutcome,
    /// Where this municipality routes the label (postsortering), if configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing: Option<super::config::Route>,
}

/// `POST /v1/components/{name}/predict`
pub async fn predict(
    State(s): State<SharedState>,
    p: Principal,
    Path(name): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    predict_inner(s, p, name, None, body).await
}

/// `POST /v1/components/{name}/{version}/predict`
pub async fn predict_version(
    State(s): State<SharedState>,
    p: Principal,
    Path((name, version)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    predict_inner(s, p, name, Some(version), body).await
}

pub fn parse_version(v: Option<&str>) -> Result<Option<semver::Version>, ApiError> {
    v.map(|v| {
        semver::Version::parse(v).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("version {v:?} is not a semantic version: {e}"))
        })
    })
    .transpose()
}

async fn predict_inner(
    s: SharedState,
    p: Principal,
    name: String,
    version: Option<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    s.require(&p, Role::Caller)?;
    s.require_allowed(&p, &name)?;
    let version = parse_version(version.as_deref())?;
    let component = s.runtime.lookup(&name, version.as_ref())?;
    let input = std::str::from_utf8(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("the body is not UTF-8: {e}")))?
        .to_string();
    let (request_id, outcome) = run_prediction(&s, &p, component, input).await?;
    let routing = s
        .config
        .tenants
        .get(&p.tenant)
        .and_then(|t| t.routing.get(&outcome.component))
        .and_then(|r| r.get(&outcome.prediction.label))
        .cloned();
    Ok(Json(PredictResponse { request_id, outcome, routing }).into_response())
}

/// Rate limit, slot, sandbox, audit: shared by the JSON API and OIP.
/// Returns the request id and the outcome; the audit record is durable
/// before this returns, for failures as well as successes.
///
/// The sandbox call and its audit record run in a task of their own that
/// holds the prediction slot: if the request times out (or the client goes
/// away) while the sandbox runs, the handler is dropped but the task is not,
/// so every prediction that ran is audited (outcome `timeout` when nobody was
/// left to answer), the in-flight gauge comes back down, and the slot stays
/// taken until the sandbox has returned.
pub async fn run_prediction(
    s: &SharedState,
    p: &Principal,
    component: Arc<InstalledComponent>,
    input: String,
) -> Result<(String, PredictionOutcome), ApiError> {
    s.rate_limit(p, &component.manifest().name)?;
    let slot = s.slot()?;
    // Dropped with this future: the task sees the caller is gone.
    let (_caller_waiting, caller) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(predict_and_audit(s.clone(), p.clone(), component, input, slot, caller));
    task.await.map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("prediction task failed: {e}")))?
}

/// The input with every number that has an integral value (`33.0`, `1e2`)
/// written as an integer (`33`, `100`), so a component reading an
/// `"integer"` field gets one. JSON Schema counts `33.0` as an integer and
/// the input schema check (and any generic client) agrees; a component's
/// typed parser (serde into `u32`) would not. Reading such a number into a
/// float is unchanged. Input that does not parse is passed on as it is (the
/// runtime answers it). The audit's input hash stays over the raw input.
pub fn integral_numbers_as_integers(input: &str) -> std::borrow::Cow<'_, str> {
    fn fix(v: &mut Value) -> bool {
        match v {
            Value::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
                // Exactly representable: |x| <= 2^53.
                Some(f) if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 => {
                    *v = Value::from(f as i64);
                    true
                }
                _ => false,
            },
            Value::Array(a) => a.iter_mut().fold(false, |changed, v| fix(v) | changed),
            Value::Object(o) => o.values_mut().fold(false, |changed, v| fix(v) | changed),
            _ => false,
        }
    }
    if !has_fraction_or_exponent(input) {
        return std::borrow::Cow::Borrowed(input);
    }
    match serde_json::from_str::<Value>(input) {
        Ok(mut v) => match fix(&mut v) {
            true => std::borrow::Cow::Owned(v.to_string()),
            false => std::borrow::Cow::Borrowed(input),
        },
        Err(_) => std::borrow::Cow::Borrowed(input),
    }
}

/// Whether a number outside the strings of `input` has a fraction or an exponent (a `.`, `e` or
/// `E` right after a digit): only then can [`integral_numbers_as_integers`] change anything. A
/// scan without allocation; it spares the extra JSON parse of nearly every input (free text is
/// inside strings, and integer fields have neither), which was on the path of every prediction.
fn has_fraction_or_exponent(input: &str) -> bool {
    let (mut in_string, mut escaped, mut after_digit) = (false, false, false);
    for b in input.bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'.' | b'e' | b'E' if after_digit => return true,
            _ => {}
        }
        after_digit = b.is_ascii_digit();
    }
    false
}

/// Decrements the in-flight gauge however the prediction ends.
struct InFlight<'a>(&'a super::metrics::Metrics);

impl<'a> InFlight<'a> {
    fn enter(m: &'a super::metrics::Metrics) -> InFlight<'a> {
        m.in_flight.inc();
        InFlight(m)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.dec();
    }
}

async fn predict_and_audit(
    s: SharedState,
    p: Principal,
    component: Arc<InstalledComponent>,
    input: String,
    _slot: tokio::sync::OwnedSemaphorePermit,
    mut caller: tokio::sync::oneshot::Receiver<()>,
) -> Result<(String, PredictionOutcome), ApiError> {
    let name = component.manifest().name.clone();
    let started = Instant::now();
    let input_hmac = s.audit.input_hmac(input.as_bytes());
    let blocking_started = Instant::now();
    let result = {
        let _in_flight = InFlight::enter(&s.metrics);
        let runtime = s.runtime.clone();
        let c = component.clone();
        tokio::task::spawn_blocking(move || runtime.predict_with(&c, &integral_numbers_as_integers(&input))).await
    };
    let blocking_us = blocking_started.elapsed().as_micros() as u64;
    let mut result =
        result.map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("prediction task failed: {e}")))?;
    // The tenant's own operating point moves the decision, never the scores.
    if let Ok(o) = &mut result {
        super::operating_points::apply(&s, &p.tenant, &component, o);
    }
    let latency_us = started.elapsed().as_micros() as u64;
    let caller_gone = matches!(caller.try_recv(), Err(tokio::sync::oneshot::error::TryRecvError::Closed));
    let request_id = komp_audit::new_request_id();
    let m = component.manifest();
    let (label, scores, review, outcome) = match &result {
        Ok(_) if caller_gone => (
            None,
            Default::default(),
            true,
            komp_audit::Outcome::Error {
                kind: "timeout".into(),
                message: format!(
                    "the request ended (request timeout of {} ms, or the client went away) before the prediction finished after {} ms; no answer was delivered",
                    s.config.request_timeout_ms,
                    latency_us / 1000
                ),
            },
        ),
        Ok(o) => (
            Some(o.prediction.label.clone()),
            o.prediction.scores.iter().map(|s| (s.label.clone(), s.score)).collect(),
            o.prediction.requires_human_review,
            komp_audit::Outcome::Ok,
        ),
        Err(e) => (
            None,
            Default::default(),
            true,
            komp_audit::Outcome::Error { kind: error_kind(e).to_string(), message: audit_message(e) },
        ),
    };
    let outcome_label = match &outcome {
        komp_audit::Outcome::Ok => "ok".to_string(),
        komp_audit::Outcome::Error { kind, .. } => kind.clone(),
    };
    let coverage = result.as_ref().ok().and_then(|o| komp_audit::Coverage::from_details(&o.prediction.details));
    let ok = matches!(outcome, komp_audit::Outcome::Ok);
    let record = komp_audit::NewRecord {
        tenant: p.tenant.clone(),
        token_id: p.token_id.clone(),
        request_id: request_id.clone(),
        component: m.name.clone(),
        version: m.version.to_string(),
        digest: component.digest().to_string(),
        input_hmac,
        label,
        scores,
        requires_human_review: review,
        latency_us,
        outcome,
        coverage,
        operating_point: result.as_ref().ok().and_then(|o| o.operating_point.as_ref()).map(audit_operating_point),
    };
    let audit_started = Instant::now();
    s.audit.append_async(record).await.map_err(|e| {
        tracing::error!(error = %e, "audit append failed; refusing to answer without a record");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the audit log could not record this prediction, so it is not answered: {e}"),
        )
    })?;
    let audit_elapsed = audit_started.elapsed();
    s.metrics.audit_commit_seconds.observe(audit_elapsed.as_secs_f64());
    // Where one prediction's time went (`KOMP_LOG=komp_server::api=debug`): the blocking-pool round
    // trip is the hand-off both ways, the input checks and the sandbox; `sandbox_us` is the
    // sandbox alone; the audit append is the hand-off to the writer, write + fdatasync, and back.
    tracing::debug!(
        %request_id,
        component = %name,
        before_sandbox_us = blocking_started.duration_since(started).as_micros() as u64,
        blocking_pool_round_trip_us = blocking_us,
        sandbox_us = result.as_ref().map_or(0, |o| o.elapsed_us),
        audit_append_us = audit_elapsed.as_micros() as u64,
        "prediction steps"
    );
    s.metrics
        .predictions
        .get_or_create(&super::metrics::PredictionLabels {
            tenant: p.tenant.to_string(),
            component: name.clone(),
            outcome: outcome_label,
        })
        .inc();
    s.metrics
        .prediction_seconds
        .get_or_create(&super::metrics::ComponentLabels { component: name })
        .observe(latency_us as f64 / 1e6);
    if ok {
        super::drift::evaluate_soon(&s, &p.tenant, &m.name);
    }
    let outcome = result.map_err(ApiError::from)?;
    Ok((request_id, outcome))
}

/// What of an error goes into the audit log: never input text
/// ([`RuntimeError::audit_text`]).
fn audit_message(e: &RuntimeError) -> String {
    e.audit_text()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackBody {
    pub decision: komp_audit::Decision,
    #[serde(default)]
    pub final_label: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /v1/predictions/{request_id}/feedback`: the caseworker's decision.
pub async fn feedback(
    State(s): State<SharedState>,
    p: Principal,
    Path(request_id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    s.require(&p, Role::Caller)?;
    let body: FeedbackBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("feedback must be {{\"decision\": \"accepted\"|\"overridden\", \"final_label\"?, \"note\"?}}: {e}"),
        )
    })?;
    let not_found =
        || ApiError::new(StatusCode::NOT_FOUND, format!("no prediction {request_id} for tenant {}", p.tenant));
    let entry = s.audit.get(&p.tenant, &request_id).map_err(|_| not_found())?.ok_or_else(not_found)?;
    if let Some(label) = &body.final_label {
        // Checked against the labels of the version that made the
        // prediction: a newer version may have other labels.
        let made_by = semver::Version::parse(&entry.prediction.version).ok();
        if let Ok(c) = s.runtime.lookup(&entry.prediction.component, made_by.as_ref()) {
            if !c.manifest().labels.iter().any(|l| &l.id == label) {
                let shown: String = label.chars().take(64).collect();
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!(
                        "final_label {shown:?} is not a label of {}@{}; its labels are: {}",
                        entry.prediction.component,
                        entry.prediction.version,
                        c.manifest().labels.iter().map(|l| l.id.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
    }
    let fb = komp_audit::Feedback {
        token_id: p.token_id.clone(),
        decision: body.decision,
        final_label: body.final_label,
        note: body.note,
    };
    let receipt = s.audit.add_feedback_async(&p.tenant, &request_id, fb).await.map_err(|e| match e {
        komp_audit::AuditError::NotFound => not_found(),
        komp_audit::AuditError::InvalidFeedback(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
        other => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, other.to_string()),
    })?;
    update_feedback_gauges(&s, &p.tenant, &entry.prediction.component);
    super::drift::evaluate(&s, &p.tenant, &entry.prediction.component);
    Ok(Json(json!({ "request_id": request_id, "recorded": true, "seq": receipt.seq })))
}

fn update_feedback_gauges(s: &SharedState, tenant: &Tenant, component: &str) {
    let m = s.audit.monitoring(tenant, component);
    let labels = super::metrics::FeedbackLabels { tenant: tenant.to_string(), component: component.to_string() };
    s.metrics.feedback_agreement.get_or_create(&labels).set(m.agreement_rate.unwrap_or(0.0));
    s.metrics.feedback_override.get_or_create(&labels).set(m.override_rate.unwrap_or(0.0));
}

/// `GET /v1/predictions/{request_id}`: the audit record and its feedback.
pub async fn prediction(
    State(s): State<SharedState>,
    p: Principal,
    Path(request_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !(p.role.allows(Role::Auditor) || p.role.allows(Role::Caller)) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "needs role caller or auditor"));
    }
    let not_found =
        || ApiError::new(StatusCode::NOT_FOUND, format!("no prediction {request_id} for tenant {}", p.tenant));
    let entry = s.audit.get(&p.tenant, &request_id).map_err(|_| not_found())?.ok_or_else(not_found)?;
    Ok(Json(serde_json::to_value(entry).unwrap_or(Value::Null)))
}

/// `GET /v1/components/{name}/monitoring`: agreement and override rates, and
/// drift against the manifest's reference (`drift`, see [`crate::drift`]).
pub async fn monitoring(
    State(s): State<SharedState>,
    p: Principal,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    s.require(&p, Role::Auditor)?;
    s.require_allowed(&p, &name)?;
    let m = s.audit.monitoring(&p.tenant, &name);
    let drift = super::drift::evaluate(&s, &p.tenant, &name);
    Ok(Json(json!({ "tenant": p.tenant, "component": name, "monitoring": m, "drift": drift })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub component: Option<String>,
    /// RFC 3339.
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<usize>,
    pub after_seq: Option<u64>,
    /// `prediction`, `feedback` or `admin` (operating-point changes, validation runs); all when absent.
    pub kind: Option<komp_audit::Kind>,
    /// `json` (default) or `jsonl`.
    pub format: Option<String>,
}

/// `GET /v1/audit`: this tenant's audit records (auditor role).
pub async fn audit(
    State(s): State<SharedState>,
    p: Principal,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    s.require(&p, Role::Auditor)?;
    let bad = |e: komp_audit::AuditError| ApiError::new(StatusCode::BAD_REQUEST, e.to_string());
    let since =
        q.since.as_deref().map(komp_audit::parse_rfc3339).transpose().map_err(bad)?.map(komp_audit::ms_system_time);
    let until =
        q.until.as_deref().map(komp_audit::parse_rfc3339).transpose().map_err(bad)?.map(komp_audit::ms_system_time);
    let filter = komp_audit::Filter {
        component: q.component.clone(),
        since,
        until,
        limit: Some(q.limit.unwrap_or(100).min(10_000)),
        after_seq: q.after_seq,
        kind: q.kind,
        ..Default::default()
    };
    let audit = s.audit.clone();
    let tenant = p.tenant.clone();
    let records = tokio::task::spawn_blocking(move || audit.query(&tenant, &filter))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(json!({ "tenant": p.tenant, "records": records })).into_response()),
        Some("jsonl") => {
            let mut out = String::new();
            for r in &records {
                out.push_str(&serde_json::to_string(r).unwrap_or_default());
                out.push('\n');
            }
            Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response())
        }
        Some(other) => Err(ApiError::new(StatusCode::BAD_REQUEST, format!("format {other:?} is not json or jsonl"))),
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(s): State<SharedState>) -> Response {
    s.metrics.instances_installed.set(s.runtime.components().len() as i64);
    super::run::revocation_gauges(&s);
    super::drift::evaluate_all(&s);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], s.metrics.render()).into_response()
}

/// The form of an operating point the audit log keeps.
fn audit_operating_point(u: &komp_runtime::prediction::OperatingPointUsed) -> komp_audit::OperatingPointUsed {
    use komp_runtime::prediction::OperatingPointSource;
    komp_audit::OperatingPointUsed {
        threshold: u.threshold,
        source: match u.source {
            OperatingPointSource::Default => "default".into(),
            OperatingPointSource::Tenant => "tenant".into(),
        },
        default: u.default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_numbers_with_a_fraction_or_exponent_are_rewritten() {
        // Text and literals with `.`/`e` are not numbers: nothing to rewrite, no parse.
        let text = r#"{"text":"Hej. Vi er 3.5 e-mails bagud","known":true,"ok":false,"n":12}"#;
        assert!(!has_fraction_or_exponent(text));
        assert!(matches!(integral_numbers_as_integers(text), std::borrow::Cow::Borrowed(_)));
        // An escaped quote does not end the string.
        assert!(!has_fraction_or_exponent(r#"{"t":"a \"1.0\" b","n":2}"#));
        for (input, expected) in [
            (r#"{"age":9.0,"t":"x.y"}"#, r#"{"age":9,"t":"x.y"}"#),
            (r#"{"n":1e2}"#, r#"{"n":100}"#),
            (r#"{"n":[2E0, 3]}"#, r#"{"n":[2,3]}"#),
        ] {
            assert!(has_fraction_or_exponent(input), "{input}");
            assert_eq!(integral_numbers_as_integers(input), expected);
        }
        // A real fraction stays as it is.
        assert!(has_fraction_or_exponent(r#"{"x":0.5}"#));
        assert_eq!(integral_numbers_as_integers(r#"{"x":0.5}"#), r#"{"x":0.5}"#);
    }
}
