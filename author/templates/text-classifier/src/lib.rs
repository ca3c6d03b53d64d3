//! {{name}}: a komp component that classifies a short Danish text.
//!
//! The shape of every text component: parse the input, turn the text into the
//! shared hashed features (docs/text-features.md; train.py computes the same
//! ones in Python), run the bundled ONNX model through `wasi:nn`, and answer
//! with calibrated scores and the words that drove the answer.

use komp_sdk::nn::{Input, Model};
use komp_sdk::prediction::PredictionBuilder;
use komp_sdk::text::HashedText;
use komp_sdk::{ComponentInfo, Error, Guest, Prediction};

/// Hashed feature dimension the model was trained with (train.py's DIM).
const DIM: usize = 1024;
/// The labels, in score order: the same ids, in the same order, as
/// `[[labels]]` in komp.toml and LABELS in train.py.
const LABELS: [&str; 2] = ["positiv", "negativ"];
/// The model's name in komp.toml (`[[models]] name`).
const MODEL: &str = "model";
/// Below this top probability a person should read the text.
const REVIEW_BELOW: f32 = 0.75;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TextInput {
    text: String,
}

struct Component;

impl Guest for Component {
    fn metadata() -> ComponentInfo {
        ComponentInfo {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
            labels: LABELS.iter().map(|l| l.to_string()).collect(),
        }
    }

    fn predict(input: String) -> Result<Prediction, Error> {
        let input: TextInput = komp_sdk::parse_input(&input)?;
        let text = HashedText::new(&input.text, DIM);
        let n = text.ids().len() as u32;
        let model = Model::load(MODEL)?;
        let out = model.run(&[
            Input::i64("feature_ids", &[n], text.ids()),
            Input::f32("feature_values", &[n], text.weights()),
        ])?;
        // A binary model gives the probability of the second label.
        let p = *out.f32("probability")?.first().ok_or_else(|| Error::Model("empty probability output".into()))?;
        let words = text.word_contributions(&out.f32("text_contributions")?);
        PredictionBuilder::new(&LABELS, &[1.0 - p, p])?
            .review_below(REVIEW_BELOW)
            .explanation(words, 8)
            .details(serde_json::json!({ "tokens": text.tokens().len() }))
            .build()
    }
}

komp_sdk::export_component!(Component with_types_in komp_sdk::bindings);
