//! The sample-size planner: how many labelled cases are needed before anyone
//! labels anything (`komp validate plan`).
//!
//! For an expected proportion p (accuracy 0.9, or recall 0.95) and a target
//! half-width h of the 95% interval, the answer is the smallest n whose
//! Wilson interval at p is at most ±h. When the metric is measured on a
//! subset (recall is measured on the acute cases only, which are 30% of
//! notifications), the total is n divided by that share. Per group (sender
//! types with their expected shares), every group needs n cases of its
//! own, so the total is set by the rarest group.

use crate::stats::{wilson_half_width, Z95};
use serde::Serialize;
use std::fmt::Write;

/// Larger answers are refused: the target is not reachable in practice.
pub const MAX_N: usize = 100_000_000;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error("--half-width {0} must be between 0 and 0.5 (e.g. 0.05 for ±5 percentage points)")]
    HalfWidth(f64),
    #[error("--proportion {0} must be between 0 and 1 (the value you expect, e.g. 0.9 for accuracy)")]
    Proportion(f64),
    #[error("--within {0} must be between 0 and 1 (the share of cases the metric is measured on, e.g. 0.3 for recall on acute cases)")]
    Within(f64),
    #[error("--groups: {0:?} must be NAME=SHARE with a share between 0 and 1, e.g. citizen=0.6,business=0.15")]
    Group(String),
    #[error("--groups: the shares add up to {0:.3}, more than 1")]
    GroupSum(f64),
    #[error("more than {MAX_N} cases would be needed; choose a wider half-width")]
    Unreachable,
}

/// The smallest n with a Wilson half-width ≤ `half_width` at `p`.
pub fn cases_needed(p: f64, half_width: f64) -> Result<usize, PlanError> {
    if !(half_width > 0.0 && half_width <= 0.5) {
        return Err(PlanError::HalfWidth(half_width));
    }
    if !(0.0..=1.0).contains(&p) {
        return Err(PlanError::Proportion(p));
    }
    if wilson_half_width(p, MAX_N, Z95) > half_width {
        return Err(PlanError::Unreachable);
    }
    // The half width falls as n grows: binary search.
    let (mut lo, mut hi) = (1usize, MAX_N);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if wilson_half_width(p, mid, Z95) <= half_width {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(lo)
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupPlan {
    pub group: String,
    pub share: f64,
    /// Cases of this group needed.
    pub cases: usize,
    /// Labelled cases in total so this group gets its `cases`.
    pub total_for_group: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Plan {
    pub proportion: f64,
    pub half_width: f64,
    pub within: f64,
    /// Cases the metric must be computed on.
    pub cases_in_denominator: usize,
    /// Labelled cases in total (all groups, all labels).
    pub total: usize,
    pub groups: Vec<GroupPlan>,
}

/// Parses `NAME=SHARE,NAME=SHARE`.
pub fn parse_groups(s: &str) -> Result<Vec<(String, f64)>, PlanError> {
    let groups = s
        .split(',')
        .filter(|g| !g.trim().is_empty())
        .map(|g| {
            let (name, share) = g.split_once('=').ok_or_else(|| PlanError::Group(g.into()))?;
            let share: f64 = share.trim().parse().map_err(|_| PlanError::Group(g.into()))?;
            if !(share > 0.0 && share <= 1.0) {
                return Err(PlanError::Group(g.into()));
            }
            Ok((name.trim().to_string(), share))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sum: f64 = groups.iter().map(|g| g.1).sum();
    if sum > 1.0 + 1e-9 {
        return Err(PlanError::GroupSum(sum));
    }
    Ok(groups)
}

/// The plan for `proportion ± half_width`, measured on the share `within`
/// of the cases, overall and per group.
pub fn plan(proportion: f64, half_width: f64, within: f64, groups: &[(String, f64)]) -> Result<Plan, PlanError> {
    if !(within > 0.0 && within <= 1.0) {
        return Err(PlanError::Within(within));
    }
    let n = cases_needed(proportion, half_width)?;
    let total_for = |share: f64| (n as f64 / (within * share) - 1e-9).ceil() as usize;
    let groups: Vec<GroupPlan> = groups
        .iter()
        .map(|(g, share)| GroupPlan { group: g.clone(), share: *share, cases: n, total_for_group: total_for(*share) })
        .collect();
    let overall = total_for(1.0);
    let total = groups.iter().map(|g| g.total_for_group).max().unwrap_or(overall).max(overall);
    Ok(Plan { proportion, half_width, within, cases_in_denominator: n, total, groups })
}

impl Plan {
    /// The plan as the command line prints it.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "For a 95% interval of ±{:.3} around an expected {:.3}, the metric needs {} cases (Wilson).",
            self.half_width, self.proportion, self.cases_in_denominator
        );
        if self.within < 1.0 {
            let _ = writeln!(
                s,
                "It is measured on {:.1}% of the cases, so {} labelled cases in total.",
                self.within * 100.0,
                (self.cases_in_denominator as f64 / self.within).ceil() as usize
            );
        }
        if !self.groups.is_empty() {
            let _ = writeln!(s, "\nPer group (each needs {} cases of its own):", self.cases_in_denominator);
            let _ = writeln!(s, "  {:<20} {:>7} {:>14}", "group", "share", "total needed");
            for g in &self.groups {
                let _ = writeln!(s, "  {:<20} {:>6.1}% {:>14}", g.group, g.share * 100.0, g.total_for_group);
            }
        }
        let _ = writeln!(s, "\nLabel {} cases, drawn at random from the cases the component will see.", self.total);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_sample_sizes() {
        // Wald gives 1.96² · 0.9 · 0.1 / 0.05² ≈ 138.3; Wilson's extra z²/4n² term needs 141
        // (counted up one n at a time in Python from the same formula).
        let n = cases_needed(0.9, 0.05).unwrap();
        assert_eq!(n, 141);
        assert!(wilson_half_width(0.9, n, Z95) <= 0.05);
        assert!(wilson_half_width(0.9, n - 1, Z95) > 0.05, "n is the smallest");
        // p = 0.5, ±0.05: 381 (Wald 385).
        assert_eq!(cases_needed(0.5, 0.05).unwrap(), 381);
        assert_eq!(cases_needed(0.9, 0.0), Err(PlanError::HalfWidth(0.0)));
        assert_eq!(cases_needed(1.5, 0.05), Err(PlanError::Proportion(1.5)));
        assert_eq!(cases_needed(0.5, 1e-6), Err(PlanError::Unreachable));
    }

    #[test]
    fn within_and_groups() {
        let n = cases_needed(0.95, 0.05).unwrap();
        let p = plan(0.95, 0.05, 0.3, &[]).unwrap();
        assert_eq!(p.cases_in_denominator, n);
        assert_eq!(p.total, (n as f64 / 0.3).ceil() as usize);
        let groups = parse_groups("citizen=0.6, business=0.1").unwrap();
        let p = plan(0.9, 0.05, 1.0, &groups).unwrap();
        let n = p.cases_in_denominator;
        assert_eq!(p.groups[1].total_for_group, n * 10, "the rarest group sets the total");
        assert_eq!(p.total, n * 10);
        assert!(p.text().contains("business"), "{}", p.text());
        assert_eq!(parse_groups("a=0.7,b=0.6"), Err(PlanError::GroupSum(1.2999999999999998)));
        assert!(matches!(parse_groups("a"), Err(PlanError::Group(_))));
        assert!(matches!(parse_groups("a=2"), Err(PlanError::Group(_))));
        assert_eq!(plan(0.9, 0.05, 0.0, &[]), Err(PlanError::Within(0.0)));
    }
}
