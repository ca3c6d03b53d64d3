//! Intervals: Wilson for proportions, a seeded percentile bootstrap for
//! everything that is not a simple proportion (F1, ECE, Brier, AUC).
//!
//! Every number in the report carries its denominator and a 95% interval,
//! because a municipality's sample is small (a few hundred cases) and a point
//! estimate alone would make noise look like a finding.

use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959963984540054;

/// The default number of bootstrap resamples.
pub const DEFAULT_RESAMPLES: usize = 1000;

/// The default bootstrap seed ("komp" in ASCII): the same sample and component
/// always give the same report, byte for byte apart from the time.
pub const DEFAULT_SEED: u64 = 0x6b6f_6d70;

/// The Wilson score interval of `successes` out of `n` at normal quantile `z`.
/// `None` when `n` is 0. Unlike the normal ("Wald") interval it stays inside
/// [0, 1] and keeps its coverage near 0 and 1, where accuracy and recall live.
pub fn wilson(successes: usize, n: usize, z: f64) -> Option<[f64; 2]> {
    if n == 0 {
        return None;
    }
    let n_f = n as f64;
    let p = successes as f64 / n_f;
    let z2 = z * z;
    let denom = 1.0 + z2 / n_f;
    let centre = (p + z2 / (2.0 * n_f)) / denom;
    let half = z * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denom;
    Some([(centre - half).max(0.0), (centre + half).min(1.0)])
}

/// Half the width of the Wilson interval at proportion `p` with `n` cases
/// (what [`crate::plan`] inverts).
pub fn wilson_half_width(p: f64, n: usize, z: f64) -> f64 {
    let n_f = n as f64;
    let z2 = z * z;
    z * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / (1.0 + z2 / n_f)
}

/// One estimate: its value, what it was computed on, and its 95% interval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Estimate {
    /// The point estimate; `null` when undefined (no case in the denominator).
    pub value: Option<f64>,
    /// The denominator: cases the proportion is taken over (for a bootstrap
    /// metric, the cases it was computed on).
    pub n: usize,
    /// The numerator of a proportion (absent for bootstrap metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successes: Option<usize>,
    /// The 95% interval, `[low, high]`.
    pub ci95: Option<[f64; 2]>,
    /// `wilson` or `bootstrap` (percentile, seeded), or `none`.
    pub method: String,
    /// The model card's value for the same metric, if the card has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<f64>,
    /// Where on the card (a JSON Pointer into `model_card`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_source: Option<String>,
    /// The card's value against this interval (see [`crate::card::Verdict`]).
    pub verdict: crate::card::Verdict,
}

impl Estimate {
    /// A proportion with its Wilson interval.
    pub fn proportion(successes: usize, n: usize) -> Estimate {
        Estimate {
            value: (n > 0).then(|| successes as f64 / n as f64),
            n,
            successes: Some(successes),
            ci95: wilson(successes, n, Z95),
            method: "wilson".into(),
            card: None,
            card_source: None,
            verdict: crate::card::Verdict::NotOnCard,
        }
    }

    /// A statistic with a bootstrap interval.
    pub fn bootstrap(value: Option<f64>, n: usize, ci95: Option<[f64; 2]>) -> Estimate {
        Estimate {
            value,
            n,
            successes: None,
            ci95,
            method: if ci95.is_some() { "bootstrap" } else { "none" }.into(),
            card: None,
            card_source: None,
            verdict: crate::card::Verdict::NotOnCard,
        }
    }
}

