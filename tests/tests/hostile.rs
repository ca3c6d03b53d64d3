//! Hostile components, beyond `runtime.rs`: a huge explanation, a model name
//! that does not exist, clocks, random, sockets, blocking host calls, a
//! component of the wrong world (written in WAT). The isolation of a normal
//! component from a hostile one under load is in `isolation.rs`.
//!
//! What a component may use of WASI, as asserted here:
//! - files, environment, arguments: nothing (`runtime.rs`);
//! - sockets (TCP, UDP) and name lookup: refused;
//! - wall clock and monotonic clock: readable (the host's real time), and a
//!   sleep never outlasts the prediction deadline;
//! - random: the host's CSPRNG (each call sees different bytes).

use komp_host::{Runtime, RuntimeError};
use komp_tests::{hostile, runtime_with, sandbox_config as config};
use komp_tests::{EXAMPLE_FEEDBACK, HOSTILE};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn a_huge_explanation_is_refused_like_a_huge_output() {
    let rt = runtime_with(&[&HOSTILE]);
    let err = hostile(&rt, "huge-explanation", "20000").unwrap_err();
    assert!(matches!(err, RuntimeError::OutputTooLarge { limit, .. } if limit == 64 << 10), "{err}");
    assert!(err.to_string().contains("output is") && err.to_string().contains("limit"), "{err}");
    // A small explanation is fine.
    let rt2 = &rt;
    let input = serde_json::json!({ "mode": "huge-explanation", "arg": "10" }).to_string();
    let out = rt2.predict("hostile", None, &input).expect("ten features fit");
    assert_eq!(out.prediction.explanation.len(), 10);
    hostile(&rt, "ok", "").expect("next call works");
}

#[test]
fn loading_a_model_that_does_not_exist_is_a_clear_error() {
    let rt = runtime_with(&[&HOSTILE]);
    for name in ["does-not-exist", "", "../identity", "identity\0", &"x".repeat(10_000)] {
        let d = hostile(&rt, "model", name).unwrap();
        // An empty arg means "feedback" in the hostile component.
        assert_eq!(d["loaded"], false, "{name:?}: {d}");
        let error = d["error"].as_str().unwrap();
        assert!(error.contains("no model named") && error.contains("it bundles: identity"), "{name:?}: {error}");
    }
}

#[test]
fn sockets_and_name_lookup_are_refused() {
    let rt = runtime_with(&[&HOSTILE]);
    // A real listener on the host: the component must not reach it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let d = hostile(&rt, "socket", &addr).expect("the call completes");
    for key in ["tcp", "udp", "dns"] {
        let v = d[key].as_str().unwrap();
        assert!(!v.starts_with("connected") && !v.starts_with("sent") && !v.starts_with("resolved"), "{key}: {d}");
    }
    // WASI answers `access-denied` for TCP and UDP (wasmtime-wasi `allow_tcp(false)`, `allow_udp(false)`).
    assert!(d["tcp"].as_str().unwrap().contains("Permission denied"), "{d}");
    assert!(d["udp"].as_str().unwrap().contains("Permission denied"), "{d}");
    assert!(listener.accept().is_err(), "the component reached a host socket: {d}");
    hostile(&rt, "ok", "").expect("next call works");
}

#[test]
fn clocks_are_readable_and_random_is_the_hosts() {
    let rt = runtime_with(&[&HOSTILE]);
    let d = hostile(&rt, "clock", "").unwrap();
    let host_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let wall = d["wall_ms"].as_i64().unwrap();
    assert!((host_ms - wall).abs() < 60_000, "the wall clock is the host's: {wall} vs {host_ms}");
    assert!(d["monotonic_ns"].as_u64().unwrap() > 0, "{d}");
    let a = hostile(&rt, "random", "").unwrap();
    let b = hostile(&rt, "random", "").unwrap();
    assert_ne!(a["hash"], b["hash"], "each instance gets fresh randomness");
}

#[test]
fn a_sleep_in_a_host_call_ends_at_the_deadline() {
    let rt = runtime_with(&[&HOSTILE]);
    for (mode, arg) in [("sleep", "60000"), ("sleep", "18446744073709551"), ("sleep-loop", "")] {
        let started = Instant::now();
        let result = hostile(&rt, mode, arg);
        let took = started.elapsed();
        let err = result.expect_err(&format!("{mode} {arg}: took {took:?}"));
        assert!(matches!(err, RuntimeError::Timeout(_)), "{mode} {arg}: {err}");
        assert!(took < Duration::from_secs(3), "{mode} {arg}: took {took:?}, the deadline is 300 ms");
    }
    // A short sleep within the deadline is allowed.
    let d = hostile(&rt, "sleep", "10").unwrap();
    assert_eq!(d["slept_ms"], 10);
}

#[test]
fn many_sleeping_calls_do_not_exhaust_the_instance_slots() {
    let rt = Arc::new(runtime_with(&[&HOSTILE, &EXAMPLE_FEEDBACK]));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let rt = rt.clone();
            std::thread::spawn(move || hostile(&rt, "sleep", "600000").unwrap_err())
        })
        .collect();
    let started = Instant::now();
    for t in threads {
        let err = t.join().unwrap();
        assert!(
            matches!(err, RuntimeError::Timeout(_) | RuntimeError::Busy(_) | RuntimeError::Throttled { .. }),
            "{err}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    rt.predict("example-feedback", None, r#"{"text":"tak"}"#).expect("slots are free again");
}

/// A component that is a `wasi:cli/run` command, not a komp standard component.
const COMMAND_WORLD: &str = r#"
(component
  (core module $m (func (export "run") (result i32) i32.const 0))
  (core instance $i (instantiate $m))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $run-inst (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $run-inst))
)"#;

/// The right export names with the wrong types.
const WRONG_TYPES: &str = r#"
(component
  (core module $m (func (export "f")))
  (core instance $i (instantiate $m))
  (func $metadata (canon lift (core func $i "f")))
  (func $predict (canon lift (core func $i "f")))
  (export "metadata" (func $metadata))
  (export "predict" (func $predict))
)"#;

/// Imports an interface the host does not offer.
const FOREIGN_IMPORT: &str = r#"
(component
  (import "wasi:http/outgoing-handler@0.2.0" (instance (export "handle" (func))))
)"#;

fn pack_wat(name: &str, wat: &str) -> Vec<u8> {
    let wasm = wat::parse_str(wat).expect("valid WAT");
    let mut m = komp_tests::manifest(&HOSTILE);
    m.name = name.into();
    komp_artifact::pack(&wasm, m, &komp_tests::models(&HOSTILE)).expect("packs").into_bytes()
}

#[test]
fn a_component_of_another_world_is_refused_at_install() {
    let rt = Runtime::new(config()).unwrap();
    let cases = [
        ("command", COMMAND_WORLD, "metadata"),
        ("wrong-types", WRONG_TYPES, "type-checking export func `metadata`"),
        ("empty", "(component)", "metadata"),
        ("foreign-import", FOREIGN_IMPORT, "wasi:http/outgoing-handler"),
    ];
    for (name, wat, expect) in cases {
        let err = rt.install(pack_wat(name, wat)).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, RuntimeError::WrongWorld { .. }), "{name}: {msg}");
        assert!(
            msg.contains("does not implement the world `komp:component/standard-component@0.1.0`"),
            "{name}: {msg}"
        );
        assert!(msg.contains(expect), "{name}: expected {expect:?} in {msg}");
        assert!(rt.lookup(name, None).is_err(), "{name} must not be callable");
    }
}
