//! Every way talking to an OCI registry can fail, each saying what, where and
//! what to do. Nothing here panics.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("{input:?} is not an OCI reference: {reason}. Write oci://HOST[:PORT]/REPOSITORY[:TAG], e.g. oci://registry.example.dk/komp/postsortering:1.2.0")]
    InvalidReference { input: String, reason: String },

    #[error("cannot reach the OCI registry at {url}: {message}. Check the host and port, the network path, and --plain-http for a registry without TLS")]
    Unreachable { url: String, message: String },

    #[error("TLS with the OCI registry at {url} failed: {message}. If the registry uses a private CA, pass its certificate with --ca-file")]
    Tls { url: String, message: String },

    #[error(
        "cannot use the CA certificate file {path}: {reason}. Give a PEM file with one or more CERTIFICATE blocks"
    )]
    CaFile { path: PathBuf, reason: String },

    #[error("the OCI registry {registry} requires authentication ({challenge}) for {url}. Log in with `docker login {registry}` (komp reads the `auths` of ~/.docker/config.json, or --docker-config), or pass --username/--password or --token")]
    AuthRequired { registry: String, url: String, challenge: String },

    #[error("the OCI registry {registry} refused the credentials for {url} ({detail}). A token may have expired or lack the scope {scope:?}; log in again or check the account's rights on the repository")]
    Unauthorized { registry: String, url: String, scope: String, detail: String },

    #[error("the token service {realm} did not issue a token for {scope:?}: {message}. Check the credentials for this registry")]
    TokenService { realm: String, scope: String, message: String },

    #[error("the registry's authentication challenge {header:?} at {url} cannot be used: {reason}")]
    BadChallenge { url: String, header: String, reason: String },

    #[error("cannot use the docker config {path}: {reason}")]
    DockerConfig { path: PathBuf, reason: String },

    #[error("{reference} does not exist in the registry ({detail})")]
    NotFound { reference: String, detail: String },

    #[error("{method} {url}: the OCI registry answered HTTP {status}: {message}")]
    Registry { method: String, url: String, status: u16, message: String },

    #[error("{what} from {url} does not match its digest: expected {expected}, got {actual}. The registry or something on the way served other bytes; nothing was installed")]
    DigestMismatch { what: String, url: String, expected: String, actual: String },

    #[error("{what} from {url} has {got} bytes where {expected} were announced: the transfer was cut off or the registry is inconsistent; nothing was installed")]
    SizeMismatch { what: String, url: String, expected: u64, got: u64 },

    #[error(
        "{what} from {url} is {size} bytes, more than the limit of {limit}; raise the limit only if this is expected"
    )]
    TooLarge { what: String, url: String, size: u64, limit: u64 },

    #[error(
        "{what} at {url} has media type {found:?}, not {expected:?}: this is not a komp artifact of the expected kind"
    )]
    WrongMediaType { what: String, url: String, expected: String, found: String },

    #[error("the manifest at {url} cannot be used: {reason}")]
    BadManifest { url: String, reason: String },

    #[error("reading the answer from {url} failed: {message}; nothing was installed")]
    Transfer { url: String, message: String },

    #[error("{reference} and {other} are on different registries; use one client per registry")]
    OtherRegistry { reference: String, other: String },

    #[error("the file is not a komp component: {0}")]
    NotAComponent(#[from] komp_artifact::ArtifactError),

    #[error("the tag {tag:?} names version {tag_version}, but the file is version {version}: push it as :{version} (or without a tag)")]
    TagMismatch { tag: String, tag_version: String, version: String },

    #[error("the component name {name:?} cannot be an OCI repository name ({reason})")]
    BadRepositoryName { name: String, reason: String },

    #[error("{reference} was refused by the local trust policy: {source}. Nothing was written")]
    Refused {
        reference: String,
        #[source]
        source: komp_registry::TrustError,
    },

    #[error("{reference}: the manifest's annotation {key} says {annotated:?}, but the file says {actual:?}")]
    AnnotationMismatch { reference: String, key: String, annotated: String, actual: String },

    #[error("the revocation list at {url} is not a signed revocation list: {reason}")]
    BadRevocationList { url: String, reason: String },

    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
