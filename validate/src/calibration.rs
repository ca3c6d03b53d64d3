//! Calibration: are the scores probabilities on this municipality's cases?
//!
//! The target is what the component's decision uses, and what its card
//! measured (`komp_train.metrics.ece`, used by `training/write_manifests.py`):
//! - a review or plain component: the **top score** against whether the top
//!   label is right (top-label calibration);
//! - a flag component: the **positive label's probability** against whether
//!   the case is positive (underretning: P(acute) against acute).
//!
//! Ten equal-width bins on [0, 1]; a score of exactly 1 goes into the last bin.
//! ECE is the case-weighted mean of |mean score − observed rate| over the bins.
//! Brier is the multi-class score: the mean over cases of Σ over labels of
//! (score − 1[label is true])², which is twice the binary Brier score for a
//! two-label component; the binary one is given too (`brier_positive`).

use crate::metrics::Case;
use crate::stats::Estimate;
use serde::{Deserialize, Serialize};

pub const BINS: usize = 10;

/// What one case contributes: the confidence and whether the event happened.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub score: f64,
    pub hit: bool,
}

/// The calibration points of each case for the component's target.
pub fn points(cases: &[Case], positive: Option<usize>) -> Vec<Point> {
    cases
        .iter()
        .map(|c| match positive {
            Some(p) => Point { score: c.scores[p], hit: c.truth == p },
            None => {
                let (label, score) = c.top();
                Point { score, hit: label == c.truth }
            }
        })
        .collect()
}

/// The bin of a score: `[i/10, (i+1)/10)`, the last bin closed.
pub fn bin_of(score: f64) -> usize {
    let mut b = ((score * BINS as f64).floor().max(0.0) as usize).min(BINS - 1);
    // Against the edges themselves (`i as f64 / 10.0`, as the training code
    // computes them), so a score whose product rounds across an edge still
    // lands where `score >= lower` says.
    if b > 0 && score < b as f64 / BINS as f64 {
        b -= 1;
    } else if b + 1 < BINS && score >= (b + 1) as f64 / BINS as f64 {
        b += 1;
    }
    b
}

/// One reliability bin.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Bin {
    pub lower: f64,
    pub upper: f64,
    pub n: usize,
    /// Sum of the scores in the bin (mean = sum / n), kept so aggregates from
    /// several municipalities can be added up.
    pub score_sum: f64,
    /// Cases in the bin where the event happened.
    pub hits: usize,
    /// Mean score in the bin.
    pub mean_score: Option<f64>,
    /// Observed rate in the bin, with its Wilson interval.
    pub observed: Estimate,
}

pub fn bins(points: &[Point], idx: Option<&[usize]>) -> Vec<Bin> {
    let mut n = [0usize; BINS];
    let mut sum = [0f64; BINS];
    let mut hits = [0usize; BINS];
    let mut add = |p: &Point| {
        let b = bin_of(p.score);
        n[b] += 1;
        sum[b] += p.score;
        hits[b] += p.hit as usize;
    };
    match idx {
        Some(idx) => idx.iter().for_each(|&i| add(&points[i])),
        None => points.iter().for_each(&mut add),
    }
    (0..BINS)
        .map(|b| Bin {
            lower: b as f64 / BINS as f64,
            upper: (b + 1) as f64 / BINS as f64,
            n: n[b],
            score_sum: sum[b],
            hits: hits[b],
            mean_score: (n[b] > 0).then(|| sum[b] / n[b] as f64),
            observed: Estimate::proportion(hits[b], n[b]),
        })
        .collect()
}

/// Expected calibration error from bins.
pub fn ece_of_bins(bins: &[Bin]) -> f64 {
    let total: usize = bins.iter().map(|b| b.n).sum();
    if total == 0 {
        return f64::NAN;
    }
    bins.iter().filter(|b| b.n > 0).map(|b| (b.score_sum - b.hits as f64).abs()).sum::<f64>() / total as f64
}

/// ECE over the cases `idx` (all when `None`), without building bins.
pub fn ece(points: &[Point], idx: Option<&[usize]>) -> f64 {
    let mut n = [0usize; BINS];
    let mut diff = [0f64; BINS];
    let mut add = |p: &Point| {
        let b = bin_of(p.score);
        n[b] += 1;
        diff[b] += p.score - p.hit as u8 as f64;
    };
    match idx {
        Some(idx) => idx.iter().for_each(|&i| add(&points[i])),
        None => points.iter().for_each(&mut add),
    }
    let total: usize = n.iter().sum();
    if total == 0 {
        return f64::NAN;
    }
    // n_b * |mean score - mean hit| = |Σ(score - hit)| within the bin.
    diff.iter().map(|d| d.abs()).sum::<f64>() / total as f64
}

