//! The errors a vendor embedding the runtime can get back, one variant per
//! thing that can go wrong, each with what happened, where and what to do.

use std::time::Duration;

/// One way a JSON input violates a component's input schema.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// JSON Pointer to the offending value (`""` is the whole input).
    pub path: String,
    /// What is wrong there.
    pub reason: String,
}

/// Why an [`crate::ArtifactVerifier`] refused a component file. Each variant
/// carries the message users see (`component refused by the trust policy:
/// <message>`); the variant says which kind of refusal it is, so an embedder
/// can act on it without parsing text.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The file carries no signature, or its signature section cannot be read.
    #[error("{message}")]
    Unsigned { message: String },
    /// The bytes were changed after signing, or a signature does not verify
    /// with its key (damaged or forged).
    #[error("{message}")]
    Tampered { message: String },
    /// The signatures are valid but not the ones the policy requires (only
    /// unknown keys, no trusted publisher, no approver endorsement).
    #[error("{message}")]
    NotTrusted { message: String },
    /// A signing key was revoked, or this version was yanked.
    #[error("{message}")]
    Revoked { message: String },
    /// The verifier cannot decide now (for example, its revocation list has
    /// expired), so it refuses rather than fail open.
    #[error("{message}")]
    CannotDecide { message: String },
    /// The file is not a well-formed component file.
    #[error(transparent)]
    Artifact(#[from] komp_artifact::ArtifactError),
}

/// Errors of [`crate::Runtime`]. [`RuntimeError::class`] says, for every
/// variant, its stable kind and whose fault it is.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The file is not a well-formed component file (framing, manifest, model digests).
    #[error("invalid component file: {0}")]
    Artifact(#[from] komp_artifact::ArtifactError),
    /// The [`crate::ArtifactVerifier`] refused the file.
    #[error("component refused by the trust policy: {0}")]
    Untrusted(#[source] VerifyError),
    /// wasmtime could not compile the component.
    #[error("component {name}@{version} could not be compiled: {reason}")]
    Compile { name: String, version: String, reason: String },
    /// The component does not implement the `standard-component` world.
    #[error("component {name}@{version} does not implement the world `{world}`: {reason}")]
    WrongWorld { name: String, version: String, world: String, reason: String },
    /// tract could not load one of the component's models.
    #[error("model `{model}` of component {component} could not be loaded by tract: {source}")]
    Model {
        component: String,
        model: String,
        #[source]
        source: crate::nn::ModelError,
    },
    /// The component's `metadata()` disagrees with its manifest.
    #[error("component {component}: its code says {field} is {code:?} but the manifest says {manifest:?}")]
    MetadataMismatch { component: String, field: &'static str, code: String, manifest: String },
    /// Golden vectors failed at install; `report` names each.
    #[error("component {component} failed {failed} of {total} golden vectors:\n{report}")]
    GoldenVectors { component: String, failed: usize, total: usize, report: String },
    /// Other bytes under an installed `name@version` (versions are immutable).
    #[error(
        "component {component} is already installed with different bytes (digest {installed_digest}); versions are immutable"
    )]
    VersionConflict {
        /// `name@version`.
        component: String,
        /// The digest of the file installed under that version.
        installed_digest: String,
    },
    /// No component of that name is installed.
    #[error("no component named `{0}` is installed")]
    UnknownComponent(String),
    /// The component is installed, but not that version.
    #[error("component `{name}` has no version {version} installed (installed: {installed})")]
    UnknownVersion { name: String, version: String, installed: String },
    /// The component was withdrawn ([`crate::Runtime::withdraw`]), e.g. after a revocation.
    #[error("component {component} is withdrawn: {reason}")]
    Withdrawn {
        /// `name@version`.
        component: String,
        /// Why (the reason given to [`crate::Runtime::withdraw`]).
        reason: String,
    },
    /// The input is larger than `max_input_bytes`.
    #[error("input is {size} bytes; the limit is {limit} bytes")]
    InputTooLarge { size: usize, limit: usize },
    /// The input is not JSON.
    #[error("input is not valid JSON: {0}")]
    InputNotJson(String),
    /// The input violates the component's input schema; every violation with its JSON Pointer.
    #[error("input does not match the component's input schema: {}", format_violations(.0))]
    InputSchema(Vec<Violation>),
    /// The component rejected the input (its `invalid-input` error).
    #[error("the component rejected the input: {0}")]
    InvalidInput(String),
    /// The component reported a model error (its `model` error).
    #[error("the component reported a model error: {0}")]
    ComponentModel(String),
    /// The component reported an internal error (its `internal` error).
    #[error("the component reported an internal error: {0}")]
    ComponentInternal(String),
    /// The call passed its deadline and was stopped.
    #[error("the prediction took longer than the deadline of {0:?} and was stopped")]
    Timeout(Duration),
    /// The component hit its linear-memory cap.
    #[error("the component tried to use more than its memory cap of {0} bytes and was stopped")]
    MemoryLimit(usize),
    /// The component overflowed its wasm stack.
    #[error("the component ran out of stack (too deep recursion) and was stopped")]
    StackOverflow,
    /// The component made the host hold more than the per-call limits allow.
    #[error("the component made the host hold too much for it and was stopped: {0}")]
    HostLimit(crate::nn::HostLimit),
    /// The component trapped (panic, abort, out-of-bounds access, …).
    #[error("the component trapped: {0}")]
    Trap(String),
    /// The prediction is larger than `max_output_bytes`.
    #[error("the component's output is {size} bytes; the limit is {limit} bytes")]
    OutputTooLarge { size: usize, limit: usize },
    /// The output is not a valid prediction (undeclared label, non-finite score, bad `details`).
    #[error("the component's output is not a valid prediction: {0}")]
    BadOutput(String),
    /// All instance slots are in use; retry shortly.
    #[error("all {0} instance slots are busy; retry shortly")]
    Busy(u32),
    /// The component keeps faulting and is limited to `faulty_max_instances` calls for now.
    #[error("component {component} may run only {limit} call(s) at once for now, because a recent call ended in a fault ({fault}); retry shortly")]
    Throttled { component: String, limit: u32, fault: String },
    /// The compile cache could not be opened or written.
    #[error("compile cache: {0}")]
    Cache(String),
    /// The host could not configure wasmtime or link its interfaces.
    #[error("host error: {0}")]
    Host(String),
}

