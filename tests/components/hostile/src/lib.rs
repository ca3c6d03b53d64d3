//! A component that misbehaves on request, so the tests can prove the
//! sandbox holds. `{"mode": "..."}` picks the behaviour; `details` reports
//! what the component observed from inside.

use komp_sdk::nn::{Input, Model};
use komp_sdk::prediction::PredictionBuilder;
use komp_sdk::{ComponentInfo, Error, Guest, Prediction};
use serde_json::json;

#[derive(serde::Deserialize)]
struct Request {
    mode: String,
    #[serde(default)]
    arg: String,
}

struct Hostile;

fn ok(details: serde_json::Value) -> Result<Prediction, Error> {
    PredictionBuilder::new(&["ok"], &[1.0])?.details(details).build()
}

#[inline(never)]
fn recurse(n: u64) -> u64 {
    let buf = std::hint::black_box([n; 64]);
    if n == 0 {
        return buf[0];
    }
    recurse(n - 1).wrapping_add(buf[(n % 64) as usize])
}

impl Guest for Hostile {
    fn metadata() -> ComponentInfo {
        ComponentInfo { name: "hostile".into(), version: env!("CARGO_PKG_VERSION").into(), labels: vec!["ok".into()] }
    }

    fn predict(input: String) -> Result<Prediction, Error> {
        let r: Request = komp_sdk::parse_input(&input)?;
        match r.mode.as_str() {
            "ok" => ok(json!({})),
            "loop" => {
                let mut i: u64 = 0;
                loop {
                    i = std::hint::black_box(i.wrapping_add(1));
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "recursion" => ok(json!({ "sum": recurse(u64::MAX) })),
            "panic" => panic!("hostile component panics on purpose"),
            "file" => {
                let path = if r.arg.is_empty() { "/etc/passwd".to_string() } else { r.arg };
                match std::fs::read(&path) {
                    Ok(b) => ok(json!({ "opened": true, "bytes": b.len() })),
                    Err(e) => ok(json!({ "opened": false, "error": e.to_string() })),
                }
            }
            "env" => {
                let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                let args: Vec<String> = std::env::args().collect();
                ok(json!({ "env": vars, "args": args }))
            }
            "model" => {
                // Try to load a model by name: by default another component's.
                let name = if r.arg.is_empty() { "feedback".to_string() } else { r.arg };
                match Model::load(&name) {
                    Ok(m) => {
                        let run = m.run(&[Input::f32("features", &[1, 1024], &[0.0; 1024])]);
                        ok(json!({ "loaded": true, "ran": run.is_ok() }))
                    }
                    Err(e) => ok(json!({ "loaded": false, "error": e.to_string() })),
                }
            }
            "huge-tensor" => {
                let big = vec![0.0f32; 2 << 20];
                let m = Model::load("identity")?;
                match m.run(&[Input::f32("x", &[1, big.len() as u32], &big)]) {
                    Ok(_) => ok(json!({ "ran": true })),
                    Err(e) => ok(json!({ "ran": false, "error": e.to_string() })),
                }
            }
            "huge-output" => PredictionBuilder::new(&["ok"], &[1.0])?
                .details(json!({ "blob": "x".repeat(4 << 20) }))
                .build(),
            other => Err(Error::InvalidInput(format!("unknown mode {other:?}"))),
        }
    }
}

komp_sdk::export_component!(Hostile with_types_in komp_sdk::bindings);
