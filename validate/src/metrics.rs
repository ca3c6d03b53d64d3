//! Classification metrics on the evaluated cases: accuracy, per-label
//! precision/recall/F1, macro F1 and the confusion matrix.
//!
//! Definitions follow scikit-learn (`validate/tests/sklearn_check.py` checks
//! them on a fixed set of predictions): precision is undefined (`null`) when
//! the label was never predicted, recall when it never occurs; F1 is 0 when
//! precision + recall is 0; macro F1 averages over the labels that occur in
//! the truth or the predictions of the sample (scikit-learn's default).

use crate::stats::Estimate;
use serde::{Deserialize, Serialize};

/// One evaluated case, by label index in the manifest's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub truth: usize,
    /// The label the component proposed.
    pub pred: usize,
    /// Calibrated probability per label (manifest order; a label the
    /// component left out is 0).
    pub scores: Vec<f64>,
    pub requires_human_review: bool,
    /// The value of each group-by column (in [`crate::groups::GroupSpec`] order).
    pub groups: Vec<String>,
}

impl Case {
    /// The top score and its label (first label on ties, like the SDK).
    pub fn top(&self) -> (usize, f64) {
        let mut best = (0, f64::NEG_INFINITY);
        for (i, s) in self.scores.iter().enumerate() {
            if *s > best.1 {
                best = (i, *s);
            }
        }
        best
    }
}

/// `truth × pred` counts, label order as in the manifest.
pub fn confusion(cases: &[Case], labels: usize, idx: Option<&[usize]>) -> Vec<Vec<u64>> {
    let mut m = vec![vec![0u64; labels]; labels];
    match idx {
        Some(idx) => idx.iter().for_each(|&i| m[cases[i].truth][cases[i].pred] += 1),
        None => cases.iter().for_each(|c| m[c.truth][c.pred] += 1),
    }
    m
}

/// Per-label F1 from a confusion matrix (`NaN` when the label is absent
/// from both truth and predictions) and macro F1 over the present labels.
pub fn f1_scores(m: &[Vec<u64>]) -> (Vec<f64>, f64) {
    let k = m.len();
    let mut f1 = Vec::with_capacity(k);
    for l in 0..k {
        let tp = m[l][l] as f64;
        let support: u64 = m[l].iter().sum();
        let predicted: u64 = m.iter().map(|row| row[l]).sum();
        if support == 0 && predicted == 0 {
            f1.push(f64::NAN);
            continue;
        }
        // 2TP / (2TP + FP + FN) equals 2PR/(P+R), and is 0 (not undefined) when TP is 0.
        f1.push(2.0 * tp / (support + predicted) as f64);
    }
    let present: Vec<f64> = f1.iter().copied().filter(|v| v.is_finite()).collect();
    let macro_f1 = if present.is_empty() { f64::NAN } else { present.iter().sum::<f64>() / present.len() as f64 };
    (f1, macro_f1)
}

/// Precision, recall and F1 of one label.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabelMetrics {
    pub label: String,
    /// Cases whose true label this is.
    pub support: usize,
    /// Cases the component gave this label.
    pub predicted: usize,
    pub precision: Estimate,
    pub recall: Estimate,
    pub f1: Estimate,
}

/// Overall classification results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Classification {
    pub accuracy: Estimate,
    pub macro_f1: Estimate,
    pub per_label: Vec<LabelMetrics>,
    /// `matrix[truth][predicted]`, rows and columns in `labels` order.
    pub confusion: Confusion,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Confusion {
    pub labels: Vec<String>,
    pub matrix: Vec<Vec<u64>>,
}

