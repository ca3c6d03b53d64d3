//! Push and pull against a real registry on loopback.

use crate::common::*;
use komp_oci::artifact::ImageManifest;
use komp_oci::{annotations, pull_component, pull_to_file, pull_verified, push_component, OciError};

#[test]
fn push_then_pull_gives_the_same_verified_file() {
    let reg = OciRegistry::start();
    let client = reg.client();
    let k = keys();
    let file = endorsed("alpha", "1.2.0");
    let pushed = push_component(&client, &file, &reg.reference("kl/alpha"), None).unwrap();
    assert_eq!(pushed.reference.tag.as_deref(), Some("1.2.0"), "the tag defaults to the version");
    assert_eq!(pushed.layer_digest, komp_oci::sha256_digest(&file));

    let policy = policy(&k, true);
    let revocations = komp_registry::RevocationList::empty();
    let (pulled, v) = pull_verified(&client, &reg.reference("kl/alpha:1.2.0"), &policy, &revocations).unwrap();
    assert_eq!(pulled.bytes, file);
    assert_eq!(pulled.manifest_digest, pushed.manifest_digest);
    assert_eq!((v.name.as_str(), v.version.to_string()), ("alpha", "1.2.0".to_string()));
    assert_eq!(pulled.annotations[annotations::COMPONENT_DIGEST], format!("sha256:{}", v.digest));
    assert_eq!(pulled.annotations[annotations::RISK_CLASS], "minimal");

    // Pinned by digest, too.
    let pinned = reg.reference(&format!("kl/alpha@{}", pushed.manifest_digest));
    assert_eq!(pull_component(&client, &pinned).unwrap().bytes, file);

    // Written only after verification, atomically.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alpha.wasm");
    pull_to_file(&client, &reg.reference("kl/alpha:1.2.0"), &policy, &revocations, &out).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), file);

    let tags = client.tags(&reg.reference("kl/alpha")).unwrap();
    assert_eq!(tags, vec!["1.2.0".to_string()]);
    assert!(client.tags(&reg.reference("kl/nothing")).unwrap().is_empty());
}

#[test]
fn an_untrusted_file_is_pulled_but_never_written() {
    let reg = OciRegistry::start();
    let client = reg.client();
    let k = keys();
    let stranger = signed_by(unsigned("beta", "1.0.0"), &[&k.stranger]);
    push_component(&client, &stranger, &reg.reference("kl/beta"), None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("beta.wasm");
    let err = pull_to_file(
        &client,
        &reg.reference("kl/beta:1.0.0"),
        &policy(&k, true),
        &komp_registry::RevocationList::empty(),
        &out,
    )
    .unwrap_err();
    assert!(matches!(err, OciError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("Nothing was written"), "{err}");
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no temporary file left behind");
}

#[test]
fn push_checks_the_file_and_the_tag() {
    let reg = OciRegistry::start();
    let client = reg.client();
    let k = keys();
    // Not a component at all.
    let err = push_component(&client, b"\0asm not really", &reg.reference("kl/x"), None).unwrap_err();
    assert!(matches!(err, OciError::NotAComponent(_)), "{err}");
    // A tag that names another version.
    let err = push_component(&client, &endorsed("alpha", "1.0.0"), &reg.reference("kl/alpha:1.0.1"), None).unwrap_err();
    assert!(matches!(err, OciError::TagMismatch { .. }), "{err}");
    // With a policy, the publisher cannot push what hosts will refuse.
    let policy = policy(&k, true);
    let no_endorsement = signed_by(unsigned("alpha", "2.0.0"), &[&k.publisher]);
    let err = push_component(
        &client,
        &no_endorsement,
        &reg.reference("kl/alpha"),
        Some((&policy, &komp_registry::RevocationList::empty())),
    )
    .unwrap_err();
    assert!(matches!(err, OciError::Refused { .. }), "{err}");
    assert!(client.tags(&reg.reference("kl/alpha")).unwrap().is_empty(), "nothing was pushed");
    // A non-version tag is allowed (e.g. `stable`), and build metadata becomes `_`.
    push_component(&client, &endorsed("alpha", "1.0.0"), &reg.reference("kl/alpha:stable"), None).unwrap();
    let p = push_component(&client, &endorsed("alpha", "1.0.0+b7"), &reg.reference("kl/alpha"), None).unwrap();
    assert_eq!(p.reference.tag.as_deref(), Some("1.0.0_b7"));
}

#[test]
fn the_manifest_follows_the_wasm_oci_layout() {
    let reg = OciRegistry::start();
    let client = reg.client();
    let file = endorsed("alpha", "1.0.0");
    push_component(&client, &file, &reg.reference("kl/alpha"), None).unwrap();
    let raw = ureq::get(&format!("http://{}/v2/kl/alpha/manifests/1.0.0", reg.addr))
        .header("accept", komp_oci::OCI_MANIFEST_MEDIA_TYPE)
        .call()
        .unwrap()
        .into_body()
        .read_to_vec()
        .unwrap();
    let m: ImageManifest = serde_json::from_slice(&raw).unwrap();
    assert_eq!(m.config.media_type, "application/vnd.wasm.config.v0+json");
    assert_eq!(m.layers.len(), 1);
    assert_eq!(m.layers[0].media_type, "application/wasm");
    assert_eq!(m.annotations[annotations::NAME], "alpha");
    assert_eq!(m.annotations[annotations::VERSION], "1.0.0");
}
