//! Who may do what over HTTP. Pluggable on purpose: today a set of push
//! tokens, later the host's tenants and roles (`publisher`, `admin`, ...).

use sha2::{Digest, Sha256};
use std::collections::HashSet;

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

/// Hex sha256 of a token, the form kept in configuration.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
