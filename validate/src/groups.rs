//! Results per group: for input fields that are categories (`sender_type`,
//! `reporter_type`), integer fields in bands (`child_age` as 0-2, 3-5, 6-12,
//! 13-17) and any extra column of the sample (`district`), with disparity
//! ratios.
//!
//! Grouping never puts text into the report: a free-text input field (`body`,
//! `text`) is refused as a group, and so is any column with more than
//! [`MAX_GROUP_VALUES`] distinct values (an id or a free-text column).

use crate::card::{attach, token, Direction, Kind};
use crate::metrics::Case;
use crate::sample::{FieldType, SampleRow, SampleSpec};
use crate::stats::Estimate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// More distinct values than this is not a grouping but an id or free text.
pub const MAX_GROUP_VALUES: usize = 50;

/// Groups with fewer cases are marked: their intervals are too wide to
/// conclude much.
pub const SMALL_GROUP: usize = 30;

/// The age bands of the standard components' cards (`per_age_group`).
pub const DEFAULT_AGE_BANDS: [(i64, i64); 4] = [(0, 2), (3, 5), (6, 12), (13, 17)];

/// What to group by: a field or column, optionally in integer bands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSpec {
    pub field: String,
    /// Inclusive integer bands; values outside every band are `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bands: Option<Vec<(i64, i64)>>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GroupError {
    #[error("--group-by {0:?}: bands must look like FIELD=0-2,3-5,6-12 (inclusive whole-number ranges)")]
    BadBands(String),
    #[error(
        "--group-by {field}: no such input field or column in the sample; input fields: {fields}; extra columns: {extra}"
    )]
    Unknown { field: String, fields: String, extra: String },
    #[error(
        "--group-by {0}: this is a free-text input field; grouping by it would put its text into the report. \
         Group by a category field or an extra column instead"
    )]
    FreeText(String),
    #[error(
        "--group-by {field}: {count} distinct values (the limit is {MAX_GROUP_VALUES}); a group column must be a \
         category such as a district or a channel, not an id or free text (for numbers, give bands: {field}=0-9,10-19)"
    )]
    TooManyValues { field: String, count: usize },
}

