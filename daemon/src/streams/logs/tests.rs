//! Reading logs: tail across rotated files, since/until, streams, follow.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::BytesMut;
use futures::StreamExt;
use tokio::sync::watch;

use super::*;
use crate::streams::framing::{FrameDecoder, StreamKind};

fn line(stream: &str, text: &str, secs: u32) -> String {
    let log = serde_json::to_string(text).expect("json string");
    format!(r#"{{"log":{log},"stream":"{stream}","time":"2026-01-01T00:00:{secs:02}.000000001Z"}}"#)
        + "\n"
}

fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open log");
    for l in lines {
        f.write_all(l.as_bytes()).expect("write log");
    }
}

/// c.log.2 (oldest): a b; c.log.1: c d; c.log: e(stderr) f
fn rotated_log() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("c.log");
    append(
        &rotated_path(&p, 2),
        &[line("stdout", "a\n", 1), line("stdout", "b\n", 2)],
    );
    append(
        &rotated_path(&p, 1),
        &[line("stdout", "c\n", 3), line("stdout", "d\n", 4)],
    );
    append(&p, &[line("stderr", "e\n", 5), line("stdout", "f", 6)]);
    (d, p)
}

async fn collect(path: &Path, opts: LogsOptions, tty: bool) -> Vec<u8> {
    let mut s = read_logs(path, opts, tty, None);
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(&chunk.expect("chunk"));
    }
    out
}

fn frames(bytes: &[u8]) -> Vec<(StreamKind, String)> {
    let mut dec = FrameDecoder::new();
    dec.feed(bytes);
    let mut v = Vec::new();
    while let Some(f) = dec.next_frame().expect("frames") {
        v.push((f.kind, String::from_utf8_lossy(&f.payload).into_owned()));
    }
    assert_eq!(dec.pending(), 0);
    v
}

fn texts(bytes: &[u8]) -> Vec<String> {
    frames(bytes).into_iter().map(|f| f.1).collect()
}

#[tokio::test]
async fn all_lines_oldest_first_framed_by_stream() {
    let (_d, p) = rotated_log();
    let out = collect(&p, LogsOptions::default(), false).await;
    let f = frames(&out);
    assert_eq!(texts(&out), ["a\n", "b\n", "c\n", "d\n", "e\n", "f"]);
    assert_eq!(f[4].0, StreamKind::Stderr);
    assert_eq!(f[5].0, StreamKind::Stdout);
}

#[tokio::test]
async fn tail_counts_across_rotated_files_and_both_streams() {
    let (_d, p) = rotated_log();
    let tail = |n| LogsOptions {
        tail: Some(n),
        ..LogsOptions::default()
    };
    assert_eq!(texts(&collect(&p, tail(1), false).await), ["f"]);
    assert_eq!(
        texts(&collect(&p, tail(3), false).await),
        ["d\n", "e\n", "f"]
    );
    assert_eq!(
        texts(&collect(&p, tail(5), false).await),
        ["b\n", "c\n", "d\n", "e\n", "f"]
    );
    assert_eq!(texts(&collect(&p, tail(50), false).await).len(), 6);
    assert!(collect(&p, tail(0), false).await.is_empty());
    // stdout only: the tail still counts stderr's line (as dockerd does).
    let stdout_tail = LogsOptions {
        stderr: false,
        tail: Some(2),
        ..LogsOptions::default()
    };
    assert_eq!(texts(&collect(&p, stdout_tail, false).await), ["f"]);
}

#[tokio::test]
async fn since_until_and_stream_selection() {
    let (_d, p) = rotated_log();
    let at = |s: i64| Some(parse_unix_timestamp(&format!("{}", 1_767_225_600 + s)).expect("ts"));
    let window = LogsOptions {
        since: at(3),
        until: at(5),
        ..LogsOptions::default()
    };
    // Entries are at s.000000001: since=3 keeps 3..; until=5 stops before 5.000000001.
    assert_eq!(texts(&collect(&p, window, false).await), ["c\n", "d\n"]);
    let stderr_only = LogsOptions {
        stdout: false,
        ..LogsOptions::default()
    };
    assert_eq!(texts(&collect(&p, stderr_only, false).await), ["e\n"]);
}

#[tokio::test]
async fn tty_output_is_raw_with_timestamps() {
    let (_d, p) = rotated_log();
    let opts = LogsOptions {
        timestamps: true,
        tail: Some(2),
        ..LogsOptions::default()
    };
    let out = collect(&p, opts, true).await;
    assert_eq!(
        String::from_utf8_lossy(&out),
        "2026-01-01T00:00:05.000000001Z e\n2026-01-01T00:00:06.000000001Z f"
    );
}

