//! Crash tests: a child process writes to a registry and prints what it
//! acknowledged; the parent SIGKILLs it at varying moments, reopens the
//! registry and checks that every acknowledged version is there and
//! verifies, and that nothing half-written is visible.
//!
//! - `acknowledged_publishes_survive_sigkill`: the child publishes versions
//!   in a loop and prints each one after `publish` returns.
//! - `acknowledged_syncs_survive_sigkill`: the child syncs from an upstream
//!   registry served on 127.0.0.1 and prints what each `sync_from` stored
//!   after it returns; after each kill a sync to completion must converge to
//!   exactly the upstream's content.
//!
//! The child is this same test binary, re-executed with an environment
//! variable that makes the test act as the child.

use crate::common;

use common::*;
use komp_artifact::sha256_hex;
use komp_registry::http::client::Client;
use komp_registry::http::server::RegistryServer;
use komp_registry::http::sync::{sync_from, RevocationSync};
use komp_registry::revocation::{RevocationList, SignedRevocationList};
use komp_registry::trust::verify_bytes;
use komp_registry::{Registry, TrustPolicy};
use rand::Rng;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "KOMP_REGISTRY_CRASH_CHILD_DIR";
const CYCLE_ENV: &str = "KOMP_REGISTRY_CRASH_CYCLE";
/// The test's name as libtest knows it inside the suite binary (module path without the crate).
const TEST_NAME: &str = "crash::acknowledged_publishes_survive_sigkill";
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
    // Ends libtest's "test ... " line, so that the first ACK is a line of its own.
    writeln!(out).unwrap();
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
    let k = keys();
    let p = policy(&k, true);
    let mut rng = rand::thread_rng();
    let mut acked: Vec<String> = Vec::new();
    let started = Instant::now();

    for cycle in 0..CYCLES {
        let mut child =
            this_test_as_child(TEST_NAME).env(CHILD_ENV, &db).env(CYCLE_ENV, cycle.to_string()).spawn().unwrap();
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

// ---------------------------------------------------------------------------
// SIGKILL during sync from upstream.
// ---------------------------------------------------------------------------

const SYNC_CHILD_ENV: &str = "KOMP_REGISTRY_SYNC_CRASH_CHILD_DIR";
const SYNC_UPSTREAM_ENV: &str = "KOMP_REGISTRY_SYNC_CRASH_UPSTREAM";
const SYNC_TEST_NAME: &str = "crash::acknowledged_syncs_survive_sigkill";
const SYNC_CYCLES: u32 = 16;
/// Each artifact download from the upstream takes at least this long, so that
/// a sync lasts long enough to be killed in the middle.
const ARTIFACT_DELAY: Duration = Duration::from_millis(15);
/// Model size of the large releases: above sled's inline limit (~128 KiB),
/// so they are written as separate blob files, as real components are.
const LARGE_MODEL: usize = 256 << 10;

/// The downstream: opens its registry and syncs from the upstream in a loop.
/// After each `sync_from` returns it prints what that sync stored (`ACK
/// name@version blob`) and the revocation serial it applied: from then on
/// they count as acknowledged. `SYNC n` is printed before each sync starts.
fn sync_child(dir: &str, upstream: &str) {
    let k = keys();
    let p = policy(&k, false);
    let reg = Registry::open(std::path::Path::new(dir)).expect("child opens registry");
    let mut out = std::io::stdout().lock();
    // Ends libtest's "test ... " line, so that every marker is a line of its own.
    writeln!(out).unwrap();
    let start = Instant::now();
    // Bounded, in case the parent is gone.
    for round in 0..1000 {
        if start.elapsed() > Duration::from_secs(20) {
            break;
        }
        writeln!(out, "SYNC {round}").unwrap();
        out.flush().unwrap();
        let r = sync_from(upstream, &reg, &p).expect("child syncs");
        assert!(r.refused.is_empty(), "{:?}", r.refused);
        for id in r.added.iter().chain(&r.updated) {
            let (name, ver) = id.split_once('@').unwrap();
            let entry = reg.entry(name, &ver.parse().unwrap()).unwrap();
            writeln!(out, "ACK {id} {}", entry.blob_sha256).unwrap();
        }
        if let RevocationSync::Applied { serial } = r.revocations {
            writeln!(out, "REVOCATIONS {serial}").unwrap();
        }
        writeln!(out, "DONE {round}").unwrap();
        out.flush().unwrap();
    }
}

/// Serves `router` with every artifact download delayed by [`ARTIFACT_DELAY`].
fn slow_artifacts(router: axum::Router) -> axum::Router {
    router.layer(axum::middleware::from_fn(|req: axum::extract::Request, next: axum::middleware::Next| async move {
        if req.uri().path().ends_with("/artifact") {
            tokio::time::sleep(ARTIFACT_DELAY).await;
        }
        next.run(req).await
    }))
}

/// `name@version -> blob sha256` of everything in `reg`.
fn content(reg: &Registry) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for c in reg.list().unwrap() {
        for info in reg.versions(&c.name).unwrap() {
            out.insert(info.entry.id(), info.entry.blob_sha256);
        }
    }
    out
}

