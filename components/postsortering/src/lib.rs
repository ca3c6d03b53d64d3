//! Standard component **postsortering**: which standard subject does an
//! incoming mail belong to?
//!
//! The model predicts one of our own standard subjects (not KL's KLE texts);
//! each municipality maps subjects to its own units in the host. Mail whose
//! top probability is below the documented review threshold goes to manual
//! sorting (`requires-human-review`).
//!
//! A cascade of two bundled models (training/post_cascade.py holds the same
//! math): the linear bag-of-words model `postsortering` answers alone when its
//! top probability is at least `CASCADE_BELOW`. Below that the pretrained
//! encoder `encoder` (multilingual-e5-small, ~100 ms per sandboxed call for a short letter in a
//! release host; BENCHMARKS.md) reads the letter too, the head `encoder-head` turns its embedding and
//! the sender into probabilities, and the answer is the two models' average,
//! re-tempered. The words in the explanation are always the linear model's
//! (for its own top subject): the encoder's reasons are not a sum over words,
//! so `details.encoder` says when it ran, what the linear model alone would
//! have answered (`linear_label`) and whether the encoder changed the answer.

use komp_sdk::nn::{Input, Model};
use komp_sdk::prediction::PredictionBuilder;
use komp_sdk::text::HashedText;
use komp_sdk::{ComponentInfo, Error, Guest, Prediction};

mod meta {
    include!(concat!(env!("OUT_DIR"), "/meta.rs"));
    include!(concat!(env!("OUT_DIR"), "/vocabulary.rs"));
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
        let linear = out.f32("probabilities")?;
        let linear_top = linear.iter().copied().fold(f32::MIN, f32::max);
        let (probabilities, encoder) = if linear_top < CASCADE_BELOW {
            let head = encoder_probabilities(&text_in, &sender)?;
            let ensemble = ensemble(&linear, &head);
            let linear_label = argmax(&linear);
            // The explanation's words are the linear model's, for `linear_label`.
            let detail = serde_json::json!({
                "ran": true,
                "linear_top_score": linear_top,
                "linear_label": LABELS[linear_label],
                "changed_answer": argmax(&ensemble) != linear_label,
            });
            (ensemble, detail)
        } else {
            (linear, serde_json::json!({ "ran": false, "linear_top_score": linear_top }))
        };
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
            // Whether the encoder ran (the linear model was unsure) and whether it changed the answer.
            "encoder": encoder,
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

/// The encoder's head: probabilities from multilingual-e5-small's embedding of
/// the letter and the sender one-hot.
fn encoder_probabilities(text: &str, sender: &[f32]) -> Result<Vec<f32>, Error> {
    let tokenizer = komp_sdk::sentencepiece::EncoderTokenizer::from_static(&ENCODER_VOCABULARY)
        .map_err(|e| Error::Internal(format!("the bundled encoder vocabulary: {e}")))?;
    let ids = tokenizer.token_ids(text);
    let encoder = Model::load("encoder")?;
    let mut features = encoder.run(&[Input::i64("token_ids", &[ids.len() as u32], &ids)])?.f32("embedding")?;
    features.extend_from_slice(sender);
    let head = Model::load("encoder-head")?;
    head.run(&[Input::f32("features", &[1, features.len() as u32], &features)])?.f32("probabilities")
}

/// softmax(ln((linear + head) / 2) / T), in f64 as training/post_cascade.py computes it.
fn ensemble(linear: &[f32], head: &[f32]) -> Vec<f32> {
    let a: Vec<f64> = linear
        .iter()
        .zip(head)
        .map(|(l, h)| ((f64::from(*l) + f64::from(*h)) / 2.0).ln() / ENSEMBLE_TEMPERATURE)
        .collect();
    let max = a.iter().copied().fold(f64::MIN, f64::max);
    let e: Vec<f64> = a.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| (v / sum) as f32).collect()
}

fn argmax(p: &[f32]) -> usize {
    p.iter().enumerate().fold(0, |best, (i, v)| if *v > p[best] { i } else { best })
}

komp_sdk::export_component!(Postsortering with_types_in komp_sdk::bindings);
