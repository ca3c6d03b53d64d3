//! The on-disk index of a sealed segment (`DIR/index/seg-N.idx`), so that memory and start-up
//! time do not grow with retention.
//!
//! While a segment is active its index lives in memory ([`crate::index::MemIndex`]). When the
//! writer seals it, the sync thread writes this file and drops the in-memory index. What stays
//! resident per sealed segment is its header, a Bloom filter over the request ids of its
//! predictions and of its feedback (10 bits each, ~1% false positives), and one request id in 64
//! of each sorted table ("fences"): about 1.5 bytes per retained prediction instead of the
//! ~210 bytes of a full in-memory index. A lookup by request id asks each segment's Bloom filter
//! and reads one 64-row block (3 KiB) from the segments that may hold it; a query reads the
//! tenant's rows of the segments its time and seq bounds touch.
//!
//! The file is derived data: `open` rebuilds a missing, damaged or stale one from its segment,
//! and deleting `DIR/index/` only costs one full scan at the next start.
//!
//! ```text
//! "KOMPIDX1"                          magic and format version
//! u64 LE   resident_len               length of the resident part
//! resident part:
//!   u32 LE header_len, header JSON    (segment summary, string table, tenant directory, counts)
//!   pred Bloom bits, feedback Bloom bits
//!   pred fences (16 bytes each), feedback fences (16 bytes each)
//! sha256(resident part)               32 bytes, checked on load
//! tables:
//!   entries   32 bytes each, sorted by (tenant, seq): every record of the segment
//!   preds     48 bytes each, sorted by (request key, tenant): its predictions
//!   feedback  48 bytes each, sorted by (request key, tenant, seq): its feedback records
//! sha256(tables)                      32 bytes, checked by the start-up integrity check
//! ```

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::chain::{Loc, SegmentInfo};
use crate::error::io_err;
use crate::index::{Entry, FbInfo, Kind, MemIndex, PredFacts, RequestKey};
use crate::record::Decision;
use crate::storage::sync_dir;
use crate::{AuditError, Result, Tenant};

const MAGIC: &[u8; 8] = b"KOMPIDX1";
const ENTRY: usize = 32;
const ROW: usize = 48;
/// Rows per fence block: a lookup reads one block of `FENCE * ROW` bytes (3 KiB).
const FENCE: usize = 64;
const BLOOM_BITS_PER_KEY: u64 = 10;
const BLOOM_HASHES: u64 = 7;
const NO_LABEL: u16 = u16::MAX;

/// The directory of the index files, inside the log directory.
pub(crate) fn index_dir(dir: &Path) -> PathBuf {
    dir.join("index")
}

/// Index file of the segment whose first record is `first_seq`.
pub(crate) fn index_path(dir: &Path, first_seq: u64) -> PathBuf {
    index_dir(dir).join(format!("seg-{first_seq:020}.idx"))
}

/// Summary of a sealed segment: enough to check the links between segments at start-up
/// without reading them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Header {
    pub first_seq: u64,
    pub last_seq: u64,
    /// `prev_hash` of the first record: must equal the previous segment's `last_hash`.
    pub first_prev_hash: String,
    pub last_hash: String,
    pub first_time_ms: u64,
    pub last_time_ms: u64,
    /// Length of the segment file this index describes.
    pub bytes: u64,
    strings: Vec<String>,
    /// (tenant, first row, rows) into the entries table.
    tenants: Vec<(Tenant, u64, u64)>,
    n_entries: u64,
    n_preds: u64,
    n_fbs: u64,
    pred_bloom_bytes: u64,
    fb_bloom_bytes: u64,
}

struct Bloom(Vec<u8>);

impl Bloom {
    fn sized(n: usize) -> Bloom {
        let bits = (n as u64 * BLOOM_BITS_PER_KEY).max(64);
        Bloom(vec![0; bits.div_ceil(8) as usize])
    }
    fn positions(&self, k: &RequestKey) -> impl Iterator<Item = usize> {
        // Request keys are uniformly random (ours are random, others are SHA-256): their own
        // bytes serve as the two hashes of double hashing.
        let b = k.bytes();
        let h1 = u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
        let h2 = u64::from_le_bytes(b[8..].try_into().expect("8 bytes")) | 1;
        let m = self.0.len() as u64 * 8;
        (0..BLOOM_HASHES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % m) as usize)
    }
    fn insert(&mut self, k: &RequestKey) {
        let pos: Vec<usize> = self.positions(k).collect();
        for p in pos {
            self.0[p / 8] |= 1 << (p % 8);
        }
    }
    fn may_contain(&self, k: &RequestKey) -> bool {
        self.positions(k).all(|p| self.0[p / 8] & (1 << (p % 8)) != 0)
    }
}

