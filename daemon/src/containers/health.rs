//! Healthchecks (moby `daemon/health.go`): one monitor task per running container with
//! a healthcheck runs probes (`health_probe`) every Interval (StartInterval during the
//! start period), kills those that exceed Timeout, and keeps `State.Health` in the
//! record: the status, the failing streak and the last 5 results. A status change
//! publishes `health_status: <status>`.
//!
//! - `start`  — at every start (and for running containers after berthd restarts): the
//!   status goes back to "starting", the streak to 0, and a monitor runs.
//! - `stop`   — at the exit (or pause): the monitor ends; dockerd then shows "unhealthy".
//! - `resume` — at unpause: a monitor runs again, the status unchanged.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use super::health_config::{go_duration, probe_of, Probe};
use super::health_probe;
use super::record::{Health, HealthResult, Status};
use crate::state::SharedDaemon;

/// Results kept in `State.Health.Log` (dockerd's `maxLogEntries`).
pub const MAX_LOG: usize = 5;

/// The health statuses, as dockerd spells them.
pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";
/// The `health` filter's value for a container without a healthcheck.
pub const NONE: &str = "none";

/// The monitors running, by container ID. Dropping a sender stops its monitor.
#[derive(Default)]
pub struct HealthMonitors {
    running: Mutex<HashMap<String, watch::Sender<()>>>,
}

impl HealthMonitors {
    /// Registers a monitor for `id`; its stop signal. A monitor already there is stopped.
    fn open(&self, id: &str) -> watch::Receiver<()> {
        let (tx, rx) = watch::channel(());
        self.lock().insert(id.to_string(), tx);
        rx
    }

