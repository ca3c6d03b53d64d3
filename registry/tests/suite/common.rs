//! Shared helpers: a minimal valid component, deterministic keys, policies.
#![allow(dead_code)]

use komp_artifact::manifest::STANDARD_WORLD;
use komp_artifact::sections::{encode_custom_section, COMPONENT_PREAMBLE};
use komp_artifact::{AiAct, Altai, Artifact, Label, Manifest, ModelCard, RiskClass};
use komp_registry::signature::sign;
use komp_registry::{KeyPair, Role, TrustPolicy};

/// Bytes of the fake model bundled in every test component.
pub fn model_bytes(tag: &str) -> Vec<u8> {
    let mut m = b"ONNX-not-really:".to_vec();
    m.extend_from_slice(tag.as_bytes());
    m.extend((0..200u8).map(|i| i.wrapping_mul(7)));
    m
}

pub fn manifest(name: &str, version: &str) -> Manifest {
    Manifest {
        name: name.into(),
        version: version.parse().unwrap(),
        description: "test component".into(),
        publisher: "Testkommune".into(),
        licence: "EUPL-1.2".into(),
        world: STANDARD_WORLD.into(),
        labels: vec![
            Label { id: "yes".into(), display: "Ja".into() },
            Label { id: "no".into(), display: "Nej".into() },
        ],
        input_schema: serde_json::json!({"type": "object"}),
        models: vec![],
        model_card: ModelCard {
            intended_use: "tests".into(),
            out_of_scope_use: "everything else".into(),
            training_data: "none".into(),
            evaluation_data: "none".into(),
            metrics: serde_json::json!({}),
            group_results: serde_json::json!({}),
            operating_point: serde_json::json!({}),
            limitations: "fake".into(),
            ethical_considerations: "none".into(),
            contact: "test@example.invalid".into(),
        },
        altai: Altai {
            human_agency_and_oversight: "a".into(),
            technical_robustness_and_safety: "b".into(),
            privacy_and_data_governance: "c".into(),
            transparency: "d".into(),
            diversity_non_discrimination_and_fairness: "e".into(),
            societal_and_environmental_wellbeing: "f".into(),
            accountability: "g".into(),
        },
        ai_act: AiAct { risk_class: RiskClass::Minimal, reasoning: "test".into() },
        golden_vectors: vec![],
        reference: None,
        operating_point: None,
    }
}

/// Marker bytes inside the fake code, so tests can find and flip a code byte.
pub const CODE_MARKER: &[u8] = b"FAKE-CODE-BODY";

/// A component: the preamble plus one nested core module (standing in for
/// the code), before packing.
pub fn raw_component(tag: &str) -> Vec<u8> {
    let mut core = vec![0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    let mut body = CODE_MARKER.to_vec();
    body.extend_from_slice(tag.as_bytes());
    body.extend((0..64u8).map(|i| i ^ 0x5a));
    core.extend_from_slice(&encode_custom_section("code", &body));
    let mut out = COMPONENT_PREAMBLE.to_vec();
    out.push(0x01); // core module section
    wasm_encoder::Encode::encode(core.as_slice(), &mut out);
    out
}

/// A packed, unsigned component `name@version`.
pub fn unsigned(name: &str, version: &str) -> Vec<u8> {
    let tag = format!("{name}@{version}");
    komp_artifact::pack(&raw_component(&tag), manifest(name, version), &[("clf".into(), model_bytes(&tag))])
        .unwrap()
        .into_bytes()
}

/// Like [`unsigned`], with a model padded to `model_len` bytes of
/// deterministic noise: values this large take sled's separate blob-file path.
pub fn unsigned_with_model(name: &str, version: &str, model_len: usize) -> Vec<u8> {
    let tag = format!("{name}@{version}");
    let mut model = model_bytes(&tag);
    let mut x = tag.bytes().fold(0x9e37_79b9u32, |h, b| h.rotate_left(5) ^ u32::from(b));
    model.extend((model.len()..model_len).map(|_| {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (x >> 24) as u8
    }));
    komp_artifact::pack(&raw_component(&tag), manifest(name, version), &[("clf".into(), model)]).unwrap().into_bytes()
}

/// Signs `bytes` with each key in turn.
pub fn signed_by(bytes: Vec<u8>, keys: &[&KeyPair]) -> Vec<u8> {
    keys.iter().fold(bytes, |b, k| sign(&Artifact::parse(b).unwrap(), &k.signing, &k.key_id()).unwrap())
}

pub struct Keys {
    pub publisher: KeyPair,
    pub approver: KeyPair,
    /// A publisher key the policies do not trust.
    pub stranger: KeyPair,
}

pub fn keys() -> Keys {
    Keys {
        publisher: KeyPair::from_seed([1; 32], Role::Publisher, "Testkommune"),
        approver: KeyPair::from_seed([2; 32], Role::Approver, "Fælles godkendelse"),
        stranger: KeyPair::from_seed([3; 32], Role::Publisher, "Ukendt leverandør"),
    }
}

pub fn policy(k: &Keys, require_endorsement: bool) -> TrustPolicy {
    TrustPolicy { publishers: vec![k.publisher.public()], approvers: vec![k.approver.public()], require_endorsement }
}

/// A component signed by the publisher and endorsed by the approver.
pub fn endorsed(name: &str, version: &str) -> Vec<u8> {
    let k = keys();
    signed_by(unsigned(name, version), &[&k.publisher, &k.approver])
}

/// Position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).expect("needle present")
}

/// This test binary, re-executed to run only the test `test`: the child
/// process of the crash tests, which SIGKILL it. Stdout is piped.
pub fn this_test_as_child(test: &str) -> std::process::Command {
    let mut c = std::process::Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    c
}

/// A server on an ephemeral loopback port, shut down when dropped.
pub struct Server {
    pub url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn spawn(router: axum::Router) -> Server {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            let _ = axum::serve(l, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        rt.shutdown_timeout(std::time::Duration::from_secs(1));
    });
    Server { url, shutdown: Some(tx) }
}

/// Like [`spawn`], but served by `komp_registry::http::serve` (timeouts).
pub fn spawn_with_limits(router: axum::Router, limits: komp_registry::http::ServeLimits) -> Server {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            komp_registry::http::serve(l, router, limits, async {
                let _ = rx.await;
            })
            .await;
        });
        rt.shutdown_timeout(std::time::Duration::from_secs(1));
    });
    Server { url, shutdown: Some(tx) }
}

/// What [`raw_exchange`] saw.
pub struct Exchange {
    pub answer: String,
    /// Whether the server closed the connection within the wait.
    pub closed: bool,
    /// When the first byte of the answer arrived.
    pub first_byte: Option<std::time::Duration>,
}

/// Sends `raw` on a new connection to `url` and returns what the server
/// answered before it closed the connection or `wait` passed.
pub fn raw_exchange(url: &str, raw: &[u8], wait: std::time::Duration) -> Exchange {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(raw).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_millis(100))).unwrap();
    let start = std::time::Instant::now();
    let mut got = Vec::new();
    let mut first_byte = None;
    let mut buf = [0u8; 4096];
    let closed = loop {
        if start.elapsed() >= wait {
            break false;
        }
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => {
                first_byte.get_or_insert(start.elapsed());
                got.extend_from_slice(&buf[..n]);
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break true,
        }
    };
    Exchange { answer: String::from_utf8_lossy(&got).into_owned(), closed, first_byte }
}
