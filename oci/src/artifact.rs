//! Push and pull of komp components (the CNCF Wasm OCI artifact layout) and
//! of the signed revocation list (an artifact of its own media type).

use crate::client::{OciClient, MAX_SMALL_BYTES};
use crate::error::OciError;
use crate::reference::{tag_version, version_tag, Reference};
use crate::{
    annotations, sha256_digest, EMPTY_CONFIG_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, REVOCATIONS_REPOSITORY,
    REVOCATIONS_TAG, REVOCATION_LIST_MEDIA_TYPE, WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE,
};
use komp_artifact::Artifact;
use komp_registry::trust::Verification;
use komp_registry::{RevocationList, SignedRevocationList, TrustPolicy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// An OCI content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An OCI image manifest (the subset komp writes and reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The config of the Wasm OCI artifact layout (`application/vnd.wasm.config.v0+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WasmConfig {
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub architecture: String,
    pub os: String,
    #[serde(default)]
    pub layer_digests: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<WasmComponent>,
}

/// The component's top-level imports and exports, and its WIT world.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WasmComponent {
    pub exports: Vec<String>,
    pub imports: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// What a push stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// Where it is, with the tag.
    pub reference: Reference,
    /// `sha256:` of the manifest: pin it with `…@<digest>`.
    pub manifest_digest: String,
    /// `sha256:` of the layer (the file).
    pub layer_digest: String,
}

/// A component file as pulled: the transport checks passed, the file is
/// **not yet verified** against a trust policy.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub bytes: Vec<u8>,
    pub manifest_digest: String,
    pub annotations: BTreeMap<String, String>,
    pub config: WasmConfig,
}

/// Pushes a component file to `target` (`oci://host/repo[:tag]`; the tag
/// defaults to the file's version). The file is parsed (it must be a komp
/// component); with `verify`, it must also pass that trust policy and
/// revocation list, so a publisher cannot push what hosts will refuse.
pub fn push_component(
    client: &OciClient,
    bytes: &[u8],
    target: &Reference,
    verify: Option<(&TrustPolicy, &RevocationList)>,
) -> Result<Pushed, OciError> {
    client.check_registry(target)?;
    let artifact = match verify {
        Some((policy, revocations)) => {
            komp_registry::verify_bytes(bytes.to_vec(), policy, revocations)
                .map_err(|source| OciError::Refused { reference: target.to_string(), source })?
                .0
        }
        None => Artifact::parse(bytes.to_vec())?,
    };
    let m = artifact.manifest();
    let own_tag = version_tag(&m.version);
    let tag = match &target.tag {
        Some(t) => {
            if let Some(v) = tag_version(t) {
                if v != m.version {
                    return Err(OciError::TagMismatch {
                        tag: t.clone(),
                        tag_version: v.to_string(),
                        version: m.version.to_string(),
                    });
                }
            }
            t.clone()
        }
        None => own_tag,
    };
    let target = target.with_tag(&tag);

    let layer_digest = sha256_digest(bytes);
    let created = komp_registry::time::now_rfc3339();
    let (imports, exports) = component_names(bytes);
    let config = WasmConfig {
        created: created.clone(),
        author: Some(m.publisher.clone()),
        architecture: "wasm".into(),
        os: "wasip2".into(),
        layer_digests: vec![layer_digest.clone()],
        component: Some(WasmComponent { exports, imports, target: Some(m.world.clone()) }),
    };
    let config_bytes = serde_json::to_vec(&config).expect("plain structs serialise");
    let risk = serde_json::to_value(m.ai_act.risk_class).ok().and_then(|v| v.as_str().map(str::to_string));
    let mut ann = BTreeMap::new();
    ann.insert(annotations::NAME.to_string(), m.name.clone());
    ann.insert(annotations::VERSION.to_string(), m.version.to_string());
    ann.insert(annotations::COMPONENT_DIGEST.to_string(), format!("sha256:{}", artifact.digest()));
    ann.insert(annotations::RISK_CLASS.to_string(), risk.unwrap_or_default());
    ann.insert("org.opencontainers.image.title".into(), m.name.clone());
    ann.insert("org.opencontainers.image.version".into(), m.version.to_string());
    ann.insert("org.opencontainers.image.description".into(), m.description.clone());
    ann.insert("org.opencontainers.image.vendor".into(), m.publisher.clone());
    ann.insert("org.opencontainers.image.licenses".into(), m.licence.clone());
    ann.insert("org.opencontainers.image.created".into(), created);
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST_MEDIA_TYPE.into()),
        artifact_type: None,
        config: Descriptor {
            media_type: WASM_CONFIG_MEDIA_TYPE.into(),
            digest: sha256_digest(&config_bytes),
            size: config_bytes.len() as u64,
            annotations: BTreeMap::new(),
        },
        layers: vec![Descriptor {
            media_type: WASM_LAYER_MEDIA_TYPE.into(),
            digest: layer_digest.clone(),
            size: bytes.len() as u64,
            annotations: BTreeMap::from([("org.opencontainers.image.title".to_string(), format!("{}.wasm", m.name))]),
        }],
        annotations: ann,
    };
    client.push_blob(&target, bytes)?;
    client.push_blob(&target, &config_bytes)?;
    let manifest_bytes = serde_json::to_vec(&manifest).expect("plain structs serialise");
    let manifest_digest = client.put_manifest(&target, &manifest_bytes, OCI_MANIFEST_MEDIA_TYPE)?;
    Ok(Pushed { reference: target, manifest_digest, layer_digest })
}

