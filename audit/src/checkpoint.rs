//! The counters and drift windows as of the last sealed segment (`DIR/index/checkpoint.json`).
//!
//! Monitoring counters and drift windows summarise every retained record, so rebuilding them
//! means reading every record. Instead, each time a segment is sealed the sync thread writes them
//! here (with each segment's share of the counters, which retention subtracts); `open` loads this
//! file and replays only the records after it: the active segment. Like the index files it is
//! derived data: a missing or stale checkpoint makes `open` rebuild everything from the segments.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::io_err;
use crate::index::Monitoring;
use crate::record::{Coverage, Decision};
use crate::sealed::index_dir;
use crate::state::{LastPurge, State};
use crate::storage::sync_dir;
use crate::window::Observation;
use crate::{Result, Tenant};

const FILE: &str = "checkpoint.json";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct SavedObservation {
    seq: u64,
    time_ms: u64,
    version: String,
    label: String,
    score: Option<f32>,
    coverage: Option<Coverage>,
    decision: Option<Decision>,
}

/// One segment's share of one (tenant, component)'s counters.
type Share = (Tenant, String, Monitoring);

/// What a checkpoint holds.
#[derive(Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    version: u32,
    /// The last seq it covers: the last record of the segment sealed when it was written.
    pub through_seq: u64,
    /// First seqs of the sealed segments it covers, oldest first.
    pub sealed: Vec<u64>,
    last_purge: Option<LastPurge>,
    contributions: Vec<(u64, Vec<Share>)>,
    windows: Vec<(Tenant, String, Vec<SavedObservation>)>,
}

/// Serialises the state's counters and windows as of `through_seq`, the last record of the
/// sealed segment `last_sealed` (the state must hold nothing newer).
pub(crate) fn encode(state: &State, through_seq: u64, last_sealed: u64) -> Vec<u8> {
    let c = Checkpoint {
        version: VERSION,
        through_seq,
        sealed: state.segments.range(..=last_sealed).map(|(k, _)| *k).collect(),
        last_purge: state.last_purge.clone(),
        contributions: state
            .contributions
            .iter()
            .map(|(seg, m)| (*seg, m.iter().map(|((t, c), m)| (*t, c.clone(), m.clone())).collect()))
            .collect(),
        windows: state
            .windows
            .by_key
            .iter()
            .map(|((t, c), w)| {
                let obs = w
                    .iter()
                    .map(|o| SavedObservation {
                        seq: o.seq,
                        time_ms: o.time_ms,
                        version: o.version.to_string(),
                        label: o.label.to_string(),
                        score: o.score,
                        coverage: o.coverage,
                        decision: o.decision,
                    })
                    .collect();
                (*t, c.clone(), obs)
            })
            .collect(),
    };
    serde_json::to_vec(&c).expect("checkpoints serialise")
}

/// Writes an encoded checkpoint (temporary file, fsync, rename, fsync of the directory).
pub(crate) fn save(dir: &Path, bytes: &[u8]) -> Result<()> {
    let idir = index_dir(dir);
    std::fs::create_dir_all(&idir).map_err(io_err(&idir))?;
    let path = idir.join(FILE);
    let tmp = idir.join("checkpoint.json.tmp");
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
    sync_dir(&idir)
}

/// The checkpoint of `dir`, if there is a readable one of this version.
pub(crate) fn load(dir: &Path) -> Option<Checkpoint> {
    let path = index_dir(dir).join(FILE);
    let bytes = std::fs::read(&path).ok()?;
    match serde_json::from_slice::<Checkpoint>(&bytes) {
        Ok(c) if c.version == VERSION => Some(c),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "audit: unreadable checkpoint; rebuilding from the segments");
            None
        }
    }
}

impl Checkpoint {
    /// The newest purge record it saw.
    pub fn last_purge(&self) -> Option<&LastPurge> {
        self.last_purge.as_ref()
    }

    /// Puts the counters and windows into `state` (whose segment indexes are loaded apart).
    pub fn restore(self, state: &mut State) {
        state.last_purge = self.last_purge;
        let mut monitoring: BTreeMap<(Tenant, String), Monitoring> = BTreeMap::new();
        for (seg, share) in self.contributions {
            let mut m = BTreeMap::new();
            for (t, c, counts) in share {
                monitoring.entry((t, c.clone())).or_default().add(&counts, 1);
                m.insert((t, c), counts);
            }
            state.contributions.insert(seg, m);
        }
        state.monitoring = monitoring;
        let max = state.windows.max;
        for (t, c, obs) in self.windows {
            let mut w: std::collections::VecDeque<Observation> = obs
                .into_iter()
                .map(|o| Observation {
                    seq: o.seq,
                    time_ms: o.time_ms,
                    version: state.intern(&o.version),
                    label: state.intern(&o.label),
                    score: o.score,
                    coverage: o.coverage,
                    decision: o.decision,
                })
                .collect();
            while w.len() > max {
                w.pop_front();
            }
            if !w.is_empty() {
                state.windows.by_key.insert((t, c), w);
            }
        }
    }
}
