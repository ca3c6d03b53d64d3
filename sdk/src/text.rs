//! Text features that every text component needs, defined once.
//!
//! This is the serving half of a contract whose training half is
//! `training/komp_features.py`; both follow `docs/text-features.md` to the bit,
//! and a test compares them on fixture texts, so a model never sees features
//! at serving time that differ from those it was trained on.
//!
//! ```
//! use komp_sdk::text;
//! assert_eq!(text::normalize("Får BØRN æbler?"), "faar boern aebler");
//! assert_eq!(text::tokens("Vej-nr. 12"), vec!["vej", "nr", "12"]);
//! let v = text::HashedText::new("Skraldespanden blev ikke tømt", 1024);
//! assert_eq!(v.values().len(), 1024);
//! ```

use unicode_normalization::UnicodeNormalization;

/// Normalises text: NFC, lowercase, Danish letters folded (`æ`→`ae`, `ø`→`oe`,
/// `å`→`aa`), NFKD, lowercase again, combining marks U+0300..=U+036F removed,
/// everything but ASCII `a-z0-9` turned into single spaces between tokens.
///
/// Folding makes a letter typed without Danish letters (`hjaelp`, `boern`)
/// give the same features as one typed with them (`hjælp`, `børn`).
///
/// ```
/// assert_eq!(komp_sdk::text::normalize("  Ærø — Ålborg! "), "aeroe aalborg");
/// ```
pub fn normalize(text: &str) -> String {
    tokens(text).join(" ")
}

