//! Folders read by handle: a folder's names listed through its own descriptor, each
//! entry opened relative to it with `O_PATH | O_NOFOLLOW` (so a name the container swaps
//! for a symlink is opened as the symlink, never followed), its metadata and content read
//! from that descriptor. Paths below a folder are opened with no symlink followed at all
//! (`open_beneath`). Pseudo-filesystems (proc, sysfs, cgroup, …) are never entered: what
//! is read is the container's files, as dockerd's archive of a container's root.
use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path};

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

/// One entry of a folder, held open: the object itself (a symlink is the link).
#[derive(Debug)]
pub struct Entry {
    /// `O_PATH` descriptor of the object.
    pub fd: OwnedFd,
    /// Its metadata, read from `fd` (`lstat` of what was opened).
    pub meta: Metadata,
}

impl Entry {
    /// Opens `name` in `dir` without following it. `None` when it is gone.
    pub fn open(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<Entry>> {
        match openat(dir, name, path_flags(), Mode::empty()) {
            Ok(fd) => Entry::from_fd(fd).map(Some),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The entry behind an `O_PATH` descriptor.
    pub fn from_fd(fd: OwnedFd) -> io::Result<Entry> {
        let file = File::from(fd);
        // statx(fd, "", AT_EMPTY_PATH): the object itself, a symlink included.
        let meta = file.metadata()?;
        Ok(Entry {
            fd: OwnedFd::from(file),
            meta,
        })
    }

    /// The folder itself, opened for listing (the same inode: no name is resolved).
    pub fn open_dir(&self) -> io::Result<OwnedFd> {
        reopen_dir(self.fd.as_fd())
    }

    /// The regular file itself, opened for reading (the same inode, reopened through
    /// the process's own fd table, never through the container's names).
    pub fn open_file(&self) -> io::Result<File> {
        if !self.meta.is_file() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        pathrs::HandleRef::from_fd(self.fd.as_fd())
            .reopen(pathrs::flags::OpenFlags::O_RDONLY)
            .map_err(super::io_error)
    }

    /// A symlink's target.
    pub fn link_target(&self) -> io::Result<OsString> {
        nix::fcntl::readlinkat(&self.fd, "").map_err(io::Error::from)
    }

    /// Whether the object lives on a pseudo-filesystem (see [`is_pseudo_fs`]).
    pub fn on_pseudo_fs(&self) -> bool {
        is_pseudo_fs(self.fd.as_fd())
    }
}

fn path_flags() -> OFlag {
    OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// A folder (any descriptor of it, `O_PATH` included) opened anew for listing.
pub fn reopen_dir(dir: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    openat(dir, ".", dir_flags(), Mode::empty()).map_err(io::Error::from)
}

/// The names in the folder `dir` (not "." and ".."), sorted by bytes as Go's
/// `filepath.Walk` sorts them. The folder is listed through `/proc/self/fd`, which names
/// the descriptor's own folder: no name inside the root is resolved.
pub fn names(dir: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    use std::os::fd::AsRawFd;
    let mut out = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd()))? {
        out.push(entry?.file_name());
    }
    out.sort();
    Ok(out)
}

/// Opens `rel` below `dir` (`O_PATH`) following no symlink at all, its last component
/// included, and never leaving `dir`: a name swapped for a symlink fails (`ELOOP`).
pub fn open_beneath(dir: BorrowedFd<'_>, rel: &Path) -> io::Result<OwnedFd> {
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
        .mode(Mode::empty())
        .resolve(
            ResolveFlag::RESOLVE_BENEATH
                | ResolveFlag::RESOLVE_NO_SYMLINKS
                | ResolveFlag::RESOLVE_NO_MAGICLINKS
                | ResolveFlag::RESOLVE_NO_XDEV,
        );
    match nix::fcntl::openat2(dir, rel, how) {
        Ok(fd) => Ok(fd),
        // Kernels before 5.6 (or a filter hiding openat2): one component at a time.
        Err(Errno::ENOSYS) | Err(Errno::EPERM) => open_beneath_by_component(dir, rel),
        Err(e) => Err(e.into()),
    }
}

fn open_beneath_by_component(dir: BorrowedFd<'_>, rel: &Path) -> io::Result<OwnedFd> {
    let mut current = openat(dir, ".", path_flags(), Mode::empty())?;
    for component in rel.components() {
        match component {
            Component::Normal(name) => {
                current = openat(&current, name, path_flags(), Mode::empty())?;
            }
            Component::CurDir => {}
            _ => return Err(io::Error::from_raw_os_error(libc::EXDEV)),
        }
    }
    Ok(current)
}

/// Filesystems that are the kernel's views, never a container's files: a copy of one is
/// endless (`/proc/kmsg`), huge (`/sys`) or the host's own.
const PSEUDO_FILESYSTEMS: &[u64] = &[
    0x9fa0,      // proc
    0x6265_6572, // sysfs
    0x0027_e0eb, // cgroup
    0x6367_7270, // cgroup2
    0x1cd1,      // devpts
    0x6462_6720, // debugfs
    0x7363_6673, // securityfs
    0x7472_6163, // tracefs
    0xcafe_4a11, // bpf
    0xf97c_ff8c, // selinuxfs
    0x1980_0202, // mqueue
    0x6263_6473, // configfs
    0x4249_4e4d, // binfmt_misc
    0x6165_676c, // pstore
    0x6573_5546, // fusectl
    0xde5e_81e4, // efivarfs
];

/// Whether `fd` lives on a pseudo-filesystem.
pub fn is_pseudo_fs(fd: BorrowedFd<'_>) -> bool {
    match nix::sys::statfs::fstatfs(fd) {
        Ok(stat) => PSEUDO_FILESYSTEMS.contains(&(stat.filesystem_type().0 as u64)),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::symlink;

    #[test]
    fn names_are_sorted_and_entries_are_not_followed() {
        let root = tempfile::tempdir().expect("tmp");
        let r = root.path();
        std::fs::write(r.join("b"), "b").expect("write");
        std::fs::create_dir(r.join("a")).expect("mkdir");
        symlink("/etc", r.join("c")).expect("ln");
        let dir = reopen_dir(File::open(r).expect("open").as_fd()).expect("dir");
        assert_eq!(names(dir.as_fd()).expect("names"), ["a", "b", "c"]);
        let link = Entry::open(dir.as_fd(), OsStr::new("c"))
            .expect("open")
            .expect("there");
        assert!(link.meta.file_type().is_symlink());
        assert_eq!(link.link_target().expect("readlink"), "/etc");
        assert!(link.open_file().is_err());
        let file = Entry::open(dir.as_fd(), OsStr::new("b"))
            .expect("open")
            .expect("there");
        let mut text = String::new();
        file.open_file()
            .expect("file")
            .read_to_string(&mut text)
            .expect("read");
        assert_eq!(text, "b");
        assert!(Entry::open(dir.as_fd(), OsStr::new("gone"))
            .expect("open")
            .is_none());
    }

    #[test]
    fn open_beneath_follows_no_symlink() {
        let root = tempfile::tempdir().expect("tmp");
        let r = root.path();
        std::fs::create_dir_all(r.join("real/sub")).expect("mkdir");
        symlink("real", r.join("link")).expect("ln");
        let dir = File::open(r).expect("open");
        assert!(open_beneath(dir.as_fd(), Path::new("real/sub")).is_ok());
        assert!(open_beneath(dir.as_fd(), Path::new("link/sub")).is_err());
        assert!(open_beneath(dir.as_fd(), Path::new("../etc")).is_err());
        assert!(open_beneath_by_component(dir.as_fd(), Path::new("link/sub")).is_err());
        assert!(open_beneath_by_component(dir.as_fd(), Path::new("real/sub")).is_ok());
        // The last component itself is opened as the link.
        let link = Entry::from_fd(open_beneath(dir.as_fd(), Path::new("link")).expect("open"))
            .expect("entry");
        assert!(link.meta.file_type().is_symlink());
    }

    #[test]
    fn proc_is_a_pseudo_filesystem() {
        let proc = File::open("/proc/self").expect("proc");
        assert!(is_pseudo_fs(proc.as_fd()));
        let tmp = tempfile::tempdir().expect("tmp");
        assert!(!is_pseudo_fs(File::open(tmp.path()).expect("tmp").as_fd()));
    }
}
