//! The container's mount table: propagation, the rootfs bind, the spec's
//! mounts, pivot_root, masked and read-only paths, a read-only root.
use crate::error::{Error, Result};
use crate::mountopts::{self, MountOpts};
use crate::syscall::{FileKind, MountPoint, Syscall};
use nix::mount::{MntFlags, MsFlags};
use oci_spec::runtime::Mount;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// How to mount a `cgroup` entry; computed from the host by `cgroups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupMount {
    /// cgroup v1: a tmpfs with one read-only bind per hierarchy
    /// (name under the mount, host directory), plus symlinks (link, target).
    V1 {
        hierarchies: Vec<(String, PathBuf)>,
        links: Vec<(String, String)>,
    },
    /// cgroup v2: a cgroup2 mount.
    V2,
}

pub fn prepare(
    sys: &dyn Syscall,
    rootfs: &Path,
    mounts: &[Mount],
    root_propagation: Option<&str>,
    cg: &CgroupMount,
) -> Result<()> {
    let pflag = match root_propagation {
        Some(p) if !p.is_empty() => mountopts::propagation(p)
            .ok_or_else(|| Error::Spec(format!("unknown rootfsPropagation {p}")))?,
        _ => MsFlags::MS_SLAVE | MsFlags::MS_REC,
    };
    // As runc's prepareRoot: "/" gets the spec's propagation as it is, so a shared root
    // keeps host mounts in their peer groups (a BIDIRECTIONAL volume of the kubelet works
    // both ways); the mount holding the rootfs is made private so the bind below stays
    // in this namespace and pivot_root's check on the new root's parent passes.
    sys.mount(None, Path::new("/"), None, pflag, None)?;
    if pflag.contains(MsFlags::MS_SHARED) {
        if let Some(parent) = mount_point_of(rootfs) {
            sys.mount(None, &parent, None, MsFlags::MS_PRIVATE, None)?;
        }
    }
    sys.mount(
        Some(rootfs),
        rootfs,
        Some("bind"),
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    for m in mounts {
        mount_one(sys, rootfs, m, cg)?;
    }
    Ok(())
}

/// The mount point that holds `path` (the longest mount point in /proc/self/mountinfo
/// that is `path` or one of its parents).
fn mount_point_of(path: &Path) -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|m| path.starts_with(m))
        .max_by_key(|m| m.as_os_str().len())
}

/// True when the spec binds the host's /dev (then no devices are created).
pub fn dev_is_bind(mounts: &[Mount]) -> bool {
    mounts.iter().any(|m| {
        m.destination() == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind")
                || m.options()
                    .as_ref()
                    .is_some_and(|o| o.iter().any(|x| x == "bind" || x == "rbind")))
    })
}

fn mount_one(sys: &dyn Syscall, rootfs: &Path, m: &Mount, cg: &CgroupMount) -> Result<()> {
    let typ = m.typ().as_deref().unwrap_or("");
    let empty = Vec::new();
    let opts = mountopts::parse(m.options().as_ref().unwrap_or(&empty));
    let is_bind = typ == "bind" || opts.is_bind();
    let kind = if is_bind {
        let src = bind_source(m)?;
        sys.kind(src).ok_or_else(|| {
            Error::Spec(format!(
                "bind mount source {} does not exist",
                src.display()
            ))
        })?
    } else {
        FileKind::Dir
    };
    // The mount point, by handle; once something is mounted there, found again (the
    // handle names what is under the new mount), as runc's `WithProcfd`.
    let point = sys.mount_point(rootfs, m.destination(), kind)?;
    let dest = point.path.as_path();
    let again = || sys.mount_point(rootfs, m.destination(), kind);
    if typ == "cgroup" || typ == "cgroup2" {
        mount_cgroup(sys, dest, &again, &opts, cg)?;
    } else if is_bind {
        bind(sys, bind_source(m)?, dest, &again, &opts)?;
    } else {
        let src = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
        match sys.mount(Some(&src), dest, Some(typ), opts.flags, opts.data()) {
            // In a user namespace without its own network namespace sysfs
            // cannot be mounted: bind the host's, as runc does.
            Err(Error::Sys(_, nix::Error::EPERM)) if typ == "sysfs" => {
                bind(sys, Path::new("/sys"), dest, &again, &rbind(opts.flags))?
            }
            r => r?,
        }
    }
    if !opts.propagation.is_empty() {
        let mounted = again()?;
        for p in &opts.propagation {
            sys.mount(None, &mounted.path, None, *p, None)?;
        }
    }
    Ok(())
}

