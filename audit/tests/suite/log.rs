//! Records, durability bookkeeping, tamper detection, tenants, feedback, monitoring, queries.

use crate::common;

use std::fs;
use std::time::{Duration, SystemTime};

use common::{err_rec, open, rec, segments, t};
use komp_audit::*;

#[test]
fn append_get_and_record_contents() {
    let d = tempfile::tempdir().unwrap();
    let a = open(d.path());
    let r1 = a.append(rec(&a, "0101", "req-1", "underretning", "acute")).unwrap();
    let r2 = a.append(err_rec(&a, "0101", "req-2", "underretning")).unwrap();
    assert_eq!((r1.seq, r2.seq), (1, 2));
    assert_eq!(r1.request_id, "req-1");
    assert!(r1.time.ends_with('Z') && parse_rfc3339(&r1.time).is_ok());

    let case = a.get(&t("0101"), "req-1").unwrap().unwrap();
    let p = &case.prediction;
    assert_eq!(p.seq, 1);
    assert_eq!(p.prev_hash, GENESIS_HASH);
    assert_eq!(p.hash, r1.hash);
    assert_eq!(p.label.as_deref(), Some("acute"));
    assert_eq!(p.scores["acute"], 0.8);
    assert!(p.requires_human_review);
    assert_eq!(p.outcome, "ok");
    assert_eq!(p.error, None);
    assert_eq!(parse_rfc3339(&p.time).unwrap(), p.time_ms);
    // the keyed hash, never the input
    assert_eq!(p.input_hmac, a.input_hmac(b"secret input of req-1").as_str());
    assert_eq!(p.input_hmac.len(), 64);
    let raw = fs::read_to_string(&segments(d.path())[0]).unwrap();
    let raw = raw.trim_end_matches('\0'); // the active segment's preallocated space
    assert!(!raw.contains("secret input"));
    assert_eq!(raw.lines().count(), 2);
    assert!(raw.lines().all(|l| l.starts_with("{\"kind\":\"prediction\"")));

    let e = a.get(&t("0101"), "req-2").unwrap().unwrap().prediction;
    assert_eq!(e.outcome, "invalid_input");
    assert_eq!(e.label, None);
    assert_eq!(e.prev_hash, r1.hash);
    assert_eq!(e.error.as_deref(), Some("field `text` missing"));
    assert_eq!(a.head(), (2, r2.hash.clone()));
}

#[test]
fn key_file_is_private_and_stable() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let h1 = {
        let a = open(d.path());
        a.input_hmac(b"x").as_str().to_string()
    };
    let mode = fs::metadata(d.path().join("hmac.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let a = open(d.path());
    assert_eq!(a.input_hmac(b"x").as_str(), h1, "same key after reopen");
    assert_ne!(a.input_hmac(b"y").as_str(), h1);
    let other = tempfile::tempdir().unwrap();
    assert_ne!(open(other.path()).input_hmac(b"x").as_str(), h1, "keys are per host");
}

#[test]
fn invalid_records_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let a = open(d.path());
    let bad = |f: &dyn Fn(&mut NewRecord)| {
        let mut r = rec(&a, "0101", "r", "c", "acute");
        f(&mut r);
        matches!(a.append(r), Err(AuditError::InvalidRecord(_)))
    };
    // A record's tenant is a `Tenant`, parsed where it enters: a malformed kommunekode cannot reach the log.
    assert!("101".parse::<Tenant>().is_err() && "01a1".parse::<Tenant>().is_err());
    assert!(bad(&|r| r.request_id = "".into()));
    assert!(bad(&|r| r.request_id = "a b".into()));
    assert!(bad(&|r| r.component = "x".repeat(200)));
    assert!(bad(&|r| {
        r.scores.insert("nan".into(), f32::NAN);
    }));
    assert!(bad(&|r| r.label = None));
    assert!(bad(&|r| r.outcome = Outcome::Error { kind: "ok".into(), message: String::new() }));
    assert!(bad(&|r| r.label = Some("a\nb".into())));
    // long error messages are truncated, not refused
    let mut r = err_rec(&a, "0101", "long", "c");
    r.outcome = Outcome::Error { kind: "timeout".into(), message: "é".repeat(5000) };
    a.append(r).unwrap();
    assert_eq!(a.get(&t("0101"), "long").unwrap().unwrap().prediction.error.unwrap().chars().count(), MAX_ERROR_CHARS);
    assert_eq!(a.head().0, 1, "refused records take no seq");
}

