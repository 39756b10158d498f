//! Opening a file of a container's root as the container would see it:
//! symlinks (absolute ones too) and ".." resolve inside the root and never
//! lead out of it, as moby's FollowSymlinkInScope.

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

/// Symlinks followed before giving up, as Linux's and Go's limits.
const MAX_SYMLINKS: usize = 255;

/// Opens `path` (as seen inside the container) under `root` for reading.
pub(crate) fn open_in_root(root: &Path, path: &str) -> io::Result<File> {
    let dir = File::open(root)?;
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC)
        .mode(Mode::empty())
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let relative = path.trim_start_matches('/');
    let relative = if relative.is_empty() { "." } else { relative };
    match nix::fcntl::openat2(&dir, relative, how) {
        Ok(fd) => Ok(File::from(fd)),
        // Kernels before 5.6 (or a filter that hides openat2): resolve by hand.
        Err(Errno::ENOSYS) | Err(Errno::EPERM) => {
            let resolved = resolve_in_root(root, path)?;
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(resolved)
        }
        Err(e) => Err(io::Error::from(e)),
    }
}

/// The host path of `path` inside `root`, every symlink resolved within
/// `root`. Components that do not exist are kept as they are.
pub(crate) fn resolve_in_root(root: &Path, path: &str) -> io::Result<PathBuf> {
    let mut resolved: Vec<std::ffi::OsString> = Vec::new();
    // Components still to walk, the next one last.
    let mut pending: Vec<std::ffi::OsString> = components_reversed(Path::new(path));
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&resolved);
        candidate.push(&part);
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = std::fs::read_link(&candidate)?;
                if target.is_absolute() {
                    resolved.clear();
                }
                pending.extend(components_reversed(&target));
            }
            Ok(_) => resolved.push(part),
            Err(e) if e.kind() == io::ErrorKind::NotFound => resolved.push(part),
            Err(e) => return Err(e),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(&resolved);
    Ok(out)
}

/// The normal and ".." components of `p`, last first.
fn components_reversed(p: &Path) -> Vec<std::ffi::OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .rev()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::symlink;

    fn read(root: &Path, p: &str) -> io::Result<String> {
        let mut s = String::new();
        open_in_root(root, p)?.read_to_string(&mut s)?;
        Ok(s)
    }

    #[test]
    fn symlinks_stay_inside_the_root() {
        let outside = tempfile::tempdir().expect("tmp");
        std::fs::write(outside.path().join("passwd"), "host").expect("write");
        let root = tempfile::tempdir().expect("tmp");
        let r = root.path();
        std::fs::create_dir_all(r.join("etc")).expect("mkdir");
        std::fs::create_dir_all(r.join("real")).expect("mkdir");
        std::fs::write(r.join("real/passwd"), "image").expect("write");
        // An absolute link to the host's file: inside the root it is missing.
        symlink(outside.path().join("passwd"), r.join("etc/abs")).expect("ln");
        // A relative link climbing out: clamped at the root.
        symlink("../../../../../../real/passwd", r.join("etc/rel")).expect("ln");
        symlink("/real/passwd", r.join("etc/passwd")).expect("ln");
        assert_eq!(read(r, "/etc/passwd").expect("passwd"), "image");
        assert_eq!(read(r, "/etc/rel").expect("rel"), "image");
        assert!(read(r, "/etc/abs").is_err());
        assert_eq!(
            resolve_in_root(r, "/etc/rel").expect("resolve"),
            r.join("real/passwd")
        );
        assert_eq!(
            resolve_in_root(r, "/etc/passwd").expect("resolve"),
            r.join("real/passwd")
        );
        let abs = resolve_in_root(r, "/etc/abs").expect("resolve");
        assert!(abs.starts_with(r));
    }

    #[test]
    fn symlink_loops_end() {
        let root = tempfile::tempdir().expect("tmp");
        symlink("b", root.path().join("a")).expect("ln");
        symlink("a", root.path().join("b")).expect("ln");
        let e = resolve_in_root(root.path(), "/a").expect_err("loop");
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
        assert!(open_in_root(root.path(), "/a").is_err());
    }
}
