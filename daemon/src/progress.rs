//! The JSON progress messages of pulls and pushes, as the docker CLI draws them.
//!
//! Shapes follow moby's `pkg/jsonmessage` and `pkg/streamformatter`: one JSON object
//! per line; a plain status is `{"status":…,"id":…}`, a layer action carries
//! `"progressDetail":{}` (with `current`/`total` while bytes move) and a ready-drawn
//! `"progress"` bar; an error after the stream started is the last line,
//! `{"errorDetail":{"message":…},"error":…}`.
//!
//! A transfer runs as a spawned task writing into a [`ProgressSink`] (a bounded channel);
//! [`respond`] turns the other end into the HTTP answer: a plain error when the task
//! failed before sending anything, a streamed body otherwise. When the client goes
//! away, sends fail silently and the task runs to completion.
use std::collections::HashMap;
use std::fmt::Display;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Progress updates of one id are sent at most this often (the last one always goes out).
const MIN_UPDATE_INTERVAL: Duration = Duration::from_millis(100);
/// Messages buffered between the transfer and the HTTP body.
const CHANNEL_CAPACITY: usize = 64;

/// One line of the stream (moby's `jsonmessage.JSONMessage`, in its field order).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct JsonMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(rename = "progressDetail", skip_serializing_if = "Option::is_none")]
    pub progress_detail: Option<ProgressDetail>,
    #[serde(rename = "progress", skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "errorDetail", skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<ErrorDetail>,
    #[serde(rename = "error", skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aux: Option<Aux>,
}

/// The `aux` payload of a message.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Aux {
    /// A push's result, in dockerd's field order: `{"Tag":…,"Digest":…,"Size":…}`.
    PushResult {
        #[serde(rename = "Tag")]
        tag: String,
        #[serde(rename = "Digest")]
        digest: String,
        #[serde(rename = "Size")]
        size: u64,
    },
    Other(serde_json::Value),
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ProgressDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ErrorDetail {
    pub message: String,
}

impl JsonMessage {
    /// `{"status":"Digest: …"}` or, with an id, `{"status":"Pulling from x","id":"latest"}`.
    pub fn status(id: Option<&str>, status: impl Into<String>) -> Self {
        JsonMessage {
            status: Some(status.into()),
            id: id.map(str::to_string),
            ..Default::default()
        }
    }

    /// A layer action without byte counts: `{"status":"Pull complete","progressDetail":{},"id":…}`.
    pub fn action(id: &str, action: impl Into<String>) -> Self {
        JsonMessage {
            status: Some(action.into()),
            progress_detail: Some(ProgressDetail::default()),
            id: Some(id.to_string()),
            ..Default::default()
        }
    }

    /// A layer action with byte counts and the drawn bar.
    pub fn bytes(id: &str, action: impl Into<String>, current: u64, total: u64) -> Self {
        let bar = progress_bar(current, total);
        JsonMessage {
            status: Some(action.into()),
            progress_detail: Some(ProgressDetail {
                current: Some(current),
                total: (total > 0).then_some(total),
            }),
            progress: (!bar.is_empty()).then_some(bar),
            id: Some(id.to_string()),
            ..Default::default()
        }
    }

    /// `{"progressDetail":{},"aux":{…}}` (a push's result).
    pub fn aux(value: Aux) -> Self {
        JsonMessage {
            progress_detail: Some(ProgressDetail::default()),
            aux: Some(value),
            ..Default::default()
        }
    }

    /// The last line of a failed stream.
    pub fn error(message: impl Into<String>) -> Self {
        let message = message.into();
        JsonMessage {
            error_detail: Some(ErrorDetail {
                message: message.clone(),
            }),
            error: Some(message),
            ..Default::default()
        }
    }

    /// The message as one line of the stream, ended as dockerd's streamformatter ends
    /// them: "\r\n".
    pub fn to_line(&self) -> Bytes {
        let mut line = serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec());
        line.extend_from_slice(b"\r\n");
        Bytes::from(line)
    }
}

/// Where a transfer reports its progress. Cheap to clone; every clone must be dropped
/// for the stream to end.
#[derive(Clone)]
pub struct ProgressSink {
    tx: mpsc::Sender<JsonMessage>,
    last_update: Arc<Mutex<HashMap<String, Instant>>>,
}

impl ProgressSink {
    /// A sink and the receiving end for [`respond`].
    pub fn channel() -> (ProgressSink, mpsc::Receiver<JsonMessage>) {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        (
            ProgressSink {
                tx,
                last_update: Arc::default(),
            },
            rx,
        )
    }

    /// Sends a message; a client that went away is not an error for the transfer.
    pub async fn send(&self, message: JsonMessage) {
        if self.tx.send(message).await.is_err() {
            tracing::trace!("progress receiver gone; transfer continues");
        }
    }

    /// A plain status line, optionally with an id.
    pub async fn status(&self, id: Option<&str>, status: impl Into<String>) {
        self.send(JsonMessage::status(id, status)).await;
    }

