//! `komp new`, `komp build`, `komp test`: from a folder an author edits to a
//! checked, optionally signed component file.
//!
//! `komp build` does, in order: compile the manifest source (`komp.toml`),
//! check the model files (ONNX? small enough?), build the wasm with cargo
//! (adding the `wasm32-wasip2` target if it is missing), check the world's
//! exports and the imports, pack, and then run the component in the real
//! runtime (komp-runtime): its metadata against the manifest, every golden
//! vector and every example of the input schema. Only then is the file
//! written and, with `--sign`/`--endorse`, signed. Every failure says what to
//! change; the library parts are in komp-author.

use anyhow::{anyhow, bail, Context, Result};
use komp_artifact::Manifest;
use komp_author::checks;
use komp_author::source::{self, CompiledSource};
use komp_author::templates::{self, Template};
use komp_runtime::{Runtime, RuntimeConfig, RuntimeError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The Rust target a component is built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// `komp new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The component's name (also its folder and crate name): lowercase
    /// letters, digits and '-', e.g. `klage-tone`.
    pub name: String,
    /// What to start from.
    #[arg(long, value_parser = ["text-classifier", "tabular"], default_value = "text-classifier")]
    pub template: String,
    /// Who publishes the component (written into the model card and ALTAI answers).
    #[arg(long, default_value = "TODO: your organisation")]
    pub publisher: String,
    /// The komp-sdk folder to build against (a komp checkout's `sdk/`)
    /// [default: the one this komp was built from, if it is still there].
    #[arg(long, env = "KOMP_SDK", value_name = "DIR")]
    pub sdk: Option<PathBuf>,
    /// The folder to create the component in [default: ./NAME].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// What `komp build` and `komp test` share.
#[derive(Debug, Clone, clap::Args)]
pub struct SourceArgs {
    /// The component folder, or its komp.toml.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Use this already built component (`.wasm` from cargo) instead of running cargo.
    #[arg(long, value_name = "WASM")]
    pub wasm: Option<PathBuf>,
    /// The largest component file a registry accepts (its `max_artifact_bytes`).
    #[arg(long, value_name = "BYTES", default_value_t = checks::DEFAULT_MAX_COMPONENT_BYTES)]
    pub max_component_bytes: u64,
}

/// `komp build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Where to write the component [default: dist/NAME-VERSION.wasm in the component folder].
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Sign the built component with this publisher private key.
    #[arg(long, value_name = "PRIVATE_KEY")]
    pub sign: Option<PathBuf>,
    /// Then endorse it with this approver private key (the "blue stamp").
    #[arg(long, value_name = "PRIVATE_KEY")]
    pub endorse: Option<PathBuf>,
}

/// `komp test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// A JSON Lines file of inputs to run through the component; a line is
    /// `{"input": {...}, "label": "expected-label"}` (`label` optional) or
    /// just the input object [default: samples.jsonl in the component folder, if it exists].
    #[arg(long, value_name = "FILE")]
    pub sample: Option<PathBuf>,
}

/// What `komp build` made.
#[derive(Debug, Clone)]
pub struct BuildSummary {
    pub output: PathBuf,
    pub name: String,
    pub version: String,
    pub size: usize,
    pub digest: String,
    pub golden_vectors_passed: usize,
    pub examples_passed: usize,
    pub signed_by: Vec<String>,
}

/// `komp new NAME --template …`.
pub fn new(args: NewArgs, out: &mut dyn Write) -> Result<()> {
    let template = Template::from_name(&args.template)
        .ok_or_else(|| anyhow!("unknown template {:?}; use text-classifier or tabular", args.template))?;
    let sdk = match args.sdk {
        Some(dir) => dir,
        None => {
            let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
            if !built_from.join("Cargo.toml").exists() {
                bail!("cannot find komp-sdk: pass --sdk DIR (the `sdk` folder of a komp checkout) or set KOMP_SDK");
            }
            built_from
        }
    };
    let sdk = std::fs::canonicalize(&sdk)
        .ok()
        .filter(|d| d.join("Cargo.toml").exists())
        .ok_or_else(|| anyhow!("{} is not the komp-sdk folder (it has no Cargo.toml)", sdk.display()))?;
    let sdk_dep = format!("{{ path = {} }}", toml_string(&sdk.to_string_lossy()));
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    let written = templates::create(
        template,
        &dir,
        &templates::NewComponent { name: &args.name, publisher: &args.publisher, sdk: &sdk_dep },
    )?;
    writeln!(
        out,
        "created {} ({} template, {} files) in {}",
        args.name,
        template.name(),
        written.len(),
        dir.display()
    )?;
    writeln!(out, "next: cd {} && komp build", dir.display())?;
    Ok(())
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Progress lines on stderr, so stdout stays the summary.
struct Progress {
    started: Instant,
    quiet: bool,
}

impl Progress {
    fn step(&self, what: &str) {
        if !self.quiet {
            eprintln!("[{:>5.1}s] {what}", self.started.elapsed().as_secs_f32());
        }
    }
}

/// The component file before it is written: packed, checked in the runtime.
struct Checked {
    compiled: CompiledSource,
    artifact: komp_artifact::Artifact,
    golden_passed: usize,
    examples_passed: usize,
}

fn source_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(source::SOURCE_FILE)
    } else {
        path.to_path_buf()
    }
}

