//! The `komp` command line, run as a user would: pack, inspect, predict, and
//! the clear refusals of bad files.

use std::process::{Command, Output};

fn komp(args: &[&str]) -> Output {
    Command::new(komp_tests::komp_bin()).args(args).current_dir(komp_tests::root()).output().expect("run komp")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn pack_inspect_predict() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fb.wasm");
    let o = komp(&[
        "pack",
        "--component",
        "target/wasm32-wasip2/component/example_feedback.wasm",
        "--manifest",
        "components/example-feedback/manifest.json",
        "--model",
        "feedback=components/example-feedback/model/feedback.onnx",
        "--golden",
        "components/example-feedback/golden.json",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));

    let o = komp(&["inspect", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    let onnx = std::fs::read(komp_tests::root().join("components/example-feedback/model/feedback.onnx")).unwrap();
    assert!(t.contains("example-feedback@0.1.0"), "{t}");
    assert!(t.contains("komp:component/standard-component@0.1.0"), "{t}");
    assert!(t.contains(&komp_artifact::sha256_hex(&onnx)), "inspect shows the model digest: {t}");

    let o = komp(&[
        "predict",
        out.to_str().unwrap(),
        "--input",
        r#"{"text":"Jeg er meget utilfreds, det er uacceptabelt"}"#,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["prediction"]["label"], "negativ");
    assert_eq!(v["component"], "example-feedback");

    // Bad input: exit code 1 and the schema path in the message.
    let o = komp(&["predict", out.to_str().unwrap(), "--input", r#"{"txt":"x"}"#]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("text"), "{}", text(&o));
}

#[test]
fn bad_files_are_refused_with_clear_messages() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_string()
    };
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("text.wasm", b"hello world".to_vec(), "not a WebAssembly file"),
        ("module.wasm", b"\0asm\x01\0\0\0".to_vec(), "core WebAssembly module, not a component"),
        ("truncated.wasm", komp_tests::packed(&komp_tests::EXAMPLE_FEEDBACK)[..5000].to_vec(), "malformed component"),
        ("plain.wasm", komp_tests::built_wasm(&komp_tests::EXAMPLE_FEEDBACK), "komp pack"),
    ];
    for (name, bytes, expect) in cases {
        let path = write(name, &bytes);
        let o = komp(&["inspect", &path]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", text(&o));
        assert!(text(&o).contains(expect), "{name}: expected {expect:?} in {}", text(&o));
    }
    // A model whose bytes do not match the manifest digest.
    let mut bytes = komp_tests::packed(&komp_tests::EXAMPLE_FEEDBACK);
    let n = bytes.len();
    bytes[n - 100] ^= 0xff; // inside the model section, which comes last
    let path = write("tampered.wasm", &bytes);
    let o = komp(&["inspect", &path]);
    assert!(text(&o).contains("model bytes were changed"), "{}", text(&o));
    // Wrong command line: exit code 2.
    assert_eq!(komp(&["inspect"]).status.code(), Some(2));
}

#[test]
fn audit_verify_and_export() {
    use komp_audit::{Audit, AuditConfig, NewRecord, Outcome};
    let d = tempfile::tempdir().unwrap();
    {
        let a = Audit::open(d.path(), AuditConfig::default()).unwrap();
        a.append(NewRecord {
            tenant: "0101".into(),
            token_id: "tok-1".into(),
            request_id: "r".into(),
            component: "c".into(),
            version: "1.2.0".into(),
            digest: "sha256:0123abcd".into(),
            input_hmac: a.input_hmac(b"secret input"),
            label: Some("acute".into()),
            scores: [("acute".to_string(), 0.8f32)].into_iter().collect(),
            requires_human_review: true,
            latency_us: 42,
            outcome: Outcome::Ok,
            coverage: None,
            operating_point: None,
        })
        .unwrap();
    }
    let dir = d.path().to_str().unwrap();
    let o = komp(&["audit", "verify", dir, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["records"], 1);
    let o = komp(&["audit", "export", dir, "--tenant", "0101", "--since", "2020-01-01"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("secret input"));
    let o = komp(&["audit", "export", dir, "--tenant", "0101", "--since", "yesterday"]);
    assert!(!o.status.success(), "an unreadable date is refused");
    // One changed byte: verify names the record and exits non-zero.
    let seg = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("a segment file");
    let text_before = std::fs::read_to_string(&seg).unwrap();
    std::fs::write(&seg, text_before.replacen("acute", "acutE", 1)).unwrap();
    let o = komp(&["audit", "verify", dir]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("seq 1"), "{}", text(&o));
}
