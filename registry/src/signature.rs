//! The `signature` custom section, in the WebAssembly tool-conventions
//! *Signatures.md* format, byte for byte as `wasmsign2` reads and writes it.
//!
//! We use the public convention rather than a format of our own so that a
//! municipality, an auditor or a third-party runtime can check a komp
//! component's signatures with off-the-shelf tools.
//!
//! # Layout
//!
//! Every count and length is an unsigned LEB128 (`varuint32`). The prose table
//! in Signatures.md leaves out two length prefixes that `wasmsign2` (the
//! reference implementation) writes and requires; we follow `wasmsign2`, and
//! the interop tests prove it by signing and verifying with that crate.
//!
//! ```text
//! signature_data  = spec_version:u8 (0x01)  content_type:u8 (0x01 = wasm)
//!                   hash_fn:u8 (0x01 = SHA-256)
//!                   signed_hashes_count:varuint32
//!                   ( len:varuint32 signed_hashes[len] ) *
//! signed_hashes   = hashes_count:varuint32  hash[32] * hashes_count
//!                   signature_count:varuint32
//!                   ( len:varuint32 signature[len] ) *
//! signature       = key_id_len:varuint32 key_id[key_id_len]
//!                   signature_id:u8 (0x01 = Ed25519)
//!                   signature_len:varuint32 signature[signature_len]
//! ```
//!
//! Each signature is `Ed25519(k, "wasmsig" ‖ spec_version ‖ content_type ‖
//! hash_fn ‖ h1 ‖ … ‖ hn)`. komp signs whole components without delimiters, so
//! a komp signature carries one hash: SHA-256 of everything after the
//! signature section ([`komp_artifact::Artifact::signed_content`]). That is
//! also the component's digest, so adding a signature never changes what is
//! signed, and several signatures (publisher, approvers) can sit side by side.

use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use komp_artifact::Artifact;
use sha2::{Digest, Sha256};

/// Specification version we read and write.
pub const SPEC_VERSION: u8 = 0x01;
/// Content type of a WebAssembly module or component.
pub const CONTENT_TYPE_WASM: u8 = 0x01;
/// Hash function identifier for SHA-256.
pub const HASH_SHA256: u8 = 0x01;
/// Signature algorithm identifier for Ed25519.
pub const ALG_ED25519: u8 = 0x01;
/// Domain separation prefix of the signed message.
pub const DOMAIN: &[u8] = b"wasmsig";

/// Same limits as `wasmsign2`, so that a hostile section cannot make us
/// allocate without bound.
pub const MAX_HASHES: usize = 64;
/// Upper bound on signatures per hash set (as in `wasmsign2`).
pub const MAX_SIGNATURES: usize = 256;
/// Upper bound on a key identifier; ours are 24 bytes.
pub const MAX_KEY_ID: usize = 1024;
/// Upper bound on the whole section payload. A komp signature record is
/// about 100 bytes; this leaves room for every limit below with a wide
/// margin, and is checked before anything in the section is decoded.
pub const MAX_SECTION_BYTES: usize = 64 * 1024;
/// Upper bound on signatures in the whole section, across all hash sets.
/// Each one may cost an Ed25519 verification, and the count is the
/// attacker's choice, so the bound is what a component really carries (a
/// publisher and a few approvers) with room to spare, not what the format
/// could express (64 sets × 256 signatures).
pub const MAX_SIGNATURE_ENTRIES: usize = 32;
const ED25519_SIGNATURE_LEN: usize = 64;

