//! `komp-sandbox`: the cost of the sandbox, and tract's compute-only latency.
//!
//! For each component: a prediction through the runtime (`Runtime::predict`:
//! schema check, fresh instance, the component's pre- and post-processing in
//! wasm, host-side tract behind wasi:nn) versus the same work done natively
//! in this process (JSON parse, the same features or tokens, the same model
//! in tract, the same explanation grouping and, for the standard components,
//! the same out-of-distribution check, details and prediction building: the
//! component's *native twin*), on the same input. Rounds
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
use komp_sdk::prediction::PredictionBuilder;
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
    /// Profiling: install this standard component and run only `--side`
    /// `--calls` times in a loop (no timing output), so that `perf stat` /
    /// `perf record` see one kind of call; divide its counts by `--calls`.
    #[arg(long)]
    loop_component: Option<String>,
    /// With `--loop-component`: `sandbox` (Runtime::predict), `instantiate`
    /// (a fresh instance, no call), `native` (the native twin) or `none`
    /// (install only: the baseline to subtract).
    #[arg(long, default_value = "sandbox")]
    side: String,
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

/// What a twin needs of a component's training metadata
/// (`components/models/<name>.meta.json`, which the component's build.rs
/// turns into constants): labels, the out-of-distribution vocabulary, and
/// underretning's structured features and operating threshold.
struct Meta {
    labels: Vec<String>,
    known_words: Vec<String>,
    english_known: bool,
    structured: Vec<String>,
    threshold: f32,
}

impl Meta {
    fn load(name: &str) -> Result<Meta> {
        let path = format!("components/models/{name}.meta.json");
        let m: Value = serde_json::from_str(&std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?)?;
        let strings = |v: &Value| -> Vec<String> {
            v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect()).unwrap_or_default()
        };
        Ok(Meta {
            labels: m["labels"]
                .as_array()
                .map(|a| a.iter().filter_map(|l| l["id"].as_str().or(l.as_str()).map(String::from)).collect())
                .unwrap_or_default(),
            known_words: strings(&m["out_of_distribution"]["known_words"]),
            english_known: m["out_of_distribution"]["english_known"].as_bool().unwrap_or(false),
            structured: m["structured_features"]["definitions"]
                .as_array()
                .map(|a| a.iter().filter_map(|d| d["name"].as_str().map(String::from)).collect())
                .unwrap_or_default(),
            threshold: m["operating_threshold"]["value"].as_f64().unwrap_or(0.5) as f32,
        })
    }

    fn known(&self) -> Vec<&str> {
        self.known_words.iter().map(String::as_str).collect()
    }
}

fn sdk_error(e: komp_sdk::Error) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

/// The native twin of postsortering: the component's own work
/// (`components/postsortering/src/lib.rs`) natively: parse, features,
/// model, explanation, out-of-distribution check, details, prediction.
fn native_postsortering(plan: &Plan, meta: &Meta, known: &[&str], input: &str) -> Result<usize> {
    #[derive(serde::Deserialize)]
    struct Mail {
        subject: String,
        body: String,
        #[serde(default)]
        sender_type: Option<String>,
    }
    const SENDER_TYPES: [&str; 4] = ["citizen", "business", "authority", "internal"];
    let mail: Mail = serde_json::from_str(input)?;
    let text = format!("{}\n{}", mail.subject, mail.body);
    let h = HashedText::new(&text, 16384);
    let mut sender = [0.0f32; 4];
    if let Some(i) = SENDER_TYPES.iter().position(|t| Some(*t) == mail.sender_type.as_deref()) {
        sender[i] = 1.0;
    }
    let [ids, values] = sparse(&h)?;
    let out = plan.run(tvec!(ids, values, Tensor::from_shape(&[1, 4], &sender)?.into()))?;
    let mut explanation = h.word_contributions(out[1].try_as_plain_ram()?.as_slice::<f32>()?);
    for (i, c) in out[2].try_as_plain_ram()?.as_slice::<f32>()?.iter().enumerate() {
        if sender[i] != 0.0 {
            explanation.push((format!("sender_type={}", SENDER_TYPES[i]), *c));
        }
    }
    let limits = komp_sdk::ood::OodLimits { english_known: meta.english_known, ..Default::default() };
    let ood = komp_sdk::ood::check_tokens(h.all_tokens(), known, &limits);
    let labels: Vec<&str> = meta.labels.iter().map(String::as_str).collect();
    let builder = PredictionBuilder::new(&labels, out[0].try_as_plain_ram()?.as_slice::<f32>()?).map_err(sdk_error)?;
    let manual = builder.top_score() < 0.85 || !ood.reasons.is_empty();
    let mut details = json!({
        "route": if manual { "manual-sorting" } else { "automatic" },
        "review_threshold": 0.85,
        "model_version": "twin",
        "coverage": { "content_tokens": ood.content_tokens, "known_tokens": ood.known_tokens },
    });
    if !ood.reasons.is_empty() {
        details["out_of_distribution"] = ood.to_json();
    }
    let p = builder.review_below(0.85).explanation(explanation, 10).details(details).build().map_err(sdk_error)?;
    Ok(std::hint::black_box(p).explanation.len())
}

