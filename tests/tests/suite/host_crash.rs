//! Crash safety of the HTTP host: predictions under load, the `komp serve`
//! process killed with SIGKILL, restarted on the same data directory. Every
//! prediction that got a 200 must have its audit record, the chain must
//! verify, and the host must start again without manual repair.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn start(data: &std::path::Path) -> komp_tests::ServeProcess {
    let seeds = komp_tests::root().join("target/komp-components");
    komp_tests::ServeProcess::start(&[
        "--dev".as_ref(),
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--seed-dir".as_ref(),
        seeds.as_os_str(),
    ])
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
        let server = start(&data);
        let url = server.url.clone();
        let mut child = server;
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
        child.child.kill().expect("SIGKILL");
        child.child.wait().unwrap();
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
                audit.get(&"0751".parse().unwrap(), id).unwrap().is_some(),
                "cycle {cycle}: acknowledged prediction {id} has no audit record"
            );
        }
        audit.verify().expect("the chain verifies after the crash");
    }
    assert!(acknowledged_total > 10);

    // And the host starts again and serves.
    let server = start(&data);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let r = agent.get(format!("{}/v2/health/ready", server.url)).call().unwrap();
    assert_eq!(r.status(), 200);
}