/// Why a `signature` section could not be read or written. Offsets are
/// relative to the start of the section's payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature section is truncated: it ends at byte {at} while reading {what}")]
    Truncated { at: usize, what: &'static str },
    #[error("signature section has specification version 0x{0:02x}; only 0x01 is supported")]
    UnknownVersion(u8),
    #[error("signature section has content type 0x{0:02x}; only 0x01 (WebAssembly) is supported")]
    UnknownContentType(u8),
    #[error("signature section uses hash function 0x{0:02x}; only 0x01 (SHA-256) is supported")]
    UnknownHashFunction(u8),
    #[error("signature at byte {at} uses algorithm 0x{id:02x}; only 0x01 (Ed25519) is supported")]
    UnknownAlgorithm { at: usize, id: u8 },
    #[error("signature at byte {at} is {len} bytes long; an Ed25519 signature is 64 bytes")]
    BadSignatureLength { at: usize, len: usize },
    #[error("{count} unexpected byte(s) at byte {at} of the {within}")]
    TrailingBytes { at: usize, count: usize, within: &'static str },
    #[error("signature section declares {count} {what}; at most {max} are allowed")]
    TooMany { what: &'static str, count: usize, max: usize },
    #[error("malformed LEB128 number at byte {at} of the signature section")]
    BadVarint { at: usize },
    #[error("signature section is {len} bytes; at most {max} are allowed")]
    SectionTooLarge { len: usize, max: usize },
    #[error("key id of {0} bytes is too long (at most {MAX_KEY_ID})")]
    KeyIdTooLong(usize),
    #[error(
        "the file already carries {0} signature(s) over other content: it was changed after it was signed. \
         Start again from the unsigned component"
    )]
    StaleSignatures(usize),
}

/// A signature algorithm the format names. Only Ed25519 exists today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Ed25519,
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ed25519")
    }
}

/// The decoded payload of a `signature` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignatureData {
    pub signed_hashes: Vec<SignedHashes>,
}

/// One set of hashes and the signatures over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHashes {
    pub hashes: Vec<[u8; 32]>,
    pub signatures: Vec<RawSignature>,
}

/// One signature record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSignature {
    /// Public key identifier; may be empty (the format allows it).
    pub key_id: Vec<u8>,
    pub algorithm: Algorithm,
    pub signature: Vec<u8>,
}

/// A signature together with the hashes it covers: what callers inspect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureEntry {
    pub key_id: Vec<u8>,
    pub algorithm: Algorithm,
    pub signature: Vec<u8>,
    pub hashes: Vec<[u8; 32]>,
}

impl SignatureEntry {
    /// The key id as text (komp key ids are ASCII); hex for anything else.
    pub fn key_id_text(&self) -> String {
        key_id_text(&self.key_id)
    }

    /// Checks the Ed25519 signature over this entry's hashes with `key`. This
    /// says nothing about whether the hashes match a file; see [`Self::covers`].
    pub fn signature_is_valid(&self, key: &VerifyingKey) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(&self.signature) else {
            return false;
        };
        key.verify(&signed_message(&self.hashes), &sig).is_ok()
    }

    /// Whether one of the signed hashes is the hash of `content`, i.e. the
    /// signature commits to exactly these bytes.
    pub fn covers(&self, content_hash: &[u8; 32]) -> bool {
        self.hashes.iter().any(|h| h == content_hash)
    }
}

/// Renders a key id for people: the text if it is printable ASCII, else hex.
pub fn key_id_text(key_id: &[u8]) -> String {
    if key_id.is_empty() {
        "(no key id)".into()
    } else if key_id.iter().all(|b| b.is_ascii_graphic()) {
        String::from_utf8_lossy(key_id).into_owned()
    } else {
        format!("hex:{}", hex::encode(key_id))
    }
}

/// SHA-256 of the signed content.
pub fn content_hash(content: &[u8]) -> [u8; 32] {
    Sha256::digest(content).into()
}

/// The message an Ed25519 key signs for a set of hashes.
pub fn signed_message(hashes: &[[u8; 32]]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(DOMAIN.len() + 3 + 32 * hashes.len());
    msg.extend_from_slice(DOMAIN);
    msg.extend_from_slice(&[SPEC_VERSION, CONTENT_TYPE_WASM, HASH_SHA256]);
    for h in hashes {
        msg.extend_from_slice(h);
    }
    msg
}

