//! Sealed segments served from their on-disk index files (`DIR/index/`): the answers are the
//! same as from an index held wholly in memory, across restarts, and a missing, damaged or
//! stale index is rebuilt from the records.

use crate::common;

use std::fs;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use common::{rec, segments, t};
use komp_audit::*;

/// A fixed clock, so two logs fed the same operations hold byte-identical records.
fn fixed() -> Clock {
    Clock::new(|| UNIX_EPOCH + Duration::from_millis(1_764_000_000_000))
}

/// One HMAC key for every log of the tests, so equal inputs give equal records.
fn key_file() -> std::path::PathBuf {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("hmac.key"), format!("{}\n", "5a".repeat(32))).unwrap();
        d
    });
    dir.path().join("hmac.key")
}

fn config(max_segment_bytes: u64) -> AuditConfig {
    let key_file = Some(key_file());
    AuditConfig { max_segment_bytes, clock: fixed(), drift_window: 50, key_file, ..Default::default() }
}

fn open_with(dir: &Path, cfg: AuditConfig) -> Audit {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        match Audit::open(dir, cfg.clone()) {
            Err(AuditError::Locked(_)) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            other => return other.expect("open audit log"),
        }
    }
}

const TENANTS: [&str; 3] = ["0101", "0147", "0751"];

/// The same operations on any log: predictions of three tenants and two components, errors,
/// feedback on recent and on much older predictions (overridden, then accepted), admin records.
fn fill(a: &Audit) {
    for i in 0..240 {
        let tenant = TENANTS[i % 3];
        let component = if i % 2 == 0 { "underretning" } else { "postsortering" };
        let label = if i % 5 == 0 { "acute" } else { "not_acute" };
        let r = if i % 17 == 0 {
            common::err_rec(a, tenant, &format!("req-{i}"), component)
        } else {
            rec(a, tenant, &format!("req-{i}"), component, label)
        };
        a.append(r).unwrap();
        // feedback on a prediction made 99 records earlier (an older segment, same tenant):
        // overridden, and on the next step accepted after all (the latest decision counts)
        if i >= 100 && (i - 99) % 17 != 0 && i % 7 == 3 {
            let fb = Feedback {
                token_id: "cw".into(),
                decision: Decision::Overridden,
                final_label: Some("other".into()),
                note: None,
            };
            a.add_feedback(&t(tenant), &format!("req-{}", i - 99), fb).unwrap();
        }
        if i >= 100 && (i - 100) % 17 != 0 && i % 7 == 4 {
            let fb = Feedback { token_id: "cw".into(), decision: Decision::Accepted, final_label: None, note: None };
            a.add_feedback(&t(TENANTS[(i - 100) % 3]), &format!("req-{}", i - 100), fb).unwrap();
        }
        // and on a recent one, in the active segment
        if i >= 6 && (i - 6) % 17 != 0 && i % 11 == 5 {
            let fb = Feedback { token_id: "cw".into(), decision: Decision::Accepted, final_label: None, note: None };
            a.add_feedback(&t(tenant), &format!("req-{}", i - 6), fb).unwrap();
        }
        if i % 50 == 0 {
            let ev = AdminEvent {
                token_id: "admin".into(),
                component: component.into(),
                action: AdminAction::ValidationRun,
                details: serde_json::json!({ "n": i }),
            };
            a.record_admin(&t(tenant), ev).unwrap();
        }
    }
}

