//! `sync_from_oci` against a real registry: the semantics of `sync_from`.

use crate::common::*;
use komp_oci::{push_component, push_revocations, sync_from_oci, OciSyncError, OciUpstream};
use komp_registry::http::RevocationSync;

fn upstream(reg: &OciRegistry, components: &[&str]) -> OciUpstream {
    OciUpstream::parse(&format!("oci://{}/kl", reg.addr), components.iter().map(|c| c.to_string()).collect(), plain())
        .unwrap()
}

#[test]
fn pulls_what_it_lacks_verifies_everything_and_applies_revocations() {
    let reg = OciRegistry::start();
    let client = reg.client();
    let k = keys();
    let policy = policy(&k, true);
    for (name, v) in [("alpha", "1.0.0"), ("alpha", "1.1.0"), ("beta", "2.0.0")] {
        push_component(&client, &endorsed(name, v), &reg.reference(&format!("kl/{name}")), None).unwrap();
    }
    // Not for us: an untrusted signer; and a tag that names no version is ignored.
    push_component(&client, &signed_by(unsigned("alpha", "1.2.0"), &[&k.stranger]), &reg.reference("kl/alpha"), None)
        .unwrap();
    push_component(&client, &endorsed("gamma", "1.0.0"), &reg.reference("kl/beta:stable"), None).unwrap();
    push_revocations(&client, &revocation_list(1, &[]), &reg.reference("kl")).unwrap();

    let (_dir, local) = local_registry();
    let report = sync_from_oci(&upstream(&reg, &["alpha", "beta"]), &local, &policy).unwrap();
    assert_eq!(report.revocations, RevocationSync::Applied { serial: 1 });
    assert_eq!(report.added, vec!["alpha@1.0.0", "alpha@1.1.0", "beta@2.0.0"]);
    assert_eq!(report.refused.len(), 1, "{report:?}");
    assert_eq!(report.refused[0].0, "alpha@1.2.0");
    assert!(report.refused[0].1.contains("ed25519:"), "the reason names the unknown key: {report:?}");
    assert!(local.entry("alpha", &"1.2.0".parse().unwrap()).is_err(), "nothing unverified is installed");

    // Again: nothing new, nothing downloaded.
    let again = sync_from_oci(&upstream(&reg, &["alpha", "beta"]), &local, &policy).unwrap();
    assert_eq!(again.revocations, RevocationSync::UpToDate);
    assert!(again.added.is_empty());
    assert_eq!(again.unchanged, 3);

    // A newer list yanks alpha@1.1.0 and a not yet pulled alpha@1.3.0.
    push_component(&client, &endorsed("alpha", "1.3.0"), &reg.reference("kl/alpha"), None).unwrap();
    push_revocations(&client, &revocation_list(2, &[("alpha", "1.1.0"), ("alpha", "1.3.0")]), &reg.reference("kl"))
        .unwrap();
    let third = sync_from_oci(&upstream(&reg, &["alpha", "beta"]), &local, &policy).unwrap();
    assert_eq!(third.revocations, RevocationSync::Applied { serial: 2 });
    assert_eq!(third.yanked, vec!["alpha@1.1.0", "alpha@1.3.0"]);
    assert!(local.entry("alpha", &"1.3.0".parse().unwrap()).is_err(), "a yanked release is not pulled");
    let list = local.revocations().unwrap();
    assert!(list.yanked("alpha", &"1.1.0".parse().unwrap()).is_some(), "the host withdraws it from this list");
}

#[test]
fn an_endorsement_added_later_updates_the_release() {
    let reg = OciRegistry::start();
    let client = reg.client();
    let k = keys();
    let lenient = policy(&k, false);
    let published = signed_by(unsigned("alpha", "1.0.0"), &[&k.publisher]);
    push_component(&client, &published, &reg.reference("kl/alpha"), None).unwrap();
    let (_dir, local) = local_registry();
    let first = sync_from_oci(&upstream(&reg, &["alpha"]), &local, &lenient).unwrap();
    assert_eq!(first.added, vec!["alpha@1.0.0"]);
    push_component(&client, &signed_by(published, &[&k.approver]), &reg.reference("kl/alpha"), None).unwrap();
    let second = sync_from_oci(&upstream(&reg, &["alpha"]), &local, &lenient).unwrap();
    assert_eq!(second.updated, vec!["alpha@1.0.0"], "{second:?}");
}

#[test]
fn a_withheld_or_forged_revocation_list_stops_the_sync() {
    let reg = OciRegistry::start();
    let client = reg.client();
    let k = keys();
    let policy = policy(&k, true);
    push_component(&client, &endorsed("alpha", "1.0.0"), &reg.reference("kl/alpha"), None).unwrap();
    let (_dir, local) = local_registry();
    local.set_revocations(&revocation_list(1, &[]), &policy).unwrap();

    // The namespace has no list at all.
    let err = sync_from_oci(&upstream(&reg, &["alpha"]), &local, &policy).unwrap_err();
    assert!(matches!(err, OciSyncError::RevocationsWithheld { local_serial: 1, .. }), "{err}");
    assert!(local.list().unwrap().is_empty(), "nothing was pulled");

    // A list signed by a key that is not an approver here.
    let mut forged = komp_registry::RevocationList::empty().next().unwrap().next().unwrap();
    forged.yank("beta", &"1.0.0".parse().unwrap(), "x");
    let stranger_approver = komp_registry::KeyPair::from_seed([9; 32], komp_registry::Role::Approver, "Falsk");
    let forged = komp_registry::SignedRevocationList::sign(&forged, &stranger_approver).unwrap();
    push_revocations(&client, &forged, &reg.reference("kl")).unwrap();
    let err = sync_from_oci(&upstream(&reg, &["alpha"]), &local, &policy).unwrap_err();
    assert!(matches!(err, OciSyncError::RevocationsRefused { .. }), "{err}");
    assert!(local.list().unwrap().is_empty(), "nothing was pulled");
    assert_eq!(local.revocations().unwrap().serial, 1);
}

#[test]
fn without_a_component_list_the_catalog_is_used() {
    let reg = OciRegistry::start();
    let client = reg.client();
    push_component(&client, &endorsed("alpha", "1.0.0"), &reg.reference("kl/alpha"), None).unwrap();
    push_component(&client, &endorsed("beta", "1.0.0"), &reg.reference("other/beta"), None).unwrap();
    push_revocations(&client, &revocation_list(1, &[]), &reg.reference("kl")).unwrap();
    let (_dir, local) = local_registry();
    let report = sync_from_oci(&upstream(&reg, &[]), &local, &policy(&keys(), true)).unwrap();
    assert_eq!(report.added, vec!["alpha@1.0.0"], "only the namespace, never the revocation list: {report:?}");
    assert!(report.refused.is_empty(), "{report:?}");
}
