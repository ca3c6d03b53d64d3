//! Deciding whether a component may be installed: signatures against a trust
//! policy and a revocation list.
//!
//! Verification only needs the section framing and the bytes: it runs
//! before anything is compiled or any model is parsed, so bytes that fail are
//! never handed to wasmtime or tract. [`verify_bytes`] even checks the
//! signatures before the manifest JSON is parsed.

use crate::keys::{PublicKey, Role};
use crate::revocation::{Approvers, RevocationList};
use crate::signature::{content_hash, key_id_text, SignatureData, SignatureEntry, SignatureError};
use komp_artifact::sections::top_level_sections;
use komp_artifact::{Artifact, ArtifactError, SIGNATURE_SECTION};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Which keys a host trusts, for what, and whether a blue stamp is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustPolicy {
    /// Keys whose signature says "we built this".
    #[serde(default)]
    pub publishers: Vec<PublicKey>,
    /// Keys whose signature says "approved for common use"; they also sign
    /// revocation lists.
    #[serde(default)]
    pub approvers: Vec<PublicKey>,
    /// Whether a component also needs a valid approver signature. Defaults to
    /// `true`: the `standard` channel only carries endorsed components.
    #[serde(default = "default_true")]
    pub require_endorsement: bool,
}

fn default_true() -> bool {
    true
}

/// Why a trust policy file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read trust policy {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("trust policy {path} is not valid: {source}")]
    Invalid { path: PathBuf, source: InvalidPolicy },
}

/// Why a policy text is not a valid trust policy.
#[derive(Debug, thiserror::Error)]
pub enum InvalidPolicy {
    /// Not the policy's JSON form (the error names line and column).
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// A key listed under one role whose key file says another.
    #[error("key {key_id} ({owner}) is listed as {listed} but its file says {actual}")]
    RoleMismatch { key_id: String, owner: String, listed: Role, actual: Role },
    /// One key in both lists.
    #[error("key {key_id} is listed both as publisher and approver; use one key per role")]
    BothRoles { key_id: String },
}

impl Approvers for TrustPolicy {
    fn approver(&self, key_id: &str) -> Option<&PublicKey> {
        self.approvers.approver(key_id)
    }
}

impl TrustPolicy {
    /// Parses and checks a policy: roles must match the list a key is in, and
    /// no key may be both publisher and approver (one key, one job).
    pub fn from_json(text: &str) -> Result<TrustPolicy, InvalidPolicy> {
        let policy: TrustPolicy = serde_json::from_str(text)?;
        policy.check()?;
        Ok(policy)
    }

    /// Reads a policy file (see [`Self::from_json`]).
    pub fn load(path: &Path) -> Result<TrustPolicy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read { path: path.into(), source })?;
        Self::from_json(&text).map_err(|source| PolicyError::Invalid { path: path.into(), source })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("serialises")
    }

    fn check(&self) -> Result<(), InvalidPolicy> {
        for (list, role) in [(&self.publishers, Role::Publisher), (&self.approvers, Role::Approver)] {
            if let Some(k) = list.iter().find(|k| k.role != role) {
                return Err(InvalidPolicy::RoleMismatch {
                    key_id: k.key_id.clone(),
                    owner: k.owner.clone(),
                    listed: role,
                    actual: k.role,
                });
            }
        }
        if let Some(k) = self.publishers.iter().find(|p| self.approvers.iter().any(|a| a.key_id == p.key_id)) {
            return Err(InvalidPolicy::BothRoles { key_id: k.key_id.clone() });
        }
        Ok(())
    }

    /// The trusted key with this id, if any.
    pub fn key(&self, key_id: &str) -> Option<&PublicKey> {
        self.publishers.iter().chain(&self.approvers).find(|k| k.key_id == key_id)
    }
}

/// What one signature turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureStatus {
    /// Made by a trusted key over exactly these bytes.
    Valid,
    /// The signed hash is not the hash of this file's content.
    ContentChanged,
    /// The key is trusted but the signature does not verify with it.
    Invalid,
    /// The key is not in the trust policy, so the signature cannot be checked.
    UnknownKey,
}

/// One signature of a component, checked against a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureCheck {
    pub key_id: String,
    /// The role the *policy* gives the key (`None` for unknown keys).
    pub role: Option<Role>,
    pub owner: Option<String>,
    pub status: SignatureStatus,
}

