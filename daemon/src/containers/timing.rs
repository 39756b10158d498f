//! Stage timings of the container operations (`docker run`, `docker exec`), for the
//! per-stage breakdown of `scripts/bench-containers.sh`: each stage is one debug event
//! with target `berth_timing` — `stage=<name> us=<microseconds> id=<container or exec>` —
//! emitted when its guard is dropped. Off (and free) unless that target is enabled
//! (`RUST_LOG=info,berth_timing=debug`).
use std::time::Instant;

/// Measures from its creation to its drop.
pub struct Stage {
    name: &'static str,
    id: String,
    started: Option<Instant>,
}

/// Starts timing stage `name` of the operation on `id`.
pub fn stage(name: &'static str, id: &str) -> Stage {
    let on = tracing::enabled!(target: "berth_timing", tracing::Level::DEBUG);
    Stage {
        name,
        id: if on { id.to_string() } else { String::new() },
        started: on.then(Instant::now),
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some(t0) = self.started {
            tracing::debug!(
                target: "berth_timing",
                stage = self.name,
                us = t0.elapsed().as_micros() as u64,
                id = %self.id,
            );
        }
    }
}
