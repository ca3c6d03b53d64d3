//! `komp-startup`: process start to ready. Spawns the command after `--`,
//! polls `GET http://ADDR/v2/health/ready` every millisecond until it answers
//! 200, prints the milliseconds as JSON, and stops the process (SIGTERM via
//! `kill`, then waits for it).
//!
//! `komp-startup --addr 127.0.0.1:8090 -- target/release/komp serve --listen 127.0.0.1:8090 ...`

use anyhow::{bail, Context, Result};
use clap::Parser;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    addr: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

fn ready(addr: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(format!("GET /v2/health/ready HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 16];
    let mut n = 0;
    while n < 12 {
        match s.read(&mut buf[n..]) {
            Ok(0) | Err(_) => return false,
            Ok(k) => n += k,
        }
    }
    buf.starts_with(b"HTTP/1.1 200")
}

fn main() -> Result<()> {
    let a = Args::parse();
    let started = Instant::now();
    let mut child = Command::new(&a.command[0])
        .args(&a.command[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("spawn")?;
    let ms = loop {
        if ready(&a.addr) {
            break started.elapsed().as_secs_f64() * 1e3;
        }
        if let Some(st) = child.try_wait()? {
            bail!("the server exited before it was ready: {st}");
        }
        if started.elapsed() > Duration::from_secs(a.timeout) {
            let _ = child.kill();
            bail!("not ready after {} s", a.timeout);
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    println!("{}", serde_json::json!({ "ready_ms": ms }));
    Ok(())
}
