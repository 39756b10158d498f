//! One json-file log line (as berth-shim writes it) and how the API renders it.
use crate::gotext::query_escape;
use std::collections::BTreeMap;

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::options::LogsOptions;
use crate::streams::framing::{encode_frame_into, StreamKind};

/// A decoded log line: `{"log":"…","stream":"stdout"|"stderr","time":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub stream: StreamKind,
    pub time: DateTime<Utc>,
    pub text: String,
    /// `attrs` (labels/env of dockerd's log-opts); berth-shim writes none.
    pub attrs: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawEntry {
    log: String,
    stream: String,
    time: String,
    #[serde(default)]
    attrs: BTreeMap<String, String>,
}

impl LogEntry {
    /// Decodes one line (without its "\n"). `None` for a line that is not a log entry.
    pub fn parse(line: &[u8]) -> Option<LogEntry> {
        let raw: RawEntry = serde_json::from_slice(line).ok()?;
        let stream = match raw.stream.as_str() {
            "stdout" => StreamKind::Stdout,
            "stderr" => StreamKind::Stderr,
            _ => return None,
        };
        let time = DateTime::parse_from_rfc3339(&raw.time)
            .ok()?
            .with_timezone(&Utc);
        Some(LogEntry {
            stream,
            time,
            text: raw.log,
            attrs: raw.attrs,
        })
    }

    /// Whether the request asked for this entry's stream.
    pub fn wanted(&self, opts: &LogsOptions) -> bool {
        match self.stream {
            StreamKind::Stdout => opts.stdout,
            StreamKind::Stderr => opts.stderr,
            _ => false,
        }
    }

    /// Appends the entry as dockerd's `WriteLogStream` writes it: `[time ][attrs ]text`,
    /// framed unless the container has a TTY.
    pub fn render_into(&self, opts: &LogsOptions, tty: bool, out: &mut BytesMut) {
        let mut line = BytesMut::with_capacity(self.text.len() + 40);
        if opts.timestamps {
            line.put_slice(format_timestamp(&self.time).as_bytes());
            line.put_u8(b' ');
        }
        if opts.details {
            line.put_slice(details(&self.attrs).as_bytes());
            line.put_u8(b' ');
        }
        line.put_slice(self.text.as_bytes());
        if tty {
            out.put_slice(&line);
        } else {
            encode_frame_into(self.stream, &line, out);
        }
    }
}

/// dockerd's `rfc3339NanoFixed`: always nine fraction digits, `Z` for UTC.
pub fn format_timestamp(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// `k=v,k2=v2`, sorted by key, query-escaped (dockerd's `attrsByteSlice`).
fn details(attrs: &BTreeMap<String, String>) -> String {
    attrs
        .iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_shim_writes() {
        let e = LogEntry::parse(
            br#"{"log":"hi\n","stream":"stderr","time":"2026-01-02T03:04:05.000000007Z"}"#,
        )
        .expect("entry");
        assert_eq!(e.stream, StreamKind::Stderr);
        assert_eq!(e.text, "hi\n");
        assert_eq!(format_timestamp(&e.time), "2026-01-02T03:04:05.000000007Z");
        assert!(LogEntry::parse(b"{not json").is_none());
        assert!(
            LogEntry::parse(br#"{"log":"x","stream":"other","time":"2026-01-02T03:04:05Z"}"#)
                .is_none()
        );
    }

    #[test]
    fn renders_timestamps_details_and_frames() {
        let mut e = LogEntry::parse(
            br#"{"log":"partial","stream":"stdout","time":"2026-01-02T03:04:05.5Z"}"#,
        )
        .expect("entry");
        let opts = LogsOptions {
            timestamps: true,
            ..LogsOptions::default()
        };
        let mut raw = BytesMut::new();
        e.render_into(&opts, true, &mut raw);
        assert_eq!(&raw[..], b"2026-01-02T03:04:05.500000000Z partial");

        let mut framed = BytesMut::new();
        e.render_into(&LogsOptions::default(), false, &mut framed);
        assert_eq!(&framed[..], b"\x01\0\0\0\0\0\0\x07partial");

        let details = LogsOptions {
            details: true,
            ..LogsOptions::default()
        };
        let mut out = BytesMut::new();
        e.render_into(&details, true, &mut out);
        assert_eq!(&out[..], b" partial");
        e.attrs.insert("b".into(), "x y".into());
        e.attrs.insert("a".into(), "1,2".into());
        let mut out = BytesMut::new();
        e.render_into(&details, true, &mut out);
        assert_eq!(&out[..], b"a=1%2C2,b=x+y partial");
    }
}
