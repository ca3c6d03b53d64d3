//! Building a [`Prediction`] the same way in every component.
//!
//! ```
//! use komp_sdk::prediction::PredictionBuilder;
//! let p = PredictionBuilder::new(&["ja", "nej"], &[0.2, 0.8]).unwrap()
//!     .review_below(0.9)
//!     .explanation(vec![("vold".into(), 1.5), ("skole".into(), -0.2)], 10)
//!     .details(serde_json::json!({"risk": "high"}))
//!     .build()
//!     .unwrap();
//! assert_eq!(p.label, "nej");
//! assert!(p.requires_human_review); // 0.8 < 0.9
//! assert_eq!(p.explanation[0].feature, "vold");
//! ```

use crate::{Error, FeatureWeight, LabelScore, Prediction};

/// Assembles a prediction from label names and calibrated probabilities.
pub struct PredictionBuilder {
    scores: Vec<LabelScore>,
    top: usize,
    explanation: Vec<FeatureWeight>,
    review: bool,
    review_below: Option<f32>,
    details: serde_json::Value,
}

impl PredictionBuilder {
    /// `labels[i]` has probability `scores[i]`. Fails (instead of panicking)
    /// when the model's output does not fit the labels or is not a finite
    /// probability, because that means the model and component disagree.
    pub fn new(labels: &[&str], scores: &[f32]) -> Result<PredictionBuilder, Error> {
        if labels.len() != scores.len() || labels.is_empty() {
            return Err(Error::Model(format!("model returned {} scores for {} labels", scores.len(), labels.len())));
        }
        if let Some(bad) = scores.iter().find(|s| !s.is_finite() || **s < -1e-6 || **s > 1.0 + 1e-6) {
            return Err(Error::Model(format!("model returned a score that is not a probability: {bad}")));
        }
        let top = scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap_or(0);
        Ok(PredictionBuilder {
            scores: labels.iter().zip(scores).map(|(l, s)| LabelScore { label: l.to_string(), score: *s }).collect(),
            top,
            explanation: Vec::new(),
            review: false,
            review_below: None,
            details: serde_json::Value::Object(Default::default()),
        })
    }

    /// Proposes label `index` instead of the highest-scoring one, for
    /// components whose operating point is a threshold rather than the argmax
    /// (e.g. "acute" from a probability of 0.1 when recall matters most).
    pub fn choose(mut self, index: usize) -> Self {
        if index < self.scores.len() {
            self.top = index;
        }
        self
    }

    /// Require human review when the top score is below `threshold` (a
    /// documented business decision in the model card).
    pub fn review_below(mut self, threshold: f32) -> Self {
        self.review_below = Some(threshold);
        self
    }

    /// Always require human review (high-risk components).
    pub fn always_review(mut self) -> Self {
        self.review = true;
        self
    }

    /// Sets the explanation: the `keep` strongest feature weights by absolute value.
    pub fn explanation(mut self, mut weights: Vec<(String, f32)>, keep: usize) -> Self {
        weights.retain(|(_, w)| w.is_finite() && *w != 0.0);
        weights.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then_with(|| a.0.cmp(&b.0)));
        weights.truncate(keep);
        self.explanation = weights.into_iter().map(|(feature, weight)| FeatureWeight { feature, weight }).collect();
        self
    }

    /// Component-specific details (must be a JSON object).
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }

    /// The top label's probability.
    pub fn top_score(&self) -> f32 {
        self.scores[self.top].score
    }

    /// Finishes the prediction.
    pub fn build(self) -> Result<Prediction, Error> {
        if !self.details.is_object() {
            return Err(Error::Internal("prediction details must be a JSON object".into()));
        }
        let review = self.review || self.review_below.is_some_and(|t| self.scores[self.top].score < t);
        Ok(Prediction {
            label: self.scores[self.top].label.clone(),
            scores: self.scores,
            explanation: self.explanation,
            requires_human_review: review,
            details: self.details.to_string(),
        })
    }
}
