//! Try it: a form generated from the component's input schema. The answer
//! comes from `api::run_prediction`, the API's own path (rate limit,
//! prediction slot, sandbox, audit record before the answer), so a try is
//! audited like any call, under the logged-in token.

use super::layout::page;
use super::render::{hbars, num, pct};
use super::session::{check_post, require, User};
use super::{WebError, WebState};
use crate::auth::Role;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use komp_runtime::runtime::PredictionOutcome;
use komp_web::component::{fields, Field};
use maud::{html, Markup};
use serde_json::{Map, Value};
use std::collections::HashMap;

const PREFIX: &str = "f_";

fn input_for(f: &Field, value: Option<&str>) -> Markup {
    let id = format!("{PREFIX}{}", f.name);
    let hint_id = format!("{id}-hint");
    let v = value.unwrap_or("");
    html! {
        div class="field" {
            label for=(id) { (f.name) @if f.required { " (påkrævet)" } }
            @if !f.description.is_empty() { span class="hint" id=(hint_id) { (f.description) } }
            @if !f.choices.is_empty() {
                select id=(id) name=(id) aria-describedby=(hint_id) required[f.required] {
                    @if !f.required { option value="" selected[v.is_empty()] { "(ikke angivet)" } }
                    @for (c, d) in &f.choices {
                        option value=(c) selected[v == c] { (c) @if !d.is_empty() { ": " (d) } }
                    }
                }
            } @else if f.ty == "boolean" {
                select id=(id) name=(id) aria-describedby=(hint_id) required[f.required] {
                    @if !f.required { option value="" selected[v.is_empty()] { "(ikke angivet)" } }
                    option value="true" selected[v == "true"] { "ja" }
                    option value="false" selected[v == "false"] { "nej" }
                }
            } @else if f.ty == "integer" || f.ty == "number" {
                input id=(id) name=(id) type="number" aria-describedby=(hint_id) value=(v) required[f.required]
                    step=(if f.ty == "integer" { "1" } else { "any" })
                    min=[f.minimum.map(num)] max=[f.maximum.map(num)];
            } @else if f.ty == "string" && f.max_length.is_none_or(|n| n > 1000) {
                textarea id=(id) name=(id) aria-describedby=(hint_id) rows="8" maxlength=[f.max_length] { (v) }
            } @else {
                input id=(id) name=(id) type="text" aria-describedby=(hint_id) value=(v) maxlength=[f.max_length];
            }
        }
    }
}

fn form_markup(name: &str, u: &User, fs: &[Field], values: &HashMap<String, String>) -> Markup {
    html! {
        form class="tryit" method="post" action=(format!("/ui/komponenter/{name}/proev")) {
            input type="hidden" name="csrf" value=(u.csrf);
            @for f in fs { (input_for(f, values.get(&f.name).map(String::as_str))) }
            p { button type="submit" { "Send til komponenten" } }
        }
    }
}

fn intro(name: &str, u: &User) -> Markup {
    html! {
        h1 { "Afprøv " (name) }
        p {
            "Svaret kommer fra den signerede komponent i sandkassen, ad samme vej som et kald til API'et: "
            "kaldet tæller med i kommunens hastighedsgrænse og bliver skrevet i revisionsloggen for kommune "
            (u.principal.tenant) " under din token (" code { (u.principal.token_id) } "), uden teksten selv. "
            "Brug derfor opdigtede eksempler, ikke rigtige sager."
        }
    }
}

/// `GET /ui/komponenter/{name}/proev`
pub async fn form(
    State(ws): State<WebState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let u = require(&ws, &headers, Role::Caller)?;
    ws.app.require_allowed(&u.principal, &name)?;
    let c = ws.app.runtime.lookup(&name, None).map_err(|_| WebError::not_found(&format!("Komponenten {name}")))?;
    let fs = fields(&c.manifest().input_schema);
    let content = html! { (intro(&name, &u)) (form_markup(&name, &u, &fs, &HashMap::new())) };
    Ok(page(&format!("Afprøv {name}"), Some(&u), content))
}