/// Everything up to a checked artifact; `failures` collects readable test
/// failures (golden vectors, examples) instead of stopping at the first.
fn check(args: &SourceArgs, progress: &Progress, failures: &mut Vec<String>) -> Result<Checked> {
    let file = source_file(&args.path);
    if !file.exists() {
        bail!(
            "{} does not exist: run `komp build` in a component folder (one made by `komp new`), or pass the folder",
            file.display()
        );
    }
    progress.step(&format!("reading {}", file.display()));
    let compiled = source::compile(&file)?;
    let m = &compiled.manifest;

    let mut models = Vec::new();
    let mut infos = Vec::new();
    for model in &compiled.models {
        let bytes = std::fs::read(&model.path).with_context(|| {
            format!("cannot read model `{}` at {} (komp.toml `[[models]] path`)", model.name, model.path.display())
        })?;
        let info = checks::onnx_info(&bytes)
            .map_err(|why| anyhow!("model `{}` ({}): {why}", model.name, model.path.display()))?;
        infos.push((model.name.clone(), info));
        models.push((model.name.clone(), bytes));
    }
    let sizes: Vec<(String, u64)> = models.iter().map(|(n, b)| (n.clone(), b.len() as u64)).collect();
    if let Some(message) = checks::models_too_large(&sizes, args.max_component_bytes) {
        bail!("{message}");
    }

    let wasm = match &args.wasm {
        Some(path) => std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
        None => {
            let path = cargo_build(&compiled.dir, compiled.package.as_deref(), progress)?;
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?
        }
    };
    progress.step("checking the world's exports and the imports");
    let problems = checks::check_component(&wasm);
    if !problems.is_empty() {
        let list = problems.iter().map(|p| format!("- {p}")).collect::<Vec<_>>().join("\n");
        bail!("the built component cannot run on a komp host:\n{list}");
    }

    progress.step("packing the component with its models and manifest");
    let goldens = m.golden_vectors.clone();
    let mut bare = m.clone();
    bare.golden_vectors.clear();
    let bare_artifact = komp_artifact::pack(&wasm, bare, &models).context("cannot pack the component")?;
    if bare_artifact.bytes().len() as u64 > args.max_component_bytes {
        bail!(
            "the component file is {} but a registry accepts at most {}; make the models smaller",
            checks::human_bytes(bare_artifact.bytes().len() as u64),
            checks::human_bytes(args.max_component_bytes)
        );
    }

    progress.step("installing it in the runtime (compiles the wasm, loads the models)");
    let runtime = Runtime::new(RuntimeConfig { max_instances: 4, ..RuntimeConfig::default() })?;
    runtime.install(bare_artifact.into_bytes()).map_err(install_error)?;

    progress.step(&format!("running {} golden vectors", goldens.len()));
    let mut golden_passed = 0;
    for (i, g) in goldens.iter().enumerate() {
        let input = g.input.to_string();
        match runtime.predict(&m.name, None, &input) {
            Ok(outcome) => {
                let p = &outcome.prediction;
                let mut diffs = Vec::new();
                if p.label != g.expected.label {
                    diffs.push(format!("label {:?}, expected {:?}", p.label, g.expected.label));
                }
                for (label, want) in &g.expected.scores {
                    match p.score(label) {
                        Some(got) if (got - want).abs() <= g.tolerance => {}
                        Some(got) => diffs.push(format!(
                            "score of {label:?} {got}, expected {want} (differs by {:.2e}, tolerance {:.0e})",
                            (got - want).abs(),
                            g.tolerance
                        )),
                        None => diffs.push(format!("no score for {label:?}")),
                    }
                }
                if diffs.is_empty() {
                    golden_passed += 1;
                } else {
                    failures.push(format!(
                        "golden vector {i} ({}): {}\n  hint: if you retrained, run the training again so that \
                         training-output.json matches model/… (it writes both); if you changed src/lib.rs, the \
                         component no longer computes what was trained",
                        short(&input),
                        diffs.join("; ")
                    ));
                }
            }
            Err(e) => failures.push(format!("golden vector {i} ({}): {}", short(&input), predict_error(&e, m, &infos))),
        }
    }

    let examples = m.input_schema.get("examples").and_then(|e| e.as_array()).cloned().unwrap_or_default();
    progress.step(&format!("running {} examples of the input schema", examples.len()));
    let mut examples_passed = 0;
    for (i, example) in examples.iter().enumerate() {
        match runtime.predict(&m.name, None, &example.to_string()) {
            Ok(_) => examples_passed += 1,
            Err(e) => failures.push(format!(
                "input schema example {i} ({}): {}",
                short(&example.to_string()),
                predict_error(&e, m, &infos)
            )),
        }
    }

    let mut full = m.clone();
    full.golden_vectors = goldens;
    let artifact = komp_artifact::pack(&wasm, full, &models).context("cannot pack the component")?;
    Ok(Checked { compiled, artifact, golden_passed, examples_passed })
}

