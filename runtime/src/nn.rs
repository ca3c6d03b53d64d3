//! `wasi:nn` for components, implemented natively with tract.
//!
//! Why in the host: a model is parsed and optimised once per model digest and
//! shared (behind an `Arc`) by every instance of every component that bundles
//! it; per call only the computation runs, at native speed. Components see
//! only the standard `wasi:nn` WIT.
//!
//! Isolation rules enforced here:
//! - `load-by-name` resolves only among the *calling component's own*
//!   `komp-model:<name>` sections (the per-call [`NnState::models`] map).
//! - `load` with raw bytes is refused: a component cannot smuggle in a model
//!   that was not declared, digested and signed with it.
//! - Every tensor is size-checked, and *everything* one call makes the host
//!   hold is counted against one per-call byte budget
//!   (`RuntimeConfig::max_tensor_bytes_per_call`): tensor data and dimensions,
//!   the tract tensors of a running `compute`, its outputs, `wasi:nn` error
//!   texts, and a fixed cost per resource-table entry. The table itself is
//!   capped in entries (`RuntimeConfig::max_host_resources_per_call`). So a
//!   component cannot make the host allocate without bound, whether with big
//!   tensors, many tiny ones, huge `dims` lists or errors with long names.
//! - Names a component chooses (a model name, an input name) are shortened
//!   in the error texts the host builds from them ([`shown`]).

use crate::bindings::wasi::nn::{errors, graph, inference, tensor};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::DimLike;
use wasmtime::component::{Resource, ResourceTable, ResourceTableError};

pub use errors::ErrorCode;
pub use tensor::TensorType;

/// A model parsed and optimised by tract, shared by all instances.
pub struct LoadedModel {
    /// The name components load it by.
    pub name: String,
    /// Hex sha256 of the ONNX bytes.
    pub digest: String,
    plan: Arc<TypedRunnableModel>,
    inputs: Vec<IoSpec>,
    outputs: Vec<String>,
}

/// A model input: its name, element type and shape (`None` = symbolic dim).
#[derive(Debug, Clone)]
pub struct IoSpec {
    pub name: String,
    pub datum: DatumType,
    pub shape: Vec<Option<usize>>,
}

/// Why tract could not load a model, or refused to run it on given inputs.
/// The texts name the model's own inputs; names a component chose are
/// shortened ([`shown`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// tract could not parse, type or optimise the ONNX graph (its error chain).
    #[error("{reason}")]
    Load { reason: String },
    /// The same input name was given twice.
    #[error("input {} is given twice", shown(.name))]
    DuplicateInput { name: String },
    /// A model input was not given.
    #[error("missing input `{name}` (the model takes: {})", .takes.join(", "))]
    MissingInput { name: String, takes: Vec<String> },
    /// An input has the wrong element type.
    #[error("input `{name}` must be {expected:?}, got {got:?}")]
    WrongType { name: String, expected: DatumType, got: DatumType },
    /// An input has the wrong shape (`None` in `expected` is a symbolic dimension).
    #[error("input `{name}` must have shape {}, got {got:?}", fmt_shape(.expected))]
    WrongShape { name: String, expected: Vec<Option<usize>>, got: Vec<usize> },
    /// An input the model does not have.
    #[error("the model has no input {} (it takes: {})", shown(.name), .takes.join(", "))]
    UnknownInput { name: String, takes: Vec<String> },
    /// tract failed while running the model.
    #[error("inference failed: {reason}")]
    Inference { reason: String },
    /// tract panicked on these inputs (e.g. a reduction over an empty axis);
    /// the panic was caught and the model still works.
    #[error("inference failed: the engine rejected these inputs ({reason})")]
    Rejected { reason: String },
}

