//! The registry store on sled: content-addressed blobs, a package index with
//! semver ordering, manifests, published keys and the current revocation list.
//!
//! Rules it keeps (see `DURABILITY.md` for what sled does and does not promise):
//! - **Verify before storing**: [`Registry::publish`] checks the file against
//!   the caller's trust policy and the stored revocation list first.
//! - **Verify on every read**: a blob is keyed by the sha256 of the whole
//!   file, and every read recomputes it; corrupt bytes are an error, never
//!   returned.
//! - **Immutable versions**: `name@version` always names the same component
//!   digest. Publishing the identical file again is a no-op; publishing the
//!   same component with more signatures (an added endorsement) replaces the
//!   stored file; anything else is refused.
//! - **Durable before acknowledged**: the blob, manifest and index entry are
//!   written in one sled transaction, then `flush()`ed, before `publish`
//!   returns. A crash before the flush loses the publish entirely; it never
//!   leaves an index entry without its blob.

use crate::keys::PublicKey;
use crate::revocation::{RevocationError, RevocationList, SignedRevocationList, Yanked};
use crate::trust::{verify_bytes, SignatureCheck, TrustError, TrustPolicy};
use komp_artifact::{sha256_hex, Manifest};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use std::collections::BTreeMap;
use std::path::Path;

const FORMAT_KEY: &[u8] = b"format";
const FORMAT: &[u8] = b"komp-registry/1";
const REVOCATIONS_KEY: &[u8] = b"revocations";

/// Everything the store can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the registry at {path} is in use by another process (a running `komp serve` or `komp serve-registry`?); stop it or use its HTTP API")]
    InUse { path: String },
    #[error("registry database error: {0}")]
    Sled(#[from] sled::Error),
    #[error("refused: {0}")]
    Refused(#[from] TrustError),
    #[error(
        "{id} is already published with digest {existing}; versions are immutable, so publish this \
         component (digest {offered}) under a new version"
    )]
    VersionExists { id: String, existing: String, offered: String },
    #[error("{id} is already published with signatures this file lacks ({}); refusing to drop them", .missing.join(", "))]
    WouldDropSignatures { id: String, missing: Vec<String> },
    #[error("expected {expected}, but the file is {found}")]
    WrongComponent { expected: String, found: String },
    #[error("{0} is not in the registry")]
    NotFound(String),
    #[error("stored blob {blob} is corrupt: its bytes hash to {actual}. Restore the registry from a backup or pull the component again")]
    CorruptBlob { blob: String, actual: String },
    #[error("the index names blob {blob} for {id}, but the blob is missing")]
    MissingBlob { id: String, blob: String },
    #[error("stored {what} is corrupt: {reason}")]
    CorruptRecord { what: String, reason: String },
    #[error(transparent)]
    Revocation(#[from] RevocationError),
    #[error("{path} is not a komp registry of a format this version understands (found {found:?})")]
    Format { path: String, found: String },
}

/// The index record of one published version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub name: String,
    pub version: semver::Version,
    /// Component identity: sha256 of everything after the signature section.
    pub digest: String,
    /// sha256 of the whole stored file: the blob's key.
    pub blob_sha256: String,
    pub size: u64,
    /// sha256 of the stored manifest JSON, checked when it is read.
    pub manifest_sha256: String,
    pub published_at: String,
    /// The signatures that were valid under the publishing policy.
    pub signatures: Vec<SignatureCheck>,
}

impl IndexEntry {
    /// `name@version`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// What [`Registry::publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PublishOutcome {
    /// A new version.
    Added,
    /// The identical file was already there.
    Unchanged,
    /// Same component, more signatures: the stored file was replaced.
    Updated,
}

/// The result of a publish: the stored index entry and what happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub entry: IndexEntry,
    pub outcome: PublishOutcome,
}

/// One component in [`Registry::list`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentSummary {
    pub name: String,
    /// All versions, ascending by semver precedence.
    pub versions: Vec<VersionSummary>,
    /// See [`Registry::latest`].
    pub latest: Option<semver::Version>,
}

/// One version in a [`ComponentSummary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionSummary {
    pub version: semver::Version,
    /// Component identity (sha256 of everything after the signatures).
    pub digest: String,
    /// Whether the current revocation list yanks this version.
    pub yanked: bool,
}

/// One version with its status, as `show` and the HTTP API report it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionInfo {
    #[serde(flatten)]
    pub entry: IndexEntry,
    pub yanked: Option<Yanked>,
}

/// A registry opened on a directory. Cheap to clone (sled handles are shared).
#[derive(Clone)]
pub struct Registry {
    db: sled::Db,
    blobs: sled::Tree,
    index: sled::Tree,
    manifests: sled::Tree,
    keys: sled::Tree,
    meta: sled::Tree,
    dir: std::path::PathBuf,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

fn index_key(name: &str, version: &semver::Version) -> Vec<u8> {
    format!("{name}\0{version}").into_bytes()
}

fn tx_err(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Sled(e),
    }
}