/// Splits text into normalised tokens (see [`normalize`]).
///
/// ```
/// assert_eq!(komp_sdk::text::tokens("Café über 3 år"), vec!["cafe", "uber", "3", "aar"]);
/// ```
pub fn tokens(text: &str) -> Vec<String> {
    let lowered: String = text.nfc().collect::<String>().to_lowercase();
    let mut folded = String::with_capacity(lowered.len() + 8);
    for c in lowered.chars() {
        match c {
            'æ' => folded.push_str("ae"),
            'ø' => folded.push_str("oe"),
            'å' => folded.push_str("aa"),
            _ => folded.push(c),
        }
    }
    let decomposed: String = folded.nfkd().collect::<String>().to_lowercase();
    let mut out = Vec::new();
    let mut current = String::new();
    for c in decomposed.chars() {
        if ('\u{0300}'..='\u{036f}').contains(&c) {
            continue;
        }
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            current.push(c);
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The shared stop-word list (`docs/stopwords.txt`), compiled in.
const STOPWORDS_TXT: &str = include_str!("../../docs/stopwords.txt");

/// Whether `token` (normalised) is a Danish function word that produces no features.
///
/// ```
/// assert!(komp_sdk::text::is_stopword("og"));
/// assert!(!komp_sdk::text::is_stopword("ikke"));
/// ```
pub fn is_stopword(token: &str) -> bool {
    STOPWORDS_TXT.lines().map(str::trim).any(|l| !l.is_empty() && !l.starts_with('#') && l == token)
}

/// The tokens that produce features: [`tokens`] without stop words.
///
/// ```
/// assert_eq!(komp_sdk::text::content_tokens("Han slog hende i går"), vec!["slog", "gaar"]);
/// ```
pub fn content_tokens(text: &str) -> Vec<String> {
    tokens(text).into_iter().filter(|t| !is_stopword(t)).collect()
}

/// FNV-1a, 64 bit: the feature hash of the contract.
///
/// ```
/// assert_eq!(komp_sdk::text::fnv1a64(b""), 0xcbf29ce484222325);
/// ```
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Which kind of feature a [`Feature`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    /// A whole token (`w=`), weight 1.0.
    Word,
    /// Two adjacent tokens (`b=`), weight 1.0.
    Bigram,
    /// Three characters of `<token>` (`c=`), weight 0.5.
    Trigram,
}

/// One hashed feature, remembered so a contribution can be traced back to words.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub kind: FeatureKind,
    /// Index of the first token it came from.
    pub token: usize,
    /// Index into the hashed vector.
    pub index: usize,
    /// The signed raw value added at `index` (±1.0 or ±0.5), before normalisation.
    pub value: f64,
}

/// A text turned into a fixed-size, L2-normalised, feature-hashed vector, with
/// enough provenance to explain a linear model's decision word by word.
///
/// ```
/// use komp_sdk::text::HashedText;
/// let h = HashedText::new("vejen er fuld af huller", 4096);
/// let norm: f32 = h.values().iter().map(|v| v * v).sum::<f32>().sqrt();
/// assert!((norm - 1.0).abs() < 1e-5);
/// ```
#[derive(Debug, Clone)]
pub struct HashedText {
    tokens: Vec<String>,
    features: Vec<Feature>,
    raw: Vec<f64>,
    values: Vec<f32>,
}

impl HashedText {
    /// Hashes `text` into `dim` buckets. `dim` must be a power of two.
    ///
    /// # Panics
    /// If `dim` is not a power of two (a programming error in the component,
    /// caught by its first test).
    pub fn new(text: &str, dim: usize) -> HashedText {
        assert!(dim.is_power_of_two(), "feature dimension must be a power of two, got {dim}");
        let tokens = content_tokens(text);
        let mut features = Vec::new();
        let mut add = |kind: FeatureKind, token: usize, key: &str, weight: f64| {
            let h = fnv1a64(key.as_bytes());
            let index = (h & (dim as u64 - 1)) as usize;
            let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
            features.push(Feature { kind, token, index, value: sign * weight });
        };
        for (i, t) in tokens.iter().enumerate() {
            add(FeatureKind::Word, i, &format!("w={t}"), 1.0);
            if let Some(next) = tokens.get(i + 1) {
                add(FeatureKind::Bigram, i, &format!("b={t} {next}"), 1.0);
            }
            let padded: Vec<char> = format!("<{t}>").chars().collect();
            for w in padded.windows(3) {
                let tri: String = w.iter().collect();
                add(FeatureKind::Trigram, i, &format!("c={tri}"), 0.5);
            }
        }
        let mut raw = vec![0.0f64; dim];
        for f in &features {
            raw[f.index] += f.value;
        }
        let norm = raw.iter().map(|v| v * v).sum::<f64>().sqrt();
        let values = if norm > 0.0 { raw.iter().map(|v| (v / norm) as f32).collect() } else { vec![0.0; dim] };
        HashedText { tokens, features, raw, values }
    }

    /// The content tokens (normalised, stop words removed), in order.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// The features, in the order they were generated.
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// The model input: `dim` f32 values.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Splits per-index contributions (e.g. `x[i] * w[i]` of a linear model)
    /// back onto the words and two-word phrases that produced them, grouping
    /// repeats. A word gets its own feature and its character trigrams; a
    /// phrase (`"i gaar"`) gets its bigram feature, so the explanation shows
    /// "i går" as the phrase it is rather than as two stop-words.
    ///
    /// Each index's contribution is shared among the features that hashed to
    /// it in proportion to their raw values, so the parts add up to the
    /// total. The result is sorted by absolute weight, strongest first.
    ///
    /// ```
    /// use komp_sdk::text::HashedText;
    /// let h = HashedText::new("akut vold og trusler", 256);
    /// // Pretend the model's weight is +1 on every index: contributions = values.
    /// let parts = h.word_contributions(h.values());
    /// let names: Vec<&str> = parts.iter().map(|p| p.0.as_str()).collect();
    /// assert!(names.contains(&"akut") && names.contains(&"vold") && names.contains(&"akut vold"));
    /// ```
    pub fn word_contributions(&self, contributions: &[f32]) -> Vec<(String, f32)> {
        let mut grouped: Vec<(String, f64)> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for f in &self.features {
            let total = self.raw[f.index];
            let Some(c) = contributions.get(f.index) else { continue };
            if total == 0.0 {
                continue;
            }
            let share = f64::from(*c) * f.value / total;
            let key = match f.kind {
                FeatureKind::Bigram => format!("{} {}", self.tokens[f.token], self.tokens[f.token + 1]),
                _ => self.tokens[f.token].clone(),
            };
            let slot = *index.entry(key.clone()).or_insert_with(|| {
                grouped.push((key, 0.0));
                grouped.len() - 1
            });
            grouped[slot].1 += share;
        }
        let mut out: Vec<(String, f32)> = grouped.into_iter().map(|(t, w)| (t, w as f32)).collect();
        out.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_danish_letters_in_any_case_and_form() {
        assert_eq!(normalize("ÆØÅ æøå"), "aeoeaa aeoeaa");
        // decomposed å (a + combining ring) is composed first, then folded
        assert_eq!(normalize("a\u{030a}r"), "aar");
        assert_eq!(normalize("ﬁn Café"), "fin cafe");
    }

    #[test]
    fn empty_and_punctuation_give_zero_vector() {
        for t in ["", "!!! ... ---", "😀"] {
            let h = HashedText::new(t, 64);
            assert!(h.values().iter().all(|v| *v == 0.0), "{t:?}");
            assert!(h.tokens().is_empty());
        }
    }

    #[test]
    fn contributions_sum_to_total() {
        let h = HashedText::new("barnet sad alene hjemme alene", 128);
        let contrib: Vec<f32> = h.values().iter().map(|v| v * 0.5).collect();
        let words = h.word_contributions(&contrib);
        let total: f32 = words.iter().map(|w| w.1).sum();
        let expected: f32 = contrib.iter().sum();
        assert!((total - expected).abs() < 1e-4, "{total} vs {expected}");
        assert_eq!(words.iter().filter(|w| w.0 == "alene").count(), 1);
        assert!(words.iter().any(|w| w.0 == "alene hjemme"), "phrases are reported: {words:?}");
    }
}
