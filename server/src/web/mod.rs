//! The web interface of `komp serve` (`/ui`): server-rendered pages in
//! Danish for the people who decide whether to use a component and for the
//! municipality's auditors. No JavaScript is needed to use any page. The
//! frame, the stylesheet, the catalog and the component page are rendered by
//! `komp-web` (the registry server shows the same pages); this module decides
//! who sees what, and adds the pages with tenant data.
//!
//! | route | what | who |
//! |---|---|---|
//! | `GET /ui/` | the catalog, filter by risk class (`risiko`) and text (`q`) | anyone if `web.public_catalog`, else logged in |
//! | `GET /ui/komponenter/{name}` (`/version/{v}`) | one version: digest, signatures, revocation, model card, ALTAI, AI Act, input schema, golden vectors, history | as the catalog |
//! | `GET/POST /ui/komponenter/{name}/proev` | try it: a form from the input schema, run through the API's own prediction path (rate limit, slot, sandbox, audit) | caller (or admin) |
//! | `GET /ui/overvaagning` (`/{name}`) | monitoring: volume, outcomes, agreement and override rates per day, drift, the component's validation reports | auditor (or admin) |
//! | `GET /ui/valideringsrapporter` (`/{id}/rapport.html`) | the tenant's validation reports (made over HTTP), each with its report page | auditor (or admin) |
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
mod session;
mod try_it;
mod validation;

/// The shared rendering (tables from JSON, numbers, SVG charts).
use komp_web::render;

use super::SharedState;
use axum::http::StatusCode;
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

/// The Content-Security-Policy of every page (shared with the registry's pages).
pub use komp_web::CSP;

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
        .route("/ui/valideringsrapporter", get(validation::list))
        .route("/ui/valideringsrapporter/{id}/rapport.html", get(validation::report))
        .route("/ui/static/komp.css", get(komp_web::stylesheet))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(body_limit))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(komp_web::security_headers))
        .with_state(state)
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
        komp_web::layout::error_page(self.status, &self.message, layout::top(None))
    }
}
