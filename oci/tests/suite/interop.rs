//! What komp pushed, read by an independent client (skopeo), copied by it to
//! a second repository and to an air-gapped registry through an OCI layout
//! directory, and pulled from there by komp: the same verified file.

use crate::common::*;
use komp_oci::{annotations, pull_verified, push_component, sync_from_oci, OciUpstream};
use std::process::Command;

/// The real, signed example component when scripts/build-components.sh has
/// run (scripts/test.sh does), with the development policy; else a test one.
fn component() -> (Vec<u8>, komp_registry::TrustPolicy, String, String) {
    let built = root().join("target/komp-components/example-feedback.wasm");
    if let Ok(bytes) = std::fs::read(&built) {
        let policy = komp_registry::TrustPolicy::load(&root().join("keys/dev/policy.json")).unwrap();
        let a = komp_artifact::Artifact::parse(bytes.clone()).unwrap();
        let (name, version) = (a.manifest().name.clone(), a.manifest().version.to_string());
        return (bytes, policy, name, version);
    }
    (endorsed("alpha", "1.0.0"), policy(&keys(), true), "alpha".into(), "1.0.0".into())
}

fn skopeo(args: &[&str]) -> String {
    require("skopeo");
    run(Command::new("skopeo").args(args))
}

#[test]
fn skopeo_reads_copies_and_komp_pulls_back() {
    let reg = OciRegistry::start();
    let client = reg.client();
    let (file, policy, name, version) = component();
    let pushed = push_component(&client, &file, &reg.reference(&format!("central/{name}")), None).unwrap();
    let src = format!("docker://{}/central/{name}:{version}", reg.addr);

    // The manifest and config, as an independent client reads them.
    let manifest: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", "--raw", "--tls-verify=false", &src])).unwrap();
    assert_eq!(manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.wasm.config.v0+json");
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);
    assert_eq!(manifest["layers"][0]["mediaType"], "application/wasm");
    assert_eq!(manifest["layers"][0]["digest"], komp_oci::sha256_digest(&file));
    assert_eq!(manifest["layers"][0]["size"], file.len());
    let ann = &manifest["annotations"];
    assert_eq!(ann[annotations::NAME], name.as_str());
    assert_eq!(ann[annotations::VERSION], version.as_str());
    let a = komp_artifact::Artifact::parse(file.clone()).unwrap();
    assert_eq!(ann[annotations::COMPONENT_DIGEST], format!("sha256:{}", a.digest()));
    assert!(ann[annotations::RISK_CLASS].as_str().is_some_and(|r| !r.is_empty()));
    let config: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", "--config", "--raw", "--tls-verify=false", &src])).unwrap();
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "wasip2");
    assert_eq!(config["layerDigests"][0], komp_oci::sha256_digest(&file));
    assert!(config["component"]["target"].as_str().is_some());
    if name != "alpha" {
        // The real component exports its world's interface.
        assert!(!config["component"]["exports"].as_array().unwrap().is_empty(), "{config}");
    }

    // A plain skopeo copy to a second repository; komp pulls from there.
    let mirror = format!("docker://{}/mirror/{name}:{version}", reg.addr);
    skopeo(&["copy", "--src-tls-verify=false", "--dest-tls-verify=false", &src, &mirror]);
    let revocations = komp_registry::RevocationList::empty();
    let (pulled, v) =
        pull_verified(&client, &reg.reference(&format!("mirror/{name}:{version}")), &policy, &revocations).unwrap();
    assert_eq!(pulled.bytes, file, "byte for byte the signed file");
    assert_eq!(pulled.manifest_digest, pushed.manifest_digest, "skopeo kept the manifest as komp wrote it");
    assert_eq!(v.digest, a.digest());
}

#[test]
fn air_gapped_mirror_through_an_oci_layout_directory() {
    let central = OciRegistry::start();
    let (file, policy, name, version) = component();
    let client = central.client();
    push_component(&client, &file, &central.reference(&format!("central/{name}")), None).unwrap();
    let list = revocation_list(1, &[]);
    // The test list is signed by the test approver; with the dev policy
    // (real component) it is refused and reported, not applied.
    komp_oci::push_revocations(&client, &list, &central.reference("central")).unwrap();

    // Outside: copy into a directory (a USB stick, a data diode).
    let stick = tempfile::tempdir().unwrap();
    let layout = stick.path().join("komp");
    for (repo, tag) in [(name.as_str(), version.as_str()), ("komp_revocations", "latest")] {
        skopeo(&[
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{}/central/{repo}:{tag}", central.addr),
            &format!("oci:{}:{repo}-{tag}", layout.display()),
        ]);
    }
    drop(central);

    // Inside: from the directory into the municipality's own registry.
    let inside = OciRegistry::start();
    for (repo, tag) in [(name.as_str(), version.as_str()), ("komp_revocations", "latest")] {
        skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{}:{repo}-{tag}", layout.display()),
            &format!("docker://{}/kommune/{repo}:{tag}", inside.addr),
        ]);
    }
    let (_dir, local) = local_registry();
    let upstream = OciUpstream::parse(&format!("oci://{}/kommune", inside.addr), vec![name.clone()], plain()).unwrap();
    let report = sync_from_oci(&upstream, &local, &policy).unwrap();
    assert_eq!(report.added, vec![format!("{name}@{version}")], "{report:?}");
    assert_eq!(local.get(&name, &version.parse().unwrap()).unwrap(), file);
}
