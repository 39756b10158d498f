//! Copy-up: an empty new volume mounted where the image has content gets that content,
//! with owners, modes, times, links and device nodes kept (dockerd's
//! `copyExistingContents` + `copyOwnership`). Paths inside the container's root are
//! resolved without leaving it (symlinks are followed as the container would see them).
use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::sys::stat::{utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;

/// `path` (absolute, as the container sees it) inside `root`, following symlinks as if
/// `root` were `/`. `None` when a loop or too many links are met.
pub fn resolve_in_root(root: &Path, path: &str) -> Option<PathBuf> {
    let mut pending: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .rev()
        .map(str::to_string)
        .collect();
    let mut parts: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(seg) = pending.pop() {
        match seg.as_str() {
            "." => continue,
            ".." => {
                parts.pop();
                continue;
            }
            _ => {}
        }
        let candidate = parts
            .iter()
            .fold(root.to_path_buf(), |p, s| p.join(s))
            .join(&seg);
        match fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > 40 {
                    return None;
                }
                let target = fs::read_link(&candidate).ok()?;
                if target.is_absolute() {
                    parts.clear();
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(s) => pending.push(s.to_string_lossy().into_owned()),
                        Component::ParentDir => pending.push("..".into()),
                        _ => {}
                    }
                }
            }
            _ => parts.push(seg),
        }
    }
    Some(parts.iter().fold(root.to_path_buf(), |p, s| p.join(s)))
}

/// Copies the folder at `source` into `dest` when `dest` is empty; then gives `dest` the
/// owner and mode of `source`. Nothing happens when `source` is not a folder.
pub fn copy_up(source: &Path, dest: &Path) -> io::Result<bool> {
    let Ok(meta) = fs::metadata(source) else {
        return Ok(false);
    };
    if !meta.is_dir() || fs::read_dir(dest)?.next().is_some() {
        return Ok(false);
    }
    let mut links = HashMap::new();
    copy_children(source, dest, &mut links)?;
    copy_attributes(&meta, dest)?;
    Ok(true)
}

fn copy_children(
    src: &Path,
    dst: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> io::Result<()> {
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let meta = fs::symlink_metadata(&from)?;
        let ft = meta.file_type();
        if !ft.is_dir() && meta.nlink() > 1 {
            if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                fs::hard_link(first, &to)?;
                continue;
            }
            links.insert((meta.dev(), meta.ino()), to.clone());
        }
        if ft.is_dir() {
            fs::create_dir(&to)?;
            copy_children(&from, &to, links)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?;
        } else if ft.is_file() {
            fs::copy(&from, &to)?;
        } else {
            let kind = SFlag::from_bits_truncate(meta.mode() & libc::S_IFMT);
            if kind == SFlag::S_IFSOCK {
                continue;
            }
            nix::sys::stat::mknod(
                &to,
                kind,
                Mode::from_bits_truncate(meta.mode() & 0o7777),
                meta.rdev(),
            )
            .map_err(io::Error::from)?;
        }
        copy_attributes(&meta, &to)?;
    }
    Ok(())
}

/// Owner, then mode (a chown clears set-id bits), then times.
fn copy_attributes(meta: &fs::Metadata, to: &Path) -> io::Result<()> {
    std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()))?;
    if !meta.file_type().is_symlink() {
        fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    let atime = TimeSpec::new(meta.atime(), meta.atime_nsec());
    let mtime = TimeSpec::new(meta.mtime(), meta.mtime_nsec());
    utimensat(
        nix::fcntl::AT_FDCWD,
        to,
        &atime,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_stay_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        fs::create_dir_all(r.join("real/data")).unwrap();
        std::os::unix::fs::symlink("/real", r.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", r.join("escape")).unwrap();
        assert_eq!(
            resolve_in_root(r, "/abs/data").unwrap(),
            r.join("real/data")
        );
        assert_eq!(
            resolve_in_root(r, "/escape/passwd").unwrap(),
            r.join("etc/passwd")
        );
        assert_eq!(resolve_in_root(r, "/a/../real").unwrap(), r.join("real"));
        std::os::unix::fs::symlink("/loop", r.join("loop")).unwrap();
        assert!(resolve_in_root(r, "/loop/x").is_none());
    }

    #[test]
    fn copies_into_an_empty_folder_only() {
        let src = tempfile::tempdir().unwrap();
        let s = src.path();
        fs::create_dir_all(s.join("sub")).unwrap();
        fs::write(s.join("sub/f"), b"hello").unwrap();
        fs::set_permissions(s.join("sub/f"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::hard_link(s.join("sub/f"), s.join("hard")).unwrap();
        std::os::unix::fs::symlink("sub/f", s.join("link")).unwrap();
        fs::set_permissions(s, fs::Permissions::from_mode(0o711)).unwrap();
        let dst = tempfile::tempdir().unwrap();
        let d = dst.path();
        assert!(copy_up(s, d).unwrap());
        assert_eq!(fs::read(d.join("sub/f")).unwrap(), b"hello");
        let meta = fs::metadata(d.join("sub/f")).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o640);
        assert_eq!(meta.nlink(), 2);
        assert_eq!(fs::read_link(d.join("link")).unwrap(), Path::new("sub/f"));
        assert_eq!(fs::metadata(d).unwrap().mode() & 0o7777, 0o711);
        // Not empty any more: nothing is copied again.
        fs::write(s.join("new"), b"x").unwrap();
        assert!(!copy_up(s, d).unwrap());
        assert!(!d.join("new").exists());
        // No source: nothing to do.
        assert!(!copy_up(&s.join("missing"), d).unwrap());
    }
}
