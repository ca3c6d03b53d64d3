//! Text features that every text component needs, defined once.
//!
//! This is the serving half of a contract whose training half is
//! `training/komp_train/features.py` (`komp_train.features`); both follow `docs/text-features.md` to the bit,
//! and a test compares them on fixture texts, so a model never sees features
//! at serving time that differ from those it was trained on.
//!
//! ```
//! use komp_sdk::text;
//! assert_eq!(text::normalize("Får BØRN æbler?"), "faar boern aebler");
//! assert_eq!(text::tokens("Vej-nr. 12"), vec!["vej", "nr", "12"]);
//! let v = text::HashedText::new("Skraldespanden blev ikke tømt", 1024);
//! assert_eq!(v.ids().len(), v.weights().len());
//! ```

use unicode_normalization::{is_nfc_quick, is_nfkd_quick, IsNormalized, UnicodeNormalization};

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
    tokens_with_breaks(text).into_iter().map(|(t, _)| t).collect()
}

/// [`tokens`], each with whether it ends a clause: one of `. ! ? ;` or a line
/// feed is among the characters between it and the next token (step 9a of
/// `docs/text-features.md`).
///
/// ```
/// let t = komp_sdk::text::tokens_with_breaks("Ingen vold. Far slog");
/// assert_eq!(t, vec![("ingen".into(), false), ("vold".into(), true), ("far".into(), false), ("slog".into(), false)]);
/// ```
pub fn tokens_with_breaks(text: &str) -> Vec<(String, bool)> {
    tokens_with_ends(text).0.into_iter().map(|t| (t.token, t.clause)).collect()
}

/// A token and what the characters between it and the next token (or the end
/// of the text) hold (step 10a of `docs/text-features.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEnd {
    pub token: String,
    /// One of `. ! ? ;` or a line feed: the token ends a clause (step 9a).
    pub clause: bool,
    /// A `?`: the clause is a question.
    pub question: bool,
    /// A line feed: the token ends a line.
    pub line: bool,
}

/// [`tokens`] with their [`TokenEnd`]s, and whether a line feed comes before
/// the first token (then the text has no subject line).
///
/// ```
/// let (t, lead) = komp_sdk::text::tokens_with_ends("Pas?\nHej");
/// assert!(t[0].clause && t[0].question && t[0].line && !lead);
/// assert!(!t[1].clause);
/// ```
pub fn tokens_with_ends(text: &str) -> (Vec<TokenEnd>, bool) {
    // Most text is already NFC (Danish letters typed precomposed), and after folding
    // æ/ø/å most of it is ASCII, hence already NFKD: the quick checks (exact when they
    // answer `Yes`) skip those two full normalisation passes, which in a component run
    // as wasm on every call.
    let nfc: std::borrow::Cow<'_, str> = match is_nfc_quick(text.chars()) {
        IsNormalized::Yes => std::borrow::Cow::Borrowed(text),
        _ => std::borrow::Cow::Owned(text.nfc().collect()),
    };
    let lowered: String = nfc.to_lowercase();
    let mut folded = String::with_capacity(lowered.len() + 8);
    for c in lowered.chars() {
        match c {
            'æ' => folded.push_str("ae"),
            'ø' => folded.push_str("oe"),
            'å' => folded.push_str("aa"),
            _ => folded.push(c),
        }
    }
    let decomposed: String = match is_nfkd_quick(folded.chars()) {
        IsNormalized::Yes => folded,
        _ => folded.nfkd().collect::<String>(),
    }
    .to_lowercase();
    let mut out: Vec<TokenEnd> = Vec::new();
    let mut current = String::new();
    let mut lead_line = false;
    let end = |token| TokenEnd { token, clause: false, question: false, line: false };
    for c in decomposed.chars() {
        if ('\u{0300}'..='\u{036f}').contains(&c) {
            continue;
        }
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            current.push(c);
            continue;
        }
        if !current.is_empty() {
            out.push(end(std::mem::take(&mut current)));
        }
        match out.last_mut() {
            Some(last) => {
                last.clause |= matches!(c, '.' | '!' | '?' | ';' | '\n');
                last.question |= c == '?';
                last.line |= c == '\n';
            }
            None => lead_line |= c == '\n',
        }
    }
    if !current.is_empty() {
        out.push(end(current));
    }
    (out, lead_line)
}

