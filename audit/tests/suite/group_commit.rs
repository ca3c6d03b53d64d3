//! Concurrent appends are batched: far fewer fsyncs than records. Also prints throughput.

use crate::common;

use std::sync::Arc;
use std::time::Instant;

use common::{open, rec, t};

#[test]
fn concurrent_appends_are_group_committed() {
    let d = tempfile::tempdir().unwrap();
    let a = Arc::new(open(d.path()));
    let (threads, per) = (8, 200);
    let t0 = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let a = a.clone();
            std::thread::spawn(move || {
                let mut lat = Vec::with_capacity(per);
                for i in 0..per {
                    let s = Instant::now();
                    a.append(rec(&a, "0101", &format!("t{t}-{i}"), "c", "acute")).unwrap();
                    lat.push(s.elapsed().as_micros() as u64);
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<u64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let elapsed = t0.elapsed();
    let s = a.stats();
    let n = (threads * per) as u64;
    assert_eq!(s.records, n);
    lat.sort();
    eprintln!(
        "group commit: {n} records from {threads} threads in {:.3}s = {:.0} records/s; {} commits (mean batch {:.1}, max {}), \
         mean commit {:.0} us, max commit {} us; append latency p50 {} us p99 {} us",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        s.commits,
        n as f64 / s.commits as f64,
        s.max_batch_size,
        s.commit_micros_total as f64 / s.commits as f64,
        s.max_commit_micros,
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100],
    );
    // With 8 writers, each fsync should carry several records.
    assert!(s.commits * 2 < n, "no batching: {} commits for {n} records", s.commits);
    assert!(s.max_batch_size > 1);
    assert!(s.latency_buckets.windows(2).all(|w| w[0].1 <= w[1].1) && s.latency_buckets.last().unwrap().1 <= s.commits);
    let v = a.verify().unwrap();
    assert_eq!(v.records, n);
}

#[test]
fn verify_and_queries_run_while_appending() {
    let d = tempfile::tempdir().unwrap();
    let a = Arc::new(
        komp_audit::Audit::open(
            d.path(),
            komp_audit::AuditConfig { max_segment_bytes: 16 * 1024, ..Default::default() },
        )
        .unwrap(),
    );
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let a = a.clone();
            std::thread::spawn(move || {
                for i in 0..150 {
                    a.append(rec(&a, "0101", &format!("t{t}-{i}"), "c", "acute")).unwrap();
                }
            })
        })
        .collect();
    let mut checks = 0;
    while !writers.iter().all(|w| w.is_finished()) {
        a.verify().unwrap();
        komp_audit::verify_dir(d.path()).unwrap();
        let page = a.query(&t("0101"), &komp_audit::Filter { limit: Some(50), ..Default::default() }).unwrap();
        assert!(page.windows(2).all(|w| w[0].seq() > w[1].seq()));
        checks += 1;
    }
    for w in writers {
        w.join().unwrap();
    }
    assert!(checks > 0);
    assert_eq!(a.verify().unwrap().records, 600);
}
