//! `komp`: pack, inspect and run komp standard AI components.
//!
//! Exit codes: 0 success, 1 the operation failed (the message says why),
//! 2 the command line was wrong.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use komp_artifact::{Artifact, Manifest};
use komp_host::{Runtime, RuntimeConfig};
use std::path::PathBuf;
use std::process::ExitCode;

mod validate_cmd;

#[derive(Parser)]
#[command(name = "komp", version, about = "Run shareable, signed standard AI components for municipalities.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the single-file component artifact from a component built by
    /// cargo, its manifest and its ONNX models.
    ///
    /// Model digests in the manifest are filled in (or checked, if given).
    Pack {
        /// The component built with `cargo build --target wasm32-wasip2`.
        #[arg(long)]
        component: PathBuf,
        /// The manifest JSON (name, version, labels, input schema, model card, ...).
        #[arg(long)]
        manifest: PathBuf,
        /// A model as NAME=PATH (repeatable); NAME is what the component passes to load-by-name.
        #[arg(long = "model", value_name = "NAME=PATH")]
        models: Vec<String>,
        /// JSON file of golden vectors to put into the manifest (replaces its `golden_vectors`).
        #[arg(long)]
        golden: Option<PathBuf>,
        /// Where to write the artifact.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Show a component file: manifest summary, models with digests, world, size.
    Inspect {
        file: PathBuf,
        /// Print the whole manifest as JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Install a component in a local runtime and run one prediction.
    Predict {
        file: PathBuf,
        /// The input as JSON text, or @PATH to read it from a file.
        #[arg(long)]
        input: String,
        /// Wall-clock deadline in milliseconds.
        #[arg(long, default_value_t = 2000)]
        deadline_ms: u64,
        /// Memory cap of the instance in MiB.
        #[arg(long, default_value_t = 64)]
        memory_mib: usize,
    },
    /// Run the municipal HTTP host: Open Inference Protocol, JSON API,
    /// tenants, audit log, feedback, metrics.
    Serve(ServeArgs),
    /// Create, list and revoke bearer tokens (stored as hashes in the data directory).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Verify and export the audit log.
    #[command(subcommand)]
    Audit(komp_audit::cli::AuditCommand),
    /// Validate a component on your own labelled sample (report.html and
    /// report.json), plan how many cases to label, compare municipalities.
    #[command(subcommand)]
    Validate(komp_validate::cli::ValidateCommand),
    #[command(flatten)]
    Registry(komp_registry::cli::RegistryCommand),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// JSON configuration file; flags and KOMP_* environment variables override it.
    #[arg(long, env = "KOMP_CONFIG")]
    config: Option<PathBuf>,
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
    /// Upstream registry URL to sync components and revocations from.
    #[arg(long, env = "KOMP_UPSTREAM")]
    upstream: Option<String>,
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
    log_json: bool,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once and stored only as a hash.
    Create {
        #[arg(long, env = "KOMP_DATA_DIR", default_value = "komp-data")]
        data_dir: PathBuf,
        /// Kommunekode of the municipality, e.g. 0751.
        #[arg(long)]
        tenant: String,
        #[arg(long, value_enum)]
        role: komp_host::server::auth::Role,
        /// Free text to remember what the token is for.
        #[arg(long, default_value = "")]
        note: String,
        /// Print only the token (for scripts).
        #[arg(long)]
        quiet: bool,
    },
    /// List tokens (ids, tenants, roles; never the tokens themselves).
    List {
        #[arg(long, env = "KOMP_DATA_DIR", default_value = "komp-data")]
        data_dir: PathBuf,
    },
    /// Revoke a token by id.
    Revoke {
        #[arg(long, env = "KOMP_DATA_DIR", default_value = "komp-data")]
        data_dir: PathBuf,
        id: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (json, default_level) = match &cli.command {
        Command::Serve(a) => (a.log_json, "info"),
        _ => (false, "warn"),
    };
    if !matches!(
        cli.command,
        Command::Serve(_) | Command::Registry(komp_registry::cli::RegistryCommand::ServeRegistry { .. })
    ) {
        // A one-shot command piped into `head` should end quietly when the
        // pipe closes, like any Unix tool, not panic in `println!`. (Servers
        // keep Rust's default: SIGPIPE ignored, EPIPE returned per socket.)
        // SAFETY: called before any other thread exists; SIG_DFL is a valid disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("KOMP_LOG").unwrap_or_else(|_| default_level.into());
    if json {
        tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Pack { component, manifest, models, golden, output } => {
            pack(component, manifest, models, golden, output)
        }
        Command::Inspect { file, json } => inspect(file, json),
        Command::Predict { file, input, deadline_ms, memory_mib } => predict(file, input, deadline_ms, memory_mib),
        Command::Serve(args) => serve(args),
        Command::Token(cmd) => token(cmd),
        Command::Audit(cmd) => komp_audit::cli::run(cmd),
        Command::Registry(cmd) => komp_registry::cli::run(cmd),
        Command::Validate(cmd) => validate_cmd::run(cmd),
    }
}

fn serve(a: ServeArgs) -> Result<()> {
    use komp_host::server::config::ServerConfig;
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
    limit_malloc_arenas();
    let rt =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    rt.block_on(async move {
        let (server, listener) = komp_host::server::run::start(config).await?;
        println!("komp listening on http://{}", server.addr);
        if let Some(m) = server.metrics_addr {
            println!("komp metrics on http://{m}/metrics");
        }
        komp_host::server::run::run(server, listener, shutdown_signal()).await
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

fn token(cmd: TokenCommand) -> Result<()> {
    use komp_host::server::auth::TokenStore;
    match cmd {
        TokenCommand::Create { data_dir, tenant, role, note, quiet } => {
            let store = TokenStore::open(&data_dir)?;
            let (entry, token) = store.create(&tenant, role, &note)?;
            if quiet {
                println!("{token}");
            } else {
                println!("token id  {}\ntenant    {}\nrole      {:?}\ntoken     {token}\n(shown once; only its hash is stored)", entry.id, entry.tenant, entry.role);
            }
        }
        TokenCommand::List { data_dir } => {
            for t in TokenStore::open(&data_dir)?.list()? {
                println!(
                    "{}  tenant {}  {:<9}  created {}  {}",
                    t.id,
                    t.tenant,
                    format!("{:?}", t.role).to_lowercase(),
                    t.created,
                    t.note
                );
            }
        }
        TokenCommand::Revoke { data_dir, id } => {
            if !TokenStore::open(&data_dir)?.revoke(&id)? {
                bail!("no token with id {id}");
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}

fn pack(
    component: PathBuf,
    manifest: PathBuf,
    models: Vec<String>,
    golden: Option<PathBuf>,
    output: PathBuf,
) -> Result<()> {
    let wasm = std::fs::read(&component).with_context(|| format!("cannot read component {}", component.display()))?;
    let text =
        std::fs::read_to_string(&manifest).with_context(|| format!("cannot read manifest {}", manifest.display()))?;
    let mut manifest_value: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("manifest {} is not a valid komp manifest", manifest.display()))?;
    if let Some(g) = golden {
        let text =
            std::fs::read_to_string(&g).with_context(|| format!("cannot read golden vectors {}", g.display()))?;
        manifest_value.golden_vectors =
            serde_json::from_str(&text).with_context(|| format!("golden vectors {} are not valid", g.display()))?;
    }
    let mut model_bytes = Vec::new();
    for m in &models {
        let (name, path) = m.split_once('=').with_context(|| format!("--model {m:?}: expected NAME=PATH"))?;
        let bytes = std::fs::read(path).with_context(|| format!("cannot read model {path}"))?;
        model_bytes.push((name.to_string(), bytes));
    }
    for declared in &manifest_value.models {
        if !model_bytes.iter().any(|(n, _)| n == &declared.name) {
            bail!("the manifest declares model `{}`, but no --model {}=PATH was given", declared.name, declared.name);
        }
    }
    let artifact = komp_artifact::pack(&wasm, manifest_value, &model_bytes)
        .with_context(|| format!("cannot pack {}", component.display()))?;
    write_file(&output, artifact.bytes())?;
    println!(
        "{} {} -> {} ({} bytes, digest {})",
        artifact.manifest().name,
        artifact.manifest().version,
        output.display(),
        artifact.bytes().len(),
        artifact.digest()
    );
    Ok(())
}

fn inspect(file: PathBuf, json: bool) -> Result<()> {
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let size = bytes.len();
    let artifact =
        Artifact::parse(bytes).with_context(|| format!("{} is not a valid komp component", file.display()))?;
    let m = artifact.manifest();
    if json {
        println!("{}", serde_json::to_string_pretty(m)?);
        return Ok(());
    }
    println!("component    {}@{}", m.name, m.version);
    println!("description  {}", m.description);
    println!("publisher    {}", m.publisher);
    println!("licence      {}", m.licence);
    println!("world        {}", m.world);
    println!("digest       {}", artifact.digest());
    println!("size         {size} bytes");
    println!("labels       {}", m.labels.iter().map(|l| l.id.as_str()).collect::<Vec<_>>().join(", "));
    println!("ai act       {:?}: {}", m.ai_act.risk_class, m.ai_act.reasoning);
    println!("golden       {} vectors", m.golden_vectors.len());
    println!(
        "signatures   {}",
        if artifact.signature_section().is_some() { "present (check with `komp verify`)" } else { "none" }
    );
    println!("models");
    for (name, bytes) in artifact.models() {
        println!("  {name:<20} onnx  {:>9} bytes  sha256 {}", bytes.len(), komp_artifact::sha256_hex(bytes));
    }
    Ok(())
}

fn predict(file: PathBuf, input: String, deadline_ms: u64, memory_mib: usize) -> Result<()> {
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let input = match input.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read input {path}"))?,
        None => input,
    };
    let config = RuntimeConfig {
        deadline: std::time::Duration::from_millis(deadline_ms),
        memory_cap: memory_mib << 20,
        max_instances: 4,
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(config)?;
    let report = runtime.install(bytes).with_context(|| format!("cannot install {}", file.display()))?;
    let outcome = runtime.predict(&report.name, None, &input)?;
    println!("{}", serde_json::to_string_pretty(&outcome)?);
    Ok(())
}

fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    komp_host::engine::write_atomic(path, bytes, false).with_context(|| format!("cannot write {}", path.display()))
}
