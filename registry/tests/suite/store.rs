//! The sled store: publish rules, semver ordering, latest, checked reads.

use crate::common;

use common::*;
use komp_artifact::Artifact;
use komp_registry::revocation::{RevocationList, SignedRevocationList};
use komp_registry::signature::read_signatures;
use komp_registry::store::PublishOutcome;
use komp_registry::trust::TrustError;
use komp_registry::{Registry, StoreError};

fn v(s: &str) -> semver::Version {
    s.parse().unwrap()
}

fn open() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(&dir.path().join("db")).unwrap();
    (dir, reg)
}

#[test]
fn publish_get_show_round_trip() {
    let k = keys();
    let (_d, reg) = open();
    let bytes = endorsed("sentiment", "1.0.0");
    let p = reg.publish(bytes.clone(), &policy(&k, true)).unwrap();
    assert_eq!(p.outcome, PublishOutcome::Added);
    assert_eq!(p.entry.digest, Artifact::parse(bytes.clone()).unwrap().digest());
    assert_eq!(reg.get("sentiment", &v("1.0.0")).unwrap(), bytes);
    let (info, manifest) = reg.show("sentiment", None).unwrap();
    assert_eq!(info.entry.version, v("1.0.0"));
    assert_eq!(manifest.name, "sentiment");
    assert_eq!(info.entry.signatures.len(), 2);
    assert!(info.yanked.is_none());
    let keys_known: Vec<String> = reg.keys().unwrap().into_iter().map(|k| k.key_id).collect();
    assert!(keys_known.contains(&k.publisher.key_id()) && keys_known.contains(&k.approver.key_id()));
    assert!(matches!(reg.get("sentiment", &v("9.9.9")), Err(StoreError::NotFound(_))));
}

#[test]
fn publish_refuses_what_verify_refuses() {
    let k = keys();
    let (_d, reg) = open();
    let err = reg.publish(unsigned("u", "1.0.0"), &policy(&k, false)).unwrap_err();
    assert!(matches!(err, StoreError::Refused(TrustError::Unsigned)), "{err}");
    let mut bytes = endorsed("t", "1.0.0");
    let at = find(&bytes, CODE_MARKER);
    bytes[at] ^= 1;
    let err = reg.publish(bytes, &policy(&k, true)).unwrap_err();
    assert!(err.to_string().contains("the component's bytes do not match what was signed"), "{err}");
    assert!(reg.list().unwrap().is_empty());
}

#[test]
fn versions_are_immutable_and_republish_is_idempotent() {
    let k = keys();
    let (_d, reg) = open();
    let p = policy(&k, false);
    let first = signed_by(unsigned("imm", "1.0.0"), &[&k.publisher]);
    reg.publish(first.clone(), &p).unwrap();
    assert_eq!(reg.publish(first.clone(), &p).unwrap().outcome, PublishOutcome::Unchanged);

    // Same name@version, different bytes (another model): refused.
    let other =
        komp_artifact::pack(&raw_component("other"), manifest("imm", "1.0.0"), &[("clf".into(), model_bytes("other"))])
            .unwrap()
            .into_bytes();
    let other = signed_by(other, &[&k.publisher]);
    let err = reg.publish(other, &p).unwrap_err();
    assert!(matches!(err, StoreError::VersionExists { .. }), "{err}");
    assert!(err.to_string().contains("immutable"));
    assert_eq!(reg.get("imm", &v("1.0.0")).unwrap(), first);

    // Adding an endorsement updates the stored file; the digest is unchanged.
    let endorsed_bytes = signed_by(first.clone(), &[&k.approver]);
    let up = reg.publish(endorsed_bytes.clone(), &p).unwrap();
    assert_eq!(up.outcome, PublishOutcome::Updated);
    assert_eq!(reg.get("imm", &v("1.0.0")).unwrap(), endorsed_bytes);
    assert_eq!(read_signatures(&Artifact::parse(reg.get("imm", &v("1.0.0")).unwrap()).unwrap()).unwrap().len(), 2);
    // The old blob is gone.
    assert_eq!(reg.blob(&komp_artifact::sha256_hex(&first)).unwrap(), None);

    // Going back to fewer signatures is refused.
    let err = reg.publish(first, &p).unwrap_err();
    assert!(matches!(err, StoreError::WouldDropSignatures { .. }), "{err}");
}