impl LoadedModel {
    /// Parses and optimises ONNX bytes. This is the expensive step; do it once
    /// per digest.
    pub fn load(name: &str, digest: &str, onnx: &[u8]) -> Result<LoadedModel, ModelError> {
        let load = |e: TractError| ModelError::Load { reason: format!("{e:#}") };
        let model = tract_onnx::onnx().model_for_read(&mut std::io::Cursor::new(onnx)).map_err(load)?;
        let outputs: Vec<String> = model
            .output_outlets()
            .map_err(load)?
            .iter()
            .map(|o| model.outlet_label(*o).map(str::to_string).unwrap_or_else(|| model.node(o.node).name.clone()))
            .collect();
        let typed = model.into_optimized().map_err(load)?;
        let mut inputs = Vec::new();
        for (i, outlet) in typed.input_outlets().map_err(load)?.iter().enumerate() {
            let fact = typed.input_fact(i).map_err(load)?;
            inputs.push(IoSpec {
                name: typed.node(outlet.node).name.clone(),
                datum: fact.datum_type,
                shape: fact.shape.iter().map(|d| d.to_usize().ok()).collect(),
            });
        }
        let plan = typed.into_runnable().map_err(load)?;
        Ok(LoadedModel { name: name.to_string(), digest: digest.to_string(), plan, inputs, outputs })
    }

    /// Like [`LoadedModel::load`], but shared by every caller in this process
    /// while any of them holds it: a second runtime, or a second component
    /// that bundles the same model, gets the same parsed and optimised plan.
    ///
    /// Why process-wide: a pretrained encoder takes ~1.7 s to optimise in a
    /// release build (~300 MB resident; BENCHMARKS.md), and a vendor that embeds
    /// several runtimes, or a test binary with many servers, would otherwise
    /// pay that per runtime. Concurrent loads of one digest wait for the first.
    pub fn load_shared(name: &str, digest: &str, onnx: &[u8]) -> Result<Arc<LoadedModel>, ModelError> {
        type Slot = Arc<Mutex<Weak<LoadedModel>>>;
        static LOADED: LazyLock<Mutex<HashMap<String, Slot>>> = LazyLock::new(Default::default);
        let slot = {
            let mut loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
            // Forget slots whose model every holder dropped; a slot another caller holds (it is being filled) stays.
            loaded.retain(|_, slot| {
                Arc::strong_count(slot) > 1 || slot.try_lock().map(|m| m.strong_count() > 0).unwrap_or(true)
            });
            loaded.entry(digest.to_string()).or_default().clone()
        };
        let mut model = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(m) = model.upgrade() {
            return Ok(m);
        }
        let m = Arc::new(LoadedModel::load(name, digest, onnx)?);
        *model = Arc::downgrade(&m);
        Ok(m)
    }

    /// The model's inputs, in graph order.
    pub fn inputs(&self) -> &[IoSpec] {
        &self.inputs
    }

    /// The model's output names, in graph order.
    pub fn outputs(&self) -> &[String] {
        &self.outputs
    }

    /// Runs the model on named tensors (any order) and returns all outputs.
    pub fn run(
        &self,
        named: Vec<(String, tract_onnx::prelude::Tensor)>,
    ) -> Result<Vec<(String, tract_onnx::prelude::Tensor)>, ModelError> {
        let mut by_name: HashMap<String, tract_onnx::prelude::Tensor> = HashMap::new();
        for (n, t) in named {
            if by_name.contains_key(&n) {
                return Err(ModelError::DuplicateInput { name: n });
            }
            by_name.insert(n, t);
        }
        let mut values: TVec<TValue> = tvec![];
        for spec in &self.inputs {
            let t = by_name
                .remove(&spec.name)
                .ok_or_else(|| ModelError::MissingInput { name: spec.name.clone(), takes: self.input_names() })?;
            if t.datum_type() != spec.datum {
                return Err(ModelError::WrongType {
                    name: spec.name.clone(),
                    expected: spec.datum,
                    got: t.datum_type(),
                });
            }
            let ok = t.rank() == spec.shape.len()
                && t.shape().iter().zip(&spec.shape).all(|(a, b)| b.is_none_or(|b| b == *a));
            if !ok {
                return Err(ModelError::WrongShape {
                    name: spec.name.clone(),
                    expected: spec.shape.clone(),
                    got: t.shape().to_vec(),
                });
            }
            values.push(t.into_tvalue());
        }
        if let Some(extra) = by_name.into_keys().next() {
            return Err(ModelError::UnknownInput { name: extra, takes: self.input_names() });
        }
        // tract panics on some inputs it should reject (e.g. a ReduceSum over
        // an empty axis, an out-of-range Gather index); a component must not
        // be able to take the host down with a tensor, so a panic is an error.
        // The plan holds no state across runs (each run builds its own), so
        // nothing is left half-updated by an unwind.
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.plan.run(values)));
        let out = match run {
            Ok(out) => out.map_err(|e| ModelError::Inference { reason: format!("{e:#}") })?,
            Err(panic) => {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                return Err(ModelError::Rejected { reason: why });
            }
        };
        Ok(self.outputs.iter().cloned().zip(out.into_iter().map(|v| v.into_tensor())).collect())
    }

    fn input_names(&self) -> Vec<String> {
        self.inputs.iter().map(|i| i.name.clone()).collect()
    }
}

