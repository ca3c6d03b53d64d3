//! Record types and their canonical line encoding.
//!
//! One record is one line of JSON: `{BODY,"hash":"H"}` where `{BODY}` is the serde_json
//! serialisation of the record without `hash` (fields in declaration order, scores in a sorted
//! map, no whitespace) and `H = hex(sha256({BODY}))`. `BODY` contains `prev_hash`, the hash of the
//! previous record, so the lines form a hash chain. The hash is taken over the bytes as written,
//! so a verifier in any language only needs: strip the 75-byte `,"hash":"…"}` suffix, append `}`,
//! sha256, compare; no re-serialisation (and no float formatting) has to agree.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{AuditError, Result, Tenant};

/// `prev_hash` of the first record ever written (seq 1).
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Maximum length (characters) of a feedback note: room for a reason, not for a case file.
pub const MAX_NOTE_CHARS: usize = 2000;
/// Error messages are truncated to this many characters (they must not carry input text anyway).
pub const MAX_ERROR_CHARS: usize = 1000;
const MAX_ID: usize = 128;
const MAX_LABEL: usize = 200;
const MAX_SCORES: usize = 4096;

/// Length of the `,"hash":"<64 hex>"}` suffix of every line.
const SUFFIX_LEN: usize = 75;
const SUFFIX_HEAD: &[u8] = b",\"hash\":\"";

/// One entry of the chain. `kind` tells the variants apart on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// A prediction made by the host (successful or not).
    Prediction(PredictionRecord),
    /// A caseworker's decision about a prediction.
    Feedback(FeedbackRecord),
    /// System record: segments up to `through_seq` were deleted by retention. Belongs to no tenant.
    Purge(PurgeRecord),
    /// An administrative action of a tenant: a changed operating point, a validation run.
    Admin(AdminRecord),
}

/// Art. 12 record of one prediction: who asked, when, which exact component, a keyed hash of the
/// input (never the input: data minimisation), what came out and how long it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRecord {
    pub seq: u64,
    /// RFC 3339 UTC commit time (ms precision); `time_ms` is the same instant as a number.
    pub time: String,
    pub time_ms: u64,
    /// Kommunekode, four digits.
    pub tenant: Tenant,
    /// Which API token made the call (its id, never the secret).
    pub token_id: String,
    pub request_id: String,
    pub component: String,
    pub version: String,
    /// Content digest of the exact component artifact that ran.
    pub digest: String,
    /// hex HMAC-SHA256 of the raw input bytes under the host's secret key.
    pub input_hmac: String,
    /// Predicted label; `None` when the prediction failed.
    pub label: Option<String>,
    pub scores: BTreeMap<String, f32>,
    pub requires_human_review: bool,
    pub latency_us: u64,
    /// `"ok"` or an error kind such as `"invalid_input"`, `"timeout"`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How much of the input text the model knows, as the component reported it (`details.coverage`);
    /// counts only, never words. Absent in records written before drift monitoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    /// The decision threshold used (the component's default or the tenant's own), for components
    /// that declare one. Absent in records written before operating points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_point: Option<OperatingPointUsed>,
    pub prev_hash: String,
    /// sha256 of the line without this field; filled in when read back.
    #[serde(skip_serializing, default)]
    pub hash: String,
}

/// Input coverage of a text prediction: the input's content tokens (words after stop words) and how
/// many of them are in the model's vocabulary. The drift monitor compares their distribution with
/// the component's reference (new vocabulary, longer texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    pub content_tokens: u32,
    pub known_tokens: u32,
}

impl Coverage {
    /// From a prediction's `details.coverage` object, if it is one (non-negative integers, known <= content).
    pub fn from_details(details: &serde_json::Value) -> Option<Coverage> {
        let c = details.get("coverage")?;
        let get = |k: &str| c.get(k)?.as_u64().and_then(|v| u32::try_from(v).ok());
        let cov = Coverage { content_tokens: get("content_tokens")?, known_tokens: get("known_tokens")? };
        (cov.known_tokens <= cov.content_tokens).then_some(cov)
    }
}

/// A caseworker's decision (art. 14 human oversight), linked to a prediction by `request_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackRecord {
    pub seq: u64,
    pub time: String,
    pub time_ms: u64,
    pub tenant: Tenant,
    pub token_id: String,
    /// The prediction this is about.
    pub request_id: String,
    /// Copied from the prediction so that an export is self-explanatory.
    pub component: String,
    pub predicted_label: String,
    pub decision: Decision,
    /// The label the caseworker decided on (equal to `predicted_label` when accepted).
    pub final_label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub prev_hash: String,
    #[serde(skip_serializing, default)]
    pub hash: String,
}

