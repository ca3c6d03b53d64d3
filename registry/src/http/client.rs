//! A small blocking client for the registry API (plain HTTP).
//!
//! It decodes what the server says, nothing more: whatever it returns must
//! still be verified (see [`super::sync`]). TLS is expected to be terminated
//! in front of the registry or to be added when a deployment needs it.

use super::{ErrorBody, ShowResponse, VersionsResponse, API_PREFIX};
use crate::revocation::SignedRevocationList;
use crate::store::{ComponentSummary, Published};
use std::time::Duration;

/// Largest file the client downloads.
pub const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 512 << 20;
/// Largest JSON document the client reads.
const MAX_JSON_BYTES: u64 = 64 << 20;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{url}: HTTP {status}: {message}")]
    Http { url: String, status: u16, message: String },
    #[error("{url}: {message}")]
    Transport { url: String, message: String },
    #[error("{url}: unexpected response: {message}")]
    Decode { url: String, message: String },
}

impl ClientError {
    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A client for one registry base URL, e.g. `http://127.0.0.1:7070`.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
    max_download: u64,
}

impl Client {
    pub fn new(base_url: &str) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Registries are addressed directly; an HTTP(S)_PROXY from the
            // environment must not silently reroute them.
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(300)))
            .build();
        Client {
            base: base_url.trim_end_matches('/').to_string(),
            agent: config.into(),
            max_download: DEFAULT_MAX_DOWNLOAD_BYTES,
        }
    }

    /// Sets the largest file [`Self::artifact`] accepts.
    pub fn max_download_bytes(mut self, n: u64) -> Self {
        self.max_download = n;
        self
    }

    fn url(&self, path: &str) -> String {
        format!("{}{API_PREFIX}{path}", self.base)
    }

    fn read(&self, url: &str, resp: ureq::http::Response<ureq::Body>, limit: u64) -> Result<Vec<u8>, ClientError> {
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        let bytes = body
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| ClientError::Transport { url: url.into(), message: e.to_string() })?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| b.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes[..bytes.len().min(500)]).into_owned());
            return Err(ClientError::Http { url: url.into(), status, message });
        }
        Ok(bytes)
    }

    fn get_bytes(&self, path: &str, limit: u64) -> Result<Vec<u8>, ClientError> {
        let url = self.url(path);
        let resp = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| ClientError::Transport { url: url.clone(), message: e.to_string() })?;
        self.read(&url, resp, limit)
    }

    fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let bytes = self.get_bytes(path, MAX_JSON_BYTES)?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode { url: self.url(path), message: e.to_string() })
    }

    /// All components.
    pub fn list(&self) -> Result<Vec<ComponentSummary>, ClientError> {
        #[derive(serde::Deserialize)]
        struct Body {
            components: Vec<ComponentSummary>,
        }
        Ok(self.get_json::<Body>("/components")?.components)
    }

    /// The versions of `name`.
    pub fn versions(&self, name: &str) -> Result<VersionsResponse, ClientError> {
        self.get_json(&format!("/components/{name}"))
    }

    /// Index entry and manifest of `name@version`.
    pub fn show(&self, name: &str, version: &semver::Version) -> Result<ShowResponse, ClientError> {
        self.get_json(&format!("/components/{name}/{version}"))
    }

    /// The file of `name@version`, unverified.
    pub fn artifact(&self, name: &str, version: &semver::Version) -> Result<Vec<u8>, ClientError> {
        self.get_bytes(&format!("/components/{name}/{version}/artifact"), self.max_download)
    }

    /// The server's signed revocation list, unverified (`None` if it has none).
    pub fn revocations(&self) -> Result<Option<SignedRevocationList>, ClientError> {
        match self.get_json("/revocations") {
            Ok(list) => Ok(Some(list)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Publishes a file; the server verifies it against its own policy.
    pub fn push(&self, bytes: &[u8], token: Option<&str>) -> Result<Published, ClientError> {
        let url = self.url("/components");
        let mut req = self.agent.put(&url).header("content-type", "application/wasm");
        if let Some(t) = token {
            req = req.header("authorization", &format!("Bearer {t}"));
        }
        let resp = req.send(bytes).map_err(|e| ClientError::Transport { url: url.clone(), message: e.to_string() })?;
        let body = self.read(&url, resp, MAX_JSON_BYTES)?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Decode { url, message: e.to_string() })
    }

    /// Offers a signed revocation list; the server accepts only a newer one
    /// signed by an approver it trusts.
    pub fn push_revocations(&self, list: &SignedRevocationList, token: Option<&str>) -> Result<(), ClientError> {
        let url = self.url("/revocations");
        let mut req = self.agent.put(&url).header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("authorization", &format!("Bearer {t}"));
        }
        let resp = req
            .send(list.to_json())
            .map_err(|e| ClientError::Transport { url: url.clone(), message: e.to_string() })?;
        self.read(&url, resp, MAX_JSON_BYTES).map(|_| ())
    }
}
