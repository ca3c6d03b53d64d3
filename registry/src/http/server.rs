//! The axum router that serves a [`Registry`].

use super::auth::{Action, AuthDecision, AuthRequest, Authorizer, PushTokenHashes};
use super::{ErrorBody, ShowResponse, VersionsResponse};
use crate::revocation::{RevocationError, SignedRevocationList};
use crate::store::{PublishOutcome, Registry, StoreError};
use crate::trust::TrustPolicy;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

/// Default upper bound for an uploaded component (models included).
pub const DEFAULT_MAX_ARTIFACT_BYTES: usize = 512 << 20;

/// Configuration of the HTTP face of a registry.
#[derive(Clone)]
pub struct RegistryServer {
    registry: Registry,
    policy: Arc<TrustPolicy>,
    auth: Arc<dyn Authorizer>,
    max_artifact_bytes: usize,
}

impl RegistryServer {
    /// A server for `registry` that verifies pushes against `policy`. Reads
    /// are open and pushes refused until an authoriser is set.
    pub fn new(registry: Registry, policy: TrustPolicy) -> RegistryServer {
        RegistryServer {
            registry,
            policy: Arc::new(policy),
            auth: Arc::new(PushTokenHashes::default()),
            max_artifact_bytes: DEFAULT_MAX_ARTIFACT_BYTES,
        }
    }

    /// Who may read and push (see [`super::auth`]).
    pub fn auth(mut self, auth: Arc<dyn Authorizer>) -> Self {
        self.auth = auth;
        self
    }

    /// Largest accepted upload, in bytes.
    pub fn max_artifact_bytes(mut self, n: usize) -> Self {
        self.max_artifact_bytes = n;
        self
    }

    /// The routes, ready to be served or nested into a host's router.
    pub fn router(self) -> Router {
        let limit = self.max_artifact_bytes;
        Router::new()
            .route("/registry/v1/components", get(list).put(push).post(push))
            .route("/registry/v1/components/{name}", get(versions))
            .route("/registry/v1/components/{name}/{version}", get(show))
            .route("/registry/v1/components/{name}/{version}/artifact", get(artifact))
            .route("/registry/v1/revocations", get(revocations).put(put_revocations))
            .route("/registry/v1/keys", get(keys))
            .layer(DefaultBodyLimit::max(limit))
            .with_state(self)
    }
}

/// Serves `router` on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(listener, router).await
}

/// An error response: status and `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.0, Json(ErrorBody { error: self.1 })).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            StoreError::Refused(_) | StoreError::WrongComponent { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            StoreError::VersionExists { .. } | StoreError::WouldDropSignatures { .. } => StatusCode::CONFLICT,
            StoreError::NotFound(_) => StatusCode::NOT_FOUND,
            StoreError::Revocation(RevocationError::NotNewer { .. }) => StatusCode::CONFLICT,
            StoreError::Revocation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            StoreError::Sled(_)
            | StoreError::CorruptBlob { .. }
            | StoreError::MissingBlob { .. }
            | StoreError::CorruptRecord { .. }
            | StoreError::Format { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn authorize(s: &RegistryServer, headers: &HeaderMap, action: Action) -> ApiResult<()> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    match s.auth.authorize(&AuthRequest { action, bearer }) {
        AuthDecision::Allow => Ok(()),
        AuthDecision::Unauthenticated => Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "missing or unknown token: send `Authorization: Bearer <token>`".into(),
        )),
        AuthDecision::Forbidden(why) => Err(ApiError(StatusCode::FORBIDDEN, why)),
    }
}

/// Runs blocking store work (sled, hashing) off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("internal error: {e}")))?
}

fn parse_version(v: &str) -> ApiResult<semver::Version> {
    v.parse().map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("{v:?} is not a semantic version: {e}")))
}

async fn list(State(s): State<RegistryServer>, headers: HeaderMap) -> ApiResult<Response> {
    authorize(&s, &headers, Action::Read)?;
    let list = blocking(move || Ok(s.registry.list()?)).await?;
    Ok(Json(serde_json::json!({ "components": list })).into_response())
}

async fn versions(
    State(s): State<RegistryServer>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    authorize(&s, &headers, Action::Read)?;
    let body = blocking(move || {
        let versions = s.registry.versions(&name)?;
        if versions.is_empty() {
            return Err(StoreError::NotFound(name).into());
        }
        let latest = s.registry.latest(&name)?;
        Ok(VersionsResponse { name, latest, versions })
    })
    .await?;
    Ok(Json(body).into_response())
}

async fn show(
    State(s): State<RegistryServer>,
    headers: HeaderMap,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    authorize(&s, &headers, Action::Read)?;
    let version = parse_version(&version)?;
    let body = blocking(move || {
        let (info, manifest) = s.registry.show(&name, Some(&version))?;
        Ok(ShowResponse { info, manifest })
    })
    .await?;
    Ok(Json(body).into_response())
}

async fn artifact(
    State(s): State<RegistryServer>,
    headers: HeaderMap,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    authorize(&s, &headers, Action::Read)?;
    let version = parse_version(&version)?;
    let (entry, bytes) = blocking(move || {
        let entry = s.registry.entry(&name, &version)?;
        let bytes = s.registry.get(&name, &version)?;
        Ok((entry, bytes))
    })
    .await?;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/wasm"));
    if let Ok(v) = HeaderValue::from_str(&entry.digest) {
        h.insert("x-komp-digest", v);
    }
    if let Ok(v) = HeaderValue::from_str(&entry.blob_sha256) {
        h.insert("x-komp-sha256", v);
    }
    Ok(resp)
}

fn body_or_error(body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|r| {
        let status = r.status();
        let msg = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "the component is larger than this registry accepts".to_string()
        } else {
            r.body_text()
        };
        ApiError(status, msg)
    })
}

async fn push(
    State(s): State<RegistryServer>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    authorize(&s, &headers, Action::Push)?;
    let bytes = body_or_error(body)?;
    let published = blocking(move || Ok(s.registry.publish(bytes.to_vec(), &s.policy)?)).await?;
    let status = match published.outcome {
        PublishOutcome::Added => StatusCode::CREATED,
        PublishOutcome::Updated | PublishOutcome::Unchanged => StatusCode::OK,
    };
    Ok((status, Json(published)).into_response())
}

async fn revocations(State(s): State<RegistryServer>, headers: HeaderMap) -> ApiResult<Response> {
    authorize(&s, &headers, Action::Read)?;
    match blocking(move || Ok(s.registry.signed_revocations()?)).await? {
        Some(list) => Ok(Json(list).into_response()),
        None => Err(ApiError(StatusCode::NOT_FOUND, "this registry has no revocation list yet".into())),
    }
}

async fn put_revocations(
    State(s): State<RegistryServer>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    authorize(&s, &headers, Action::Push)?;
    let bytes = body_or_error(body)?;
    let offered: SignedRevocationList = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("not a signed revocation list: {e}")))?;
    let list = blocking(move || Ok(s.registry.set_revocations(&offered, &s.policy)?)).await?;
    Ok(Json(list).into_response())
}

async fn keys(State(s): State<RegistryServer>, headers: HeaderMap) -> ApiResult<Response> {
    authorize(&s, &headers, Action::Read)?;
    let keys = blocking(move || Ok(s.registry.keys()?)).await?;
    Ok(Json(serde_json::json!({ "keys": keys })).into_response())
}
