//! Start-up time and memory of the audit log against the number of retained records.
//!
//! ```text
//! cargo run --release -p komp-audit --example retention_bench -- fill DIR RECORDS
//! cargo run --release -p komp-audit --example retention_bench -- open DIR
//! ```
//!
//! `fill` appends RECORDS prediction records (three tenants, two components, one feedback per
//! ten predictions) from 64 threads, so group commits are large and filling is quick. `open`,
//! meant to run in a fresh process, opens the directory the way the host does at start-up and
//! prints one JSON line: records, time to open, resident memory before and after (VmRSS, and the
//! peak VmHWM), the time of one `get` of the oldest prediction, and when the background integrity
//! check of the sealed segments had finished (from the start of `open`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use komp_audit::{Audit, AuditConfig, Decision, Feedback, NewRecord, Outcome};

const TENANTS: [&str; 3] = ["0101", "0147", "0751"];

fn status_kb(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn record(a: &Audit, i: usize) -> NewRecord {
    let (component, labels) =
        if i % 2 == 0 { ("underretning", ["acute", "not_acute"]) } else { ("postsortering", ["affald", "veje"]) };
    let label = labels[i % 3 % 2];
    NewRecord {
        tenant: TENANTS[i % TENANTS.len()].parse().expect("tenant"),
        token_id: "bench".into(),
        request_id: format!("{i:032x}"),
        component: component.into(),
        version: "1.0.0".into(),
        digest: "sha256:0123456789abcdef".into(),
        input_hmac: a.input_hmac(format!("input {i}").as_bytes()),
        label: Some(label.into()),
        scores: BTreeMap::from([(labels[0].into(), 0.7), (labels[1].into(), 0.3)]),
        requires_human_review: i % 5 == 0,
        latency_us: 150,
        outcome: Outcome::Ok,
        coverage: None,
        operating_point: None,
    }
}

fn fill(dir: &str, n: usize) {
    let a = Arc::new(Audit::open(dir, AuditConfig::default()).expect("open"));
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let hs: Vec<_> = (0..64)
        .map(|_| {
            let (a, next) = (a.clone(), next.clone());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let r = record(&a, i);
                let (tenant, id) = (r.tenant.clone(), r.request_id.clone());
                a.append(r).expect("append");
                if i % 10 == 0 {
                    let fb =
                        Feedback { token_id: "cw".into(), decision: Decision::Accepted, final_label: None, note: None };
                    a.add_feedback(&tenant, &id, fb).expect("feedback");
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let s = a.stats();
    eprintln!(
        "filled {} records in {:.1}s ({} fsyncs, longest commit {} ms)",
        s.records,
        t0.elapsed().as_secs_f64(),
        s.commits,
        s.max_commit_micros / 1000
    );
}

fn open(dir: &str) {
    let rss_before = status_kb("VmRSS:");
    let t0 = Instant::now();
    let a = Audit::open(dir, AuditConfig::default()).expect("open");
    let open_ms = t0.elapsed().as_secs_f64() * 1e3;
    let rss_after = status_kb("VmRSS:");
    let hwm = status_kb("VmHWM:");
    let t1 = Instant::now();
    let found = a.get(&TENANTS[0].parse().expect("tenant"), &format!("{:032x}", 0)).expect("get").is_some();
    let get_us = t1.elapsed().as_secs_f64() * 1e6;
    // The hashes of sealed segments are checked in the background after `open`; `integrity`
    // waits for that check, so this is when it is done, counted from the start of `open`.
    let clean = a.integrity().is_none();
    let checked_ms = t0.elapsed().as_secs_f64() * 1e3;
    let rss_checked = status_kb("VmRSS:");
    let (records, _) = a.head();
    println!(
        "{{\"records\":{records},\"open_ms\":{open_ms:.1},\"rss_before_kb\":{rss_before},\"rss_after_kb\":{rss_after},\
         \"hwm_kb\":{hwm},\"get_oldest_us\":{get_us:.1},\"found\":{found},\"integrity_checked_ms\":{checked_ms:.1},\
         \"integrity_clean\":{clean},\"rss_after_check_kb\":{rss_checked}}}"
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("fill"), Some(dir)) => fill(dir, args.get(3).map_or(1_000_000, |s| s.parse().expect("RECORDS"))),
        (Some("open"), Some(dir)) => open(dir),
        _ => {
            eprintln!("usage: retention_bench fill DIR [RECORDS] | retention_bench open DIR");
            std::process::exit(2);
        }
    }
}