/// Checks a downstream registry reopened after a crash: every release it
/// holds reads back hash-correct, verifies (digest and signatures, as a read
/// through the host does), is served intact over HTTP, and is a file the
/// upstream published (`history`); nothing is half-written. Returns its content.
fn check_downstream(
    reg: &Registry,
    history: &BTreeMap<String, Vec<String>>,
    p: &TrustPolicy,
    cycle: u32,
) -> BTreeMap<String, String> {
    let held = content(reg);
    let revocations = match reg.signed_revocations().unwrap() {
        Some(s) => s.verify(p).unwrap_or_else(|e| panic!("cycle {cycle}: stored revocation list: {e}")),
        None => RevocationList::empty(),
    };
    let server = spawn(RegistryServer::new(reg.clone(), p.clone()).router());
    let client = Client::new(&server.url);
    for (id, blob) in &held {
        let (name, ver) = id.split_once('@').unwrap();
        let ver: semver::Version = ver.parse().unwrap();
        let bytes = reg.get(name, &ver).unwrap_or_else(|e| panic!("cycle {cycle}: visible {id} is incomplete: {e}"));
        reg.show(name, Some(&ver)).unwrap_or_else(|e| panic!("cycle {cycle}: visible {id} has no manifest: {e}"));
        let (art, _) = verify_bytes(bytes.clone(), p, &revocations)
            .unwrap_or_else(|e| panic!("cycle {cycle}: {id} no longer verifies: {e}"));
        assert_eq!(art.manifest().id(), *id, "cycle {cycle}: {id} holds another component");
        assert_eq!(sha256_hex(&bytes), *blob, "cycle {cycle}: {id} read back other bytes than indexed");
        let published = history.get(id).is_some_and(|h| h.contains(blob));
        assert!(published, "cycle {cycle}: {id} is not a file the upstream published");
        let served = client.artifact(name, &ver).unwrap_or_else(|e| panic!("cycle {cycle}: serving {id}: {e}"));
        assert!(served == bytes, "cycle {cycle}: {id} served with other bytes");
    }
    let served: usize = client.list().unwrap().iter().map(|c| c.versions.len()).sum();
    assert_eq!(served, held.len(), "cycle {cycle}: the server lists other releases");
    let tree_len = |t: &str| reg.db().open_tree(t).unwrap().len();
    assert_eq!(tree_len("blobs"), held.len(), "cycle {cycle}: orphan or shared blobs");
    assert_eq!(tree_len("manifests"), held.len(), "cycle {cycle}: orphan manifests");
    held
}

