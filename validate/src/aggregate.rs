//! Aggregates: a report as counts only, to compare municipalities without
//! pooling their data (issue 13 item 6).
//!
//! An aggregates file holds the confusion matrix, the calibration bins, the
//! operating point and threshold counts, and per-group counts: no text, no
//! ids, no line numbers. `komp validate compare` puts several side by side,
//! recomputing every proportion and its Wilson interval from the counts.

use crate::calibration::{self, Point};
use crate::card::Kind;
use crate::metrics::{self, Case, Confusion};
use crate::report::Report;
use crate::stats::Estimate;
use crate::threshold::{at_or_above, grid};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

pub const AGGREGATES_FORMAT: &str = "komp-validation-aggregates/1";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BinCounts {
    pub lower: f64,
    pub upper: f64,
    pub n: usize,
    pub score_sum: f64,
    pub hits: usize,
}

/// At one threshold: cases selected (routed without review, or flagged) and,
/// of those, correct (review) or truly positive (flag).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ThresholdCounts {
    pub threshold: f64,
    pub selected: usize,
    pub selected_hits: usize,
}

/// One group value: cases, correct, selected by the component's decision
/// (routed / flagged), hits among selected, positives (flag).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct GroupCounts {
    pub value: String,
    pub n: usize,
    pub correct: usize,
    pub selected: usize,
    pub selected_hits: usize,
    pub positives: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct GroupFieldCounts {
    pub field: String,
    pub values: Vec<GroupCounts>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Aggregates {
    pub format: String,
    /// The municipality or site (`--site`), if given.
    pub site: Option<String>,
    pub component: String,
    pub version: String,
    pub digest: String,
    pub kind: Option<Kind>,
    pub sample_sha256: String,
    pub created: String,
    pub komp_version: String,
    /// Cases evaluated, and rows that failed.
    pub n: usize,
    pub prediction_errors: usize,
    pub confusion: Confusion,
    pub calibration_target: String,
    pub calibration_bins: Vec<BinCounts>,
    /// Sum over cases of the multi-class Brier score (mean = sum / n).
    pub brier_sum: f64,
    /// Cases whose truth is the positive label (flag components).
    pub positives: usize,
    /// The component's own decision: selected and hits (see [`ThresholdCounts`]).
    pub operating_point: ThresholdCounts,
    pub thresholds: Vec<ThresholdCounts>,
    pub groups: Vec<GroupFieldCounts>,
}

impl Aggregates {
    pub fn from_cases(
        report: &Report,
        cases: &[Case],
        points: &[Point],
        positive: Option<usize>,
        site: Option<String>,
    ) -> Aggregates {
        let kind = report.component.kind.clone();
        // What "selected" and "hit" mean for this kind, at a threshold or at
        // the component's own decision (`None`).
        let selected = |c: &Case, t: Option<f64>| match (positive, t) {
            (Some(p), Some(t)) => at_or_above(c.scores[p], t),
            (Some(p), None) => c.pred == p,
            (None, Some(t)) => at_or_above(c.top().1, t),
            (None, None) => !c.requires_human_review,
        };
        let hit = |c: &Case| match positive {
            Some(p) => c.truth == p,
            None => c.pred == c.truth,
        };
        let count = |cs: &[&Case], t: Option<f64>| ThresholdCounts {
            threshold: t.unwrap_or(match &kind {
                Kind::Review { threshold } | Kind::Flag { threshold, .. } => *threshold,
                Kind::Plain => 0.0,
            }),
            selected: cs.iter().filter(|c| selected(c, t)).count(),
            selected_hits: cs.iter().filter(|c| selected(c, t) && hit(c)).count(),
        };
        let all: Vec<&Case> = cases.iter().collect();
        let groups = report
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| GroupFieldCounts {
                field: g.field.clone(),
                values: g
                    .values
                    .iter()
                    .map(|v| {
                        let members: Vec<&Case> = cases.iter().filter(|c| c.groups[i] == v.value).collect();
                        let op = count(&members, None);
                        GroupCounts {
                            value: v.value.clone(),
                            n: members.len(),
                            correct: members.iter().filter(|c| c.pred == c.truth).count(),
                            selected: op.selected,
                            selected_hits: op.selected_hits,
                            positives: positive.map_or(0, |p| members.iter().filter(|c| c.truth == p).count()),
                        }
                    })
                    .collect(),
            })
            .collect();
        Aggregates {
            format: AGGREGATES_FORMAT.into(),
            site,
            component: report.component.name.clone(),
            version: report.component.version.clone(),
            digest: report.component.digest.clone(),
            kind: Some(kind.clone()),
            sample_sha256: report.sample.sha256.clone(),
            created: report.created.clone(),
            komp_version: report.komp_version.clone(),
            n: cases.len(),
            prediction_errors: report.prediction_errors.count,
            confusion: report.classification.confusion.clone(),
            calibration_target: report.calibration.target.clone(),
            calibration_bins: calibration::bins(points, None)
                .into_iter()
                .map(|b| BinCounts { lower: b.lower, upper: b.upper, n: b.n, score_sum: b.score_sum, hits: b.hits })
                .collect(),
            brier_sum: cases.iter().map(calibration::brier_case).sum(),
            positives: positive.map_or(0, |p| cases.iter().filter(|c| c.truth == p).count()),
            operating_point: count(&all, None),
            thresholds: grid().into_iter().map(|t| count(&all, Some(t))).collect(),
            groups,
        }
    }

    /// Reads an aggregates file, or the `aggregates` of a full report.
    pub fn from_json(text: &str) -> Result<Aggregates, CompareError> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(CompareError::NotJson)?;
        let inner = match v.get("format").and_then(|f| f.as_str()) {
            Some(crate::report::REPORT_FORMAT) => v.get("aggregates").cloned().unwrap_or_default(),
            Some(AGGREGATES_FORMAT) => v,
            Some(other) => return Err(CompareError::UnknownFormat { format: other.chars().take(80).collect() }),
            None => return Err(CompareError::NoFormat),
        };
        serde_json::from_value(inner).map_err(CompareError::NotAggregates)
    }

    fn name(&self, fallback: &str) -> String {
        self.site.clone().unwrap_or_else(|| fallback.to_string())
    }

    fn positive(&self) -> Option<&str> {
        match &self.kind {
            Some(Kind::Flag { positive, .. }) => Some(positive),
            _ => None,
        }
    }

    /// The rows of the comparison, as (metric, estimate) in display order.
    pub fn rows(&self) -> Vec<(String, Estimate)> {
        let m = &self.confusion.matrix;
        let correct: u64 = (0..m.len()).map(|i| m[i][i]).sum();
        let mut rows = vec![("accuracy".to_string(), Estimate::proportion(correct as usize, self.n))];
        let (_, macro_f1) = metrics::f1_scores(m);
        rows.push(("macro F1".into(), Estimate::bootstrap(macro_f1.is_finite().then_some(macro_f1), self.n, None)));
        let ece = calibration::ece_of_bins(
            &self
                .calibration_bins
                .iter()
                .map(|b| calibration::Bin {
                    lower: b.lower,
                    upper: b.upper,
                    n: b.n,
                    score_sum: b.score_sum,
                    hits: b.hits,
                    mean_score: None,
                    observed: Estimate::proportion(b.hits, b.n),
                })
                .collect::<Vec<_>>(),
        );
        rows.push((
            format!("ECE ({})", self.calibration_target),
            Estimate::bootstrap(ece.is_finite().then_some(ece), self.n, None),
        ));
        if self.n > 0 {
            rows.push(("Brier".into(), Estimate::bootstrap(Some(self.brier_sum / self.n as f64), self.n, None)));
        }
        let op = &self.operating_point;
        match self.positive() {
            Some(p) => {
                rows.push((
                    format!("recall {p} @ {}", op.threshold),
                    Estimate::proportion(op.selected_hits, self.positives),
                ));
                rows.push((
                    format!("precision {p} @ {}", op.threshold),
                    Estimate::proportion(op.selected_hits, op.selected),
                ));
                rows.push((format!("flagged @ {}", op.threshold), Estimate::proportion(op.selected, self.n)));
            }
            None => {
                rows.push((
                    format!("routed without review @ {}", op.threshold),
                    Estimate::proportion(op.selected, self.n),
                ));
                rows.push((
                    format!("accuracy routed @ {}", op.threshold),
                    Estimate::proportion(op.selected_hits, op.selected),
                ));
            }
        }
        for (l, label) in self.confusion.labels.iter().enumerate() {
            let support: u64 = m[l].iter().sum();
            rows.push((format!("recall {label}"), Estimate::proportion(m[l][l] as usize, support as usize)));
        }
        for g in &self.groups {
            for v in &g.values {
                match self.positive() {
                    Some(_) => rows.push((
                        format!("{}={} recall", g.field, v.value),
                        Estimate::proportion(v.selected_hits, v.positives),
                    )),
                    None => {
                        rows.push((format!("{}={} accuracy", g.field, v.value), Estimate::proportion(v.correct, v.n)))
                    }
                }
            }
        }
        rows
    }
}