#[test]
fn duplicate_request_ids_are_refused_per_tenant() {
    let d = tempfile::tempdir().unwrap();
    let a = open(d.path());
    a.append(rec(&a, "0101", "same", "c", "acute")).unwrap();
    assert!(matches!(a.append(rec(&a, "0101", "same", "c", "acute")), Err(AuditError::DuplicateRequestId)));
    // another tenant's id space is separate (and refusing would leak existence)
    a.append(rec(&a, "0147", "same", "c", "acute")).unwrap();
    drop(a);
    let a = open(d.path());
    assert!(
        matches!(a.append(rec(&a, "0101", "same", "c", "acute")), Err(AuditError::DuplicateRequestId)),
        "after reopen too"
    );
    a.verify().unwrap();
}

#[test]
fn reopen_continues_chain_and_rebuilds_index_and_monitoring() {
    let d = tempfile::tempdir().unwrap();
    let (m1, h) = {
        let a = open(d.path());
        for i in 0..20 {
            a.append(rec(&a, "0101", &format!("r{i}"), "underretning", if i % 3 == 0 { "acute" } else { "not_acute" }))
                .unwrap();
        }
        a.add_feedback(
            &t("0101"),
            "r0",
            Feedback { token_id: "cw".into(), decision: Decision::Accepted, final_label: None, note: None },
        )
        .unwrap();
        a.add_feedback(
            &t("0101"),
            "r1",
            Feedback {
                token_id: "cw".into(),
                decision: Decision::Overridden,
                final_label: Some("acute".into()),
                note: Some("police report".into()),
            },
        )
        .unwrap();
        (a.monitoring(&t("0101"), "underretning"), a.head())
    };
    let a = open(d.path());
    assert_eq!(a.head(), h);
    assert_eq!(a.monitoring(&t("0101"), "underretning"), m1);
    assert_eq!(a.get(&t("0101"), "r1").unwrap().unwrap().feedback.len(), 1);
    let r = a.append(rec(&a, "0101", "after", "underretning", "acute")).unwrap();
    assert_eq!(r.seq, 23);
    assert_eq!(a.get(&t("0101"), "after").unwrap().unwrap().prediction.prev_hash, h.1);
    let v = a.verify().unwrap();
    assert_eq!((v.records, v.first_seq, v.last_seq), (23, Some(1), Some(23)));
    assert!(a.integrity().is_none());
}

#[test]
fn segments_rotate_by_size() {
    let d = tempfile::tempdir().unwrap();
    let a = Audit::open(d.path(), AuditConfig { max_segment_bytes: 2000, ..Default::default() }).unwrap();
    for i in 0..30 {
        a.append(rec(&a, "0101", &format!("r{i}"), "c", "acute")).unwrap();
    }
    let segs = segments(d.path());
    assert!(segs.len() >= 5, "{segs:?}");
    let v = a.verify().unwrap();
    assert_eq!(v.records, 30);
    assert_eq!(v.segments, segs.len());
    // every record still readable through the index
    for i in 0..30 {
        assert!(a.get(&t("0101"), &format!("r{i}")).unwrap().is_some());
    }
    drop(a);
    let a = open(d.path());
    assert_eq!(a.query(&t("0101"), &Filter { limit: Some(1000), ..Default::default() }).unwrap().len(), 30);
    a.verify().unwrap();
}

// ---------------------------------------------------------------- tamper detection

