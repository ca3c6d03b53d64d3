//! Shared pieces: JSON shown as tables, numbers in Danish, inline SVG charts.
//! Everything goes through maud, which escapes every string it is given.

use maud::{html, Markup};
use serde_json::Value;

/// A number as Danish text (decimal comma), at most 3 decimals.
pub fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.replace('.', ",")
}

/// A share as a percentage with one decimal.
pub fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0).replace('.', ",")
}

/// The 95 % interval of an object like `{"value", "wilson_95": [lo, hi], "k", "n"}`.
fn interval(o: &serde_json::Map<String, Value>) -> Option<Markup> {
    let (key, iv) = o.iter().find(|(k, v)| k.ends_with("_95") && v.as_array().is_some_and(|a| a.len() == 2))?;
    let iv = iv.as_array()?;
    let (lo, hi) = (iv[0].as_f64()?, iv[1].as_f64()?);
    let value = o.get("value").and_then(Value::as_f64);
    let kind = key.trim_end_matches("_95").replace('_', " ");
    Some(html! {
        @if let Some(v) = value { strong { (num(v)) } " " }
        "(95 %-interval " (num(lo)) "–" (num(hi)) ", " (kind)
        @if let (Some(k), Some(n)) = (o.get("k").and_then(Value::as_u64), o.get("n").and_then(Value::as_u64)) {
            "; " (k) " af " (n)
        }
        ")"
    })
}

/// Any JSON value as readable HTML: objects as tables, arrays of objects as
/// tables with a column per key, a value with an interval as "v (95 % lo–hi)".
pub fn json(v: &Value) -> Markup {
    json_depth(v, 0)
}

fn json_depth(v: &Value, depth: usize) -> Markup {
    if depth > 6 {
        return html! { code { (v.to_string()) } };
    }
    match v {
        Value::Null => html! { "–" },
        Value::Bool(b) => html! { (if *b { "ja" } else { "nej" }) },
        Value::Number(n) => html! { (n.as_f64().map(num).unwrap_or_else(|| n.to_string())) },
        Value::String(s) => html! { (s) },
        Value::Object(o) => {
            if let Some(m) = interval(o) {
                return m;
            }
            html! {
                table {
                    @for (k, v) in o {
                        tr { th scope="row" { (k.replace('_', " ")) } td { (json_depth(v, depth + 1)) } }
                    }
                }
            }
        }
        Value::Array(a) if a.is_empty() => html! { "–" },
        Value::Array(a) if a.iter().all(Value::is_object) => {
            let mut cols: Vec<&String> = Vec::new();
            for o in a.iter().filter_map(Value::as_object) {
                for k in o.keys() {
                    if !cols.contains(&k) {
                        cols.push(k);
                    }
                }
            }
            html! {
                table {
                    thead { tr { @for c in &cols { th scope="col" { (c.replace('_', " ")) } } } }
                    tbody {
                        @for o in a.iter().filter_map(Value::as_object) {
                            tr { @for c in &cols { td { @if let Some(v) = o.get(*c) { (json_depth(v, depth + 1)) } } } }
                        }
                    }
                }
            }
        }
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            let parts: Vec<String> = a
                .iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.as_f64().map(num).unwrap_or_else(|| n.to_string()),
                    other => other.to_string(),
                })
                .collect();
            html! { (parts.join(", ")) }
        }
        Value::Array(a) => html! { ol { @for x in a { li { (json_depth(x, depth + 1)) } } } },
    }
}

/// Horizontal bars, one per (label, value in 0..=1), as an inline SVG with a
/// text equivalent (each bar's value is written next to it).
pub fn hbars(title: &str, rows: &[(String, f64)]) -> Markup {
    let row_h = 24.0;
    let label_w = 260.0;
    let bar_w = 360.0;
    let h = row_h * rows.len() as f64 + 8.0;
    html! {
        figure {
            figcaption { (title) }
            svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(title) width=(label_w + bar_w + 80.0) height=(h)
                viewBox=(format!("0 0 {} {h}", label_w + bar_w + 80.0)) {
                @for (i, (label, v)) in rows.iter().enumerate() {
                    @let y = 4.0 + i as f64 * row_h;
                    @let w = (v.clamp(0.0, 1.0) * bar_w).max(1.0);
                    text x="0" y=(y + 16.0) { (label) }
                    rect x=(label_w) y=(y + 3.0) width=(bar_w) height="16" fill="#eef1f4" {}
                    rect x=(label_w) y=(y + 3.0) width=(w) height="16" fill="#0b4f8a" {}
                    text x=(label_w + bar_w + 6.0) y=(y + 16.0) { (pct(*v)) }
                }
            }
        }
    }
}

