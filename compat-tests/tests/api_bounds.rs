//! Connections are bounded: slow and idle clients are closed after the timeouts, a
//! listener's cap turns the excess away while the daemon serves the others, oversized and
//! stalled bodies get a JSON answer and a clean close, and none of it touches an attached
//! session or a stream. berthd runs with short timeouts (its flags) to keep this fast.
mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::{Daemon, Fixtures};
use serde_json::Value;

fn connect(d: &Daemon) -> UnixStream {
    let s = UnixStream::connect(&d.socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s
}

/// Reads one answer's head (through the blank line).
fn read_head(s: &mut UnixStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).expect("read head");
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Whether the daemon has closed `s` (EOF, or reset) within `within`.
fn closed_within(s: &mut UnixStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).expect("timeout");
    let mut rest = Vec::new();
    match s.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// A fresh connection that asked `/_ping` once and is kept open (its answer's head read).
fn kept_alive(d: &Daemon) -> UnixStream {
    let mut s = connect(d);
    s.write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
        .expect("ping");
    let head = read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    s
}

/// One request on a fresh connection, `Connection: close`: status and JSON body.
fn exchange(d: &Daemon, request: &[u8]) -> (u16, String) {
    let mut s = connect(d);
    s.write_all(request).expect("write");
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).expect("read");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

fn body_json(answer: &str) -> Value {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).unwrap_or(Value::Null)
}

#[test]
fn slow_heads_and_idle_connections_close_while_an_attached_session_stays() {
    let f = Fixtures::load();
    let d = Daemon::start_with(&["--api-header-timeout", "1s"]);
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["create", "-i", "--name", "cat", &image, "cat"]);
    d.docker_ok(&["start", "cat"]);
    let mut attached = connect(&d);
    attached
        .write_all(
            b"POST /v1.41/containers/cat/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\n\
              Host: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
        )
        .expect("attach");
    let head = read_head(&mut attached);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");

    // 20 clients sending their head a byte at a time (one byte, then nothing), 5 idle
    // keep-alive clients after one answer each.
    let mut slow: Vec<UnixStream> = (0..20)
        .map(|_| {
            let mut s = connect(&d);
            s.write_all(b"G").expect("one byte");
            s
        })
        .collect();
    let mut idle: Vec<UnixStream> = (0..5)
        .map(|_| {
            let mut s = kept_alive(&d);
            let mut ok = [0u8; 2];
            s.read_exact(&mut ok).expect("OK");
            s
        })
        .collect();
    let start = Instant::now();
    for s in slow.iter_mut().chain(idle.iter_mut()) {
        assert!(
            closed_within(s, Duration::from_secs(10)),
            "a connection was still open {:?} later",
            start.elapsed()
        );
    }
    // The attached session has been idle longer than the timeout: it still works.
    std::thread::sleep(Duration::from_millis(1500));
    attached.write_all(b"still here\n").expect("stdin");
    let mut frame = [0u8; 8 + 11];
    attached.read_exact(&mut frame).expect("stdout frame");
    assert_eq!(frame[0], 1, "stdout stream");
    assert_eq!(&frame[8..], b"still here\n");
    d.docker_ok(&["rm", "-f", "cat"]);
}

#[test]
fn the_cap_turns_the_excess_away_and_the_daemon_serves_the_others() {
    let d = Daemon::start_with(&["--api-max-connections", "4"]);
    // Four busy clients: `docker events` streams.
    let mut events: Vec<UnixStream> = (0..4)
        .map(|_| {
            let mut s = connect(&d);
            s.write_all(b"GET /v1.41/events HTTP/1.1\r\nHost: docker\r\n\r\n")
                .expect("events");
            let head = read_head(&mut s);
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            s
        })
        .collect();
    let (status, answer) = exchange(
        &d,
        b"GET /v1.41/version HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 503, "{answer}");
    assert!(
        body_json(&answer)["message"]
            .as_str()
            .is_some_and(|m| m.contains("too many connections")),
        "{answer}"
    );
    // One stream ends: its place serves a new client, and the other streams are still
    // served (the CLI's network create reaches them as an event).
    drop(events.pop());
    common::eventually("a place is free again", || {
        exchange(
            &d,
            b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n",
        )
        .0 == 200
    });
    d.docker_ok(&["network", "create", "capped-net"]);
    for s in events.iter_mut() {
        let mut text = String::new();
        let mut buf = [0u8; 1024];
        while !text.contains("capped-net") {
            let n = s.read(&mut buf).expect("an event");
            assert!(n > 0, "the stream ended: {text}");
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
    // Idle keep-alive clients make room for new ones instead of turning them away.
    drop(events);
    let idle: Vec<UnixStream> = (0..4).map(|_| kept_alive(&d)).collect();
    for _ in 0..3 {
        let (status, answer) = exchange(
            &d,
            b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(status, 200, "{answer}");
    }
    drop(idle);
    d.docker_ok(&["network", "rm", "capped-net"]);
}

/// A client that sends its whole body before reading (docker-py, curl) sees the answer.
#[test]
fn an_oversized_body_gets_a_json_413_and_a_clean_close() {
    let d = Daemon::start();
    let size = 50 << 20;
    let mut s = connect(&d);
    let head = format!(
        "POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).expect("head");
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..size / chunk.len() {
        s.write_all(&chunk).expect("the whole upload is taken");
    }
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("answer");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("Connection: close"), "{answer}");
    assert!(
        body_json(&answer)["message"]
            .as_str()
            .is_some_and(|m| m.contains("too large")),
        "{answer}"
    );
    // More than 100 header fields: a JSON 431.
    let mut request = String::from("GET /_ping HTTP/1.1\r\nHost: docker\r\n");
    for i in 0..120 {
        request.push_str(&format!("X-Field-{i}: {i}\r\n"));
    }
    request.push_str("\r\n");
    let (status, answer) = exchange(&d, request.as_bytes());
    assert_eq!(status, 431, "{answer}");
    assert!(body_json(&answer)["message"].is_string(), "{answer}");
    // The daemon serves on.
    let (status, _) = exchange(
        &d,
        b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
}

#[test]
fn a_body_shorter_than_its_length_gets_a_408_after_the_body_timeout() {
    let d = Daemon::start_with(&["--api-body-timeout", "1s"]);
    let mut s = connect(&d);
    s.write_all(
        b"POST /v1.41/volumes/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"Name\":",
    )
    .expect("write");
    let start = Instant::now();
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("answer");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    let out = d.docker_ok(&["volume", "ls", "-q"]);
    assert!(out.trim().is_empty(), "{out}");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

/// Memory goes back after the clients have gone: 1 000 connections open together (each
/// asked `/_ping` once), then all closed, leave berthd's RSS within a little of before.
#[test]
fn rss_after_a_thousand_closed_connections_is_back_near_where_it_was() {
    let d = Daemon::start();
    let pid = d.pid().expect("pid");
    let round = |n: usize| {
        let conns: Vec<UnixStream> = (0..n).map(|_| kept_alive(&d)).collect();
        drop(conns);
    };
    // Warm up (thread pools, allocator caches), then measure.
    round(1000);
    std::thread::sleep(Duration::from_secs(2));
    let before = rss_kib(pid);
    round(1000);
    std::thread::sleep(Duration::from_secs(2));
    let after = rss_kib(pid);
    // The target is 1 MiB; the slack covers a debug build's noise.
    assert!(
        after <= before + 2048,
        "RSS grew from {before} KiB to {after} KiB"
    );
}
