//! `komp validate` end to end: the signed postsortering component from
//! target/komp-components/ (scripts/build-components.sh) over a 40-row
//! labelled sample built from its held-out test set, through the real binary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn komp(args: &[&str]) -> Output {
    Command::new(komp_tests::komp_bin()).args(args).current_dir(komp_tests::root()).output().expect("run komp")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn component(name: &str) -> PathBuf {
    let p = komp_tests::root().join(format!("target/komp-components/{name}.wasm"));
    assert!(p.exists(), "{} is missing: run scripts/build-components.sh target/debug/komp", p.display());
    p
}

/// 40 rows spread over the test set (every 60th), with an extra `district`
/// column; returns the rows as (input, label).
fn sample(dir: &Path) -> (PathBuf, Vec<(serde_json::Value, String)>) {
    let text = std::fs::read_to_string(komp_tests::root().join("components/models/postsortering.test.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> =
        text.lines().step_by(60).take(40).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 40);
    let path = dir.join("sample.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let line = serde_json::json!({
            "input": r["input"],
            "label": r["label"],
            "district": if i % 2 == 0 { "nord" } else { "syd" },
        });
        writeln!(f, "{line}").unwrap();
        out.push((r["input"].clone(), r["label"].as_str().unwrap().to_string()));
    }
    (path, out)
}

#[test]
fn validate_run_writes_a_report_bound_to_the_component_and_sample() {
    let dir = tempfile::tempdir().unwrap();
    let (data, rows) = sample(dir.path());
    let out_dir = dir.path().join("out");
    let file = component("postsortering");
    let o = komp(&[
        "validate",
        "run",
        file.to_str().unwrap(),
        "--dev",
        "--data",
        data.to_str().unwrap(),
        "--group-by",
        "sender_type",
        "--group-by",
        "district",
        "--site",
        "Testkommune",
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("40 evaluated, 0 failed"), "{}", text(&o));

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["format"], "komp-validation-report/1");
    // Bound to exactly this component and this sample file.
    let bytes = std::fs::read(&file).unwrap();
    let artifact = komp_artifact::Artifact::parse(bytes.clone()).unwrap();
    assert_eq!(report["component"]["digest"], artifact.digest());
    assert_eq!(report["component"]["name"], "postsortering");
    assert_eq!(report["sample"]["sha256"], komp_artifact::sha256_hex(&std::fs::read(&data).unwrap()));
    let sigs = report["provenance"]["signatures"].as_array().unwrap();
    let roles: Vec<&str> = sigs.iter().filter_map(|s| s["role"].as_str()).collect();
    assert!(roles.contains(&"publisher") && roles.contains(&"approver"), "{sigs:?}");
    assert!(sigs.iter().all(|s| s["status"] == "valid"), "{sigs:?}");

    // The accuracy is what the same component says row by row in the runtime.
    let rt = komp_host::Runtime::new(komp_tests::sandbox_config()).unwrap();
    rt.install(bytes).unwrap();
    let mut correct = 0;
    let mut routed = 0;
    for (input, label) in &rows {
        let p = rt.predict("postsortering", None, &input.to_string()).unwrap().prediction;
        correct += usize::from(&p.label == label);
        routed += usize::from(!p.requires_human_review);
    }
    assert_eq!(report["evaluated"], 40);
    assert_eq!(report["classification"]["accuracy"]["successes"], correct);
    assert_eq!(report["operating_point"]["routed"]["successes"], routed);
    let ci = report["classification"]["accuracy"]["ci95"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() < ci[1].as_f64().unwrap());
    assert_eq!(report["classification"]["accuracy"]["card_source"], "/metrics/accuracy");
    let groups: Vec<&str> = report["groups"].as_array().unwrap().iter().map(|g| g["field"].as_str().unwrap()).collect();
    assert_eq!(groups, vec!["sender_type", "district"]);

    // The report never carries the sample's text.
    let report_text = std::fs::read_to_string(out_dir.join("report.json")).unwrap();
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    let aggregates = std::fs::read_to_string(out_dir.join("aggregates.json")).unwrap();
    for (input, _) in &rows {
        let body = input["body"].as_str().unwrap();
        let snippet: String = body.chars().take(40).collect();
        for (name, t) in [("report.json", &report_text), ("report.html", &html), ("aggregates.json", &aggregates)] {
            assert!(!t.contains(&snippet), "{name} contains the input text {snippet:?}");
        }
    }
    // Self-contained HTML with its plots.
    assert!(html.starts_with("<!DOCTYPE html>"));
    for external in ["<script", "<link", "src=", "href=", "url(", "@import"] {
        assert!(!html.contains(external), "report.html must load nothing from outside ({external})");
    }
    for id in ["confusion", "reliability", "threshold", "group-0", "group-1"] {
        assert!(html.contains(&format!("<figure id=\"{id}\"><svg")), "plot {id} missing");
    }
    assert!(aggregates.contains("\"site\": \"Testkommune\""));

    // Compare two reports; export a report's aggregates.
    let agg2 = dir.path().join("b.json");
    let o = komp(&["validate", "export", out_dir.join("report.json").to_str().unwrap(), "-o", agg2.to_str().unwrap(), "--site", "Anden"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = komp(&["validate", "compare", out_dir.join("report.json").to_str().unwrap(), agg2.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let t = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(t.contains("Testkommune") && t.contains("Anden") && t.contains("accuracy"), "{t}");
}

#[test]
fn validate_refusals_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = sample(dir.path());
    let file = component("postsortering");
    let out = dir.path().join("out");
    let run = |extra: &[&str], data: &Path| {
        let mut args = vec!["validate", "run", file.to_str().unwrap(), "--data", data.to_str().unwrap(), "-o", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        komp(&args)
    };
    // No trust policy: refused before anything runs.
    let o = run(&[], &data);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("no trust policy"), "{}", text(&o));
    // Grouping by the letter text would copy text into the report.
    let o = run(&["--dev", "--group-by", "body"], &data);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("free-text input field"), "{}", text(&o));
    // A label the component does not know, with file and line.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"subject\":\"a\",\"body\":\"b\",\"label\":\"affald\"}\n{\"subject\":\"a\",\"body\":\"b\",\"label\":\"parkering\"}\n").unwrap();
    let o = run(&["--dev"], &bad);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("bad.jsonl line 2: label \"parkering\" is not a label of `postsortering`"), "{}", text(&o));
    assert!(!out.join("report.json").exists(), "nothing is written for a bad sample");
    // Wrong command line: exit code 2.
    let o = komp(&["validate", "run", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = komp(&["validate", "plan", "--proportion", "0.9", "--half-width", "0.05"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("141 cases"), "{}", text(&o));
    let o = komp(&["validate", "plan", "--proportion", "0.9", "--half-width", "0.7"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("--half-width 0.7 must be between 0 and 0.5"), "{}", text(&o));
}
