//! One daemon per data root and per pid file, as dockerd: the pid file names a live
//! process → refuse to start; plus an exclusive `flock` on `<data-root>/berthd.lock`,
//! released by the kernel however the process ends.
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::ServerError;

/// The pid file this process wrote; removed by `remove`.
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes our pid to `path`, refusing when it names another running process.
    pub fn create(path: &Path) -> Result<PidFile, ServerError> {
        let fail = |why: String| ServerError::PidFile {
            path: path.display().to_string(),
            reason: why,
        };
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse::<i32>() {
                if pid > 0 && pid != std::process::id() as i32 && process_alive(pid) {
                    return Err(fail(format!("process with PID {pid} is still running")));
                }
            }
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| fail(e.to_string()))?;
        }
        std::fs::write(path, std::process::id().to_string()).map_err(|e| fail(e.to_string()))?;
        Ok(PidFile {
            path: path.to_path_buf(),
        })
    }

    pub fn remove(&self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!("removing pid file {}: {e}", self.path.display());
        }
    }
}

fn process_alive(pid: i32) -> bool {
    // Signal 0 checks existence; EPERM still means it exists. A zombie is gone for us.
    let exists = match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    };
    exists
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                !s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
}

/// Holds the exclusive lock on a data root for the life of the daemon.
pub struct DataRootLock {
    _lock: Flock<File>,
}

impl DataRootLock {
    pub fn acquire(data_root: &Path) -> Result<DataRootLock, ServerError> {
        let path = data_root.join("berthd.lock");
        let fail = |why: String| ServerError::DataRootInUse {
            root: data_root.display().to_string(),
            reason: why,
        };
        std::fs::create_dir_all(data_root).map_err(|e| fail(e.to_string()))?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| fail(format!("opening {}: {e}", path.display())))?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((mut file, _)) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (PID {holder})")
                };
                return Err(fail(format!("another berthd{who} is using it")));
            }
        };
        let _ = lock.set_len(0);
        let _ = lock.rewind();
        let _ = lock.write_all(std::process::id().to_string().as_bytes());
        Ok(DataRootLock { _lock: lock })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_pid_file_is_replaced_live_one_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d.pid");
        std::fs::write(&path, "999999999").expect("write");
        let pf = PidFile::create(&path).expect("stale pid file replaced");
        assert_eq!(
            std::fs::read_to_string(&path).ok(),
            Some(std::process::id().to_string())
        );
        pf.remove();
        std::fs::write(&path, "1").expect("write"); // init is always running
        let e = PidFile::create(&path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("process with PID 1 is still running"), "{e}");
    }

    #[test]
    fn data_root_lock_is_exclusive() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _first = DataRootLock::acquire(dir.path()).expect("first lock");
        // flock locks belong to open file descriptions: a second open conflicts.
        let e = DataRootLock::acquire(dir.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("another berthd"), "{e}");
    }
}
