//! `training-output.json`: what a training run hands to the manifest, so the
//! model card's numbers and the golden vectors are never pasted by hand.
//!
//! Written by the Python package (`komp_train.output.write_training_output`):
//! `{"metrics": <the model card's metrics>, "golden_vectors": [<golden vector>, …]}`,
//! each golden vector exactly as in the manifest (`input`, `expected`:
//! `{label, scores}`, optional `tolerance`). `group_results` may be given too.
//! Other keys are ignored, so the training side can add information without
//! breaking older `komp` binaries.

use crate::SourceError;
use komp_artifact::manifest::GoldenVector;
use serde::Deserialize;
use std::path::Path;

/// The file name the training scripts write.
pub const TRAINING_OUTPUT_FILE: &str = "training-output.json";

#[derive(Debug, Clone, Deserialize)]
pub struct TrainingOutput {
    /// The model card's headline metrics, as computed on the held-out data.
    pub metrics: serde_json::Value,
    /// Inputs with the outputs the trained model gives them.
    pub golden_vectors: Vec<GoldenVector>,
    #[serde(default)]
    pub group_results: Option<serde_json::Value>,
    /// The model card's operating point: the threshold and the numbers behind it.
    #[serde(default)]
    pub operating_point: Option<serde_json::Value>,
}

impl TrainingOutput {
    pub fn read(path: &Path) -> Result<Self, SourceError> {
        let out: TrainingOutput = crate::source::parse_json(path)?;
        if !out.metrics.is_object() {
            return Err(SourceError::file(path, "`metrics` must be a JSON object (the model card's headline metrics)"));
        }
        Ok(out)
    }
}
