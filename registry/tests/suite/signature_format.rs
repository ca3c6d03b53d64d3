//! The `signature` section: byte layout, strict parsing, and interoperability
//! with `wasmsign2`, the reference implementation of Signatures.md.

use crate::common;

use common::*;
use ed25519_dalek::Signer;
use komp_artifact::Artifact;
use komp_registry::signature::{
    content_hash, read_signatures, sign, signed_message, Algorithm, RawSignature, SignatureData, SignatureError,
    SignedHashes,
};
use komp_registry::trust::{check_signatures, SignatureStatus};

fn ws2_secret(k: &komp_registry::KeyPair) -> wasmsign2::SecretKey {
    let mut raw = vec![0x81];
    raw.extend_from_slice(&k.signing.to_bytes());
    raw.extend_from_slice(k.signing.verifying_key().as_bytes());
    wasmsign2::SecretKey::from_bytes(&raw).unwrap()
}

fn ws2_public(k: &komp_registry::KeyPair, with_key_id: bool) -> wasmsign2::PublicKey {
    let mut raw = vec![0x01];
    raw.extend_from_slice(k.signing.verifying_key().as_bytes());
    let mut pk = wasmsign2::PublicKey::from_bytes(&raw).unwrap();
    if with_key_id {
        pk.key_id = Some(k.key_id().into_bytes());
    }
    pk
}

/// The section built by hand from the byte layout of Signatures.md (with the
/// two length prefixes `wasmsign2` writes), for one signature.
fn hand_built(hash: &[u8; 32], key_id: &[u8], sig: &[u8; 64]) -> Vec<u8> {
    let mut signature = vec![key_id.len() as u8];
    signature.extend_from_slice(key_id);
    signature.push(0x01); // Ed25519
    signature.push(64); // signature_len
    signature.extend_from_slice(sig);

    let mut set = vec![1u8]; // hashes_count
    set.extend_from_slice(hash);
    set.push(1); // signature_count
    set.push(signature.len() as u8);
    set.extend_from_slice(&signature);

    let mut out = vec![0x01, 0x01, 0x01, 0x01]; // version, content type, SHA-256, 1 signed hash set
    assert!(set.len() < 128, "one-byte LEB128 length");
    out.push(set.len() as u8);
    out.extend_from_slice(&set);
    out
}

#[test]
fn hand_built_vector_parses_and_verifies() {
    let k = keys();
    let art = Artifact::parse(unsigned("vector", "1.0.0")).unwrap();
    let h = content_hash(art.signed_content());

    // The signed message, spelled out: "wasmsig" ‖ 01 ‖ 01 ‖ 01 ‖ h.
    let mut msg = b"wasmsig".to_vec();
    msg.extend_from_slice(&[1, 1, 1]);
    msg.extend_from_slice(&h);
    assert_eq!(signed_message(&[h]), msg);
    let sig = k.publisher.signing.sign(&msg).to_bytes();

    let payload = hand_built(&h, k.publisher.key_id().as_bytes(), &sig);
    let data = SignatureData::parse(&payload).unwrap();
    assert_eq!(
        data,
        SignatureData {
            signed_hashes: vec![SignedHashes {
                hashes: vec![h],
                signatures: vec![RawSignature {
                    key_id: k.publisher.key_id().into_bytes(),
                    algorithm: Algorithm::Ed25519,
                    signature: sig.to_vec()
                }],
            }]
        }
    );
    assert_eq!(data.encode(), payload, "encoding reproduces the hand-built bytes");

    // Our signer writes exactly these bytes (Ed25519 is deterministic).
    let ours = Artifact::parse(sign(&art, &k.publisher.signing, &k.publisher.key_id()).unwrap()).unwrap();
    assert_eq!(ours.signature_section().unwrap(), payload.as_slice());

    // And the hand-built section embedded in the file verifies.
    let file = Artifact::parse(art.with_signature_section(Some(&payload))).unwrap();
    let checks = check_signatures(file.signature_section(), file.signed_content(), &policy(&k, false)).unwrap();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].status, SignatureStatus::Valid);
    assert_eq!(file.digest(), art.digest(), "signing does not change the component digest");
}

#[test]
fn wasmsign2_signature_verifies_here_and_is_byte_identical() {
    let k = keys();
    let unsigned_bytes = unsigned("interop", "1.2.3");
    let module = wasmsign2::Module::deserialize(&mut &unsigned_bytes[..]).unwrap();
    let key_id = k.publisher.key_id().into_bytes();
    let (module, _) = ws2_secret(&k.publisher).sign_multi(module, Some(&key_id), false, false).unwrap();
    let mut theirs = Vec::new();
    module.serialize(&mut theirs).unwrap();

    let ours = sign(&Artifact::parse(unsigned_bytes).unwrap(), &k.publisher.signing, &k.publisher.key_id()).unwrap();
    assert_eq!(theirs, ours, "wasmsign2 and komp produce the same signed file");

    let art = Artifact::parse(theirs).unwrap();
    let sigs = read_signatures(&art).unwrap();
    assert_eq!(sigs.len(), 1);
    assert_eq!(sigs[0].key_id_text(), k.publisher.key_id());
    let checks = check_signatures(art.signature_section(), art.signed_content(), &policy(&k, false)).unwrap();
    assert_eq!(checks[0].status, SignatureStatus::Valid);
}

