//! Starting and stopping the server: data directory, trust policy, registry,
//! runtime, tokens, audit log, listening socket, graceful shutdown.

use super::config::ServerConfig;
use super::{AppState, SharedState};
use anyhow::{Context, Result};
use komp_artifact::Artifact;
use komp_registry::{ExpiryStatus, RevocationList, TrustPolicy};
use komp_runtime::runtime::{ArtifactVerifier, Runtime};
use komp_runtime::VerifyError;
use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// The development trust policy: the key pair committed in `keys/dev/`,
/// clearly labelled for local use only.
pub const DEV_POLICY: &str = include_str!("../../keys/dev/policy.json");

/// Checks artifacts against the trust policy and the current revocations
/// before the runtime compiles anything.
pub struct TrustVerifier {
    pub policy: TrustPolicy,
    pub revocations: RwLock<RevocationList>,
    /// What the last successful verification of each digest found (signers,
    /// roles, endorsement state), shown with the component.
    pub provenance: Mutex<HashMap<String, serde_json::Value>>,
    /// Refuse installs while the revocation list has expired
    /// (`refuse_installs_when_revocations_expired`); switched on after the
    /// start-up installs, which only bring back what the registry had accepted.
    refuse_when_expired: std::sync::atomic::AtomicBool,
}