fn format_violations(v: &[Violation]) -> String {
    v.iter()
        .map(|v| format!("at `{}`: {}", if v.path.is_empty() { "/" } else { &v.path }, v.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whose fault an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// The caller's request: an input that is too large, not JSON or not what
    /// the component accepts, or a component or version that is not
    /// installed. The same request fails the same way again.
    Caller,
    /// The component: at a call it broke a limit, trapped, returned something
    /// that is not a prediction or reported an error of its own; it is
    /// withdrawn or throttled; or its file was refused at install.
    Component,
    /// The host: no free instance slot now, the compile cache, the engine.
    Host,
}

/// The status-independent class of an error: a stable machine-readable kind
/// (for audit records and metrics), whose fault it is, and whether it counts
/// toward throttling the component. One table, [`RuntimeError::class`],
/// gives it for every variant; an HTTP host maps [`ErrorKind`] to a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorClass {
    pub kind: ErrorKind,
    pub fault: Fault,
    /// The component misbehaved in the sandbox (deadline, memory cap, stack,
    /// host memory or resource limit, trap, bad or too large output): such a
    /// fault throttles it for a while (see
    /// [`crate::RuntimeConfig::faulty_max_instances`]). An error the component
    /// reports itself is a clean answer and does not.
    pub throttles: bool,
}

/// What kind of error it is, independent of any protocol. [`ErrorKind::as_str`]
/// is the name audit records and metrics use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    UnknownComponent,
    InputTooLarge,
    InputNotJson,
    InputSchema,
    InvalidInput,
    Withdrawn,
    Busy,
    Throttled,
    Timeout,
    MemoryLimit,
    StackOverflow,
    HostLimit,
    BadOutput,
    ModelError,
    ComponentError,
    Trap,
    InvalidArtifact,
    Untrusted,
    Compile,
    WrongWorld,
    ModelLoad,
    MetadataMismatch,
    GoldenVectors,
    VersionConflict,
    Cache,
    Host,
}

impl ErrorKind {
    /// Every kind, for tables and tests.
    pub const ALL: [ErrorKind; 26] = [
        ErrorKind::UnknownComponent,
        ErrorKind::InputTooLarge,
        ErrorKind::InputNotJson,
        ErrorKind::InputSchema,
        ErrorKind::InvalidInput,
        ErrorKind::Withdrawn,
        ErrorKind::Busy,
        ErrorKind::Throttled,
        ErrorKind::Timeout,
        ErrorKind::MemoryLimit,
        ErrorKind::StackOverflow,
        ErrorKind::HostLimit,
        ErrorKind::BadOutput,
        ErrorKind::ModelError,
        ErrorKind::ComponentError,
        ErrorKind::Trap,
        ErrorKind::InvalidArtifact,
        ErrorKind::Untrusted,
        ErrorKind::Compile,
        ErrorKind::WrongWorld,
        ErrorKind::ModelLoad,
        ErrorKind::MetadataMismatch,
        ErrorKind::GoldenVectors,
        ErrorKind::VersionConflict,
        ErrorKind::Cache,
        ErrorKind::Host,
    ];