impl GroupSpec {
    /// `FIELD` or `FIELD=LO-HI,LO-HI,...`.
    pub fn parse(s: &str) -> Result<GroupSpec, GroupError> {
        let Some((field, bands)) = s.split_once('=') else {
            return Ok(GroupSpec { field: s.trim().to_string(), bands: None });
        };
        let bad = || GroupError::BadBands(s.to_string());
        let bands = bands
            .split(',')
            .map(|b| {
                let (lo, hi) = b.trim().split_once('-').ok_or_else(bad)?;
                let (lo, hi) =
                    (lo.trim().parse::<i64>().map_err(|_| bad())?, hi.trim().parse::<i64>().map_err(|_| bad())?);
                if lo > hi {
                    return Err(bad());
                }
                Ok((lo, hi))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GroupSpec { field: field.trim().to_string(), bands: Some(bands) })
    }

    /// The group of a row: `missing` when absent, `other` outside every band.
    pub fn value(&self, row: &SampleRow) -> String {
        let raw = match row.input.get(&self.field) {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(serde_json::Value::Bool(b)) => Some(b.to_string()),
            Some(_) => None,
            None => row.extra.get(&self.field).cloned(),
        };
        let Some(raw) = raw else { return "missing".into() };
        match &self.bands {
            None => raw,
            Some(bands) => match raw.trim().parse::<f64>() {
                Ok(v) => bands
                    .iter()
                    .find(|(lo, hi)| v >= *lo as f64 && v <= *hi as f64)
                    .map_or_else(|| "other".into(), |(lo, hi)| format!("{lo}-{hi}")),
                Err(_) => "other".into(),
            },
        }
    }

    /// The `group_results` key on the model card and the key of one value.
    fn card_keys(&self, value: &str) -> (String, String) {
        match &self.bands {
            Some(_) if self.field.ends_with("age") => {
                ("per_age_group".into(), format!("age_{}", value.replace('-', "_")))
            }
            _ => (format!("per_{}", self.field), value.to_string()),
        }
    }
}

/// The groups used when none are asked for: every categorical input field
/// (enum or boolean) and every integer field whose name ends in `age`, in
/// [`DEFAULT_AGE_BANDS`]. Extra columns only when asked for (they may be ids).
pub fn defaults(spec: &SampleSpec) -> Vec<GroupSpec> {
    spec.fields
        .iter()
        .filter_map(|f| {
            if f.ty == FieldType::Integer && f.name.ends_with("age") {
                Some(GroupSpec { field: f.name.clone(), bands: Some(DEFAULT_AGE_BANDS.to_vec()) })
            } else if f.categorical {
                Some(GroupSpec { field: f.name.clone(), bands: None })
            } else {
                None
            }
        })
        .collect()
}

/// Checks the asked-for groups against the schema and the sample; an
/// integer field named `…age` without bands gets [`DEFAULT_AGE_BANDS`].
pub fn resolve(
    asked: &[GroupSpec],
    spec: &SampleSpec,
    rows: &[SampleRow],
    extra: &[String],
) -> Result<Vec<GroupSpec>, GroupError> {
    let mut out = Vec::new();
    for g in asked {
        let mut g = g.clone();
        match spec.field(&g.field) {
            Some(f) if f.ty == FieldType::String && !f.categorical => return Err(GroupError::FreeText(g.field)),
            Some(f) if f.ty == FieldType::Integer && g.bands.is_none() && f.name.ends_with("age") => {
                g.bands = Some(DEFAULT_AGE_BANDS.to_vec())
            }
            Some(_) => {}
            None if extra.contains(&g.field) => {}
            None => {
                return Err(GroupError::Unknown {
                    field: g.field,
                    fields: spec.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
                    extra: if extra.is_empty() { "none".into() } else { extra.join(", ") },
                })
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for r in rows {
            seen.insert(g.value(r));
            if seen.len() > MAX_GROUP_VALUES {
                let count = count_distinct(&g, rows);
                return Err(GroupError::TooManyValues { field: g.field, count });
            }
        }
        out.push(g);
    }
    Ok(out)
}

fn count_distinct(g: &GroupSpec, rows: &[SampleRow]) -> usize {
    rows.iter().map(|r| g.value(r)).collect::<std::collections::BTreeSet<_>>().len()
}

/// The metrics of one set of cases at the component's own decisions.
///
/// All kinds: `accuracy`. Review: `routed` (share without review, as the
/// component decided) and `accuracy_routed`. Flag: `prevalence` (share
/// truly positive), `flagged`, `recall`, `precision`.
pub fn group_metrics(cases: &[&Case], kind: &Kind, positive: Option<usize>) -> BTreeMap<String, Estimate> {
    let n = cases.len();
    let mut m = BTreeMap::new();
    m.insert("accuracy".into(), Estimate::proportion(cases.iter().filter(|c| c.pred == c.truth).count(), n));
    match (kind, positive) {
        (Kind::Review { .. }, _) => {
            let routed: Vec<&&Case> = cases.iter().filter(|c| !c.requires_human_review).collect();
            let correct = routed.iter().filter(|c| c.pred == c.truth).count();
            m.insert("routed".into(), Estimate::proportion(routed.len(), n));
            m.insert("accuracy_routed".into(), Estimate::proportion(correct, routed.len()));
        }
        (Kind::Flag { .. }, Some(p)) => {
            let pos = cases.iter().filter(|c| c.truth == p).count();
            let flagged = cases.iter().filter(|c| c.pred == p).count();
            let tp = cases.iter().filter(|c| c.pred == p && c.truth == p).count();
            m.insert("prevalence".into(), Estimate::proportion(pos, n));
            m.insert("flagged".into(), Estimate::proportion(flagged, n));
            m.insert("recall".into(), Estimate::proportion(tp, pos));
            m.insert("precision".into(), Estimate::proportion(tp, flagged));
        }
        _ => {}
    }
    m
}

/// Which way each group metric is better, and its name on the card.
fn metric_card(name: &str, positive: Option<&str>) -> (Direction, Option<String>) {
    match name {
        "accuracy" => (Direction::HigherIsBetter, Some("accuracy".into())),
        "recall" => (Direction::HigherIsBetter, Some("recall".into())),
        "precision" => (Direction::HigherIsBetter, Some("precision".into())),
        "flagged" => (Direction::Neutral, Some("positive_rate".into())),
        "prevalence" => (Direction::Neutral, positive.map(|p| format!("{p}_rate"))),
        "accuracy_routed" => (Direction::HigherIsBetter, None),
        _ => (Direction::Neutral, None),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupValue {
    pub value: String,
    pub n: usize,
    /// Fewer than [`SMALL_GROUP`] cases: read the interval, not the value.
    pub small: bool,
    pub metrics: BTreeMap<String, Estimate>,
    /// Each metric divided by the same metric over the whole sample.
    pub ratio_to_overall: BTreeMap<String, Option<f64>>,
}

/// The spread of one metric across the groups of a field.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Disparity {
    /// Lowest group value / highest group value (1 = no disparity), over
    /// groups where the metric is defined.
    pub min_over_max: Option<f64>,
    pub lowest: Option<String>,
    pub highest: Option<String>,
    /// The lowest and highest groups' intervals do not overlap.
    pub intervals_separate: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupResult {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bands: Option<Vec<(i64, i64)>>,
    pub values: Vec<GroupValue>,
    pub disparity: BTreeMap<String, Disparity>,
}

/// Per-group results for one group spec (`index` into [`Case::groups`]).
pub fn group_result(
    cases: &[Case],
    index: usize,
    spec: &GroupSpec,
    kind: &Kind,
    labels: &[String],
    card: &serde_json::Value,
) -> GroupResult {
    let positive_label = match kind {
        Kind::Flag { positive, .. } => Some(positive.as_str()),
        _ => None,
    };
    let positive = positive_label.and_then(|p| labels.iter().position(|l| l == p));
    let all: Vec<&Case> = cases.iter().collect();
    let overall = group_metrics(&all, kind, positive);
    let mut by_value: BTreeMap<String, Vec<&Case>> = BTreeMap::new();
    for c in cases {
        by_value.entry(c.groups[index].clone()).or_default().push(c);
    }
    let order = |v: &str| -> (u8, i64, String) {
        let band = spec.bands.as_ref().and_then(|b| b.iter().position(|(lo, hi)| v == format!("{lo}-{hi}")));
        match (v, band) {
            ("missing", _) => (3, 0, String::new()),
            ("other", _) => (2, 0, String::new()),
            (_, Some(i)) => (0, i as i64, String::new()),
            _ => (1, 0, v.to_string()),
        }
    };
    let mut keys: Vec<String> = by_value.keys().cloned().collect();
    keys.sort_by_key(|k| order(k));
    let values: Vec<GroupValue> = keys
        .into_iter()
        .map(|value| {
            let members = &by_value[&value];
            let mut metrics = group_metrics(members, kind, positive);
            let (group_key, value_key) = spec.card_keys(&value);
            for (name, est) in metrics.iter_mut() {
                let (direction, card_name) = metric_card(name, positive_label);
                match card_name {
                    Some(cn) => {
                        let pointer =
                            format!("/group_results/{}/{}/{}", token(&group_key), token(&value_key), token(&cn));
                        attach(est, card, &pointer, direction);
                    }
                    None => est.verdict = crate::card::Verdict::NotOnCard,
                }
            }
            let ratio_to_overall = metrics
                .iter()
                .map(|(k, e)| {
                    let r = match (e.value, overall.get(k).and_then(|o| o.value)) {
                        (Some(v), Some(o)) if o > 0.0 => Some(v / o),
                        _ => None,
                    };
                    (k.clone(), r)
                })
                .collect();
            GroupValue { value, n: members.len(), small: members.len() < SMALL_GROUP, metrics, ratio_to_overall }
        })
        .collect();
    let mut disparity = BTreeMap::new();
    for name in overall.keys() {
        let defined: Vec<(&GroupValue, &Estimate)> =
            values.iter().filter_map(|g| g.metrics.get(name).filter(|e| e.value.is_some()).map(|e| (g, e))).collect();
        let lowest = defined.iter().min_by(|a, b| a.1.value.unwrap().total_cmp(&b.1.value.unwrap()));
        let highest = defined.iter().max_by(|a, b| a.1.value.unwrap().total_cmp(&b.1.value.unwrap()));
        let d = match (lowest, highest) {
            (Some(lo), Some(hi)) => Disparity {
                min_over_max: (hi.1.value.unwrap() > 0.0).then(|| lo.1.value.unwrap() / hi.1.value.unwrap()),
                lowest: Some(lo.0.value.clone()),
                highest: Some(hi.0.value.clone()),
                intervals_separate: match (lo.1.ci95, hi.1.ci95) {
                    (Some([_, lo_hi]), Some([hi_lo, _])) => lo_hi < hi_lo,
                    _ => false,
                },
            },
            _ => Disparity { min_over_max: None, lowest: None, highest: None, intervals_separate: false },
        };
        disparity.insert(name.clone(), d);
    }
    GroupResult { field: spec.field.clone(), bands: spec.bands.clone(), values, disparity }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::Verdict;

    fn row(input: serde_json::Value, extra: &[(&str, &str)]) -> SampleRow {
        SampleRow {
            line: 1,
            input,
            truth: "acute".into(),
            extra: extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    fn spec(name: &str) -> SampleSpec {
        SampleSpec::from_manifest(&crate::test_support::manifest(name))
    }

    #[test]
    fn parse_and_values() {
        let g = GroupSpec::parse("child_age=0-2,3-5,6-12,13-17").unwrap();
        assert_eq!(g.bands.as_ref().unwrap().len(), 4);
        assert_eq!(g.value(&row(serde_json::json!({"child_age": 4}), &[])), "3-5");
        assert_eq!(g.value(&row(serde_json::json!({"child_age": 13}), &[])), "13-17");
        assert_eq!(g.value(&row(serde_json::json!({"child_age": 30}), &[])), "other");
        assert_eq!(g.value(&row(serde_json::json!({}), &[])), "missing");
        let d = GroupSpec::parse("district").unwrap();
        assert_eq!(d.value(&row(serde_json::json!({}), &[("district", "nord")])), "nord");
        assert!(matches!(GroupSpec::parse("age=3-1"), Err(GroupError::BadBands(_))));
        assert!(matches!(GroupSpec::parse("age=a-b"), Err(GroupError::BadBands(_))));
    }

    #[test]
    fn defaults_and_refusals() {
        let u = spec("underretning");
        let d = defaults(&u);
        let names: Vec<&str> = d.iter().map(|g| g.field.as_str()).collect();
        assert_eq!(names, vec!["reporter_type", "child_age", "known_to_municipality"]);
        assert_eq!(d[1].bands.as_deref(), Some(&DEFAULT_AGE_BANDS[..]));
        let rows = vec![row(serde_json::json!({"text": "x", "child_age": 3}), &[("id", "1")])];
        let e = resolve(&[GroupSpec::parse("text").unwrap()], &u, &rows, &[]).unwrap_err();
        assert_eq!(e, GroupError::FreeText("text".into()));
        assert!(e.to_string().contains("would put its text into the report"));
        let e = resolve(&[GroupSpec::parse("kommune").unwrap()], &u, &rows, &["id".into()]).unwrap_err();
        assert!(e.to_string().contains("no such input field or column"), "{e}");
        assert!(e.to_string().contains("extra columns: id"), "{e}");
        let many: Vec<SampleRow> = (0..60).map(|i| row(serde_json::json!({}), &[("id", &i.to_string())])).collect();
        let e = resolve(&[GroupSpec::parse("id").unwrap()], &u, &many, &["id".into()]).unwrap_err();
        assert_eq!(e, GroupError::TooManyValues { field: "id".into(), count: 60 });
        let ok = resolve(&[GroupSpec::parse("child_age").unwrap()], &u, &rows, &[]).unwrap();
        assert_eq!(ok[0].bands.as_deref(), Some(&DEFAULT_AGE_BANDS[..]), "age fields get the card's bands");
    }

    fn case(truth: usize, pred: usize, group: &str) -> Case {
        let mut scores = vec![0.0, 0.0];
        scores[pred] = 1.0;
        Case { truth, pred, scores, requires_human_review: false, groups: vec![group.into()] }
    }

    #[test]
    fn flag_groups_with_disparity_and_card() {
        // Group "a": 4 positives, 3 flagged of them, 1 negative flagged.  Group "b": 2 positives both flagged.
        let mut cases = vec![case(0, 0, "a"), case(0, 0, "a"), case(0, 0, "a"), case(0, 1, "a"), case(1, 0, "a")];
        cases.extend([case(0, 0, "b"), case(0, 0, "b"), case(1, 1, "b")]);
        let labels = vec!["acute".to_string(), "not_acute".to_string()];
        let kind = Kind::Flag { positive: "acute".into(), threshold: 0.5 };
        let card =
            serde_json::json!({"group_results": {"per_district": {"a": {"recall": 0.75, "positive_rate": 0.99}}}});
        let g = group_result(&cases, 0, &GroupSpec::parse("district").unwrap(), &kind, &labels, &card);
        assert_eq!(g.values.iter().map(|v| v.value.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
        let a = &g.values[0];
        assert_eq!(a.n, 5);
        assert!(a.small);
        assert_eq!(a.metrics["recall"].value, Some(0.75));
        assert_eq!(a.metrics["precision"].value, Some(0.75));
        assert_eq!(a.metrics["flagged"].value, Some(0.8));
        assert_eq!(a.metrics["recall"].verdict, Verdict::AsCard);
        assert_eq!(a.metrics["flagged"].verdict, Verdict::SignificantlyLower, "0.99 is above 4/5's interval");
        assert_eq!(a.metrics["precision"].verdict, Verdict::NotOnCard);
        // overall recall 5/6; a: 0.75 -> ratio 0.9
        assert!((a.ratio_to_overall["recall"].unwrap() - 0.75 / (5.0 / 6.0)).abs() < 1e-12);
        let d = &g.disparity["recall"];
        assert_eq!((d.lowest.as_deref(), d.highest.as_deref()), (Some("a"), Some("b")));
        assert!((d.min_over_max.unwrap() - 0.75).abs() < 1e-12);
        assert!(!d.intervals_separate);
    }

    #[test]
    fn age_bands_map_to_the_cards_age_groups() {
        let g = GroupSpec::parse("child_age=0-2,3-5").unwrap();
        assert_eq!(g.card_keys("0-2"), ("per_age_group".to_string(), "age_0_2".to_string()));
        assert_eq!(
            GroupSpec::parse("sender_type").unwrap().card_keys("missing"),
            ("per_sender_type".into(), "missing".into())
        );
    }
}
