//! Hostile components, beyond `runtime.rs`: a huge explanation, a model name
//! that does not exist, clocks, random, sockets, blocking host calls, host
//! memory held through `wasi:nn` (huge `dims`, many errors), error texts and
//! labels that try to forge log lines, a component of the wrong world
//! (written in WAT). The isolation of a normal component from a hostile one
//! under load is in `isolation.rs`.
//!
//! What a component may use of WASI, as asserted here:
//! - files, environment, arguments: nothing (`runtime.rs`);
//! - sockets (TCP, UDP) and name lookup: refused;
//! - wall clock: fixed at 2000-01-01T00:00:00Z on every host;
//! - monotonic clock: virtual, starts at 0 and moves only by the sleeps the
//!   component asks for; a sleep never outlasts the prediction deadline;
//! - random: deterministic per component and input (the same input gives the
//!   same bytes on every host, different inputs give unrelated bytes).

use komp_runtime::nn::HostLimit;
use komp_runtime::{Runtime, RuntimeConfig, RuntimeError};
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
fn the_wall_clock_is_fixed_and_the_monotonic_clock_reveals_no_host_time() {
    let rt = runtime_with(&[&HOSTILE]);
    let d = hostile(&rt, "clock", "").unwrap();
    // 2000-01-01T00:00:00Z, not the host's time.
    assert_eq!(d["wall_ns"], 946_684_800_000_000_000u64, "{d}");
    assert_eq!(komp_runtime::runtime::FIXED_WALL_CLOCK.as_secs(), 946_684_800);
    // Work takes no time on the component's clock; a 5 ms sleep takes exactly 5 ms.
    assert_eq!(d["busy_ns"], 0, "{d}");
    assert_eq!(d["after_sleep_ns"], 5_000_000, "{d}");
    // The same on another host.
    let other = runtime_with(&[&HOSTILE]);
    assert_eq!(hostile(&other, "clock", "").unwrap(), d);
}

/// The whole prediction of the hostile component in `mode`, as JSON.
fn prediction(rt: &Runtime, mode: &str, arg: &str) -> serde_json::Value {
    let input = serde_json::json!({ "mode": mode, "arg": arg }).to_string();
    serde_json::to_value(rt.predict("hostile", None, &input).expect("predicts").prediction).unwrap()
}

#[test]
fn a_call_finds_nothing_of_the_previous_one() {
    // Every call gets a fresh instance in a reused pool slot; whatever way the
    // slot is reset (memset, madvise, or PAGEMAP_SCAN where the kernel has it:
    // runtime/src/engine.rs), the next call sees pristine memory: its statics
    // and 6 MiB of fresh heap, past the part kept resident.
    let rt = runtime_with(&[&HOSTILE]);
    for i in 0..4 {
        let p = prediction(&rt, "remember", &format!("secret of call {i}"));
        assert_eq!(p["details"]["before"], "", "call {i} saw an earlier call's static: {p}");
        assert_eq!(p["details"]["nonzero_heap_bytes"], 0, "call {i} saw an earlier call's heap: {p}");
    }
}

#[test]
fn random_is_deterministic_per_component_and_input() {
    let rt = runtime_with(&[&HOSTILE]);
    let a = prediction(&rt, "random", "");
    let d = &a["details"];
    assert_eq!(d["bytes"].as_str().unwrap().len(), 64, "{d}");
    assert_ne!(d["bytes"], d["more_bytes"], "a stream, not one value repeated: {d}");
    // The same input twice, each in a fresh instance: bit-identical.
    assert_eq!(prediction(&rt, "random", ""), a);
    // Another host (another Runtime, engine and compile): bit-identical.
    let other = runtime_with(&[&HOSTILE]);
    assert_eq!(prediction(&other, "random", ""), a);
    // Another input: unrelated bytes.
    let b = prediction(&rt, "random", "other input");
    assert_ne!(b["details"]["bytes"], d["bytes"]);
    assert_ne!(b["details"]["hash"], d["hash"]);
}

/// The sandbox config with a small per-call host budget, so that the tests
/// that hit it stay cheap, and a deadline long enough for thousands of host
/// calls in a debug build on a busy machine (the limit, not the deadline,
/// must be what stops them).
fn small_host_budget() -> RuntimeConfig {
    RuntimeConfig { max_tensor_bytes_per_call: 8 << 20, deadline: Duration::from_secs(10), ..config() }
}

