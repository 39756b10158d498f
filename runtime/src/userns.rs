//! User namespaces, as runc does them. The init (stage 1) joins the namespaces
//! given by path, enters the user namespace (setns, or unshare and then the
//! parent writes `uid_map`, `setgroups` and `gid_map`), becomes root inside it,
//! and only then creates the other namespaces, so that they belong to it. A new
//! or joined pid namespace takes effect for children only: stage 1 forks the
//! real init (stage 2), tells the parent its pid and exits.
use crate::error::{Error, Result};
use crate::namespaces::{open_ns, Plan};
use crate::process::{self, ERROR, PID};
use crate::syscall::Syscall;
use nix::sched::CloneFlags;
use nix::unistd::{ForkResult, Gid, Pid, Uid};
use oci_spec::runtime::{Linux, LinuxIdMapping};
use std::os::fd::{AsFd, OwnedFd};

/// Child → parent: "my user namespace exists, write its maps".
pub const MAPS: u8 = b'M';
/// Parent → child: the maps are written.
pub const ACK: u8 = b'A';

/// Checks the spec's namespaces against its id mappings, as runc does.
pub fn validate(plan: &Plan, linux: Option<&Linux>) -> Result<()> {
    let uid = linux.and_then(|l| l.uid_mappings().as_ref());
    let gid = linux.and_then(|l| l.gid_mappings().as_ref());
    let has = |m: Option<&Vec<LinuxIdMapping>>| m.is_some_and(|v| !v.is_empty());
    match &plan.user {
        None if has(uid) || has(gid) => Err(Error::Spec(
            "uidMappings/gidMappings are given but there is no user namespace".into(),
        )),
        Some(None) if !has(uid) || !has(gid) => Err(Error::Spec(
            "a new user namespace needs both uidMappings and gidMappings".into(),
        )),
        _ => Ok(()),
    }
}

/// The text of a uid_map or gid_map file: "inside outside count" per line.
pub fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Parent side: writes the maps of the user namespace of process `pid`.
///
/// `setgroups` is set to "deny" only when required, i.e. when the writer lacks
/// CAP_SETGID over the parent namespace (not root): root keeps setgroups(2)
/// usable inside the container, as with runc.
pub fn write_maps(pid: Pid, uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<()> {
    let base = format!("/proc/{pid}");
    let w = |file: &str, text: &str| {
        let p = format!("{base}/{file}");
        std::fs::write(&p, text).map_err(|e| Error::io("write", p, e))
    };
    w("uid_map", &map_text(uid))?;
    if !nix::unistd::geteuid().is_root() {
        w("setgroups", "deny")?;
    }
    w("gid_map", &map_text(gid))
}

/// Namespace steps of a container with a user namespace. `entered` runs once
/// the process is in its user namespace, with `true` when it is a new one
/// (whose maps must be written before anything else). Returns true when the
/// pid namespace changed, so that the caller must fork the init.
pub fn enter(
    sys: &dyn Syscall,
    plan: &Plan,
    entered: &mut dyn FnMut(bool) -> Result<()>,
) -> Result<bool> {
    // Every path is opened first, while the host's view still applies.
    let user_fd = match &plan.user {
        Some(Some(p)) => Some(open_ns(p)?),
        _ => None,
    };
    let mut joins: Vec<(CloneFlags, OwnedFd)> = plan
        .join
        .iter()
        .map(|(f, p)| open_ns(p).map(|fd| (*f, fd)))
        .collect::<Result<_>>()?;
    if let Some(Some(p)) = &plan.pid {
        joins.push((CloneFlags::CLONE_NEWPID, open_ns(p)?));
    }
    if let Some(fd) = &user_fd {
        sys.setns(fd.as_fd(), CloneFlags::CLONE_NEWUSER)?;
        entered(false)?;
    }
    for (f, fd) in &joins {
        sys.setns(fd.as_fd(), *f)?;
    }
    if plan.user == Some(None) {
        sys.unshare(CloneFlags::CLONE_NEWUSER)?;
        entered(true)?;
    }
    let mut new = plan.new;
    if plan.pid == Some(None) {
        new |= CloneFlags::CLONE_NEWPID;
    }
    if !new.is_empty() {
        sys.unshare(new)?;
    }
    Ok(plan.pid.is_some())
}

/// Child side of `entered`: asks the parent for the maps of a new namespace
/// and waits until they are written.
pub fn request_maps(sync: &OwnedFd) -> Result<()> {
    process::write_frame(sync, MAPS, "");
    match process::read_frame(sync)? {
        Some((ACK, _)) => Ok(()),
        Some((ERROR, m)) => Err(Error::Child(m)),
        other => Err(Error::Child(format!(
            "no answer from the parent about the id maps ({other:?})"
        ))),
    }
}

/// Becomes uid and gid 0 of the user namespace (its mapped root), so that
/// the rest of the set-up runs as the container's root, not as host root.
pub fn become_root() -> Result<()> {
    let zero_g = Gid::from_raw(0);
    nix::unistd::setresgid(zero_g, zero_g, zero_g)
        .map_err(|e| Error::sys("setresgid 0 in the user namespace", e))?;
    if setgroups_allowed() {
        nix::unistd::setgroups(&[]).map_err(|e| Error::sys("setgroups in user namespace", e))?;
    }
    let zero_u = Uid::from_raw(0);
    nix::unistd::setresuid(zero_u, zero_u, zero_u)
        .map_err(|e| Error::sys("setresuid 0 in the user namespace", e))
}

/// False when /proc/self/setgroups says "deny" (setgroups(2) would fail).
pub fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() != "deny")
}

