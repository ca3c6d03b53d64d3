//! The catalog: every component with its purpose, version, publisher,
//! approver, AI Act class and labels; filter by risk class, search by text.

use crate::component::{risk_badge, risk_name};
use komp_artifact::{Manifest, RiskClass};
use maud::{html, Markup};
use serde::Deserialize;

/// The catalog's query (`GET /ui/?q=…&risiko=…`).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Filter {
    /// Free text, matched (case-insensitively) against name, description,
    /// publisher and labels.
    #[serde(default)]
    pub q: String,
    /// `minimal`, `limited`, `high` or empty.
    #[serde(default)]
    pub risiko: String,
}

impl Filter {
    /// The risk class asked for, if any (an unknown value filters nothing).
    pub fn risk(&self) -> Option<RiskClass> {
        match self.risiko.as_str() {
            "minimal" => Some(RiskClass::Minimal),
            "limited" => Some(RiskClass::Limited),
            "high" => Some(RiskClass::High),
            _ => None,
        }
    }

    /// Whether `m` passes the filter.
    pub fn matches(&self, m: &Manifest) -> bool {
        if self.risk().is_some_and(|r| r != m.ai_act.risk_class) {
            return false;
        }
        let q = self.q.trim().to_lowercase();
        if q.is_empty() {
            return true;
        }
        let hay = format!(
            "{} {} {} {}",
            m.name,
            m.description,
            m.publisher,
            m.labels.iter().map(|l| format!("{} {}", l.id, l.display)).collect::<Vec<_>>().join(" ")
        )
        .to_lowercase();
        hay.contains(&q)
    }
}

/// One line of the catalog: the version shown (the one a host would install).
pub struct CatalogRow<'a> {
    pub manifest: &'a Manifest,
    /// The names (from the trust policy) of the approvers whose endorsement verifies here.
    pub approvers: Vec<String>,
    /// Why this version is not in use here, if it is not.
    pub withdrawn: Option<String>,
}

/// The catalog's content: `intro` (who sees what, in the server's words),
/// the filter form and the table of `rows` (already filtered).
pub fn content(f: &Filter, intro: Markup, rows: &[CatalogRow<'_>]) -> Markup {
    let risk = f.risk();
    html! {
        h1 { "Katalog over AI-komponenter" }
        (intro)
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
                    @for r in rows {
                        @let m = r.manifest;
                        tr {
                            td { a href=(format!("/ui/komponenter/{}", m.name)) { (m.name) } }
                            td { (m.description) }
                            td {
                                (m.version.to_string())
                                @if let Some(why) = &r.withdrawn { br; span class="badge bad" title=(why) { "Trukket tilbage" } }
                            }
                            td { (m.publisher) }
                            td {
                                @if r.approvers.is_empty() { "Ingen gyldig godkendelse" } @else { (r.approvers.join(", ")) }
                            }
                            td { (risk_badge(m.ai_act.risk_class)) }
                            td { (m.labels.iter().map(|l| l.display.as_str()).collect::<Vec<_>>().join(", ")) }
                        }
                    }
                }
            }
        }
    }
}