fn fmt_shape(s: &[Option<usize>]) -> String {
    let dims: Vec<String> = s.iter().map(|d| d.map_or("?".to_string(), |d| d.to_string())).collect();
    format!("[{}]", dims.join(", "))
}

/// The models one component may load, by name.
pub type ModelSet = Arc<HashMap<String, Arc<LoadedModel>>>;

/// A `wasi:nn` graph resource: one of the caller's own models.
pub struct Graph(Arc<LoadedModel>);

/// A `wasi:nn` tensor resource held in the host.
pub struct Tensor {
    pub dims: Vec<u32>,
    pub ty: TensorType,
    pub data: Vec<u8>,
}

/// A `wasi:nn` execution context resource.
pub struct ExecutionContext(Arc<LoadedModel>);

/// A `wasi:nn` error resource.
#[derive(Debug)]
pub struct NnError {
    pub code: ErrorCode,
    pub message: String,
}

/// What one resource-table entry costs the host besides its payload: the
/// table slot (`Entry`, 56 bytes on x86-64), the box of the value (up to
/// `size_of::<Tensor>()` = 56 bytes) and the allocator's headers. Rounded up,
/// so that many tiny resources are counted as what they cost, not as zero.
pub const RESOURCE_OVERHEAD: usize = 128;

/// How many bytes of a name chosen by a component are quoted in an error
/// text the host builds; the rest is replaced by its length.
pub const MAX_NAME_IN_MESSAGE: usize = 64;

/// Bytes the host holds for one resource, counted against the call's budget.
trait HostBytes {
    fn host_bytes(&self) -> usize;
}

impl HostBytes for Graph {
    fn host_bytes(&self) -> usize {
        RESOURCE_OVERHEAD
    }
}

impl HostBytes for ExecutionContext {
    fn host_bytes(&self) -> usize {
        RESOURCE_OVERHEAD
    }
}

impl HostBytes for Tensor {
    fn host_bytes(&self) -> usize {
        RESOURCE_OVERHEAD + self.data.len() + std::mem::size_of_val(self.dims.as_slice())
    }
}

impl HostBytes for NnError {
    fn host_bytes(&self) -> usize {
        RESOURCE_OVERHEAD + self.message.len()
    }
}

/// Bytes of a tract tensor's elements.
fn tract_bytes(t: &tract_onnx::prelude::Tensor) -> usize {
    t.len().saturating_mul(t.datum_type().size_of())
}

/// A name chosen by a component, as quoted in an error text: in backticks,
/// control characters escaped, at most [`MAX_NAME_IN_MESSAGE`] bytes of it.
pub fn shown(name: &str) -> String {
    let mut end = name.len().min(MAX_NAME_IN_MESSAGE);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let head: String = name[..end].chars().flat_map(char::escape_debug).collect();
    if end < name.len() {
        format!("`{head}…` ({} bytes)", name.len())
    } else {
        format!("`{head}`")
    }
}

/// Raised as a trap when a component makes the host hold more than its
/// limits allow; the runtime turns it into [`crate::RuntimeError::HostLimit`]
/// (a component fault).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostLimit {
    #[error("a tensor of {size} bytes exceeds the per-tensor limit of {limit} bytes (max_tensor_bytes)")]
    Tensor { size: usize, limit: usize },
    #[error(
        "holding {held} bytes in the host for this call (wasi:nn tensors and their dimensions, model inputs and \
         outputs, errors, handles) exceeds the per-call limit of {limit} bytes (max_tensor_bytes_per_call)"
    )]
    Held { held: usize, limit: usize },
    #[error(
        "holding more than {limit} host resources at once (wasi:nn tensors, graphs, errors; WASI handles) \
         exceeds the per-call limit (max_host_resources_per_call)"
    )]
    Resources { limit: usize },
}