fn bind_source(m: &Mount) -> Result<&Path> {
    m.source().as_deref().ok_or_else(|| {
        Error::Spec(format!(
            "bind mount {} has no source",
            m.destination().display()
        ))
    })
}

fn rbind(flags: MsFlags) -> MountOpts {
    MountOpts {
        flags: flags | MsFlags::MS_BIND | MsFlags::MS_REC,
        ..Default::default()
    }
}

/// Found again after a mount: the mount point, now naming the new mount.
type Again<'a> = dyn Fn() -> Result<MountPoint> + 'a;

fn bind(
    sys: &dyn Syscall,
    src: &Path,
    dest: &Path,
    again: &Again<'_>,
    opts: &MountOpts,
) -> Result<()> {
    let rec = opts.flags & MsFlags::MS_REC;
    sys.mount(Some(src), dest, Some("bind"), MsFlags::MS_BIND | rec, None)?;
    let extra = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !extra.is_empty() {
        let mounted = again()?;
        remount(
            sys,
            None,
            &mounted.path,
            extra | MsFlags::MS_BIND | MsFlags::MS_REMOUNT,
        )?;
    }
    // `rro` and its kin: the bind and every mount below it (runc's setRecAttr).
    if let Some(attr) = opts.rec_attr {
        let mounted = again()?;
        sys.mount_setattr_recursive(&mounted.path, attr.set, attr.clr)?;
    }
    Ok(())
}

/// A bind remount. In a user namespace the kernel locks the flags (nosuid,
/// nodev, noexec, atime) that a mount had when it came from a more privileged
/// namespace; a refused remount is tried again keeping them, as runc does.
fn remount(sys: &dyn Syscall, src: Option<&Path>, dest: &Path, flags: MsFlags) -> Result<()> {
    match sys.mount(src, dest, None, flags, None) {
        Err(Error::Sys(_, nix::Error::EPERM)) => {
            let locked = sys.locked_flags(dest)?;
            sys.mount(src, dest, None, flags | locked, None)
        }
        r => r,
    }
}

fn mount_cgroup(
    sys: &dyn Syscall,
    dest: &Path,
    again: &Again<'_>,
    opts: &MountOpts,
    cg: &CgroupMount,
) -> Result<()> {
    match cg {
        CgroupMount::V2 => match sys.mount(
            Some(Path::new("cgroup2")),
            dest,
            Some("cgroup2"),
            opts.flags,
            None,
        ) {
            // A user namespace without a cgroup namespace: bind the host's.
            Err(Error::Sys(_, nix::Error::EPERM)) => bind(
                sys,
                Path::new(super::cgroups::ROOT),
                dest,
                again,
                &rbind(opts.flags),
            ),
            r => r,
        },
        CgroupMount::V1 { hierarchies, links } => {
            let base = opts.flags & !MsFlags::MS_RDONLY;
            sys.mount(
                Some(Path::new("tmpfs")),
                dest,
                Some("tmpfs"),
                base,
                Some("mode=755"),
            )?;
            // Inside the new tmpfs, which only the runtime sees yet.
            let tmpfs = again()?;
            let top = tmpfs.path.as_path();
            let ro = MountOpts {
                flags: opts.flags | MsFlags::MS_BIND | MsFlags::MS_REC,
                ..Default::default()
            };
            for (name, host) in hierarchies {
                let d = top.join(name);
                sys.mkdir_all(&d)?;
                let d_again = || {
                    Ok(MountPoint {
                        path: d.clone(),
                        _held: None,
                    })
                };
                bind(sys, host, &d, &d_again, &ro)?;
            }
            for (link, target) in links {
                sys.symlink(Path::new(target), &top.join(link))?;
            }
            if opts.flags.contains(MsFlags::MS_RDONLY) {
                sys.mount(
                    None,
                    top,
                    None,
                    opts.flags | MsFlags::MS_REMOUNT,
                    Some("mode=755"),
                )?;
            }
            Ok(())
        }
    }
}

