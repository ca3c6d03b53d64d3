//! Who may do what over HTTP. Pluggable on purpose: today a set of push
//! tokens, later the host's tenants and roles (`publisher`, `admin`, ...).

use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read components, versions, keys or revocations.
    Read,
    /// Publish a component or offer a revocation list.
    Push,
}

/// The parts of a request an authoriser may look at.
#[derive(Debug, Clone, Copy)]
pub struct AuthRequest<'a> {
    pub action: Action,
    /// The token of an `Authorization: Bearer <token>` header, if any.
    pub bearer: Option<&'a str>,
}

/// An authoriser's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthDecision {
    Allow,
    /// No or unknown credentials: 401.
    Unauthenticated,
    /// Known credentials without the right: 403, with a reason.
    Forbidden(String),
}

/// Decides on requests. Implemented for closures, so a host can plug in its
/// own tenant and role model.
pub trait Authorizer: Send + Sync + 'static {
    fn authorize(&self, request: &AuthRequest<'_>) -> AuthDecision;
}

impl<F> Authorizer for F
where
    F: Fn(&AuthRequest<'_>) -> AuthDecision + Send + Sync + 'static,
{
    fn authorize(&self, request: &AuthRequest<'_>) -> AuthDecision {
        self(request)
    }
}

/// Reads are open; a push needs a bearer token whose sha256 is in the set.
/// Only hashes are held, so a leaked configuration does not leak tokens.
#[derive(Debug, Clone, Default)]
pub struct PushTokenHashes {
    hashes: HashSet<[u8; 32]>,
}

impl PushTokenHashes {
    /// From hex sha256 digests of the tokens (see [`hash_token`]).
    pub fn from_hex<I, S>(hashes: I) -> Result<PushTokenHashes, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = HashSet::new();
        for h in hashes {
            let h = h.as_ref().trim();
            let raw = hex::decode(h).map_err(|e| format!("token hash {h:?} is not hex: {e}"))?;
            let raw: [u8; 32] =
                raw.try_into().map_err(|_| format!("token hash {h:?} is not a sha256 (64 hex digits)"))?;
            set.insert(raw);
        }
        Ok(PushTokenHashes { hashes: set })
    }

    /// From the text of a token-hash file: one hex sha256 per line; blank
    /// lines and lines starting with `#` are ignored.
    pub fn from_file_text(text: &str) -> Result<PushTokenHashes, String> {
        Self::from_hex(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')))
    }

    /// From the tokens themselves (tests, or a host that generates them).
    pub fn from_tokens<I, S>(tokens: I) -> PushTokenHashes
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        PushTokenHashes { hashes: tokens.into_iter().map(|t| Sha256::digest(t.as_ref().as_bytes()).into()).collect() }
    }
}

impl Authorizer for PushTokenHashes {
    fn authorize(&self, request: &AuthRequest<'_>) -> AuthDecision {
        match (request.action, request.bearer) {
            (Action::Read, _) => AuthDecision::Allow,
            (Action::Push, Some(t)) if self.hashes.contains(&<[u8; 32]>::from(Sha256::digest(t.as_bytes()))) => {
                AuthDecision::Allow
            }
            (Action::Push, _) => AuthDecision::Unauthenticated,
        }
    }
}

/// [`PushTokenHashes`] kept in a file that operators edit while the registry
/// runs: removing a line revokes that token for the very next push.
///
/// The file is re-read on every push and compared by the sha256 of its
/// content, not by modification time: two writes within one mtime tick (one
/// second on some file systems, or a copy that preserves times) would
/// otherwise leave a revoked token working. Pushes are rare and the file is
/// small, so reading it each time costs nothing that matters; reads of the
/// registry do not touch it.
///
/// If the file becomes unreadable or invalid, pushes are refused until it is
/// fixed (fail closed): a half-edited file must not keep old tokens alive.
pub struct PushTokenFile {
    path: PathBuf,
    cache: Mutex<Option<([u8; 32], PushTokenHashes)>>,
}

impl std::fmt::Debug for PushTokenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushTokenFile").field("path", &self.path).finish_non_exhaustive()
    }
}

impl PushTokenFile {
    /// Reads `path` once, so a missing or malformed file is reported at
    /// start-up rather than on the first push.
    pub fn open(path: &Path) -> Result<PushTokenFile, String> {
        let file = PushTokenFile { path: path.to_path_buf(), cache: Mutex::new(None) };
        file.current()?;
        Ok(file)
    }

    /// The hashes in the file as it is now.
    fn current(&self) -> Result<PushTokenHashes, String> {
        let bytes = std::fs::read(&self.path).map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((d, hashes)) = cache.as_ref() {
            if *d == digest {
                return Ok(hashes.clone());
            }
        }
        let text = String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", self.path.display()))?;
        let hashes = PushTokenHashes::from_file_text(&text).map_err(|e| format!("{}: {e}", self.path.display()))?;
        *cache = Some((digest, hashes.clone()));
        Ok(hashes)
    }
}

impl Authorizer for PushTokenFile {
    fn authorize(&self, request: &AuthRequest<'_>) -> AuthDecision {
        match request.action {
            Action::Read => AuthDecision::Allow,
            Action::Push => match self.current() {
                Ok(hashes) => hashes.authorize(request),
                // The reason names a server path: it is for the operator's
                // log, not for the client.
                Err(_) => AuthDecision::Forbidden(
                    "pushes are refused: this registry's push token file cannot be read; ask its operator".into(),
                ),
            },
        }
    }
}

/// Hex sha256 of a token, the form kept in configuration.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
