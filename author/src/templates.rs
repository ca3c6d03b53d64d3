//! The starting points of `komp new`, embedded in the binary so that a new
//! author needs nothing but `komp` and a Rust toolchain. Each template builds
//! and predicts before it is changed: it ships a small model trained by its
//! own `train.py` (with the repository's komp-train package) and that run's
//! `training-output.json` (metrics and golden vectors).
//!
//! The files live under `author/templates/`; `{{name}}`, `{{publisher}}` and
//! `{{sdk}}` in them are replaced when a component is created.

use std::path::{Path, PathBuf};

/// A kind of component `komp new` can start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// A short Danish text in, one of two labels out (hashed text features,
    /// a sparse linear model), explained by the words that drove it.
    TextClassifier,
    /// A few named numbers in, one of two labels out (a linear model with the
    /// scaling folded in), explained per field.
    Tabular,
}

impl Template {
    pub const ALL: [Template; 2] = [Template::TextClassifier, Template::Tabular];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Template::TextClassifier => "text-classifier",
            Template::Tabular => "tabular",
        }
    }

    pub fn from_name(name: &str) -> Option<Template> {
        Template::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The template's files: path in the new component and contents.
    pub fn files(self) -> Vec<(&'static str, &'static [u8])> {
        macro_rules! file {
            ($dir:literal, $path:literal) => {
                ($path, include_bytes!(concat!("../templates/", $dir, "/", $path)).as_slice())
            };
        }
        let mut files = vec![
            ("Cargo.toml", include_bytes!("../templates/common/Cargo.toml.in").as_slice()),
            (".gitignore", include_bytes!("../templates/common/gitignore").as_slice()),
            file!("common", "altai.md"),
            // The versions komp itself is built and tested with; cargo keeps
            // the ones the component uses.
            ("Cargo.lock", include_bytes!("../../Cargo.lock").as_slice()),
        ];
        match self {
            Template::TextClassifier => files.extend([
                file!("text-classifier", "src/lib.rs"),
                file!("text-classifier", "komp.toml"),
                file!("text-classifier", "model-card.md"),
                file!("text-classifier", "input-schema.json"),
                file!("text-classifier", "samples.jsonl"),
                file!("text-classifier", "train.py"),
                file!("text-classifier", "data/train.jsonl"),
                file!("text-classifier", "model/model.onnx"),
                file!("text-classifier", "training-output.json"),
            ]),
            Template::Tabular => files.extend([
                file!("tabular", "src/lib.rs"),
                file!("tabular", "komp.toml"),
                file!("tabular", "model-card.md"),
                file!("tabular", "input-schema.json"),
                file!("tabular", "samples.jsonl"),
                file!("tabular", "train.py"),
                file!("tabular", "model/model.onnx"),
                file!("tabular", "training-output.json"),
            ]),
        }
        files
    }
}

/// Why a component could not be created.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    #[error("{0:?} is not a valid component name: use 1-64 lowercase ASCII letters, digits and '-', starting with a letter (e.g. `klage-tone`)")]
    BadName(String),
    #[error("{} already exists; choose another name or remove it", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// What to fill into the template.
#[derive(Debug, Clone)]
pub struct NewComponent<'a> {
    /// The component's (and its crate's) name.
    pub name: &'a str,
    pub publisher: &'a str,
    /// The `komp-sdk` dependency as a TOML value, e.g. `{ path = "/src/komp/sdk" }`.
    pub sdk: &'a str,
}

/// Writes `template` into `dir` (which must not exist); returns the paths written.
pub fn create(template: Template, dir: &Path, new: &NewComponent<'_>) -> Result<Vec<PathBuf>, NewError> {
    let name = new.name;
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.ends_with('-');
    if !valid {
        return Err(NewError::BadName(name.to_string()));
    }
    if dir.exists() {
        return Err(NewError::Exists(dir.to_path_buf()));
    }
    let mut written = Vec::new();
    for (rel, bytes) in template.files() {
        let path = dir.join(rel);
        let contents = match std::str::from_utf8(bytes) {
            Ok(text) if rel != "Cargo.lock" && !rel.ends_with(".onnx") => text
                .replace("{{name}}", name)
                .replace("{{publisher}}", new.publisher)
                .replace("{{sdk}}", new.sdk)
                .into_bytes(),
            _ => bytes.to_vec(),
        };
        let write = |p: &Path| -> std::io::Result<()> {
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(p, &contents)
        };
        write(&path).map_err(|source| NewError::Write { path: path.clone(), source })?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles_to_a_valid_manifest() {
        for t in Template::ALL {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("min-komponent");
            create(
                t,
                &root,
                &NewComponent { name: "min-komponent", publisher: "Testby Kommune", sdk: "{ path = \"/sdk\" }" },
            )
            .unwrap();
            let compiled =
                crate::source::compile(&root.join("komp.toml")).unwrap_or_else(|e| panic!("{}: {e}", t.name()));
            assert_eq!(compiled.manifest.name, "min-komponent");
            assert!(
                !compiled.manifest.golden_vectors.is_empty(),
                "{}: golden vectors from training-output.json",
                t.name()
            );
            assert!(compiled.manifest.model_card.metrics["accuracy"].is_number());
            assert!(compiled.manifest.model_card.contact.contains("Testby Kommune"));
            let cargo = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
            assert!(cargo.contains("name = \"min-komponent\"") && cargo.contains("komp-sdk = { path = \"/sdk\" }"));
            for m in &compiled.models {
                let info = crate::checks::onnx_info(&std::fs::read(&m.path).unwrap()).unwrap();
                assert!(!info.inputs.is_empty(), "{}: the template's model has inputs", t.name());
            }
        }
    }

    #[test]
    fn bad_names_and_existing_folders_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let new = |name| NewComponent { name, publisher: "x", sdk: "{}" };
        for bad in ["", "Stor", "-a", "a-", "æøå", "a_b"] {
            let err = create(Template::Tabular, &dir.path().join("x"), &new(bad)).unwrap_err();
            assert!(matches!(err, NewError::BadName(_)), "{bad:?}: {err}");
        }
        let err = create(Template::Tabular, dir.path(), &new("ok")).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
    }
}
