//! An uploaded archive unpacked into a scratch folder before anything is stored, as
//! dockerd untars it into a temporary directory. Regular files go to numbered files in
//! the folder; the archive's own paths live only in a table, so no entry — `..`, an
//! absolute path, a symlink pointing out — can reach outside. Symlinks (`docker save`
//! of Docker 1.10–24 links repeated layers) are followed inside the archive, as dockerd's
//! `FollowSymlinkInScope` does.
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{ArchiveError, ArchiveResult};

/// The files read from `manifest.json` and configs are small; a bigger one is refused.
const MAX_METADATA_FILE: u64 = 64 << 20;
/// Symlinks followed while resolving one path.
const MAX_LINK_HOPS: usize = 255;

#[derive(Debug, Clone)]
enum Entry {
    File(PathBuf),
    Dir,
    Symlink(String),
}

/// An unpacked archive: its paths, and where each file's content is on disk.
#[derive(Debug)]
pub struct Spool {
    entries: HashMap<String, Entry>,
}

fn tar_error(e: std::io::Error) -> ArchiveError {
    let what = match e.kind() {
        std::io::ErrorKind::UnexpectedEof => "unexpected EOF".to_string(),
        std::io::ErrorKind::InvalidData | std::io::ErrorKind::Other => {
            "archive/tar: invalid tar header".to_string()
        }
        _ => e.to_string(),
    };
    tracing::debug!(error = %e, "reading an uploaded archive");
    ArchiveError::Invalid(format!("Error processing tar file(exit status 1): {what}"))
}

/// "a/./b/../c" → ["a", "c"]; `None` when `..` climbs above the top.
fn components(path: &str) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            other => out.push(other.to_string()),
        }
    }
    Some(out)
}

