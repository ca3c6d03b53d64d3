//! Sandbox cost: a prediction through the runtime (fresh instance per call,
//! host-side tract behind wasi:nn) versus the same features and the same
//! model run by tract directly in this process.
//!
//! Run: `scripts/build-components.sh && cargo bench -p komp-tests --bench sandbox`
//! Prints medians and spreads (p10-p90) over repeated runs in one process.

use komp_host::{Runtime, RuntimeConfig};
use komp_sdk::text::HashedText;
use std::time::{Duration, Instant};
use tract_onnx::prelude::*;

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    (us(v[v.len() / 2]), us(v[v.len() / 10]), us(v[v.len() * 9 / 10]))
}

fn time<F: FnMut()>(n: usize, mut f: F) -> (f64, f64, f64) {
    for _ in 0..n / 10 {
        f();
    }
    stats(
        (0..n)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let specs = [
        (&komp_tests::EXAMPLE_FEEDBACK, r#"{"text":"Tak for den hurtige og venlige hjælp, jeg er meget tilfreds"}"#),
        (
            &komp_tests::POSTSORTERING,
            r#"{"subject":"Skraldespand ikke tømt","body":"Hej, vores affaldsbeholder til restaffald er ikke blevet tømt i to uger. Mvh Jens","sender_type":"citizen"}"#,
        ),
        (
            &komp_tests::UNDERRETNING,
            r#"{"text":"Pigen fortalte at far slog hende i går og hun har blå mærker","reporter_type":"school","child_age":9,"prior_notifications_12m":1,"known_to_municipality":true}"#,
        ),
    ];
    println!("| component | wasm code | artifact | compile | instantiate p50 | predict p50 (p10-p90) | tract direct p50 | overhead p50 | ratio |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (spec, input) in specs {
        let rt = Runtime::new(RuntimeConfig { max_instances: 4, ..RuntimeConfig::default() }).unwrap();
        let code = komp_tests::built_wasm(spec).len();
        let artifact = komp_tests::packed(spec);
        let size = artifact.len();
        let report = rt.install(artifact).unwrap();
        let name = report.name.clone();
        let c = rt.lookup(&name, None).unwrap();
        let (inst, _, _) = time(2000, || {
            rt.time_instantiate(&c).unwrap();
        });
        let (pred, p10, p90) = time(2000, || {
            rt.predict(&name, None, input).unwrap();
        });

        // The same work outside the sandbox: features in Rust, the model in tract.
        let (model_name, onnx_path) = spec.models[0];
        let model = tract_onnx::onnx()
            .model_for_path(komp_tests::root().join(onnx_path))
            .unwrap()
            .into_optimized()
            .unwrap()
            .into_runnable()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(input).unwrap();
        let direct = |v: &serde_json::Value| -> TVec<TValue> {
            match model_name {
                "feedback" => {
                    let h = HashedText::new(v["text"].as_str().unwrap(), 1024);
                    tvec!(Tensor::from_shape(&[1, 1024], h.values()).unwrap().into())
                }
                "postsortering" => {
                    let h = HashedText::new(
                        &format!("{}\n{}", v["subject"].as_str().unwrap(), v["body"].as_str().unwrap()),
                        16384,
                    );
                    tvec!(
                        Tensor::from_shape(&[1, 16384], h.values()).unwrap().into(),
                        Tensor::from_shape(&[1, 4], &[1.0f32, 0.0, 0.0, 0.0]).unwrap().into()
                    )
                }
                _ => {
                    let h = HashedText::new(v["text"].as_str().unwrap(), 16384);
                    tvec!(
                        Tensor::from_shape(&[1, 16384], h.values()).unwrap().into(),
                        Tensor::from_shape(&[1, 16], &[0.0f32; 16]).unwrap().into()
                    )
                }
            }
        };
        let (nat, _, _) = time(2000, || {
            std::hint::black_box(model.run(direct(&v)).unwrap());
        });
        println!(
            "| {name} | {:.0} KB | {:.0} KB | {} ms | {inst:.1} µs | {pred:.1} µs ({p10:.1}-{p90:.1}) | {nat:.1} µs | {:.1} µs | {:.2}× |",
            code as f64 / 1024.0,
            size as f64 / 1024.0,
            report.compile_ms,
            pred - nat,
            pred / nat
        );
    }
}
