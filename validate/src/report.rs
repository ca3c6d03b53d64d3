//! Running the validation and the report it produces (`report.json`).
//!
//! `report.json` is the [`Report`] struct serialised with serde: the field
//! names are stable (a change bumps [`REPORT_FORMAT`]). It holds numbers,
//! label ids, group values and line numbers of failed rows, and never an
//! input text: the sample's texts stay in the sample file.

use crate::aggregate::Aggregates;
use crate::calibration::{self, Calibration};
use crate::card::{attach, token, ComponentInfo, Direction, Kind};
use crate::groups::{group_result, GroupResult, GroupSpec};
use crate::metrics::{self, Case, Classification};
use crate::sample::{SampleBinding, SampleRow};
use crate::stats::{self, Estimate};
use crate::threshold::{self, Curve};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The format of `report.json`; bumped when a field changes meaning or name.
pub const REPORT_FORMAT: &str = "komp-validation-report/1";

/// A prediction as the report needs it (the runtime's `Prediction` has more).
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionLike {
    pub label: String,
    /// Calibrated probability per label.
    pub scores: Vec<(String, f64)>,
    pub requires_human_review: bool,
}

/// How to validate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Groups, already resolved ([`crate::groups::resolve`]).
    pub group_by: Vec<GroupSpec>,
    pub bootstrap_resamples: usize,
    pub seed: u64,
    /// A name for the municipality or site, carried into the aggregates.
    pub site: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            group_by: Vec::new(),
            bootstrap_resamples: stats::DEFAULT_RESAMPLES,
            seed: stats::DEFAULT_SEED,
            site: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error("the sample has no rows")]
    NoRows,
    #[error(
        "no row could be predicted ({count} of {count} failed); the first failure, line {line}: {message}. \
         Check that the sample's fields are the component's input fields"
    )]
    AllFailed { count: usize, line: usize, message: String },
}

/// A row the component could not predict; the message goes to the user's
/// terminal, not into the report (it may quote the input).
#[derive(Debug, Clone)]
pub struct RowError {
    pub line: usize,
    pub message: String,
}

/// The report and the failed rows.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub report: Report,
    pub errors: Vec<RowError>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComponentBinding {
    pub name: String,
    pub version: String,
    /// sha256 of the signed content: the component that was run.
    pub digest: String,
    pub kind: Kind,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub confidence: f64,
    pub bootstrap_resamples: usize,
    pub bootstrap_seed: u64,
    pub calibration_bins: usize,
    pub threshold_step: f64,
    pub group_by: Vec<GroupSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PredictionErrors {
    pub count: usize,
    /// Line numbers of the failed rows in the sample file (first 1000).
    pub lines: Vec<usize>,
}

/// The component's own decisions at its operating point.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OperatingPoint {
    Review {
        threshold: f64,
        /// Share of cases the component did not send to review.
        routed: Estimate,
        /// Accuracy among them.
        accuracy_routed: Estimate,
    },
    Flag {
        positive: String,
        threshold: f64,
        flagged: Estimate,
        recall: Estimate,
        precision: Estimate,
    },
    Plain,
}

/// One line of the side-by-side table: a metric with a value on the card.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CardRow {
    /// A stable id, e.g. `accuracy`, `per_label.affald.recall`,
    /// `group.sender_type.citizen.accuracy`, `threshold.0.8.routed`.
    pub metric: String,
    #[serde(flatten)]
    pub estimate: Estimate,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub format: String,
    pub komp_version: String,
    /// When the report was made (RFC 3339, UTC).
    pub created: String,
    pub component: ComponentBinding,
    /// The signatures and endorsements checked before the component ran, as
    /// the trust verifier found them (signer key ids, roles).
    pub provenance: serde_json::Value,
    pub sample: SampleBinding,
    pub settings: Settings,
    /// Rows predicted and counted in every metric below.
    pub evaluated: usize,
    pub prediction_errors: PredictionErrors,
    pub classification: Classification,
    pub operating_point: OperatingPoint,
    pub calibration: Calibration,
    pub threshold_curve: Curve,
    pub groups: Vec<GroupResult>,
    /// Every metric that the model card also has, with the verdict.
    pub card_comparison: Vec<CardRow>,
    /// The same results as counts only, for comparing municipalities.
    pub aggregates: Aggregates,
}

