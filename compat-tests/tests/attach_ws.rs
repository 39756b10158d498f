//! `GET /containers/{id}/attach/ws` through a websocket client: stdin in, stdout and
//! stderr out as separate unframed messages (binary from API 1.28, text before), the
//! detach keys with a TTY, `logs` replay, and a 404 for an unknown container.
mod common;

use std::time::Duration;

use common::{Daemon, Fixtures};
use futures::{SinkExt, StreamExt};
use tokio::net::UnixStream;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<UnixStream>;

async fn connect(d: &Daemon, path: &str) -> Result<Ws, tungstenite::Error> {
    let stream = UnixStream::connect(&d.socket).await.expect("connect");
    let url = format!("ws://localhost{path}");
    tokio_tungstenite::client_async(url, stream)
        .await
        .map(|(ws, _)| ws)
}

/// Reads messages until `done` holds for what came (text of each message) or 30 s pass.
async fn read_until(ws: &mut Ws, mut done: impl FnMut(&[Message]) -> bool) -> Vec<Message> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done(&got) {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(m))) => got.push(m),
            Ok(Some(Err(_))) | Ok(None) => break,
            Err(_) => panic!("timed out; received {got:?}"),
        }
    }
    got
}

fn text(messages: &[Message]) -> String {
    messages
        .iter()
        .filter_map(|m| match m {
            Message::Binary(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Message::Text(t) => Some(t.to_string()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn websocket_attach_carries_stdin_and_unframed_output() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let echo = r#"while read l; do echo "out:$l"; echo "err:$l" >&2; done"#;
    d.docker_ok(&[
        "run", "-d", "-i", "--name", "ws-echo", &image, "sh", "-c", echo,
    ]);
    let path = "/v1.53/containers/ws-echo/attach/ws?stream=1&stdin=1&stdout=1&stderr=1";
    let mut ws = connect(&d, path).await.expect("websocket handshake");
    ws.send(Message::Binary(b"hello\n".to_vec().into()))
        .await
        .unwrap();
    let got = read_until(&mut ws, |m| {
        let t = text(m);
        t.contains("out:hello\n") && t.contains("err:hello\n")
    })
    .await;
    assert!(
        got.iter().all(|m| matches!(m, Message::Binary(_))),
        "{got:?}"
    );
    // No multiplexing header: the payload is the bytes as written.
    assert!(text(&got).starts_with("out:hello") || text(&got).starts_with("err:hello"));

    // Before API 1.28, text messages.
    let path = "/v1.27/containers/ws-echo/attach/ws?stream=1&stdin=1&stdout=1";
    let mut old = connect(&d, path).await.expect("websocket handshake");
    old.send(Message::Text("again\n".into())).await.unwrap();
    let got = read_until(&mut old, |m| text(m).contains("out:again\n")).await;
    assert!(got.iter().all(|m| matches!(m, Message::Text(_))), "{got:?}");
    assert!(!text(&got).contains("err:again"), "{got:?}");
    let _ = old.close(None).await;
    let _ = ws.close(None).await;

    // The logs so far, then the end of the stream.
    let path = "/containers/ws-echo/attach/ws?logs=1&stdout=1";
    let mut logs = connect(&d, path).await.expect("websocket handshake");
    let got = read_until(&mut logs, |m| {
        m.iter().any(|x| matches!(x, Message::Close(_)))
    })
    .await;
    assert_eq!(text(&got), "out:hello\nout:again\n", "{got:?}");

    let running = common::inspect_json(&d, &["inspect"], "ws-echo")["State"]["Running"].clone();
    assert_eq!(running, true);

    let err = connect(&d, "/containers/ws-nope/attach/ws?stream=1")
        .await
        .expect_err("no such container");
    match err {
        tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 404),
        other => panic!("{other:?}"),
    }
    d.docker_ok(&["rm", "-f", "ws-echo"]);
}

#[tokio::test]
async fn websocket_attach_to_a_tty_detaches_with_ctrl_p_ctrl_q() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["run", "-dit", "--name", "ws-tty", &image, "sh"]);
    let path = "/containers/ws-tty/attach/ws?stream=1&stdin=1&stdout=1&stderr=1";
    let mut ws = connect(&d, path).await.expect("websocket handshake");
    ws.send(Message::Binary(b"echo ws''ok\n".to_vec().into()))
        .await
        .unwrap();
    read_until(&mut ws, |m| text(m).contains("wsok")).await;
    ws.send(Message::Binary(b"\x10\x11".to_vec().into()))
        .await
        .unwrap();
    // The server ends the session.
    let got = read_until(&mut ws, |m| {
        m.iter().any(|x| matches!(x, Message::Close(_)))
    })
    .await;
    assert!(matches!(got.last(), Some(Message::Close(_))), "{got:?}");
    let running = common::inspect_json(&d, &["inspect"], "ws-tty")["State"]["Running"].clone();
    assert_eq!(running, true);
    d.docker_ok(&["rm", "-f", "ws-tty"]);
}
