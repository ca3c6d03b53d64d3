//! A component that misbehaves on request, so the tests can prove the
//! sandbox holds. `{"mode": "..."}` picks the behaviour; `details` reports
//! what the component observed from inside.

use komp_sdk::bindings::wasi::nn::{graph, tensor};
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

/// What the previous call of this instance stored (mode "remember"): a fresh
/// instance per call must always find it empty.
static REMEMBERED: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

fn ok(details: serde_json::Value) -> Result<Prediction, Error> {
    PredictionBuilder::new(&["ok"], &[1.0])?.details(details).build()
}

extern "C" {
    /// wasi-libc's `getentropy`, backed by `wasi:random/random`.
    fn getentropy(buf: *mut u8, len: usize) -> i32;
}

/// 32 bytes from `wasi:random/random`, hex.
fn random_hex() -> String {
    let mut buf = [0u8; 32];
    // SAFETY: `buf` is valid for 32 bytes of writes; getentropy takes at most 256.
    let rc = unsafe { getentropy(buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return format!("getentropy failed: {rc}");
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
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
            "remember" => {
                // What an earlier call left behind: in a static (the data
                // segment and the heap behind it) and in fresh heap pages. A
                // zeroed allocation this large comes from `memory.grow`, which
                // the allocator trusts to be zero, so a slot that was not reset
                // would show the 0xAB pattern the previous call wrote.
                let before = REMEMBERED.lock().map(|s| s.clone()).unwrap_or_default();
                let mut big = vec![0u8; 6 << 20];
                let nonzero = big.iter().filter(|b| **b != 0).count();
                big.fill(0xAB);
                std::hint::black_box(&big);
                if let Ok(mut s) = REMEMBERED.lock() {
                    *s = r.arg.clone();
                }
                ok(json!({ "before": before, "nonzero_heap_bytes": nonzero }))
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
                let wall_ns = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0);
                let start = std::time::Instant::now();
                let mut x = 0u64;
                for i in 0..100_000u64 {
                    x = std::hint::black_box(x.wrapping_add(i));
                }
                let busy_ns = start.elapsed().as_nanos() as u64;
                std::thread::sleep(std::time::Duration::from_millis(5));
                let after_sleep_ns = start.elapsed().as_nanos() as u64;
                ok(json!({ "wall_ns": wall_ns, "busy_ns": busy_ns, "after_sleep_ns": after_sleep_ns, "x": x }))
            }
            "random" => {
                // std's HashMap keys come from wasi:random too.
                use std::hash::BuildHasher;
                let a = std::collections::hash_map::RandomState::new().hash_one("komp");
                ok(json!({ "hash": a.to_string(), "bytes": random_hex(), "more_bytes": random_hex() }))
            }
            "dims" => {
                // Many tensors with empty data and a 100,000-element dims list
                // each, all kept: the host holds the dims, not the component.
                let n: usize = r.arg.parse().unwrap_or(1_000);
                let dims = vec![1u32; 100_000];
                let mut kept = Vec::new();
                for _ in 0..n {
                    kept.push(tensor::Tensor::new(&dims, tensor::TensorType::Fp32, &[]));
                }
                ok(json!({ "tensors": kept.len() }))
            }
            "error-names" => {
                // Many failed loads by long names, every error kept.
                let n: usize = r.arg.parse().unwrap_or(20_000);
                let name = "n".repeat(1024);
                let mut kept = Vec::new();
                for _ in 0..n {
                    if let Err(e) = graph::load_by_name(&name) {
                        kept.push(e);
                    }
                }
                ok(json!({ "errors": kept.len() }))
            }
            "long-error" => {
                // A megabyte of error text that tries to forge log lines and
                // terminal output; multi-byte characters test the cut.
                let text = format!("\u{1b}[31mred\r\nforged: audit line\0\u{202e}{}", "é∑".repeat(1 << 18));
                Err(Error::Internal(text))
            }
            "bad-label" => {
                let n: usize = r.arg.parse().unwrap_or(50_000);
                let label = format!("\u{1b}[2J\n{}", "x".repeat(n));
                PredictionBuilder::new(&[label.as_str()], &[1.0])?.build()
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
