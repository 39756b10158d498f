//! `read_logs`: a container's json-file log as the body of `GET /containers/{id}/logs`.
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;
use tokio::fs::File;
use tokio::sync::{mpsc, watch};

use super::emit::{Emitter, Flow};
use super::files::{last_line_end, open_rotated, tail_start, Segment};
use super::follow::follow;
use super::options::LogsOptions;
use crate::streams::error::StreamError;

/// A response body: chunks of log output (framed unless the container has a TTY).
pub type LogStream = Pin<Box<dyn Stream<Item = Result<Bytes, StreamError>> + Send>>;

/// How many chunks may wait for a slow client.
const QUEUE: usize = 16;

/// Streams the log at `path` (FILE, with its rotated FILE.1 … FILE.(N-1)) as `opts` asks:
/// `tty` selects raw output instead of multiplexed frames.
///
/// With `opts.follow`, the stream keeps reading as the log grows and across rotations
/// until `stopped` holds `true` (or its sender is dropped): then what is left in the file
/// is sent and the stream ends. Pass `follow = false` (as dockerd does) when the
/// container is not running; with `stopped = None` a follow ends only when the client
/// goes away. A missing log file is an empty log. Dropping the stream stops the reader.
pub fn read_logs(
    path: impl Into<PathBuf>,
    opts: LogsOptions,
    tty: bool,
    stopped: Option<watch::Receiver<bool>>,
) -> LogStream {
    let path = path.into();
    let (tx, rx) = mpsc::channel(QUEUE);
    let emitter = Emitter::new(opts, tty, tx);
    tokio::spawn(produce(path, emitter, stopped));
    Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

/// The current log file, read up to `pos` (always just after a "\n").
pub(super) struct Current {
    pub file: File,
    pub ino: u64,
    pub pos: u64,
}

impl Current {
    pub async fn open(path: &Path) -> io::Result<Option<Current>> {
        let file = match File::open(path).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let ino = file.metadata().await?.ino();
        Ok(Some(Current { file, ino, pos: 0 }))
    }
}

async fn produce(path: PathBuf, mut emitter: Emitter, stopped: Option<watch::Receiver<bool>>) {
    tracing::debug!(path = %path.display(), "reading logs");
    match history(&path, &mut emitter).await {
        Err(e) => emitter.fail(StreamError::log_file(&path, e)).await,
        Ok((current, Flow::Continue)) if emitter.options().follow => {
            follow(path, current, emitter, stopped).await
        }
        Ok(_) => {}
    }
}

/// Sends what the files hold now (the tail of it, if asked); returns the current file
/// positioned where following it goes on.
async fn history(path: &Path, em: &mut Emitter) -> io::Result<(Option<Current>, Flow)> {
    let mut current = Current::open(path).await?;
    let mut current_start = 0;
    if let Some(c) = current.as_mut() {
        let len = c.file.metadata().await?.len();
        c.pos = last_line_end(&mut c.file, len).await?;
        current_start = c.pos;
    }
    let tail = em.options().tail;
    if tail == Some(0) {
        return Ok((current, Flow::Continue));
    }
    let mut rotated = open_rotated(path).await?;
    // A rotation between opening FILE and FILE.1 would show one file twice.
    if let Some(c) = &current {
        let mut kept = Vec::with_capacity(rotated.len());
        for seg in rotated {
            if seg.file.metadata().await?.ino() != c.ino {
                kept.push(seg);
            }
        }
        rotated = kept;
    }
    for seg in rotated.iter_mut() {
        seg.end = last_line_end(&mut seg.file, seg.end).await?;
    }

    let mut remaining = tail;
    if let Some(c) = current.as_mut() {
        current_start = match remaining {
            None => 0,
            Some(n) => {
                let (start, found) = tail_start(&mut c.file, c.pos, n).await?;
                remaining = Some(n - found);
                start
            }
        };
    }
    if let Some(mut n) = remaining {
        for seg in rotated.iter_mut().rev() {
            let (start, found) = tail_start(&mut seg.file, seg.end, n).await?;
            seg.start = start;
            n -= found;
        }
    }

    for Segment {
        path,
        mut file,
        start,
        end,
    } in rotated
    {
        tracing::trace!(file = %path.display(), start, end, "reading a rotated log file");
        if start < end && em.read_lines(&mut file, start, Some(end)).await?.1 == Flow::Stop {
            return Ok((current, Flow::Stop));
        }
    }
    let mut flow = Flow::Continue;
    if let Some(c) = current.as_mut() {
        if current_start < c.pos {
            flow = em
                .read_lines(&mut c.file, current_start, Some(c.pos))
                .await?
                .1;
        }
    }
    Ok((current, flow))
}