impl TrustVerifier {
    pub fn new(policy: TrustPolicy, revocations: RevocationList) -> TrustVerifier {
        TrustVerifier {
            policy,
            revocations: RwLock::new(revocations),
            provenance: Mutex::new(HashMap::new()),
            refuse_when_expired: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Signatures, endorsement, revoked keys and yanks; records provenance.
    /// This is what an installed component must keep meeting.
    pub fn check(&self, artifact: &Artifact) -> Result<(), VerifyError> {
        let revocations = self.revocations.read().expect("lock");
        let verified = komp_registry::verify(artifact, &self.policy, &revocations).map_err(super::verify_error)?;
        self.provenance
            .lock()
            .expect("lock")
            .insert(artifact.digest().to_string(), serde_json::to_value(&verified).unwrap_or_default());
        Ok(())
    }

    /// How current the revocation list in force is.
    pub fn revocation_status(&self) -> ExpiryStatus {
        self.revocations.read().expect("lock").expiry_status(std::time::SystemTime::now())
    }
}

impl ArtifactVerifier for TrustVerifier {
    fn verify(&self, artifact: &Artifact) -> Result<(), VerifyError> {
        if self.refuse_when_expired.load(std::sync::atomic::Ordering::Relaxed) {
            if let ExpiryStatus::Expired { since, .. } = self.revocation_status() {
                return Err(VerifyError::CannotDecide {
                    message: format!(
                    "the revocation list in force expired at {since}, so this host cannot know whether this component \
                     was revoked since; no new component is installed until a fresh list arrives from upstream \
                     (refuse_installs_when_revocations_expired)"
                ),
                });
            }
        }
        self.check(artifact)
    }
}

/// Says loudly when the revocation list in force is not current and sets the
/// gauges; returns the status.
pub fn report_revocation_status(state: &SharedState) -> ExpiryStatus {
    let status = revocation_gauges(state);
    let serial = state.verifier.revocations.read().expect("lock").serial;
    match &status {
        ExpiryStatus::Expired { since, .. } => tracing::error!(
            serial,
            expired_at = %since,
            refusing_installs = state.config.refuse_installs_when_revocations_expired,
            "the revocation list in force has EXPIRED: revocations issued since may be withheld from this host; \
             check the upstream registry and the approvers"
        ),
        ExpiryStatus::NoExpiry => tracing::warn!(
            serial,
            "the revocation list in force has no expiry time, so this host cannot tell whether a newer one is withheld"
        ),
        _ => {}
    }
    status
}

/// Sets the revocation-list gauges; returns the status.
pub fn revocation_gauges(state: &SharedState) -> ExpiryStatus {
    let status = state.verifier.revocation_status();
    let serial = state.verifier.revocations.read().expect("lock").serial;
    state.metrics.revocation_serial.set(serial as i64);
    let (expires_in, stale) = match &status {
        ExpiryStatus::Fresh { remaining_secs, .. } => (*remaining_secs as i64, 0),
        ExpiryStatus::Expired { expired_secs, .. } => (-(*expired_secs as i64), 1),
        ExpiryStatus::NoExpiry => (0, 1),
        ExpiryStatus::NoList => (0, 0),
    };
    state.metrics.revocation_expires_in.set(expires_in);
    state.metrics.revocation_stale.set(stale);
    status
}

/// Loads the trust policy named in the config, or, only when `dev` is set,
/// the development policy. A host without either refuses to start: failing
/// open would trust keys whose private halves are public.
pub fn load_policy(config: &ServerConfig) -> Result<TrustPolicy> {
    match &config.trust_policy {
        Some(path) => TrustPolicy::load(path).with_context(|| format!("cannot load trust policy {}", path.display())),
        None if config.dev => {
            tracing::warn!("--dev: trusting the DEVELOPMENT keys committed in keys/dev/ (local use only, never in production)");
            serde_json::from_str(DEV_POLICY).context("the built-in development policy is invalid")
        }
        None => anyhow::bail!(
            "no trust policy: komp serve must be told which publisher and approver keys to trust. \
             Make a policy from their public key files with \
             `komp trust-policy --publisher PUBLISHER.public.json --approver APPROVER.public.json -o policy.json` \
             and pass `--trust-policy policy.json` (or `trust_policy` in the config file). \
             For local development only, `--dev` trusts the development keys in keys/dev/, whose private halves are public."
        ),
    }
}

/// A running server's handle, for tests and embedding.
pub struct Server {
    pub state: SharedState,
    pub addr: std::net::SocketAddr,
    /// Where `/metrics` is served, if anywhere (`metrics_listen`).
    pub metrics_addr: Option<std::net::SocketAddr>,
    metrics_listener: Option<tokio::net::TcpListener>,
}

/// Prepares everything and binds the socket; `run` then serves until
/// `shutdown` resolves, finishes in-flight requests and closes the audit log.
pub async fn start(config: ServerConfig) -> Result<(Server, tokio::net::TcpListener)> {
    config.validate()?;
    let data = config.data_dir.clone();
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create data directory {}", data.display()))?;
    let policy = load_policy(&config)?;
    if config.upstream.as_deref().is_some_and(|u| u.starts_with("oci://")) {
        // A wrong namespace, CA file or docker config stops the start, not every sync.
        let up = oci_upstream(&config)?;
        komp_oci::OciClient::for_reference(&up.namespace, &up.options)
            .context("cannot set up the client for the oci:// upstream")?;
    }
    let registry = Arc::new(
        komp_registry::Registry::open(&data.join("registry"))
            .with_context(|| format!("cannot open the registry in {}", data.join("registry").display()))?,
    );
    if let Some(seed) = &config.seed_dir {
        seed_registry(&registry, seed, &policy)?;
    }
    let revocations = registry.revocations().context("cannot read the registry's revocation list")?;
    let verifier = Arc::new(TrustVerifier::new(policy.clone(), revocations));
    let mut rt_config = config.runtime.clone();
    if rt_config.cache_dir.is_none() {
        rt_config.cache_dir = Some(data.join("compile-cache"));
    }
    let runtime = Arc::new(Runtime::new(rt_config)?.with_verifier(verifier.clone()));
    install_from_registry(&runtime, &registry);
    if config.refuse_installs_when_revocations_expired {
        verifier.refuse_when_expired.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    let tokens = super::auth::TokenStore::open(&data)?;
    let operating_points = super::operating_points::OperatingPoints::open(&data)?;
    let validation_reports = super::validation::ValidationReports::new(&data);
    if let Some(dir) = config.audit_key_file.as_deref().and_then(Path::parent).filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory of audit_key_file, {}", dir.display()))?;
    }
    let audit_config = komp_audit::AuditConfig {
        retention: Duration::from_secs(u64::from(config.audit_retention_days) * 86_400),
        key_file: config.audit_key_file.clone(),
        drift_window: config.drift.window_predictions,
        ..komp_audit::AuditConfig::default()
    };
    let audit = Arc::new(
        komp_audit::Audit::open(&data.join("audit"), audit_config)
            .with_context(|| format!("cannot open the audit log in {}", data.join("audit").display()))?,
    );
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let metrics_listener = match config.metrics_listen {
        Some(a) => Some(tokio::net::TcpListener::bind(a).await.with_context(|| {
            format!("cannot listen for metrics on {a} (set `metrics_listen` or --metrics-listen to another address, or null to turn it off)")
        })?),
        None => None,
    };
    let metrics_addr = metrics_listener.as_ref().map(|l| l.local_addr()).transpose()?;
    let state = Arc::new(AppState {
        runtime,
        tokens,
        audit,
        slots: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_predictions)),
        metrics: super::metrics::Metrics::new(),
        buckets: Mutex::new(HashMap::new()),
        registry,
        verifier,
        operating_points,
        validation_reports,
        config,
        drift_alerts: Default::default(),
    });
    Ok((Server { state, addr, metrics_addr, metrics_listener }, listener))
}

