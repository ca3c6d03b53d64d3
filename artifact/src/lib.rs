//! The komp component file.
//!
//! A standard component ships as **one** WebAssembly component file that
//! carries everything it needs, as top-level custom sections:
//!
//! | section              | content                                              |
//! |----------------------|------------------------------------------------------|
//! | `signature` (first)  | Ed25519 signatures (tool-conventions *Signatures.md*) |
//! | `komp-manifest`      | the JSON [`Manifest`]                                |
//! | `komp-model:<name>`  | the raw ONNX bytes of model `<name>`                 |
//!
//! One artifact can be mailed, mirrored and audited as a unit. Custom sections
//! are never copied into an instance's linear memory, so models cost nothing
//! per instance.
//!
//! The identity of a component is its [`Artifact::digest`]: the sha256 of
//! everything *after* the signature section. Adding a signature or an
//! endorsement therefore never changes what is being signed or which
//! component it is.
//!
//! This crate only reads and writes the format. It checks framing, the
//! manifest and model digests, and never compiles code or parses models.

pub mod fsutil;
pub mod manifest;
pub mod operating_point;
pub mod reference;
pub mod sections;

pub use manifest::{AiAct, Altai, Expected, GoldenVector, Label, Manifest, ModelCard, ModelRef, RiskClass};
pub use operating_point::{Decision, DecisionField, DecisionRule, DetailsMirror, OperatingPoint, OperatingPointError};
pub use reference::{Histogram, Reference, ReferenceError};
use sections::{encode_custom_section, top_level_sections, COMPONENT_PREAMBLE};
use sha2::{Digest, Sha256};
use std::ops::Range;

/// Name of the custom section holding the manifest.
pub const MANIFEST_SECTION: &str = "komp-manifest";
/// Prefix of custom sections holding models.
pub const MODEL_SECTION_PREFIX: &str = "komp-model:";
/// Name of the signature section (tool-conventions Signatures.md).
pub const SIGNATURE_SECTION: &str = "signature";

/// Upper bound for a manifest; a larger one is refused before JSON parsing.
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// Upper bound for any other top-level custom section that is not a model
/// (`producers`, names, the signature section, ...). Models are bounded by
/// their digests in the manifest; nothing else has a reason to be large.
pub const MAX_OTHER_SECTION_BYTES: usize = 1 << 20;

