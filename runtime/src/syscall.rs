//! The `Syscall` trait (youki's idea): every call that changes the mount table
//! or namespaces goes through it, so the logic above it can be unit-tested with
//! the recording fake in `syscall_fake.rs`.
use crate::error::{Error, Result};
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::stat::{Mode, SFlag};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What is at a path, as far as mount logic needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Dir,
    File,
}

/// A mount point made inside a container's root: `path` names exactly that object for
/// mount(2) (`/proc/self/fd/N` of a handle held in `_held`), whatever anyone does to the
/// names on the way meanwhile, as runc's `WithProcfd`.
#[derive(Debug)]
pub struct MountPoint {
    pub path: PathBuf,
    pub _held: Option<OwnedFd>,
}

pub trait Syscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<()>;
    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<()>;
    /// mount_setattr(2) with `AT_RECURSIVE` on the mount at `target` and every mount
    /// below it: `MOUNT_ATTR_*` bits `set` and `clr` (runc's `setRecAttr`).
    fn mount_setattr_recursive(&self, target: &Path, set: u64, clr: u64) -> Result<()>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<()>;
    fn chdir(&self, path: &Path) -> Result<()>;
    fn sethostname(&self, name: &str) -> Result<()>;
    fn setdomainname(&self, name: &str) -> Result<()>;
    fn setns(&self, fd: BorrowedFd<'_>, nstype: CloneFlags) -> Result<()>;
    fn unshare(&self, flags: CloneFlags) -> Result<()>;
    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> Result<()>;
    fn symlink(&self, target: &Path, link: &Path) -> Result<()>;
    fn mkdir_all(&self, path: &Path) -> Result<()>;
    /// Creates an empty file (and its parents) if nothing is there.
    fn create_file(&self, path: &Path) -> Result<()>;
    fn remove_file(&self, path: &Path) -> Result<()>;
    fn kind(&self, path: &Path) -> Option<FileKind>;
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> Result<()>;
    fn open_dir(&self, path: &Path) -> Result<OwnedFd>;
    fn fchdir(&self, fd: BorrowedFd<'_>) -> Result<()>;
    /// The flags of the mount at `path` that a user namespace cannot clear.
    fn locked_flags(&self, path: &Path) -> Result<MsFlags>;
    /// `dest` (as the container sees it) inside `rootfs`, made a mount point of `kind`
    /// where it is missing (its folders too), resolved inside the root by handle: symlinks
    /// stay in the root, and no name swapped on the way (by a container sharing a volume
    /// with this one) redirects the mount. Called again after a mount, it names the new
    /// mount (for remounts and propagation).
    fn mount_point(&self, rootfs: &Path, dest: &Path, kind: FileKind) -> Result<MountPoint>;
}

/// The real thing.
pub struct LinuxSyscall;

impl Syscall for LinuxSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<()> {
        nix::mount::mount(source, target, fstype, flags, data).map_err(|e| {
            Error::sys(
                format!(
                    "mount {} on {} (type {}, flags {:#x}, data {:?})",
                    source.map(|s| s.display().to_string()).unwrap_or_default(),
                    target.display(),
                    fstype.unwrap_or(""),
                    flags.bits(),
                    data.unwrap_or("")
                ),
                e,
            )
        })
    }
    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<()> {
        nix::mount::umount2(target, flags)
            .map_err(|e| Error::sys(format!("umount {}", target.display()), e))
    }
    fn mount_setattr_recursive(&self, target: &Path, set: u64, clr: u64) -> Result<()> {
        let what = || {
            format!(
                "mount_setattr {} (set {set:#x}, clear {clr:#x})",
                target.display()
            )
        };
        let path = std::ffi::CString::new(target.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::sys(what(), nix::Error::EINVAL))?;
        let attr = libc::mount_attr {
            attr_set: set,
            attr_clr: clr,
            propagation: 0,
            userns_fd: 0,
        };
        // SAFETY: `path` is a NUL-terminated string and `attr` a valid mount_attr that
        // both outlive the call; its size is passed with it.
        let r = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                libc::AT_FDCWD,
                path.as_ptr(),
                libc::AT_RECURSIVE as libc::c_uint,
                &attr as *const libc::mount_attr,
                std::mem::size_of::<libc::mount_attr>(),
            )
        };
        if r < 0 {
            return Err(Error::sys(what(), nix::Error::last()));
        }
        Ok(())
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<()> {
        nix::unistd::pivot_root(new_root, put_old)
            .map_err(|e| Error::sys(format!("pivot_root {}", new_root.display()), e))
    }
    fn chdir(&self, path: &Path) -> Result<()> {
        nix::unistd::chdir(path).map_err(|e| Error::sys(format!("chdir {}", path.display()), e))
    }
    fn sethostname(&self, name: &str) -> Result<()> {
        nix::unistd::sethostname(name).map_err(|e| Error::sys("sethostname", e))
    }
    fn setdomainname(&self, name: &str) -> Result<()> {
        // SAFETY: pointer and length describe a valid buffer.
        let r = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
        if r != 0 {
            return Err(Error::sys("setdomainname", nix::Error::last()));
        }
        Ok(())
    }
    fn setns(&self, fd: BorrowedFd<'_>, nstype: CloneFlags) -> Result<()> {
        nix::sched::setns(fd.as_fd(), nstype)
            .map_err(|e| Error::sys(format!("setns {:?}", nstype), e))
    }
    fn unshare(&self, flags: CloneFlags) -> Result<()> {
        nix::sched::unshare(flags).map_err(|e| Error::sys(format!("unshare {:?}", flags), e))
    }
    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> Result<()> {
        nix::sys::stat::mknod(path, kind, perm, dev)
            .map_err(|e| Error::sys(format!("mknod {}", path.display()), e))
    }
    fn symlink(&self, target: &Path, link: &Path) -> Result<()> {
        match std::os::unix::fs::symlink(target, link) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(Error::io("symlink", link, e)),
        }
    }
    fn mkdir_all(&self, path: &Path) -> Result<()> {
        std::fs::create_dir_all(path).map_err(|e| Error::io("mkdir", path, e))
    }
    fn create_file(&self, path: &Path) -> Result<()> {
        if path.symlink_metadata().is_ok() {
            return Ok(());
        }
        if let Some(parent) = path.parent() {
            self.mkdir_all(parent)?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map(|_| ())
            .map_err(|e| Error::io("create", path, e))
    }
    fn remove_file(&self, path: &Path) -> Result<()> {
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove", path, e)),
        }
    }
    fn kind(&self, path: &Path) -> Option<FileKind> {
        let md = std::fs::metadata(path).ok()?;
        Some(if md.is_dir() {
            FileKind::Dir
        } else {
            FileKind::File
        })
    }
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> Result<()> {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))
            .map_err(|e| Error::io("chown", path, e))
    }
    fn open_dir(&self, path: &Path) -> Result<OwnedFd> {
        nix::fcntl::open(
            path,
            nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_RDONLY
                | nix::fcntl::OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::sys(format!("open {}", path.display()), e))
    }
    fn fchdir(&self, fd: BorrowedFd<'_>) -> Result<()> {
        nix::unistd::fchdir(fd).map_err(|e| Error::sys("fchdir", e))
    }
    fn locked_flags(&self, path: &Path) -> Result<MsFlags> {
        use nix::sys::statvfs::FsFlags;
        let st = nix::sys::statvfs::statvfs(path)
            .map_err(|e| Error::sys(format!("statvfs {}", path.display()), e))?;
        let f = st.flags();
        let mut out = MsFlags::empty();
        for (fs, ms) in [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if f.contains(fs) {
                out |= ms;
            }
        }
        Ok(out)
    }
    fn mount_point(&self, rootfs: &Path, dest: &Path, kind: FileKind) -> Result<MountPoint> {
        use pathrs::flags::OpenFlags;
        use std::os::unix::fs::PermissionsExt;
        let fail = |e: pathrs::error::Error| {
            let io = match e.kind() {
                pathrs::error::ErrorKind::OsError(Some(errno)) => {
                    std::io::Error::from_raw_os_error(errno)
                }
                _ => std::io::Error::other(e.to_string()),
            };
            Error::io(
                "mount point",
                rootfs.join(dest.strip_prefix("/").unwrap_or(dest)),
                io,
            )
        };
        if let Some(fd) = quick_mount_point(rootfs, dest, kind) {
            use std::os::fd::AsRawFd;
            return Ok(MountPoint {
                path: PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
                _held: Some(fd),
            });
        }
        let root = pathrs::Root::open(rootfs).map_err(fail)?;
        let folders = std::fs::Permissions::from_mode(0o755);
        let make = |dest: &Path| -> std::result::Result<OwnedFd, pathrs::error::Error> {
            match kind {
                FileKind::Dir => root.mkdir_all(dest, &folders).map(OwnedFd::from),
                FileKind::File => match root.resolve(dest) {
                    Ok(handle) => Ok(handle.into()),
                    Err(_) => {
                        if let Some(parent) = dest.parent() {
                            root.mkdir_all(parent, &folders)?;
                        }
                        let flags =
                            OpenFlags::O_RDONLY | OpenFlags::O_NOFOLLOW | OpenFlags::O_CLOEXEC;
                        let mode = std::fs::Permissions::from_mode(0o755);
                        match root.create_file(dest, flags, &mode) {
                            Ok(file) => Ok(file.into()),
                            // Made meanwhile (the same mount listed twice): use it.
                            Err(_) => root.resolve(dest).map(OwnedFd::from),
                        }
                    }
                },
            }
        };
        let fd = match make(dest) {
            Ok(fd) => fd,
            Err(refused) => {
                // libpathrs makes nothing through a dangling symlink; runc (and this
                // runtime before) made its target inside the root. Where the links lead
                // is read here; what is made is made by handle again, inside the root.
                let joined = crate::utils::secure_join(rootfs, dest);
                let inside = Path::new("/").join(joined.strip_prefix(rootfs).unwrap_or(&joined));
                if inside == dest {
                    return Err(fail(refused));
                }
                make(&inside).map_err(fail)?
            }
        };
        use std::os::fd::AsRawFd;
        Ok(MountPoint {
            path: PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
            _held: Some(fd),
        })
    }
}