/// Runs `predict` on every row and computes the report.
///
/// `predict` gets the row's input as JSON text and returns the prediction
/// or an error message; a failed row is counted and listed by line, not fatal.
pub fn evaluate<I, F>(
    info: &ComponentInfo,
    provenance: serde_json::Value,
    mut sample: SampleBinding,
    rows: I,
    mut predict: F,
    options: &Options,
) -> Result<Evaluation, ValidateError>
where
    I: IntoIterator<Item = SampleRow>,
    F: FnMut(&str) -> Result<PredictionLike, String>,
{
    let labels = &info.labels;
    let index = |l: &str| labels.iter().position(|x| x == l);
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    let mut rows_seen = 0;
    let mut truth_counts = vec![0usize; labels.len()];
    for row in rows {
        rows_seen += 1;
        let Some(truth) = index(&row.truth) else {
            errors.push(RowError {
                line: row.line,
                message: format!("label {:?} is not a label of the component", row.truth),
            });
            continue;
        };
        truth_counts[truth] += 1;
        let groups = options.group_by.iter().map(|g| g.value(&row)).collect();
        match predict(&row.input.to_string()) {
            Ok(p) => {
                let Some(pred) = index(&p.label) else {
                    errors.push(RowError {
                        line: row.line,
                        message: format!("the component returned the undeclared label {:?}", p.label),
                    });
                    continue;
                };
                let mut scores = vec![0.0; labels.len()];
                for (l, s) in &p.scores {
                    if let Some(i) = index(l) {
                        scores[i] = *s;
                    }
                }
                cases.push(Case { truth, pred, scores, requires_human_review: p.requires_human_review, groups });
            }
            Err(message) => errors.push(RowError { line: row.line, message }),
        }
    }
    if rows_seen == 0 {
        return Err(ValidateError::NoRows);
    }
    if cases.is_empty() {
        let first = &errors[0];
        return Err(ValidateError::AllFailed { count: errors.len(), line: first.line, message: first.message.clone() });
    }
    let total: usize = truth_counts.iter().sum();
    sample.prevalence =
        labels.iter().zip(&truth_counts).map(|(l, c)| (l.clone(), Estimate::proportion(*c, total))).collect();

    let card = &info.card;
    let positive = match &info.kind {
        Kind::Flag { positive, .. } => index(positive),
        _ => None,
    };
    let points = calibration::points(&cases, positive);

    // One bootstrap pass for everything that is not a proportion:
    // F1 per label, macro F1, ECE, Brier, and for a flag component binary
    // Brier and ROC AUC.
    let k = labels.len();
    let pos_scores: Vec<f64> = positive.map(|p| cases.iter().map(|c| c.scores[p]).collect()).unwrap_or_default();
    let pos_truth: Vec<bool> = positive.map(|p| cases.iter().map(|c| c.truth == p).collect()).unwrap_or_default();
    let ci = stats::bootstrap(cases.len(), options.bootstrap_resamples, options.seed, |idx| {
        let m = metrics::confusion(&cases, k, Some(idx));
        let (mut v, macro_f1) = metrics::f1_scores(&m);
        v.push(macro_f1);
        v.push(calibration::ece(&points, Some(idx)));
        v.push(calibration::brier(&cases, Some(idx)));
        if let Some(p) = positive {
            v.push(calibration::brier_positive(&cases, p, Some(idx)));
            let s: Vec<f64> = idx.iter().map(|&i| pos_scores[i]).collect();
            let t: Vec<bool> = idx.iter().map(|&i| pos_truth[i]).collect();
            v.push(metrics::roc_auc(&s, &t));
        }
        v
    });
    let ci_at = |i: usize| ci.get(i).copied().flatten();

    let mut classification = metrics::classification(&cases, labels, &ci);
    attach(&mut classification.accuracy, card, "/metrics/accuracy", Direction::HigherIsBetter);
    attach(&mut classification.macro_f1, card, "/metrics/macro_f1", Direction::HigherIsBetter);
    for lm in classification.per_label.iter_mut() {
        let base = format!("/group_results/per_class/{}", token(&lm.label));
        attach(&mut lm.precision, card, &format!("{base}/precision"), Direction::HigherIsBetter);
        attach(&mut lm.recall, card, &format!("{base}/recall"), Direction::HigherIsBetter);
        attach(&mut lm.f1, card, &format!("{base}/f1"), Direction::HigherIsBetter);
    }

    let finite = |v: f64| v.is_finite().then_some(v);
    let n = cases.len();
    let mut ece = Estimate::bootstrap(finite(calibration::ece(&points, None)), n, ci_at(k + 1));
    attach(&mut ece, card, "/metrics/ece", Direction::LowerIsBetter);
    let mut brier = Estimate::bootstrap(finite(calibration::brier(&cases, None)), n, ci_at(k + 2));
    attach(&mut brier, card, "/metrics/brier", Direction::LowerIsBetter);
    let (brier_positive, roc_auc) = match positive {
        Some(p) => {
            let mut b = Estimate::bootstrap(finite(calibration::brier_positive(&cases, p, None)), n, ci_at(k + 3));
            attach(&mut b, card, "/metrics/brier_positive", Direction::LowerIsBetter);
            let mut a = Estimate::bootstrap(finite(metrics::roc_auc(&pos_scores, &pos_truth)), n, ci_at(k + 4));
            attach(&mut a, card, "/metrics/roc_auc", Direction::HigherIsBetter);
            (Some(b), Some(a))
        }
        None => (None, None),
    };
    let calibration = Calibration {
        target: if positive.is_some() { "positive_label" } else { "top_label" }.into(),
        positive_label: positive.map(|p| labels[p].clone()),
        bins: calibration::bins(&points, None),
        ece,
        brier,
        brier_positive,
        roc_auc,
    };

    let (operating_point, threshold_curve) = match (&info.kind, positive) {
        (Kind::Review { threshold }, _) => {
            let routed_cases: Vec<&Case> = cases.iter().filter(|c| !c.requires_human_review).collect();
            let mut routed = Estimate::proportion(routed_cases.len(), n);
            let mut accuracy_routed =
                Estimate::proportion(routed_cases.iter().filter(|c| c.pred == c.truth).count(), routed_cases.len());
            attach(&mut routed, card, "/metrics/coverage_at_threshold", Direction::HigherIsBetter);
            attach(&mut accuracy_routed, card, "/metrics/accuracy_auto_routed_at_threshold", Direction::HigherIsBetter);
            (
                OperatingPoint::Review { threshold: *threshold, routed, accuracy_routed },
                Curve::Review(threshold::review_curve(&cases, card)),
            )
        }
        (Kind::Flag { positive: name, threshold }, Some(p)) => {
            let flagged_n = cases.iter().filter(|c| c.pred == p).count();
            let pos_n = cases.iter().filter(|c| c.truth == p).count();
            let tp = cases.iter().filter(|c| c.pred == p && c.truth == p).count();
            let mut flagged = Estimate::proportion(flagged_n, n);
            let mut recall = Estimate::proportion(tp, pos_n);
            let mut precision = Estimate::proportion(tp, flagged_n);
            let key = token(name);
            attach(&mut flagged, card, "/metrics/flagged_share", Direction::Neutral);
            attach(&mut recall, card, &format!("/metrics/recall_{key}"), Direction::HigherIsBetter);
            attach(&mut precision, card, &format!("/metrics/precision_{key}"), Direction::HigherIsBetter);
            (
                OperatingPoint::Flag { positive: name.clone(), threshold: *threshold, flagged, recall, precision },
                Curve::Flag(threshold::flag_curve(&cases, p, card)),
            )
        }
        _ => (OperatingPoint::Plain, Curve::Review(threshold::review_curve(&cases, card))),
    };

    let groups: Vec<GroupResult> = options
        .group_by
        .iter()
        .enumerate()
        .map(|(i, g)| group_result(&cases, i, g, &info.kind, labels, card))
        .collect();

    let mut report = Report {
        format: REPORT_FORMAT.into(),
        komp_version: env!("CARGO_PKG_VERSION").into(),
        created: format!("{:.0}", jiff::Timestamp::now()),
        component: ComponentBinding {
            name: info.name.clone(),
            version: info.version.clone(),
            digest: info.digest.clone(),
            kind: info.kind.clone(),
            labels: labels.clone(),
        },
        provenance,
        sample,
        settings: Settings {
            confidence: 0.95,
            bootstrap_resamples: options.bootstrap_resamples,
            bootstrap_seed: options.seed,
            calibration_bins: calibration::BINS,
            threshold_step: 0.01,
            group_by: options.group_by.clone(),
        },
        evaluated: n,
        prediction_errors: PredictionErrors {
            count: errors.len(),
            lines: errors.iter().take(1000).map(|e| e.line).collect(),
        },
        classification,
        operating_point,
        calibration,
        threshold_curve,
        groups,
        card_comparison: Vec::new(),
        aggregates: Aggregates::default(),
    };
    report.card_comparison = card_rows(&report);
    report.aggregates = Aggregates::from_cases(&report, &cases, &points, positive, options.site.clone());
    Ok(Evaluation { report, errors })
}

