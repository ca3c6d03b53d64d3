//! The catalog of the components installed on this host (rendered by
//! `komp_web::catalog`): to anyone with `web.public_catalog`, else to a
//! logged-in user, who sees only what the tenant may use.

use super::component::{signatures, visible};
use super::layout::page;
use super::session::user;
use super::{WebError, WebState};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use komp_web::catalog::{CatalogRow, Filter};
use komp_web::component::approvers;
use maud::html;

/// `GET /ui/`
pub async fn show(
    State(ws): State<WebState>,
    headers: HeaderMap,
    Query(f): Query<Filter>,
) -> Result<Response, WebError> {
    let u = user(&ws, &headers)?;
    if u.is_none() && !ws.app.config.web.public_catalog {
        return Ok(Redirect::to("/ui/login").into_response());
    }
    let mut names: Vec<String> = ws.app.runtime.components().iter().map(|c| c.manifest().name.clone()).collect();
    names.dedup();
    let shown: Vec<_> = names
        .iter()
        .filter(|n| visible(&ws, u.as_ref(), n))
        .filter_map(|n| ws.app.runtime.lookup(n, None).ok())
        .filter(|c| f.matches(c.manifest()))
        .collect();
    let rows: Vec<CatalogRow<'_>> = shown
        .iter()
        .map(|c| CatalogRow {
            manifest: c.manifest(),
            approvers: approvers(&signatures(&ws, c)),
            withdrawn: c.withdrawn(),
        })
        .collect();
    let intro = html! {
        p {
            "Hver komponent er bygget og signeret af en udgiver og godkendt (endosseret) af en godkender. "
            "Siden viser de komponenter, der er installeret på denne vært"
            @if let Some(u) = &u { " og som kommune " (u.principal.tenant) " må bruge" }
            "."
        }
    };
    Ok(page("Katalog", u.as_ref(), komp_web::catalog::content(&f, intro, &rows)))
}
