//! Benchmark-only component: tokenises text (the toy word-hash tokenizer in
//! `tokenize`, identical to the native side in `benches/src/bin/komp-sandbox.rs`),
//! runs the MiniLM-sized encoder graph made by `benches/models/make_minilm.py`
//! through wasi:nn, and returns a two-label softmax. Never install outside
//! benchmarks: the weights are random.

use komp_sdk::nn::{Input, Model};
use komp_sdk::prediction::PredictionBuilder;
use komp_sdk::{ComponentInfo, Error, Guest, Prediction};

/// Must match make_minilm.py.
pub const SEQ: usize = 128;
pub const VOCAB: u64 = 30522;

/// `[CLS]` + FNV-1a hashed lowercase words, padded with 0 to SEQ; mask 1 for real tokens.
pub fn tokenize(text: &str) -> (Vec<i64>, Vec<i64>) {
    let mut ids = vec![0i64; SEQ];
    let mut mask = vec![0i64; SEQ];
    ids[0] = 101;
    mask[0] = 1;
    for (i, w) in text.split_whitespace().take(SEQ - 1).enumerate() {
        let mut h: u64 = 0xcbf29ce484222325;
        for b in w.to_lowercase().bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
        ids[i + 1] = (1000 + h % (VOCAB - 1000)) as i64;
        mask[i + 1] = 1;
    }
    (ids, mask)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Req {
    text: String,
}

struct Encoder;

impl Guest for Encoder {
    fn metadata() -> ComponentInfo {
        ComponentInfo {
            name: "bench-encoder".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            labels: vec!["a".into(), "b".into()],
        }
    }

    fn predict(input: String) -> Result<Prediction, Error> {
        let r: Req = komp_sdk::parse_input(&input)?;
        let (ids, mask) = tokenize(&r.text);
        let model = Model::load("encoder")?;
        let out = model.run(&[
            Input::i64("input_ids", &[1, SEQ as u32], &ids),
            Input::i64("attention_mask", &[1, SEQ as u32], &mask),
        ])?;
        let logits = out.f32("logits")?;
        let m = logits.iter().copied().fold(f32::MIN, f32::max);
        let e: Vec<f32> = logits.iter().map(|x| (x - m).exp()).collect();
        let s: f32 = e.iter().sum();
        let p: Vec<f32> = e.iter().map(|x| x / s).collect();
        PredictionBuilder::new(&["a", "b"], &p)?.build()
    }
}

komp_sdk::export_component!(Encoder with_types_in komp_sdk::bindings);
