//! The OCI distribution API, blocking: manifests, blobs, tags, uploads,
//! with authentication, TLS and size limits. It checks what the transport
//! can check (status, media type, size, digest); what the bytes *are* is
//! decided by the trust policy afterwards.

use crate::auth::{Challenge, Credentials};
use crate::error::OciError;
use crate::reference::Reference;
use crate::sha256_digest;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest component layer a pull accepts by default (as the komp registry's own limit).
pub const DEFAULT_MAX_COMPONENT_BYTES: u64 = 512 << 20;
/// Largest manifest (the distribution spec's registries use 4 MiB).
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Largest config blob, revocation list, token or listing answer.
pub const MAX_SMALL_BYTES: u64 = 16 << 20;

/// How to reach and authenticate to one registry.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub credentials: Credentials,
    /// `http://` instead of `https://` (a registry on loopback or inside a
    /// closed network). Credentials are then sent in clear text.
    pub plain_http: bool,
    /// PEM file of the CA(s) that sign the registry's certificate. It
    /// replaces the built-in public roots (Mozilla's).
    pub ca_file: Option<PathBuf>,
    /// An HTTP(S) proxy URL. The environment's `HTTPS_PROXY` is *not* used,
    /// so a registry is never silently rerouted.
    pub proxy: Option<String>,
    /// Whole-request timeout (connect, send, receive).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Largest component layer a pull accepts.
    pub max_component_bytes: u64,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            credentials: Credentials::Anonymous,
            plain_http: false,
            ca_file: None,
            proxy: None,
            timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            max_component_bytes: DEFAULT_MAX_COMPONENT_BYTES,
        }
    }
}

#[derive(Default)]
struct AuthState {
    /// The registry asked for Basic and took our credentials.
    basic: bool,
    /// Bearer tokens by scope.
    tokens: HashMap<String, String>,
}

/// A client for one registry (`host[:port]`). Cheap to clone; clones share
/// the connection pool and the token cache.
#[derive(Clone)]
pub struct OciClient {
    registry: String,
    base: String,
    agent: ureq::Agent,
    credentials: Credentials,
    plain_http: bool,
    pub(crate) max_component_bytes: u64,
    auth: Arc<Mutex<AuthState>>,
}

impl std::fmt::Debug for OciClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OciClient").field("base", &self.base).field("credentials", &self.credentials).finish()
    }
}

/// A body read from the registry with the headers that matter.
pub(crate) struct Fetched {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub digest_header: Option<String>,
}

impl OciClient {
    /// A client for `registry` (`host[:port]`, as in a [`Reference`]).
    pub fn new(registry: &str, options: &ClientOptions) -> Result<OciClient, OciError> {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(path) = &options.ca_file {
            let bad = |reason: String| OciError::CaFile { path: path.clone(), reason };
            let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
            let mut certs = Vec::new();
            for item in ureq::tls::parse_pem(&pem) {
                match item.map_err(|e| bad(e.to_string()))? {
                    ureq::tls::PemItem::Certificate(c) => certs.push(c.to_owned()),
                    _ => continue,
                }
            }
            if certs.is_empty() {
                return Err(bad("it holds no certificate".into()));
            }
            tls = tls.root_certs(ureq::tls::RootCerts::Specific(Arc::new(certs)));
        }
        let proxy = match &options.proxy {
            Some(p) => Some(ureq::Proxy::new(p).map_err(|e| OciError::Unreachable {
                url: p.clone(),
                message: format!("the proxy URL cannot be used: {e}"),
            })?),
            None => None,
        };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(proxy)
            .timeout_global(Some(options.timeout))
            .timeout_connect(Some(options.connect_timeout))
            .tls_config(tls.build())
            .user_agent(concat!("komp-oci/", env!("CARGO_PKG_VERSION")))
            .build();
        let scheme = if options.plain_http { "http" } else { "https" };
        Ok(OciClient {
            registry: registry.to_string(),
            base: format!("{scheme}://{registry}"),
            agent: config.into(),
            credentials: options.credentials.clone(),
            plain_http: options.plain_http,
            max_component_bytes: options.max_component_bytes,
            auth: Arc::default(),
        })
    }

    /// A client for the registry of `reference`.
    pub fn for_reference(reference: &Reference, options: &ClientOptions) -> Result<OciClient, OciError> {
        OciClient::new(&reference.registry, options)
    }

