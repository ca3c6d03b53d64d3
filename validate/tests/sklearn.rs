//! The report's numbers against scikit-learn.
//!
//! A fixed, seeded set of predictions for each standard component (real
//! label sets and model cards from `components/*/komp.toml`) is run
//! through [`komp_validate::evaluate`]; the predictions and the report are
//! written to `target/komp-validate-sklearn/`, and `sklearn_check.py`
//! recomputes accuracy, precision/recall/F1, macro F1, the confusion matrix,
//! Brier, ROC AUC, the calibration bins and ECE, threshold curves and group
//! accuracy with scikit-learn and numpy, to 1e-9.
//!
//! The Python side needs the project's venv (`training/setup.sh` makes
//! `.venv`). Without it the test says so and passes, unless
//! `KOMP_REQUIRE_SKLEARN=1` (scripts/test.sh sets it after making the venv).

use komp_validate::{evaluate, ComponentInfo, GroupSpec, Options, PredictionLike, SampleRow};
use rand::{Rng, SeedableRng};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The standard component's manifest, compiled from its `komp.toml` as `komp build` does.
fn manifest(name: &str) -> komp_artifact::Manifest {
    let source = root().join(format!("components/{name}/komp.toml"));
    komp_author::source::compile(&source).unwrap_or_else(|e| panic!("{e}")).manifest
}

/// Softmax of noisy logits that favour the true label: a model that is right
/// most of the time and unsure some of the time. Scores are float32, as a
/// component returns them.
fn scores(rng: &mut impl Rng, k: usize, truth: usize, strength: f64) -> Vec<f64> {
    let logits: Vec<f64> = (0..k).map(|l| rng.gen_range(-1.5..1.5) + if l == truth { strength } else { 0.0 }).collect();
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = logits.iter().map(|z| (z - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.iter().map(|e| (e / sum) as f32 as f64).collect()
}

fn fixture(name: &str, n: usize, seed: u64) {
    let m = manifest(name);
    let info = ComponentInfo::from_manifest(&m, "fixture-digest", None);
    let labels = info.labels.clone();
    let k = labels.len();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let groups = ["nord", "syd", "vest"];
    let mut rows = Vec::new();
    let mut preds = Vec::new();
    let mut lines = Vec::new();
    for i in 0..n {
        // Unbalanced truth (the flag component: about 30% positive) so some labels are rare.
        let truth = match &info.kind {
            komp_validate::Kind::Flag { .. } => usize::from(rng.gen_bool(0.7)),
            _ => (rng.gen_range(0..k * 2)) % k.min(rng.gen_range(1..=k)),
        };
        let strength = rng.gen_range(0.0..4.0);
        let s = scores(&mut rng, k, truth, strength);
        let top = (0..k).max_by(|a, b| s[*a].total_cmp(&s[*b])).unwrap();
        let (label, review) = match &info.kind {
            komp_validate::Kind::Flag { threshold, .. } => (if s[0] as f32 >= *threshold as f32 { 0 } else { 1 }, true),
            komp_validate::Kind::Review { threshold } => (top, (s[top] as f32) < (*threshold as f32)),
            komp_validate::Kind::Plain => (top, false),
        };
        let group = groups[rng.gen_range(0..groups.len())];
        rows.push(SampleRow {
            line: i + 1,
            input: serde_json::json!({}),
            truth: labels[truth].clone(),
            extra: [("district".to_string(), group.to_string())].into(),
        });
        preds.push(PredictionLike {
            label: labels[label].clone(),
            scores: labels.iter().cloned().zip(s.iter().cloned()).collect(),
            requires_human_review: review,
        });
        lines.push(serde_json::json!({
            "truth": labels[truth], "label": labels[label], "scores": s, "review": review, "district": group
        }));
    }
    let options = Options { group_by: vec![GroupSpec::parse("district").unwrap()], ..Options::default() };
    let sample = komp_validate::sample::SampleBinding {
        file: format!("{name}.fixture"),
        format: "jsonl".into(),
        sha256: "0".repeat(64),
        bytes: 0,
        rows: n,
        extra_columns: vec!["district".into()],
        prevalence: Default::default(),
    };
    let mut it = preds.into_iter();
    let eval = evaluate(&info, serde_json::json!({}), sample, rows, |_| Ok(it.next().unwrap()), &options).unwrap();
    assert_eq!(eval.report.evaluated, n);

    let dir = root().join("target/komp-validate-sklearn");
    std::fs::create_dir_all(&dir).unwrap();
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join(format!("{name}.predictions.jsonl")), body).unwrap();
    let labels_json = serde_json::to_string(&labels).unwrap();
    std::fs::write(dir.join(format!("{name}.labels.json")), labels_json).unwrap();
    std::fs::write(dir.join(format!("{name}.report.json")), serde_json::to_string_pretty(&eval.report).unwrap())
        .unwrap();

    let python = root().join(".venv/bin/python");
    let required = std::env::var("KOMP_REQUIRE_SKLEARN").is_ok_and(|v| v == "1");
    if !python.exists() {
        assert!(!required, "KOMP_REQUIRE_SKLEARN=1 but {} does not exist; run training/setup.sh", python.display());
        eprintln!("skipping the scikit-learn check: no {} (run training/setup.sh)", python.display());
        return;
    }
    let out = std::process::Command::new(&python)
        .arg(root().join("validate/tests/sklearn_check.py"))
        .arg(dir.join(format!("{name}.predictions.jsonl")))
        .arg(dir.join(format!("{name}.labels.json")))
        .arg(dir.join(format!("{name}.report.json")))
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "sklearn_check.py failed for {name}:\n{text}");
    assert!(text.contains("ok:"), "{text}");
    eprintln!("{text}");
}

#[test]
fn postsortering_report_equals_scikit_learn() {
    fixture("postsortering", 600, 11);
}

#[test]
fn underretning_report_equals_scikit_learn() {
    fixture("underretning", 500, 12);
}
