//! Limits and settings of a [`crate::Runtime`], with safe defaults.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// Everything a runtime can be told. `RuntimeConfig::default()` is safe for a
/// server: every limit is finite.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Wall-clock deadline of one prediction, enforced by epoch interruption.
    #[serde(with = "millis")]
    pub deadline: Duration,
    /// Linear-memory cap of one instance, in bytes.
    pub memory_cap: usize,
    /// Wasm stack cap of one instance, in bytes.
    pub max_wasm_stack: usize,
    /// Largest JSON input accepted by `predict`, in bytes.
    pub max_input_bytes: usize,
    /// Largest prediction a component may return (label, scores,
    /// explanation and details together), in bytes.
    pub max_output_bytes: usize,
    /// Largest single tensor a component may hand to, or get from, `wasi:nn`.
    pub max_tensor_bytes: usize,
    /// Largest total of bytes one call may make the host hold at once:
    /// `wasi:nn` tensors (data and dimensions), the model inputs and outputs
    /// of a running `compute`, `wasi:nn` error texts, and a fixed cost per
    /// resource (`komp_runtime::nn::RESOURCE_OVERHEAD`). Going over it stops the
    /// call with `RuntimeError::HostLimit`.
    pub max_tensor_bytes_per_call: usize,
    /// Most entries one call may hold in the host's resource table at once
    /// (`wasi:nn` tensors, graphs, contexts and errors; WASI streams and
    /// pollables). Going over it stops the call with `RuntimeError::HostLimit`.
    pub max_host_resources_per_call: usize,
    /// Most instances alive at once (pooling allocator slots).
    pub max_instances: u32,
    /// Directory of the compiled-code cache; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// A component whose calls keep ending in faults (deadline, memory cap,
    /// stack overflow, host limit, trap, bad or too large output: three in a row, each
    /// within `fault_cooldown` of the last) may run at most this many calls
    /// at once until `fault_cooldown` has passed without a fault, so a
    /// hostile component cannot take the slots and cores of the others.
    pub faulty_max_instances: u32,
    /// How long a fault limits a component to `faulty_max_instances`.
    #[serde(with = "millis")]
    pub fault_cooldown: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            deadline: Duration::from_secs(2),
            memory_cap: 64 << 20,
            max_wasm_stack: 512 << 10,
            max_input_bytes: 1 << 20,
            max_output_bytes: 256 << 10,
            max_tensor_bytes: 16 << 20,
            max_tensor_bytes_per_call: 64 << 20,
            max_host_resources_per_call: 10_000,
            max_instances: 128,
            cache_dir: None,
            faulty_max_instances: 1,
            fault_cooldown: Duration::from_secs(10),
        }
    }
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