/// Several aggregates side by side: one column per file, one row per metric.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub component: String,
    /// `version digest-prefix` of each file, deduplicated.
    pub versions: Vec<String>,
    pub columns: Vec<String>,
    pub metrics: Vec<String>,
    /// `cells[metric][column]`.
    pub cells: Vec<Vec<Option<Estimate>>>,
    /// Metrics where a file's interval does not overlap the first file's.
    pub notes: Vec<String>,
}

/// Why files cannot be read or compared as validation aggregates.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("not valid JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("unknown format {format:?}; expected a komp validation report or aggregates")]
    UnknownFormat { format: String },
    #[error("no `format` field: not a komp validation report or aggregates file")]
    NoFormat,
    #[error("not a valid aggregates file: {0}")]
    NotAggregates(serde_json::Error),
    #[error("nothing to compare")]
    Nothing,
    #[error("{name} is a report on `{component}`, the first file on `{first}`: compare reports on one component")]
    OtherComponent { name: String, component: String, first: String },
}

/// Lines the files up; files on different components are refused.
pub fn compare(files: &[(String, Aggregates)]) -> Result<Comparison, CompareError> {
    let Some((_, first)) = files.first() else { return Err(CompareError::Nothing) };
    if let Some((name, a)) = files.iter().find(|(_, a)| a.component != first.component) {
        return Err(CompareError::OtherComponent {
            name: name.clone(),
            component: a.component.clone(),
            first: first.component.clone(),
        });
    }
    let columns: Vec<(String, Vec<(String, Estimate)>)> = files.iter().map(|(n, a)| (a.name(n), a.rows())).collect();
    // Metric names in first-seen order across all files.
    let mut metrics: Vec<String> = Vec::new();
    for (_, rows) in &columns {
        for (m, _) in rows {
            if !metrics.contains(m) {
                metrics.push(m.clone());
            }
        }
    }
    let cells: Vec<Vec<Option<Estimate>>> = metrics
        .iter()
        .map(|m| columns.iter().map(|(_, rows)| rows.iter().find(|(n, _)| n == m).map(|(_, e)| e.clone())).collect())
        .collect();
    let mut notes = Vec::new();
    for (m, row) in metrics.iter().zip(&cells) {
        let first_ci = row[0].as_ref().and_then(|e| e.ci95);
        for (j, e) in row.iter().enumerate().skip(1) {
            if let (Some([a_lo, a_hi]), Some([b_lo, b_hi])) = (first_ci, e.as_ref().and_then(|e| e.ci95)) {
                if b_hi < a_lo || b_lo > a_hi {
                    notes.push(format!(
                        "{m}: {} differs from {} (intervals do not overlap)",
                        columns[j].0, columns[0].0
                    ));
                }
            }
        }
    }
    let mut versions: Vec<String> =
        files.iter().map(|(_, a)| format!("{} {}", a.version, &a.digest[..a.digest.len().min(12)])).collect();
    versions.dedup();
    Ok(Comparison {
        component: first.component.clone(),
        versions,
        columns: columns.into_iter().map(|(n, _)| n).collect(),
        metrics,
        cells,
        notes,
    })
}