fn tampered_log() -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let a = open(d.path());
    for i in 0..10 {
        a.append(rec(&a, "0101", &format!("r{i}"), "c", "acute")).unwrap();
    }
    a.verify().unwrap();
    drop(a);
    let seg = segments(d.path()).remove(0);
    (d, seg)
}

fn broken(dir: &std::path::Path) -> ChainBreak {
    match verify_dir(dir) {
        Err(AuditError::ChainBroken(b)) => *b,
        other => panic!("tampering not detected: {other:?}"),
    }
}

fn rewrite_lines(path: &std::path::Path, f: impl FnOnce(&mut Vec<String>)) {
    // (the active segment of a live log ends in preallocated zeros: not a line)
    let text = fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.trim_end_matches('\0').lines().map(String::from).collect();
    f(&mut lines);
    fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
}

#[test]
fn tamper_edit_one_byte_is_detected() {
    let (d, seg) = tampered_log();
    rewrite_lines(&seg, |l| l[4] = l[4].replacen("\"acute\"", "\"acutf\"", 1));
    let b = broken(d.path());
    assert_eq!((b.seq, b.line, &b.file), (5, 5, &seg));
    assert!(b.reason.contains("hash mismatch"), "{}", b.reason);

    // a re-hashed edit (attacker recomputes the record's own hash) breaks the next link instead
    let (d, seg) = tampered_log();
    rewrite_lines(&seg, |l| {
        let line = l[4].replacen("\"acute\"", "\"not_acute\"", 1);
        let body = format!("{}}}", &line[..line.len() - 75]);
        use sha2::Digest;
        let h = hex::encode(sha2::Sha256::digest(body.as_bytes()));
        l[4] = format!("{},\"hash\":\"{h}\"}}", &line[..line.len() - 75]);
    });
    let b = broken(d.path());
    assert_eq!(b.seq, 6);
    assert!(b.reason.contains("prev_hash"), "{}", b.reason);
}

#[test]
fn tamper_delete_line_is_detected() {
    let (d, seg) = tampered_log();
    rewrite_lines(&seg, |l| {
        l.remove(3);
    });
    let b = broken(d.path());
    assert_eq!((b.seq, b.line), (4, 4));
    assert!(b.reason.contains("expected seq 4, found seq 5"), "{}", b.reason);
    // deleting the first line is caught by the segment name
    let (d, seg) = tampered_log();
    rewrite_lines(&seg, |l| {
        l.remove(0);
    });
    assert_eq!(broken(d.path()).seq, 1);
}

#[test]
fn tamper_swap_lines_is_detected() {
    let (d, seg) = tampered_log();
    rewrite_lines(&seg, |l| l.swap(6, 7));
    let b = broken(d.path());
    assert_eq!((b.seq, b.line, &b.file), (7, 7, &seg));
}

#[test]
fn tamper_truncating_the_end_is_detected_against_the_live_head() {
    let d = tempfile::tempdir().unwrap();
    let a = open(d.path());
    for i in 0..5 {
        a.append(rec(&a, "0101", &format!("r{i}"), "c", "acute")).unwrap();
    }
    let seg = segments(d.path()).remove(0);
    rewrite_lines(&seg, |l| {
        l.pop();
    });
    // the file alone still forms a valid (shorter) chain: no chain can detect that ...
    verify_dir(d.path()).unwrap();
    // ... but the running log knows what it acknowledged
    match a.verify() {
        Err(AuditError::ChainBroken(b)) => assert_eq!(b.seq, 5),
        other => panic!("{other:?}"),
    }
}

