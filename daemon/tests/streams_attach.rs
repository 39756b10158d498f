//! Attach through the real berth-shim: a busybox container run by berth-runc (or runc),
//! its attach socket proxied by `berthd::streams::attach` to an in-memory client.
//!
//! Needs root, /bin/busybox, and berth-shim + berth-runc built in the same target dir
//! (`cargo build -p berth-shim -p berth-runc`). `BERTH_TEST_SHIM` / `BERTH_TEST_RUNTIME`
//! point at other builds (`BERTH_TEST_RUNTIME=/usr/sbin/runc` for Debian's runc).
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berthd::streams::{
    attach, read_logs, AttachEnd, AttachOptions, FrameDecoder, LogsOptions, StreamKind,
};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::UnixStream;
use tokio::task::JoinHandle;

/// `<target>/debug/deps/streams_attach-…` → `<target>/debug/NAME`.
fn built(name: &str, env: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} is not built: run `cargo build -p berth-shim -p berth-runc` with the same target dir, or set {env}",
        p.display()
    );
    p
}

struct Container {
    dir: tempfile::TempDir,
    id: String,
    runtime: PathBuf,
}

impl Container {
    /// Writes a busybox bundle running `args` and launches its shim.
    fn launch(name: &str, args: &[&str], terminal: bool) -> Container {
        // SAFETY: geteuid has no preconditions.
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "these tests run containers: run them as root"
        );
        assert!(
            Path::new("/bin/busybox").exists(),
            "/bin/busybox is missing"
        );
        let shim = built("berth-shim", "BERTH_TEST_SHIM");
        let runtime = built("berth-runc", "BERTH_TEST_RUNTIME");
        let dir = tempfile::Builder::new()
            .prefix("bsa")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let bundle = dir.path().join("b");
        let bin = bundle.join("rootfs/bin");
        std::fs::create_dir_all(&bin).expect("rootfs");
        std::fs::copy("/bin/busybox", bin.join("busybox")).expect("busybox");
        let list = Command::new("/bin/busybox")
            .arg("--list")
            .output()
            .expect("busybox --list");
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" && !applet.is_empty() {
                let _ = std::os::unix::fs::symlink("busybox", bin.join(applet));
            }
        }
        let st = Command::new(&runtime)
            .arg("spec")
            .current_dir(&bundle)
            .status()
            .expect("spec");
        assert!(st.success(), "{} spec failed", runtime.display());
        let cfg_path = bundle.join("config.json");
        let mut cfg: Value =
            serde_json::from_slice(&std::fs::read(&cfg_path).expect("config")).expect("json");
        cfg["process"]["terminal"] = json!(terminal);
        cfg["process"]["args"] = json!(args);
        cfg["root"]["readonly"] = json!(false);
        std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).expect("json")).expect("write");

        let id = format!("streams-{name}-{}", std::process::id());
        let c = Container { dir, id, runtime };
        let mut cmd = Command::new(&shim);
        cmd.args(["start", "--id", &c.id, "--bundle"])
            .arg(&bundle)
            .arg("--state-dir")
            .arg(c.state())
            .arg("--runtime")
            .arg(&c.runtime)
            .arg("--runtime-root")
            .arg(c.dir.path().join("r"))
            .arg("--log-path")
            .arg(c.log())
            .arg("--stdin");
        if terminal {
            cmd.arg("--terminal");
        }
        let out = cmd.output().expect("run the shim");
        assert!(
            out.status.success(),
            "shim launch failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        c
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("s")
    }
    fn log(&self) -> PathBuf {
        self.dir.path().join("log/c-json.log")
    }
    fn attach_socket(&self) -> PathBuf {
        self.state().join("attach.sock")
    }

    /// One call to the shim's control API.
    async fn call(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        shim_call(&self.state().join("shim.sock"), method, path, body).await
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new(&self.runtime)
            .arg("--root")
            .arg(self.dir.path().join("r"))
            .args(["delete", "--force", &self.id])
            .output();
        if let Ok(pid) = std::fs::read_to_string(self.state().join("shim.pid")) {
            if let Ok(pid) = pid.trim().parse::<i32>() {
                // SAFETY: kill(2) of the shim this test launched.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

async fn shim_call(sock: &Path, method: &str, path: &str, body: Value) -> (u16, Value) {
    let mut s = UnixStream::connect(sock).await.expect("connect shim.sock");
    let b = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: shim\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
        b.len()
    );
    s.write_all(req.as_bytes()).await.expect("request");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await.expect("response");
    let text = String::from_utf8_lossy(&resp);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn start_proxy(
    c: &Container,
    opts: AttachOptions,
) -> (
    DuplexStream,
    JoinHandle<Result<AttachEnd, berthd::streams::StreamError>>,
) {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let socket = c.attach_socket();
    let shim_sock = c.state().join("shim.sock");
    let proxy = tokio::spawn(async move {
        attach(server, &socket, opts, async move {
            let (st, v) =
                shim_call(&shim_sock, "POST", "/close-stdin", json!({"exec_id": null})).await;
            assert_eq!(st, 200, "close-stdin: {v}");
        })
        .await
    });
    (client, proxy)
}

/// Reads frames until one carries `want` (or 10 s pass).
async fn read_frame_with(
    client: &mut DuplexStream,
    dec: &mut FrameDecoder,
    want: &str,
) -> Vec<(StreamKind, String)> {
    let mut frames = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !frames
        .iter()
        .any(|(_, p): &(StreamKind, String)| p.contains(want))
    {
        let n = match tokio::time::timeout_at(deadline, client.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => break,
        };
        dec.feed(&buf[..n]);
        while let Some(f) = dec.next_frame().expect("valid frames") {
            frames.push((f.kind, String::from_utf8_lossy(&f.payload).into_owned()));
        }
    }
    frames
}

/// Reads raw bytes until `want` shows up (or 10 s pass).
async fn read_raw_until(client: &mut DuplexStream, want: &str) -> String {
    let mut acc = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&acc).contains(want) {
        match tokio::time::timeout_at(deadline, client.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => acc.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&acc).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_echoed_by_cat_framed_and_stdin_once_ends_it() {
    let c = Container::launch("cat", &["cat"], false);
    let opts = AttachOptions {
        stdin: true,
        stdout: true,
        stderr: true,
        stdin_once: true,
        stream: true,
        ..AttachOptions::default()
    };
    let (mut client, proxy) = start_proxy(&c, opts);
    // Let the shim read the attach header before the output starts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (st, v) = c.call("POST", "/start", Value::Null).await;
    assert_eq!(st, 200, "start: {v}");

    let mut dec = FrameDecoder::new();
    client.write_all(b"hello\n").await.expect("stdin");
    let frames = read_frame_with(&mut client, &mut dec, "hello").await;
    assert_eq!(frames, [(StreamKind::Stdout, "hello\n".to_string())]);

    // The client's half-close: StdinOnce closes cat's stdin, cat exits, the output ends.
    client.shutdown().await.expect("half-close");
    let end = tokio::time::timeout(Duration::from_secs(10), proxy).await;
    let end = end
        .expect("the attach ends")
        .expect("join")
        .expect("attach");
    assert_eq!(end, AttachEnd::OutputEnded);
    let (_, w) = c.call("POST", "/wait", json!({})).await;
    assert_eq!(w["exit_status"], 0, "{w}");

    // What was echoed is in the log, read back the way `docker logs` does.
    let opts = LogsOptions {
        timestamps: true,
        ..LogsOptions::default()
    };
    let mut logs = read_logs(c.log(), opts, false, None);
    let mut dec = FrameDecoder::new();
    while let Some(chunk) = logs.next().await {
        dec.feed(&chunk.expect("log chunk"));
    }
    let f = dec.next_frame().expect("frame").expect("one frame");
    assert_eq!(f.kind, StreamKind::Stdout);
    let text = String::from_utf8_lossy(&f.payload).into_owned();
    assert!(
        text.ends_with("Z hello\n") && text.len() == 31 + 6,
        "{text:?}"
    );
    let (st, _) = c.call("POST", "/delete", Value::Null).await;
    assert_eq!(st, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detach_keys_end_the_proxy_and_the_container_keeps_running() {
    let c = Container::launch("tty", &["cat"], true);
    let opts = AttachOptions {
        stdin: true,
        stdout: true,
        stderr: true,
        tty: true,
        stream: true,
        detach_keys: berthd::streams::parse_detach_keys("ctrl-a,b").expect("keys"),
        ..AttachOptions::default()
    };
    let (mut client, proxy) = start_proxy(&c, opts);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (st, v) = c.call("POST", "/start", Value::Null).await;
    assert_eq!(st, 200, "start: {v}");

    client.write_all(b"ping\n").await.expect("stdin");
    // Raw pty bytes, no framing: the echo and cat's copy, with the tty's \r\n.
    let out = read_raw_until(&mut client, "ping\r\nping\r\n").await;
    assert!(out.contains("ping\r\nping\r\n"), "raw tty output: {out:?}");
    assert_ne!(out.as_bytes()[0], 1, "no frame header with a tty");

    client.write_all(b"\x01b").await.expect("detach keys");
    let end = tokio::time::timeout(Duration::from_secs(10), proxy).await;
    assert_eq!(
        end.expect("detached in time")
            .expect("join")
            .expect("attach"),
        AttachEnd::Detached
    );
    let (_, state) = c.call("GET", "/state", Value::Null).await;
    assert_eq!(state["status"], "running", "{state}");

    // Attach again (default keys this time): the container still answers.
    let opts = AttachOptions {
        stdin: true,
        stdout: true,
        tty: true,
        stream: true,
        ..AttachOptions::default()
    };
    let (mut client, proxy) = start_proxy(&c, opts);
    tokio::time::sleep(Duration::from_millis(200)).await;
    client.write_all(b"again\n").await.expect("stdin");
    let out = read_raw_until(&mut client, "again\r\nagain\r\n").await;
    assert!(out.contains("again\r\nagain\r\n"), "{out:?}");
    client.write_all(b"\x10\x11").await.expect("ctrl-p ctrl-q");
    let end = tokio::time::timeout(Duration::from_secs(10), proxy).await;
    assert_eq!(
        end.expect("detached in time")
            .expect("join")
            .expect("attach"),
        AttachEnd::Detached
    );
    let (_, state) = c.call("GET", "/state", Value::Null).await;
    assert_eq!(state["status"], "running", "{state}");

    let (st, _) = c.call("POST", "/kill", json!({"signal": 9})).await;
    assert_eq!(st, 200);
    let (_, w) = c.call("POST", "/wait", json!({})).await;
    assert_eq!(w["exit_status"], 137, "{w}");
    let (st, _) = c.call("POST", "/delete", Value::Null).await;
    assert_eq!(st, 200);
}

/// What the attach route handler does: validate, then `hijack` with `attach` as the
/// session; here over a real HTTP/1.1 connection served by hyper on a socket pair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hijacked_http_connection_to_the_shim() {
    use axum::extract::Request;
    use axum::routing::post;
    use berthd::streams::{hijack, stream_media_type};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto;
    use hyper_util::service::TowerToHyperService;

    let c = Container::launch(
        "hijack",
        &["sh", "-c", "read x; echo got $x; echo oops >&2"],
        false,
    );
    let socket = c.attach_socket();
    let app = axum::Router::new().route(
        "/containers/c/attach",
        post(move |req: Request| {
            let socket = socket.clone();
            async move {
                let opts = AttachOptions {
                    stdin: true,
                    stdout: true,
                    stderr: true,
                    stream: true,
                    ..AttachOptions::default()
                };
                hijack(req, stream_media_type(false, 53), move |io| async move {
                    let end = attach(io, &socket, opts, async {}).await;
                    assert_eq!(end.expect("attach"), AttachEnd::OutputEnded);
                })
            }
        }),
    );
    let (server, mut client) = UnixStream::pair().expect("socket pair");
    tokio::spawn(async move {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().title_case_headers(true);
        let _ = builder
            .serve_connection_with_upgrades(TokioIo::new(server), TowerToHyperService::new(app))
            .await;
    });

    client
        .write_all(b"POST /containers/c/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
        .await
        .expect("request");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        client.read_exact(&mut byte).await.expect("response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101 UPGRADED\r\n"), "{head}");
    assert!(
        head.contains("Content-Type: application/vnd.docker.multiplexed-stream\r\n"),
        "{head}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (st, v) = c.call("POST", "/start", Value::Null).await;
    assert_eq!(st, 200, "start: {v}");
    client.write_all(b"hi\n").await.expect("stdin");
    let mut all = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut all)).await;
    assert!(read.is_ok(), "the connection closes when the output ends");
    let mut dec = FrameDecoder::new();
    dec.feed(&all);
    let mut frames = Vec::new();
    while let Some(f) = dec.next_frame().expect("frames") {
        frames.push((f.kind, String::from_utf8_lossy(&f.payload).into_owned()));
    }
    // Two pipes in the shim: the streams' relative order is not guaranteed.
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert!(
        frames.contains(&(StreamKind::Stdout, "got hi\n".to_string())),
        "{frames:?}"
    );
    assert!(
        frames.contains(&(StreamKind::Stderr, "oops\n".to_string())),
        "{frames:?}"
    );
    let (_, w) = c.call("POST", "/wait", json!({})).await;
    assert_eq!(w["exit_status"], 0, "{w}");
    let (st, _) = c.call("POST", "/delete", Value::Null).await;
    assert_eq!(st, 200);
}