/// What can be wrong with a component file. Every variant says where and what
/// to do, because these messages reach the people who publish components.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("not a WebAssembly file: the first 4 bytes are not \\0asm")]
    NotWasm,
    #[error(
        "this is a core WebAssembly module, not a component: build with `--target wasm32-wasip2` \
         (or wrap it with `wasm-tools component new`) before packing"
    )]
    CoreModule,
    #[error("malformed component at byte {offset}: {reason}")]
    Malformed { offset: usize, reason: String },
    #[error("no `{MANIFEST_SECTION}` section: pack the component with `komp pack` first")]
    MissingManifest,
    #[error("`{0}` section appears more than once")]
    DuplicateSection(String),
    #[error("the `{SIGNATURE_SECTION}` section must be the first section of the file (found at byte {0})")]
    MisplacedSignature(usize),
    #[error("manifest section is {0} bytes; the limit is {MAX_MANIFEST_BYTES}")]
    ManifestTooLarge(usize),
    #[error("custom section `{name}` at byte {offset} is {size} bytes; the limit for a section that is not a model is {MAX_OTHER_SECTION_BYTES}")]
    OversizedSection { name: String, offset: usize, size: usize },
    #[error("manifest is not valid JSON for a komp manifest: {0}")]
    ManifestJson(#[from] serde_json::Error),
    #[error("manifest is invalid: {0}")]
    ManifestInvalid(String),
    #[error("manifest is invalid: {0}")]
    OperatingPoint(#[from] OperatingPointError),
    #[error("model `{0}` is listed in the manifest but the file has no `{MODEL_SECTION_PREFIX}{0}` section")]
    MissingModel(String),
    #[error("section `{MODEL_SECTION_PREFIX}{0}` is not listed in the manifest's models")]
    UnlistedModel(String),
    #[error("model `{name}` has sha256 {actual}, but the manifest says {expected}: the model bytes were changed")]
    ModelDigestMismatch { name: String, expected: String, actual: String },
    #[error("the input already carries komp sections ({0}); pack the plain component built by cargo")]
    AlreadyPacked(String),
}

/// A parsed component file. Holds the bytes; sections are ranges into them.
#[derive(Debug, Clone)]
pub struct Artifact {
    bytes: Vec<u8>,
    manifest: Manifest,
    models: Vec<(String, Range<usize>)>,
    signature: Option<Range<usize>>,
    signed_from: usize,
    digest: String,
}

impl Artifact {
    /// Parses and checks a component file: framing, section placement,
    /// manifest syntax and semantics, and that every model's bytes match the
    /// sha256 in the manifest. Signatures are *not* checked here (that needs a
    /// trust policy; see `komp-registry`).
    pub fn parse(bytes: Vec<u8>) -> Result<Artifact, ArtifactError> {
        let sections = top_level_sections(&bytes)?;
        let mut manifest_range = None;
        let mut signature = None;
        let mut models: Vec<(String, Range<usize>)> = Vec::new();
        for (i, s) in sections.iter().enumerate() {
            let Some(name) = &s.custom_name else { continue };
            if name == SIGNATURE_SECTION {
                if i != 0 {
                    return Err(ArtifactError::MisplacedSignature(s.range.start));
                }
                signature = Some(s.data.clone());
            } else if name == MANIFEST_SECTION {
                if manifest_range.replace(s.data.clone()).is_some() {
                    return Err(ArtifactError::DuplicateSection(name.clone()));
                }
            } else if let Some(model) = name.strip_prefix(MODEL_SECTION_PREFIX) {
                if models.iter().any(|(n, _)| n == model) {
                    return Err(ArtifactError::DuplicateSection(name.clone()));
                }
                models.push((model.to_string(), s.data.clone()));
            }
            if !name.starts_with(MODEL_SECTION_PREFIX)
                && name != MANIFEST_SECTION
                && s.data.len() > MAX_OTHER_SECTION_BYTES
            {
                return Err(ArtifactError::OversizedSection {
                    name: name.clone(),
                    offset: s.range.start,
                    size: s.data.len(),
                });
            }
        }
        let manifest_range = manifest_range.ok_or(ArtifactError::MissingManifest)?;
        if manifest_range.len() > MAX_MANIFEST_BYTES {
            return Err(ArtifactError::ManifestTooLarge(manifest_range.len()));
        }
        let manifest: Manifest = serde_json::from_slice(&bytes[manifest_range])?;
        check_operating_point(&manifest)?;
        manifest.validate().map_err(ArtifactError::ManifestInvalid)?;
        for m in &manifest.models {
            let (_, range) =
                models.iter().find(|(n, _)| n == &m.name).ok_or_else(|| ArtifactError::MissingModel(m.name.clone()))?;
            let actual = sha256_hex(&bytes[range.clone()]);
            if !actual.eq_ignore_ascii_case(&m.sha256) {
                return Err(ArtifactError::ModelDigestMismatch {
                    name: m.name.clone(),
                    expected: m.sha256.clone(),
                    actual,
                });
            }
        }
        if let Some((name, _)) = models.iter().find(|(n, _)| !manifest.models.iter().any(|m| &m.name == n)) {
            return Err(ArtifactError::UnlistedModel(name.clone()));
        }
        let signed_from =
            sections.first().filter(|s| signature.is_some() && s.custom_name.is_some()).map_or(8, |s| s.range.end);
        let digest = sha256_hex(&bytes[signed_from..]);
        Ok(Artifact { bytes, manifest, models, signature, signed_from, digest })
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes the artifact, returning the whole file.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Hex sha256 of everything after the signature section: the component's
    /// identity, stable across signing and endorsing.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The bytes that signatures cover (everything after the signature section).
    pub fn signed_content(&self) -> &[u8] {
        &self.bytes[self.signed_from..]
    }

    /// The raw payload of the `signature` section, if the file has one.
    pub fn signature_section(&self) -> Option<&[u8]> {
        self.signature.clone().map(|r| &self.bytes[r])
    }

    /// The bytes of model `name`, if the component bundles it.
    pub fn model(&self, name: &str) -> Option<&[u8]> {
        self.models.iter().find(|(n, _)| n == name).map(|(_, r)| &self.bytes[r.clone()])
    }

    /// Names and bytes of all bundled models, in file order.
    pub fn models(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.models.iter().map(|(n, r)| (n.as_str(), &self.bytes[r.clone()]))
    }

    /// Returns a copy of this file whose `signature` section is replaced by
    /// `payload` (or removed if `None`). The signed content is unchanged.
    pub fn with_signature_section(&self, payload: Option<&[u8]>) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes.len() + payload.map_or(0, |p| p.len() + 16));
        out.extend_from_slice(&COMPONENT_PREAMBLE);
        if let Some(p) = payload {
            out.extend_from_slice(&encode_custom_section(SIGNATURE_SECTION, p));
        }
        out.extend_from_slice(self.signed_content());
        out
    }
}

