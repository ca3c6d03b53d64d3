//! Crash test: a child process publishes versions in a loop and prints each
//! one after `publish` returns; the parent SIGKILLs it at random moments,
//! reopens the registry and checks that every acknowledged version is there
//! and verifies, and that nothing half-written is visible.
//!
//! The child is this same test binary, re-executed with an environment
//! variable that makes the test act as the child.

mod common;

use common::*;
use komp_registry::revocation::RevocationList;
use komp_registry::trust::verify_bytes;
use komp_registry::Registry;
use rand::Rng;
use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "KOMP_REGISTRY_CRASH_CHILD_DIR";
const CYCLE_ENV: &str = "KOMP_REGISTRY_CRASH_CYCLE";
const TEST_NAME: &str = "acknowledged_publishes_survive_sigkill";
const NAME: &str = "crash";
const CYCLES: u32 = 20;

fn version(cycle: u32, i: u32) -> String {
    format!("1.{cycle}.{i}")
}

fn child(dir: &str, cycle: u32) {
    let k = keys();
    let p = policy(&k, true);
    let reg = Registry::open(std::path::Path::new(dir)).expect("child opens registry");
    let mut out = std::io::stdout().lock();
    let start = Instant::now();
    // Bounded, in case the parent is gone.
    for i in 0..2000 {
        if start.elapsed() > Duration::from_secs(20) {
            break;
        }
        let ver = version(cycle, i);
        reg.publish(endorsed(NAME, &ver), &p).expect("child publishes");
        writeln!(out, "ACK {ver}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn acknowledged_publishes_survive_sigkill() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let cycle = std::env::var(CYCLE_ENV).unwrap().parse().unwrap();
        child(&dir, cycle);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let exe = std::env::current_exe().unwrap();
    let k = keys();
    let p = policy(&k, true);
    let mut rng = rand::thread_rng();
    let mut acked: Vec<String> = Vec::new();
    let started = Instant::now();

    for cycle in 0..CYCLES {
        let mut child = Command::new(&exe)
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &db)
            .env(CYCLE_ENV, cycle.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Anywhere from "still opening the database" to "many publishes in".
        std::thread::sleep(Duration::from_millis(rng.gen_range(5..200)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut this_cycle = 0;
        for line in std::io::BufReader::new(stdout).lines() {
            if let Some(ver) = line.unwrap().strip_prefix("ACK ") {
                acked.push(ver.to_string());
                this_cycle += 1;
            }
        }

        // Reopen after the crash: everything acknowledged must be there and
        // verify. This cycle's acknowledgements are compared byte for byte;
        // every read is hash-checked by the store anyway.
        let reg = Registry::open(&db).expect("registry reopens after SIGKILL");
        let full_sweep = cycle % 5 == 4 || cycle + 1 == CYCLES;
        let first_new = acked.len() - this_cycle;
        for (n, ver) in acked.iter().enumerate() {
            if n < first_new && !full_sweep {
                continue;
            }
            let bytes = reg.get(NAME, &ver.parse().unwrap()).unwrap_or_else(|e| panic!("acknowledged {ver} lost: {e}"));
            assert_eq!(bytes, endorsed(NAME, ver), "{ver} has other bytes than were published");
            verify_bytes(bytes, &p, &RevocationList::empty())
                .unwrap_or_else(|e| panic!("{ver} no longer verifies: {e}"));
        }
        // Nothing half-written: every visible version is complete (blob and
        // manifest check out), and there are no blobs without an index entry.
        let infos = reg.versions(NAME).unwrap();
        for info in infos.iter().filter(|i| full_sweep || i.entry.version.minor == u64::from(cycle)) {
            let v = &info.entry.version;
            reg.get(NAME, v).unwrap_or_else(|e| panic!("visible {v} is incomplete: {e}"));
            reg.show(NAME, Some(v)).unwrap_or_else(|e| panic!("visible {v} has no manifest: {e}"));
        }
        assert_eq!(reg.db().open_tree("blobs").unwrap().len(), infos.len(), "orphan blobs after cycle {cycle}");
        assert!(infos.len() >= acked.len());
        eprintln!("cycle {cycle}: {this_cycle} acknowledged, {} visible", infos.len());
        drop(reg);
        if started.elapsed() > Duration::from_secs(40) {
            break;
        }
    }
    assert!(!acked.is_empty(), "the child never acknowledged a publish; the test proved nothing");
}