/// The JSON input from the form's fields, typed by the schema.
fn to_input(fs: &[Field], values: &HashMap<String, String>) -> Result<Value, String> {
    let mut o = Map::new();
    for f in fs {
        let raw = values.get(&f.name).map(String::as_str).unwrap_or("");
        let text = raw.trim();
        if f.ty != "string" && text.is_empty() || f.ty == "string" && raw.is_empty() && !f.required {
            continue;
        }
        let v = match f.ty.as_str() {
            "string" => Value::String(raw.replace("\r\n", "\n")),
            "integer" => Value::from(text.parse::<i64>().map_err(|_| format!("{} skal være et helt tal", f.name))?),
            "number" => serde_json::Number::from_f64(
                text.replace(',', ".").parse::<f64>().map_err(|_| format!("{} skal være et tal", f.name))?,
            )
            .map(Value::Number)
            .ok_or_else(|| format!("{} skal være et endeligt tal", f.name))?,
            "boolean" => Value::Bool(match text {
                "true" => true,
                "false" => false,
                _ => return Err(format!("{} skal være ja eller nej", f.name)),
            }),
            _ => serde_json::from_str(text).unwrap_or_else(|_| Value::String(raw.to_string())),
        };
        o.insert(f.name.clone(), v);
    }
    Ok(Value::Object(o))
}

/// `text` with the words of the explanation marked: towards the answer
/// (`pos`) or against it (`neg`).
fn highlighted(text: &str, weights: &HashMap<String, f32>) -> Markup {
    let mut parts: Vec<(String, Option<f32>)> = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, parts: &mut Vec<(String, Option<f32>)>| {
        if !word.is_empty() {
            let w = weights.get(&word.to_lowercase()).copied();
            parts.push((std::mem::take(word), w));
        }
    };
    for ch in text.chars() {
        if ch.is_alphanumeric() {
            word.push(ch);
        } else {
            flush(&mut word, &mut parts);
            parts.push((ch.to_string(), None));
        }
    }
    flush(&mut word, &mut parts);
    html! {
        div class="submitted" {
            @for (t, w) in &parts {
                @match w {
                    Some(w) if *w > 0.0 => { mark class="pos" title=(format!("for svaret: {}", num(f64::from(*w)))) { (t) } }
                    Some(w) if *w < 0.0 => { mark class="neg" title=(format!("imod svaret: {}", num(f64::from(*w)))) { (t) } }
                    _ => { (t) }
                }
            }
        }
    }
}

