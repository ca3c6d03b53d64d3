//! Monitoring for the tenant's auditors: volume, outcomes, agreement and
//! override rates per day, label distribution and the drift signals, as
//! inline SVG charts with the numbers beside them. Built on the audit log
//! (`Audit::monitoring`, `Audit::query`) and the drift report of
//! `GET /v1/components/{name}/monitoring`.

use super::layout::page;
use super::render::{columns, hbars, json, num, pct, Series};
use super::session::require;
use super::{WebError, WebState};
use crate::auth::Role;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

/// Days shown in the charts.
const DAYS: u64 = 30;

/// `GET /ui/overvaagning`: the tenant's components with their totals.
pub async fn overview(State(ws): State<WebState>, headers: HeaderMap) -> Result<Response, WebError> {
    let u = require(&ws, &headers, Role::Auditor)?;
    let mut names: Vec<String> = ws.app.runtime.components().iter().map(|c| c.manifest().name.clone()).collect();
    names.dedup();
    names.retain(|n| ws.app.allowed(&u.principal.tenant, n));
    let rows: Vec<(String, komp_audit::Monitoring)> =
        names.into_iter().map(|n| (n.clone(), ws.app.audit.monitoring(&u.principal.tenant, &n))).collect();
    let content = html! {
        h1 { "Overvågning for kommune " (u.principal.tenant) }
        p { "Tallene kommer fra revisionsloggen: hvert kald, hver fejl og hver sagsbehandlers beslutning om et forslag." }
        p { a href="/ui/valideringsrapporter" { "Kommunens valideringsrapporter" } }
        table {
            caption { "Komponenter" }
            thead { tr {
                th scope="col" { "Komponent" } th scope="col" { "Forudsigelser" } th scope="col" { "Fejl" }
                th scope="col" { "Til menneskelig vurdering" } th scope="col" { "Med tilbagemelding" }
                th scope="col" { "Enighed" } th scope="col" { "Tilsidesat" }
            } }
            tbody {
                @for (n, m) in &rows {
                    tr {
                        td { a href=(format!("/ui/overvaagning/{n}")) { (n) } }
                        td { (m.predictions) } td { (m.errors) } td { (m.human_review) } td { (m.feedback) }
                        td { (m.agreement_rate.map(pct).unwrap_or_else(|| "–".into())) }
                        td { (m.override_rate.map(pct).unwrap_or_else(|| "–".into())) }
                    }
                }
            }
        }
    };
    Ok(page("Overvågning", Some(&u), content))
}

#[derive(Default, Clone)]
struct Day {
    ok: f64,
    errors: f64,
    review: f64,
    accepted: f64,
    overridden: f64,
    /// Successful predictions per label: the outcome mix over time (a shift is drift).
    labels: BTreeMap<String, f64>,
}

/// Colours of the label series, each with at least 4.5:1 contrast on white.
const PALETTE: &[&str] = &["#0b4f8a", "#b42318", "#14532d", "#8a5a00", "#5b2a86", "#0e6e6e", "#7a3e00", "#4a4a4a"];

