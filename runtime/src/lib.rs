//! berth-runc: an OCI runtime with runc's command line.
pub mod capabilities;
pub mod cgroups;
pub mod console;
pub mod container;
pub mod devices;
pub mod error;
pub mod exec;
pub mod init;
pub mod logging;
pub mod mountopts;
pub mod namespaces;
pub mod process;
pub mod query;
pub mod rlimits;
pub mod rootfs;
pub mod spec;
pub mod state;
pub mod syscall;
#[cfg(test)]
pub mod syscall_fake;
pub mod utils;
