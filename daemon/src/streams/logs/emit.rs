//! Turning log lines into the response body: the since/until window, the stream
//! selection, rendering, and batching into chunks for the client.
use std::io::SeekFrom;

use bytes::{Bytes, BytesMut};
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc;

use super::entry::LogEntry;
use super::files::BLOCK;
use super::options::LogsOptions;
use crate::streams::error::StreamError;

/// Output is sent to the client once this much is buffered (and at the end of each read).
const CHUNK: usize = 32 * 1024;

/// Whether to keep reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    Continue,
    /// An entry after `until` was seen, or the client went away.
    Stop,
}

pub(super) type Sender = mpsc::Sender<Result<Bytes, StreamError>>;

/// Filters, renders and sends entries.
pub(super) struct Emitter {
    opts: LogsOptions,
    tty: bool,
    /// Cleared at the first entry at or after it, as dockerd's forwarder does
    /// (timestamps are not monotonic).
    since: Option<chrono::DateTime<chrono::Utc>>,
    out: BytesMut,
    tx: Sender,
}

impl Emitter {
    pub fn new(opts: LogsOptions, tty: bool, tx: Sender) -> Emitter {
        Emitter {
            since: opts.since,
            opts,
            tty,
            out: BytesMut::new(),
            tx,
        }
    }

    pub fn options(&self) -> &LogsOptions {
        &self.opts
    }

    pub fn sender(&self) -> &Sender {
        &self.tx
    }

    /// Handles one line of the file (without its "\n").
    fn line(&mut self, line: &[u8]) -> Flow {
        let Some(entry) = LogEntry::parse(line) else {
            tracing::debug!("skipping a log line that is not a json-file entry");
            return Flow::Continue;
        };
        if let Some(since) = self.since {
            if entry.time < since {
                return Flow::Continue;
            }
            self.since = None;
        }
        if self.opts.until.is_some_and(|until| entry.time > until) {
            return Flow::Stop;
        }
        if entry.wanted(&self.opts) {
            entry.render_into(&self.opts, self.tty, &mut self.out);
        }
        Flow::Continue
    }

    /// Sends what is buffered.
    pub async fn flush(&mut self) -> Flow {
        if self.out.is_empty() {
            return Flow::Continue;
        }
        let chunk = self.out.split().freeze();
        match self.tx.send(Ok(chunk)).await {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Stop,
        }
    }

    /// Sends an error in band (the response has started) and stops.
    pub async fn fail(&mut self, e: StreamError) {
        let _ = self.flush().await;
        let _ = self.tx.send(Err(e)).await;
    }

    /// Emits the complete lines of `file` from `pos` up to `end` (`None`: to its
    /// current end). Returns the offset after the last complete line read.
    pub async fn read_lines(
        &mut self,
        file: &mut File,
        mut pos: u64,
        end: Option<u64>,
    ) -> Result<(u64, Flow), std::io::Error> {
        file.seek(SeekFrom::Start(pos)).await?;
        let mut buf = vec![0u8; BLOCK];
        let mut carry: Vec<u8> = Vec::new();
        loop {
            let want = match end {
                Some(end) => (end.saturating_sub(pos + carry.len() as u64) as usize).min(BLOCK),
                None => BLOCK,
            };
            if want == 0 {
                break;
            }
            let n = file.read(&mut buf[..want]).await?;
            if n == 0 {
                break;
            }
            carry.extend_from_slice(&buf[..n]);
            let mut start = 0;
            while let Some(i) = carry[start..].iter().position(|&b| b == b'\n') {
                let flow = self.line(&carry[start..start + i]);
                start += i + 1;
                if flow == Flow::Stop {
                    let _ = self.flush().await;
                    return Ok((pos + start as u64, Flow::Stop));
                }
            }
            carry.drain(..start);
            pos += start as u64;
            if self.out.len() >= CHUNK && self.flush().await == Flow::Stop {
                return Ok((pos, Flow::Stop));
            }
        }
        Ok((pos, self.flush().await))
    }
}
