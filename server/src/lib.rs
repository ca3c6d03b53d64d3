//! The municipal HTTP host (`komp serve`): the Open Inference Protocol, a
//! JSON API for case systems, tenants and tokens, the audit log, caseworker
//! feedback, metrics.
//!
//! Request flow of a prediction: authenticate (bearer token → tenant, role)
//! → role and tenant allow-list → tenant rate limit → a prediction slot (or
//! 503 + Retry-After) → the runtime on a blocking thread (fresh sandboxed
//! instance) → the audit record is made durable → the response.

pub mod api;
pub mod auth;
pub mod config;
pub mod drift;
pub mod extract;
pub mod metrics;
pub mod oip;
pub mod openapi;
pub mod operating_points;
pub mod run;
pub mod v2;
pub mod validation;
pub mod web;

use auth::{Principal, Role, TokenStore};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use config::ServerConfig;
use komp_audit::Tenant;
use komp_runtime::runtime::Runtime;
use komp_runtime::{ErrorKind, RuntimeError, VerifyError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Semaphore;

/// Shared state of one server.
pub struct AppState {
    pub runtime: Arc<Runtime>,
    pub tokens: TokenStore,
    pub audit: Arc<komp_audit::Audit>,
    pub config: ServerConfig,
    pub metrics: metrics::Metrics,
    pub slots: Arc<Semaphore>,
    pub buckets: Mutex<HashMap<Tenant, Bucket>>,
    /// The local registry (a copy of upstream, plus seeds).
    pub registry: Arc<komp_registry::Registry>,
    /// Trust policy and current revocations, consulted before every install;
    /// keeps what each verification found (provenance).
    pub verifier: Arc<run::TrustVerifier>,
    /// Each tenant's own operating points.
    pub operating_points: operating_points::OperatingPoints,
    /// Validation reports made over HTTP, per tenant.
    pub validation_reports: validation::ValidationReports,
    /// Drift alerts tripped now, per (tenant, component, signal).
    pub drift_alerts: crate::drift::Alerts,
}

pub type SharedState = Arc<AppState>;

/// A token bucket for one tenant's rate limit.
pub struct Bucket {
    tokens: f64,
    last: Instant,
}

/// An error answered as `{"error": "..."}` (plus optional fields) with a status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub extra: Option<serde_json::Value>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), extra: None, retry_after: None }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "error": self.message });
        if let Some(serde_json::Value::Object(extra)) = self.extra {
            body.as_object_mut().expect("object").extend(extra);
        }
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut().insert("retry-after", HeaderValue::from(s));
        }
        resp
    }
}

/// The HTTP status of each kind of runtime error: the one table of it. No
/// catch-all arm: a new [`ErrorKind`] does not compile until it has a status
/// here. The kind itself (audit `outcome.kind`, the metrics `outcome` label)
/// and whose fault it is come from [`RuntimeError::class`].
pub fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::UnknownComponent => StatusCode::NOT_FOUND,
        ErrorKind::InputTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::InputNotJson => StatusCode::BAD_REQUEST,
        ErrorKind::InputSchema | ErrorKind::InvalidInput => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Withdrawn => StatusCode::GONE,
        ErrorKind::Busy | ErrorKind::Throttled => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        // The component misbehaved (its fault, not the caller's), or the
        // host could not do its part.
        ErrorKind::ModelError
        | ErrorKind::ComponentError
        | ErrorKind::MemoryLimit
        | ErrorKind::StackOverflow
        | ErrorKind::HostLimit
        | ErrorKind::Trap
        | ErrorKind::BadOutput
        | ErrorKind::InvalidArtifact
        | ErrorKind::Untrusted
        | ErrorKind::Compile
        | ErrorKind::WrongWorld
        | ErrorKind::ModelLoad
        | ErrorKind::MetadataMismatch
        | ErrorKind::GoldenVectors
        | ErrorKind::VersionConflict
        | ErrorKind::Cache
        | ErrorKind::Host => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<RuntimeError> for ApiError {
    fn from(e: RuntimeError) -> ApiError {
        let status = status(e.kind());
        let mut err = ApiError::new(status, e.to_string());
        if let RuntimeError::InputSchema(v) = &e {
            err.extra = Some(serde_json::json!({ "violations": v }));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            err.retry_after = Some(1);
        }
        err
    }
}

/// The error's machine-readable kind, for audit and metrics
/// (`e.class().kind.as_str()`).
pub fn error_kind(e: &RuntimeError) -> &'static str {
    e.kind().as_str()
}

