//! Mirroring one registry into another, trusting nothing on the wire.
//!
//! Every downloaded file goes through [`Registry::publish_as`], i.e. the full
//! verification against the *local* trust policy and revocation list, and
//! must be the release that was asked for. The upstream revocation list is
//! applied first (if an approver of the local policy signed it and its serial
//! is newer), so revoked keys and yanked releases are not pulled in.
//!
//! Once the local registry holds a revocation list, an upstream that answers
//! "no list" (404) is withholding it: that is [`SyncError::RevocationsWithheld`]
//! and nothing is pulled, because whatever the withheld list revokes would
//! otherwise come in as if nothing had been revoked. Serving a list that we
//! must refuse (forged, signed by a revoked key, ...) withholds it just as
//! well: [`SyncError::RevocationsRefused`].

use super::client::{Client, ClientError};
use crate::revocation::{RevocationError, SignedRevocationList};
use crate::store::{PublishOutcome, Published, Registry, StoreError};
use crate::trust::TrustPolicy;
use serde::{Deserialize, Serialize};

/// What happened to the upstream revocation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum RevocationSync {
    /// Upstream has none, and neither do we (a new deployment). Once we have
    /// one, an upstream without one is [`SyncError::RevocationsWithheld`].
    None,
    /// A newer list was verified and stored.
    Applied { serial: u64 },
    /// Ours is as new or newer.
    UpToDate,
    /// The list was not signed by a trusted approver (or was damaged), and
    /// we hold no list yet. With a list of our own, this is
    /// [`SyncError::RevocationsRefused`] instead.
    Refused { reason: String },
}

/// The outcome of a sync, release by release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    pub revocations: RevocationSync,
    /// `name@version`s stored for the first time.
    pub added: Vec<String>,
    /// Releases whose stored file gained signatures (e.g. an endorsement).
    pub updated: Vec<String>,
    /// Releases already present and identical.
    pub unchanged: usize,
    /// Releases skipped because the local revocation list yanks them.
    pub yanked: Vec<String>,
    /// Releases refused, with the reason (verification, immutability, ...).
    pub refused: Vec<(String, String)>,
}

impl SyncReport {
    /// Counts one pulled release by what publishing it locally did: added,
    /// updated, unchanged (also when the local copy has more signatures), or
    /// refused with the reason. A storage failure ends the whole sync, for
    /// every upstream kind alike (komp's protocol and OCI).
    pub fn record(&mut self, id: String, published: Result<Published, StoreError>) -> Result<(), StoreError> {
        match published {
            Ok(p) => match p.outcome {
                PublishOutcome::Added => self.added.push(id),
                PublishOutcome::Updated => self.updated.push(id),
                PublishOutcome::Unchanged => self.unchanged += 1,
            },
            Err(StoreError::WouldDropSignatures { .. }) => self.unchanged += 1,
            Err(err @ (StoreError::Sled(_) | StoreError::Format { .. })) => return Err(err),
            Err(err) => self.refused.push((id, err.to_string())),
        }
        Ok(())
    }
}

impl SyncReport {
    /// A report of a sync that has not done anything yet.
    pub fn empty() -> SyncReport {
        SyncReport {
            revocations: RevocationSync::None,
            added: vec![],
            updated: vec![],
            unchanged: 0,
            yanked: vec![],
            refused: vec![],
        }
    }
}

/// What an upstream offers as its revocation list.
#[derive(Debug, Clone, Copy)]
pub enum Offered<'a> {
    /// A signed list (not yet verified).
    List(&'a SignedRevocationList),
    /// No list at all.
    Nothing,
    /// Something that is not a readable list (why).
    Unreadable(&'a str),
}

impl<'a> From<Option<&'a SignedRevocationList>> for Offered<'a> {
    fn from(o: Option<&'a SignedRevocationList>) -> Offered<'a> {
        o.map_or(Offered::Nothing, Offered::List)
    }
}

/// Why a sync must stop before pulling anything: newer revocations may be
/// withheld from this registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Withholding {
    /// The upstream serves no list, but this registry holds one.
    Withheld { local_serial: u64 },
    /// The upstream serves a list this registry refuses, while it holds one.
    Refused { local_serial: u64, reason: String },
}

