//! Standard component **underretnings-screening**: does a notification about
//! a child need action within 24 hours?
//!
//! It proposes *acute / not acute*, a risk level and a calibrated
//! probability, with the phrases and structured factors that weighed most. It
//! never decides: `requires-human-review` is always true. The operating
//! threshold favours recall on acute notifications (≥ 0.95 on held-out data):
//! a documented business and ethical decision in the model card. Names,
//! ethnicity and other protected attributes are not inputs.

use komp_sdk::nn::{Input, Model};
use komp_sdk::prediction::PredictionBuilder;
use komp_sdk::text::HashedText;
use komp_sdk::{ComponentInfo, Error, Guest, Prediction};

mod meta {
    include!(concat!(env!("OUT_DIR"), "/meta.rs"));
}
use meta::*;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Notification {
    text: String,
    reporter_type: String,
    child_age: i64,
    prior_notifications_12m: i64,
    known_to_municipality: bool,
}

/// The structured features, in the model's order (see build.rs and the meta JSON).
fn structured(n: &Notification) -> [f32; STRUCTURED.len()] {
    let age = n.child_age.clamp(0, 17);
    const REPORTERS: [&str; 11] = [
        "school",
        "daycare",
        "health_visitor",
        "police",
        "hospital",
        "gp",
        "relative",
        "anonymous",
        "social_services",
        "neighbour",
        "other",
    ];
    let reporter = if REPORTERS.contains(&n.reporter_type.as_str()) { n.reporter_type.as_str() } else { "other" };
    let mut v = [0.0f32; STRUCTURED.len()];
    for (i, name) in STRUCTURED.iter().enumerate() {
        v[i] = match *name {
            "age_0_2" => (age <= 2) as u8 as f32,
            "age_3_5" => (3..=5).contains(&age) as u8 as f32,
            "age_6_12" => (6..=12).contains(&age) as u8 as f32,
            "age_13_17" => (13..=17).contains(&age) as u8 as f32,
            "prior_notifications_capped" => n.prior_notifications_12m.clamp(0, 5) as f32 / 5.0,
            "known_to_municipality" => n.known_to_municipality as u8 as f32,
            other => match other.strip_prefix("reporter_") {
                Some(r) => (r == reporter) as u8 as f32,
                None => 0.0, // unreachable: build.rs refuses unknown names
            },
        };
    }
    v
}

fn risk_level(p: f32) -> &'static str {
    if p >= RISK_ACUTE {
        "acute"
    } else if p >= RISK_HIGH {
        "high"
    } else if p >= RISK_MEDIUM {
        "medium"
    } else {
        "low"
    }
}

struct Underretning;

impl Guest for Underretning {
    fn metadata() -> ComponentInfo {
        ComponentInfo {
            name: "underretning".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            labels: LABELS.iter().map(|l| l.to_string()).collect(),
        }
    }

    fn predict(input: String) -> Result<Prediction, Error> {
        let n: Notification = komp_sdk::parse_input(&input)?;
        let text = HashedText::new(&n.text, DIM);
        let ood = komp_sdk::ood::check_tokens(text.all_tokens(), &KNOWN_WORDS, &komp_sdk::ood::OodLimits::default());
        let s = structured(&n);
        let n = text.ids().len() as u32;
        let model = Model::load("underretning")?;
        let out = model.run(&[
            Input::i64("feature_ids", &[n], text.ids()),
            Input::f32("feature_values", &[n], text.weights()),
            Input::f32("structured", &[1, STRUCTURED.len() as u32], &s),
        ])?;
        let p = *out.f32("probability")?.first().ok_or_else(|| Error::Model("empty probability output".into()))?;
        let mut reasons = text.word_contributions(&out.f32("text_contributions")?);
        for (i, c) in out.f32("structured_contributions")?.iter().enumerate() {
            if s[i] != 0.0 {
                reasons.push((STRUCTURED[i].to_string(), *c));
            }
        }
        let acute = p >= THRESHOLD;
        // Why it is flagged, in words a caseworker can check against the text: the phrases and factors that
        // pushed towards acute, strongest first ("vold (nægtet)" and "slog (fortid)" mark negated and
        // past mentions, which push the other way).
        let mut towards: Vec<&(String, f32)> = reasons.iter().filter(|(_, w)| *w > 0.0).collect();
        towards.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let flag_reasons: Vec<serde_json::Value> =
            towards.iter().take(5).map(|(f, w)| serde_json::json!({"reason": f, "weight": w})).collect();
        let (negated, past) = text.marked_count();
        let mut details = serde_json::json!({
            "acute": acute,
            "probability_acute": p,
            "risk_level": risk_level(p),
            "operating_threshold": THRESHOLD,
            "explanation_direction": "positive weights push towards acute",
            "negated_words": negated,
            "past_words": past,
            "model_version": MODEL_VERSION,
            // Counts the host's drift monitor compares with the manifest's reference (never the words).
            "coverage": { "content_tokens": ood.content_tokens, "known_tokens": ood.known_tokens },
        });
        if acute {
            details["flag_reasons"] = serde_json::Value::Array(flag_reasons);
        }
        if !ood.reasons.is_empty() {
            details["out_of_distribution"] = ood.to_json();
        }
        // Explanation weights are contributions to the logit of "acute": positive
        // means "towards acute", whatever the proposal is.
        PredictionBuilder::new(&LABELS, &[p, 1.0 - p])?
            .choose(if acute { 0 } else { 1 })
            .always_review()
            .explanation(reasons, 12)
            .details(details)
            .build()
    }
}

komp_sdk::export_component!(Underretning with_types_in komp_sdk::bindings);
