//! Building the state at `open`: from the sealed segments' index files and the checkpoint when
//! they are all there and agree with the segments (start-up then reads only the active segment),
//! or from every record otherwise (first start after an upgrade, a deleted `index/`, a crash at
//! the moment a segment was sealed), writing the index files as it goes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::chain::{walk_from, Loc, SegmentInfo, Sink, Start};
use crate::error::ChainBreak;
use crate::record::{Record, GENESIS_HASH};
use crate::sealed::{self, index_path, SealedIndex};
use crate::state::{SegIndex, State};
use crate::storage::Anchor;
use crate::{checkpoint, AuditError, Result};

/// A walk's sink that indexes every record and seals each segment but the last as soon as its
/// last record is in.
pub(crate) struct Rebuild<'a> {
    pub dir: &'a Path,
    pub state: &'a mut State,
}

impl Sink for Rebuild<'_> {
    fn record(&mut self, rec: &Record, loc: Loc) -> Result<()> {
        self.state.apply(rec, loc)
    }
    fn segment_end(&mut self, segment: &SegmentInfo, is_last: bool) -> Result<()> {
        if !is_last {
            if let Err(e) = seal(self.dir, self.state, segment) {
                // The index stays in memory; the next start tries again.
                tracing::warn!(segment = %segment.path.display(), error = %e, "audit: could not write a segment index");
            }
        }
        Ok(())
    }
}

/// Writes the index file of a sealed segment, swaps the in-memory index for it, and writes the
/// checkpoint as of the segment's last record (the state must hold nothing newer).
pub(crate) fn seal(dir: &Path, state: &mut State, segment: &SegmentInfo) -> Result<()> {
    let (Some(SegIndex::Memory(mem)), Some((last_seq, _))) = (state.segments.get(&segment.first_seq), &segment.last)
    else {
        return Ok(());
    };
    let path = sealed::write(dir, segment, mem)?;
    let snapshot = swap_in(state, segment.first_seq, *last_seq, &path)?;
    checkpoint::save(dir, &snapshot)
}

/// Replaces the in-memory index of the sealed segment `first_seq` by its index file at `path`,
/// and returns the checkpoint as of the segment's last record, `last_seq`.
pub(crate) fn swap_in(state: &mut State, first_seq: u64, last_seq: u64, path: &Path) -> Result<Vec<u8>> {
    let idx = SealedIndex::load(path, &mut |s| state.intern(s))?;
    state.segments.insert(first_seq, SegIndex::Disk(Arc::new(idx)));
    Ok(checkpoint::encode(state, last_seq, first_seq))
}

/// What the index files and the checkpoint give at start-up.
pub(crate) struct Sealed {
    /// The sealed segments they cover, oldest first.
    pub segments: Vec<SegmentInfo>,
    /// The segment files after them, to walk.
    pub rest: Vec<(u64, PathBuf)>,
    /// Where the walk of `rest` starts.
    pub start: Start,
}