fn cell_text(e: Option<&Estimate>) -> String {
    match e {
        None => "-".into(),
        Some(e) => match (e.value, e.ci95) {
            (Some(v), Some([lo, hi])) => format!("{v:.3} [{lo:.3}-{hi:.3}] n={}", e.n),
            (Some(v), None) => format!("{v:.3} n={}", e.n),
            (None, _) => format!("- n={}", e.n),
        },
    }
}

/// The comparison as a text table (value, 95% interval, n per cell).
pub fn compare_table(files: &[(String, Aggregates)]) -> Result<String, CompareError> {
    let c = compare(files)?;
    let cells: Vec<Vec<String>> =
        c.cells.iter().map(|row| row.iter().map(|e| cell_text(e.as_ref())).collect()).collect();
    let width = c.metrics.iter().map(|m| m.chars().count()).max().unwrap_or(6).max(6);
    let col_w: Vec<usize> = (0..c.columns.len())
        .map(|j| cells.iter().map(|r| r[j].chars().count()).chain([c.columns[j].chars().count()]).max().unwrap_or(8))
        .collect();
    let mut out = String::new();
    let _ = writeln!(out, "component {} (versions: {})", c.component, c.versions.join(", "));
    let _ = write!(out, "{:width$}", "metric");
    for (j, name) in c.columns.iter().enumerate() {
        let _ = write!(out, "  {:w$}", name, w = col_w[j]);
    }
    out.push('\n');
    for (m, row) in c.metrics.iter().zip(&cells) {
        let _ = write!(out, "{m:width$}");
        for (j, cell) in row.iter().enumerate() {
            let _ = write!(out, "  {:w$}", cell, w = col_w[j]);
        }
        out.push('\n');
    }
    if !c.notes.is_empty() {
        out.push('\n');
        for n in &c.notes {
            let _ = writeln!(out, "{n}");
        }
    }
    Ok(out)
}

