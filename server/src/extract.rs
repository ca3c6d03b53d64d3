//! Extractors that refuse in the JSON error body.
//!
//! axum's own `Path`, `Query` and `Bytes` reject a request with a
//! `text/plain` answer; a client driven by `/openapi.json` expects the
//! documented `{"error": ...}` body on every error. Handlers take these
//! wrappers instead (same names, same shape: `Path(name): Path<String>`),
//! so a rejection becomes an [`ApiError`] with a fitting status:
//! a path or query that does not parse is 400, a body over the limit 413.
//!
//! [`json_errors`] is the backstop for answers made outside the handlers
//! (tower-http's body limit, axum's 405 for a method a route does not have):
//! an error status whose body is not JSON is answered in the JSON error body
//! with the same status.

use super::ApiError;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// `axum::extract::Path` answering its rejections as [`ApiError`] (400).
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(e) => Err(path_rejection(e)),
        }
    }
}

fn path_rejection(e: PathRejection) -> ApiError {
    let status = match e.status() {
        s if s.is_server_error() => s,
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, format!("bad path parameter: {}", e.body_text()))
}

/// `axum::extract::Query` answering its rejections as [`ApiError`] (400).
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(e) => Err(query_rejection(e)),
        }
    }
}

fn query_rejection(e: QueryRejection) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, format!("bad query string: {}", e.body_text()))
}

/// The raw body (`axum::body::Bytes`) answering its rejections as
/// [`ApiError`]: 413 over the body limit, 400 when it cannot be read.
pub struct RawBody(pub axum::body::Bytes);

impl<S> FromRequest<S> for RawBody
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => Ok(RawBody(b)),
            Err(e) => Err(bytes_rejection(e)),
        }
    }
}

fn bytes_rejection(e: BytesRejection) -> ApiError {
    let status = e.status();
    let status = if status == StatusCode::PAYLOAD_TOO_LARGE || status.is_server_error() {
        status
    } else {
        StatusCode::BAD_REQUEST
    };
    ApiError::new(status, format!("cannot read the body: {}", e.body_text()))
}

/// Middleware: an error answer (4xx/5xx) whose body is not JSON becomes the
/// JSON error body with the same status (and the same headers, such as
/// `Allow` on 405 or `Retry-After`). Bodies of error answers made this way
/// are short (a rejection text, or empty), so reading them is bounded.
pub async fn json_errors(req: Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("application/problem+json"));
    if is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = match axum::body::to_bytes(body, 4096).await {
        Ok(b) if !b.is_empty() => String::from_utf8_lossy(&b).trim().to_string(),
        _ => String::new(),
    };
    let message = match (text.is_empty(), status) {
        (false, _) => text,
        (true, StatusCode::PAYLOAD_TOO_LARGE) => "the body is larger than this server accepts".to_string(),
        (true, StatusCode::METHOD_NOT_ALLOWED) => "this endpoint does not answer this method".to_string(),
        (true, StatusCode::REQUEST_TIMEOUT) => "the request took longer than this server allows".to_string(),
        (true, s) => s.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let mut new = ApiError::new(status, message).into_response();
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    for (k, v) in parts.headers.iter() {
        new.headers_mut().insert(k.clone(), v.clone());
    }
    new
}