/// Why the trust policy refused a file, as the runtime's [`VerifyError`]:
/// the registry's message, under the variant that says which kind of
/// refusal it is. No catch-all arm.
pub fn verify_error(e: komp_registry::TrustError) -> VerifyError {
    use komp_registry::TrustError as T;
    let message = e.to_string();
    match e {
        T::Unsigned | T::Malformed(_) => VerifyError::Unsigned { message },
        T::ContentChanged { .. } | T::BadSignature { .. } => VerifyError::Tampered { message },
        T::UnknownKeys { .. } | T::MissingPublisher { .. } | T::MissingEndorsement { .. } => {
            VerifyError::NotTrusted { message }
        }
        T::KeyRevoked { .. } | T::Yanked { .. } => VerifyError::Revoked { message },
        T::Artifact(a) => VerifyError::Artifact(a),
    }
}

impl FromRequestParts<SharedState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Self::Rejection> {
        state.authenticate(&parts.headers)
    }
}

impl AppState {
    /// The principal of the request's bearer token (401 without a known one).
    /// The token file is re-read first if it changed, so a revoked token
    /// stops working on its next request.
    pub fn authenticate(&self, headers: &axum::http::HeaderMap) -> Result<Principal, ApiError> {
        let header = headers.get(axum::http::header::AUTHORIZATION).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing Authorization header: send `Authorization: Bearer <token>`",
            )
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "Authorization must be `Bearer <token>`"))?;
        if let Err(e) = self.tokens.reload_if_changed() {
            tracing::error!(error = %format!("{e:#}"), "the token file is broken; keeping the tokens read before");
        }
        self.tokens
            .authenticate(token)
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unknown or revoked token"))
    }

    /// Refuses unless `p` has `role`.
    pub fn require(&self, p: &Principal, role: Role) -> Result<(), ApiError> {
        if p.role.allows(role) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("this token has role {:?}; this needs role {:?}", p.role, role).to_lowercase(),
            ))
        }
    }

    /// Whether `tenant` may use `component` (its allow-list; empty = all).
    pub fn allowed(&self, tenant: &Tenant, component: &str) -> bool {
        match self.config.tenants.get(tenant) {
            Some(t) if !t.components.is_empty() => t.components.iter().any(|c| c == component),
            _ => true,
        }
    }

    pub fn require_allowed(&self, p: &Principal, component: &str) -> Result<(), ApiError> {
        if self.allowed(&p.tenant, component) {
            Ok(())
        } else {
            // Same answer as for a component that does not exist: a tenant
            // learns nothing about what it may not use.
            Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no component named `{component}` is available to tenant {}", p.tenant),
            ))
        }
    }

    /// Takes one token from the tenant's bucket, or says how long to wait.
    pub fn rate_limit(&self, p: &Principal, component: &str) -> Result<(), ApiError> {
        let rate = self
            .config
            .tenants
            .get(&p.tenant)
            .and_then(|t| t.rate_limit_per_second)
            .unwrap_or(self.config.default_rate_limit_per_second);
        let burst = (rate * 2.0).max(1.0);
        let mut buckets = self.buckets.lock().expect("lock");
        let now = Instant::now();
        let b = buckets.entry(p.tenant.clone()).or_insert(Bucket { tokens: burst, last: now });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rate).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            self.metrics
                .rate_limited
                .get_or_create(&metrics::FeedbackLabels {
                    tenant: p.tenant.to_string(),
                    component: component.to_string(),
                })
                .inc();
            let wait = ((1.0 - b.tokens) / rate).ceil().max(1.0) as u64;
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("tenant {} is over its rate limit of {rate} predictions per second", p.tenant),
            );
            e.retry_after = Some(wait);
            Err(e)
        }
    }

    /// A prediction slot, or 503 with Retry-After when all are busy.
    pub fn slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        self.slots.clone().try_acquire_owned().map_err(|_| {
            self.metrics.saturated.inc();
            let mut e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "all prediction slots are busy; retry shortly");
            e.retry_after = Some(1);
            e
        })
    }
}

