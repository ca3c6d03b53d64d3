//! A registry that lies or fails: each a clear error, nothing installed, and
//! the host's registry keeps what it had.

use crate::common::*;
use komp_oci::{pull_component, push_component, sync_from_oci, OciClient, OciError, OciSyncError, OciUpstream};

/// A real registry with `kl/alpha@1.0.0` and `@1.0.1` and the revocation
/// list, and a tampering proxy in front of it.
fn setup(mode: Mode) -> (OciRegistry, Gate) {
    let reg = OciRegistry::start();
    let client = reg.client();
    for v in ["1.0.0", "1.0.1"] {
        push_component(&client, &endorsed("alpha", v), &reg.reference("kl/alpha"), None).unwrap();
    }
    komp_oci::push_revocations(&client, &revocation_list(1, &[]), &reg.reference("kl")).unwrap();
    let gate = Gate::tamper(&reg, mode);
    (reg, gate)
}

fn upstream(addr: &str) -> OciUpstream {
    OciUpstream::parse(&format!("oci://{addr}/kl"), vec!["alpha".into()], plain()).unwrap()
}

/// Syncs 1.0.0 honestly, then lets the gate misbehave while 1.0.1 is new.
fn sync_through(mode: Mode) -> (komp_registry::http::SyncReport, komp_registry::Registry, tempfile::TempDir, OciError) {
    let (reg, gate) = setup(Mode::Pass);
    let client = reg.client();
    let (dir, local) = local_registry();
    let policy = policy(&keys(), true);
    // The host already has 1.0.0 (e.g. from an earlier sync).
    local.publish(endorsed("alpha", "1.0.0"), &policy).unwrap();
    gate.set_mode(mode);
    let report = sync_from_oci(&upstream(&gate.addr()), &local, &policy).unwrap();
    let err = pull_component(&OciClient::new(&gate.addr(), &plain()).unwrap(), &gate.reference("kl/alpha:1.0.1"))
        .unwrap_err();
    drop(client);
    (report, local, dir, err)
}

fn assert_nothing_new(report: &komp_registry::http::SyncReport, local: &komp_registry::Registry) {
    assert!(report.added.is_empty(), "{report:?}");
    assert!(report.refused.iter().any(|(id, _)| id == "alpha@1.0.1"), "{report:?}");
    let versions: Vec<String> = local.versions("alpha").unwrap().iter().map(|v| v.entry.version.to_string()).collect();
    assert_eq!(versions, vec!["1.0.0"], "the host keeps exactly what it had");
}

#[test]
fn bytes_that_do_not_match_their_digest() {
    let (report, local, _dir, err) = sync_through(Mode::FlipLayerByte);
    assert!(matches!(err, OciError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains("nothing was installed"), "{err}");
    assert_nothing_new(&report, &local);
}

#[test]
fn a_manifest_of_the_wrong_media_type() {
    let (reg, gate) = setup(Mode::WrongManifestType);
    let err = pull_component(&OciClient::new(&gate.addr(), &plain()).unwrap(), &gate.reference("kl/alpha:1.0.0"))
        .unwrap_err();
    assert!(matches!(err, OciError::WrongMediaType { .. }), "{err}");
    assert!(err.to_string().contains("application/vnd.docker.distribution.manifest.v2+json"), "{err}");
    // The revocation list's manifest is refused the same way: with no list
    // of our own that is reported, and no component is installed either.
    let (_dir, local) = local_registry();
    let report = sync_from_oci(&upstream(&gate.addr()), &local, &policy(&keys(), true)).unwrap();
    assert!(report.added.is_empty(), "{report:?}");
    assert_eq!(report.refused.len(), 2, "{report:?}");
    assert!(local.list().unwrap().is_empty());
    drop(reg);
}

#[test]
fn a_truncated_layer() {
    let (report, local, _dir, err) = sync_through(Mode::TruncateLayer);
    assert!(
        matches!(err, OciError::Transfer { .. } | OciError::SizeMismatch { .. }),
        "a cut-off layer is a transfer error: {err}"
    );
    assert_nothing_new(&report, &local);
}

#[test]
fn a_layer_larger_than_the_limit_is_not_downloaded() {
    let reg = OciRegistry::start();
    let file = endorsed("alpha", "1.0.0");
    push_component(&reg.client(), &file, &reg.reference("kl/alpha"), None).unwrap();
    let small = komp_oci::ClientOptions { max_component_bytes: 100, ..plain() };
    let err =
        pull_component(&OciClient::new(&reg.addr, &small).unwrap(), &reg.reference("kl/alpha:1.0.0")).unwrap_err();
    assert!(matches!(err, OciError::TooLarge { .. }), "{err}");
}

#[test]
fn an_unreachable_registry() {
    let (reg, _gate) = setup(Mode::Pass);
    let (_dir, local) = local_registry();
    let policy = policy(&keys(), true);
    let first = sync_from_oci(&upstream(&reg.addr), &local, &policy).unwrap();
    assert_eq!(first.added.len(), 2, "{first:?}");
    let addr = reg.addr.clone();
    drop(reg); // the registry is gone
    let start = std::time::Instant::now();
    let err = sync_from_oci(&upstream(&addr), &local, &policy).unwrap_err();
    assert!(start.elapsed() < std::time::Duration::from_secs(10), "bounded: {:?}", start.elapsed());
    assert!(matches!(err, OciSyncError::Oci { source: OciError::Unreachable { .. }, .. }), "{err}");
    assert!(err.to_string().contains("cannot reach"), "{err}");
    assert_eq!(local.versions("alpha").unwrap().len(), 2, "the host keeps serving what it had");
    assert_eq!(local.revocations().unwrap().serial, 1);
}

#[test]
fn a_wrong_reference_is_a_clear_error() {
    let err = OciUpstream::parse("oci://h/kl:latest", vec![], plain()).unwrap_err();
    assert!(err.to_string().contains("namespace"), "{err}");
    let err = komp_oci::Reference::parse("docker://h/kl").unwrap_err();
    assert!(err.to_string().contains("oci://HOST"), "{err}");
}