/// A prediction row of the preds table.
struct PredRow {
    key: RequestKey,
    tenant: Tenant,
    seq: u64,
    loc: Loc,
    component: u16,
    label: u16,
    flags: u8,
}

/// A feedback row of the feedback table.
struct FbRow {
    key: RequestKey,
    tenant: Tenant,
    seq: u64,
    loc: Loc,
    final_label: u16,
    decision: Decision,
}

const OK: u8 = 1;
const REVIEW: u8 = 2;

fn tenant_bytes(t: &Tenant) -> [u8; 4] {
    t.as_str().as_bytes().try_into().expect("a tenant is four bytes")
}

/// The first 40 bytes of a prediction or feedback row: key, tenant, seq, offset, length.
fn put_row_head(out: &mut Vec<u8>, key: &RequestKey, tenant: &Tenant, seq: u64, loc: Loc) {
    out.extend_from_slice(key.bytes());
    out.extend_from_slice(&tenant_bytes(tenant));
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&loc.off.to_le_bytes());
    out.extend_from_slice(&loc.len.to_le_bytes());
}

fn le_u64(r: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(r[at..at + 8].try_into().expect("8 bytes"))
}
fn le_u32(r: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(r[at..at + 4].try_into().expect("4 bytes"))
}
fn le_u16(r: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(r[at..at + 2].try_into().expect("2 bytes"))
}

fn tenant_of(b: &[u8]) -> Option<Tenant> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// The resident part of a sealed segment's index.
pub(crate) struct SealedIndex {
    path: PathBuf,
    file: File,
    pub header: Header,
    strings: Vec<Arc<str>>,
    tenants: HashMap<Tenant, (u64, u64)>,
    entries_off: u64,
    preds_off: u64,
    fbs_off: u64,
    tables_end: u64,
    pred_bloom: Bloom,
    fb_bloom: Bloom,
    pred_fences: Vec<RequestKey>,
    fb_fences: Vec<RequestKey>,
}

impl std::fmt::Debug for SealedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedIndex").field("path", &self.path).field("header", &self.header).finish_non_exhaustive()
    }
}

fn corrupt(path: &Path, reason: impl Into<String>) -> AuditError {
    AuditError::Metadata { path: path.to_path_buf(), reason: reason.into() }
}

