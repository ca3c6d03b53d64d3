//! The bodies of the fuzz targets, shared by `cargo fuzz` (fuzz_targets/)
//! and the stable test suite (`tests/tests/suite/fuzz_smoke.rs` includes this
//! file). Each body must never panic, whatever the bytes; it also checks a
//! few properties that must hold for every input that is accepted.
//!
//! Only `komp-artifact`, `komp-registry`, `komp-runtime`, `komp-server` and `serde_json` may
//! be used here (the test suite includes this file as a module).

use komp_server::oip;

/// The development trust policy (`keys/dev/policy.json`).
pub fn dev_policy() -> komp_registry::TrustPolicy {
    serde_json::from_str(komp_server::run::DEV_POLICY).expect("the development policy parses")
}

/// Artifact framing, manifest, model digests, signature section and trust
/// verification: whatever the bytes, an answer and no panic; an accepted
/// file's models match their manifest digests.
pub fn artifact(data: &[u8], policy: &komp_registry::TrustPolicy) {
    if let Ok(a) = komp_artifact::Artifact::parse(data.to_vec()) {
        for m in &a.manifest().models {
            let bytes = a.model(&m.name).expect("a listed model has its section");
            assert_eq!(komp_artifact::sha256_hex(bytes), m.sha256.to_ascii_lowercase());
        }
        assert!(a.manifest().validate().is_ok());
        let _ = komp_registry::signature::read_signatures(&a);
        let _ = komp_registry::verify(&a, policy, &komp_registry::RevocationList::empty());
    }
    let _ = komp_artifact::sections::top_level_sections(data);
    let _ = komp_registry::signature::SignatureData::parse(data);
    let _ = komp_registry::verify_bytes(data.to_vec(), policy, &komp_registry::RevocationList::empty());
}

/// The OIP request body: the first byte picks whether (and how) an
/// `Inference-Header-Content-Length` is sent, the rest is the body. Runs
/// the whole request decoding of `/v2/models/{name}/infer`.
pub fn oip_body(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else { return };
    let header = match mode % 4 {
        0 => None,
        1 => Some(((mode as usize * 7) % (body.len() + 1)).to_string()),
        2 => body.iter().position(|b| *b == b'}').map(|p| (p + 1).to_string()),
        _ => Some(String::from_utf8_lossy(&body[..body.len().min(4)]).into_owned()),
    };
    let Ok((json, binary)) = oip::split_body(body, header.as_deref()) else { return };
    assert_eq!(json.len() + binary.len(), body.len());
    let Ok(req) = serde_json::from_slice::<oip::InferRequest>(json) else { return };
    let _ = oip::requested_outputs(&req);
    if let Ok(columns) = oip::decode_inputs(&req, binary) {
        assert!(!columns.is_empty());
        for text_field in [None, Some("text")] {
            if let Ok(rows) = oip::rows(&columns, text_field) {
                assert_eq!(rows.len(), columns[0].values.len());
                for r in rows {
                    assert!(serde_json::from_str::<serde_json::Value>(&r).is_ok(), "a row is JSON");
                }
            }
        }
    }
}

/// JSON input validation of a component (size cap, JSON syntax, JSON
/// Schema with every violation): an answer and no panic; an accepted input
/// is a JSON value.
pub fn json_input(rt: &komp_runtime::Runtime, component: &komp_runtime::InstalledComponent, data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match rt.validate_input(component, text) {
        Ok(v) => assert_eq!(serde_json::from_str::<serde_json::Value>(text).ok(), Some(v)),
        Err(e) => {
            assert!(e.is_caller_error(), "{e}");
            if let komp_runtime::RuntimeError::InputSchema(v) = &e {
                assert!(!v.is_empty());
            }
        }
    }
}

/// A runtime with the signed standard components installed from
/// `target/komp-components` (built by `scripts/build-components.sh`).
pub fn runtime_with_components(root: &std::path::Path) -> komp_runtime::Runtime {
    let rt = komp_runtime::Runtime::new(komp_runtime::RuntimeConfig {
        max_instances: 2,
        ..komp_runtime::RuntimeConfig::default()
    })
    .expect("runtime");
    for name in ["example-feedback", "postsortering", "underretning"] {
        let path = root.join("target/komp-components").join(format!("{name}.wasm"));
        let bytes =
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run scripts/build-components.sh", path.display()));
        rt.install(bytes).expect("install");
    }
    rt
}
