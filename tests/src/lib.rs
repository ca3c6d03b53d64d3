//! Helpers for the end-to-end tests: where the built components are, and how
//! to pack them exactly as `scripts/build-components.sh` does.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// A component's source directory, its wasm crate name and its models.
pub struct ComponentSpec {
    pub dir: &'static str,
    pub crate_name: &'static str,
    /// The models of a component packed from a `manifest.json`; a component
    /// with a `komp.toml` (the standard ones) declares its models there.
    pub models: &'static [(&'static str, &'static str)],
    pub golden: Option<&'static str>,
}

pub const EXAMPLE_FEEDBACK: ComponentSpec = ComponentSpec {
    dir: "components/example-feedback",
    crate_name: "example_feedback",
    models: &[("feedback", "components/example-feedback/model/feedback.onnx")],
    golden: Some("components/example-feedback/golden.json"),
};

pub const POSTSORTERING: ComponentSpec = ComponentSpec {
    dir: "components/postsortering",
    crate_name: "postsortering",
    models: &[], // from komp.toml
    golden: None,
};

pub const UNDERRETNING: ComponentSpec = ComponentSpec {
    dir: "components/underretning",
    crate_name: "underretning",
    models: &[], // from komp.toml
    golden: None,
};

pub const HOSTILE: ComponentSpec = ComponentSpec {
    dir: "tests/components/hostile",
    crate_name: "hostile",
    models: &[("identity", "tests/components/hostile/model/identity.onnx")],
    golden: None,
};

/// The component as built by `scripts/build-components.sh`.
pub fn built_wasm(spec: &ComponentSpec) -> Vec<u8> {
    let path = root().join("target/wasm32-wasip2/component").join(format!("{}.wasm", spec.crate_name));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); build the components first: scripts/build-components.sh (scripts/test.sh does it)",
            path.display()
        )
    })
}

/// The manifest of a component, with golden vectors merged in if it has them:
/// compiled from its `komp.toml` as `komp build` does (the standard
/// components), or read from its `manifest.json` (the example and test
/// components, packed with `komp pack`).
pub fn manifest(spec: &ComponentSpec) -> komp_artifact::Manifest {
    let source = root().join(spec.dir).join(komp_author::source::SOURCE_FILE);
    if source.exists() {
        return komp_author::source::compile(&source).unwrap_or_else(|e| panic!("{e}")).manifest;
    }
    let text = std::fs::read_to_string(root().join(spec.dir).join("manifest.json")).expect("manifest.json");
    let mut m: komp_artifact::Manifest = serde_json::from_str(&text).expect("valid manifest");
    if let Some(g) = spec.golden {
        let text = std::fs::read_to_string(root().join(g)).expect("golden vectors");
        m.golden_vectors = serde_json::from_str(&text).expect("valid golden vectors");
    }
    m
}

/// The model files of a component: those its `komp.toml` declares, else `spec.models`.
pub fn models(spec: &ComponentSpec) -> Vec<(String, Vec<u8>)> {
    let read = |path: &Path| std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let source = root().join(spec.dir).join(komp_author::source::SOURCE_FILE);
    if source.exists() {
        let compiled = komp_author::source::compile(&source).unwrap_or_else(|e| panic!("{e}"));
        return compiled.models.iter().map(|m| (m.name.clone(), read(&m.path))).collect();
    }
    spec.models.iter().map(|(name, path)| (name.to_string(), read(&root().join(path)))).collect()
}

/// Packs a component like `komp pack` does.
pub fn packed(spec: &ComponentSpec) -> Vec<u8> {
    packed_with(spec, manifest(spec))
}

/// Packs a component with a modified manifest.
pub fn packed_with(spec: &ComponentSpec, manifest: komp_artifact::Manifest) -> Vec<u8> {
    komp_artifact::pack(&built_wasm(spec), manifest, &models(spec)).expect("pack").into_bytes()
}

/// The repository venv's Python (`training/setup.sh`) if it can import
/// `modules` (comma-separated, as in `import a, b`). Without it a test skips
/// and says so, unless `KOMP_REQUIRE_SKLEARN=1` (scripts/test.sh sets it once
/// the venv is made), where it fails instead: `what` names the skipped test.
/// `n` rows of a standard component's held-out test split (`components/models/<file>`), evenly spread over the
/// file (every subject appears), as the JSON objects training wrote: `input`, `label`, `expected`, ….
pub fn spread_test_rows(file: &str, n: usize) -> Vec<serde_json::Value> {
    let path = root().join("components/models").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= n, "{} has {} rows, fewer than {n}", path.display(), lines.len());
    let rows: Vec<serde_json::Value> =
        lines.iter().step_by(lines.len() / n).take(n).map(|l| serde_json::from_str(l).unwrap()).collect();
    rows
}

pub fn venv_python(modules: &str, what: &str) -> Option<PathBuf> {
    let python = root().join(".venv/bin/python");
    let has = python.exists()
        && std::process::Command::new(&python)
            .args(["-c", &format!("import {modules}")])
            .output()
            .is_ok_and(|o| o.status.success());
    if has {
        return Some(python);
    }
    let required = std::env::var("KOMP_REQUIRE_SKLEARN").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "KOMP_REQUIRE_SKLEARN=1 but {} cannot import {modules}; run training/setup.sh",
        python.display()
    );
    eprintln!("SKIPPED {what}: {} cannot import {modules} (run training/setup.sh)", python.display());
    None
}

/// The `komp` binary built next to the test executables.
pub fn komp_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target/<profile>");
    let bin = dir.join("komp");
    assert!(
        bin.exists(),
        "{} does not exist; run `cargo build -p komp` first (scripts/test.sh does it)",
        bin.display()
    );
    bin
}

