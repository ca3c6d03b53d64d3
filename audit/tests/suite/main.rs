//! The audit log's integration tests, one binary (each file a module) so the
//! suite links once.

mod common;

mod crash;
mod group_commit;
mod log;
mod prealloc;
mod retention;
mod sealed;
