//! The `komp` command line, as a library so that the end-to-end tests can run
//! its commands in process. `main.rs` holds the argument tree; each command
//! group lives in its own module under [`commands`]. This package and
//! `komp-server` are the only ones that parse arguments.

pub mod commands;
