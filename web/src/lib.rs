//! The pages of the code bank that show no tenant's data: the frame of every
//! page, the stylesheet, the catalog and the component page, rendered with
//! maud (templates compiled into the binary, every string escaped).
//!
//! Two servers show them: `komp serve` (crate `komp-server`, `server/src/web/`,
//! which adds the login, try-it and monitoring pages around them) and the
//! registry server `komp serve-registry`, whose pages are in [`registry`]. This
//! crate knows no tenant, token, audit log or runtime: what a page shows of a
//! component comes in as a [`component::ComponentView`] that the caller built
//! from its own source (installed components on a host, stored files in a
//! registry), with the signatures checked against the caller's trust policy.
//!
//! Security: every page is sent with [`CSP`] (no inline script or style,
//! nothing from elsewhere, no framing) by [`security_headers`]; a manifest is
//! untrusted text and maud escapes it, so a `<script>` in a description is
//! shown as text.

pub mod catalog;
pub mod component;
pub mod layout;
pub mod registry;
pub mod render;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// The Content-Security-Policy of every page: nothing inline, nothing from
/// elsewhere, no framing, forms only to this host.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Where the stylesheet is served (both servers use this path).
pub const STYLESHEET: &str = "/ui/static/komp.css";

/// CSP and the other headers every answer under `/ui` carries. An answer that
/// brings its own (stricter or page-specific) CSP keeps it.
pub async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// `GET /ui/static/komp.css`
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        include_str!("komp.css"),
    )
        .into_response()
}