/// Per-instance `wasi:nn` state.
pub struct NnState {
    /// The calling component's own models; nothing else can be loaded.
    pub models: ModelSet,
    pub max_tensor_bytes: usize,
    /// The per-call budget of bytes held in the host (see the module docs).
    pub max_held_bytes: usize,
    /// Bytes held in the host for this call now.
    pub held_bytes: usize,
}

/// A borrow of the store's resource table and `wasi:nn` state, on which the
/// generated host traits are implemented.
pub struct NnView<'a> {
    pub table: &'a mut ResourceTable,
    pub state: &'a mut NnState,
}

impl NnView<'_> {
    fn error<T>(&mut self, code: ErrorCode, message: String) -> wasmtime::Result<Result<T, Resource<NnError>>> {
        Ok(Err(self.push(NnError { code, message })?))
    }

    /// Fails if one tensor of `bytes` is over the per-tensor limit.
    fn check_tensor(&self, bytes: usize) -> wasmtime::Result<()> {
        if bytes > self.state.max_tensor_bytes {
            return Err(HostLimit::Tensor { size: bytes, limit: self.state.max_tensor_bytes }.into());
        }
        Ok(())
    }

    /// Counts `bytes` against the call's budget, or fails if they do not fit.
    fn reserve(&mut self, bytes: usize) -> wasmtime::Result<()> {
        let held = self.state.held_bytes.saturating_add(bytes);
        if held > self.state.max_held_bytes {
            return Err(HostLimit::Held { held, limit: self.state.max_held_bytes }.into());
        }
        self.state.held_bytes = held;
        Ok(())
    }

    fn release(&mut self, bytes: usize) {
        self.state.held_bytes = self.state.held_bytes.saturating_sub(bytes);
    }

    /// Puts `value` in the resource table, counted against the call's budget.
    fn push<T: HostBytes + Send + 'static>(&mut self, value: T) -> wasmtime::Result<Resource<T>> {
        let bytes = value.host_bytes();
        self.reserve(bytes)?;
        self.table.push(value).map_err(|e| {
            self.release(bytes);
            table_error(e, self.table)
        })
    }

    /// Takes `r` out of the resource table and stops counting it.
    fn delete<T: HostBytes + 'static>(&mut self, r: Resource<T>) -> wasmtime::Result<T> {
        let value = self.table.delete(r)?;
        self.release(value.host_bytes());
        Ok(value)
    }
}

/// A full resource table is the component holding too much, not a host bug.
pub fn table_error(e: ResourceTableError, table: &ResourceTable) -> wasmtime::Error {
    match e {
        ResourceTableError::Full => HostLimit::Resources { limit: table.max_capacity() }.into(),
        other => other.into(),
    }
}

impl graph::Host for NnView<'_> {
    fn load(
        &mut self,
        _builder: Vec<graph::GraphBuilder>,
        _encoding: graph::GraphEncoding,
        _target: graph::ExecutionTarget,
    ) -> wasmtime::Result<Result<Resource<Graph>, Resource<NnError>>> {
        self.error(
            ErrorCode::UnsupportedOperation,
            "komp components may only run the models bundled and signed with them: use load-by-name".into(),
        )
    }

    fn load_by_name(&mut self, name: String) -> wasmtime::Result<Result<Resource<Graph>, Resource<NnError>>> {
        match self.state.models.get(&name).cloned() {
            Some(m) => Ok(Ok(self.push(Graph(m))?)),
            None => {
                let mut have: Vec<&str> = self.state.models.keys().map(String::as_str).collect();
                have.sort();
                let msg = format!(
                    "this component bundles no model named {} (it bundles: {})",
                    shown(&name),
                    if have.is_empty() { "none".to_string() } else { have.join(", ") }
                );
                self.error(ErrorCode::NotFound, msg)
            }
        }
    }
}

impl graph::HostGraph for NnView<'_> {
    fn init_execution_context(
        &mut self,
        graph: Resource<Graph>,
    ) -> wasmtime::Result<Result<Resource<ExecutionContext>, Resource<NnError>>> {
        let model = self.table.get(&graph)?.0.clone();
        Ok(Ok(self.push(ExecutionContext(model))?))
    }

    fn drop(&mut self, graph: Resource<Graph>) -> wasmtime::Result<()> {
        self.delete(graph)?;
        Ok(())
    }
}