impl Registry {
    /// Opens (or creates) the registry in directory `path`. Only one process
    /// may have a registry open at a time (sled locks the directory).
    pub fn open(path: &Path) -> Result<Registry, StoreError> {
        let db = open_db(path)?;
        let meta = db.open_tree("meta")?;
        match meta.get(FORMAT_KEY)? {
            None => {
                meta.insert(FORMAT_KEY, FORMAT)?;
                db.flush()?;
            }
            Some(v) if v.as_ref() == FORMAT => {}
            Some(v) => {
                return Err(StoreError::Format {
                    path: path.display().to_string(),
                    found: String::from_utf8_lossy(&v).into_owned(),
                })
            }
        }
        Ok(Registry {
            blobs: db.open_tree("blobs")?,
            index: db.open_tree("index")?,
            manifests: db.open_tree("manifests")?,
            keys: db.open_tree("keys")?,
            meta,
            db,
            dir: path.to_path_buf(),
        })
    }

    /// The directory the registry was opened on.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The underlying database, for maintenance tools and tests. Writing
    /// through it bypasses every check this type makes.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// Verifies `bytes` against `policy` and the stored revocation list, then
    /// stores it durably. See the module docs for the immutability rules.
    pub fn publish(&self, bytes: Vec<u8>, policy: &TrustPolicy) -> Result<Published, StoreError> {
        self.publish_inner(bytes, policy, None)
    }

    /// Like [`Self::publish`], but refuses the file unless it is
    /// `name@version`: a mirror asked for one release must not store another.
    pub fn publish_as(
        &self,
        bytes: Vec<u8>,
        policy: &TrustPolicy,
        name: &str,
        version: &semver::Version,
    ) -> Result<Published, StoreError> {
        self.publish_inner(bytes, policy, Some((name, version)))
    }

    fn publish_inner(
        &self,
        bytes: Vec<u8>,
        policy: &TrustPolicy,
        expected: Option<(&str, &semver::Version)>,
    ) -> Result<Published, StoreError> {
        let revocations = self.revocations()?;
        let (artifact, verification) = verify_bytes(bytes, policy, &revocations)?;
        let manifest = artifact.manifest();
        if let Some((name, version)) = expected {
            if manifest.name != name || &manifest.version != version {
                return Err(StoreError::WrongComponent { expected: format!("{name}@{version}"), found: manifest.id() });
            }
        }
        let manifest_json = serde_json::to_vec(manifest).expect("manifest serialises");
        let key = index_key(&manifest.name, &manifest.version);
        let entry = IndexEntry {
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            digest: artifact.digest().to_string(),
            blob_sha256: sha256_hex(artifact.bytes()),
            size: artifact.bytes().len() as u64,
            manifest_sha256: sha256_hex(&manifest_json),
            published_at: crate::time::now_rfc3339(),
            signatures: verification.signatures.iter().filter(|s| s.valid()).cloned().collect(),
        };
        let signer_keys: Vec<PublicKey> =
            entry.signatures.iter().filter_map(|s| policy.key(&s.key_id).cloned()).collect();
        let entry_json = serde_json::to_vec(&entry).expect("entry serialises");

        // One transaction: blob, manifest, index entry and signer keys become
        // visible together or not at all.
        let (outcome, stored) = (&self.blobs, &self.index, &self.manifests, &self.keys)
            .transaction(|(blobs, index, manifests, keys)| {
                let mut outcome = PublishOutcome::Added;
                if let Some(old) = index.get(&key)? {
                    let old: IndexEntry = serde_json::from_slice(&old).map_err(|e| {
                        ConflictableTransactionError::Abort(StoreError::CorruptRecord {
                            what: format!("index entry {}", entry.id()),
                            reason: e.to_string(),
                        })
                    })?;
                    if old.digest != entry.digest {
                        return Err(ConflictableTransactionError::Abort(StoreError::VersionExists {
                            id: entry.id(),
                            existing: old.digest,
                            offered: entry.digest.clone(),
                        }));
                    }
                    if old.blob_sha256 == entry.blob_sha256 {
                        return Ok((PublishOutcome::Unchanged, old));
                    }
                    let missing: Vec<String> = old
                        .signatures
                        .iter()
                        .filter(|o| !entry.signatures.iter().any(|n| n.key_id == o.key_id))
                        .map(|o| o.key_id.clone())
                        .collect();
                    if !missing.is_empty() {
                        return Err(ConflictableTransactionError::Abort(StoreError::WouldDropSignatures {
                            id: entry.id(),
                            missing,
                        }));
                    }
                    if entry.signatures.len() == old.signatures.len() {
                        // Same signers, different signature bytes (e.g. a
                        // re-signature): keep what was acknowledged first.
                        return Ok((PublishOutcome::Unchanged, old));
                    }
                    blobs.remove(old.blob_sha256.as_bytes())?;
                    outcome = PublishOutcome::Updated;
                }
                blobs.insert(entry.blob_sha256.as_bytes(), artifact.bytes())?;
                manifests.insert(key.as_slice(), manifest_json.as_slice())?;
                index.insert(key.as_slice(), entry_json.as_slice())?;
                for k in &signer_keys {
                    keys.insert(k.key_id.as_bytes(), k.to_json().as_bytes())?;
                }
                Ok((outcome, entry.clone()))
            })
            .map_err(tx_err)?;
        // Acknowledge only what is on disk.
        self.db.flush()?;
        Ok(Published { entry: stored, outcome })
    }