/// Everything a caller can ask the index, as comparable text.
fn answers(a: &Audit) -> String {
    let mut out = String::new();
    for tenant in TENANTS.iter().map(|c| t(c)) {
        for i in 0..240 {
            out += &format!("{:?}\n", a.get(&tenant, &format!("req-{i}")).unwrap());
        }
        for order in [Order::OldestFirst, Order::NewestFirst] {
            // page through everything, 7 at a time
            let mut after = None;
            loop {
                let f = Filter { order, after_seq: after, limit: Some(7), ..Default::default() };
                let page = a.query(&tenant, &f).unwrap();
                let Some(last) = page.last() else { break };
                after = Some(last.seq());
                out += &format!("{:?}\n", page.iter().map(|r| r.seq()).collect::<Vec<_>>());
            }
            for kind in [Kind::Prediction, Kind::Feedback, Kind::Admin] {
                let f = Filter {
                    order,
                    kind: Some(kind),
                    component: Some("underretning".into()),
                    limit: Some(1000),
                    ..Default::default()
                };
                out += &format!("{:?}\n", a.query(&tenant, &f).unwrap());
            }
        }
        let mut export = Vec::new();
        a.export_jsonl(&tenant, None, None, &mut export).unwrap();
        out += &String::from_utf8(export).unwrap();
        for c in ["underretning", "postsortering"] {
            out += &format!("{:?}\n{:?}\n", a.monitoring(&tenant, c), a.drift_window(&tenant, c));
        }
    }
    out
}

fn index_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = match fs::read_dir(dir.join("index")) {
        Ok(r) => r.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "idx")).collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

#[test]
fn sealed_segments_answer_like_an_index_held_in_memory() {
    // The reference: one segment, its index wholly in memory.
    let reference = tempfile::tempdir().unwrap();
    let r = open_with(reference.path(), config(64 << 20));
    fill(&r);
    assert_eq!(segments(reference.path()).len(), 1);
    assert!(index_files(reference.path()).is_empty());
    let expected = answers(&r);
    assert!(expected.contains("Overridden") && expected.contains("Accepted"), "the fill gives feedback");

    // The same operations with 4 KiB segments: dozens of sealed segments served from disk.
    let d = tempfile::tempdir().unwrap();
    let a = open_with(d.path(), config(4096));
    fill(&a);
    let n = segments(d.path()).len();
    assert!(n > 20, "{n} segments");
    assert_eq!(index_files(d.path()).len(), n - 1, "every sealed segment has its index file");
    assert!(d.path().join("index/checkpoint.json").exists());
    assert_eq!(answers(&a), expected, "live log, sealed segments on disk");
    assert_eq!(a.head(), r.head(), "same records, same chain");
    drop(a);

    // Restart: the sealed segments come from their index files, only the active one is read.
    let a = open_with(d.path(), config(4096));
    assert_eq!(answers(&a), expected, "after a restart from the index files");
    assert!(a.integrity().is_none());
    // Appending after a restart continues the same way in both logs.
    a.append(rec(&a, "0101", "after-restart", "underretning", "acute")).unwrap();
    r.append(rec(&r, "0101", "after-restart", "underretning", "acute")).unwrap();
    assert_eq!(answers(&a), answers(&r));
    drop(a);

    // Without index/ (e.g. deleted by an operator): rebuilt from the records, same answers.
    fs::remove_dir_all(d.path().join("index")).unwrap();
    let a = open_with(d.path(), config(4096));
    assert_eq!(index_files(d.path()).len(), segments(d.path()).len() - 1, "index files written again");
    assert_eq!(answers(&a), answers(&r), "after a rebuild");
    assert!(a.verify().is_ok());
}

