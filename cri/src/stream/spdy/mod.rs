//! SPDY/3.1 as the kubelet's clients speak it (moby/spdystream, used by client-go's
//! remotecommand and portforward): frames, and header blocks compressed with zlib and the
//! SPDY dictionary, one compression context per direction for the whole connection.
//! spdystream sends no WINDOW_UPDATE and expects none, so there is no flow control here
//! either. No maintained Rust crate speaks SPDY; this is the small part of it that
//! streaming needs (see the crate README).
//!
//! - `frame`      — frame layout, reading and writing.
//! - `headers`    — header blocks and their compression.
//! - `connection` — the server side of a connection: streams, replies, the writer.
pub mod connection;
pub mod dictionary;
pub mod frame;
pub mod headers;

pub use connection::{accept, SpdyStream};