/// Writes the index file of a sealed segment from its in-memory index (temporary file, fsync,
/// rename, fsync of the directory: a crash leaves the old state or the whole new file).
pub(crate) fn write(dir: &Path, seg: &SegmentInfo, mem: &MemIndex) -> Result<PathBuf> {
    let mut strings: Vec<Arc<str>> = Vec::new();
    let mut ids: HashMap<Arc<str>, u16> = HashMap::new();
    let mut id = |s: &Arc<str>| -> Result<u16> {
        if let Some(i) = ids.get(s) {
            return Ok(*i);
        }
        let i = u16::try_from(strings.len()).ok().filter(|i| *i < NO_LABEL).ok_or_else(|| {
            AuditError::InvalidRecord("more than 65,534 distinct component names and labels in one segment".into())
        })?;
        strings.push(s.clone());
        ids.insert(s.clone(), i);
        Ok(i)
    };
    let mut tenants: Vec<&Tenant> = mem.tenants.keys().collect();
    tenants.sort();
    let mut entries = Vec::new();
    let mut dir_rows = Vec::new();
    let mut preds: Vec<PredRow> = Vec::new();
    let mut fbs: Vec<FbRow> = Vec::new();
    for t in tenants {
        let ti = &mem.tenants[t];
        dir_rows.push((*t, (entries.len() / ENTRY) as u64, ti.entries.len() as u64));
        for e in &ti.entries {
            entries.extend_from_slice(&e.seq.to_le_bytes());
            entries.extend_from_slice(&e.time_ms.to_le_bytes());
            entries.extend_from_slice(&e.loc.off.to_le_bytes());
            entries.extend_from_slice(&e.loc.len.to_le_bytes());
            entries.extend_from_slice(&id(&e.component)?.to_le_bytes());
            entries.push(match e.kind {
                Kind::Prediction => 0,
                Kind::Feedback => 1,
                Kind::Admin => 2,
            });
            entries.push(0);
        }
        for (key, p) in &ti.preds {
            let label = match &p.label {
                Some(l) => id(l)?,
                None => NO_LABEL,
            };
            let flags = if p.ok { OK } else { 0 } | if p.human_review { REVIEW } else { 0 };
            preds.push(PredRow {
                key: *key,
                tenant: *t,
                seq: p.seq,
                loc: p.loc,
                component: id(&p.component)?,
                label,
                flags,
            });
        }
        for (key, list) in &ti.feedback {
            for f in list {
                fbs.push(FbRow {
                    key: *key,
                    tenant: *t,
                    seq: f.seq,
                    loc: f.loc,
                    final_label: id(&f.final_label)?,
                    decision: f.decision,
                });
            }
        }
    }
    preds.sort_by_key(|p| (p.key, p.tenant));
    fbs.sort_by_key(|f| (f.key, f.tenant, f.seq));
    let mut pred_bloom = Bloom::sized(preds.len());
    let mut fb_bloom = Bloom::sized(fbs.len());
    let mut tables = entries;
    for p in &preds {
        pred_bloom.insert(&p.key);
        put_row_head(&mut tables, &p.key, &p.tenant, p.seq, p.loc);
        tables.extend_from_slice(&p.component.to_le_bytes());
        tables.extend_from_slice(&p.label.to_le_bytes());
        tables.extend_from_slice(&[p.flags, 0, 0, 0]);
    }
    for f in &fbs {
        fb_bloom.insert(&f.key);
        put_row_head(&mut tables, &f.key, &f.tenant, f.seq, f.loc);
        tables.extend_from_slice(&f.final_label.to_le_bytes());
        tables.push(match f.decision {
            Decision::Accepted => 0,
            Decision::Overridden => 1,
        });
        tables.extend_from_slice(&[0; 5]);
    }
    let (last_seq, last_hash) = seg.last.clone().ok_or_else(|| corrupt(&seg.path, "cannot seal an empty segment"))?;
    let header = Header {
        first_seq: seg.first_seq,
        last_seq,
        first_prev_hash: mem.first_prev_hash.clone().unwrap_or_default(),
        last_hash,
        first_time_ms: seg.first_time_ms.unwrap_or(seg.last_time_ms),
        last_time_ms: seg.last_time_ms,
        bytes: seg.bytes,
        strings: strings.iter().map(|s| s.to_string()).collect(),
        tenants: dir_rows,
        n_entries: mem.tenants.values().map(|t| t.entries.len() as u64).sum(),
        n_preds: preds.len() as u64,
        n_fbs: fbs.len() as u64,
        pred_bloom_bytes: pred_bloom.0.len() as u64,
        fb_bloom_bytes: fb_bloom.0.len() as u64,
    };
    let hjson = serde_json::to_vec(&header).expect("headers serialise");
    let mut resident = Vec::with_capacity(4 + hjson.len() + pred_bloom.0.len() + fb_bloom.0.len());
    resident.extend_from_slice(&(hjson.len() as u32).to_le_bytes());
    resident.extend_from_slice(&hjson);
    resident.extend_from_slice(&pred_bloom.0);
    resident.extend_from_slice(&fb_bloom.0);
    for p in preds.iter().step_by(FENCE) {
        resident.extend_from_slice(p.key.bytes());
    }
    for f in fbs.iter().step_by(FENCE) {
        resident.extend_from_slice(f.key.bytes());
    }
    let mut file = Vec::with_capacity(16 + resident.len() + 32 + tables.len() + 32);
    file.extend_from_slice(MAGIC);
    file.extend_from_slice(&(resident.len() as u64).to_le_bytes());
    file.extend_from_slice(&resident);
    file.extend_from_slice(&Sha256::digest(&resident));
    file.extend_from_slice(&tables);
    file.extend_from_slice(&Sha256::digest(&tables));

    let idir = index_dir(dir);
    std::fs::create_dir_all(&idir).map_err(io_err(&idir))?;
    let path = index_path(dir, seg.first_seq);
    let tmp = path.with_extension("idx.tmp");
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(&file).and_then(|_| f.sync_all()).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
    sync_dir(&idir)?;
    Ok(path)
}

