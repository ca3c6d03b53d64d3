//! komp-oci's integration tests, one binary. They run a real OCI registry
//! (Debian's `docker-registry`, the CNCF distribution registry) on loopback
//! and check what komp wrote with an independent client (`skopeo`); a small
//! axum proxy in front of it plays a token service and a misbehaving registry.
//! `scripts/setup.sh --oci` installs both tools.

mod common;

mod auth;
mod failures;
mod interop;
mod push_pull;
mod sync;
