//! The approver-signed revocation list: revoked keys and yanked releases.
//!
//! A leaked key or a component found to be harmful must stop being installed
//! and run everywhere, and every host must be able to say why. The list is a
//! JSON body with a detached Ed25519 signature by an approver key; a host
//! accepts a list only if the signer is an approver in *its own* trust policy
//! and the serial number is higher than the one it has, so an old list cannot
//! be replayed to un-revoke a key.
//!
//! The signature covers the exact body bytes (kept as a string in the file),
//! so readers never depend on re-serialising JSON identically.

use crate::keys::{KeyPair, Role};
use crate::trust::TrustPolicy;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signer, Verifier};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Domain separation: a revocation-list signature can never be mistaken for
/// a component signature (those start with `wasmsig`).
const DOMAIN: &[u8] = b"komp-revocation-list-v1\n";

/// The content of a revocation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RevocationList {
    /// Increases with every issued list; hosts only move forward.
    pub serial: u64,
    /// When this list was issued (RFC 3339 UTC).
    pub issued_at: String,
    #[serde(default)]
    pub revoked_keys: Vec<RevokedKey>,
    #[serde(default)]
    pub yanked: Vec<Yanked>,
}

/// A key that must no longer be trusted for anything it signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedKey {
    pub key_id: String,
    pub reason: String,
    pub revoked_at: String,
}

/// A release that must no longer be installed or run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Yanked {
    pub name: String,
    pub version: semver::Version,
    pub reason: String,
    pub yanked_at: String,
}

impl Yanked {
    /// `name@version`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

impl RevocationList {
    /// The list a host has before it has received any: serial 0, nothing revoked.
    pub fn empty() -> RevocationList {
        RevocationList::default()
    }

    /// The revocation of `key_id`, if any.
    pub fn revoked_key(&self, key_id: &str) -> Option<&RevokedKey> {
        self.revoked_keys.iter().find(|k| k.key_id == key_id)
    }

    /// The yank of `name@version`, if any.
    pub fn yanked(&self, name: &str, version: &semver::Version) -> Option<&Yanked> {
        self.yanked.iter().find(|y| y.name == name && &y.version == version)
    }

    /// The next list: serial + 1, issued now, same entries. Edit it, then sign it.
    pub fn next(&self) -> RevocationList {
        RevocationList { serial: self.serial + 1, issued_at: crate::time::now_rfc3339(), ..self.clone() }
    }

    /// Adds (or replaces the reason of) a key revocation.
    pub fn revoke_key(&mut self, key_id: &str, reason: &str) {
        self.revoked_keys.retain(|k| k.key_id != key_id);
        self.revoked_keys.push(RevokedKey {
            key_id: key_id.into(),
            reason: reason.into(),
            revoked_at: crate::time::now_rfc3339(),
        });
    }

    /// Adds (or replaces the reason of) a yank.
    pub fn yank(&mut self, name: &str, version: &semver::Version, reason: &str) {
        self.yanked.retain(|y| !(y.name == name && &y.version == version));
        self.yanked.push(Yanked {
            name: name.into(),
            version: version.clone(),
            reason: reason.into(),
            yanked_at: crate::time::now_rfc3339(),
        });
    }
}

/// Why a revocation list was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    #[error("revocation lists must be signed with an approver key; {key_id} is a {role} key")]
    NotApproverKey { key_id: String, role: Role },
    #[error("the revocation list is signed by {key_id}, which is not an approver in the trust policy")]
    UntrustedSigner { key_id: String },
    #[error("the revocation list's signature by {key_id} is invalid: the list was changed or forged")]
    BadSignature { key_id: String },
    #[error("the revocation list's body is not valid: {0}")]
    Body(String),
    #[error("the offered revocation list has serial {offered}, not newer than the current serial {current}")]
    NotNewer { current: u64, offered: u64 },
    #[error("cannot read or write revocation list {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a signed revocation list: {reason}")]
    Format { path: PathBuf, reason: String },
}

/// A revocation list as it travels: the exact body text, who signed it, and
/// the base64 Ed25519 signature over `"komp-revocation-list-v1\n" ‖ body`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRevocationList {
    pub body: String,
    pub key_id: String,
    pub signature: String,
}

impl SignedRevocationList {
    /// Signs `list` with an approver key.
    pub fn sign(list: &RevocationList, key: &KeyPair) -> Result<SignedRevocationList, RevocationError> {
        if key.role != Role::Approver {
            return Err(RevocationError::NotApproverKey { key_id: key.key_id(), role: key.role });
        }
        let body = serde_json::to_string_pretty(list).expect("revocation list serialises");
        let sig = key.signing.sign(&message(&body));
        Ok(SignedRevocationList { body, key_id: key.key_id(), signature: B64.encode(sig.to_bytes()) })
    }

    /// Checks the signature against the approvers of `policy` and returns the
    /// list. Nothing in an unverified list is ever acted upon.
    pub fn verify(&self, policy: &TrustPolicy) -> Result<RevocationList, RevocationError> {
        let key = policy
            .approvers
            .iter()
            .find(|k| k.key_id == self.key_id)
            .ok_or_else(|| RevocationError::UntrustedSigner { key_id: self.key_id.clone() })?;
        let bad = || RevocationError::BadSignature { key_id: self.key_id.clone() };
        let raw = B64.decode(self.signature.trim()).map_err(|_| bad())?;
        let sig = ed25519_dalek::Signature::from_slice(&raw).map_err(|_| bad())?;
        key.key.verify(&message(&self.body), &sig).map_err(|_| bad())?;
        self.body_unverified()
    }

    /// Parses the body *without* checking the signature. Only for tools that
    /// build the next list from the previous one; never for enforcement.
    pub fn body_unverified(&self) -> Result<RevocationList, RevocationError> {
        serde_json::from_str(&self.body).map_err(|e| RevocationError::Body(e.to_string()))
    }

    /// Verifies `self` and accepts it only if it is newer than `current`.
    pub fn accept_newer(
        &self,
        current: &RevocationList,
        policy: &TrustPolicy,
    ) -> Result<RevocationList, RevocationError> {
        let list = self.verify(policy)?;
        if list.serial <= current.serial {
            return Err(RevocationError::NotNewer { current: current.serial, offered: list.serial });
        }
        Ok(list)
    }

    pub fn from_json(text: &str) -> Result<SignedRevocationList, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("serialises")
    }

    /// Reads a signed list from a file (not yet verified).
    pub fn load(path: &Path) -> Result<SignedRevocationList, RevocationError> {
        let text = std::fs::read_to_string(path).map_err(|source| RevocationError::Io { path: path.into(), source })?;
        Self::from_json(&text).map_err(|e| RevocationError::Format { path: path.into(), reason: e.to_string() })
    }

    /// Writes the list atomically (temporary file, fsync, rename), so a crash
    /// leaves either the old or the new list, never half of one.
    pub fn save(&self, path: &Path) -> Result<(), RevocationError> {
        crate::fsutil::write_atomic(path, (self.to_json() + "\n").as_bytes())
            .map_err(|source| RevocationError::Io { path: path.into(), source })
    }
}

fn message(body: &str) -> Vec<u8> {
    let mut m = DOMAIN.to_vec();
    m.extend_from_slice(body.as_bytes());
    m
}
