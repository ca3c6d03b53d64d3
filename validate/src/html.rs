//! `report.html`: one self-contained file (inline CSS and SVG, no scripts,
//! no external resources) that reads the same offline, in a browser or
//! printed. Headings are Danish with the English term where it helps.

use crate::card::{Kind, Verdict};
use crate::groups::GroupResult;
use crate::plots;
use crate::report::{OperatingPoint, Report};
use crate::stats::Estimate;
use crate::threshold::Curve;
use std::fmt::Write;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}\
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;font-size:.92em}th{background:#f4f4f4}\
td.num{text-align:right;font-variant-numeric:tabular-nums}.as_card{color:#17703f}.significantly_worse{color:#c22;font-weight:bold}\
.significantly_better{color:#26a;font-weight:bold}.significantly_higher,.significantly_lower{color:#8a4f00;font-weight:bold}\
.not_on_card,.no_data{color:#666}.small{color:#8a4f00}.note{color:#555;font-size:.9em}figure{margin:1em 0}\
.binding td:first-child{font-weight:bold;white-space:nowrap}code{font-size:.9em;word-break:break-all}";

fn pct(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{:.1}%", v * 100.0))
}

fn num(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.3}"))
}

fn interval(e: &Estimate, as_pct: bool) -> String {
    let f = |v: f64| if as_pct { format!("{:.1}", v * 100.0) } else { format!("{v:.3}") };
    e.ci95.map_or("–".into(), |[lo, hi]| format!("{}–{}", f(lo), f(hi)))
}

fn verdict_cell(v: Verdict) -> String {
    let (da, en) = v.words();
    let class = serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    format!("<td class=\"{class}\" title=\"{en}\">{da}</td>")
}

/// One estimate as table cells: value, 95% interval, n, card, verdict.
fn cells(e: &Estimate, as_pct: bool) -> String {
    let v = if as_pct { pct(e.value) } else { num(e.value) };
    let card = match e.card {
        Some(c) if as_pct => pct(Some(c)),
        Some(c) => num(Some(c)),
        None => "–".into(),
    };
    let n = match e.successes {
        Some(s) => format!("{s}/{}", e.n),
        None => e.n.to_string(),
    };
    format!(
        "<td class=\"num\">{v}</td><td class=\"num\">{}</td><td class=\"num\">{n}</td><td class=\"num\">{card}</td>{}",
        interval(e, as_pct),
        verdict_cell(e.verdict)
    )
}

const HEAD: &str = "<th>lokalt</th><th>95% interval</th><th>n</th><th>modelkort</th><th>vurdering</th>";

fn metric_name(id: &str) -> String {
    let words = [
        ("accuracy", "nøjagtighed (accuracy)"),
        ("macro_f1", "makro-F1"),
        ("operating_point.routed", "andel uden manuel visitering ved tærsklen"),
        ("operating_point.accuracy_routed", "nøjagtighed af de automatisk visiterede"),
        ("operating_point.recall", "recall ved tærsklen"),
        ("operating_point.precision", "præcision ved tærsklen"),
        ("operating_point.flagged", "andel markeret ved tærsklen"),
        ("calibration.ece", "ECE (kalibreringsfejl)"),
        ("calibration.brier", "Brier"),
        ("calibration.roc_auc", "ROC AUC"),
    ];
    words.iter().find(|(k, _)| *k == id).map_or_else(|| id.to_string(), |(_, v)| v.to_string())
}

fn is_pct(id: &str) -> bool {
    !(id.contains("ece") || id.contains("brier") || id.contains("auc") || id.ends_with("f1"))
}

fn signatures(p: &serde_json::Value) -> String {
    let Some(list) = p.get("signatures").and_then(|s| s.as_array()).filter(|l| !l.is_empty()) else {
        return "ingen verificerede signaturer oplyst".into();
    };
    list.iter()
        .map(|s| {
            let get = |k: &str| {
                s.get(k).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).unwrap_or_default()
            };
            let mut parts = Vec::new();
            for k in ["role", "owner", "key_id", "status"] {
                let v = get(k);
                if !v.is_empty() {
                    parts.push(format!("{k}: {v}"));
                }
            }
            if parts.is_empty() {
                parts.push(s.to_string());
            }
            escape(&parts.join(", "))
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

/// The whole report as one HTML page.
pub fn render(r: &Report) -> String {
    let mut h = String::new();
    let c = &r.component;
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"da\"><head><meta charset=\"utf-8\"><title>Validering af {name} {version}</title>\
         <style>{STYLE}</style></head><body>\
         <h1>Lokal validering af <code>{name}</code> {version}</h1>\
         <p class=\"note\">Komponenten er kørt i komp's sandkasse på kommunens egen mærkede stikprøve; stikprøvens tekster \
         forlod ikke maskinen og står ikke i rapporten. Hvert tal har et 95%-interval og sammenlignes med komponentens \
         eget modelkort: \"signifikant\" betyder at kortets værdi ligger uden for intervallet.</p>",
        name = escape(&c.name),
        version = escape(&c.version)
    );

    // Binding
    let _ = write!(
        h,
        "<h2>Hvad der er testet (binding)</h2><table class=\"binding\">\
         <tr><td>komponent</td><td><code>{name}@{version}</code></td></tr>\
         <tr><td>digest (sha256 af signeret indhold)</td><td><code>{digest}</code></td></tr>\
         <tr><td>signaturer</td><td>{sigs}</td></tr>\
         <tr><td>stikprøve</td><td><code>{file}</code> ({format}, {bytes} bytes, {rows} rækker)</td></tr>\
         <tr><td>stikprøvens sha256</td><td><code>{sha}</code></td></tr>\
         <tr><td>evalueret</td><td>{evaluated} rækker; {errors} kunne ikke forudsiges{lines}</td></tr>\
         <tr><td>komp</td><td>{komp}, {created}</td></tr>\
         <tr><td>metode</td><td>Wilson-intervaller for andele; percentil-bootstrap ({resamples} gentagelser, seed {seed}) for F1, ECE, Brier, AUC</td></tr>\
         </table>",
        name = escape(&c.name),
        version = escape(&c.version),
        digest = escape(&c.digest),
        sigs = signatures(&r.provenance),
        file = escape(&r.sample.file),
        format = escape(&r.sample.format),
        bytes = r.sample.bytes,
        rows = r.sample.rows,
        sha = escape(&r.sample.sha256),
        evaluated = r.evaluated,
        errors = r.prediction_errors.count,
        lines = if r.prediction_errors.lines.is_empty() {
            String::new()
        } else {
            format!(
                " (linje {})",
                r.prediction_errors.lines.iter().take(20).map(|l| l.to_string()).collect::<Vec<_>>().join(", ")
            )
        },
        komp = escape(&r.komp_version),
        created = escape(&r.created),
        resamples = r.settings.bootstrap_resamples,
        seed = r.settings.bootstrap_seed,
    );

    // Summary against the card
    let counts = crate::report::verdict_counts(r);
    let _ = write!(h, "<h2>Sammenligning med modelkortet</h2><p>");
    let words: Vec<String> = counts.iter().map(|(k, v)| format!("{v} × {}", escape(k))).collect();
    let _ = write!(
        h,
        "Alle tal med en værdi på kortet (også pr. etiket, tærskel og gruppe, nedenfor): {}.",
        if words.is_empty() { "ingen".to_string() } else { words.join(", ") }
    );
    let _ = write!(h, "</p>");
    let headline: Vec<_> = r
        .card_comparison
        .iter()
        .filter(|row| !["threshold.", "group.", "per_label."].iter().any(|p| row.metric.starts_with(p)))
        .collect();
    if headline.is_empty() {
        let _ = write!(h, "<p>Modelkortet har ingen tal at sammenligne med.</p>");
    } else {
        let _ = write!(h, "<table><tr><th>mål</th>{HEAD}</tr>");
        for row in headline {
            let _ = write!(
                h,
                "<tr><td>{}</td>{}</tr>",
                escape(&metric_name(&row.metric)),
                cells(&row.estimate, is_pct(&row.metric))
            );
        }
        let _ = write!(h, "</table>");
    }
    let worse: Vec<_> =
        r.card_comparison.iter().filter(|row| row.estimate.verdict == Verdict::SignificantlyWorse).collect();
    if !worse.is_empty() {
        let _ = write!(h, "<p><b>Signifikant dårligere end kortet:</b> ");
        let names: Vec<String> = worse.iter().map(|w| format!("<code>{}</code>", escape(&w.metric))).collect();
        let _ = write!(h, "{}</p>", names.join(", "));
    }

    // Operating point
    let _ = write!(h, "<h2>Beslutningen ved komponentens tærskel</h2>");
    match &r.operating_point {
        OperatingPoint::Review { threshold, routed, accuracy_routed } => {
            let _ = write!(
                h,
                "<p>Breve med top-score under {threshold} går til manuel visitering.</p><table><tr><th>mål</th>{HEAD}</tr>\
                 <tr><td>andel uden manuel visitering</td>{}</tr><tr><td>nøjagtighed af de automatisk visiterede</td>{}</tr></table>",
                cells(routed, true),
                cells(accuracy_routed, true)
            );
        }
        OperatingPoint::Flag { positive, threshold, flagged, recall, precision } => {
            let _ = write!(
                h,
                "<p>Sandsynlighed for <code>{p}</code> ≥ {threshold} giver forslaget <code>{p}</code>.</p>\
                 <table><tr><th>mål</th>{HEAD}</tr><tr><td>recall (andel af de sande <code>{p}</code> der fanges)</td>{}</tr>\
                 <tr><td>præcision</td>{}</tr><tr><td>andel markeret</td>{}</tr></table>",
                cells(recall, true),
                cells(precision, true),
                cells(flagged, true),
                p = escape(positive)
            );
        }
        OperatingPoint::Plain => {
            let _ = write!(h, "<p>Komponenten har ingen tærskel; den foreslår etiketten med højest score.</p>");
        }
    }

    // Per label
    let cl = &r.classification;
    let _ = write!(
        h,
        "<h2>Pr. etiket</h2><p>Nøjagtighed {} (95%: {}), n = {}. Makro-F1 {} (95%: {}).</p>\
         <table><tr><th>nr.</th><th>etiket</th><th>forekomster</th><th>foreslået</th><th>præcision</th><th>95%</th><th>kort</th><th>vurdering</th>\
         <th>recall</th><th>95%</th><th>kort</th><th>vurdering</th><th>F1</th><th>95%</th><th>kort</th><th>vurdering</th></tr>",
        pct(cl.accuracy.value),
        interval(&cl.accuracy, true),
        cl.accuracy.n,
        num(cl.macro_f1.value),
        interval(&cl.macro_f1, false)
    );
    for (i, l) in cl.per_label.iter().enumerate() {
        let three = |e: &Estimate, p: bool| {
            format!(
                "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}",
                if p { pct(e.value) } else { num(e.value) },
                interval(e, p),
                if p { pct(e.card) } else { num(e.card) },
                verdict_cell(e.verdict)
            )
        };
        let _ = write!(
            h,
            "<tr><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}{}{}</tr>",
            i + 1,
            escape(&l.label),
            l.support,
            l.predicted,
            three(&l.precision, true),
            three(&l.recall, true),
            three(&l.f1, false)
        );
    }
    let _ = write!(h, "</table><figure id=\"confusion\">{}</figure>", plots::confusion(&cl.confusion));

    // Calibration
    let cal = &r.calibration;
    let target = match &cal.positive_label {
        Some(p) => format!("sandsynligheden for {p}"),
        None => "top-scoren".into(),
    };
    let _ = write!(
        h,
        "<h2>Kalibrering</h2><p>Passer scorerne med virkeligheden? Her {}: i hver af 10 lige brede intervaller sammenlignes \
         middel-scoren med den observerede andel.</p><table><tr><th>mål</th>{HEAD}</tr>\
         <tr><td>ECE</td>{}</tr><tr><td>Brier (multi-klasse)</td>{}</tr>",
        escape(&target),
        cells(&cal.ece, false),
        cells(&cal.brier, false)
    );
    if let Some(b) = &cal.brier_positive {
        let _ = write!(
            h,
            "<tr><td>Brier ({})</td>{}</tr>",
            escape(cal.positive_label.as_deref().unwrap_or("")),
            cells(b, false)
        );
    }
    if let Some(a) = &cal.roc_auc {
        let _ = write!(h, "<tr><td>ROC AUC</td>{}</tr>", cells(a, false));
    }
    let _ = write!(h, "</table><figure id=\"reliability\">{}</figure>", plots::reliability(&cal.bins, &target));
    let _ = write!(
        h,
        "<table><tr><th>score-interval</th><th>n</th><th>middel-score</th><th>observeret</th><th>95%</th></tr>"
    );
    for b in cal.bins.iter().filter(|b| b.n > 0) {
        let _ = write!(
            h,
            "<tr><td>{:.1}–{:.1}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            b.lower,
            b.upper,
            b.n,
            num(b.mean_score),
            pct(b.observed.value),
            interval(&b.observed, true)
        );
    }
    let _ = write!(h, "</table>");

    // Threshold curve
    let operating = match &c.kind {
        Kind::Review { threshold } | Kind::Flag { threshold, .. } => Some(*threshold),
        Kind::Plain => None,
    };
    let _ = write!(
        h,
        "<h2>Tærskelkurve</h2><figure id=\"threshold\">{}</figure>",
        plots::threshold(&r.threshold_curve, operating)
    );
    let shown = |t: f64, carded: bool| carded || (t * 10.0 - (t * 10.0).round()).abs() < 1e-9 || Some(t) == operating;
    match &r.threshold_curve {
        Curve::Review(points) => {
            let _ = write!(h, "<table><tr><th>tærskel</th><th>uden manuel visitering</th><th>95%</th><th>kort</th><th>vurdering</th><th>nøjagtighed af dem</th><th>95%</th><th>kort</th><th>vurdering</th></tr>");
            for p in points.iter().filter(|p| shown(p.threshold, p.routed.card.is_some())) {
                let _ = write!(
                    h,
                    "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}</tr>",
                    p.threshold,
                    pct(p.routed.value),
                    interval(&p.routed, true),
                    pct(p.routed.card),
                    verdict_cell(p.routed.verdict),
                    pct(p.accuracy_routed.value),
                    interval(&p.accuracy_routed, true),
                    pct(p.accuracy_routed.card),
                    verdict_cell(p.accuracy_routed.verdict)
                );
            }
            let _ = write!(h, "</table>");
        }
        Curve::Flag(points) => {
            let _ = write!(h, "<table><tr><th>tærskel</th><th>recall</th><th>95%</th><th>kort</th><th>vurdering</th><th>præcision</th><th>95%</th><th>kort</th><th>vurdering</th><th>markeret</th><th>95%</th><th>kort</th></tr>");
            for p in points.iter().filter(|p| shown(p.threshold, p.recall.card.is_some())) {
                let _ = write!(
                    h,
                    "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                    p.threshold,
                    pct(p.recall.value),
                    interval(&p.recall, true),
                    pct(p.recall.card),
                    verdict_cell(p.recall.verdict),
                    pct(p.precision.value),
                    interval(&p.precision, true),
                    pct(p.precision.card),
                    verdict_cell(p.precision.verdict),
                    pct(p.flagged.value),
                    interval(&p.flagged, true),
                    pct(p.flagged.card)
                );
            }
            let _ = write!(h, "</table>");
        }
    }

    // Groups
    let _ = write!(
        h,
        "<h2>Pr. gruppe</h2><p class=\"note\">Grupper med færre end {} sager er markeret: deres intervaller er brede. \
         \"forhold\" er gruppens værdi delt med hele stikprøvens; \"min/max\" er laveste gruppe delt med højeste.</p>",
        crate::groups::SMALL_GROUP
    );
    if r.groups.is_empty() {
        let _ = write!(h, "<p>Ingen grupper valgt.</p>");
    }
    let main_metric = match &c.kind {
        Kind::Flag { .. } => "recall",
        _ => "accuracy",
    };
    for (gi, g) in r.groups.iter().enumerate() {
        group_section(&mut h, gi, g, main_metric, r);
    }
    let _ = write!(
        h,
        "<h2>Om tallene</h2><p class=\"note\">Andele har Wilson-intervaller; F1, ECE, Brier og AUC har percentil-bootstrap-intervaller. \
         Kortets værdi inden for intervallet: \"som kortet\". Uden for: signifikant bedre/dårligere (for andele uden en bedre retning, \
         fx andel markeret: højere/lavere). Modelkortets tal er målt på syntetiske data; kommunens egne data er det der tæller. \
         Rækker der ikke kunne forudsiges indgår ikke i tallene. Maskinlæsbar version: report.json (samme tal).</p></body></html>"
    );
    h
}

fn group_section(h: &mut String, gi: usize, g: &GroupResult, main_metric: &str, r: &Report) {
    let metrics: Vec<String> = g.values.first().map(|v| v.metrics.keys().cloned().collect()).unwrap_or_default();
    let _ = write!(h, "<h3>{}</h3><table><tr><th>gruppe</th><th>n</th>", escape(&g.field));
    for m in &metrics {
        let _ = write!(h, "<th>{m}</th><th>95%</th><th>kort</th><th>vurdering</th><th>forhold</th>", m = escape(m));
    }
    let _ = write!(h, "</tr>");
    for v in &g.values {
        let class = if v.small { " class=\"small\"" } else { "" };
        let _ = write!(h, "<tr><td{class}>{}</td><td class=\"num\">{}</td>", escape(&v.value), v.n);
        for m in &metrics {
            match v.metrics.get(m) {
                Some(e) => {
                    let _ = write!(
                        h,
                        "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}<td class=\"num\">{}</td>",
                        pct(e.value),
                        interval(e, true),
                        pct(e.card),
                        verdict_cell(e.verdict),
                        v.ratio_to_overall.get(m).copied().flatten().map_or("–".into(), |x| format!("{x:.2}"))
                    );
                }
                None => {
                    let _ = write!(h, "<td></td><td></td><td></td><td></td><td></td>");
                }
            }
        }
        let _ = write!(h, "</tr>");
    }
    let _ = write!(h, "<tr><td>min/max</td><td></td>");
    for m in &metrics {
        let d = g.disparity.get(m);
        let text = d.and_then(|d| d.min_over_max).map_or("–".into(), |x| format!("{x:.2}"));
        let sep = if d.is_some_and(|d| d.intervals_separate) { " (intervallerne er adskilte)" } else { "" };
        let _ = write!(h, "<td colspan=\"5\">{text}{sep}</td>");
    }
    let _ = write!(h, "</tr></table>");
    let bars: Vec<plots::Bar> = g
        .values
        .iter()
        .map(|v| {
            let e = v.metrics.get(main_metric);
            plots::Bar {
                name: format!("{} (n={})", v.value, v.n),
                value: e.and_then(|e| e.value),
                ci95: e.and_then(|e| e.ci95),
            }
        })
        .collect();
    let overall = match (&r.operating_point, main_metric) {
        (OperatingPoint::Flag { recall, .. }, "recall") => recall.value,
        _ => r.classification.accuracy.value,
    };
    let _ = write!(
        h,
        "<figure id=\"group-{gi}\">{}</figure>",
        plots::group_bars(&format!("{main_metric} pr. {} (orange: hele stikprøven)", g.field), &bars, overall)
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes() {
        assert_eq!(super::escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
