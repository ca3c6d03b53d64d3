//! `oci://HOST[:PORT]/REPOSITORY[:TAG|@sha256:DIGEST]`.

use crate::error::OciError;
use std::fmt;

/// A parsed OCI reference. `registry` is `host[:port]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`, when the reference pins a manifest.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `oci://host[:port]/repo[:tag][@sha256:…]`.
    pub fn parse(input: &str) -> Result<Reference, OciError> {
        let bad = |reason: &str| OciError::InvalidReference { input: input.to_string(), reason: reason.to_string() };
        let rest = input.strip_prefix("oci://").ok_or_else(|| bad("it must start with oci://"))?;
        let (registry, path) = rest.split_once('/').ok_or_else(|| bad("a repository path must follow the host"))?;
        validate_registry(registry).map_err(|r| bad(&r))?;
        let (path, digest) = match path.split_once('@') {
            Some((p, d)) => {
                let hex = d.strip_prefix("sha256:").ok_or_else(|| bad("only sha256 digests are supported"))?;
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                    return Err(bad("a digest is sha256: and 64 lowercase hex digits"));
                }
                (p, Some(d.to_string()))
            }
            None => (path, None),
        };
        let last_slash = path.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match path[last_slash..].find(':') {
            Some(i) => (&path[..last_slash + i], Some(&path[last_slash + i + 1..])),
            None => (path, None),
        };
        validate_repository(repository).map_err(|r| bad(&r))?;
        if let Some(t) = tag {
            validate_tag(t).map_err(|r| bad(&r))?;
        }
        Ok(Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// The same repository with another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference { tag: Some(tag.to_string()), digest: None, ..self.clone() }
    }

    /// `self.repository/name`, no tag: a component's repository under a namespace.
    pub fn child(&self, name: &str) -> Result<Reference, OciError> {
        let repository = format!("{}/{name}", self.repository);
        validate_repository(&repository)
            .map_err(|reason| OciError::BadRepositoryName { name: name.to_string(), reason })?;
        Ok(Reference { registry: self.registry.clone(), repository, tag: None, digest: None })
    }

    /// What a manifest request names: the digest if pinned, else the tag
    /// (`latest` if neither, as everywhere else).
    pub fn manifest_ref(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("latest")
    }

    /// The last path component of the repository.
    pub fn basename(&self) -> &str {
        self.repository.rsplit('/').next().unwrap_or(&self.repository)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci://{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = OciError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// The tag a version is pushed under: tags cannot hold `+`, so build
/// metadata is joined with `_` (as Helm does).
pub fn version_tag(version: &semver::Version) -> String {
    version.to_string().replace('+', "_")
}

/// The version a tag names, if it names one (`1.2.0`, `1.2.0-rc.1`, `1.2.0_build`).
pub fn tag_version(tag: &str) -> Option<semver::Version> {
    let v = semver::Version::parse(&tag.replace('_', "+")).ok()?;
    // Only the canonical spelling, so each version has exactly one tag.
    (version_tag(&v) == tag).then_some(v)
}

fn validate_registry(registry: &str) -> Result<(), String> {
    if registry.is_empty() {
        return Err("the host is empty".into());
    }
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or("an IPv6 address needs its closing ]")?;
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{h:?} is not an IPv6 address"));
        }
        match after {
            "" => (h, None),
            p => (h, Some(p.strip_prefix(':').ok_or("only :PORT may follow ]")?)),
        }
    } else {
        match registry.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (registry, None),
        }
    };
    if !registry.starts_with('[')
        && (host.is_empty() || !host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
    {
        return Err(format!("{host:?} is not a host name (letters, digits, '.' and '-')"));
    }
    if let Some(p) = port {
        if p.parse::<u16>().map_or(true, |n| n == 0) {
            return Err(format!("{p:?} is not a port number"));
        }
    }
    Ok(())
}

/// The distribution spec's repository grammar:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`.
fn validate_repository(repo: &str) -> Result<(), String> {
    if repo.is_empty() {
        return Err("the repository is empty".into());
    }
    if repo.len() > 255 {
        return Err("the repository name is longer than 255 characters".into());
    }
    for part in repo.split('/') {
        let ok = !part.is_empty()
            && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && part.as_bytes()[0].is_ascii_alphanumeric()
            && part.as_bytes()[part.len() - 1].is_ascii_alphanumeric()
            && !part.contains("..")
            && !part.contains("___")
            && !part.contains("._")
            && !part.contains("_.")
            && !part.contains(".-")
            && !part.contains("-.")
            && !part.contains("_-")
            && !part.contains("-_");
        if !ok {
            return Err(format!(
                "repository path component {part:?} must be lowercase letters and digits, separated by '.', '_', '__' or dashes"
            ));
        }
    }
    Ok(())
}

/// `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
fn validate_tag(tag: &str) -> Result<(), String> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && (tag.as_bytes()[0].is_ascii_alphanumeric() || tag.as_bytes()[0] == b'_')
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("the tag {tag:?} must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let r = Reference::parse("oci://127.0.0.1:5000/komp/postsortering:1.2.0").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "komp/postsortering");
        assert_eq!(r.tag.as_deref(), Some("1.2.0"));
        assert_eq!(r.to_string(), "oci://127.0.0.1:5000/komp/postsortering:1.2.0");
        let n = Reference::parse("oci://registry.example.dk/kl/komp").unwrap();
        assert_eq!((n.tag.as_deref(), n.manifest_ref()), (None, "latest"));
        let v6 = Reference::parse("oci://[::1]:5000/a/b:c").unwrap();
        assert_eq!(v6.registry, "[::1]:5000");
        let d = format!("oci://h/a@sha256:{}", "ab".repeat(32));
        assert_eq!(Reference::parse(&d).unwrap().manifest_ref(), format!("sha256:{}", "ab".repeat(32)));
    }

    #[test]
    fn refuses_with_reasons() {
        for (input, needle) in [
            ("https://h/a", "oci://"),
            ("oci://h", "repository path"),
            ("oci:///a", "host is empty"),
            ("oci://h:99999/a", "port"),
            ("oci://h/A", "lowercase"),
            ("oci://h/a/:1", "lowercase"),
            ("oci://h/a:-x", "tag"),
            ("oci://h/a@md5:00", "sha256"),
            ("oci://h_x/a", "host name"),
        ] {
            let e = Reference::parse(input).unwrap_err().to_string();
            assert!(e.contains(needle), "{input}: {e}");
        }
    }

    #[test]
    fn version_tags_round_trip() {
        for v in ["1.2.0", "1.0.0-rc.1", "2.0.0+build.7"] {
            let v: semver::Version = v.parse().unwrap();
            assert_eq!(tag_version(&version_tag(&v)), Some(v));
        }
        assert_eq!(tag_version("latest"), None);
        assert_eq!(tag_version("v1.2.0"), None);
    }
}