#[test]
fn duplicate_request_ids_are_refused_across_sealed_segments_and_restarts() {
    let d = tempfile::tempdir().unwrap();
    let a = open_with(d.path(), config(2048));
    a.append(rec(&a, "0101", "first", "c", "acute")).unwrap();
    for i in 0..60 {
        a.append(rec(&a, "0147", &format!("filler-{i}"), "c", "acute")).unwrap();
    }
    assert!(index_files(d.path()).len() > 5);
    assert!(matches!(a.append(rec(&a, "0101", "first", "c", "acute")), Err(AuditError::DuplicateRequestId)));
    // another tenant may use the same id
    a.append(rec(&a, "0147", "first", "c", "acute")).unwrap();
    drop(a);
    let a = open_with(d.path(), config(2048));
    assert!(matches!(a.append(rec(&a, "0101", "first", "c", "acute")), Err(AuditError::DuplicateRequestId)));
    assert!(matches!(a.append(rec(&a, "0147", "filler-3", "c", "acute")), Err(AuditError::DuplicateRequestId)));
    // feedback on the oldest prediction still finds it
    let fb = Feedback { token_id: "cw".into(), decision: Decision::Accepted, final_label: None, note: None };
    a.add_feedback(&t("0101"), "first", fb).unwrap();
    assert_eq!(a.get(&t("0101"), "first").unwrap().unwrap().feedback.len(), 1);
    assert!(matches!(
        a.add_feedback(
            &t("0751"),
            "first",
            Feedback { token_id: "cw".into(), decision: Decision::Accepted, final_label: None, note: None }
        ),
        Err(AuditError::NotFound)
    ));
}

#[test]
fn a_damaged_missing_or_stale_index_is_rebuilt_from_the_records() {
    let d = tempfile::tempdir().unwrap();
    let a = open_with(d.path(), config(4096));
    fill(&a);
    let expected = answers(&a);
    drop(a);
    let idx = index_files(d.path());

    // a flipped byte in the resident part of one index file
    let victim = &idx[idx.len() / 2];
    let mut bytes = fs::read(victim).unwrap();
    bytes[40] ^= 0xff;
    fs::write(victim, &bytes).unwrap();
    let a = open_with(d.path(), config(4096));
    assert_eq!(answers(&a), expected, "damaged index file");
    assert_ne!(fs::read(victim).unwrap(), bytes, "rewritten");
    drop(a);

    // one index file missing
    fs::remove_file(&idx[0]).unwrap();
    let a = open_with(d.path(), config(4096));
    assert_eq!(answers(&a), expected, "missing index file");
    assert!(idx[0].exists());
    drop(a);

    // the checkpoint missing, or from an older state (copied back from before more records)
    let old_ckpt = fs::read(d.path().join("index/checkpoint.json")).unwrap();
    let a = open_with(d.path(), config(4096));
    for i in 0..40 {
        a.append(rec(&a, "0751", &format!("more-{i}"), "underretning", "acute")).unwrap();
    }
    let expected = answers(&a);
    drop(a);
    fs::write(d.path().join("index/checkpoint.json"), &old_ckpt).unwrap();
    let a = open_with(d.path(), config(4096));
    assert_eq!(answers(&a), expected, "stale checkpoint");
    drop(a);
    fs::remove_file(d.path().join("index/checkpoint.json")).unwrap();
    let a = open_with(d.path(), config(4096));
    assert_eq!(answers(&a), expected, "missing checkpoint");
    assert!(a.integrity().is_none());
}

#[test]
fn tampering_in_a_sealed_segment_is_still_found_after_a_start_from_the_index() {
    let d = tempfile::tempdir().unwrap();
    let a = open_with(d.path(), config(4096));
    fill(&a);
    drop(a);
    let segs = segments(d.path());
    // Same length, so the segment still matches its index's size: only the hashes can tell.
    let victim = &segs[segs.len() / 2];
    let text = fs::read_to_string(victim).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let at = lines.iter().position(|l| l.contains("tok-1")).expect("a prediction in the segment");
    lines[at] = lines[at].replacen("tok-1", "tok-2", 1);
    fs::write(victim, lines.join("\n") + "\n").unwrap();
    let a = open_with(d.path(), config(4096));
    let b = a.integrity().expect("the background check reports the damage");
    assert_eq!(&b.file, victim);
    assert!(b.reason.contains("hash mismatch"), "{}", b.reason);
    // the log keeps working over old damage
    a.append(rec(&a, "0101", "new", "c", "acute")).unwrap();
    assert!(a.verify().is_err());
}

