//! # komp-sdk: write a komp standard AI component
//!
//! A component is a small Rust crate built with `cargo build --target
//! wasm32-wasip2`. It parses its JSON input, turns it into tensors, runs its
//! bundled ONNX model through the host (`wasi:nn`), and answers with a
//! [`Prediction`]: label, calibrated scores, an explanation and whether a
//! person must review it.
//!
//! ```ignore
//! use komp_sdk::{nn, prediction::PredictionBuilder, Error, Guest, Prediction, ComponentInfo};
//!
//! struct Sorter;
//! impl Guest for Sorter {
//!     fn metadata() -> ComponentInfo { /* name, version, labels */ todo!() }
//!     fn predict(input: String) -> Result<Prediction, Error> {
//!         let input: MyInput = komp_sdk::parse_input(&input)?;
//!         let model = nn::Model::load("classifier")?;
//!         let out = model.run(&[nn::Input::f32("features", &[1, 4], &[0.0; 4])])?;
//!         let probs = out.f32("probabilities")?;
//!         PredictionBuilder::new(&LABELS, &probs)?.build()
//!     }
//! }
//! komp_sdk::export_component!(Sorter with_types_in komp_sdk::bindings);
//! ```
//!
//! Everything here is generated from, or wraps, the WIT in `wit/`: the single
//! contract between host and components.

pub mod nn;
pub mod ood;
pub mod prediction;
pub mod sentencepiece;
pub mod text;

/// Guest bindings generated from `wit/world.wit` and the vendored `wasi:nn`.
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "standard-component",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "export_component",
        default_bindings_module: "komp_sdk::bindings",
        generate_all,
    });
}

pub use bindings::export_component;
pub use bindings::komp::component::types::{ComponentInfo, Error, FeatureWeight, LabelScore, Prediction};
pub use bindings::Guest;

/// Parses the JSON input the host passes to `predict`.
///
/// The host has already validated it against the manifest's JSON Schema; this
/// still maps any mismatch to [`Error::InvalidInput`] with the JSON path, so a
/// component never panics on input.
///
/// ```
/// #[derive(Debug, serde::Deserialize)]
/// struct In { text: String }
/// let ok: In = komp_sdk::parse_input(r#"{"text":"hej"}"#).unwrap();
/// assert_eq!(ok.text, "hej");
/// let err = komp_sdk::parse_input::<In>(r#"{"text":1}"#).unwrap_err();
/// assert!(matches!(err, komp_sdk::Error::InvalidInput(m) if m.contains("text")));
/// ```
pub fn parse_input<T: serde::de::DeserializeOwned>(input: &str) -> Result<T, Error> {
    let mut de = serde_json::Deserializer::from_str(input);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        Error::InvalidInput(format!("at `{path}`: {}", e.into_inner()))
    })?;
    de.end().map_err(|e| Error::InvalidInput(format!("trailing characters after the JSON input: {e}")))?;
    Ok(value)
}
