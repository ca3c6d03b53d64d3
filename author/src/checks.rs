//! Checks on a built component and its model files that need nothing run:
//! each failure says what the author should change. The checks that need the
//! runtime (metadata against the manifest, golden vectors, the schema's
//! examples) are `komp build`'s, over `komp-runtime`.

use std::fmt;

/// The interfaces a component may import: `wasi:nn` for its models, the
/// contract's own `types` interface (types only, no functions), and the WASI
/// interfaces Rust's standard library links on `wasm32-wasip2` (the host
/// links them but grants nothing through them: no files, no environment, a
/// fixed clock, seeded randomness).
pub const ALLOWED_IMPORT_PREFIXES: [&str; 7] =
    ["wasi:nn/", "komp:component/types@", "wasi:cli/", "wasi:io/", "wasi:clocks/", "wasi:random/", "wasi:filesystem/"];

/// The functions the `standard-component` world exports.
pub const WORLD_EXPORTS: [&str; 2] = ["metadata", "predict"];

/// What is wrong with a built component, worded for its author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentProblem {
    /// Not a component at all (a core module or another file).
    NotAComponent(String),
    /// The component exports nothing: the export macro is missing.
    NoExports,
    /// The component exports other things than the world's functions: it
    /// implements another world (a `wasi:cli` program, an older WIT).
    WrongWorld { exports: Vec<String> },
    /// One of the world's functions is not exported.
    MissingExport { missing: String },
    /// Imports beyond what a komp host links.
    ForbiddenImports { imports: Vec<String> },
}

impl fmt::Display for ComponentProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComponentProblem::NotAComponent(why) => write!(
                f,
                "the built file is not a WebAssembly component ({why}); build with \
                 `cargo build --target wasm32-wasip2` (which makes components), not wasm32-unknown-unknown or wasm32-wasip1"
            ),
            ComponentProblem::NoExports => write!(
                f,
                "the component exports nothing, so a host cannot call it (missing export of `metadata` and `predict`); \
                 end src/lib.rs with `komp_sdk::export_component!(YourType with_types_in komp_sdk::bindings);` \
                 where YourType implements `komp_sdk::Guest`, and keep `crate-type = [\"cdylib\"]` in Cargo.toml"
            ),
            ComponentProblem::WrongWorld { exports } => write!(
                f,
                "the component implements the wrong world: it exports {} instead of `metadata` and `predict` \
                 (world `{}`); a komp component is a library (`crate-type = [\"cdylib\"]`, no `fn main`) \
                 that implements `komp_sdk::Guest` and ends with `komp_sdk::export_component!(…)`",
                quoted(exports),
                komp_artifact::manifest::STANDARD_WORLD
            ),
            ComponentProblem::MissingExport { missing } => write!(
                f,
                "the component does not export `{missing}` (world `{}` needs `metadata` and `predict`); \
                 implement it in your `komp_sdk::Guest` impl and build against the komp-sdk of this komp version",
                komp_artifact::manifest::STANDARD_WORLD
            ),
            ComponentProblem::ForbiddenImports { imports } => write!(
                f,
                "the component imports {}, which a komp host does not provide: a component may import only \
                 `wasi:nn` (its models) and the WASI interfaces Rust's standard library links. Remove the code or \
                 dependency that uses it (`cargo tree` shows which crate pulls in networking, HTTP or other host \
                 access); a component gets everything it needs through its input and its bundled models",
                quoted(imports)
            ),
        }
    }
}

fn quoted(items: &[String]) -> String {
    items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
}

/// The top-level imports and exports of a component.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentShape {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

