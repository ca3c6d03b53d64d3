//! Preallocated segments and the pipelined group commit: readers and recovery stop at the
//! preallocated zeros, a torn or half-synced batch in that space is cut off like any torn tail,
//! sealed segments carry no zeros, and duplicates are refused while a batch is still syncing.

use crate::common;

use std::fs;
use std::sync::Arc;

use common::{open, rec, segments, t};
use komp_audit::*;

fn lines_of(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|b| *b == b'\n').filter(|l| l.ends_with(b"\n")).collect()
}

/// A log of `n` records, closed again; returns its only segment and that segment's bytes.
fn closed_log(n: usize) -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>, (u64, String)) {
    let d = tempfile::tempdir().unwrap();
    let head = {
        let a = open(d.path());
        for i in 0..n {
            a.append(rec(&a, "0101", &format!("r{i}"), "c", "acute")).unwrap();
        }
        a.head()
    };
    let seg = segments(d.path()).remove(0);
    let bytes = fs::read(&seg).unwrap();
    (d, seg, bytes, head)
}

#[test]
fn active_segment_is_preallocated_and_readers_stop_at_the_zeros() {
    let d = tempfile::tempdir().unwrap();
    let a = open(d.path());
    for i in 0..5 {
        a.append(rec(&a, "0101", &format!("r{i}"), "c", "acute")).unwrap();
    }
    let seg = segments(d.path()).remove(0);
    let raw = fs::read(&seg).unwrap();
    let records = raw.iter().rposition(|b| *b == b'\n').unwrap() + 1;
    assert!(raw.len() > records, "the active segment is longer than its records (preallocated)");
    assert!(raw[records..].iter().all(|b| *b == 0), "and the space beyond them is zeros");
    assert_eq!(lines_of(&raw[..records]).len(), 5);
    // Readers of a live directory see the records and nothing else.
    let v = verify_dir(d.path()).unwrap();
    assert_eq!((v.records, v.torn_tail_bytes), (5, 0));
    let mut out = Vec::new();
    assert_eq!(export_dir(d.path(), &t("0101"), None, None, &mut out).unwrap(), 5);
    assert_eq!(out, raw[..records]);
    assert_eq!(a.query(&t("0101"), &Filter::default()).unwrap().len(), 5);
    // Closing gives the segment back its exact length.
    drop(a);
    assert_eq!(fs::read(&seg).unwrap(), raw[..records]);
}

#[test]
fn zero_tail_after_a_crash_is_reused_and_appending_continues() {
    // A killed writer leaves its preallocated zeros behind (the clean close above trims them).
    let (d, seg, full, head) = closed_log(4);
    let f = fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(full.len() as u64 + (1 << 20)).unwrap();
    drop(f);
    let v = verify_dir(d.path()).unwrap();
    assert_eq!((v.records, v.torn_tail_bytes), (4, 0), "zeros are not a torn write");
    let a = open(d.path());
    assert!(!d.path().join("recovered").exists(), "nothing to recover from zeros");
    assert_eq!(a.head(), head);
    assert_eq!(a.append(rec(&a, "0101", "after", "c", "acute")).unwrap().seq, 5);
    // The new record follows the old ones directly, inside the space that was already there.
    let raw = fs::read(&seg).unwrap();
    assert_eq!(raw[..full.len()], full[..]);
    assert!(raw[full.len()..].starts_with(b"{\"kind\":\"prediction\",\"seq\":5,"));
    assert!(a.get(&t("0101"), "r0").unwrap().is_some() && a.get(&t("0101"), "after").unwrap().is_some());
    assert_eq!(a.verify().unwrap().records, 5);
    drop(a);
    assert_eq!(lines_of(&fs::read(&seg).unwrap()).len(), 5);
    assert!(!fs::read(&seg).unwrap().contains(&0));
}

