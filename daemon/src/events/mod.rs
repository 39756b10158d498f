//! The daemon's event bus: every container, image, network and volume event
//! Docker emits is published here once, and `GET /events` reads from it.
//!
//! - `filter`  — the `filters` of `GET /events`, matched as dockerd does.
//! - `time`    — `since` / `until` values.
//! - `message` — an event in the JSON shape of each API version.
//! - `image`   — image events with dockerd's attributes (the image's labels, `name`).
pub mod filter;
pub mod image;
pub mod message;
pub mod time;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// How many past events are kept for `since` queries: dockerd's `eventsLimit` (256,
/// daemon/events/events.go). 1 024 kept ~0.3 MiB of attributes after a busy hour.
const HISTORY: usize = 256;
/// How far a live subscriber may fall behind before it lags: dockerd's `bufferSize`.
const SUBSCRIBER_BUFFER: usize = 1024;

/// Why a `GET /events` request is refused (all are 400s).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventsError {
    /// A malformed or unknown filter: "invalid filter 'foo'".
    #[error("{0}")]
    InvalidFilter(String),
    /// A `since` / `until` value that is neither a time nor a duration.
    #[error("failed to parse value as time or duration: \"{0}\"")]
    InvalidTime(String),
    /// `until` before `since`, with the values as given.
    #[error("`since` time ({since}) cannot be after `until` time ({until})")]
    SinceAfterUntil { since: String, until: String },
}

/// One event, in Docker's terms (`Type`, `Action`, `Actor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// "container", "image", "network", "volume", "daemon", …
    pub kind: String,
    /// "create", "start", "die", "pull", "tag", …
    pub action: String,
    /// The object's ID (a container ID, an image reference or ID, …).
    pub actor_id: String,
    /// Actor.Attributes (name, image, exitCode, labels, …).
    pub attributes: BTreeMap<String, String>,
    /// Nanoseconds since the Unix epoch.
    pub time_nano: i64,
}

/// Publishes events to live subscribers and keeps the most recent ones.
pub struct EventBus {
    sender: broadcast::Sender<Arc<Event>>,
    history: Mutex<VecDeque<Arc<Event>>>,
    /// Set by `close` when the daemon shuts down: open `GET /events` streams end.
    closed: tokio::sync::watch::Sender<bool>,
}

impl Default for EventBus {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(SUBSCRIBER_BUFFER);
        EventBus {
            sender,
            history: Mutex::new(VecDeque::with_capacity(HISTORY)),
            closed: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl EventBus {
    /// Records and broadcasts one event, stamped now.
    pub fn publish(
        &self,
        kind: &str,
        action: &str,
        actor_id: &str,
        attributes: BTreeMap<String, String>,
    ) {
        let time_nano = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let event = Arc::new(Event {
            kind: kind.to_string(),
            action: action.to_string(),
            actor_id: actor_id.to_string(),
            attributes,
            time_nano,
        });
        // Recorded and sent under the lock, so `subscribe_with_history` sees every event
        // exactly once: either in the history it copies or on its receiver.
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(event.clone());
        // No subscribers is not an error.
        let _ = self.sender.send(event);
    }

    /// A receiver for events published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }

    /// The events still kept, oldest first.
    pub fn recent(&self) -> Vec<Arc<Event>> {
        self.history
            .lock()
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Ends every open events stream (the daemon is shutting down), as dockerd does
    /// before it stops; graceful shutdown then need not wait for them.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Becomes true when `close` was called.
    pub fn closed(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closed.subscribe()
    }

    /// The events kept so far (oldest first) and a receiver for every later one, with no
    /// event lost or repeated between the two.
    pub fn subscribe_with_history(&self) -> (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>) {
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let receiver = self.sender.subscribe();
        (history.iter().cloned().collect(), receiver)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn history_then_live_without_gap_or_repeat() {
        let bus = EventBus::default();
        bus.publish("image", "tag", "sha256:a", BTreeMap::new());
        let (past, mut live) = bus.subscribe_with_history();
        bus.publish("image", "untag", "sha256:a", BTreeMap::new());
        assert_eq!(past.len(), 1);
        assert_eq!(past[0].action, "tag");
        let next = live.recv().await.expect("live event");
        assert_eq!(next.action, "untag");
        assert!(next.time_nano >= past[0].time_nano);
        assert_eq!(bus.recent().len(), 2);
    }

    #[test]
    fn history_is_bounded() {
        let bus = EventBus::default();
        for i in 0..HISTORY + 5 {
            bus.publish("image", "tag", &i.to_string(), BTreeMap::new());
        }
        let recent = bus.recent();
        assert_eq!(recent.len(), HISTORY);
        assert_eq!(recent[0].actor_id, "5");
    }
}
