//! The reference distribution of a component (`reference` in the manifest):
//! what its predictions looked like on held-out data when it was trained. A
//! host compares the live distributions of each tenant with it to see drift
//! (a model that quietly stops fitting what citizens write).
//!
//! Every distribution is a histogram: `cuts` are strictly increasing bin
//! boundaries and `shares` has one more entry than `cuts`. A value `v` falls
//! in bin `i` = the number of cuts `<= v`, so bin 0 is `(-inf, cuts[0])`,
//! bin `i` is `[cuts[i-1], cuts[i])`, and the last bin is `[cuts[last], inf)`.
//! Shares are non-negative and sum to 1.
//!
//! The definitions of the signals (so that training and host agree):
//!
//! * `labels`: share of each predicted label.
//! * `score`: the score of the predicted label.
//! * `known_share`: known content tokens / content tokens of the input text
//!   (inputs with no content tokens are left out), as in `komp_sdk::ood`.
//! * `content_tokens`: the number of content tokens of the input text.
//!
//! The last two need the component to return `details.coverage =
//! {"content_tokens": n, "known_tokens": k}` with every prediction.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Shares must sum to 1 within this.
pub const SHARE_TOLERANCE: f64 = 1e-6;
/// Most bins of one histogram (a reference is a summary, not the data).
pub const MAX_BINS: usize = 64;

/// The reference distributions of a component's predictions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// Where the distributions come from, in words (which data, how many rows).
    pub source: String,
    /// Number of predictions the distributions were computed from.
    pub n: u64,
    /// Predicted label -> share of predictions.
    pub labels: BTreeMap<String, f64>,
    /// Score of the predicted label.
    pub score: Histogram,
    /// Known content tokens / content tokens of the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_share: Option<Histogram>,
    /// Number of content tokens of the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_tokens: Option<Histogram>,
    /// Unknown content tokens / content tokens, over all reference inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_word_share: Option<f64>,
}

/// A histogram: `shares[i]` is the share of values in bin `i` (see the module docs).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Histogram {
    pub cuts: Vec<f64>,
    pub shares: Vec<f64>,
}

/// What is wrong with a `reference` block.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReferenceError {
    #[error("reference.n must be at least 1")]
    Empty,
    #[error("reference.labels names {0:?}, which is not one of the component's labels")]
    UnknownLabel(String),
    #[error("reference.{what}: {reason}")]
    BadShares { what: String, reason: String },
    #[error("reference.{what}.cuts must be finite and strictly increasing")]
    BadCuts { what: String },
    #[error(
        "reference.{what} has {shares} shares for {cuts} cuts; it needs one share more than cuts (at most {MAX_BINS})"
    )]
    BinCount { what: String, cuts: usize, shares: usize },
    #[error("reference.unknown_word_share must be between 0 and 1, got {0}")]
    BadUnknownShare(f64),
}

fn check_shares<'a>(what: &str, shares: impl IntoIterator<Item = &'a f64>) -> Result<(), ReferenceError> {
    let bad = |reason: String| ReferenceError::BadShares { what: what.to_string(), reason };
    let mut sum = 0.0;
    for s in shares {
        if !(s.is_finite() && *s >= 0.0) {
            return Err(bad(format!("share {s} is not a finite number >= 0")));
        }
        sum += s;
    }
    if (sum - 1.0).abs() > SHARE_TOLERANCE {
        return Err(bad(format!("shares sum to {sum}, not 1")));
    }
    Ok(())
}

impl Histogram {
    /// Checks cuts and shares; `what` names the histogram in errors.
    pub fn validate(&self, what: &str) -> Result<(), ReferenceError> {
        if self.shares.len() != self.cuts.len() + 1 || self.shares.len() > MAX_BINS {
            return Err(ReferenceError::BinCount {
                what: what.to_string(),
                cuts: self.cuts.len(),
                shares: self.shares.len(),
            });
        }
        if self.cuts.iter().any(|c| !c.is_finite()) || self.cuts.windows(2).any(|w| w[0] >= w[1]) {
            return Err(ReferenceError::BadCuts { what: what.to_string() });
        }
        check_shares(what, &self.shares)
    }

