//! # komp-runtime: the sandboxed runtime for komp standard AI components
//!
//! A case-system vendor embeds this crate; `komp-server` wraps it in an HTTP
//! host and the `komp` binary in a command line. It knows no HTTP, database,
//! metrics or argument parsing (a test over `cargo metadata` keeps it so), and
//! nothing reaches wasmtime or tract before the [`ArtifactVerifier`] the
//! embedder supplies has accepted the file.
//!
//! - [`Runtime`]: install component files, run predictions in a fresh
//!   instance per call with a deadline, memory cap and size caps.
//! - [`nn`]: `wasi:nn` implemented natively with tract; models parsed once per
//!   digest and shared.
//! - [`engine`]: wasmtime configured for serving (pooling allocator, epoch
//!   deadlines, integrity-checked compile cache), in one place.
//!
//! Types crossing the sandbox boundary are generated from `wit/` by
//! [`wasmtime::component::bindgen!`], never written by hand.

pub mod config;
pub mod engine;
pub mod error;
pub mod nn;
pub mod prediction;
pub mod runtime;

pub use config::RuntimeConfig;
pub use error::{ErrorClass, ErrorKind, Fault, RuntimeError, VerifyError, Violation};
pub use nn::{ModelError, TensorError};
pub use prediction::{FeatureWeight, LabelScore, Prediction};
pub use runtime::{ArtifactVerifier, InstallReport, InstalledComponent, PredictionOutcome, Runtime};

/// Host bindings generated from `wit/world.wit` and the vendored `wasi:nn`.
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "standard-component",
        with: {
            "wasi:nn/graph.graph": crate::nn::Graph,
            "wasi:nn/tensor.tensor": crate::nn::Tensor,
            "wasi:nn/inference.graph-execution-context": crate::nn::ExecutionContext,
            "wasi:nn/errors.error": crate::nn::NnError,
        },
        imports: { default: trappable },
    });
}
