//! komp components through OCI registries.
//!
//! A komp file carries its signatures inside, so an OCI registry is only
//! storage: nothing it says is trusted. Everything pulled is checked three
//! times over: the transport (manifest, config and layer digests, sizes and
//! media types), then the file itself against the *local* trust policy and
//! revocation list ([`komp_registry::verify_bytes`], or
//! [`komp_registry::Registry::publish_as`] when syncing), before it is
//! written anywhere a host reads from.
//!
//! Layout (the CNCF TAG Runtime *Wasm OCI artifact*): an OCI image manifest
//! whose config has media type [`WASM_CONFIG_MEDIA_TYPE`] and whose only
//! layer is the component file as [`WASM_LAYER_MEDIA_TYPE`]; annotations
//! carry the name, version, component digest and AI Act risk class
//! ([`annotations`]). A component `name@version` lives at
//! `HOST/NAMESPACE/name:version` (a `+` of build metadata becomes `_`, as
//! tags cannot hold `+`). The signed revocation list is an artifact of its
//! own ([`REVOCATION_LIST_MEDIA_TYPE`]) at `HOST/NAMESPACE/komp_revocations:latest`
//! (the underscore keeps it apart from every component name).
//!
//! - [`reference`](mod@reference) parses `oci://host[:port]/repository[:tag|@digest]`.
//! - [`auth`] does anonymous, basic, bearer token service, docker `config.json`.
//! - [`client`] speaks the distribution API with TLS, authentication and limits.
//! - [`artifact`] pushes and pulls components and revocation lists.
//! - [`sync`] holds [`sync_from_oci`], the OCI twin of `komp_registry::http::sync_from`.
//!
//! Everything is blocking (ureq): call it from a CLI directly, and from an
//! async host inside `tokio::task::spawn_blocking`.

pub mod artifact;
pub mod auth;
pub mod client;
pub mod error;
pub mod reference;
pub mod sync;

pub use artifact::{
    pull_component, pull_revocations, pull_to_file, pull_verified, push_component, push_revocations, Pulled, Pushed,
};
pub use auth::Credentials;
pub use client::{ClientOptions, OciClient};
pub use error::OciError;
pub use reference::Reference;
pub use sync::{sync_from_oci, OciSyncError, OciUpstream};

/// Media type of the OCI image manifest komp writes and accepts.
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Config media type of the Wasm OCI artifact layout.
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The layer: the component file, byte for byte.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";
/// Artifact type and layer media type of a signed revocation list (the JSON
/// of `komp_registry::SignedRevocationList`).
pub const REVOCATION_LIST_MEDIA_TYPE: &str = "application/vnd.komp.revocation-list.v1+json";
/// The OCI 1.1 empty config (`{}`), used by the revocation list artifact.
pub const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// Repository (under the namespace) that holds the revocation list.
pub const REVOCATIONS_REPOSITORY: &str = "komp_revocations";
/// Tag of the current revocation list (each list is also tagged `serial-N`).
pub const REVOCATIONS_TAG: &str = "latest";

/// Manifest annotation keys komp writes (besides the `org.opencontainers.image.*` ones).
pub mod annotations {
    pub const NAME: &str = "dk.komp.component.name";
    pub const VERSION: &str = "dk.komp.component.version";
    /// `sha256:<hex>` of everything after the signature section: the
    /// component identity that signatures cover (not the layer digest).
    pub const COMPONENT_DIGEST: &str = "dk.komp.component.digest";
    /// The manifest's AI Act risk class (`minimal`, `limited`, `high`, ...).
    pub const RISK_CLASS: &str = "dk.komp.ai-act.risk-class";
    pub const REVOCATION_SERIAL: &str = "dk.komp.revocations.serial";
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}
