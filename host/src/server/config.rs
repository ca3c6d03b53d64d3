//! Server configuration: a JSON file, overridden by environment variables
//! and flags (see `komp serve --help`), with safe defaults.

use crate::config::RuntimeConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything `komp serve` can be told.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the registry, tokens, audit log and compile cache live.
    pub data_dir: PathBuf,
    /// Limits of the sandbox.
    pub runtime: RuntimeConfig,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Time limit of a whole request (reading the body included), in ms.
    pub request_timeout_ms: u64,
    /// Most predictions in flight at once; more get 503 with Retry-After.
    pub max_concurrent_predictions: usize,
    /// Default per-tenant rate limit (predictions per second, burst = 2×).
    pub default_rate_limit_per_second: f64,
    /// Audit records older than this are purged (days; at least 183).
    pub audit_retention_days: u32,
    /// Log as JSON lines instead of text.
    pub log_json: bool,
    /// Per-tenant settings by kommunekode.
    pub tenants: BTreeMap<String, TenantConfig>,
    /// Trust policy file (JSON). Without it, the development keys in
    /// `keys/dev/` are trusted and the server says so loudly.
    pub trust_policy: Option<PathBuf>,
    /// Upstream registry to sync from (e.g. the central registry).
    pub upstream: Option<String>,
    /// How often to sync from upstream, in seconds.
    pub sync_interval_secs: u64,
    /// Component files to publish into the local registry on first start.
    pub seed_dir: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".parse().expect("address"),
            data_dir: PathBuf::from("komp-data"),
            runtime: RuntimeConfig::default(),
            max_body_bytes: 2 << 20,
            request_timeout_ms: 10_000,
            max_concurrent_predictions: 64,
            default_rate_limit_per_second: 100.0,
            audit_retention_days: 183,
            log_json: false,
            tenants: BTreeMap::new(),
            trust_policy: None,
            upstream: None,
            sync_interval_secs: 300,
            seed_dir: None,
        }
    }
}

/// What one municipality may use and how its organisation looks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantConfig {
    /// Display name, e.g. "Aarhus Kommune".
    pub name: String,
    /// Components this tenant may call; empty means all installed components.
    pub components: Vec<String>,
    /// Predictions per second; `None` uses the server default.
    pub rate_limit_per_second: Option<f64>,
    /// Local routing: component → label → where it goes in this municipality.
    pub routing: BTreeMap<String, BTreeMap<String, Route>>,
}

/// Where a standard subject goes in one municipality.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Route {
    /// The municipality's own unit, e.g. "Teknik og Miljø, Affald".
    pub unit: String,
    /// Inbox or queue in the case system.
    pub inbox: String,
    /// The municipality's own KLE number for the subject, if it maps one.
    pub kle: Option<String>,
}

impl ServerConfig {
    /// Reads a JSON config file.
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<ServerConfig> {
        let text =
            std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("config {} is invalid: {e}", path.display()))
    }

    /// Checks values that serde cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.audit_retention_days >= 183,
            "audit_retention_days must be at least 183 (6 months), got {}",
            self.audit_retention_days
        );
        anyhow::ensure!(self.max_concurrent_predictions > 0, "max_concurrent_predictions must be at least 1");
        anyhow::ensure!(self.default_rate_limit_per_second > 0.0, "default_rate_limit_per_second must be positive");
        for (code, t) in &self.tenants {
            anyhow::ensure!(super::auth::valid_tenant(code), "tenant {code:?} is not a kommunekode (four digits)");
            if let Some(r) = t.rate_limit_per_second {
                anyhow::ensure!(r > 0.0, "tenant {code}: rate_limit_per_second must be positive");
            }
        }
        Ok(())
    }
}
