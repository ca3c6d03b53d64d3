//! komp through OCI registries, end to end: the real `komp` binary pushes the
//! real signed components to a real registry (Debian's `docker-registry` on
//! loopback, started by komp-oci's test helpers), `skopeo` copies them, `komp
//! pull` verifies them, and a real `komp serve --upstream oci://…` syncs,
//! installs, withdraws on a yank, and keeps serving through an unreachable or
//! tampering registry. `scripts/setup.sh --oci` installs the tools.

use crate::oci_common::{require, Gate, Mode, OciRegistry};
use komp_tests::{dev_key, komp_bin, root, ServeProcess};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const LETTER: &str = r#"{"subject":"Skraldespand ikke tømt","body":"Hej, vores affaldsbeholder til restaffald er ikke blevet tømt i to uger. Hvornår kommer skraldebilen? Mvh Jens","sender_type":"citizen"}"#;

fn komp(args: &[&str]) -> Output {
    Command::new(komp_bin()).args(args).env("DOCKER_CONFIG", "/nonexistent").output().expect("run komp")
}

fn ok(args: &[&str]) -> String {
    let o = komp(args);
    assert!(
        o.status.success(),
        "komp {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn fails(args: &[&str]) -> String {
    let o = komp(args);
    assert_eq!(o.status.code(), Some(1), "komp {args:?} should fail: {}", String::from_utf8_lossy(&o.stdout));
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn built(name: &str) -> PathBuf {
    let p = root().join("target/komp-components").join(format!("{name}.wasm"));
    assert!(p.exists(), "{} is missing: run scripts/build-components.sh target/debug/komp", p.display());
    p
}

fn version_of(file: &Path) -> String {
    komp_artifact::Artifact::parse(std::fs::read(file).unwrap()).unwrap().manifest().version.to_string()
}

fn dev_policy() -> PathBuf {
    root().join("keys/dev/policy.json")
}

fn skopeo(args: &[&str]) {
    require("skopeo");
    let o = Command::new("skopeo").args(args).output().unwrap();
    assert!(o.status.success(), "skopeo {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

/// A signed revocation list file made by the real CLI with the development approver.
fn renew(list: &Path) {
    ok(&["renew-revocations", "--key", s(&dev_key("approver")), "--list", s(list)]);
}

#[test]
fn push_skopeo_copy_pull_and_predict() {
    let reg = OciRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let file = built("postsortering");
    let version = version_of(&file);
    let central = format!("oci://{}/central/postsortering", reg.addr);

    let out = ok(&["push", s(&file), &central, "--policy", s(&dev_policy()), "--plain-http"]);
    assert!(out.contains(&format!("{central}:{version}")), "{out}");
    assert!(out.contains("manifest: sha256:"), "{out}");

    // An independent client copies it to a second repository.
    let src = format!("docker://{}/central/postsortering:{version}", reg.addr);
    let dst = format!("docker://{}/mirror/postsortering:{version}", reg.addr);
    skopeo(&["copy", "--src-tls-verify=false", "--dest-tls-verify=false", &src, &dst]);

    // komp pulls it from there, verified against the policy.
    let pulled = dir.path().join("pulled.wasm");
    let mirror = format!("oci://{}/mirror/postsortering:{version}", reg.addr);
    let out = ok(&["pull", &mirror, "-o", s(&pulled), "--trust-policy", s(&dev_policy()), "--plain-http"]);
    assert!(out.contains(&format!("postsortering@{version}")) && out.contains("verified"), "{out}");
    assert_eq!(std::fs::read(&pulled).unwrap(), std::fs::read(&file).unwrap(), "byte for byte the signed file");

    // The pulled file predicts in the real runtime.
    let out = ok(&["predict", s(&pulled), "--input", LETTER]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["component"], "postsortering", "{v}");
    assert!(v["prediction"]["label"].as_str().is_some_and(|l| !l.is_empty()), "{v}");

    // A policy that trusts nobody: refused, and nothing is written.
    let nobody = dir.path().join("nobody.json");
    std::fs::write(&nobody, r#"{"publishers":[],"approvers":[],"require_endorsement":false}"#).unwrap();
    let other = dir.path().join("other.wasm");
    let err = fails(&["pull", &mirror, "-o", s(&other), "--policy", s(&nobody), "--plain-http"]);
    assert!(err.contains("refused") || err.contains("trust"), "{err}");
    assert!(!other.exists(), "a refused file must not be written");

    // A push whose tag names another version is refused.
    let err = fails(&["push", s(&file), &format!("{central}:9.9.9"), "--plain-http"]);
    assert!(err.contains("9.9.9") && err.contains(&version), "{err}");
    // An unreachable registry says so.
    let port = crate::oci_common::free_port();
    let err = fails(&["push", s(&file), &format!("oci://127.0.0.1:{port}/central/postsortering"), "--plain-http"]);
    assert!(err.contains("cannot reach"), "{err}");
}

struct Host {
    serve: ServeProcess,
    token: String,
    log: PathBuf,
    agent: ureq::Agent,
}

impl Host {
    fn start(dir: &Path, upstream: &str, components: &[&str]) -> Host {
        let data = dir.join("data");
        let token = if data.join("tokens.json").exists() {
            std::fs::read_to_string(dir.join("token")).unwrap()
        } else {
            let t = ok(&["token", "create", "--tenant", "0751", "--role", "caller", "--quiet", "--data-dir", s(&data)])
                .trim()
                .to_string();
            std::fs::write(dir.join("token"), &t).unwrap();
            t
        };
        let log = dir.join("serve.log");
        let mut args: Vec<std::ffi::OsString> = vec![
            "--trust-policy".into(),
            dev_policy().into(),
            "--data-dir".into(),
            data.into(),
            "--upstream".into(),
            upstream.into(),
            "--upstream-plain-http".into(),
            "--sync-interval-secs".into(),
            "1".into(),
        ];
        for c in components {
            args.push("--upstream-component".into());
            args.push(c.into());
        }
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let serve = ServeProcess::start_logging_to(&refs, &log);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Host { serve, token, log, agent }
    }

    fn predict(&self, component: &str, body: &str) -> (u16, String) {
        let mut r = self
            .agent
            .post(format!("{}/v1/components/{component}/predict", self.serve.url))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .send(body)
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default())
    }

    fn wait_for(&self, component: &str, body: &str, status: u16, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (st, text) = self.predict(component, body);
            if st == status {
                return text;
            }
            assert!(Instant::now() < deadline, "{what}: still {st} {text}\nlog:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_log(&self, needle: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.log().contains(needle) {
            assert!(Instant::now() < deadline, "{what}: {needle:?} not logged:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

const FEEDBACK: &str = r#"{"text":"tak for hjælpen"}"#;

#[test]
fn serve_syncs_from_an_oci_registry_and_withdraws_a_yanked_component() {
    let reg = OciRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let file = built("example-feedback");
    let version = version_of(&file);
    let ns = format!("oci://{}/central", reg.addr);
    let list = dir.path().join("revocations.json");
    renew(&list);
    ok(&["push-revocations", s(&list), &ns, "--policy", s(&dev_policy()), "--plain-http"]);
    ok(&["push", s(&file), &format!("{ns}/example-feedback"), "--policy", s(&dev_policy()), "--plain-http"]);

    let host = Host::start(dir.path(), &ns, &["example-feedback"]);
    host.wait_for("example-feedback", FEEDBACK, 200, "the component never arrived from the OCI registry");

    // The approver yanks it and pushes the list: the host withdraws it at the next sync.
    ok(&[
        "yank",
        &format!("example-feedback@{version}"),
        "--reason",
        "wrong weights in the lexicon",
        "--key",
        s(&dev_key("approver")),
        "--list",
        s(&list),
    ]);
    ok(&["push-revocations", s(&list), &ns, "--plain-http"]);
    let text = host.wait_for("example-feedback", FEEDBACK, 410, "the yanked component kept serving");
    assert!(text.contains("wrong weights"), "the reason is named: {text}");
}

#[test]
fn serve_keeps_what_it_had_when_the_registry_tampers_or_is_gone() {
    let reg = OciRegistry::start();
    let gate = Gate::tamper(&reg, Mode::Pass);
    let dir = tempfile::tempdir().unwrap();
    let ns_direct = format!("oci://{}/central", reg.addr);
    let ns = format!("oci://{}/central", gate.addr());
    let list = dir.path().join("revocations.json");
    renew(&list);
    ok(&["push-revocations", s(&list), &ns_direct, "--plain-http"]);
    ok(&["push", s(&built("example-feedback")), &format!("{ns_direct}/example-feedback"), "--plain-http"]);

    let host = Host::start(dir.path(), &ns, &["example-feedback", "postsortering"]);
    host.wait_for("example-feedback", FEEDBACK, 200, "the component never arrived through the proxy");

    // The registry (here: something on the way) flips a byte of every layer;
    // a new component is refused with the digest named, the old one keeps serving.
    gate.set_mode(Mode::FlipLayerByte);
    ok(&["push", s(&built("postsortering")), &format!("{ns_direct}/postsortering"), "--plain-http"]);
    host.wait_log("does not match its digest", "the tampered layer");
    assert!(host.log().contains("postsortering"), "{}", host.log());
    assert_eq!(host.predict("postsortering", LETTER).0, 404, "a tampered file must not be installed");
    assert_eq!(host.predict("example-feedback", FEEDBACK).0, 200, "what the host had keeps serving");

    // The registry is gone: the sync fails loudly, the host keeps serving.
    drop(gate);
    host.wait_log("cannot reach the OCI registry", "the unreachable registry");
    assert!(host.log().contains("sync from upstream failed"), "{}", host.log());
    assert_eq!(host.predict("example-feedback", FEEDBACK).0, 200, "what the host had keeps serving");
    let metrics = host.agent.get(&host.serve.metrics_url).call().unwrap().body_mut().read_to_string().unwrap();
    let failures: f64 = metrics
        .lines()
        .find(|l| l.starts_with("komp_sync_failures"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no sync failure counter: {metrics}"));
    assert!(failures >= 1.0, "{metrics}");
}

/// SIGKILL of `komp serve` while it syncs from an OCI registry, a few
/// times at different moments; afterwards the host starts on the same data
/// directory and serves only complete, verified components.
#[test]
fn sigkill_during_oci_syncs_leaves_only_verified_components() {
    let reg = OciRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let ns = format!("oci://{}/central", reg.addr);
    let list = dir.path().join("revocations.json");
    renew(&list);
    ok(&["push-revocations", s(&list), &ns, "--plain-http"]);
    for c in ["example-feedback", "postsortering", "underretning"] {
        ok(&["push", s(&built(c)), &format!("{ns}/{c}"), "--plain-http"]);
    }
    let components = ["example-feedback", "postsortering", "underretning"];
    for cycle in 0..3u64 {
        let mut host = Host::start(dir.path(), &ns, &components);
        std::thread::sleep(Duration::from_millis(300 + 700 * cycle));
        host.serve.child.kill().expect("SIGKILL");
        host.serve.child.wait().unwrap();
    }
    // Whatever the registry kept verifies against the policy, byte for byte.
    let policy = komp_registry::TrustPolicy::load(&dev_policy()).unwrap();
    {
        let local = komp_registry::Registry::open(&dir.path().join("data/registry")).expect("the registry reopens");
        let revocations = local.revocations().unwrap();
        for summary in local.list().unwrap() {
            for v in &summary.versions {
                let bytes = local.get(&summary.name, &v.version).expect("a complete file");
                komp_registry::verify_bytes(bytes, &policy, &revocations).expect("a verified file");
            }
        }
    }
    // And the host starts again, finishes the sync and serves all three.
    let host = Host::start(dir.path(), &ns, &components);
    host.wait_for("example-feedback", FEEDBACK, 200, "example-feedback after the kills");
    host.wait_for("postsortering", LETTER, 200, "postsortering after the kills");
}
