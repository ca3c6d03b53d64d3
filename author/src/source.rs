//! The manifest source an author writes: `komp.toml` for the facts, Markdown
//! files for the model card's and ALTAI's prose, a JSON Schema file for the
//! input, and the training run's `training-output.json` for the numbers.
//! [`compile`] turns them into the [`Manifest`] that `komp pack` puts into the
//! component.
//!
//! Why not JSON: a manifest is 20-27 KB of mostly prose, and a reviewer reads
//! prose in Markdown, not as escaped JSON strings. Why the numbers come from a
//! file: metrics and golden vectors pasted by hand go stale the day the model
//! is retrained.
//!
//! Every error names the file and, where there is one, the line and column.

use crate::markdown::{self, Sections};
use crate::training::TrainingOutput;
use crate::SourceError;
use komp_artifact::manifest::{AiAct, Altai, GoldenVector, Label, Manifest, ModelCard, STANDARD_WORLD};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The file name `komp new` writes and `komp build` looks for.
pub const SOURCE_FILE: &str = "komp.toml";

/// `komp.toml`, as written. Paths are relative to the file's directory.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    name: String,
    version: semver::Version,
    description: String,
    publisher: String,
    licence: String,
    /// Defaults to the standard world; there is only one today.
    #[serde(default)]
    world: Option<String>,
    /// The cargo package to build (default: the package in this directory).
    #[serde(default)]
    package: Option<String>,
    labels: Vec<Label>,
    /// A JSON Schema file; its `examples` are run by `komp build` and `komp test`.
    input_schema: PathBuf,
    #[serde(default)]
    models: Vec<ModelSource>,
    model_card: CardSource,
    /// A Markdown file with one `## ` section per ALTAI requirement.
    altai: PathBuf,
    ai_act: AiActSource,
    /// `training-output.json` of the training run: metrics and golden vectors.
    #[serde(default)]
    training_output: Option<PathBuf>,
    /// Golden vectors written by hand, in addition to the training run's.
    #[serde(default)]
    golden_vectors: Vec<GoldenVector>,
    /// A JSON file with the drift reference (see komp-artifact `reference`).
    #[serde(default)]
    reference: Option<PathBuf>,
    /// A JSON file with the operating point declaration (komp-artifact `operating_point`).
    #[serde(default)]
    operating_point: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelSource {
    /// The name the component passes to `wasi:nn` `load-by-name`.
    name: String,
    /// The ONNX file.
    path: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CardSource {
    /// A Markdown file with one `## ` section per prose field of the card.
    file: PathBuf,
    /// Headline metrics, when there is no training output to take them from.
    #[serde(default)]
    metrics: Option<serde_json::Value>,
    #[serde(default)]
    group_results: Option<serde_json::Value>,
    /// The operating point and why it was chosen (prose and numbers).
    #[serde(default)]
    operating_point: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AiActSource {
    risk_class: komp_artifact::manifest::RiskClass,
    /// The reasoning, or the path of a Markdown file holding it.
    reasoning: String,
}

/// A model the component carries: its `load-by-name` name and its file.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFile {
    pub name: String,
    pub path: PathBuf,
}

/// The compiled source: the manifest (model digests are filled in when the
/// component is packed) and where everything else is.
#[derive(Debug, Clone)]
pub struct CompiledSource {
    pub manifest: Manifest,
    pub models: Vec<ModelFile>,
    /// The directory of `komp.toml` (the crate to build, unless `package` says otherwise).
    pub dir: PathBuf,
    /// The cargo package to build, if `komp.toml` names one.
    pub package: Option<String>,
    /// How many golden vectors came from the training output.
    pub golden_from_training: usize,
}

/// The prose sections of the model card, in `model-card.md`.
pub const CARD_SECTIONS: [&str; 7] = [
    "Intended use",
    "Out-of-scope use",
    "Training data",
    "Evaluation data",
    "Limitations",
    "Ethical considerations",
    "Contact",
];

/// The seven ALTAI requirements, one section each in `altai.md`.
pub const ALTAI_SECTIONS: [&str; 7] = [
    "Human agency and oversight",
    "Technical robustness and safety",
    "Privacy and data governance",
    "Transparency",
    "Diversity, non-discrimination and fairness",
    "Societal and environmental wellbeing",
    "Accountability",
];

/// Reads `path` (a `komp.toml`) and everything it references, and compiles
/// the manifest. The manifest is validated as `komp pack` would.
pub fn compile(path: &Path) -> Result<CompiledSource, SourceError> {
    let text = read_text(path)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let source: Source = parse_toml(path, &text)?;
    let at = |needle: &str| SourceError::at_key(path, &text, needle);

    let world = source.world.clone().unwrap_or_else(|| STANDARD_WORLD.to_string());
    if world != STANDARD_WORLD {
        return Err(at("world").message(format!("world {world:?} is not a komp world")).hint(format!(
            "set `world = \"{STANDARD_WORLD}\"` (or remove the line: it is the default); \
             it is the only world a komp host runs"
        )));
    }

    let schema_path = dir.join(&source.input_schema);
    let input_schema: serde_json::Value = parse_json(&schema_path)?;
    if !input_schema.is_object() {
        return Err(SourceError::file(&schema_path, "the input schema must be a JSON object (a JSON Schema)"));
    }

    let card_path = dir.join(&source.model_card.file);
    let card = markdown::sections(&card_path, &read_text(&card_path)?, &CARD_SECTIONS)?;
    let altai_path = dir.join(&source.altai);
    let altai = markdown::sections(&altai_path, &read_text(&altai_path)?, &ALTAI_SECTIONS)?;

    let training = match &source.training_output {
        Some(p) => Some(TrainingOutput::read(&dir.join(p))?),
        None => None,
    };
    let metrics = match (&source.model_card.metrics, &training) {
        (Some(_), Some(_)) => {
            return Err(at("metrics")
                .message("metrics are given twice: in [model_card] and in training_output")
                .hint("remove [model_card.metrics]: the training run's numbers are the ones that match the model"))
        }
        (Some(m), None) => m.clone(),
        (None, Some(t)) => t.metrics.clone(),
        (None, None) => {
            return Err(SourceError::file(path, "the model card has no metrics").hint(
                "set `training_output = \"training-output.json\"` (written by the training run), \
                 or give them by hand in [model_card.metrics]",
            ))
        }
    };
    let group_results =
        match (&source.model_card.group_results, training.as_ref().and_then(|t| t.group_results.clone())) {
            (Some(g), _) => g.clone(),
            (None, Some(g)) => g,
            (None, None) => serde_json::Value::Null,
        };

    let reasoning = if source.ai_act.reasoning.trim_end().ends_with(".md") && !source.ai_act.reasoning.contains('\n') {
        let p = dir.join(source.ai_act.reasoning.trim());
        read_text(&p)?.trim().to_string()
    } else {
        source.ai_act.reasoning.trim().to_string()
    };

    let mut golden_vectors = Vec::new();
    let golden_from_training = training.as_ref().map_or(0, |t| t.golden_vectors.len());
    if let Some(t) = &training {
        golden_vectors.extend(t.golden_vectors.iter().cloned());
    }
    golden_vectors.extend(source.golden_vectors.iter().cloned());

    let reference = match &source.reference {
        Some(p) => Some(parse_json(&dir.join(p))?),
        None => None,
    };
    let operating_point = match &source.operating_point {
        Some(p) => Some(parse_json(&dir.join(p))?),
        None => None,
    };

    let mut models = Vec::new();
    for m in &source.models {
        if models.iter().any(|x: &ModelFile| x.name == m.name) {
            return Err(at(&format!("\"{}\"", m.name)).message(format!("model {:?} is declared twice", m.name)));
        }
        models.push(ModelFile { name: m.name.clone(), path: dir.join(&m.path) });
    }

    let card_field = |s: &Sections, name: &str| s.get(name).to_string();
    let manifest = Manifest {
        name: source.name.clone(),
        version: source.version.clone(),
        description: source.description.trim().to_string(),
        publisher: source.publisher.clone(),
        licence: source.licence.clone(),
        world,
        labels: source.labels.clone(),
        input_schema,
        models: Vec::new(),
        model_card: ModelCard {
            intended_use: card_field(&card, "Intended use"),
            out_of_scope_use: card_field(&card, "Out-of-scope use"),
            training_data: card_field(&card, "Training data"),
            evaluation_data: card_field(&card, "Evaluation data"),
            metrics,
            group_results,
            operating_point: match (&source.model_card.operating_point, &training) {
                (Some(o), _) => o.clone(),
                (None, Some(TrainingOutput { operating_point: Some(o), .. })) => o.clone(),
                _ => serde_json::Value::Null,
            },
            limitations: card_field(&card, "Limitations"),
            ethical_considerations: card_field(&card, "Ethical considerations"),
            contact: card_field(&card, "Contact"),
        },
        altai: Altai {
            human_agency_and_oversight: card_field(&altai, ALTAI_SECTIONS[0]),
            technical_robustness_and_safety: card_field(&altai, ALTAI_SECTIONS[1]),
            privacy_and_data_governance: card_field(&altai, ALTAI_SECTIONS[2]),
            transparency: card_field(&altai, ALTAI_SECTIONS[3]),
            diversity_non_discrimination_and_fairness: card_field(&altai, ALTAI_SECTIONS[4]),
            societal_and_environmental_wellbeing: card_field(&altai, ALTAI_SECTIONS[5]),
            accountability: card_field(&altai, ALTAI_SECTIONS[6]),
        },
        ai_act: AiAct { risk_class: source.ai_act.risk_class, reasoning },
        golden_vectors,
        reference,
        operating_point,
    };
    if let Err(e) = manifest.validate() {
        // Point at the line the message is most likely about.
        let key = if e.starts_with("name") {
            "name"
        } else if e.starts_with("label") || e.starts_with("labels") {
            "labels"
        } else {
            ""
        };
        let err = if key.is_empty() { SourceError::file(path, e) } else { at(key).message(e) };
        return Err(err);
    }
    Ok(CompiledSource { manifest, models, dir, package: source.package.clone(), golden_from_training })
}

fn read_text(path: &Path) -> Result<String, SourceError> {
    std::fs::read_to_string(path).map_err(|e| SourceError::file(path, format!("cannot read it: {e}")))
}

/// Parses TOML with the failing key's path and position in the error.
fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, SourceError> {
    let de = toml::Deserializer::parse(text).map_err(|e| SourceError::toml(path, text, &e, None))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        SourceError::toml(path, text, e.inner(), (key != ".").then_some(key))
    })
}

