//! Reading a container's json-file log for `GET /containers/{id}/logs` (and for
//! `logs=true` on attach): tail, since/until, timestamps, follow across rotations.
mod emit;
mod entry;
mod files;
mod follow;
mod options;
mod reader;
mod watch;

pub use entry::{format_timestamp, LogEntry};
pub use files::rotated_path;
pub use options::{parse_tail, parse_unix_timestamp, LogsOptions};
pub use reader::{read_logs, LogStream};

#[cfg(test)]
mod tests;