impl SignatureData {
    /// Strictly decodes a section payload: every length must fit, every
    /// nested record must be consumed exactly, and nothing may follow the last
    /// signature. The size caps ([`MAX_SECTION_BYTES`],
    /// [`MAX_SIGNATURE_ENTRIES`], ...) are enforced here, so a section that
    /// exceeds them is refused before any signature is verified.
    pub fn parse(bytes: &[u8]) -> Result<SignatureData, SignatureError> {
        if bytes.len() > MAX_SECTION_BYTES {
            return Err(SignatureError::SectionTooLarge { len: bytes.len(), max: MAX_SECTION_BYTES });
        }
        let mut r = Reader { bytes, pos: 0, end: bytes.len() };
        let version = r.byte("the specification version")?;
        if version != SPEC_VERSION {
            return Err(SignatureError::UnknownVersion(version));
        }
        let content_type = r.byte("the content type")?;
        if content_type != CONTENT_TYPE_WASM {
            return Err(SignatureError::UnknownContentType(content_type));
        }
        let hash_fn = r.byte("the hash function")?;
        if hash_fn != HASH_SHA256 {
            return Err(SignatureError::UnknownHashFunction(hash_fn));
        }
        let count = r.count("signed_hashes_count", MAX_HASHES)?;
        let mut signed_hashes = Vec::with_capacity(count);
        let mut total = 0usize;
        for _ in 0..count {
            let mut set = r.nested("a signed hash set")?;
            let parsed = parse_signed_hashes(&mut set)?;
            set.finish("signed hash set")?;
            total += parsed.signatures.len();
            if total > MAX_SIGNATURE_ENTRIES {
                return Err(SignatureError::TooMany {
                    what: "signatures in all",
                    count: total,
                    max: MAX_SIGNATURE_ENTRIES,
                });
            }
            signed_hashes.push(parsed);
        }
        r.finish("signature section")?;
        Ok(SignatureData { signed_hashes })
    }

    /// Encodes the payload exactly as `wasmsign2` does (lengths are wasm
    /// varuint32s, written by `wasm-encoder`).
    pub fn encode(&self) -> Vec<u8> {
        use wasm_encoder::Encode;
        let mut out = vec![SPEC_VERSION, CONTENT_TYPE_WASM, HASH_SHA256];
        self.signed_hashes.len().encode(&mut out);
        for set in &self.signed_hashes {
            let mut s = Vec::with_capacity(8 + 32 * set.hashes.len() + 100 * set.signatures.len());
            set.hashes.len().encode(&mut s);
            for h in &set.hashes {
                s.extend_from_slice(h);
            }
            set.signatures.len().encode(&mut s);
            for sig in &set.signatures {
                let mut one = Vec::with_capacity(sig.key_id.len() + sig.signature.len() + 8);
                sig.key_id.as_slice().encode(&mut one);
                one.push(match sig.algorithm {
                    Algorithm::Ed25519 => ALG_ED25519,
                });
                sig.signature.as_slice().encode(&mut one);
                one.as_slice().encode(&mut s);
            }
            s.as_slice().encode(&mut out);
        }
        out
    }

    /// All signatures, each with the hashes it covers, in file order.
    pub fn entries(&self) -> Vec<SignatureEntry> {
        self.signed_hashes
            .iter()
            .flat_map(|set| {
                set.signatures.iter().map(|s| SignatureEntry {
                    key_id: s.key_id.clone(),
                    algorithm: s.algorithm,
                    signature: s.signature.clone(),
                    hashes: set.hashes.clone(),
                })
            })
            .collect()
    }
}

fn parse_signed_hashes(r: &mut Reader<'_>) -> Result<SignedHashes, SignatureError> {
    let n = r.count("hashes", MAX_HASHES)?;
    let mut hashes = Vec::with_capacity(n);
    for _ in 0..n {
        let h = r.take(32, "a SHA-256 hash")?;
        hashes.push(h.try_into().expect("32 bytes"));
    }
    let n = r.count("signatures", MAX_SIGNATURES)?;
    let mut signatures = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = r.nested("a signature record")?;
        let key_len = s.varint("key_id_len")?;
        if key_len > MAX_KEY_ID {
            return Err(SignatureError::KeyIdTooLong(key_len));
        }
        let key_id = s.take(key_len, "the key id")?.to_vec();
        let alg_at = s.pos;
        let alg = s.byte("the signature algorithm")?;
        if alg != ALG_ED25519 {
            return Err(SignatureError::UnknownAlgorithm { at: alg_at, id: alg });
        }
        let sig_at = s.pos;
        let len = s.varint("signature_len")?;
        if len != ED25519_SIGNATURE_LEN {
            return Err(SignatureError::BadSignatureLength { at: sig_at, len });
        }
        let signature = s.take(len, "the signature")?.to_vec();
        s.finish("signature record")?;
        signatures.push(RawSignature { key_id, algorithm: Algorithm::Ed25519, signature });
    }
    Ok(SignedHashes { hashes, signatures })
}

