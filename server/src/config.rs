//! Server configuration: a JSON file, overridden by environment variables
//! and flags (see `komp serve --help`), with safe defaults.

use komp_audit::Tenant;
use komp_runtime::RuntimeConfig;
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
    /// Largest validation sample an auditor may upload
    /// (`POST /v1/components/{name}/validation-reports`), in bytes.
    pub max_sample_bytes: usize,
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
    pub tenants: BTreeMap<Tenant, TenantConfig>,
    /// Trust policy file (JSON): which publisher and approver keys this host
    /// trusts. Required unless `dev` is set.
    pub trust_policy: Option<PathBuf>,
    /// Without `trust_policy`, trust the development keys in `keys/dev/`.
    /// Their private halves are in the repository, so anyone can sign with
    /// them: for a laptop, never for production. Off by default, so a host
    /// that forgot its policy refuses to start instead of trusting anyone.
    pub dev: bool,
    /// Where Prometheus metrics (`/metrics`) are served, apart from the API:
    /// they show every tenant's counts and feedback rates, which no tenant's
    /// token may see. Default loopback `127.0.0.1:9464`; `null` turns it off.
    pub metrics_listen: Option<SocketAddr>,
    /// The audit log's input-HMAC key file (default: `DATA_DIR/audit/hmac.key`).
    /// Keep it apart from the log when the log is shipped elsewhere: whoever
    /// has both can test guesses of an input against its record.
    pub audit_key_file: Option<PathBuf>,
    /// Let anyone read this host's registry (`/registry/v1`) without a
    /// token, e.g. when it is the central code bank that municipal hosts
    /// sync from. Off by default: reads then need a publisher (or admin)
    /// token, because the registry lists every component on the host,
    /// including those outside a tenant's allow-list. Pushes always need one.
    pub open_registry_reads: bool,
    /// Refuse to install new components while the newest revocation list has
    /// expired (components already installed keep serving). Without it an
    /// expired list only raises warnings, in the log, in health and in metrics.
    pub refuse_installs_when_revocations_expired: bool,
    /// Upstream registry to sync from (e.g. the central registry): a komp
    /// registry (`http(s)://…`) or an OCI registry namespace
    /// (`oci://HOST[:PORT]/NAMESPACE`, components at `NAMESPACE/<name>:<version>`).
    pub upstream: Option<String>,
    /// With an `oci://` upstream: the components to mirror. Empty: every
    /// repository under the namespace in the registry's catalog
    /// (`/v2/_catalog`, which many hosted registries do not offer).
    pub upstream_components: Vec<String>,
    /// With an `oci://` upstream: PEM file of the private CA that signs the
    /// registry's certificate (replaces the public roots).
    pub upstream_ca_file: Option<PathBuf>,
    /// With an `oci://` upstream: plain `http://` (loopback or a closed network only).
    pub upstream_plain_http: bool,
    /// With an `oci://` upstream: docker-style config.json with the registry's
    /// credentials (`auths`). Default: `$DOCKER_CONFIG/config.json` or
    /// `~/.docker/config.json` if it exists, else anonymous.
    pub upstream_docker_config: Option<PathBuf>,
    /// How often to sync from upstream, in seconds.
    pub sync_interval_secs: u64,
    /// Component files to publish into the local registry on first start.
    pub seed_dir: Option<PathBuf>,
    /// Drift and feedback monitoring: window, minimum counts, alert thresholds.
    pub drift: crate::drift::DriftConfig,
    /// The web pages under `/ui` (catalog, component pages, try-it, monitoring).
    pub web: super::web::WebConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".parse().expect("address"),
            data_dir: PathBuf::from("komp-data"),
            runtime: RuntimeConfig::default(),
            max_body_bytes: 2 << 20,
            max_sample_bytes: 32 << 20,
            request_timeout_ms: 10_000,
            max_concurrent_predictions: 64,
            default_rate_limit_per_second: 100.0,
            audit_retention_days: 183,
            log_json: false,
            tenants: BTreeMap::new(),
            trust_policy: None,
            dev: false,
            metrics_listen: Some("127.0.0.1:9464".parse().expect("address")),
            audit_key_file: None,
            refuse_installs_when_revocations_expired: false,
            open_registry_reads: false,
            upstream: None,
            upstream_components: Vec::new(),
            upstream_ca_file: None,
            upstream_plain_http: false,
            upstream_docker_config: None,
            sync_interval_secs: 300,
            seed_dir: None,
            drift: crate::drift::DriftConfig::default(),
            web: super::web::WebConfig::default(),
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
        self.drift.validate().map_err(anyhow::Error::msg)?;
        let oci = self.upstream.as_deref().is_some_and(|u| u.starts_with("oci://"));
        if !oci {
            anyhow::ensure!(
                self.upstream_components.is_empty()
                    && self.upstream_ca_file.is_none()
                    && !self.upstream_plain_http
                    && self.upstream_docker_config.is_none(),
                "upstream_components, upstream_ca_file, upstream_plain_http and upstream_docker_config apply to an \
                 oci:// upstream only (upstream is {})",
                self.upstream.as_deref().unwrap_or("not set")
            );
        }
        for (code, t) in &self.tenants {
            if let Some(r) = t.rate_limit_per_second {
                anyhow::ensure!(r > 0.0, "tenant {code}: rate_limit_per_second must be positive");
            }
        }
        Ok(())
    }
}