/// Written when retention deletes old segments, so the deletion itself is on the record and the
/// anchor file (which lets `verify` start mid-chain) is backed by the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PurgeRecord {
    pub seq: u64,
    pub time: String,
    pub time_ms: u64,
    /// Last deleted record.
    pub through_seq: u64,
    pub through_hash: String,
    pub through_time_ms: u64,
    /// File names of the deleted segments.
    pub segments: Vec<String>,
    pub retention_secs: u64,
    pub prev_hash: String,
    #[serde(skip_serializing, default)]
    pub hash: String,
}

/// A tenant's administrative action, on the record like its predictions: who changed the
/// decision point of a component (and why, citing which validation report), who ran a
/// validation of which exact component on which sample (its hash, never its texts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminRecord {
    pub seq: u64,
    pub time: String,
    pub time_ms: u64,
    pub tenant: Tenant,
    /// Token that acted (its id, not the secret).
    pub token_id: String,
    pub component: String,
    pub action: AdminAction,
    /// What was done, as the host describes it (e.g. `{"from": 0.19, "to": 0.12, "reason": …}`);
    /// at most [`MAX_ADMIN_DETAILS`] bytes of JSON, never case data.
    pub details: serde_json::Value,
    pub prev_hash: String,
    #[serde(skip_serializing, default)]
    pub hash: String,
}

/// Largest `details` of an [`AdminRecord`], serialised.
pub const MAX_ADMIN_DETAILS: usize = 8 * 1024;

/// Kinds of administrative action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminAction {
    /// A tenant set its own operating point for a component.
    OperatingPointSet,
    /// A tenant went back to the component's declared default.
    OperatingPointReset,
    /// A validation report was made (by an auditor) over a labelled sample.
    ValidationRun,
}

/// An administrative action to record ([`crate::Audit::record_admin`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AdminEvent {
    pub token_id: String,
    pub component: String,
    pub action: AdminAction,
    pub details: serde_json::Value,
}

/// What the caseworker did with a recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The caseworker agreed with the predicted label.
    Accepted,
    /// The caseworker chose another label (`final_label`).
    Overridden,
}

impl Record {
    pub fn seq(&self) -> u64 {
        match self {
            Record::Prediction(r) => r.seq,
            Record::Feedback(r) => r.seq,
            Record::Purge(r) => r.seq,
            Record::Admin(r) => r.seq,
        }
    }
    pub fn time_ms(&self) -> u64 {
        match self {
            Record::Prediction(r) => r.time_ms,
            Record::Feedback(r) => r.time_ms,
            Record::Purge(r) => r.time_ms,
            Record::Admin(r) => r.time_ms,
        }
    }
    pub fn prev_hash(&self) -> &str {
        match self {
            Record::Prediction(r) => &r.prev_hash,
            Record::Feedback(r) => &r.prev_hash,
            Record::Purge(r) => &r.prev_hash,
            Record::Admin(r) => &r.prev_hash,
        }
    }
    pub fn hash(&self) -> &str {
        match self {
            Record::Prediction(r) => &r.hash,
            Record::Feedback(r) => &r.hash,
            Record::Purge(r) => &r.hash,
            Record::Admin(r) => &r.hash,
        }
    }
    /// The owning tenant; `None` for system records.
    pub fn tenant(&self) -> Option<&Tenant> {
        match self {
            Record::Prediction(r) => Some(&r.tenant),
            Record::Feedback(r) => Some(&r.tenant),
            Record::Purge(_) => None,
            Record::Admin(r) => Some(&r.tenant),
        }
    }
    pub(crate) fn set_hash(&mut self, h: String) {
        match self {
            Record::Prediction(r) => r.hash = h,
            Record::Feedback(r) => r.hash = h,
            Record::Purge(r) => r.hash = h,
            Record::Admin(r) => r.hash = h,
        }
    }
}

/// Encodes `rec` as one line (without the trailing newline); returns the line and its hash.
pub(crate) fn encode(rec: &Record) -> (Vec<u8>, String) {
    let mut body = serde_json::to_vec(rec).expect("records always serialise");
    let hash = hex::encode(Sha256::digest(&body));
    debug_assert_eq!(body.last(), Some(&b'}'));
    body.pop();
    body.extend_from_slice(SUFFIX_HEAD);
    body.extend_from_slice(hash.as_bytes());
    body.extend_from_slice(b"\"}");
    (body, hash)
}

