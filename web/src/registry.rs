//! The pages of the registry server (`komp serve-registry --public-catalog`):
//! the catalog and a page per stored version, read from the sled store.
//!
//! | route | what |
//! |---|---|
//! | `GET /ui/` | the catalog: each component's latest installable version, filter by risk class (`risiko`) and text (`q`) |
//! | `GET /ui/komponenter/{name}` (`/version/{v}`) | one version: digest, signatures, yank and revocation, model card, ALTAI, AI Act, input schema, golden vectors, history |
//!
//! There is no login: the pages show what an anonymous reader of
//! `/registry/v1` sees (manifests, signatures, the revocation list), so they
//! are served only when the registry's configuration makes the catalog
//! public. Each page reads the stored file, which the store checks against its
//! sha256, and checks every signature now against the registry's trust policy
//! and its current revocation list (not the result stored at publish time).

use crate::catalog::{CatalogRow, Filter};
use crate::component::{approvers, ComponentView, VersionRow};
use crate::layout::{error_page, nav, page};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use komp_artifact::{Artifact, Manifest};
use komp_registry::revocation::RevocationList;
use komp_registry::store::{Registry, StoreError};
use komp_registry::trust::{check_signatures, enforce, SignatureCheck, TrustPolicy};
use maud::html;
use std::sync::Arc;

/// What "here" is on these pages.
const HERE: &str = "i dette register";

#[derive(Clone)]
struct Pages {
    registry: Registry,
    policy: Arc<TrustPolicy>,
}

/// The pages under `/ui` (and `/` redirecting to them), with the security
/// headers of every page. Merge it into the registry's API router.
pub fn router(registry: Registry, policy: TrustPolicy) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(catalog))
        .route("/ui/komponenter/{name}", get(latest))
        .route("/ui/komponenter/{name}/version/{version}", get(version))
        .route("/ui/static/komp.css", get(crate::stylesheet))
        .layer(axum::middleware::from_fn(crate::security_headers))
        .with_state(Pages { registry, policy: Arc::new(policy) })
}

/// The top bar of the registry's pages.
fn top() -> maud::Markup {
    html! {
        (nav(&[("/ui/", "Katalog")]))
        div class="who" { span { "Det fælles komponentregister" } }
    }
}

/// An error page of the registry.
struct PageError(StatusCode, String);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        error_page(self.0, &self.1, top())
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> PageError {
        match e {
            StoreError::NotFound(what) => PageError(StatusCode::NOT_FOUND, format!("{what} findes ikke i registret.")),
            other => PageError(StatusCode::INTERNAL_SERVER_ERROR, format!("Registret kan ikke læses: {other}")),
        }
    }
}

/// One stored version, read and checked now.
#[derive(Clone)]
struct Stored {
    manifest: Manifest,
    digest: String,
    signatures: Vec<SignatureCheck>,
    /// Why it does not meet the trust policy now (yanks aside), if it does not.
    not_trusted: Option<String>,
}

fn load(p: &Pages, revocations: &RevocationList, name: &str, v: &semver::Version) -> Result<Stored, PageError> {
    let bytes = p.registry.get(name, v)?;
    let art = Artifact::parse(bytes).map_err(|e| {
        PageError(StatusCode::INTERNAL_SERVER_ERROR, format!("{name}@{v} i registret kan ikke læses: {e}"))
    })?;
    let signatures = check_signatures(art.signature_section(), art.signed_content(), &p.policy).unwrap_or_default();
    let not_trusted = enforce(&signatures, &p.policy, revocations)
        .err()
        .map(|e| format!("opfylder ikke registrets tillidspolitik nu: {e}"));
    Ok(Stored { manifest: art.manifest().clone(), digest: art.digest().to_string(), signatures, not_trusted })
}

/// Runs store work (sled reads, hashing whole files) off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PageError> + Send + 'static,
) -> Result<T, PageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PageError(StatusCode::INTERNAL_SERVER_ERROR, format!("intern fejl: {e}")))?
}

