//! The operating point a component declares in its manifest: what its
//! decision threshold means, the value it uses itself and the range within
//! which a municipality may set its own. The host applies a municipality's
//! threshold with [`OperatingPoint::decide`] after the call; the scores never
//! change, only the decision taken from them.

use crate::manifest::Label;
use serde::{Deserialize, Serialize};

/// The operating point a component declares: what its decision threshold
/// means, the value the component itself uses, and the range within which a
/// municipality may set its own (`[min, max]`, accepted by the approver who
/// endorses the component). Scores never depend on it; only the decision
/// taken from them moves.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OperatingPoint {
    pub rule: DecisionRule,
    /// The threshold the component applies itself.
    pub default: f64,
    /// Lowest threshold a municipality may set.
    pub min: f64,
    /// Highest threshold a municipality may set.
    pub max: f64,
    /// Why this range: the approver's reasoning (e.g. the recall floor).
    pub reasoning: String,
    /// Where the component repeats its decision in `details`, so a host that
    /// moves the threshold keeps them in agreement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<DetailsMirror>,
}

/// How the decision follows from the scores and the threshold `t`
/// (compared in `f32`, as components compute).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DecisionRule {
    /// The label is the component's (top) label; `requires_human_review`
    /// is `score(label) < t`, or any key of `also_review_when_details_has`
    /// is in `details` (e.g. `out_of_distribution`).
    ReviewBelowTopScore {
        #[serde(default)]
        also_review_when_details_has: Vec<String>,
    },
    /// The label is `label` when `score(label) >= t`, else `otherwise`;
    /// `requires_human_review` is the component's.
    PositiveLabelAtOrAbove { label: String, otherwise: String },
}

/// The `details` keys that repeat the decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DetailsMirror {
    /// Key holding the threshold used.
    #[serde(default)]
    pub threshold: Option<String>,
    /// Key holding the decision (review needed, or the positive label).
    #[serde(default)]
    pub decision: Option<DecisionField>,
}

/// A `details` key and its value for each decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DecisionField {
    pub key: String,
    pub when_true: serde_json::Value,
    pub when_false: serde_json::Value,
}

/// What can be wrong with an operating point declaration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OperatingPointError {
    #[error("operating_point.{field} is {value}, not a finite number")]
    NotFinite { field: &'static str, value: f64 },
    #[error(
        "operating_point range [{min}, {max}] is not inside [0, 1] with min <= max; \
         declare the thresholds a municipality may choose as probabilities"
    )]
    BadRange { min: f64, max: f64 },
    #[error("operating_point.default {default} is outside its own range [{min}, {max}]")]
    DefaultOutsideRange { default: f64, min: f64, max: f64 },
    #[error("operating_point.reasoning is empty: say why this range was accepted (e.g. the recall floor)")]
    NoReasoning,
    #[error("operating_point.rule names label {label:?}, which is not in labels ({labels})")]
    UnknownLabel { label: String, labels: String },
    #[error("operating_point.rule: `label` and `otherwise` are both {0:?}; they must be two different labels")]
    SameLabel(String),
    #[error("operating_point.{0} names an empty details key")]
    EmptyKey(&'static str),
}

/// The decision an operating point gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub label: String,
    pub requires_human_review: bool,
}

impl OperatingPoint {
    /// Checks the declaration against the component's labels.
    pub fn validate(&self, labels: &[Label]) -> Result<(), OperatingPointError> {
        for (field, value) in [("default", self.default), ("min", self.min), ("max", self.max)] {
            if !value.is_finite() {
                return Err(OperatingPointError::NotFinite { field, value });
            }
        }
        if !(0.0 <= self.min && self.min <= self.max && self.max <= 1.0) {
            return Err(OperatingPointError::BadRange { min: self.min, max: self.max });
        }
        if !(self.min <= self.default && self.default <= self.max) {
            return Err(OperatingPointError::DefaultOutsideRange {
                default: self.default,
                min: self.min,
                max: self.max,
            });
        }
        if self.reasoning.trim().is_empty() {
            return Err(OperatingPointError::NoReasoning);
        }
        let known = |l: &str| labels.iter().any(|x| x.id == l);
        let list = || labels.iter().map(|l| l.id.as_str()).collect::<Vec<_>>().join(", ");
        match &self.rule {
            DecisionRule::ReviewBelowTopScore { also_review_when_details_has } => {
                if also_review_when_details_has.iter().any(|k| k.is_empty()) {
                    return Err(OperatingPointError::EmptyKey("rule.also_review_when_details_has"));
                }
            }
            DecisionRule::PositiveLabelAtOrAbove { label, otherwise } => {
                for l in [label, otherwise] {
                    if !known(l) {
                        return Err(OperatingPointError::UnknownLabel { label: l.clone(), labels: list() });
                    }
                }
                if label == otherwise {
                    return Err(OperatingPointError::SameLabel(label.clone()));
                }
            }
        }
        if let Some(d) = &self.details {
            if d.threshold.as_deref() == Some("") {
                return Err(OperatingPointError::EmptyKey("details.threshold"));
            }
            if d.decision.as_ref().is_some_and(|f| f.key.is_empty()) {
                return Err(OperatingPointError::EmptyKey("details.decision.key"));
            }
        }
        Ok(())
    }

    /// Whether `t` may be set: inside `[min, max]`.
    pub fn allows(&self, t: f64) -> bool {
        t.is_finite() && self.min <= t && t <= self.max
    }

