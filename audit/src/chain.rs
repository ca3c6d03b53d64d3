//! Walking the segments in order and checking every hash and link: shared by `open` (which
//! rebuilds the index and keeps going past old damage) and `verify` (which stops at the first
//! break and reports it).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::ChainBreak;
use crate::record::{decode, Record, GENESIS_HASH};
use crate::storage::{list_segments, read_anchor, scan_lines, Anchor, ANCHOR_FILE};
use crate::{AuditError, Result};

/// Where a record's line lives: segment (by first seq), byte offset, length without newline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub seg: u64,
    pub off: u64,
    pub len: u32,
}

/// What is known about one segment file.
#[derive(Debug, Clone)]
pub(crate) struct SegmentInfo {
    pub first_seq: u64,
    pub path: PathBuf,
    /// Last record's seq and hash (`None` when the segment is empty).
    pub last: Option<(u64, String)>,
    pub first_time_ms: Option<u64>,
    pub last_time_ms: u64,
    /// Length of the valid part (up to the end of the last complete line).
    pub bytes: u64,
    /// Length of the file: larger than `bytes` when the writer preallocated space (zeros) or a
    /// crash left a torn tail.
    pub file_len: u64,
}

/// Outcome of a walk.
pub(crate) struct Walk {
    pub anchor: Option<Anchor>,
    pub segments: Vec<SegmentInfo>,
    /// Last valid record (seq, hash, time_ms), or the anchor, or genesis.
    pub head: (u64, String, u64),
    pub records: u64,
    /// Records at or below the anchor, in segments an interrupted purge did not delete yet.
    pub leftover: u64,
    /// The newest purge record seen: (purge seq, through_seq, through_hash, through_time, segments).
    pub last_purge: Option<(u64, u64, String, u64, Vec<String>)>,
    /// Torn tail of the last segment: (file, offset, bytes without trailing zeros).
    pub torn: Option<(PathBuf, u64, Vec<u8>)>,
    /// First break found (only in lenient mode; strict mode returns it as an error).
    pub first_break: Option<ChainBreak>,
}

/// Summary returned by a successful `verify`.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub dir: PathBuf,
    pub segments: usize,
    /// Records whose hash and link were checked.
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// Hash of the last record: publish it elsewhere now and then ("witnessing") so that deleting
    /// the newest records, which no chain can reveal on its own, becomes detectable.
    pub last_hash: String,
    /// Set when retention has deleted the beginning of the chain.
    pub anchor: Option<Anchor>,
    /// Bytes of an unterminated last line: a torn write from a crash (never acknowledged) or a
    /// write in progress. Not an error.
    pub torn_tail_bytes: u64,
    /// Records in segments an interrupted purge has not yet deleted (skipped).
    pub leftover_records: u64,
}

pub(crate) fn walk(dir: &Path, strict: bool, sink: impl FnMut(&Record, Loc)) -> Result<Walk> {
    walk_from(dir, list_segments(dir)?, None, strict, &mut Records(sink))
}

/// What a walk hands its records to.
pub(crate) trait Sink {
    /// A record whose hash and link were checked (in lenient mode: or that follows a break).
    fn record(&mut self, rec: &Record, loc: Loc) -> Result<()>;
    /// Called after each segment (`is_last`: the last file of the walk).
    fn segment_end(&mut self, _segment: &SegmentInfo, _is_last: bool) -> Result<()> {
        Ok(())
    }
}

/// A sink that only looks at records.
pub(crate) struct Records<F>(pub F);

impl<F: FnMut(&Record, Loc)> Sink for Records<F> {
    fn record(&mut self, rec: &Record, loc: Loc) -> Result<()> {
        (self.0)(rec, loc);
        Ok(())
    }
}

/// Where a walk over the later segments of a log starts: after the record `seq` with `hash`
/// (committed at `time_ms`), whose segments the caller has checked another way.
#[derive(Debug, Clone)]
pub(crate) struct Start {
    pub seq: u64,
    pub hash: String,
    pub time_ms: u64,
    /// The anchor (if any) is vouched for by a purge record before this point.
    pub anchor_vouched: bool,
}

