//! The registry over HTTP, so that a central registry can feed municipal
//! hosts, and the client that pulls from it.
//!
//! | method | path | what |
//! | --- | --- | --- |
//! | GET | `/registry/v1/components` | all components, versions and latest |
//! | GET | `/registry/v1/components/{name}` | the versions of one component |
//! | GET | `/registry/v1/components/{name}/{version}` | index entry, manifest, signatures, yank status |
//! | GET | `/registry/v1/components/{name}/{version}/artifact` | the file (`application/wasm`) |
//! | PUT/POST | `/registry/v1/components` | publish a file (bearer token, verified against the server's policy) |
//! | GET | `/registry/v1/revocations` | the current signed revocation list |
//! | PUT | `/registry/v1/revocations` | offer a newer signed list (bearer token) |
//! | GET | `/registry/v1/keys` | public keys of the signers the registry has seen |
//!
//! Errors are `{"error": "..."}` with a fitting status. The transport is never
//! trusted: [`sync::sync_from`] verifies every file itself before storing it.

pub mod auth;
pub mod client;
pub mod serve;
pub mod server;
pub mod sync;

pub use client::Client;
pub use serve::{request_timeout, serve, serve_connections, ServeLimits};
pub use server::RegistryServer;
pub use sync::{apply_upstream_revocations, sync_from, Offered, RevocationSync, SyncError, SyncReport, Withholding};

use crate::store::VersionInfo;
use komp_artifact::Manifest;
use serde::{Deserialize, Serialize};

/// Prefix of every registry route.
pub const API_PREFIX: &str = "/registry/v1";

/// Body of `GET /registry/v1/components/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionsResponse {
    pub name: String,
    pub latest: Option<semver::Version>,
    pub versions: Vec<VersionInfo>,
}

/// Body of `GET /registry/v1/components/{name}/{version}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShowResponse {
    #[serde(flatten)]
    pub info: VersionInfo,
    pub manifest: Manifest,
}

/// Body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}
