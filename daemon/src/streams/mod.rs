//! Container stdio for the API: reading json-file logs (tail, since/until,
//! follow), Docker's multiplexed stream framing, hijacked connections, and
//! attach/exec streams proxied to a shim's attach socket.
//!
//! - `framing` — the 8-byte multiplexed frame header, encoder and decoder.
//! - `query`   — the API's query strings read as dockerd reads them.
//! - `logs`    — `GET /containers/{id}/logs`: `LogsOptions::from_query`, `read_logs`.
//! - `detach`  — detach keys (`detachKeys`, ctrl-p,ctrl-q by default).
//! - `hijack`  — `Upgrade: tcp` → `101 UPGRADED`, or a 200 streamed on the connection.
//! - `attach`  — proxying a client connection to a shim's `attach.sock`.
pub mod error;
pub mod framing;
pub mod logs;
pub mod query;

pub use error::StreamError;
pub use framing::{encode_frame, FrameDecoder, StreamKind};
pub use logs::{read_logs, LogStream, LogsOptions};
pub use query::Form;