/// Builds the router with every endpoint.
/// The whole-request timeout (408) is added by `run::serve`.
pub fn router(state: SharedState) -> Router {
    let body_limit = state.config.max_body_bytes;
    Router::new()
        .route("/v2/health/live", get(v2::live))
        .route("/v2/health/ready", get(v2::ready))
        .route("/v2", get(v2::server_metadata))
        .route("/v2/models/{name}", get(v2::model_metadata))
        .route("/v2/models/{name}/versions/{version}", get(v2::model_metadata_version))
        .route("/v2/models/{name}/ready", get(v2::model_ready))
        .route("/v2/models/{name}/versions/{version}/ready", get(v2::model_ready_version))
        .route("/v2/models/{name}/infer", post(v2::infer))
        .route("/v2/models/{name}/versions/{version}/infer", post(v2::infer_version))
        .route("/v1/components", get(api::catalog))
        .route("/v1/components/{name}", get(api::component))
        .route("/v1/components/{name}/predict", post(api::predict))
        .route("/v1/components/{name}/{version}/predict", post(api::predict_version))
        .route("/v1/components/{name}/monitoring", get(api::monitoring))
        .route("/v1/predictions/{request_id}", get(api::prediction))
        .route("/v1/predictions/{request_id}/feedback", post(api::feedback))
        .route("/v1/audit", get(api::audit))
        .route(
            "/v1/components/{name}/operating-point",
            get(operating_points::get).put(operating_points::put).delete(operating_points::delete),
        )
        .route("/v1/validation-reports", get(validation::list))
        .route("/v1/validation-reports/{id}", get(validation::get))
        .route("/v1/validation-reports/{id}/report.html", get(validation::html))
        .route("/openapi.json", get(openapi::openapi))
        .route(
            "/metrics",
            get(|| async {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "metrics are served on the metrics listener (`metrics_listen`, default 127.0.0.1:9464), not here: they show every tenant's counts",
                )
            }),
        )
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint; see /openapi.json") })
        .layer(tower_http::limit::RequestBodyLimitLayer::new(body_limit))
        // axum's own 2 MiB default for `Bytes` bodies would otherwise cap
        // `max_body_bytes` from below.
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        // Outside the body limit: its 413 (and axum's 405) in the JSON error body.
        .layer(axum::middleware::from_fn(extract::json_errors))
        .with_state(state.clone())
        // The registry has its own artifact size limit.
        .merge(registry_router(&state))
        // Validation samples have their own limit (`max_sample_bytes`).
        .merge(validation_router(&state))
        // The web pages (`/ui`): their own CSP, sessions and CSRF checks.
        .merge(web::router(state.clone()))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_responses))
}

/// Validation reports: the upload reads its body itself, bounded by
/// `max_sample_bytes` (413 in the JSON error body).
fn validation_router(state: &SharedState) -> Router {
    Router::new()
        .route("/v1/components/{name}/validation-reports", post(validation::create))
        .layer(axum::middleware::from_fn(extract::json_errors))
        .with_state(state.clone())
}

/// The router of the metrics listener: `/metrics` only, no token. It lists
/// every tenant's counts and feedback rates, so it listens apart from the
/// API (default loopback) where only the operator's Prometheus reaches it.
pub fn metrics_router(state: SharedState) -> Router {
    Router::new()
        .route("/metrics", get(api::metrics))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "this listener serves only /metrics") })
        .with_state(state)
}

/// The registry over HTTP (`/registry/v1`) on a municipal host: pushes need
/// a token with the publisher (or admin) role, and so do reads unless
/// `open_registry_reads` is set. The local registry holds every component
/// the host has, including those outside a tenant's allow-list, so listing
/// it is for whoever manages the host's components; case systems use
/// `/v1/components`, which shows each tenant only what it may use. A host
/// that is itself the code bank for others (and `komp serve-registry`)
/// opens reads: it exists to share data-empty, signed components.
fn registry_router(state: &SharedState) -> Router {
    use komp_registry::http::auth::{Action, AuthDecision, AuthRequest};
    let s = state.clone();
    let authorize = move |req: &AuthRequest| -> AuthDecision {
        if req.action == Action::Read && s.config.open_registry_reads {
            return AuthDecision::Allow;
        }
        if let Err(e) = s.tokens.reload_if_changed() {
            tracing::error!(error = %format!("{e:#}"), "the token file is broken; keeping the tokens read before");
        }
        match req.bearer.and_then(|t| s.tokens.authenticate(t)) {
            None => AuthDecision::Unauthenticated,
            Some(p) if p.role.allows(Role::Publisher) => AuthDecision::Allow,
            Some(p) => AuthDecision::Forbidden(
                format!(
                    "token role {:?} cannot {} this host's registry; needs publisher",
                    p.role,
                    if req.action == Action::Push { "publish to" } else { "read" }
                )
                .to_lowercase(),
            ),
        }
    };
    komp_registry::http::server::RegistryServer::new((*state.registry).clone(), state.verifier.policy.clone())
        .auth(Arc::new(authorize))
        .router()
}

async fn count_responses(
    State(state): State<SharedState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let resp = next.run(req).await;
    state.metrics.http_responses.get_or_create(&metrics::HttpLabels { status: resp.status().as_u16() }).inc();
    resp
}
