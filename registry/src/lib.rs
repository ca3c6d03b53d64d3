//! The komp registry: signing, trust and the signed, content-addressed store
//! of standard components (the "code bank").
//!
//! - [`signature`]: the WebAssembly tool-conventions *Signatures.md* section
//!   (as `wasmsign2` reads and writes it): sign, read.
//! - [`keys`]: Ed25519 keys with a role (`publisher` | `approver`) and their files.
//! - [`trust`]: a host's trust policy and [`trust::verify`], which decides
//!   whether a component may be installed, before anything is compiled.
//! - [`revocation`]: the approver-signed list of revoked keys and yanked releases.
//! - [`store`]: the sled-backed [`Registry`]: verified publish, immutable
//!   versions, checked reads, durable acknowledgements.
//! - [`http`]: the registry over HTTP, and a client that syncs one registry
//!   from another, verifying everything itself.
//!
//! The `komp` subcommands over all of this live in the `komp` binary
//! (`host/src/commands/registry.rs`): this crate parses no arguments.

/// The workspace's one atomic write lives in `komp-artifact`.
pub use komp_artifact::fsutil;

pub mod http;
pub mod keys;
pub mod revocation;
pub mod signature;
pub mod store;
pub mod time;
pub mod trust;

pub use keys::{KeyPair, PublicKey, Role};
pub use revocation::{ExpiryStatus, RevocationList, SignedRevocationList};
pub use store::{Registry, StoreError};
pub use trust::{verify, verify_bytes, InvalidPolicy, TrustError, TrustPolicy, Verification};
