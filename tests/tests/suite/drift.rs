//! Drift and feedback monitoring through a real `komp serve` with the real, signed postsortering
//! component: a stable stream (held-out rows like those the manifest's reference was computed
//! from) raises no alert; a shifted stream (a COVID-like surge of one subject written with new
//! vocabulary, which caseworkers re-route) trips alerts in the monitoring JSON, in Prometheus and
//! in the log. Caseworker feedback arrives after later predictions and still counts on its own
//! prediction; a restart rebuilds the windows from the audit log. Bounded: 2 × 140 predictions.

use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const N: usize = 140;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn call(method: &str, url: &str, token: &str, body: Option<&Value>) -> (u16, String) {
    let a = agent();
    let req = ureq::http::Request::builder().method(method).uri(url).header("authorization", format!("Bearer {token}"));
    let mut resp = match body {
        Some(b) => a.run(req.header("content-type", "application/json").body(b.to_string().into_bytes()).unwrap()),
        None => a.run(req.body(()).unwrap()),
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap())
}

fn ok_json(method: &str, url: &str, token: &str, body: Option<&Value>) -> Value {
    let (status, text) = call(method, url, token, body);
    assert_eq!(status, 200, "{method} {url}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// Held-out test rows, evenly spread over the file (every subject appears).
fn stable_rows() -> Vec<Value> {
    let picked = komp_tests::spread_test_rows("postsortering.test.jsonl", N);
    // The file is grouped by subject; a stable inbox is not. Interleave the subjects (the k-th
    // letter of every subject, then the (k+1)-th), so that every prefix of the stream, the first
    // `min_predictions` included, has the reference's mix.
    let mut rank: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut keyed: Vec<(usize, usize, Value)> = picked
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let k = rank.entry(r["label"].as_str().unwrap_or_default().to_string()).or_default();
            *k += 1;
            (*k, i, r)
        })
        .collect();
    keyed.sort_by_key(|(k, i, _)| (*k, *i));
    keyed.into_iter().map(|(_, _, r)| r).collect()
}

/// A surge: most mail is about one new matter (the pandemic), in words the model never saw; the
/// caseworkers file it under `sundhed-og-genoptraening`. One mail in five is ordinary.
fn shifted_rows() -> Vec<(Value, String)> {
    const SUBJECTS: [&str; 6] = [
        "Coronatest",
        "Spørgsmål om covid-19",
        "Smittet med corona - hvad nu",
        "Vaccination mod covid",
        "Coronapas og kviktest",
        "Hjemmeisolation",
    ];
    const SENTENCES: [&str; 10] = [
        "Min søn er testet positiv for covid-19 efter en kviktest i testcentret.",
        "Skal hele husstanden i hjemmeisolation, eller kun den smittede?",
        "Hvornår kan min mor få tid til vaccination mod coronavirus?",
        "Jeg har mistet mit coronapas efter podningen og kan ikke finde PCR-svaret.",
        "Smitteopsporingen har ringet, men jeg forstår ikke reglerne for nære kontakter.",
        "Er der krav om mundbind og visir når hjemmeplejen kommer ud til os?",
        "Vi har feber og hoste og venter stadig på svar på antigentesten.",
        "Kan jeg blive vaccineret med den anden dosis, selv om jeg var smittet?",
        "Forsamlingsforbuddet og nedlukningen gør at vi ikke kan komme til genoptræning.",
        "Hvor kan man blive testet for coronavirus uden tidsbestilling i weekenden?",
    ];
    let ordinary = stable_rows();
    (0..N)
        .map(|i| {
            if i % 5 == 4 {
                let r = &ordinary[(i * 7) % ordinary.len()];
                return (r["input"].clone(), r["label"].as_str().unwrap().to_string());
            }
            let body = format!(
                "Hej. {} {} {} Venlig hilsen Borger {i}",
                SENTENCES[i % 10],
                SENTENCES[(i * 3 + 1) % 10],
                SENTENCES[(i * 7 + 5) % 10]
            );
            (
                json!({ "subject": SUBJECTS[i % 6], "body": body, "sender_type": "citizen" }),
                "sundhed-og-genoptraening".into(),
            )
        })
        .collect()
}