/// Accuracy (Wilson), per-label precision and recall (Wilson), F1 and macro
/// F1 (bootstrap intervals from `f1_ci`, one per label then macro).
pub fn classification(cases: &[Case], labels: &[String], f1_ci: &[Option<[f64; 2]>]) -> Classification {
    let m = confusion(cases, labels.len(), None);
    let correct = cases.iter().filter(|c| c.truth == c.pred).count();
    let (f1, macro_f1) = f1_scores(&m);
    let ci = |i: usize| f1_ci.get(i).copied().flatten();
    let per_label = labels
        .iter()
        .enumerate()
        .map(|(l, label)| {
            let support = m[l].iter().sum::<u64>() as usize;
            let predicted = m.iter().map(|row| row[l]).sum::<u64>() as usize;
            let tp = m[l][l] as usize;
            LabelMetrics {
                label: label.clone(),
                support,
                predicted,
                precision: Estimate::proportion(tp, predicted),
                recall: Estimate::proportion(tp, support),
                f1: Estimate::bootstrap(f1[l].is_finite().then_some(f1[l]), cases.len(), ci(l)),
            }
        })
        .collect();
    Classification {
        accuracy: Estimate::proportion(correct, cases.len()),
        macro_f1: Estimate::bootstrap(macro_f1.is_finite().then_some(macro_f1), cases.len(), ci(labels.len())),
        per_label,
        confusion: Confusion { labels: labels.to_vec(), matrix: m },
    }
}

/// ROC AUC of `score` for `positive` cases (Mann–Whitney U with average ranks
/// for ties, as scikit-learn); `NaN` without both classes.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> f64 {
    let n = scores.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut ranks = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        for k in i..=j {
            ranks[order[k]] = (i + j) as f64 / 2.0 + 1.0;
        }
        i = j + 1;
    }
    let n_pos = positive.iter().filter(|p| **p).count() as f64;
    let n_neg = n as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return f64::NAN;
    }
    let rank_sum: f64 = ranks.iter().zip(positive).filter(|(_, p)| **p).map(|(r, _)| r).sum();
    (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(truth: usize, pred: usize) -> Case {
        let mut scores = vec![0.0; 3];
        scores[pred] = 1.0;
        Case { truth, pred, scores, requires_human_review: false, groups: vec![] }
    }

    #[test]
    fn hand_computed_precision_recall_f1() {
        // truth: a a a b b c ; pred: a a b b c c
        let cases: Vec<Case> =
            [(0, 0), (0, 0), (0, 1), (1, 1), (1, 2), (2, 2)].iter().map(|&(t, p)| case(t, p)).collect();
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let c = classification(&cases, &labels, &[]);
        assert_eq!(c.confusion.matrix, vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]);
        assert_eq!(c.accuracy.value, Some(4.0 / 6.0));
        assert_eq!(c.accuracy.successes, Some(4));
        let a = &c.per_label[0];
        assert_eq!((a.precision.value, a.recall.value), (Some(1.0), Some(2.0 / 3.0)));
        assert!((a.f1.value.unwrap() - 0.8).abs() < 1e-12);
        let b = &c.per_label[1];
        assert_eq!((b.precision.value, b.recall.value, b.f1.value), (Some(0.5), Some(0.5), Some(0.5)));
        let cc = &c.per_label[2];
        assert_eq!(cc.precision.value, Some(0.5));
        assert!((cc.f1.value.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.macro_f1.value.unwrap() - (0.8 + 0.5 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn absent_labels_are_undefined_not_zero() {
        let cases = vec![case(0, 0), case(0, 1)];
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let c = classification(&cases, &labels, &[]);
        assert_eq!(c.per_label[1].recall.value, None, "b never occurs");
        assert_eq!(c.per_label[1].precision.value, Some(0.0));
        assert_eq!(c.per_label[1].f1.value, Some(0.0), "predicted but never true: F1 0");
        assert_eq!(c.per_label[2].f1.value, None, "c is in neither");
        // macro over a and b only: (2/3 + 0) / 2
        assert!((c.macro_f1.value.unwrap() - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn auc_with_ties() {
        // scikit-learn: roc_auc_score([0,0,1,1],[0.1,0.4,0.35,0.8]) = 0.75
        assert!((roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]) - 0.75).abs() < 1e-12);
        // A tie between a positive and a negative counts half: 0.5 + ... = 0.875
        assert!((roc_auc(&[0.1, 0.5, 0.5, 0.9], &[false, false, true, true]) - 0.875).abs() < 1e-12);
        assert!(roc_auc(&[0.1], &[true]).is_nan());
    }
}
