//! The runtime with real components built from source and real ONNX models
//! run by tract: results, golden vectors, and the sandbox's limits.

use komp_runtime::{Runtime, RuntimeConfig, RuntimeError};
use komp_tests::{hostile, packed, packed_with, runtime_with, sandbox_config as config, EXAMPLE_FEEDBACK, HOSTILE};
use std::time::{Duration, Instant};
use tract_onnx::prelude::*;

/// Runs feedback.onnx with tract directly, outside any sandbox.
fn tract_direct(text: &str) -> Vec<f32> {
    let path = komp_tests::root().join("components/example-feedback/model/feedback.onnx");
    let model = tract_onnx::onnx().model_for_path(path).unwrap().into_optimized().unwrap().into_runnable().unwrap();
    let features = komp_sdk::text::HashedText::new(text, 1024);
    let input = tract_onnx::prelude::Tensor::from_shape(&[1, 1024], &features.dense()).unwrap();
    let out = model.run(tvec!(input.into())).unwrap();
    out[0].try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec()
}

const TEXTS: &[&str] = &[
    "Tak for den hurtige og venlige hjælp, jeg er meget tilfreds!",
    "Jeg er utilfreds. Jeg har ventet i tre uger og ingen har svaret, det er uacceptabelt.",
    "Sagsbehandleren var hjaelpsom men systemet er langsomt",
    "Hej, jeg vil bare høre om min ansøgning er modtaget.",
    "DÅRLIG SERVICE!!! aldrig igen",
];

#[test]
fn example_component_gives_the_same_scores_as_tract_directly() {
    let rt = runtime_with(&[&EXAMPLE_FEEDBACK]);
    for text in TEXTS {
        let input = serde_json::json!({ "text": text }).to_string();
        let out = rt.predict("example-feedback", None, &input).expect("predict");
        let direct = tract_direct(text);
        let p = &out.prediction;
        assert_eq!(p.scores.len(), 2);
        for (i, label) in ["positiv", "negativ"].iter().enumerate() {
            let got = p.score(label).unwrap();
            assert!((got - direct[i]).abs() < 1e-6, "{text}: {label} {got} vs tract {}", direct[i]);
        }
        let top = if direct[0] >= direct[1] { "positiv" } else { "negativ" };
        assert_eq!(p.label, top, "{text}");
        assert_eq!(out.digest.len(), 64);
        assert_eq!(p.requires_human_review, direct[0].max(direct[1]) < 0.75);
    }
    // The explanation names the words that carried the decision.
    let out = rt.predict("example-feedback", None, r#"{"text":"Jeg er utilfreds og skuffet"}"#).unwrap();
    assert_eq!(out.prediction.label, "negativ");
    let words: Vec<&str> = out.prediction.explanation.iter().take(4).map(|f| f.feature.as_str()).collect();
    assert!(words.contains(&"utilfreds") && words.contains(&"skuffet"), "{words:?}");
    assert!(out.prediction.explanation[0].weight > 0.0);
}

#[test]
fn golden_vectors_are_checked_at_install() {
    let rt = Runtime::new(config()).unwrap();
    let text = TEXTS[1];
    let direct = tract_direct(text);
    let mut manifest = komp_tests::manifest(&EXAMPLE_FEEDBACK);
    let vector = |negativ: f32| {
        serde_json::from_value(serde_json::json!({
            "input": { "text": text },
            "expected": { "label": "negativ", "scores": { "positiv": direct[0], "negativ": negativ } },
            "tolerance": 0.001
        }))
        .unwrap()
    };
    // A tampered expectation: off by 0.05.
    manifest.golden_vectors = vec![vector(direct[1]), vector(direct[1] - 0.05)];
    let err = rt.install(packed_with(&EXAMPLE_FEEDBACK, manifest.clone())).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, RuntimeError::GoldenVectors { failed: 1, total: 2, .. }), "{msg}");
    assert!(msg.contains("golden vector 1") && msg.contains("\"negativ\"") && msg.contains("differs by 0.05"), "{msg}");
    assert!(rt.lookup("example-feedback", None).is_err(), "a refused component must not be callable");

    // The true expectation passes.
    manifest.golden_vectors = vec![vector(direct[1])];
    let report = rt.install(packed_with(&EXAMPLE_FEEDBACK, manifest)).unwrap();
    assert_eq!(report.golden_vectors_passed, 1);
}

#[test]
fn committed_golden_vectors_pass() {
    let rt = Runtime::new(config()).unwrap();
    let report = rt.install(packed(&EXAMPLE_FEEDBACK)).unwrap();
    assert_eq!(report.golden_vectors_passed, komp_tests::manifest(&EXAMPLE_FEEDBACK).golden_vectors.len());
}

