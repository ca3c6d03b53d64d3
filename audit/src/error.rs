//! Typed errors. The HTTP host maps them to status codes: `NotFound` -> 404,
//! `Invalid*`/`DuplicateRequestId` -> 400/409, `Unavailable`/`Io` -> 503 (no durable audit record,
//! so no prediction may be returned), `ChainBroken` -> alarm.

use std::fmt;
use std::path::PathBuf;

/// Where and why the hash chain breaks. Returned by `verify` and kept by `open` (which does not
/// refuse to start on old damage, so the service stays available, but reports it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChainBreak {
    /// The sequence number expected at the break (the first record that cannot be trusted).
    pub seq: u64,
    /// The segment file in which the break was found.
    pub file: PathBuf,
    /// 1-based line number in `file` (0 when the break is about the file as a whole).
    pub line: u64,
    /// Human-readable reason, e.g. "hash mismatch" or "expected seq 12, found 13".
    pub reason: String,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at seq {} in {} line {}: {}", self.seq, self.file.display(), self.line, self.reason)
    }
}

/// Everything that can go wrong with the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A file system operation failed.
    #[error("audit log I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the directory's lock file; two writers would fork the chain.
    #[error("audit directory {0} is in use by another process")]
    Locked(PathBuf),
    /// The record to append is malformed (bad tenant, over-long field, non-finite score, ...).
    #[error("invalid audit record: {0}")]
    InvalidRecord(String),
    /// The caseworker feedback is malformed (missing final label, note too long, ...).
    #[error("invalid feedback: {0}")]
    InvalidFeedback(String),
    /// No such prediction *for this tenant*. Deliberately identical for "unknown" and
    /// "belongs to another tenant", so existence never leaks across municipalities.
    #[error("not found")]
    NotFound,
    /// The tenant already has a prediction with this request id.
    #[error("duplicate request id")]
    DuplicateRequestId,
    /// The writer has stopped (an fsync failed, or the log is shutting down). Nothing can be made
    /// durable, so callers must fail the prediction rather than answer without an audit record.
    #[error("audit log unavailable: {0}")]
    Unavailable(String),
    /// The hash chain does not verify: a record was edited, deleted, inserted or reordered.
    #[error("audit hash chain broken {0}")]
    ChainBroken(Box<ChainBreak>),
    /// The HMAC key file or anchor file is unreadable or malformed.
    #[error("corrupt audit metadata {path}: {reason}")]
    Metadata { path: PathBuf, reason: String },
    /// A timestamp could not be parsed as RFC 3339.
    #[error("invalid time {0:?} (want RFC 3339, e.g. 2025-03-01T12:00:00Z, or a date 2025-03-01)")]
    InvalidTime(String),
}

/// Result alias for this crate.
pub type Result<T, E = AuditError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> AuditError {
    let path = path.into();
    move |source| AuditError::Io { path, source }
}
