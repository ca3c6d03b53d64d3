//! `komp-load`: an HTTP/1.1 load generator for any endpoint on 127.0.0.1.
//!
//! * closed loop (default): `-c` connections, each sends its next request when
//!   the previous answer has arrived;
//! * open loop (`--rate R`): requests are scheduled at a fixed rate R/s over
//!   `-c` connections, and latency is measured from the *scheduled* send time,
//!   so a stalled server is charged for the requests it held up (no
//!   coordinated omission).
//!
//! Stops after `-n` measured requests or `-d` seconds (after `--warmup`
//! seconds that are not recorded). Reports throughput, a latency histogram,
//! p50/p90/p99/p99.9/max, and errors (connection failures and non-2xx
//! answers, by status). `--json` prints one JSON object for scripts.
//!
//! Example:
//! `komp-load -c 8 -d 10 -H 'authorization: Bearer X' --body-file in.json http://127.0.0.1:8080/v1/components/postsortering/predict`

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug, Clone)]
#[command(name = "komp-load", about = "HTTP load generator (closed and open loop) with a latency histogram")]
struct Args {
    /// Target URL, e.g. http://127.0.0.1:8080/v1/components/postsortering/predict
    url: String,
    /// Connections (and requests in flight at most).
    #[arg(short = 'c', long, default_value_t = 1)]
    concurrency: usize,
    /// Measured requests (after warm-up); exclusive with --duration.
    #[arg(short = 'n', long)]
    requests: Option<u64>,
    /// Measured seconds (after warm-up). Default 10 if -n is not given.
    #[arg(short = 'd', long)]
    duration: Option<f64>,
    /// Open loop: total request rate per second. Without it: closed loop.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds of unrecorded requests before measuring.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// HTTP method (default POST with a body, GET without).
    #[arg(short = 'm', long)]
    method: Option<String>,
    /// Extra header "name: value" (repeatable).
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// Request body.
    #[arg(long)]
    body: Option<String>,
    /// Request body from a file.
    #[arg(long)]
    body_file: Option<std::path::PathBuf>,
    /// One request body per line of this file, used round robin.
    #[arg(long)]
    body_lines: Option<std::path::PathBuf>,
    /// Tokio worker threads of the generator (default 1, so it takes one core).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    json: bool,
    /// A label copied into the JSON output.
    #[arg(long, default_value = "")]
    label: String,
}

struct Target {
    addr: String,
    host: String,
    path: String,
    method: hyper::Method,
    headers: Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)>,
    bodies: Vec<Bytes>,
}

fn parse_target(a: &Args) -> Result<Target> {
    let rest = a.url.strip_prefix("http://").context("only http:// URLs are supported")?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = if hostport.contains(':') { hostport.to_string() } else { format!("{hostport}:80") };
    let mut bodies = Vec::new();
    if let Some(b) = &a.body {
        bodies.push(Bytes::from(b.clone()));
    }
    if let Some(f) = &a.body_file {
        bodies.push(Bytes::from(std::fs::read(f).with_context(|| format!("read {}", f.display()))?));
    }
    if let Some(f) = &a.body_lines {
        let text = std::fs::read_to_string(f).with_context(|| format!("read {}", f.display()))?;
        bodies.extend(text.lines().filter(|l| !l.trim().is_empty()).map(|l| Bytes::from(l.to_string())));
    }
    let method = match &a.method {
        Some(m) => m.parse().context("method")?,
        None if bodies.is_empty() => hyper::Method::GET,
        None => hyper::Method::POST,
    };
    if bodies.is_empty() {
        bodies.push(Bytes::new());
    }
    let mut headers = Vec::new();
    let mut has_ct = false;
    for h in &a.headers {
        let (k, v) = h.split_once(':').with_context(|| format!("header {h:?} is not \"name: value\""))?;
        let k: hyper::header::HeaderName = k.trim().parse()?;
        has_ct |= k == hyper::header::CONTENT_TYPE;
        headers.push((k, v.trim().parse()?));
    }
    if !has_ct && method == hyper::Method::POST {
        headers.push((hyper::header::CONTENT_TYPE, "application/json".parse()?));
    }
    Ok(Target { addr, host: hostport.to_string(), path: path.to_string(), method, headers, bodies })
}