#[test]
fn tamper_deleting_a_segment_is_detected() {
    let d = tempfile::tempdir().unwrap();
    let a = Audit::open(d.path(), AuditConfig { max_segment_bytes: 1500, ..Default::default() }).unwrap();
    for i in 0..20 {
        a.append(rec(&a, "0101", &format!("r{i}"), "c", "acute")).unwrap();
    }
    drop(a);
    let segs = segments(d.path());
    assert!(segs.len() >= 3);
    fs::remove_file(&segs[1]).unwrap();
    assert!(broken(d.path()).reason.contains("expected seq"));
    fs::remove_file(&segs[0]).unwrap();
    // beginning missing and no retention anchor
    assert_eq!(broken(d.path()).seq, 1);
    // a forged anchor is not vouched for by a purge record
    let first = fs::read_to_string(&segs[2]).unwrap();
    let rec: Record = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    fs::write(
        d.path().join("anchor.json"),
        serde_json::to_string(&Anchor { seq: rec.seq() - 1, hash: rec.prev_hash().into(), time_ms: 0, purge_seq: 1 })
            .unwrap(),
    )
    .unwrap();
    assert!(broken(d.path()).reason.contains("not vouched"));
}

#[test]
fn open_keeps_working_over_old_damage_and_reports_it() {
    let (d, seg) = tampered_log();
    rewrite_lines(&seg, |l| l[2] = l[2].replacen("tok-1", "tok-2", 1));
    let a = open(d.path());
    let b = a.integrity().expect("damage reported");
    assert_eq!(b.seq, 3);
    a.append(rec(&a, "0101", "new", "c", "acute")).unwrap();
    assert!(a.verify().is_err());
}

// ---------------------------------------------------------------- tenants and feedback

#[test]
fn tenants_never_see_each_other() {
    let d = tempfile::tempdir().unwrap();
    let a = open(d.path());
    a.append(rec(&a, "0101", "kbh-1", "underretning", "acute")).unwrap();
    a.append(rec(&a, "0751", "aar-1", "underretning", "not_acute")).unwrap();
    assert!(a.get(&t("0101"), "kbh-1").unwrap().is_some());
    assert!(a.get(&t("0751"), "kbh-1").unwrap().is_none());
    assert!(a.get(&t("9999"), "kbh-1").unwrap().is_none());
    let all = Filter { limit: Some(100), ..Default::default() };
    let q = a.query(&t("0751"), &all).unwrap();
    assert_eq!(q.len(), 1);
    assert!(q.iter().all(|r| r.tenant().is_some_and(|x| x == "0751")));
    let fb = Feedback { token_id: "cw".into(), decision: Decision::Accepted, final_label: None, note: None };
    let unknown = a.add_feedback(&t("0751"), "does-not-exist", fb.clone()).unwrap_err();
    let foreign = a.add_feedback(&t("0751"), "kbh-1", fb.clone()).unwrap_err();
    assert!(matches!(unknown, AuditError::NotFound) && matches!(foreign, AuditError::NotFound));
    assert_eq!(unknown.to_string(), foreign.to_string(), "same error: existence does not leak");
    a.add_feedback(&t("0101"), "kbh-1", fb).unwrap();
    let mut out = Vec::new();
    assert_eq!(a.export_jsonl(&t("0751"), None, None, &mut out).unwrap(), 1);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("aar-1") && !text.contains("kbh-1"));
    let mut out = Vec::new();
    assert_eq!(export_dir(d.path(), &t("0101"), None, None, &mut out).unwrap(), 2);
    assert!(!String::from_utf8(out).unwrap().contains("aar-1"));
    assert_eq!(a.monitoring(&t("0751"), "underretning").feedback, 0);
    assert_eq!(a.monitoring(&t("0101"), "underretning").feedback, 1);
}