/// Checks a line's own hash and parses it. Does not check the chain link (`prev_hash`, `seq`).
pub(crate) fn decode(line: &[u8]) -> std::result::Result<Record, String> {
    let n = line.len();
    if n <= SUFFIX_LEN
        || &line[n - SUFFIX_LEN..n - SUFFIX_LEN + SUFFIX_HEAD.len()] != SUFFIX_HEAD
        || &line[n - 2..] != b"\"}"
    {
        return Err("malformed line (no trailing hash field)".into());
    }
    let stored = &line[n - 66..n - 2];
    if !stored.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return Err("malformed hash".into());
    }
    let mut h = Sha256::new();
    h.update(&line[..n - SUFFIX_LEN]);
    h.update(b"}");
    let computed = hex::encode(h.finalize());
    if computed.as_bytes() != stored {
        return Err(format!(
            "hash mismatch (record was altered): stored {}, computed {computed}",
            String::from_utf8_lossy(stored)
        ));
    }
    let mut rec: Record = serde_json::from_slice(line).map_err(|e| format!("unparseable record: {e}"))?;
    rec.set_hash(computed);
    Ok(rec)
}

/// A keyed hash of a prediction's raw input. Only `Audit::input_hmac` makes one, so the type
/// system keeps raw input out of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputHmac(pub(crate) String);

impl InputHmac {
    /// The lowercase hex HMAC-SHA256.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a prediction ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A label was produced.
    Ok,
    /// No label: `kind` is a short machine-readable class (`[a-z0-9_.-]`, e.g. `timeout`),
    /// `message` a human explanation (truncated to `MAX_ERROR_CHARS`; must not contain input text).
    Error { kind: String, message: String },
}

/// What the host hands to `append` for one prediction; the log adds seq, time and hashes.
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub tenant: Tenant,
    pub token_id: String,
    /// Unique per tenant; see `new_request_id`.
    pub request_id: String,
    pub component: String,
    pub version: String,
    pub digest: String,
    pub input_hmac: InputHmac,
    pub label: Option<String>,
    pub scores: BTreeMap<String, f32>,
    pub requires_human_review: bool,
    pub latency_us: u64,
    pub outcome: Outcome,
    /// Input coverage, if the component reports it ([`Coverage::from_details`]).
    pub coverage: Option<Coverage>,
    /// The operating point the decision was taken at, if the component declares one.
    pub operating_point: Option<OperatingPointUsed>,
}

/// Which decision threshold a prediction used: the component's signed default, or the tenant's
/// own setting (within the range the component declares).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatingPointUsed {
    pub threshold: f64,
    /// `default` or `tenant`.
    pub source: String,
    /// The component's own default, for comparison.
    pub default: f64,
}

/// The caseworker's side of a prediction, as received from the case system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    /// Token that submitted the feedback (its id, not the secret). The host sets it from the
    /// authenticated token; it may be absent from a request body.
    #[serde(default)]
    pub token_id: String,
    pub decision: Decision,
    /// Required when `Overridden`; optional (and must equal the prediction) when `Accepted`.
    #[serde(default)]
    pub final_label: Option<String>,
    /// Optional reason, at most `MAX_NOTE_CHARS` characters. Free text: case systems should
    /// not put personal data here.
    #[serde(default)]
    pub note: Option<String>,
}

/// A fresh 128-bit random request id (32 hex chars), for hosts that do not have one.
pub fn new_request_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("OS random source");
    hex::encode(b)
}

fn check_id(what: &str, v: &str) -> Result<()> {
    if v.is_empty() || v.len() > MAX_ID || !v.bytes().all(|c| c.is_ascii_alphanumeric() || b"._:-@/+".contains(&c)) {
        return Err(AuditError::InvalidRecord(format!("{what} must be 1-{MAX_ID} characters of [A-Za-z0-9._:-@/+]")));
    }
    Ok(())
}

pub(crate) fn check_label(v: &str) -> std::result::Result<(), String> {
    if v.is_empty() || v.chars().count() > MAX_LABEL || v.chars().any(char::is_control) {
        return Err(format!("label must be 1-{MAX_LABEL} characters without control characters"));
    }
    Ok(())
}

