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
            tenant: "0101".parse().unwrap(),
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

/// The configuration `komp serve` would run with, from `--print-config`
/// (the same merge as a real start): `file` as `--config`, exactly the
/// `env` variables (nothing inherited), then `flags`.
fn serve_config(
    file: Option<&serde_json::Value>,
    env: &[(&str, &str)],
    flags: &[&str],
) -> Result<serde_json::Value, String> {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(komp_tests::komp_bin());
    cmd.env_clear().envs(env.iter().copied()).args(["serve", "--print-config", "--dev"]);
    if let Some(file) = file {
        let path = dir.path().join("komp.json");
        std::fs::write(&path, serde_json::to_vec(file).unwrap()).unwrap();
        cmd.arg("--config").arg(&path);
    }
    let o = cmd.args(flags).output().expect("run komp serve --print-config");
    if !o.status.success() {
        return Err(text(&o));
    }
    Ok(serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o))))
}

/// Layer 1: without a file, variables or flags, the defaults; a file
/// replaces the defaults it names and keeps the others.
#[test]
fn serve_configuration_layer_file_over_defaults() {
    let defaults = serve_config(None, &[], &[]).unwrap();
    assert_eq!(defaults["listen"], "127.0.0.1:8080");
    assert_eq!(defaults["log_json"], false);
    let file = serde_json::json!({
        "listen": "127.0.0.1:7001",
        "max_concurrent_predictions": 3,
        "log_json": true,
        "tenants": { "0751": { "name": "Aarhus Kommune" } },
    });
    let c = serve_config(Some(&file), &[], &[]).unwrap();
    assert_eq!(c["listen"], "127.0.0.1:7001");
    assert_eq!(c["max_concurrent_predictions"], 3);
    assert_eq!(c["log_json"], true);
    assert_eq!(c["tenants"]["0751"]["name"], "Aarhus Kommune");
    assert_eq!(c["max_body_bytes"], defaults["max_body_bytes"], "a setting the file does not name keeps its default");
}

/// Layer 2: a `KOMP_*` variable wins over the file; what it does not name
/// stays as the file says.
#[test]
fn serve_configuration_layer_environment_over_file() {
    let file = serde_json::json!({ "listen": "127.0.0.1:7001", "max_concurrent_predictions": 3, "data_dir": "/srv/from-file" });
    let env = [("KOMP_LISTEN", "127.0.0.1:7002"), ("KOMP_MAX_CONCURRENT", "5")];
    let c = serve_config(Some(&file), &env, &[]).unwrap();
    assert_eq!(c["listen"], "127.0.0.1:7002");
    assert_eq!(c["max_concurrent_predictions"], 5);
    assert_eq!(c["data_dir"], "/srv/from-file");
    // The file can itself come from the environment.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("env.json");
    std::fs::write(&path, r#"{"request_timeout_ms": 1234}"#).unwrap();
    let c = serve_config(None, &[("KOMP_CONFIG", path.to_str().unwrap())], &[]).unwrap();
    assert_eq!(c["request_timeout_ms"], 1234);
}

/// Layer 3: a flag wins over its variable and over the file.
#[test]
fn serve_configuration_layer_flags_over_environment() {
    let file = serde_json::json!({ "listen": "127.0.0.1:7001", "data_dir": "/srv/from-file" });
    let env = [("KOMP_LISTEN", "127.0.0.1:7002"), ("KOMP_DATA_DIR", "/srv/from-env")];
    let c = serve_config(Some(&file), &env, &["--listen", "127.0.0.1:7003", "--deadline-ms", "777"]).unwrap();
    assert_eq!(c["listen"], "127.0.0.1:7003");
    assert_eq!(c["data_dir"], "/srv/from-env", "a variable without a flag still wins over the file");
    assert_eq!(c["runtime"]["deadline"], 777, "{}", c["runtime"]);
}

/// A tenant is a kommunekode, parsed where it enters: the configuration
/// file and `komp token create` say what is wrong and what the valid form is.
#[test]
fn a_malformed_kommunekode_is_refused_where_it_enters() {
    let file = serde_json::json!({ "tenants": { "751": {} } });
    let err = serve_config(Some(&file), &[], &[]).unwrap_err();
    assert!(err.contains("\"751\" is not a kommunekode") && err.contains("four digits"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let o = komp(&[
        "token",
        "create",
        "--tenant",
        "Aarhus",
        "--role",
        "caller",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("\"Aarhus\" is not a kommunekode") && t.contains("four digits, e.g. 0101"), "{t}");
    let o =
        komp(&["token", "create", "--tenant", "0751", "--role", "mayor", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("caller, publisher, auditor, admin"), "{}", text(&o));
}

/// `"log_json": true` in the file takes effect: logging starts after the
/// configuration is merged, so the real server logs JSON lines.
#[test]
fn log_json_from_the_configuration_file_takes_effect() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("komp.json");
    let config = serde_json::json!({
        "listen": "127.0.0.1:0",
        "metrics_listen": null,
        "data_dir": dir.path().join("data"),
        "log_json": true,
    });
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    let mut child = Command::new(komp_tests::komp_bin())
        .env_remove("KOMP_LOG_JSON")
        .args(["serve", "--dev", "--config", path.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start komp serve");
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let serving = line.contains("komp is serving");
        lines.push(line);
        if serving || lines.len() > 50 {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(lines.last().is_some_and(|l| l.contains("komp is serving")), "the server did not start: {lines:#?}");
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{l}");
    }
}
