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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
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

impl Role {
    /// Whether a token with this role may act as `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self == needed || self == Role::Admin
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub token_id: String,
    pub tenant: String,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenEntry {
    pub id: String,
    /// Hex sha256 of the whole token.
    pub sha256: String,
    pub tenant: String,
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
pub use komp_audit::valid_tenant;

/// The token store of a data directory.
pub struct TokenStore {
    path: PathBuf,
    state: RwLock<(Option<SystemTime>, HashMap<String, TokenEntry>)>,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl TokenStore {
    pub fn open(data_dir: &Path) -> anyhow::Result<TokenStore> {
        let store = TokenStore { path: data_dir.join("tokens.json"), state: RwLock::new((None, HashMap::new())) };
        store.reload_if_changed()?;
        Ok(store)
    }

    fn read_file(&self) -> anyhow::Result<TokenFile> {
        match std::fs::read(&self.path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| anyhow::anyhow!("{} is not a valid token file: {e}", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokenFile::default()),
            Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", self.path.display())),
        }
    }

    /// Re-reads the file if its modification time changed. A broken file
    /// keeps the previous tokens (and logs why) rather than locking everyone out.
    pub fn reload_if_changed(&self) -> anyhow::Result<()> {
        let mtime = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        if self.state.read().expect("lock").0 == mtime && mtime.is_some() {
            return Ok(());
        }
        let file = self.read_file()?;
        let map = file.tokens.into_iter().map(|t| (t.sha256.clone(), t)).collect();
        *self.state.write().expect("lock") = (mtime, map);
        Ok(())
    }

    /// The principal of a bearer token, if it is known.
    pub fn authenticate(&self, token: &str) -> Option<Principal> {
        let state = self.state.read().expect("lock");
        state.1.get(&hash(token)).map(|e| Principal { token_id: e.id.clone(), tenant: e.tenant.clone(), role: e.role })
    }

    /// Creates a token, stores its hash and returns the token (shown once).
    pub fn create(&self, tenant: &str, role: Role, note: &str) -> anyhow::Result<(TokenEntry, String)> {
        anyhow::ensure!(valid_tenant(tenant), "tenant {tenant:?} is not a kommunekode (four digits, e.g. 0751)");
        let mut secret = [0u8; 24];
        getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let mut id_bytes = [0u8; 4];
        getrandom::fill(&mut id_bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let id = format!("tok_{}", hex::encode(id_bytes));
        let token = format!("komp_{}_{}", &id[4..], hex::encode(secret));
        let entry = TokenEntry {
            id,
            sha256: hash(&token),
            tenant: tenant.to_string(),
            role,
            created: crate::server::time::now_rfc3339(),
            note: note.to_string(),
        };
        let mut file = self.read_file()?;
        file.tokens.push(entry.clone());
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        crate::engine::write_atomic(&self.path, &serde_json::to_vec_pretty(&file)?, true)?;
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
            crate::engine::write_atomic(&self.path, &serde_json::to_vec_pretty(&file)?, true)?;
            self.reload_if_changed()?;
        }
        Ok(removed)
    }

    /// All token entries (hashes only).
    pub fn list(&self) -> anyhow::Result<Vec<TokenEntry>> {
        Ok(self.read_file()?.tokens)
    }
}