impl SealedIndex {
    /// Loads the resident part of an index file, checking its checksum. Errors mean "rebuild
    /// it"; they never reach a caller of the log.
    pub fn load(path: &Path, intern: &mut impl FnMut(&str) -> Arc<str>) -> Result<SealedIndex> {
        let file = File::open(path).map_err(io_err(path))?;
        let len = file.metadata().map_err(io_err(path))?.len();
        let mut head = [0u8; 16];
        file.read_exact_at(&mut head, 0).map_err(io_err(path))?;
        if &head[..8] != MAGIC {
            return Err(corrupt(path, "not a komp segment index (bad magic)"));
        }
        let rlen = u64::from_le_bytes(head[8..].try_into().expect("8 bytes"));
        if rlen.saturating_add(16 + 32 + 32) > len {
            return Err(corrupt(path, "truncated"));
        }
        let mut resident = vec![0u8; rlen as usize + 32];
        file.read_exact_at(&mut resident, 16).map_err(io_err(path))?;
        let sum = resident.split_off(rlen as usize);
        if Sha256::digest(&resident).as_slice() != sum.as_slice() {
            return Err(corrupt(path, "checksum mismatch"));
        }
        let hlen =
            u32::from_le_bytes(resident.get(..4).ok_or_else(|| corrupt(path, "truncated"))?.try_into().expect("4"))
                as usize;
        let hjson = resident.get(4..4 + hlen).ok_or_else(|| corrupt(path, "truncated header"))?;
        let header: Header = serde_json::from_slice(hjson).map_err(|e| corrupt(path, format!("header: {e}")))?;
        let mut at = 4 + hlen;
        let mut take = |n: usize| -> Result<Vec<u8>> {
            let s = at
                .checked_add(n)
                .and_then(|end| resident.get(at..end))
                .ok_or_else(|| corrupt(path, "truncated resident part"))?
                .to_vec();
            at += n;
            Ok(s)
        };
        let pred_bloom = Bloom(take(header.pred_bloom_bytes as usize)?);
        let fb_bloom = Bloom(take(header.fb_bloom_bytes as usize)?);
        let fences = |bytes: Vec<u8>| bytes.chunks_exact(16).map(RequestKey::from_slice).collect::<Vec<_>>();
        let pred_fences = fences(take(header.n_preds.div_ceil(FENCE as u64) as usize * 16)?);
        let fb_fences = fences(take(header.n_fbs.div_ceil(FENCE as u64) as usize * 16)?);
        let entries_off = 16 + rlen + 32;
        let preds_off = entries_off + header.n_entries * ENTRY as u64;
        let fbs_off = preds_off + header.n_preds * ROW as u64;
        let tables_end = fbs_off + header.n_fbs * ROW as u64;
        if tables_end + 32 != len || pred_bloom.0.is_empty() || fb_bloom.0.is_empty() {
            return Err(corrupt(path, "table sizes do not match the file"));
        }
        let strings = header.strings.iter().map(|s| intern(s)).collect();
        let tenants = header.tenants.iter().map(|(t, start, n)| (*t, (*start, *n))).collect();
        Ok(SealedIndex {
            path: path.to_path_buf(),
            file,
            header,
            strings,
            tenants,
            entries_off,
            preds_off,
            fbs_off,
            tables_end,
            pred_bloom,
            fb_bloom,
            pred_fences,
            fb_fences,
        })
    }

    /// The index file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks the tables against their checksum (the start-up integrity check reads them all).
    pub fn check_tables(&self) -> Result<()> {
        let n = self.tables_end - self.entries_off;
        let mut buf = vec![0u8; n as usize + 32];
        self.file.read_exact_at(&mut buf, self.entries_off).map_err(io_err(&self.path))?;
        let sum = buf.split_off(n as usize);
        if Sha256::digest(&buf).as_slice() != sum.as_slice() {
            return Err(corrupt(&self.path, "tables checksum mismatch"));
        }
        Ok(())
    }

    fn string(&self, i: u16) -> Result<Arc<str>> {
        self.strings.get(i as usize).cloned().ok_or_else(|| corrupt(&self.path, format!("string id {i} out of range")))
    }

