//! One lock per container for the operations that must not interleave, as dockerd's
//! `container.Lock()`: a start holds it until the task runs and the record says so, and
//! a removal (`rm`, `container prune`) takes it before it looks at the state. Without it
//! a prune could remove a container between the start's check and its task starting,
//! leaving a running task with no record.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

#[derive(Default)]
pub struct ContainerLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl ContainerLocks {
    /// Waits for the container's lock (by ID).
    pub async fn lock(&self, id: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(id.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// How many hold or wait for the container's lock (tests: to know a waiter waits).
    #[cfg(test)]
    pub fn users(&self, id: &str) -> usize {
        let locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.get(id).map_or(0, |l| Arc::strong_count(l) - 1)
    }

    /// Forgets a removed container's lock (holders keep theirs until they let go).
    pub fn forget(&self, id: &str) {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_holder_at_a_time_per_container() {
        let locks = Arc::new(ContainerLocks::default());
        let first = locks.lock("a").await;
        let _other = locks.lock("b").await;
        let waiting = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _second = locks.lock("a").await;
            })
        };
        let mut waiting = waiting;
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut waiting)
                .await
                .is_err(),
            "the second holder waits while the first holds the lock"
        );
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the second holder gets the lock")
            .expect("task");
        locks.forget("a");
    }
}
