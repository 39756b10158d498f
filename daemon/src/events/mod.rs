//! The daemon's event bus: every container, image, network and volume event
//! Docker emits is published here once, and `GET /events` reads from it.
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// How many past events are kept for `since` queries.
const HISTORY: usize = 1024;

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
}

impl Default for EventBus {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(HISTORY);
        EventBus {
            sender,
            history: Mutex::new(VecDeque::with_capacity(HISTORY)),
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
        if let Ok(mut h) = self.history.lock() {
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back(event.clone());
        }
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
}
