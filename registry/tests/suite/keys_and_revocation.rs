//! Key files and the signed revocation list.

use crate::common;

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
    let mut list = RevocationList::empty().next().unwrap();
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
    let first = RevocationList::empty().next().unwrap();
    let mut second = first.next().unwrap();
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

/// Two approvers; the policy trusts both.
fn two_approvers() -> (KeyPair, KeyPair, komp_registry::TrustPolicy) {
    let k = keys();
    let a2 = KeyPair::from_seed([12; 32], Role::Approver, "Anden godkender");
    let mut p = policy(&k, true);
    p.approvers.push(a2.public());
    (k.approver, a2, p)
}

#[test]
fn a_list_signed_by_an_approver_the_current_list_revoked_is_refused() {
    let (a1, a2, p) = two_approvers();
    // List 1, by A1, revokes A2.
    let mut one = RevocationList::empty().next().unwrap();
    one.revoke_key(&a2.key_id(), "key left on a shared drive");
    let s1 = SignedRevocationList::sign(&one, &a1).unwrap();
    let current = s1.accept_newer(&RevocationList::empty(), &p).unwrap();

    // List 2, by the revoked A2, un-revokes itself: refused, naming key and reason.
    let mut two = current.next().unwrap();
    two.revoked_keys.clear();
    let s2 = SignedRevocationList::sign(&two, &a2).unwrap();
    let err = s2.accept_newer(&current, &p).unwrap_err();
    match &err {
        RevocationError::SignerRevoked { key_id, reason, .. } => {
            assert_eq!(key_id, &a2.key_id());
            assert_eq!(reason, "key left on a shared drive");
        }
        other => panic!("expected SignerRevoked, got {other:?}"),
    }
    assert!(err.to_string().contains(&a2.key_id()) && err.to_string().contains("shared drive"), "{err}");

    // The same through the store: the stored list stays list 1.
    let dir = tempfile::tempdir().unwrap();
    let reg = komp_registry::Registry::open(&dir.path().join("db")).unwrap();
    reg.set_revocations(&s1, &p).unwrap();
    let err = reg.set_revocations(&s2, &p).unwrap_err();
    assert!(matches!(err, komp_registry::StoreError::Revocation(RevocationError::SignerRevoked { .. })), "{err}");
    assert_eq!(reg.revocations().unwrap(), current);

    // A1, not revoked, can still issue list 2.
    let s2_by_a1 = SignedRevocationList::sign(&current.next().unwrap(), &a1).unwrap();
    assert_eq!(reg.set_revocations(&s2_by_a1, &p).unwrap().serial, 2);
}

#[test]
fn serials_may_only_advance_by_at_most_the_step() {
    use komp_registry::revocation::MAX_SERIAL_STEP;
    let k = keys();
    let p = policy(&k, true);
    let current = RevocationList::empty().next().unwrap(); // serial 1
    let with_serial = |serial: u64| {
        let mut l = current.next().unwrap();
        l.serial = serial;
        SignedRevocationList::sign(&l, &k.approver).unwrap()
    };
    for serial in [u64::MAX, 1 + MAX_SERIAL_STEP + 1] {
        let err = with_serial(serial).accept_newer(&current, &p).unwrap_err();
        assert!(
            matches!(err, RevocationError::SerialTooFar { current: 1, offered, max } if offered == serial && max == 1 + MAX_SERIAL_STEP),
            "{serial}: {err}"
        );
        assert!(err.to_string().contains("must continue from the current one"), "{err}");
    }
    assert_eq!(with_serial(1 + MAX_SERIAL_STEP).accept_newer(&current, &p).unwrap().serial, 1 + MAX_SERIAL_STEP);

    // Near the end of the range the bound saturates instead of overflowing.
    let mut late = current.clone();
    late.serial = u64::MAX - 1;
    assert_eq!(with_serial(u64::MAX).accept_newer(&late, &p).unwrap().serial, u64::MAX);
}

#[test]
fn next_at_the_last_serial_is_an_error_not_an_overflow() {
    let mut last = RevocationList::empty();
    last.serial = u64::MAX;
    let err = last.next().unwrap_err();
    assert!(matches!(err, RevocationError::SerialExhausted { serial: u64::MAX }), "{err}");
    assert!(err.to_string().contains("no newer list can be issued"), "{err}");
}

fn at(secs: u64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)
}

