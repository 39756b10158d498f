//! Namespaces from the spec: new ones (unshare) or joined ones (setns on a path).
use crate::error::{Error, Result};
use crate::syscall::Syscall;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Namespaces to create with unshare (pid is handled separately).
    pub new: CloneFlags,
    /// Namespaces to join: (type, path).
    pub join: Vec<(CloneFlags, PathBuf)>,
    /// The pid namespace: None = the host's, Some(None) = new, Some(Some(p)) = join p.
    pub pid: Option<Option<PathBuf>>,
    /// The user namespace, in the same form as `pid`.
    pub user: Option<Option<PathBuf>>,
}

pub fn flag_of(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

pub fn plan(namespaces: &[LinuxNamespace]) -> Result<Plan> {
    let mut p = Plan {
        new: CloneFlags::empty(),
        join: Vec::new(),
        pid: None,
        user: None,
    };
    for ns in namespaces {
        let f = flag_of(ns.typ());
        if f == CloneFlags::CLONE_NEWUSER {
            p.user = Some(ns.path().clone());
            continue;
        }
        if f == CloneFlags::CLONE_NEWPID {
            p.pid = Some(ns.path().clone());
            continue;
        }
        match ns.path() {
            Some(path) => p.join.push((f, path.clone())),
            None => p.new |= f,
        }
    }
    Ok(p)
}

impl Plan {
    pub fn has_new(&self, f: CloneFlags) -> bool {
        self.new.contains(f)
    }
    /// The container has a namespace of type `f` apart from the runtime's: made or joined.
    pub fn has_own(&self, f: CloneFlags) -> bool {
        self.new.contains(f) || self.join.iter().any(|(j, _)| *j == f)
    }
    pub fn has_mount_ns(&self) -> bool {
        self.has_own(CloneFlags::CLONE_NEWNS)
    }
}

pub fn open_ns(path: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| Error::sys(format!("open namespace {}", path.display()), e))
}

/// In the parent, before fork: the child will be in this pid namespace.
pub fn enter_pid(sys: &dyn Syscall, plan: &Plan) -> Result<()> {
    match &plan.pid {
        None => Ok(()),
        Some(None) => sys.unshare(CloneFlags::CLONE_NEWPID),
        Some(Some(path)) => {
            let fd = open_ns(path)?;
            sys.setns(fd.as_fd(), CloneFlags::CLONE_NEWPID)
        }
    }
}

/// In the child: join the given namespaces (all opened first), then create the new ones.
pub fn enter(sys: &dyn Syscall, plan: &Plan) -> Result<()> {
    let fds: Vec<(CloneFlags, OwnedFd)> = plan
        .join
        .iter()
        .map(|(f, p)| open_ns(p).map(|fd| (*f, fd)))
        .collect::<Result<_>>()?;
    for (f, fd) in &fds {
        sys.setns(fd.as_fd(), *f)?;
    }
    if !plan.new.is_empty() {
        sys.unshare(plan.new)?;
    }
    Ok(())
}

/// The user namespace comes first: joining it gives the rights to join the others.
const EXEC_ORDER: [(&str, CloneFlags); 7] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// For exec: the namespaces of process `pid` that differ from ours.
pub fn of_process(pid: i32) -> Result<Vec<(CloneFlags, OwnedFd)>> {
    let mut out = Vec::new();
    for (name, f) in EXEC_ORDER {
        let theirs = PathBuf::from(format!("/proc/{pid}/ns/{name}"));
        let ours = PathBuf::from(format!("/proc/self/ns/{name}"));
        let (Ok(a), Ok(b)) = (std::fs::metadata(&theirs), std::fs::metadata(&ours)) else {
            continue;
        };
        if a.ino() != b.ino() || a.dev() != b.dev() {
            out.push((f, open_ns(&theirs)?));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall_fake::{Call, RecordingSyscall};
    use oci_spec::runtime::LinuxNamespaceBuilder;

    fn ns(t: LinuxNamespaceType, path: Option<&str>) -> LinuxNamespace {
        let b = LinuxNamespaceBuilder::default().typ(t);
        match path {
            Some(p) => b.path(p).build().expect("ns"),
            None => b.build().expect("ns"),
        }
    }

    #[test]
    fn plans_new_and_joined() {
        let p = plan(&[
            ns(LinuxNamespaceType::Pid, None),
            ns(LinuxNamespaceType::Mount, None),
            ns(LinuxNamespaceType::Network, Some("/proc/self/ns/net")),
            ns(LinuxNamespaceType::Uts, None),
        ])
        .expect("plan");
        assert_eq!(p.pid, Some(None));
        assert_eq!(p.new, CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS);
        assert_eq!(
            p.join,
            vec![(CloneFlags::CLONE_NEWNET, PathBuf::from("/proc/self/ns/net"))]
        );
        assert!(p.has_mount_ns());
    }

    #[test]
    fn plans_user_namespace_apart() {
        let p = plan(&[
            ns(LinuxNamespaceType::User, None),
            ns(LinuxNamespaceType::Mount, None),
        ])
        .expect("plan");
        assert_eq!(p.user, Some(None));
        assert_eq!(p.new, CloneFlags::CLONE_NEWNS);
        let p = plan(&[ns(LinuxNamespaceType::User, Some("/proc/1/ns/user"))]).expect("plan");
        assert_eq!(p.user, Some(Some(PathBuf::from("/proc/1/ns/user"))));
    }

    #[test]
    fn enter_joins_then_unshares() {
        let p = plan(&[
            ns(LinuxNamespaceType::Ipc, None),
            ns(LinuxNamespaceType::Network, Some("/proc/self/ns/net")),
        ])
        .expect("plan");
        let sys = RecordingSyscall::new();
        enter(&sys, &p).expect("enter");
        assert_eq!(
            sys.calls(),
            vec![
                Call::Setns(CloneFlags::CLONE_NEWNET),
                Call::Unshare(CloneFlags::CLONE_NEWIPC)
            ]
        );
        let sys = RecordingSyscall::new();
        enter_pid(
            &sys,
            &plan(&[ns(LinuxNamespaceType::Pid, None)]).expect("plan"),
        )
        .expect("pid");
        assert_eq!(sys.calls(), vec![Call::Unshare(CloneFlags::CLONE_NEWPID)]);
    }
}
