//! berth-containerd: the task manager between berthd and the shims
//! (see docs/engine-protocol.md).

pub mod api;
pub mod config;
pub mod engine;
pub mod error;
pub mod events;
pub mod launch_server;
pub mod launcher;
pub mod model;
pub mod persist;
pub mod recovery;
pub mod server;
pub mod shim_client;
pub mod tasks;
pub mod waiter;

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod testing;
