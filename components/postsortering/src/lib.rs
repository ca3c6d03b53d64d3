//! Standard component **postsortering**: which standard subject does an
//! incoming mail belong to?
//!
//! The model predicts one of our own standard subjects (not KL's KLE texts);
//! each municipality maps subjects to its own units in the host. Mail whose
//! top probability is below the documented review threshold goes to manual
//! sorting (`requires-human-review`).

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
struct Mail {
    subject: String,
    body: String,
    #[serde(default)]
    sender_type: Option<String>,
}

struct Postsortering;

impl Guest for Postsortering {
    fn metadata() -> ComponentInfo {
        ComponentInfo {
            name: "postsortering".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            labels: LABELS.iter().map(|l| l.to_string()).collect(),
        }
    }

    fn predict(input: String) -> Result<Prediction, Error> {
        let mail: Mail = komp_sdk::parse_input(&input)?;
        let text_in = format!("{}\n{}", mail.subject, mail.body);
        let text =
            if REQUEST_MARKS { HashedText::with_request_marks(&text_in, DIM) } else { HashedText::new(&text_in, DIM) };
        let mut sender = [0.0f32; SENDER_TYPES.len()];
        if let Some(s) = &mail.sender_type {
            if let Some(i) = SENDER_TYPES.iter().position(|t| t == s) {
                sender[i] = 1.0;
            }
        }
        let n = text.ids().len() as u32;
        let model = Model::load("postsortering")?;
        let out = model.run(&[
            Input::i64("feature_ids", &[n], text.ids()),
            Input::f32("feature_values", &[n], text.weights()),
            Input::f32("sender", &[1, SENDER_TYPES.len() as u32], &sender),
        ])?;
        let probabilities = out.f32("probabilities")?;
        let mut explanation = text.word_contributions(&out.f32("contributions")?);
        for (i, c) in out.f32("sender_contributions")?.iter().enumerate() {
            if sender[i] != 0.0 {
                explanation.push((format!("sender_type={}", SENDER_TYPES[i]), *c));
            }
        }
        // Text the model does not know (another language, few known words, very long, nothing but stop
        // words) goes to a person whatever the score, and the answer says why.
        let limits = komp_sdk::ood::OodLimits { english_known: ENGLISH_KNOWN, ..Default::default() };
        let ood = komp_sdk::ood::check_tokens(text.all_tokens(), &KNOWN_WORDS, &limits);
        let builder = PredictionBuilder::new(&LABELS, &probabilities)?;
        let top = builder.top_score();
        let manual = top < REVIEW_BELOW || !ood.reasons.is_empty();
        let mut details = serde_json::json!({
            "route": if manual { "manual-sorting" } else { "automatic" },
            "review_threshold": REVIEW_BELOW,
            "model_version": MODEL_VERSION,
            // Counts the host's drift monitor compares with the manifest's reference (never the words).
            "coverage": { "content_tokens": ood.content_tokens, "known_tokens": ood.known_tokens },
        });
        if !ood.reasons.is_empty() {
            details["out_of_distribution"] = ood.to_json();
        }
        let builder = builder.review_below(REVIEW_BELOW).explanation(explanation, 10).details(details);
        if ood.reasons.is_empty() { builder } else { builder.always_review() }.build()
    }
}

komp_sdk::export_component!(Postsortering with_types_in komp_sdk::bindings);