    pub fn registry(&self) -> &str {
        &self.registry
    }

    pub(crate) fn check_registry(&self, r: &Reference) -> Result<(), OciError> {
        if r.registry == self.registry {
            Ok(())
        } else {
            Err(OciError::OtherRegistry { reference: r.to_string(), other: self.registry.clone() })
        }
    }

    fn auth_header(&self, scope: &str) -> Option<String> {
        if let Credentials::Bearer { token } = &self.credentials {
            return Some(format!("Bearer {token}"));
        }
        let state = self.auth.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = state.tokens.get(scope) {
            return Some(format!("Bearer {t}"));
        }
        if state.basic {
            return self.credentials.basic_header();
        }
        None
    }

    fn send_once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        auth: Option<&str>,
    ) -> Result<ureq::http::Response<ureq::Body>, OciError> {
        let mut b = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        let bad_request =
            |e: ureq::http::Error| OciError::Unreachable { url: url.to_string(), message: format!("bad request: {e}") };
        let result = match body {
            Some(bytes) => self.agent.run(b.body(bytes).map_err(bad_request)?),
            None => self.agent.run(b.body(()).map_err(bad_request)?),
        };
        result.map_err(|e| transport_error(url, e))
    }

    /// Sends a request, answering the registry's authentication challenge
    /// (once) if it makes one. `scope` is the token scope the request needs.
    pub(crate) fn send(
        &self,
        method: &str,
        url: &str,
        scope: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<ureq::http::Response<ureq::Body>, OciError> {
        let mut answered = false;
        loop {
            let auth = self.auth_header(scope);
            let resp = self.send_once(method, url, headers, body, auth.as_deref())?;
            if resp.status().as_u16() != 401 {
                return Ok(resp);
            }
            let header = header(&resp, "www-authenticate").unwrap_or_default();
            let detail = error_message(&read_body(url, resp, "error answer", MAX_SMALL_BYTES).unwrap_or_default());
            let unauthorized = || OciError::Unauthorized {
                registry: self.registry.clone(),
                url: url.to_string(),
                scope: scope.to_string(),
                detail: detail.clone(),
            };
            if answered
                || auth
                    .as_deref()
                    .is_some_and(|a| a.starts_with("Bearer") && matches!(self.credentials, Credentials::Bearer { .. }))
            {
                return Err(unauthorized());
            }
            if header.is_empty() {
                return Err(if auth.is_some() {
                    unauthorized()
                } else {
                    OciError::AuthRequired {
                        registry: self.registry.clone(),
                        url: url.to_string(),
                        challenge: "no WWW-Authenticate challenge".into(),
                    }
                });
            }
            let challenge = Challenge::parse(&header).map_err(|reason| OciError::BadChallenge {
                url: url.to_string(),
                header: header.clone(),
                reason,
            })?;
            answered = true;
            match challenge.scheme.as_str() {
                "basic" => {
                    if self.credentials.basic_header().is_none() {
                        return Err(OciError::AuthRequired {
                            registry: self.registry.clone(),
                            url: url.to_string(),
                            challenge: "Basic".into(),
                        });
                    }
                    self.auth.lock().unwrap_or_else(|p| p.into_inner()).basic = true;
                }
                "bearer" => {
                    let token = self.fetch_token(url, &challenge, &header, scope)?;
                    self.auth.lock().unwrap_or_else(|p| p.into_inner()).tokens.insert(scope.to_string(), token);
                }
                other => {
                    return Err(OciError::BadChallenge {
                        url: url.to_string(),
                        header: header.clone(),
                        reason: format!("the scheme {other:?} is not supported (only Basic and Bearer)"),
                    })
                }
            }
        }
    }

    /// The token service exchange of the distribution spec: `GET realm?service=…&scope=…`,
    /// with basic credentials if we have them, answered by `{"token": …}` or `{"access_token": …}`.
    fn fetch_token(&self, url: &str, challenge: &Challenge, header: &str, scope: &str) -> Result<String, OciError> {
        let realm = challenge.param("realm").ok_or_else(|| OciError::BadChallenge {
            url: url.to_string(),
            header: header.to_string(),
            reason: "a Bearer challenge without realm".into(),
        })?;
        let tls_realm = realm.starts_with("https://");
        if !(tls_realm || (self.plain_http && realm.starts_with("http://"))) {
            return Err(OciError::TokenService {
                realm: realm.to_string(),
                scope: scope.to_string(),
                message: "the token service must be an https:// URL (http:// only with --plain-http)".into(),
            });
        }
        let mut token_url = format!("{realm}{}", if realm.contains('?') { '&' } else { '?' });
        if let Some(service) = challenge.param("service") {
            token_url.push_str(&format!("service={}&", query_escape(service)));
        }
        token_url.push_str(&format!("scope={}", query_escape(scope)));
        let basic = self.credentials.basic_header();
        let resp = self.send_once("GET", &token_url, &[("accept", "application/json")], None, basic.as_deref())?;
        let status = resp.status().as_u16();
        let err =
            |message: String| OciError::TokenService { realm: realm.to_string(), scope: scope.to_string(), message };
        let body = read_body(&token_url, resp, "token answer", MAX_SMALL_BYTES)?;
        if status != 200 {
            return Err(err(format!("HTTP {status}: {}", error_message(&body))));
        }
        #[derive(serde::Deserialize)]
        struct TokenAnswer {
            token: Option<String>,
            access_token: Option<String>,
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| err(format!("not a token answer: {e}")))?;
        answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| err("the answer holds no token".into()))
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/v2/{path}", self.base)
    }

    /// `GET` of a manifest, checked: status, size, `Docker-Content-Digest`,
    /// and the pinned digest if the reference has one. The media type is
    /// returned for the caller to check.
    pub(crate) fn get_manifest(&self, r: &Reference, accept: &str) -> Result<(Fetched, String, String), OciError> {
        self.check_registry(r)?;
        let url = self.url(&format!("{}/manifests/{}", r.repository, r.manifest_ref()));
        let resp = self.send("GET", &url, &pull_scope(&r.repository), &[("accept", accept)], None)?;
        let fetched = self.expect_ok("GET", &url, resp, "the manifest", MAX_MANIFEST_BYTES, Some(r))?;
        let digest = sha256_digest(&fetched.bytes);
        for expected in [fetched.digest_header.as_deref(), r.digest.as_deref()].into_iter().flatten() {
            if expected.starts_with("sha256:") && expected != digest {
                return Err(OciError::DigestMismatch {
                    what: "the manifest".into(),
                    url: url.clone(),
                    expected: expected.to_string(),
                    actual: digest,
                });
            }
        }
        Ok((fetched, digest, url))
    }

    /// `GET` of a blob that a manifest describes, refused unless it has
    /// exactly `size` bytes (at most `limit`) and the digest `digest`.
    pub(crate) fn get_blob(
        &self,
        repo: &Reference,
        what: &str,
        digest: &str,
        size: u64,
        limit: u64,
    ) -> Result<Vec<u8>, OciError> {
        let url = self.url(&format!("{}/blobs/{digest}", repo.repository));
        if size > limit {
            return Err(OciError::TooLarge { what: what.into(), url, size, limit });
        }
        let resp = self.send("GET", &url, &pull_scope(&repo.repository), &[], None)?;
        // One byte more than announced, so an over-long answer is seen as such.
        let fetched = self.expect_ok("GET", &url, resp, what, size.saturating_add(1), None)?;
        let got = fetched.bytes.len() as u64;
        if got != size {
            return Err(OciError::SizeMismatch { what: what.into(), url, expected: size, got });
        }
        let actual = sha256_digest(&fetched.bytes);
        if actual != digest {
            return Err(OciError::DigestMismatch { what: what.into(), url, expected: digest.into(), actual });
        }
        Ok(fetched.bytes)
    }

    fn expect_ok(
        &self,
        method: &str,
        url: &str,
        resp: ureq::http::Response<ureq::Body>,
        what: &str,
        limit: u64,
        reference: Option<&Reference>,
    ) -> Result<Fetched, OciError> {
        let status = resp.status().as_u16();
        let content_type = header(&resp, "content-type");
        let digest_header = header(&resp, "docker-content-digest");
        if let Some(len) = header(&resp, "content-length").and_then(|l| l.parse::<u64>().ok()) {
            if (200..300).contains(&status) && len > limit {
                return Err(OciError::TooLarge { what: what.into(), url: url.into(), size: len, limit });
            }
        }
        let bytes = read_body(url, resp, what, limit)?;
        if status == 404 {
            if let Some(r) = reference {
                return Err(OciError::NotFound { reference: r.to_string(), detail: error_message(&bytes) });
            }
        }
        if !(200..300).contains(&status) {
            return Err(OciError::Registry {
                method: method.into(),
                url: url.into(),
                status,
                message: error_message(&bytes),
            });
        }
        Ok(Fetched { bytes, content_type, digest_header })
    }

    /// Whether the repository holds the blob.
    pub(crate) fn blob_exists(&self, repo: &Reference, digest: &str) -> Result<bool, OciError> {
        let url = self.url(&format!("{}/blobs/{digest}", repo.repository));
        let resp = self.send("HEAD", &url, &push_scope(&repo.repository), &[], None)?;
        match resp.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            status => Err(OciError::Registry { method: "HEAD".into(), url, status, message: String::new() }),
        }
    }

    /// Uploads `bytes` as a blob (monolithic: `POST` then one `PUT`),
    /// unless the repository already has it. Returns its digest.
    pub(crate) fn push_blob(&self, repo: &Reference, bytes: &[u8]) -> Result<String, OciError> {
        self.check_registry(repo)?;
        let digest = sha256_digest(bytes);
        if self.blob_exists(repo, &digest)? {
            return Ok(digest);
        }
        let scope = push_scope(&repo.repository);
        let start = self.url(&format!("{}/blobs/uploads/", repo.repository));
        let resp = self.send("POST", &start, &scope, &[], None)?;
        let status = resp.status().as_u16();
        let location = header(&resp, "location");
        let body = read_body(&start, resp, "the upload answer", MAX_SMALL_BYTES)?;
        if status != 202 {
            return Err(OciError::Registry {
                method: "POST".into(),
                url: start,
                status,
                message: error_message(&body),
            });
        }
        let location = location.ok_or_else(|| OciError::Registry {
            method: "POST".into(),
            url: start.clone(),
            status,
            message: "the registry did not say where to upload (no Location header)".into(),
        })?;
        let location = if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else if location.starts_with(&format!("{}/", self.base)) {
            location
        } else {
            return Err(OciError::Registry {
                method: "POST".into(),
                url: start,
                status,
                message: format!(
                    "the upload location {location:?} is on another host; komp uploads only to the registry itself"
                ),
            });
        };
        let put =
            format!("{location}{}digest={}", if location.contains('?') { '&' } else { '?' }, query_escape(&digest));
        let resp = self.send("PUT", &put, &scope, &[("content-type", "application/octet-stream")], Some(bytes))?;
        let status = resp.status().as_u16();
        let body = read_body(&put, resp, "the upload answer", MAX_SMALL_BYTES)?;
        if status != 201 {
            return Err(OciError::Registry { method: "PUT".into(), url: put, status, message: error_message(&body) });
        }
        Ok(digest)
    }

    /// `PUT` of a manifest under `r`'s tag; returns the manifest digest.
    pub(crate) fn put_manifest(&self, r: &Reference, bytes: &[u8], media_type: &str) -> Result<String, OciError> {
        self.check_registry(r)?;
        let url = self.url(&format!("{}/manifests/{}", r.repository, r.manifest_ref()));
        let resp = self.send("PUT", &url, &push_scope(&r.repository), &[("content-type", media_type)], Some(bytes))?;
        let status = resp.status().as_u16();
        let body = read_body(&url, resp, "the manifest answer", MAX_SMALL_BYTES)?;
        if status != 201 {
            return Err(OciError::Registry { method: "PUT".into(), url, status, message: error_message(&body) });
        }
        Ok(sha256_digest(bytes))
    }

    /// Every tag of a repository (following `Link` pagination). A repository
    /// the registry does not know has no tags.
    pub fn tags(&self, repo: &Reference) -> Result<Vec<String>, OciError> {
        self.check_registry(repo)?;
        #[derive(serde::Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut out = Vec::new();
        let mut next = Some(self.url(&format!("{}/tags/list?n=1000", repo.repository)));
        for _ in 0..1000 {
            let Some(url) = next.take() else { break };
            let resp =
                self.send("GET", &url, &pull_scope(&repo.repository), &[("accept", "application/json")], None)?;
            if resp.status().as_u16() == 404 {
                return Ok(out);
            }
            next = header(&resp, "link").and_then(|l| next_link(&l)).map(|l| self.absolute(&l));
            let fetched = self.expect_ok("GET", &url, resp, "the tag list", MAX_SMALL_BYTES, None)?;
            let list: TagList = serde_json::from_slice(&fetched.bytes)
                .map_err(|e| OciError::BadManifest { url: url.clone(), reason: format!("not a tag list: {e}") })?;
            out.extend(list.tags.unwrap_or_default());
        }
        Ok(out)
    }

    /// The registry's catalog (`/v2/_catalog`), where the registry offers one.
    pub fn catalog(&self) -> Result<Vec<String>, OciError> {
        #[derive(serde::Deserialize)]
        struct Catalog {
            #[serde(default)]
            repositories: Option<Vec<String>>,
        }
        let mut out = Vec::new();
        let mut next = Some(self.url("_catalog?n=1000"));
        for _ in 0..1000 {
            let Some(url) = next.take() else { break };
            let resp = self.send("GET", &url, "registry:catalog:*", &[("accept", "application/json")], None)?;
            next = header(&resp, "link").and_then(|l| next_link(&l)).map(|l| self.absolute(&l));
            let fetched = self.expect_ok("GET", &url, resp, "the catalog", MAX_SMALL_BYTES, None)?;
            let list: Catalog = serde_json::from_slice(&fetched.bytes)
                .map_err(|e| OciError::BadManifest { url: url.clone(), reason: format!("not a catalog: {e}") })?;
            out.extend(list.repositories.unwrap_or_default());
        }
        Ok(out)
    }

    fn absolute(&self, link: &str) -> String {
        if link.starts_with('/') {
            format!("{}{link}", self.base)
        } else {
            link.to_string()
        }
    }
}