    fn read(&self, off: u64, n: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; n];
        self.file.read_exact_at(&mut buf, off).map_err(io_err(&self.path))?;
        Ok(buf)
    }

    /// All of `tenant`'s records in this segment, in seq order.
    pub fn entries(&self, tenant: &Tenant) -> Result<Vec<Entry>> {
        let Some(&(start, n)) = self.tenants.get(tenant) else { return Ok(Vec::new()) };
        let buf = self.read(self.entries_off + start * ENTRY as u64, n as usize * ENTRY)?;
        buf.chunks_exact(ENTRY)
            .map(|r| {
                Ok(Entry {
                    seq: le_u64(r, 0),
                    time_ms: le_u64(r, 8),
                    loc: Loc { seg: self.header.first_seq, off: le_u64(r, 16), len: le_u32(r, 24) },
                    component: self.string(le_u16(r, 28))?,
                    kind: match r[30] {
                        0 => Kind::Prediction,
                        1 => Kind::Feedback,
                        _ => Kind::Admin,
                    },
                })
            })
            .collect()
    }

    /// The raw rows of a sorted table whose key is `key`: reads the fence block that may hold it
    /// (and the next ones while rows still match).
    fn rows(&self, key: &RequestKey, fences: &[RequestKey], off: u64, n: u64) -> Result<Vec<Vec<u8>>> {
        // First block whose fence is >= key, minus one: the key's rows start in that block or
        // later (equal keys may begin before a fence equal to them).
        let mut block = fences.partition_point(|f| f < key).saturating_sub(1) as u64;
        let mut out = Vec::new();
        loop {
            let first = block * FENCE as u64;
            if first >= n {
                break;
            }
            let rows = (n - first).min(FENCE as u64) as usize;
            let buf = self.read(off + first * ROW as u64, rows * ROW)?;
            let mut past = false;
            for r in buf.chunks_exact(ROW) {
                match RequestKey::from_slice(&r[..16]).cmp(key) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => out.push(r.to_vec()),
                    std::cmp::Ordering::Greater => {
                        past = true;
                        break;
                    }
                }
            }
            if past {
                break;
            }
            block += 1;
        }
        Ok(out)
    }

    /// The seq and location in the first 40 bytes of a prediction or feedback row, if the row is
    /// `tenant`'s.
    fn row_head(&self, r: &[u8], tenant: &Tenant) -> Option<(u64, Loc)> {
        if tenant_of(&r[16..20]).as_ref() != Some(tenant) {
            return None;
        }
        let loc = Loc { seg: self.header.first_seq, off: le_u64(r, 28), len: le_u32(r, 36) };
        Some((le_u64(r, 20), loc))
    }

    /// The tenant's prediction with this request key, if this segment holds it.
    pub fn pred(&self, tenant: &Tenant, key: &RequestKey) -> Result<Option<PredFacts>> {
        if !self.pred_bloom.may_contain(key) {
            return Ok(None);
        }
        for r in self.rows(key, &self.pred_fences, self.preds_off, self.header.n_preds)? {
            let Some((seq, loc)) = self.row_head(&r, tenant) else { continue };
            let label = le_u16(&r, 42);
            return Ok(Some(PredFacts {
                seq,
                loc,
                component: self.string(le_u16(&r, 40))?,
                label: if label == NO_LABEL { None } else { Some(self.string(label)?) },
                ok: r[44] & OK != 0,
                human_review: r[44] & REVIEW != 0,
            }));
        }
        Ok(None)
    }

    /// The tenant's feedback records on this request key in this segment, oldest first.
    pub fn feedback(&self, tenant: &Tenant, key: &RequestKey) -> Result<Vec<FbInfo>> {
        if !self.fb_bloom.may_contain(key) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for r in self.rows(key, &self.fb_fences, self.fbs_off, self.header.n_fbs)? {
            let Some((seq, loc)) = self.row_head(&r, tenant) else { continue };
            out.push(FbInfo {
                seq,
                loc,
                final_label: self.string(le_u16(&r, 40))?,
                decision: if r[42] == 1 { Decision::Overridden } else { Decision::Accepted },
            });
        }
        Ok(out)
    }

    /// Bytes this index keeps in memory (Bloom filters and fences).
    #[cfg(test)]
    pub fn resident_bytes(&self) -> usize {
        self.pred_bloom.0.len() + self.fb_bloom.0.len() + (self.pred_fences.len() + self.fb_fences.len()) * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sealed segment of `n` predictions of two tenants, with feedback on every tenth.
    fn segment(dir: &Path, n: u64) -> (SegmentInfo, MemIndex, Vec<(Tenant, String)>) {
        let mut mem = MemIndex { first_prev_hash: Some("0".repeat(64)), ..Default::default() };
        let component: Arc<str> = Arc::from("postsortering");
        let label: Arc<str> = Arc::from("affald");
        let mut ids = Vec::new();
        for seq in 1..=n {
            let tenant: Tenant = if seq % 2 == 0 { "0101" } else { "0751" }.parse().unwrap();
            let id = crate::new_request_id();
            let key = RequestKey::of(&id);
            let loc = Loc { seg: 1, off: seq * 100, len: 99 };
            let t = mem.tenants.entry(tenant).or_default();
            t.entries.push(Entry { seq, time_ms: seq, kind: Kind::Prediction, component: component.clone(), loc });
            let facts = PredFacts {
                seq,
                loc,
                component: component.clone(),
                label: Some(label.clone()),
                ok: true,
                human_review: false,
            };
            t.preds.insert(key, facts);
            if seq % 10 == 0 {
                let fb = FbInfo { seq, loc, decision: Decision::Overridden, final_label: label.clone() };
                t.feedback.entry(key).or_default().push(fb);
            }
            ids.push((tenant, id));
        }
        let seg = SegmentInfo {
            first_seq: 1,
            path: dir.join("seg-00000000000000000001.jsonl"),
            last: Some((n, "f".repeat(64))),
            first_time_ms: Some(1),
            last_time_ms: n,
            bytes: n * 100,
            file_len: n * 100,
        };
        (seg, mem, ids)
    }

    #[test]
    fn lookups_find_every_id_and_keep_about_one_and_a_half_bytes_per_prediction_resident() {
        let d = tempfile::tempdir().unwrap();
        let n = 20_000u64;
        let (seg, mem, ids) = segment(d.path(), n);
        let path = write(d.path(), &seg, &mem).unwrap();
        let idx = SealedIndex::load(&path, &mut |s| Arc::from(s)).unwrap();
        idx.check_tables().unwrap();
        let per_prediction = idx.resident_bytes() as f64 / n as f64;
        assert!(per_prediction < 2.0, "{per_prediction} bytes per prediction resident");
        for (i, (tenant, id)) in ids.iter().enumerate() {
            let seq = i as u64 + 1;
            let key = RequestKey::of(id);
            let p = idx.pred(tenant, &key).unwrap().unwrap_or_else(|| panic!("{id} not found"));
            assert_eq!((p.seq, p.loc.off, p.ok, p.label.as_deref()), (seq, seq * 100, true, Some("affald")));
            let other: Tenant = if tenant.as_str() == "0101" { "0751" } else { "0101" }.parse().unwrap();
            assert!(idx.pred(&other, &key).unwrap().is_none(), "another tenant's id");
            assert_eq!(idx.feedback(tenant, &key).unwrap().len(), usize::from(seq % 10 == 0));
        }
        for _ in 0..1000 {
            let key = RequestKey::of(&crate::new_request_id());
            assert!(idx.pred(&ids[0].0, &key).unwrap().is_none());
        }
        let entries = idx.entries(&ids[0].0).unwrap();
        assert_eq!(entries.len() as u64, n / 2);
        assert!(entries.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(entries, mem.tenants[&ids[0].0].entries);
    }

    #[test]
    fn a_damaged_index_file_is_refused_on_load() {
        let d = tempfile::tempdir().unwrap();
        let (seg, mem, _) = segment(d.path(), 500);
        let path = write(d.path(), &seg, &mem).unwrap();
        let good = std::fs::read(&path).unwrap();
        let resident = u64::from_le_bytes(good[8..16].try_into().unwrap()) as usize;
        for at in [0, 9, 30, 16 + resident / 2, 16 + resident + 5] {
            let mut bad = good.clone();
            bad[at] ^= 0x5a;
            std::fs::write(&path, &bad).unwrap();
            assert!(SealedIndex::load(&path, &mut |s| Arc::from(s)).is_err(), "byte {at} flipped");
        }
        // a flipped byte in the tables passes the load and fails the table check
        let mut bad = good.clone();
        let at = good.len() - 100;
        bad[at] ^= 0x5a;
        std::fs::write(&path, &bad).unwrap();
        assert!(SealedIndex::load(&path, &mut |s| Arc::from(s)).unwrap().check_tables().is_err());
        std::fs::write(&path, &good[..good.len() - 1]).unwrap();
        assert!(SealedIndex::load(&path, &mut |s| Arc::from(s)).is_err(), "truncated");
    }
}