/// Applies what an upstream offers as its revocation list, by the rules
/// every sync keeps (komp's protocol and OCI alike): a newer list signed by a
/// trusted approver is stored; once this registry holds a list, an upstream
/// that serves none, or one it must refuse, withholds the real one and the
/// sync must stop ([`Withholding`]); before that, a refused list is only
/// reported.
pub fn apply_upstream_revocations(
    local: &Registry,
    policy: &TrustPolicy,
    offered: Offered<'_>,
) -> Result<Result<RevocationSync, Withholding>, StoreError> {
    // Any stored list has serial >= 1 (serials start at 1 and only grow),
    // whether it came from this upstream or another source.
    let local_serial = local.revocations()?.serial;
    let refused = |reason: String| {
        if local_serial > 0 {
            Err(Withholding::Refused { local_serial, reason })
        } else {
            Ok(RevocationSync::Refused { reason })
        }
    };
    Ok(match offered {
        Offered::List(list) => match local.set_revocations(list, policy) {
            Ok(l) => Ok(RevocationSync::Applied { serial: l.serial }),
            Err(StoreError::Revocation(RevocationError::NotNewer { .. })) => Ok(RevocationSync::UpToDate),
            Err(StoreError::Revocation(e)) => refused(e.to_string()),
            Err(e) => return Err(e),
        },
        Offered::Unreadable(reason) => refused(reason.to_string()),
        // An upstream that has no list while we have one is behind us or hiding it.
        Offered::Nothing if local_serial > 0 => Err(Withholding::Withheld { local_serial }),
        Offered::Nothing => Ok(RevocationSync::None),
    })
}

/// Why a sync could not run at all (per-release problems are in the report).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("cannot reach the upstream registry: {0}")]
    Client(#[from] ClientError),
    #[error(
        "the upstream registry {upstream} serves no revocation list, but this registry already holds list \
         serial {local_serial}: newer revocations may be withheld, so nothing was pulled. Check the upstream \
         (or the network path to it); the local list stays in force"
    )]
    RevocationsWithheld { upstream: String, local_serial: u64 },
    #[error(
        "the upstream registry {upstream} serves a revocation list this registry refuses ({reason}), while this \
         registry holds list serial {local_serial}: newer revocations may be withheld, so nothing was pulled. \
         Check the upstream and the trust policy's approvers; the local list stays in force"
    )]
    RevocationsRefused { upstream: String, local_serial: u64, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Pulls every release of `upstream_url` that `local` lacks, verifying each
/// one against `policy` before storing it.
pub fn sync_from(upstream_url: &str, local: &Registry, policy: &TrustPolicy) -> Result<SyncReport, SyncError> {
    let client = Client::new(upstream_url);
    let mut report = SyncReport::empty();
    let offered = client.revocations()?;
    report.revocations = match apply_upstream_revocations(local, policy, Offered::from(offered.as_ref()))? {
        Ok(r) => r,
        Err(Withholding::Withheld { local_serial }) => {
            return Err(SyncError::RevocationsWithheld { upstream: upstream_url.to_string(), local_serial })
        }
        Err(Withholding::Refused { local_serial, reason }) => {
            return Err(SyncError::RevocationsRefused { upstream: upstream_url.to_string(), local_serial, reason })
        }
    };
    let revocations = local.revocations()?;

    for component in client.list()? {
        let versions = client.versions(&component.name)?;
        for info in versions.versions {
            let e = &info.entry;
            let id = e.id();
            if e.name != component.name {
                report.refused.push((id, format!("listed under {}", component.name)));
                continue;
            }
            if revocations.yanked(&e.name, &e.version).is_some() {
                report.yanked.push(id);
                continue;
            }
            match local.entry(&e.name, &e.version) {
                Ok(mine) if mine.blob_sha256 == e.blob_sha256 => {
                    report.unchanged += 1;
                    continue;
                }
                Ok(_) | Err(StoreError::NotFound(_)) => {}
                Err(other) => return Err(other.into()),
            }
            let bytes = match client.artifact(&e.name, &e.version) {
                Ok(b) => b,
                Err(err) => {
                    report.refused.push((id, err.to_string()));
                    continue;
                }
            };
            report.record(id, local.publish_as(bytes, policy, &e.name, &e.version))?;
        }
    }
    Ok(report)
}
