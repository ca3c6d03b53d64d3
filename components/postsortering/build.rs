//! Turns the training metadata (components/models/postsortering.meta.json)
//! into Rust constants, so labels, dimensions, the review threshold and the
//! cascade's settings are never copied by hand between training and serving,
//! and compiles in the encoder's tokeniser vocabulary (`vocabulary.rs`).
use serde_json::Value;
use std::fmt::Write;

fn main() {
    let path = "../models/postsortering.meta.json";
    println!("cargo:rerun-if-changed={path}");
    let meta: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read meta")).expect("meta JSON");
    let mut out = String::new();
    let labels: Vec<&str> =
        meta["labels"].as_array().expect("labels").iter().map(|l| l["id"].as_str().expect("id")).collect();
    writeln!(out, "pub const LABELS: [&str; {}] = {:?};", labels.len(), labels).unwrap();
    writeln!(out, "pub const DIM: usize = {};", meta["dim"].as_u64().expect("dim")).unwrap();
    writeln!(
        out,
        "pub const REVIEW_BELOW: f32 = {:?};",
        meta["review_threshold"]["value"].as_f64().expect("threshold") as f32
    )
    .unwrap();
    let sender: Vec<&str> =
        meta["sender"]["order"].as_array().expect("sender order").iter().map(|s| s.as_str().unwrap()).collect();
    writeln!(out, "pub const SENDER_TYPES: [&str; {}] = {:?};", sender.len(), sender).unwrap();
    writeln!(out, "pub const MODEL_VERSION: &str = {:?};", meta["version"].as_str().expect("version")).unwrap();
    // The model's vocabulary (sorted content tokens seen in training), for the out-of-distribution check.
    let known: Vec<&str> = meta["out_of_distribution"]["known_words"]
        .as_array()
        .expect("known_words")
        .iter()
        .map(|w| w.as_str().expect("word"))
        .collect();
    assert!(known.windows(2).all(|w| w[0] < w[1]), "known_words must be sorted and unique");
    let english = meta["out_of_distribution"]["english_known"].as_bool().unwrap_or(false);
    writeln!(out, "pub const ENGLISH_KNOWN: bool = {english};").unwrap();
    // Step 10 of docs/text-features.md (subject-line and request-clause copies), as the model was trained.
    let request = meta["request_marks"].as_bool().unwrap_or(false);
    writeln!(out, "pub const REQUEST_MARKS: bool = {request};").unwrap();
    // The cascade (training/post_cascade.py): when the encoder runs and how its head is averaged in.
    let encoder = &meta["encoder"];
    let cut = encoder["cascade_below"].as_f64().expect("encoder.cascade_below");
    writeln!(out, "pub const CASCADE_BELOW: f32 = {:?};", cut as f32).unwrap();
    let t = encoder["ensemble_temperature"].as_f64().expect("encoder.ensemble_temperature");
    writeln!(out, "pub const ENSEMBLE_TEMPERATURE: f64 = {t:?};").unwrap();
    // The encoder's vocabulary is built with the graph (training/encoder/build_encoder.py), never committed.
    let vocab =
        std::path::Path::new("../models").join(encoder["vocabulary"]["file"].as_str().expect("vocabulary file"));
    println!("cargo:rerun-if-changed={}", vocab.display());
    let component = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "wasm32");
    // The vocabulary goes in as tables read in place (komp_sdk::sentencepiece::StaticVocabulary): the host
    // gives every call a fresh instance, and parsing the 2.2 MB file on each call cost ~20 ms (BENCHMARKS.md).
    let tables = if vocab.exists() {
        let json = std::fs::read_to_string(&vocab).expect("read the encoder vocabulary");
        komp_sdk::sentencepiece::VocabularyTables::from_vocabulary_json(&json)
            .unwrap_or_else(|e| panic!("{}: {e}", vocab.display()))
            .rust_source("ENCODER_VOCABULARY")
    } else if component {
        panic!(
            "{} is missing: build the pinned encoder first (.venv/bin/python training/encoder/build_encoder.py; \
             scripts/build-components.sh does this)",
            vocab.display()
        );
    } else {
        // A native build of the crate (`cargo build --workspace` compiles every member, before
        // scripts/build-components.sh has built the encoder) is only a compile check: no component comes
        // of it, and its encoder path refuses the empty vocabulary with an internal error.
        println!("cargo:warning=the encoder vocabulary is not built yet; a native build cannot run the encoder");
        "pub static ENCODER_VOCABULARY: komp_sdk::sentencepiece::StaticVocabulary = \
         komp_sdk::sentencepiece::StaticVocabulary { sorted_pieces: &[], scores: &[], normalization: &[], \
         bos: 0, eos: 0, unk: 0, prefix: \"\", max_content: 0, max_chars: 0, unk_score: 0.0 };\n"
            .to_string()
    };
    writeln!(out, "pub const KNOWN_WORDS: [&str; {}] = {:?};", known.len(), known).unwrap();
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::write(out_dir.join("vocabulary.rs"), tables).unwrap();
    std::fs::write(out_dir.join("meta.rs"), out).unwrap();
}
