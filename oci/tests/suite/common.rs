//! A real registry on loopback, a proxy in front of it, test components.
#![allow(dead_code)]

#[path = "../../../registry/tests/suite/common.rs"]
mod komp_common;
pub use komp_common::*;

use komp_oci::{ClientOptions, Credentials, OciClient, Reference};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Fails with what to install when a tool is missing (no silent skips).
pub fn require(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{tool} is not installed: run scripts/setup.sh --oci (Debian packages docker-registry, skopeo, openssl)"
    );
}

/// A free loopback port (bound, then released for the child to bind).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `docker-registry serve` on 127.0.0.1 with its own storage, killed on drop.
pub struct OciRegistry {
    child: Child,
    /// `127.0.0.1:PORT`
    pub addr: String,
    pub dir: tempfile::TempDir,
}

impl Drop for OciRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct RegistryConfig {
    /// `user:bcrypt-hash` lines: HTTP basic authentication.
    pub htpasswd: Option<String>,
    /// (certificate, key) PEM files: TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
}

impl OciRegistry {
    pub fn start() -> OciRegistry {
        OciRegistry::start_with(RegistryConfig { htpasswd: None, tls: None })
    }

    pub fn start_with(cfg: RegistryConfig) -> OciRegistry {
        require("docker-registry");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n  relativeurls: true\n",
            dir.path().join("data").display()
        );
        if let Some((cert, key)) = &cfg.tls {
            yaml.push_str(&format!("  tls:\n    certificate: {}\n    key: {}\n", cert.display(), key.display()));
        }
        if let Some(lines) = &cfg.htpasswd {
            let path = dir.path().join("htpasswd");
            std::fs::write(&path, lines).unwrap();
            yaml.push_str(&format!("auth:\n  htpasswd:\n    realm: komp-test\n    path: {}\n", path.display()));
        }
        let config = dir.path().join("config.yml");
        std::fs::write(&config, yaml).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(dir.path().join("registry.log")).unwrap()))
            .spawn()
            .expect("docker-registry starts");
        let mut reg = OciRegistry { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(&reg.addr).is_err() {
            if let Ok(Some(status)) = reg.child.try_wait() {
                let mut log = String::new();
                let _ =
                    std::fs::File::open(reg.dir.path().join("registry.log")).map(|mut f| f.read_to_string(&mut log));
                panic!("docker-registry exited with {status}: {log}");
            }
            assert!(Instant::now() < deadline, "docker-registry did not listen on {} within 15 s", reg.addr);
            std::thread::sleep(Duration::from_millis(50));
        }
        reg
    }

    pub fn reference(&self, path: &str) -> Reference {
        Reference::parse(&format!("oci://{}/{path}", self.addr)).unwrap()
    }

    pub fn client(&self) -> OciClient {
        OciClient::new(&self.addr, &plain()).unwrap()
    }
}

/// Options for a plain-HTTP loopback registry, with short timeouts.
pub fn plain() -> ClientOptions {
    ClientOptions {
        plain_http: true,
        timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(2),
        ..ClientOptions::default()
    }
}

pub fn plain_with(credentials: Credentials) -> ClientOptions {
    ClientOptions { credentials, ..plain() }
}

/// Runs a command to completion, returning stdout; panics with stderr.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A signed revocation list with `serial`, yanking `yanks` (name, version).
pub fn revocation_list(serial: u64, yanks: &[(&str, &str)]) -> komp_registry::SignedRevocationList {
    let k = keys();
    let mut list = komp_registry::RevocationList::empty();
    for _ in 0..serial {
        list = list.next().unwrap();
    }
    for (n, v) in yanks {
        list.yank(n, &v.parse().unwrap(), "test");
    }
    komp_registry::SignedRevocationList::sign(&list, &k.approver).unwrap()
}

/// A fresh local registry in a temporary directory.
pub fn local_registry() -> (tempfile::TempDir, komp_registry::Registry) {
    let dir = tempfile::tempdir().unwrap();
    let reg = komp_registry::Registry::open(&dir.path().join("registry")).unwrap();
    (dir, reg)
}

/// How the [`Gate`] treats what passes through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward faithfully.
    Pass,
    /// Flip one byte in the middle of every component layer (same length).
    FlipLayerByte,
    /// Serve manifests as Docker v2 schema 2 manifests.
    WrongManifestType,
    /// Announce the full length of a component layer, send half, close.
    TruncateLayer,
}

struct GateState {
    upstream: String,
    me: std::sync::OnceLock<String>,
    mode: std::sync::Mutex<Mode>,
    /// With a token service: the basic credentials it wants (None: anyone).
    bearer: Option<Option<(String, String)>>,
    /// Every token the service issued is already expired.
    expired: std::sync::atomic::AtomicBool,
    tokens_issued: std::sync::atomic::AtomicUsize,
    scopes: std::sync::Mutex<Vec<String>>,
}

/// An axum proxy in front of a real registry: optionally a bearer token
/// service (the distribution spec's challenge flow), optionally misbehaving.
pub struct Gate {
    pub server: Server,
    state: std::sync::Arc<GateState>,
}