#[test]
fn feedback_validation() {
    let d = tempfile::tempdir().unwrap();
    let a = open(d.path());
    a.append(rec(&a, "0101", "p", "c", "acute")).unwrap();
    a.append(err_rec(&a, "0101", "failed", "c")).unwrap();
    let fb = |decision, final_label: Option<&str>, note: Option<String>| Feedback {
        token_id: "cw-7".into(),
        decision,
        final_label: final_label.map(String::from),
        note,
    };
    let invalid = |f: Feedback| matches!(a.add_feedback(&t("0101"), "p", f), Err(AuditError::InvalidFeedback(_)));
    assert!(invalid(fb(Decision::Overridden, None, None)), "override needs a final label");
    assert!(invalid(fb(Decision::Overridden, Some("acute"), None)), "override to the same label");
    assert!(invalid(fb(Decision::Accepted, Some("not_acute"), None)), "accept with another label");
    assert!(invalid(fb(Decision::Overridden, Some(""), None)));
    assert!(invalid(fb(Decision::Overridden, Some("a\u{7}"), None)));
    assert!(invalid(fb(Decision::Accepted, None, Some("x".repeat(MAX_NOTE_CHARS + 1)))));
    assert!(invalid(fb(Decision::Accepted, None, Some("bell\u{7}".into()))));
    assert!(matches!(
        a.add_feedback(&t("0101"), "failed", fb(Decision::Accepted, None, None)),
        Err(AuditError::InvalidFeedback(_))
    ));
    assert_eq!(a.head().0, 2, "nothing appended by refused feedback");

    let r =
        a.add_feedback(&t("0101"), "p", fb(Decision::Accepted, None, Some("æøå ".repeat(MAX_NOTE_CHARS / 4)))).unwrap();
    assert_eq!(r.request_id, "p");
    a.add_feedback(&t("0101"), "p", fb(Decision::Overridden, Some("not_acute"), Some("line 1\nline 2".into())))
        .unwrap();
    let case = a.get(&t("0101"), "p").unwrap().unwrap();
    assert_eq!(case.feedback.len(), 2);
    let f = &case.feedback[1];
    assert_eq!(
        (f.decision, f.final_label.as_str(), f.predicted_label.as_str()),
        (Decision::Overridden, "not_acute", "acute")
    );
    assert_eq!(f.component, "c");
    assert_eq!(f.token_id, "cw-7");
    assert_eq!(case.feedback[0].final_label, "acute", "accepted: final label is the prediction");
    // latest feedback wins
    let m = a.monitoring(&t("0101"), "c");
    assert_eq!((m.feedback, m.accepted, m.overridden), (1, 0, 1));
    assert_eq!(m.override_pairs["acute"]["not_acute"], 1);
    a.verify().unwrap();
}

#[test]
fn monitoring_counts() {
    let d = tempfile::tempdir().unwrap();
    let a = open(d.path());
    for i in 0..10 {
        a.append(rec(&a, "0101", &format!("r{i}"), "underretning", if i < 4 { "acute" } else { "not_acute" })).unwrap();
    }
    a.append(err_rec(&a, "0101", "e1", "underretning")).unwrap();
    a.append(rec(&a, "0101", "other", "postsortering", "byggeri")).unwrap();
    let acc = Feedback { token_id: "cw".into(), decision: Decision::Accepted, final_label: None, note: None };
    for i in 0..6 {
        a.add_feedback(&t("0101"), &format!("r{i}"), acc.clone()).unwrap();
    }
    for i in 6..8 {
        a.add_feedback(
            &t("0101"),
            &format!("r{i}"),
            Feedback { decision: Decision::Overridden, final_label: Some("acute".into()), ..acc.clone() },
        )
        .unwrap();
    }
    let m = a.monitoring(&t("0101"), "underretning");
    assert_eq!((m.predictions, m.errors, m.human_review), (11, 1, 4));
    assert_eq!((m.feedback, m.accepted, m.overridden), (8, 6, 2));
    assert_eq!(m.agreement_rate, Some(0.75));
    assert_eq!(m.override_rate, Some(0.25));
    assert_eq!(m.label_counts["acute"], 4);
    assert_eq!(m.label_counts["not_acute"], 6);
    assert_eq!(m.override_pairs["not_acute"]["acute"], 2);
    assert_eq!(a.monitoring(&t("0101"), "postsortering").agreement_rate, None);
    assert_eq!(a.monitoring(&t("0202"), "underretning"), Monitoring::default());
    let all = a.monitoring_all();
    assert_eq!(all.len(), 2);
    assert!(all.iter().any(|e| e.component == "postsortering" && e.monitoring.predictions == 1));
    assert_eq!(a.stats().records, 20);
    drop(a);
    assert_eq!(open(d.path()).monitoring(&t("0101"), "underretning"), m, "rebuilt identically on open");
}

