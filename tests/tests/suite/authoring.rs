//! Authoring, as an author does it: `komp new` from each template, `komp
//! build` (real cargo build for wasm32-wasip2, real runtime), `komp test`,
//! the ten likely mistakes each with a message that says what to change, and
//! docs/authoring.md run literally against a real server on loopback.
//!
//! The components' crates share one cargo target directory
//! (`target/komp-authoring`), so their dependencies are compiled once, not
//! once per test or per run. The mistakes reuse one built component and pass
//! it with `--wasm`, so only the first build runs cargo.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The cargo target directory the authoring tests share.
fn cargo_target() -> PathBuf {
    komp_tests::root().join("target/komp-authoring")
}

/// `komp ARGS` in `dir`, with the shared cargo target directory.
fn komp_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(komp_tests::komp_bin())
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", cargo_target())
        .env_remove("KOMP_SDK")
        .output()
        .expect("run komp")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "komp failed ({:?}):\n{}", o.status, text(&o));
    text(&o)
}

/// A successful command's standard output only (for JSON).
fn stdout_of(o: Output) -> String {
    assert!(o.status.success(), "komp failed ({:?}):\n{}", o.status, text(&o));
    String::from_utf8(o.stdout).expect("UTF-8")
}

/// A failed command's output; it must have exited with 1 (not a panic, not 2).
fn failed(o: Output) -> String {
    assert_eq!(o.status.code(), Some(1), "expected exit code 1:\n{}", text(&o));
    text(&o)
}

/// A text-classifier component made by `komp new` and built once by `komp
/// build`: (the folder, the wasm cargo built).
struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    wasm: PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tempdir");
        ok(komp_in(
            tmp.path(),
            &["new", "fixture-tekst", "--template", "text-classifier", "--publisher", "Testby Kommune"],
        ));
        let dir = tmp.path().join("fixture-tekst");
        ok(komp_in(&dir, &["build"]));
        let wasm = cargo_target().join("wasm32-wasip2/component/fixture_tekst.wasm");
        assert!(wasm.exists(), "cargo built {}", wasm.display());
        Fixture { _tmp: tmp, dir, wasm }
    })
}

/// A copy of the fixture's folder (without build outputs), to break on purpose.
fn copy_of_fixture() -> (tempfile::TempDir, PathBuf) {
    let f = fixture();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("fixture-tekst");
    copy_dir(&f.dir, &dir);
    (tmp, dir)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "dist" || name == "target" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let s = std::fs::read_to_string(path).unwrap();
    assert!(s.contains(from), "{} contains {from:?}", path.display());
    std::fs::write(path, s.replacen(from, to, 1)).unwrap();
}

/// `komp build --wasm <the fixture's wasm>` in `dir`: everything but cargo.
fn build_prebuilt(dir: &Path, extra: &[&str]) -> Output {
    let wasm = fixture().wasm.to_str().unwrap().to_string();
    let mut args = vec!["build", "--wasm", wasm.as_str()];
    args.extend_from_slice(extra);
    komp_in(dir, &args)
}

