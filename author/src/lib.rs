//! Authoring komp components, the library behind `komp new`, `komp build` and
//! `komp test`:
//!
//! - [`source`]: the readable manifest source (`komp.toml`, Markdown prose, a
//!   JSON Schema file, the training run's output) compiled into the
//!   [`komp_artifact::Manifest`], with errors that point at file and line;
//! - [`training`]: `training-output.json`, the file the Python training
//!   (`komp_train.output.write_training_output`) writes;
//! - [`templates`]: the starting points `komp new` writes, embedded in the binary;
//! - [`checks`]: what can be checked in a built component and its models
//!   before anything runs (the world's exports, imports beyond `wasi:nn`,
//!   whether a model is ONNX, its input names, its size), each failure worded
//!   as what to change.
//!
//! Like komp-artifact it reads and writes files only: no wasmtime, no tract,
//! no argument parsing (the architecture test checks this).

pub mod checks;
mod markdown;
pub mod source;
pub mod templates;
pub mod training;

use std::fmt;
use std::path::{Path, PathBuf};

/// An error in an author's files: which file, where in it, what is wrong and
/// (when it is not obvious) what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct SourceError {
    pub file: PathBuf,
    /// 1-based line, when the error has a position.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl SourceError {
    /// An error about a whole file.
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        SourceError { file: path.to_path_buf(), line: None, column: None, message: message.into(), hint: None }
    }

    /// An error at the first line of `text` where `needle` starts a key
    /// (`needle = …`) or, failing that, occurs at all.
    pub(crate) fn at_key(path: &Path, text: &str, needle: &str) -> Self {
        let mut e = SourceError::file(path, String::new());
        let found = text
            .lines()
            .position(|l| l.trim_start().starts_with(needle) && !needle.is_empty())
            .or_else(|| text.lines().position(|l| !needle.is_empty() && l.contains(needle)));
        e.line = found.map(|i| i + 1);
        e
    }

    pub(crate) fn at_offset(path: &Path, text: &str, offset: usize) -> Self {
        let (line, column) = line_column(text, offset);
        SourceError { line: Some(line), column: Some(column), ..SourceError::file(path, String::new()) }
    }

    pub(crate) fn toml(path: &Path, text: &str, e: &toml::de::Error, key: Option<String>) -> Self {
        let mut err = match e.span() {
            Some(span) => SourceError::at_offset(path, text, span.start),
            None => SourceError::file(path, String::new()),
        };
        let message = e.message().trim().to_string();
        err.message = match key {
            Some(k) => format!("`{k}`: {message}"),
            None => message,
        };
        err
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
