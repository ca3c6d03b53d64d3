#![allow(dead_code)]
use std::collections::BTreeMap;
use std::path::Path;

use komp_audit::{Audit, AuditConfig, NewRecord, Outcome, Tenant};

/// A kommunekode for the tests.
pub fn t(code: &str) -> Tenant {
    code.parse().expect("a kommunekode")
}

/// Opens the log in `dir`. Tests in this binary spawn processes (crash.rs) while others drop and
/// reopen a log: a child forked in between holds a copy of the lock file's descriptor until it
/// execs, so a reopen may briefly see the lock taken. It is retried for up to two seconds.
pub fn open(dir: &Path) -> Audit {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match Audit::open(dir, AuditConfig::default()) {
            Err(komp_audit::AuditError::Locked(_)) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            other => return other.expect("open audit log"),
        }
    }
}

pub fn rec(audit: &Audit, tenant: &str, request_id: &str, component: &str, label: &str) -> NewRecord {
    let mut scores = BTreeMap::new();
    scores.insert("acute".to_string(), if label == "acute" { 0.8f32 } else { 0.2 });
    scores.insert("not_acute".to_string(), if label == "acute" { 0.2f32 } else { 0.8 });
    NewRecord {
        tenant: t(tenant),
        token_id: "tok-1".into(),
        request_id: request_id.into(),
        component: component.into(),
        version: "1.2.0".into(),
        digest: "sha256:0123abcd".into(),
        input_hmac: audit.input_hmac(format!("secret input of {request_id}").as_bytes()),
        label: Some(label.into()),
        scores,
        requires_human_review: label == "acute",
        latency_us: 42,
        outcome: Outcome::Ok,
        coverage: None,
        operating_point: None,
    }
}

pub fn err_rec(audit: &Audit, tenant: &str, request_id: &str, component: &str) -> NewRecord {
    NewRecord {
        label: None,
        scores: BTreeMap::new(),
        outcome: Outcome::Error { kind: "invalid_input".into(), message: "field `text` missing".into() },
        ..rec(audit, tenant, request_id, component, "x")
    }
}

pub fn segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("seg-"))
        .collect();
    v.sort();
    v
}
