//! Waking a log follower when the shim writes: an inotify watch on the log's folder
//! (the file itself is renamed away at rotation), reporting changes to FILE and its
//! rotated FILE.N. Where inotify is not available the follower falls back to a timer.
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

struct Fd(Inotify);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// Changes to one log file (and its rotations).
pub(super) struct LogWatch {
    fd: AsyncFd<Fd>,
    name: OsString,
}

impl LogWatch {
    /// Watches the folder of `path`; set up before the file is read, so no write after
    /// that read is missed.
    pub fn new(path: &Path) -> io::Result<LogWatch> {
        let dir = path.parent().unwrap_or(Path::new("/"));
        let name = path.file_name().map(OsString::from).unwrap_or_default();
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        inotify.add_watch(
            dir,
            AddWatchFlags::IN_MODIFY
                | AddWatchFlags::IN_CREATE
                | AddWatchFlags::IN_MOVED_TO
                | AddWatchFlags::IN_MOVED_FROM
                | AddWatchFlags::IN_CLOSE_WRITE
                | AddWatchFlags::IN_DELETE,
        )?;
        // SAFETY: the fd is the inotify instance's, which `Fd` owns (and nothing else
        // closes) for as long as the AsyncFd holds it; `as_raw_fd` always returns it.
        let fd = unsafe { AsyncFd::register_with_interest(Fd(inotify), Interest::READABLE) }
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(LogWatch { fd, name })
    }

    /// Resolves once FILE or a FILE.N changed (or the watch broke: then at once, so the
    /// caller reads and finds out).
    pub async fn changed(&mut self) {
        let prefix = self.name.as_encoded_bytes().to_vec();
        loop {
            let mut guard = match self.fd.readable().await {
                Ok(g) => g,
                Err(_) => return,
            };
            match guard.try_io(|fd| fd.get_ref().0.read_events().map_err(io::Error::from)) {
                Ok(Ok(events)) => {
                    let ours = events.iter().any(|e| {
                        e.name
                            .as_ref()
                            .is_none_or(|n| n.as_encoded_bytes().starts_with(&prefix))
                    });
                    if ours {
                        return;
                    }
                }
                Ok(Err(_)) => return,
                // Nothing to read after all: wait again.
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn wakes_on_writes_and_renames_of_the_file_only() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("c-json.log");
        std::fs::write(&log, b"").unwrap();
        let mut w = LogWatch::new(&log).unwrap();
        std::fs::write(d.path().join("other"), b"x").unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(100), w.changed())
                .await
                .is_err(),
            "another file's change does not wake it"
        );
        std::fs::write(&log, b"line\n").unwrap();
        tokio::time::timeout(Duration::from_secs(5), w.changed())
            .await
            .expect("a write wakes it");
        std::fs::rename(&log, d.path().join("c-json.log.1")).unwrap();
        tokio::time::timeout(Duration::from_secs(5), w.changed())
            .await
            .expect("a rotation wakes it");
    }
}
