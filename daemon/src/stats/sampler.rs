//! The forms of `GET /containers/{id}/stats`, as dockerd serves them:
//! - `stream=true` (default): a sample now, then one a second, each with the previous
//!   one's CPU counters as `precpu_stats` / `preread` (zero in the first).
//! - `stream=false`: two samples a second apart, only the second sent, so CPU % can be
//!   computed from one answer; with `one-shot=true` a single sample without precpu.
//! - a container that is not running: dockerd's zeroed sample (name and ID only), once
//!   for `stream=false`, every second when streaming.
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;

use super::cgroup::CgroupPaths;
use super::host::Host;
use super::model::StatsJson;
use super::sample::sample;

/// The interval between samples.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// What the request asked for, and who the container is.
#[derive(Debug, Clone)]
pub struct StatsOptions {
    pub id: String,
    /// As dockerd shows it, with the leading slash: "/web".
    pub name: String,
    pub stream: bool,
    pub one_shot: bool,
    /// The request's API minor version (1.NN); from 52 the sample carries `os_type`.
    pub api_version: u32,
}

/// Where a container's counters are right now.
#[derive(Debug, Clone)]
pub enum Target {
    /// Running: its cgroup and its init process (for /proc/<pid>/net/dev).
    Running { cgroup: CgroupPaths, pid: i32 },
    /// Created, exited, restarting, gone: the zeroed sample.
    Stopped,
}

struct State {
    opts: StatsOptions,
    host: Host,
    locate: Arc<dyn Fn() -> Target + Send + Sync>,
    previous: Option<StatsJson>,
    sent: usize,
}

/// The response body: one JSON object per line. `locate` is asked before each sample
/// where the container is now, so a container that stops mid-stream gets zeroed samples.
pub fn stats_stream<F>(
    opts: StatsOptions,
    host: Host,
    locate: F,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send
where
    F: Fn() -> Target + Send + Sync + 'static,
{
    let state = State {
        opts,
        host,
        locate: Arc::new(locate),
        previous: None,
        sent: 0,
    };
    futures::stream::unfold(state, |mut st| async move {
        if !st.opts.stream && st.sent > 0 {
            return None;
        }
        if st.sent > 0 {
            tokio::time::sleep(INTERVAL).await;
        }
        let mut current = st.take_sample().await;
        // stream=false without one-shot: the first sample only primes precpu.
        let primes = !st.opts.stream && !st.opts.one_shot && current.read.is_some();
        if primes {
            st.previous = Some(current);
            tokio::time::sleep(INTERVAL).await;
            current = st.take_sample().await;
        }
        let out = st.finish(current);
        st.sent += 1;
        Some((Ok(out), st))
    })
}

impl State {
    /// A raw sample, or the zeroed one when the container is not running or its cgroup
    /// cannot be read any more.
    async fn take_sample(&self) -> StatsJson {
        let zeroed = StatsJson::zeroed(&self.opts.id, &self.opts.name);
        let Target::Running { cgroup, pid } = (self.locate)() else {
            return zeroed;
        };
        let host = self.host.clone();
        match tokio::task::spawn_blocking(move || sample(&cgroup, pid, &host)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!(id = %self.opts.id, "stats: {e}");
                zeroed
            }
            Err(e) => {
                tracing::warn!(id = %self.opts.id, "stats task failed: {e}");
                zeroed
            }
        }
    }

    /// Fills in name, ID, precpu and preread, remembers the sample, and encodes it.
    fn finish(&mut self, mut current: StatsJson) -> Bytes {
        current.name = self.opts.name.clone();
        current.id = self.opts.id.clone();
        if self.opts.api_version >= 52 {
            current.os_type = Some("linux".to_string());
        }
        if let Some(prev) = &self.previous {
            current.precpu_stats = prev.cpu_stats.clone();
            current.preread = prev.read;
        }
        let mut line = serde_json::to_vec(&current).unwrap_or_default();
        line.push(b'\n');
        self.previous = Some(current);
        Bytes::from(line)
    }
}
