//! On-disk layout: file naming, line scanning, the HMAC key file and the retention anchor.
//!
//! ```text
//! DIR/LOCK                        advisory lock: one writer process per directory
//! DIR/hmac.key                    64 hex chars (32 random bytes), mode 0600
//! DIR/anchor.json                 written by retention: where the surviving chain starts
//! DIR/seg-00000000000000000001.jsonl   records seq 1.., one JSON line each
//! DIR/seg-00000000000000052311.jsonl   next segment, named by its first seq
//! DIR/recovered/                  torn tails cut off by crash recovery, kept for forensics
//! DIR/index/                      derived: sealed segments' index files and the checkpoint
//!                                 (`sealed.rs`, `checkpoint.rs`); rebuilt when missing
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::io_err;
use crate::{AuditError, Result};

pub(crate) const KEY_FILE: &str = "hmac.key";
pub(crate) const ANCHOR_FILE: &str = "anchor.json";
pub(crate) const LOCK_FILE: &str = "LOCK";

/// File name of the segment whose first record is `first_seq`.
pub(crate) fn segment_name(first_seq: u64) -> String {
    format!("seg-{first_seq:020}.jsonl")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let n = name.strip_prefix("seg-")?.strip_suffix(".jsonl")?;
    if n.len() != 20 || !n.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// Segment files of `dir`, ordered by first seq.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(io_err(dir))? {
        let e = e.map_err(io_err(dir))?;
        if let Some(seq) = e.file_name().to_str().and_then(parse_segment_name) {
            out.push((seq, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// What follows the last complete line of a segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tail {
    /// Where it starts: the end of the last complete line (the segment's logical length).
    pub off: u64,
    /// Its bytes with trailing zeros removed. Empty when the tail is all zeros, i.e. space the
    /// writer preallocated and has not used yet (not a torn write, nothing to recover).
    pub bytes: Vec<u8>,
    /// Its length on disk, zeros included.
    pub len: u64,
}

impl Tail {
    /// True when something was written there that is not a complete record line: a torn write
    /// from a crash (never acknowledged), or a write in progress.
    pub fn is_torn(&self) -> bool {
        !self.bytes.is_empty()
    }
}

/// Calls `f(offset, line)` for every complete line of `path` and returns what follows them, if
/// anything. A line is complete when it ends with a newline and holds no NUL byte: record lines
/// are JSON, which never contains a raw NUL, while the writer's preallocated space is zeros. So
/// the first line with a NUL (or without a newline) starts the tail, and the tail runs to the end
/// of the file: a batch whose pages reached the disk out of order before a crash can leave a
/// zeroed page followed by later lines, and none of that was acknowledged.
pub(crate) fn scan_lines(path: &Path, mut f: impl FnMut(u64, &[u8]) -> Result<()>) -> Result<Option<Tail>> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut off = 0u64;
    let mut buf = Vec::with_capacity(1024);
    loop {
        buf.clear();
        let n = r.read_until(b'\n', &mut buf).map_err(io_err(path))?;
        if n == 0 {
            return Ok(None);
        }
        if buf.last() != Some(&b'\n') || buf.contains(&0) {
            r.read_to_end(&mut buf).map_err(io_err(path))?;
            let len = buf.len() as u64;
            let keep = buf.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            buf.truncate(keep);
            return Ok(Some(Tail { off, bytes: std::mem::take(&mut buf), len }));
        }
        f(off, &buf[..n - 1])?;
        off += n as u64;
    }
}

/// Fsyncs a directory so that created, renamed or deleted entries survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

/// Loads the per-host HMAC key, creating it (mode 0600, fsynced) on first use.
///
/// The key is what makes `input_hmac` useless to anyone holding only the log: without it one
/// cannot test guesses of an input. Losing it does not affect the chain, only the ability to
/// match inputs; rotating it is possible (new file) but old hashes then no longer match.
pub(crate) fn load_or_create_key(path: &Path) -> Result<[u8; 32]> {
    let meta_err = |reason: &str| AuditError::Metadata { path: path.to_path_buf(), reason: reason.to_string() };
    match File::open(path) {
        Ok(mut f) => {
            let mut s = String::new();
            f.read_to_string(&mut s).map_err(io_err(path))?;
            let bytes = hex::decode(s.trim()).map_err(|_| meta_err("not hex"))?;
            bytes.try_into().map_err(|_| meta_err("key must be 32 bytes (64 hex characters)"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| meta_err(&format!("no OS randomness: {e}")))?;
            let tmp = path.with_extension("key.tmp");
            let mut opts = OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp).map_err(io_err(&tmp))?;
            f.write_all(format!("{}\n", hex::encode(key)).as_bytes()).map_err(io_err(&tmp))?;
            f.sync_all().map_err(io_err(&tmp))?;
            // rename-after-fsync: a crash never leaves a half-written key behind
            fs::rename(&tmp, path).map_err(io_err(path))?;
            if let Some(dir) = path.parent() {
                sync_dir(dir)?;
            }
            Ok(key)
        }
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Where the surviving chain starts after retention deleted older segments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// Last deleted record; the first surviving record must be `seq + 1` with `prev_hash == hash`.
    pub seq: u64,
    pub hash: String,
    /// Commit time of the last deleted record.
    pub time_ms: u64,
    /// The purge record (in the surviving chain) that vouches for this anchor.
    pub purge_seq: u64,
}

pub(crate) fn read_anchor(dir: &Path) -> Result<Option<Anchor>> {
    let path = dir.join(ANCHOR_FILE);
    match fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| AuditError::Metadata { path, reason: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

pub(crate) fn write_anchor(dir: &Path, a: &Anchor) -> Result<()> {
    let path = dir.join(ANCHOR_FILE);
    let tmp = dir.join("anchor.json.tmp");
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(&serde_json::to_vec_pretty(a).expect("serialisable")).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    sync_dir(dir)
}
