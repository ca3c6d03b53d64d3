//! Append throughput and latency with N concurrent writers.
//!
//! `cargo run --release -p komp-audit --example append_bench -- [threads] [appends_per_thread] [dir]`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use komp_audit::{Audit, AuditConfig, NewRecord, Outcome};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads: usize = args.get(1).map_or(8, |s| s.parse().unwrap());
    let per: usize = args.get(2).map_or(500, |s| s.parse().unwrap());
    let tmp;
    let dir = match args.get(3) {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            tmp = std::env::temp_dir().join(format!("komp-audit-bench-{}", std::process::id()));
            tmp.clone()
        }
    };
    let cfg = AuditConfig::default();
    let a = Arc::new(Audit::open(&dir, cfg).unwrap());
    let t0 = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let a = a.clone();
            std::thread::spawn(move || {
                let mut lat = Vec::with_capacity(per);
                for i in 0..per {
                    let input = format!("notification text {t} {i}");
                    let rec = NewRecord {
                        tenant: "0101".parse().unwrap(),
                        token_id: "bench".into(),
                        request_id: komp_audit::new_request_id(),
                        component: "underretning".into(),
                        version: "1.0.0".into(),
                        digest: "sha256:0123456789abcdef".into(),
                        input_hmac: a.input_hmac(input.as_bytes()),
                        label: Some("acute".into()),
                        scores: BTreeMap::from([("acute".into(), 0.7), ("not_acute".into(), 0.3)]),
                        requires_human_review: true,
                        latency_us: 15,
                        outcome: Outcome::Ok,
                        coverage: None,
                        operating_point: None,
                    };
                    let s = Instant::now();
                    a.append(rec).unwrap();
                    lat.push(s.elapsed().as_micros() as u64);
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<u64> = hs.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let el = t0.elapsed().as_secs_f64();
    lat.sort();
    let s = a.stats();
    let n = threads * per;
    println!(
        "threads={threads}: {n} records in {el:.2}s = {:.0} rec/s; {} fsyncs, mean batch {:.1}; commit (write+fdatasync) mean {:.0}us max {}us; append p50 {}us p90 {}us p99 {}us",
        n as f64 / el,
        s.commits,
        s.records as f64 / s.commits as f64,
        s.commit_micros_total as f64 / s.commits as f64,
        s.max_commit_micros,
        lat[n / 2],
        lat[n * 9 / 10],
        lat[n * 99 / 100]
    );
    drop(a);
    let t = Instant::now();
    let a = Audit::open(&dir, AuditConfig::default()).unwrap();
    let open_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let v = a.verify().unwrap();
    println!(
        "reopen (scan, check chain, rebuild index) {:.0} ms, verify {:.0} ms for {} records",
        open_s * 1e3,
        t.elapsed().as_secs_f64() * 1e3,
        v.records
    );
    drop(a);
    if args.get(3).is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
