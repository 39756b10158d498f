//! Folders written as tar streams for `docker export` and `docker cp` out of a container
//! (and the hard links of a committed layer):
//! entries in name order, sockets skipped, symlinks not followed, and files linked
//! more than once written once, the other names as hard-link entries to the first, as
//! Go's `archive.TarWithOptions` does (busybox's applets would otherwise be written
//! hundreds of times over).
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The archive names of files linked more than once, by device and inode: the first
/// name is written whole, the others as hard-link entries to it.
#[derive(Default)]
pub struct HardLinks {
    first_names: HashMap<(u64, u64), PathBuf>,
}

impl HardLinks {
    /// Appends the entry at `path` named `name` (symlinks not followed).
    pub fn append<W: Write>(
        &mut self,
        builder: &mut tar::Builder<W>,
        path: &Path,
        name: &Path,
    ) -> std::io::Result<()> {
        let meta = std::fs::symlink_metadata(path)?;
        if meta.file_type().is_file() && meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.first_names.get(&key) {
                let mut header = tar::Header::new_gnu();
                header.set_metadata(&meta);
                header.set_entry_type(tar::EntryType::Link);
                header.set_size(0);
                return builder.append_link(&mut header, name, first);
            }
            self.first_names.insert(key, name.to_path_buf());
        }
        builder.append_path_with_name(path, name)
    }
}

/// Appends everything below `dir` (not `dir` itself), each named `prefix` joined with
/// its path below `dir`.
pub fn append_tree<W: Write>(
    builder: &mut tar::Builder<W>,
    dir: &Path,
    prefix: &Path,
) -> std::io::Result<()> {
    let mut links = HardLinks::default();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&current)?.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let Ok(rel) = path.strip_prefix(dir) else {
                continue;
            };
            let ft = e.file_type()?;
            if ft.is_socket() {
                continue;
            }
            links.append(builder, &path, &prefix.join(rel))?;
            if ft.is_dir() {
                stack.push(path);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_links_are_written_once() {
        let root = tempfile::tempdir().expect("tempdir");
        let bin = root.path().join("bin");
        std::fs::create_dir(&bin).expect("bin");
        std::fs::write(bin.join("busybox"), vec![7u8; 100_000]).expect("busybox");
        for applet in ["ash", "ls", "zcat"] {
            std::fs::hard_link(bin.join("busybox"), bin.join(applet)).expect("link");
        }
        std::fs::write(root.path().join("alone"), b"x").expect("file");
        let mut builder = tar::Builder::new(Vec::new());
        append_tree(&mut builder, root.path(), Path::new("")).expect("tar");
        let bytes = builder.into_inner().expect("tar bytes");
        assert!(bytes.len() < 150_000, "{} bytes", bytes.len());
        let mut archive = tar::Archive::new(&bytes[..]);
        let mut seen = Vec::new();
        for entry in archive.entries().expect("entries") {
            let entry = entry.expect("entry");
            let name = entry.path().expect("path").display().to_string();
            let link = entry
                .link_name()
                .expect("link name")
                .map(|l| l.display().to_string());
            seen.push((name, entry.header().entry_type(), link));
        }
        use tar::EntryType::{Directory, Link, Regular};
        assert_eq!(
            seen,
            [
                ("alone".to_string(), Regular, None),
                ("bin".to_string(), Directory, None),
                ("bin/ash".to_string(), Regular, None),
                ("bin/busybox".to_string(), Link, Some("bin/ash".to_string())),
                ("bin/ls".to_string(), Link, Some("bin/ash".to_string())),
                ("bin/zcat".to_string(), Link, Some("bin/ash".to_string())),
            ]
        );
    }
}
