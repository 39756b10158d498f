//! Checksums of COPY/ADD sources for the step's history comment and the build cache,
//! built as dockerd builds them (`builder/remotecontext`): one entry is the digest of
//! its tar-like header (name, kind, mode, owner, size, link target — not its times)
//! and content; a folder is "dir:" and the digest of its entries' sums, sorted; several
//! sources are "multi:" and the digest of theirs, in order.
use std::fs::Metadata;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use sha2::{Digest, Sha256};

/// The bare hex sum of the entry at `host` (not followed), named `name` in its root.
pub fn entry_sum(host: &Path, name: &str) -> io::Result<String> {
    let meta = std::fs::symlink_metadata(host)?;
    let mut hasher = Sha256::new();
    hasher.update(header(&meta, name, host)?.as_bytes());
    if meta.file_type().is_file() && meta.len() > 0 {
        let mut file = std::fs::File::open(host)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// dockerd's `hashStringSlice`: "prefix:" and the digest of the sums joined by ",".
pub fn sum_of(prefix: &str, sums: &[String]) -> String {
    let digest = Sha256::digest(sums.join(",").as_bytes());
    format!("{prefix}:{}", hex::encode(digest))
}

/// The header fields tarsum v1 hashes: name, mode, uid, gid, size, type, link target,
/// device numbers.
fn header(meta: &Metadata, name: &str, host: &Path) -> io::Result<String> {
    let kind = meta.file_type();
    let (type_flag, size) = if kind.is_file() {
        ('0', meta.len())
    } else if kind.is_dir() {
        ('5', 0)
    } else if kind.is_symlink() {
        ('2', 0)
    } else if kind.is_char_device() {
        ('3', 0)
    } else if kind.is_block_device() {
        ('4', 0)
    } else {
        ('6', 0)
    };
    let link = if kind.is_symlink() {
        std::fs::read_link(host)?.to_string_lossy().into_owned()
    } else {
        String::new()
    };
    let rdev = meta.rdev();
    Ok(format!(
        "name{name}mode{}uid{}gid{}size{size}typeflag{type_flag}linkname{link}devmajor{}devminor{}",
        meta.mode() & 0o7777,
        meta.uid(),
        meta.gid(),
        nix::sys::stat::major(rdev),
        nix::sys::stat::minor(rdev),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn sums_follow_content_mode_and_name_but_not_times() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("f");
        std::fs::write(&path, "one").expect("write");
        let first = entry_sum(&path, "f").expect("sum");
        assert_eq!(first.len(), 64);
        assert_eq!(entry_sum(&path, "f").expect("again"), first);
        let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(when))
            .expect("utimes");
        assert_eq!(entry_sum(&path, "f").expect("touched"), first);
        assert_ne!(entry_sum(&path, "g").expect("renamed"), first);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let chmodded = entry_sum(&path, "f").expect("chmod");
        assert_ne!(chmodded, first);
        std::fs::write(&path, "two").expect("write");
        assert_ne!(entry_sum(&path, "f").expect("content"), chmodded);
    }

    #[test]
    fn lists_hash_in_order() {
        let a = sum_of("multi", &["x".into(), "y".into()]);
        assert!(a.starts_with("multi:"));
        assert_ne!(a, sum_of("multi", &["y".into(), "x".into()]));
        assert_ne!(sum_of("dir", &[]), sum_of("multi", &[]));
    }
}