impl Spool {
    /// Unpacks the (uncompressed) tar `input` into `dir`, which must exist and be empty.
    pub fn unpack(input: impl Read, dir: &Path) -> ArchiveResult<Spool> {
        let mut archive = tar::Archive::new(input);
        let mut entries = HashMap::new();
        let mut count = 0u64;
        for entry in archive.entries().map_err(tar_error)? {
            let mut entry = entry.map_err(tar_error)?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let outside = || {
                ArchiveError::Invalid(format!(
                    "Error processing tar file(exit status 1): {raw:?} is outside of \"/\""
                ))
            };
            let path = components(&raw).ok_or_else(outside)?.join("/");
            let kind = entry.header().entry_type();
            match kind {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    count += 1;
                    let disk = dir.join(format!("{count}"));
                    let mut file = std::fs::File::create(&disk)
                        .map_err(|e| ArchiveError::io(format!("create {}", disk.display()), e))?;
                    std::io::copy(&mut entry, &mut file).map_err(tar_error)?;
                    entries.insert(path, Entry::File(disk));
                }
                tar::EntryType::Directory => {
                    entries.insert(path, Entry::Dir);
                }
                tar::EntryType::Symlink => {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| String::from_utf8_lossy(&t).into_owned())
                        .unwrap_or_default();
                    entries.insert(path, Entry::Symlink(target));
                }
                tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| String::from_utf8_lossy(&t).into_owned())
                        .unwrap_or_default();
                    let target = components(&target).ok_or_else(outside)?.join("/");
                    match entries.get(&target) {
                        Some(Entry::File(disk)) => {
                            let disk = disk.clone();
                            entries.insert(path, Entry::File(disk));
                        }
                        _ => {
                            return Err(ArchiveError::Invalid(format!(
                                "Error processing tar file(exit status 1): invalid hardlink {raw:?} -> {target:?}"
                            )))
                        }
                    }
                }
                // Devices, FIFOs and the like have no place in an image archive.
                other => tracing::debug!(path = %raw, kind = ?other, "skipping archive entry"),
            }
        }
        Ok(Spool { entries })
    }

    /// Whether the archive has `path` (after following symlinks) as a regular file.
    pub fn has_file(&self, path: &str) -> bool {
        self.resolve(path).is_ok()
    }

    /// Where the content of the archive's file `path` is on disk. Symlinks are followed
    /// within the archive: `..` stops at its top, absolute targets start there.
    pub fn resolve(&self, path: &str) -> ArchiveResult<PathBuf> {
        let not_found = || {
            ArchiveError::Invalid(format!(
                "open {path}: no such file or directory in the archive"
            ))
        };
        let mut pending: Vec<String> = path.split('/').rev().map(str::to_string).collect();
        let mut current: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    current.pop();
                    continue;
                }
                _ => current.push(part),
            }
            if let Some(Entry::Symlink(target)) = self.entries.get(&current.join("/")) {
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    return Err(ArchiveError::Invalid(format!(
                        "open {path}: too many levels of symbolic links"
                    )));
                }
                current.pop();
                if target.starts_with('/') {
                    current.clear();
                }
                pending.extend(target.split('/').rev().map(str::to_string));
            }
        }
        match self.entries.get(&current.join("/")) {
            Some(Entry::File(disk)) => Ok(disk.clone()),
            _ => Err(not_found()),
        }
    }

    /// Opens the archive's file `path`, with its size.
    pub fn open(&self, path: &str) -> ArchiveResult<(std::fs::File, u64)> {
        let disk = self.resolve(path)?;
        let file = std::fs::File::open(&disk)
            .map_err(|e| ArchiveError::io(format!("open {}", disk.display()), e))?;
        let size = file
            .metadata()
            .map_err(|e| ArchiveError::io(format!("stat {}", disk.display()), e))?
            .len();
        Ok((file, size))
    }

    /// Reads a small file (a manifest, a config) whole.
    pub fn read(&self, path: &str) -> ArchiveResult<Vec<u8>> {
        let (file, size) = self.open(path)?;
        if size > MAX_METADATA_FILE {
            return Err(ArchiveError::Invalid(format!(
                "invalid archive: {path} is too large ({size} bytes)"
            )));
        }
        let mut data = Vec::with_capacity(size as usize);
        file.take(MAX_METADATA_FILE)
            .read_to_end(&mut data)
            .map_err(|e| ArchiveError::io(format!("read {path}"), e))?;
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        builder.into_inner().expect("tar")
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, path, data).expect("append");
    }

    fn link(b: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, path: &str, target: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, path, target).expect("link");
    }

    #[test]
    fn files_and_links_resolve_inside_the_archive() {
        let data = tar_of(|b| {
            file(b, "a/layer.tar", b"layer");
            link(b, tar::EntryType::Symlink, "b/layer.tar", "../a/layer.tar");
            link(b, tar::EntryType::Symlink, "c", "/a");
            link(b, tar::EntryType::Symlink, "up", "../../../a/layer.tar");
            link(b, tar::EntryType::Link, "hard.tar", "a/layer.tar");
            file(b, "./manifest.json", b"[]");
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::unpack(&data[..], dir.path()).expect("unpack");
        for path in [
            "a/layer.tar",
            "b/layer.tar",
            "c/layer.tar",
            "up",
            "hard.tar",
        ] {
            assert_eq!(spool.read(path).expect(path), b"layer", "{path}");
        }
        assert_eq!(spool.read("manifest.json").expect("manifest"), b"[]");
        assert!(spool.read("nothing").is_err());
        assert!(!spool.has_file("a"));
    }

    #[test]
    fn escapes_and_garbage_are_refused() {
        // A name with `..` (written raw: the tar crate refuses to build one).
        let mut evil = tar::Header::new_gnu();
        evil.as_old_mut().name[..6].copy_from_slice(b"../etc");
        evil.set_size(0);
        evil.set_cksum();
        let mut archive = evil.as_bytes().to_vec();
        archive.extend_from_slice(&[0u8; 1024]);
        let dir = tempfile::tempdir().expect("tempdir");
        let err = Spool::unpack(&archive[..], dir.path()).expect_err("escape");
        assert!(err.to_string().contains("is outside of"), "{err}");
        let garbage = vec![0x41u8; 3000];
        let err = Spool::unpack(&garbage[..], dir.path()).expect_err("garbage");
        assert!(
            err.to_string().starts_with("Error processing tar file"),
            "{err}"
        );
        assert!(std::fs::read_dir(dir.path()).expect("dir").next().is_none());
    }
}
