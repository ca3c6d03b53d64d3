//! Key files and the signed revocation list.

mod common;

use common::*;
use komp_registry::keys::{key_id, KeyError};
use komp_registry::revocation::{RevocationError, RevocationList, SignedRevocationList};
use komp_registry::{KeyPair, PublicKey, Role};
use std::os::unix::fs::PermissionsExt;

#[test]
fn key_files_round_trip_with_private_key_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let pair = KeyPair::generate(Role::Approver, "Fælles godkendelse");
    let (private, public) = pair.save(dir.path()).unwrap();
    assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o600);
    let loaded = KeyPair::load(&private).unwrap();
    assert_eq!(loaded.key_id(), pair.key_id());
    assert_eq!(loaded.role, Role::Approver);
    assert_eq!(loaded.owner, "Fælles godkendelse");
    let pubkey = PublicKey::load(&public).unwrap();
    assert_eq!(pubkey, pair.public());
    assert!(pubkey.key_id.starts_with("ed25519:") && pubkey.key_id.len() == 24);
    assert_eq!(pubkey.key_id, key_id(&pair.signing.verifying_key()));
    // Never overwrite a key.
    assert!(matches!(pair.save(dir.path()), Err(KeyError::Exists { .. })));
}

#[test]
fn key_loading_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let pair = KeyPair::generate(Role::Publisher, "Testkommune");
    let (private, public) = pair.save(dir.path()).unwrap();

    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = KeyPair::load(&private).unwrap_err();
    assert!(matches!(err, KeyError::Permissions { mode: 0o644, .. }), "{err}");
    assert!(err.to_string().contains("chmod 600"));

    let err = KeyPair::load(&dir.path().join("missing.json")).unwrap_err();
    assert!(matches!(err, KeyError::Read { .. }), "{err}");

    // A public key file is not a private key file.
    let copy = dir.path().join("copy.json");
    std::fs::copy(&public, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = KeyPair::load(&copy).unwrap_err();
    assert!(matches!(err, KeyError::Format { expected: "private key", .. }), "{err}");

    let text = std::fs::read_to_string(&public).unwrap().replace(&pair.key_id(), "ed25519:ffffffffffffffff");
    std::fs::write(&copy, text).unwrap();
    let err = PublicKey::load(&copy).unwrap_err();
    assert!(err.to_string().contains("does not match the key"), "{err}");
}

#[test]
fn revocation_lists_are_signed_by_trusted_approvers_only() {
    let k = keys();
    let p = policy(&k, true);
    let mut list = RevocationList::empty().next();
    list.revoke_key(&k.stranger.key_id(), "lost laptop");
    list.yank("c", &"1.0.0".parse().unwrap(), "bug");

    assert!(matches!(SignedRevocationList::sign(&list, &k.publisher), Err(RevocationError::NotApproverKey { .. })));

    let signed = SignedRevocationList::sign(&list, &k.approver).unwrap();
    assert_eq!(signed.verify(&p).unwrap(), list);
    let round = SignedRevocationList::from_json(&signed.to_json()).unwrap();
    assert_eq!(round.verify(&p).unwrap(), list);

    // Signed by an approver this host does not trust.
    let rogue = KeyPair::from_seed([9; 32], Role::Approver, "rogue");
    let err = SignedRevocationList::sign(&list, &rogue).unwrap().verify(&p).unwrap_err();
    assert!(matches!(err, RevocationError::UntrustedSigner { .. }), "{err}");

    // A changed body (un-revoking the key) breaks the signature.
    let mut tampered = signed.clone();
    tampered.body = tampered.body.replace("lost laptop", "never mind");
    assert!(matches!(tampered.verify(&p), Err(RevocationError::BadSignature { .. })));
}

#[test]
fn only_newer_serials_are_accepted() {
    let k = keys();
    let p = policy(&k, true);
    let first = RevocationList::empty().next();
    let mut second = first.next();
    second.revoke_key("ed25519:0123456789abcdef", "test");
    let s1 = SignedRevocationList::sign(&first, &k.approver).unwrap();
    let s2 = SignedRevocationList::sign(&second, &k.approver).unwrap();
    assert_eq!(s1.accept_newer(&RevocationList::empty(), &p).unwrap().serial, 1);
    assert_eq!(s2.accept_newer(&first, &p).unwrap().serial, 2);
    let err = s1.accept_newer(&second, &p).unwrap_err();
    assert!(matches!(err, RevocationError::NotNewer { current: 2, offered: 1 }), "{err}");
    assert!(s2.accept_newer(&second, &p).is_err(), "a replay of the same serial is not newer");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("revocations.json");
    s2.save(&path).unwrap();
    assert_eq!(SignedRevocationList::load(&path).unwrap(), s2);
}
