//! `komp-sandbox`: the cost of the sandbox, and tract's compute-only latency.
//!
//! For each component: a prediction through the runtime (`Runtime::predict`:
//! schema check, fresh instance, the component's pre- and post-processing in
//! wasm, host-side tract behind wasi:nn) versus the same work done natively
//! in this process (JSON parse, the same features or tokens, the same model
//! in tract, the same explanation grouping), on the same input. Rounds
//! alternate the two; each round gives a median per side and a ratio; we
//! report the median over rounds and the spread (min-max of the rounds).
//! Also: bare instantiate time per call (`Runtime::time_instantiate`).
//!
//! `--engine-only`: tract compute-only latency on the encoder graph
//! (`SimplePlan::run` on prepared tensors), single-threaded, and with all
//! cores when built with `--features tract-mt`.
//!
//! Prints one JSON object.

use anyhow::{Context, Result};
use clap::Parser;
use komp_runtime::{Runtime, RuntimeConfig};
use komp_sdk::text::HashedText;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tract_onnx::prelude::*;

#[derive(Parser)]
struct Args {
    /// Directory with the packed standard components (scripts/build-components.sh).
    #[arg(long, default_value = "target/komp-components")]
    components: PathBuf,
    /// The packed benchmark encoder component (benches/run.sh).
    #[arg(long)]
    encoder: Option<PathBuf>,
    /// The encoder ONNX file (benches/models/make_minilm.py).
    #[arg(long)]
    encoder_onnx: Option<PathBuf>,
    /// Rounds (each gives one median per side).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Calls per round and side for the standard components.
    #[arg(long, default_value_t = 400)]
    calls: usize,
    /// Calls per round and side for the encoder.
    #[arg(long, default_value_t = 10)]
    encoder_calls: usize,
    /// Only tract compute-only latency on the encoder graph.
    #[arg(long)]
    engine_only: bool,
}

const SEQ: usize = 128;
const VOCAB: u64 = 30522;

