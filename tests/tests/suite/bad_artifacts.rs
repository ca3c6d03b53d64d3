//! Bad component files given to `Runtime::install`: each is refused with a
//! precise message **before anything is compiled** (the trust verifier, which
//! runs before compilation, is not even asked for framing and manifest
//! errors). Signature refusals are in `registry/tests/suite/trust.rs`; the CLI's
//! messages for bad files in `cli.rs`.

use komp_artifact::sections::encode_custom_section;
use komp_artifact::{Artifact, ArtifactError};
use komp_runtime::{ArtifactVerifier, Runtime, RuntimeConfig, RuntimeError, VerifyError};
use komp_tests::{built_wasm, manifest, models, packed, EXAMPLE_FEEDBACK};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counts how often it is asked; accepts everything.
#[derive(Default)]
struct Counting(AtomicUsize);
impl ArtifactVerifier for Counting {
    fn verify(&self, _: &Artifact) -> Result<(), VerifyError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn runtime() -> (Runtime, Arc<Counting>) {
    let v = Arc::new(Counting::default());
    let rt =
        Runtime::new(RuntimeConfig { max_instances: 4, ..RuntimeConfig::default() }).unwrap().with_verifier(v.clone());
    (rt, v)
}

/// The component, then the given manifest bytes, then the model sections.
fn assemble(manifest_json: &[u8], extra: &[u8]) -> Vec<u8> {
    let mut out = built_wasm(&EXAMPLE_FEEDBACK);
    out.extend_from_slice(extra);
    out.extend_from_slice(&encode_custom_section("komp-manifest", manifest_json));
    for (name, bytes) in models(&EXAMPLE_FEEDBACK) {
        out.extend_from_slice(&encode_custom_section(&format!("komp-model:{name}"), &bytes));
    }
    out
}

/// The packed manifest as JSON, with every model digest filled in.
fn manifest_value() -> serde_json::Value {
    let a = Artifact::parse(packed(&EXAMPLE_FEEDBACK)).unwrap();
    serde_json::to_value(a.manifest()).unwrap()
}

fn refused(bytes: Vec<u8>) -> (RuntimeError, Duration) {
    let (rt, verifier) = runtime();
    let started = Instant::now();
    let err = rt.install(bytes).expect_err("must be refused");
    let took = started.elapsed();
    assert_eq!(verifier.0.load(Ordering::SeqCst), 0, "refused before the verifier and the compiler: {err}");
    assert!(rt.components().is_empty());
    (err, took)
}

fn expect(bytes: Vec<u8>, what: &str, check: impl Fn(&ArtifactError) -> bool, needle: &str) {
    let (err, _) = refused(bytes);
    let msg = err.to_string();
    match &err {
        RuntimeError::Artifact(a) => assert!(check(a), "{what}: wrong error {a:?}"),
        other => panic!("{what}: not an artifact error: {other}"),
    }
    assert!(msg.contains(needle), "{what}: expected {needle:?} in {msg:?}");
}

#[test]
fn framing_errors() {
    expect(b"hello world".to_vec(), "text", |e| matches!(e, ArtifactError::NotWasm), "not a WebAssembly file");
    expect(Vec::new(), "empty", |e| matches!(e, ArtifactError::NotWasm), "not a WebAssembly file");
    expect(
        b"\0asm\x01\0\0\0".to_vec(),
        "core module",
        |e| matches!(e, ArtifactError::CoreModule),
        "core WebAssembly module",
    );
    let good = packed(&EXAMPLE_FEEDBACK);
    for cut in [9, 100, 5000, good.len() / 2, good.len() - 1] {
        expect(
            good[..cut].to_vec(),
            "truncated",
            |e| matches!(e, ArtifactError::Malformed { .. }),
            "malformed component at byte",
        );
    }
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"\x00\x00");
    expect(trailing, "trailing bytes", |e| matches!(e, ArtifactError::Malformed { .. }), "malformed");
    let mut version = good;
    version[4] = 0x0e;
    expect(version, "unknown version", |e| matches!(e, ArtifactError::Malformed { offset: 4, .. }), "version/layer");
    expect(built_wasm(&EXAMPLE_FEEDBACK), "not packed", |e| matches!(e, ArtifactError::MissingManifest), "komp pack");
}