/// Predicts every input for `tenant`; returns (request id, predicted label, the caseworker's label).
fn replay(url: &str, token: &str, rows: Vec<(Value, String)>) -> Vec<(String, String, String)> {
    rows.into_iter()
        .map(|(input, truth)| {
            let r = ok_json("POST", &format!("{url}/v1/components/postsortering/predict"), token, Some(&input));
            let label = r["prediction"]["label"].as_str().or(r["label"].as_str()).expect("a label").to_string();
            (r["request_id"].as_str().unwrap().to_string(), label, truth)
        })
        .collect()
}

/// The caseworker's decision on each prediction: accepted when the label is theirs, else overridden.
fn give_feedback(url: &str, token: &str, made: &[(String, String, String)]) -> usize {
    let mut overridden = 0;
    for (id, predicted, truth) in made {
        let body = if predicted == truth {
            json!({ "decision": "accepted" })
        } else {
            overridden += 1;
            json!({ "decision": "overridden", "final_label": truth })
        };
        ok_json("POST", &format!("{url}/v1/predictions/{id}/feedback"), token, Some(&body));
    }
    overridden
}

fn drift(url: &str, token: &str) -> Value {
    ok_json("GET", &format!("{url}/v1/components/postsortering/monitoring"), token, None)["drift"].clone()
}

fn signal<'a>(d: &'a Value, name: &str) -> &'a Value {
    d["signals"].as_array().unwrap().iter().find(|s| s["signal"] == name).unwrap_or_else(|| panic!("{name}: {d:#}"))
}

fn metric(metrics: &str, name: &str, tenant: &str, signal: &str) -> Option<f64> {
    let labels = format!("{{tenant=\"{tenant}\",component=\"postsortering\",signal=\"{signal}\"}}");
    metrics.lines().find_map(|l| l.strip_prefix(&format!("{name}{labels} ")).and_then(|v| v.trim().parse().ok()))
}

/// The structured drift-alert log lines (JSON) for `tenant`.
fn alert_lines(log: &Path, tenant: &str) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["level"] == "WARN" && v["fields"]["tenant"] == tenant)
        .filter(|v| v["fields"]["message"].as_str().is_some_and(|m| m.starts_with("drift alert:")))
        .collect()
}

