//! Is a text outside what a text model knows? The same rules as
//! `training/ood.py` (docs/text-features.md, "Out of distribution"), so the
//! model card's review shares are what the component does.
//!
//! ```
//! use komp_sdk::ood::{check, OodLimits};
//! let known = ["skraldespand", "toemt"];
//! let r = check("Hello, my trash bin has not been emptied. Thank you", &known, &OodLimits::default());
//! assert!(r.reasons.contains(&"other_language"));
//! // A model trained on English too: English alone is no reason.
//! let r = check("Hello, my trash bin has not been emptied. Thank you", &known, &OodLimits { english_known: true, ..OodLimits::default() });
//! assert!(!r.reasons.contains(&"other_language"));
//! ```

use crate::text::{is_stopword, tokens};

/// English function words (normalised); none of them is a Danish word in normal use.
pub const ENGLISH: [&str; 40] = [
    "am", "and", "are", "be", "been", "can", "could", "dear", "do", "does", "from", "has", "have", "hello", "hi",
    "how", "is", "it", "me", "my", "not", "of", "on", "our", "please", "regards", "thank", "thanks", "that", "the",
    "there", "they", "this", "to", "was", "we", "what", "when", "with", "you",
];

/// Limits of the rules; the defaults are the documented ones.
#[derive(Debug, Clone)]
pub struct OodLimits {
    /// `too_long`: more content tokens than this.
    pub max_content_tokens: usize,
    /// `few_known_words`: fewer known content tokens than this ...
    pub min_known: usize,
    /// ... or a known share of the content tokens below this.
    pub min_known_share: f64,
    /// `other_language`: at least `min_english` English function words making up at least this share of all tokens.
    pub min_english_share: f64,
    pub min_english: usize,
    /// The model was trained on English as a second language: English alone is not `other_language` (another
    /// language is still caught by `few_known_words`). Off by default.
    pub english_known: bool,
}

impl Default for OodLimits {
    fn default() -> Self {
        OodLimits {
            max_content_tokens: 800,
            min_known: 2,
            min_known_share: 0.5,
            min_english_share: 0.15,
            min_english: 3,
            english_known: false,
        }
    }
}

/// The result: reasons (empty when the text looks like the training data) and the measurements.
#[derive(Debug, Clone, PartialEq)]
pub struct Ood {
    pub reasons: Vec<&'static str>,
    pub content_tokens: usize,
    pub known_tokens: usize,
    pub english_tokens: usize,
}

impl Ood {
    /// The `details.out_of_distribution` object of a prediction.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "reasons": self.reasons,
            "content_tokens": self.content_tokens,
            "known_tokens": self.known_tokens,
            "english_tokens": self.english_tokens,
        })
    }
}

/// Checks `text` against the rules; `known` is the model's sorted vocabulary (content tokens seen in training).
pub fn check(text: &str, known: &[&str], limits: &OodLimits) -> Ood {
    check_tokens(&tokens(text), known, limits)
}

/// [`check`] of a text already split into its tokens ([`crate::text::tokens`], stop words
/// included), e.g. [`crate::text::HashedText::all_tokens`]: a component that hashes its text
/// need not normalise it again.
///
/// ```
/// use komp_sdk::ood::{check, check_tokens, OodLimits};
/// let text = "Skraldespanden er ikke tømt";
/// let h = komp_sdk::text::HashedText::new(text, 1024);
/// let known = ["skraldespanden", "toemt"];
/// assert_eq!(check_tokens(h.all_tokens(), &known, &OodLimits::default()), check(text, &known, &OodLimits::default()));
/// ```
pub fn check_tokens(all: &[String], known: &[&str], limits: &OodLimits) -> Ood {
    let content: Vec<&String> = all.iter().filter(|t| !is_stopword(t)).collect();
    let english = all.iter().filter(|t| ENGLISH.contains(&t.as_str())).count();
    let known_n = content.iter().filter(|t| known.binary_search(&t.as_str()).is_ok()).count();
    let mut reasons = Vec::new();
    if content.is_empty() {
        reasons.push("empty_after_stop_words");
    } else {
        if known_n < limits.min_known || (known_n as f64) < limits.min_known_share * content.len() as f64 {
            reasons.push("few_known_words");
        }
        if content.len() > limits.max_content_tokens {
            reasons.push("too_long");
        }
    }
    if !limits.english_known
        && english >= limits.min_english
        && english as f64 >= limits.min_english_share * all.len() as f64
    {
        reasons.push("other_language");
    }
    Ood { reasons, content_tokens: content.len(), known_tokens: known_n, english_tokens: english }
}