#[test]
fn torn_write_into_preallocated_space_is_cut_off() {
    let (d, seg, full, head) = closed_log(3);
    let torn = b"{\"kind\":\"prediction\",\"seq\":4,\"time\":\"20";
    let mut crashed = full.clone();
    crashed.extend_from_slice(torn);
    crashed.resize(full.len() + 8192, 0);
    fs::write(&seg, &crashed).unwrap();
    assert_eq!(verify_dir(d.path()).unwrap().torn_tail_bytes, torn.len() as u64);
    let a = open(d.path());
    assert_eq!(fs::read(&seg).unwrap(), full, "torn line and zeros cut off");
    let kept: Vec<_> = fs::read_dir(d.path().join("recovered")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(fs::read(&kept[0]).unwrap(), torn, "the torn bytes are kept for forensics, without the zeros");
    assert_eq!(a.head(), head);
    assert_eq!(a.append(rec(&a, "0101", "r3", "c", "acute")).unwrap().seq, 4);
    assert_eq!(a.verify().unwrap().torn_tail_bytes, 0);
}

#[test]
fn batch_written_but_not_synced_is_cut_off_whole() {
    // A crash between the write of a batch and its fdatasync: the page cache may have reached
    // the disk in any order, e.g. the batch's first page still zeros while later lines are there.
    // None of the batch was acknowledged, so all of it goes (to recovered/), and the chain
    // continues after the last record before it.
    let (d, seg, full, _) = closed_log(6);
    let lines = lines_of(&full);
    let acked: usize = lines[..3].iter().map(|l| l.len()).sum();
    let mut crashed = full[..acked].to_vec();
    crashed.resize(acked + lines[3].len(), 0); // the lost page
    for l in &lines[4..] {
        crashed.extend_from_slice(l);
    }
    crashed.resize(crashed.len() + 4096, 0); // preallocated space
    fs::write(&seg, &crashed).unwrap();
    let v = verify_dir(d.path()).unwrap();
    assert_eq!(v.records, 3, "verify stops at the hole: nothing after it is trusted");
    assert!(v.torn_tail_bytes > 0);
    let a = open(d.path());
    assert_eq!(a.head().0, 3);
    assert_eq!(fs::read(&seg).unwrap(), full[..acked], "everything from the hole on is cut off");
    assert_eq!(fs::read_dir(d.path().join("recovered")).unwrap().count(), 1);
    assert!(a.get(&t("0101"), "r2").unwrap().is_some());
    assert!(a.get(&t("0101"), "r4").unwrap().is_none(), "unacknowledged records past the hole are not in the index");
    // The ids of the cut batch can be used again: those predictions were never answered.
    assert_eq!(a.append(rec(&a, "0101", "r4", "c", "acute")).unwrap().seq, 4);
    assert_eq!(a.verify().unwrap().records, 4);
}

#[test]
fn sealed_segments_carry_no_zeros_and_stray_ones_are_trimmed() {
    let d = tempfile::tempdir().unwrap();
    let a = Audit::open(d.path(), AuditConfig { max_segment_bytes: 2000, ..Default::default() }).unwrap();
    for i in 0..20 {
        a.append(rec(&a, "0101", &format!("r{i}"), "c", "acute")).unwrap();
    }
    let segs = segments(d.path());
    assert!(segs.len() >= 3);
    for s in &segs[..segs.len() - 1] {
        let raw = fs::read(s).unwrap();
        assert!(!raw.contains(&0) && raw.ends_with(b"\n"), "sealed segment {s:?} is exactly its records");
    }
    drop(a);
    // Zeros at the end of a sealed segment (e.g. a copy made by a tool that rounds up sizes) are
    // not damage, and opening trims them.
    let exact = fs::read(&segs[0]).unwrap();
    fs::OpenOptions::new().write(true).open(&segs[0]).unwrap().set_len(exact.len() as u64 + 4096).unwrap();
    assert_eq!(verify_dir(d.path()).unwrap().records, 20);
    let a = Audit::open(d.path(), AuditConfig { max_segment_bytes: 2000, ..Default::default() }).unwrap();
    assert!(a.integrity().is_none());
    assert_eq!(fs::read(&segs[0]).unwrap(), exact);
    assert_eq!(a.verify().unwrap().records, 20);
}

#[test]
fn concurrent_duplicates_are_refused_while_batches_sync() {
    // The index learns a record only once it is durable; a duplicate arriving while the first
    // one's batch is still syncing must be refused all the same.
    let d = tempfile::tempdir().unwrap();
    let a = Arc::new(open(d.path()));
    let ids = 60;
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let a = a.clone();
            std::thread::spawn(move || {
                let (mut ok, mut dup) = (0, 0);
                for i in 0..ids {
                    match a.append(rec(&a, "0101", &format!("same-{i}"), "c", "acute")) {
                        Ok(_) => ok += 1,
                        Err(AuditError::DuplicateRequestId) => dup += 1,
                        Err(e) => panic!("{e}"),
                    }
                }
                (ok, dup)
            })
        })
        .collect();
    let (ok, dup) = handles.into_iter().map(|h| h.join().unwrap()).fold((0, 0), |s, x| (s.0 + x.0, s.1 + x.1));
    assert_eq!((ok, dup), (ids, ids * 5), "each id is recorded exactly once");
    assert_eq!(a.verify().unwrap().records, ids as u64);
}