#[test]
fn schema_violations_name_the_path() {
    let rt = runtime_with(&[&EXAMPLE_FEEDBACK]);
    let err = rt.predict("example-feedback", None, r#"{"text": 42, "extra": true}"#).unwrap_err();
    let RuntimeError::InputSchema(v) = &err else { panic!("{err}") };
    assert!(v.iter().any(|v| v.path == "/text"), "{v:?}");
    assert!(v.iter().any(|v| v.reason.contains("extra")), "{v:?}");
    assert!(err.is_caller_error());
    let err = rt.predict("example-feedback", None, "{not json").unwrap_err();
    assert!(matches!(err, RuntimeError::InputNotJson(_)), "{err}");
    let err = rt.predict("nope", None, "{}").unwrap_err();
    assert!(matches!(err, RuntimeError::UnknownComponent(_)), "{err}");
}

#[test]
fn manifest_that_disagrees_with_the_code_is_refused() {
    let rt = Runtime::new(config()).unwrap();
    let mut m = komp_tests::manifest(&EXAMPLE_FEEDBACK);
    m.version = semver::Version::new(9, 9, 9);
    let err = rt.install(packed_with(&EXAMPLE_FEEDBACK, m)).unwrap_err();
    assert!(matches!(err, RuntimeError::MetadataMismatch { field: "version", .. }), "{err}");
}

#[test]
fn a_component_cannot_open_files_or_read_the_environment() {
    let rt = runtime_with(&[&HOSTILE]);
    for path in ["/etc/passwd", ".", "/"] {
        let d = hostile(&rt, "file", path).expect("call completes");
        assert_eq!(d["opened"], false, "{path}: {d}");
    }
    let d = hostile(&rt, "env", "").unwrap();
    assert_eq!(d["env"], serde_json::json!([]), "{d}");
    assert!(std::env::vars().count() > 0, "the host itself has an environment");
}

#[test]
fn a_component_cannot_load_another_components_model() {
    let rt = runtime_with(&[&EXAMPLE_FEEDBACK, &HOSTILE]);
    let d = hostile(&rt, "model", "feedback").unwrap();
    assert_eq!(d["loaded"], false, "{d}");
    let error = d["error"].as_str().unwrap();
    assert!(error.contains("no model named `feedback`") && error.contains("identity"), "{error}");
    // Its own model loads.
    let d = hostile(&rt, "model", "identity").unwrap();
    assert_eq!(d["loaded"], true, "{d}");
}

#[test]
fn an_endless_loop_ends_at_the_deadline_and_the_next_call_works() {
    let rt = runtime_with(&[&HOSTILE]);
    let started = Instant::now();
    let err = hostile(&rt, "loop", "").unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, RuntimeError::Timeout(_)), "{err}");
    assert!(err.to_string().contains("deadline"), "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    hostile(&rt, "ok", "").expect("next call works");
}

#[test]
fn unbounded_memory_growth_hits_the_cap_and_the_next_call_works() {
    let rt = runtime_with(&[&HOSTILE]);
    let err = hostile(&rt, "memory", "").unwrap_err();
    assert!(matches!(err, RuntimeError::MemoryLimit(c) if c == 32 << 20), "{err}");
    assert!(err.to_string().contains("memory cap"), "{err}");
    hostile(&rt, "ok", "").expect("next call works");
}

#[test]
fn stack_exhaustion_and_panics_are_clear_errors() {
    let rt = runtime_with(&[&HOSTILE]);
    let err = hostile(&rt, "recursion", "").unwrap_err();
    assert!(matches!(err, RuntimeError::StackOverflow) || err.to_string().contains("stack overflowed"), "{err}");
    let err = hostile(&rt, "panic", "").unwrap_err();
    assert!(err.to_string().contains("panicked"), "{err}");
    hostile(&rt, "ok", "").expect("next call works");
}

#[test]
fn huge_tensors_and_huge_outputs_are_refused() {
    let rt = runtime_with(&[&HOSTILE]);
    let err = hostile(&rt, "huge-tensor", "").unwrap_err();
    assert!(err.to_string().contains("per-tensor limit"), "{err}");
    let err = hostile(&rt, "huge-output", "").unwrap_err();
    assert!(matches!(err, RuntimeError::OutputTooLarge { .. }), "{err}");
    hostile(&rt, "ok", "").expect("next call works");
}

#[test]
fn versions_are_immutable_and_reinstall_is_idempotent() {
    let rt = runtime_with(&[&EXAMPLE_FEEDBACK]);
    rt.install(packed(&EXAMPLE_FEEDBACK)).expect("same bytes again is fine");
    let mut m = komp_tests::manifest(&EXAMPLE_FEEDBACK);
    m.description.push_str(" (changed)");
    let err = rt.install(packed_with(&EXAMPLE_FEEDBACK, m)).unwrap_err();
    assert!(matches!(err, RuntimeError::VersionConflict { .. }), "{err}");
}