/// The mount point by the kernel's resolution alone, when that is enough: `dest`
/// resolved with the root as `/` (`openat2` `RESOLVE_IN_ROOT`: symlinks, absolute ones
/// and `..` stay inside it; no magic links) — libpathrs' own resolution without its
/// checks of procfs for making folders, some thirty calls per mount point. When only
/// the last name is missing (`/dev/pts` in the `/dev` just mounted) it is made in the
/// folder so resolved and opened again without following anything. `None` — more
/// missing, not a folder where one is wanted, something swapped meanwhile, a kernel
/// without `openat2` — leaves it all to libpathrs, which makes what is missing and
/// reports what is wrong.
fn quick_mount_point(rootfs: &Path, dest: &Path, kind: FileKind) -> Option<OwnedFd> {
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
    let root = nix::fcntl::open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let in_root = |at: &Path, flags: OFlag| {
        let how = OpenHow::new()
            .flags(flags | OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        nix::fcntl::openat2(&root, at, how)
    };
    let wanted = match kind {
        FileKind::Dir => OFlag::O_DIRECTORY,
        FileKind::File => OFlag::empty(),
    };
    match in_root(dest, wanted) {
        Ok(fd) => return Some(fd),
        Err(nix::Error::ENOENT) => {}
        Err(_) => return None,
    }
    let name = match dest.components().next_back()? {
        std::path::Component::Normal(name) => name,
        _ => return None,
    };
    let parent = in_root(dest.parent()?, OFlag::O_DIRECTORY).ok()?;
    match kind {
        FileKind::Dir => {
            nix::sys::stat::mkdirat(&parent, name, Mode::from_bits_truncate(0o755)).ok()?;
            let how = OpenHow::new()
                .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
                .resolve(
                    ResolveFlag::RESOLVE_BENEATH
                        | ResolveFlag::RESOLVE_NO_SYMLINKS
                        | ResolveFlag::RESOLVE_NO_MAGICLINKS,
                );
            nix::fcntl::openat2(&parent, name, how).ok()
        }
        FileKind::File => nix::fcntl::openat(
            &parent,
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o755),
        )
        .ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_made_inside_the_root_and_named_by_handle() {
        let host = tempfile::tempdir().expect("host");
        let root = tempfile::tempdir().expect("root");
        let r = root.path();
        // The image's /etc points at a host folder; /data at one that does not exist.
        std::os::unix::fs::symlink(host.path(), r.join("etc")).expect("ln");
        std::fs::create_dir(r.join("real")).expect("mkdir");
        std::os::unix::fs::symlink("/real", r.join("data")).expect("ln");
        let sys = LinuxSyscall;
        // What the handle of the mount point made for `dest` names.
        let made = |dest: &str, kind: FileKind| {
            let point = sys.mount_point(r, Path::new(dest), kind).expect(dest);
            std::fs::read_link(&point.path).expect("fd")
        };
        let inside = r.join(host.path().strip_prefix("/").expect("absolute"));
        assert_eq!(made("/etc/hosts", FileKind::File), inside.join("hosts"));
        assert!(inside.join("hosts").is_file());
        assert_eq!(
            std::fs::read_dir(host.path()).expect("host").count(),
            0,
            "made on the host"
        );
        assert_eq!(made("/data/sub", FileKind::Dir), r.join("real/sub"));
        // A folder that exists on the host at the link's target is not used: resolved
        // inside the root, where it is made.
        std::fs::create_dir(host.path().join("x")).expect("mkdir");
        std::os::unix::fs::symlink(host.path(), r.join("out")).expect("ln");
        assert_eq!(made("/out/x", FileKind::Dir), inside.join("x"));
        // Only the last name missing: made in its folder, as a folder or a file.
        std::fs::create_dir(r.join("dev")).expect("mkdir");
        assert_eq!(made("/dev/pts", FileKind::Dir), r.join("dev/pts"));
        assert!(r.join("dev/pts").is_dir());
        assert_eq!(made("/dev/console", FileKind::File), r.join("dev/console"));
        assert!(r.join("dev/console").is_file());
        // A last name that is a dangling link out of the root is made inside it.
        std::os::unix::fs::symlink(host.path().join("gone"), r.join("dev/link")).expect("ln");
        assert_eq!(made("/dev/link", FileKind::Dir), inside.join("gone"));
        assert!(!host.path().join("gone").exists(), "made on the host");
        // Found again, the same object.
        assert_eq!(made("/data/sub", FileKind::Dir), r.join("real/sub"));
    }
}
