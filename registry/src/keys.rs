//! Ed25519 keys with a role, and their files.
//!
//! A key is either a `publisher` key (whoever built the component signs it)
//! or an `approver` key (the central body endorses a component for common use
//! and signs revocation lists). The role travels with the key files so that a
//! tool can refuse to endorse with a publisher key, but what a *host* trusts a
//! key for is decided by its [`crate::trust::TrustPolicy`], never by the file.
//!
//! Files are small JSON documents: easy to read, diff and mail (the public
//! one), and to keep with the right permissions (the private one, 0600).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Prefix of every key id. It names the algorithm, not the role, so a key id
/// stays the same whatever a policy decides to trust the key for.
pub const KEY_ID_PREFIX: &str = "ed25519:";
const PRIVATE_KIND: &str = "komp-ed25519-private-key";
const PUBLIC_KIND: &str = "komp-ed25519-public-key";

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Signs the components it (or its organisation) built.
    Publisher,
    /// Endorses components for common use and signs revocation lists.
    Approver,
}

/// A text that names no key [`Role`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown key role `{0}`: expected `publisher` or `approver`")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        match s {
            "publisher" => Ok(Role::Publisher),
            "approver" => Ok(Role::Approver),
            other => Err(UnknownRole(other.chars().take(40).collect())),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Publisher => "publisher",
            Role::Approver => "approver",
        })
    }
}

/// What can go wrong with key files.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write key file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path} already exists; refusing to overwrite a key")]
    Exists { path: PathBuf },
    #[error("{path} is not a komp {expected} file: {reason}")]
    Format { path: PathBuf, expected: &'static str, reason: String },
    #[error("private key file {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("key id {stated} does not match the key (its id is {actual})")]
    KeyIdMismatch { stated: String, actual: String },
    #[error("invalid public key: {0}")]
    InvalidKey(String),
}

/// The stable id of a public key: `ed25519:` and the first 16 hex digits of
/// the SHA-256 of the 32 key bytes. Short enough to read aloud, long enough
/// (64 bits) that accidental collisions do not happen among a few hundred keys;
/// a deliberate collision gains nothing, because the signature is checked
/// with the key the policy holds, not with one the file supplies.
pub fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    format!("{KEY_ID_PREFIX}{}", &hex::encode(digest)[..16])
}

/// A public key with its id, role and owner, as published and as listed in
/// trust policies. Serialised as `{key_id, role, owner, public_key}` with the
/// key in base64; reading checks that the id matches the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PublicKeyFile", into = "PublicKeyFile")]
pub struct PublicKey {
    pub key_id: String,
    pub role: Role,
    /// Who holds the private key, e.g. "Aarhus Kommune" or "KL fælles AI".
    pub owner: String,
    pub key: VerifyingKey,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublicKeyFile {
    #[serde(default)]
    kind: Option<String>,
    key_id: String,
    role: Role,
    owner: String,
    public_key: String,
}

impl TryFrom<PublicKeyFile> for PublicKey {
    type Error = KeyError;
    fn try_from(f: PublicKeyFile) -> Result<Self, KeyError> {
        if let Some(kind) = &f.kind {
            if kind != PUBLIC_KIND {
                return Err(KeyError::InvalidKey(format!("kind is {kind:?}, expected {PUBLIC_KIND:?}")));
            }
        }
        let raw = B64
            .decode(f.public_key.trim())
            .map_err(|e| KeyError::InvalidKey(format!("public_key is not base64: {e}")))?;
        let raw: [u8; 32] = raw
            .try_into()
            .map_err(|v: Vec<u8>| KeyError::InvalidKey(format!("public_key is {} bytes; expected 32", v.len())))?;
        let key = VerifyingKey::from_bytes(&raw).map_err(|e| KeyError::InvalidKey(e.to_string()))?;
        let actual = key_id(&key);
        if actual != f.key_id {
            return Err(KeyError::KeyIdMismatch { stated: f.key_id, actual });
        }
        Ok(PublicKey { key_id: actual, role: f.role, owner: f.owner, key })
    }
}

impl From<PublicKey> for PublicKeyFile {
    fn from(k: PublicKey) -> Self {
        PublicKeyFile {
            kind: Some(PUBLIC_KIND.into()),
            key_id: k.key_id,
            role: k.role,
            owner: k.owner,
            public_key: B64.encode(k.key.as_bytes()),
        }
    }
}

impl PublicKey {
    /// Reads a public key file written by [`KeyPair::save`] (or by hand).
    pub fn load(path: &Path) -> Result<PublicKey, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read { path: path.into(), source })?;
        serde_json::from_str(&text).map_err(|e| KeyError::Format {
            path: path.into(),
            expected: "public key",
            reason: e.to_string(),
        })
    }

    /// The JSON text of this key's file.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("public key serialises")
    }
}

