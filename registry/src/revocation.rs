//! The approver-signed revocation list: revoked keys and yanked releases.
//!
//! A leaked key or a component found to be harmful must stop being installed
//! and run everywhere, and every host must be able to say why. The list is a
//! JSON body with a detached Ed25519 signature by an approver key; a host
//! accepts a list only if
//!
//! - the signer is an approver in *its own* trust policy,
//! - the signer is not revoked by the list the host already has (a leaked
//!   approver key, once revoked, cannot un-revoke itself or anyone else),
//! - the serial is higher than the one it has, so an old list cannot be
//!   replayed to un-revoke a key, and at most [`MAX_SERIAL_STEP`] higher, so
//!   one list cannot use up the serial space and freeze revocation for good.
//!
//! Lists carry an `expires` time (like the timestamp role of TUF): a mirror
//! or a network path that keeps serving an old list, or none at all, must
//! show up as an expired list at the host instead of looking like "nothing
//! was revoked". [`RevocationList::expiry_status`] is what hosts report.
//!
//! The signature covers the exact body bytes (kept as a string in the file),
//! so readers never depend on re-serialising JSON identically.

use crate::keys::{KeyPair, PublicKey, Role};
use crate::time::{format_unix, parse_rfc3339_utc, unix_secs};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signer, Verifier};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Domain separation: a revocation-list signature can never be mistaken for
/// a component signature (those start with `wasmsig`).
const DOMAIN: &[u8] = b"komp-revocation-list-v1\n";

/// How far a new list's serial may jump past the current one.
///
/// Serials only move forward, so a list with serial `u64::MAX` (signed by a
/// careless tool or by a leaked approver key before it was revoked) would be
/// the last list any host could ever accept. Bounding each step makes that
/// impossible: at 1000 per list, exhausting `u64` takes ~1.8e16 lists. 1000
/// is generous for the legitimate case, a host that missed some lists while
/// it was offline (lists are cumulative, so skipping serials is fine).
pub const MAX_SERIAL_STEP: u64 = 1000;

/// How long a list made by [`RevocationList::next`] is valid: long enough
/// that a monthly re-issue with a margin never lapses, short enough that a
/// withheld list is noticed within weeks, not years.
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(30 * 86_400);

/// The longest validity [`RevocationList::set_validity`] accepts. A list that
/// is valid for years would defeat the point of expiry.
pub const MAX_VALIDITY: Duration = Duration::from_secs(366 * 86_400);