// The shared stop-word list (`docs/stopwords.txt`), sorted by build.rs.
include!(concat!(env!("OUT_DIR"), "/stopwords.rs"));

/// Whether `token` (normalised) is a Danish function word that produces no features.
///
/// ```
/// assert!(komp_sdk::text::is_stopword("og"));
/// assert!(!komp_sdk::text::is_stopword("ikke"));
/// ```
pub fn is_stopword(token: &str) -> bool {
    STOPWORDS.binary_search(&token).is_ok()
}

/// The tokens that produce features: [`tokens`] without stop words.
///
/// ```
/// assert_eq!(komp_sdk::text::content_tokens("Han slog hende i går"), vec!["slog", "gaar"]);
/// ```
pub fn content_tokens(text: &str) -> Vec<String> {
    tokens(text).into_iter().filter(|t| !is_stopword(t)).collect()
}

/// Negation cues (step 9b): the next [`NEG_SCOPE`] content tokens of the same
/// clause are marked as negated.
pub const NEGATIONS: [&str; 8] = ["aldrig", "hverken", "ik", "ikke", "ingen", "ingenting", "intet", "uden"];
/// How many content tokens a negation cue covers.
pub const NEG_SCOPE: usize = 4;
/// Words that end a negation scope ("men": "ingen mærker, men ...").
const SCOPE_BREAK: [&str; 1] = ["men"];
/// Words that put their clause in the past (step 9c); see also [`is_past_cue`].
const PAST_CUES: [&str; 5] = ["afsluttede", "afsluttet", "dengang", "haandteret", "tidligere"];
const PAST_UNITS: [&str; 4] = ["aar", "aars", "maaned", "maaneder"];
const TODAY: [&str; 6] = ["aften", "dag", "eftermiddags", "formiddags", "morges", "nat"];

/// Whether token `i` of `toks` (all tokens, stop words included) is a
/// past-time cue: `tidligere` (not followed by `idag` or `i dag/morges/nat/
/// aften/formiddags/eftermiddags`), `afsluttet`, `afsluttede`, `haandteret`,
/// `dengang`, or `siden` right after `aar/aars/maaned/maaneder`
/// ("for tre år siden").
fn is_past_cue(toks: &[&str], i: usize) -> bool {
    let t = toks[i];
    if t == "siden" {
        return i > 0 && PAST_UNITS.contains(&toks[i - 1]);
    }
    if t == "tidligere" {
        let next = toks.get(i + 1).copied().unwrap_or("");
        let next2 = toks.get(i + 2).copied().unwrap_or("");
        return !(next == "idag" || (next == "i" && TODAY.contains(&next2)));
    }
    PAST_CUES.contains(&t)
}

/// First tokens that make a line a subject line (step 10b), besides the first line.
const SUBJECT_CUES: [&str; 8] =
    ["ang", "angaaende", "angaende", "emne", "subject", "vedr", "vedroerende", "vedrorende"];
/// Tokens that make their clause a request clause (step 10c).
const REQUEST_WORDS: [&str; 9] =
    ["anmoder", "ansoeger", "ansoger", "oenske", "oensker", "onske", "onsker", "please", "request"];
/// Adjacent token pairs that make their clause a request clause (step 10c).
const REQUEST_PAIRS: [(&str, &str); 43] = [
    ("vil", "gerne"),
    ("ville", "gerne"),
    ("beder", "om"),
    ("bede", "om"),
    ("kan", "i"),
    ("kan", "jeg"),
    ("kan", "man"),
    ("kan", "du"),
    ("kan", "vi"),
    ("kunne", "i"),
    ("vil", "i"),
    ("maa", "jeg"),
    ("ma", "jeg"),
    ("skal", "jeg"),
    ("skal", "vi"),
    ("soeger", "om"),
    ("soger", "om"),
    ("soege", "om"),
    ("klage", "over"),
    ("klager", "over"),
    ("hvordan", "kan"),
    ("hvordan", "goer"),
    ("hvordan", "gor"),
    ("hvad", "skal"),
    ("hvor", "kan"),
    ("hvornaar", "kan"),
    ("hvornar", "kan"),
    ("would", "like"),
    ("can", "you"),
    ("could", "you"),
    ("can", "i"),
    ("could", "i"),
    ("how", "do"),
    ("how", "can"),
    ("i", "need"),
    ("i", "want"),
    ("we", "need"),
    ("we", "want"),
    ("i", "would"),
    ("we", "would"),
    ("hjaelp", "til"),
    ("brug", "for"),
    ("hjaelpe", "med"),
];

