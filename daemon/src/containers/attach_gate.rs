//! Attaching before the start: `docker run` attaches to a container that has no task
//! yet. Such clients wait here; when the task is created (its process not started yet),
//! `open` hands them the shim's attach socket and waits until each says it is
//! registered with the shim (the shim acknowledges a client's header line), so no
//! output is lost: the shim does not replay output nobody was attached to.
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;

/// How long a start waits for its attached clients to register (a client that went
/// away says nothing; its sender is dropped and that ends the wait for it at once).
const CONNECT_WAIT: Duration = Duration::from_secs(2);

/// What a waiting client receives: the attach socket, and where to say "registered".
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

    /// Hands the socket to every waiting client, and waits (bounded) until each is
    /// registered with the shim or has given up.
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
        if tokio::time::timeout(CONNECT_WAIT, all).await.is_err() {
            tracing::warn!(container = %container_id, "attached clients did not register in time; starting anyway");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn open_waits_for_every_client_to_register() {
        let gate = std::sync::Arc::new(AttachGate::default());
        let a = gate.wait_for_task("c");
        let b = gate.wait_for_task("c");
        let opened = tokio::spawn({
            let gate = gate.clone();
            async move { gate.open("c", "/s".into()).await }
        });
        let (socket, ack_a) = a.await.unwrap();
        assert_eq!(socket, PathBuf::from("/s"));
        // One registers, the other goes away: then the start goes on.
        let (_, ack_b) = b.await.unwrap();
        ack_a.send(()).unwrap();
        drop(ack_b);
        tokio::time::timeout(Duration::from_secs(1), opened)
            .await
            .expect("open returns once every client answered")
            .unwrap();
        // Nobody waits: nothing to do.
        gate.open("c", "/s".into()).await;
    }
}
