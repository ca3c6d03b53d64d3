//! `sync_from_oci`: a host's registry mirrors the components it is
//! configured for from an OCI registry namespace, trusting nothing on the
//! wire, with exactly the rules of `komp_registry::http::sync_from`:
//!
//! 1. The namespace's signed revocation list is applied first (if an
//!    approver of the local policy signed it and its serial is newer), so
//!    revoked keys and yanked releases are not pulled in. Once the local
//!    registry holds a list, a namespace that has none, or one we must
//!    refuse, is withholding it: an error, and nothing is pulled.
//! 2. For each configured component, the tags that name a version are
//!    listed; a version the local registry already holds with the same
//!    file (the layer digest is the sha256 of the file) is not downloaded.
//! 3. Every downloaded file goes through `Registry::publish_as`: the full
//!    verification against the local policy and revocation list, and it must
//!    be the `name@version` its tag names. Refusals are reported per release.
//!
//! Withdrawing installed components that the new list revokes is the host's
//! job after a sync (as with `sync_from`): the report's `revocations` says
//! when a new list was applied.

use crate::artifact::{pull_component, pull_revocations};
use crate::client::{ClientOptions, OciClient};
use crate::error::OciError;
use crate::reference::{tag_version, version_tag, Reference};
use crate::REVOCATIONS_REPOSITORY;
use komp_registry::http::{apply_upstream_revocations, Offered, SyncReport, Withholding};
use komp_registry::{Registry, StoreError, TrustPolicy};

/// Where a host syncs from.
#[derive(Debug, Clone)]
pub struct OciUpstream {
    /// `oci://host[:port]/namespace` (no tag): components live at
    /// `namespace/<name>:<version>`.
    pub namespace: Reference,
    /// The components to mirror. Empty: every repository directly under the
    /// namespace in the registry's catalog (`/v2/_catalog`, which many
    /// registries do not offer; configure the list for those).
    pub components: Vec<String>,
    pub options: ClientOptions,
}

impl OciUpstream {
    /// Parses `oci://host[:port]/namespace`.
    pub fn parse(namespace: &str, components: Vec<String>, options: ClientOptions) -> Result<OciUpstream, OciError> {
        let namespace = Reference::parse(namespace)?;
        if namespace.tag.is_some() || namespace.digest.is_some() {
            return Err(OciError::InvalidReference {
                input: namespace.to_string(),
                reason: "an upstream is a namespace, without :tag or @digest".into(),
            });
        }
        Ok(OciUpstream { namespace, components, options })
    }
}

