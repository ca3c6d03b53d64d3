//! One validation run: the code `komp validate run` and the host's
//! `POST /v1/components/{name}/validation-reports` share. Argument parsing
//! and printing are the `komp` binary's (`host/src/commands/validate.rs`).

use crate::card::ComponentInfo;
use crate::groups::{self, GroupSpec};
use crate::report::{evaluate, Options, PredictionLike};
use crate::sample::{self, SampleSpec};

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
