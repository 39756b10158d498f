//! The attach proxy against a fake shim on a unix socket.
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::oneshot;

use super::attach::{attach, AttachEnd, AttachOptions};
use super::framing::{encode_frame, FrameDecoder, StreamKind};

struct FakeShim {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    listener: UnixListener,
}

impl FakeShim {
    fn new() -> FakeShim {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("attach.sock");
        let listener = UnixListener::bind(&socket).expect("bind");
        FakeShim {
            _dir: dir,
            socket,
            listener,
        }
    }

    /// Accepts the proxy's connection and acknowledges it as the shim does; returns
    /// its header and the stream.
    async fn accept(&self) -> (serde_json::Value, BufReader<UnixStream>) {
        let (s, _) = self.listener.accept().await.expect("accept");
        let mut s = BufReader::new(s);
        let mut line = String::new();
        s.read_line(&mut line).await.expect("header");
        s.get_mut().write_all(b"{}\n").await.expect("ack");
        (serde_json::from_str(&line).expect("json header"), s)
    }
}

fn opts() -> AttachOptions {
    AttachOptions {
        stdout: true,
        stderr: true,
        stream: true,
        ..AttachOptions::default()
    }
}

async fn read_frames(client: &mut DuplexStream) -> Vec<(StreamKind, Vec<u8>)> {
    let mut all = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut all)).await;
    let mut dec = FrameDecoder::new();
    dec.feed(&all);
    let mut v = Vec::new();
    while let Some(f) = dec.next_frame().expect("frames") {
        v.push((f.kind, f.payload.to_vec()));
    }
    v
}

#[tokio::test]
async fn output_is_filtered_to_the_streams_asked_for() {
    let shim = FakeShim::new();
    let (mut client, server) = tokio::io::duplex(4096);
    let o = AttachOptions {
        stderr: false,
        exec_id: Some("e1".into()),
        ..opts()
    };
    let proxy = tokio::spawn({
        let socket = shim.socket.clone();
        async move { attach(server, &socket, o, async {}).await }
    });
    let (header, mut s) = shim.accept().await;
    assert_eq!(
        header,
        serde_json::json!({"exec_id": "e1", "stdin": false, "stdout": true, "stderr": false})
    );
    s.get_mut()
        .write_all(&encode_frame(StreamKind::Stderr, b"hidden"))
        .await
        .expect("write");
    s.get_mut()
        .write_all(&encode_frame(StreamKind::Stdout, b"shown\n"))
        .await
        .expect("write");
    drop(s);
    let end = proxy.await.expect("join").expect("attach");
    assert_eq!(end, AttachEnd::OutputEnded);
    assert_eq!(
        read_frames(&mut client).await,
        [(StreamKind::Stdout, b"shown\n".to_vec())]
    );
}

#[tokio::test]
async fn stdin_once_closes_the_process_stdin_and_waits_for_output() {
    let shim = FakeShim::new();
    let (mut client, server) = tokio::io::duplex(4096);
    let (closed_tx, closed_rx) = oneshot::channel();
    let o = AttachOptions {
        stdin: true,
        stdin_once: true,
        ..opts()
    };
    let proxy = tokio::spawn({
        let socket = shim.socket.clone();
        async move {
            attach(server, &socket, o, async {
                let _ = closed_tx.send(());
            })
            .await
        }
    });
    let (header, mut s) = shim.accept().await;
    assert_eq!(header["stdin"], true);
    client.write_all(b"abc").await.expect("stdin");
    client.shutdown().await.expect("half-close");
    let mut got = [0u8; 3];
    s.read_exact(&mut got).await.expect("stdin at the shim");
    assert_eq!(&got, b"abc");
    tokio::time::timeout(Duration::from_secs(5), closed_rx)
        .await
        .expect("close_stdin in time")
        .expect("close_stdin called");
    // Output still flows after stdin ended.
    s.get_mut()
        .write_all(&encode_frame(StreamKind::Stdout, b"abc"))
        .await
        .expect("write");
    drop(s);
    assert_eq!(
        proxy.await.expect("join").expect("attach"),
        AttachEnd::OutputEnded
    );
    assert_eq!(
        read_frames(&mut client).await,
        [(StreamKind::Stdout, b"abc".to_vec())]
    );
}

