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
//!
//! How the route handlers use it (sketch):
//!
//! ```ignore
//! // GET /containers/{id}/logs
//! let opts = LogsOptions::from_query(req.uri().query())?;          // 400s
//! let follow = opts.follow && container_is_running;                 // as dockerd
//! let opts = LogsOptions { follow, ..opts };
//! let body = Body::from_stream(read_logs(log_path, opts, tty, Some(stopped_rx)));
//! ([(CONTENT_TYPE, stream_media_type(tty, version.0))], body)      // dockerd ≥ 1.42
//!
//! // POST /containers/{id}/attach (validate everything first: 404, 409 paused…)
//! let form = Form::parse(req.uri().query());
//! let keys = detach_keys_from_query(form.get("detachKeys"))?;      // 400
//! let opts = AttachOptions {
//!     exec_id: None,
//!     stdin: form.bool("stdin") && config.open_stdin,
//!     stdout: form.bool("stdout"),
//!     stderr: form.bool("stderr"),
//!     tty: config.tty,
//!     stdin_once: config.stdin_once,
//!     detach_keys: keys.unwrap_or_default(),
//!     logs: form.bool("logs").then_some(log_path),
//!     stream: form.bool("stream"),
//! };
//! hijack(req, stream_media_type(config.tty, version.0), move |io| async move {
//!     match attach(io, &attach_socket, opts, close_stdin_via_containerd(id)).await {
//!         Ok(AttachEnd::Detached) => { /* "detach" event */ }
//!         Ok(_) => {}
//!         Err(e) => tracing::warn!("attach: {e}"),
//!     }
//! })
//! ```
//!
//! For `POST /exec/{id}/start` the same with `exec_id: Some(..)`, `stdin_once: true`
//! (dockerd always closes an exec's stdin when the client's ends), the exec's own
//! `Tty`/`AttachStd*` and the keys from `parse_exec_detach_keys` at exec create.
pub mod attach;
pub mod detach;
pub mod error;
pub mod framing;
pub mod hijack;
pub mod logs;
pub mod query;

pub use attach::{attach, connect_shim, proxy, AttachEnd, AttachOptions, ShimAttachment};
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