#[test]
fn a_huge_custom_section_is_refused_quickly() {
    let json = serde_json::to_vec(&manifest_value()).unwrap();
    let junk = encode_custom_section("junk", &vec![0x5a; 64 << 20]);
    let (err, took) = refused(assemble(&json, &junk));
    let msg = err.to_string();
    assert!(
        matches!(err, RuntimeError::Artifact(ArtifactError::OversizedSection { ref name, .. }) if name == "junk"),
        "{msg}"
    );
    assert!(
        msg.contains("custom section `junk`") && msg.contains("67108864 bytes") && msg.contains("not a model"),
        "{msg}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // A huge signature section is refused the same way.
    let sig = encode_custom_section("signature", &vec![1; 2 << 20]);
    let mut bytes = komp_artifact::sections::COMPONENT_PREAMBLE.to_vec();
    bytes.extend_from_slice(&sig);
    bytes.extend_from_slice(&packed(&EXAMPLE_FEEDBACK)[8..]);
    let (err, _) = refused(bytes);
    assert!(err.to_string().contains("custom section `signature`"), "{err}");
    // A small unknown section is fine (compilers add `producers` and the like).
    let (rt, v) = runtime();
    rt.install(assemble(&json, &encode_custom_section("producers-extra", b"ok"))).expect("small sections are allowed");
    assert_eq!(v.0.load(Ordering::SeqCst), 1);
}

#[test]
fn a_manifest_that_is_not_json_is_refused_with_line_and_column() {
    for (what, bytes) in [
        ("garbage", b"not json at all".to_vec()),
        ("truncated", serde_json::to_vec(&manifest_value()).unwrap()[..200].to_vec()),
        ("not UTF-8", b"{\"name\": \"\xff\xfe\"}".to_vec()),
        ("empty", Vec::new()),
        ("array", b"[]".to_vec()),
    ] {
        expect(
            assemble(&bytes, &[]),
            what,
            |e| matches!(e, ArtifactError::ManifestJson(_)),
            "manifest is not valid JSON for a komp manifest",
        );
    }
    let (err, _) = refused(assemble(b"{\n  \"name\": \"x\",\n  oops\n}", &[]));
    assert!(err.to_string().contains("line 3"), "the message says where: {err}");
}

#[test]
fn a_manifest_that_violates_its_schema_is_refused() {
    let base = manifest_value();
    type Edit = fn(&mut serde_json::Value);
    let typed: [(&str, Edit, &str); 5] = [
        ("missing labels", |m| drop(m.as_object_mut().unwrap().remove("labels")), "missing field `labels`"),
        ("version is a number", |m| m["version"] = 5.into(), "invalid type"),
        ("bad semver", |m| m["version"] = "one".into(), "version"),
        ("unknown field", |m| m["backdoor"] = true.into(), "unknown field `backdoor`"),
        ("unknown risk class", |m| m["ai_act"]["risk_class"] = "unacceptable".into(), "unacceptable"),
    ];
    for (what, edit, needle) in typed {
        let mut m = base.clone();
        edit(&mut m);
        expect(
            assemble(&serde_json::to_vec(&m).unwrap(), &[]),
            what,
            |e| matches!(e, ArtifactError::ManifestJson(_)),
            needle,
        );
    }
    let semantic: [(&str, Edit, &str); 8] = [
        ("upper-case name", |m| m["name"] = "Example".into(), "name \"Example\" is not valid"),
        (
            "another world",
            |m| m["world"] = "wasi:cli/command@0.2.0".into(),
            "world \"wasi:cli/command@0.2.0\" is not supported",
        ),
        ("no labels", |m| m["labels"] = serde_json::json!([]), "labels is empty"),
        (
            "duplicate label",
            |m| {
                let l = m["labels"][0].clone();
                m["labels"].as_array_mut().unwrap().push(l)
            },
            "declared twice",
        ),
        ("model format", |m| m["models"][0]["format"] = "tflite".into(), "only \"onnx\""),
        ("schema not an object", |m| m["input_schema"] = "string".into(), "input_schema must be a JSON Schema object"),
        (
            "golden label",
            |m| m["golden_vectors"] = serde_json::json!([{ "input": {}, "expected": { "label": "nope" } }]),
            "expects label \"nope\"",
        ),
        (
            "golden tolerance",
            |m| {
                m["golden_vectors"] =
                    serde_json::json!([{ "input": {}, "expected": { "label": "positiv" }, "tolerance": -1.0 }])
            },
            "tolerance must be",
        ),
    ];
    for (what, edit, needle) in semantic {
        let mut m = base.clone();
        edit(&mut m);
        expect(
            assemble(&serde_json::to_vec(&m).unwrap(), &[]),
            what,
            |e| matches!(e, ArtifactError::ManifestInvalid(_)),
            needle,
        );
    }
    // Too large: refused before JSON parsing.
    let mut big = serde_json::to_vec(&base).unwrap();
    big.resize(5 << 20, b' ');
    expect(assemble(&big, &[]), "too large", |e| matches!(e, ArtifactError::ManifestTooLarge(_)), "the limit is");
}

#[test]
fn an_input_schema_that_is_not_a_json_schema_is_refused_before_compiling() {
    let mut m = manifest(&EXAMPLE_FEEDBACK);
    m.input_schema = serde_json::json!({ "type": 5 });
    let bytes =
        komp_artifact::pack(&built_wasm(&EXAMPLE_FEEDBACK), m, &models(&EXAMPLE_FEEDBACK)).unwrap().into_bytes();
    let (rt, _) = runtime();
    let started = Instant::now();
    let err = rt.install(bytes).unwrap_err();
    assert!(err.to_string().contains("input_schema is not a valid JSON Schema"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2), "refused before compiling");
}

#[test]
fn models_must_match_their_digests_and_listing() {
    let base = manifest_value();
    let mut m = base.clone();
    m["models"][0]["sha256"] = "00".repeat(32).into();
    expect(
        assemble(&serde_json::to_vec(&m).unwrap(), &[]),
        "digest",
        |e| matches!(e, ArtifactError::ModelDigestMismatch { .. }),
        "the model bytes were changed",
    );
    // A listed model without its section.
    let mut m = base.clone();
    m["models"].as_array_mut().unwrap().push(serde_json::json!({ "name": "ghost", "sha256": "00", "format": "onnx" }));
    expect(
        assemble(&serde_json::to_vec(&m).unwrap(), &[]),
        "missing model",
        |e| matches!(e, ArtifactError::MissingModel(_)),
        "no `komp-model:ghost` section",
    );
    // A model section the manifest does not list.
    let extra = encode_custom_section("komp-model:smuggled", b"onnx?");
    let json = serde_json::to_vec(&base).unwrap();
    let mut bytes = assemble(&json, &[]);
    bytes.extend_from_slice(&extra);
    expect(
        bytes,
        "unlisted model",
        |e| matches!(e, ArtifactError::UnlistedModel(_)),
        "not listed in the manifest's models",
    );
    // Two manifests.
    let mut bytes = assemble(&json, &[]);
    bytes.extend_from_slice(&encode_custom_section("komp-manifest", &json));
    expect(bytes, "two manifests", |e| matches!(e, ArtifactError::DuplicateSection(_)), "appears more than once");
    // A signature section that is not first.
    let mut bytes = assemble(&json, &[]);
    bytes.extend_from_slice(&encode_custom_section("signature", b"\x01"));
    expect(bytes, "late signature", |e| matches!(e, ArtifactError::MisplacedSignature(_)), "must be the first section");
}

#[test]
fn flipping_any_byte_never_panics_and_never_installs_silently_changed_models() {
    // A cheap sweep: flip one byte at many offsets; parsing must never
    // panic, and any file that still parses must have the same model bytes.
    let good = packed(&EXAMPLE_FEEDBACK);
    let original = Artifact::parse(good.clone()).unwrap();
    let step = (good.len() / 4000).max(1);
    for i in (0..good.len()).step_by(step) {
        let mut b = good.clone();
        b[i] ^= 0xa5;
        if let Ok(a) = Artifact::parse(b) {
            for (name, bytes) in a.models() {
                assert_eq!(Some(bytes), original.model(name), "byte {i}: model {name} changed without a digest error");
            }
        }
    }
}
