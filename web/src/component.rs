//! One component version: identity, signatures and endorsements as they
//! verify where the page is served, yank and revocation, the model card,
//! ALTAI, the AI Act class, the input schema, golden vectors and the version
//! history with what changed between versions.

use crate::render::{json, num};
use komp_artifact::{Manifest, RiskClass};
use komp_registry::revocation::RevocationList;
use komp_registry::trust::{SignatureCheck, SignatureStatus};
use komp_registry::Role as KeyRole;
use maud::{html, Markup};
use serde_json::Value;

/// Everything the component page shows, gathered by the server that serves
/// it (a host from its installed components, a registry from its stored
/// files). Signatures are checked by the caller against its own trust policy.
pub struct ComponentView<'a> {
    pub manifest: &'a Manifest,
    /// The component's identity (sha256 of everything after the signatures).
    pub digest: &'a str,
    /// Every signature, checked now against the trust policy where the page is served.
    pub signatures: &'a [SignatureCheck],
    /// The current (verified) revocation list: yanks and revoked keys with their reasons.
    pub revocations: &'a RevocationList,
    /// Why this version is not in use here although it is not yanked (a host
    /// withdrew it, or it no longer meets the trust policy).
    pub withdrawn: Option<&'a str>,
    /// Where "here" is, in words: `"på denne vært"`, `"i dette register"`.
    pub here: &'a str,
    /// Links shown under the facts (e.g. the try-it page for a caller).
    pub actions: Markup,
    /// What is known about the golden vectors here (a host ran them at install).
    pub golden_note: Markup,
    /// Every version of the component, ascending; this one among them.
    pub history: &'a [VersionRow<'a>],
}

/// One version in the history table.
pub struct VersionRow<'a> {
    pub manifest: &'a Manifest,
    pub digest: &'a str,
    /// Why it is not in use here, if it is not (yanks are read from the list).
    pub withdrawn: Option<String>,
}

pub fn risk_name(r: RiskClass) -> &'static str {
    match r {
        RiskClass::Minimal => "Minimal risiko",
        RiskClass::Limited => "Begrænset risiko",
        RiskClass::High => "Højrisiko",
    }
}

pub fn risk_badge(r: RiskClass) -> Markup {
    let class = match r {
        RiskClass::Minimal => "badge risk-minimal",
        RiskClass::Limited => "badge risk-limited",
        RiskClass::High => "badge risk-high",
    };
    html! { span class=(class) { (risk_name(r)) } }
}

/// The names (from the trust policy) of the approvers whose endorsement verifies.
pub fn approvers(signatures: &[SignatureCheck]) -> Vec<String> {
    signatures
        .iter()
        .filter(|s| s.valid() && s.role == Some(KeyRole::Approver))
        .map(|s| s.owner.clone().unwrap_or_else(|| s.key_id.clone()))
        .collect()
}

/// One property of an input schema, as the page and the try-it form show it.
pub struct Field {
    pub name: String,
    pub ty: String,
    pub required: bool,
    pub description: String,
    /// Allowed values, each with its description if the schema gives one.
    pub choices: Vec<(String, String)>,
    pub max_length: Option<u64>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
}

/// The top-level properties of a JSON Schema object, in schema order.
pub fn fields(schema: &Value) -> Vec<Field> {
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let Some(props) = schema.get("properties").and_then(Value::as_object) else { return Vec::new() };
    props
        .iter()
        .map(|(name, p)| {
            let ty = match p.get("type") {
                Some(Value::String(t)) => t.clone(),
                Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" | "),
                _ => "any".into(),
            };
            let descriptions = p.get("x-enumDescriptions").and_then(Value::as_object);
            let choices = p
                .get("enum")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|v| {
                    let key = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                    let d = descriptions.and_then(|d| d.get(&key)).and_then(Value::as_str).unwrap_or("").to_string();
                    (key, d)
                })
                .collect();
            let mut description = p.get("description").and_then(Value::as_str).unwrap_or("").to_string();
            // The enum's descriptions are shown with the values; keep the sentence before them.
            if descriptions.is_some() {
                if let Some(i) = description.find(" '") {
                    description.truncate(i);
                }
            }
            Field {
                name: name.clone(),
                ty,
                required: required.contains(&name.as_str()),
                description,
                choices,
                max_length: p.get("maxLength").and_then(Value::as_u64),
                minimum: p.get("minimum").and_then(Value::as_f64),
                maximum: p.get("maximum").and_then(Value::as_f64),
            }
        })
        .collect()
}

