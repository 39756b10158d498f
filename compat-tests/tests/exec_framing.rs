//! `POST /exec/{id}/start` as raw HTTP, as clients that do not use the CLI send it: the
//! START request's `Tty` decides the stream's framing (dockerd's router), whatever the
//! exec was created with; after the detach keys the hijacked connection is closed at
//! once, so the client's next writes fail, while the process runs on.
mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::*;

fn exec_create(d: &Daemon, container: &str, body: serde_json::Value) -> String {
    let (status, answer) = http(d, "POST", &format!("/containers/{container}/exec"), &body);
    assert_eq!(status, 201, "{answer}");
    let v: serde_json::Value = serde_json::from_str(&answer).expect("json");
    v["Id"].as_str().expect("Id").to_string()
}

/// One plain request; its status and body.
fn http(d: &Daemon, method: &str, path: &str, body: &serde_json::Value) -> (u16, String) {
    let mut s = UnixStream::connect(&d.socket).expect("connect");
    let b = body.to_string();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
        b.len()
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out[9..12].parse().expect("status");
    let body = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, body.to_string())
}

/// Starts an exec on an upgraded connection; the response head and the stream.
fn exec_start(d: &Daemon, exec: &str, tty: bool) -> (String, UnixStream) {
    let mut s = UnixStream::connect(&d.socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = format!(r#"{{"Detach":false,"Tty":{tty}}}"#);
    write!(
        s,
        "POST /v1.43/exec/{exec}/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).expect("head");
        head.push(b[0]);
    }
    (String::from_utf8_lossy(&head).into_owned(), s)
}

fn read_all(s: &mut UnixStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

#[test]
fn the_start_requests_tty_decides_the_framing() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["run", "-d", "--name", "framed", &image, "sleep", "300"]);

    // Created with a TTY, started without: multiplexed frames of the TTY's output.
    let tty_exec = exec_create(
        &d,
        "framed",
        serde_json::json!({"AttachStdout": true, "AttachStderr": true, "Tty": true, "Cmd": ["echo", "hello"]}),
    );
    let (head, mut s) = exec_start(&d, &tty_exec, false);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.contains("application/vnd.docker.multiplexed-stream"),
        "{head}"
    );
    let out = read_all(&mut s);
    assert!(out.len() > 8, "{out:?}");
    assert_eq!(&out[..4], &[1, 0, 0, 0], "a stdout frame header: {out:?}");
    let len = u32::from_be_bytes([out[4], out[5], out[6], out[7]]) as usize;
    assert_eq!(
        &out[8..8 + len],
        b"hello\r\n",
        "the TTY's bytes, whole: {out:?}"
    );

    // Created without a TTY, started with one: raw bytes, stdout and stderr alike.
    let plain_exec = exec_create(
        &d,
        "framed",
        serde_json::json!({"AttachStdout": true, "AttachStderr": true, "Tty": false, "Cmd": ["sh", "-c", "echo out; echo err >&2"]}),
    );
    let (head, mut s) = exec_start(&d, &plain_exec, true);
    assert!(head.contains("application/vnd.docker.raw-stream"), "{head}");
    let out = String::from_utf8_lossy(&read_all(&mut s)).into_owned();
    assert!(
        out.contains("out\n") && out.contains("err\n") && !out.contains('\u{1}'),
        "raw, unframed: {out:?}"
    );
    // Both ran to their end with their exit codes.
    for exec in [&tty_exec, &plain_exec] {
        let (status, body) = http(
            &d,
            "GET",
            &format!("/exec/{exec}/json"),
            &serde_json::Value::Null,
        );
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["ExitCode"], 0, "{v}");
    }
}

#[test]
fn detaching_closes_the_connection_at_once() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["run", "-d", "--name", "held", &image, "sleep", "300"]);
    let exec = exec_create(
        &d,
        "held",
        serde_json::json!({"AttachStdin": true, "AttachStdout": true, "Tty": true, "Cmd": ["cat"]}),
    );
    let (_, mut s) = exec_start(&d, &exec, true);
    s.write_all(b"hi\n").expect("write");
    let mut seen = Vec::new();
    let mut buf = [0u8; 64];
    while !String::from_utf8_lossy(&seen).contains("hi") {
        let n = s.read(&mut buf).expect("echo");
        assert!(n > 0, "ended early");
        seen.extend_from_slice(&buf[..n]);
    }
    // ctrl-p, ctrl-q.
    let detached = Instant::now();
    s.write_all(b"\x10\x11").expect("detach keys");
    let rest = read_all(&mut s);
    assert!(
        detached.elapsed() < Duration::from_secs(3),
        "closed at once, not when the exec ends ({:?}, {rest:?})",
        detached.elapsed()
    );
    // The server closed its end: writes fail (a broken pipe) once the peer has answered
    // the first with a reset.
    let failed = (0..50).any(|_| {
        let r = s.write_all(b"more\n");
        std::thread::sleep(Duration::from_millis(20));
        r.is_err()
    });
    assert!(failed, "writes after the detach keep succeeding");
    // The process runs on.
    let (_, body) = http(
        &d,
        "GET",
        &format!("/exec/{exec}/json"),
        &serde_json::Value::Null,
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Running"], true, "{v}");
}