    /// Stops the monitor of `id`; whether one was running.
    fn close(&self, id: &str) -> bool {
        self.lock().remove(id).is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<()>>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The health status a container shows in `docker ps` and its `health` filter.
pub fn status_of(health: Option<&Health>) -> &str {
    health.map_or(NONE, |h| h.status.as_str())
}

/// A container (re)started: resets its health to "starting" and runs a monitor.
pub fn start(daemon: &SharedDaemon, id: &str) {
    let Some(c) = daemon.containers.get(id) else {
        return;
    };
    let Some(probe) = probe_of(&c) else {
        return;
    };
    daemon.health.close(id);
    let updated = daemon.containers.update(id, |r| {
        let h = r.health.get_or_insert_with(Health::default);
        h.status = STARTING.into();
        h.failing_streak = 0;
        Ok(r.state.status)
    });
    if let Ok((_, Status::Running)) = updated {
        spawn(daemon, id, probe);
    }
}

/// The container unpaused: probes run again.
pub fn resume(daemon: &SharedDaemon, id: &str) {
    let Some(c) = daemon.containers.get(id) else {
        return;
    };
    if let (Some(probe), Some(_)) = (probe_of(&c), c.health.as_ref()) {
        spawn(daemon, id, probe);
    }
}

/// The container stopped (or paused): the monitor ends and, as in dockerd, the
/// container shows "unhealthy" (no event is published for this).
pub fn stop(daemon: &SharedDaemon, id: &str) {
    if !daemon.health.close(id) {
        return;
    }
    let _ = daemon.containers.update(id, |r| {
        if let Some(h) = r.health.as_mut() {
            h.status = UNHEALTHY.into();
        }
        Ok(())
    });
}

fn spawn(daemon: &SharedDaemon, id: &str, probe: Probe) {
    let stop = daemon.health.open(id);
    tokio::spawn(monitor(daemon.clone(), id.to_string(), probe, stop));
}

/// Whether the monitor was told to stop (its sender dropped or replaced).
fn stopped(stop: &watch::Receiver<()>) -> bool {
    stop.has_changed().is_err()
}

/// The time to the next probe: StartInterval while starting within the start period.
fn next_interval(daemon: &SharedDaemon, id: &str, probe: &Probe) -> Duration {
    let Some(c) = daemon.containers.get(id) else {
        return probe.interval;
    };
    let since_start = c
        .state
        .started_at
        .map(|t| (Utc::now() - t).to_std().unwrap_or_default())
        .unwrap_or_default();
    if since_start < probe.start_period && status_of(c.health.as_ref()) == STARTING {
        probe.start_interval
    } else {
        probe.interval
    }
}

async fn monitor(daemon: SharedDaemon, id: String, probe: Probe, mut stop: watch::Receiver<()>) {
    loop {
        // The probe schedule (Interval, StartInterval): a timer, not an ordering.
        let next = tokio::time::Instant::now() + next_interval(&daemon, &id, &probe);
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep_until(next) => {}
        }
        let Some(c) = daemon.containers.get(&id) else {
            return;
        };
        let start = Utc::now();
        let exec_id = match health_probe::create(&daemon, &c, &probe.cmd) {
            Ok(exec_id) => exec_id,
            Err(message) => {
                record(&daemon, &id, failure(start, message), &stop);
                continue;
            }
        };
        let run = health_probe::run(&daemon, &exec_id);
        tokio::pin!(run);
        let result = tokio::select! {
            _ = stop.changed() => {
                daemon.execs.remove(&exec_id);
                return;
            }
            r = tokio::time::timeout(probe.timeout, &mut run) => r,
        };
        let result = match result {
            Ok(Ok((code, output))) => HealthResult {
                start: Some(start),
                end: Some(Utc::now()),
                exit_code: code,
                output,
            },
            Ok(Err(message)) => failure(start, message),
            Err(_) => {
                // Too long: killed, and counted as a failure.
                let message = format!(
                    "Health check exceeded timeout ({})",
                    go_duration(probe.timeout)
                );
                let timed_out = failure(start, message);
                let _ = daemon
                    .engine
                    .kill(c.task_id(), libc::SIGKILL, Some(&exec_id))
                    .await;
                // Waits for the probe to end, so dying probes do not pile up.
                let _ = tokio::time::timeout(Duration::from_secs(10), &mut run).await;
                timed_out
            }
        };
        daemon.execs.remove(&exec_id);
        record(&daemon, &id, result, &stop);
    }
}

fn failure(start: chrono::DateTime<Utc>, output: String) -> HealthResult {
    HealthResult {
        start: Some(start),
        end: Some(Utc::now()),
        exit_code: -1,
        output,
    }
}

/// dockerd's `handleProbeResult`: the log, the streak and the status.
fn record(daemon: &SharedDaemon, id: &str, result: HealthResult, stop: &watch::Receiver<()>) {
    let Some(c) = daemon.containers.get(id) else {
        return;
    };
    let Some(probe) = probe_of(&c) else {
        return;
    };
    let changed = daemon.containers.update(id, |r| {
        // A monitor stopped meanwhile leaves the state alone.
        if stopped(stop) {
            return Ok(None);
        }
        let started_at = r.state.started_at;
        let Some(h) = r.health.as_mut() else {
            return Ok(None);
        };
        let old = h.status.clone();
        apply(h, result, probe.retries, probe.start_period, started_at);
        Ok((h.status != old).then(|| h.status.clone()))
    });
    if let Ok((c, Some(status))) = changed {
        daemon.events.publish(
            "container",
            &format!("health_status: {status}"),
            &c.id,
            c.event_attributes(),
        );
    }
}

/// Adds `result` to the health state (pure, for tests).
fn apply(
    h: &mut Health,
    result: HealthResult,
    retries: u64,
    start_period: Duration,
    started_at: Option<chrono::DateTime<Utc>>,
) {
    let healthy = result.exit_code == 0;
    let probe_start = result.start;
    h.log.push(result);
    if h.log.len() > MAX_LOG {
        let extra = h.log.len() - MAX_LOG;
        h.log.drain(..extra);
    }
    if healthy {
        h.failing_streak = 0;
        h.status = HEALTHY.into();
        return;
    }
    // While starting, failures within the start period do not count.
    if h.status == STARTING {
        if let (Some(probe), Some(started)) = (probe_start, started_at) {
            if (probe - started).to_std().unwrap_or_default() < start_period {
                return;
            }
        }
    }
    h.failing_streak += 1;
    if h.failing_streak >= retries {
        h.status = UNHEALTHY.into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i64) -> HealthResult {
        HealthResult {
            start: Some(Utc::now()),
            end: Some(Utc::now()),
            exit_code: code,
            output: String::new(),
        }
    }

    #[test]
    fn failures_make_it_unhealthy_after_the_retries_and_a_success_heals() {
        let mut h = Health {
            status: STARTING.into(),
            ..Default::default()
        };
        let started = Some(Utc::now() - chrono::Duration::seconds(10));
        apply(&mut h, result(1), 2, Duration::ZERO, started);
        assert_eq!((h.status.as_str(), h.failing_streak), (STARTING, 1));
        apply(&mut h, result(1), 2, Duration::ZERO, started);
        assert_eq!((h.status.as_str(), h.failing_streak), (UNHEALTHY, 2));
        apply(&mut h, result(0), 2, Duration::ZERO, started);
        assert_eq!((h.status.as_str(), h.failing_streak), (HEALTHY, 0));
        for _ in 0..6 {
            apply(&mut h, result(0), 2, Duration::ZERO, started);
        }
        assert_eq!(h.log.len(), MAX_LOG);
    }

    #[test]
    fn failures_in_the_start_period_do_not_count() {
        let mut h = Health {
            status: STARTING.into(),
            ..Default::default()
        };
        let started = Some(Utc::now());
        apply(&mut h, result(1), 1, Duration::from_secs(60), started);
        assert_eq!((h.status.as_str(), h.failing_streak), (STARTING, 0));
        assert_eq!(h.log.len(), 1);
    }
}
