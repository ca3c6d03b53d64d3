//! Threshold curves: what the decision would do at every threshold, so a
//! municipality sees the trade-off it is choosing (issue 13 item 4 lets it
//! choose its own operating point).
//!
//! - review component (postsortering): for thresholds t = 0.00, 0.01, …, 1.00,
//!   the share of cases routed without review (top score ≥ t) and the
//!   accuracy of the proposed label among those routed;
//! - flag component (underretning): the share flagged (positive label's
//!   probability ≥ t), recall and precision of the flag.
//!
//! Scores and thresholds are compared as float32, as the components do.

use crate::card::{attach, Direction};
use crate::metrics::Case;
use crate::stats::Estimate;
use serde::{Deserialize, Serialize};

/// Thresholds 0.00 to 1.00 in steps of 0.01.
pub fn grid() -> Vec<f64> {
    (0..=100).map(|i| i as f64 / 100.0).collect()
}

/// `score >= threshold` as the components compute it (both float32).
pub fn at_or_above(score: f64, threshold: f64) -> bool {
    (score as f32) >= (threshold as f32)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewPoint {
    pub threshold: f64,
    /// Share of cases whose top score is at least the threshold (routed
    /// without review).
    pub routed: Estimate,
    /// Accuracy of the proposed label among the routed cases.
    pub accuracy_routed: Estimate,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlagPoint {
    pub threshold: f64,
    /// Share of cases flagged (positive probability ≥ threshold).
    pub flagged: Estimate,
    /// Flagged among the positive cases.
    pub recall: Estimate,
    /// Positive among the flagged cases.
    pub precision: Estimate,
}

/// The curve of the component's kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", content = "points", rename_all = "snake_case")]
pub enum Curve {
    Review(Vec<ReviewPoint>),
    Flag(Vec<FlagPoint>),
}

pub fn review_point(cases: &[Case], t: f64) -> ReviewPoint {
    let routed: Vec<&Case> = cases.iter().filter(|c| at_or_above(c.top().1, t)).collect();
    let correct = routed.iter().filter(|c| c.pred == c.truth).count();
    ReviewPoint {
        threshold: t,
        routed: Estimate::proportion(routed.len(), cases.len()),
        accuracy_routed: Estimate::proportion(correct, routed.len()),
    }
}

pub fn flag_point(cases: &[Case], positive: usize, t: f64) -> FlagPoint {
    let flagged = |c: &Case| at_or_above(c.scores[positive], t);
    let n_flagged = cases.iter().filter(|c| flagged(c)).count();
    let n_pos = cases.iter().filter(|c| c.truth == positive).count();
    let tp = cases.iter().filter(|c| flagged(c) && c.truth == positive).count();
    FlagPoint {
        threshold: t,
        flagged: Estimate::proportion(n_flagged, cases.len()),
        recall: Estimate::proportion(tp, n_pos),
        precision: Estimate::proportion(tp, n_flagged),
    }
}

/// The review curve on the grid, with the card's `coverage_vs_accuracy`
/// rows compared at their thresholds.
pub fn review_curve(cases: &[Case], card: &serde_json::Value) -> Vec<ReviewPoint> {
    let mut points: Vec<ReviewPoint> = grid().into_iter().map(|t| review_point(cases, t)).collect();
    let rows = card.pointer("/metrics/coverage_vs_accuracy").and_then(|v| v.as_array()).cloned().unwrap_or_default();
    for (i, row) in rows.iter().enumerate() {
        let Some(t) = row.get("threshold").and_then(|t| t.as_f64()) else { continue };
        let p = match points.iter_mut().find(|p| p.threshold == t) {
            Some(p) => p,
            None => {
                points.push(review_point(cases, t));
                points.last_mut().expect("pushed")
            }
        };
        attach(&mut p.routed, card, &format!("/metrics/coverage_vs_accuracy/{i}/coverage"), Direction::HigherIsBetter);
        attach(
            &mut p.accuracy_routed,
            card,
            &format!("/metrics/coverage_vs_accuracy/{i}/accuracy_auto_routed"),
            Direction::HigherIsBetter,
        );
    }
    points.sort_by(|a, b| a.threshold.total_cmp(&b.threshold));
    points
}

/// The flag curve on the grid, with the card's `threshold_table` rows compared.
pub fn flag_curve(cases: &[Case], positive: usize, card: &serde_json::Value) -> Vec<FlagPoint> {
    let mut points: Vec<FlagPoint> = grid().into_iter().map(|t| flag_point(cases, positive, t)).collect();
    let rows = card.pointer("/metrics/threshold_table").and_then(|v| v.as_array()).cloned().unwrap_or_default();
    for (i, row) in rows.iter().enumerate() {
        let Some(t) = row.get("threshold").and_then(|t| t.as_f64()) else { continue };
        let p = match points.iter_mut().find(|p| p.threshold == t) {
            Some(p) => p,
            None => {
                points.push(flag_point(cases, positive, t));
                points.last_mut().expect("pushed")
            }
        };
        attach(&mut p.recall, card, &format!("/metrics/threshold_table/{i}/recall"), Direction::HigherIsBetter);
        attach(&mut p.precision, card, &format!("/metrics/threshold_table/{i}/precision"), Direction::HigherIsBetter);
        attach(&mut p.flagged, card, &format!("/metrics/threshold_table/{i}/flagged_share"), Direction::Neutral);
    }
    points.sort_by(|a, b| a.threshold.total_cmp(&b.threshold));
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::Verdict;

    fn case(truth: usize, p0: f64) -> Case {
        let scores = vec![p0, 1.0 - p0];
        let pred = if p0 >= 0.5 { 0 } else { 1 };
        Case { truth, pred, scores, requires_human_review: false, groups: vec![] }
    }

    #[test]
    fn review_curve_by_hand() {
        // top scores 0.95 (right), 0.85 (wrong), 0.6 (right), 0.55 (wrong: top 0.55 is label 1)
        let cases = vec![case(0, 0.95), case(1, 0.85), case(0, 0.6), case(0, 0.45)];
        let p = review_point(&cases, 0.8);
        assert_eq!((p.routed.successes, p.routed.n), (Some(2), 4));
        assert_eq!((p.accuracy_routed.successes, p.accuracy_routed.n), (Some(1), 2));
        let p = review_point(&cases, 0.0);
        assert_eq!(p.routed.value, Some(1.0));
        assert_eq!(p.accuracy_routed.value, Some(0.5));
        let p = review_point(&cases, 1.0);
        assert_eq!(p.routed.value, Some(0.0));
        assert_eq!(p.accuracy_routed.value, None, "nothing routed: undefined");
        let curve = review_curve(&cases, &serde_json::Value::Null);
        assert_eq!(curve.len(), 101);
        // Routed share never rises with the threshold.
        assert!(curve.windows(2).all(|w| w[0].routed.successes >= w[1].routed.successes));
    }

    #[test]
    fn flag_curve_by_hand_and_against_the_card() {
        // positive label 0; P(0): 0.9 pos, 0.3 pos, 0.2 neg, 0.05 neg
        let cases = vec![case(0, 0.9), case(0, 0.3), case(1, 0.2), case(1, 0.05)];
        let p = flag_point(&cases, 0, 0.25);
        assert_eq!(p.flagged.value, Some(0.5));
        assert_eq!(p.recall.value, Some(1.0));
        assert_eq!(p.precision.value, Some(1.0));
        let p = flag_point(&cases, 0, 0.1);
        assert_eq!((p.recall.value, p.precision.value), (Some(1.0), Some(2.0 / 3.0)));
        // float32 comparison: 0.3 stored as float32 is flagged at threshold 0.3.
        let f32_case = case(0, 0.3f32 as f64);
        assert!(flag_point(&[f32_case], 0, 0.3).flagged.value == Some(1.0));
        let card = serde_json::json!({"metrics": {"threshold_table": [
            {"threshold": 0.25, "recall": 0.2, "precision": 1.0, "flagged_share": 0.5},
            {"threshold": 0.125, "recall": 1.0, "precision": 0.6, "flagged_share": 0.75}
        ]}});
        let curve = flag_curve(&cases, 0, &card);
        assert_eq!(curve.len(), 102, "the card's 0.125 is added to the grid");
        let at = curve.iter().find(|p| p.threshold == 0.25).unwrap();
        assert_eq!(at.recall.card, Some(0.2));
        assert_eq!(at.recall.card_source.as_deref(), Some("/metrics/threshold_table/0/recall"));
        // Recall 2/2: Wilson [0.34, 1]; the card's 0.2 is below: better here.
        assert_eq!(at.recall.verdict, Verdict::SignificantlyBetter);
        assert_eq!(at.precision.verdict, Verdict::AsCard);
        assert!(curve.windows(2).all(|w| w[0].threshold < w[1].threshold));
    }
}
