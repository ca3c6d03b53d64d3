//! The prediction as the host hands it on (serde), converted from the WIT type.

use serde::{Deserialize, Serialize};

/// One label's calibrated probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelScore {
    pub label: String,
    pub score: f32,
}

/// One feature's signed contribution to the decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureWeight {
    pub feature: String,
    pub weight: f32,
}

/// A standard component's answer: a recommendation to a caseworker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub label: String,
    pub scores: Vec<LabelScore>,
    pub explanation: Vec<FeatureWeight>,
    pub requires_human_review: bool,
    pub details: serde_json::Value,
}

impl Prediction {
    /// The score of `label`, if the component gave one.
    pub fn score(&self, label: &str) -> Option<f32> {
        self.scores.iter().find(|s| s.label == label).map(|s| s.score)
    }
}
