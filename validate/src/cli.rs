//! The `komp validate` subcommands. `plan`, `compare` and `export` run here;
//! `run` needs the sandboxed runtime, so the `komp` binary installs the
//! component and calls [`run_validation`] with its prediction function.

use crate::aggregate::{compare_html, compare_table, Aggregates};
use crate::card::ComponentInfo;
use crate::groups::{self, GroupSpec};
use crate::report::{evaluate, Options, PredictionLike};
use crate::sample::{self, SampleSpec};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

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
    #[arg(long, default_value_t = crate::stats::DEFAULT_RESAMPLES)]
    pub resamples: usize,
    /// Bootstrap seed (the same seed and sample give the same report).
    #[arg(long, default_value_t = crate::stats::DEFAULT_SEED)]
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

/// Runs `plan`, `compare` or `export`; `run` must go to [`run_validation`].
pub fn run_offline(cmd: &ValidateCommand) -> Result<()> {
    match cmd {
        ValidateCommand::Run(_) => bail!("`komp validate run` needs the runtime: call it through the komp binary"),
        ValidateCommand::Plan(a) => {
            let groups = match &a.groups {
                Some(g) => crate::plan::parse_groups(g)?,
                None => Vec::new(),
            };
            let plan = crate::plan::plan(a.proportion, a.half_width, a.within, &groups)?;
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

/// How to run a validation (the `run` flags that are not about files).
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    /// `FIELD[=BANDS]` specs; empty: the defaults of the input schema.
    pub group_by: Vec<String>,
    pub positive: Option<String>,
    pub resamples: usize,
    pub seed: u64,
    pub site: Option<String>,
}

/// Why a loaded sample cannot be validated as asked.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Group(#[from] crate::groups::GroupError),
    #[error("positive label {positive:?} is not a label of {component}; its labels are: {labels}")]
    Positive { positive: String, component: String, labels: String },
    #[error(transparent)]
    Validate(#[from] crate::report::ValidateError),
}

/// The one way a loaded sample becomes a report, for `komp validate run` and
/// the host's `POST /v1/components/{name}/validation-reports`: resolve the
/// groups, read the component's kind from its manifest, run `predict` on
/// every row and compute the report.
pub fn validate_sample<F>(
    manifest: &komp_artifact::Manifest,
    digest: &str,
    provenance: serde_json::Value,
    sample: sample::Sample,
    settings: &RunSettings,
    predict: F,
) -> Result<crate::report::Evaluation, RunError>
where
    F: FnMut(&str) -> Result<PredictionLike, String>,
{
    let spec = SampleSpec::from_manifest(manifest);
    let asked = if settings.group_by.is_empty() {
        groups::defaults(&spec)
    } else {
        settings.group_by.iter().map(|g| GroupSpec::parse(g)).collect::<Result<Vec<_>, _>>()?
    };
    let group_by = groups::resolve(&asked, &spec, &sample.rows, &sample.extra_columns)?;
    let info = ComponentInfo::from_manifest(manifest, digest, settings.positive.as_deref());
    if let Some(p) = settings.positive.as_ref().filter(|p| !info.labels.contains(p)) {
        return Err(RunError::Positive {
            positive: p.clone(),
            component: info.name.clone(),
            labels: info.labels.join(", "),
        });
    }
    let options =
        Options { group_by, bootstrap_resamples: settings.resamples, seed: settings.seed, site: settings.site.clone() };
    let binding = sample.binding();
    Ok(evaluate(&info, provenance, binding, sample.rows, predict, &options)?)
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
pub fn run_validation<F>(
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
    let settings = RunSettings {
        group_by: args.group_by.clone(),
        positive: args.positive.clone(),
        resamples: args.resamples,
        seed: args.seed,
        site: args.site.clone(),
    };
    let evaluation = validate_sample(manifest, digest, provenance, sample, &settings, predict)?;
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
    write(&summary.report_html, crate::html::render(report).as_bytes())?;
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
    for row in report.card_comparison.iter().filter(|r| r.estimate.verdict == crate::Verdict::SignificantlyWorse) {
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