/// Percentile bootstrap of several statistics at once.
///
/// `stats(indices)` computes every statistic on one resample (indices into
/// the cases, drawn with replacement) and returns them in a fixed order; a
/// statistic that is undefined on a resample returns NaN there and is left
/// out of that statistic's percentiles. Returns one `[2.5%, 97.5%]` interval
/// per statistic (`None` if it was never defined). The generator is
/// ChaCha8 from `seed`, whose stream is fixed across platforms and versions,
/// so the same cases always give the same intervals.
pub fn bootstrap<F>(n: usize, resamples: usize, seed: u64, mut stats: F) -> Vec<Option<[f64; 2]>>
where
    F: FnMut(&[usize]) -> Vec<f64>,
{
    if n == 0 || resamples == 0 {
        return Vec::new();
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut idx = vec![0usize; n];
    let mut draws: Vec<Vec<f64>> = Vec::new();
    for _ in 0..resamples {
        for slot in idx.iter_mut() {
            *slot = rng.gen_range(0..n);
        }
        let values = stats(&idx);
        if draws.is_empty() {
            draws = vec![Vec::with_capacity(resamples); values.len()];
        }
        for (d, v) in draws.iter_mut().zip(values) {
            if v.is_finite() {
                d.push(v);
            }
        }
    }
    draws
        .into_iter()
        .map(|mut d| {
            if d.is_empty() {
                return None;
            }
            d.sort_by(f64::total_cmp);
            Some([percentile(&d, 0.025), percentile(&d, 0.975)])
        })
        .collect()
}

/// Linear interpolation between closest ranks (numpy's default), on sorted data.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() < tol
    }

    #[test]
    fn wilson_known_values() {
        // Reference values from statsmodels.stats.proportion.proportion_confint(method="wilson").
        let [lo, hi] = wilson(81, 263, Z95).unwrap();
        assert!(close(lo, 0.2553, 1e-4) && close(hi, 0.3662, 1e-4), "{lo} {hi}");
        let [lo, hi] = wilson(9, 10, Z95).unwrap();
        assert!(close(lo, 0.5958, 1e-4) && close(hi, 0.9821, 1e-4), "{lo} {hi}");
        // All correct: the interval ends at 1 and does not collapse to a point.
        let [lo, hi] = wilson(20, 20, Z95).unwrap();
        assert!(close(lo, 0.8389, 1e-4) && hi == 1.0, "{lo} {hi}");
        let [lo, hi] = wilson(0, 20, Z95).unwrap();
        assert!(lo == 0.0 && close(hi, 0.1611, 1e-4), "{lo} {hi}");
        assert_eq!(wilson(0, 0, Z95), None);
    }

    #[test]
    fn half_width_matches_interval() {
        // For p = successes/n the half width is half the interval (when not clipped).
        let [lo, hi] = wilson(45, 100, Z95).unwrap();
        assert!(close(wilson_half_width(0.45, 100, Z95), (hi - lo) / 2.0, 1e-12));
    }

    #[test]
    fn bootstrap_is_deterministic_and_covers_the_mean() {
        let data: Vec<f64> = (0..200).map(|i| ((i * 37) % 101) as f64 / 100.0).collect();
        let mean = |idx: &[usize]| vec![idx.iter().map(|&i| data[i]).sum::<f64>() / idx.len() as f64];
        let a = bootstrap(data.len(), 1000, DEFAULT_SEED, mean);
        let b = bootstrap(data.len(), 1000, DEFAULT_SEED, mean);
        assert_eq!(a, b, "the same seed gives the same interval");
        let c = bootstrap(data.len(), 1000, DEFAULT_SEED + 1, mean);
        assert_ne!(a, c, "another seed gives another interval");
        let [lo, hi] = a[0].unwrap();
        let m = data.iter().sum::<f64>() / data.len() as f64;
        assert!(lo < m && m < hi, "{lo} {m} {hi}");
        // Standard error of the mean of ~uniform(0,1) with n=200 is ~0.0204: the interval is ~±0.04.
        assert!(close(hi - lo, 2.0 * 1.96 * 0.0204, 0.015), "{lo} {hi}");
    }

    #[test]
    fn bootstrap_skips_undefined_statistics() {
        let r = bootstrap(10, 50, 1, |_| vec![f64::NAN, 1.0]);
        assert_eq!(r, vec![None, Some([1.0, 1.0])]);
    }

    #[test]
    fn percentile_interpolates_like_numpy() {
        let d = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&d, 0.5), 2.5);
        assert_eq!(percentile(&d, 0.0), 1.0);
        assert_eq!(percentile(&d, 1.0), 4.0);
    }
}