/// Reads the top-level imports and exports (nested modules and components
/// are skipped).
pub fn component_shape(wasm: &[u8]) -> Result<ComponentShape, ComponentProblem> {
    use wasmparser::{Encoding, Parser, Payload};
    let mut shape = ComponentShape::default();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| ComponentProblem::NotAComponent(e.to_string()))?;
        match payload {
            Payload::Version { encoding: Encoding::Module, .. } if depth == 0 => {
                return Err(ComponentProblem::NotAComponent("it is a core WebAssembly module".into()))
            }
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    let import = import.map_err(|e| ComponentProblem::NotAComponent(e.to_string()))?;
                    // A world's `use` of the contract's types shows up as type
                    // imports (`prediction`, `error`, ...): they give the
                    // component no capability, so only instances and
                    // functions count.
                    if !matches!(import.ty, wasmparser::ComponentTypeRef::Type(_)) {
                        shape.imports.push(import.name.name.to_string());
                    }
                }
            }
            Payload::ComponentExportSection(reader) if depth == 0 => {
                for export in reader {
                    let export = export.map_err(|e| ComponentProblem::NotAComponent(e.to_string()))?;
                    shape.exports.push(export.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(shape)
}

/// Every problem with a component's imports and exports (empty: fine).
pub fn check_component(wasm: &[u8]) -> Vec<ComponentProblem> {
    let shape = match component_shape(wasm) {
        Ok(s) => s,
        Err(p) => return vec![p],
    };
    let mut problems = Vec::new();
    let forbidden: Vec<String> =
        shape.imports.iter().filter(|i| !ALLOWED_IMPORT_PREFIXES.iter().any(|p| i.starts_with(p))).cloned().collect();
    let has = |n: &str| shape.exports.iter().any(|e| e == n);
    if shape.exports.is_empty() {
        problems.push(ComponentProblem::NoExports);
    } else if !WORLD_EXPORTS.iter().any(|n| has(n)) {
        problems.push(ComponentProblem::WrongWorld { exports: shape.exports.clone() });
    } else if let Some(missing) = WORLD_EXPORTS.iter().find(|n| !has(n)) {
        problems.push(ComponentProblem::MissingExport { missing: missing.to_string() });
    }
    if !forbidden.is_empty() {
        problems.push(ComponentProblem::ForbiddenImports { imports: forbidden });
    }
    problems
}

/// What an ONNX file declares: the graph's inputs (without initialisers) and outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnnxInfo {
    pub ir_version: u64,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// Reads an ONNX file's graph inputs and outputs (a minimal protobuf walk:
/// no model is parsed or compiled here). An error says what the file seems
/// to be instead and how to make an ONNX model.
pub fn onnx_info(bytes: &[u8]) -> Result<OnnxInfo, String> {
    let not_onnx = |what: &str| {
        format!(
            "it is not an ONNX model ({what}); export the trained model to ONNX \
             (komp_train.export for scikit-learn, skl2onnx, or torch.onnx.export) and point `path` at the .onnx file"
        )
    };
    let looks_like = if bytes.is_empty() {
        Some("the file is empty")
    } else if bytes.starts_with(b"PK\x03\x04") {
        Some("it is a zip archive, such as a PyTorch .pt file")
    } else if bytes[0] == 0x80 {
        Some("it is a Python pickle, such as a joblib or .pkl file")
    } else if bytes.starts_with(b"\x89HDF") {
        Some("it is an HDF5 file, such as a Keras .h5 model")
    } else if bytes.len() > 8 && bytes[8] == b'{' {
        Some("it looks like a safetensors file: weights without a graph")
    } else {
        None
    };
    if let Some(what) = looks_like {
        return Err(not_onnx(what));
    }
    let top = fields(bytes).map_err(|_| not_onnx("it is not a protobuf message"))?;
    let ir_version = top.iter().find_map(|f| match f {
        (1, Field::Varint(v)) => Some(*v),
        _ => None,
    });
    let graph = top.iter().find_map(|f| match f {
        (7, Field::Bytes(b)) => Some(*b),
        _ => None,
    });
    let (Some(ir_version), Some(graph)) = (ir_version, graph) else {
        return Err(not_onnx("it has no ir_version and graph, so it is not an ONNX ModelProto"));
    };
    let graph = fields(graph).map_err(|_| not_onnx("its graph is not a protobuf message"))?;
    let name_of = |b: &[u8]| -> Option<String> {
        fields(b).ok()?.iter().find_map(|f| match f {
            (1, Field::Bytes(n)) => std::str::from_utf8(n).ok().map(str::to_string),
            _ => None,
        })
    };
    let initialisers: Vec<String> = graph
        .iter()
        .filter_map(|f| match f {
            (5, Field::Bytes(t)) => fields(t).ok()?.iter().find_map(|f| match f {
                (8, Field::Bytes(n)) => std::str::from_utf8(n).ok().map(str::to_string),
                _ => None,
            }),
            _ => None,
        })
        .collect();
    let list = |number: u64| -> Vec<String> {
        graph
            .iter()
            .filter_map(|f| match f {
                (n, Field::Bytes(b)) if *n == number => name_of(b),
                _ => None,
            })
            .collect()
    };
    let inputs = list(11).into_iter().filter(|n| !initialisers.contains(n)).collect();
    Ok(OnnxInfo { ir_version, inputs, outputs: list(12) })
}

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The fields of one protobuf message, in order.
fn fields(mut b: &[u8]) -> Result<Vec<(u64, Field<'_>)>, ()> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b)?;
        let (number, wire) = (key >> 3, key & 7);
        if number == 0 {
            return Err(());
        }
        let field = match wire {
            0 => Field::Varint(varint(&mut b)?),
            1 | 5 => {
                let n = if wire == 1 { 8 } else { 4 };
                if b.len() < n {
                    return Err(());
                }
                b = &b[n..];
                Field::Fixed
            }
            2 => {
                let len = usize::try_from(varint(&mut b)?).map_err(|_| ())?;
                if b.len() < len {
                    return Err(());
                }
                let (head, tail) = b.split_at(len);
                b = tail;
                Field::Bytes(head)
            }
            _ => return Err(()),
        };
        out.push((number, field));
    }
    Ok(out)
}

fn varint(b: &mut &[u8]) -> Result<u64, ()> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = b.split_first().ok_or(())?;
        *b = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(())
}

/// The largest component file a komp registry accepts by default
/// (`komp serve-registry`'s `max_artifact_bytes`); larger models cannot be
/// published.
pub const DEFAULT_MAX_COMPONENT_BYTES: u64 = 512 << 20;

/// The message for models that together exceed `limit` bytes.
pub fn models_too_large(models: &[(String, u64)], limit: u64) -> Option<String> {
    let total: u64 = models.iter().map(|(_, n)| n).sum();
    (total > limit).then(|| {
        let list = models.iter().map(|(n, s)| format!("`{n}` {}", human_bytes(*s))).collect::<Vec<_>>().join(", ");
        format!(
            "the models are too large: {list} ({} in all) but a component file may be at most {} \
             (the registry's upload limit); make the model smaller (fewer features or trees, float16 or \
             int8 quantisation, pruning) or raise the registry's `max_artifact_bytes` and pass the same \
             limit to --max-component-bytes",
            human_bytes(total),
            human_bytes(limit)
        )
    })
}

/// `12.3 MiB`, `17 KiB`, `512 B`.
pub fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20))
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}