impl Gate {
    pub fn addr(&self) -> String {
        self.server.url.trim_start_matches("http://").to_string()
    }
    pub fn reference(&self, path: &str) -> Reference {
        Reference::parse(&format!("oci://{}/{path}", self.addr())).unwrap()
    }
    pub fn set_mode(&self, m: Mode) {
        *self.state.mode.lock().unwrap() = m;
    }
    pub fn expire_tokens(&self) {
        self.state.expired.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn tokens_issued(&self) -> usize {
        self.state.tokens_issued.load(std::sync::atomic::Ordering::SeqCst)
    }
    pub fn scopes(&self) -> Vec<String> {
        self.state.scopes.lock().unwrap().clone()
    }

    /// A proxy to `registry` that only misbehaves as `mode` says.
    pub fn tamper(registry: &OciRegistry, mode: Mode) -> Gate {
        Gate::start(registry, mode, None)
    }

    /// A proxy to `registry` that demands bearer tokens from its own token
    /// service, which wants `basic` credentials (or none).
    pub fn token_service(registry: &OciRegistry, basic: Option<(&str, &str)>) -> Gate {
        Gate::start(registry, Mode::Pass, Some(basic.map(|(u, p)| (u.to_string(), p.to_string()))))
    }

    fn start(registry: &OciRegistry, mode: Mode, bearer: Option<Option<(String, String)>>) -> Gate {
        use axum::routing::get;
        let state = std::sync::Arc::new(GateState {
            upstream: format!("http://{}", registry.addr),
            me: std::sync::OnceLock::new(),
            mode: std::sync::Mutex::new(mode),
            bearer,
            expired: std::sync::atomic::AtomicBool::new(false),
            tokens_issued: std::sync::atomic::AtomicUsize::new(0),
            scopes: std::sync::Mutex::new(vec![]),
        });
        let router = axum::Router::new().route("/token", get(token)).fallback(forward).with_state(state.clone());
        let server = spawn(router);
        state.me.set(server.url.clone()).unwrap();
        Gate { server, state }
    }
}

type GateArc = std::sync::Arc<GateState>;

async fn token(
    axum::extract::State(s): axum::extract::State<GateArc>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use base64::Engine;
    if let Some(Some((u, p))) = &s.bearer {
        let want = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}")));
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(want.as_str()) {
            return (axum::http::StatusCode::UNAUTHORIZED, r#"{"details":"bad credentials"}"#).into_response();
        }
    }
    s.scopes.lock().unwrap().push(uri.query().unwrap_or("").to_string());
    let n = s.tokens_issued.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    axum::Json(serde_json::json!({"token": format!("tok-{n}"), "expires_in": 300})).into_response()
}

async fn forward(
    axum::extract::State(s): axum::extract::State<GateArc>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if s.bearer.is_some() {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        let valid = auth.starts_with("Bearer tok-") && !s.expired.load(std::sync::atomic::Ordering::SeqCst);
        if !valid {
            let me = s.me.get().cloned().unwrap_or_default();
            let challenge = format!(r#"Bearer realm="{me}/token",service="komp-test""#);
            return (
                axum::http::StatusCode::UNAUTHORIZED,
                [("www-authenticate", challenge), ("content-type", "application/json".to_string())],
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required (token missing or expired)"}]}"#,
            )
                .into_response();
        }
    }
    let mode = *s.mode.lock().unwrap();
    let url = format!("{}{}", s.upstream, uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let accept = headers.get("accept").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let ctype = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let m = method.as_str().to_string();
    let answer = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
        let mut b = ureq::http::Request::builder().method(m.as_str()).uri(&url);
        if !accept.is_empty() {
            b = b.header("accept", accept);
        }
        if !ctype.is_empty() {
            b = b.header("content-type", ctype);
        }
        let resp = if m == "GET" || m == "HEAD" || body.is_empty() && m == "POST" {
            agent.run(b.body(()).unwrap())
        } else {
            agent.run(b.body(body.to_vec()).unwrap())
        }
        .unwrap();
        let status = resp.status().as_u16();
        let hs: Vec<(String, String)> = resp
            .headers()
            .iter()
            .filter(|(k, _)| {
                ["content-type", "docker-content-digest", "location", "link", "docker-upload-uuid", "range"]
                    .contains(&k.as_str())
                    || (m == "HEAD" && k.as_str() == "content-length")
            })
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        // No 10 MB cap (ureq's default): postsortering's layer carries a ~100 MB encoder.
        let bytes =
            if m == "HEAD" { vec![] } else { resp.into_body().with_config().limit(1 << 30).read_to_vec().unwrap() };
        (status, hs, bytes)
    })
    .await
    .unwrap();
    let (status, mut hs, mut bytes) = answer;
    let is_layer = uri.path().contains("/blobs/") && bytes.starts_with(b"\0asm");
    let mut truncated_len = None;
    match mode {
        Mode::FlipLayerByte if is_layer => {
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0xff;
        }
        Mode::WrongManifestType if uri.path().contains("/manifests/") => {
            for (k, v) in hs.iter_mut() {
                if k == "content-type" {
                    *v = "application/vnd.docker.distribution.manifest.v2+json".into();
                }
            }
        }
        Mode::TruncateLayer if is_layer => {
            truncated_len = Some(bytes.len());
            bytes.truncate(bytes.len() / 2);
        }
        _ => {}
    }
    let mut resp = axum::response::Response::builder().status(status);
    for (k, v) in hs {
        resp = resp.header(k, v);
    }
    if let Some(full) = truncated_len {
        // A body that announces `full` bytes, yields half and then fails:
        // hyper aborts the connection mid-body.
        let body = Truncated { half: Some(axum::body::Bytes::from(bytes)), full: full as u64 };
        return resp.body(axum::body::Body::new(body)).unwrap();
    }
    resp.body(axum::body::Body::from(bytes)).unwrap()
}

struct Truncated {
    half: Option<axum::body::Bytes>,
    full: u64,
}

impl http_body::Body for Truncated {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(Some(match self.half.take() {
            Some(b) => Ok(http_body::Frame::data(b)),
            None => Err(std::io::Error::other("cut off on purpose")),
        }))
    }
    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.full)
    }
}
