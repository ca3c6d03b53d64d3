//! The axum router that serves a [`Registry`].
//!
//! Pushes are authorised from the request head alone, before a single byte
//! of the body is read: an anonymous client cannot make the registry receive,
//! store or hold anything. An authorised upload is streamed into a temporary
//! file in the registry directory with the size limit enforced as it arrives,
//! so a slow upload holds a file, not memory; only the publish itself reads
//! the file (sled stores whole values), and at most
//! [`DEFAULT_MAX_CONCURRENT_UPLOADS`] publishes run at once.

use super::auth::{Action, AuthDecision, AuthRequest, Authorizer, PushTokenHashes};
use super::{ErrorBody, ShowResponse, VersionsResponse};
use crate::revocation::{RevocationError, SignedRevocationList};
use crate::store::{PublishOutcome, Registry, StoreError};
use crate::trust::TrustPolicy;
use axum::body::{Body, HttpBody};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

/// Default upper bound for an uploaded component (models included).
pub const DEFAULT_MAX_ARTIFACT_BYTES: usize = 512 << 20;

/// Upper bound for an offered revocation list. Real lists are kilobytes; a
/// list of 10,000 revocations is about 2 MiB.
pub const MAX_REVOCATION_LIST_BYTES: usize = 16 << 20;

/// Uploads received and published at the same time. Each publish holds its
/// file in memory once, so this bounds that memory to a few files.
pub const DEFAULT_MAX_CONCURRENT_UPLOADS: usize = 2;

/// Where uploads are spooled, inside the registry directory (same disk,
/// cleaned on start).
const UPLOAD_DIR: &str = "uploads";
const UPLOAD_PREFIX: &str = ".upload-";

/// Configuration of the HTTP face of a registry.
#[derive(Clone)]
pub struct RegistryServer {
    registry: Registry,
    policy: Arc<TrustPolicy>,
    auth: Arc<dyn Authorizer>,
    max_artifact_bytes: usize,
    upload_dir: PathBuf,
    uploads: Arc<tokio::sync::Semaphore>,
}

impl RegistryServer {
    /// A server for `registry` that verifies pushes against `policy`. Reads
    /// are open and pushes refused until an authoriser is set.
    pub fn new(registry: Registry, policy: TrustPolicy) -> RegistryServer {
        RegistryServer {
            upload_dir: registry.dir().join(UPLOAD_DIR),
            registry,
            policy: Arc::new(policy),
            auth: Arc::new(PushTokenHashes::default()),
            max_artifact_bytes: DEFAULT_MAX_ARTIFACT_BYTES,
            uploads: Arc::new(tokio::sync::Semaphore::new(DEFAULT_MAX_CONCURRENT_UPLOADS)),
        }
    }

    /// How many uploads may be received and published at once (at least 1);
    /// further pushes wait for a turn.
    pub fn max_concurrent_uploads(mut self, n: usize) -> Self {
        self.uploads = Arc::new(tokio::sync::Semaphore::new(n.max(1)));
        self
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
    /// Removes upload files a previous process left behind (a crash during
    /// an upload).
    pub fn router(self) -> Router {
        clean_upload_dir(&self.upload_dir);
        Router::new()
            .route("/registry/v1/components", get(list).put(push).post(push))
            .route("/registry/v1/components/{name}", get(versions))
            .route("/registry/v1/components/{name}/{version}", get(show))
            .route("/registry/v1/components/{name}/{version}/artifact", get(artifact))
            .route("/registry/v1/revocations", get(revocations).put(put_revocations))
            .route("/registry/v1/keys", get(keys))
            .with_state(self)
    }
}

fn clean_upload_dir(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(UPLOAD_PREFIX) {
            let _ = std::fs::remove_file(e.path());
        }
    }
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
            | StoreError::InUse { .. }
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

fn too_large(what: &str) -> ApiError {
    ApiError(StatusCode::PAYLOAD_TOO_LARGE, format!("the {what} is larger than this registry accepts"))
}

/// Refuses a declared `Content-Length` over `limit` before reading anything.
fn check_declared_length(headers: &HeaderMap, limit: usize, what: &str) -> ApiResult<()> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => Err(too_large(what)),
        _ => Ok(()),
    }
}

/// The next chunk of `body`, or `None` at its end.
async fn next_chunk(body: &mut Body) -> ApiResult<Option<axum::body::Bytes>> {
    loop {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut *body).poll_frame(cx)).await;
        match frame {
            None => return Ok(None),
            Some(Err(e)) => {
                return Err(ApiError(StatusCode::BAD_REQUEST, format!("the request body could not be read: {e}")))
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Ok(Some(data));
                }
                // Trailers: nothing to keep.
            }
        }
    }
}

/// Reads a small body into memory, refusing it as soon as it passes `limit`.
async fn read_limited(mut body: Body, limit: usize, what: &str) -> ApiResult<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = next_chunk(&mut body).await? {
        if out.len() + chunk.len() > limit {
            return Err(too_large(what));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Streams `body` into a new temporary file in `dir`, refusing it as soon as
/// it passes `limit`. The file is removed when the handle is dropped.
async fn spool(mut body: Body, dir: &std::path::Path, limit: usize) -> ApiResult<tempfile::NamedTempFile> {
    let internal = |e: std::io::Error| {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot store the upload in the registry directory: {e}"))
    };
    std::fs::create_dir_all(dir).map_err(internal)?;
    let mut file = tempfile::Builder::new().prefix(UPLOAD_PREFIX).tempfile_in(dir).map_err(internal)?;
    let mut received = 0usize;
    while let Some(chunk) = next_chunk(&mut body).await? {
        received = received.saturating_add(chunk.len());
        if received > limit {
            return Err(too_large("component"));
        }
        // Chunks are small (hyper reads at most a few hundred KiB at a
        // time); a buffered local write does not hold up the worker.
        file.write_all(&chunk).map_err(internal)?;
    }
    file.flush().map_err(internal)?;
    Ok(file)
}

async fn push(State(s): State<RegistryServer>, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    // Who is asking is decided from the head alone; the body is not touched
    // before this returns.
    authorize(&s, &headers, Action::Push)?;
    check_declared_length(&headers, s.max_artifact_bytes, "component")?;
    let _turn = s
        .uploads
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError(StatusCode::SERVICE_UNAVAILABLE, "the registry is shutting down".into()))?;
    let file = spool(body, &s.upload_dir, s.max_artifact_bytes).await?;
    let published = blocking(move || {
        // Through the open handle, not the path: the file stays readable
        // even if the start-up clean-up of another server unlinks it.
        let mut file = file;
        let mut bytes = Vec::new();
        let read = std::io::Seek::rewind(file.as_file_mut())
            .and_then(|()| std::io::Read::read_to_end(file.as_file_mut(), &mut bytes));
        read.map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot read back the upload: {e}")))?;
        drop(file);
        Ok(s.registry.publish(bytes, &s.policy)?)
    })
    .await?;
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

async fn put_revocations(State(s): State<RegistryServer>, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    authorize(&s, &headers, Action::Push)?;
    check_declared_length(&headers, MAX_REVOCATION_LIST_BYTES, "revocation list")?;
    let bytes = read_limited(body, MAX_REVOCATION_LIST_BYTES, "revocation list").await?;
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