impl SignatureCheck {
    pub fn valid(&self) -> bool {
        self.status == SignatureStatus::Valid
    }
}

/// The outcome of a successful verification, for logs, audit and `komp verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub name: String,
    pub version: semver::Version,
    /// The component's identity (sha256 of everything after the signatures).
    pub digest: String,
    pub signatures: Vec<SignatureCheck>,
}

impl Verification {
    /// Key ids of valid signatures by trusted keys with `role`.
    pub fn valid_keys(&self, role: Role) -> Vec<String> {
        self.signatures.iter().filter(|s| s.valid() && s.role == Some(role)).map(|s| s.key_id.clone()).collect()
    }
}

/// Why a component is refused. Each message says what is wrong in words a
/// caseworker's IT department can act on.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("the component is not signed: sign it with `komp sign` (publisher) and `komp endorse` (approver)")]
    Unsigned,
    #[error("the component's signature section is malformed: {0}")]
    Malformed(#[from] SignatureError),
    #[error("the component's bytes do not match what was signed (signature by {key_id}): the file was changed after signing")]
    ContentChanged { key_id: String },
    #[error("the signature by {key_id} does not verify with that key: it was damaged or forged")]
    BadSignature { key_id: String },
    #[error("the component is signed by key {key_id}, which was revoked at {revoked_at}: {reason}")]
    KeyRevoked { key_id: String, reason: String, revoked_at: String },
    #[error(
        "the component is signed only by keys this host does not trust ({}); add the publisher's public key \
         to the trust policy if you trust it", .key_ids.join(", ")
    )]
    UnknownKeys { key_ids: Vec<String> },
    #[error("the component has no valid signature by a trusted publisher key (valid signatures: {})", .signed_by.join(", "))]
    MissingPublisher { signed_by: Vec<String> },
    #[error(
        "the trust policy requires an approver endorsement, and the component has none by a trusted approver key \
         (signed by: {}); ask the approver to run `komp endorse`", .signed_by.join(", ")
    )]
    MissingEndorsement { signed_by: Vec<String> },
    #[error("{component} was yanked at {yanked_at}: {reason}")]
    Yanked { component: String, reason: String, yanked_at: String },
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
}

/// Checks every signature in `signature_section` against `content` and the
/// policy's keys. Fails only if there is nothing to check (unsigned) or the
/// section cannot be read; judging the result is [`enforce`]'s job, so that
/// tools can show every signature even when the policy is not met.
pub fn check_signatures(
    signature_section: Option<&[u8]>,
    content: &[u8],
    policy: &TrustPolicy,
) -> Result<Vec<SignatureCheck>, TrustError> {
    let payload = signature_section.ok_or(TrustError::Unsigned)?;
    let entries = SignatureData::parse(payload)?.entries();
    if entries.is_empty() {
        return Err(TrustError::Unsigned);
    }
    let h = content_hash(content);
    Ok(entries.iter().map(|e| check_one(e, &h, policy)).collect())
}

/// Checks one signature with at most one Ed25519 verification: the key id
/// names the only key it is tried with. A signature without a key id (the
/// format allows it) is not tried against every trusted key; that would let
/// a file buy `signatures × keys` verifications. komp always writes key ids
/// (and `wasmsign2` does when given one), so such a signature counts as by
/// an unknown key.
/// A signature over other content is not verified at all.
fn check_one(e: &SignatureEntry, h: &[u8; 32], policy: &TrustPolicy) -> SignatureCheck {
    let stated = key_id_text(&e.key_id);
    let candidate = std::str::from_utf8(&e.key_id).ok().filter(|id| !id.is_empty()).and_then(|id| policy.key(id));
    let status = match candidate {
        _ if !e.covers(h) => SignatureStatus::ContentChanged,
        None => SignatureStatus::UnknownKey,
        Some(k) if e.signature_is_valid(&k.key) => SignatureStatus::Valid,
        Some(_) => SignatureStatus::Invalid,
    };
    SignatureCheck {
        key_id: candidate.map_or(stated, |k| k.key_id.clone()),
        role: candidate.map(|k| k.role),
        owner: candidate.map(|k| k.owner.clone()),
        status,
    }
}

