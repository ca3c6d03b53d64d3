//! One module per `komp` command group; `main.rs` holds the argument tree and
//! dispatches here.

pub mod audit;
pub mod author;
pub mod component;
pub mod oci;
pub mod registry;
pub mod serve;
pub mod token;
pub mod validate;