/// A bounded cursor over the section payload; positions stay absolute so
/// that errors point into the section.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self, what: &'static str) -> Result<u8, SignatureError> {
        Ok(self.take(1, what)?[0])
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], SignatureError> {
        if self.end - self.pos < n {
            return Err(SignatureError::Truncated { at: self.end, what });
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn varint(&mut self, what: &'static str) -> Result<usize, SignatureError> {
        let start = self.pos;
        let mut v: u64 = 0;
        for i in 0..5 {
            let b = self.byte(what)?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if v > u64::from(u32::MAX) {
                    return Err(SignatureError::BadVarint { at: start });
                }
                return Ok(v as usize);
            }
        }
        Err(SignatureError::BadVarint { at: start })
    }

    fn count(&mut self, what: &'static str, max: usize) -> Result<usize, SignatureError> {
        let n = self.varint(what)?;
        if n > max {
            return Err(SignatureError::TooMany { what, count: n, max });
        }
        Ok(n)
    }

    fn nested(&mut self, what: &'static str) -> Result<Reader<'a>, SignatureError> {
        let len = self.varint(what)?;
        let start = self.pos;
        self.take(len, what)?;
        Ok(Reader { bytes: self.bytes, pos: start, end: start + len })
    }

    fn finish(&self, within: &'static str) -> Result<(), SignatureError> {
        if self.pos != self.end {
            return Err(SignatureError::TrailingBytes { at: self.pos, count: self.end - self.pos, within });
        }
        Ok(())
    }
}

/// Reads all signatures of a component. An unsigned component has none.
pub fn read_signatures(artifact: &Artifact) -> Result<Vec<SignatureEntry>, SignatureError> {
    match artifact.signature_section() {
        None => Ok(Vec::new()),
        Some(payload) => Ok(SignatureData::parse(payload)?.entries()),
    }
}

/// Signs a component with `key` and returns the new file bytes. Signatures
/// already present are kept (signing again with the same key id replaces that
/// key's signature), so a publisher signs and an approver endorses the same
/// file. `key_id` is stored in the clear so that verifiers can pick the key.
pub fn sign(artifact: &Artifact, key: &SigningKey, key_id: &str) -> Result<Vec<u8>, SignatureError> {
    if key_id.len() > MAX_KEY_ID {
        return Err(SignatureError::KeyIdTooLong(key_id.len()));
    }
    let mut data = match artifact.signature_section() {
        None => SignatureData::default(),
        Some(payload) => SignatureData::parse(payload)?,
    };
    let h = content_hash(artifact.signed_content());
    let stale: usize = data.signed_hashes.iter().filter(|s| !s.hashes.contains(&h)).map(|s| s.signatures.len()).sum();
    if stale > 0 {
        return Err(SignatureError::StaleSignatures(stale));
    }
    let hashes = vec![h];
    let signature = key.sign(&signed_message(&hashes)).to_bytes().to_vec();
    let record = RawSignature { key_id: key_id.as_bytes().to_vec(), algorithm: Algorithm::Ed25519, signature };
    let others: usize = data
        .signed_hashes
        .iter()
        .flat_map(|set| set.signatures.iter().filter(|s| !(set.hashes == hashes && s.key_id == record.key_id)))
        .count();
    if others >= MAX_SIGNATURE_ENTRIES {
        return Err(SignatureError::TooMany {
            what: "signatures in all",
            count: others + 1,
            max: MAX_SIGNATURE_ENTRIES,
        });
    }
    match data.signed_hashes.iter_mut().find(|s| s.hashes == hashes) {
        Some(set) => {
            set.signatures.retain(|s| s.key_id != record.key_id);
            if set.signatures.len() >= MAX_SIGNATURES {
                return Err(SignatureError::TooMany {
                    what: "signatures",
                    count: set.signatures.len() + 1,
                    max: MAX_SIGNATURES,
                });
            }
            set.signatures.push(record);
        }
        None => data.signed_hashes.push(SignedHashes { hashes, signatures: vec![record] }),
    }
    Ok(artifact.with_signature_section(Some(&data.encode())))
}
