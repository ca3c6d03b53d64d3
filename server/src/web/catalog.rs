//! The catalog: every component with its purpose, version, publisher,
//! approver, AI Act class and labels; filter by risk class, search by text.

use super::component::{approvers, risk_badge, risk_name, visible};
use super::layout::page;
use super::session::user;
use super::{WebError, WebState};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use komp_artifact::RiskClass;
use maud::html;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct Filter {
    /// Free text, matched (case-insensitively) against name, description,
    /// publisher and labels.
    #[serde(default)]
    q: String,
    /// `minimal`, `limited`, `high` or empty.
    #[serde(default)]
    risiko: String,
}

fn parse_risk(s: &str) -> Option<RiskClass> {
    match s {
        "minimal" => Some(RiskClass::Minimal),
        "limited" => Some(RiskClass::Limited),
        "high" => Some(RiskClass::High),
        _ => None,
    }
}

/// `GET /ui/`
pub async fn page_handler(ws: &WebState, headers: &HeaderMap, f: Filter) -> Result<Response, WebError> {
    let u = user(ws, headers)?;
    if u.is_none() && !ws.app.config.web.public_catalog {
        return Ok(Redirect::to("/ui/login").into_response());
    }
    let risk = parse_risk(&f.risiko);
    let q = f.q.trim().to_lowercase();
    let mut names: Vec<String> = ws.app.runtime.components().iter().map(|c| c.manifest().name.clone()).collect();
    names.dedup();
    let mut rows = Vec::new();
    for name in names.iter().filter(|n| visible(ws, u.as_ref(), n)) {
        let Ok(c) = ws.app.runtime.lookup(name, None) else { continue };
        let m = c.manifest();
        if risk.is_some_and(|r| r != m.ai_act.risk_class) {
            continue;
        }
        if !q.is_empty() {
            let hay = format!(
                "{} {} {} {}",
                m.name,
                m.description,
                m.publisher,
                m.labels.iter().map(|l| format!("{} {}", l.id, l.display)).collect::<Vec<_>>().join(" ")
            )
            .to_lowercase();
            if !hay.contains(&q) {
                continue;
            }
        }
        rows.push(c);
    }
    let content = html! {
        h1 { "Katalog over AI-komponenter" }
        p {
            "Hver komponent er bygget og signeret af en udgiver og godkendt (endosseret) af en godkender. "
            "Siden viser de komponenter, der er installeret på denne vært"
            @if let Some(u) = &u { " og som kommune " (u.principal.tenant) " må bruge" }
            "."
        }
        form class="filters" method="get" action="/ui/" role="search" {
            div {
                label for="q" { "Søg" }
                input id="q" name="q" type="search" value=(f.q);
            }
            div {
                label for="risiko" { "AI Act-risikoklasse" }
                select id="risiko" name="risiko" {
                    option value="" selected[risk.is_none()] { "Alle" }
                    @for (v, r) in [("minimal", RiskClass::Minimal), ("limited", RiskClass::Limited), ("high", RiskClass::High)] {
                        option value=(v) selected[risk == Some(r)] { (risk_name(r)) }
                    }
                }
            }
            div { button type="submit" { "Filtrér" } }
        }
        p aria-live="polite" { (rows.len()) " komponenter" }
        @if !rows.is_empty() {
            table class="catalog" {
                caption { "Komponenter" }
                thead {
                    tr {
                        th scope="col" { "Navn" }
                        th scope="col" { "Formål" }
                        th scope="col" { "Version" }
                        th scope="col" { "Udgiver" }
                        th scope="col" { "Godkendt af" }
                        th scope="col" { "Risikoklasse" }
                        th scope="col" { "Udfald (labels)" }
                    }
                }
                tbody {
                    @for c in &rows {
                        @let m = c.manifest();
                        tr {
                            td { a href=(format!("/ui/komponenter/{}", m.name)) { (m.name) } }
                            td { (m.description) }
                            td {
                                (m.version.to_string())
                                @if let Some(why) = c.withdrawn() { br; span class="badge bad" title=(why) { "Trukket tilbage" } }
                            }
                            td { (m.publisher) }
                            td {
                                @let a = approvers(ws, c);
                                @if a.is_empty() { "Ingen gyldig godkendelse" } @else { (a.join(", ")) }
                            }
                            td { (risk_badge(m.ai_act.risk_class)) }
                            td { (m.labels.iter().map(|l| l.display.as_str()).collect::<Vec<_>>().join(", ")) }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Katalog", u.as_ref(), content))
}

pub async fn show(
    State(ws): State<WebState>,
    headers: HeaderMap,
    Query(f): Query<Filter>,
) -> Result<Response, WebError> {
    page_handler(&ws, &headers, f).await
}