    /// The decision at threshold `t` for a prediction with `scores`, whose
    /// component proposed `label` with `review` and wrote `details`. At
    /// `t == default` this is the component's own rule, so it must give the
    /// component's own answer.
    pub fn decide(
        &self,
        t: f64,
        scores: &[(&str, f32)],
        label: &str,
        review: bool,
        details: &serde_json::Value,
    ) -> Decision {
        let t = t as f32;
        let score = |l: &str| scores.iter().find(|(x, _)| *x == l).map(|(_, s)| *s);
        match &self.rule {
            DecisionRule::ReviewBelowTopScore { also_review_when_details_has } => {
                let below = score(label).is_none_or(|s| s < t);
                let other = also_review_when_details_has.iter().any(|k| details.get(k).is_some_and(|v| !v.is_null()));
                Decision { label: label.to_string(), requires_human_review: below || other }
            }
            DecisionRule::PositiveLabelAtOrAbove { label: positive, otherwise } => {
                let at_or_above = score(positive).is_some_and(|s| s >= t);
                Decision {
                    label: if at_or_above { positive.clone() } else { otherwise.clone() },
                    requires_human_review: review,
                }
            }
        }
    }

    /// Whether a decision is the rule's positive one: review needed
    /// (review rule) or the positive label (label rule).
    pub fn positive(&self, d: &Decision) -> bool {
        match &self.rule {
            DecisionRule::ReviewBelowTopScore { .. } => d.requires_human_review,
            DecisionRule::PositiveLabelAtOrAbove { label, .. } => &d.label == label,
        }
    }

    /// Rewrites the `details` keys that repeat the decision (see [`DetailsMirror`]).
    pub fn mirror_into_details(&self, t: f64, d: &Decision, details: &mut serde_json::Value) {
        let (Some(m), Some(obj)) = (&self.details, details.as_object_mut()) else { return };
        if let Some(k) = &m.threshold {
            obj.insert(k.clone(), serde_json::json!(t));
        }
        if let Some(f) = &m.decision {
            let v = if self.positive(d) { f.when_true.clone() } else { f.when_false.clone() };
            obj.insert(f.key.clone(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels() -> Vec<Label> {
        ["acute", "not_acute"].iter().map(|l| Label { id: l.to_string(), display: l.to_string() }).collect()
    }

    fn flag() -> OperatingPoint {
        serde_json::from_value(json!({
            "rule": {"kind": "positive_label_at_or_above", "label": "acute", "otherwise": "not_acute"},
            "default": 0.19, "min": 0.05, "max": 0.19, "reasoning": "recall floor 0.95",
            "details": {"threshold": "operating_threshold", "decision": {"key": "acute", "when_true": true, "when_false": false}}
        }))
        .unwrap()
    }

    #[test]
    fn declarations_are_checked() {
        assert_eq!(flag().validate(&labels()), Ok(()));
        let mut op = flag();
        op.default = 0.3;
        assert_eq!(
            op.validate(&labels()),
            Err(OperatingPointError::DefaultOutsideRange { default: 0.3, min: 0.05, max: 0.19 })
        );
        let mut op = flag();
        op.max = 1.5;
        assert!(matches!(op.validate(&labels()), Err(OperatingPointError::BadRange { .. })));
        let mut op = flag();
        op.min = f64::NAN;
        assert!(matches!(op.validate(&labels()), Err(OperatingPointError::NotFinite { field: "min", .. })));
        let mut op = flag();
        op.rule = DecisionRule::PositiveLabelAtOrAbove { label: "akut".into(), otherwise: "not_acute".into() };
        let e = op.validate(&labels()).unwrap_err();
        assert!(e.to_string().contains("\"akut\"") && e.to_string().contains("acute, not_acute"), "{e}");
        let mut op = flag();
        op.reasoning = " ".into();
        assert_eq!(op.validate(&labels()), Err(OperatingPointError::NoReasoning));
    }

    #[test]
    fn decisions_move_with_the_threshold_and_details_follow() {
        let op = flag();
        let scores = [("acute", 0.15f32), ("not_acute", 0.85f32)];
        let d = op.decide(0.19, &scores, "not_acute", true, &json!({}));
        assert_eq!(d, Decision { label: "not_acute".into(), requires_human_review: true });
        let d = op.decide(0.15, &scores, "not_acute", true, &json!({}));
        assert_eq!(d.label, "acute", "at or above: p == t is positive");
        let mut details = json!({"acute": false, "operating_threshold": 0.19});
        op.mirror_into_details(0.15, &d, &mut details);
        assert_eq!(details, json!({"acute": true, "operating_threshold": 0.15}));

        let review: OperatingPoint = serde_json::from_value(json!({
            "rule": {"kind": "review_below_top_score", "also_review_when_details_has": ["out_of_distribution"]},
            "default": 0.9, "min": 0.7, "max": 0.99, "reasoning": "r"
        }))
        .unwrap();
        let scores = [("a", 0.8f32), ("b", 0.2f32)];
        assert!(review.decide(0.9, &scores, "a", true, &json!({})).requires_human_review);
        assert!(!review.decide(0.75, &scores, "a", true, &json!({})).requires_human_review);
        let ood = json!({"out_of_distribution": {"reasons": ["language"]}});
        assert!(review.decide(0.75, &scores, "a", true, &ood).requires_human_review, "other reasons stay");
    }
}
