//! A safe wrapper over `wasi:nn`: load one of my bundled models by name, run
//! it with named tensors, read named tensors back.
//!
//! The host resolves names only among the calling component's own
//! `komp-model:<name>` sections, so `Model::load("classifier")` can never reach
//! another component's model.
//!
//! ```ignore
//! let model = komp_sdk::nn::Model::load("classifier")?;
//! let out = model.run(&[komp_sdk::nn::Input::f32("features", &[1, 3], &[0.1, 0.2, 0.3])])?;
//! let probs: Vec<f32> = out.f32("probabilities")?;
//! ```

use crate::bindings::wasi::nn::{errors, graph, inference, tensor};
use crate::Error;

/// A loaded model and an execution context for it.
pub struct Model {
    name: String,
    context: inference::GraphExecutionContext,
    // Keep the graph alive as long as its execution context.
    _graph: graph::Graph,
}

/// One named input tensor.
///
/// ```
/// let i = komp_sdk::nn::Input::f32("x", &[1, 2], &[1.0, 2.0]);
/// assert_eq!(i.name(), "x");
/// ```
pub struct Input<'a> {
    name: &'a str,
    dims: Vec<u32>,
    ty: tensor::TensorType,
    data: Vec<u8>,
}

impl<'a> Input<'a> {
    /// An f32 tensor of shape `dims` (row-major `values`).
    pub fn f32(name: &'a str, dims: &[u32], values: &[f32]) -> Input<'a> {
        let mut data = Vec::with_capacity(values.len() * 4);
        for v in values {
            data.extend_from_slice(&v.to_le_bytes());
        }
        Input { name, dims: dims.to_vec(), ty: tensor::TensorType::Fp32, data }
    }

    /// An i64 tensor of shape `dims` (row-major `values`).
    pub fn i64(name: &'a str, dims: &[u32], values: &[i64]) -> Input<'a> {
        let mut data = Vec::with_capacity(values.len() * 8);
        for v in values {
            data.extend_from_slice(&v.to_le_bytes());
        }
        Input { name, dims: dims.to_vec(), ty: tensor::TensorType::I64, data }
    }

    /// The tensor's name in the model graph.
    pub fn name(&self) -> &str {
        self.name
    }
}

/// The named output tensors of one run.
pub struct Outputs {
    model: String,
    tensors: Vec<(String, tensor::Tensor)>,
}

impl Model {
    /// Loads the bundled model `name` (a `komp-model:<name>` section of this
    /// component) and prepares an execution context.
    pub fn load(name: &str) -> Result<Model, Error> {
        let graph = graph::load_by_name(name).map_err(|e| model_error(name, "load", &e))?;
        let context = graph.init_execution_context().map_err(|e| model_error(name, "prepare", &e))?;
        Ok(Model { name: name.to_string(), context, _graph: graph })
    }

    /// Runs the model with the given inputs and returns all of its outputs.
    pub fn run(&self, inputs: &[Input<'_>]) -> Result<Outputs, Error> {
        let named: Vec<(String, tensor::Tensor)> =
            inputs.iter().map(|i| (i.name.to_string(), tensor::Tensor::new(&i.dims, i.ty, &i.data))).collect();
        let tensors = self.context.compute(named).map_err(|e| model_error(&self.name, "run", &e))?;
        Ok(Outputs { model: self.name.clone(), tensors })
    }
}

impl Outputs {
    fn get(&self, name: &str) -> Result<&tensor::Tensor, Error> {
        self.tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t).ok_or_else(|| {
            let have: Vec<&str> = self.tensors.iter().map(|(n, _)| n.as_str()).collect();
            Error::Model(format!("model `{}` has no output `{name}` (outputs: {})", self.model, have.join(", ")))
        })
    }

    /// The values of f32 output `name`.
    pub fn f32(&self, name: &str) -> Result<Vec<f32>, Error> {
        let t = self.get(name)?;
        if t.ty() != tensor::TensorType::Fp32 {
            return Err(Error::Model(format!("output `{name}` of `{}` is {:?}, not FP32", self.model, t.ty())));
        }
        Ok(t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    /// The values of i64 output `name`.
    pub fn i64(&self, name: &str) -> Result<Vec<i64>, Error> {
        let t = self.get(name)?;
        if t.ty() != tensor::TensorType::I64 {
            return Err(Error::Model(format!("output `{name}` of `{}` is {:?}, not I64", self.model, t.ty())));
        }
        Ok(t.data().chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))).collect())
    }

    /// The dimensions of output `name`.
    pub fn dims(&self, name: &str) -> Result<Vec<u32>, Error> {
        Ok(self.get(name)?.dimensions())
    }
}

fn model_error(model: &str, what: &str, e: &errors::Error) -> Error {
    Error::Model(format!("could not {what} model `{model}`: {:?}: {}", e.code(), e.data()))
}