/// A private key with its role and owner.
pub struct KeyPair {
    pub signing: SigningKey,
    pub role: Role,
    pub owner: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("key_id", &self.key_id())
            .field("role", &self.role)
            .field("owner", &self.owner)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivateKeyFile {
    kind: String,
    key_id: String,
    role: Role,
    owner: String,
    /// The 32-byte Ed25519 seed, base64.
    secret_key: String,
}

impl KeyPair {
    /// A fresh key from the operating system's random source.
    pub fn generate(role: Role, owner: &str) -> KeyPair {
        KeyPair { signing: SigningKey::generate(&mut rand::rngs::OsRng), role, owner: owner.to_string() }
    }

    /// A key from a known 32-byte seed (tests and test vectors).
    pub fn from_seed(seed: [u8; 32], role: Role, owner: &str) -> KeyPair {
        KeyPair { signing: SigningKey::from_bytes(&seed), role, owner: owner.to_string() }
    }

    pub fn key_id(&self) -> String {
        key_id(&self.signing.verifying_key())
    }

    /// The public half, ready to publish or to put in a trust policy.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            key_id: self.key_id(),
            role: self.role,
            owner: self.owner.clone(),
            key: self.signing.verifying_key(),
        }
    }

    /// File names used by [`Self::save`]: `<role>-<id>.private.json` and
    /// `<role>-<id>.public.json`.
    pub fn file_stem(&self) -> String {
        format!("{}-{}", self.role, &self.key_id()[KEY_ID_PREFIX.len()..])
    }

    /// Writes the private key (mode 0600, never overwriting) and the public
    /// key into `dir`, creating it if needed. Returns (private, public) paths.
    pub fn save(&self, dir: &Path) -> Result<(PathBuf, PathBuf), KeyError> {
        std::fs::create_dir_all(dir).map_err(|source| KeyError::Write { path: dir.into(), source })?;
        let private = dir.join(format!("{}.private.json", self.file_stem()));
        let public = dir.join(format!("{}.public.json", self.file_stem()));
        for p in [&private, &public] {
            if p.exists() {
                return Err(KeyError::Exists { path: p.clone() });
            }
        }
        let body = PrivateKeyFile {
            kind: PRIVATE_KIND.into(),
            key_id: self.key_id(),
            role: self.role,
            owner: self.owner.clone(),
            secret_key: B64.encode(self.signing.to_bytes()),
        };
        let text = serde_json::to_string_pretty(&body).expect("serialises") + "\n";
        write_new(&private, text.as_bytes(), 0o600)?;
        write_new(&public, (self.public().to_json() + "\n").as_bytes(), 0o644)?;
        Ok((private, public))
    }

    /// Reads a private key file. Refuses files that others can read, as ssh
    /// does, because a leaked publisher or approver key must be revoked.
    pub fn load(path: &Path) -> Result<KeyPair, KeyError> {
        let meta = std::fs::metadata(path).map_err(|source| KeyError::Read { path: path.into(), source })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyError::Permissions { path: path.into(), mode });
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read { path: path.into(), source })?;
        let format_err = |reason: String| KeyError::Format { path: path.into(), expected: "private key", reason };
        let f: PrivateKeyFile = serde_json::from_str(&text).map_err(|e| format_err(e.to_string()))?;
        if f.kind != PRIVATE_KIND {
            return Err(format_err(format!("kind is {:?}, expected {PRIVATE_KIND:?}", f.kind)));
        }
        let seed = B64.decode(f.secret_key.trim()).map_err(|e| format_err(format!("secret_key is not base64: {e}")))?;
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|v: Vec<u8>| format_err(format!("secret_key is {} bytes; expected 32", v.len())))?;
        let pair = KeyPair::from_seed(seed, f.role, &f.owner);
        if pair.key_id() != f.key_id {
            return Err(KeyError::KeyIdMismatch { stated: f.key_id, actual: pair.key_id() });
        }
        Ok(pair)
    }
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let werr = |source| KeyError::Write { path: path.into(), source };
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists { path: path.into() }
        } else {
            werr(e)
        }
    })?;
    f.write_all(bytes).map_err(werr)?;
    f.sync_all().map_err(werr)
}
