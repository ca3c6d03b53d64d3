//! Example komp component: is a citizen's feedback positive or negative?
//!
//! It shows the whole shape of a text component in a few lines: parse the
//! input, hash the text into features (the SDK's shared definition), run the
//! bundled ONNX model through `wasi:nn`, and answer with calibrated scores and
//! the words that drove the answer.

use komp_sdk::nn::{Input, Model};
use komp_sdk::prediction::PredictionBuilder;
use komp_sdk::text::HashedText;
use komp_sdk::{ComponentInfo, Error, Guest, Prediction};

/// Hashed feature dimension the model was built for.
const DIM: usize = 1024;
/// Labels in the model's output order.
const LABELS: [&str; 2] = ["positiv", "negativ"];
/// Below this top probability a person should read the feedback.
const REVIEW_BELOW: f32 = 0.75;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackInput {
    text: String,
}

struct Feedback;

impl Guest for Feedback {
    fn metadata() -> ComponentInfo {
        ComponentInfo {
            name: "example-feedback".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            labels: LABELS.iter().map(|l| l.to_string()).collect(),
        }
    }

    fn predict(input: String) -> Result<Prediction, Error> {
        let input: FeedbackInput = komp_sdk::parse_input(&input)?;
        let text = HashedText::new(&input.text, DIM);
        let model = Model::load("feedback")?;
        let out = model.run(&[Input::f32("features", &[1, DIM as u32], &text.dense())])?;
        let probabilities = out.f32("probabilities")?;
        let contributions = out.f32("contributions")?;
        PredictionBuilder::new(&LABELS, &probabilities)?
            .review_below(REVIEW_BELOW)
            .explanation(text.word_contributions_dense(&contributions), 8)
            .details(serde_json::json!({ "tokens": text.tokens().len() }))
            .build()
    }
}

komp_sdk::export_component!(Feedback with_types_in komp_sdk::bindings);
