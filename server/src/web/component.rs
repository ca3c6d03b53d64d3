//! The page of one installed component version (rendered by
//! `komp_web::component`), with the signatures checked against this host's
//! trust policy and revocation list, and the try-it link for a caller.

use super::layout::page;
use super::session::{user, User};
use super::{WebError, WebState};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use komp_registry::trust::{check_signatures, SignatureCheck};
use komp_runtime::runtime::InstalledComponent;
use komp_web::component::{ComponentView, VersionRow};
use maud::html;
use std::sync::Arc;

/// Whether the page of component `name` may be shown: to a logged-in user
/// if the tenant may use it, to anyone else only with `web.public_catalog`.
pub fn visible(ws: &WebState, u: Option<&User>, name: &str) -> bool {
    match u {
        Some(u) => ws.app.allowed(&u.principal.tenant, name),
        None => ws.app.config.web.public_catalog,
    }
}

/// Every signature of the component, checked against this host's trust
/// policy now (not a stored result).
pub fn signatures(ws: &WebState, c: &InstalledComponent) -> Vec<SignatureCheck> {
    let a = c.artifact();
    check_signatures(a.signature_section(), a.signed_content(), &ws.app.verifier.policy).unwrap_or_default()
}

/// `GET /ui/komponenter/{name}`: the default version.
pub async fn latest(
    State(ws): State<WebState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    show(&ws, &headers, &name, None)
}

/// `GET /ui/komponenter/{name}/version/{version}`
pub async fn version(
    State(ws): State<WebState>,
    headers: HeaderMap,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let v =
        semver::Version::parse(&version).map_err(|_| WebError::not_found(&format!("Version {version:?} af {name}")))?;
    show(&ws, &headers, &name, Some(v))
}

fn show(
    ws: &WebState,
    headers: &HeaderMap,
    name: &str,
    version: Option<semver::Version>,
) -> Result<Response, WebError> {
    let u = user(ws, headers)?;
    if u.is_none() && !ws.app.config.web.public_catalog {
        return Err(WebError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "Kataloget er ikke offentligt på denne vært: log ind først.",
        ));
    }
    let not_found = || WebError::not_found(&format!("Komponenten {name}"));
    if !visible(ws, u.as_ref(), name) {
        return Err(not_found());
    }
    let c = ws.app.runtime.lookup(name, version.as_ref()).map_err(|_| not_found())?;
    let all: Vec<Arc<InstalledComponent>> = ws
        .app
        .runtime
        .versions(name)
        .iter()
        .filter_map(|v| semver::Version::parse(v).ok())
        .filter_map(|v| ws.app.runtime.lookup(name, Some(&v)).ok())
        .collect();
    let history: Vec<VersionRow<'_>> = all
        .iter()
        .map(|v| VersionRow { manifest: v.manifest(), digest: v.digest(), withdrawn: v.withdrawn() })
        .collect();
    let m = c.manifest();
    let sigs = signatures(ws, &c);
    let revocations = ws.app.verifier.revocations.read().expect("lock").clone();
    let withdrawn = c.withdrawn();
    let can_try = u.as_ref().is_some_and(|u| u.principal.role.allows(crate::auth::Role::Caller));
    let view = ComponentView {
        manifest: m,
        digest: c.digest(),
        signatures: &sigs,
        revocations: &revocations,
        withdrawn: withdrawn.as_deref(),
        here: "på denne vært",
        actions: html! {
            @if can_try {
                p { a href=(format!("/ui/komponenter/{}/proev", m.name)) { "Afprøv komponenten" } }
            }
        },
        golden_note: html! {
            (c.golden_passed()) " bestod, da denne vært installerede komponenten (ellers var den ikke installeret)."
        },
        history: &history,
    };
    Ok(page(&format!("{} {}", m.name, m.version), u.as_ref(), komp_web::component::content(&view)))
}
