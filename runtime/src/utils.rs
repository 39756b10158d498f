//! Small helpers: path joining that cannot escape a root, whole-file writes.
use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// Joins `unsafe_path` under `root`, resolving symlinks inside the root as if
/// `root` were `/`, so that the result never points outside `root`.
pub fn secure_join(root: &Path, unsafe_path: &Path) -> PathBuf {
    let mut resolved = PathBuf::new(); // relative to root
    let mut pending: Vec<PathBuf> = vec![unsafe_path.to_path_buf()];
    let mut links = 0;
    while let Some(p) = pending.pop() {
        let mut comps: Vec<Component> = p.components().collect();
        comps.reverse();
        while let Some(c) = comps.pop() {
            match c {
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
                Component::ParentDir => {
                    resolved.pop();
                }
                Component::Normal(name) => {
                    let candidate = resolved.join(name);
                    let full = root.join(&candidate);
                    match std::fs::read_link(&full) {
                        Ok(target) if links < 255 => {
                            links += 1;
                            if target.is_absolute() {
                                resolved = PathBuf::new();
                            }
                            let rest: PathBuf = comps.iter().rev().collect();
                            comps.clear();
                            pending.push(rest);
                            pending.push(target);
                        }
                        _ => resolved = candidate,
                    }
                }
            }
        }
    }
    root.join(resolved)
}

/// Writes a file whole: temp file in the same directory, then rename.
///
/// No fsync: the runtime's files (state.json, pid files) describe live
/// processes, which a power loss ends anyway, and they live under /run. The
/// rename alone keeps a crash of the writer from leaving half a file.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{}.tmp{}", name, std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    f.write_all(data).map_err(|e| Error::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io("rename", path, e))
}

pub fn write_file(path: &Path, data: &str) -> Result<()> {
    std::fs::write(path, data).map_err(|e| Error::io("write", path, e))
}

pub fn read_to_string(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_join_plain_and_dotdot() {
        let root = Path::new("/nonexistent-root");
        assert_eq!(
            secure_join(root, Path::new("/a/b")),
            PathBuf::from("/nonexistent-root/a/b")
        );
        assert_eq!(
            secure_join(root, Path::new("/../../etc")),
            PathBuf::from("/nonexistent-root/etc")
        );
        assert_eq!(
            secure_join(root, Path::new("a/./b/../c")),
            PathBuf::from("/nonexistent-root/a/c")
        );
    }

    #[test]
    fn secure_join_symlink_stays_inside() {
        let d = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink("/etc", d.path().join("link")).expect("symlink");
        std::os::unix::fs::symlink("../../..", d.path().join("up")).expect("symlink");
        assert_eq!(
            secure_join(d.path(), Path::new("/link/passwd")),
            d.path().join("etc/passwd")
        );
        assert_eq!(
            secure_join(d.path(), Path::new("/up/x")),
            d.path().join("x")
        );
    }

    #[test]
    fn atomic_write_replaces() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("s.json");
        write_atomic(&p, b"one").expect("write");
        write_atomic(&p, b"two").expect("write");
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "two");
    }
}