/// Pulls the component at `source`, checking the manifest (media type,
/// digest, exactly one `application/wasm` layer within the size limit), the
/// config and the layer (size and digest). The file is **not verified**:
/// use [`pull_verified`] / [`pull_to_file`] unless you verify it yourself.
pub fn pull_component(client: &OciClient, source: &Reference) -> Result<Pulled, OciError> {
    let (manifest, manifest_digest, url) = get_image_manifest(client, source)?;
    if manifest.config.media_type != WASM_CONFIG_MEDIA_TYPE {
        return Err(OciError::WrongMediaType {
            what: "the manifest's config".into(),
            url,
            expected: WASM_CONFIG_MEDIA_TYPE.into(),
            found: manifest.config.media_type,
        });
    }
    let layer = single_layer(&manifest, &url, WASM_LAYER_MEDIA_TYPE)?;
    let config_bytes =
        client.get_blob(source, "the config", &manifest.config.digest, manifest.config.size, MAX_SMALL_BYTES)?;
    let config: WasmConfig = serde_json::from_slice(&config_bytes).map_err(|e| OciError::BadManifest {
        url: url.clone(),
        reason: format!("the Wasm config is not valid: {e}"),
    })?;
    if !config.layer_digests.is_empty() && config.layer_digests != [layer.digest.clone()] {
        return Err(OciError::BadManifest {
            url,
            reason: format!(
                "the config lists layers {:?}, but the manifest's layer is {}",
                config.layer_digests, layer.digest
            ),
        });
    }
    let bytes =
        client.get_blob(source, "the component layer", &layer.digest, layer.size, client.max_component_bytes)?;
    Ok(Pulled { bytes, manifest_digest, annotations: manifest.annotations, config })
}

