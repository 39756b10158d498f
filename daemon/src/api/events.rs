//! API group: events — `GET /events` with filters, since and until.
//!
//! As dockerd: the past events kept by the bus (only when `since` or `until` is given),
//! then live ones, one JSON object per line, each sent as it happens. With `until` in
//! the past the stream ends after the history; with `until` in the future it ends then.
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use futures::StreamExt;
use tokio::sync::broadcast;

use super::version::{ApiVersion, MAX_API_VERSION};
use super::{ApiError, ApiResult};
use crate::events::filter::EventFilter;
use crate::events::message::line;
use crate::events::time::Window;
use crate::events::{Event, EventsError};
use crate::state::SharedDaemon;

pub fn routes() -> Router<SharedDaemon> {
    Router::new().route("/events", get(events_route))
}

impl From<EventsError> for ApiError {
    fn from(e: EventsError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

/// `GET /events?since=…&until=…&filters=…`.
async fn events_route(
    State(daemon): State<SharedDaemon>,
    version: Option<Extension<ApiVersion>>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let param = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let api_version = version.map(|Extension(v)| v.0).unwrap_or(MAX_API_VERSION.0);
    let filter = EventFilter::parse(param("filters"))?;
    let now = chrono::Utc::now();
    let window = Window::parse(param("since"), param("until"), now)?;

    let (history, receiver) = daemon.events.subscribe_with_history();
    let past: Vec<Result<Bytes, Infallible>> = if window.wants_history() {
        history
            .iter()
            .filter(|ev| window.contains(ev.time_nano) && filter.include(ev))
            .map(|ev| Ok(Bytes::from(line(ev, api_version))))
            .collect()
    } else {
        Vec::new()
    };
    let past = futures::stream::iter(past);
    let body = if window.ended_at(now) {
        Body::from_stream(past)
    } else {
        let deadline = window.until.map(|until| {
            let wait = until.saturating_sub(now.timestamp_nanos_opt().unwrap_or(until));
            tokio::time::Instant::now()
                + std::time::Duration::from_nanos(u64::try_from(wait).unwrap_or(0))
        });
        let live = Live {
            receiver,
            closed: daemon.events.closed(),
            deadline,
            filter,
            api_version,
        };
        Body::from_stream(past.chain(live.into_stream()))
    };
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// Waits until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The live part of the stream: events as they are published, until the deadline.
struct Live {
    receiver: broadcast::Receiver<Arc<Event>>,
    closed: tokio::sync::watch::Receiver<bool>,
    deadline: Option<tokio::time::Instant>,
    filter: EventFilter,
    api_version: u32,
}

impl Live {
    fn into_stream(self) -> impl futures::Stream<Item = Result<Bytes, Infallible>> + Send {
        futures::stream::unfold(self, |mut live| async move {
            let ev = live.next_event().await?;
            let bytes = Bytes::from(line(&ev, live.api_version));
            Some((Ok(bytes), live))
        })
    }

    /// The next event the filter lets through; `None` at the deadline or shutdown.
    async fn next_event(&mut self) -> Option<Arc<Event>> {
        loop {
            if *self.closed.borrow() {
                return None;
            }
            let deadline = self.deadline;
            let received = tokio::select! {
                r = self.receiver.recv() => r,
                _ = sleep_until(deadline) => return None,
                _ = self.closed.changed() => return None,
            };
            match received {
                Ok(ev) if self.filter.include(&ev) => return Some(ev),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "an events subscriber fell behind");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn live(bus: &crate::events::EventBus, deadline: Option<tokio::time::Instant>) -> Live {
        Live {
            receiver: bus.subscribe(),
            closed: bus.closed(),
            deadline,
            filter: EventFilter::parse(r#"{"type":["image"]}"#).expect("filter"),
            api_version: 53,
        }
    }

    #[tokio::test]
    async fn live_events_are_filtered_and_end_on_close() {
        let bus = crate::events::EventBus::default();
        let mut l = live(&bus, None);
        bus.publish("container", "start", "c", BTreeMap::new());
        bus.publish("image", "tag", "sha256:a", BTreeMap::new());
        let ev = l.next_event().await.expect("image event");
        assert_eq!(ev.action, "tag");
        bus.close();
        assert!(l.next_event().await.is_none());
    }

    #[tokio::test]
    async fn live_events_end_at_the_deadline() {
        let bus = crate::events::EventBus::default();
        // Measured from before the deadline is set: slow set-up under load cannot make
        // the wait look short.
        let started = std::time::Instant::now();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(100);
        let mut l = live(&bus, Some(deadline));
        assert!(l.next_event().await.is_none());
        assert!(started.elapsed() >= std::time::Duration::from_millis(90));
    }
}