impl tensor::Host for NnView<'_> {}

impl tensor::HostTensor for NnView<'_> {
    fn new(&mut self, dims: Vec<u32>, ty: TensorType, data: Vec<u8>) -> wasmtime::Result<Resource<Tensor>> {
        // `dims` and `data` were copied out of the component's memory (so
        // their size is bounded by its memory cap); what is kept is counted.
        self.check_tensor(data.len())?;
        self.push(Tensor { dims, ty, data })
    }

    fn dimensions(&mut self, t: Resource<Tensor>) -> wasmtime::Result<Vec<u32>> {
        Ok(self.table.get(&t)?.dims.clone())
    }

    fn ty(&mut self, t: Resource<Tensor>) -> wasmtime::Result<TensorType> {
        Ok(self.table.get(&t)?.ty)
    }

    fn data(&mut self, t: Resource<Tensor>) -> wasmtime::Result<Vec<u8>> {
        Ok(self.table.get(&t)?.data.clone())
    }

    fn drop(&mut self, t: Resource<Tensor>) -> wasmtime::Result<()> {
        self.delete(t)?;
        Ok(())
    }
}

impl inference::Host for NnView<'_> {}

impl inference::HostGraphExecutionContext for NnView<'_> {
    fn compute(
        &mut self,
        ctx: Resource<ExecutionContext>,
        inputs: Vec<(String, Resource<Tensor>)>,
    ) -> wasmtime::Result<Result<Vec<(String, Resource<Tensor>)>, Resource<NnError>>> {
        let model = self.table.get(&ctx)?.0.clone();
        // The tract tensors alive during this call (inputs, then outputs) are
        // counted in `staged` and released when it returns, however it returns.
        let mut staged = 0usize;
        let result = self.compute_staged(&model, inputs, &mut staged);
        self.release(staged);
        result
    }

    fn drop(&mut self, ctx: Resource<ExecutionContext>) -> wasmtime::Result<()> {
        self.delete(ctx)?;
        Ok(())
    }
}

impl NnView<'_> {
    fn compute_staged(
        &mut self,
        model: &LoadedModel,
        inputs: Vec<(String, Resource<Tensor>)>,
        staged: &mut usize,
    ) -> wasmtime::Result<Result<Vec<(String, Resource<Tensor>)>, Resource<NnError>>> {
        let mut named = Vec::with_capacity(inputs.len());
        for (name, res) in inputs {
            // Passing a tensor to compute consumes it (it is an owned handle).
            // It stays counted until its tract copy is.
            let t = self.table.delete(res)?;
            let converted = to_tract(&t);
            let result = match converted {
                Ok(tt) => {
                    let bytes = tract_bytes(&tt);
                    self.reserve(bytes)?;
                    *staged = staged.saturating_add(bytes);
                    named.push((name, tt));
                    None
                }
                Err(msg) => Some(format!("input {} of model `{}`: {msg}", shown(&name), model.name)),
            };
            self.release(t.host_bytes());
            if let Some(msg) = result {
                return self.error(ErrorCode::InvalidArgument, msg);
            }
        }
        let outputs = match model.run(named) {
            Ok(o) => o,
            Err(msg) => return self.error(ErrorCode::InvalidArgument, format!("model `{}`: {msg}", model.name)),
        };
        // The inputs are gone; the outputs are held until converted.
        self.release(std::mem::take(staged));
        for (_, t) in &outputs {
            self.check_tensor(tract_bytes(t))?;
        }
        let bytes = outputs.iter().fold(0usize, |a, (_, t)| a.saturating_add(tract_bytes(t)));
        self.reserve(bytes)?;
        *staged = bytes;
        let mut result = Vec::with_capacity(outputs.len());
        for (name, t) in outputs {
            let t = match from_tract(&t) {
                Ok(t) => t,
                Err(msg) => return self.error(ErrorCode::RuntimeError, format!("output `{name}`: {msg}")),
            };
            result.push((name, self.push(t)?));
        }
        Ok(Ok(result))
    }
}

impl errors::Host for NnView<'_> {}

