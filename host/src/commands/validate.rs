//! `komp validate`: the local validation report (crate `komp-validate`) run
//! with the real runtime, so the numbers are about exactly the signed
//! component a municipality would serve, in the same sandbox.

use anyhow::{bail, Context, Result};
use komp_registry::{RevocationList, TrustPolicy};
use komp_runtime::{Runtime, RuntimeConfig};
use komp_server::run::{TrustVerifier, DEV_POLICY};
use komp_validate::cli::{RunArgs, ValidateCommand};
use komp_validate::PredictionLike;
use std::sync::Arc;

pub fn run(cmd: ValidateCommand) -> Result<()> {
    match cmd {
        ValidateCommand::Run(args) => run_component(&args),
        other => komp_validate::cli::run_offline(&other),
    }
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
    komp_validate::cli::run_validation(a, component.manifest(), component.digest(), provenance, |input| {
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