#[test]
fn a_segment_that_does_not_match_its_index_is_read_again() {
    let d = tempfile::tempdir().unwrap();
    let a = open_with(d.path(), config(4096));
    fill(&a);
    let expected = answers(&a);
    drop(a);
    // A line cut from a sealed segment: its length no longer matches the index, so `open` walks
    // every record (as without index files) and reports the break.
    let segs = segments(d.path());
    let victim = &segs[3];
    let text = fs::read_to_string(victim).unwrap();
    let kept: Vec<&str> = text.lines().skip(1).collect();
    fs::write(victim, kept.join("\n") + "\n").unwrap();
    let a = open_with(d.path(), config(4096));
    let b = a.integrity().expect("damage reported");
    assert_eq!(&b.file, victim);
    assert_ne!(answers(&a), expected, "the cut record is gone");
}

#[test]
fn retention_takes_a_sealed_segments_whole_share_also_across_restarts() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    const DAY: u64 = 86_400_000;
    let t0 = 1_735_689_600_000u64;
    let now = Arc::new(AtomicU64::new(t0));
    let n = now.clone();
    let clock = Clock::new(move || UNIX_EPOCH + Duration::from_millis(n.load(Ordering::SeqCst)));
    let cfg = AuditConfig { clock, key_file: Some(key_file()), ..Default::default() };
    let d = tempfile::tempdir().unwrap();
    let a = open_with(d.path(), cfg.clone());
    let overridden = || Feedback {
        token_id: "cw".into(),
        decision: Decision::Overridden,
        final_label: Some("x".into()),
        note: None,
    };
    // one segment per day: 4 predictions a day of one tenant
    for day in 0..4u64 {
        now.store(t0 + day * DAY, Ordering::SeqCst);
        for i in 0..4 {
            a.append(rec(&a, "0101", &format!("d{day}-{i}"), "c", "acute")).unwrap();
        }
        // decisions arrive two days later, in a later segment than their predictions
        if day >= 2 {
            a.add_feedback(&t("0101"), &format!("d{}-0", day - 2), overridden()).unwrap();
            a.add_feedback(&t("0101"), &format!("d{}-1", day - 2), overridden()).unwrap();
        }
    }
    assert!(index_files(d.path()).len() >= 3);
    let m = a.monitoring(&t("0101"), "c");
    assert_eq!((m.predictions, m.feedback, m.overridden), (16, 4, 4));

    // day 183.5: day 0 expires, with the decisions on its predictions (recorded on day 2)
    now.store(t0 + 183 * DAY + DAY / 2, Ordering::SeqCst);
    let r = a.purge_expired(UNIX_EPOCH + Duration::from_millis(t0 + 183 * DAY + DAY / 2)).unwrap();
    assert_eq!(r.records, 4);
    let expected = a.monitoring(&t("0101"), "c");
    assert_eq!((expected.predictions, expected.feedback, expected.overridden), (12, 2, 2));
    assert_eq!(expected.override_pairs["acute"]["x"], 2);
    let window = a.drift_window(&t("0101"), "c");
    assert!(window.iter().all(|o| o.seq > r.anchor.as_ref().unwrap().seq));
    drop(a);

    // after a restart from the checkpoint (written before the purge) and after a rebuild
    let a = open_with(d.path(), cfg.clone());
    assert_eq!(a.monitoring(&t("0101"), "c"), expected, "checkpoint older than the purge");
    assert_eq!(a.drift_window(&t("0101"), "c"), window);
    assert!(a.get(&t("0101"), "d0-0").unwrap().is_none());
    assert_eq!(a.get(&t("0101"), "d1-1").unwrap().unwrap().feedback.len(), 1);
    drop(a);
    fs::remove_dir_all(d.path().join("index")).unwrap();
    let a = open_with(d.path(), cfg);
    assert_eq!(a.monitoring(&t("0101"), "c"), expected, "rebuilt from the records");
    assert_eq!(a.drift_window(&t("0101"), "c"), window);
    assert!(a.integrity().is_none());
}
