//! End-to-end tests, one binary (each file a module) so that wasmtime and
//! tract are linked once, not once per file. `isolation.rs` stays a binary of
//! its own: it measures latency and must not share the process with other
//! tests.

mod api_contract;
mod architecture;
mod authoring;
mod bad_artifacts;
mod bad_requests;
mod cli;
mod drift;
mod embedding;
mod fuzz_smoke;
mod host_crash;
mod hostile;
mod http;
mod komp_train;
mod oci;
/// komp-oci's test helpers (a real docker-registry on loopback, a tampering proxy).
/// (It includes the registry helpers again, as its own module.)
#[path = "../../../oci/tests/suite/common.rs"]
#[allow(clippy::duplicate_mod)]
mod oci_common;
mod operating_points;
mod registry_cli;
/// The registry's test helpers (keys, policies, signed test components).
#[path = "../../../registry/tests/suite/common.rs"]
mod registry_common;
mod runtime;
mod soak;
mod standard_components;
mod validate;
mod web;
