//! `komp validate`: the local validation report (crate `komp-validate`) run
//! with the real runtime, so the numbers are about exactly the signed
//! component a municipality would serve, in the same sandbox.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use komp_registry::{RevocationList, TrustPolicy};
use komp_runtime::{Runtime, RuntimeConfig};
use komp_server::run::{TrustVerifier, DEV_POLICY};
use komp_validate::aggregate::{compare_html, compare_table, Aggregates};
use komp_validate::sample::{self, SampleSpec};
use komp_validate::PredictionLike;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Subcommand, Debug)]
pub enum ValidateCommand {
    /// Run a signed component over a labelled sample on this machine and
    /// write report.json, report.html and aggregates.json.
    ///
    /// The sample (.jsonl or .csv) has the component's input fields and a
    /// `label` column with the true label; other columns can be grouped by.
    /// JSONL rows are either {"input": {...}, "label": "..."} or flat
    /// {"subject": "...", "body": "...", "label": "..."}.
    Run(RunArgs),
    /// How many labelled cases are needed for a target interval width.
    ///
    /// Example: accuracy expected around 0.9, wanted ±0.05:
    /// `komp validate plan --proportion 0.9 --half-width 0.05`.
    /// Recall of acute notifications (30% of cases) expected 0.95:
    /// `komp validate plan --proportion 0.95 --half-width 0.05 --within 0.3`.
    Plan(PlanArgs),
    /// Show reports or aggregates from several municipalities side by side.
    Compare(CompareArgs),
    /// Write the counts-only aggregates of a report (no text, no ids, no line numbers).
    Export(ExportArgs),
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The component file (signed), e.g. target/komp-components/postsortering.wasm.
    pub component: PathBuf,
    /// The labelled sample: .jsonl or .csv (at most 256 MiB).
    #[arg(long)]
    pub data: PathBuf,
    /// Group results by an input field or extra column (repeatable). Integer
    /// fields take bands: child_age=0-2,3-5,6-12,13-17. Default: every
    /// category field of the input, and age fields in the card's bands.
    #[arg(long = "group-by", value_name = "FIELD[=BANDS]")]
    pub group_by: Vec<String>,
    /// Directory for report.json, report.html and aggregates.json.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Trust policy JSON: the component must be signed and endorsed by its keys.
    #[arg(long, env = "KOMP_TRUST_POLICY")]
    pub trust_policy: Option<PathBuf>,
    /// Development only: trust the development keys in keys/dev/ instead of a policy.
    #[arg(long)]
    pub dev: bool,
    /// The municipality or site name carried into aggregates.json (e.g. "Aarhus").
    #[arg(long)]
    pub site: Option<String>,
    /// The positive label of a flag component [default: from its operating point].
    #[arg(long)]
    pub positive: Option<String>,
    /// Bootstrap resamples for F1, ECE, Brier and AUC intervals.
    #[arg(long, default_value_t = komp_validate::stats::DEFAULT_RESAMPLES)]
    pub resamples: usize,
    /// Bootstrap seed (the same seed and sample give the same report).
    #[arg(long, default_value_t = komp_validate::stats::DEFAULT_SEED)]
    pub seed: u64,
    /// Wall-clock deadline of one prediction in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub deadline_ms: u64,
    /// Memory cap of one instance in MiB.
    #[arg(long, default_value_t = 64)]
    pub memory_mib: usize,
}

#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    /// Wanted half-width of the 95% interval, e.g. 0.05 for ±5 percentage points.
    #[arg(long)]
    pub half_width: f64,
    /// The value you expect the metric to have, e.g. 0.9 (accuracy) or 0.95 (recall).
    #[arg(long)]
    pub proportion: f64,
    /// Share of all cases the metric is computed on (recall: the prevalence
    /// of the positive label, e.g. 0.3 for acute notifications).
    #[arg(long, default_value_t = 1.0)]
    pub within: f64,
    /// Groups that each need the same precision, with their expected shares:
    /// citizen=0.6,business=0.15,authority=0.1,internal=0.07.
    #[arg(long)]
    pub groups: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// report.json or aggregates.json files, one per municipality or sample.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Also write the comparison as a self-contained HTML page.
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// A report.json.
    pub report: PathBuf,
    /// Where to write the aggregates.
    #[arg(short, long)]
    pub output: PathBuf,
    /// The municipality or site name (replaces the report's).
    #[arg(long)]
    pub site: Option<String>,
}