/// [`pull_component`], then [`komp_registry::verify_bytes`] against the
/// local `policy` and `revocations`; the manifest's name, version and
/// component digest annotations (when present) must agree with the file.
pub fn pull_verified(
    client: &OciClient,
    source: &Reference,
    policy: &TrustPolicy,
    revocations: &RevocationList,
) -> Result<(Pulled, Verification), OciError> {
    let pulled = pull_component(client, source)?;
    let (_, verification) = komp_registry::verify_bytes(pulled.bytes.clone(), policy, revocations)
        .map_err(|source_err| OciError::Refused { reference: source.to_string(), source: source_err })?;
    let actual = [
        (annotations::NAME, verification.name.clone()),
        (annotations::VERSION, verification.version.to_string()),
        (annotations::COMPONENT_DIGEST, format!("sha256:{}", verification.digest)),
    ];
    for (key, value) in actual {
        if let Some(annotated) = pulled.annotations.get(key) {
            if *annotated != value {
                return Err(OciError::AnnotationMismatch {
                    reference: source.to_string(),
                    key: key.into(),
                    annotated: annotated.clone(),
                    actual: value,
                });
            }
        }
    }
    if let Some(v) = source.tag.as_deref().and_then(tag_version) {
        if v != verification.version {
            return Err(OciError::TagMismatch {
                tag: source.tag.clone().unwrap_or_default(),
                tag_version: v.to_string(),
                version: verification.version.to_string(),
            });
        }
    }
    Ok((pulled, verification))
}

/// [`pull_verified`], then writes the file to `out` atomically (a temporary
/// file in the same directory, fsync, rename): `out` never holds a file that
/// did not verify, nor half of one.
pub fn pull_to_file(
    client: &OciClient,
    source: &Reference,
    policy: &TrustPolicy,
    revocations: &RevocationList,
    out: &Path,
) -> Result<Verification, OciError> {
    let (pulled, verification) = pull_verified(client, source, policy, revocations)?;
    let io = |source: std::io::Error| OciError::Io { path: out.to_path_buf(), source };
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    std::io::Write::write_all(&mut tmp, &pulled.bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(out).map_err(|e| io(e.error))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(verification)
}

/// Where the revocation list of a namespace lives.
pub fn revocations_reference(namespace: &Reference) -> Result<Reference, OciError> {
    Ok(namespace.child(REVOCATIONS_REPOSITORY)?.with_tag(REVOCATIONS_TAG))
}

/// Pushes a signed revocation list under `namespace` (tags `latest` and
/// `serial-N`), as an artifact of type [`REVOCATION_LIST_MEDIA_TYPE`]. The
/// list is checked to be well-formed; who may sign it is for each host's policy.
pub fn push_revocations(
    client: &OciClient,
    list: &SignedRevocationList,
    namespace: &Reference,
) -> Result<Pushed, OciError> {
    let target = revocations_reference(namespace)?;
    client.check_registry(&target)?;
    let body = list
        .body_unverified()
        .map_err(|e| OciError::BadRevocationList { url: target.to_string(), reason: e.to_string() })?;
    let bytes = list.to_json().into_bytes();
    let empty = b"{}";
    client.push_blob(&target, empty)?;
    client.push_blob(&target, &bytes)?;
    let layer_digest = sha256_digest(&bytes);
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST_MEDIA_TYPE.into()),
        artifact_type: Some(REVOCATION_LIST_MEDIA_TYPE.into()),
        config: Descriptor {
            media_type: EMPTY_CONFIG_MEDIA_TYPE.into(),
            digest: sha256_digest(empty),
            size: empty.len() as u64,
            annotations: BTreeMap::new(),
        },
        layers: vec![Descriptor {
            media_type: REVOCATION_LIST_MEDIA_TYPE.into(),
            digest: layer_digest.clone(),
            size: bytes.len() as u64,
            annotations: BTreeMap::new(),
        }],
        annotations: BTreeMap::from([
            (annotations::REVOCATION_SERIAL.to_string(), body.serial.to_string()),
            ("org.opencontainers.image.created".to_string(), body.issued_at.clone()),
        ]),
    };
    let manifest_bytes = serde_json::to_vec(&manifest).expect("plain structs serialise");
    client.put_manifest(
        &target.with_tag(&format!("serial-{}", body.serial)),
        &manifest_bytes,
        OCI_MANIFEST_MEDIA_TYPE,
    )?;
    let manifest_digest = client.put_manifest(&target, &manifest_bytes, OCI_MANIFEST_MEDIA_TYPE)?;
    Ok(Pushed { reference: target, manifest_digest, layer_digest })
}