impl crate::bindings::komp::component::types::Host for NnView<'_> {}

impl errors::HostError for NnView<'_> {
    fn code(&mut self, e: Resource<NnError>) -> wasmtime::Result<ErrorCode> {
        Ok(self.table.get(&e)?.code)
    }

    fn data(&mut self, e: Resource<NnError>) -> wasmtime::Result<String> {
        Ok(self.table.get(&e)?.message.clone())
    }

    fn drop(&mut self, e: Resource<NnError>) -> wasmtime::Result<()> {
        self.delete(e)?;
        Ok(())
    }
}

fn elem_size(ty: TensorType) -> usize {
    match ty {
        TensorType::Fp16 | TensorType::Bf16 => 2,
        TensorType::Fp32 | TensorType::I32 => 4,
        TensorType::Fp64 | TensorType::I64 => 8,
        TensorType::U8 => 1,
    }
}

/// Why a tensor cannot cross between `wasi:nn` and tract. The texts reach the
/// component (as the `wasi:nn` error's data), so they say what was wrong.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TensorError {
    /// The dimensions multiply past the address space.
    #[error("dimensions {dims:?} overflow")]
    DimensionsOverflow { dims: Vec<u32> },
    /// The data is not as long as the dimensions and element type say.
    #[error("dimensions {dims:?} of {ty:?} need {expected} bytes, but {given} bytes were given")]
    WrongLength { dims: Vec<u32>, ty: TensorType, expected: usize, given: usize },
    /// An element type the tract backend does not take (fp16, bf16).
    #[error("tensor type {ty:?} is not supported by the tract backend")]
    UnsupportedType { ty: TensorType },
    /// A model output dimension that `wasi:nn` (u32 dimensions) cannot carry.
    #[error("dimension {dim} too large")]
    DimensionTooLarge { dim: usize },
    /// A model output element type that `wasi:nn` cannot carry.
    #[error("model produced {datum:?}, which wasi:nn cannot carry")]
    UnsupportedOutput { datum: DatumType },
    /// tract refused the tensor (its error chain).
    #[error("{reason}")]
    Tract { reason: String },
}

impl TensorError {
    fn tract(e: TractError) -> TensorError {
        TensorError::Tract { reason: format!("{e:#}") }
    }
}

/// Converts a `wasi:nn` tensor (little-endian bytes) to a tract tensor.
pub fn to_tract(t: &Tensor) -> Result<tract_onnx::prelude::Tensor, TensorError> {
    let shape: Vec<usize> = t.dims.iter().map(|d| *d as usize).collect();
    let overflow = || TensorError::DimensionsOverflow { dims: t.dims.clone() };
    let count = shape.iter().try_fold(1usize, |a, d| a.checked_mul(*d)).ok_or_else(overflow)?;
    let expected = count.checked_mul(elem_size(t.ty)).ok_or_else(overflow)?;
    if expected != t.data.len() {
        return Err(TensorError::WrongLength { dims: t.dims.clone(), ty: t.ty, expected, given: t.data.len() });
    }
    fn build<T: Datum + Copy, const N: usize>(
        shape: &[usize],
        data: &[u8],
        f: fn([u8; N]) -> T,
    ) -> Result<tract_onnx::prelude::Tensor, TensorError> {
        let v: Vec<T> = data.chunks_exact(N).map(|c| f(c.try_into().expect("chunk"))).collect();
        tract_onnx::prelude::Tensor::from_shape(shape, &v).map_err(TensorError::tract)
    }
    match t.ty {
        TensorType::Fp32 => build(&shape, &t.data, f32::from_le_bytes),
        TensorType::Fp64 => build(&shape, &t.data, f64::from_le_bytes),
        TensorType::I32 => build(&shape, &t.data, i32::from_le_bytes),
        TensorType::I64 => build(&shape, &t.data, i64::from_le_bytes),
        TensorType::U8 => build(&shape, &t.data, u8::from_le_bytes),
        ty @ (TensorType::Fp16 | TensorType::Bf16) => Err(TensorError::UnsupportedType { ty }),
    }
}