/// The content tokens with whether each is in a subject line and in a request
/// clause (step 10 of `docs/text-features.md`; used by models that ask for
/// it, see [`HashedText::with_request_marks`]).
///
/// ```
/// let m = komp_sdk::text::request_marks("Ang. pas\nVi har en sag om affald. Kan I forny mit pas?");
/// assert_eq!(m[1], ("pas".to_string(), true, false));
/// assert_eq!(m[3], ("affald".to_string(), false, false));
/// assert_eq!(m.last().unwrap(), &("pas".to_string(), false, true));
/// ```
pub fn request_marks(text: &str) -> Vec<(String, bool, bool)> {
    let (te, lead_line) = tokens_with_ends(text);
    request_marks_of(&te, lead_line)
}

/// [`request_marks`] of text already split by [`tokens_with_ends`].
fn request_marks_of(te: &[TokenEnd], lead_line: bool) -> Vec<(String, bool, bool)> {
    let n = te.len();
    let mut subject = vec![false; n];
    let mut request = vec![false; n];
    let mut start = 0;
    let mut first = true;
    for i in 0..n {
        if te[i].line || i == n - 1 {
            if (first && !lead_line) || SUBJECT_CUES.contains(&te[start].token.as_str()) {
                subject[start..=i].iter_mut().for_each(|s| *s = true);
            }
            first = false;
            start = i + 1;
        }
    }
    start = 0;
    for i in 0..n {
        if te[i].clause || i == n - 1 {
            let hit = te[i].question
                || (start..=i).any(|k| REQUEST_WORDS.contains(&te[k].token.as_str()))
                || (start..i).any(|k| REQUEST_PAIRS.contains(&(te[k].token.as_str(), te[k + 1].token.as_str())));
            if hit {
                request[start..=i].iter_mut().for_each(|r| *r = true);
            }
            start = i + 1;
        }
    }
    te.iter()
        .enumerate()
        .filter(|(_, t)| !is_stopword(&t.token))
        .map(|(i, t)| (t.token.clone(), subject[i], request[i]))
        .collect()
}

/// How a content token's word feature is written (step 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// `w=`: plain.
    Plain,
    /// `n=`: within the scope of a negation ("ingen tegn på *vold*").
    Negated,
    /// `h=`: in a clause about the past ("*slog* ham for tre år siden").
    Past,
}

/// The content tokens ([`content_tokens`]) with their [`Mark`]s (step 9 of
/// `docs/text-features.md`).
///
/// ```
/// use komp_sdk::text::{marked_content_tokens, Mark};
/// let m = marked_content_tokens("Ingen tegn på vold. Far slog ham for tre år siden.");
/// assert_eq!(m[2], ("vold".to_string(), Mark::Negated));
/// assert_eq!(m[4], ("slog".to_string(), Mark::Past));
/// ```
pub fn marked_content_tokens(text: &str) -> Vec<(String, Mark)> {
    marked_content_tokens_of(&tokens_with_ends(text).0)
}

