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
            "huge-output" => {
                PredictionBuilder::new(&["ok"], &[1.0])?.details(json!({ "blob": "x".repeat(4 << 20) })).build()
            }
            "huge-explanation" => {
                // Many small features: each is short, together far over the output cap.
                let n: usize = r.arg.parse().unwrap_or(200_000);
                let weights = (0..n).map(|i| (format!("feature-{i:08}"), 1.0 + i as f32)).collect();
                PredictionBuilder::new(&["ok"], &[1.0])?.explanation(weights, n).build()
            }
            "sleep" => {
                // Blocks in a host call (wasi:clocks subscribe + poll), not in wasm code.
                let ms: u64 = r.arg.parse().unwrap_or(60_000);
                std::thread::sleep(std::time::Duration::from_millis(ms));
                ok(json!({ "slept_ms": ms }))
            }
            "sleep-loop" => loop {
                std::thread::sleep(std::time::Duration::from_millis(1));
            },
            "clock" => {
                let wall = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0);
                let start = std::time::Instant::now();
                let mut x = 0u64;
                for i in 0..100_000u64 {
                    x = std::hint::black_box(x.wrapping_add(i));
                }
                ok(json!({ "wall_ms": wall, "monotonic_ns": start.elapsed().as_nanos() as u64, "x": x }))
            }
            "random" => {
                // std's HashMap keys come from wasi:random.
                use std::hash::BuildHasher;
                let a = std::collections::hash_map::RandomState::new().hash_one("komp");
                ok(json!({ "hash": a.to_string() }))
            }
            "socket" => {
                let target = if r.arg.is_empty() { "127.0.0.1:9".to_string() } else { r.arg };
                let tcp = match target.parse::<std::net::SocketAddr>() {
                    Ok(addr) => std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(100))
                        .map(|_| "connected".to_string())
                        .unwrap_or_else(|e| e.to_string()),
                    Err(e) => e.to_string(),
                };
                let udp = std::net::UdpSocket::bind("0.0.0.0:0")
                    .and_then(|s| s.send_to(b"komp", &target).map(|_| ()))
                    .map(|_| "sent".to_string())
                    .unwrap_or_else(|e| e.to_string());
                let dns = std::net::ToSocketAddrs::to_socket_addrs("localhost:80")
                    .map(|a| format!("resolved {}", a.count()))
                    .unwrap_or_else(|e| e.to_string());
                ok(json!({ "tcp": tcp, "udp": udp, "dns": dns }))
            }
            other => Err(Error::InvalidInput(format!("unknown mode {other:?}"))),
        }
    }
}

komp_sdk::export_component!(Hostile with_types_in komp_sdk::bindings);
