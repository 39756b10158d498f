//! berth-runc: an OCI runtime with runc's command line.
pub mod capabilities;
pub mod cgroups;
pub mod cli;
pub mod console;
pub mod container;
pub mod devices;
pub mod entry;
pub mod error;
pub mod exec;
pub mod handshake;
pub mod hooks;
pub mod init;
pub mod logging;
pub mod mountopts;
pub mod namespaces;
pub mod process;
pub mod query;
pub mod rlimits;
pub mod rootfs;
pub mod run;
pub mod seccomp;
mod seccomp_tree;
#[cfg(target_arch = "x86_64")]
pub mod seccomp_x86_64;
pub mod spawn;
pub mod spec;
pub mod state;
pub mod syscall;
#[cfg(test)]
pub mod syscall_fake;
pub mod sysctl;
pub mod update;
pub mod userns;
pub mod utils;
