//! A container's security settings as Docker computes them: capabilities,
//! `--security-opt`, the default seccomp profile, masked and read-only paths,
//! and the user and groups a process runs as (from the image's /etc/passwd
//! and /etc/group).
pub mod capabilities;
pub mod opts;
pub mod paths;
pub mod seccomp;
pub mod users;

/// Errors of this module; the daemon maps them to API errors once.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// Input the user gave is not valid (a 400 for the API).
    #[error("{0}")]
    Invalid(String),
    /// A user or group named in the config does not exist in the image.
    #[error("{0}")]
    UnknownUser(String),
    /// Reading the image's files failed.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
}
