//! The `komp-manifest`: what a component is, what it is for, and the evidence
//! that travels with it (model card, ALTAI self-assessment, AI Act class,
//! golden vectors).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The WIT world every standard component implements.
pub const STANDARD_WORLD: &str = "komp:component/standard-component@0.1.0";

/// The manifest carried in the `komp-manifest` custom section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Component name: lowercase ASCII letters, digits and `-`.
    pub name: String,
    /// Semantic version; `name@version` is immutable once published.
    pub version: semver::Version,
    pub description: String,
    /// Who built the component (a municipality, a vendor or the central team).
    pub publisher: String,
    /// Licence of the component and its models (SPDX expression).
    pub licence: String,
    /// The WIT world implemented, e.g. [`STANDARD_WORLD`].
    pub world: String,
    /// The labels `predict` can return, in the order of its scores.
    pub labels: Vec<Label>,
    /// JSON Schema of the `predict` input; the host validates before calling.
    pub input_schema: serde_json::Value,
    /// The models in `komp-model:<name>` sections.
    #[serde(default)]
    pub models: Vec<ModelRef>,
    pub model_card: ModelCard,
    pub altai: Altai,
    pub ai_act: AiAct,
    /// Inputs with expected outputs, checked when a host installs the component.
    #[serde(default)]
    pub golden_vectors: Vec<GoldenVector>,
    /// Reference distributions of the predictions on held-out data, for drift
    /// monitoring ([`crate::reference`]). Optional: older components have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<crate::reference::Reference>,
    /// The decision threshold a municipality may move, and within which
    /// range (signed with the component; see [`crate::operating_point`]).
    /// Absent: the component's decision is fixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_point: Option<crate::operating_point::OperatingPoint>,
}

/// One output label: a stable id and a human-readable (Danish) name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Label {
    pub id: String,
    pub display: String,
}

/// A model bundled in the component.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    /// The name a component passes to `wasi:nn` `load-by-name`.
    pub name: String,
    /// Hex sha256 of the model bytes.
    pub sha256: String,
    /// Only `onnx` is supported.
    pub format: String,
}

/// The model card (Mitchell et al.), as the documents ask: what the model is
/// for, what it was trained and tested on, how it does per group, and where it
/// must not be used.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    pub intended_use: String,
    pub out_of_scope_use: String,
    pub training_data: String,
    pub evaluation_data: String,
    /// Headline metrics on the held-out evaluation data.
    pub metrics: serde_json::Value,
    /// Metrics per group (age band, reporter type, sender type, ...).
    #[serde(default)]
    pub group_results: serde_json::Value,
    /// The operating point and why it was chosen (a business and ethical decision).
    #[serde(default)]
    pub operating_point: serde_json::Value,
    pub limitations: String,
    pub ethical_considerations: String,
    pub contact: String,
}

/// The EU Assessment List for Trustworthy AI, one answer per requirement.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Altai {
    pub human_agency_and_oversight: String,
    pub technical_robustness_and_safety: String,
    pub privacy_and_data_governance: String,
    pub transparency: String,
    pub diversity_non_discrimination_and_fairness: String,
    pub societal_and_environmental_wellbeing: String,
    pub accountability: String,
}

/// Risk class claimed under the EU AI Act, with the reasoning.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AiAct {
    pub risk_class: RiskClass,
    pub reasoning: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RiskClass {
    Minimal,
    Limited,
    High,
}

/// An input with its expected output; installing fails if the component's
/// answer differs by more than `tolerance` in any score.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GoldenVector {
    pub input: serde_json::Value,
    pub expected: Expected,
    #[serde(default = "default_tolerance")]
    pub tolerance: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub label: String,
    #[serde(default)]
    pub scores: BTreeMap<String, f32>,
}

fn default_tolerance() -> f32 {
    1e-4
}

impl Manifest {
    /// Checks what serde cannot: name syntax, world, labels, model formats.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.is_empty()
            || self.name.len() > 64
            || !self.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            || self.name.starts_with('-')
        {
            return Err(format!("name {:?} is not valid: use 1-64 lowercase ASCII letters, digits and '-'", self.name));
        }
        if self.world != STANDARD_WORLD {
            return Err(format!("world {:?} is not supported; expected {STANDARD_WORLD:?}", self.world));
        }
        if self.labels.is_empty() {
            return Err("labels is empty: a component must declare the labels it can return".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for l in &self.labels {
            if !seen.insert(&l.id) {
                return Err(format!("label {:?} is declared twice", l.id));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for m in &self.models {
            if m.format != "onnx" {
                return Err(format!("model {:?} has format {:?}; only \"onnx\" is supported", m.name, m.format));
            }
            if !names.insert(&m.name) {
                return Err(format!("model {:?} is declared twice", m.name));
            }
        }
        for (i, g) in self.golden_vectors.iter().enumerate() {
            if !self.labels.iter().any(|l| l.id == g.expected.label) {
                return Err(format!(
                    "golden_vectors[{i}] expects label {:?}, which is not in labels",
                    g.expected.label
                ));
            }
            if !(g.tolerance >= 0.0 && g.tolerance.is_finite()) {
                return Err(format!("golden_vectors[{i}].tolerance must be a finite number >= 0"));
            }
        }
        if !self.input_schema.is_object() {
            return Err("input_schema must be a JSON Schema object".into());
        }
        if let Some(r) = &self.reference {
            let labels: Vec<&str> = self.labels.iter().map(|l| l.id.as_str()).collect();
            r.validate(&labels).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// `name@version`, the immutable identity of a release.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}
