//! One file of a root read as the container sees it (its `/etc/passwd`, `/etc/group`):
//! resolved by libpathrs (`openat2` with `RESOLVE_IN_ROOT`, or its own safe walk where
//! the kernel lacks it), so symlinks and `..` stay inside the root, then opened for
//! reading only when it is a regular file (a fifo would block, a device do what it does).
use std::fs::File;
use std::io;
use std::path::Path;

/// Opens `path` (as seen inside the root) under `root` for reading. `None` when it is
/// missing or not a regular file.
pub fn open_regular(root: &Path, path: &str) -> io::Result<Option<File>> {
    let root = pathrs::Root::open(root).map_err(super::io_error)?;
    let handle = match root.resolve(path) {
        Ok(handle) => handle,
        Err(e) => {
            let e = super::io_error(e);
            return match e.raw_os_error() {
                Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::ELOOP) => Ok(None),
                _ => Err(e),
            };
        }
    };
    let stat = nix::sys::stat::fstat(&handle)?;
    if stat.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Ok(None);
    }
    handle
        .reopen(pathrs::flags::OpenFlags::O_RDONLY)
        .map(Some)
        .map_err(super::io_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::symlink;

    fn read(root: &Path, p: &str) -> Option<String> {
        let mut s = String::new();
        open_regular(root, p)
            .expect("open")?
            .read_to_string(&mut s)
            .expect("read");
        Some(s)
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
        assert_eq!(read(r, "/etc/passwd").as_deref(), Some("image"));
        assert_eq!(read(r, "/etc/rel").as_deref(), Some("image"));
        assert_eq!(read(r, "/etc/abs"), None);
        // Loops end; folders and fifos are not files to read.
        symlink("b", r.join("a")).expect("ln");
        symlink("a", r.join("b")).expect("ln");
        assert_eq!(read(r, "/a"), None);
        assert_eq!(read(r, "/etc"), None);
        nix::unistd::mkfifo(
            &r.join("fifo"),
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        .expect("mkfifo");
        assert_eq!(read(r, "/fifo"), None);
    }
}