#[test]
fn our_signatures_verify_with_wasmsign2_including_multiple_signers() {
    let k = keys();
    let file = signed_by(unsigned("interop", "2.0.0"), &[&k.publisher, &k.approver]);
    for key in [&k.publisher, &k.approver] {
        for with_id in [false, true] {
            ws2_public(key, with_id).verify(&mut &file[..], None).unwrap_or_else(|e| panic!("{key:?} {with_id}: {e}"));
        }
    }
    // A key that did not sign is refused by wasmsign2 too.
    assert!(ws2_public(&k.stranger, false).verify(&mut &file[..], None).is_err());

    // wasmsign2 adding a third signature keeps ours, and we read all three.
    let module = wasmsign2::Module::deserialize(&mut &file[..]).unwrap();
    let id = k.stranger.key_id().into_bytes();
    let (module, _) = ws2_secret(&k.stranger).sign_multi(module, Some(&id), false, false).unwrap();
    let mut three = Vec::new();
    module.serialize(&mut three).unwrap();
    let sigs = read_signatures(&Artifact::parse(three).unwrap()).unwrap();
    let ids: Vec<String> = sigs.iter().map(|s| s.key_id_text()).collect();
    assert_eq!(ids, vec![k.publisher.key_id(), k.approver.key_id(), k.stranger.key_id()]);
}

#[test]
fn signing_twice_with_one_key_keeps_one_signature() {
    let k = keys();
    let once = signed_by(unsigned("twice", "1.0.0"), &[&k.publisher, &k.approver]);
    let twice = signed_by(once.clone(), &[&k.publisher]);
    assert_eq!(read_signatures(&Artifact::parse(twice).unwrap()).unwrap().len(), 2);
}

#[test]
fn signing_a_file_with_stale_signatures_is_refused() {
    let k = keys();
    let a = Artifact::parse(signed_by(unsigned("stale", "1.0.0"), &[&k.publisher])).unwrap();
    let b = Artifact::parse(unsigned("stale", "1.0.1")).unwrap();
    let mixed = Artifact::parse(b.with_signature_section(a.signature_section())).unwrap();
    assert_eq!(sign(&mixed, &k.approver.signing, &k.approver.key_id()), Err(SignatureError::StaleSignatures(1)));
}

fn valid_payload() -> Vec<u8> {
    let k = keys();
    let art = Artifact::parse(signed_by(unsigned("strict", "1.0.0"), &[&k.publisher])).unwrap();
    art.signature_section().unwrap().to_vec()
}

#[test]
fn strict_parsing_names_each_problem() {
    let good = valid_payload();
    assert!(SignatureData::parse(&good).is_ok());

    for cut in [0, 2, 5, 40, good.len() - 1] {
        let err = SignatureData::parse(&good[..cut]).unwrap_err();
        assert!(matches!(err, SignatureError::Truncated { .. }), "cut at {cut}: {err}");
        assert!(err.to_string().contains("truncated"));
    }

    let mut v = good.clone();
    v[0] = 0x02;
    assert_eq!(SignatureData::parse(&v), Err(SignatureError::UnknownVersion(2)));
    let mut v = good.clone();
    v[1] = 0x02;
    assert_eq!(SignatureData::parse(&v), Err(SignatureError::UnknownContentType(2)));
    let mut v = good.clone();
    v[2] = 0x02;
    assert_eq!(SignatureData::parse(&v), Err(SignatureError::UnknownHashFunction(2)));

    // The algorithm byte follows the key id inside the signature record.
    let k = keys();
    let alg_at = 4 + 1 + 1 + 32 + 1 + 1 + 1 + k.publisher.key_id().len();
    assert_eq!(good[alg_at], 0x01);
    let mut v = good.clone();
    v[alg_at] = 0x02;
    assert_eq!(SignatureData::parse(&v), Err(SignatureError::UnknownAlgorithm { at: alg_at, id: 2 }));
    assert!(SignatureData::parse(&v).unwrap_err().to_string().contains("only 0x01 (Ed25519)"));

    let mut v = good.clone();
    v.push(0);
    let err = SignatureData::parse(&v).unwrap_err();
    assert_eq!(err, SignatureError::TrailingBytes { at: good.len(), count: 1, within: "signature section" });

    // An empty, well-formed section has no signatures.
    assert_eq!(SignatureData::parse(&[1, 1, 1, 0]).unwrap().entries(), vec![]);
    // Counts beyond the limits are refused before any allocation.
    assert!(matches!(SignatureData::parse(&[1, 1, 1, 0xff, 0x01]), Err(SignatureError::TooMany { .. })));
    // An over-long LEB128.
    assert!(matches!(
        SignatureData::parse(&[1, 1, 1, 0x80, 0x80, 0x80, 0x80, 0x80]),
        Err(SignatureError::BadVarint { .. })
    ));
}