fn status_text(s: SignatureStatus) -> (&'static str, &'static str) {
    match s {
        SignatureStatus::Valid => ("Verificeret her", "badge ok"),
        SignatureStatus::ContentChanged => ("Indholdet er ændret efter signering", "badge bad"),
        SignatureStatus::Invalid => ("Verificerer ikke med nøglen", "badge bad"),
        SignatureStatus::UnknownKey => ("Nøglen er ikke i tillidspolitikken her", "badge warn"),
    }
}

fn role_text(r: Option<KeyRole>) -> &'static str {
    match r {
        Some(KeyRole::Publisher) => "Udgiver (har bygget komponenten)",
        Some(KeyRole::Approver) => "Godkender (endossering: godkendt til fælles brug)",
        None => "Ukendt",
    }
}

const MANIFEST_PARTS: &[(&str, &str)] = &[
    ("description", "beskrivelse"),
    ("publisher", "udgiver"),
    ("licence", "licens"),
    ("labels", "udfald (labels)"),
    ("input_schema", "inputskema"),
    ("models", "modeller (nye modelfiler)"),
    ("model_card", "modelkort"),
    ("altai", "ALTAI-selvevaluering"),
    ("ai_act", "AI Act-klassificering"),
    ("golden_vectors", "golden vectors"),
    ("reference", "referencefordeling til drift"),
    ("operating_point", "beslutningstærskel"),
];