/// Builds the single-file artifact from a component built by cargo, its
/// manifest and its model files. Fills in each model's sha256 (and checks it
/// if the manifest already states one) so authors cannot ship a stale digest.
pub fn pack(component: &[u8], mut manifest: Manifest, models: &[(String, Vec<u8>)]) -> Result<Artifact, ArtifactError> {
    let sections = top_level_sections(component)?;
    if let Some(name) = sections
        .iter()
        .filter_map(|s| s.custom_name.as_deref())
        .find(|n| *n == MANIFEST_SECTION || *n == SIGNATURE_SECTION || n.starts_with(MODEL_SECTION_PREFIX))
    {
        return Err(ArtifactError::AlreadyPacked(name.to_string()));
    }
    for (name, bytes) in models {
        let actual = sha256_hex(bytes);
        match manifest.models.iter_mut().find(|m| &m.name == name) {
            Some(m) if m.sha256.is_empty() => m.sha256 = actual,
            Some(m) if !m.sha256.eq_ignore_ascii_case(&actual) => {
                return Err(ArtifactError::ModelDigestMismatch {
                    name: name.clone(),
                    expected: m.sha256.clone(),
                    actual,
                })
            }
            Some(_) => {}
            None => manifest.models.push(ModelRef { name: name.clone(), sha256: actual, format: "onnx".into() }),
        }
    }
    check_operating_point(&manifest)?;
    manifest.validate().map_err(ArtifactError::ManifestInvalid)?;
    let manifest_json = serde_json::to_vec_pretty(&manifest)?;
    let mut out = component.to_vec();
    out.extend_from_slice(&encode_custom_section(MANIFEST_SECTION, &manifest_json));
    for (name, bytes) in models {
        out.extend_from_slice(&encode_custom_section(&format!("{MODEL_SECTION_PREFIX}{name}"), bytes));
    }
    Artifact::parse(out)
}

/// The operating point declaration, checked first so its error keeps its type.
fn check_operating_point(m: &Manifest) -> Result<(), ArtifactError> {
    match &m.operating_point {
        Some(op) => Ok(op.validate(&m.labels)?),
        None => Ok(()),
    }
}

/// Lowercase hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The version used when none is named, out of the installable ones: the
/// highest stable version, or the highest pre-release when there is no
/// stable one. A release candidate published for testing must not become
/// what every caller gets. The registry (`latest`) and the host (a
/// prediction without a version) must both use this one rule.
pub fn default_version<'a>(installable: impl IntoIterator<Item = &'a semver::Version>) -> Option<semver::Version> {
    let (mut stable, mut pre) = (None::<&semver::Version>, None::<&semver::Version>);
    for v in installable {
        let best = if v.pre.is_empty() { &mut stable } else { &mut pre };
        if best.is_none_or(|b| v > b) {
            *best = Some(v);
        }
    }
    stable.or(pre).cloned()
}