/// The content of a revocation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RevocationList {
    /// Increases with every issued list; hosts only move forward.
    pub serial: u64,
    /// When this list was issued (RFC 3339 UTC).
    pub issued_at: String,
    /// When this list stops being current (RFC 3339 UTC): by then the
    /// approvers have issued a newer one, so a host still holding this one is
    /// being fed stale data. Lists from before this field existed have none
    /// and parse as [`ExpiryStatus::NoExpiry`], which hosts flag. Omitted from
    /// the JSON when absent, so such old lists keep their exact bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
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

    /// The next list: serial + 1, issued now, expiring after
    /// [`DEFAULT_VALIDITY`] (change it with [`Self::set_validity`]), same
    /// entries. Edit it, then sign it. Fails only when the serial is
    /// `u64::MAX`, after which no host could accept another list.
    pub fn next(&self) -> Result<RevocationList, RevocationError> {
        self.next_at(SystemTime::now())
    }

    /// [`Self::next`] as if issued at `now` (tests, reproducible tooling).
    pub fn next_at(&self, now: SystemTime) -> Result<RevocationList, RevocationError> {
        let serial = self.serial.checked_add(1).ok_or(RevocationError::SerialExhausted { serial: self.serial })?;
        let issued = unix_secs(now);
        Ok(RevocationList {
            serial,
            issued_at: format_unix(issued),
            expires: Some(format_unix(issued.saturating_add(DEFAULT_VALIDITY.as_secs()))),
            ..self.clone()
        })
    }

    /// Sets `expires` to `issued_at + valid_for`. Refuses a zero validity and
    /// one longer than [`MAX_VALIDITY`].
    pub fn set_validity(&mut self, valid_for: Duration) -> Result<(), RevocationError> {
        if valid_for.as_secs() == 0 || valid_for > MAX_VALIDITY {
            return Err(RevocationError::BadValidity {
                secs: valid_for.as_secs(),
                max_days: MAX_VALIDITY.as_secs() / 86_400,
            });
        }
        let issued = parse_rfc3339_utc(&self.issued_at)
            .ok_or_else(|| RevocationError::BadTimestamp { field: "issued_at", value: self.issued_at.clone() })?;
        self.expires = Some(format_unix(issued.saturating_add(valid_for.as_secs())));
        Ok(())
    }

    /// Whether this list is still current at `now`. Hosts log a warning for
    /// anything but [`ExpiryStatus::Fresh`], show it in health and metrics,
    /// and may refuse installs while it is [`ExpiryStatus::Expired`].
    pub fn expiry_status(&self, now: SystemTime) -> ExpiryStatus {
        if self.serial == 0 {
            return ExpiryStatus::NoList;
        }
        let Some(expires) = &self.expires else {
            return ExpiryStatus::NoExpiry;
        };
        let now = unix_secs(now);
        match parse_rfc3339_utc(expires) {
            Some(at) if now < at => ExpiryStatus::Fresh { expires: expires.clone(), remaining_secs: at - now },
            Some(at) => ExpiryStatus::Expired { since: expires.clone(), expired_secs: now - at },
            // Checked when the list was accepted, so only a damaged store gets
            // here: fail towards "expired", never towards "fresh".
            None => ExpiryStatus::Expired { since: expires.clone(), expired_secs: 0 },
        }
    }

    /// Checks what the signature cannot: that `expires`, if present, is an
    /// RFC 3339 UTC time after `issued_at`.
    fn validate(&self) -> Result<(), RevocationError> {
        let Some(expires) = &self.expires else {
            return Ok(());
        };
        let at = parse_rfc3339_utc(expires)
            .ok_or_else(|| RevocationError::BadTimestamp { field: "expires", value: expires.clone() })?;
        if let Some(issued) = parse_rfc3339_utc(&self.issued_at) {
            if at <= issued {
                return Err(RevocationError::ExpiresBeforeIssued {
                    issued_at: self.issued_at.clone(),
                    expires: expires.clone(),
                });
            }
        }
        Ok(())
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

/// Whether a host's revocation list is still current; see
/// [`RevocationList::expiry_status`]. Serialises as
/// `{"status": "fresh", "expires": "...", "remaining_secs": 123}` and so on,
/// for health endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum ExpiryStatus {
    /// No list has been received yet (serial 0).
    NoList,
    /// Current until `expires`.
    Fresh { expires: String, remaining_secs: u64 },
    /// Past `since` by `expired_secs`: a newer list is being withheld, or
    /// the approvers did not re-issue in time.
    Expired { since: String, expired_secs: u64 },
    /// A list from before `expires` existed: it cannot tell whether it is
    /// stale.
    NoExpiry,
}

impl ExpiryStatus {
    /// Only [`ExpiryStatus::Fresh`] is fine; everything else deserves a warning.
    pub fn is_fresh(&self) -> bool {
        matches!(self, ExpiryStatus::Fresh { .. })
    }

    pub fn is_expired(&self) -> bool {
        matches!(self, ExpiryStatus::Expired { .. })
    }
}

