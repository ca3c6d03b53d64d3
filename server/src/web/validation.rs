//! The tenant's validation reports for its auditors: the list (the reports
//! made over HTTP, `POST /v1/components/{name}/validation-reports`), the
//! accuracy of each with its interval, a chart per component over time, and
//! each report's own page. A tenant sees only its own reports: the list and
//! the lookup read only the folder of the logged-in tenant, and an unknown
//! or another tenant's id is 404 like one that never existed.

use super::layout::page;
use super::render::{columns, num, pct, Series};
use super::session::require;
use super::{WebError, WebState};
use crate::auth::Role;
use crate::validation::Entry;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use komp_audit::Tenant;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(Deserialize, Default)]
pub struct ListQuery {
    /// Only the reports of this component.
    #[serde(default)]
    komponent: Option<String>,
}

/// A report's accuracy: value and 95 % interval, from its `report.json`.
#[derive(Clone, Copy)]
pub struct Accuracy {
    pub value: f64,
    pub ci95: Option<(f64, f64)>,
}

/// The reports of `tenant` (optionally of one component), newest first, with
/// the accuracy of each finished one.
pub async fn reports(
    ws: &WebState,
    tenant: &Tenant,
    component: Option<&str>,
) -> Result<Vec<(Entry, Option<Accuracy>)>, WebError> {
    let (app, tenant, component) = (ws.app.clone(), *tenant, component.map(str::to_string));
    tokio::task::spawn_blocking(move || {
        app.validation_reports
            .list(&tenant)
            .into_iter()
            .filter(|e| component.as_ref().is_none_or(|c| &e.component == c))
            .map(|e| {
                let acc = (e.status == "done").then(|| accuracy(&app, &tenant, &e.id)).flatten();
                (e, acc)
            })
            .collect()
    })
    .await
    .map_err(|e| WebError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

fn accuracy(app: &crate::SharedState, tenant: &Tenant, id: &str) -> Option<Accuracy> {
    let bytes = std::fs::read(app.validation_reports.report_dir(tenant, id).join("report.json")).ok()?;
    let report: Value = serde_json::from_slice(&bytes).ok()?;
    let a = &report["classification"]["accuracy"];
    let ci = a["ci95"].as_array().and_then(|c| Some((c.first()?.as_f64()?, c.get(1)?.as_f64()?)));
    Some(Accuracy { value: a["value"].as_f64()?, ci95: ci })
}

fn status_text(e: &Entry) -> Markup {
    match e.status.as_str() {
        "done" => html! { span class="badge ok" { "Færdig" } },
        "running" => html! { span class="badge warn" { "Kører" } },
        "interrupted" => html! { span class="badge bad" title=[e.error.as_deref()] { "Afbrudt" } },
        _ => html! { span class="badge bad" { "Fejlede" } @if let Some(err) = &e.error { br; (err) } },
    }
}

/// The table of reports; links to each finished report's page.
pub fn table(rows: &[(Entry, Option<Accuracy>)], with_component: bool) -> Markup {
    html! {
        table class="reports" {
            caption { "Valideringsrapporter" }
            thead { tr {
                th scope="col" { "Lavet" }
                @if with_component { th scope="col" { "Komponent" } }
                th scope="col" { "Version" } th scope="col" { "Status" } th scope="col" { "Rækker (evalueret)" }
                th scope="col" { "Nøjagtighed (95 %-interval)" } th scope="col" { "Tærskel" } th scope="col" { "Stikprøve (sha256)" }
                th scope="col" { "Rapport" }
            } }
            tbody {
                @for (e, acc) in rows {
                    tr {
                        td { (e.created) }
                        @if with_component { td { a href=(format!("/ui/overvaagning/{}", e.component)) { (e.component) } } }
                        td { (e.version) }
                        td { (status_text(e)) }
                        td { (e.n) @if let Some(n) = e.evaluated { " (" (n) ")" } }
                        td {
                            @match acc {
                                Some(a) => { (pct(a.value)) @if let Some((lo, hi)) = a.ci95 { " (" (pct(lo)) "–" (pct(hi)) ")" } }
                                None => "–",
                            }
                        }
                        td { (e.operating_point.map(num).unwrap_or_else(|| "–".into())) }
                        td { code { (e.sample_sha256.get(..12).unwrap_or(&e.sample_sha256)) "…" } " " (e.sample_format) }
                        td {
                            @if e.status == "done" {
                                a href=(format!("/ui/valideringsrapporter/{}/rapport.html", e.id)) { "Rapport " (e.id) }
                            } @else { (e.id) }
                        }
                    }
                }
            }
        }
    }
}

/// The accuracy of each finished report over time, with its interval in the
/// tooltip (oldest first).
pub fn chart(title: &str, rows: &[(Entry, Option<Accuracy>)]) -> Markup {
    let done: Vec<(&Entry, Accuracy)> = rows.iter().rev().filter_map(|(e, a)| a.map(|a| (e, a))).collect();
    if done.is_empty() {
        return html! {};
    }
    let xs: Vec<String> =
        done.iter().map(|(e, _)| e.created.get(..16).unwrap_or(&e.created).replace('T', " ")).collect();
    let series = [
        Series { name: "nøjagtighed", colour: "#0b4f8a", values: done.iter().map(|(_, a)| a.value).collect() },
        Series {
            name: "95 %-interval, nedre grænse",
            colour: "#8a5a00",
            values: done.iter().map(|(_, a)| a.ci95.map_or(f64::NAN, |c| c.0)).collect(),
        },
    ];
    columns(title, &xs, &series, true)
}

/// `GET /ui/valideringsrapporter` (auditor)
pub async fn list(
    State(ws): State<WebState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let u = require(&ws, &headers, Role::Auditor)?;
    let tenant = u.principal.tenant.clone();
    let rows = reports(&ws, &tenant, q.komponent.as_deref()).await?;
    let mut components: Vec<&str> = rows.iter().map(|(e, _)| e.component.as_str()).collect();
    components.sort_unstable();
    components.dedup();
    let content = html! {
        h1 { "Valideringsrapporter for kommune " (tenant) }
        p {
            "Kommunens egne valideringer: en revisor har sendt en mærket stikprøve til "
            code { "POST /v1/components/{navn}/validation-reports" } ", og værten har kørt den installerede, signerede "
            "komponent på den. Stikprøvens tekster gemmes ikke, kun dens sha256. Rapporterne er kommunens egne; "
            "andre kommuner kan ikke se dem."
        }
        @if let Some(c) = &q.komponent { p { "Kun " (c) ". " a href="/ui/valideringsrapporter" { "Vis alle" } } }
        @if rows.is_empty() {
            p { "Ingen valideringsrapporter endnu." }
        } @else {
            @for c in &components {
                @let of_c: Vec<(Entry, Option<Accuracy>)> = rows.iter().filter(|(e, _)| e.component == *c).cloned().collect();
                (chart(&format!("Nøjagtighed pr. rapport over tid: {c}"), &of_c))
            }
            (table(&rows, true))
        }
    };
    Ok(page("Valideringsrapporter", Some(&u), content))
}

/// `GET /ui/valideringsrapporter/{id}/rapport.html` (auditor): the report's
/// own page, as `komp validate` writes it. It is self-contained (inline CSS
/// and SVG, no script); its CSP allows exactly its own style blocks, by hash.
pub async fn report(
    State(ws): State<WebState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let u = require(&ws, &headers, Role::Auditor)?;
    let entry = crate::validation::find(&ws.app, &u.principal.tenant, &id)
        .map_err(|_| WebError::not_found(&format!("Valideringsrapporten {id}")))?;
    if entry.status != "done" {
        return Err(WebError::not_found(&format!(
            "En side for valideringsrapporten {id} (kørslen er {})",
            entry.status
        )));
    }
    let path = ws.app.validation_reports.report_dir(&u.principal.tenant, &id).join("report.html");
    let html = tokio::fs::read_to_string(&path)
        .await
        .map_err(|e| WebError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("Rapporten {id} kan ikke læses: {e}")))?;
    let csp = report_csp(&html);
    let mut resp = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        resp.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    Ok(resp)
}

/// A CSP for a report page: nothing but its own `<style>` blocks (by
/// sha256) and inline images; no script at all.
pub fn report_csp(html: &str) -> String {
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<style>") {
        let after = &rest[start + 7..];
        let Some(end) = after.find("</style>") else { break };
        hashes.push(format!("'sha256-{}'", base64_std(&Sha256::digest(after[..end].as_bytes()))));
        rest = &after[end + 8..];
    }
    let styles = if hashes.is_empty() { "'none'".to_string() } else { hashes.join(" ") };
    format!(
        "default-src 'none'; style-src {styles}; img-src data:; script-src 'none'; form-action 'none'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

/// Standard base64 with padding (for CSP hash sources).
fn base64_std(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_csp_names_each_style_block_by_its_sha256() {
        // sha256 of the empty string, in the base64 a CSP hash source uses.
        assert_eq!(base64_std(&Sha256::digest(b"")), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        assert_eq!(base64_std(b"ab"), "YWI=");
        let csp = report_csp("<html><style></style><p>x</p><style>b{}</style></html>");
        let b = base64_std(&Sha256::digest(b"b{}"));
        assert!(
            csp.contains(&format!("style-src 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' 'sha256-{b}';")),
            "{csp}"
        );
        assert!(csp.contains("script-src 'none'"), "{csp}");
        assert!(report_csp("<p>no style</p>").contains("style-src 'none'"));
    }
}