/// Must equal `tokenize` in benches/components/encoder/src/lib.rs.
fn tokenize(text: &str) -> (Vec<i64>, Vec<i64>) {
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

type Plan = std::sync::Arc<TypedRunnableModel>;

fn load_plan(path: &std::path::Path) -> Result<Plan> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    // Exactly as komp_runtime::nn::LoadedModel::load does.
    let m = tract_onnx::onnx().model_for_read(&mut std::io::Cursor::new(bytes))?;
    Ok(m.into_optimized()?.into_runnable()?)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Median µs of `n` timed calls.
fn timed<F: FnMut()>(n: usize, mut f: F) -> f64 {
    median(
        (0..n)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect(),
    )
}

fn spread(v: &[f64]) -> Value {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    json!({"median": median(v.to_vec()), "min": lo, "max": hi, "rounds": v})
}

/// The sparse text input every standard component sends (`feature_ids`, `feature_values`).
fn sparse(h: &HashedText) -> Result<[TValue; 2]> {
    let n = h.ids().len();
    Ok([Tensor::from_shape(&[n], h.ids())?.into(), Tensor::from_shape(&[n], h.weights())?.into()])
}

/// The native twin of postsortering: parse, features, model, explanation.
fn native_postsortering(plan: &Plan, input: &str) -> Result<usize> {
    let v: Value = serde_json::from_str(input)?;
    let text = format!("{}\n{}", v["subject"].as_str().unwrap_or(""), v["body"].as_str().unwrap_or(""));
    let h = HashedText::new(&text, 16384);
    let mut sender = [0.0f32; 4];
    if let Some(i) =
        ["citizen", "business", "authority", "internal"].iter().position(|t| Some(*t) == v["sender_type"].as_str())
    {
        sender[i] = 1.0;
    }
    let [ids, values] = sparse(&h)?;
    let out = plan.run(tvec!(ids, values, Tensor::from_shape(&[1, 4], &sender)?.into()))?;
    explain(&h, &out[1])
}

/// The native twin of underretning.
fn native_underretning(plan: &Plan, input: &str) -> Result<usize> {
    let v: Value = serde_json::from_str(input)?;
    let h = HashedText::new(v["text"].as_str().unwrap_or(""), 16384);
    let mut s = [0.0f32; 16];
    s[2] = 1.0;
    s[4] = v["prior_notifications_12m"].as_i64().unwrap_or(0).clamp(0, 5) as f32 / 5.0;
    s[5] = v["known_to_municipality"].as_bool().unwrap_or(false) as u8 as f32;
    let [ids, values] = sparse(&h)?;
    let out = plan.run(tvec!(ids, values, Tensor::from_shape(&[1, 16], &s)?.into()))?;
    explain(&h, &out[1])
}

/// The native twin of the example component (a dense 1024-wide input).
fn native_feedback(plan: &Plan, input: &str) -> Result<usize> {
    let v: Value = serde_json::from_str(input)?;
    let h = HashedText::new(v["text"].as_str().unwrap_or(""), 1024);
    let out = plan.run(tvec!(Tensor::from_shape(&[1, 1024], &h.dense())?.into()))?;
    let mut e = h.word_contributions_dense(out[1].try_as_plain_ram()?.as_slice::<f32>()?);
    e.truncate(8);
    Ok(std::hint::black_box(e).len())
}

fn explain(h: &HashedText, contributions: &TValue) -> Result<usize> {
    let mut e = h.word_contributions(contributions.try_as_plain_ram()?.as_slice::<f32>()?);
    e.truncate(12);
    Ok(std::hint::black_box(e).len())
}

fn encoder_inputs(input: &str) -> Result<TVec<TValue>> {
    let v: Value = serde_json::from_str(input)?;
    let (ids, mask) = tokenize(v["text"].as_str().unwrap_or(""));
    Ok(tvec!(Tensor::from_shape(&[1, SEQ], &ids)?.into(), Tensor::from_shape(&[1, SEQ], &mask)?.into()))
}

fn native_encoder(plan: &Plan, input: &str) -> Result<usize> {
    let out = plan.run(encoder_inputs(input)?)?;
    let l = out[0].try_as_plain_ram()?.as_slice::<f32>()?;
    let m = l.iter().copied().fold(f32::MIN, f32::max);
    let p: Vec<f32> = l.iter().map(|x| (x - m).exp()).collect();
    Ok(std::hint::black_box(p).len())
}

const POST: &str = r#"{"subject":"Skraldespand ikke tømt","body":"Hej, vores affaldsbeholder til restaffald er ikke blevet tømt i to uger. Mvh Jens","sender_type":"citizen"}"#;
const FEEDBACK: &str = r#"{"text":"Tak for den hurtige og venlige hjælp, men jeg ventede længe på svar"}"#;
const UNDER: &str = r#"{"text":"Pigen fortalte at far slog hende i går og hun har blå mærker","reporter_type":"school","child_age":9,"prior_notifications_12m":1,"known_to_municipality":true}"#;
const ENC: &str = r#"{"text":"Hej, vores affaldsbeholder til restaffald er ikke blevet tømt i to uger. Kan I sende nogen ud og tømme den hurtigst muligt? Med venlig hilsen Jens"}"#;

fn engine_only(a: &Args) -> Result<Value> {
    let path = a.encoder_onnx.as_ref().context("--encoder-onnx is required")?;
    let plan = load_plan(path)?;
    let inputs = encoder_inputs(ENC)?;
    let run = |plan: &Plan| {
        for _ in 0..3 {
            plan.run(inputs.clone()).unwrap();
        }
        let rounds: Vec<f64> = (0..a.rounds)
            .map(|_| timed(a.encoder_calls, || drop(std::hint::black_box(plan.run(inputs.clone()).unwrap()))))
            .collect();
        spread(&rounds)
    };
    let single = run(&plan);
    #[allow(unused_mut)]
    let mut out = json!({"engine": "tract 0.23.9", "single_thread_us": single});
    #[cfg(feature = "tract-mt")]
    {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        tract_linalg::multithread::set_default_executor(tract_linalg::multithread::Executor::multithread(n));
        out["all_cores_us"] = run(&plan);
        out["threads"] = json!(n);
    }
    Ok(out)
}

fn main() -> Result<()> {
    let a = Args::parse();
    if a.engine_only {
        println!("{}", engine_only(&a)?);
        return Ok(());
    }
    let mut results = Vec::new();
    let mut specs: Vec<(String, PathBuf, PathBuf, &str, usize)> = vec![
        (
            "example-feedback".into(),
            a.components.join("example-feedback.wasm"),
            "components/example-feedback/model/feedback.onnx".into(),
            FEEDBACK,
            a.calls,
        ),
        (
            "postsortering".into(),
            a.components.join("postsortering.wasm"),
            "components/models/postsortering.onnx".into(),
            POST,
            a.calls,
        ),
        (
            "underretning".into(),
            a.components.join("underretning.wasm"),
            "components/models/underretning.onnx".into(),
            UNDER,
            a.calls,
        ),
    ];
    if let (Some(e), Some(o)) = (&a.encoder, &a.encoder_onnx) {
        specs.push(("bench-encoder".into(), e.clone(), o.clone(), ENC, a.encoder_calls));
    }
    for (name, artifact, onnx, input, calls) in specs {
        let rt = Runtime::new(RuntimeConfig {
            max_instances: 4,
            cache_dir: None,
            deadline: Duration::from_secs(30),
            ..RuntimeConfig::default()
        })?;
        let report = rt.install(std::fs::read(&artifact).with_context(|| format!("read {}", artifact.display()))?)?;
        let c = rt.lookup(&name, None)?;
        let plan = load_plan(&onnx)?;
        let native = |input: &str| -> Result<usize> {
            match name.as_str() {
                "postsortering" => native_postsortering(&plan, input),
                "underretning" => native_underretning(&plan, input),
                "example-feedback" => native_feedback(&plan, input),
                _ => native_encoder(&plan, input),
            }
        };
        // Warm both sides.
        for _ in 0..(calls / 10).max(2) {
            rt.predict(&name, None, input)?;
            native(input)?;
        }
        let (mut inst, mut sand, mut nat, mut ratio, mut over) = (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..a.rounds {
            inst.push(timed(calls.max(200), || {
                rt.time_instantiate(&c).unwrap();
            }));
            let s = timed(calls, || drop(std::hint::black_box(rt.predict(&name, None, input).unwrap())));
            let n = timed(calls, || {
                std::hint::black_box(native(input).unwrap());
            });
            sand.push(s);
            nat.push(n);
            ratio.push(s / n);
            over.push(s - n);
        }
        eprintln!(
            "{name}: sandbox {:.1} µs, native {:.1} µs, ratio {:.3}",
            median(sand.clone()),
            median(nat.clone()),
            median(ratio.clone())
        );
        results.push(json!({
            "component": name,
            "compile_ms": report.compile_ms,
            "instantiate_us": spread(&inst),
            "sandbox_us": spread(&sand),
            "native_us": spread(&nat),
            "ratio": spread(&ratio),
            "overhead_us": spread(&over),
        }));
    }
    println!("{}", json!({ "rounds": a.rounds, "results": results }));
    Ok(())
}
