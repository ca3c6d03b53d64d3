//! A municipality's own operating point and local validation over HTTP, on a
//! real `komp serve` (the signed standard components from
//! target/komp-components/), with a restart in the middle.

use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

fn call(
    method: &str,
    url: &str,
    token: &str,
    content_type: &str,
    body: Option<Vec<u8>>,
) -> (u16, Vec<(String, String)>, String) {
    let a: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let req = ureq::http::Request::builder().method(method).uri(url).header("authorization", format!("Bearer {token}"));
    let mut resp = match body {
        Some(b) => a.run(req.header("content-type", content_type).body(b).unwrap()),
        None => a.run(req.body(()).unwrap()),
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let headers = resp.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    (resp.status().as_u16(), headers, resp.body_mut().with_config().limit(64 << 20).read_to_string().unwrap())
}

fn json_call(method: &str, url: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
    let (status, _, text) = call(method, url, token, "application/json", body.map(|b| b.to_string().into_bytes()));
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {url}: not JSON ({e}): {text}")))
}

/// Notifications from the held-out test set whose probability of `acute`,
/// as the served component computes it, lies in [0.06, 0.185): not acute at
/// the signed default (0.19), acute at a threshold of 0.06.
fn borderline_notifications(url: &str, token: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(komp_tests::root().join("components/models/underretning.test.jsonl")).unwrap();
    let mut out = Vec::new();
    for line in text.lines().take(400) {
        let input = serde_json::from_str::<Value>(line).unwrap()["input"].clone();
        let p = predict(url, token, &input)["prediction"]["scores"][0]["score"].as_f64().unwrap();
        if (0.06..0.185).contains(&p) {
            out.push(input);
        }
        if out.len() == 4 {
            return out;
        }
    }
    panic!("fewer than 4 borderline notifications in the first 400 test rows");
}

fn predict(url: &str, token: &str, input: &Value) -> Value {
    let (status, r) = json_call("POST", &format!("{url}/v1/components/underretning/predict"), token, Some(input));
    assert_eq!(status, 200, "{r}");
    r
}

#[test]
fn operating_points_move_decisions_not_scores_and_validation_reports_stay_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        json!({ "default_rate_limit_per_second": 10000.0, "max_sample_bytes": 200_000 }).to_string(),
    )
    .unwrap();
    let seeds = komp_tests::root().join("target/komp-components");
    let args = [
        "--dev".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--seed-dir".as_ref(),
        seeds.as_os_str(),
    ];
    let (aarhus, kbh) = ("0751", "0101");
    let admin = komp_tests::create_token(&data, aarhus, "admin");
    let auditor = komp_tests::create_token(&data, aarhus, "auditor");
    let caller = komp_tests::create_token(&data, aarhus, "caller");
    let other_admin = komp_tests::create_token(&data, kbh, "admin");
    let server = komp_tests::ServeProcess::start(&args);
    let url = server.url.clone();
    let op_url = format!("{url}/v1/components/underretning/operating-point");

    // At the signed default: not acute, and the response names the operating point.
    let inputs = borderline_notifications(&url, &other_admin);
    let before: Vec<Value> = inputs.iter().map(|i| predict(&url, &caller, i)).collect();
    for r in &before {
        assert_eq!(r["prediction"]["label"], "not_acute", "{r}");
        assert_eq!(r["operating_point"]["source"], "default", "{r}");
        assert_eq!(r["operating_point"]["threshold"], r["operating_point"]["default"], "{r}");
    }
    let (_, declared) = json_call("GET", &op_url, &caller, None);
    let (min, max) = (declared["declared"]["min"].as_f64().unwrap(), declared["declared"]["max"].as_f64().unwrap());

    // Outside the declared range: refused, naming the range; a caller may not set it at all.
    let (status, r) = json_call("PUT", &op_url, &admin, Some(&json!({ "threshold": 0.5, "reason": "fewer flags" })));
    assert_eq!(status, 422, "{r}");
    let msg = r["error"].as_str().unwrap();
    assert!(msg.contains(&format!("[{min}, {max}]")), "{msg}");
    assert_eq!(r["allowed"]["max"], max);
    let (status, _) = json_call("PUT", &op_url, &caller, Some(&json!({ "threshold": 0.06, "reason": "x" })));
    assert_eq!(status, 403);

    // Inside it: the decision moves, the scores do not; the other tenant is untouched.
    let (status, r) = json_call(
        "PUT",
        &op_url,
        &admin,
        Some(&json!({ "threshold": 0.06, "reason": "our own sample shows recall 0.99 at 0.06" })),
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["in_use"]["source"], "tenant");
    for (input, old) in inputs.iter().zip(&before) {
        let r = predict(&url, &caller, input);
        assert_eq!(r["prediction"]["scores"], old["prediction"]["scores"], "scores never move");
        assert_eq!(r["prediction"]["label"], "acute", "{r}");
        assert_eq!(r["prediction"]["details"]["acute"], true, "details follow the decision: {r}");
        assert_eq!(r["prediction"]["details"]["operating_threshold"], 0.06);
        assert_eq!(
            r["operating_point"],
            json!({ "threshold": 0.06, "source": "tenant", "default": max, "rule": "positive_label_at_or_above" })
        );
        // The audit record names it.
        let id = r["request_id"].as_str().unwrap();
        let (status, rec) = json_call("GET", &format!("{url}/v1/predictions/{id}"), &auditor, None);
        assert_eq!(status, 200, "{rec}");
        assert_eq!(
            rec["prediction"]["operating_point"],
            json!({ "threshold": 0.06, "source": "tenant", "default": max }),
            "{rec}"
        );
        assert_eq!(rec["prediction"]["label"], "acute");

        let other = predict(&url, &other_admin, input);
        assert_eq!(other["prediction"]["label"], "not_acute");
        assert_eq!(other["prediction"]["scores"], old["prediction"]["scores"]);
        assert_eq!(other["operating_point"]["source"], "default");
    }
    // The Open Inference Protocol names it too.
    let infer =
        json!({ "inputs": [{ "name": "input", "datatype": "BYTES", "shape": [1], "data": [inputs[0].to_string()] }] });
    let (status, r) = json_call("POST", &format!("{url}/v2/models/underretning/infer"), &caller, Some(&infer));
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["parameters"]["operating_point"]["threshold"], 0.06, "{r}");
    assert_eq!(r["outputs"][0]["data"][0], "acute");

    // Validation over HTTP: the sample's texts are not kept, only the report.
    let rows = komp_tests::spread_test_rows("postsortering.test.jsonl", 40);
    let sample: String =
        rows.iter().map(|r| format!("{}\n", json!({ "input": r["input"], "label": r["label"] }))).collect();
    let vr_url = format!("{url}/v1/components/postsortering/validation-reports");
    let (status, _, body) = call(
        "POST",
        &format!("{vr_url}?group_by=sender_type"),
        &auditor,
        "application/x-ndjson",
        Some(sample.clone().into_bytes()),
    );
    assert_eq!(status, 201, "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["report"]["evaluated"], 40);
    assert_eq!(created["report"]["sample"]["sha256"], komp_artifact::sha256_hex(sample.as_bytes()));
    assert_eq!(created["entry"]["n"], 40);
    let some_text = rows[0]["input"]["body"].as_str().unwrap();
    let needle = &some_text[..some_text.len().min(40)];
    for f in walk(&data.join("tenants")) {
        let content = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).to_string();
        assert!(!content.contains(needle), "{} holds sample text", f.display());
    }
    let (status, list) = json_call("GET", &format!("{url}/v1/validation-reports"), &auditor, None);
    assert_eq!(status, 200);
    assert_eq!(list["reports"][0]["id"], id.as_str());
    assert_eq!(list["reports"][0]["digest"], created["entry"]["digest"]);
    let (_, others) = json_call("GET", &format!("{url}/v1/validation-reports"), &other_admin, None);
    assert_eq!(others["reports"], json!([]), "tenants never see each other's reports");
    let (status, _) = json_call("GET", &format!("{url}/v1/validation-reports/{id}"), &other_admin, None);
    assert_eq!(status, 404);
    let (status, got) = json_call("GET", &format!("{url}/v1/validation-reports/{id}"), &auditor, None);
    assert_eq!(status, 200);
    assert_eq!(got["report"]["sample"], created["report"]["sample"]);
    let (status, headers, page) =
        call("GET", &format!("{url}/v1/validation-reports/{id}/report.html"), &auditor, "", None);
    assert_eq!(status, 200);
    assert!(headers.iter().any(|(k, v)| k == "content-type" && v.starts_with("text/html")));
    assert!(page.contains("postsortering"));

    // Bad samples: clear 4xx JSON errors.
    let bad_label = sample.replacen(&format!("\"label\":{}", rows[0]["label"]), "\"label\":\"parkering\"", 1);
    for (ct, body, status, words) in [
        ("application/x-ndjson", bad_label.into_bytes(), 422, "not a label of `postsortering`"),
        ("text/csv", b"subject;label\nHej;affald\n".to_vec(), 422, "missing column(s) body"),
        ("application/x-ndjson", Vec::new(), 422, "no labelled rows"),
        ("application/json", b"{}".to_vec(), 415, "application/x-ndjson"),
    ] {
        let (s, _, text) = call("POST", &vr_url, &auditor, ct, Some(body));
        assert_eq!(s, status, "{text}");
        let e: Value = serde_json::from_str(&text).unwrap();
        assert!(e["error"].as_str().unwrap().contains(words), "{text}");
    }
    // Over `max_sample_bytes`: refused from the declared length, before the body is read.
    let bearer = format!("Bearer {auditor}");
    let (s, text) = komp_tests::answer_to_declared_length(
        &url,
        "/v1/components/postsortering/validation-reports",
        &[("authorization", &bearer), ("content-type", "application/x-ndjson")],
        300_000,
    );
    assert_eq!(s, 413, "{text}");
    let e: Value = serde_json::from_str(&text).unwrap();
    assert!(e["error"].as_str().unwrap().contains("max_sample_bytes"), "{text}");
    let (status, _, _) = call("POST", &vr_url, &caller, "application/x-ndjson", Some(sample.into_bytes()));
    assert_eq!(status, 403, "auditors validate, callers do not");

    // A setting can cite the tenant's own report (and only its own).
    let ps = format!("{url}/v1/components/postsortering/operating-point");
    let cite = json!({ "threshold": 0.95, "reason": "more manual sorting", "validation_report": id });
    let (status, r) = json_call("PUT", &ps, &other_admin, Some(&cite));
    assert_eq!(status, 404, "{r}");
    let (status, r) = json_call("PUT", &ps, &admin, Some(&cite));
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["in_use"]["validation_report"], id.as_str());

    // A restart keeps the settings and the reports.
    drop(server);
    let server = komp_tests::ServeProcess::start(&args);
    let url = server.url.clone();
    let (_, r) = json_call("GET", &format!("{url}/v1/components/underretning/operating-point"), &caller, None);
    assert_eq!(r["in_use"]["threshold"], 0.06, "{r}");
    assert_eq!(r["history"].as_array().unwrap().len(), 1);
    assert_eq!(predict(&url, &caller, &inputs[0])["prediction"]["label"], "acute");
    let (status, _) = json_call("GET", &format!("{url}/v1/validation-reports/{id}"), &auditor, None);
    assert_eq!(status, 200);
    // Back to the default.
    let (status, r) = json_call("DELETE", &format!("{url}/v1/components/underretning/operating-point"), &admin, None);
    assert_eq!(status, 200);
    assert_eq!(r["in_use"]["source"], "default");
    assert_eq!(predict(&url, &caller, &inputs[0])["prediction"]["label"], "not_acute");

    // Every change and the validation run are records in the tenant's hash-chained audit log.
    let (status, log) = json_call("GET", &format!("{url}/v1/audit?kind=admin"), &auditor, None);
    assert_eq!(status, 200, "{log}");
    let actions: Vec<(String, String)> = log["records"]
        .as_array()
        .unwrap_or_else(|| panic!("no records in {log}"))
        .iter()
        .map(|r| (r["action"].as_str().unwrap().to_string(), r["component"].as_str().unwrap().to_string()))
        .collect();
    for want in [
        ("operating_point_set", "underretning"),
        ("validation_run", "postsortering"),
        ("operating_point_set", "postsortering"),
        ("operating_point_reset", "underretning"),
    ] {
        assert!(actions.contains(&(want.0.to_string(), want.1.to_string())), "{want:?} missing from {actions:?}");
    }
    let (status, theirs) = json_call("GET", &format!("{url}/v1/audit?kind=admin"), &other_admin, None);
    assert_eq!(status, 200, "{theirs}");
    assert_eq!(theirs["records"], json!([]), "the other tenant changed nothing and sees none of these");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
