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
pub mod attach;
pub mod detach;
pub mod error;
pub mod framing;
pub mod hijack;
pub mod logs;
pub mod query;

pub use attach::{attach, AttachEnd, AttachOptions};
pub use detach::{
    detach_keys_from_query, parse_detach_keys, parse_exec_detach_keys, DEFAULT_DETACH_KEYS,
};
pub use error::StreamError;
pub use framing::{encode_frame, FrameDecoder, StreamKind};
pub use hijack::{
    hijack, stream_media_type, wants_upgrade, ClientIo, MULTIPLEXED_STREAM, RAW_STREAM,
};
pub use logs::{read_logs, LogStream, LogsOptions};
pub use query::Form;

#[cfg(test)]
mod attach_tests;