/// Serves until `shutdown` resolves; in-flight requests finish, then the
/// audit log is flushed and closed.
pub async fn run(
    server: Server,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let state = server.state.clone();
    if let Some(l) = server.metrics_listener {
        let app = super::metrics_router(state.clone());
        let timeout = Duration::from_millis(state.config.request_timeout_ms);
        tokio::spawn(serve(l, app, timeout, std::future::pending()));
    }
    if let Some(upstream) = state.config.upstream.clone() {
        spawn_sync(state.clone(), upstream);
    }
    let purge_state = state.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            let audit = purge_state.audit.clone();
            let _ = tokio::task::spawn_blocking(move || audit.purge_expired(std::time::SystemTime::now())).await;
        }
    });
    report_revocation_status(&state);
    // Alerts still tripped in the window rebuilt from the audit log are logged again.
    super::drift::evaluate_all(&state);
    tracing::info!(addr = %server.addr, components = state.runtime.components().len(), "komp is serving");
    serve(listener, super::router(state.clone()), Duration::from_millis(state.config.request_timeout_ms), shutdown)
        .await;
    // Every audit record was durable before its response was sent; nothing to flush.
    tracing::info!("komp stopped");
    Ok(())
}

/// Serves until `shutdown` with a header-read timeout per connection and a
/// whole-request timeout (408), the same loop as the registry server's
/// (`komp_registry::http::serve`): a client that sends half a request head
/// or a trickle of body cannot hold its connection forever.
async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let app =
        app.layer(komp_registry::http::request_timeout(timeout)).layer(axum::middleware::map_response(timeout_body));
    komp_registry::http::serve_connections(listener, app, timeout, shutdown).await
}

/// The request timeout's 408 comes from tower-http with an empty body; it
/// gets the JSON error body like every other error. (Only the 408: the web
/// pages' own error answers are HTML and stay so.)
async fn timeout_body(resp: axum::response::Response) -> axum::response::Response {
    use axum::response::IntoResponse;
    let status = axum::http::StatusCode::REQUEST_TIMEOUT;
    if resp.status() == status && !resp.headers().contains_key(axum::http::header::CONTENT_TYPE) {
        return super::ApiError::new(status, "the request took longer than this server allows").into_response();
    }
    resp
}

/// Publishes every `*.wasm` in `dir` that the registry does not have yet.
fn seed_registry(registry: &komp_registry::Registry, dir: &Path, policy: &TrustPolicy) -> Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("cannot read seed directory {}", dir.display()))?;
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    files.sort();
    for path in files {
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        match registry.publish(bytes, policy) {
            Ok(p) => tracing::info!(file = %path.display(), outcome = ?p.outcome, "seeded the registry"),
            Err(e) => tracing::warn!(file = %path.display(), error = %e, "not seeded"),
        }
    }
    Ok(())
}

/// Installs every non-yanked version in the registry. A component that fails
/// (bad golden vectors, untrusted) is logged and skipped; the host keeps serving the rest.
pub fn install_from_registry(runtime: &Runtime, registry: &komp_registry::Registry) {
    let summaries = match registry.list() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot list the registry");
            return;
        }
    };
    let mut work = Vec::new();
    for summary in summaries {
        for v in &summary.versions {
            if runtime.lookup(&summary.name, Some(&v.version)).is_ok() {
                continue; // installed already (and re-checked by `apply_revocations`)
            }
            match registry.get(&summary.name, &v.version) {
                Ok(b) => work.push((summary.name.clone(), v.version.clone(), b)),
                Err(e) => {
                    tracing::error!(component = %summary.name, version = %v.version, error = %e, "cannot read from the registry")
                }
            }
        }
    }
    // Installing is CPU work per component (load compiled code, optimise the
    // models, run the golden vectors) and components are independent, so
    // start-up uses every core.
    let queue = Mutex::new(work.into_iter());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let Some((name, version, bytes)) = queue.lock().expect("lock").next() else { break };
                match runtime.install(bytes) {
                    Ok(r) => {
                        tracing::info!(component = %r.name, version = %r.version, golden = r.golden_vectors_passed, "installed")
                    }
                    Err(e) => tracing::error!(component = %name, %version, error = %e, "not installed"),
                }
            });
        }
    });
}

