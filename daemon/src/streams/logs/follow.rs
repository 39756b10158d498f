//! Following a log as the shim appends to it, across rotations, until the
//! container stops.
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

use super::emit::{Emitter, Flow};
use super::reader::Current;
use super::watch::LogWatch;
use crate::streams::error::StreamError;

/// Only where inotify cannot be used: how often the file is checked then.
const FALLBACK_POLL: Duration = Duration::from_secs(1);

/// Sends what is appended to `path` from `current`'s position on. The shim is another
/// process: its writes and rotations wake the follower through inotify (`watch`).
/// Limits: two rotations before the follower reads skip the middle file (dockerd warns
/// of the same), and a truncation (max-file 1) is only seen if the file is then shorter
/// than the position read, or the byte before that position is no longer a "\n". When
/// `stopped` turns true (or its sender goes), one last pass reads what is left, then
/// it ends.
pub(super) async fn follow(
    path: PathBuf,
    mut current: Option<Current>,
    mut em: Emitter,
    mut stopped: Option<watch::Receiver<bool>>,
) {
    let mut last_pass = false;
    // Watching before reading: a write after the read below wakes us.
    let mut watch = match LogWatch::new(&path) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "no inotify: following the log on a timer");
            None
        }
    };
    loop {
        match pass(&path, &mut current, &mut em).await {
            Ok(Pass::Done) => {}
            Ok(Pass::Again) => continue,
            Ok(Pass::Stop) => return,
            Err(e) => return em.fail(StreamError::log_file(&path, e)).await,
        }
        if last_pass {
            return;
        }
        tokio::select! {
            _ = changed(&mut watch) => {}
            _ = wait_stopped(&mut stopped) => {
                tracing::debug!(path = %path.display(), "container stopped: last read of its log");
                last_pass = true;
                stopped = None;
            }
            _ = em.sender().closed() => return,
        }
    }
}

enum Pass {
    /// Read to the end of the file that is current.
    Done,
    /// The file was rotated: read the new one at once.
    Again,
    /// `until` was reached or the client went away.
    Stop,
}

/// Reads the rest of the file held, then moves to a new file if FILE was rotated.
async fn pass(path: &PathBuf, current: &mut Option<Current>, em: &mut Emitter) -> io::Result<Pass> {
    if let Some(c) = current.as_mut() {
        // Nothing new (the common case while idle): no read at all.
        let len = c.file.metadata().await?.len();
        if len != c.pos {
            // max-file 1: the shim truncates FILE in place (and may have written past
            // the old position since: the byte before it is then no longer a "\n").
            if len < c.pos || !ends_line(&mut c.file, c.pos).await? {
                tracing::debug!(path = %path.display(), "log truncated: reading it from the start");
                c.pos = 0;
            }
            let (pos, flow) = em.read_lines(&mut c.file, c.pos, None).await?;
            c.pos = pos;
            if flow == Flow::Stop {
                return Ok(Pass::Stop);
            }
        }
    }
    let meta = match tokio::fs::metadata(path).await {
        Ok(m) => m,
        // Between the rename to FILE.1 and the new FILE.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Pass::Done),
        Err(e) => return Err(e),
    };
    match current.as_mut() {
        Some(c) if c.ino == meta.ino() => Ok(Pass::Done),
        _ => {
            let Some(next) = Current::open(path).await? else {
                return Ok(Pass::Done);
            };
            // What was appended to the old file between the read above and its rename.
            if let Some(old) = current.as_mut() {
                if em.read_lines(&mut old.file, old.pos, None).await?.1 == Flow::Stop {
                    return Ok(Pass::Stop);
                }
            }
            tracing::debug!(path = %path.display(), "log rotated: following the new file");
            *current = Some(next);
            Ok(Pass::Again)
        }
    }
}

/// Resolves when the log changed (or, without inotify, after a while).
async fn changed(watch: &mut Option<LogWatch>) {
    match watch {
        Some(w) => w.changed().await,
        None => tokio::time::sleep_until(tokio::time::Instant::now() + FALLBACK_POLL).await,
    }
}

/// Resolves once `stopped` holds true or its sender is dropped; never without one.
async fn wait_stopped(stopped: &mut Option<watch::Receiver<bool>>) {
    match stopped {
        Some(rx) => {
            let _ = rx.wait_for(|s| *s).await;
        }
        None => std::future::pending().await,
    }
}

/// Whether the byte before `pos` is a "\n" (true at 0).
async fn ends_line(file: &mut tokio::fs::File, pos: u64) -> io::Result<bool> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    if pos == 0 {
        return Ok(true);
    }
    file.seek(io::SeekFrom::Start(pos - 1)).await?;
    let mut b = [0u8; 1];
    match file.read_exact(&mut b).await {
        Ok(_) => Ok(b[0] == b'\n'),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}
