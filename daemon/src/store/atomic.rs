//! Write-whole helpers: a file is written to a temporary sibling, fsynced and renamed,
//! so a crash leaves either the old or the new version.
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{StoreError, StoreResult};

/// Marker in the names of temporary siblings (`.<name>.tmp-<random>`).
const TEMP_MARKER: &str = ".tmp-";

/// Writes `data` to `path` whole (temp file in the same directory, fsync, rename, fsync dir).
pub fn write_file(path: &Path, data: &[u8]) -> StoreResult<()> {
    write_whole(path, data, true)
}

/// Writes `data` to `path` whole (temp file, rename) without fsync: for files that
/// describe live processes (a container's run state), which a crash of the machine
/// ends anyway and the start-up reconcile checks against what runs. A crash of the
/// process still leaves the old version or the new one.
pub fn write_file_volatile(path: &Path, data: &[u8]) -> StoreResult<()> {
    write_whole(path, data, false)
}

fn write_whole(path: &Path, data: &[u8], durable: bool) -> StoreResult<()> {
    let dir = parent_dir(path)?;
    let name = path.file_name().ok_or_else(|| {
        StoreError::io(
            format!("write {}", path.display()),
            invalid_input("no file name"),
        )
    })?;
    let temp = dir.join(format!(
        ".{}{TEMP_MARKER}{:016x}",
        name.to_string_lossy(),
        rand::random::<u64>()
    ));
    let result = write_temp(&temp, data, durable).and_then(|()| {
        std::fs::rename(&temp, path).map_err(|e| {
            StoreError::io(
                format!("rename {} to {}", temp.display(), path.display()),
                e,
            )
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result?;
    if durable {
        sync_dir(&dir)?;
    }
    Ok(())
}

/// Writes `data` to `path` in place (the same inode, so that a bind mount of it sees the
/// change), unless it already holds exactly that: a container's hostname, hosts and
/// resolv.conf are written at create and again at each start, mostly unchanged, and on
/// ext4 each truncating rewrite of a file costs a disk write at its close
/// (`auto_da_alloc`).
pub fn write_in_place_if_changed(path: &Path, data: &[u8]) -> std::io::Result<()> {
    match std::fs::read(path) {
        Ok(old) if old == data => Ok(()),
        _ => std::fs::write(path, data),
    }
}

/// Serialises `value` as JSON and writes it whole.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> StoreResult<()> {
    write_file(path, &to_json(path, value)?)
}

fn to_json<T: serde::Serialize>(path: &Path, value: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| {
        StoreError::io(
            format!("serialise {}", path.display()),
            std::io::Error::other(e),
        )
    })
}

/// Fsyncs a directory, so that renames and removals in it are durable.
pub fn sync_dir(dir: &Path) -> StoreResult<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(format!("fsync directory {}", dir.display()), e))
}

/// Whether `name` is a temporary sibling left by an interrupted [`write_file`].
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(TEMP_MARKER)
}

/// Removes the temporary siblings that interrupted writes left in `dir`.
pub fn remove_temp_files(dir: &Path) -> StoreResult<()> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| StoreError::io(format!("read {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(format!("read {}", dir.display()), e))?;
        if entry.file_name().to_str().is_some_and(is_temp_name) {
            tracing::debug!(path = %entry.path().display(), "removing leftover temporary file");
            std::fs::remove_file(entry.path())
                .map_err(|e| StoreError::io(format!("remove {}", entry.path().display()), e))?;
        }
    }
    Ok(())
}

fn parent_dir(path: &Path) -> StoreResult<PathBuf> {
    match path.parent() {
        Some(p) if p.as_os_str().is_empty() => Ok(PathBuf::from(".")),
        Some(p) => Ok(p.to_path_buf()),
        None => Err(StoreError::io(
            format!("write {}", path.display()),
            invalid_input("no parent directory"),
        )),
    }
}

fn write_temp(temp: &Path, data: &[u8], durable: bool) -> StoreResult<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temp)
        .map_err(|e| StoreError::io(format!("create {}", temp.display()), e))?;
    file.write_all(data)
        .and_then(|()| if durable { file.sync_all() } else { Ok(()) })
        .map_err(|e| StoreError::io(format!("write {}", temp.display()), e))
}

fn invalid_input(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_in(dir: &Path) -> Vec<std::ffi::OsString> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect()
    }

    #[test]
    fn durable_and_volatile_writes_create_and_replace_whole() {
        use std::io::Read;
        for write in [write_file, write_file_volatile] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("record.json");
            write(&path, b"first").unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), b"first");
            let mut reader = File::open(&path).unwrap();
            write(&path, b"second, longer").unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), b"second, longer");
            // A reader that opened the old version reads it whole.
            let mut old = String::new();
            reader.read_to_string(&mut old).unwrap();
            assert_eq!(old, "first");
            // No temporary sibling is left behind.
            assert_eq!(
                names_in(dir.path()),
                vec![std::ffi::OsString::from("record.json")]
            );
        }
    }

    #[test]
    fn unchanged_files_are_not_rewritten_and_changed_ones_keep_their_inode() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        write_in_place_if_changed(&path, b"127.0.0.1\tlocalhost\n").unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let before = std::fs::metadata(&path).unwrap();
        write_in_place_if_changed(&path, b"127.0.0.1\tlocalhost\n").unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            old,
            "not rewritten"
        );
        write_in_place_if_changed(&path, b"10.0.0.2\tc1\n").unwrap();
        let after = std::fs::metadata(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"10.0.0.2\tc1\n");
        assert_eq!(
            after.ino(),
            before.ino(),
            "written in place, for bind mounts"
        );
        assert_ne!(after.modified().unwrap(), old);
    }

    #[test]
    fn write_json_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("map.json");
        let value = std::collections::BTreeMap::from([("a".to_string(), 1u32)]);
        write_json(&path, &value).unwrap();
        let back: std::collections::BTreeMap<String, u32> =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn write_into_missing_dir_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_file(&dir.path().join("missing/x"), b"x").unwrap_err();
        assert!(matches!(err, StoreError::Io { .. }));
    }

    #[test]
    fn leftover_temp_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".a.json.tmp-0123"), b"partial").unwrap();
        std::fs::write(dir.path().join("a.json"), b"whole").unwrap();
        remove_temp_files(dir.path()).unwrap();
        assert!(!dir.path().join(".a.json.tmp-0123").exists());
        assert!(dir.path().join("a.json").exists());
    }
}