fn truncate_chars(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

impl NewRecord {
    /// Validates and turns into a record body (seq/time/prev_hash filled in by the writer).
    pub(crate) fn into_record(self) -> Result<PredictionRecord> {
        check_id("token_id", &self.token_id)?;
        check_id("request_id", &self.request_id)?;
        check_id("component", &self.component)?;
        check_id("version", &self.version)?;
        check_id("digest", &self.digest)?;
        if let Some(l) = &self.label {
            check_label(l).map_err(AuditError::InvalidRecord)?;
        }
        if self.scores.len() > MAX_SCORES {
            return Err(AuditError::InvalidRecord(format!("more than {MAX_SCORES} scores")));
        }
        for (k, v) in &self.scores {
            check_label(k).map_err(AuditError::InvalidRecord)?;
            if !v.is_finite() {
                return Err(AuditError::InvalidRecord(format!("score for {k:?} is not finite")));
            }
        }
        if let Some(c) = self.coverage {
            if c.known_tokens > c.content_tokens {
                return Err(AuditError::InvalidRecord("coverage: known_tokens exceeds content_tokens".into()));
            }
        }
        let (outcome, error) = match self.outcome {
            Outcome::Ok => {
                if self.label.is_none() {
                    return Err(AuditError::InvalidRecord("outcome ok needs a label".into()));
                }
                ("ok".to_string(), None)
            }
            Outcome::Error { kind, message } => {
                if kind == "ok"
                    || kind.is_empty()
                    || kind.len() > 64
                    || !kind.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_.-".contains(&c))
                {
                    return Err(AuditError::InvalidRecord(
                        "error kind must be 1-64 characters of [a-z0-9_.-] and not \"ok\"".into(),
                    ));
                }
                (kind, Some(truncate_chars(&message, MAX_ERROR_CHARS)))
            }
        };
        Ok(PredictionRecord {
            seq: 0,
            time: String::new(),
            time_ms: 0,
            tenant: self.tenant,
            token_id: self.token_id,
            request_id: self.request_id,
            component: self.component,
            version: self.version,
            digest: self.digest,
            input_hmac: self.input_hmac.0,
            label: self.label,
            scores: self.scores,
            requires_human_review: self.requires_human_review,
            latency_us: self.latency_us,
            outcome,
            error,
            coverage: self.coverage,
            operating_point: self.operating_point,
            prev_hash: String::new(),
            hash: String::new(),
        })
    }
}

impl Feedback {
    /// Validates against the prediction's label; returns (final_label, note).
    pub(crate) fn validate(&self, predicted: &str) -> Result<(String, Option<String>)> {
        let bad = |m: &str| AuditError::InvalidFeedback(m.to_string());
        check_id("token_id", &self.token_id)
            .map_err(|_| bad("token_id must be 1-128 characters of [A-Za-z0-9._:-@/+]"))?;
        if let Some(note) = &self.note {
            if note.chars().count() > MAX_NOTE_CHARS {
                return Err(bad(&format!("note longer than {MAX_NOTE_CHARS} characters")));
            }
            if note.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                return Err(bad("note contains control characters"));
            }
        }
        if let Some(l) = &self.final_label {
            check_label(l).map_err(|m| bad(&format!("final_label: {m}")))?;
        }
        let final_label = match (self.decision, &self.final_label) {
            (Decision::Accepted, None) => predicted.to_string(),
            (Decision::Accepted, Some(l)) if l == predicted => l.clone(),
            (Decision::Accepted, Some(_)) => {
                return Err(bad("accepted, but final_label differs from the prediction (use overridden)"))
            }
            (Decision::Overridden, None) => {
                return Err(bad("final_label is required when the prediction is overridden"))
            }
            (Decision::Overridden, Some(l)) if l == predicted => {
                return Err(bad("overridden, but final_label equals the prediction (use accepted)"))
            }
            (Decision::Overridden, Some(l)) => l.clone(),
        };
        let note = self.note.clone().filter(|n| !n.trim().is_empty());
        Ok((final_label, note))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record::Prediction(PredictionRecord {
            seq: 7,
            time: "2025-01-01T00:00:00.000Z".into(),
            time_ms: 1_735_689_600_000,
            tenant: "0101".parse().unwrap(),
            token_id: "tok".into(),
            request_id: "r1".into(),
            component: "postsortering".into(),
            version: "1.0.0".into(),
            digest: "sha256:ab".into(),
            input_hmac: "00".into(),
            label: Some("a".into()),
            scores: [("a".to_string(), 0.1f32), ("b".to_string(), 0.9)].into_iter().collect(),
            requires_human_review: false,
            latency_us: 12,
            outcome: "ok".into(),
            error: None,
            coverage: None,
            operating_point: None,
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        })
    }

    #[test]
    fn encode_decode_round_trip_and_tamper() {
        let rec = sample();
        let (line, hash) = encode(&rec);
        let text = String::from_utf8(line.clone()).unwrap();
        assert!(text.starts_with("{\"kind\":\"prediction\",\"seq\":7,"), "{text}");
        assert!(text.ends_with(&format!(",\"hash\":\"{hash}\"}}")));
        let back = decode(&line).unwrap();
        assert_eq!(back.hash(), hash);
        let mut expect = rec.clone();
        expect.set_hash(hash);
        assert_eq!(back, expect);
        // flip any single byte: never decodes to a valid record
        for i in 0..line.len() {
            let mut t = line.clone();
            t[i] ^= 0x01;
            assert!(decode(&t).is_err(), "byte {i} flip undetected");
        }
    }
}