/// Walks `files` (in order). With `start`, they continue the chain after that record; without,
/// they are the whole log (after the anchor, if any).
pub(crate) fn walk_from(
    dir: &Path,
    files: Vec<(u64, PathBuf)>,
    start: Option<Start>,
    strict: bool,
    sink: &mut impl Sink,
) -> Result<Walk> {
    let anchor = read_anchor(dir)?;
    let (mut exp_seq, mut prev) = match (&start, &anchor) {
        (Some(s), _) => (s.seq + 1, s.hash.clone()),
        (None, Some(a)) => (a.seq + 1, a.hash.clone()),
        (None, None) => (1, GENESIS_HASH.to_string()),
    };
    let mut head_time = match &start {
        Some(s) => s.time_ms,
        None => anchor.as_ref().map_or(0, |a| a.time_ms),
    };
    let mut w = Walk {
        anchor: anchor.clone(),
        segments: Vec::with_capacity(files.len()),
        head: (exp_seq - 1, prev.clone(), head_time),
        records: 0,
        leftover: 0,
        last_purge: None,
        torn: None,
        first_break: None,
    };
    let mut anchor_backed = anchor.is_none() || start.as_ref().is_some_and(|s| s.anchor_vouched);
    let nfiles = files.len();
    for (i, (first_seq, path)) in files.into_iter().enumerate() {
        let mut info = SegmentInfo {
            first_seq,
            path: path.clone(),
            last: None,
            first_time_ms: None,
            last_time_ms: 0,
            bytes: 0,
            file_len: 0,
        };
        let mut line_no = 0u64;
        let mut brk: Option<ChainBreak> = None;
        let tail = scan_lines(&path, |off, line| {
            line_no += 1;
            info.bytes = off + line.len() as u64 + 1;
            let mut report = |seq: u64, reason: String| -> Result<()> {
                let b = ChainBreak { seq, file: path.clone(), line: line_no, reason };
                if strict {
                    return Err(AuditError::ChainBroken(Box::new(b)));
                }
                if brk.is_none() {
                    brk = Some(b);
                }
                Ok(())
            };
            let rec = match decode(line) {
                Ok(r) => r,
                Err(reason) => {
                    // Lenient: skip the line; the next good record resynchronises below.
                    return report(exp_seq, reason);
                }
            };
            let seq = rec.seq();
            if line_no == 1 && seq != first_seq {
                report(exp_seq, format!("file name says first seq {first_seq}, first record has seq {seq}"))?;
            }
            if let Some(a) = &anchor {
                if seq <= a.seq {
                    w.leftover += 1;
                    return Ok(());
                }
            }
            if seq != exp_seq {
                report(
                    exp_seq,
                    format!("expected seq {exp_seq}, found seq {seq} (record deleted, inserted or reordered)"),
                )?;
            } else if rec.prev_hash() != prev {
                report(seq, format!("prev_hash {} does not match hash of seq {} ({prev})", rec.prev_hash(), seq - 1))?;
            }
            if let Record::Purge(p) = &rec {
                if let Some(a) = &anchor {
                    if p.through_seq == a.seq && p.through_hash == a.hash {
                        anchor_backed = true;
                    }
                }
                w.last_purge =
                    Some((p.seq, p.through_seq, p.through_hash.clone(), p.through_time_ms, p.segments.clone()));
            }
            // Continue from this record (in lenient mode this resynchronises after a break).
            exp_seq = seq + 1;
            prev = rec.hash().to_string();
            head_time = head_time.max(rec.time_ms());
            w.records += 1;
            info.first_time_ms.get_or_insert(rec.time_ms());
            info.last_time_ms = rec.time_ms();
            info.last = Some((seq, prev.clone()));
            sink.record(&rec, Loc { seg: first_seq, off, len: line.len() as u32 })
        })?;
        if let Some(b) = brk {
            w.first_break.get_or_insert(b);
        }
        info.file_len = info.bytes;
        if let Some(tail) = tail {
            info.file_len = tail.off + tail.len;
            if !tail.is_torn() {
                // Preallocated space the writer has not used yet: nothing to recover.
            } else if i + 1 == nfiles {
                w.torn = Some((path.clone(), tail.off, tail.bytes));
            } else {
                let b = ChainBreak {
                    seq: exp_seq,
                    file: path.clone(),
                    line: line_no + 1,
                    reason: "partial line at the end of a non-final segment".into(),
                };
                if strict {
                    return Err(AuditError::ChainBroken(Box::new(b)));
                }
                w.first_break.get_or_insert(b);
            }
        }
        sink.segment_end(&info, i + 1 == nfiles)?;
        w.segments.push(info);
    }
    if !anchor_backed {
        let a = anchor.as_ref().unwrap();
        let b = ChainBreak {
            seq: a.seq + 1,
            file: dir.join(ANCHOR_FILE),
            line: 0,
            reason: format!("anchor at seq {} is not vouched for by any purge record in the chain (segments deleted outside retention?)", a.seq),
        };
        if strict {
            return Err(AuditError::ChainBroken(Box::new(b)));
        }
        w.first_break.get_or_insert(b);
    }
    w.head = (exp_seq - 1, prev, head_time);
    Ok(w)
}

/// Verifies the audit log in `dir` without opening it for writing (works while a host is
/// appending to it, and on a copy). This is what `komp audit verify DIR` runs.
pub fn verify_dir(dir: impl AsRef<Path>) -> Result<VerifyReport> {
    verify_with_head(dir.as_ref(), None)
}

pub(crate) fn verify_with_head(dir: &Path, head: Option<(u64, String)>) -> Result<VerifyReport> {
    if !dir.is_dir() {
        return Err(AuditError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
        });
    }
    let mut first_seq = None;
    let mut seen_head = false;
    let w = walk(dir, true, |rec, _| {
        first_seq.get_or_insert(rec.seq());
        if let Some((s, h)) = &head {
            if rec.seq() == *s && rec.hash() == h {
                seen_head = true;
            }
        }
    })?;
    if let Some((s, h)) = head {
        // The writer acknowledged seq `s` with hash `h`; it must still be there.
        let anchored = w.anchor.as_ref().is_some_and(|a| a.seq >= s);
        if !seen_head && !anchored && s > 0 {
            let file = w.segments.last().map(|s| s.path.clone()).unwrap_or_else(|| dir.to_path_buf());
            return Err(AuditError::ChainBroken(Box::new(ChainBreak {
                seq: s,
                file,
                line: 0,
                reason: format!(
                    "acknowledged record seq {s} (hash {h}) is missing: the end of the log was truncated or rewritten"
                ),
            })));
        }
    }
    Ok(VerifyReport {
        dir: dir.to_path_buf(),
        segments: w.segments.len(),
        records: w.records,
        first_seq,
        last_seq: (w.records > 0).then_some(w.head.0),
        last_hash: w.head.1,
        anchor: w.anchor,
        torn_tail_bytes: w.torn.map_or(0, |t| t.2.len() as u64),
        leftover_records: w.leftover,
    })
}