    /// All components with their versions (ascending) and latest version.
    pub fn list(&self) -> Result<Vec<ComponentSummary>, StoreError> {
        let mut by_name: BTreeMap<String, Vec<IndexEntry>> = BTreeMap::new();
        for item in self.index.iter() {
            let (_, v) = item?;
            let e = parse_entry(&v)?;
            by_name.entry(e.name.clone()).or_default().push(e);
        }
        let revocations = self.revocations()?;
        Ok(by_name
            .into_iter()
            .map(|(name, mut entries)| {
                entries.sort_by(|a, b| a.version.cmp(&b.version));
                let latest = pick_latest(&entries, &revocations);
                let versions = entries
                    .into_iter()
                    .map(|e| VersionSummary {
                        yanked: revocations.yanked(&e.name, &e.version).is_some(),
                        version: e.version,
                        digest: e.digest,
                    })
                    .collect();
                ComponentSummary { name, versions, latest }
            })
            .collect())
    }

    /// The index entries of `name`, ascending by semver precedence.
    pub fn versions(&self, name: &str) -> Result<Vec<VersionInfo>, StoreError> {
        let revocations = self.revocations()?;
        let mut entries = self.entries(name)?;
        entries.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(entries
            .into_iter()
            .map(|e| VersionInfo { yanked: revocations.yanked(&e.name, &e.version).cloned(), entry: e })
            .collect())
    }

    fn entries(&self, name: &str) -> Result<Vec<IndexEntry>, StoreError> {
        let mut prefix = name.as_bytes().to_vec();
        prefix.push(0);
        self.index.scan_prefix(prefix).map(|item| parse_entry(&item?.1)).collect()
    }

    /// The version a host installs when none is named: the highest version
    /// that is not yanked and not signed by a revoked key. Pre-releases count
    /// only when there is no stable release.
    pub fn latest(&self, name: &str) -> Result<Option<semver::Version>, StoreError> {
        let revocations = self.revocations()?;
        Ok(pick_latest(&self.entries(name)?, &revocations))
    }

    /// The index entry of `name@version`.
    pub fn entry(&self, name: &str, version: &semver::Version) -> Result<IndexEntry, StoreError> {
        let v = self
            .index
            .get(index_key(name, version))?
            .ok_or_else(|| StoreError::NotFound(format!("{name}@{version}")))?;
        parse_entry(&v)
    }

    /// Index entry, manifest and yank status of `name@version`, or of the
    /// latest version when `version` is `None`.
    pub fn show(&self, name: &str, version: Option<&semver::Version>) -> Result<(VersionInfo, Manifest), StoreError> {
        let version = match version {
            Some(v) => v.clone(),
            None => {
                self.latest(name)?.ok_or_else(|| StoreError::NotFound(format!("an installable version of {name}")))?
            }
        };
        let entry = self.entry(name, &version)?;
        let manifest = self.manifest(&entry)?;
        let yanked = self.revocations()?.yanked(name, &version).cloned();
        Ok((VersionInfo { entry, yanked }, manifest))
    }

    fn manifest(&self, entry: &IndexEntry) -> Result<Manifest, StoreError> {
        let raw = self.manifests.get(index_key(&entry.name, &entry.version))?.ok_or_else(|| {
            StoreError::CorruptRecord { what: format!("manifest of {}", entry.id()), reason: "missing".into() }
        })?;
        let actual = sha256_hex(&raw);
        if actual != entry.manifest_sha256 {
            return Err(StoreError::CorruptRecord {
                what: format!("manifest of {}", entry.id()),
                reason: format!("hashes to {actual}, expected {}", entry.manifest_sha256),
            });
        }
        serde_json::from_slice(&raw).map_err(|e| StoreError::CorruptRecord {
            what: format!("manifest of {}", entry.id()),
            reason: e.to_string(),
        })
    }