/// `GET /ui/`
async fn catalog(State(p): State<Pages>, Query(f): Query<Filter>) -> Result<Response, PageError> {
    let stored = blocking(move || {
        let revocations = p.registry.revocations()?;
        let mut out = Vec::new();
        for c in p.registry.list()? {
            // The version a host installs; if every version is yanked, the newest (shown as withdrawn).
            let Some(v) = c.latest.clone().or_else(|| c.versions.last().map(|v| v.version.clone())) else { continue };
            let s = load(&p, &revocations, &c.name, &v)?;
            let yank = revocations.yanked(&c.name, &v).map(|y| format!("yanked: {}", y.reason));
            out.push((s, yank));
        }
        Ok(out)
    })
    .await?;
    let rows: Vec<CatalogRow<'_>> = stored
        .iter()
        .filter(|(s, _)| f.matches(&s.manifest))
        .map(|(s, yank)| CatalogRow {
            manifest: &s.manifest,
            approvers: approvers(&s.signatures),
            withdrawn: yank.clone().or_else(|| s.not_trusted.clone()),
        })
        .collect();
    let intro = html! {
        p {
            "Det fælles register over standard AI-komponenter. Hver komponent er bygget og signeret af en udgiver og "
            "godkendt (endosseret) af en godkender; kommunernes værter henter dem herfra og kontrollerer selv hver fil. "
            "Siden viser for hver komponent den version, en vært installerer."
        }
    };
    Ok(page("Katalog", top(), crate::catalog::content(&f, intro, &rows)))
}

/// `GET /ui/komponenter/{name}`: the version a host installs.
async fn latest(State(p): State<Pages>, Path(name): Path<String>) -> Result<Response, PageError> {
    show(p, name, None).await
}

/// `GET /ui/komponenter/{name}/version/{version}`
async fn version(State(p): State<Pages>, Path((name, version)): Path<(String, String)>) -> Result<Response, PageError> {
    let v = semver::Version::parse(&version).map_err(|_| {
        PageError(StatusCode::NOT_FOUND, format!("Version {version:?} af {name} findes ikke i registret."))
    })?;
    show(p, name, Some(v)).await
}

async fn show(p: Pages, name: String, version: Option<semver::Version>) -> Result<Response, PageError> {
    let (this, history, revocations, published_at) = blocking(move || {
        let revocations = p.registry.revocations()?;
        let versions = p.registry.versions(&name)?;
        if versions.is_empty() {
            return Err(PageError(StatusCode::NOT_FOUND, format!("Komponenten {name} findes ikke i registret.")));
        }
        let v = match version {
            Some(v) => v,
            None => p.registry.latest(&name)?.unwrap_or_else(|| versions[versions.len() - 1].entry.version.clone()),
        };
        let Some(info) = versions.iter().find(|i| i.entry.version == v) else {
            return Err(PageError(StatusCode::NOT_FOUND, format!("Version {v} af {name} findes ikke i registret.")));
        };
        let published_at = info.entry.published_at.clone();
        let history =
            versions.iter().map(|i| load(&p, &revocations, &name, &i.entry.version)).collect::<Result<Vec<_>, _>>()?;
        let this = history[versions.iter().position(|i| i.entry.version == v).unwrap_or(0)].clone();
        Ok((this, history, revocations, published_at))
    })
    .await?;
    let rows: Vec<VersionRow<'_>> = history
        .iter()
        .map(|h| VersionRow { manifest: &h.manifest, digest: &h.digest, withdrawn: h.not_trusted.clone() })
        .collect();
    let m = &this.manifest;
    let view = ComponentView {
        manifest: m,
        digest: &this.digest,
        signatures: &this.signatures,
        revocations: &revocations,
        withdrawn: this.not_trusted.as_deref(),
        here: HERE,
        actions: html! {
            p { "Offentliggjort i registret " (published_at) ". "
                a href=(format!("/registry/v1/components/{}/{}/artifact", m.name, m.version)) { "Hent komponentfilen" }
                " (kontrollér den selv med " code { "komp verify" } ")." }
        },
        golden_note: html! {
            "Registret kører dem ikke; hver vært kører dem alle ved installationen og installerer kun komponenten, "
            "hvis de giver det forventede svar."
        },
        history: &rows,
    };
    Ok(page(&format!("{} {}", m.name, m.version), top(), crate::component::content(&view)))
}