/// What postsortering adds for a letter its linear model is unsure of
/// (`components/postsortering/src/lib.rs`): the tokeniser over the
/// vocabulary's compiled tables (made once, as the component's build script
/// does; read in place per call), the encoder, the head.
struct EncoderTwin {
    vocabulary: &'static komp_sdk::sentencepiece::StaticVocabulary,
    encoder: Plan,
    head: Plan,
}

impl EncoderTwin {
    fn load() -> Result<EncoderTwin> {
        let path = "components/models/e5-small-da-en.vocab.json";
        Ok(EncoderTwin {
            vocabulary: komp_sdk::sentencepiece::VocabularyTables::from_vocabulary_json(
                &std::fs::read_to_string(path).with_context(|| format!("read {path} (build_encoder.py)"))?,
            )?
            .leak(),
            encoder: load_plan(std::path::Path::new("components/models/e5-small-da-en.onnx"))?,
            head: load_plan(std::path::Path::new("components/models/postsortering-head.onnx"))?,
        })
    }
}

/// The native twin of postsortering's encoder path: the linear twin's work, then the encoder's.
fn native_postsortering_encoder(
    plan: &Plan,
    meta: &Meta,
    known: &[&str],
    twin: &EncoderTwin,
    input: &str,
) -> Result<usize> {
    let n = native_postsortering(plan, meta, known, input)?;
    let mail: Value = serde_json::from_str(input)?;
    let text = format!("{}\n{}", mail["subject"].as_str().unwrap_or(""), mail["body"].as_str().unwrap_or(""));
    let tokenizer = komp_sdk::sentencepiece::EncoderTokenizer::from_static(twin.vocabulary)?;
    let ids = tokenizer.token_ids(&text);
    let out = twin.encoder.run(tvec!(Tensor::from_shape(&[ids.len()], &ids)?.into()))?;
    let mut features = out[0].try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
    features.extend([0.0f32; 4]);
    let p = twin.head.run(tvec!(Tensor::from_shape(&[1, features.len()], &features)?.into()))?;
    Ok(n + std::hint::black_box(p).len())
}

