//! Proxying a hijacked client connection to a shim's `attach.sock`, with dockerd's
//! semantics: stdin in, output out, detach keys (TTY only), the client's end of stdin,
//! and `logs=true` replayed from the json-file log first.
use std::future::Future;
use std::path::{Path, PathBuf};

use berth_proto::{AttachAck, AttachRequest};
use bytes::BytesMut;
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

use super::detach::{DetachMatcher, Scan};
use super::error::StreamError;
use super::framing::{encode_frame_into, FrameDecoder, StreamKind};
use super::logs::{read_logs, LogsOptions};

const BUF: usize = 32 * 1024;

/// What the client asked for, and what the process is.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// The exec to attach to; `None` for the container's init process.
    pub exec_id: Option<String>,
    /// Copy the client's stdin in. dockerd: the request's `stdin` AND the container's
    /// `OpenStdin` (for exec: the exec's `AttachStdin`).
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// The process has a TTY: output is raw pty bytes, detach keys apply.
    pub tty: bool,
    /// The end of the client's stdin closes the process's stdin (`close_stdin` is
    /// run) instead of ending the attach: the container's `StdinOnce`; always for an
    /// exec. Only without a TTY, as in dockerd.
    pub stdin_once: bool,
    /// The detach sequence (`parse_detach_keys`); empty means ctrl-p,ctrl-q.
    pub detach_keys: Vec<u8>,
    /// `logs=true`: replay this json-file log (all of it) before the live output.
    pub logs: Option<PathBuf>,
    /// `stream=true`: stream live output (and stdin). False: return after the replay.
    pub stream: bool,
    /// The framing the client reads when it differs from the process's: an exec
    /// started with another `Tty` than it was created with (dockerd frames by the start
    /// request's). None: raw with a TTY, multiplexed without.
    pub client_tty: Option<bool>,
}

impl AttachOptions {
    /// Whether the client reads raw bytes (else multiplexed frames).
    pub fn client_raw(&self) -> bool {
        self.client_tty.unwrap_or(self.tty)
    }
}

/// How an attach ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachEnd {
    /// The process's output ended (the shim closed the stream), or `stream` was false.
    OutputEnded,
    /// The client typed the detach keys (dockerd emits a `detach` event).
    Detached,
    /// The client closed its side (or its stdin, without `stdin_once`).
    ClientClosed,
}

/// A connection to a shim's attach socket, registered there: from now on it receives
/// everything the process writes.
pub struct ShimAttachment(UnixStream);

/// Connects to the shim's attach socket, sends the header line and waits for the
/// shim's acknowledgement (docs/engine-protocol.md, "Attach socket").
pub async fn connect_shim(
    socket: &Path,
    opts: &AttachOptions,
) -> Result<ShimAttachment, StreamError> {
    let attach_error = |source| StreamError::AttachSocket {
        path: socket.display().to_string(),
        source,
    };
    let mut shim = UnixStream::connect(socket).await.map_err(attach_error)?;
    let header = AttachRequest {
        exec_id: opts.exec_id.clone(),
        stdin: opts.stdin,
        stdout: opts.stdout,
        stderr: opts.stderr,
    };
    let mut line = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
    line.push(b'\n');
    shim.write_all(&line).await?;
    // The acknowledgement: one JSON line, read a byte at a time so that no output
    // after it is taken from the socket.
    let mut ack = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if shim.read(&mut byte).await? == 0 {
            return Err(attach_error(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the shim closed the attach connection before acknowledging it",
            )));
        }
        if byte[0] == b'\n' {
            break;
        }
        ack.push(byte[0]);
        if ack.len() > 64 * 1024 {
            return Err(attach_error(std::io::Error::other(
                "overlong acknowledgement",
            )));
        }
    }
    let ack: AttachAck = serde_json::from_slice(&ack).map_err(std::io::Error::other)?;
    if let Some(error) = ack.error {
        return Err(attach_error(std::io::Error::other(error)));
    }
    Ok(ShimAttachment(shim))
}

/// Proxies `client` to the shim's `attach_socket` until the output ends, the client
/// detaches or goes away. `close_stdin` is awaited when the client's stdin ends with
/// `stdin_once` (call the shim's `/close-stdin` for the process there). Detaching
/// leaves the container running.
pub async fn attach<C, F>(
    client: C,
    attach_socket: &Path,
    opts: AttachOptions,
    close_stdin: F,
) -> Result<AttachEnd, StreamError>
where
    C: AsyncRead + AsyncWrite + Unpin + Send,
    F: Future<Output = ()> + Send,
{
    // Attach first, then replay: output made meanwhile waits in the shim's buffer.
    let shim = if opts.stream {
        Some(connect_shim(attach_socket, &opts).await?)
    } else {
        None
    };
    proxy(client, shim, opts, close_stdin).await
}

