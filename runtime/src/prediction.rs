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

impl Prediction {
    /// The decision of `op` at threshold `t` for this prediction's scores.
    pub fn decide(&self, op: &komp_artifact::OperatingPoint, t: f64) -> komp_artifact::Decision {
        let scores: Vec<(&str, f32)> = self.scores.iter().map(|s| (s.label.as_str(), s.score)).collect();
        op.decide(t, &scores, &self.label, self.requires_human_review, &self.details)
    }

    /// Moves the decision to threshold `t` (a municipality's own operating
    /// point): label, `requires_human_review` and the `details` keys that
    /// repeat them. The scores are not touched.
    pub fn apply_operating_point(&mut self, op: &komp_artifact::OperatingPoint, t: f64) {
        let d = self.decide(op, t);
        op.mirror_into_details(t, &d, &mut self.details);
        self.label = d.label;
        self.requires_human_review = d.requires_human_review;
    }
}

/// Which decision threshold a prediction's decision was taken at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatingPointUsed {
    /// The threshold used.
    pub threshold: f64,
    /// `default` (the component's own, signed) or `tenant` (the municipality's setting).
    pub source: OperatingPointSource,
    /// The component's own default.
    pub default: f64,
    /// What the threshold means (the declared rule, e.g. `review_below_top_score`).
    pub rule: String,
    /// The validation report the tenant's setting cites, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_report: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatingPointSource {
    Default,
    Tenant,
}

/// The name of a declared rule, as responses and records show it.
pub fn rule_name(op: &komp_artifact::OperatingPoint) -> &'static str {
    match op.rule {
        komp_artifact::DecisionRule::ReviewBelowTopScore { .. } => "review_below_top_score",
        komp_artifact::DecisionRule::PositiveLabelAtOrAbove { .. } => "positive_label_at_or_above",
    }
}
