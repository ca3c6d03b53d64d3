//! `komp serve`: the municipal HTTP host. The configuration is merged here, in
//! one place and one order: defaults < the JSON file (`--config`) < `KOMP_*`
//! environment variables < flags (clap reads each flag's variable, and a flag
//! wins over it).

use anyhow::{Context, Result};
use komp_server::config::ServerConfig;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// JSON configuration file; flags and KOMP_* environment variables override it.
    #[arg(long, env = "KOMP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "KOMP_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// Data directory: registry, tokens, audit log, compile cache [default: komp-data].
    #[arg(long, env = "KOMP_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Publish the component files in this directory into the local registry on start.
    #[arg(long, env = "KOMP_SEED_DIR")]
    seed_dir: Option<PathBuf>,
    /// Trust policy JSON (trusted publisher and approver keys); make one with
    /// `komp trust-policy`. Required unless --dev.
    #[arg(long, env = "KOMP_TRUST_POLICY")]
    trust_policy: Option<PathBuf>,
    /// Development only: without a trust policy, trust the development keys
    /// in keys/dev/ (their private halves are public; never in production).
    #[arg(long, env = "KOMP_DEV")]
    dev: bool,
    /// Address of the separate metrics listener (/metrics for Prometheus)
    /// [default: 127.0.0.1:9464]; `null` in the config file turns it off.
    #[arg(long, env = "KOMP_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// The audit log's input-HMAC key file [default: DATA_DIR/audit/hmac.key].
    #[arg(long, env = "KOMP_AUDIT_KEY_FILE")]
    audit_key_file: Option<PathBuf>,
    /// Upstream to sync components and revocations from: a komp registry
    /// URL (`http://…`) or an OCI registry namespace (`oci://HOST[:PORT]/NAMESPACE`).
    #[arg(long, env = "KOMP_UPSTREAM")]
    upstream: Option<String>,
    /// A component to mirror from the `oci://` upstream (repeatable; the
    /// variable takes a comma-separated list) [default: every repository in
    /// the registry's catalog under the namespace].
    #[arg(long = "upstream-component", value_name = "NAME", env = "KOMP_UPSTREAM_COMPONENTS", value_delimiter = ',')]
    upstream_components: Vec<String>,
    /// PEM file of the private CA of the `oci://` upstream's certificate.
    #[arg(long, value_name = "FILE", env = "KOMP_UPSTREAM_CA_FILE")]
    upstream_ca_file: Option<PathBuf>,
    /// Talk plain http:// to the `oci://` upstream (loopback or a closed network only).
    #[arg(long, env = "KOMP_UPSTREAM_PLAIN_HTTP")]
    upstream_plain_http: bool,
    /// Docker-style config.json with the `oci://` upstream's credentials
    /// [default: $DOCKER_CONFIG/config.json or ~/.docker/config.json if it exists].
    #[arg(long, value_name = "FILE", env = "KOMP_UPSTREAM_DOCKER_CONFIG")]
    upstream_docker_config: Option<PathBuf>,
    /// Seconds between syncs from upstream.
    #[arg(long, env = "KOMP_SYNC_INTERVAL_SECS")]
    sync_interval_secs: Option<u64>,
    /// Most predictions in flight; more get 503 with Retry-After.
    #[arg(long, env = "KOMP_MAX_CONCURRENT")]
    max_concurrent: Option<usize>,
    /// Deadline of one prediction in milliseconds.
    #[arg(long, env = "KOMP_DEADLINE_MS")]
    deadline_ms: Option<u64>,
    /// Log JSON lines instead of text.
    #[arg(long, env = "KOMP_LOG_JSON")]
    pub log_json: bool,
    /// Print the configuration the file, the KOMP_* variables and the flags
    /// give (JSON, after checking it) and exit without starting.
    #[arg(long)]
    pub print_config: bool,
}

impl ServeArgs {
    /// The configuration these arguments give: the file's settings (or the
    /// defaults), then every flag or `KOMP_*` variable that was given.
    pub fn resolve(self) -> Result<ServerConfig> {
        let a = self;
        let mut config = match &a.config {
            Some(path) => ServerConfig::from_file(path)?,
            None => ServerConfig::default(),
        };
        if let Some(v) = a.listen {
            config.listen = v;
        }
        if let Some(v) = a.data_dir {
            config.data_dir = v;
        }
        if let Some(v) = a.seed_dir {
            config.seed_dir = Some(v);
        }
        if let Some(v) = a.trust_policy {
            config.trust_policy = Some(v);
        }
        if a.dev {
            config.dev = true;
        }
        if let Some(v) = a.metrics_listen {
            config.metrics_listen = Some(v);
        }
        if let Some(v) = a.audit_key_file {
            config.audit_key_file = Some(v);
        }
        if let Some(v) = a.upstream {
            config.upstream = Some(v);
        }
        if !a.upstream_components.is_empty() {
            config.upstream_components = a.upstream_components;
        }
        if let Some(v) = a.upstream_ca_file {
            config.upstream_ca_file = Some(v);
        }
        if a.upstream_plain_http {
            config.upstream_plain_http = true;
        }
        if let Some(v) = a.upstream_docker_config {
            config.upstream_docker_config = Some(v);
        }
        if let Some(v) = a.sync_interval_secs {
            config.sync_interval_secs = v;
        }
        if let Some(v) = a.max_concurrent {
            config.max_concurrent_predictions = v;
        }
        if let Some(v) = a.deadline_ms {
            config.runtime.deadline = std::time::Duration::from_millis(v);
        }
        if a.log_json {
            config.log_json = true;
        }
        Ok(config)
    }
}

/// Runs the host until SIGINT or SIGTERM.
pub fn run(config: ServerConfig) -> Result<()> {
    limit_malloc_arenas();
    let rt =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    rt.block_on(async move {
        let (server, listener) = komp_server::run::start(config).await?;
        println!("komp listening on http://{}", server.addr);
        if let Some(m) = server.metrics_addr {
            println!("komp metrics on http://{m}/metrics");
        }
        komp_server::run::run(server, listener, shutdown_signal()).await
    })
}

/// Predictions run on many blocking threads; glibc gives each thread its own
/// malloc arena and keeps freed memory in it, which made RSS at concurrency 64
/// grow by ~1.8 GB in the benchmark. One arena per core keeps it near the base.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as libc::c_int;
        // SAFETY: mallopt only changes allocator tuning; called before other threads start.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, cores.max(2));
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}
