//! Task events, fanned out to every `GET /events` subscriber.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventType {
    Start,
    Exit,
    Oom,
    ExecStart,
    ExecExit,
    Paused,
    Resumed,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventType,
    pub id: String,
    pub exec_id: Option<String>,
    pub pid: Option<u32>,
    pub exit_status: Option<u32>,
    pub at: String,
}

impl Event {
    pub fn new(kind: EventType, id: &str) -> Event {
        Event {
            kind,
            id: id.to_string(),
            exec_id: None,
            pid: None,
            exit_status: None,
            at: crate::model::now_rfc3339(),
        }
    }
    pub fn exec(mut self, exec_id: &str) -> Event {
        self.exec_id = Some(exec_id.to_string());
        self
    }
    pub fn pid(mut self, pid: u32) -> Event {
        self.pid = Some(pid);
        self
    }
    pub fn exit(mut self, status: u32) -> Event {
        self.exit_status = Some(status);
        self
    }
}

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

    #[test]
    fn event_json_shape() {
        let e = Event::new(EventType::ExecExit, "t1")
            .exec("e1")
            .pid(7)
            .exit(3);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "exec-exit");
        assert_eq!(v["id"], "t1");
        assert_eq!(v["exec_id"], "e1");
        assert_eq!(v["pid"], 7);
        assert_eq!(v["exit_status"], 3);
        assert!(v["at"].as_str().unwrap().ends_with('Z'));
    }

    #[tokio::test]
    async fn fan_out_to_every_subscriber() {
        let bus = Events::new();
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        bus.publish(Event::new(EventType::Start, "x").pid(1));
        assert_eq!(a.recv().await.unwrap().kind, EventType::Start);
        assert_eq!(b.recv().await.unwrap().id, "x");
    }
}