/// `later` holds `id` with the blob `earlier` had or one the upstream
/// published after it (the same release with more signatures).
fn kept(history: &BTreeMap<String, Vec<String>>, id: &str, earlier: &str, later: Option<&String>) -> bool {
    let pos = |b: &str| history.get(id)?.iter().position(|x| x == b);
    matches!((pos(earlier), later.and_then(|l| pos(l))), (Some(a), Some(b)) if b >= a)
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn acknowledged_syncs_survive_sigkill() {
    if let Ok(dir) = std::env::var(SYNC_CHILD_ENV) {
        sync_child(&dir, &std::env::var(SYNC_UPSTREAM_ENV).unwrap());
        return;
    }
    let k = keys();
    let p = policy(&k, false);
    let tmp = tempfile::tempdir().unwrap();
    let upstream = Registry::open(&tmp.path().join("upstream")).unwrap();
    let server = spawn(slow_artifacts(RegistryServer::new(upstream.clone(), p.clone()).router()));
    let down = tmp.path().join("downstream");
    let mut rng = rand::thread_rng();

    // Every blob each release ever had upstream, oldest first.
    let mut history: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut revocations = RevocationList::empty();
    let mut acked: BTreeMap<String, String> = BTreeMap::new();
    let mut acked_serial = 0;
    let mut held: BTreeMap<String, String> = BTreeMap::new();
    let mut held_serial = 0;
    let (mut mid_sync, mut partial) = (0, 0);
    let started = Instant::now();

    for cycle in 0..SYNC_CYCLES {
        // The upstream moves on: small and large releases, publisher-signed
        // ones that the next cycle endorses (the downstream then replaces
        // the stored file), and now and then a newer revocation list.
        let mut publish = |bytes: Vec<u8>| {
            let e = upstream.publish(bytes, &p).unwrap().entry;
            history.entry(e.id()).or_default().push(e.blob_sha256);
        };
        let ver = format!("1.{cycle}.0");
        publish(endorsed("alpha", &ver));
        publish(signed_by(unsigned_with_model("beta", &ver, LARGE_MODEL), &[&k.publisher, &k.approver]));
        publish(signed_by(unsigned("gamma", &ver), &[&k.publisher]));
        publish(signed_by(unsigned_with_model("delta", &ver, LARGE_MODEL), &[&k.publisher]));
        if cycle > 0 {
            let prev = format!("1.{}.0", cycle - 1);
            publish(endorsed("gamma", &prev));
            publish(signed_by(unsigned_with_model("delta", &prev, LARGE_MODEL), &[&k.publisher, &k.approver]));
        }
        if cycle % 3 == 1 {
            revocations = revocations.next().unwrap();
            revocations.yank("withdrawn", &format!("0.{cycle}.0").parse().unwrap(), "recalled");
            upstream.set_revocations(&SignedRevocationList::sign(&revocations, &k.approver).unwrap(), &p).unwrap();
        }
        let want = content(&upstream);

        let stderr_path = tmp.path().join("child-stderr");
        let child_stderr = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let mut child = this_test_as_child(SYNC_TEST_NAME)
            .env(SYNC_CHILD_ENV, &down)
            .env(SYNC_UPSTREAM_ENV, &server.url)
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut lines = Vec::new();
        let mut wait_for = |marker: &str| {
            let deadline = Instant::now() + Duration::from_secs(20);
            while !lines.iter().any(|l| l == marker) {
                match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(l) => lines.push(l),
                    Err(e) => panic!("cycle {cycle}: the child never printed {marker} ({e}): {}", child_stderr()),
                }
            }
        };
        let pause = match cycle % 4 {
            // While the process starts and opens (or creates) the database.
            0 => rng.gen_range(0..40),
            // After a sync returned, in one that finds nothing new.
            3 => {
                wait_for("DONE 0");
                rng.gen_range(0..20)
            }
            // In the middle of the first sync: it downloads at least six
            // releases, each taking ARTIFACT_DELAY or more.
            _ => {
                wait_for("SYNC 0");
                rng.gen_range(0..6 * ARTIFACT_DELAY.as_millis() as u64)
            }
        };
        std::thread::sleep(Duration::from_millis(pause));
        assert!(child.try_wait().unwrap().is_none(), "cycle {cycle}: the child exited by itself: {}", child_stderr());
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());

        let mut this_cycle = 0;
        for line in &lines {
            if let Some(rest) = line.strip_prefix("ACK ") {
                let (id, blob) = rest.split_once(' ').unwrap();
                acked.insert(id.to_string(), blob.to_string());
                this_cycle += 1;
            } else if let Some(serial) = line.strip_prefix("REVOCATIONS ") {
                acked_serial = acked_serial.max(serial.parse().unwrap());
            }
        }
        // Killed after the first sync started and before it returned.
        let rounds = lines.iter().filter(|l| l.starts_with("DONE ")).count();
        let killed_mid_sync = rounds == 0 && lines.iter().any(|l| l == "SYNC 0");

        // Reopen after the crash, as the host does on restart: no repair.
        let reg = Registry::open(&down).unwrap_or_else(|e| panic!("cycle {cycle}: registry does not reopen: {e}"));
        let now = check_downstream(&reg, &history, &p, cycle);
        for (id, blob) in &acked {
            assert!(kept(&history, id, blob, now.get(id)), "cycle {cycle}: acknowledged {id} ({blob}) lost");
        }
        for (id, blob) in &held {
            assert!(kept(&history, id, blob, now.get(id)), "cycle {cycle}: {id} was held before this crash, now lost");
        }
        let serial = reg.revocations().unwrap().serial;
        assert!(serial >= acked_serial.max(held_serial), "cycle {cycle}: revocation list went back to {serial}");
        if killed_mid_sync {
            mid_sync += 1;
            if now != held && now != want {
                partial += 1;
            }
        }
        eprintln!(
            "cycle {cycle}: {rounds} syncs returned, {this_cycle} releases acknowledged, {} of {} held{}",
            now.len(),
            want.len(),
            if killed_mid_sync { ", killed mid-sync" } else { "" }
        );
        (held, held_serial) = (now, serial);
        drop(reg);

        // A sync to completion (on a copy, so the next cycle resumes from the
        // crashed state) converges to exactly the upstream's content.
        let copy = tmp.path().join(format!("converge-{cycle}"));
        copy_dir(&down, &copy);
        let reg = Registry::open(&copy).unwrap();
        let r = sync_from(&server.url, &reg, &p).unwrap();
        assert!(r.refused.is_empty(), "cycle {cycle}: {:?}", r.refused);
        assert_eq!(content(&reg), want, "cycle {cycle}: sync after the crash did not converge");
        assert_eq!(reg.signed_revocations().unwrap(), upstream.signed_revocations().unwrap());
        check_downstream(&reg, &history, &p, cycle);
        drop(reg);
        std::fs::remove_dir_all(&copy).unwrap();

        if started.elapsed() > Duration::from_secs(25) {
            break;
        }
    }
    assert!(!acked.is_empty(), "the child never acknowledged a sync; the test proved nothing");
    assert!(mid_sync >= 3, "only {mid_sync} kills landed during a sync");
    assert!(partial >= 1, "no kill left a partly synced registry; the test proved nothing");
}