#[test]
fn semver_ordering_and_latest() {
    let k = keys();
    let (_d, reg) = open();
    let p = policy(&k, true);
    for ver in ["1.10.0", "1.2.0", "1.9.1", "2.0.0-rc.1", "0.9.0", "1.10.0-beta.2"] {
        reg.publish(endorsed("sem", ver), &p).unwrap();
    }
    reg.publish(endorsed("other", "0.1.0"), &p).unwrap();
    let versions: Vec<String> = reg.versions("sem").unwrap().into_iter().map(|i| i.entry.version.to_string()).collect();
    assert_eq!(versions, ["0.9.0", "1.2.0", "1.9.1", "1.10.0-beta.2", "1.10.0", "2.0.0-rc.1"]);
    // Pre-releases are not "latest" while a stable release exists.
    assert_eq!(reg.latest("sem").unwrap(), Some(v("1.10.0")));
    let list = reg.list().unwrap();
    assert_eq!(list.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["other", "sem"]);
    assert_eq!(list[1].latest, Some(v("1.10.0")));
    assert_eq!(reg.latest("nothing").unwrap(), None);

    // Yanking 1.10.0 makes 1.9.1 latest; the yanked version stays readable and says so.
    let mut revs = RevocationList::empty().next().unwrap();
    revs.yank("sem", &v("1.10.0"), "bad calibration");
    reg.set_revocations(&SignedRevocationList::sign(&revs, &k.approver).unwrap(), &p).unwrap();
    assert_eq!(reg.latest("sem").unwrap(), Some(v("1.9.1")));
    let (info, _) = reg.show("sem", Some(&v("1.10.0"))).unwrap();
    assert_eq!(info.yanked.unwrap().reason, "bad calibration");
    // Publishing a yanked version is refused.
    let (_d2, reg2) = open();
    reg2.set_revocations(&SignedRevocationList::sign(&revs, &k.approver).unwrap(), &p).unwrap();
    let err = reg2.publish(endorsed("sem", "1.10.0"), &p).unwrap_err();
    assert!(matches!(err, StoreError::Refused(TrustError::Yanked { .. })), "{err}");
}

#[test]
fn only_pre_releases_means_latest_is_a_pre_release() {
    let k = keys();
    let (_d, reg) = open();
    reg.publish(endorsed("pre", "1.0.0-alpha.1"), &policy(&k, true)).unwrap();
    reg.publish(endorsed("pre", "1.0.0-alpha.2"), &policy(&k, true)).unwrap();
    assert_eq!(reg.latest("pre").unwrap(), Some(v("1.0.0-alpha.2")));
}

#[test]
fn revocations_only_move_forward() {
    let k = keys();
    let (_d, reg) = open();
    let p = policy(&k, true);
    assert_eq!(reg.revocations().unwrap().serial, 0);
    let one = RevocationList::empty().next().unwrap();
    let two = one.next().unwrap();
    reg.set_revocations(&SignedRevocationList::sign(&two, &k.approver).unwrap(), &p).unwrap();
    let err = reg.set_revocations(&SignedRevocationList::sign(&one, &k.approver).unwrap(), &p).unwrap_err();
    assert!(err.to_string().contains("not newer"), "{err}");
    assert_eq!(reg.revocations().unwrap().serial, 2);

    // A revoked publisher key: its components are no longer "latest" nor publishable.
    reg.publish(endorsed("rk", "1.0.0"), &p).unwrap();
    let mut three = two.next().unwrap();
    three.revoke_key(&k.publisher.key_id(), "compromised");
    reg.set_revocations(&SignedRevocationList::sign(&three, &k.approver).unwrap(), &p).unwrap();
    assert_eq!(reg.latest("rk").unwrap(), None);
    assert!(matches!(
        reg.publish(endorsed("rk", "1.0.1"), &p),
        Err(StoreError::Refused(TrustError::KeyRevoked { .. }))
    ));
}