/// Every estimate that has a card value, in reading order.
fn card_rows(r: &Report) -> Vec<CardRow> {
    let mut rows = Vec::new();
    let mut push = |metric: String, e: &Estimate| {
        if e.card.is_some() {
            rows.push(CardRow { metric, estimate: e.clone() });
        }
    };
    push("accuracy".into(), &r.classification.accuracy);
    push("macro_f1".into(), &r.classification.macro_f1);
    match &r.operating_point {
        OperatingPoint::Review { routed, accuracy_routed, .. } => {
            push("operating_point.routed".into(), routed);
            push("operating_point.accuracy_routed".into(), accuracy_routed);
        }
        OperatingPoint::Flag { flagged, recall, precision, .. } => {
            push("operating_point.recall".into(), recall);
            push("operating_point.precision".into(), precision);
            push("operating_point.flagged".into(), flagged);
        }
        OperatingPoint::Plain => {}
    }
    push("calibration.ece".into(), &r.calibration.ece);
    push("calibration.brier".into(), &r.calibration.brier);
    if let Some(a) = &r.calibration.roc_auc {
        push("calibration.roc_auc".into(), a);
    }
    for l in &r.classification.per_label {
        push(format!("per_label.{}.precision", l.label), &l.precision);
        push(format!("per_label.{}.recall", l.label), &l.recall);
        push(format!("per_label.{}.f1", l.label), &l.f1);
    }
    match &r.threshold_curve {
        Curve::Review(points) => {
            for p in points {
                push(format!("threshold.{}.routed", p.threshold), &p.routed);
                push(format!("threshold.{}.accuracy_routed", p.threshold), &p.accuracy_routed);
            }
        }
        Curve::Flag(points) => {
            for p in points {
                push(format!("threshold.{}.recall", p.threshold), &p.recall);
                push(format!("threshold.{}.precision", p.threshold), &p.precision);
                push(format!("threshold.{}.flagged", p.threshold), &p.flagged);
            }
        }
    }
    for g in &r.groups {
        for v in &g.values {
            for (name, e) in &v.metrics {
                push(format!("group.{}.{}.{}", g.field, v.value, name), e);
            }
        }
    }
    rows
}

