//! The API contract under a generic client: schemathesis (from the venv that
//! training/setup.sh makes, pinned in training/requirements-test.txt) loads
//! `/openapi.json` of a real `komp serve` with a tenant's token, checks the
//! document is valid OpenAPI, and sends generated requests to every
//! operation with every check: no 5xx, no schema-valid request rejected, no
//! undocumented status or content type, responses match their schemas,
//! negative data refused, unsupported methods answered 405 with Allow.
//!
//! Two kinds of operation take bodies whose validity JSON Schema cannot
//! state: an Open Inference Protocol tensor whose data must match its shape
//! and the component's input, and feedback whose `final_label` must be a
//! label of the version that made the referenced prediction. They run every
//! check but "schema-valid request accepted". Validation samples (NDJSON,
//! CSV) are not generated: schemathesis has no serializer for those media
//! types (suite/operating_points.rs covers the upload).
//!
//! Skips (with a message) only when the venv lacks schemathesis and
//! `KOMP_REQUIRE_SKLEARN` is not 1 (scripts/test.sh sets it: the venv must
//! be complete there).

use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const EXAMPLES_PER_OPERATION: &str = "10";
const SEED: &str = "20261201";
/// One schemathesis run may take this long before the test fails.
const TIME_BOUND: Duration = Duration::from_secs(420);

fn schemathesis() -> Option<std::path::PathBuf> {
    komp_tests::venv_python("schemathesis", "api_contract").map(|python| python.with_file_name("st"))
}

/// Runs `st run` with `args`; panics with its output unless it passes in time.
fn run_st(st: &Path, what: &str, args: &[&str], report: &Path) {
    let out_path = report.with_extension("out");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new(st)
        .arg("run")
        .args(args)
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_HOOKS", "")
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start schemathesis");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if started.elapsed() > TIME_BOUND {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = std::fs::read_to_string(&out_path).unwrap_or_default();
    match status {
        Some(s) if s.success() => {
            eprintln!("schemathesis ({what}): passed in {:?}\n{}", started.elapsed(), tail(&text, 25))
        }
        Some(s) => panic!("schemathesis ({what}) failed ({s}):\n{text}"),
        None => panic!("schemathesis ({what}) took longer than {TIME_BOUND:?}:\n{text}"),
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[test]
fn openapi_document_holds_under_schemathesis() {
    let Some(st) = schemathesis() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("config.json");
    // Rate limit and slots out of the way: a 429 or 503 is not what this checks.
    std::fs::write(
        &config,
        json!({ "default_rate_limit_per_second": 100000.0, "max_concurrent_predictions": 64 }).to_string(),
    )
    .unwrap();
    let seeds = komp_tests::root().join("target/komp-components");
    let caller = komp_tests::create_token(&data, "0751", "caller");
    let admin = komp_tests::create_token(&data, "0751", "admin");
    let args = [
        "--dev".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--seed-dir".as_ref(),
        seeds.as_os_str(),
    ];
    let server = komp_tests::ServeProcess::start(&args);
    let schema = format!("{}/openapi.json", server.url);
    // Validation samples (NDJSON, CSV) are not sent at all: schemathesis has
    // no serializer for them (suite/operating_points.rs covers the upload).
    let bodies_beyond_json_schema = "(/infer|/feedback)$";
    let not_generated = r"(\{name\}/validation-reports|/infer|/feedback)$";
    for (role, token) in [("caller", &caller), ("admin", &admin)] {
        let auth = format!("Authorization: Bearer {token}");
        let common = [
            schema.as_str(),
            "-H",
            auth.as_str(),
            "--checks",
            "all",
            "--max-examples",
            EXAMPLES_PER_OPERATION,
            "--seed",
            SEED,
            "--workers",
            "1",
            "--phases",
            "examples,coverage,fuzzing",
            "--request-timeout",
            "30",
            "--output-truncate",
            "false",
        ];
        let mut all: Vec<&str> = common.to_vec();
        all.extend(["--exclude-path-regex", not_generated]);
        run_st(&st, &format!("{role} token, every check"), &all, &dir.path().join(format!("{role}-all")));
        let mut rest: Vec<&str> = common.to_vec();
        rest.extend([
            "--include-path-regex",
            bodies_beyond_json_schema,
            "--exclude-checks",
            "positive_data_acceptance",
        ]);
        run_st(
            &st,
            &format!("{role} token, sample and tensor bodies"),
            &rest,
            &dir.path().join(format!("{role}-bodies")),
        );
    }
    // Without a token: the document that names no component is valid, and
    // every operation answers (401 in the JSON error body) as documented.
    run_st(
        &st,
        "no token",
        &[
            schema.as_str(),
            "--checks",
            "all",
            "--max-examples",
            "5",
            "--seed",
            SEED,
            "--workers",
            "1",
            "--phases",
            "examples,coverage,fuzzing",
            "--exclude-path-regex",
            r"\{name\}/validation-reports$",
        ],
        &dir.path().join("anonymous"),
    );
    drop(server);
}