/// pivot_root into `rootfs` and detach the old root, as runc does.
pub fn pivot(sys: &dyn Syscall, rootfs: &Path) -> Result<()> {
    let old = sys.open_dir(Path::new("/"))?;
    let new = sys.open_dir(rootfs)?;
    sys.fchdir(new.as_fd())?;
    sys.pivot_root(Path::new("."), Path::new("."))?;
    sys.fchdir(old.as_fd())?;
    sys.mount(
        None,
        Path::new("."),
        None,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None,
    )?;
    sys.umount2(Path::new("."), MntFlags::MNT_DETACH)?;
    sys.chdir(Path::new("/"))
}

/// After pivot_root: a shared root propagation asked in the spec.
pub fn finish_propagation(sys: &dyn Syscall, root_propagation: Option<&str>) -> Result<()> {
    if let Some(p) = root_propagation.and_then(mountopts::propagation) {
        if p.contains(MsFlags::MS_SHARED) {
            sys.mount(None, Path::new("/"), None, p, None)?;
        }
    }
    Ok(())
}

pub fn readonly_paths(sys: &dyn Syscall, paths: &[String]) -> Result<()> {
    for p in paths {
        let p = Path::new(p);
        if sys.kind(p).is_none() {
            continue;
        }
        sys.mount(
            Some(p),
            p,
            Some("bind"),
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )?;
        // As runc's readonlyPath: the source's nosuid/nodev/noexec stay on the read-only bind.
        let kept =
            sys.locked_flags(p)? & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
        let fl = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC;
        remount(sys, Some(p), p, fl | kept)?;
    }
    Ok(())
}

pub fn masked_paths(sys: &dyn Syscall, paths: &[String]) -> Result<()> {
    for p in paths {
        let p = Path::new(p);
        match sys.kind(p) {
            None => continue,
            Some(FileKind::Dir) => sys.mount(
                Some(Path::new("tmpfs")),
                p,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None,
            )?,
            Some(FileKind::File) => sys.mount(
                Some(Path::new("/dev/null")),
                p,
                Some("bind"),
                MsFlags::MS_BIND,
                None,
            )?,
        }
    }
    Ok(())
}