impl std::fmt::Display for ExpiryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpiryStatus::NoList => f.write_str("no revocation list has been received"),
            ExpiryStatus::Fresh { expires, .. } => write!(f, "the revocation list is current until {expires}"),
            ExpiryStatus::Expired { since, .. } => write!(
                f,
                "the revocation list EXPIRED at {since}: newer revocations may be withheld; \
                 check the sync from upstream and ask the approvers to re-issue the list"
            ),
            ExpiryStatus::NoExpiry => f.write_str(
                "the revocation list has no expiry time (issued by an older komp), so a withheld newer list \
                 would go unnoticed; ask the approvers to re-issue it",
            ),
        }
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
    #[error(
        "the offered revocation list has serial {offered}, more than {} past the current serial {current} \
         (at most {max}); a new list must continue from the current one",
        MAX_SERIAL_STEP
    )]
    SerialTooFar { current: u64, offered: u64, max: u64 },
    #[error(
        "the revocation list is signed by {key_id}, which the current list revoked at {revoked_at} ({reason}); \
         a revoked key cannot sign revocation lists: have another approver sign it"
    )]
    SignerRevoked { key_id: String, reason: String, revoked_at: String },
    #[error("the revocation list has serial {serial}, the highest possible: no newer list can be issued")]
    SerialExhausted { serial: u64 },
    #[error("the revocation list's {field} {value:?} is not an RFC 3339 UTC time like 2026-03-01T12:00:00Z")]
    BadTimestamp { field: &'static str, value: String },
    #[error("the revocation list expires at {expires}, not after it was issued at {issued_at}")]
    ExpiresBeforeIssued { issued_at: String, expires: String },
    #[error("a revocation list must be valid for between 1 second and {max_days} days, not {secs} seconds")]
    BadValidity { secs: u64, max_days: u64 },
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

/// Who may sign a revocation list: the approvers of a trust policy.
///
/// A trait rather than `&TrustPolicy` so that this module does not depend on
/// `trust` (which depends on revocation lists to check yanks): the policy
/// implements it, tests may pass a bare key list.
pub trait Approvers {
    /// The approver key with `key_id`, if this policy trusts one.
    fn approver(&self, key_id: &str) -> Option<&PublicKey>;
}

impl Approvers for [PublicKey] {
    fn approver(&self, key_id: &str) -> Option<&PublicKey> {
        self.iter().find(|k| k.key_id == key_id && k.role == Role::Approver)
    }
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
    pub fn verify(&self, policy: &(impl Approvers + ?Sized)) -> Result<RevocationList, RevocationError> {
        let key = policy
            .approver(&self.key_id)
            .ok_or_else(|| RevocationError::UntrustedSigner { key_id: self.key_id.clone() })?;
        let bad = || RevocationError::BadSignature { key_id: self.key_id.clone() };
        let raw = B64.decode(self.signature.trim()).map_err(|_| bad())?;
        let sig = ed25519_dalek::Signature::from_slice(&raw).map_err(|_| bad())?;
        key.key.verify(&message(&self.body), &sig).map_err(|_| bad())?;
        let list = self.body_unverified()?;
        list.validate()?;
        Ok(list)
    }

    /// Parses the body *without* checking the signature. Only for tools that
    /// build the next list from the previous one; never for enforcement.
    pub fn body_unverified(&self) -> Result<RevocationList, RevocationError> {
        serde_json::from_str(&self.body).map_err(|e| RevocationError::Body(e.to_string()))
    }

    /// Verifies `self` and accepts it only as a successor of `current`: its
    /// signer is not revoked by `current`, and its serial is in
    /// `current + 1 ..= current + MAX_SERIAL_STEP`.
    pub fn accept_newer(
        &self,
        current: &RevocationList,
        policy: &(impl Approvers + ?Sized),
    ) -> Result<RevocationList, RevocationError> {
        // Checked before the signature, so a revoked key costs no Ed25519 work.
        if let Some(r) = current.revoked_key(&self.key_id) {
            return Err(RevocationError::SignerRevoked {
                key_id: r.key_id.clone(),
                reason: r.reason.clone(),
                revoked_at: r.revoked_at.clone(),
            });
        }
        let list = self.verify(policy)?;
        if list.serial <= current.serial {
            return Err(RevocationError::NotNewer { current: current.serial, offered: list.serial });
        }
        let max = current.serial.saturating_add(MAX_SERIAL_STEP);
        if list.serial > max {
            return Err(RevocationError::SerialTooFar { current: current.serial, offered: list.serial, max });
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