/// Applies the policy to checked signatures, in a fixed order: changed
/// bytes, broken signatures, revoked keys, unknown signers, the publisher
/// signature, the approver endorsement. Yanks need the manifest; see
/// [`check_yank`].
pub fn enforce(
    checks: &[SignatureCheck],
    policy: &TrustPolicy,
    revocations: &RevocationList,
) -> Result<(), TrustError> {
    if let Some(c) = checks.iter().find(|c| c.status == SignatureStatus::ContentChanged) {
        return Err(TrustError::ContentChanged { key_id: c.key_id.clone() });
    }
    if let Some(c) = checks.iter().find(|c| c.status == SignatureStatus::Invalid) {
        return Err(TrustError::BadSignature { key_id: c.key_id.clone() });
    }
    // Any signature by a revoked key taints the file, trusted or not.
    for c in checks {
        if let Some(r) = revocations.revoked_key(&c.key_id) {
            return Err(TrustError::KeyRevoked {
                key_id: r.key_id.clone(),
                reason: r.reason.clone(),
                revoked_at: r.revoked_at.clone(),
            });
        }
    }
    let valid: Vec<String> = checks.iter().filter(|c| c.valid()).map(|c| c.key_id.clone()).collect();
    if valid.is_empty() {
        return Err(TrustError::UnknownKeys { key_ids: checks.iter().map(|c| c.key_id.clone()).collect() });
    }
    let has = |role| checks.iter().any(|c| c.valid() && c.role == Some(role));
    if !has(Role::Publisher) {
        return Err(TrustError::MissingPublisher { signed_by: valid });
    }
    if policy.require_endorsement && !has(Role::Approver) {
        return Err(TrustError::MissingEndorsement { signed_by: valid });
    }
    Ok(())
}

/// Refuses a yanked `name@version`.
pub fn check_yank(name: &str, version: &semver::Version, revocations: &RevocationList) -> Result<(), TrustError> {
    match revocations.yanked(name, version) {
        Some(y) => {
            Err(TrustError::Yanked { component: y.id(), reason: y.reason.clone(), yanked_at: y.yanked_at.clone() })
        }
        None => Ok(()),
    }
}

/// Verifies a parsed component against a policy and a revocation list (which
/// the caller has already authenticated, e.g. [`crate::store::Registry::revocations`]).
pub fn verify(
    artifact: &Artifact,
    policy: &TrustPolicy,
    revocations: &RevocationList,
) -> Result<Verification, TrustError> {
    let checks = check_signatures(artifact.signature_section(), artifact.signed_content(), policy)?;
    enforce(&checks, policy, revocations)?;
    let m = artifact.manifest();
    check_yank(&m.name, &m.version, revocations)?;
    Ok(Verification {
        name: m.name.clone(),
        version: m.version.clone(),
        digest: artifact.digest().to_string(),
        signatures: checks,
    })
}

/// Verifies raw file bytes: the signatures are checked on the section framing
/// alone, *before* the manifest is parsed, and only then is the file parsed
/// into an [`Artifact`] (manifest and model digests) for the yank check.
pub fn verify_bytes(
    bytes: Vec<u8>,
    policy: &TrustPolicy,
    revocations: &RevocationList,
) -> Result<(Artifact, Verification), TrustError> {
    let sections = top_level_sections(&bytes)?;
    let (payload, content) = match sections.first() {
        Some(s) if s.custom_name.as_deref() == Some(SIGNATURE_SECTION) => {
            (Some(&bytes[s.data.clone()]), &bytes[s.range.end..])
        }
        _ => {
            if let Some(s) = sections.iter().find(|s| s.custom_name.as_deref() == Some(SIGNATURE_SECTION)) {
                return Err(ArtifactError::MisplacedSignature(s.range.start).into());
            }
            (None, &bytes[komp_artifact::sections::COMPONENT_PREAMBLE.len()..])
        }
    };
    let checks = check_signatures(payload, content, policy)?;
    enforce(&checks, policy, revocations)?;
    let artifact = Artifact::parse(bytes)?;
    let m = artifact.manifest();
    check_yank(&m.name, &m.version, revocations)?;
    let v = Verification {
        name: m.name.clone(),
        version: m.version.clone(),
        digest: artifact.digest().to_string(),
        signatures: checks,
    };
    Ok((artifact, v))
}
