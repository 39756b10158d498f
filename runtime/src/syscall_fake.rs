//! A recording fake of `Syscall` for unit tests that must not need root.
use crate::error::Result;
use crate::syscall::{FileKind, MountPoint, Syscall};
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::stat::{Mode, SFlag};
use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Mount {
        source: Option<PathBuf>,
        target: PathBuf,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    Umount(PathBuf),
    PivotRoot(PathBuf),
    Chdir(PathBuf),
    Hostname(String),
    Domainname(String),
    Setns(CloneFlags),
    Unshare(CloneFlags),
    Mknod(PathBuf, u64),
    Symlink(PathBuf, PathBuf),
    Mkdir(PathBuf),
    CreateFile(PathBuf),
    Remove(PathBuf),
    Chown(PathBuf),
    OpenDir(PathBuf),
    Fchdir,
}

/// (source, target, fstype, flags, data) of one mount call.
pub type MountCall = (
    Option<PathBuf>,
    PathBuf,
    Option<String>,
    MsFlags,
    Option<String>,
);

#[derive(Default)]
pub struct RecordingSyscall {
    pub calls: RefCell<Vec<Call>>,
    /// What `kind()` answers; paths not listed do not exist.
    pub kinds: RefCell<HashMap<PathBuf, FileKind>>,
    /// When set, mknod fails with EPERM (as in a user namespace).
    pub mknod_eperm: bool,
    /// When set, a remount that would clear nosuid fails with EPERM (a flag
    /// locked by a user namespace); `locked_flags` reports nosuid and nodev.
    pub remount_eperm: bool,
}

impl RecordingSyscall {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with_kind(self, p: &str, k: FileKind) -> Self {
        self.kinds.borrow_mut().insert(PathBuf::from(p), k);
        self
    }
    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }
    pub fn mounts(&self) -> Vec<MountCall> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Mount {
                    source,
                    target,
                    fstype,
                    flags,
                    data,
                } => Some((source, target, fstype, flags, data)),
                _ => None,
            })
            .collect()
    }
    fn push(&self, c: Call) {
        self.calls.borrow_mut().push(c);
    }
}

impl Syscall for RecordingSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<()> {
        self.push(Call::Mount {
            source: source.map(Path::to_path_buf),
            target: target.to_path_buf(),
            fstype: fstype.map(str::to_string),
            flags,
            data: data.map(str::to_string),
        });
        if self.remount_eperm
            && flags.contains(MsFlags::MS_REMOUNT)
            && !flags.contains(MsFlags::MS_NOSUID)
        {
            return Err(crate::error::Error::sys("mount", nix::Error::EPERM));
        }
        Ok(())
    }
    fn umount2(&self, target: &Path, _flags: MntFlags) -> Result<()> {
        self.push(Call::Umount(target.to_path_buf()));
        Ok(())
    }
    fn pivot_root(&self, new_root: &Path, _put_old: &Path) -> Result<()> {
        self.push(Call::PivotRoot(new_root.to_path_buf()));
        Ok(())
    }
    fn chdir(&self, path: &Path) -> Result<()> {
        self.push(Call::Chdir(path.to_path_buf()));
        Ok(())
    }
    fn sethostname(&self, name: &str) -> Result<()> {
        self.push(Call::Hostname(name.to_string()));
        Ok(())
    }
    fn setdomainname(&self, name: &str) -> Result<()> {
        self.push(Call::Domainname(name.to_string()));
        Ok(())
    }
    fn setns(&self, _fd: BorrowedFd<'_>, nstype: CloneFlags) -> Result<()> {
        self.push(Call::Setns(nstype));
        Ok(())
    }
    fn unshare(&self, flags: CloneFlags) -> Result<()> {
        self.push(Call::Unshare(flags));
        Ok(())
    }
    fn mknod(&self, path: &Path, _kind: SFlag, _perm: Mode, dev: u64) -> Result<()> {
        if self.mknod_eperm {
            return Err(crate::error::Error::sys("mknod", nix::Error::EPERM));
        }
        self.push(Call::Mknod(path.to_path_buf(), dev));
        Ok(())
    }
    fn symlink(&self, target: &Path, link: &Path) -> Result<()> {
        self.push(Call::Symlink(target.to_path_buf(), link.to_path_buf()));
        Ok(())
    }
    fn mkdir_all(&self, path: &Path) -> Result<()> {
        self.push(Call::Mkdir(path.to_path_buf()));
        self.kinds
            .borrow_mut()
            .entry(path.to_path_buf())
            .or_insert(FileKind::Dir);
        Ok(())
    }
    fn create_file(&self, path: &Path) -> Result<()> {
        self.push(Call::CreateFile(path.to_path_buf()));
        self.kinds
            .borrow_mut()
            .entry(path.to_path_buf())
            .or_insert(FileKind::File);
        Ok(())
    }
    fn remove_file(&self, path: &Path) -> Result<()> {
        self.push(Call::Remove(path.to_path_buf()));
        Ok(())
    }
    fn kind(&self, path: &Path) -> Option<FileKind> {
        self.kinds.borrow().get(path).copied()
    }
    fn chown(&self, path: &Path, _uid: u32, _gid: u32) -> Result<()> {
        self.push(Call::Chown(path.to_path_buf()));
        Ok(())
    }
    fn open_dir(&self, path: &Path) -> Result<OwnedFd> {
        self.push(Call::OpenDir(path.to_path_buf()));
        std::fs::File::open("/dev/null")
            .map(OwnedFd::from)
            .map_err(|e| crate::error::Error::io("open", "/dev/null", e))
    }
    fn fchdir(&self, _fd: BorrowedFd<'_>) -> Result<()> {
        self.push(Call::Fchdir);
        Ok(())
    }
    fn locked_flags(&self, _path: &Path) -> Result<MsFlags> {
        Ok(MsFlags::MS_NOSUID | MsFlags::MS_NODEV)
    }
    /// The path joined inside the root (symlinks of the fake are none), made as the
    /// real one makes it.
    fn mount_point(&self, rootfs: &Path, dest: &Path, kind: FileKind) -> Result<MountPoint> {
        let path = crate::utils::secure_join(rootfs, dest);
        match kind {
            FileKind::Dir => self.mkdir_all(&path)?,
            FileKind::File => self.create_file(&path)?,
        }
        Ok(MountPoint { path, _held: None })
    }
}