#[test]
fn queries_filter_order_and_page() {
    let d = tempfile::tempdir().unwrap();
    let a = open(d.path());
    for i in 0..30 {
        let comp = if i % 2 == 0 { "even" } else { "odd" };
        a.append(rec(&a, "0101", &format!("r{i}"), comp, "acute")).unwrap();
        a.append(rec(&a, "0147", &format!("r{i}"), comp, "acute")).unwrap();
    }
    a.add_feedback(
        &t("0101"),
        "r4",
        Feedback { token_id: "cw".into(), decision: Decision::Accepted, final_label: None, note: None },
    )
    .unwrap();
    let q = |f: Filter| a.query(&t("0101"), &f).unwrap();
    let seqs = |v: &[Record]| v.iter().map(Record::seq).collect::<Vec<_>>();

    let newest = q(Filter { limit: Some(5), ..Default::default() });
    assert_eq!(newest.len(), 5);
    assert!(matches!(newest[0], Record::Feedback(_)), "newest first by default");
    assert!(seqs(&newest).windows(2).all(|w| w[0] > w[1]));
    let next = q(Filter { limit: Some(5), after_seq: Some(newest[4].seq()), ..Default::default() });
    assert!(next[0].seq() < newest[4].seq());

    let oldest = q(Filter { order: Order::OldestFirst, limit: Some(3), ..Default::default() });
    assert_eq!(seqs(&oldest), vec![1, 3, 5]);
    let page2 = q(Filter { order: Order::OldestFirst, limit: Some(3), after_seq: Some(5), ..Default::default() });
    assert_eq!(seqs(&page2), vec![7, 9, 11]);

    let odd = q(Filter {
        component: Some("odd".into()),
        kind: Some(Kind::Prediction),
        limit: Some(100),
        ..Default::default()
    });
    assert_eq!(odd.len(), 15);
    assert_eq!(q(Filter { kind: Some(Kind::Feedback), ..Default::default() }).len(), 1);
    assert_eq!(q(Filter { limit: None, ..Default::default() }).len(), 31);

    let future = SystemTime::now() + Duration::from_secs(3600);
    assert!(q(Filter { since: Some(future), ..Default::default() }).is_empty());
    assert_eq!(q(Filter { until: Some(future), limit: Some(1000), ..Default::default() }).len(), 31);
    assert!(q(Filter { until: Some(SystemTime::UNIX_EPOCH), ..Default::default() }).is_empty());
    let mut out = Vec::new();
    assert_eq!(a.export_jsonl(&t("0101"), None, Some(SystemTime::UNIX_EPOCH), &mut out).unwrap(), 0);
}

#[test]
fn torn_tail_is_cut_off_on_open() {
    let d = tempfile::tempdir().unwrap();
    let h = {
        let a = open(d.path());
        for i in 0..3 {
            a.append(rec(&a, "0101", &format!("r{i}"), "c", "acute")).unwrap();
        }
        a.head()
    };
    let seg = segments(d.path()).remove(0);
    let full = fs::read(&seg).unwrap();
    let mut f = fs::OpenOptions::new().append(true).open(&seg).unwrap();
    use std::io::Write;
    let torn = b"{\"kind\":\"prediction\",\"seq\":4,\"time\":\"20";
    f.write_all(torn).unwrap();
    drop(f);
    assert_eq!(verify_dir(d.path()).unwrap().torn_tail_bytes, torn.len() as u64, "a torn tail is not tampering");
    let a = open(d.path());
    assert_eq!(fs::read(&seg).unwrap(), full, "torn line removed");
    assert_eq!(fs::read_dir(d.path().join("recovered")).unwrap().count(), 1, "and kept for forensics");
    assert_eq!(a.head(), h);
    assert_eq!(a.append(rec(&a, "0101", "r3", "c", "acute")).unwrap().seq, 4);
    assert_eq!(a.verify().unwrap().torn_tail_bytes, 0);
}