    /// The stable name of the kind (`"timeout"`, `"input_schema"`, …), as
    /// audit records (`outcome.kind`) and metrics (`outcome` label) show it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::UnknownComponent => "unknown_component",
            ErrorKind::InputTooLarge => "input_too_large",
            ErrorKind::InputNotJson => "input_not_json",
            ErrorKind::InputSchema => "input_schema",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Withdrawn => "withdrawn",
            ErrorKind::Busy => "busy",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Timeout => "timeout",
            ErrorKind::MemoryLimit => "memory_limit",
            ErrorKind::StackOverflow => "stack_overflow",
            ErrorKind::HostLimit => "host_limit",
            ErrorKind::BadOutput => "bad_output",
            ErrorKind::ModelError => "model_error",
            ErrorKind::ComponentError => "component_error",
            ErrorKind::Trap => "trap",
            ErrorKind::InvalidArtifact => "invalid_artifact",
            ErrorKind::Untrusted => "untrusted",
            ErrorKind::Compile => "compile",
            ErrorKind::WrongWorld => "wrong_world",
            ErrorKind::ModelLoad => "model_load",
            ErrorKind::MetadataMismatch => "metadata_mismatch",
            ErrorKind::GoldenVectors => "golden_vectors",
            ErrorKind::VersionConflict => "version_conflict",
            ErrorKind::Cache => "cache",
            ErrorKind::Host => "host",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RuntimeError {
    /// The error's class: kind, fault, and whether it throttles the
    /// component. The one table of it; no catch-all arm, so a new variant
    /// does not compile until it is classified here.
    ///
    /// ```
    /// use komp_runtime::{ErrorKind, Fault, RuntimeError};
    /// let e = RuntimeError::InputNotJson("expected value at line 1 column 1".into());
    /// let class = e.class();
    /// assert_eq!((class.kind, class.fault, class.throttles), (ErrorKind::InputNotJson, Fault::Caller, false));
    /// assert_eq!(class.kind.as_str(), "input_not_json");
    /// ```
    pub fn class(&self) -> ErrorClass {
        use ErrorKind as K;
        use Fault::{Caller, Component, Host};
        let (kind, fault, throttles) = match self {
            RuntimeError::UnknownComponent(_) | RuntimeError::UnknownVersion { .. } => {
                (K::UnknownComponent, Caller, false)
            }
            RuntimeError::InputTooLarge { .. } => (K::InputTooLarge, Caller, false),
            RuntimeError::InputNotJson(_) => (K::InputNotJson, Caller, false),
            RuntimeError::InputSchema(_) => (K::InputSchema, Caller, false),
            RuntimeError::InvalidInput(_) => (K::InvalidInput, Caller, false),
            RuntimeError::Withdrawn { .. } => (K::Withdrawn, Component, false),
            RuntimeError::Busy(_) => (K::Busy, Host, false),
            RuntimeError::Throttled { .. } => (K::Throttled, Component, false),
            RuntimeError::Timeout(_) => (K::Timeout, Component, true),
            RuntimeError::MemoryLimit(_) => (K::MemoryLimit, Component, true),
            RuntimeError::StackOverflow => (K::StackOverflow, Component, true),
            RuntimeError::HostLimit(_) => (K::HostLimit, Component, true),
            RuntimeError::Trap(_) => (K::Trap, Component, true),
            RuntimeError::OutputTooLarge { .. } | RuntimeError::BadOutput(_) => (K::BadOutput, Component, true),
            RuntimeError::ComponentModel(_) => (K::ModelError, Component, false),
            RuntimeError::ComponentInternal(_) => (K::ComponentError, Component, false),
            RuntimeError::Artifact(_) => (K::InvalidArtifact, Component, false),
            RuntimeError::Untrusted(_) => (K::Untrusted, Component, false),
            RuntimeError::Compile { .. } => (K::Compile, Component, false),
            RuntimeError::WrongWorld { .. } => (K::WrongWorld, Component, false),
            RuntimeError::Model { .. } => (K::ModelLoad, Component, false),
            RuntimeError::MetadataMismatch { .. } => (K::MetadataMismatch, Component, false),
            RuntimeError::GoldenVectors { .. } => (K::GoldenVectors, Component, false),
            RuntimeError::VersionConflict { .. } => (K::VersionConflict, Component, false),
            RuntimeError::Cache(_) => (K::Cache, Host, false),
            RuntimeError::Host(_) => (K::Host, Host, false),
        };
        ErrorClass { kind, fault, throttles }
    }

    /// The error's text as a record may keep it: never input text. Schema
    /// violations keep their paths only; a JSON syntax error and the
    /// component's rejection of the input are named, not quoted. Every other
    /// error is its full text (texts a component chose are already escaped
    /// and capped, see [`component_text`]).
    pub fn audit_text(&self) -> String {
        match self {
            RuntimeError::InputSchema(v) => {
                format!("schema violations at {}", v.iter().map(|v| v.path.as_str()).collect::<Vec<_>>().join(", "))
            }
            RuntimeError::InputNotJson(_) => "input is not valid JSON".into(),
            RuntimeError::InvalidInput(_) => "the component rejected the input".into(),
            RuntimeError::Artifact(_)
            | RuntimeError::Untrusted(_)
            | RuntimeError::Compile { .. }
            | RuntimeError::WrongWorld { .. }
            | RuntimeError::Model { .. }
            | RuntimeError::MetadataMismatch { .. }
            | RuntimeError::GoldenVectors { .. }
            | RuntimeError::VersionConflict { .. }
            | RuntimeError::UnknownComponent(_)
            | RuntimeError::UnknownVersion { .. }
            | RuntimeError::Withdrawn { .. }
            | RuntimeError::InputTooLarge { .. }
            | RuntimeError::ComponentModel(_)
            | RuntimeError::ComponentInternal(_)
            | RuntimeError::Timeout(_)
            | RuntimeError::MemoryLimit(_)
            | RuntimeError::StackOverflow
            | RuntimeError::HostLimit(_)
            | RuntimeError::Trap(_)
            | RuntimeError::OutputTooLarge { .. }
            | RuntimeError::BadOutput(_)
            | RuntimeError::Busy(_)
            | RuntimeError::Throttled { .. }
            | RuntimeError::Cache(_)
            | RuntimeError::Host(_) => self.to_string(),
        }
    }

    /// The error's stable kind (`self.class().kind`).
    pub fn kind(&self) -> ErrorKind {
        self.class().kind
    }

    /// Whether the component misbehaved and the fault counts toward
    /// throttling it (`self.class().throttles`).
    pub fn is_component_fault(&self) -> bool {
        self.class().throttles
    }

    /// Whether the caller's request was at fault (bad input, unknown
    /// component) rather than the component or the host
    /// (`self.class().fault == Fault::Caller`).
    pub fn is_caller_error(&self) -> bool {
        self.class().fault == Fault::Caller
    }
}

/// Longest text from a component that leaves the runtime in an error, in
/// bytes (before the truncation note).
pub const MAX_COMPONENT_TEXT_BYTES: usize = 1024;

/// A text chosen by a component (its error message, a label it made up, a
/// trap message naming its functions), made safe to put into an HTTP
/// response, a log line or the audit log: control characters (C0, DEL, C1),
/// line and paragraph separators and bidirectional overrides are escaped
/// (`\n`, `\u{1b}`, …), and at most [`MAX_COMPONENT_TEXT_BYTES`] bytes are
/// kept, cut at a character boundary, followed by a note with the original
/// length. Linear in the kept part, whatever the length of `s`.
pub fn component_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_COMPONENT_TEXT_BYTES));
    for (i, c) in s.char_indices() {
        let escape =
            c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        let before = out.len();
        if escape {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
        if out.len() > MAX_COMPONENT_TEXT_BYTES {
            out.truncate(before);
            out.push_str(&format!("… [truncated: {} bytes from the component, {} shown]", s.len(), i));
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_text_escapes_control_characters() {
        assert_eq!(component_text("ok: æøå ✓"), "ok: æøå ✓");
        assert_eq!(component_text("a\nb\r\0\u{1b}[31m\u{7f}\u{85}"), r"a\nb\r\u{0}\u{1b}[31m\u{7f}\u{85}");
        assert_eq!(component_text("x\u{202e}y\u{2028}"), r"x\u{202e}y\u{2028}");
    }

    #[test]
    fn component_text_is_cut_at_a_char_boundary() {
        let long = "é".repeat(1 << 20);
        let out = component_text(&long);
        assert!(out.len() < MAX_COMPONENT_TEXT_BYTES + 100, "{}", out.len());
        assert!(out.starts_with(&"é".repeat(MAX_COMPONENT_TEXT_BYTES / 2)), "{out}");
        assert!(out.ends_with(&format!("… [truncated: {} bytes from the component, 1024 shown]", 2 << 20)), "{out}");
        // Escapes count toward the cap: a megabyte of NULs is cut too.
        let out = component_text(&"\0".repeat(1 << 20));
        assert!(out.len() < MAX_COMPONENT_TEXT_BYTES + 100 && out.starts_with(r"\u{0}\u{0}"), "{out}");
        assert_eq!(component_text(&"a".repeat(MAX_COMPONENT_TEXT_BYTES)), "a".repeat(MAX_COMPONENT_TEXT_BYTES));
    }
}
