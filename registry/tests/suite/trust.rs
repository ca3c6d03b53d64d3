//! One test per refusal rule of `trust::verify`, plus the flip-any-byte sweep.

use crate::common;

use common::*;
use komp_artifact::Artifact;
use komp_registry::revocation::RevocationList;
use komp_registry::trust::{verify, verify_bytes, SignatureStatus, TrustError};
use komp_registry::{Role, TrustPolicy};

fn none() -> RevocationList {
    RevocationList::empty()
}

fn check(bytes: Vec<u8>, policy: &TrustPolicy, revs: &RevocationList) -> Result<(), TrustError> {
    verify_bytes(bytes, policy, revs).map(|_| ())
}

#[test]
fn endorsed_component_verifies_and_reports_each_signature() {
    let k = keys();
    let bytes = endorsed("ok", "1.0.0");
    let art = Artifact::parse(bytes.clone()).unwrap();
    let v = verify(&art, &policy(&k, true), &none()).unwrap();
    assert_eq!(v.name, "ok");
    assert_eq!(v.digest, art.digest());
    assert_eq!(v.signatures.len(), 2);
    assert_eq!(v.signatures[0].key_id, k.publisher.key_id());
    assert_eq!(v.signatures[0].role, Some(Role::Publisher));
    assert_eq!(v.signatures[1].role, Some(Role::Approver));
    assert!(v.signatures.iter().all(|s| s.status == SignatureStatus::Valid));
    assert_eq!(v.valid_keys(Role::Approver), vec![k.approver.key_id()]);
    // The pre-parse path agrees.
    let (_, v2) = verify_bytes(bytes, &policy(&k, true), &none()).unwrap();
    assert_eq!(v, v2);
}

#[test]
fn refuses_unsigned() {
    let k = keys();
    let err = check(unsigned("u", "1.0.0"), &policy(&k, false), &none()).unwrap_err();
    assert!(matches!(err, TrustError::Unsigned), "{err}");
    assert!(err.to_string().contains("not signed"));
}

#[test]
fn refuses_malformed_signature_section() {
    let k = keys();
    let art = Artifact::parse(unsigned("m", "1.0.0")).unwrap();
    let bytes = art.with_signature_section(Some(&[1, 1, 1, 1, 50, 0]));
    let err = check(bytes, &policy(&k, false), &none()).unwrap_err();
    assert!(matches!(err, TrustError::Malformed(_)), "{err}");
    assert!(err.to_string().contains("malformed") && err.to_string().contains("truncated"), "{err}");
}

#[test]
fn refuses_a_damaged_signature() {
    let k = keys();
    let mut bytes = signed_by(unsigned("b", "1.0.0"), &[&k.publisher]);
    // The last byte of the signature section is the last byte of the signature.
    let art = Artifact::parse(bytes.clone()).unwrap();
    let sig_end = bytes.len() - art.signed_content().len();
    bytes[sig_end - 1] ^= 0x01;
    let err = check(bytes, &policy(&k, false), &none()).unwrap_err();
    assert!(matches!(&err, TrustError::BadSignature { key_id } if *key_id == k.publisher.key_id()), "{err}");
}

fn assert_content_changed(err: TrustError) {
    assert!(matches!(err, TrustError::ContentChanged { .. }), "{err}");
    assert!(err.to_string().contains("the component's bytes do not match what was signed"), "{err}");
}

#[test]
fn refuses_a_tampered_code_byte() {
    let k = keys();
    let mut bytes = endorsed("code", "1.0.0");
    let at = find(&bytes, CODE_MARKER) + 3;
    bytes[at] ^= 0x20;
    assert_content_changed(check(bytes, &policy(&k, true), &none()).unwrap_err());
}

#[test]
fn refuses_a_tampered_model_byte() {
    let k = keys();
    let mut bytes = endorsed("model", "1.0.0");
    let at = find(&bytes, b"ONNX-not-really") + 30;
    bytes[at] ^= 0x01;
    // Checked before the manifest's model digests are even looked at.
    assert_content_changed(check(bytes.clone(), &policy(&k, true), &none()).unwrap_err());
    // On the parsed path, parsing itself already refuses the model.
    assert!(Artifact::parse(bytes).is_err());
}

#[test]
fn refuses_a_tampered_manifest_byte() {
    let k = keys();
    let mut bytes = endorsed("manifest", "1.0.0");
    let at = find(&bytes, b"test component");
    bytes[at] = b'b'; // "best component": still valid JSON, still a valid manifest
    assert!(Artifact::parse(bytes.clone()).is_ok());
    assert_content_changed(check(bytes.clone(), &policy(&k, true), &none()).unwrap_err());
    assert_content_changed(verify(&Artifact::parse(bytes).unwrap(), &policy(&k, true), &none()).unwrap_err());
}

