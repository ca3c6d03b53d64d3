//! Registry authentication: anonymous, HTTP basic, and the bearer token
//! service of the distribution spec (the `WWW-Authenticate: Bearer realm=…,
//! service=…, scope=…` challenge), with credentials from a docker-style
//! `config.json`.

use crate::error::OciError;
use base64::Engine;
use std::path::{Path, PathBuf};

/// What komp presents to a registry.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Credentials {
    /// Nothing; a bearer challenge still gets an anonymous token.
    #[default]
    Anonymous,
    /// Sent to a `Basic` challenge, and to the token service of a `Bearer` one.
    Basic { username: String, password: String },
    /// A registry token sent as it is (`Authorization: Bearer …`), never
    /// exchanged: when the registry refuses it (e.g. expired), that is an error.
    Bearer { token: String },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => write!(f, "Basic {{ username: {username:?}, password: <hidden> }}"),
            Credentials::Bearer { .. } => f.write_str("Bearer { token: <hidden> }"),
        }
    }
}

impl Credentials {
    /// The credentials for `registry` (`host[:port]`) in a docker-style
    /// config file: `{"auths": {"host:port": {"auth": base64("user:pass")}}}`
    /// (or `username`/`password`, or `registrytoken`). A registry with no
    /// entry is [`Credentials::Anonymous`]; one that is only served by a
    /// credential helper (`credsStore`, `credHelpers`) is an error, since
    /// komp runs no helpers.
    pub fn from_docker_config(path: &Path, registry: &str) -> Result<Credentials, OciError> {
        let bad = |reason: String| OciError::DockerConfig { path: path.to_path_buf(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let config: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let auths = config.get("auths").and_then(|a| a.as_object());
        let entry = auths.and_then(|auths| {
            auths.iter().find(|(key, _)| normalize_config_key(key) == normalize_config_key(registry)).map(|(_, v)| v)
        });
        let helper = |registry: &str| {
            bad(format!(
                "the credentials for {registry} are kept by a credential helper (credsStore/credHelpers), which komp \
                 does not run; add an \"auths\" entry with \"auth\" (base64 of user:password) for it"
            ))
        };
        let Some(entry) = entry else {
            if config.get("credHelpers").and_then(|h| h.get(registry)).is_some() {
                return Err(helper(registry));
            }
            return Ok(Credentials::Anonymous);
        };
        let field = |k: &str| entry.get(k).and_then(|v| v.as_str()).filter(|s| !s.is_empty());
        if let Some(token) = field("registrytoken") {
            return Ok(Credentials::Bearer { token: token.to_string() });
        }
        if let Some(auth) = field("auth") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|e| bad(format!("the \"auth\" of {registry} is not base64: {e}")))?;
            let decoded =
                String::from_utf8(decoded).map_err(|_| bad(format!("the \"auth\" of {registry} is not UTF-8 text")))?;
            let (username, password) = decoded
                .split_once(':')
                .ok_or_else(|| bad(format!("the \"auth\" of {registry} is not base64 of \"user:password\"")))?;
            return Ok(Credentials::Basic { username: username.into(), password: password.into() });
        }
        if let (Some(u), Some(p)) = (field("username"), field("password")) {
            return Ok(Credentials::Basic { username: u.into(), password: p.into() });
        }
        if entry.as_object().is_some_and(|o| o.is_empty()) && config.get("credsStore").is_some() {
            return Err(helper(registry));
        }
        if field("identitytoken").is_some() {
            return Err(bad(format!(
                "the entry for {registry} holds only an OAuth identity token, which komp does not exchange; \
                 pass --username/--password or --token instead"
            )));
        }
        Err(bad(format!("the entry for {registry} has no \"auth\", \"username\"/\"password\" or \"registrytoken\"")))
    }

    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub fn default_docker_config_path() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
            return Some(PathBuf::from(dir).join("config.json"));
        }
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker").join("config.json"))
    }

    pub(crate) fn basic_header(&self) -> Option<String> {
        match self {
            Credentials::Basic { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
            _ => None,
        }
    }
}

/// `https://index.docker.io/v1/`, `http://h:5000`, `h:5000/` → `h:5000`.
fn normalize_config_key(key: &str) -> String {
    let k = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let k = k.split('/').next().unwrap_or(k).to_ascii_lowercase();
    match k.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".into(),
        _ => k,
    }
}

/// One parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Lowercased: `basic` or `bearer`.
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Parses `Scheme k="v", k2=v2`: the first challenge of the header.
    pub fn parse(header: &str) -> Result<Challenge, String> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(char::is_whitespace).unwrap_or((header, ""));
        if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err("no authentication scheme".into());
        }
        let mut params = Vec::new();
        let mut chars = rest.trim().chars().peekable();
        loop {
            while matches!(chars.peek(), Some(c) if c.is_whitespace() || *c == ',') {
                chars.next();
            }
            if chars.peek().is_none() {
                break;
            }
            let mut key = String::new();
            while let Some(&c) = chars.peek() {
                if c == '=' || c.is_whitespace() {
                    break;
                }
                key.push(c);
                chars.next();
            }
            while matches!(chars.peek(), Some(c) if c.is_whitespace()) {
                chars.next();
            }
            if chars.next() != Some('=') {
                return Err(format!("parameter {key:?} has no value"));
            }
            while matches!(chars.peek(), Some(c) if c.is_whitespace()) {
                chars.next();
            }
            let mut value = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => value.extend(chars.next()),
                        Some(c) => value.push(c),
                        None => return Err(format!("the value of {key:?} has no closing quote")),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' || c.is_whitespace() {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
            params.push((key, value));
        }
        Ok(Challenge { scheme: scheme.to_ascii_lowercase(), params })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenge() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.example.dk/token",service="registry.example.dk",scope="repository:kl/a:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://auth.example.dk/token"));
        assert_eq!(c.param("scope"), Some("repository:kl/a:pull,push"));
        let b = Challenge::parse("Basic realm=\"basic-realm\"").unwrap();
        assert_eq!((b.scheme.as_str(), b.param("realm")), ("basic", Some("basic-realm")));
        assert!(Challenge::parse("Bearer realm=\"open").is_err());
    }

    #[test]
    fn docker_config() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("kommune:hemmelig");
        std::fs::write(
            &p,
            format!(
                r#"{{"auths": {{"https://registry.example.dk/v1/": {{"auth": "{auth}"}},
                    "127.0.0.1:5000": {{"registrytoken": "tok"}}, "bad.example": {{"auth": "!!"}}}},
                    "credHelpers": {{"helped.example": "secretservice"}}}}"#
            ),
        )
        .unwrap();
        assert_eq!(
            Credentials::from_docker_config(&p, "registry.example.dk").unwrap(),
            Credentials::Basic { username: "kommune".into(), password: "hemmelig".into() }
        );
        assert_eq!(
            Credentials::from_docker_config(&p, "127.0.0.1:5000").unwrap(),
            Credentials::Bearer { token: "tok".into() }
        );
        assert_eq!(Credentials::from_docker_config(&p, "other.example").unwrap(), Credentials::Anonymous);
        assert!(Credentials::from_docker_config(&p, "bad.example").unwrap_err().to_string().contains("base64"));
        assert!(Credentials::from_docker_config(&p, "helped.example")
            .unwrap_err()
            .to_string()
            .contains("credential helper"));
        let shown = format!("{:?}", Credentials::from_docker_config(&p, "registry.example.dk").unwrap());
        assert!(!shown.contains("hemmelig"));
    }
}