#[test]
fn new_lists_expire_and_report_their_expiry_status() {
    use komp_registry::revocation::{ExpiryStatus, DEFAULT_VALIDITY};
    let k = keys();
    let p = policy(&k, true);
    let t0 = 1_772_366_400; // 2026-03-01T12:00:00Z
    let list = RevocationList::empty().next_at(at(t0)).unwrap();
    assert_eq!(list.issued_at, "2026-03-01T12:00:00Z");
    assert_eq!(list.expires.as_deref(), Some("2026-03-31T12:00:00Z"));
    assert_eq!(DEFAULT_VALIDITY.as_secs(), 30 * 86_400);

    // It survives signing and verification.
    let signed = SignedRevocationList::sign(&list, &k.approver).unwrap();
    let list = signed.verify(&p).unwrap();
    assert!(signed.body.contains("\"expires\": \"2026-03-31T12:00:00Z\""), "{}", signed.body);

    assert_eq!(
        list.expiry_status(at(t0 + 10)),
        ExpiryStatus::Fresh { expires: "2026-03-31T12:00:00Z".into(), remaining_secs: 30 * 86_400 - 10 }
    );
    let expired = list.expiry_status(at(t0 + 30 * 86_400 + 60));
    assert_eq!(expired, ExpiryStatus::Expired { since: "2026-03-31T12:00:00Z".into(), expired_secs: 60 });
    assert!(expired.is_expired() && !expired.is_fresh());
    assert!(expired.to_string().contains("EXPIRED at 2026-03-31T12:00:00Z"), "{expired}");
    assert_eq!(
        serde_json::to_value(&expired).unwrap(),
        serde_json::json!({"status": "expired", "since": "2026-03-31T12:00:00Z", "expired_secs": 60})
    );
    assert_eq!(RevocationList::empty().expiry_status(at(t0)), ExpiryStatus::NoList);

    // A custom validity.
    let mut week = RevocationList::empty().next_at(at(t0)).unwrap();
    week.set_validity(std::time::Duration::from_secs(7 * 86_400)).unwrap();
    assert_eq!(week.expires.as_deref(), Some("2026-03-08T12:00:00Z"));
    for bad in [0, 367 * 86_400] {
        let err = week.set_validity(std::time::Duration::from_secs(bad)).unwrap_err();
        assert!(matches!(err, RevocationError::BadValidity { .. }), "{err}");
    }
}

#[test]
fn lists_from_before_expiry_existed_still_verify_and_are_flagged() {
    use komp_registry::revocation::ExpiryStatus;
    let k = keys();
    let p = policy(&k, true);
    // The body exactly as an older komp wrote it: no `expires`.
    let body = r#"{
  "serial": 4,
  "issued_at": "2025-06-01T08:00:00Z",
  "revoked_keys": [],
  "yanked": []
}"#;
    let old = sign_body(body, &k.approver);
    let list = old.verify(&p).unwrap();
    assert_eq!(list.serial, 4);
    assert_eq!(list.expires, None);
    assert_eq!(list.expiry_status(std::time::SystemTime::now()), ExpiryStatus::NoExpiry);
    assert!(list.expiry_status(std::time::SystemTime::now()).to_string().contains("no expiry time"));
    // Re-serialising an old list does not invent an `expires` field.
    assert!(!serde_json::to_string(&list).unwrap().contains("expires"));
    // The next list does expire.
    assert!(list.next().unwrap().expires.is_some());
}

#[test]
fn a_malformed_or_backwards_expiry_is_refused() {
    let k = keys();
    let p = policy(&k, true);
    for (expires, want) in [
        ("next month", "not an RFC 3339 UTC time"),
        ("2026-03-01T12:00:00+01:00", "RFC 3339 UTC"),
        ("2026-02-01T00:00:00Z", "not after it was issued"),
    ] {
        let body = format!(
            r#"{{"serial": 1, "issued_at": "2026-03-01T12:00:00Z", "expires": "{expires}", "revoked_keys": [], "yanked": []}}"#
        );
        let err = sign_body(&body, &k.approver).verify(&p).unwrap_err();
        assert!(err.to_string().contains(want), "{expires}: {err}");
    }
}

/// Signs an arbitrary body the way [`SignedRevocationList::sign`] does.
fn sign_body(body: &str, key: &KeyPair) -> SignedRevocationList {
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    let mut msg = b"komp-revocation-list-v1\n".to_vec();
    msg.extend_from_slice(body.as_bytes());
    SignedRevocationList {
        body: body.into(),
        key_id: key.key_id(),
        signature: base64::engine::general_purpose::STANDARD.encode(key.signing.sign(&msg).to_bytes()),
    }
}
