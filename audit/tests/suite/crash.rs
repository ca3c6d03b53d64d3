//! Crash safety: a child process (this test binary re-executed) appends from several threads and
//! prints every acknowledged request id; the parent SIGKILLs it at random moments, reopens the
//! log, and checks that every acknowledged record survived, the chain verifies, and appending
//! continues.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{rec, t};
use komp_audit::{Audit, AuditConfig, Decision, Feedback};

const CHILD_ENV: &str = "KOMP_AUDIT_CRASH_CHILD";
const CYCLE_ENV: &str = "KOMP_AUDIT_CRASH_CYCLE";
const TENANTS: [&str; 3] = ["0101", "0147", "0751"];

fn config() -> AuditConfig {
    // small segments so that kills also hit rotations
    AuditConfig { max_segment_bytes: 32 * 1024, ..Default::default() }
}

#[test]
fn crash_recovery() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(Path::new(&dir));
    }
    let d = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let started = Instant::now();
    let mut acked: Vec<(String, String)> = Vec::new();
    let mut rng = seed();
    let cycles = 15;
    for cycle in 0..cycles {
        let mut child = Command::new(&exe)
            .args(["crash::crash_recovery", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, d.path())
            .env(CYCLE_ENV, cycle.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut r = BufReader::new(out);
            let mut acks = Vec::new();
            let mut line = Vec::new();
            loop {
                line.clear();
                if r.read_until(b'\n', &mut line).unwrap() == 0 {
                    break;
                }
                // a line cut by the kill has no newline: it was not (fully) acknowledged
                let Some(l) = line.strip_suffix(b"\n") else { break };
                let l = String::from_utf8_lossy(l);
                if let Some(rest) = l.strip_prefix("ACK ") {
                    let (t, id) = rest.split_once(' ').unwrap();
                    acks.push((t.to_string(), id.to_string()));
                }
            }
            acks
        });
        // Mostly kill mid-stream; sometimes very early, during start-up and recovery.
        let ms = if next(&mut rng).is_multiple_of(4) { next(&mut rng) % 40 } else { 60 + next(&mut rng) % 400 };
        std::thread::sleep(Duration::from_millis(ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acks = reader.join().unwrap();
        let n_cycle = acks.len();
        acked.extend(acks);

        let a = Audit::open(d.path(), config()).unwrap_or_else(|e| panic!("cycle {cycle}: reopen failed: {e}"));
        for (t_code, id) in &acked {
            assert!(a.get(&t(t_code), id).unwrap().is_some(), "cycle {cycle}: acknowledged {t_code}/{id} lost");
        }
        let v = a.verify().unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
        assert_eq!(v.torn_tail_bytes, 0);
        assert!(a.integrity().is_none(), "cycle {cycle}: {:?}", a.integrity());
        let r = a.append(rec(&a, "0101", &format!("parent-{cycle}"), "c", "acute")).unwrap();
        assert_eq!(r.seq, v.last_seq.unwrap_or(0) + 1, "chain continues");
        eprintln!("cycle {cycle}: killed after {ms} ms, {n_cycle} acknowledged, log has {} records", v.records);
        drop(a);
    }
    eprintln!("{cycles} crash cycles, {} acknowledged records, all present, in {:?}", acked.len(), started.elapsed());
    assert!(acked.len() > 100, "children did too little work to be meaningful");
    let recovered = d.path().join("recovered");
    eprintln!("torn tails cut off: {}", std::fs::read_dir(&recovered).map(|r| r.count()).unwrap_or(0));
}

fn child(dir: &Path) -> ! {
    let cycle: u32 = std::env::var(CYCLE_ENV).unwrap().parse().unwrap();
    let a = Arc::new(Audit::open(dir, config()).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let a = a.clone();
            std::thread::spawn(move || {
                let tenant = TENANTS[t % TENANTS.len()];
                for i in 0.. {
                    let id = format!("c{cycle}-t{t}-{i}");
                    a.append(rec(&a, tenant, &id, "underretning", if i % 2 == 0 { "acute" } else { "not_acute" }))
                        .unwrap();
                    if i % 5 == 0 {
                        let fb = Feedback {
                            token_id: "cw".into(),
                            decision: Decision::Accepted,
                            final_label: None,
                            note: None,
                        };
                        a.add_feedback(&common::t(tenant), &id, fb).unwrap();
                    }
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ACK {tenant} {id}").unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    unreachable!()
}

fn seed() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b) | 1
}

fn next(s: &mut u64) -> u64 {
    // xorshift64
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}
