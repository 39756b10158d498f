//! The protocol's version, which the three processes tell each other so that a berthd
//! of a newer build keeps working with what an older build left running (an upgrade
//! with live containers).
//!
//! | version | what changed |
//! |---|---|
//! | 1 | before versioning: no `GET /version`, no `attach_socket` in `POST /tasks`' answer, no attach acknowledgement |
//! | 2 | berth-containerd answers `GET /version` ([`VersionView`]); `POST /tasks` answers `attach_socket`; the shim acknowledges an attach header ([`crate::AttachAck`]) and says its version in `GET /state` |
//!
//! berthd that finds a berth-containerd of another version asks it to exit (SIGTERM to
//! the pid its socket's peer credentials name; its tasks and shims live on) and starts its own, which adopts the shims; a shim keeps the
//! version it was started with, and clients speak that version's attach protocol to it.
use serde::{Deserialize, Serialize};

/// The version this build speaks.
pub const PROTOCOL_VERSION: u32 = 2;

/// Tests make a build speak an older version (`BERTH_PROTOCOL_VERSION_FOR_TESTS=1`: no
/// `GET /version`, no attach acknowledgement), standing in for an old build's binaries.
pub const TEST_OVERRIDE_ENV: &str = "BERTH_PROTOCOL_VERSION_FOR_TESTS";

/// The version this process speaks: [`PROTOCOL_VERSION`], unless a test overrides it.
pub fn protocol_version() -> u32 {
    std::env::var(TEST_OVERRIDE_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|v| (1..=PROTOCOL_VERSION).contains(v))
        .unwrap_or(PROTOCOL_VERSION)
}

/// The version of a peer that does not say one.
pub fn unversioned() -> u32 {
    1
}

/// Whether a shim of `version` acknowledges an attach header.
pub fn acknowledges_attach(version: u32) -> bool {
    version >= 2
}

/// berth-containerd's `GET /version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionView {
    /// [`PROTOCOL_VERSION`] of its build.
    pub protocol: u32,
    /// Its binary's version (the crate's).
    pub version: String,
    /// Its process id.
    pub pid: u32,
    /// The arguments it was started with (its configuration: default runtime, runtimes,
    /// debug), without `--ready-fd`: berthd replaces one started with other arguments, as
    /// one of another version. Absent (empty) from builds before it was reported.
    #[serde(default)]
    pub args: Vec<String>,
}

/// A command line without its `--ready-fd N` (which differs at each start).
pub fn configuration_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        if a == "--ready-fd" {
            args.next();
        } else if !a.starts_with("--ready-fd=") {
            out.push(a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_leaves_the_ready_fd_out() {
        let args = [
            "--root",
            "/r",
            "--ready-fd",
            "3",
            "--runtime",
            "a=/b",
            "--ready-fd=4",
        ];
        assert_eq!(
            configuration_args(args.map(String::from)),
            ["--root", "/r", "--runtime", "a=/b"]
        );
    }

    #[test]
    fn an_unversioned_peer_is_version_one_without_acknowledgements() {
        assert_eq!(unversioned(), 1);
        assert!(!acknowledges_attach(unversioned()));
        assert!(acknowledges_attach(PROTOCOL_VERSION));
    }
}
