//! The web interface of `komp serve` (`/ui`): server-rendered pages in
//! Danish for the people who decide whether to use a component and for the
//! municipality's auditors. No JavaScript is needed to use any page.
//!
//! | route | what | who |
//! |---|---|---|
//! | `GET /ui/` | the catalog, filter by risk class (`risiko`) and text (`q`) | anyone if `web.public_catalog`, else logged in |
//! | `GET /ui/komponenter/{name}` (`/version/{v}`) | one version: digest, signatures, revocation, model card, ALTAI, AI Act, input schema, golden vectors, history | as the catalog |
//! | `GET/POST /ui/komponenter/{name}/proev` | try it: a form from the input schema, run through the API's own prediction path (rate limit, slot, sandbox, audit) | caller (or admin) |
//! | `GET /ui/overvaagning` (`/{name}`) | monitoring: volume, outcomes, agreement and override rates per day, drift | auditor (or admin) |
//! | `GET/POST /ui/login`, `POST /ui/logout` | log in with a token | anyone |
//!
//! Security: a login exchanges a bearer token for a session. Sessions live in
//! memory only (a restart logs everyone out), keyed by a random 256-bit id
//! that is the only thing in the cookie (`HttpOnly; SameSite=Strict; Path=/ui`,
//! and `Secure` unless `web.secure_cookie` is off). The session keeps the
//! token's sha256, never the token, and every request looks it up in the token
//! file again, so a revoked token ends its sessions at once. Every form
//! carries a CSRF token (per session; the login form's is bound to a cookie of
//! its own) and a POST whose `Origin` is another site is refused. Every page
//! is sent with a strict Content-Security-Policy (no inline script or style),
//! and everything shown is escaped by maud: a manifest is untrusted text.

mod catalog;
mod component;
mod layout;
mod login;
mod monitoring;
mod render;
mod session;
mod try_it;

use super::SharedState;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `web` in the server configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Serve the pages under `/ui` at all.
    pub enabled: bool,
    /// Show the catalog and the component pages (manifests, signatures: no
    /// tenant data) without a login. Off by default; a logged-in user sees
    /// only what the tenant may use either way.
    pub public_catalog: bool,
    /// Mark the session cookie `Secure` (sent over HTTPS only). On by
    /// default; turn it off only for plain HTTP on a trusted network.
    pub secure_cookie: bool,
    /// A session ends after this many minutes without a request.
    pub session_idle_minutes: u64,
    /// A session ends this many hours after the login, whatever happens.
    pub session_max_hours: u64,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            enabled: true,
            public_catalog: false,
            secure_cookie: true,
            session_idle_minutes: 30,
            session_max_hours: 8,
        }
    }
}

/// The state of the web pages: the server's, and the sessions.
#[derive(Clone)]
pub struct WebState {
    pub app: SharedState,
    pub sessions: Arc<session::Sessions>,
}

/// The Content-Security-Policy of every page: nothing inline, nothing from
/// elsewhere, no framing, forms only to this host.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The pages (`/ui`), or an empty router when `web.enabled` is off.
pub fn router(app: SharedState) -> Router {
    if !app.config.web.enabled {
        return Router::new();
    }
    let body_limit = app.config.max_body_bytes;
    let sessions = Arc::new(session::Sessions::new(&app.config.web));
    let state = WebState { app, sessions };
    Router::new()
        .route("/", get(|| async { axum::response::Redirect::to("/ui/") }))
        .route("/ui", get(|| async { axum::response::Redirect::to("/ui/") }))
        .route("/ui/", get(catalog::show))
        .route("/ui/komponenter/{name}", get(component::latest))
        .route("/ui/komponenter/{name}/version/{version}", get(component::version))
        .route("/ui/komponenter/{name}/proev", get(try_it::form).post(try_it::submit))
        .route("/ui/overvaagning", get(monitoring::overview))
        .route("/ui/overvaagning/{name}", get(monitoring::component))
        .route("/ui/login", get(login::form).post(login::submit))
        .route("/ui/logout", post(login::logout))
        .route("/ui/static/komp.css", get(stylesheet))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(body_limit))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

/// CSP and the other headers every answer under `/ui` carries.
async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        include_str!("komp.css"),
    )
        .into_response()
}

/// An error shown as a page (status, a Danish title, the message escaped).
#[derive(Debug)]
pub struct WebError {
    pub status: StatusCode,
    pub message: String,
}

impl WebError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> WebError {
        WebError { status, message: message.into() }
    }

    pub fn not_found(what: &str) -> WebError {
        WebError::new(StatusCode::NOT_FOUND, format!("{what} findes ikke her."))
    }
}

impl From<super::ApiError> for WebError {
    fn from(e: super::ApiError) -> WebError {
        WebError::new(e.status, e.message)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let title = match self.status {
            StatusCode::NOT_FOUND => "Ikke fundet",
            StatusCode::FORBIDDEN => "Ingen adgang",
            StatusCode::UNAUTHORIZED => "Log ind først",
            StatusCode::TOO_MANY_REQUESTS => "For mange forespørgsler",
            s if s.is_client_error() => "Forespørgslen kan ikke udføres",
            _ => "Der skete en fejl",
        };
        let body = layout::page(
            title,
            None,
            maud::html! {
                h1 { (title) }
                p role="alert" { (self.message) }
                p { a href="/ui/" { "Til kataloget" } }
            },
        );
        (self.status, body).into_response()
    }
}