/// `komp build`: the checked component file, written and optionally signed.
pub fn build(args: BuildArgs, out: &mut dyn Write) -> Result<BuildSummary> {
    let progress = Progress { started: Instant::now(), quiet: false };
    let mut failures = Vec::new();
    let checked = check(&args.source, &progress, &mut failures)?;
    if !failures.is_empty() {
        bail!("{} check(s) failed; nothing was written:\n{}", failures.len(), bullet(&failures));
    }
    let Checked { compiled, artifact, golden_passed, examples_passed } = checked;
    let m = artifact.manifest().clone();

    // The final bytes, golden vectors included, must install as a host installs them.
    let runtime = Runtime::new(RuntimeConfig { max_instances: 2, ..RuntimeConfig::default() })?;
    let report = runtime
        .install(artifact.bytes().to_vec())
        .map_err(|e| anyhow!("the packed component does not install: {e}"))?;

    let output =
        args.output.clone().unwrap_or_else(|| compiled.dir.join("dist").join(format!("{}-{}.wasm", m.name, m.version)));
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    komp_artifact::fsutil::write_atomic_mode(&output, artifact.bytes(), false)
        .with_context(|| format!("cannot write {}", output.display()))?;
    let mut signed_by = Vec::new();
    let mut sign_log = Vec::new();
    if let Some(key) = &args.sign {
        progress.step("signing with the publisher key");
        signed_by.push(super::registry::sign_with(&output, key, komp_registry::keys::Role::Publisher, &mut sign_log)?);
    }
    if let Some(key) = &args.endorse {
        progress.step("endorsing with the approver key");
        signed_by.push(super::registry::sign_with(&output, key, komp_registry::keys::Role::Approver, &mut sign_log)?);
    }
    let size = std::fs::metadata(&output).map(|md| md.len() as usize).unwrap_or(artifact.bytes().len());
    let summary = BuildSummary {
        output: output.clone(),
        name: m.name.clone(),
        version: m.version.to_string(),
        size,
        digest: report.digest.clone(),
        golden_vectors_passed: golden_passed,
        examples_passed,
        signed_by,
    };
    writeln!(out, "built {}@{} -> {}", summary.name, summary.version, output.display())?;
    writeln!(out, "  size            {} ({} bytes)", checks::human_bytes(size as u64), size)?;
    writeln!(out, "  digest          {}", summary.digest)?;
    writeln!(
        out,
        "  models          {}",
        artifact
            .models()
            .map(|(n, b)| format!("{n} ({})", checks::human_bytes(b.len() as u64)))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(out, "  golden vectors  {golden_passed} passed ({} from training output)", compiled.golden_from_training)?;
    writeln!(out, "  schema examples {examples_passed} passed")?;
    if summary.signed_by.is_empty() {
        writeln!(out, "  signatures      none (sign with --sign PUBLISHER_KEY)")?;
    } else {
        writeln!(out, "  signatures      {}", summary.signed_by.join(", "))?;
    }
    Ok(summary)
}

/// `komp test`: the author's loop. Runs everything `komp build` checks, plus
/// a sample file, and reports every failure rather than the first.
pub fn test(args: TestArgs, out: &mut dyn Write) -> Result<()> {
    let progress = Progress { started: Instant::now(), quiet: false };
    let mut failures = Vec::new();
    let checked = check(&args.source, &progress, &mut failures)?;
    let m = checked.artifact.manifest().clone();
    let sample = args.sample.clone().or_else(|| {
        let default = checked.compiled.dir.join("samples.jsonl");
        default.exists().then_some(default)
    });
    let mut sample_passed = 0;
    let mut sample_total = 0;
    if let Some(path) = &sample {
        let runtime = Runtime::new(RuntimeConfig { max_instances: 2, ..RuntimeConfig::default() })?;
        runtime.install(checked.artifact.bytes().to_vec())?;
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        progress.step(&format!("running {}", path.display()));
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            sample_total += 1;
            let at = format!("{}:{}", path.display(), i + 1);
            let value: serde_json::Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(e) => {
                    failures.push(format!("{at}: not JSON: {e}"));
                    continue;
                }
            };
            let (input, expected) = match value.get("input") {
                Some(input) => (input.clone(), value.get("label").and_then(|l| l.as_str()).map(str::to_string)),
                None => (value.clone(), None),
            };
            match runtime.predict(&m.name, None, &input.to_string()) {
                Ok(outcome) => {
                    let p = &outcome.prediction;
                    let top = p.scores.iter().find(|s| s.label == p.label).map_or(0.0, |s| s.score);
                    match expected {
                        Some(want) if want != p.label => failures.push(format!(
                            "{at}: expected {want:?}, the component said {:?} (score {top:.3})",
                            p.label
                        )),
                        _ => sample_passed += 1,
                    }
                    writeln!(
                        out,
                        "{at}: {} ({top:.3}){}",
                        p.label,
                        if p.requires_human_review { ", review" } else { "" }
                    )?;
                }
                Err(e) => failures.push(format!("{at}: {}", predict_error(&e, &m, &[]))),
            }
        }
    }
    writeln!(
        out,
        "golden vectors {}/{}, schema examples {}/{}, samples {sample_passed}/{sample_total}",
        checked.golden_passed,
        m.golden_vectors.len(),
        checked.examples_passed,
        m.input_schema.get("examples").and_then(|e| e.as_array()).map_or(0, Vec::len),
    )?;
    if !failures.is_empty() {
        bail!("{} failure(s):\n{}", failures.len(), bullet(&failures));
    }
    writeln!(out, "ok")?;
    Ok(())
}