/// Converts a tract tensor to a `wasi:nn` tensor.
pub fn from_tract(t: &tract_onnx::prelude::Tensor) -> Result<Tensor, TensorError> {
    let dims: Vec<u32> = t
        .shape()
        .iter()
        .map(|d| u32::try_from(*d).map_err(|_| TensorError::DimensionTooLarge { dim: *d }))
        .collect::<Result<_, _>>()?;
    fn bytes<T: Datum + Copy, const N: usize>(
        t: &tract_onnx::prelude::Tensor,
        f: fn(T) -> [u8; N],
    ) -> Result<Vec<u8>, TensorError> {
        let s = t.try_as_plain_ram().and_then(|v| v.as_slice::<T>()).map_err(TensorError::tract)?;
        let mut out = Vec::with_capacity(s.len() * N);
        for v in s {
            out.extend_from_slice(&f(*v));
        }
        Ok(out)
    }
    let (ty, data) = match t.datum_type() {
        DatumType::F32 => (TensorType::Fp32, bytes(t, f32::to_le_bytes)?),
        DatumType::F64 => (TensorType::Fp64, bytes(t, f64::to_le_bytes)?),
        DatumType::I32 => (TensorType::I32, bytes(t, i32::to_le_bytes)?),
        DatumType::I64 => (TensorType::I64, bytes(t, i64::to_le_bytes)?),
        DatumType::U8 => (TensorType::U8, bytes(t, u8::to_le_bytes)?),
        DatumType::Bool => (
            TensorType::U8,
            t.try_as_plain_ram()
                .and_then(|v| v.as_slice::<bool>())
                .map_err(TensorError::tract)?
                .iter()
                .map(|b| *b as u8)
                .collect(),
        ),
        datum => return Err(TensorError::UnsupportedOutput { datum }),
    };
    Ok(Tensor { dims, ty, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_panic_is_an_error_not_a_crash() {
        // ReduceSum over an empty axis makes tract 0.23 divide by zero.
        let onnx = include_bytes!("../../tests/components/hostile/model/empty_sum.onnx");
        let m = LoadedModel::load("empty_sum", "test", onnx).expect("loads");
        let ok = m
            .run(vec![("x".into(), tract_onnx::prelude::Tensor::from_shape(&[1, 2], &[1.0f32, 2.0]).unwrap())])
            .expect("runs");
        assert_eq!(ok[0].1.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap(), &[3.0]);
        let empty = tract_onnx::prelude::Tensor::from_shape(&[1, 0], &[] as &[f32]).unwrap();
        let err = m.run(vec![("x".into(), empty)]).expect_err("an empty axis is refused");
        assert!(matches!(err, ModelError::Rejected { .. }), "{err:?}");
        assert!(err.to_string().starts_with("inference failed: the engine rejected these inputs"), "{err}");
        // The model still works afterwards.
        assert!(m
            .run(vec![("x".into(), tract_onnx::prelude::Tensor::from_shape(&[1, 1], &[5.0f32]).unwrap())])
            .is_ok());
    }

    /// One parsed and optimised plan per digest in the process while anyone
    /// holds it; a model every holder dropped is loaded afresh.
    #[test]
    fn a_model_is_loaded_once_per_digest_while_it_is_held() {
        let onnx = include_bytes!("../../tests/components/hostile/model/identity.onnx");
        let digest = komp_artifact::sha256_hex(onnx);
        let a = LoadedModel::load_shared("identity", &digest, onnx).expect("loads");
        let b = LoadedModel::load_shared("other-name", &digest, onnx).expect("loads");
        assert!(Arc::ptr_eq(&a, &b), "the second caller gets the first plan");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let digest = digest.clone();
                std::thread::spawn(move || LoadedModel::load_shared("identity", &digest, onnx).expect("loads"))
            })
            .collect();
        for t in threads {
            assert!(Arc::ptr_eq(&a, &t.join().unwrap()));
        }
        let weak = Arc::downgrade(&a);
        drop((a, b));
        assert!(weak.upgrade().is_none(), "the cache holds no strong reference");
        let c = LoadedModel::load_shared("identity", &digest, onnx).expect("loads again");
        assert_eq!(c.digest, digest);
        // A model that does not load is an error each time, and caches nothing.
        let err = LoadedModel::load_shared("broken", "not-a-digest", b"not onnx").err().expect("refused");
        assert!(matches!(err, ModelError::Load { .. }), "{err:?}");
    }
}