/// Why a sync could not run at all (per-release problems are in the report).
#[derive(Debug, thiserror::Error)]
pub enum OciSyncError {
    #[error("syncing from {upstream}: {source}")]
    Oci {
        upstream: String,
        #[source]
        source: OciError,
    },
    #[error(
        "the OCI upstream {upstream} serves no revocation list, but this registry already holds list serial \
         {local_serial}: newer revocations may be withheld, so nothing was pulled. Push the list there with \
         `komp push-revocations` (or check the mirror copied {REVOCATIONS_REPOSITORY}); the local list stays in force"
    )]
    RevocationsWithheld { upstream: String, local_serial: u64 },
    #[error(
        "the OCI upstream {upstream} serves a revocation list this registry refuses ({reason}), while this \
         registry holds list serial {local_serial}: newer revocations may be withheld, so nothing was pulled. \
         Check the upstream and the trust policy's approvers; the local list stays in force"
    )]
    RevocationsRefused { upstream: String, local_serial: u64, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Pulls every version of the configured components that `local` lacks from
/// the OCI namespace, verifying each against `policy` before storing it.
// The error is returned once per sync, never in a hot loop.
#[allow(clippy::result_large_err)]
pub fn sync_from_oci(
    upstream: &OciUpstream,
    local: &Registry,
    policy: &TrustPolicy,
) -> Result<SyncReport, OciSyncError> {
    let name = upstream.namespace.to_string();
    let oci = |source: OciError| OciSyncError::Oci { upstream: name.clone(), source };
    let client = OciClient::for_reference(&upstream.namespace, &upstream.options).map_err(oci)?;
    let mut report = SyncReport::empty();
    // A list we cannot even read withholds the real one like a forged one.
    let pulled = match pull_revocations(&client, &upstream.namespace) {
        Ok(list) => Ok(list),
        Err(e @ (OciError::BadRevocationList { .. } | OciError::WrongMediaType { .. })) => Err(e.to_string()),
        Err(e) => return Err(oci(e)),
    };
    let offered = match &pulled {
        Ok(list) => Offered::from(list.as_ref()),
        Err(reason) => Offered::Unreadable(reason),
    };
    report.revocations = match apply_upstream_revocations(local, policy, offered)? {
        Ok(r) => r,
        Err(Withholding::Withheld { local_serial }) => {
            return Err(OciSyncError::RevocationsWithheld { upstream: name, local_serial })
        }
        Err(Withholding::Refused { local_serial, reason }) => {
            return Err(OciSyncError::RevocationsRefused { upstream: name, local_serial, reason })
        }
    };
    let revocations = local.revocations()?;

    let components = if upstream.components.is_empty() {
        let prefix = format!("{}/", upstream.namespace.repository);
        let mut names: Vec<String> = client
            .catalog()
            .map_err(oci)?
            .into_iter()
            .filter_map(|r| r.strip_prefix(&prefix).map(str::to_string))
            .filter(|n| !n.contains('/') && n != REVOCATIONS_REPOSITORY)
            .collect();
        names.sort();
        names
    } else {
        upstream.components.clone()
    };

    for component in &components {
        let repo = match upstream.namespace.child(component) {
            Ok(r) => r,
            Err(e) => {
                report.refused.push((component.clone(), e.to_string()));
                continue;
            }
        };
        // An unreachable registry or refused credentials stop the whole sync
        // (nothing further would succeed); a listing problem of one
        // repository is reported for it.
        let tags = match client.tags(&repo) {
            Ok(t) => t,
            Err(e) if is_fatal(&e) => return Err(oci(e)),
            Err(e) => {
                report.refused.push((component.clone(), e.to_string()));
                continue;
            }
        };
        let mut versions: Vec<semver::Version> = tags.iter().filter_map(|t| tag_version(t)).collect();
        versions.sort();
        for version in versions {
            let id = format!("{component}@{version}");
            if revocations.yanked(component, &version).is_some() {
                report.yanked.push(id);
                continue;
            }
            let source = repo.with_tag(&version_tag(&version));
            let known = match local.entry(component, &version) {
                Ok(mine) => Some(mine.blob_sha256),
                Err(StoreError::NotFound(_)) => None,
                Err(other) => return Err(other.into()),
            };
            if let Some(blob) = &known {
                // The manifest is small; the layer digest tells whether the file changed.
                match layer_digest(&client, &source) {
                    Ok(d) if d == format!("sha256:{blob}") => {
                        report.unchanged += 1;
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) if is_fatal(&e) => return Err(oci(e)),
                    Err(e) => {
                        report.refused.push((id, e.to_string()));
                        continue;
                    }
                }
            }
            let pulled = match pull_component(&client, &source) {
                Ok(p) => p,
                Err(e) if is_fatal(&e) => return Err(oci(e)),
                Err(e) => {
                    report.refused.push((id, e.to_string()));
                    continue;
                }
            };
            report.record(id, local.publish_as(pulled.bytes, policy, component, &version))?;
        }
    }
    Ok(report)
}

/// Errors after which no further request to the registry can succeed.
fn is_fatal(e: &OciError) -> bool {
    matches!(
        e,
        OciError::Unreachable { .. }
            | OciError::Tls { .. }
            | OciError::AuthRequired { .. }
            | OciError::Unauthorized { .. }
            | OciError::TokenService { .. }
            | OciError::BadChallenge { .. }
    )
}

fn layer_digest(client: &OciClient, source: &Reference) -> Result<String, OciError> {
    let (fetched, _, url) = client.get_manifest(source, crate::OCI_MANIFEST_MEDIA_TYPE)?;
    let m: crate::artifact::ImageManifest = serde_json::from_slice(&fetched.bytes)
        .map_err(|e| OciError::BadManifest { url: url.clone(), reason: e.to_string() })?;
    m.layers.first().map(|l| l.digest.clone()).ok_or(OciError::BadManifest { url, reason: "no layer".into() })
}
