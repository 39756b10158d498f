//! Attaching before the start: `docker run` attaches to a container that has no task
//! yet. Such clients wait here; when the task is created (its process not started yet),
//! `open` hands them the shim's attach socket and waits until each is connected, so no
//! output is lost (the shim does not replay output nobody was attached to).
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

/// How long a start waits for its attached clients to connect.
const CONNECT_WAIT: Duration = Duration::from_secs(2);

/// What a waiting client receives: the attach socket, and where to say "connected".
pub type Ticket = (PathBuf, oneshot::Sender<()>);

#[derive(Default)]
pub struct AttachGate {
    waiting: Mutex<HashMap<String, Vec<oneshot::Sender<Ticket>>>>,
}

impl AttachGate {
    /// Registers a client waiting for the container's next task.
    pub fn wait_for_task(&self, container_id: &str) -> oneshot::Receiver<Ticket> {
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(container_id.to_string())
            .or_default()
            .push(tx);
        rx
    }

    /// Hands the socket to every waiting client, and waits (bounded) until they are connected.
    pub async fn open(&self, container_id: &str, socket: PathBuf) {
        let waiters = self
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(container_id)
            .unwrap_or_default();
        let mut acks = Vec::new();
        for w in waiters {
            let (ack_tx, ack_rx) = oneshot::channel();
            if w.send((socket.clone(), ack_tx)).is_ok() {
                acks.push(ack_rx);
            }
        }
        if acks.is_empty() {
            return;
        }
        let all = futures::future::join_all(acks);
        let _ = tokio::time::timeout(CONNECT_WAIT, all).await;
        // The shim registers a client once it has read its header line.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A client stream that says when it is first read: the attach code reads the client
/// only once it is connected to the shim.
/// With `hold`, the client's input is not read before it resolves (an exec's process
/// has no stdin until it is started).
pub struct SignalOnRead<T> {
    inner: T,
    ready: Option<oneshot::Sender<()>>,
    hold: Option<oneshot::Receiver<()>>,
}

impl<T> SignalOnRead<T> {
    pub fn new(inner: T, ready: Option<oneshot::Sender<()>>) -> Self {
        SignalOnRead {
            inner,
            ready,
            hold: None,
        }
    }

    /// Reads of the client wait for `hold` (sent or dropped).
    pub fn holding_input(mut self, hold: oneshot::Receiver<()>) -> Self {
        self.hold = Some(hold);
        self
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for SignalOnRead<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(tx) = self.ready.take() {
            let _ = tx.send(());
        }
        if let Some(hold) = self.hold.as_mut() {
            if Pin::new(hold).poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.hold = None;
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for SignalOnRead<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