/// One series of a column chart.
pub struct Series<'a> {
    pub name: &'a str,
    pub colour: &'a str,
    pub values: Vec<f64>,
}

/// Columns per x label; several series are stacked. With `rate`, the y axis
/// runs 0..1 (shares) and series are drawn as points joined by lines.
pub fn columns(title: &str, xs: &[String], series: &[Series<'_>], rate: bool) -> Markup {
    let (left, top, plot_h, col_w) = (48.0, 10.0, 180.0, 28.0_f64.min(640.0 / xs.len().max(1) as f64).max(8.0));
    let plot_w = col_w * xs.len().max(1) as f64;
    let w = left + plot_w + 20.0;
    let h = top + plot_h + 70.0;
    let max = if rate {
        1.0
    } else {
        (0..xs.len())
            .map(|i| series.iter().map(|s| s.values.get(i).copied().unwrap_or(0.0)).sum::<f64>())
            .fold(1.0, f64::max)
    };
    let y = |v: f64| top + plot_h - v / max * plot_h;
    // Stacked columns: (x, top, height, colour, tooltip).
    let mut rects: Vec<(f64, f64, f64, &str, String)> = Vec::new();
    if !rate {
        for (i, x) in xs.iter().enumerate() {
            let mut base = 0.0;
            for s in series {
                let v = s.values.get(i).copied().unwrap_or(0.0);
                if v > 0.0 {
                    rects.push((
                        left + i as f64 * col_w,
                        y(base + v),
                        y(base) - y(base + v),
                        s.colour,
                        format!("{x}: {} {}", s.name, num(v)),
                    ));
                }
                base += v;
            }
        }
    }
    html! {
        figure {
            figcaption { (title) }
            svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(title) width=(w) height=(h) viewBox=(format!("0 0 {w} {h}")) {
                line x1=(left) y1=(top) x2=(left) y2=(top + plot_h) stroke="#4a4a4a" {}
                line x1=(left) y1=(top + plot_h) x2=(left + plot_w) y2=(top + plot_h) stroke="#4a4a4a" {}
                text x="0" y=(top + 10.0) { (if rate { pct(max) } else { num(max) }) }
                text x="0" y=(top + plot_h) { "0" }
                @for (rx, ry, rh, colour, tip) in &rects {
                    rect x=(rx + 2.0) y=(ry) width=(col_w - 4.0) height=(rh) fill=(colour) { title { (tip) } }
                }
                @for (i, x) in xs.iter().enumerate() {
                    @let cx = left + i as f64 * col_w;
                    @if xs.len() <= 31 {
                        text x=(cx + col_w / 2.0) y=(top + plot_h + 14.0) transform=(format!("rotate(60 {} {})", cx + col_w / 2.0, top + plot_h + 14.0)) { (x.get(5..).unwrap_or(x)) }
                    }
                }
                @if rate {
                    @for s in series {
                        @let pts: Vec<String> = s.values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, v)| format!("{},{}", left + i as f64 * col_w + col_w / 2.0, y(*v))).collect();
                        polyline points=(pts.join(" ")) fill="none" stroke=(s.colour) stroke-width="2" {}
                        @for (i, v) in s.values.iter().enumerate().filter(|(_, v)| v.is_finite()) {
                            circle cx=(left + i as f64 * col_w + col_w / 2.0) cy=(y(*v)) r="3" fill=(s.colour) {
                                title { (xs[i]) ": " (s.name) " " (pct(*v)) }
                            }
                        }
                    }
                }
            }
            p class="hint" {
                @for s in series {
                    svg width="12" height="12" aria-hidden="true" { rect width="12" height="12" fill=(s.colour) {} }
                    " " (s.name) " "
                }
            }
        }
    }
}