/// [`marked_content_tokens`] of text already split by [`tokens_with_ends`].
fn marked_content_tokens_of(te: &[TokenEnd]) -> Vec<(String, Mark)> {
    let toks: Vec<&str> = te.iter().map(|t| t.token.as_str()).collect();
    let n = toks.len();
    let mut past = vec![false; n];
    let mut start = 0;
    for i in 0..n {
        if te[i].clause || i == n - 1 {
            if (start..=i).any(|k| is_past_cue(&toks, k)) {
                past[start..=i].iter_mut().for_each(|p| *p = true);
            }
            start = i + 1;
        }
    }
    let mut out = Vec::new();
    let mut left = 0usize;
    for (i, t) in toks.iter().enumerate() {
        let cue = NEGATIONS.contains(t);
        if SCOPE_BREAK.contains(t) {
            left = 0;
        }
        if !is_stopword(t) {
            let mark = if cue || is_past_cue(&toks, i) {
                Mark::Plain
            } else if left > 0 {
                left -= 1;
                Mark::Negated
            } else if past[i] {
                Mark::Past
            } else {
                Mark::Plain
            };
            out.push((t.to_string(), mark));
        }
        if cue {
            left = NEG_SCOPE;
        }
        if te[i].clause {
            left = 0;
        }
    }
    out
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
    /// A whole token in a negation scope (`n=`), weight 1.0.
    NegatedWord,
    /// A whole token in a clause about the past (`h=`), weight 1.0.
    PastWord,
    /// Two adjacent tokens (`b=`), weight 1.0.
    Bigram,
    /// Three characters of `<token>` (`c=`), weight 0.5.
    Trigram,
    /// A token of a subject line (`s=`, step 10), weight 1.0.
    SubjectWord,
    /// A token of a request clause (`r=`, step 10), weight 1.0.
    RequestWord,
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

/// A text hashed into `dim` buckets (feature hashing, L2-normalised), kept
/// sparse, with enough provenance to explain a linear model's decision word by
/// word.
///
/// The model input is the sparse form: [`ids`](Self::ids) (the non-zero
/// buckets, ascending) and [`weights`](Self::weights) (their values). A text
/// touches a few hundred of the 16384 buckets, so sending only those to the
/// model (which gathers the weight rows it needs) keeps each call O(words)
/// instead of O(dim): no dense vector is built, copied or multiplied.
/// [`dense`](Self::dense) gives the full vector for models that want it.
///
/// ```
/// use komp_sdk::text::HashedText;
/// let h = HashedText::new("vejen er fuld af huller", 4096);
/// assert_eq!(h.ids().len(), h.weights().len());
/// assert!(h.ids().windows(2).all(|w| w[0] < w[1]));
/// let norm: f32 = h.weights().iter().map(|v| v * v).sum::<f32>().sqrt();
/// assert!((norm - 1.0).abs() < 1e-5);
/// assert_eq!(h.dense().len(), 4096);
/// ```
#[derive(Debug, Clone)]
pub struct HashedText {
    dim: usize,
    /// Every token of the text, stop words included ([`tokens`]).
    all_tokens: Vec<String>,
    tokens: Vec<String>,
    marks: Vec<Mark>,
    features: Vec<Feature>,
    /// Non-zero buckets, ascending: index, raw sum (f64, before normalisation).
    buckets: Vec<(usize, f64)>,
    ids: Vec<i64>,
    weights: Vec<f32>,
}

impl HashedText {
    /// Hashes `text` into `dim` buckets. `dim` must be a power of two.
    ///
    /// # Panics
    /// If `dim` is not a power of two (a programming error in the component,
    /// caught by its first test).
    pub fn new(text: &str, dim: usize) -> HashedText {
        Self::build(text, dim, false)
    }

    /// [`new`](Self::new) plus the step-10 features: an `s=` copy of each
    /// token of a subject line and an `r=` copy of each token of a request
    /// clause, for models trained with them (postsortering).
    ///
    /// ```
    /// use komp_sdk::text::HashedText;
    /// let plain = HashedText::new("Emne: pas\nKan I forny mit pas?", 4096);
    /// let marked = HashedText::with_request_marks("Emne: pas\nKan I forny mit pas?", 4096);
    /// assert!(marked.features().len() > plain.features().len());
    /// ```
    pub fn with_request_marks(text: &str, dim: usize) -> HashedText {
        Self::build(text, dim, true)
    }

    fn build(text: &str, dim: usize, request: bool) -> HashedText {
        assert!(dim.is_power_of_two(), "feature dimension must be a power of two, got {dim}");
        // The text is normalised and split once (NFC, case folding, NFKD: most of a
        // component's own work per call); the marks, the request marks and the
        // out-of-distribution check (`ood::check_tokens` on `all_tokens`) all read this split.
        let (te, lead_line) = tokens_with_ends(text);
        let marked = marked_content_tokens_of(&te);
        let marks: Vec<Mark> = marked.iter().map(|(_, m)| *m).collect();
        let tokens: Vec<String> = marked.into_iter().map(|(t, _)| t).collect();
        let mut features = Vec::new();
        let mut add = |kind: FeatureKind, token: usize, key: &str, weight: f64| {
            let h = fnv1a64(key.as_bytes());
            let index = (h & (dim as u64 - 1)) as usize;
            let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
            features.push(Feature { kind, token, index, value: sign * weight });
        };
        let mut key = String::new();
        for (i, t) in tokens.iter().enumerate() {
            key.clear();
            let kind = match marks[i] {
                Mark::Plain => FeatureKind::Word,
                Mark::Negated => FeatureKind::NegatedWord,
                Mark::Past => FeatureKind::PastWord,
            };
            key.push_str(match kind {
                FeatureKind::NegatedWord => "n=",
                FeatureKind::PastWord => "h=",
                _ => "w=",
            });
            key.push_str(t);
            add(kind, i, &key, 1.0);
            if let Some(next) = tokens.get(i + 1) {
                key.clear();
                key.push_str("b=");
                key.push_str(t);
                key.push(' ');
                key.push_str(next);
                add(FeatureKind::Bigram, i, &key, 1.0);
            }
            // Tokens are ASCII `a-z0-9` after normalisation, so byte windows
            // are character windows.
            let padded = format!("<{t}>");
            for w in padded.as_bytes().windows(3) {
                key.clear();
                key.push_str("c=");
                key.push_str(std::str::from_utf8(w).unwrap_or_default());
                add(FeatureKind::Trigram, i, &key, 0.5);
            }
        }
        if request {
            for (i, (t, in_subject, in_request)) in request_marks_of(&te, lead_line).iter().enumerate() {
                if *in_subject {
                    add(FeatureKind::SubjectWord, i, &format!("s={t}"), 1.0);
                }
                if *in_request {
                    add(FeatureKind::RequestWord, i, &format!("r={t}"), 1.0);
                }
            }
        }
        // Accumulate per bucket in feature order (all values are multiples of
        // 0.5, so the f64 sums are exact whatever the order).
        let mut order: Vec<(usize, f64)> = features.iter().map(|f| (f.index, f.value)).collect();
        order.sort_by_key(|(i, _)| *i);
        let mut buckets: Vec<(usize, f64)> = Vec::with_capacity(order.len());
        for (i, v) in order {
            match buckets.last_mut() {
                Some((last, sum)) if *last == i => *sum += v,
                _ => buckets.push((i, v)),
            }
        }
        buckets.retain(|(_, v)| *v != 0.0);
        let norm = buckets.iter().map(|(_, v)| v * v).sum::<f64>().sqrt();
        let ids = buckets.iter().map(|(i, _)| *i as i64).collect();
        let weights = buckets.iter().map(|(_, v)| (v / norm) as f32).collect();
        let all_tokens = te.into_iter().map(|t| t.token).collect();
        HashedText { dim, all_tokens, tokens, marks, features, buckets, ids, weights }
    }

    /// Every token of the text (normalised, stop words included), in order: [`tokens`] of the
    /// same text, for [`crate::ood::check_tokens`] without normalising the text again.
    ///
    /// ```
    /// let h = komp_sdk::text::HashedText::new("Han slog hende i går", 1024);
    /// assert_eq!(h.all_tokens(), komp_sdk::text::tokens("Han slog hende i går"));
    /// ```
    pub fn all_tokens(&self) -> &[String] {
        &self.all_tokens
    }

    /// The content tokens (normalised, stop words removed), in order.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// The [`Mark`] of each of [`tokens`](Self::tokens).
    pub fn marks(&self) -> &[Mark] {
        &self.marks
    }

    /// How many content tokens are negated or in a clause about the past.
    pub fn marked_count(&self) -> (usize, usize) {
        let neg = self.marks.iter().filter(|m| **m == Mark::Negated).count();
        let past = self.marks.iter().filter(|m| **m == Mark::Past).count();
        (neg, past)
    }

    /// The features, in the order they were generated.
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// The non-zero buckets, ascending: the `feature_ids` model input.
    /// Empty for a text without content tokens.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// The normalised values of [`ids`](Self::ids), in the same order: the
    /// `feature_values` model input.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The full vector of `dim` f32 values (zero outside [`ids`](Self::ids)),
    /// for models that take a dense input.
    pub fn dense(&self) -> Vec<f32> {
        let mut v = vec![0.0f32; self.dim];
        for (i, w) in self.ids.iter().zip(&self.weights) {
            v[*i as usize] = *w;
        }
        v
    }

    /// Splits per-bucket contributions (e.g. `x[i] * w[i]` of a linear model),
    /// one per entry of [`ids`](Self::ids), back onto the words and two-word
    /// phrases that produced them, grouping repeats. A word gets its own
    /// feature and its character trigrams; a phrase (`"i gaar"`) gets its
    /// bigram feature, so the explanation shows "i går" as the phrase it is
    /// rather than as two stop-words.
    ///
    /// Each bucket's contribution is shared among the features that hashed to
    /// it in proportion to their raw values, so the parts add up to the
    /// total. The result is sorted by absolute weight, strongest first.
    ///
    /// ```
    /// use komp_sdk::text::HashedText;
    /// let h = HashedText::new("akut vold og trusler", 256);
    /// // Pretend the model's weight is +1 on every bucket: contributions = weights.
    /// let parts = h.word_contributions(h.weights());
    /// let names: Vec<&str> = parts.iter().map(|p| p.0.as_str()).collect();
    /// assert!(names.contains(&"akut") && names.contains(&"vold") && names.contains(&"akut vold"));
    /// ```
    pub fn word_contributions(&self, contributions: &[f32]) -> Vec<(String, f32)> {
        self.group(|index| {
            let at = self.buckets.binary_search_by_key(&index, |(i, _)| *i).ok()?;
            Some((*contributions.get(at)?, self.buckets[at].1))
        })
    }

    /// [`word_contributions`](Self::word_contributions) for a model that
    /// outputs one contribution per bucket of the whole `dim`-wide vector.
    pub fn word_contributions_dense(&self, contributions: &[f32]) -> Vec<(String, f32)> {
        self.group(|index| {
            let at = self.buckets.binary_search_by_key(&index, |(i, _)| *i).ok()?;
            Some((*contributions.get(index)?, self.buckets[at].1))
        })
    }

    /// Groups features by word or phrase; `lookup(index)` gives the bucket's
    /// contribution and raw total, or `None` for a bucket that summed to zero.
    fn group(&self, lookup: impl Fn(usize) -> Option<(f32, f64)>) -> Vec<(String, f32)> {
        let mut grouped: Vec<(String, f64)> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for f in &self.features {
            let Some((c, total)) = lookup(f.index) else { continue };
            let share = f64::from(c) * f.value / total;
            let key = match f.kind {
                FeatureKind::Bigram => format!("{} {}", self.tokens[f.token], self.tokens[f.token + 1]),
                // A marked word's trigrams are reported with the word, so "vold (nægtet)" is one reason.
                _ => match self.marks[f.token] {
                    Mark::Negated => format!("{} (nægtet)", self.tokens[f.token]),
                    Mark::Past => format!("{} (fortid)", self.tokens[f.token]),
                    Mark::Plain => self.tokens[f.token].clone(),
                },
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
            assert!(h.ids().is_empty() && h.weights().is_empty(), "{t:?}");
            assert!(h.dense().iter().all(|v| *v == 0.0), "{t:?}");
            assert!(h.tokens().is_empty());
        }
    }

    #[test]
    fn contributions_sum_to_total() {
        let h = HashedText::new("barnet sad alene hjemme alene", 128);
        let contrib: Vec<f32> = h.weights().iter().map(|v| v * 0.5).collect();
        let words = h.word_contributions(&contrib);
        let total: f32 = words.iter().map(|w| w.1).sum();
        let expected: f32 = contrib.iter().sum();
        assert!((total - expected).abs() < 1e-4, "{total} vs {expected}");
        assert_eq!(words.iter().filter(|w| w.0 == "alene").count(), 1);
        assert!(words.iter().any(|w| w.0 == "alene hjemme"), "phrases are reported: {words:?}");
        // The dense form gives the same explanation.
        let dense: Vec<f32> = h.dense().iter().map(|v| v * 0.5).collect();
        assert_eq!(h.word_contributions_dense(&dense), words);
    }

    #[test]
    fn sparse_and_dense_forms_agree() {
        let h = HashedText::new("Vejen ved skolen er fuld af huller og vejen er farlig", 64);
        let dense = h.dense();
        let nonzero: Vec<(i64, f32)> =
            dense.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(i, v)| (i as i64, *v)).collect();
        let sparse: Vec<(i64, f32)> = h.ids().iter().copied().zip(h.weights().iter().copied()).collect();
        assert_eq!(sparse, nonzero);
    }
}