/// Runs a [`ValidateCommand`]: `run` in the real runtime, `plan`, `compare`
/// and `export` on files alone.
pub fn run(cmd: ValidateCommand) -> Result<()> {
    match &cmd {
        ValidateCommand::Run(a) => run_component(a),
        ValidateCommand::Plan(a) => {
            let groups = match &a.groups {
                Some(g) => komp_validate::plan::parse_groups(g)?,
                None => Vec::new(),
            };
            let plan = komp_validate::plan::plan(a.proportion, a.half_width, a.within, &groups)?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&plan)?);
            } else {
                print!("{}", plan.text());
            }
            Ok(())
        }
        ValidateCommand::Compare(a) => {
            let mut files = Vec::new();
            for f in &a.files {
                let text = read_small(f)?;
                let agg = Aggregates::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
                let name = f
                    .parent()
                    .and_then(|p| p.file_name())
                    .filter(|_| f.file_stem().is_some_and(|s| s == "report" || s == "aggregates"))
                    .or_else(|| f.file_stem())
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_default();
                files.push((name, agg));
            }
            print!("{}", compare_table(&files).map_err(|e| anyhow::anyhow!(e))?);
            if let Some(path) = &a.html {
                write(path, compare_html(&files).map_err(|e| anyhow::anyhow!(e))?.as_bytes())?;
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        ValidateCommand::Export(a) => {
            let text = read_small(&a.report)?;
            let mut agg = Aggregates::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", a.report.display()))?;
            if a.site.is_some() {
                agg.site = a.site.clone();
            }
            write(&a.output, serde_json::to_string_pretty(&agg)?.as_bytes())?;
            println!("wrote {}", a.output.display());
            Ok(())
        }
    }
}

