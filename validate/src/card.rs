//! The component as the report sees it (name, digest, kind of decision), and
//! the verdict of each local metric against the component's own model card.

use crate::stats::Estimate;
use serde::{Deserialize, Serialize};

/// How a metric's card value sits against the local 95% interval.
///
/// The card's value inside the interval is "as the card": the sample cannot
/// tell them apart. Outside it, the difference is significant at about the 5%
/// level, and the metric's direction says whether that is worse or better.
/// Metrics without a better direction (share flagged, prevalence) are only
/// "higher" or "lower".
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    AsCard,
    SignificantlyWorse,
    SignificantlyBetter,
    SignificantlyHigher,
    SignificantlyLower,
    /// The card has no value for this metric.
    NotOnCard,
    /// The card has a value, but the sample has no case to compare it with.
    NoData,
}

impl Verdict {
    /// The plain wording used in the HTML report (Danish, English).
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            Verdict::AsCard => ("som kortet", "as the card"),
            Verdict::SignificantlyWorse => ("signifikant dårligere", "significantly worse"),
            Verdict::SignificantlyBetter => ("signifikant bedre", "significantly better"),
            Verdict::SignificantlyHigher => ("signifikant højere", "significantly higher"),
            Verdict::SignificantlyLower => ("signifikant lavere", "significantly lower"),
            Verdict::NotOnCard => ("ikke på kortet", "not on the card"),
            Verdict::NoData => ("ingen data", "no data"),
        }
    }
}

/// Which way a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
    Neutral,
}

/// Compares `value ± ci` with the card's `card` value.
pub fn verdict(ci: Option<[f64; 2]>, card: Option<f64>, direction: Direction) -> Verdict {
    let Some(card) = card else { return Verdict::NotOnCard };
    let Some([lo, hi]) = ci else { return Verdict::NoData };
    // The card's values are printed from float64 computations on float32
    // scores; allow for rounding so an exact match at the edge is "as the card".
    let eps = 1e-9;
    let local_higher = card < lo - eps;
    let local_lower = card > hi + eps;
    match (local_higher, local_lower, direction) {
        (false, false, _) => Verdict::AsCard,
        (true, _, Direction::HigherIsBetter) | (_, true, Direction::LowerIsBetter) => Verdict::SignificantlyBetter,
        (true, _, Direction::LowerIsBetter) | (_, true, Direction::HigherIsBetter) => Verdict::SignificantlyWorse,
        (true, _, Direction::Neutral) => Verdict::SignificantlyHigher,
        (_, true, Direction::Neutral) => Verdict::SignificantlyLower,
    }
}

/// Fills in the card value (found at JSON Pointer `pointer` in the model card)
/// and the verdict of `estimate`.
pub fn attach(estimate: &mut Estimate, card: &serde_json::Value, pointer: &str, direction: Direction) {
    let value = card.pointer(pointer).and_then(serde_json::Value::as_f64);
    if value.is_some() {
        estimate.card = value;
        estimate.card_source = Some(pointer.to_string());
    }
    estimate.verdict = verdict(estimate.ci95, value, direction);
}

/// Escapes one JSON Pointer reference token (RFC 6901).
pub fn token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// What the component decides, which decides the threshold curve and
/// calibration target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Kind {
    /// Proposes the top label; below `threshold` a person must review
    /// (postsortering: `operating_point.review_threshold`).
    Review { threshold: f64 },
    /// Flags `positive` when its probability is at least `threshold`
    /// (underretning: `operating_point.threshold`, positive label `acute`).
    Flag { positive: String, threshold: f64 },
    /// Neither: only the top label.
    Plain,
}

/// The component under validation, from its manifest and the caller.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComponentInfo {
    pub name: String,
    pub version: String,
    /// sha256 of the signed content (`komp inspect` shows the same).
    pub digest: String,
    /// Label ids in the manifest's order.
    pub labels: Vec<String>,
    pub kind: Kind,
    /// The manifest's `model_card` (compared against; copied into the report
    /// only as the values used, never whole).
    #[serde(skip)]
    pub card: serde_json::Value,
}

impl ComponentInfo {
    /// Reads the kind of decision from the card's `operating_point`:
    /// `review_threshold` (or `review_below`) makes a review component; a
    /// `threshold` on a two-label component makes a flag component whose
    /// positive label is the one its `rule` quotes (`'acute'`), else the
    /// first label. `positive` overrides that choice.
    pub fn from_manifest(m: &komp_artifact::Manifest, digest: &str, positive: Option<&str>) -> ComponentInfo {
        let labels: Vec<String> = m.labels.iter().map(|l| l.id.clone()).collect();
        let op = &m.model_card.operating_point;
        let num = |k: &str| op.get(k).and_then(serde_json::Value::as_f64);
        let kind = if let Some(t) = num("review_threshold").or_else(|| num("review_below")) {
            Kind::Review { threshold: t }
        } else if let (Some(t), 2) = (num("threshold"), labels.len()) {
            let rule = op.get("rule").and_then(|r| r.as_str()).unwrap_or("");
            let quoted = labels.iter().find(|l| rule.contains(&format!("'{l}'")));
            let positive =
                positive.map(str::to_string).or_else(|| quoted.cloned()).unwrap_or_else(|| labels[0].clone());
            Kind::Flag { positive, threshold: t }
        } else {
            Kind::Plain
        };
        ComponentInfo {
            name: m.name.clone(),
            version: m.version.to_string(),
            digest: digest.to_string(),
            labels,
            kind,
            card: serde_json::to_value(&m.model_card).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        use Direction::*;
        let ci = Some([0.80, 0.90]);
        assert_eq!(verdict(ci, Some(0.85), HigherIsBetter), Verdict::AsCard);
        assert_eq!(verdict(ci, Some(0.80), HigherIsBetter), Verdict::AsCard, "the edge is inside");
        assert_eq!(verdict(ci, Some(0.95), HigherIsBetter), Verdict::SignificantlyWorse);
        assert_eq!(verdict(ci, Some(0.70), HigherIsBetter), Verdict::SignificantlyBetter);
        assert_eq!(verdict(ci, Some(0.95), LowerIsBetter), Verdict::SignificantlyBetter);
        assert_eq!(verdict(ci, Some(0.70), LowerIsBetter), Verdict::SignificantlyWorse);
        assert_eq!(verdict(ci, Some(0.70), Neutral), Verdict::SignificantlyHigher);
        assert_eq!(verdict(ci, Some(0.95), Neutral), Verdict::SignificantlyLower);
        assert_eq!(verdict(ci, None, Neutral), Verdict::NotOnCard);
        assert_eq!(verdict(None, Some(0.9), Neutral), Verdict::NoData);
    }

    use crate::test_support::manifest;

    #[test]
    fn kinds_of_the_standard_components() {
        let m = manifest("postsortering");
        let review = m.model_card.operating_point["review_threshold"].as_f64().unwrap();
        let p = ComponentInfo::from_manifest(&m, "d", None);
        assert_eq!(p.kind, Kind::Review { threshold: review });
        assert_eq!(p.labels.len(), 16);
        let m = manifest("underretning");
        let t = m.model_card.operating_point["threshold"].as_f64().unwrap();
        let u = ComponentInfo::from_manifest(&m, "d", None);
        assert_eq!(u.kind, Kind::Flag { positive: "acute".into(), threshold: t });
        let u = ComponentInfo::from_manifest(&m, "d", Some("not_acute"));
        assert_eq!(u.kind, Kind::Flag { positive: "not_acute".into(), threshold: t });
    }
}