/// Parses a JSON file; the error has the file, line and column.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, SourceError> {
    let text = read_text(path)?;
    let mut de = serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.inner();
        let text = inner.to_string();
        // serde_json appends " at line L column C"; the position goes in front instead.
        let text = text.rfind(" at line ").map_or(text.as_str(), |i| &text[..i]).to_string();
        let mut err = SourceError::file(path, text);
        err.line = Some(inner.line());
        err.column = Some(inner.column());
        if key != "." {
            err.message = format!("at `{key}`: {}", err.message);
        }
        err
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::{create, NewComponent, Template};

    fn component() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("c");
        create(Template::TextClassifier, &root, &NewComponent { name: "c", publisher: "P", sdk: "{}" }).unwrap();
        (dir, root)
    }

    fn edit(path: &Path, from: &str, to: &str) {
        let s = std::fs::read_to_string(path).unwrap();
        assert!(s.contains(from), "{from:?}");
        std::fs::write(path, s.replacen(from, to, 1)).unwrap();
    }

    #[test]
    fn toml_errors_have_file_line_and_key() {
        let (_d, root) = component();
        let toml = root.join("komp.toml");
        edit(&toml, "version = \"0.1.0\"", "version = \"1.0\"");
        let e = compile(&toml).unwrap_err();
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.to_string().contains("komp.toml:4:") && e.to_string().contains("version"), "{e}");

        let (_d, root) = component();
        let toml = root.join("komp.toml");
        edit(&toml, "[ai_act]\nrisk_class = \"minimal\"", "[ai_act]\nrisk_class = \"low\"");
        let e = compile(&toml).unwrap_err().to_string();
        assert!(e.contains("ai_act.risk_class") && e.contains("minimal"), "{e}");
    }

    #[test]
    fn markdown_sections_are_checked() {
        let (_d, root) = component();
        edit(&root.join("altai.md"), "## Transparency\n", "## Transparency\n\n## Transparency again\n");
        let e = compile(&root.join("komp.toml")).unwrap_err();
        assert!(e.to_string().contains("altai.md:") && e.message.contains("unknown section"), "{e}");

        let (_d, root) = component();
        edit(&root.join("model-card.md"), "## Contact\n\nP\n", "## Contact\n\n");
        let e = compile(&root.join("komp.toml")).unwrap_err();
        assert!(e.message.contains("`## Contact` is empty") && e.line.is_some(), "{e}");

        // Headings compare without case and punctuation; prose stays Markdown.
        let (_d, root) = component();
        edit(&root.join("model-card.md"), "## Out-of-scope use", "## OUT OF SCOPE USE");
        let m = compile(&root.join("komp.toml")).unwrap().manifest;
        assert!(m.model_card.out_of_scope_use.starts_with("Any decision about a citizen."));
    }

    #[test]
    fn numbers_come_from_the_training_output_or_the_source_but_not_both() {
        let (_d, root) = component();
        let toml = root.join("komp.toml");
        edit(
            &toml,
            "[model_card]\nfile = \"model-card.md\"",
            "[model_card]\nfile = \"model-card.md\"\nmetrics = { accuracy = 0.9 }",
        );
        let e = compile(&toml).unwrap_err();
        assert!(e.message.contains("given twice") && e.line.is_some(), "{e}");
        edit(&toml, "training_output = \"training-output.json\"", "");
        let m = compile(&toml).unwrap().manifest;
        assert_eq!(m.model_card.metrics["accuracy"], 0.9);
        assert!(m.golden_vectors.is_empty());

        let (_d, root) = component();
        std::fs::write(root.join("training-output.json"), "{\"metrics\": {}, \"golden_vectors\": [{\"input\": {}}]}")
            .unwrap();
        let e = compile(&root.join("komp.toml")).unwrap_err();
        assert!(e.to_string().contains("training-output.json:1:") && e.message.contains("golden_vectors[0]"), "{e}");
    }
}
