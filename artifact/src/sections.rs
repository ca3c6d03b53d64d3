//! Reading and writing the top-level sections of a WebAssembly component.
//!
//! Only the *top level* matters to komp: the custom sections that carry the
//! manifest, the models and the signatures sit beside the component's code,
//! never inside its nested core modules.

use crate::ArtifactError;
use std::ops::Range;
use wasmparser::{Encoding, Parser, Payload};

/// The 8-byte preamble of a component (magic, version 0x0d, layer 1).
pub const COMPONENT_PREAMBLE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// One top-level section of a component file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Byte range of the whole section (id, size and payload) in the file.
    pub range: Range<usize>,
    /// The custom section's name, or `None` for a non-custom section.
    pub custom_name: Option<String>,
    /// Byte range of the custom section's data (after its name).
    pub data: Range<usize>,
}

/// Lists the top-level sections of a component without validating its code.
///
/// Fails for anything that is not a component (a core module gets its own
/// message, because packing a module instead of a component is a common
/// mistake) and for truncated or malformed section framing.
pub fn top_level_sections(bytes: &[u8]) -> Result<Vec<Section>, ArtifactError> {
    if bytes.len() < 8 || bytes[0..4] != COMPONENT_PREAMBLE[0..4] {
        return Err(ArtifactError::NotWasm);
    }
    if bytes[4..8] != COMPONENT_PREAMBLE[4..8] {
        if bytes[4..8] == [0x01, 0x00, 0x00, 0x00] {
            return Err(ArtifactError::CoreModule);
        }
        return Err(ArtifactError::Malformed {
            offset: 4,
            reason: format!("unsupported WebAssembly version/layer bytes {:02x?}", &bytes[4..8]),
        });
    }
    let mut sections = Vec::new();
    let mut parser = Parser::new(0);
    let mut offset = 0usize;
    loop {
        let chunk = parser
            .parse(&bytes[offset..], true)
            .map_err(|e| ArtifactError::Malformed { offset: e.offset(), reason: e.message().to_string() })?;
        let (consumed, payload) = match chunk {
            wasmparser::Chunk::Parsed { consumed, payload } => (consumed, payload),
            wasmparser::Chunk::NeedMoreData(_) => {
                return Err(ArtifactError::Malformed { offset, reason: "file ends inside a section".into() })
            }
        };
        let start = offset;
        offset += consumed;
        match payload {
            Payload::Version { encoding, .. } => {
                if encoding != Encoding::Component {
                    return Err(ArtifactError::CoreModule);
                }
            }
            Payload::End(_) => break,
            Payload::CustomSection(reader) => {
                let data_offset = reader.data_offset();
                sections.push(Section {
                    range: start..offset,
                    custom_name: Some(reader.name().to_string()),
                    data: data_offset..data_offset + reader.data().len(),
                });
            }
            Payload::ModuleSection { unchecked_range, .. } | Payload::ComponentSection { unchecked_range, .. } => {
                // Nested modules/components are code; their inner sections are
                // not ours. The parent parser has already advanced past the
                // nested body (it hands out a sub-parser we do not use), so we
                // only move our offset; `skip_section` is for code bodies only
                // and panics here.
                if unchecked_range.end > bytes.len() {
                    return Err(ArtifactError::Malformed {
                        offset: start,
                        reason: "file ends inside a nested module or component".into(),
                    });
                }
                offset = unchecked_range.end;
                sections.push(Section { range: start..offset, custom_name: None, data: start..offset });
            }
            _ => {
                sections.push(Section { range: start..offset, custom_name: None, data: start..offset });
            }
        }
    }
    if offset != bytes.len() {
        return Err(ArtifactError::Malformed {
            offset,
            reason: "trailing bytes after the end of the component".into(),
        });
    }
    Ok(sections)
}

/// Encodes one custom section (id 0, size, name, data).
pub fn encode_custom_section(name: &str, data: &[u8]) -> Vec<u8> {
    use wasm_encoder::Encode;
    let section = wasm_encoder::CustomSection { name: name.into(), data: data.into() };
    let mut out = Vec::with_capacity(data.len() + name.len() + 16);
    out.push(0); // custom section id
    section.encode(&mut out);
    out
}
