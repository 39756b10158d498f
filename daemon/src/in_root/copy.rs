//! Copy-up: an empty new volume mounted where the image has content gets that content,
//! with owners, modes, times, links and device nodes kept (dockerd's
//! `copyExistingContents` + `copyOwnership`). The source is read by handle
//! ([`walk`](super::walk)): nothing below it is followed, whatever its symlinks say; the
//! copy is made with `*at` calls relative to the destination's descriptors.
use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{
    fchmodat, mkdirat, mknodat, utimensat, FchmodatFlags, Mode, SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, linkat, symlinkat, Gid, Uid};

use super::walk::{self, Entry};

/// Copies the folder `source` into the folder `dest` when `dest` is empty; then gives
/// `dest` the owner and mode of `source`. Nothing happens when `source` is not a folder.
pub fn copy_up(source: &Entry, dest: &Path) -> io::Result<bool> {
    if !source.meta.is_dir() {
        return Ok(false);
    }
    let dest_fd = nix::fcntl::open(
        dest,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    if !walk::names(dest_fd.as_fd())?.is_empty() {
        return Ok(false);
    }
    let mut links = HashMap::new();
    copy_children(source, &dest_fd, &dest_fd, Path::new(""), &mut links, 0)?;
    copy_attributes(&source.meta, dest_fd.as_fd(), OsStr::new("."))?;
    Ok(true)
}

/// How deep a copied tree may go (one descriptor per level).
const MAX_DEPTH: usize = 1024;

fn copy_children(
    src: &Entry,
    dest_root: &OwnedFd,
    dst: &OwnedFd,
    rel: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
    depth: usize,
) -> io::Result<()> {
    if depth > MAX_DEPTH || src.on_pseudo_fs() {
        return Ok(());
    }
    let listing = src.open_dir()?;
    for name in walk::names(listing.as_fd())? {
        let Some(child) = Entry::open(listing.as_fd(), &name)? else {
            continue;
        };
        let meta = &child.meta;
        let ft = meta.file_type();
        let child_rel = rel.join(&name);
        if !ft.is_dir() && meta.nlink() > 1 {
            if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                let first_parent =
                    walk::open_beneath(dest_root.as_fd(), first.parent().unwrap_or(Path::new("")))?;
                let first_name = first.file_name().unwrap_or_default();
                linkat(
                    &first_parent,
                    first_name,
                    dst,
                    name.as_os_str(),
                    AtFlags::empty(),
                )?;
                continue;
            }
            links.insert((meta.dev(), meta.ino()), child_rel.clone());
        }
        let mode = Mode::from_bits_truncate(meta.mode() & 0o7777);
        if ft.is_dir() {
            mkdirat(dst, name.as_os_str(), Mode::from_bits_truncate(0o700))?;
            let sub = openat(
                dst,
                name.as_os_str(),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            copy_children(&child, dest_root, &sub, &child_rel, links, depth + 1)?;
        } else if ft.is_symlink() {
            symlinkat(child.link_target()?.as_os_str(), dst, name.as_os_str())?;
        } else if ft.is_file() {
            let fd = openat(
                dst,
                name.as_os_str(),
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )?;
            let mut to = std::fs::File::from(fd);
            io::copy(&mut child.open_file()?, &mut to)?;
        } else if ft.is_socket() {
            continue;
        } else {
            let kind = SFlag::from_bits_truncate(meta.mode() & libc::S_IFMT);
            mknodat(dst, name.as_os_str(), kind, mode, meta.rdev())?;
        }
        copy_attributes(meta, dst.as_fd(), &name)?;
    }
    Ok(())
}

/// Owner, then mode (a chown clears set-id bits), then times, of `name` in `dir`
/// (made here, so following it is following nothing).
fn copy_attributes(meta: &std::fs::Metadata, dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    fchownat(
        dir,
        name,
        Some(Uid::from_raw(meta.uid())),
        Some(Gid::from_raw(meta.gid())),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    if !meta.file_type().is_symlink() {
        fchmodat(
            dir,
            name,
            Mode::from_bits_truncate(meta.mode() & 0o7777),
            FchmodatFlags::FollowSymlink,
        )?;
    }
    let atime = TimeSpec::new(meta.atime(), meta.atime_nsec());
    let mtime = TimeSpec::new(meta.mtime(), meta.mtime_nsec());
    utimensat(dir, name, &atime, &mtime, UtimensatFlags::NoFollowSymlink)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn entry(path: &Path) -> Entry {
        let dir = fs::File::open(path).expect("open");
        Entry::from_fd(walk::open_beneath(dir.as_fd(), Path::new("")).expect("fd")).expect("entry")
    }

    #[test]
    fn copies_into_an_empty_folder_only_and_follows_no_link() {
        let src = tempfile::tempdir().expect("tmp");
        let s = src.path();
        fs::create_dir_all(s.join("sub")).expect("mkdir");
        fs::write(s.join("sub/f"), b"hello").expect("write");
        fs::set_permissions(s.join("sub/f"), fs::Permissions::from_mode(0o640)).expect("chmod");
        fs::hard_link(s.join("sub/f"), s.join("hard")).expect("link");
        std::os::unix::fs::symlink("sub/f", s.join("link")).expect("ln");
        // A link to a host folder is copied as a link, never followed.
        let host = tempfile::tempdir().expect("host");
        fs::write(host.path().join("secret"), b"host").expect("write");
        std::os::unix::fs::symlink(host.path(), s.join("escape")).expect("ln");
        fs::set_permissions(s, fs::Permissions::from_mode(0o711)).expect("chmod");
        let dst = tempfile::tempdir().expect("tmp");
        let d = dst.path();
        assert!(copy_up(&entry(s), d).expect("copy"));
        assert_eq!(fs::read(d.join("sub/f")).expect("read"), b"hello");
        let meta = fs::metadata(d.join("sub/f")).expect("stat");
        assert_eq!(meta.mode() & 0o7777, 0o640);
        assert_eq!(meta.nlink(), 2);
        assert_eq!(
            fs::read_link(d.join("link")).expect("readlink"),
            Path::new("sub/f")
        );
        assert!(fs::symlink_metadata(d.join("escape"))
            .expect("stat")
            .file_type()
            .is_symlink());
        assert_eq!(fs::metadata(d).expect("stat").mode() & 0o7777, 0o711);
        // Not empty any more: nothing is copied again.
        fs::write(s.join("new"), b"x").expect("write");
        assert!(!copy_up(&entry(s), d).expect("copy"));
        assert!(!d.join("new").exists());
    }
}