#[test]
fn corrupt_blob_is_detected_on_read() {
    let k = keys();
    let (dir, reg) = open();
    let bytes = endorsed("cor", "1.0.0");
    let entry = reg.publish(bytes.clone(), &policy(&k, true)).unwrap().entry;
    // Corrupt the stored value behind the registry's back (a raw sled write).
    let mut bad = bytes.clone();
    let at = find(&bad, CODE_MARKER);
    bad[at] ^= 0xff;
    reg.db().open_tree("blobs").unwrap().insert(entry.blob_sha256.as_bytes(), bad).unwrap();
    reg.db().flush().unwrap();
    drop(reg);

    let reg = Registry::open(&dir.path().join("db")).unwrap();
    let err = reg.get("cor", &v("1.0.0")).unwrap_err();
    assert!(matches!(&err, StoreError::CorruptBlob { blob, .. } if *blob == entry.blob_sha256), "{err}");
    assert!(err.to_string().contains("corrupt"));
    // Truncation is caught as well.
    reg.db().open_tree("blobs").unwrap().insert(entry.blob_sha256.as_bytes(), &bytes[..bytes.len() - 1]).unwrap();
    assert!(matches!(reg.get("cor", &v("1.0.0")), Err(StoreError::CorruptBlob { .. })));
    // And a missing blob is named as such.
    reg.db().open_tree("blobs").unwrap().remove(entry.blob_sha256.as_bytes()).unwrap();
    assert!(matches!(reg.get("cor", &v("1.0.0")), Err(StoreError::MissingBlob { .. })));
}

#[test]
fn data_survives_reopen() {
    let k = keys();
    let dir = tempfile::tempdir().unwrap();
    let bytes = endorsed("persist", "3.1.4");
    {
        let reg = Registry::open(&dir.path().join("db")).unwrap();
        reg.publish(bytes.clone(), &policy(&k, true)).unwrap();
    }
    let reg = Registry::open(&dir.path().join("db")).unwrap();
    assert_eq!(reg.get("persist", &v("3.1.4")).unwrap(), bytes);
}

#[test]
fn concurrent_revocation_updates_never_leave_an_older_list_on_top() {
    // Two setters race from the same stored list: one offers serial n+1, the
    // other n+2. Whatever the interleaving, the stored list must end at n+2:
    // the n+1 setter may win only before the n+2 one, never overwrite it.
    let k = keys();
    let p = policy(&k, true);
    let (_d, reg) = open();
    let mut base = RevocationList::empty().next().unwrap();
    reg.set_revocations(&SignedRevocationList::sign(&base, &k.approver).unwrap(), &p).unwrap();
    for round in 0..150 {
        let low = base.next().unwrap();
        let high = low.next().unwrap();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = [low.clone(), high.clone()]
            .into_iter()
            .map(|list| {
                let (reg, p, barrier) = (reg.clone(), p.clone(), barrier.clone());
                let signed = SignedRevocationList::sign(&list, &keys().approver).unwrap();
                std::thread::spawn(move || {
                    barrier.wait();
                    reg.set_revocations(&signed, &p).map(|l| l.serial)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(results[1].as_ref().ok(), Some(&high.serial), "round {round}: the newest list must be accepted");
        assert_eq!(
            reg.revocations().unwrap().serial,
            high.serial,
            "round {round}: stored serial went backwards ({results:?})"
        );
        base = high;
    }
}

#[test]
fn the_default_version_is_the_highest_stable_one() {
    use komp_registry::store::default_version;
    let vs: Vec<semver::Version> = ["1.0.0", "2.0.0-rc.1", "1.1.0", "1.2.0-beta.1"].iter().map(|s| v(s)).collect();
    assert_eq!(default_version(&vs), Some(v("1.1.0")));
    let pre: Vec<semver::Version> = ["1.0.0-alpha.1", "1.0.0-alpha.2"].iter().map(|s| v(s)).collect();
    assert_eq!(default_version(&pre), Some(v("1.0.0-alpha.2")));
    assert_eq!(default_version(&Vec::<semver::Version>::new()), None);

    // The registry's `latest` is the same rule.
    let k = keys();
    let (_d, reg) = open();
    for s in ["1.0.0", "2.0.0-rc.1", "1.1.0"] {
        reg.publish(endorsed("d", s), &policy(&k, true)).unwrap();
    }
    assert_eq!(reg.latest("d").unwrap(), Some(v("1.1.0")));
}

/// A registry held open elsewhere is a clear error after a short wait; one
/// just dropped (sled frees its lock a moment later) opens again at once.
#[test]
fn a_registry_in_use_is_a_clear_error_and_a_dropped_one_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry");
    let held = komp_registry::Registry::open(&path).unwrap();
    let err = komp_registry::Registry::open(&path).err().expect("the lock is held");
    assert!(err.to_string().contains("in use by another process"), "{err}");
    drop(held);
    for _ in 0..20 {
        drop(komp_registry::Registry::open(&path).expect("reopens after a drop"));
    }
}
