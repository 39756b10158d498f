//! The OCI process of an exec: the container's environment plus the exec's, its user
//! (resolved in the container's root), working dir and capabilities, as dockerd's
//! `execSetPlatformOpt` and containerd's exec spec.
use serde_json::{json, Value};

use super::Exec;
use crate::containers::record::Container;
use crate::containers::Result;
use crate::security;

/// The process `exec` runs in `c`.
pub(super) fn process(c: &Container, exec: &Exec) -> Result<Value> {
    let user_name = exec
        .config
        .user
        .clone()
        .filter(|u| !u.is_empty())
        .or_else(|| c.config.user.clone())
        .unwrap_or_default();
    let user = security::users::resolve(
        &c.merged_dir(),
        &user_name,
        c.host_config.group_add.as_deref().unwrap_or(&[]),
    )?;
    // Only what an exec's process needs of the container's security settings (not
    // its seccomp profile or devices, which the runtime keeps from the container).
    let hc = &c.host_config;
    let options = security::opts::parse_with_daemon_default(
        hc.security_opt.as_deref().unwrap_or(&[]),
        false,
    )?;
    let container_caps = security::capabilities::effective(
        hc.cap_add.as_deref().unwrap_or(&[]),
        hc.cap_drop.as_deref().unwrap_or(&[]),
        hc.privileged.unwrap_or(false),
    )?;
    let caps = security::container::exec_capabilities(
        exec.config.privileged.unwrap_or(false),
        &container_caps,
    );
    let mut env = crate::containers::spec::process_env(c, user.home.as_deref());
    if exec.tty() && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    crate::containers::spec::replace_or_append_env(
        &mut env,
        exec.config.env.as_deref().unwrap_or(&[]),
    );
    let cwd = exec
        .config
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .or_else(|| c.config.working_dir.clone().filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".into());
    Ok(json!({
        "terminal": exec.tty(),
        "user": { "uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids },
        "args": exec.config.cmd.clone().unwrap_or_default(),
        "env": env,
        "cwd": cwd,
        "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
        "noNewPrivileges": options.no_new_privileges,
    }))
}