#[test]
fn komp_new_builds_and_predicts_before_anything_is_changed() {
    let f = fixture();
    let out = f.dir.join("dist/fixture-tekst-0.1.0.wasm");
    let o = ok(komp_in(&f.dir, &["inspect", out.to_str().unwrap()]));
    assert!(o.contains("fixture-tekst@0.1.0") && o.contains("golden       4 vectors"), "{o}");
    let o = stdout_of(komp_in(
        &f.dir,
        &["predict", out.to_str().unwrap(), "--input", r#"{"text":"Jeg er meget utilfreds, det er uacceptabelt"}"#],
    ));
    let v: serde_json::Value = serde_json::from_str(o.trim()).unwrap_or_else(|e| panic!("{e}: {o}"));
    assert_eq!(v["prediction"]["label"], "negativ", "{o}");
    assert!(!v["prediction"]["explanation"].as_array().unwrap().is_empty(), "explained by words: {o}");

    // The tabular template, built by cargo too (its dependencies are shared).
    let tmp = tempfile::tempdir().unwrap();
    ok(komp_in(tmp.path(), &["new", "fixture-tabel", "--template", "tabular"]));
    let dir = tmp.path().join("fixture-tabel");
    let summary = ok(komp_in(&dir, &["build"]));
    assert!(summary.contains("golden vectors  3 passed (3 from training output)"), "{summary}");
    assert!(summary.contains("schema examples 2 passed"), "{summary}");
    let built = dir.join("dist/fixture-tabel-0.1.0.wasm");
    let digest = komp_artifact::Artifact::parse(std::fs::read(&built).unwrap()).unwrap().digest().to_string();
    assert!(summary.contains(&digest), "the summary shows the digest: {summary}");
    let o = ok(komp_in(
        &dir,
        &["predict", built.to_str().unwrap(), "--input", r#"{"areal_m2":1400,"etager":5,"afstand_til_skel_m":0.5}"#],
    ));
    assert!(o.contains(r#""label": "kontrol""#), "{o}");
    let o = ok(komp_in(&dir, &["test"]));
    assert!(o.contains("samples 2/2"), "{o}");
}

#[test]
fn komp_new_refuses_bad_names_and_existing_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let o = failed(komp_in(tmp.path(), &["new", "Min_Komponent"]));
    assert!(o.contains("lowercase"), "{o}");
    std::fs::create_dir(tmp.path().join("findes")).unwrap();
    let o = failed(komp_in(tmp.path(), &["new", "findes"]));
    assert!(o.contains("already exists"), "{o}");
    let o = komp_in(tmp.path(), &["new", "x", "--template", "image"]);
    assert_eq!(o.status.code(), Some(2), "a wrong template is a usage error: {}", text(&o));
}

#[test]
fn build_signs_and_the_signature_verifies() {
    let (_tmp, dir) = copy_of_fixture();
    let out = dir.join("signed.wasm");
    let key = komp_tests::dev_key("publisher");
    let approver = komp_tests::dev_key("approver");
    let o = ok(build_prebuilt(
        &dir,
        &["-o", out.to_str().unwrap(), "--sign", key.to_str().unwrap(), "--endorse", approver.to_str().unwrap()],
    ));
    assert!(o.contains("signed by") && o.contains("endorsed by"), "{o}");
    let policy = komp_tests::root().join("keys/dev/policy.json");
    ok(komp_in(&dir, &["verify", out.to_str().unwrap(), "--policy", policy.to_str().unwrap()]));
}

#[test]
fn komp_test_runs_samples_and_reports_every_failure() {
    let (_tmp, dir) = copy_of_fixture();
    let wasm = fixture().wasm.to_str().unwrap().to_string();
    let o = ok(komp_in(&dir, &["test", "--wasm", &wasm]));
    assert!(o.contains("golden vectors 4/4, schema examples 2/2, samples 3/3"), "{o}");
    std::fs::write(
        dir.join("wrong.jsonl"),
        "{\"input\": {\"text\": \"Tak, super god hjælp\"}, \"label\": \"negativ\"}\n{\"input\": {\"txt\": \"x\"}}\n",
    )
    .unwrap();
    let o = failed(komp_in(&dir, &["test", "--wasm", &wasm, "--sample", "wrong.jsonl"]));
    assert!(o.contains("wrong.jsonl:1: expected \"negativ\", the component said \"positiv\""), "{o}");
    assert!(o.contains("wrong.jsonl:2:") && o.contains("input-schema.json"), "{o}");
    assert!(o.contains("2 failure(s)"), "{o}");
}

// The ten likely author mistakes. Each must fail with exit code 1 and a
// message that names what to change.

#[test]
fn mistake_wrong_world() {
    let (_tmp, dir) = copy_of_fixture();
    edit(
        &dir.join("komp.toml"),
        "licence = \"EUPL-1.2\"",
        "licence = \"EUPL-1.2\"\nworld = \"wasi:cli/command@0.2.0\"",
    );
    let o = failed(build_prebuilt(&dir, &[]));
    assert!(o.contains("komp.toml:8:") && o.contains("komp:component/standard-component@0.1.0"), "{o}");

    // A component that implements another world: a function `run`, no `predict`.
    let wasm = wat::parse_str(
        r#"(component
            (core module $m (func (export "run") (result i32) i32.const 0))
            (core instance $i (instantiate $m))
            (func $run (result u32) (canon lift (core func $i "run")))
            (export "run" (func $run)))"#,
    )
    .unwrap();
    let o = build_with_wasm(&wasm);
    assert!(o.contains("wrong world") && o.contains("`run`") && o.contains("cdylib"), "{o}");
}

fn build_with_wasm(wasm: &[u8]) -> String {
    let (_tmp, dir) = copy_of_fixture();
    let path = dir.join("other.wasm");
    std::fs::write(&path, wasm).unwrap();
    failed(komp_in(&dir, &["build", "--wasm", path.to_str().unwrap()]))
}

#[test]
fn mistake_missing_export() {
    let o = build_with_wasm(&wat::parse_str("(component)").unwrap());
    assert!(o.contains("exports nothing") && o.contains("komp_sdk::export_component!"), "{o}");
}

#[test]
fn mistake_model_name_does_not_match_load_by_name() {
    let (_tmp, dir) = copy_of_fixture();
    edit(&dir.join("komp.toml"), "name = \"model\"", "name = \"tone\"");
    let o = failed(build_prebuilt(&dir, &[]));
    assert!(o.contains("golden vector 0"), "{o}");
    assert!(o.contains("Model::load") && o.contains("`tone`"), "names the models it carries: {o}");
}

#[test]
fn mistake_labels_differ_between_code_and_manifest() {
    let (_tmp, dir) = copy_of_fixture();
    let toml = dir.join("komp.toml");
    edit(&toml, "id = \"positiv\"", "id = \"tmp\"");
    edit(&toml, "id = \"negativ\"", "id = \"positiv\"");
    edit(&toml, "id = \"tmp\"", "id = \"negativ\"");
    let o = failed(build_prebuilt(&dir, &[]));
    assert!(o.contains("src/lib.rs") && o.contains("[[labels]]") && o.contains("same order"), "{o}");
}

#[test]
fn mistake_golden_vector_mismatch() {
    let (_tmp, dir) = copy_of_fixture();
    let path = dir.join("training-output.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let scores = &mut v["golden_vectors"][1]["expected"]["scores"];
    let p = scores["negativ"].as_f64().unwrap();
    scores["negativ"] = serde_json::json!(p - 0.01);
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let o = failed(build_prebuilt(&dir, &[]));
    assert!(o.contains("golden vector 1") && o.contains("score of \"negativ\""), "{o}");
    assert!(o.contains("training-output.json") && o.contains("nothing was written"), "{o}");
    assert!(!dir.join("dist").exists(), "nothing written");
}

#[test]
fn mistake_invalid_input_schema() {
    let (_tmp, dir) = copy_of_fixture();
    edit(&dir.join("input-schema.json"), "\"type\": \"object\"", "\"type\": \"objekt\"");
    let o = failed(build_prebuilt(&dir, &[]));
    assert!(o.contains("not a valid JSON Schema") && o.contains("input-schema.json"), "{o}");

    // Not even JSON: the file, line and column.
    std::fs::write(dir.join("input-schema.json"), "{\n  \"type\": \"object\",\n}\n").unwrap();
    let o = failed(build_prebuilt(&dir, &[]));
    assert!(o.contains("input-schema.json:3:"), "{o}");
}

#[test]
fn mistake_model_input_names_do_not_match() {
    let (_tmp, dir) = copy_of_fixture();
    // The same model with its input `feature_ids` renamed (same length, so the protobuf stays valid).
    let path = dir.join("model/model.onnx");
    let bytes = std::fs::read(&path).unwrap();
    let renamed = replace_all(&bytes, b"feature_ids", b"feature_idx");
    assert_ne!(renamed, bytes);
    std::fs::write(&path, renamed).unwrap();
    let o = failed(build_prebuilt(&dir, &[]));
    assert!(o.contains("Input::") && o.contains("`feature_idx`"), "names the model's inputs: {o}");
}

fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = haystack.to_vec();
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn mistake_model_is_not_onnx() {
    let (_tmp, dir) = copy_of_fixture();
    // A pickled scikit-learn model where the ONNX file should be.
    std::fs::write(dir.join("model/model.onnx"), b"\x80\x04\x95\x10\x00\x00\x00sklearn").unwrap();
    let o = failed(build_prebuilt(&dir, &[]));
    assert!(o.contains("model `model`") && o.contains("not an ONNX model") && o.contains("pickle"), "{o}");
    std::fs::write(dir.join("model/model.onnx"), b"just some text, not a model").unwrap();
    let o = failed(build_prebuilt(&dir, &[]));
    assert!(o.contains("not an ONNX model") && o.contains("komp_train.export"), "{o}");
}

#[test]
fn mistake_model_too_large() {
    let (_tmp, dir) = copy_of_fixture();
    let o = failed(build_prebuilt(&dir, &["--max-component-bytes", "1000"]));
    assert!(o.contains("too large") && o.contains("`model`") && o.contains("quantisation"), "{o}");
}

#[test]
fn mistake_imports_beyond_wasi_nn() {
    let wasm = wat::parse_str(
        r#"(component
            (import "wasi:sockets/tcp@0.2.0" (instance))
            (import "wasi:nn/graph@0.2.0-rc-2024-10-28" (instance)))"#,
    )
    .unwrap();
    let o = build_with_wasm(&wasm);
    assert!(o.contains("`wasi:sockets/tcp@0.2.0`") && o.contains("does not provide"), "{o}");
    assert!(!o.contains("`wasi:nn/graph"), "wasi:nn is allowed: {o}");
}

#[test]
fn manifest_source_errors_point_at_file_and_line() {
    let (_tmp, dir) = copy_of_fixture();
    edit(&dir.join("komp.toml"), "publisher = ", "publsher = ");
    let o = failed(build_prebuilt(&dir, &[]));
    assert!(o.contains("komp.toml:6:") && o.contains("publsher"), "{o}");

    let (_tmp, dir) = copy_of_fixture();
    edit(&dir.join("model-card.md"), "## Limitations", "## Limits");
    let o = failed(build_prebuilt(&dir, &[]));
    assert!(
        o.contains("model-card.md:") && o.contains("unknown section `## Limits`") && o.contains("`## Limitations`"),
        "{o}"
    );
}

/// docs/authoring.md, every `sh` block in order, run by bash in an empty
/// folder with `komp` on the PATH, against a real server on 127.0.0.1.
#[test]
fn the_tutorial_runs_as_written() {
    // Step 4 retrains with the repository's venv (training/setup.sh).
    let Some(python) = komp_tests::venv_python("komp_train", "the tutorial") else { return };
    let doc = std::fs::read_to_string(komp_tests::root().join("docs/authoring.md")).unwrap();
    let script = shell_blocks(&doc);
    assert!(script.contains("train.py"), "the tutorial's retraining step is run too");
    assert!(script.contains("komp new") && script.contains("curl"), "the tutorial has its commands in sh blocks");
    let tmp = tempfile::tempdir().unwrap();
    let free_port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (api, metrics) = (free_port(), free_port());
    let bin_dir = komp_tests::komp_bin().parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut child = {
        use std::os::unix::process::CommandExt;
        Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(tmp.path())
            .env("PATH", path)
            .env("CARGO_TARGET_DIR", cargo_target())
            .env("KOMP_PYTHON", &python)
            .env("KOMP_LISTEN", format!("127.0.0.1:{api}"))
            .env("KOMP_METRICS_LISTEN", format!("127.0.0.1:{metrics}"))
            .env_remove("KOMP_SDK")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("bash")
    };
    let pgid = child.id() as i32;
    let out_pipe = child.stdout.take().unwrap();
    let err_pipe = child.stderr.take().unwrap();
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let (out_t, err_t) = (read(Box::new(out_pipe)), read(Box::new(err_pipe)));
    // Bounded: a cold cargo build of a component takes a few minutes on 2 cores.
    let deadline = Instant::now() + Duration::from_secs(900);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // Whatever happened, nothing the script started outlives the test.
    // SAFETY: kill(2) on the script's own process group.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
    let _ = child.wait();
    let (stdout, stderr) = (out_t.join().unwrap(), err_t.join().unwrap());
    let status = status.unwrap_or_else(|| panic!("the tutorial did not finish in time\n{stdout}\n{stderr}"));
    assert!(status.success(), "the tutorial failed ({status:?}):\nstdout:\n{stdout}\nstderr:\n{stderr}");
    // The curl call's answer: the component, signed and served, answered.
    let answer = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["component"] == "klage-tone")
        .unwrap_or_else(|| panic!("no answer from klage-tone in:\n{stdout}\n{stderr}"));
    assert_eq!(answer["prediction"]["label"], "negativ", "{answer}");
    assert!(stdout.contains("golden vectors  4 passed"), "{stdout}");
}

/// The contents of the ```sh blocks, in order.
fn shell_blocks(markdown: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in markdown.lines() {
        if inside {
            if line.trim_start().starts_with("```") {
                inside = false;
            } else {
                out.push_str(line);
                out.push('\n');
            }
        } else if line.trim() == "```sh" {
            inside = true;
        }
    }
    out
}