fn bullet(items: &[String]) -> String {
    items.iter().map(|f| format!("- {f}")).collect::<Vec<_>>().join("\n")
}

fn short(text: &str) -> String {
    if text.chars().count() <= 80 {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(80).collect::<String>())
    }
}

/// Builds the crate in `dir` for wasm32-wasip2 and returns the component's path.
fn cargo_build(dir: &Path, package: Option<&str>, progress: &Progress) -> Result<PathBuf> {
    ensure_target(progress)?;
    progress.step(&format!("cargo build --target {WASM_TARGET} --profile component"));
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(dir)
        .args(["build", "--target", WASM_TARGET, "--profile", "component", "--message-format=json-render-diagnostics"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(p) = package {
        cmd.args(["-p", p]);
    }
    let output = cmd.output().context("cannot run cargo: is the Rust toolchain installed (https://rustup.rs)?")?;
    let mut wasm = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let cdylib = msg["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "cdylib"));
        if let Some(files) = msg["filenames"].as_array().filter(|_| cdylib) {
            if let Some(f) = files.iter().filter_map(|f| f.as_str()).find(|f| f.ends_with(".wasm")) {
                wasm = Some(PathBuf::from(f));
            }
        }
    }
    if !output.status.success() {
        bail!("cargo build failed (its messages are above); fix the code and run komp build again");
    }
    wasm.ok_or_else(|| {
        anyhow!(
            "cargo built no component (.wasm from a cdylib) in {}: set `crate-type = [\"cdylib\"]` under [lib] in Cargo.toml",
            dir.display()
        )
    })
}

/// Adds the wasm32-wasip2 target with rustup if it is missing.
fn ensure_target(progress: &Progress) -> Result<()> {
    let Ok(list) = Command::new("rustup").args(["target", "list", "--installed"]).output() else {
        return Ok(()); // no rustup: cargo says what is missing, if anything
    };
    if String::from_utf8_lossy(&list.stdout).lines().any(|l| l.trim() == WASM_TARGET) {
        return Ok(());
    }
    progress.step(&format!("installing the {WASM_TARGET} target (rustup target add {WASM_TARGET})"));
    let status = Command::new("rustup").args(["target", "add", WASM_TARGET]).status()?;
    if !status.success() {
        bail!("`rustup target add {WASM_TARGET}` failed; run it yourself and try again");
    }
    Ok(())
}

/// An install failure, with what to change.
fn install_error(e: RuntimeError) -> anyhow::Error {
    let hint = match &e {
        RuntimeError::MetadataMismatch { field, code, manifest, .. } => match *field {
            "labels" => format!(
                "src/lib.rs returns the labels {code} from metadata(), but komp.toml's [[labels]] are {manifest}: \
                 make them the same ids in the same order (the order of the scores)"
            ),
            "name" | "version" => format!(
                "the code says {field} {code:?} (Cargo.toml's package {field}) but komp.toml says {manifest:?}: \
                 make them equal"
            ),
            _ => "make src/lib.rs's metadata() agree with komp.toml".into(),
        },
        RuntimeError::WrongWorld { .. } => format!(
            "build against the komp-sdk of this komp version (world {}): update the komp-sdk dependency and rebuild",
            komp_artifact::manifest::STANDARD_WORLD
        ),
        RuntimeError::Model { model, .. } => format!(
            "tract cannot load `{model}`: export it with opset 13 and the ops komp_train.export uses, \
             and check it with komp_train.verify"
        ),
        RuntimeError::Artifact(a) if a.to_string().contains("input_schema") => {
            "fix the JSON Schema in input-schema.json (see https://json-schema.org/understanding-json-schema/)".into()
        }
        _ => String::new(),
    };
    if hint.is_empty() {
        anyhow!("the component does not install: {e}")
    } else {
        anyhow!("the component does not install: {e}\n  hint: {hint}")
    }
}

/// A prediction failure, with what to change when the cause is a mismatch
/// between code, manifest and models.
fn predict_error(e: &RuntimeError, m: &Manifest, models: &[(String, checks::OnnxInfo)]) -> String {
    let text = e.to_string();
    // Before packing, the manifest's model list is still empty: the files' names are the declared ones.
    let declared: Vec<&str> = if models.is_empty() {
        m.models.iter().map(|x| x.name.as_str()).collect()
    } else {
        models.iter().map(|(n, _)| n.as_str()).collect()
    };
    let hint = match e {
        RuntimeError::ComponentModel(msg) | RuntimeError::ComponentInternal(msg) => {
            let lower = msg.to_lowercase();
            if lower.contains("load") || (lower.contains("not found") && !lower.contains("input")) {
                Some(format!(
                    "the component loads a model by a name the component does not carry; komp.toml's [[models]] \
                     are named {}: make `Model::load(\"…\")` in src/lib.rs and `[[models]] name` the same",
                    quoted(&declared)
                ))
            } else if lower.contains("input") {
                let inputs = models
                    .iter()
                    .map(|(n, info)| {
                        format!(
                            "`{n}` has inputs {}",
                            quoted(&info.inputs.iter().map(String::as_str).collect::<Vec<_>>())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                Some(format!(
                    "the names src/lib.rs passes to `Input::…(\"name\", …)` must be the model's input names: {inputs}"
                ))
            } else if lower.contains("output") {
                let outputs = models
                    .iter()
                    .map(|(n, info)| {
                        format!(
                            "`{n}` has outputs {}",
                            quoted(&info.outputs.iter().map(String::as_str).collect::<Vec<_>>())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                Some(format!(
                    "the names src/lib.rs reads with `out.f32(\"name\")` must be the model's outputs: {outputs}"
                ))
            } else {
                None
            }
        }
        RuntimeError::InputSchema(_) => {
            Some("the input does not fit input-schema.json: fix the example (or golden vector), or the schema".into())
        }
        RuntimeError::InvalidInput(_) => Some(
            "the schema accepts this input but src/lib.rs rejects it: make the input struct and the schema agree"
                .into(),
        ),
        _ => None,
    };
    match hint {
        Some(h) => format!("{text}\n  hint: {h}"),
        None => text,
    }
}

fn quoted(items: &[&str]) -> String {
    if items.is_empty() {
        return "(none)".into();
    }
    items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
}
