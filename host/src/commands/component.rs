//! `komp pack`, `komp inspect`, `komp predict`: build a component file, look
//! inside one, run one prediction in a local runtime.

use anyhow::{bail, Context, Result};
use komp_artifact::{Artifact, Manifest};
use komp_runtime::{Runtime, RuntimeConfig};
use std::path::PathBuf;

/// Builds the single-file component.
pub fn pack(
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

/// Prints a component file's manifest summary (or the whole manifest).
pub fn inspect(file: PathBuf, json: bool) -> Result<()> {
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

/// Installs a component in a local runtime and runs one prediction.
pub fn predict(file: PathBuf, input: String, deadline_ms: u64, memory_mib: usize) -> Result<()> {
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
    komp_artifact::fsutil::write_atomic_mode(path, bytes, false)
        .with_context(|| format!("cannot write {}", path.display()))
}
