//! `komp_sdk::sentencepiece` cuts the fixture texts into exactly the pieces
//! `komp_train.sentencepiece` gives (`sdk/tests/fixtures/sentencepiece.json`,
//! written from multilingual-e5-small's own vocabulary by
//! `training/experiments/e5_probe/tokenizer_fixtures.py`, which also checks the
//! piece counts against the encoder's engine): no train/serve skew.

use komp_sdk::sentencepiece::{EncoderTokenizer, Unigram, VocabularyError, VocabularyTables, METASPACE};
use serde_json::Value;

fn fixtures() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sentencepiece.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn tokenizer(f: &Value) -> Unigram {
    let pieces = f["pieces"].as_array().unwrap().iter().zip(f["scores"].as_array().unwrap());
    let pieces = pieces.map(|(p, s)| (p.as_str().unwrap().to_string(), s.as_f64().unwrap() as f32));
    let norm = f["normalization"].as_object().unwrap().iter().map(|(k, v)| {
        let mut c = k.chars();
        let key = c.next().unwrap();
        assert!(c.next().is_none(), "normalisation key {k:?}");
        (key, v.as_str().unwrap().to_string())
    });
    let id = |k: &str| f[k].as_u64().unwrap() as u32;
    Unigram::new(pieces, norm, id("bos"), id("eos"), id("unk")).unwrap()
}

#[test]
fn pieces_equal_the_python_fixtures() {
    let f = fixtures();
    let tok = tokenizer(&f);
    let cases = f["cases"].as_array().unwrap();
    assert!(cases.len() > 100);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        assert_eq!(tok.content(text), want, "pieces of {text:?}");
        let want: Vec<i64> = serde_json::from_value(case["encoded"].clone()).unwrap();
        assert_eq!(tok.encode(text, "query: ", 32), want, "encode of {text:?}");
    }
}

#[test]
fn normalisation_spaces_and_unknowns() {
    let f = fixtures();
    let tok = tokenizer(&f);
    let m = METASPACE;
    assert_eq!(tok.normalize("ﬁ\tx"), format!("{m}fi{m}x"));
    assert_eq!(tok.normalize("a  \n b"), format!("{m}a{m}b"));
    assert_eq!(tok.normalize(" a"), format!("{m}a"));
    assert_eq!(tok.normalize(""), m.to_string());
    let unk = f["unk"].as_u64().unwrap() as u32;
    assert!(tok.content("ukendte tegn \u{e000} og \u{13000}").contains(&unk));
    assert!(!tok.content("<s> </s> <unk> <pad>").contains(&unk), "the unknown piece's text is not matched");
}

#[test]
fn bad_vocabularies_are_refused_with_the_reason() {
    let v = |pieces: &[(&str, f32)]| pieces.iter().map(|(p, s)| (p.to_string(), *s)).collect::<Vec<_>>();
    let none = std::iter::empty::<(char, String)>;
    assert_eq!(Unigram::new(v(&[]), none(), 0, 0, 0).unwrap_err(), VocabularyError::Empty);
    assert_eq!(Unigram::new(v(&[("a", 0.0), ("", 0.0)]), none(), 0, 0, 0).unwrap_err(), VocabularyError::EmptyPiece(1));
    let err = Unigram::new(v(&[("a", 0.0), ("b", f32::NAN)]), none(), 0, 0, 0).unwrap_err();
    assert!(err.to_string().starts_with("piece 1 (\"b\") has the score NaN"), "{err}");
    let err = Unigram::new(v(&[("a", 0.0), ("b", 0.0)]), none(), 0, 1, 5).unwrap_err();
    assert_eq!(err.to_string(), "unk = 5 is not a piece index (0..1)");
}

/// A component reads its encoder's vocabulary file (the shape
/// training/encoder/build_encoder.py writes) into the same tokeniser.
#[test]
fn a_vocabulary_file_gives_the_same_pieces() {
    let f = fixtures();
    let mut file = serde_json::json!({
        "pieces": f["pieces"], "scores": f["scores"], "normalization": f["normalization"],
        "bos": f["bos"], "eos": f["eos"], "unk": f["unk"], "prefix": "query: ", "max_content": 32,
    });
    let tok = EncoderTokenizer::from_vocabulary_json(&file.to_string()).unwrap();
    for case in f["cases"].as_array().unwrap() {
        let want: Vec<i64> = serde_json::from_value(case["encoded"].clone()).unwrap();
        assert_eq!(tok.token_ids(case["text"].as_str().unwrap()), want);
    }
    // Bad files are refused with what is wrong.
    let err = |v: &Value| EncoderTokenizer::from_vocabulary_json(&v.to_string()).unwrap_err().to_string();
    file["scores"].as_array_mut().unwrap().pop();
    assert!(err(&file).contains("pieces but"), "{}", err(&file));
    file["scores"] = f["scores"].clone();
    file["normalization"]["ab"] = "x".into();
    assert_eq!(err(&file), "normalisation key \"ab\" is not one code point");
    file["normalization"] = f["normalization"].clone();
    file["max_content"] = "many".into();
    assert!(err(&file).starts_with("the vocabulary file is not valid: invalid type"), "{}", err(&file));
    file["max_content"] = 32.into();
    file["extra"] = 1.into();
    assert!(err(&file).contains("unknown field `extra`"), "{}", err(&file));
    assert!(EncoderTokenizer::from_vocabulary_json("").is_err());
}