#[test]
fn any_single_flipped_byte_is_refused() {
    let k = keys();
    let p = policy(&k, true);
    let bytes = endorsed("flip", "1.0.0");
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= mask;
            assert!(
                check(b, &p, &none()).is_err(),
                "flipping bit {mask:#x} of byte {i} of {} went unnoticed",
                bytes.len()
            );
        }
    }
}

#[test]
fn refuses_components_signed_only_by_unknown_keys() {
    let k = keys();
    let err = check(signed_by(unsigned("x", "1.0.0"), &[&k.stranger]), &policy(&k, false), &none()).unwrap_err();
    assert!(matches!(&err, TrustError::UnknownKeys { key_ids } if *key_ids == vec![k.stranger.key_id()]), "{err}");
    assert!(err.to_string().contains("does not trust"));
}

#[test]
fn unknown_extra_signatures_do_not_hurt() {
    let k = keys();
    let bytes = signed_by(unsigned("x", "1.0.0"), &[&k.publisher, &k.stranger]);
    let (_, v) = verify_bytes(bytes, &policy(&k, false), &none()).unwrap();
    assert_eq!(v.signatures[1].status, SignatureStatus::UnknownKey);
}

#[test]
fn refuses_missing_endorsement_only_when_required() {
    let k = keys();
    let bytes = signed_by(unsigned("e", "1.0.0"), &[&k.publisher]);
    let err = check(bytes.clone(), &policy(&k, true), &none()).unwrap_err();
    assert!(matches!(err, TrustError::MissingEndorsement { .. }), "{err}");
    assert!(err.to_string().contains("requires an approver endorsement"));
    check(bytes, &policy(&k, false), &none()).unwrap();
}

#[test]
fn refuses_missing_publisher_signature() {
    let k = keys();
    let bytes = signed_by(unsigned("e", "1.0.0"), &[&k.approver]);
    let err = check(bytes, &policy(&k, true), &none()).unwrap_err();
    assert!(matches!(err, TrustError::MissingPublisher { .. }), "{err}");
}

#[test]
fn refuses_revoked_key_with_reason() {
    let k = keys();
    let mut revs = RevocationList::empty().next().unwrap();
    revs.revoke_key(&k.publisher.key_id(), "key leaked in a public repository");
    let err = check(endorsed("r", "1.0.0"), &policy(&k, true), &revs).unwrap_err();
    match &err {
        TrustError::KeyRevoked { key_id, reason, revoked_at } => {
            assert_eq!(key_id, &k.publisher.key_id());
            assert_eq!(reason, "key leaked in a public repository");
            assert!(revoked_at.ends_with('Z'));
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("revoked") && err.to_string().contains("leaked"));
}

#[test]
fn refuses_yanked_version_with_reason_and_time() {
    let k = keys();
    let mut revs = RevocationList::empty().next().unwrap();
    revs.yank("y", &"1.0.0".parse().unwrap(), "wrong threshold for children");
    let err = check(endorsed("y", "1.0.0"), &policy(&k, true), &revs).unwrap_err();
    assert!(matches!(err, TrustError::Yanked { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.starts_with("y@1.0.0 was yanked at 20") && msg.ends_with(": wrong threshold for children"), "{msg}");
    // Other versions are unaffected.
    check(endorsed("y", "1.0.1"), &policy(&k, true), &revs).unwrap();
}

#[test]
fn policy_files_are_checked() {
    let k = keys();
    let good = policy(&k, true);
    assert_eq!(TrustPolicy::from_json(&good.to_json()).unwrap(), good);
    // require_endorsement defaults to true.
    let text = serde_json::json!({"publishers": [k.publisher.public()]}).to_string();
    assert!(TrustPolicy::from_json(&text).unwrap().require_endorsement);
    // A publisher key listed as approver.
    let wrong = serde_json::json!({"approvers": [k.publisher.public()]}).to_string();
    assert!(TrustPolicy::from_json(&wrong).unwrap_err().to_string().contains("is listed as approver"));
    // A key whose id does not match its bytes.
    let mut v = serde_json::to_value(k.publisher.public()).unwrap();
    v["key_id"] = "ed25519:0000000000000000".into();
    let bad = serde_json::json!({"publishers": [v]}).to_string();
    assert!(TrustPolicy::from_json(&bad).unwrap_err().to_string().contains("does not match"));
}