fn answer(
    ws: &WebState,
    u: &User,
    request_id: &str,
    o: &PredictionOutcome,
    fs: &[Field],
    values: &HashMap<String, String>,
) -> Markup {
    let c = ws.app.runtime.lookup(&o.component, semver::Version::parse(&o.version).ok().as_ref()).ok();
    let display = |id: &str| {
        c.as_ref()
            .and_then(|c| c.manifest().labels.iter().find(|l| l.id == id).map(|l| l.display.clone()))
            .unwrap_or_else(|| id.to_string())
    };
    let p = &o.prediction;
    let routing = ws
        .app
        .config
        .tenants
        .get(&u.principal.tenant)
        .and_then(|t| t.routing.get(&o.component))
        .and_then(|r| r.get(&p.label))
        .cloned();
    let mut scores: Vec<(String, f64)> = p.scores.iter().map(|s| (display(&s.label), f64::from(s.score))).collect();
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut weights: HashMap<String, f32> = HashMap::new();
    for fw in &p.explanation {
        let phrase = fw.feature.trim_end_matches(" (nægtet)").trim_end_matches(" (fortid)");
        for w in phrase.split_whitespace() {
            let e = weights.entry(w.to_lowercase()).or_insert(0.0);
            if fw.weight.abs() > e.abs() {
                *e = fw.weight;
            }
        }
    }
    html! {
        section aria-labelledby="svar" {
            h2 id="svar" { "Svar" }
            dl class="facts" {
                dt { "Udfald" } dd { strong id="udfald" data-label=(p.label) { (display(&p.label)) } " (" code { (p.label) } ")" }
                dt { "Kræver menneskelig vurdering" } dd id="review" {
                    @if p.requires_human_review { span class="badge warn" { "Ja: en sagsbehandler skal vurdere sagen" } }
                    @else { span class="badge ok" { "Nej: sikker nok til at følge forslaget" } }
                }
                dt { "Kommunens routing" } dd id="routing" {
                    @match &routing {
                        Some(r) => { (r.unit) @if !r.inbox.is_empty() { ", indbakke " (r.inbox) } @if let Some(k) = &r.kle { ", KLE " (k) } }
                        None => { "Ingen routing konfigureret for dette udfald" }
                    }
                }
                @if let Some(op) = &o.operating_point {
                    dt { "Beslutningstærskel" } dd { (json_inline(op)) }
                }
                dt { "Komponent" } dd { (o.component) " " (o.version) ", digest " code class="digest" { (o.digest) } }
                dt { "Revisionsspor (request id)" } dd { code id="request-id" { (request_id) } }
            }
            (hbars("Sandsynlighed pr. udfald", &scores))
            h3 { "Ord, der talte for eller imod svaret" }
            p class="hint" { mark class="pos" { "Gul" } ": for svaret. " mark class="neg" { "Blå" } ": imod svaret." }
            @for f in fs.iter().filter(|f| f.ty == "string" && f.choices.is_empty()) {
                @if let Some(v) = values.get(&f.name).filter(|v| !v.is_empty()) {
                    h4 { (f.name) }
                    (highlighted(v, &weights))
                }
            }
            @if !p.explanation.is_empty() {
                table {
                    caption { "Forklaring (vægte)" }
                    thead { tr { th scope="col" { "Ord eller faktor" } th scope="col" { "Vægt" } } }
                    tbody { @for fw in &p.explanation { tr { td { (fw.feature) } td { (num(f64::from(fw.weight))) } } } }
                }
            }
            @if let Some(top) = scores.first() { p class="hint" { "Højeste sandsynlighed: " (pct(top.1)) } }
        }
    }
}

fn json_inline<T: serde::Serialize>(v: &T) -> Markup {
    super::render::json(&serde_json::to_value(v).unwrap_or_default())
}

/// `POST /ui/komponenter/{name}/proev`
pub async fn submit(
    State(ws): State<WebState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let u = require(&ws, &headers, Role::Caller)?;
    let csrf = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str());
    check_post(&headers, &u.csrf, csrf)?;
    ws.app.require_allowed(&u.principal, &name)?;
    let c = ws.app.runtime.lookup(&name, None).map_err(|_| WebError::not_found(&format!("Komponenten {name}")))?;
    let fs = fields(&c.manifest().input_schema);
    let values: HashMap<String, String> =
        pairs.into_iter().filter_map(|(k, v)| k.strip_prefix(PREFIX).map(|k| (k.to_string(), v))).collect();
    let title = format!("Afprøv {name}");
    let again = |status: StatusCode, message: String| {
        let content = html! {
            (intro(&name, &u))
            p class="notice bad" role="alert" id="fejl" { (message) }
            (form_markup(&name, &u, &fs, &values))
        };
        (status, page(&title, Some(&u), content)).into_response()
    };
    let input = match to_input(&fs, &values) {
        Ok(v) => v,
        Err(m) => return Ok(again(StatusCode::UNPROCESSABLE_ENTITY, m)),
    };
    match crate::api::run_prediction(&ws.app, &u.principal, c, input.to_string()).await {
        Ok((request_id, outcome)) => {
            let content = html! {
                (intro(&name, &u))
                (answer(&ws, &u, &request_id, &outcome, &fs, &values))
                h2 { "Prøv igen" }
                (form_markup(&name, &u, &fs, &values))
            };
            Ok(page(&title, Some(&u), content))
        }
        Err(e) => {
            let mut message = e.message.clone();
            if let Some(v) = e.extra.as_ref().and_then(|x| x.get("violations")) {
                message.push_str(&format!(": {v}"));
            }
            Ok(again(e.status, message))
        }
    }
}