#[test]
fn withdrawn_components_answer_with_the_reason() {
    let rt = runtime_with(&[&EXAMPLE_FEEDBACK]);
    assert!(rt.withdraw("example-feedback", &semver::Version::new(0, 1, 0), "yanked: wrong weights"));
    let err = rt.predict("example-feedback", None, r#"{"text":"tak"}"#).unwrap_err();
    assert!(err.to_string().contains("yanked: wrong weights"), "{err}");
}

#[test]
fn the_compile_cache_is_reused_and_a_tampered_entry_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = RuntimeConfig { cache_dir: Some(dir.path().to_path_buf()), ..config() };
    let first = Runtime::new(cfg.clone()).unwrap().install(packed(&EXAMPLE_FEEDBACK)).unwrap();
    assert!(!first.compile_cache_hit);
    let second = Runtime::new(cfg.clone()).unwrap().install(packed(&EXAMPLE_FEEDBACK)).unwrap();
    assert!(second.compile_cache_hit);

    // Flip one byte of the cached code: it must be recompiled, not loaded.
    let entry = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .expect("a cache entry");
    let mut bytes = std::fs::read(&entry).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&entry, bytes).unwrap();
    let rt = Runtime::new(cfg).unwrap();
    let third = rt.install(packed(&EXAMPLE_FEEDBACK)).unwrap();
    assert!(!third.compile_cache_hit, "a tampered cache entry must not be used");
    rt.predict("example-feedback", None, r#"{"text":"tak"}"#).expect("works after recompiling");
}

#[test]
fn a_cache_entry_copied_to_another_components_path_is_not_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = RuntimeConfig { cache_dir: Some(dir.path().to_path_buf()), ..config() };
    let rt = Runtime::new(cfg.clone()).unwrap();
    let a = rt.install(packed(&EXAMPLE_FEEDBACK)).unwrap();
    let b = rt.install(packed(&HOSTILE)).unwrap();
    let entry = |digest: &str| {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(digest))
            .unwrap_or_else(|| panic!("a cache entry for {digest}"))
    };
    // A genuine entry of component A (signed by this host's key) under B's name.
    std::fs::copy(entry(&a.digest), entry(&b.digest)).unwrap();

    let rt = Runtime::new(cfg).unwrap();
    let report = rt.install(packed(&HOSTILE)).expect("B installs (recompiled, not A's code)");
    assert!(!report.compile_cache_hit, "A's code must not be loaded as B");
    assert_eq!(report.digest, b.digest);
    hostile(&rt, "ok", "").expect("B runs as B");
    // A's own entry is still good.
    assert!(rt.install(packed(&EXAMPLE_FEEDBACK)).unwrap().compile_cache_hit);
}

/// The one error table: every kind has a status, and the status agrees with
/// whose fault it is (a caller's error is 4xx; the host's and a misbehaving
/// component's are 5xx), so audit kinds, metrics, throttling and HTTP
/// statuses cannot drift apart.
#[test]
fn every_error_kind_has_one_class_and_one_status() {
    use komp_runtime::{ErrorKind, Fault};
    let names: std::collections::BTreeSet<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(names.len(), ErrorKind::ALL.len(), "kind names are distinct");
    for k in ErrorKind::ALL {
        let s = komp_server::status(k);
        assert!(s.is_client_error() || s.is_server_error(), "{k}: {s}");
    }
    let samples = [
        RuntimeError::UnknownComponent("x".into()),
        RuntimeError::InputNotJson("eof".into()),
        RuntimeError::InputTooLarge { size: 2, limit: 1 },
        RuntimeError::InvalidInput("no".into()),
        RuntimeError::Withdrawn { component: "x@1.0.0".into(), reason: "key revoked".into() },
        RuntimeError::Busy(4),
        RuntimeError::Timeout(Duration::from_secs(1)),
        RuntimeError::StackOverflow,
        RuntimeError::BadOutput("x".into()),
        RuntimeError::ComponentInternal("x".into()),
        RuntimeError::Cache("x".into()),
        RuntimeError::VersionConflict { component: "x@1.0.0".into(), installed_digest: "ab".into() },
    ];
    for e in &samples {
        let c = e.class();
        let s = komp_server::status(c.kind);
        match c.fault {
            Fault::Caller => assert!(s.is_client_error(), "{e}: {s}"),
            Fault::Host => assert!(s.is_server_error(), "{e}: {s}"),
            Fault::Component => assert!(s == 410 || s.is_server_error(), "{e}: {s}"),
        }
        if c.throttles {
            assert_eq!(c.fault, Fault::Component, "{e}");
            assert!(s.is_server_error(), "{e}: {s}");
        }
        assert_eq!(komp_server::error_kind(e), c.kind.as_str());
        assert_eq!(e.is_caller_error(), c.fault == Fault::Caller);
        assert_eq!(e.is_component_fault(), c.throttles);
    }
    // The statuses users see today.
    let status = |e: &RuntimeError| komp_server::status(e.kind()).as_u16();
    assert_eq!(
        samples.iter().map(status).collect::<Vec<_>>(),
        [404, 400, 413, 422, 410, 503, 504, 500, 500, 500, 500, 500]
    );
    assert_eq!(samples[4].to_string(), "component x@1.0.0 is withdrawn: key revoked");
    assert_eq!(
        samples[11].to_string(),
        "component x@1.0.0 is already installed with different bytes (digest ab); versions are immutable"
    );
}
