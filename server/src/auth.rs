//! Tenants, tokens and roles.
//!
//! A tenant is a municipality, named by its 4-digit kommunekode. A bearer
//! token belongs to one tenant and has one role. Tokens are stored only as
//! sha256 hashes (`tokens.json` in the data directory), so a copy of the file
//! does not let anyone in. The server re-reads the file when it changes, so
//! `komp token create` takes effect without a restart.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

/// What a token may do. Each role is its own set of rights; `admin` has all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Case systems: predict, give feedback, read the catalog.
    Caller,
    /// Publishers: push components to this host's registry.
    Publisher,
    /// The municipality's auditors: read its audit records and monitoring.
    Auditor,
    /// Operators: everything, for their tenant.
    Admin,
}

/// A text that names no [`Role`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected one of caller, publisher, auditor, admin")]
pub struct UnknownRole(pub String);

impl Role {
    /// Every role, in the order of their rights.
    pub const ALL: [Role; 4] = [Role::Caller, Role::Publisher, Role::Auditor, Role::Admin];

    /// The role's name, as in `tokens.json` and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Caller => "caller",
            Role::Publisher => "publisher",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// Whether a token with this role may act as `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self == needed || self == Role::Admin
    }
}

impl std::str::FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| UnknownRole(s.chars().take(40).collect()))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub token_id: String,
    pub tenant: Tenant,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenEntry {
    pub id: String,
    /// Hex sha256 of the whole token.
    pub sha256: String,
    pub tenant: Tenant,
    pub role: Role,
    pub created: String,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenFile {
    tokens: Vec<TokenEntry>,
}

/// A tenant is a kommunekode: four ASCII digits (one definition, shared with the audit log).
pub use komp_audit::{InvalidTenant, Tenant};

/// The token store of a data directory.
pub struct TokenStore {
    path: PathBuf,
    state: RwLock<Loaded>,
}

/// The tokens as last read, and what identified the file then.
#[derive(Default)]
struct Loaded {
    /// Inode, size and modification time of the file read (None: no file).
    stamp: Option<(u64, u64, SystemTime)>,
    /// When it was read.
    read_at: Option<SystemTime>,
    /// sha256 of the content read.
    content: [u8; 32],
    tokens: HashMap<String, TokenEntry>,
}

/// How long after a modification the file's metadata alone is not trusted
/// to show a further change: two writes within one timestamp tick (coarse
/// on many file systems) can leave inode reuse, size and mtime all equal.
/// Within this window the content is hashed and compared instead, as git
/// does for "racily clean" files.
const RACY_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl TokenStore {
    pub fn open(data_dir: &Path) -> anyhow::Result<TokenStore> {
        let store = TokenStore { path: data_dir.join("tokens.json"), state: RwLock::new(Loaded::default()) };
        store.reload_if_changed()?;
        Ok(store)
    }

    fn read_file(&self) -> anyhow::Result<TokenFile> {
        match std::fs::read(&self.path) {
            Ok(b) => self.parse(&b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokenFile::default()),
            Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", self.path.display())),
        }
    }

    fn parse(&self, bytes: &[u8]) -> anyhow::Result<TokenFile> {
        if bytes.is_empty() {
            return Ok(TokenFile::default());
        }
        serde_json::from_slice(bytes)
            .map_err(|e| anyhow::anyhow!("{} is not a valid token file: {e}", self.path.display()))
    }

    /// Re-reads the file if it changed. A `stat` is enough while the file is
    /// older than `RACY_WINDOW`; a file modified more recently than that
    /// (relative to when it was read) is read and its content hash compared,
    /// so a revocation written within the same timestamp tick as the previous
    /// write is never missed. A broken file keeps the previous tokens (and
    /// says why) rather than locking everyone out.
    pub fn reload_if_changed(&self) -> anyhow::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let stamp = std::fs::metadata(&self.path).ok().and_then(|m| Some((m.ino(), m.size(), m.modified().ok()?)));
        {
            let state = self.state.read().expect("lock");
            let racy = match (stamp, state.read_at) {
                (Some((_, _, mtime)), Some(read_at)) => mtime + RACY_WINDOW > read_at,
                _ => true,
            };
            if state.read_at.is_some() && state.stamp == stamp && !racy {
                return Ok(());
            }
        }
        let read_at = SystemTime::now();
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => anyhow::bail!("cannot read {}: {e}", self.path.display()),
        };
        let content: [u8; 32] = Sha256::digest(&bytes).into();
        {
            let mut state = self.state.write().expect("lock");
            if state.read_at.is_some() && state.content == content {
                state.stamp = stamp;
                state.read_at = Some(read_at);
                return Ok(());
            }
        }
        let file = self.parse(&bytes)?;
        let tokens = file.tokens.into_iter().map(|t| (t.sha256.clone(), t)).collect();
        *self.state.write().expect("lock") = Loaded { stamp, read_at: Some(read_at), content, tokens };
        Ok(())
    }

    /// The principal of a bearer token, if it is known.
    pub fn authenticate(&self, token: &str) -> Option<Principal> {
        let state = self.state.read().expect("lock");
        state.tokens.get(&hash(token)).map(|e| Principal { token_id: e.id.clone(), tenant: e.tenant, role: e.role })
    }

    /// Creates a token, stores its hash and returns the token (shown once).
    pub fn create(&self, tenant: &Tenant, role: Role, note: &str) -> anyhow::Result<(TokenEntry, String)> {
        let mut secret = [0u8; 24];
        getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let mut id_bytes = [0u8; 4];
        getrandom::fill(&mut id_bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let id = format!("tok_{}", hex::encode(id_bytes));
        let token = format!("komp_{}_{}", &id[4..], hex::encode(secret));
        let entry = TokenEntry {
            id,
            sha256: hash(&token),
            tenant: *tenant,
            role,
            created: komp_audit::now_rfc3339(),
            note: note.to_string(),
        };
        let mut file = self.read_file()?;
        file.tokens.push(entry.clone());
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        komp_artifact::fsutil::write_atomic_mode(&self.path, &serde_json::to_vec_pretty(&file)?, true)?;
        self.reload_if_changed()?;
        Ok((entry, token))
    }

    /// Removes a token by id. Returns whether it existed.
    pub fn revoke(&self, id: &str) -> anyhow::Result<bool> {
        let mut file = self.read_file()?;
        let before = file.tokens.len();
        file.tokens.retain(|t| t.id != id);
        let removed = file.tokens.len() != before;
        if removed {
            komp_artifact::fsutil::write_atomic_mode(&self.path, &serde_json::to_vec_pretty(&file)?, true)?;
            self.reload_if_changed()?;
        }
        Ok(removed)
    }

    /// All token entries (hashes only).
    pub fn list(&self) -> anyhow::Result<Vec<TokenEntry>> {
        Ok(self.read_file()?.tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A revocation written in place within the same timestamp tick, with
    /// the same size (the worst case for a metadata check), is still seen.
    #[test]
    fn a_change_within_one_mtime_tick_is_not_missed() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path()).unwrap();
        let (_, token) = store.create(&"0751".parse().unwrap(), Role::Caller, "t").unwrap();
        assert!(store.authenticate(&token).is_some());
        let path = dir.path().join("tokens.json");
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let revoked = text.replace(&hash(&token), &"0".repeat(64));
        assert_eq!(revoked.len(), text.len());
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.write_all(revoked.as_bytes()).unwrap();
            f.set_modified(before).unwrap();
        }
        store.reload_if_changed().unwrap();
        assert!(store.authenticate(&token).is_none(), "a revoked token must not authenticate");
    }
}
