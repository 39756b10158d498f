//! Task events, fanned out to every `GET /events` subscriber.

use tokio::sync::broadcast;

pub use berth_proto::{Event, EventKind};

/// The event bus: a broadcast channel. Publishing never blocks; slow subscribers
/// lose the oldest events (and are told so in the log).
#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}

impl Events {
    pub fn new() -> Events {
        let (tx, _) = broadcast::channel(1024);
        Events { tx }
    }

    pub fn publish(&self, event: Event) {
        tracing::debug!(?event, "event");
        // No subscriber is not an error.
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fan_out_to_every_subscriber() {
        let bus = Events::new();
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        bus.publish(Event::new(EventKind::Start, "x").pid(1));
        assert_eq!(a.recv().await.unwrap().kind, EventKind::Start);
        assert_eq!(b.recv().await.unwrap().id, "x");
    }
}