/// What changed from `old` to `new`, in words.
pub fn changes(old: &Manifest, new: &Manifest) -> Vec<String> {
    let (a, b) = (serde_json::to_value(old).unwrap_or_default(), serde_json::to_value(new).unwrap_or_default());
    let mut out = Vec::new();
    for (key, name) in MANIFEST_PARTS {
        let (x, y) = (a.get(*key), b.get(*key));
        if x == y {
            continue;
        }
        match (x.and_then(Value::as_object), y.and_then(Value::as_object)) {
            (Some(x), Some(y)) if *key == "model_card" || *key == "altai" => {
                let parts: Vec<String> = y
                    .keys()
                    .chain(x.keys())
                    .filter(|k| x.get(*k) != y.get(*k))
                    .map(|k| k.replace('_', " "))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                out.push(format!("{name}: {}", parts.join(", ")));
            }
            _ => out.push(name.to_string()),
        }
    }
    if old.labels != new.labels {
        let ids = |c: &Manifest| c.labels.iter().map(|l| l.id.clone()).collect::<Vec<_>>();
        let (o, n) = (ids(old), ids(new));
        let added: Vec<&String> = n.iter().filter(|l| !o.contains(l)).collect();
        let removed: Vec<&String> = o.iter().filter(|l| !n.contains(l)).collect();
        if !added.is_empty() {
            out.push(format!("nye udfald: {}", added.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")));
        }
        if !removed.is_empty() {
            out.push(format!("fjernede udfald: {}", removed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")));
        }
    }
    if old.model_card.metrics != new.model_card.metrics {
        let acc = |c: &Manifest| c.model_card.metrics.get("accuracy").and_then(Value::as_f64);
        if let (Some(x), Some(y)) = (acc(old), acc(new)) {
            out.push(format!("nøjagtighed {} → {}", crate::render::num(x), crate::render::num(y)));
        }
    }
    out
}

/// The content of the page of one version.
pub fn content(v: &ComponentView<'_>) -> Markup {
    let m = v.manifest;
    let yank = v.revocations.yanked(&m.name, &m.version).cloned();
    let revocations = v.revocations;
    let card = &m.model_card;
    let synthetic = |t: &str| {
        let t = t.to_lowercase();
        t.contains("synthetic") || t.contains("syntetisk")
    };
    let altai = [
        ("Menneskelig handlekraft og tilsyn", &m.altai.human_agency_and_oversight),
        ("Teknisk robusthed og sikkerhed", &m.altai.technical_robustness_and_safety),
        ("Privatliv og datastyring", &m.altai.privacy_and_data_governance),
        ("Gennemsigtighed", &m.altai.transparency),
        ("Mangfoldighed, ikke-diskrimination og retfærdighed", &m.altai.diversity_non_discrimination_and_fairness),
        ("Samfundsmæssig og miljømæssig trivsel", &m.altai.societal_and_environmental_wellbeing),
        ("Ansvarlighed", &m.altai.accountability),
    ];
    html! {
        h1 { (m.name) " " (m.version.to_string()) }
        p { (m.description) }
        dl class="facts" {
            dt { "Udgiver" } dd { (m.publisher) }
            dt { "Godkendt af" } dd {
                @let a = approvers(v.signatures);
                @if a.is_empty() { "Ingen godkendelse, der verificerer her" } @else { (a.join(", ")) }
            }
            dt { "AI Act" } dd { (risk_badge(m.ai_act.risk_class)) }
            dt { "Licens" } dd { (m.licence) }
            dt { "Digest (komponentens identitet)" } dd { code class="digest" { (v.digest) } }
            dt { "Udfald" } dd { (m.labels.iter().map(|l| format!("{} ({})", l.display, l.id)).collect::<Vec<_>>().join(", ")) }
        }
        (v.actions)

        h2 id="status" { "Status: tilbagetrækning og tilbagekaldelse" }
        @match (&yank, v.withdrawn) {
            (Some(y), _) => {
                div class="notice bad" role="status" {
                    strong { "Trukket tilbage af godkenderne (yanked) " (y.yanked_at) ". " }
                    "Begrundelse: " (y.reason)
                }
            }
            (None, Some(why)) => {
                div class="notice bad" role="status" { strong { "Trukket tilbage " (v.here) ". " } "Begrundelse: " (why) }
            }
            (None, None) => {
                p class="notice ok" { "Ikke trukket tilbage. Ingen af dens nøgler er tilbagekaldt i den gældende liste (serienummer " (revocations.serial) ")." }
            }
        }

        h2 id="signaturer" { "Signaturer og godkendelser" }
        p { "Hver signatur er kontrolleret nu mod tillidspolitikken " (v.here) "; navnet er nøgleindehaverens, som politikken angiver det." }
        table {
            thead { tr {
                th scope="col" { "Nøgle-id" } th scope="col" { "Rolle" } th scope="col" { "Nøgleindehaver" } th scope="col" { "Verificerer her" }
            } }
            tbody {
                @for s in v.signatures {
                    @let (text, class) = status_text(s.status);
                    tr {
                        td { code { (s.key_id) } }
                        td { (role_text(s.role)) }
                        td { (s.owner.as_deref().unwrap_or("Ukendt (ikke i tillidspolitikken)")) }
                        td {
                            span class=(class) { (text) }
                            @if let Some(r) = revocations.revoked_key(&s.key_id) {
                                br; span class="badge bad" { "Nøglen er tilbagekaldt " (r.revoked_at) ": " (r.reason) }
                            }
                        }
                    }
                }
            }
        }
        @if v.signatures.is_empty() { p { "Komponenten har ingen signaturer, der kan læses." } }

        h2 id="modelkort" { "Modelkort" }
        h3 { "Tilsigtet brug" } p { (card.intended_use) }
        h3 { "Brug uden for formålet" } p { (card.out_of_scope_use) }
        h3 { "Data" }
        @if synthetic(&card.training_data) {
            p class="notice warn" { strong { "Modellen er trænet på syntetiske data" } " (opdigtede eksempler), ikke på rigtige sager fra en kommune." }
        } @else {
            p class="notice warn" { "Manifestet siger ikke, at træningsdata er syntetiske: læs beskrivelsen herunder." }
        }
        dl class="facts" {
            dt { "Træningsdata" } dd { (card.training_data) }
            dt { "Evalueringsdata" } dd { (card.evaluation_data) }
        }
        h3 { "Målinger (med 95 %-intervaller, hvor kortet har dem)" }
        (json(&card.metrics))
        @if !card.group_results.is_null() {
            h3 { "Resultater pr. gruppe" }
            (json(&card.group_results))
        }
        h3 { "Beslutningstærskel (operating point)" }
        (json(&card.operating_point))
        @if let Some(op) = &m.operating_point {
            p { "Den tærskel, en kommune må flytte, og inden for hvilke grænser (signeret med komponenten):" }
            (json(&serde_json::to_value(op).unwrap_or_default()))
        }
        h3 { "Begrænsninger" } p { (card.limitations) }
        h3 { "Etiske overvejelser" } p { (card.ethical_considerations) }
        h3 { "Kontakt" } p { (card.contact) }

        h2 id="altai" { "ALTAI-selvevaluering" }
        table {
            thead { tr { th scope="col" { "Krav" } th scope="col" { "Udgiverens svar" } } }
            tbody { @for (k, v) in altai { tr { th scope="row" { (k) } td { (v) } } } }
        }

        h2 id="ai-act" { "AI Act" }
        p { "Klasse: " (risk_badge(m.ai_act.risk_class)) }
        p { (m.ai_act.reasoning) }

        h2 id="input" { "Input" }
        @if let Some(t) = m.input_schema.get("title").and_then(Value::as_str) { p { (t) } }
        table {
            thead { tr {
                th scope="col" { "Felt" } th scope="col" { "Type" } th scope="col" { "Påkrævet" }
                th scope="col" { "Beskrivelse" } th scope="col" { "Tilladte værdier og grænser" }
            } }
            tbody {
                @for f in fields(&m.input_schema) {
                    tr {
                        td { code { (f.name) } }
                        td { (f.ty) }
                        td { (if f.required { "ja" } else { "nej" }) }
                        td { (f.description) }
                        td {
                            @if !f.choices.is_empty() {
                                ul { @for (v, d) in &f.choices { li { code { (v) } @if !d.is_empty() { ": " (d) } } } }
                            }
                            @if let Some(n) = f.max_length { "højst " (n) " tegn " }
                            @if let Some(n) = f.minimum { "mindst " (num(n)) " " }
                            @if let Some(n) = f.maximum { "højst " (num(n)) }
                        }
                    }
                }
            }
        }

        h2 id="golden" { "Golden vectors" }
        p { (m.golden_vectors.len()) " kendte input med forventet svar. " (v.golden_note) }
        @if !m.golden_vectors.is_empty() {
            table {
                thead { tr { th scope="col" { "Input" } th scope="col" { "Forventet udfald" } th scope="col" { "Tolerance" } } }
                tbody {
                    @for g in &m.golden_vectors {
                        tr {
                            td { pre { (serde_json::to_string_pretty(&g.input).unwrap_or_default()) } }
                            td { (g.expected.label) }
                            td { (g.tolerance) }
                        }
                    }
                }
            }
        }

        h2 id="versioner" { "Versioner" }
        table {
            thead { tr { th scope="col" { "Version" } th scope="col" { "Digest" } th scope="col" { "Status" } th scope="col" { "Ændret fra forrige version" } } }
            tbody {
                @for (i, h) in v.history.iter().enumerate() {
                    @let vm = h.manifest;
                    tr {
                        td {
                            @if h.digest == v.digest { strong { (vm.version.to_string()) " (denne)" } }
                            @else { a href=(format!("/ui/komponenter/{}/version/{}", vm.name, vm.version)) { (vm.version.to_string()) } }
                        }
                        td { code { (h.digest.get(..16).unwrap_or(h.digest)) "…" } }
                        td {
                            @if let Some(y) = revocations.yanked(&vm.name, &vm.version) { "Trukket tilbage: " (y.reason) }
                            @else if let Some(w) = &h.withdrawn { "Trukket tilbage: " (w) }
                            @else { "I brug" }
                        }
                        td {
                            @if i == 0 { "Første installerede version" }
                            @else {
                                @let ch = changes(v.history[i - 1].manifest, vm);
                                @if ch.is_empty() { "Intet i manifestet" } @else { (ch.join("; ")) }
                            }
                        }
                    }
                }
            }
        }
    }
}
