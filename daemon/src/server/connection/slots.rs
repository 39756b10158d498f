//! The connection cap of one listener, which leaves room for new clients: at the cap, a new
//! connection takes the place of the one that has waited longest without a request in
//! flight (an idle keep-alive connection, or one still sending its head: nginx reuses its
//! keep-alive connections the same way); only when every connection is busy (requests being
//! served, `/events`, log follows, attached sessions) is the newcomer turned away, with a
//! JSON 503 (`turn_away` in the parent module). dockerd has no cap: a client could hold
//! every file descriptor it may open.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::ConnState;

pub struct ListenerSlots {
    max: usize,
    epoch: Instant,
    table: Mutex<Table>,
    /// Bounds the connections being turned away at once (each is answered, then closed).
    pub turning_away: Arc<tokio::sync::Semaphore>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    conns: HashMap<u64, Arc<ConnState>>,
}

/// A connection's place; given back when dropped.
pub struct Slot {
    id: u64,
    slots: Arc<ListenerSlots>,
    pub state: Arc<ConnState>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.table().conns.remove(&self.id);
    }
}

/// How many connections may be turned away (answered 503) at the same time; beyond it the
/// newcomer is closed at once.
const TURNING_AWAY: usize = 32;

impl ListenerSlots {
    pub fn new(max: usize) -> Arc<ListenerSlots> {
        Arc::new(ListenerSlots {
            max: max.max(1),
            epoch: Instant::now(),
            table: Mutex::new(Table::default()),
            turning_away: Arc::new(tokio::sync::Semaphore::new(TURNING_AWAY)),
        })
    }

    pub fn max(&self) -> usize {
        self.max
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // A panic while holding this lock leaves a plain map behind: keep using it.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for a new connection, making room at the cap; `None` when every connection is
    /// busy.
    pub fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut table = self.table();
        if table.conns.len() >= self.max {
            let victim = table
                .conns
                .values()
                .filter(|c| c.evictable())
                .min_by_key(|c| c.idle_since())?;
            victim.evict();
        }
        let id = table.next_id;
        table.next_id += 1;
        let state = Arc::new(ConnState::new(self.epoch));
        table.conns.insert(id, state.clone());
        Some(Slot {
            id,
            slots: self.clone(),
            state,
        })
    }

    /// Connections held now (tests, logs).
    pub fn held(&self) -> usize {
        self.table().conns.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_idle_makes_room_and_busy_ones_do_not() {
        let slots = ListenerSlots::new(2);
        let a = slots.admit().expect("a");
        let b = slots.admit().expect("b");
        a.state.request_started();
        // b is idle: it makes room for c.
        let c = slots.admit().expect("c");
        assert!(b.state.evicted());
        assert!(!a.state.evicted());
        drop(b);
        // a and c: a busy, c idle → d takes c's place.
        let d = slots.admit().expect("d");
        assert!(c.state.evicted());
        drop(c);
        // a busy, d hijacked (an attach): nobody makes room.
        d.state.request_started();
        d.state.set_upgraded();
        d.state.request_finished();
        assert!(slots.admit().is_none());
        a.state.request_finished();
        assert!(slots.admit().is_some());
        assert!(a.state.evicted());
    }

    #[test]
    fn a_place_is_given_back() {
        let slots = ListenerSlots::new(1);
        let a = slots.admit().expect("a");
        a.state.request_started();
        assert!(slots.admit().is_none());
        drop(a);
        assert_eq!(slots.held(), 0);
        assert!(slots.admit().is_some());
    }
}