/// Applies a revocation list: every installed component that no longer
/// verifies is withdrawn at once, with the reason.
pub fn apply_revocations(state: &SharedState, list: RevocationList) {
    *state.verifier.revocations.write().expect("lock") = list;
    for c in state.runtime.components() {
        if let Err(e) = state.verifier.check(c.artifact()) {
            let m = c.manifest();
            if state.runtime.withdraw(&m.name, &m.version, &e.to_string()) {
                tracing::warn!(component = %m.name, version = %m.version, reason = %e, "withdrawn");
            }
        }
    }
}

fn spawn_sync(state: SharedState, upstream: String) {
    tokio::spawn(async move {
        loop {
            let s = state.clone();
            let up = upstream.clone();
            let result = tokio::task::spawn_blocking(move || sync_once(&s, &up)).await;
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    state.metrics.sync_failures.inc();
                    tracing::error!(upstream = %upstream, error = %format!("{e:#}"), "sync from upstream failed")
                }
                Err(e) => {
                    state.metrics.sync_failures.inc();
                    tracing::error!(error = %e, "sync task panicked")
                }
            }
            report_revocation_status(&state);
            tokio::time::sleep(Duration::from_secs(state.config.sync_interval_secs.max(1))).await;
        }
    });
}

/// One sync from upstream: pull new versions (verified locally), apply the
/// revocation list, install what is new, withdraw what is revoked.
///
/// `oci://HOST/NAMESPACE` upstreams go through `komp_oci::sync_from_oci`,
/// everything else through `komp_registry::http::sync_from`. Whatever list
/// the registry holds afterwards is put in force even when the sync failed
/// part way (a list applied before a later step failed must not wait for
/// the next successful sync).
pub fn sync_once(state: &SharedState, upstream: &str) -> Result<()> {
    let policy = &state.verifier.policy;
    let synced = if upstream.starts_with("oci://") {
        let up = oci_upstream(&state.config)?;
        komp_oci::sync_from_oci(&up, &state.registry, policy).map_err(anyhow::Error::from)
    } else {
        komp_registry::http::sync_from(upstream, &state.registry, policy).map_err(anyhow::Error::from)
    };
    let list = state.registry.revocations()?;
    apply_revocations(state, list);
    let report = synced.with_context(|| format!("syncing from {upstream}"))?;
    for (id, why) in &report.refused {
        tracing::warn!(upstream = %upstream, release = %id, reason = %why, "refused from upstream");
    }
    if !report.added.is_empty() || !report.updated.is_empty() {
        tracing::info!(upstream = %upstream, added = ?report.added, updated = ?report.updated, "synced from upstream");
    }
    install_from_registry(&state.runtime, &state.registry);
    Ok(())
}

/// The `oci://` upstream of `config` with its connection settings
/// (`upstream_components`, `upstream_ca_file`, `upstream_plain_http`,
/// `upstream_docker_config`). Credentials are read on every sync, so a
/// rotated docker config is picked up without a restart.
pub fn oci_upstream(config: &ServerConfig) -> Result<komp_oci::OciUpstream> {
    let upstream = config.upstream.as_deref().unwrap_or_default();
    let namespace = komp_oci::Reference::parse(upstream).context("the upstream is not a valid oci:// namespace")?;
    let credentials_file = match &config.upstream_docker_config {
        Some(p) => Some(p.clone()),
        None => komp_oci::Credentials::default_docker_config_path().filter(|p| p.exists()),
    };
    let credentials = match &credentials_file {
        Some(p) => komp_oci::Credentials::from_docker_config(p, &namespace.registry)
            .with_context(|| format!("cannot take the upstream's credentials from {}", p.display()))?,
        None => komp_oci::Credentials::Anonymous,
    };
    let options = komp_oci::ClientOptions {
        credentials,
        plain_http: config.upstream_plain_http,
        ca_file: config.upstream_ca_file.clone(),
        ..komp_oci::ClientOptions::default()
    };
    komp_oci::OciUpstream::parse(upstream, config.upstream_components.clone(), options)
        .context("the upstream is not a valid oci:// namespace")
}