    /// The file bytes of `name@version`, checked against their sha256.
    pub fn get(&self, name: &str, version: &semver::Version) -> Result<Vec<u8>, StoreError> {
        let entry = self.entry(name, version)?;
        self.blob(&entry.blob_sha256)?
            .ok_or_else(|| StoreError::MissingBlob { id: entry.id(), blob: entry.blob_sha256.clone() })
    }

    /// A blob by the sha256 of its bytes, checked on read.
    pub fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(v) = self.blobs.get(sha256.as_bytes())? else {
            return Ok(None);
        };
        let actual = sha256_hex(&v);
        if actual != sha256 {
            return Err(StoreError::CorruptBlob { blob: sha256.to_string(), actual });
        }
        Ok(Some(v.to_vec()))
    }

    /// Records a public key (publishers' keys are also recorded on publish),
    /// so that clients can fetch the keys behind the signatures they see.
    pub fn put_key(&self, key: &PublicKey) -> Result<(), StoreError> {
        self.keys.insert(key.key_id.as_bytes(), key.to_json().as_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// All recorded public keys.
    pub fn keys(&self) -> Result<Vec<PublicKey>, StoreError> {
        self.keys
            .iter()
            .map(|item| {
                let (k, v) = item?;
                serde_json::from_slice(&v).map_err(|e| StoreError::CorruptRecord {
                    what: format!("key {}", String::from_utf8_lossy(&k)),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// Accepts `list` if it is a valid successor of the stored one (see
    /// [`SignedRevocationList::accept_newer`]); stores it durably and returns
    /// its content.
    ///
    /// The stored bytes that `list` was validated against are the bytes it
    /// replaces (sled compare-and-swap). If another writer got in between,
    /// the check runs again against what that writer stored, so two
    /// concurrent setters can never leave an older list on top of a newer one.
    pub fn set_revocations(
        &self,
        list: &SignedRevocationList,
        policy: &TrustPolicy,
    ) -> Result<RevocationList, StoreError> {
        let new = list.to_json().into_bytes();
        loop {
            let seen = self.meta.get(REVOCATIONS_KEY)?;
            let current = match &seen {
                None => RevocationList::empty(),
                Some(raw) => parse_signed_list(raw)?.body_unverified()?,
            };
            let accepted = list.accept_newer(&current, policy)?;
            match self.meta.compare_and_swap(REVOCATIONS_KEY, seen, Some(new.as_slice()))? {
                Ok(()) => {
                    self.db.flush()?;
                    return Ok(accepted);
                }
                // Someone else stored a list since we read: judge ours again
                // against theirs.
                Err(_) => continue,
            }
        }
    }

    /// The stored signed revocation list, if any (verified when it was
    /// set), as it is served to other registries and hosts.
    pub fn signed_revocations(&self) -> Result<Option<SignedRevocationList>, StoreError> {
        match self.meta.get(REVOCATIONS_KEY)? {
            None => Ok(None),
            Some(v) => parse_signed_list(&v).map(Some),
        }
    }

    /// The content of the stored revocation list (or the empty list): what
    /// [`crate::trust::verify`] needs.
    pub fn revocations(&self) -> Result<RevocationList, StoreError> {
        match self.signed_revocations()? {
            None => Ok(RevocationList::empty()),
            Some(s) => Ok(s.body_unverified()?),
        }
    }
}

fn parse_signed_list(v: &[u8]) -> Result<SignedRevocationList, StoreError> {
    serde_json::from_slice(v)
        .map_err(|e| StoreError::CorruptRecord { what: "revocation list".into(), reason: e.to_string() })
}

fn parse_entry(v: &[u8]) -> Result<IndexEntry, StoreError> {
    serde_json::from_slice(v)
        .map_err(|e| StoreError::CorruptRecord { what: "index entry".into(), reason: e.to_string() })
}

fn pick_latest(entries: &[IndexEntry], revocations: &RevocationList) -> Option<semver::Version> {
    default_version(
        entries
            .iter()
            .filter(|e| {
                revocations.yanked(&e.name, &e.version).is_none()
                    && !e.signatures.iter().any(|s| revocations.revoked_key(&s.key_id).is_some())
            })
            .map(|e| &e.version),
    )
}

/// The one rule for the default version (see [`komp_artifact::default_version`]).
pub use komp_artifact::default_version;

/// Opens the sled database, waiting up to two seconds for its file lock.
/// sled releases the lock of a dropped `Db` from its background flusher a
/// moment after the drop, so reopening a registry in the same process (a CLI
/// command after another, a test) can find it still held; another process
/// that holds it for longer (a running `komp serve`) gets a clear error.
fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match sled::Config::new().path(path).open() {
            // sled 0.34 reports a held lock as an `Other` I/O error with this text.
            Err(sled::Error::Io(e)) if e.to_string().starts_with("could not acquire lock") => {
                if std::time::Instant::now() >= deadline {
                    return Err(StoreError::InUse { path: path.display().to_string() });
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return Ok(other?),
        }
    }
}