/// Tight sandbox limits for tests, so the hostile cases end quickly.
pub fn sandbox_config() -> komp_runtime::RuntimeConfig {
    komp_runtime::RuntimeConfig {
        deadline: std::time::Duration::from_millis(300),
        memory_cap: 32 << 20,
        max_instances: 16,
        max_output_bytes: 64 << 10,
        max_tensor_bytes: 4 << 20,
        ..komp_runtime::RuntimeConfig::default()
    }
}

/// A runtime with [`sandbox_config`] and the given components installed.
pub fn runtime_with(specs: &[&ComponentSpec]) -> komp_runtime::Runtime {
    let rt = komp_runtime::Runtime::new(sandbox_config()).expect("runtime");
    for s in specs {
        rt.install(packed(s)).expect("install");
    }
    rt
}

/// Calls the hostile component in `mode`; returns what it observed (its `details`).
pub fn hostile(
    rt: &komp_runtime::Runtime,
    mode: &str,
    arg: &str,
) -> Result<serde_json::Value, komp_runtime::RuntimeError> {
    let input = serde_json::json!({ "mode": mode, "arg": arg }).to_string();
    rt.predict("hostile", None, &input).map(|o| o.prediction.details)
}

/// The private key file of `role` (`publisher` or `approver`) in keys/dev/,
/// made 0600 as the key loader requires (git checks it out 0644).
pub fn dev_key(role: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = std::fs::read_dir(root().join("keys/dev"))
        .expect("keys/dev")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy().to_string();
            n.starts_with(role) && n.ends_with(".private.json")
        })
        .expect("a development key of that role");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

/// Runs the `komp` binary with `args`; panics with its stderr if it fails.
/// Returns its stdout, trimmed.
pub fn komp(args: &[&str]) -> String {
    let out = std::process::Command::new(komp_bin()).args(args).output().expect("run komp");
    assert!(out.status.success(), "komp {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8").trim().to_string()
}

/// A seed directory in `dir` with the signed standard components and the
/// hostile component, signed and endorsed with the development keys for
/// this test only.
pub fn seeds_with_hostile(dir: &Path) -> PathBuf {
    let seeds = dir.join("seeds");
    std::fs::create_dir_all(&seeds).expect("seed dir");
    for f in std::fs::read_dir(root().join("target/komp-components")).expect("built components") {
        let p = f.expect("entry").path();
        std::fs::copy(&p, seeds.join(p.file_name().expect("name"))).expect("copy");
    }
    let hostile = seeds.join("hostile.wasm");
    std::fs::write(&hostile, packed(&HOSTILE)).expect("write hostile");
    let h = hostile.to_str().expect("UTF-8 path");
    komp(&["sign", h, "--key", dev_key("publisher").to_str().expect("path")]);
    komp(&["endorse", h, "--key", dev_key("approver").to_str().expect("path")]);
    seeds
}

/// A `komp serve` process on 127.0.0.1 (killed when dropped).
pub struct ServeProcess {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// `http://127.0.0.1:PORT/metrics` of the metrics listener.
    pub metrics_url: String,
}

impl ServeProcess {
    /// Starts `komp serve --listen 127.0.0.1:0 ARGS…` and waits until it listens.
    pub fn start(args: &[&std::ffi::OsStr]) -> ServeProcess {
        Self::spawn(args, std::process::Stdio::null())
    }

    /// [`ServeProcess::start`] with the log (stderr, level warn) appended to `log`.
    pub fn start_logging_to(args: &[&std::ffi::OsStr], log: &Path) -> ServeProcess {
        let f = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log file");
        Self::spawn(args, f.into())
    }

    fn spawn(args: &[&std::ffi::OsStr], stderr: std::process::Stdio) -> ServeProcess {
        use std::io::BufRead;
        let mut child = std::process::Command::new(komp_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
            .args(args)
            .env("KOMP_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start komp serve");
        let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            assert!(std::time::Instant::now() < deadline, "komp serve did not start");
            let line = lines.next().expect("komp serve exited before listening").expect("a line");
            if let Some(url) = line.strip_prefix("komp listening on ") {
                // The metrics listener's address is the next line.
                let next = lines.next().expect("komp serve exited before naming its metrics listener").expect("a line");
                let metrics_url =
                    next.strip_prefix("komp metrics on ").expect("the metrics address").trim().to_string();
                // Keep draining stdout so the child never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines {});
                return ServeProcess { child, url: url.trim().to_string(), metrics_url };
            }
        }
    }

    /// The process's resident set now, and its peak so far, in KiB.
    pub fn memory_kib(&self) -> (u64, u64) {
        memory_kib(self.child.id())
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `VmRSS` and `VmHWM` (peak RSS) of a process, in KiB, from `/proc`.
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Sends only the head of a request whose `Content-Length` declares `declared`
/// bytes, and reads the answer. For limits that must refuse a body from its
/// declared length without reading it: sending a real oversized body races
/// the server's early answer (the client may see a broken pipe or a reset
/// instead of the status).
pub fn answer_to_declared_length(url: &str, path: &str, headers: &[(&str, &str)], declared: u64) -> (u16, String) {
    use std::io::{BufRead, BufReader, Read, Write};
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let mut head = format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {declared}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 =
        line.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("status line {line:?}"));
    let mut len = 0usize;
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A new bearer token of `role` for `tenant` in the data directory `data`,
/// made by the real `komp token create`.
pub fn create_token(data: &Path, tenant: &str, role: &str) -> String {
    komp(&["token", "create", "--tenant", tenant, "--role", role, "--quiet", "--data-dir", data.to_str().unwrap()])
}