fn assert_host_limit_fault(err: &RuntimeError) {
    assert!(matches!(err, RuntimeError::HostLimit(_)), "{err}");
    assert!(err.is_component_fault(), "a host limit is the component's fault: {err}");
    assert!(err.to_string().contains("made the host hold too much"), "{err}");
}

#[test]
fn huge_dims_lists_count_against_the_per_call_host_budget() {
    let rt = Runtime::new(small_host_budget()).unwrap();
    rt.install(komp_tests::packed(&HOSTILE)).unwrap();
    // 400 KB of dims per tensor with empty data: 21 of them fill 8 MiB.
    let err = hostile(&rt, "dims", "200").unwrap_err();
    assert_host_limit_fault(&err);
    assert!(matches!(err, RuntimeError::HostLimit(HostLimit::Held { limit, .. }) if limit == 8 << 20), "{err}");
    assert!(err.to_string().contains("per-call limit of 8388608 bytes (max_tensor_bytes_per_call)"), "{err}");
    // Below the budget it works, and the next call starts from zero.
    assert_eq!(hostile(&rt, "dims", "10").unwrap()["tensors"], 10);
    hostile(&rt, "ok", "").expect("next call works");
}

#[test]
fn wasi_nn_errors_with_long_names_are_bounded() {
    let rt = Runtime::new(small_host_budget()).unwrap();
    rt.install(komp_tests::packed(&HOSTILE)).unwrap();
    // 20,000 kept errors from 1 KiB names: over the 10,000 resources a call may hold.
    let err = hostile(&rt, "error-names", "20000").unwrap_err();
    assert_host_limit_fault(&err);
    assert!(matches!(err, RuntimeError::HostLimit(HostLimit::Resources { limit: 10_000 })), "{err}");
    // A few are fine, and the host quotes the name shortened (the SDK's own
    // wrapper in the component quotes it in full).
    assert_eq!(hostile(&rt, "error-names", "100").unwrap()["errors"], 100);
    let d = hostile(&rt, "model", &"n".repeat(1024)).unwrap();
    let error = d["error"].as_str().unwrap();
    let host_part = error.split("ErrorCode::NotFound: ").nth(1).unwrap_or_else(|| panic!("{error}"));
    let expected =
        format!("this component bundles no model named `{}…` (1024 bytes) (it bundles: identity)", "n".repeat(64));
    assert!(host_part.starts_with(&expected), "{host_part}");
}

#[test]
fn component_texts_are_capped_and_escaped() {
    let rt = runtime_with(&[&HOSTILE]);
    let err = hostile(&rt, "long-error", "").unwrap_err();
    assert!(matches!(err, RuntimeError::ComponentInternal(_)), "{err}");
    let msg = err.to_string();
    assert!(msg.len() < 1300, "{} bytes", msg.len());
    assert!(!msg.chars().any(|c| c.is_control() || c == '\u{202e}'), "{msg:?}");
    assert!(msg.contains(r"\u{1b}[31mred\r\nforged: audit line\u{0}\u{202e}é∑"), "{msg}");
    // The component's text, as it built it.
    let sent = format!("\u{1b}[31mred\r\nforged: audit line\0\u{202e}{}", "é∑".repeat(1 << 18));
    assert!(msg.contains(&format!("[truncated: {} bytes from the component, ", sent.len())), "{msg}");
    assert!(msg.ends_with(" shown]"), "{msg}");

    // (The label is in the scores too: twice 30 KB is within the 64 KiB output cap.)
    let err = hostile(&rt, "bad-label", "30000").unwrap_err();
    assert!(matches!(err, RuntimeError::BadOutput(_)), "{err}");
    let msg = err.to_string();
    assert!(msg.len() < 1300 && !msg.chars().any(|c| c.is_control()), "{msg:?}");
    assert!(msg.contains(r#"label "\u{1b}[2J\nxxx"#) && msg.contains("[truncated: 30005 bytes"), "{msg}");
    hostile(&rt, "ok", "").expect("next call works");
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