/// The signed revocation list under `namespace`, **unverified** (`None` if
/// the registry has none). Media types, sizes and digests are checked.
pub fn pull_revocations(client: &OciClient, namespace: &Reference) -> Result<Option<SignedRevocationList>, OciError> {
    let source = revocations_reference(namespace)?;
    let (manifest, _, url) = match get_image_manifest(client, &source) {
        Ok(m) => m,
        Err(OciError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    if manifest.artifact_type.as_deref().is_some_and(|t| t != REVOCATION_LIST_MEDIA_TYPE) {
        return Err(OciError::WrongMediaType {
            what: "the revocation list artifact".into(),
            url,
            expected: REVOCATION_LIST_MEDIA_TYPE.into(),
            found: manifest.artifact_type.unwrap_or_default(),
        });
    }
    let layer = single_layer(&manifest, &url, REVOCATION_LIST_MEDIA_TYPE)?;
    let bytes = client.get_blob(&source, "the revocation list", &layer.digest, layer.size, MAX_SMALL_BYTES)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| OciError::BadRevocationList { url: url.clone(), reason: "not UTF-8 text".into() })?;
    SignedRevocationList::from_json(&text)
        .map(Some)
        .map_err(|e| OciError::BadRevocationList { url, reason: e.to_string() })
}

fn get_image_manifest(client: &OciClient, source: &Reference) -> Result<(ImageManifest, String, String), OciError> {
    let (fetched, digest, url) = client.get_manifest(source, OCI_MANIFEST_MEDIA_TYPE)?;
    let content_type = fetched.content_type.as_deref().unwrap_or("").split(';').next().unwrap_or("").trim().to_string();
    if content_type != OCI_MANIFEST_MEDIA_TYPE {
        return Err(OciError::WrongMediaType {
            what: "the manifest".into(),
            url,
            expected: OCI_MANIFEST_MEDIA_TYPE.into(),
            found: content_type,
        });
    }
    let manifest: ImageManifest = serde_json::from_slice(&fetched.bytes)
        .map_err(|e| OciError::BadManifest { url: url.clone(), reason: format!("not an OCI image manifest: {e}") })?;
    if manifest.schema_version != 2 {
        return Err(OciError::BadManifest { url, reason: format!("schemaVersion {}, not 2", manifest.schema_version) });
    }
    if let Some(mt) = manifest.media_type.as_deref().filter(|mt| *mt != OCI_MANIFEST_MEDIA_TYPE) {
        return Err(OciError::WrongMediaType {
            what: "the manifest body".into(),
            url,
            expected: OCI_MANIFEST_MEDIA_TYPE.into(),
            found: mt.to_string(),
        });
    }
    Ok((manifest, digest, url))
}

fn single_layer(manifest: &ImageManifest, url: &str, media_type: &str) -> Result<Descriptor, OciError> {
    let [layer] = manifest.layers.as_slice() else {
        return Err(OciError::BadManifest {
            url: url.into(),
            reason: format!("it has {} layers; a komp artifact has exactly one", manifest.layers.len()),
        });
    };
    if layer.media_type != media_type {
        return Err(OciError::WrongMediaType {
            what: "the layer".into(),
            url: url.into(),
            expected: media_type.into(),
            found: layer.media_type.clone(),
        });
    }
    if !layer.digest.starts_with("sha256:") {
        return Err(OciError::BadManifest {
            url: url.into(),
            reason: format!("layer digest {:?} is not sha256", layer.digest),
        });
    }
    Ok(layer.clone())
}

/// The top-level import and export names of a component (empty if it
/// cannot be read: they are informative, the signature is what counts).
fn component_names(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
    use wasmparser::{Parser, Payload};
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let Ok(payload) = payload else { return (vec![], vec![]) };
        match payload {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(r) if depth == 0 => {
                imports.extend(r.into_iter().flatten().map(|i| i.name.name.to_string()))
            }
            Payload::ComponentExportSection(r) if depth == 0 => {
                exports.extend(r.into_iter().flatten().map(|e| e.name.name.to_string()))
            }
            _ => {}
        }
    }
    (imports, exports)
}