pub(crate) fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

pub(crate) fn push_scope(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

fn header(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn read_body(url: &str, resp: ureq::http::Response<ureq::Body>, what: &str, limit: u64) -> Result<Vec<u8>, OciError> {
    let mut body = resp.into_body();
    body.with_config().limit(limit).read_to_vec().map_err(|e| match e {
        ureq::Error::BodyExceedsLimit(_) => {
            OciError::TooLarge { what: what.into(), url: url.into(), size: limit.saturating_add(1), limit }
        }
        other => OciError::Transfer { url: url.into(), message: other.to_string() },
    })
}

/// `CODE: message` of the distribution spec's `{"errors": [...]}`, else the start of the body.
pub(crate) fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(e) = serde_json::from_slice::<Errors>(body) {
        if !e.errors.is_empty() {
            return e.errors.iter().map(|i| format!("{}: {}", i.code, i.message)).collect::<Vec<_>>().join("; ");
        }
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    text.chars().filter(|c| !c.is_control()).collect::<String>().trim().to_string()
}

fn transport_error(url: &str, e: ureq::Error) -> OciError {
    use std::io::ErrorKind::*;
    let unreachable = |message: String| OciError::Unreachable { url: url.into(), message };
    match e {
        ureq::Error::Tls(m) => OciError::Tls { url: url.into(), message: m.to_string() },
        ureq::Error::Rustls(m) => OciError::Tls { url: url.into(), message: m.to_string() },
        ureq::Error::Io(io) if io.to_string().to_ascii_lowercase().contains("certificate") => {
            OciError::Tls { url: url.into(), message: io.to_string() }
        }
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                ConnectionRefused | AddrNotAvailable | NetworkUnreachable | HostUnreachable | TimedOut | NotConnected
            ) =>
        {
            unreachable(io.to_string())
        }
        // The connection was there and broke mid-answer: a transfer problem
        // of this request, not an unreachable registry.
        ureq::Error::Io(io) => OciError::Transfer { url: url.into(), message: io.to_string() },
        other @ (ureq::Error::HostNotFound | ureq::Error::ConnectionFailed | ureq::Error::Timeout(_)) => {
            unreachable(other.to_string())
        }
        other => unreachable(other.to_string()),
    }
}

/// The `<…>` of a `Link: <…>; rel="next"` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find(|part| part.contains("rel=\"next\"")).and_then(|part| {
        let start = part.find('<')? + 1;
        let end = part.find('>')?;
        (start <= end).then(|| part[start..end].to_string())
    })
}

fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn link_and_escape() {
        assert_eq!(
            super::next_link(r#"</v2/a/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?n=2&last=b")
        );
        assert_eq!(super::query_escape("repository:a/b:pull,push"), "repository%3Aa%2Fb%3Apull%2Cpush");
        assert_eq!(
            super::error_message(br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}"#),
            "MANIFEST_UNKNOWN: unknown"
        );
    }
}
