//! {{name}}: a komp component that scores a case from a few numbers.
//!
//! The shape of every tabular component: parse the input (its JSON Schema
//! names and bounds the fields), put the values in the order the model was
//! trained on, run the bundled ONNX model through `wasi:nn`, and answer with
//! calibrated scores and how much each field pushed the answer.

use komp_sdk::nn::{Input, Model};
use komp_sdk::prediction::PredictionBuilder;
use komp_sdk::{ComponentInfo, Error, Guest, Prediction};

/// The input fields, in the model's column order (FEATURES in train.py).
const FEATURES: [&str; 3] = ["areal_m2", "etager", "afstand_til_skel_m"];
/// The labels, in score order: the same ids, in the same order, as
/// `[[labels]]` in komp.toml and LABELS in train.py.
const LABELS: [&str; 2] = ["ingen-kontrol", "kontrol"];
/// The model's name in komp.toml (`[[models]] name`).
const MODEL: &str = "model";
/// Below this top probability a person should look at the case.
const REVIEW_BELOW: f32 = 0.75;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    areal_m2: f32,
    etager: f32,
    afstand_til_skel_m: f32,
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
        let case: Case = komp_sdk::parse_input(&input)?;
        let x = [case.areal_m2, case.etager, case.afstand_til_skel_m];
        if x.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidInput("every field must be a finite number".into()));
        }
        let model = Model::load(MODEL)?;
        let out = model.run(&[Input::f32("features", &[1, FEATURES.len() as u32], &x)])?;
        // A binary model gives the probability of the second label.
        let p = *out.f32("probability")?.first().ok_or_else(|| Error::Model("empty probability output".into()))?;
        let contributions = out.f32("contributions")?;
        let why = FEATURES.iter().zip(contributions).map(|(f, c)| (f.to_string(), c)).collect();
        PredictionBuilder::new(&LABELS, &[1.0 - p, p])?.review_below(REVIEW_BELOW).explanation(why, FEATURES.len()).build()
    }
}

komp_sdk::export_component!(Component with_types_in komp_sdk::bindings);
