//! The municipal HTTP host, for real: a server on 127.0.0.1 with the signed
//! standard components from the embedded default registry, called over
//! loopback. Every request count is bounded.

use komp_server::auth::Role;
use komp_server::config::{Route, ServerConfig, TenantConfig};
use komp_tests::dev_key;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct TestServer {
    url: String,
    metrics_url: String,
    state: komp_server::SharedState,
    data: PathBuf,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    fn start(edit: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join("data"),
            seed_dir: Some(komp_tests::root().join("target/komp-components")),
            dev: true,
            metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
            ..ServerConfig::default()
        };
        config.tenants.insert(
            "0751".parse().unwrap(),
            TenantConfig {
                name: "Aarhus Kommune".into(),
                routing: [(
                    "postsortering".to_string(),
                    [(
                        "affald".to_string(),
                        Route {
                            unit: "Teknik og Miljø, Affald".into(),
                            inbox: "affald@aarhus.example".into(),
                            kle: Some("07.00".into()),
                        },
                    )]
                    .into_iter()
                    .collect(),
                )]
                .into_iter()
                .collect(),
                ..TenantConfig::default()
            },
        );
        config.tenants.insert(
            "0101".parse().unwrap(),
            TenantConfig {
                name: "København".into(),
                components: vec!["example-feedback".into()],
                rate_limit_per_second: Some(1.0),
                ..TenantConfig::default()
            },
        );
        edit(&mut config);
        let data = config.data_dir.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let (server, listener) = komp_server::run::start(config).await.expect("server starts");
                tx.send((server.addr, server.metrics_addr.unwrap(), server.state.clone())).unwrap();
                komp_server::run::run(server, listener, async {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap();
            });
        });
        let (addr, metrics_addr, state) = rx.recv_timeout(Duration::from_secs(120)).expect("server ready");
        TestServer {
            url: format!("http://{addr}"),
            metrics_url: format!("http://{metrics_addr}"),
            state,
            data,
            _dir: dir,
            shutdown: Some(stop_tx),
            thread: Some(thread),
        }
    }

    fn token(&self, tenant: &str, role: Role) -> String {
        self.state.tokens.create(&tenant.parse().unwrap(), role, "test").unwrap().1
    }

    fn stop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn call(method: &str, url: &str, token: Option<&str>, headers: &[(&str, String)], body: Option<Vec<u8>>) -> Reply {
    let a = agent();
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    if let Some(t) = token {
        builder = builder.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        builder = builder.header(*k, v);
    }
    let mut resp = match body {
        Some(b) => a.run(builder.header("content-type", "application/json").body(b).unwrap()),
        None => a.run(builder.body(()).unwrap()),
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    let body = resp.body_mut().with_config().limit(64 << 20).read_to_vec().unwrap();
    Reply { status, headers, body }
}

fn get(s: &TestServer, path: &str, token: Option<&str>) -> Reply {
    call("GET", &format!("{}{path}", s.url), token, &[], None)
}

fn post(s: &TestServer, path: &str, token: Option<&str>, body: Value) -> Reply {
    call("POST", &format!("{}{path}", s.url), token, &[], Some(body.to_string().into_bytes()))
}

const LETTER: &str = r#"{"subject":"Skraldespand ikke tømt","body":"Hej, vores affaldsbeholder til restaffald er ikke blevet tømt i to uger. Hvornår kommer skraldebilen? Mvh Jens","sender_type":"citizen"}"#;

#[test]
fn health_metadata_and_openapi() {
    let s = TestServer::start(|_| {});
    assert_eq!(get(&s, "/v2/health/live", None).status, 200);
    let ready = get(&s, "/v2/health/ready", None);
    assert_eq!(ready.status, 200, "{}", String::from_utf8_lossy(&ready.body));
    let meta = get(&s, "/v2", None).json();
    assert_eq!(meta["name"], "komp");
    assert!(meta["extensions"].as_array().unwrap().contains(&json!("binary_tensor_data")));
    // Without a token the document describes the API but names no component.
    let api = get(&s, "/openapi.json", None).json();
    assert_eq!(api["openapi"], "3.1.0");
    assert!(api["paths"]["/v1/components/{name}/predict"]["post"].is_object(), "{api}");
    for c in ["postsortering", "underretning", "example-feedback"] {
        assert!(!api.to_string().contains(c), "{c} is named to an anonymous caller");
    }
    // With a token, each of the tenant's components has its own typed operation.
    let caller = s.token("0751", Role::Caller);
    let api = get(&s, "/openapi.json", Some(&caller)).json();
    for c in ["postsortering", "underretning", "example-feedback"] {
        let p = format!("/v1/components/{c}/predict");
        assert!(api["paths"][&p]["post"]["requestBody"]["content"]["application/json"]["schema"].is_object(), "{p}");
    }
    // ... and only those: 0101 may use example-feedback alone.
    let cph = s.token("0101", Role::Caller);
    let api = get(&s, "/openapi.json", Some(&cph)).json().to_string();
    assert!(api.contains("example-feedback") && !api.contains("postsortering") && !api.contains("underretning"));
    // The registry of a municipal host is not open either.
    assert_eq!(get(&s, "/registry/v1/components", None).status, 401);
    assert_eq!(get(&s, "/registry/v1/components", Some(&caller)).status, 403);
    let publisher = s.token("0751", Role::Publisher);
    assert_eq!(get(&s, "/registry/v1/components", Some(&publisher)).status, 200);
    // A publisher token revoked from the command line (another process, the
    // same second) can no longer read or push.
    let publishers = komp_server::auth::TokenStore::open(&s.data).unwrap();
    let id = publishers.list().unwrap().into_iter().find(|t| t.role == Role::Publisher).unwrap().id;
    assert!(publishers.revoke(&id).unwrap());
    assert_eq!(get(&s, "/registry/v1/components", Some(&publisher)).status, 401);
    // (A small body: the token is refused from the request head, before any
    // body byte is read, and a large body would still be in flight.)
    let push =
        call("PUT", &format!("{}/registry/v1/components", s.url), Some(&publisher), &[], Some(b"\0asm".to_vec()));
    assert_eq!(push.status, 401, "{}", String::from_utf8_lossy(&push.body));
    assert_eq!(get(&s, "/nope", None).status, 404);
}

#[test]
fn tokens_roles_and_tenants_are_enforced() {
    let s = TestServer::start(|_| {});
    let caller = s.token("0751", Role::Caller);
    assert_eq!(get(&s, "/v1/components", None).status, 401);
    assert_eq!(get(&s, "/v1/components", Some("komp_deadbeef_00")).status, 401);
    let cat = get(&s, "/v1/components", Some(&caller)).json();
    let names: Vec<&str> = cat["components"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"postsortering") && names.contains(&"underretning"), "{names:?}");
    // A caller may not read the audit log.
    assert_eq!(get(&s, "/v1/audit", Some(&caller)).status, 403);
    // 0101 may only use example-feedback: the others do not exist for it.
    let cph = s.token("0101", Role::Caller);
    let cat = get(&s, "/v1/components", Some(&cph)).json();
    assert_eq!(cat["components"].as_array().unwrap().len(), 1);
    let r = post(&s, "/v1/components/postsortering/predict", Some(&cph), serde_json::from_str(LETTER).unwrap());
    assert_eq!(r.status, 404, "{}", String::from_utf8_lossy(&r.body));
    // The component description carries the model card, ALTAI, AI Act class and provenance.
    let d = get(&s, "/v1/components/underretning", Some(&caller)).json();
    assert_eq!(d["ai_act"]["risk_class"], "high");
    assert!(d["model_card"]["intended_use"].as_str().unwrap().len() > 20);
    assert!(d["altai"]["human_agency_and_oversight"].is_string());
    assert!(d["golden_vectors"]["passed_at_install"].as_u64().unwrap() >= 20);
    let sigs = d["provenance"]["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 2, "{d}");
}

#[test]
fn predict_audit_feedback_and_monitoring() {
    let s = TestServer::start(|_| {});
    let caller = s.token("0751", Role::Caller);
    let auditor = s.token("0751", Role::Auditor);
    let other_auditor = s.token("0101", Role::Auditor);

    let r = post(&s, "/v1/components/postsortering/predict", Some(&caller), serde_json::from_str(LETTER).unwrap());
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let p = r.json();
    assert_eq!(p["prediction"]["label"], "affald");
    assert_eq!(p["component"], "postsortering");
    assert_eq!(p["digest"].as_str().unwrap().len(), 64);
    assert_eq!(p["routing"]["unit"], "Teknik og Miljø, Affald", "local routing of 0751");
    let id = p["request_id"].as_str().unwrap().to_string();

    // Schema violations: 422 with the exact path; the failure is audited too.
    let r = post(&s, "/v1/components/postsortering/predict", Some(&caller), json!({"subject": 5, "body": "x"}));
    assert_eq!(r.status, 422);
    assert!(r.json()["violations"].as_array().unwrap().iter().any(|v| v["path"] == "/subject"));

    // The audit record: keyed hash of the input, never the input.
    let audit = get(&s, "/v1/audit?component=postsortering", Some(&auditor)).json();
    let records = audit["records"].as_array().unwrap();
    let rec = records.iter().find(|r| r["request_id"] == id.as_str()).expect("audit record");
    assert_eq!(rec["label"], "affald");
    assert_eq!(rec["tenant"], "0751");
    assert!(!audit.to_string().contains("restaffald"), "raw input must not be in the audit log");
    assert!(records.iter().any(|r| r["outcome"] != "ok"), "failed predictions are audited too");
    // Another tenant sees nothing of it.
    let theirs = get(&s, "/v1/audit", Some(&other_auditor)).json();
    assert!(theirs["records"].as_array().unwrap().is_empty());
    assert_eq!(get(&s, &format!("/v1/predictions/{id}"), Some(&other_auditor)).status, 404);
    let jsonl = get(&s, "/v1/audit?format=jsonl", Some(&auditor));
    assert_eq!(jsonl.header("content-type"), Some("application/x-ndjson"));
    assert!(String::from_utf8(jsonl.body).unwrap().lines().count() >= 2);

    // Feedback: overridden by the caseworker.
    let fb = json!({"decision": "overridden", "final_label": "veje-og-parkering", "note": "storskrald på fortovet"});
    let r = post(&s, &format!("/v1/predictions/{id}/feedback"), Some(&caller), fb.clone());
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let cph_caller = s.token("0101", Role::Caller);
    assert_eq!(post(&s, &format!("/v1/predictions/{id}/feedback"), Some(&cph_caller), fb).status, 404);
    let bad = post(
        &s,
        &format!("/v1/predictions/{id}/feedback"),
        Some(&caller),
        json!({"decision": "overridden", "final_label": "no-such"}),
    );
    assert_eq!(bad.status, 422);
    let case = get(&s, &format!("/v1/predictions/{id}"), Some(&auditor)).json();
    assert_eq!(case["feedback"].as_array().unwrap().len(), 1);
    let m = get(&s, "/v1/components/postsortering/monitoring", Some(&auditor)).json();
    assert_eq!(m["monitoring"]["overridden"], 1);
    assert_eq!(m["monitoring"]["override_rate"], 1.0);

    // Metrics show every tenant: not on the API listener, even for an admin.
    let admin = s.token("0751", Role::Admin);
    assert_eq!(get(&s, "/metrics", Some(&admin)).status, 404);
    let metrics = call("GET", &format!("{}/metrics", s.metrics_url), None, &[], None);
    assert_eq!(metrics.status, 200);
    let metrics = String::from_utf8(metrics.body).unwrap();
    assert!(
        metrics.contains("komp_predictions_total{tenant=\"0751\",component=\"postsortering\",outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("komp_feedback_override_ratio{tenant=\"0751\",component=\"postsortering\"} 1"));
    assert!(metrics.contains("komp_audit_append_seconds_count"));

    // After shutdown the chain verifies.
    let mut s = s;
    s.stop();
    let report = komp_audit::verify_dir(s.data.join("audit")).expect("audit chain verifies");
    assert!(format!("{report:?}").contains('3') || true);
}

#[test]
fn open_inference_protocol_json_and_binary() {
    let s = TestServer::start(|_| {});
    let caller = s.token("0751", Role::Caller);
    let meta = get(&s, "/v2/models/postsortering", Some(&caller)).json();
    assert_eq!(meta["name"], "postsortering");
    assert_eq!(get(&s, "/v2/models/postsortering/versions/1.3.0/ready", Some(&caller)).status, 200);
    assert_eq!(get(&s, "/v2/models/postsortering/versions/9.9.9", Some(&caller)).status, 404);

    // JSON: plain text into a component with one text field; only requested outputs; id echoed.
    let req = json!({
        "id": "req-42",
        "inputs": [{"name": "input", "shape": [2], "datatype": "BYTES", "data": ["Tak for den hurtige hjælp", "{\"text\": \"Jeg er utilfreds og skuffet\"}"]}],
        "outputs": [{"name": "label"}, {"name": "scores"}]
    });
    let r = post(&s, "/v2/models/example-feedback/infer", Some(&caller), req);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let out = r.json();
    assert_eq!(out["id"], "req-42");
    assert_eq!(out["outputs"].as_array().unwrap().len(), 2);
    assert_eq!(out["outputs"][0]["data"], json!(["positiv", "negativ"]));
    assert_eq!(out["outputs"][1]["shape"], json!([2, 2]));

    // Binary: BYTES input with 4-byte length prefixes, binary label output.
    let text = LETTER.as_bytes();
    let mut bin = (text.len() as u32).to_le_bytes().to_vec();
    bin.extend_from_slice(text);
    let header = json!({
        "inputs": [{"name": "input", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": bin.len()}}],
        "outputs": [{"name": "label", "parameters": {"binary_data": true}}, {"name": "requires_human_review"}]
    })
    .to_string();
    let mut body = header.clone().into_bytes();
    body.extend_from_slice(&bin);
    let r = call(
        "POST",
        &format!("{}/v2/models/postsortering/infer", s.url),
        Some(&caller),
        &[("inference-header-content-length", header.len().to_string())],
        Some(body.clone()),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let hlen: usize = r.header("inference-header-content-length").expect("binary response").parse().unwrap();
    let head: Value = serde_json::from_slice(&r.body[..hlen]).unwrap();
    assert_eq!(head["outputs"][0]["parameters"]["binary_data_size"], 4 + "affald".len());
    let tail = &r.body[hlen..];
    assert_eq!(u32::from_le_bytes(tail[..4].try_into().unwrap()), 6);
    assert_eq!(&tail[4..], b"affald");
    assert!(head["outputs"][1]["data"].is_array());

    // A lying length header is a 400, never a 5xx.
    let r = call(
        "POST",
        &format!("{}/v2/models/postsortering/infer", s.url),
        Some(&caller),
        &[("inference-header-content-length", (body.len() + 10).to_string())],
        Some(body),
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("Inference-Header-Content-Length"));
    let r = post(
        &s,
        "/v2/models/postsortering/infer",
        Some(&caller),
        json!({"inputs": [{"name": "input", "shape": [1], "datatype": "FP32", "data": ["x"]}]}),
    );
    assert_eq!(r.status, 400);
}

#[test]
fn rate_limits_answer_429_with_retry_after() {
    let s = TestServer::start(|_| {});
    let cph = s.token("0101", Role::Caller);
    let body = json!({"text": "tak"});
    let statuses: Vec<u16> =
        (0..4).map(|_| post(&s, "/v1/components/example-feedback/predict", Some(&cph), body.clone()).status).collect();
    assert_eq!(&statuses[..2], &[200, 200], "burst of 2 at 1/s: {statuses:?}");
    let r = post(&s, "/v1/components/example-feedback/predict", Some(&cph), body);
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
}

#[test]
fn a_yank_on_the_central_registry_reaches_the_municipal_host() {
    // The central registry: a komp host seeded with the signed components,
    // whose registry anyone may read.
    let central = TestServer::start(|c| c.open_registry_reads = true);
    // The municipality: no seeds, syncs from the central registry every second.
    let url = central.url.clone();
    let muni = TestServer::start(move |c| {
        c.seed_dir = None;
        c.upstream = Some(url);
        c.sync_interval_secs = 1;
    });
    let caller = muni.token("0751", Role::Caller);
    let predict =
        || post(&muni, "/v1/components/example-feedback/predict", Some(&caller), json!({"text": "tak for hjælpen"}));
    let deadline = Instant::now() + Duration::from_secs(60);
    while predict().status != 200 {
        assert!(Instant::now() < deadline, "the municipal host never got the component from upstream");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The approver yanks example-feedback@0.1.0 on the central registry.
    let approver = komp_registry::KeyPair::load(&dev_key("approver")).unwrap();
    let mut list = central.state.registry.revocations().unwrap().next().unwrap();
    list.yank("example-feedback", &semver::Version::new(0, 1, 0), "wrong weights in the lexicon");
    let signed = komp_registry::SignedRevocationList::sign(&list, &approver).unwrap();
    central.state.registry.set_revocations(&signed, &central.state.verifier.policy).unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = predict();
        if r.status == 410 {
            assert!(r.json()["error"].as_str().unwrap().contains("wrong weights"), "the reason is named");
            break;
        }
        assert_eq!(r.status, 200);
        assert!(Instant::now() < deadline, "the municipal host kept serving a yanked component");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Other components keep working.
    let r = post(&muni, "/v1/components/postsortering/predict", Some(&caller), serde_json::from_str(LETTER).unwrap());
    assert_eq!(r.status, 200);
}

#[allow(dead_code)]
fn _assert_send_sync(s: Arc<komp_server::AppState>) -> impl Send + Sync {
    s
}

/// A prediction still running when its request times out is audited (its
/// outcome says so), keeps its prediction slot until the sandbox returns,
/// and leaves the in-flight gauge where it was.
#[test]
fn a_prediction_cut_off_by_the_request_timeout_is_audited_and_holds_its_slot() {
    let seeds_dir = tempfile::tempdir().unwrap();
    let seeds = komp_tests::seeds_with_hostile(seeds_dir.path());
    let s = TestServer::start(|c| {
        c.seed_dir = Some(seeds.clone());
        c.request_timeout_ms = 300;
        c.max_concurrent_predictions = 1;
        c.runtime.deadline = Duration::from_millis(2000);
    });
    let caller = s.token("0751", Role::Caller);
    let auditor = s.token("0751", Role::Auditor);
    let started = Instant::now();
    let r = post(&s, "/v1/components/hostile/predict", Some(&caller), json!({"mode": "loop"}));
    assert_eq!(r.status, 408, "{}", String::from_utf8_lossy(&r.body));
    // The timeout's answer is the JSON error body, like every other error.
    assert!(r.header("content-type").is_some_and(|v| v.starts_with("application/json")), "{:?}", r.headers);
    assert_eq!(r.json()["error"], "the request took longer than this server allows");
    // The sandbox is still running: its slot, the only one, is still taken.
    let busy = post(&s, "/v1/components/example-feedback/predict", Some(&caller), json!({"text": "tak"}));
    if started.elapsed() < Duration::from_millis(1500) {
        assert_eq!(busy.status, 503, "the slot was released before the sandbox returned");
    }
    // Once the sandbox returns (deadline 2 s), the call is in the audit log.
    let deadline = Instant::now() + Duration::from_secs(20);
    let record = loop {
        let audit = get(&s, "/v1/audit?component=hostile", Some(&auditor)).json();
        if let Some(r) = audit["records"].as_array().unwrap().first() {
            break r.clone();
        }
        assert!(Instant::now() < deadline, "the cut-off prediction was never audited");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(record["outcome"], "timeout", "{record}");
    assert!(record["latency_us"].as_u64().unwrap() >= 1_500_000, "{record}");
    assert_eq!(s.state.metrics.in_flight.get(), 0, "the in-flight gauge leaked");
    // And the slot is free again.
    let r = post(&s, "/v1/components/example-feedback/predict", Some(&caller), json!({"text": "tak"}));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// Without a trust policy the host refuses to start, unless told `dev`; it
/// never silently trusts the development keys, whose private halves are public.
#[test]
fn without_a_trust_policy_the_host_refuses_to_start_unless_dev() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        metrics_listen: None,
        ..ServerConfig::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let err = rt.block_on(komp_server::run::start(config)).err().expect("refuses to start");
    let msg = format!("{err:#}");
    assert!(msg.contains("no trust policy") && msg.contains("--trust-policy") && msg.contains("--dev"), "{msg}");
    // The binary says the same and exits 1.
    let out = std::process::Command::new(komp_tests::komp_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data2"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("komp trust-policy"));
}

/// `max_body_bytes` above axum's own 2 MiB default really applies. (Bodies
/// over the limit get 413 before they are read: `bad_requests.rs`.)
#[test]
fn a_body_limit_above_two_mib_is_honoured() {
    let s = TestServer::start(|c| {
        c.max_body_bytes = 4 << 20;
        // The input-HMAC key kept apart from the audit log.
        c.audit_key_file = Some(c.data_dir.parent().unwrap().join("keys/audit-hmac.key"));
    });
    assert!(s.data.parent().unwrap().join("keys/audit-hmac.key").exists(), "audit_key_file is used");
    assert!(!s.data.join("audit/hmac.key").exists(), "no second key next to the log");
    let caller = s.token("0751", Role::Caller);
    // 3 MiB of JSON: over axum's default, under ours. It reaches the
    // component's input size cap (a clear 413 from the runtime, naming the
    // input), not the HTTP layer's blanket refusal.
    let body = json!({"text": "a".repeat(3 << 20)});
    let r = post(&s, "/v1/components/example-feedback/predict", Some(&caller), body);
    let msg = String::from_utf8_lossy(&r.body).to_string();
    assert_eq!(r.status, 413);
    assert!(msg.contains("input is") && msg.contains("the limit is 1048576 bytes"), "{msg}");
}

/// An expired revocation list (a newer one may be withheld) is shown in
/// health and metrics, and with `refuse_installs_when_revocations_expired`
/// no new component is installed until a fresh list arrives.
#[test]
fn an_expired_revocation_list_is_shown_and_blocks_new_installs() {
    let central = TestServer::start(|c| c.open_registry_reads = true);
    let approver = komp_registry::KeyPair::load(&dev_key("approver")).unwrap();
    let publish = |list: &komp_registry::RevocationList| {
        let signed = komp_registry::SignedRevocationList::sign(list, &approver).unwrap();
        central.state.registry.set_revocations(&signed, &central.state.verifier.policy).unwrap();
    };
    // Issued in 2019, expired in 2020.
    let long_ago = std::time::UNIX_EPOCH + Duration::from_secs(1_546_300_800);
    let expired = central.state.registry.revocations().unwrap().next_at(long_ago).unwrap();
    publish(&expired);

    let url = central.url.clone();
    let muni = TestServer::start(move |c| {
        c.seed_dir = None;
        c.upstream = Some(url);
        c.sync_interval_secs = 1;
        c.refuse_installs_when_revocations_expired = true;
    });
    let caller = muni.token("0751", Role::Caller);
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        let h = get(&muni, "/v2/health/ready", None).json();
        if h["revocation_list"]["status"] == "expired" {
            break h;
        }
        assert!(Instant::now() < deadline, "the expired list never arrived: {h}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(health["revocation_list"]["refusing_new_installs"], true, "{health}");
    let metrics =
        String::from_utf8(call("GET", &format!("{}/metrics", muni.metrics_url), None, &[], None).body).unwrap();
    assert!(metrics.contains("komp_revocation_list_stale 1"), "{metrics}");
    assert!(metrics.contains("komp_revocation_list_expires_in_seconds -"), "{metrics}");
    // Synced into the registry, but not installed: nothing to call.
    std::thread::sleep(Duration::from_millis(1500));
    let r = post(&muni, "/v1/components/example-feedback/predict", Some(&caller), json!({"text": "tak"}));
    assert_eq!(r.status, 404, "{}", String::from_utf8_lossy(&r.body));

    // A fresh list from the approvers: installs resume.
    publish(&expired.next().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = post(&muni, "/v1/components/example-feedback/predict", Some(&caller), json!({"text": "tak"}));
        if r.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "installs did not resume with a fresh list: {}", r.status);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(get(&muni, "/v2/health/ready", None).json()["revocation_list"]["status"], "fresh");
}