    /// The bin of `v` (the number of cuts `<= v`).
    pub fn bin(&self, v: f64) -> usize {
        self.cuts.partition_point(|c| *c <= v)
    }
}

impl Reference {
    /// Checks the block against the component's `labels`.
    pub fn validate(&self, labels: &[&str]) -> Result<(), ReferenceError> {
        if self.n == 0 {
            return Err(ReferenceError::Empty);
        }
        if let Some(l) = self.labels.keys().find(|l| !labels.contains(&l.as_str())) {
            return Err(ReferenceError::UnknownLabel(l.clone()));
        }
        check_shares("labels", self.labels.values())?;
        self.score.validate("score")?;
        if let Some(h) = &self.known_share {
            h.validate("known_share")?;
        }
        if let Some(h) = &self.content_tokens {
            h.validate("content_tokens")?;
        }
        if let Some(u) = self.unknown_word_share {
            if !(0.0..=1.0).contains(&u) {
                return Err(ReferenceError::BadUnknownShare(u));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Reference {
        Reference {
            source: "test".into(),
            n: 10,
            labels: [("a".to_string(), 0.25), ("b".to_string(), 0.75)].into_iter().collect(),
            score: Histogram { cuts: vec![0.5], shares: vec![0.4, 0.6] },
            known_share: None,
            content_tokens: Some(Histogram { cuts: vec![10.0, 20.0], shares: vec![0.2, 0.3, 0.5] }),
            unknown_word_share: Some(0.1),
        }
    }

    #[test]
    fn valid_reference_and_bins() {
        let r = good();
        r.validate(&["a", "b"]).unwrap();
        let h = r.content_tokens.unwrap();
        assert_eq!((h.bin(-1.0), h.bin(9.9), h.bin(10.0), h.bin(19.0), h.bin(20.0), h.bin(1e9)), (0, 0, 1, 1, 2, 2));
    }

    #[test]
    fn invalid_references_say_what_is_wrong() {
        let mut r = good();
        r.labels.insert("c".into(), 0.0);
        assert_eq!(r.validate(&["a", "b"]), Err(ReferenceError::UnknownLabel("c".into())));
        let mut r = good();
        r.labels.insert("a".into(), 0.5);
        assert!(matches!(r.validate(&["a", "b"]), Err(ReferenceError::BadShares { what, .. }) if what == "labels"));
        let mut r = good();
        r.score.cuts = vec![0.5, 0.5];
        r.score.shares = vec![0.2, 0.3, 0.5];
        assert_eq!(r.validate(&["a", "b"]), Err(ReferenceError::BadCuts { what: "score".into() }));
        let mut r = good();
        r.score.shares = vec![1.0];
        assert!(matches!(r.validate(&["a", "b"]), Err(ReferenceError::BinCount { .. })));
        let mut r = good();
        r.score.shares = vec![f64::NAN, 1.0];
        assert!(r.validate(&["a", "b"]).unwrap_err().to_string().contains("reference.score"));
        let mut r = good();
        r.n = 0;
        assert_eq!(r.validate(&["a", "b"]), Err(ReferenceError::Empty));
        let mut r = good();
        r.unknown_word_share = Some(1.5);
        assert_eq!(r.validate(&["a", "b"]), Err(ReferenceError::BadUnknownShare(1.5)));
    }

    #[test]
    fn manifest_without_reference_still_parses_and_one_with_a_bad_one_is_refused() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../components/example-feedback/manifest.json"
        ))
        .expect("example-feedback manifest");
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v.as_object_mut().unwrap().remove("reference");
        let m: crate::Manifest = serde_json::from_value(v.clone()).unwrap();
        assert!(m.reference.is_none());
        m.validate().unwrap();
        v["reference"] = serde_json::to_value(good()).unwrap();
        let m: crate::Manifest = serde_json::from_value(v).unwrap();
        let e = m.validate().unwrap_err();
        assert!(e.contains("reference.labels names \"a\""), "{e}");
    }
}