/// `GET /ui/overvaagning/{name}`
pub async fn component(
    State(ws): State<WebState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let u = require(&ws, &headers, Role::Auditor)?;
    ws.app.require_allowed(&u.principal, &name)?;
    ws.app.runtime.lookup(&name, None).map_err(|_| WebError::not_found(&format!("Komponenten {name}")))?;
    let tenant = u.principal.tenant.clone();
    let totals = ws.app.audit.monitoring(&tenant, &name);
    let since = SystemTime::now() - Duration::from_secs(DAYS * 86_400);
    let audit = ws.app.audit.clone();
    let (t, n) = (tenant.clone(), name.clone());
    let records = tokio::task::spawn_blocking(move || {
        audit.query(
            &t,
            &komp_audit::Filter {
                component: Some(n),
                since: Some(since),
                limit: Some(komp_audit::MAX_LIMIT),
                order: komp_audit::Order::OldestFirst,
                ..Default::default()
            },
        )
    })
    .await
    .map_err(|e| WebError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| WebError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("revisionsloggen kan ikke læses: {e}")))?;
    let mut days: BTreeMap<String, Day> = BTreeMap::new();
    // Every day of the period, so gaps show as empty columns.
    for i in (0..DAYS).rev() {
        let t = SystemTime::now() - Duration::from_secs(i * 86_400);
        let d = komp_audit::format_rfc3339(komp_audit::system_time_ms(t));
        days.entry(d.get(..10).unwrap_or(&d).to_string()).or_default();
    }
    // The day of each prediction, so feedback counts on the day of the prediction it is about.
    let mut predicted_on: HashMap<String, String> = HashMap::new();
    for r in &records {
        match r {
            komp_audit::Record::Prediction(p) => {
                let day = p.time.get(..10).unwrap_or(&p.time).to_string();
                let d = days.entry(day.clone()).or_default();
                if p.outcome == "ok" {
                    d.ok += 1.0;
                    if let Some(l) = &p.label {
                        *d.labels.entry(l.clone()).or_default() += 1.0;
                    }
                } else {
                    d.errors += 1.0;
                }
                if p.requires_human_review {
                    d.review += 1.0;
                }
                predicted_on.insert(p.request_id.clone(), day);
            }
            komp_audit::Record::Feedback(f) => {
                let day = predicted_on
                    .get(&f.request_id)
                    .cloned()
                    .unwrap_or_else(|| f.time.get(..10).unwrap_or(&f.time).to_string());
                let d = days.entry(day).or_default();
                match f.decision {
                    komp_audit::Decision::Accepted => d.accepted += 1.0,
                    komp_audit::Decision::Overridden => d.overridden += 1.0,
                }
            }
            komp_audit::Record::Purge(_) | komp_audit::Record::Admin(_) => {}
        }
    }
    let xs: Vec<String> = days.keys().cloned().collect();
    let col = |f: fn(&Day) -> f64| days.values().map(f).collect::<Vec<f64>>();
    let rate = |num_: fn(&Day) -> f64| {
        days.values()
            .map(|d| if d.accepted + d.overridden > 0.0 { num_(d) / (d.accepted + d.overridden) } else { f64::NAN })
            .collect::<Vec<f64>>()
    };
    let day_labels: Vec<String> = days
        .values()
        .flat_map(|d| d.labels.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let label_series: Vec<Series<'_>> = day_labels
        .iter()
        .enumerate()
        .map(|(i, l)| Series {
            name: l,
            colour: PALETTE[i % PALETTE.len()],
            values: days.values().map(|d| d.labels.get(l).copied().unwrap_or(0.0)).collect(),
        })
        .collect();
    let label_total: u64 = totals.label_counts.values().sum();
    let labels: Vec<(String, f64)> = totals
        .label_counts
        .iter()
        .map(|(l, n)| (l.clone(), if label_total > 0 { *n as f64 / label_total as f64 } else { 0.0 }))
        .collect();
    let drift = serde_json::to_value(crate::drift::evaluate(&ws.app, &tenant, &name)).unwrap_or_default();
    let signals = drift.get("signals").and_then(Value::as_array).cloned().unwrap_or_default();
    let reports = super::validation::reports(&ws, &tenant, Some(name.as_str())).await?;
    let content = html! {
        h1 { "Overvågning af " (name) " for kommune " (tenant) }
        h2 { "I alt (hele revisionsloggen)" }
        dl class="facts" {
            dt { "Forudsigelser" } dd { (totals.predictions) }
            dt { "Fejl" } dd { (totals.errors) }
            dt { "Sendt til menneskelig vurdering" } dd { (totals.human_review) }
            dt { "Med sagsbehandlerens tilbagemelding" } dd { (totals.feedback) }
            dt { "Enighed (forslaget fulgt)" } dd { (totals.agreement_rate.map(pct).unwrap_or_else(|| "ingen tilbagemeldinger endnu".into())) }
            dt { "Tilsidesat" } dd { (totals.override_rate.map(pct).unwrap_or_else(|| "ingen tilbagemeldinger endnu".into())) }
        }
        h2 { "De seneste " (DAYS) " dage" }
        @if records.len() >= komp_audit::MAX_LIMIT {
            p class="notice warn" { "Kun de første " (komp_audit::MAX_LIMIT) " poster i perioden er talt med." }
        }
        (columns("Forudsigelser pr. dag, efter udfald", &xs, &[
            Series { name: "gennemført", colour: "#0b4f8a", values: col(|d| d.ok) },
            Series { name: "fejl", colour: "#b42318", values: col(|d| d.errors) },
        ], false))
        (columns("Sendt til menneskelig vurdering pr. dag", &xs, &[
            Series { name: "til vurdering", colour: "#8a5a00", values: col(|d| d.review) },
        ], false))
        (columns("Enighed og tilsidesættelser pr. dag (andel af tilbagemeldinger, efter forudsigelsens dag)", &xs, &[
            Series { name: "enighed", colour: "#14532d", values: rate(|d| d.accepted) },
            Series { name: "tilsidesat", colour: "#b42318", values: rate(|d| d.overridden) },
        ], true))
        @if !label_series.is_empty() {
            (columns("Udfald pr. dag (en ændret fordeling er et tegn på drift)", &xs, &label_series, false))
        }
        table {
            caption { "Tallene bag graferne" }
            thead { tr {
                th scope="col" { "Dag" } th scope="col" { "Gennemført" } th scope="col" { "Fejl" } th scope="col" { "Til vurdering" }
                th scope="col" { "Fulgt" } th scope="col" { "Tilsidesat" }
            } }
            tbody {
                @for (d, v) in days.iter().filter(|(_, v)| v.ok + v.errors + v.accepted + v.overridden > 0.0) {
                    tr { td { (d) } td { (num(v.ok)) } td { (num(v.errors)) } td { (num(v.review)) } td { (num(v.accepted)) } td { (num(v.overridden)) } }
                }
            }
        }
        @if !labels.is_empty() { (hbars("Fordeling af udfald (hele loggen)", &labels)) }
        h2 { "Drift" }
        p {
            "Forudsigelserne i det seneste vindue sammenlignet med komponentens referencefordeling. Reference: "
            (drift.get("reference").and_then(Value::as_str).unwrap_or("–"))
        }
        @if signals.is_empty() { p { "Ingen driftsignaler." } } @else {
            table {
                caption { "Driftsignaler" }
                thead { tr {
                    th scope="col" { "Signal" } th scope="col" { "Mål" } th scope="col" { "Værdi" } th scope="col" { "Grænse" }
                    th scope="col" { "Tilstand" } th scope="col" { "Observationer" }
                } }
                tbody {
                    @for s in &signals {
                        @let state = s.get("state").and_then(Value::as_str).unwrap_or("");
                        tr {
                            td { (s.get("signal").and_then(Value::as_str).unwrap_or("")) }
                            td { (s.get("measure").and_then(Value::as_str).unwrap_or("")) }
                            td { (s.get("value").and_then(Value::as_f64).map(num).unwrap_or_else(|| "–".into())) }
                            td { (s.get("threshold").and_then(Value::as_f64).map(num).unwrap_or_else(|| "–".into())) }
                            td {
                                @match state {
                                    "alert" => span class="badge bad" { "Alarm" },
                                    "ok" => span class="badge ok" { "OK" },
                                    "insufficient_data" => "For få observationer",
                                    "no_reference" => "Ingen reference",
                                    other => (other),
                                }
                            }
                            td { (s.get("n").map(json).unwrap_or_default()) " af mindst " (s.get("min_n").map(json).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
        h2 { "Valideringsrapporter" }
        p {
            "Kommunens egne valideringer af " (name) " på mærkede stikprøver ("
            code { "POST /v1/components/" (name) "/validation-reports" } "). "
            a href=(format!("/ui/valideringsrapporter?komponent={name}")) { "Alle valideringsrapporter for " (name) }
        }
        @if reports.is_empty() { p { "Ingen valideringsrapporter for " (name) " endnu." } } @else {
            (super::validation::chart("Nøjagtighed pr. valideringsrapport over tid", &reports))
            (super::validation::table(&reports, false))
        }
    };
    Ok(page(&format!("Overvågning af {name}"), Some(&u), content))
}