/// A vocabulary compiled into the component (a build script writes the
/// tables; nothing is parsed per call) cuts every text as the file does:
/// the fixtures, random odd text, and a repeated piece keeps its first index.
#[test]
fn a_compiled_vocabulary_gives_the_same_pieces_as_the_file() {
    let f = fixtures();
    let file = serde_json::json!({
        "pieces": f["pieces"], "scores": f["scores"], "normalization": f["normalization"],
        "bos": f["bos"], "eos": f["eos"], "unk": f["unk"], "prefix": "query: ", "max_content": 32,
    })
    .to_string();
    let from_file = EncoderTokenizer::from_vocabulary_json(&file).unwrap();
    let tables = VocabularyTables::from_vocabulary_json(&file).unwrap();
    let source = tables.rust_source("VOCABULARY");
    assert!(source.starts_with("pub static VOCABULARY: komp_sdk::sentencepiece::StaticVocabulary = "), "{source:.80}");
    let compiled = EncoderTokenizer::from_static(tables.leak()).unwrap();
    assert_eq!(compiled.unigram().len(), from_file.unigram().len());
    let mut texts: Vec<String> =
        f["cases"].as_array().unwrap().iter().map(|c| c["text"].as_str().unwrap().to_string()).collect();
    texts.extend(["", " ", "ﬁ\tx  y", "\u{e000}\u{301}ukendt", "<s> </s> <unk>"].map(String::from));
    for text in &texts {
        assert_eq!(compiled.token_ids(text), from_file.token_ids(text), "pieces of {text:?}");
        assert_eq!(compiled.unigram().normalize(text), from_file.unigram().normalize(text));
    }
    let repeated = r#"{"pieces": ["<s>", "</s>", "<unk>", "\u2581a", "\u2581a", "b"], "scores": [0, 0, 0, -1, -0.5, -2],
        "normalization": {}, "bos": 0, "eos": 1, "unk": 2, "prefix": "", "max_content": 8}"#;
    let compiled = EncoderTokenizer::from_static(VocabularyTables::from_vocabulary_json(repeated).unwrap().leak());
    assert_eq!(
        compiled.unwrap().token_ids("a b"),
        EncoderTokenizer::from_vocabulary_json(repeated).unwrap().token_ids("a b")
    );
    // A bad file is refused when the tables are made, with the same reason.
    assert_eq!(
        VocabularyTables::from_vocabulary_json(&file.replace("\"max_content\":32", "\"max_content\":-1")).unwrap_err(),
        EncoderTokenizer::from_vocabulary_json(&file.replace("\"max_content\":32", "\"max_content\":-1")).unwrap_err()
    );
}

/// Any text, however odd: no panic, and the pieces (an unknown one standing
/// for one code point) spell exactly the normalised text.
#[test]
fn pieces_spell_the_normalised_text_for_any_input() {
    let f = fixtures();
    let tok = tokenizer(&f);
    let pieces: Vec<&str> = f["pieces"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    let unk = f["unk"].as_u64().unwrap() as u32;
    // Code points from the fixtures' own texts, plus spaces, controls, marks, other scripts and the specials' text.
    let mut alphabet: Vec<char> =
        f["cases"].as_array().unwrap().iter().flat_map(|c| c["text"].as_str().unwrap().chars()).collect();
    alphabet.extend([' ', ' ', '\t', '\n', '\u{0}', '\u{301}', '\u{2581}', '\u{e000}', '\u{10ffff}', '<', '>', 'ﬁ']);
    alphabet.sort_unstable();
    alphabet.dedup();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let len = (next() % 40) as usize;
        let text: String = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
        let normalised: Vec<char> = tok.normalize(&text).chars().collect();
        let mut at = 0;
        for id in tok.content(&text) {
            let spelled: Vec<char> =
                if id == unk { vec![normalised[at]] } else { pieces[id as usize].chars().collect() };
            assert_eq!(&normalised[at..at + spelled.len()], &spelled[..], "pieces of {text:?}");
            at += spelled.len();
        }
        assert_eq!(at, normalised.len(), "pieces of {text:?} do not cover it");
        let encoded = tok.encode(&text, "query: ", 8);
        assert!(encoded.len() <= 10 && encoded[0] == f["bos"].as_i64().unwrap());
    }
}