#[test]
fn second_writer_is_locked_out() {
    let d = tempfile::tempdir().unwrap();
    let _a = open(d.path());
    assert!(matches!(Audit::open(d.path(), AuditConfig::default()), Err(AuditError::Locked(_))));
}

#[test]
fn retention_below_six_months_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let cfg = AuditConfig { retention: Duration::from_secs(30 * 86_400), ..Default::default() };
    assert!(Audit::open(d.path(), cfg).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_append_and_feedback() {
    let d = tempfile::tempdir().unwrap();
    let a = open(d.path());
    let mut tasks = Vec::new();
    for i in 0..50 {
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            a.append_async(rec(&a, "0101", &format!("r{i}"), "c", "acute")).await.unwrap()
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap().seq);
    }
    seqs.sort();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
    a.add_feedback_async(
        &t("0101"),
        "r7",
        Feedback { token_id: "cw".into(), decision: Decision::Accepted, final_label: None, note: None },
    )
    .await
    .unwrap();
    assert!(matches!(
        a.add_feedback_async(
            &t("0147"),
            "r7",
            Feedback { token_id: "cw".into(), decision: Decision::Accepted, final_label: None, note: None }
        )
        .await,
        Err(AuditError::NotFound)
    ));
    assert!(a.stats().commits < 51, "async appends are group-committed too: {:?}", a.stats());
    a.verify().unwrap();
}

#[test]
fn admin_actions_are_chained_per_tenant_and_survive_a_reopen() {
    let d = tempfile::tempdir().unwrap();
    let event =
        |action, details| AdminEvent { token_id: "admin-1".into(), component: "underretning".into(), action, details };
    {
        let a = open(d.path());
        a.append(rec(&a, "0101", "r1", "underretning", "acute")).unwrap();
        let r = a
            .record_admin(
                &t("0101"),
                event(
                    AdminAction::OperatingPointSet,
                    serde_json::json!({"from": null, "to": 0.12, "reason": "our own sample"}),
                ),
            )
            .unwrap();
        assert_eq!(r.seq, 2);
        a.record_admin(&t("0147"), event(AdminAction::ValidationRun, serde_json::json!({"report": "vr_1"}))).unwrap();
        // Bad ones are refused with a reason, and take no place in the chain.
        let big = serde_json::json!({ "reason": "x".repeat(MAX_ADMIN_DETAILS) });
        let e = a.record_admin(&t("0101"), event(AdminAction::OperatingPointSet, big)).unwrap_err();
        assert!(matches!(e, AuditError::InvalidRecord(ref m) if m.contains("at most")), "{e}");
    }
    let a = open(d.path());
    let v = a.verify().unwrap();
    assert_eq!(v.records, 3, "prediction + two admin records, chained");
    let admin = |tenant: &str| {
        a.query(&t(tenant), &Filter { kind: Some(Kind::Admin), ..Default::default() })
            .unwrap()
            .into_iter()
            .map(|r| match r {
                Record::Admin(x) => x,
                other => panic!("kind=admin returned {other:?}"),
            })
            .collect::<Vec<_>>()
    };
    let ours = admin("0101");
    assert_eq!(ours.len(), 1, "only this tenant's admin records");
    assert_eq!(ours[0].action, AdminAction::OperatingPointSet);
    assert_eq!(ours[0].details["to"], 0.12);
    assert_eq!(ours[0].token_id, "admin-1");
    assert_eq!(admin("0147")[0].action, AdminAction::ValidationRun);
    // Admin records do not count as predictions.
    assert_eq!(a.monitoring(&t("0101"), "underretning").predictions, 1);
}