#[derive(Default)]
struct WorkerResult {
    latencies_ns: Vec<u64>,
    statuses: BTreeMap<u16, u64>,
    io_errors: u64,
    bytes: u64,
    last_error: Option<String>,
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(t: &Target) -> Result<Sender> {
    let stream = tokio::net::TcpStream::connect(&t.addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// One request; Ok((status, body bytes)).
async fn one(sender: &mut Sender, t: &Target, body: &Bytes) -> Result<(u16, u64)> {
    sender.ready().await?;
    let mut req = hyper::Request::builder().method(t.method.clone()).uri(&t.path).header(hyper::header::HOST, &t.host);
    for (k, v) in &t.headers {
        req = req.header(k, v);
    }
    let req = req.body(Full::new(body.clone()))?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body.len() as u64))
}

struct Shared {
    t: Target,
    start: Instant,
    measure_from: Instant,
    end: Option<Instant>,
    max_requests: Option<u64>,
    /// Measured requests started (closed loop) / slots taken (open loop).
    issued: AtomicU64,
    stop: AtomicBool,
    interval: Option<Duration>,
    warm_slots: u64,
}

async fn worker(s: Arc<Shared>, id: usize) -> WorkerResult {
    let mut r = WorkerResult::default();
    let mut sender: Option<Sender> = None;
    let mut k = id;
    loop {
        if s.stop.load(Ordering::Relaxed) {
            break;
        }
        // When does this request start, and is it measured?
        let (scheduled, measured) = match s.interval {
            None => {
                let now = Instant::now();
                if let Some(end) = s.end {
                    if now >= end {
                        break;
                    }
                }
                let measured = now >= s.measure_from;
                if measured {
                    if let Some(max) = s.max_requests {
                        if s.issued.fetch_add(1, Ordering::Relaxed) >= max {
                            break;
                        }
                    }
                }
                (now, measured)
            }
            Some(iv) => {
                let slot = s.issued.fetch_add(1, Ordering::Relaxed);
                let at = s.start + iv.mul_f64(slot as f64);
                if let Some(end) = s.end {
                    if at >= end {
                        break;
                    }
                }
                if let Some(max) = s.max_requests {
                    if slot >= max + s.warm_slots {
                        break;
                    }
                }
                tokio::time::sleep_until(at.into()).await;
                (at, slot >= s.warm_slots)
            }
        };
        if sender.is_none() {
            match connect(&s.t).await {
                Ok(c) => sender = Some(c),
                Err(e) => {
                    if measured {
                        r.io_errors += 1;
                    }
                    r.last_error = Some(format!("connect: {e}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let body = &s.t.bodies[k % s.t.bodies.len()];
        k += 1;
        let res = one(sender.as_mut().expect("connected"), &s.t, body).await;
        let done = Instant::now();
        match res {
            Ok((status, n)) => {
                if measured {
                    r.latencies_ns.push(done.duration_since(scheduled).as_nanos() as u64);
                    *r.statuses.entry(status).or_default() += 1;
                    r.bytes += n;
                }
            }
            Err(e) => {
                if measured {
                    r.io_errors += 1;
                }
                r.last_error = Some(e.to_string());
                sender = None;
            }
        }
    }
    r
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1] as f64 / 1e3
}

fn main() -> Result<()> {
    let a = Args::parse();
    if a.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if a.requests.is_some() && a.duration.is_some() {
        bail!("give -n or -d, not both");
    }
    let t = parse_target(&a)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(a.threads.max(1)).enable_all().build()?;
    let duration = if a.requests.is_none() { Some(a.duration.unwrap_or(10.0)) } else { None };
    let start = Instant::now() + Duration::from_millis(20);
    let warm = Duration::from_secs_f64(a.warmup);
    let measure_from = start + warm;
    let interval = a.rate.map(|r| Duration::from_secs_f64(1.0 / r));
    let shared = Arc::new(Shared {
        t,
        start,
        measure_from,
        end: duration.map(|d| measure_from + Duration::from_secs_f64(d)),
        max_requests: a.requests,
        issued: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        interval,
        warm_slots: a.rate.map_or(0, |r| (r * a.warmup).round() as u64),
    });
    let results: Vec<WorkerResult> = rt.block_on(async {
        tokio::time::sleep_until(start.into()).await;
        let hs: Vec<_> = (0..a.concurrency).map(|i| tokio::spawn(worker(shared.clone(), i))).collect();
        let mut out = Vec::new();
        for h in hs {
            out.push(h.await.expect("worker"));
        }
        out
    });
    let finished = Instant::now();
    let elapsed = finished.duration_since(measure_from).as_secs_f64();
    let mut lat: Vec<u64> = Vec::new();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let (mut io_errors, mut bytes, mut last_error) = (0, 0, None);
    for r in results {
        lat.extend(r.latencies_ns);
        for (k, v) in r.statuses {
            *statuses.entry(k).or_default() += v;
        }
        io_errors += r.io_errors;
        bytes += r.bytes;
        if r.last_error.is_some() {
            last_error = r.last_error;
        }
    }
    lat.sort_unstable();
    let completed = lat.len() as u64;
    let ok: u64 = statuses.iter().filter(|(k, _)| (200..300).contains(*k)).map(|(_, v)| v).sum();
    let non_2xx = completed - ok;
    let mean =
        if lat.is_empty() { f64::NAN } else { lat.iter().map(|&x| x as f64).sum::<f64>() / lat.len() as f64 / 1e3 };
    let (p50, p90, p99, p999) =
        (percentile(&lat, 50.0), percentile(&lat, 90.0), percentile(&lat, 99.0), percentile(&lat, 99.9));
    let max = lat.last().map_or(f64::NAN, |&x| x as f64 / 1e3);
    let rps = ok as f64 / elapsed;
    // Log-spaced histogram: 4 buckets per power of two, from 1 µs.
    let mut hist: BTreeMap<u32, u64> = BTreeMap::new();
    for &ns in &lat {
        let us = (ns as f64 / 1e3).max(1.0);
        *hist.entry((us.log2() * 4.0).floor() as u32).or_default() += 1;
    }
    if a.json {
        let out = serde_json::json!({
            "label": a.label,
            "url": a.url,
            "mode": if a.rate.is_some() { "open" } else { "closed" },
            "rate": a.rate,
            "concurrency": a.concurrency,
            "seconds": elapsed,
            "completed": completed,
            "ok": ok,
            "non_2xx": non_2xx,
            "io_errors": io_errors,
            "statuses": statuses,
            "last_error": last_error,
            "rps": rps,
            "bytes_per_response": if completed > 0 { bytes as f64 / completed as f64 } else { 0.0 },
            "latency_us": {"mean": mean, "p50": p50, "p90": p90, "p99": p99, "p99_9": p999, "max": max},
            "histogram_us": hist.iter().map(|(b, n)| serde_json::json!([2f64.powf(*b as f64 / 4.0), n])).collect::<Vec<_>>(),
        });
        println!("{out}");
    } else {
        println!(
            "{} {} loop, concurrency {}{}, {:.2} s measured",
            a.url,
            if a.rate.is_some() { "open" } else { "closed" },
            a.concurrency,
            a.rate.map(|r| format!(", rate {r}/s")).unwrap_or_default(),
            elapsed
        );
        println!(
            "requests: {completed} completed, {ok} ok (2xx), {non_2xx} non-2xx {statuses:?}, {io_errors} I/O errors"
        );
        if let Some(e) = &last_error {
            println!("last error: {e}");
        }
        println!(
            "throughput: {rps:.1} req/s, {:.0} bytes/response",
            if completed > 0 { bytes as f64 / completed as f64 } else { 0.0 }
        );
        println!(
            "latency (µs): mean {mean:.1}  p50 {p50:.1}  p90 {p90:.1}  p99 {p99:.1}  p99.9 {p999:.1}  max {max:.1}"
        );
        println!("histogram (µs, lower bound → count):");
        let top = hist.values().copied().max().unwrap_or(1);
        for (b, n) in &hist {
            println!(
                "  {:>10.1}  {:>8}  {}",
                2f64.powf(*b as f64 / 4.0),
                n,
                "#".repeat(((*n as f64 / top as f64) * 50.0).ceil() as usize)
            );
        }
    }
    Ok(())
}