#[tokio::test]
async fn a_missing_log_is_empty_and_broken_lines_are_skipped() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("none.log");
    assert!(collect(&p, LogsOptions::default(), false).await.is_empty());
    append(&p, &["garbage\n".to_string(), line("stdout", "ok\n", 1)]);
    // A line still being written (no "\n" yet) is not read.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&p)
        .expect("open");
    f.write_all(br#"{"log":"half"#).expect("write");
    assert_eq!(
        texts(&collect(&p, LogsOptions::default(), false).await),
        ["ok\n"]
    );
}

/// Reads from `s` until `want` frames arrived (or a timeout).
async fn next_frames(s: &mut LogStream, buf: &mut BytesMut, want: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let got = texts(buf);
        if got.len() >= want {
            return got;
        }
        match tokio::time::timeout_at(deadline, s.next()).await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk.expect("chunk")),
            _ => return got,
        }
    }
}

#[tokio::test]
async fn follow_reads_a_growing_file_across_rotation_until_stopped() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("c.log");
    append(
        &p,
        &[line("stdout", "old1\n", 1), line("stdout", "old2\n", 2)],
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let opts = LogsOptions {
        follow: true,
        tail: Some(1),
        ..LogsOptions::default()
    };
    let mut s = read_logs(&p, opts, false, Some(stop_rx));
    let mut buf = BytesMut::new();
    assert_eq!(next_frames(&mut s, &mut buf, 1).await, ["old2\n"]);

    // The file grows, a line arriving in two writes.
    let second = line("stderr", "new\n", 3);
    let (head, rest) = second.split_at(10);
    append(&p, &[head.to_string()]);
    tokio::time::sleep(Duration::from_millis(250)).await;
    append(&p, &[rest.to_string()]);
    assert_eq!(next_frames(&mut s, &mut buf, 2).await, ["old2\n", "new\n"]);

    // Rotation: FILE → FILE.1, then a new FILE. Lines appended to the old file just
    // before the rename are still read.
    append(&p, &[line("stdout", "before rotation\n", 4)]);
    std::fs::rename(&p, rotated_path(&p, 1)).expect("rotate");
    append(&p, &[line("stdout", "after rotation\n", 5)]);
    assert_eq!(
        next_frames(&mut s, &mut buf, 4).await[2..],
        ["before rotation\n", "after rotation\n"]
    );

    // The container stops right after its last write: that line still comes, then the end.
    append(&p, &[line("stdout", "last\n", 6)]);
    stop_tx.send(true).expect("send");
    let all = next_frames(&mut s, &mut buf, 5).await;
    assert_eq!(all[4], "last\n");
    let end = tokio::time::timeout(Duration::from_secs(5), s.next()).await;
    assert!(matches!(end, Ok(None)), "the stream ends once stopped");
}

#[tokio::test]
async fn follow_ends_at_until_and_on_truncation_starts_over() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("c.log");
    append(&p, &[line("stdout", "one\n", 1)]);
    let (_stop_tx, stop_rx) = watch::channel(false);
    let opts = LogsOptions {
        follow: true,
        until: Some(parse_unix_timestamp("1767225603").expect("ts")),
        ..LogsOptions::default()
    };
    let mut s = read_logs(&p, opts, true, Some(stop_rx));
    let mut out = Vec::new();
    let first = tokio::time::timeout(Duration::from_secs(5), s.next()).await;
    out.extend_from_slice(&first.expect("in time").expect("chunk").expect("ok"));
    // max-file 1: the shim truncates the file in place.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .expect("open")
        .set_len(0)
        .expect("truncate");
    append(&p, &[line("stdout", "two, longer\n", 2)]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    append(&p, &[line("stdout", "three\n", 4)]);
    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.expect("ok"));
        }
    })
    .await;
    assert!(rest.is_ok(), "an entry after `until` ends the follow");
    assert_eq!(String::from_utf8_lossy(&out), "one\ntwo, longer\n");
}

#[tokio::test]
async fn the_stream_is_an_axum_body() {
    use http_body_util::BodyExt;
    let (_d, p) = rotated_log();
    let opts = LogsOptions {
        tail: Some(1),
        ..LogsOptions::default()
    };
    let body = axum::body::Body::from_stream(read_logs(&p, opts, true, None));
    let bytes = body.collect().await.expect("body").to_bytes();
    assert_eq!(&bytes[..], b"f");
}
