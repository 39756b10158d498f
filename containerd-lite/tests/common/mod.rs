//! Shared harness: runs berth-containerd as a process on a temporary state dir and
//! talks to its socket.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use futures::StreamExt;
use hyper_util::rt::TokioIo;
use serde_json::Value;

pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub shim: PathBuf,
    pub extra: Vec<String>,
}

impl Daemon {
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("c.sock")
    }
    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    pub fn task_dir(&self, id: &str) -> PathBuf {
        self.state().join("tasks").join(id)
    }

    /// A daemon using the fake shim.
    pub async fn start_fake() -> Daemon {
        Daemon::start_with(PathBuf::from(env!("CARGO_BIN_EXE_berth-fake-shim")), vec![]).await
    }

    pub async fn start_with(shim: PathBuf, extra: Vec<String>) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("bc")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let mut d = Daemon {
            dir,
            child: None,
            shim,
            extra,
        };
        d.spawn().await;
        d
    }

    pub async fn spawn(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_berth-containerd"))
            .arg("--address")
            .arg(self.socket())
            .arg("--state")
            .arg(self.state())
            .arg("--shim")
            .arg(&self.shim)
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn berth-containerd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if tokio::net::UnixStream::connect(self.socket()).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("berth-containerd did not come up");
    }

    pub fn sigkill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn sigterm(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        signal(c.id(), "TERM");
        c.wait().expect("wait")
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        call(&self.socket(), method, path, body).await
    }

    /// Open `GET /events`; returns a receiver of parsed events.
    pub async fn events(&self) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let stream = tokio::net::UnixStream::connect(self.socket())
            .await
            .expect("connect");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("hs");
        tokio::spawn(conn);
        let req = Request::get("/events")
            .header("host", "x")
            .body(Body::empty())
            .expect("req");
        let resp = sender.send_request(req).await.expect("events");
        assert_eq!(resp.status(), 200);
        tokio::spawn(async move {
            let mut data = Body::new(resp.into_body()).into_data_stream();
            let mut buf = Vec::new();
            while let Some(Ok(chunk)) = data.next().await {
                buf.extend_from_slice(&chunk);
                while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=i).collect();
                    let v: Value = serde_json::from_slice(&line).expect("event json");
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        rx
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.sigkill();
        // Kill the shims this test left behind.
        if let Ok(entries) = std::fs::read_dir(self.state().join("tasks")) {
            for e in entries.flatten() {
                for file in ["init.pid", "shim.pid"] {
                    if let Ok(pid) = std::fs::read_to_string(e.path().join(file)) {
                        signal(pid.trim().parse().unwrap_or(0), "KILL");
                    }
                }
            }
        }
    }
}

pub fn signal(pid: u32, sig: &str) {
    if pid > 1 {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status();
    }
}

pub async fn call(socket: &Path, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("hs");
    tokio::spawn(conn);
    let body = match body {
        Some(v) => Body::from(serde_json::to_vec(&v).expect("json")),
        None => Body::empty(),
    };
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "x")
        .header("content-type", "application/json")
        .body(body)
        .expect("req");
    let resp = sender.send_request(req).await.expect("send");
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(Body::new(resp.into_body()), 1 << 20)
        .await
        .expect("body");
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v)
}

/// Next event of `kind` (skipping others), within 10 s.
pub async fn next_event(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Value>,
    kind: &str,
    id: &str,
) -> Value {
    let fut = async {
        loop {
            let ev = rx.recv().await.expect("events stream ended");
            if ev["type"] == kind && ev["id"] == id {
                return ev;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("no {kind} event for {id}"))
}

/// A bundle directory for the fake shim, with its `fake.json`.
pub fn fake_bundle(d: &Daemon, name: &str, cfg: Value) -> String {
    let b = d.dir.path().join("bundles").join(name);
    std::fs::create_dir_all(&b).expect("bundle");
    std::fs::write(b.join("fake.json"), cfg.to_string()).expect("fake.json");
    b.display().to_string()
}

pub fn create_body(id: &str, bundle: &str) -> Value {
    serde_json::json!({"id": id, "bundle": bundle, "runtime": null, "terminal": false, "stdin": false, "log": null})
}
