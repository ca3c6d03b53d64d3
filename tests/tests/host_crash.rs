//! Crash safety of the HTTP host: predictions under load, the `komp serve`
//! process killed with SIGKILL, restarted on the same data directory. Every
//! prediction that got a 200 must have its audit record, the chain must
//! verify, and the host must start again without manual repair.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn start(bin: &std::path::Path, data: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .arg("--seed-dir")
        .arg(komp_tests::root().join("target/komp-components"))
        .env("KOMP_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start komp serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "komp serve did not start");
        let line = lines.next().expect("komp serve exited before listening").unwrap();
        if let Some(url) = line.strip_prefix("komp listening on ") {
            // Keep draining stdout so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return (child, url.trim().to_string());
        }
    }
}

#[test]
fn every_acknowledged_prediction_survives_sigkill() {
    let bin = komp_tests::komp_bin();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = Command::new(&bin)
        .args(["token", "create", "--tenant", "0751", "--role", "caller", "--quiet", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();

    let mut acknowledged_total = 0;
    for cycle in 0..3u64 {
        let (mut child, url) = start(&bin, &data);
        let acked = Arc::new(Mutex::new(Vec::<String>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let (acked, stop, url, token) = (acked.clone(), stop.clone(), url.clone(), token.clone());
                std::thread::spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .timeout_global(Some(Duration::from_secs(5)))
                        .build()
                        .into();
                    for i in 0..2_000 {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let body = format!(r#"{{"text":"tak for hjælpen, besked {w}-{i}"}}"#);
                        let Ok(mut r) = agent
                            .post(format!("{url}/v1/components/example-feedback/predict"))
                            .header("authorization", format!("Bearer {token}"))
                            .send(body)
                        else {
                            break; // the server is gone
                        };
                        if r.status() == 200 {
                            let v: serde_json::Value =
                                serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
                            acked.lock().unwrap().push(v["request_id"].as_str().unwrap().to_string());
                        }
                    }
                })
            })
            .collect();
        // Let load build up, then kill at a moment that varies per cycle.
        std::thread::sleep(Duration::from_millis(400 + 250 * cycle));
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().unwrap();
        }
        let acked = acked.lock().unwrap().clone();
        assert!(!acked.is_empty(), "cycle {cycle}: no prediction was acknowledged before the kill");
        acknowledged_total += acked.len();

        // Open the audit log the way the host does on restart.
        let audit =
            komp_audit::Audit::open(data.join("audit"), komp_audit::AuditConfig::default()).expect("audit log reopens");
        for id in &acked {
            assert!(
                audit.get("0751", id).unwrap().is_some(),
                "cycle {cycle}: acknowledged prediction {id} has no audit record"
            );
        }
        audit.verify().expect("the chain verifies after the crash");
    }
    assert!(acknowledged_total > 10);

    // And the host starts again and serves.
    let (mut child, url) = start(&bin, &data);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let r = agent.get(format!("{url}/v2/health/ready")).call().unwrap();
    assert_eq!(r.status(), 200);
    child.kill().unwrap();
    child.wait().unwrap();
}