/// The comparison as a self-contained HTML page; a cell whose interval does
/// not overlap the first column's is marked.
pub fn compare_html(files: &[(String, Aggregates)]) -> Result<String, CompareError> {
    use crate::html::escape;
    let c = compare(files)?;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"da\"><head><meta charset=\"utf-8\"><title>Sammenligning: {comp}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;\
         padding:3px 8px;font-size:.92em}}th{{background:#f4f4f4}}td.num{{text-align:right}}td.differs{{background:#fde2e2}}\
         </style></head><body><h1>Sammenligning af <code>{comp}</code> på tværs af kommuner</h1>\
         <p>Kun optællinger (aggregater): ingen tekster, ingen id'er. Versioner: {versions}. Værdi [95% interval] n; \
         rødt: intervallet overlapper ikke første kolonnes.</p><table><tr><th>mål</th>",
        comp = escape(&c.component),
        versions = escape(&c.versions.join(", "))
    );
    for col in &c.columns {
        let _ = write!(h, "<th>{}</th>", escape(col));
    }
    let _ = write!(h, "</tr>");
    for (m, row) in c.metrics.iter().zip(&c.cells) {
        let _ = write!(h, "<tr><td>{}</td>", escape(m));
        let first = row[0].as_ref().and_then(|e| e.ci95);
        for (j, e) in row.iter().enumerate() {
            let differs = j > 0
                && matches!((first, e.as_ref().and_then(|e| e.ci95)), (Some([a, b]), Some([x, y])) if y < a || x > b);
            let class = if differs { "num differs" } else { "num" };
            let _ = write!(h, "<td class=\"{class}\">{}</td>", escape(&cell_text(e.as_ref())));
        }
        let _ = write!(h, "</tr>");
    }
    let _ = write!(h, "</table></body></html>");
    Ok(h)
}