#[tokio::test]
async fn stdin_end_without_stdin_once_ends_the_attach() {
    let shim = FakeShim::new();
    let (mut client, server) = tokio::io::duplex(4096);
    let o = AttachOptions {
        stdin: true,
        ..opts()
    };
    let proxy = tokio::spawn({
        let socket = shim.socket.clone();
        async move { attach(server, &socket, o, async { panic!("stdin is not closed") }).await }
    });
    let (_header, _s) = shim.accept().await;
    client.shutdown().await.expect("half-close");
    let end = tokio::time::timeout(Duration::from_secs(5), proxy).await;
    assert_eq!(
        end.expect("in time").expect("join").expect("attach"),
        AttachEnd::ClientClosed
    );
}

#[tokio::test]
async fn detach_keys_end_a_tty_attach_without_reaching_the_container() {
    let shim = FakeShim::new();
    let (mut client, server) = tokio::io::duplex(4096);
    let o = AttachOptions {
        stdin: true,
        tty: true,
        detach_keys: vec![1, b'x'],
        ..opts()
    };
    let proxy = tokio::spawn({
        let socket = shim.socket.clone();
        async move { attach(server, &socket, o, async {}).await }
    });
    let (_header, mut s) = shim.accept().await;
    s.get_mut().write_all(b"raw tty\r\n").await.expect("write");
    let mut out = [0u8; 9];
    client.read_exact(&mut out).await.expect("raw output");
    assert_eq!(&out, b"raw tty\r\n");
    client.write_all(b"ls\x01").await.expect("stdin");
    client.write_all(b"xignored").await.expect("stdin");
    let end = tokio::time::timeout(Duration::from_secs(5), proxy).await;
    assert_eq!(
        end.expect("in time").expect("join").expect("attach"),
        AttachEnd::Detached
    );
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).await.expect("shim side");
    assert_eq!(rest, b"ls");
}

#[tokio::test]
async fn logs_are_replayed_before_the_live_output() {
    let shim = FakeShim::new();
    let log = shim.socket.with_file_name("c.log");
    std::fs::write(
        &log,
        concat!(
            r#"{"log":"old out\n","stream":"stdout","time":"2026-01-01T00:00:01Z"}"#,
            "\n",
            r#"{"log":"old err\n","stream":"stderr","time":"2026-01-01T00:00:02Z"}"#,
            "\n"
        ),
    )
    .expect("log");
    // stream=false: the replay only, no connection to the shim.
    let (mut client, server) = tokio::io::duplex(4096);
    let o = AttachOptions {
        logs: Some(log.clone()),
        stream: false,
        ..opts()
    };
    let end = attach(server, &shim.socket, o, async {})
        .await
        .expect("attach");
    assert_eq!(end, AttachEnd::OutputEnded);
    assert_eq!(
        read_frames(&mut client).await,
        [
            (StreamKind::Stdout, b"old out\n".to_vec()),
            (StreamKind::Stderr, b"old err\n".to_vec())
        ]
    );

    let (mut client, server) = tokio::io::duplex(4096);
    let o = AttachOptions {
        logs: Some(log),
        stderr: false,
        ..opts()
    };
    let proxy = tokio::spawn({
        let socket = shim.socket.clone();
        async move { attach(server, &socket, o, async {}).await }
    });
    let (_header, mut s) = shim.accept().await;
    s.get_mut()
        .write_all(&encode_frame(StreamKind::Stdout, b"live\n"))
        .await
        .expect("write");
    drop(s);
    assert_eq!(
        proxy.await.expect("join").expect("attach"),
        AttachEnd::OutputEnded
    );
    assert_eq!(
        read_frames(&mut client).await,
        [
            (StreamKind::Stdout, b"old out\n".to_vec()),
            (StreamKind::Stdout, b"live\n".to_vec())
        ]
    );
}

#[tokio::test]
async fn a_missing_socket_is_an_error() {
    let (_client, server) = tokio::io::duplex(64);
    let e = attach(
        server,
        std::path::Path::new("/nonexistent/attach.sock"),
        opts(),
        async {},
    )
    .await
    .expect_err("no shim");
    assert!(e.to_string().contains("/nonexistent/attach.sock"), "{e}");
}