/// The same with the shim connection made already (`connect_shim`), or None for a
/// replay of the log only (`stream=false`).
pub async fn proxy<C, F>(
    mut client: C,
    shim: Option<ShimAttachment>,
    opts: AttachOptions,
    close_stdin: F,
) -> Result<AttachEnd, StreamError>
where
    C: AsyncRead + AsyncWrite + Unpin + Send,
    F: Future<Output = ()> + Send,
{
    if let Some(log) = &opts.logs {
        if (opts.stdout || opts.stderr) && !replay_logs(&mut client, log, &opts).await {
            return Ok(AttachEnd::ClientClosed);
        }
    }
    let Some(ShimAttachment(shim)) = shim else {
        let _ = client.flush().await;
        return Ok(AttachEnd::OutputEnded);
    };
    let (shim_read, shim_write) = shim.into_split();
    let (client_read, mut client_write) = tokio::io::split(client);
    let end = tokio::select! {
        end = copy_output(shim_read, &mut client_write, &opts) => end,
        end = copy_input(client_read, shim_write, &opts, close_stdin) => end,
    };
    let _ = client_write.flush().await;
    if let Ok(end) = &end {
        tracing::debug!(exec_id = ?opts.exec_id, ?end, "attach ended");
    }
    end
}

/// Writes the whole log to the client as attach does with `logs=true`. False if the
/// client went away.
async fn replay_logs<C: AsyncWrite + Unpin>(
    client: &mut C,
    log: &Path,
    opts: &AttachOptions,
) -> bool {
    let log_opts = LogsOptions {
        stdout: opts.stdout,
        stderr: opts.stderr,
        ..LogsOptions::default()
    };
    let mut stream = read_logs(log, log_opts, opts.client_raw(), None);
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                if client.write_all(&bytes).await.is_err() {
                    return false;
                }
            }
            Err(e) => {
                tracing::warn!("attach: replaying the log: {e}");
                break;
            }
        }
    }
    client.flush().await.is_ok()
}

/// Shim → client until the shim closes the stream.
async fn copy_output<W: AsyncWrite + Unpin>(
    mut shim: OwnedReadHalf,
    client: &mut W,
    opts: &AttachOptions,
) -> Result<AttachEnd, StreamError> {
    let mut buf = vec![0u8; BUF];
    let mut frames = FrameDecoder::new();
    let mut out = BytesMut::new();
    loop {
        let n = shim.read(&mut buf).await?;
        if n == 0 {
            return Ok(AttachEnd::OutputEnded);
        }
        let data: &[u8] = match (opts.tty, opts.client_raw()) {
            // The same framing on both sides.
            (true, true) => &buf[..n],
            // A TTY's raw output to a client that reads frames: all of it is stdout.
            (true, false) => {
                out.clear();
                if opts.stdout {
                    encode_frame_into(StreamKind::Stdout, &buf[..n], &mut out);
                }
                &out
            }
            // Frames to a client that reads raw bytes: the payloads, in order.
            (false, raw) => {
                frames.feed(&buf[..n]);
                out.clear();
                while let Some(frame) = frames.next_frame()? {
                    let wanted = match frame.kind {
                        StreamKind::Stdout => opts.stdout,
                        StreamKind::Stderr => opts.stderr,
                        _ => false,
                    };
                    if wanted && raw {
                        out.extend_from_slice(&frame.payload);
                    } else if wanted {
                        encode_frame_into(frame.kind, &frame.payload, &mut out);
                    }
                }
                &out
            }
        };
        if data.is_empty() {
            continue;
        }
        if client.write_all(data).await.is_err() || client.flush().await.is_err() {
            return Ok(AttachEnd::ClientClosed);
        }
    }
}

/// Client → shim. Never returns while the attach should go on.
async fn copy_input<R, F>(
    mut client: R,
    mut shim: OwnedWriteHalf,
    opts: &AttachOptions,
    close_stdin: F,
) -> Result<AttachEnd, StreamError>
where
    R: AsyncRead + Unpin,
    F: Future<Output = ()>,
{
    let mut buf = vec![0u8; BUF];
    let mut detach = opts.tty.then(|| DetachMatcher::new(&opts.detach_keys));
    loop {
        let n = match client.read(&mut buf).await {
            Ok(n) => n,
            Err(_) => return Ok(AttachEnd::ClientClosed),
        };
        if n == 0 {
            break;
        }
        if !opts.stdin {
            // dockerd does not read a client that gave no stdin.
            continue;
        }
        let (data, detached) = match detach.as_mut().map(|m| m.scan(&buf[..n])) {
            None => (buf[..n].to_vec(), false),
            Some(Scan::Forward(d)) => (d, false),
            Some(Scan::Detach(d)) => (d, true),
        };
        if !data.is_empty() {
            shim.write_all(&data).await?;
        }
        if detached {
            return Ok(AttachEnd::Detached);
        }
    }
    // The client closed its write side.
    if !opts.stdin {
        // Not a stdin end (there was none): keep streaming output.
        return std::future::pending().await;
    }
    if opts.stdin_once && !opts.tty {
        tracing::debug!(exec_id = ?opts.exec_id, "attach: stdin ended: closing the process's stdin");
        close_stdin.await;
        return std::future::pending().await;
    }
    // dockerd closes the output streams when stdin ends: the attach is over.
    Ok(AttachEnd::ClientClosed)
}