pub fn readonly_root(sys: &dyn Syscall) -> Result<()> {
    let fl = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    remount(sys, Some(Path::new("/")), Path::new("/"), fl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall_fake::{Call, RecordingSyscall};
    use oci_spec::runtime::MountBuilder;

    fn mnt(dest: &str, typ: &str, src: &str, opts: &[&str]) -> Mount {
        MountBuilder::default()
            .destination(dest)
            .typ(typ)
            .source(src)
            .options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .build()
            .expect("mount")
    }

    #[test]
    fn prepare_mounts_in_order() {
        let sys = RecordingSyscall::new().with_kind("/host/data", FileKind::Dir);
        let mounts = vec![
            mnt("/proc", "proc", "proc", &[]),
            mnt("/dev", "tmpfs", "tmpfs", &["nosuid", "mode=755"]),
            mnt("/data", "bind", "/host/data", &["rbind", "ro", "rprivate"]),
        ];
        let root = Path::new("/nonexistent/rootfs");
        prepare(&sys, root, &mounts, None, &CgroupMount::V2).expect("prepare");
        let m = sys.mounts();
        assert_eq!(m[0].1, PathBuf::from("/"));
        assert_eq!(m[0].3, MsFlags::MS_SLAVE | MsFlags::MS_REC);
        assert_eq!(m[1].3, MsFlags::MS_BIND | MsFlags::MS_REC);
        assert_eq!(m[2].1, root.join("proc"));
        assert_eq!(m[2].2.as_deref(), Some("proc"));
        assert_eq!(m[3].4.as_deref(), Some("mode=755"));
        assert_eq!(m[3].3, MsFlags::MS_NOSUID);
        // bind, then remount read-only, then propagation
        assert_eq!(m[4].0, Some(PathBuf::from("/host/data")));
        assert_eq!(m[4].3, MsFlags::MS_BIND | MsFlags::MS_REC);
        assert!(m[5]
            .3
            .contains(MsFlags::MS_RDONLY | MsFlags::MS_REMOUNT | MsFlags::MS_BIND));
        assert_eq!(m[6].3, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
    }

    #[test]
    fn recursive_read_only_and_non_recursive_binds_as_runc() {
        let sys = RecordingSyscall::new().with_kind("/host/data", FileKind::Dir);
        let mounts = vec![
            mnt("/rro", "bind", "/host/data", &["rbind", "rro", "rprivate"]),
            mnt("/one", "bind", "/host/data", &["bind", "ro"]),
        ];
        prepare(&sys, Path::new("/r"), &mounts, None, &CgroupMount::V2).expect("prepare");
        let calls = sys.calls();
        let rro = calls
            .iter()
            .position(|c| *c == Call::SetattrRecursive("/r/rro".into(), libc::MOUNT_ATTR_RDONLY, 0))
            .expect("mount_setattr on /r/rro");
        // After the bind itself, before its propagation; no plain remount (no "ro").
        let bound = calls
            .iter()
            .position(|c| matches!(c, Call::Mount { target, flags, .. } if target == Path::new("/r/rro") && *flags == MsFlags::MS_BIND | MsFlags::MS_REC))
            .expect("rbind of /r/rro");
        let private = calls
            .iter()
            .position(|c| matches!(c, Call::Mount { target, flags, .. } if target == Path::new("/r/rro") && *flags == MsFlags::MS_PRIVATE | MsFlags::MS_REC))
            .expect("propagation of /r/rro");
        assert!(bound < rro && rro < private, "{calls:?}");
        assert!(!calls.iter().any(|c| matches!(c, Call::Mount { target, flags, .. } if target == Path::new("/r/rro") && flags.contains(MsFlags::MS_REMOUNT))));
        // "bind": no MS_REC, and "ro" a remount of that one mount.
        let m = sys.mounts();
        let one: Vec<_> = m.iter().filter(|c| c.1 == Path::new("/r/one")).collect();
        assert_eq!(one[0].3, MsFlags::MS_BIND);
        assert!(one[1].3.contains(MsFlags::MS_RDONLY | MsFlags::MS_REMOUNT));
        assert_eq!(
            calls
                .iter()
                .filter(|c| matches!(c, Call::SetattrRecursive(..)))
                .count(),
            1
        );
    }

    #[test]
    fn remount_keeps_locked_flags() {
        let mut sys = RecordingSyscall::new().with_kind("/host/data", FileKind::Dir);
        sys.remount_eperm = true;
        let mounts = vec![mnt("/data", "bind", "/host/data", &["rbind", "ro"])];
        prepare(&sys, Path::new("/r"), &mounts, None, &CgroupMount::V2).expect("prepare");
        let m = sys.mounts();
        assert_eq!(m.len(), 5, "{m:?}");
        assert!(!m[3].3.contains(MsFlags::MS_NOSUID));
        let keep = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
        assert!(m[4].3.contains(keep | MsFlags::MS_REMOUNT), "{:?}", m[4].3);
        readonly_root(&sys).expect("ro root");
        assert!(sys.mounts()[6].3.contains(keep));
    }

    #[test]
    fn missing_bind_source_is_an_error() {
        let sys = RecordingSyscall::new();
        let mounts = vec![mnt("/data", "bind", "/nope", &["bind"])];
        assert!(prepare(&sys, Path::new("/r"), &mounts, None, &CgroupMount::V2).is_err());
    }

    #[test]
    fn shared_root_propagation_is_kept_and_the_roots_mount_made_private() {
        let sys = RecordingSyscall::new();
        prepare(
            &sys,
            Path::new("/r"),
            &[],
            Some("rshared"),
            &CgroupMount::V2,
        )
        .expect("prepare");
        let m = sys.mounts();
        assert_eq!(m[0].3, MsFlags::MS_SHARED | MsFlags::MS_REC);
        // "/r" is no mount point: the mount holding it ("/" at least) becomes private alone.
        assert_eq!(m[1].3, MsFlags::MS_PRIVATE);
        assert!(m[2].3.contains(MsFlags::MS_BIND));
    }

    #[test]
    fn cgroup_v1_binds_each_hierarchy_readonly() {
        let sys = RecordingSyscall::new();
        let cg = CgroupMount::V1 {
            hierarchies: vec![(
                "memory".into(),
                PathBuf::from("/sys/fs/cgroup/memory/berth/x"),
            )],
            links: vec![("cpuacct".into(), "cpu,cpuacct".into())],
        };
        let mounts = vec![mnt("/sys/fs/cgroup", "cgroup", "cgroup", &["ro", "nosuid"])];
        prepare(&sys, Path::new("/r"), &mounts, Some("rprivate"), &cg).expect("prepare");
        let m = sys.mounts();
        assert_eq!(m[0].3, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        assert_eq!(m[2].2.as_deref(), Some("tmpfs"));
        assert!(!m[2].3.contains(MsFlags::MS_RDONLY));
        assert_eq!(m[3].1, PathBuf::from("/r/sys/fs/cgroup/memory"));
        assert!(m[4].3.contains(MsFlags::MS_RDONLY | MsFlags::MS_REMOUNT));
        assert!(m[5].3.contains(MsFlags::MS_RDONLY | MsFlags::MS_REMOUNT));
        assert!(sys.calls().contains(&Call::Symlink(
            "cpu,cpuacct".into(),
            "/r/sys/fs/cgroup/cpuacct".into()
        )));
    }

    #[test]
    fn masked_and_readonly_paths() {
        let sys = RecordingSyscall::new()
            .with_kind("/proc/kcore", FileKind::File)
            .with_kind("/proc/acpi", FileKind::Dir)
            .with_kind("/proc/sys", FileKind::Dir);
        masked_paths(
            &sys,
            &[
                "/proc/kcore".into(),
                "/proc/acpi".into(),
                "/proc/missing".into(),
            ],
        )
        .expect("mask");
        readonly_paths(&sys, &["/proc/sys".into()]).expect("ro");
        let m = sys.mounts();
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].0, Some(PathBuf::from("/dev/null")));
        assert_eq!(m[1].2.as_deref(), Some("tmpfs"));
        assert!(m[3].3.contains(MsFlags::MS_RDONLY));
        // The source's nosuid/nodev (the fake's locked flags) stay on the read-only bind.
        assert!(m[3].3.contains(MsFlags::MS_NOSUID | MsFlags::MS_NODEV));
    }

    #[test]
    fn pivot_detaches_old_root() {
        let sys = RecordingSyscall::new();
        pivot(&sys, Path::new("/r")).expect("pivot");
        let c = sys.calls();
        assert!(c.contains(&Call::PivotRoot(".".into())));
        assert!(c.contains(&Call::Umount(".".into())));
        assert_eq!(c.last(), Some(&Call::Chdir("/".into())));
    }
}
