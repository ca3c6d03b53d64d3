//! The prose files: Markdown with one `## Heading` per field. Text before the
//! first `## ` (a title, an introduction) is not part of any field. A field's
//! text is kept as Markdown, trimmed.

use crate::SourceError;
use std::collections::BTreeMap;
use std::path::Path;

/// The sections of one file, by their heading as declared.
#[derive(Debug)]
pub(crate) struct Sections(BTreeMap<&'static str, String>);

impl Sections {
    pub(crate) fn get(&self, heading: &str) -> &str {
        self.0.get(heading).map_or("", String::as_str)
    }
}

/// Headings compare without case, punctuation or repeated spaces, so
/// "Out of scope use" and "Out-of-scope use" are the same section.
fn normalise(heading: &str) -> String {
    heading
        .chars()
        .map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits `text` into the `expected` sections; an unknown, repeated, missing
/// or empty section is an error at its line, listing the expected headings.
pub(crate) fn sections(path: &Path, text: &str, expected: &[&'static str]) -> Result<Sections, SourceError> {
    let list = || expected.iter().map(|h| format!("`## {h}`")).collect::<Vec<_>>().join(", ");
    let mut out: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut current: Option<(&'static str, usize)> = None;
    let mut fence = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fence = !fence;
        }
        let heading = (!fence).then(|| line.strip_prefix("## ")).flatten();
        match heading {
            Some(h) => {
                let key = normalise(h);
                let Some(&name) = expected.iter().find(|e| normalise(e) == key) else {
                    return Err(line_error(path, i, format!("unknown section `## {}`", h.trim()))
                        .hint(format!("the sections of this file are {}", list())));
                };
                if out.contains_key(name) {
                    return Err(line_error(path, i, format!("section `## {name}` appears twice")));
                }
                out.insert(name, String::new());
                current = Some((name, i));
            }
            None => {
                if let Some((name, _)) = current {
                    let s = out.get_mut(name).expect("inserted at its heading");
                    s.push_str(line);
                    s.push('\n');
                }
            }
        }
    }
    for name in expected {
        match out.get_mut(name) {
            None => {
                return Err(SourceError::file(path, format!("section `## {name}` is missing"))
                    .hint(format!("add it; the sections of this file are {}", list())))
            }
            Some(s) => {
                *s = s.trim().to_string();
                if s.is_empty() {
                    let line = text
                        .lines()
                        .position(|l| l.strip_prefix("## ").is_some_and(|h| normalise(h) == normalise(name)));
                    return Err(line_error(path, line.unwrap_or(0), format!("section `## {name}` is empty"))
                        .hint("write the answer under the heading; an empty answer is not an answer"));
                }
            }
        }
    }
    Ok(Sections(out))
}

fn line_error(path: &Path, index: usize, message: String) -> SourceError {
    SourceError { line: Some(index + 1), ..SourceError::file(path, message) }
}