/// Reports are a few MB at most; refuse to read anything far larger.
fn read_small(path: &Path) -> Result<String> {
    let size = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?.len();
    if size > 64 << 20 {
        bail!("{} is {size} bytes: not a validation report (they are at most a few MB)", path.display());
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn run_component(a: &RunArgs) -> Result<()> {
    // A report binds to the component's signatures, so they are checked like
    // `komp serve` checks them: against the municipality's policy, or the
    // development keys only when asked.
    let (policy, trusted) = match (&a.trust_policy, a.dev) {
        (Some(p), _) => (
            TrustPolicy::load(p).with_context(|| format!("cannot load trust policy {}", p.display()))?,
            format!("trust policy {}", p.display()),
        ),
        (None, true) => {
            eprintln!("warning: --dev: trusting the DEVELOPMENT keys in keys/dev/ (never for a report anyone relies on)");
            (
                serde_json::from_str(DEV_POLICY).context("the built-in development policy is invalid")?,
                "development keys (keys/dev, --dev)".to_string(),
            )
        }
        (None, false) => bail!(
            "no trust policy: the report must be about a component whose signatures were checked. \
             Pass --trust-policy policy.json (the same policy as for komp serve), or --dev to trust the development keys"
        ),
    };
    let verifier = Arc::new(TrustVerifier::new(policy, RevocationList::empty()));
    let config = RuntimeConfig {
        deadline: std::time::Duration::from_millis(a.deadline_ms),
        memory_cap: a.memory_mib << 20,
        max_instances: 4,
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(config)?.with_verifier(verifier.clone());
    let bytes = std::fs::read(&a.component).with_context(|| format!("cannot read {}", a.component.display()))?;
    let installed = runtime.install(bytes).with_context(|| format!("cannot install {}", a.component.display()))?;
    let version = semver::Version::parse(&installed.version)?;
    let component = runtime.lookup(&installed.name, Some(&version))?;
    let mut provenance = verifier
        .provenance
        .lock()
        .expect("lock")
        .get(component.digest())
        .cloned()
        .unwrap_or_else(|| serde_json::json!({ "signatures": [] }));
    if let Some(p) = provenance.as_object_mut() {
        p.insert("verified_against".into(), trusted.into());
        p.insert(
            "revocations".into(),
            "not checked here (no registry); komp serve checks the registry's revocation list".into(),
        );
        p.insert("golden_vectors_passed".into(), installed.golden_vectors_passed.into());
    }
    run_validation(a, component.manifest(), component.digest(), provenance, |input| {
        runtime
            .predict_with(&component, input)
            .map(|o| PredictionLike {
                label: o.prediction.label,
                scores: o.prediction.scores.iter().map(|s| (s.label.clone(), s.score as f64)).collect(),
                requires_human_review: o.prediction.requires_human_review,
            })
            .map_err(|e| e.to_string())
    })?;
    Ok(())
}

/// What a validation run wrote.
#[derive(Debug)]
pub struct RunSummary {
    pub report_json: PathBuf,
    pub report_html: PathBuf,
    pub aggregates_json: PathBuf,
    pub evaluated: usize,
    pub failed: usize,
}

/// Loads the sample, runs `predict` on every row, writes the three files
/// into `args.output` and prints a summary. `provenance` is what the trust
/// verifier found (signatures); `digest` the component's identity.
fn run_validation<F>(
    args: &RunArgs,
    manifest: &komp_artifact::Manifest,
    digest: &str,
    provenance: serde_json::Value,
    predict: F,
) -> Result<RunSummary>
where
    F: FnMut(&str) -> Result<PredictionLike, String>,
{
    let spec = SampleSpec::from_manifest(manifest);
    let sample = sample::load(&args.data, &spec)?;
    let settings = komp_validate::RunSettings {
        group_by: args.group_by.clone(),
        positive: args.positive.clone(),
        resamples: args.resamples,
        seed: args.seed,
        site: args.site.clone(),
    };
    let evaluation = komp_validate::validate_sample(manifest, digest, provenance, sample, &settings, predict)?;
    let report = &evaluation.report;
    for err in evaluation.errors.iter().take(10) {
        eprintln!("{} line {}: {}", args.data.display(), err.line, err.message);
    }
    if evaluation.errors.len() > 10 {
        eprintln!("... and {} more rows that could not be predicted", evaluation.errors.len() - 10);
    }
    let dir = &args.output;
    let summary = RunSummary {
        report_json: dir.join("report.json"),
        report_html: dir.join("report.html"),
        aggregates_json: dir.join("aggregates.json"),
        evaluated: report.evaluated,
        failed: report.prediction_errors.count,
    };
    write(&summary.report_json, serde_json::to_string_pretty(report)?.as_bytes())?;
    write(&summary.report_html, komp_validate::html::render(report).as_bytes())?;
    write(&summary.aggregates_json, serde_json::to_string_pretty(&report.aggregates)?.as_bytes())?;
    let acc = &report.classification.accuracy;
    println!(
        "{}@{} on {} ({} rows, sha256 {}): {} evaluated, {} failed",
        report.component.name,
        report.component.version,
        report.sample.file,
        report.sample.rows,
        &report.sample.sha256[..16],
        report.evaluated,
        report.prediction_errors.count
    );
    if let (Some(v), Some([lo, hi])) = (acc.value, acc.ci95) {
        println!("accuracy {v:.3} (95% {lo:.3}-{hi:.3})");
    }
    let mut counts = std::collections::BTreeMap::new();
    for row in &report.card_comparison {
        *counts.entry(row.estimate.verdict.words().1).or_insert(0) += 1;
    }
    if !counts.is_empty() {
        let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        println!("against the model card: {}", parts.join(", "));
    }
    for row in
        report.card_comparison.iter().filter(|r| r.estimate.verdict == komp_validate::Verdict::SignificantlyWorse)
    {
        println!(
            "  significantly worse: {} {:.3} vs card {:.3}",
            row.metric,
            row.estimate.value.unwrap_or(f64::NAN),
            row.estimate.card.unwrap_or(f64::NAN)
        );
    }
    println!(
        "wrote {}, {}, {}",
        summary.report_html.display(),
        summary.report_json.display(),
        summary.aggregates_json.display()
    );
    Ok(summary)
}