    /// A layer action without byte counts.
    pub async fn action(&self, id: &str, action: impl Into<String>) {
        self.forget(id);
        self.send(JsonMessage::action(id, action)).await;
    }

    /// A byte-count update, throttled per id; a final update (`current >= total`) always goes out.
    pub async fn bytes(&self, id: &str, action: &str, current: u64, total: u64) {
        let now = Instant::now();
        let due = {
            let mut last = self
                .last_update
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let due = match last.get(id) {
                Some(at) => {
                    now.duration_since(*at) >= MIN_UPDATE_INTERVAL
                        || (total > 0 && current >= total)
                }
                None => true,
            };
            if due {
                last.insert(id.to_string(), now);
            }
            due
        };
        if due {
            self.send(JsonMessage::bytes(id, action, current, total))
                .await;
        }
    }

    fn forget(&self, id: &str) {
        let mut last = self
            .last_update
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        last.remove(id);
    }
}

/// Turns a transfer task and its progress channel into the HTTP answer.
///
/// If the task ends with an error before it sent anything, that error is returned (the
/// caller answers with a plain HTTP error, as dockerd does). Otherwise the answer is a
/// `200` stream of JSON lines, ending with an `errorDetail` line if the task fails later.
pub async fn respond<E>(
    mut rx: mpsc::Receiver<JsonMessage>,
    task: JoinHandle<Result<(), E>>,
) -> Result<Response, E>
where
    E: Display + From<tokio::task::JoinError> + Send + 'static,
{
    let first = match rx.recv().await {
        Some(message) => message,
        // Every sender is gone: the task has finished (or is about to) without a word.
        None => {
            task.await??;
            return Ok(json_stream_response(Body::empty()));
        }
    };
    let state = StreamState::Messages {
        first: Some(Box::new(first)),
        rx,
        task,
    };
    let stream = futures::stream::unfold(state, next_line);
    Ok(json_stream_response(Body::from_stream(stream)))
}

enum StreamState<E> {
    Messages {
        first: Option<Box<JsonMessage>>,
        rx: mpsc::Receiver<JsonMessage>,
        task: JoinHandle<Result<(), E>>,
    },
    Done,
}

async fn next_line<E>(
    state: StreamState<E>,
) -> Option<(Result<Bytes, std::convert::Infallible>, StreamState<E>)>
where
    E: Display + From<tokio::task::JoinError>,
{
    match state {
        StreamState::Done => None,
        StreamState::Messages {
            first: Some(message),
            rx,
            task,
        } => Some((
            Ok(message.to_line()),
            StreamState::Messages {
                first: None,
                rx,
                task,
            },
        )),
        StreamState::Messages {
            first: None,
            mut rx,
            task,
        } => match rx.recv().await {
            Some(message) => Some((
                Ok(message.to_line()),
                StreamState::Messages {
                    first: None,
                    rx,
                    task,
                },
            )),
            None => {
                let outcome = match task.await {
                    Ok(result) => result,
                    Err(join_error) => Err(E::from(join_error)),
                };
                match outcome {
                    Ok(()) => None,
                    Err(e) => {
                        tracing::info!(error = %e, "transfer failed after its stream started");
                        Some((
                            Ok(JsonMessage::error(e.to_string()).to_line()),
                            StreamState::Done,
                        ))
                    }
                }
            }
        },
    }
}

fn json_stream_response(body: Body) -> Response {
    let mut response = Response::new(body);
    response.headers_mut().insert(
        CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
}

/// The id a layer is shown under: the first 12 hex digits of a digest.
pub fn short_id(digest: &str) -> String {
    let hex = digest.split_once(':').map(|(_, h)| h).unwrap_or(digest);
    hex.chars().take(12).collect()
}

/// A size as go-units' `HumanSize` writes it: decimal units, four significant digits
/// ("527B", "36.45kB", "1.064MB").
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{}{}", format_significant(value, 4), UNITS[unit])
}

/// Go's `%.4g` for values below 10000: `precision` significant digits, trailing zeros dropped.
fn format_significant(value: f64, precision: i32) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (precision - 1 - magnitude).max(0) as usize;
    let mut text = format!("{value:.decimals$}");
    if text.contains('.') {
        while text.ends_with('0') {
            text.pop();
        }
        if text.ends_with('.') {
            text.pop();
        }
    }
    text
}

/// The bar `JSONProgress.String()` draws for a 200-column terminal (the daemon has none):
/// `[=====>     ]  1.2MB/3.4MB`.
pub fn progress_bar(current: u64, total: u64) -> String {
    if current == 0 && total == 0 {
        return String::new();
    }
    if total == 0 {
        return format!("{:>8}", human_size(current));
    }
    let percentage = (((current as f64 / total as f64) * 100.0) as u64 / 2).min(50) as usize;
    let bar = format!(
        "[{}>{}] ",
        "=".repeat(percentage),
        " ".repeat(50 - percentage)
    );
    let numbers = if current > total {
        format!("{:>8}", human_size(current))
    } else {
        format!("{:>8}/{}", human_size(current), human_size(total))
    };
    bar + &numbers
}

#[cfg(test)]
#[path = "progress_tests.rs"]
mod tests;
