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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("KOMP_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
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
        Command::Pack { component, manifest, models, golden, output } => pack(component, manifest, models, golden, output),
        Command::Inspect { file, json } => inspect(file, json),
        Command::Predict { file, input, deadline_ms, memory_mib } => predict(file, input, deadline_ms, memory_mib),
    }
}

fn pack(component: PathBuf, manifest: PathBuf, models: Vec<String>, golden: Option<PathBuf>, output: PathBuf) -> Result<()> {
    let wasm = std::fs::read(&component).with_context(|| format!("cannot read component {}", component.display()))?;
    let text = std::fs::read_to_string(&manifest).with_context(|| format!("cannot read manifest {}", manifest.display()))?;
    let mut manifest_value: Manifest =
        serde_json::from_str(&text).with_context(|| format!("manifest {} is not a valid komp manifest", manifest.display()))?;
    if let Some(g) = golden {
        let text = std::fs::read_to_string(&g).with_context(|| format!("cannot read golden vectors {}", g.display()))?;
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
    println!("{} {} -> {} ({} bytes, digest {})", artifact.manifest().name, artifact.manifest().version, output.display(), artifact.bytes().len(), artifact.digest());
    Ok(())
}

fn inspect(file: PathBuf, json: bool) -> Result<()> {
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let size = bytes.len();
    let artifact = Artifact::parse(bytes).with_context(|| format!("{} is not a valid komp component", file.display()))?;
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
    println!("signatures   {}", if artifact.signature_section().is_some() { "present (check with `komp verify`)" } else { "none" });
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