/// Stage 1 forks the init; the parent of the fork reports its pid and exits,
/// the child returns and goes on as the container's init. The init waits for
/// stage 1 to be gone first, so that the pid reaches the parent before any
/// frame of the init's own.
pub fn fork_init(sync: &OwnedFd) -> Result<()> {
    let (gate_r, gate_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::sys("pipe", e))?;
    // SAFETY: the init is single-threaded; the forked child goes on setting up.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::sys("fork init", e))? {
        ForkResult::Child => {
            drop(gate_w);
            let mut b = [0u8; 1];
            // EOF once stage 1 has written the pid and exited.
            while let Err(nix::Error::EINTR) = nix::unistd::read(&gate_r, &mut b) {}
            Ok(())
        }
        ForkResult::Parent { child } => {
            process::write_frame(sync, PID, &child.as_raw().to_string());
            drop(gate_w);
            // SAFETY: terminating stage 1; the init carries on.
            unsafe { libc::_exit(0) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::namespaces;
    use crate::syscall_fake::{Call, RecordingSyscall};
    use oci_spec::runtime::{
        LinuxBuilder, LinuxIdMappingBuilder, LinuxNamespace, LinuxNamespaceBuilder,
        LinuxNamespaceType,
    };

    fn ns(t: LinuxNamespaceType, path: Option<&str>) -> LinuxNamespace {
        let b = LinuxNamespaceBuilder::default().typ(t);
        match path {
            Some(p) => b.path(p).build().expect("ns"),
            None => b.build().expect("ns"),
        }
    }

    fn idmap(inside: u32, outside: u32, n: u32) -> LinuxIdMapping {
        LinuxIdMappingBuilder::default()
            .container_id(inside)
            .host_id(outside)
            .size(n)
            .build()
            .expect("map")
    }

    #[test]
    fn map_file_text() {
        assert_eq!(
            map_text(&[idmap(0, 100000, 65536), idmap(65536, 1, 1)]),
            "0 100000 65536\n65536 1 1\n"
        );
    }

    #[test]
    fn validation_follows_runc() {
        let user = namespaces::plan(&[ns(LinuxNamespaceType::User, None)]).expect("plan");
        let none = namespaces::plan(&[]).expect("plan");
        let with_maps = LinuxBuilder::default()
            .uid_mappings(vec![idmap(0, 100000, 10)])
            .gid_mappings(vec![idmap(0, 100000, 10)])
            .build()
            .expect("linux");
        let no_maps = LinuxBuilder::default().build().expect("linux");
        assert!(validate(&user, Some(&with_maps)).is_ok());
        assert!(validate(&user, Some(&no_maps)).is_err());
        assert!(validate(&none, Some(&with_maps)).is_err());
        assert!(validate(&none, Some(&no_maps)).is_ok());
    }

    #[test]
    fn new_user_namespace_comes_before_the_others() {
        let plan = namespaces::plan(&[
            ns(LinuxNamespaceType::User, None),
            ns(LinuxNamespaceType::Pid, None),
            ns(LinuxNamespaceType::Mount, None),
            ns(LinuxNamespaceType::Network, Some("/proc/self/ns/net")),
        ])
        .expect("plan");
        let sys = RecordingSyscall::new();
        let mut seen = Vec::new();
        let fork = enter(&sys, &plan, &mut |new| {
            seen.push(new);
            Ok(())
        })
        .expect("enter");
        assert!(fork);
        assert_eq!(seen, vec![true]);
        assert_eq!(
            sys.calls(),
            vec![
                Call::Setns(CloneFlags::CLONE_NEWNET),
                Call::Unshare(CloneFlags::CLONE_NEWUSER),
                Call::Unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID),
            ]
        );
    }

    #[test]
    fn joined_user_namespace_is_joined_first() {
        let plan = namespaces::plan(&[
            ns(LinuxNamespaceType::User, Some("/proc/self/ns/user")),
            ns(LinuxNamespaceType::Uts, Some("/proc/self/ns/uts")),
            ns(LinuxNamespaceType::Mount, None),
        ])
        .expect("plan");
        let sys = RecordingSyscall::new();
        let mut seen = Vec::new();
        let fork = enter(&sys, &plan, &mut |new| {
            seen.push(new);
            Ok(())
        })
        .expect("enter");
        assert!(!fork);
        assert_eq!(seen, vec![false]);
        assert_eq!(
            sys.calls(),
            vec![
                Call::Setns(CloneFlags::CLONE_NEWUSER),
                Call::Setns(CloneFlags::CLONE_NEWUTS),
                Call::Unshare(CloneFlags::CLONE_NEWNS),
            ]
        );
    }
}
