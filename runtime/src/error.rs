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

/// Errors of [`crate::Runtime`].
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("invalid component file: {0}")]
    Artifact(#[from] komp_artifact::ArtifactError),
    #[error("component refused by the trust policy: {0}")]
    Untrusted(String),
    #[error("component {name}@{version} could not be compiled: {reason}")]
    Compile { name: String, version: String, reason: String },
    #[error("component {name}@{version} does not implement the world `{world}`: {reason}")]
    WrongWorld { name: String, version: String, world: String, reason: String },
    #[error("model `{model}` of component {component} could not be loaded by tract: {reason}")]
    Model { component: String, model: String, reason: String },
    #[error("component {component}: its code says {field} is {code:?} but the manifest says {manifest:?}")]
    MetadataMismatch { component: String, field: &'static str, code: String, manifest: String },
    #[error("component {component} failed {failed} of {total} golden vectors:\n{report}")]
    GoldenVectors { component: String, failed: usize, total: usize, report: String },
    #[error("component {0} is already installed with different bytes (digest {1}); versions are immutable")]
    VersionConflict(String, String),
    #[error("no component named `{0}` is installed")]
    UnknownComponent(String),
    #[error("component `{name}` has no version {version} installed (installed: {installed})")]
    UnknownVersion { name: String, version: String, installed: String },
    #[error("component {0} is withdrawn: {1}")]
    Withdrawn(String, String),
    #[error("input is {size} bytes; the limit is {limit} bytes")]
    InputTooLarge { size: usize, limit: usize },
    #[error("input is not valid JSON: {0}")]
    InputNotJson(String),
    #[error("input does not match the component's input schema: {}", format_violations(.0))]
    InputSchema(Vec<Violation>),
    #[error("the component rejected the input: {0}")]
    InvalidInput(String),
    #[error("the component reported a model error: {0}")]
    ComponentModel(String),
    #[error("the component reported an internal error: {0}")]
    ComponentInternal(String),
    #[error("the prediction took longer than the deadline of {0:?} and was stopped")]
    Timeout(Duration),
    #[error("the component tried to use more than its memory cap of {0} bytes and was stopped")]
    MemoryLimit(usize),
    #[error("the component ran out of stack (too deep recursion) and was stopped")]
    StackOverflow,
    #[error("the component made the host hold too much for it and was stopped: {0}")]
    HostLimit(crate::nn::HostLimit),
    #[error("the component trapped: {0}")]
    Trap(String),
    #[error("the component's output is {size} bytes; the limit is {limit} bytes")]
    OutputTooLarge { size: usize, limit: usize },
    #[error("the component's output is not a valid prediction: {0}")]
    BadOutput(String),
    #[error("all {0} instance slots are busy; retry shortly")]
    Busy(u32),
    #[error("component {component} may run only {limit} call(s) at once for now, because a recent call ended in a fault ({fault}); retry shortly")]
    Throttled { component: String, limit: u32, fault: String },
    #[error("compile cache: {0}")]
    Cache(String),
    #[error("host error: {0}")]
    Host(String),
}

fn format_violations(v: &[Violation]) -> String {
    v.iter()
        .map(|v| format!("at `{}`: {}", if v.path.is_empty() { "/" } else { &v.path }, v.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

impl RuntimeError {
    /// Whether the component misbehaved (deadline, memory cap, stack, host
    /// memory or resource limit, trap, bad or too large output): such a fault
    /// throttles the component for a while (see
    /// `RuntimeConfig::faulty_max_instances`).
    pub fn is_component_fault(&self) -> bool {
        matches!(
            self,
            RuntimeError::Timeout(_)
                | RuntimeError::MemoryLimit(_)
                | RuntimeError::StackOverflow
                | RuntimeError::HostLimit(_)
                | RuntimeError::Trap(_)
                | RuntimeError::OutputTooLarge { .. }
                | RuntimeError::BadOutput(_)
        )
    }

    /// Whether the caller's request was at fault (bad input) rather than the
    /// component or the host. The HTTP layer maps this to 4xx versus 5xx.
    pub fn is_caller_error(&self) -> bool {
        matches!(
            self,
            RuntimeError::InputTooLarge { .. }
                | RuntimeError::InputNotJson(_)
                | RuntimeError::InputSchema(_)
                | RuntimeError::InvalidInput(_)
                | RuntimeError::UnknownComponent(_)
                | RuntimeError::UnknownVersion { .. }
        )
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