/// Counts of verdicts, for the summary line.
pub fn verdict_counts(r: &Report) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for row in &r.card_comparison {
        *m.entry(row.estimate.verdict.words().0.to_string()).or_insert(0) += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{self, SampleSpec};

    use crate::test_support::manifest;

    /// A stand-in for the component: "affald" when the body mentions skrald,
    /// else "skole"; it fails on an empty body.
    fn fake(input: &str) -> Result<PredictionLike, String> {
        let v: serde_json::Value = serde_json::from_str(input).unwrap();
        let body = v["body"].as_str().unwrap_or("");
        if body.is_empty() {
            return Err(format!("invalid input: body {body:?} is empty"));
        }
        let (label, p) = if body.contains("skrald") { ("affald", 0.9) } else { ("skole", 0.6) };
        let other = if label == "affald" { "skole" } else { "affald" };
        Ok(PredictionLike {
            label: label.into(),
            scores: vec![(label.into(), p), (other.into(), 1.0 - p)],
            requires_human_review: p < 0.8,
        })
    }

    fn run() -> (Evaluation, String) {
        let m = manifest("postsortering");
        let spec = SampleSpec::from_manifest(&m);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let mut text = String::new();
        for i in 0..40 {
            let (body, label) = match i % 4 {
                0 => ("HEMMELIG-TEKST skrald ved Jensens hus", "affald"),
                1 => ("HEMMELIG-TEKST skrald igen", "skole"),
                2 => ("HEMMELIG-TEKST min søn i 3.b", "skole"),
                _ => ("", "affald"),
            };
            let sender = ["citizen", "business"][i % 2];
            text.push_str(&format!(
                "{{\"input\":{{\"subject\":\"HEMMELIG-EMNE {i}\",\"body\":\"{body}\",\"sender_type\":\"{sender}\"}},\"label\":\"{label}\",\"district\":\"nord\"}}\n"
            ));
        }
        std::fs::write(&path, &text).unwrap();
        let s = sample::load(&path, &spec).unwrap();
        let info = ComponentInfo::from_manifest(&m, "abc", None);
        let groups = crate::groups::resolve(
            &[GroupSpec::parse("sender_type").unwrap(), GroupSpec::parse("district").unwrap()],
            &spec,
            &s.rows,
            &s.extra_columns,
        )
        .unwrap();
        let options = Options { group_by: groups, ..Options::default() };
        let binding = s.binding();
        let e = evaluate(&info, serde_json::json!({"signatures": []}), binding, s.rows, fake, &options).unwrap();
        let json = serde_json::to_string(&e.report).unwrap();
        (e, json)
    }

    #[test]
    fn failed_rows_are_counted_and_no_text_reaches_the_report() {
        let (e, json) = run();
        let r = &e.report;
        assert_eq!(r.sample.rows, 40);
        assert_eq!(r.evaluated, 30);
        assert_eq!(r.prediction_errors.count, 10);
        assert_eq!(r.prediction_errors.lines[..3], [4, 8, 12]);
        assert!(e.errors[0].message.contains("is empty"), "the message goes to the caller");
        // 10 right affald, 10 wrong (skrald but skole), 10 right skole: accuracy 20/30.
        assert_eq!(r.classification.accuracy.successes, Some(20));
        match &r.operating_point {
            OperatingPoint::Review { routed, accuracy_routed, .. } => {
                assert_eq!((routed.successes, routed.n), (Some(20), 30));
                assert_eq!((accuracy_routed.successes, accuracy_routed.n), (Some(10), 20));
            }
            other => panic!("{other:?}"),
        }
        // The card's accuracy 0.908 is above 20/30's interval: significantly worse.
        assert_eq!(r.classification.accuracy.verdict, crate::Verdict::SignificantlyWorse);
        assert!(r.card_comparison.iter().any(|c| c.metric == "accuracy"));
        assert!(r.card_comparison.iter().any(|c| c.metric == "group.sender_type.citizen.accuracy"));
        for forbidden in ["HEMMELIG", "Jensens", "is empty"] {
            assert!(!json.contains(forbidden), "report.json contains {forbidden:?}");
            let html = crate::html::render(r);
            assert!(!html.contains(forbidden), "report.html contains {forbidden:?}");
            let agg = serde_json::to_string(&r.aggregates).unwrap();
            assert!(!agg.contains(forbidden));
        }
        assert!(!serde_json::to_string(&r.aggregates).unwrap().contains("\"lines\""), "no line numbers in aggregates");
        assert_eq!(r.aggregates.n, 30);
    }

    #[test]
    fn the_same_sample_gives_the_same_report() {
        let (_, a) = run();
        let (_, b) = run();
        let strip = |s: &str| {
            let mut v: serde_json::Value = serde_json::from_str(s).unwrap();
            v["created"] = serde_json::Value::Null;
            v["aggregates"]["created"] = serde_json::Value::Null;
            v.to_string()
        };
        assert_eq!(strip(&a), strip(&b));
    }

    #[test]
    fn compare_reads_reports_and_aggregates() {
        let (e, json) = run();
        let agg_json = serde_json::to_string(&e.report.aggregates).unwrap();
        let a = Aggregates::from_json(&json).unwrap();
        let b = Aggregates::from_json(&agg_json).unwrap();
        assert_eq!(a, b);
        let table = crate::aggregate::compare_table(&[("aarhus".into(), a.clone()), ("odense".into(), b)]).unwrap();
        assert!(table.contains("aarhus") && table.contains("odense"), "{table}");
        assert!(table.contains("accuracy  ") || table.contains("accuracy "), "{table}");
        assert!(table.contains("0.667 [0.488-0.808] n=30"), "{table}");
        assert!(table.contains("sender_type=citizen accuracy"), "{table}");
        // Odense with no case right: its accuracy interval is apart from Aarhus'.
        let mut worse = a.clone();
        worse.site = Some("Odense".into());
        let m = &mut worse.confusion.matrix;
        let k = m.len();
        for l in 0..k {
            let right = m[l][l];
            m[l][l] = 0;
            m[l][(l + 1) % k] += right;
        }
        let html =
            crate::aggregate::compare_html(&[("aarhus".into(), a.clone()), ("x".into(), worse.clone())]).unwrap();
        assert!(html.contains("<th>Odense</th>"), "{html}");
        assert!(html.contains("class=\"num differs\""), "accuracy differs: {html}");
        let c = crate::aggregate::compare(&[("aarhus".into(), a.clone()), ("x".into(), worse)]).unwrap();
        assert!(c.notes.iter().any(|n| n.starts_with("accuracy: Odense differs from aarhus")), "{:?}", c.notes);
        let mut other = a.clone();
        other.component = "underretning".into();
        let err = crate::aggregate::compare_table(&[("x".into(), a), ("y".into(), other)]).unwrap_err().to_string();
        assert!(err.contains("compare reports on one component"), "{err}");
        assert!(Aggregates::from_json("{}").unwrap_err().to_string().contains("no `format` field"));
    }
}