/// A section with one hash set over `art`'s content and the given records.
fn section_with(art: &Artifact, records: Vec<RawSignature>) -> Vec<u8> {
    let h = content_hash(art.signed_content());
    SignatureData { signed_hashes: vec![SignedHashes { hashes: vec![h], signatures: records }] }.encode()
}

fn record(k: &komp_registry::KeyPair, key_id: &[u8], over: &[u8; 32]) -> RawSignature {
    RawSignature {
        key_id: key_id.to_vec(),
        algorithm: Algorithm::Ed25519,
        signature: k.signing.sign(&signed_message(&[*over])).to_bytes().to_vec(),
    }
}

#[test]
fn too_many_signatures_are_refused_before_any_is_verified() {
    use komp_registry::signature::MAX_SIGNATURE_ENTRIES;
    use komp_registry::trust::TrustError;
    let k = keys();
    let art = Artifact::parse(unsigned("many", "1.0.0")).unwrap();
    let h = content_hash(art.signed_content());
    // Forged (wrong-content) signatures under the trusted publisher's id:
    // were they verified, the answer would be "does not verify".
    let forged = record(&k.publisher, k.publisher.key_id().as_bytes(), &[7; 32]);
    let too_many = section_with(&art, vec![forged.clone(); MAX_SIGNATURE_ENTRIES + 1]);
    let err = check_signatures(Some(&too_many), art.signed_content(), &policy(&k, false)).unwrap_err();
    assert!(
        matches!(err, TrustError::Malformed(SignatureError::TooMany { count, max, .. }) if count == MAX_SIGNATURE_ENTRIES + 1 && max == MAX_SIGNATURE_ENTRIES),
        "{err}"
    );
    // Spread over several hash sets, the total counts.
    let set = SignedHashes { hashes: vec![h], signatures: vec![forged.clone(); MAX_SIGNATURE_ENTRIES / 2 + 1] };
    let spread = SignatureData { signed_hashes: vec![set.clone(), set] }.encode();
    assert!(matches!(SignatureData::parse(&spread), Err(SignatureError::TooMany { .. })));
    // At the limit, they are parsed (and then found forged).
    let at_limit = section_with(&art, vec![forged; MAX_SIGNATURE_ENTRIES]);
    let checks = check_signatures(Some(&at_limit), art.signed_content(), &policy(&k, false)).unwrap();
    assert_eq!(checks.len(), MAX_SIGNATURE_ENTRIES);

    // `sign` will not add one beyond the limit either.
    let full = Artifact::parse(art.with_signature_section(Some(&at_limit))).unwrap();
    let err = sign(&full, &k.approver.signing, &k.approver.key_id()).unwrap_err();
    assert!(matches!(err, SignatureError::TooMany { .. }), "{err}");
}

#[test]
fn an_oversized_signature_section_is_refused_unread() {
    use komp_registry::signature::MAX_SECTION_BYTES;
    // Forty sets of 64 hashes and no signatures: valid framing, 80+ KiB.
    let set = SignedHashes { hashes: vec![[1; 32]; 64], signatures: vec![] };
    let big = SignatureData { signed_hashes: vec![set; 40] }.encode();
    assert!(big.len() > MAX_SECTION_BYTES);
    assert_eq!(
        SignatureData::parse(&big),
        Err(SignatureError::SectionTooLarge { len: big.len(), max: MAX_SECTION_BYTES })
    );
}

#[test]
fn a_signature_without_a_key_id_is_not_tried_against_every_key() {
    use komp_registry::trust::{verify_bytes, TrustError};
    let k = keys();
    let art = Artifact::parse(unsigned("keyless", "1.0.0")).unwrap();
    let h = content_hash(art.signed_content());
    // A genuine publisher signature, but stored without its key id.
    let payload = section_with(&art, vec![record(&k.publisher, b"", &h)]);
    let checks = check_signatures(Some(&payload), art.signed_content(), &policy(&k, false)).unwrap();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].status, SignatureStatus::UnknownKey);
    assert_eq!(checks[0].key_id, "(no key id)");
    assert_eq!(checks[0].role, None);
    let file = art.with_signature_section(Some(&payload));
    let err = verify_bytes(file, &policy(&k, false), &komp_registry::RevocationList::empty()).unwrap_err();
    assert!(matches!(err, TrustError::UnknownKeys { .. }), "{err}");
}