/// The native twin of underretning (`components/underretning/src/lib.rs`).
fn native_underretning(plan: &Plan, meta: &Meta, known: &[&str], input: &str) -> Result<usize> {
    let v: Value = serde_json::from_str(input)?;
    let h = HashedText::new(v["text"].as_str().unwrap_or(""), 16384);
    let ood = komp_sdk::ood::check_tokens(h.all_tokens(), known, &komp_sdk::ood::OodLimits::default());
    // The structured features by name, as the component computes them (components/underretning/src/lib.rs).
    let age = v["child_age"].as_i64().unwrap_or(0).clamp(0, 17);
    let reporter = format!("reporter_{}", v["reporter_type"].as_str().unwrap_or("other"));
    let s: Vec<f32> = meta
        .structured
        .iter()
        .map(|name| match name.as_str() {
            "age_0_2" => (age <= 2) as u8 as f32,
            "age_3_5" => (3..=5).contains(&age) as u8 as f32,
            "age_6_12" => (6..=12).contains(&age) as u8 as f32,
            "age_13_17" => (age >= 13) as u8 as f32,
            "prior_notifications_capped" => v["prior_notifications_12m"].as_i64().unwrap_or(0).clamp(0, 5) as f32 / 5.0,
            "known_to_municipality" => v["known_to_municipality"].as_bool().unwrap_or(false) as u8 as f32,
            other => (other == reporter) as u8 as f32,
        })
        .collect();
    let [ids, values] = sparse(&h)?;
    let out = plan.run(tvec!(ids, values, Tensor::from_shape(&[1, s.len()], &s)?.into()))?;
    let p = out[0].try_as_plain_ram()?.as_slice::<f32>()?.first().copied().unwrap_or(0.0);
    let mut reasons = h.word_contributions(out[1].try_as_plain_ram()?.as_slice::<f32>()?);
    for (i, c) in out[2].try_as_plain_ram()?.as_slice::<f32>()?.iter().enumerate() {
        if s[i] != 0.0 {
            reasons.push((format!("structured_{i}"), *c));
        }
    }
    let acute = p >= meta.threshold;
    let mut towards: Vec<&(String, f32)> = reasons.iter().filter(|(_, w)| *w > 0.0).collect();
    towards.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let flag_reasons: Vec<Value> = towards.iter().take(5).map(|(f, w)| json!({"reason": f, "weight": w})).collect();
    let (negated, past) = h.marked_count();
    let mut details = json!({
        "acute": acute,
        "probability_acute": p,
        "risk_level": "medium",
        "operating_threshold": meta.threshold,
        "explanation_direction": "positive weights push towards acute",
        "negated_words": negated,
        "past_words": past,
        "model_version": "twin",
        "coverage": { "content_tokens": ood.content_tokens, "known_tokens": ood.known_tokens },
    });
    if acute {
        details["flag_reasons"] = Value::Array(flag_reasons);
    }
    if !ood.reasons.is_empty() {
        details["out_of_distribution"] = ood.to_json();
    }
    let pred = PredictionBuilder::new(&["acute", "not_acute"], &[p, 1.0 - p])
        .map_err(sdk_error)?
        .choose(if acute { 0 } else { 1 })
        .always_review()
        .explanation(reasons, 12)
        .details(details)
        .build()
        .map_err(sdk_error)?;
    Ok(std::hint::black_box(pred).explanation.len())
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
/// A letter about two subjects: postsortering's linear model is unsure, so the encoder runs.
const POST_UNSURE: &str = r#"{"subject":"Spørgsmål","body":"Vi har spørgsmål om skolen og om affaldet, og vi ved ikke hvem der skal svare. Mvh Jens"}"#;
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

/// `--loop-component`: one kind of call in a loop, for `perf stat -e
/// page-faults,instructions,cycles` and `KOMP_PERFMAP=1 perf record`.
fn profile_loop(a: &Args, name: &str) -> Result<()> {
    let (onnx, input) = match name {
        "postsortering" => ("components/models/postsortering.onnx", POST),
        "underretning" => ("components/models/underretning.onnx", UNDER),
        "example-feedback" => ("components/example-feedback/model/feedback.onnx", FEEDBACK),
        other => anyhow::bail!("--loop-component {other}: not a standard component"),
    };
    let rt = Runtime::new(RuntimeConfig {
        max_instances: 4,
        cache_dir: None,
        deadline: Duration::from_secs(30),
        ..RuntimeConfig::default()
    })?;
    let artifact = a.components.join(format!("{name}.wasm"));
    rt.install(std::fs::read(&artifact).with_context(|| format!("read {}", artifact.display()))?)?;
    let c = rt.lookup(name, None)?;
    let plan = load_plan(std::path::Path::new(onnx))?;
    let meta = match name {
        "postsortering" | "underretning" => Some(Meta::load(name)?),
        _ => None,
    };
    let known = meta.as_ref().map(Meta::known).unwrap_or_default();
    let native = |input: &str| -> Result<usize> {
        match (name, &meta) {
            ("postsortering", Some(meta)) => native_postsortering(&plan, meta, &known, input),
            ("underretning", Some(meta)) => native_underretning(&plan, meta, &known, input),
            _ => native_feedback(&plan, input),
        }
    };
    let t = Instant::now();
    for _ in 0..a.calls {
        match a.side.as_str() {
            "sandbox" => drop(std::hint::black_box(rt.predict(name, None, input)?)),
            "instantiate" => {
                rt.time_instantiate(&c)?;
            }
            "native" => {
                std::hint::black_box(native(input)?);
            }
            "none" => {}
            other => anyhow::bail!("--side {other}: one of sandbox, instantiate, native, none"),
        }
    }
    eprintln!("{name} {}: {:.1} µs per call (mean)", a.side, t.elapsed().as_secs_f64() * 1e6 / a.calls.max(1) as f64);
    Ok(())
}

fn main() -> Result<()> {
    let a = Args::parse();
    if a.engine_only {
        println!("{}", engine_only(&a)?);
        return Ok(());
    }
    if let Some(name) = &a.loop_component {
        return profile_loop(&a, name);
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
    specs.push((
        "postsortering-encoder".into(),
        a.components.join("postsortering.wasm"),
        "components/models/postsortering.onnx".into(),
        POST_UNSURE,
        a.encoder_calls,
    ));
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
        // "postsortering-encoder" is postsortering on a letter that takes the encoder path.
        let component = if name == "postsortering-encoder" { "postsortering" } else { name.as_str() };
        let c = rt.lookup(component, None)?;
        let plan = load_plan(&onnx)?;
        let meta = match component {
            "postsortering" | "underretning" => Some(Meta::load(component)?),
            _ => None,
        };
        let twin = if name == "postsortering-encoder" { Some(EncoderTwin::load()?) } else { None };
        let known = meta.as_ref().map(Meta::known).unwrap_or_default();
        let native = |input: &str| -> Result<usize> {
            match (name.as_str(), &meta) {
                ("postsortering-encoder", Some(meta)) => {
                    native_postsortering_encoder(&plan, meta, &known, twin.as_ref().expect("twin"), input)
                }
                ("postsortering", Some(meta)) => native_postsortering(&plan, meta, &known, input),
                ("underretning", Some(meta)) => native_underretning(&plan, meta, &known, input),
                ("example-feedback", _) => native_feedback(&plan, input),
                _ => native_encoder(&plan, input),
            }
        };
        // Warm both sides (and check that the encoder path is the one measured).
        let first = rt.predict(component, None, input)?;
        if name == "postsortering-encoder" {
            anyhow::ensure!(first.prediction.details["encoder"]["ran"] == true, "the encoder did not run: {input}");
        }
        for _ in 0..(calls / 10).max(2) {
            rt.predict(component, None, input)?;
            native(input)?;
        }
        let (mut inst, mut sand, mut nat, mut ratio, mut over) = (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..a.rounds {
            inst.push(timed(calls.max(200), || {
                rt.time_instantiate(&c).unwrap();
            }));
            let s = timed(calls, || drop(std::hint::black_box(rt.predict(component, None, input).unwrap())));
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
