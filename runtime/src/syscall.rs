//! The `Syscall` trait (youki's idea): every call that changes the mount table
//! or namespaces goes through it, so the logic above it can be unit-tested with
//! the recording fake in `syscall_fake.rs`.
use crate::error::{Error, Result};
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::stat::{Mode, SFlag};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// What is at a path, as far as mount logic needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Dir,
    File,
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
}
