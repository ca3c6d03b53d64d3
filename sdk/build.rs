//! Compiles the shared stop-word list (`docs/stopwords.txt`) into a sorted
//! array, so `is_stopword` is a binary search with no set-up per call (each
//! prediction runs in a fresh instance, so a lazily built set would be
//! rebuilt every time).
use std::fmt::Write;

fn main() {
    let path = "../docs/stopwords.txt";
    println!("cargo:rerun-if-changed={path}");
    let text = std::fs::read_to_string(path).expect("read docs/stopwords.txt");
    let mut words: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    words.sort_unstable();
    words.dedup();
    let mut out = String::new();
    writeln!(out, "const STOPWORDS: [&str; {}] = {:?};", words.len(), words).unwrap();
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("stopwords.rs");
    std::fs::write(dest, out).unwrap();
}