#[test]
fn a_topic_shift_trips_drift_alerts_and_a_stable_stream_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("komp.log");
    let config = dir.path().join("config.json");
    let cfg = json!({
        "default_rate_limit_per_second": 10000.0,
        "drift": { "window_predictions": 1000, "min_predictions": 100, "min_feedback": 40 }
    });
    std::fs::write(&config, cfg.to_string()).unwrap();
    let seeds = komp_tests::root().join("target/komp-components");
    let args = [
        "--dev".as_ref(),
        "--log-json".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--seed-dir".as_ref(),
        seeds.as_os_str(),
    ];
    let (stable_tenant, shifted_tenant) = ("0751", "0101");
    let stable_token = komp_tests::create_token(&data, stable_tenant, "admin");
    let shifted_token = komp_tests::create_token(&data, shifted_tenant, "admin");
    let server = komp_tests::ServeProcess::start_logging_to(&args, &log);
    let url = server.url.clone();

    // The reference travels in the signed manifest, and is shown with it.
    let card = ok_json("GET", &format!("{url}/v1/components/postsortering"), &stable_token, None);
    let written: Value = serde_json::from_str(
        &std::fs::read_to_string(komp_tests::root().join("components/postsortering/reference.json")).unwrap(),
    )
    .unwrap();
    let reference = |v: &Value| serde_json::from_value::<komp_artifact::Reference>(v.clone()).unwrap();
    assert_eq!(reference(&card["manifest"]["reference"]), reference(&written));

    let stable: Vec<(Value, String)> =
        stable_rows().into_iter().map(|r| (r["input"].clone(), r["label"].as_str().unwrap().to_string())).collect();
    let stable_made = replay(&url, &stable_token, stable);
    let shifted_made = replay(&url, &shifted_token, shifted_rows());

    // Feedback arrives late: only now, after every prediction, for the first 60 of each stream.
    let stable_overridden = give_feedback(&url, &stable_token, &stable_made[..60]);
    let shifted_overridden = give_feedback(&url, &shifted_token, &shifted_made[..60]);

    let s = drift(&url, &stable_token);
    let d = drift(&url, &shifted_token);
    // Late feedback counts on its own predictions (which are in the window), and only there.
    for (r, over) in [(&s, stable_overridden), (&d, shifted_overridden)] {
        assert_eq!(r["window"]["predictions"], N, "{r:#}");
        assert_eq!(r["feedback"]["decided"], 60, "{r:#}");
        assert_eq!(r["feedback"]["overridden"], over, "{r:#}");
        let days = r["feedback"]["by_day"].as_array().unwrap();
        assert_eq!(days.iter().map(|d| d["decided"].as_u64().unwrap()).sum::<u64>(), 60);
    }

    // Stable: no alert on any signal, every distribution signal computed.
    assert_eq!(s["alerts"], json!([]), "stable stream raised alerts: {s:#}");
    for name in ["labels", "score", "known_share", "content_tokens", "unknown_word_share", "override_rate"] {
        assert_eq!(signal(&s, name)["state"], "ok", "{name}: {:#}", signal(&s, name));
    }
    // Shifted: the surge moves the label shares, the new words the coverage, and the caseworkers
    // override.
    let alerts: Vec<&str> = d["alerts"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    for name in ["labels", "known_share", "unknown_word_share", "override_rate"] {
        assert!(alerts.contains(&name), "{name} did not alert: {d:#}");
        let sig = signal(&d, name);
        assert!(sig["value"].as_f64().unwrap() > sig["threshold"].as_f64().unwrap(), "{sig:#}");
    }

    // Prometheus (the operator's listener): the same states.
    let metrics = agent().get(&server.metrics_url).call().unwrap().body_mut().read_to_string().unwrap();
    for name in ["labels", "known_share", "unknown_word_share", "override_rate"] {
        assert_eq!(metric(&metrics, "komp_drift_alert", shifted_tenant, name), Some(1.0), "{name}");
        assert_eq!(metric(&metrics, "komp_drift_alert", stable_tenant, name), Some(0.0), "{name}");
    }
    let psi = metric(&metrics, "komp_drift_psi", shifted_tenant, "labels").unwrap();
    assert!((psi - signal(&d, "labels")["value"].as_f64().unwrap()).abs() < 1e-9);
    assert!(metrics.contains(
        "komp_feedback_override_rate{tenant=\"0101\",component=\"postsortering\",estimate=\"wilson_lower_95\"}"
    ));

    // The log: one structured warning per tripped signal, naming tenant, component, signal,
    // value and threshold; none for the stable tenant.
    let lines = alert_lines(&log, shifted_tenant);
    for name in ["labels", "known_share", "unknown_word_share", "override_rate"] {
        let hits: Vec<&Value> = lines.iter().filter(|l| l["fields"]["signal"] == name).collect();
        assert_eq!(hits.len(), 1, "{name}: once per crossing, got {hits:#?}");
        let f = &hits[0]["fields"];
        assert_eq!(f["component"], "postsortering");
        assert!(f["value"].as_f64().unwrap() > f["threshold"].as_f64().unwrap(), "{f:#}");
    }
    let stable_alerts = alert_lines(&log, stable_tenant);
    assert!(stable_alerts.is_empty(), "the stable tenant alerted: {stable_alerts:#?}");

    // A restart rebuilds the windows from the audit log: same report, and the tripped alerts are
    // logged again at start-up.
    drop(server);
    let before = std::fs::read_to_string(&log).unwrap().len();
    let server = komp_tests::ServeProcess::start_logging_to(&args, &log);
    let again = drift(&server.url, &shifted_token);
    assert_eq!(again["signals"], d["signals"]);
    assert_eq!(again["feedback"], d["feedback"]);
    let after_restart = std::fs::read_to_string(&log).unwrap()[before..].to_string();
    assert!(after_restart.contains("drift alert: labels"), "{after_restart}");
    assert_eq!(drift(&server.url, &stable_token)["alerts"], json!([]));
}
