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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unversioned_peer_is_version_one_without_acknowledgements() {
        assert_eq!(unversioned(), 1);
        assert!(!acknowledges_attach(unversioned()));
        assert!(acknowledges_attach(PROTOCOL_VERSION));
    }
}
