//! The registry's integration tests, one binary (each file a module) so the
//! suite links once.

mod common;

mod crash;
mod http_sync;
mod keys_and_revocation;
mod signature_format;
mod store;
mod trust;