/// The multi-class Brier score of one case.
pub fn brier_case(c: &Case) -> f64 {
    c.scores.iter().enumerate().map(|(l, s)| (s - (l == c.truth) as u8 as f64).powi(2)).sum()
}

/// Mean multi-class Brier score over `idx` (all when `None`).
pub fn brier(cases: &[Case], idx: Option<&[usize]>) -> f64 {
    let (sum, n) = match idx {
        Some(idx) => (idx.iter().map(|&i| brier_case(&cases[i])).sum::<f64>(), idx.len()),
        None => (cases.iter().map(brier_case).sum::<f64>(), cases.len()),
    };
    if n == 0 {
        f64::NAN
    } else {
        sum / n as f64
    }
}

/// Mean binary Brier score of the positive label's probability.
pub fn brier_positive(cases: &[Case], positive: usize, idx: Option<&[usize]>) -> f64 {
    let one = |c: &Case| (c.scores[positive] - (c.truth == positive) as u8 as f64).powi(2);
    let (sum, n) = match idx {
        Some(idx) => (idx.iter().map(|&i| one(&cases[i])).sum::<f64>(), idx.len()),
        None => (cases.iter().map(one).sum::<f64>(), cases.len()),
    };
    if n == 0 {
        f64::NAN
    } else {
        sum / n as f64
    }
}

/// The calibration section of the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibration {
    /// `top_label`, or `positive_label` for a flag component.
    pub target: String,
    /// The positive label for `positive_label`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positive_label: Option<String>,
    pub bins: Vec<Bin>,
    pub ece: Estimate,
    /// Multi-class Brier score (lower is better; 0 is perfect).
    pub brier: Estimate,
    /// Binary Brier score of the positive label (flag components).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brier_positive: Option<Estimate>,
    /// ROC AUC of the positive label's probability (flag components).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roc_auc: Option<Estimate>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(truth: usize, scores: &[f64]) -> Case {
        let pred = scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        Case { truth, pred, scores: scores.to_vec(), requires_human_review: false, groups: vec![] }
    }

    #[test]
    fn ece_and_brier_by_hand() {
        // Top scores 0.9 (right), 0.9 (wrong), 0.6 (right), 1.0 (right).
        let cases = vec![case(0, &[0.9, 0.1]), case(1, &[0.9, 0.1]), case(0, &[0.6, 0.4]), case(1, &[0.0, 1.0])];
        let pts = points(&cases, None);
        let b = bins(&pts, None);
        // Bin 9 [0.9, 1.0]: 0.9, 0.9, 1.0 -> mean 0.9333, observed 2/3. Bin 6: 0.6 -> observed 1.
        assert_eq!(b[9].n, 3);
        assert_eq!(b[6].n, 1);
        assert_eq!(b[9].hits, 2);
        // ECE = (3 * |0.9333 - 0.6667| + 1 * |0.6 - 1|) / 4 = (0.8 + 0.4) / 4 = 0.3
        assert!((ece(&pts, None) - 0.3).abs() < 1e-12, "{}", ece(&pts, None));
        assert!((ece_of_bins(&b) - 0.3).abs() < 1e-12);
        // Brier: (0.01+0.01) + (0.81+0.81) + (0.16+0.16) + 0 = 1.96 / 4 = 0.49
        assert!((brier(&cases, None) - 0.49).abs() < 1e-12);
        // Binary on label 1: (0.1-0)^2 + (0.1-1)^2 + (0.4-0)^2 + 0 = 0.01+0.81+0.16 = 0.98/4
        assert!((brier_positive(&cases, 1, None) - 0.245).abs() < 1e-12);
        assert!((brier(&cases, None) - 2.0 * brier_positive(&cases, 1, None)).abs() < 1e-12);
    }

    #[test]
    fn positive_label_target_and_edges() {
        let cases = vec![case(0, &[0.05, 0.95]), case(1, &[0.2, 0.8]), case(0, &[1.0, 0.0])];
        let pts = points(&cases, Some(0));
        assert_eq!(
            pts.iter().map(|p| (p.score, p.hit)).collect::<Vec<_>>(),
            vec![(0.05, true), (0.2, false), (1.0, true)]
        );
        assert_eq!(bin_of(0.0), 0);
        assert_eq!(bin_of(0.1), 1, "lower edge belongs to the bin above");
        assert_eq!(bin_of(0.99999), 9);
        assert_eq!(bin_of(1.0), 9, "1.0 is in the last bin");
        // bins 0: 0.05 hit -> |0.05-1|; 2: 0.2 miss -> 0.2; 9: 1.0 hit -> 0 ; sum 1.15 / 3
        assert!((ece(&pts, None) - 1.15 / 3.0).abs() < 1e-12);
        assert!(ece(&pts, Some(&[])).is_nan());
    }
}
