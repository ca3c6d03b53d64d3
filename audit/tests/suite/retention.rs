//! Retention purge: whole expired segments go, an anchor and a purge record keep `verify` working.

use crate::common;

use std::fs;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{rec, segments, t};
use komp_audit::*;

const DAY: u64 = 86_400_000;

/// A settable clock starting at 2025-01-01.
fn clock() -> (Arc<AtomicU64>, Clock) {
    let now = Arc::new(AtomicU64::new(1_735_689_600_000));
    let n = now.clone();
    (now, Clock::new(move || UNIX_EPOCH + Duration::from_millis(n.load(Ordering::SeqCst))))
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

#[test]
fn purge_deletes_expired_segments_and_verify_starts_at_anchor() {
    let d = tempfile::tempdir().unwrap();
    let (now, clock) = clock();
    let t0 = now.load(Ordering::SeqCst);
    let cfg = AuditConfig { clock: clock.clone(), ..Default::default() };
    let a = Audit::open(d.path(), cfg.clone()).unwrap();
    // day 0 and day 1: two segments (rotation by UTC day)
    for i in 0..5 {
        a.append(rec(&a, "0101", &format!("d0-{i}"), "c", "acute")).unwrap();
    }
    now.store(t0 + DAY, Ordering::SeqCst);
    for i in 0..5 {
        a.append(rec(&a, "0101", &format!("d1-{i}"), "c", "not_acute")).unwrap();
    }
    a.add_feedback(
        &t("0101"),
        "d0-1",
        Feedback { token_id: "cw".into(), decision: Decision::Overridden, final_label: Some("x".into()), note: None },
    )
    .unwrap();
    // day 100
    now.store(t0 + 100 * DAY, Ordering::SeqCst);
    for i in 0..5 {
        a.append(rec(&a, "0147", &format!("d100-{i}"), "c", "acute")).unwrap();
    }
    assert_eq!(segments(d.path()).len(), 3);

    // nothing expired yet at day 150
    assert_eq!(a.purge_expired(at(t0 + 150 * DAY)).unwrap(), PurgeReport::default());

    // day 183.5: the day-0 segment is older than 183 days; day 1 (which holds the feedback) is not
    now.store(t0 + 183 * DAY + DAY / 2, Ordering::SeqCst);
    let r = a.purge_expired(at(t0 + 183 * DAY + DAY / 2)).unwrap();
    assert_eq!((r.segments, r.records), (1, 5));
    let anchor = r.anchor.clone().unwrap();
    assert_eq!(anchor.seq, 5);
    // day 1, day 100, and day 183 (which holds the purge record)
    assert_eq!(segments(d.path()).len(), 3);
    assert!(a.get(&t("0101"), "d0-0").unwrap().is_none());
    assert!(a.get(&t("0101"), "d1-0").unwrap().is_some());
    let m = a.monitoring(&t("0101"), "c");
    assert_eq!(
        (m.predictions, m.feedback, m.overridden),
        (5, 0, 0),
        "purged predictions (and their feedback) no longer count"
    );
    assert_eq!(m.label_counts.get("acute"), None);

    let v = a.verify().unwrap();
    assert_eq!(v.anchor.as_ref(), Some(&anchor));
    assert_eq!(v.first_seq, Some(6));
    let purge = a.query(&t("0101"), &Filter::default()).unwrap();
    assert!(purge.iter().all(|r| !matches!(r, Record::Purge(_))), "purge records belong to no tenant");
    // the purge record is in the chain
    let last = fs::read_to_string(segments(d.path()).last().unwrap()).unwrap();
    let p: Record = serde_json::from_str(last.trim_end_matches('\0').lines().last().unwrap()).unwrap();
    match p {
        Record::Purge(p) => {
            assert_eq!((p.through_seq, p.seq), (5, anchor.purge_seq));
            assert_eq!(p.segments.len(), 1);
        }
        other => panic!("{other:?}"),
    }

    // appends continue, reopen rebuilds from the anchor
    a.append(rec(&a, "0101", "late", "c", "acute")).unwrap();
    let head = a.head();
    drop(a);
    let a = Audit::open(d.path(), cfg).unwrap();
    assert_eq!(a.head(), head);
    assert!(a.integrity().is_none());
    assert_eq!(a.monitoring(&t("0101"), "c").predictions, 6);
    a.verify().unwrap();

    // tampering after the anchor is still caught
    drop(a);
    let first = segments(d.path()).remove(0);
    let text = fs::read_to_string(&first).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    fs::write(&first, format!("{}\n{}\n", lines[0], lines[2..].join("\n"))).unwrap();
    assert!(matches!(verify_dir(d.path()), Err(AuditError::ChainBroken(_))));
}

#[test]
fn expired_active_segment_is_sealed_and_purged() {
    let d = tempfile::tempdir().unwrap();
    let (now, clock) = clock();
    let t0 = now.load(Ordering::SeqCst);
    let a = Audit::open(d.path(), AuditConfig { clock, ..Default::default() }).unwrap();
    for i in 0..3 {
        a.append(rec(&a, "0101", &format!("r{i}"), "c", "acute")).unwrap();
    }
    // no traffic for a year
    now.store(t0 + 365 * DAY, Ordering::SeqCst);
    let r = a.purge_expired(at(t0 + 365 * DAY)).unwrap();
    assert_eq!((r.segments, r.records), (1, 3));
    assert!(a.query(&t("0101"), &Filter::default()).unwrap().is_empty());
    let v = a.verify().unwrap();
    assert_eq!((v.records, v.first_seq), (1, Some(4)), "only the purge record remains");
    a.append(rec(&a, "0101", "new", "c", "acute")).unwrap();
    a.verify().unwrap();
    // purging twice in a row: the second one finds nothing new
    assert_eq!(a.purge_expired(at(t0 + 365 * DAY)).unwrap().segments, 0);
}

#[test]
fn interrupted_purge_is_completed_on_open() {
    let d = tempfile::tempdir().unwrap();
    let (now, clock) = clock();
    let t0 = now.load(Ordering::SeqCst);
    let cfg = AuditConfig { clock, ..Default::default() };
    let a = Audit::open(d.path(), cfg.clone()).unwrap();
    for i in 0..4 {
        a.append(rec(&a, "0101", &format!("old{i}"), "c", "acute")).unwrap();
    }
    now.store(t0 + 200 * DAY, Ordering::SeqCst);
    a.append(rec(&a, "0101", "new", "c", "acute")).unwrap();
    let old_seg = segments(d.path()).remove(0);
    let saved = fs::read(&old_seg).unwrap();
    a.purge_expired(at(t0 + 200 * DAY)).unwrap();
    drop(a);
    // Simulate a crash after the purge record was made durable but before the anchor was
    // written and the segment deleted.
    fs::write(&old_seg, &saved).unwrap();
    fs::remove_file(d.path().join("anchor.json")).unwrap();
    verify_dir(d.path()).unwrap();
    let a = Audit::open(d.path(), cfg.clone()).unwrap();
    assert!(!old_seg.exists(), "open finished the purge");
    assert!(d.path().join("anchor.json").exists());
    assert!(a.get(&t("0101"), "old0").unwrap().is_none());
    assert_eq!(a.monitoring(&t("0101"), "c").predictions, 1);
    a.verify().unwrap();
    drop(a);
    // Crash after the anchor was written but before the deletion: leftover segment skipped.
    fs::write(&old_seg, &saved).unwrap();
    let v = verify_dir(d.path()).unwrap();
    assert_eq!(v.leftover_records, 4);
    let a = Audit::open(d.path(), cfg).unwrap();
    assert!(!old_seg.exists());
    a.verify().unwrap();
}