/// Loads the sealed segments from their index files and the counters from the checkpoint, if
/// they cover a prefix of `files` and agree with it: every index file readable, each segment
/// file exactly as long as its index says, each segment's first `prev_hash` equal to the last
/// hash before it (the anchor's for the first), the checkpoint written after the last of them.
/// `None` (and an untouched `state`) means: walk everything.
pub(crate) fn from_index(
    dir: &Path,
    files: &[(u64, PathBuf)],
    anchor: Option<&Anchor>,
    state: &mut State,
) -> Option<Sealed> {
    let ckpt = checkpoint::load(dir)?;
    // The sealed segments still on disk are the checkpoint's newest ones (retention deleted the
    // oldest), and a segment follows them.
    let k = files.iter().take_while(|(s, _)| ckpt.sealed.contains(s)).count();
    let on_disk: Vec<u64> = files[..k].iter().map(|(s, _)| *s).collect();
    if k == 0 || k == files.len() || !ckpt.sealed.ends_with(&on_disk) || files[k].0 != ckpt.through_seq + 1 {
        return None;
    }
    let (mut prev_seq, mut prev_hash) = match anchor {
        Some(a) => (a.seq, a.hash.clone()),
        None => (0, GENESIS_HASH.to_string()),
    };
    let mut loaded = Vec::with_capacity(k);
    for (first_seq, path) in &files[..k] {
        let idx = match SealedIndex::load(&index_path(dir, *first_seq), &mut |s| state.intern(s)) {
            Ok(i) => i,
            Err(e) => {
                tracing::info!(segment = %path.display(), error = %e, "audit: segment index unusable; rebuilding");
                return None;
            }
        };
        let h = &idx.header;
        let len = std::fs::metadata(path).map(|m| m.len()).ok()?;
        if h.first_seq != *first_seq || h.bytes != len || h.first_seq != prev_seq + 1 || h.first_prev_hash != prev_hash
        {
            tracing::info!(segment = %path.display(), "audit: segment does not match its index; rebuilding");
            return None;
        }
        (prev_seq, prev_hash) = (h.last_seq, h.last_hash.clone());
        loaded.push(idx);
    }
    if prev_seq != ckpt.through_seq {
        return None;
    }
    let vouched = match (anchor, &ckpt_last_purge(&ckpt)) {
        (None, _) => true,
        (Some(a), Some((through_seq, through_hash))) => *through_seq == a.seq && *through_hash == a.hash,
        (Some(_), None) => false,
    };
    let last_time = loaded.last().map_or(0, |i| i.header.last_time_ms);
    ckpt.restore(state);
    let mut segments = Vec::with_capacity(k);
    for ((first_seq, path), idx) in files[..k].iter().zip(loaded) {
        let h = &idx.header;
        segments.push(SegmentInfo {
            first_seq: *first_seq,
            path: path.clone(),
            last: Some((h.last_seq, h.last_hash.clone())),
            first_time_ms: Some(h.first_time_ms),
            last_time_ms: h.last_time_ms,
            bytes: h.bytes,
            file_len: h.bytes,
        });
        state.segments.insert(*first_seq, SegIndex::Disk(Arc::new(idx)));
    }
    if let Some(a) = anchor {
        // Counters and windows of segments retention deleted after the checkpoint.
        state.purge_through(a.seq);
    }
    Some(Sealed {
        segments,
        rest: files[k..].to_vec(),
        start: Start { seq: prev_seq, hash: prev_hash, time_ms: last_time, anchor_vouched: vouched },
    })
}

fn ckpt_last_purge(c: &checkpoint::Checkpoint) -> Option<(u64, String)> {
    c.last_purge().map(|p| (p.1, p.2.clone()))
}

/// The start-up integrity check of segments loaded from their index files, run in the
/// background: recomputes every hash and link, as a full walk would have, and checks each index
/// file's tables. Returns the first break.
pub(crate) fn check_sealed(dir: &Path, segments: &[SegmentInfo], anchor: Option<&Anchor>) -> Option<ChainBreak> {
    let files: Vec<(u64, PathBuf)> = segments.iter().map(|s| (s.first_seq, s.path.clone())).collect();
    let start = anchor.map(|a| Start { seq: a.seq, hash: a.hash.clone(), time_ms: a.time_ms, anchor_vouched: true });
    let mut nothing = crate::chain::Records(|_: &Record, _: Loc| {});
    let w = match walk_from(dir, files, start, true, &mut nothing) {
        Ok(w) => w,
        Err(AuditError::ChainBroken(b)) => return Some(*b),
        // A segment deleted by retention meanwhile, or unreadable: not a statement about the chain.
        Err(e) => {
            tracing::warn!(error = %e, "audit: start-up integrity check could not finish");
            return None;
        }
    };
    let last = segments.last()?;
    let expected = last.last.clone()?;
    if (w.head.0, w.head.1.clone()) != expected {
        return Some(ChainBreak {
            seq: expected.0,
            file: last.path.clone(),
            line: 0,
            reason: format!(
                "the segments end at seq {} (hash {}), their index says seq {} (hash {})",
                w.head.0, w.head.1, expected.0, expected.1
            ),
        });
    }
    for s in segments {
        let path = index_path(dir, s.first_seq);
        let checked = SealedIndex::load(&path, &mut |t| std::sync::Arc::from(t)).and_then(|i| i.check_tables());
        if let Err(e) = checked {
            if path.exists() {
                tracing::warn!(file = %path.display(), error = %e, "audit: segment index damaged; it is rebuilt at the next start");
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    None
}
