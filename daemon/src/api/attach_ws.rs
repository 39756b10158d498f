//! `GET /containers/{id}/attach/ws`: attach over a websocket (moby's
//! `wsContainersAttach`). Output is never multiplexed: each chunk of stdout or stderr
//! is one message, binary from API 1.28 on (text before); messages from the client go
//! to the container's stdin. Detach keys, `logs` and `stream` work as with attach.
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{ApiResult, ApiVersion};
use crate::containers::attach::{self, AttachRequest, AttachSession};
use crate::state::SharedDaemon;
use crate::streams::{self, Form, FrameDecoder};

pub fn routes() -> Router<SharedDaemon> {
    Router::new().route("/containers/{id}/attach/ws", get(attach_ws_route))
}

async fn attach_ws_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    version: Option<Extension<ApiVersion>>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    let form = Form::parse(query.as_deref());
    let request = AttachRequest {
        stdin: form.bool("stdin"),
        stdout: form.bool("stdout"),
        stderr: form.bool("stderr"),
        logs: form.bool("logs"),
        stream: form.bool("stream"),
        detach_keys: streams::detach_keys_from_query(form.get("detachKeys"))?,
    };
    let session = attach::prepare(&daemon, &id, request).await?;
    let minor = version
        .map(|Extension(v)| v.0)
        .unwrap_or(super::version::MAX_API_VERSION.0);
    let binary = minor >= 28;
    Ok(ws.on_upgrade(move |socket| run(session, socket, binary)))
}

/// One websocket attach, until the output ends, the client detaches or goes away.
async fn run(session: AttachSession, ws: WebSocket, binary: bool) {
    // The attach speaks to `client`; `ours` carries the bytes to and from the socket.
    let (client, ours) = tokio::io::duplex(64 * 1024);
    let (mut from_attach, mut to_attach) = tokio::io::split(ours);
    let (mut ws_out, mut ws_in) = ws.split();
    let (tty, closes_stdin) = (session.tty(), session.closes_stdin());
    let attach = session.run(client);
    let output = async {
        let mut buf = vec![0u8; 32 * 1024];
        let mut frames = FrameDecoder::new();
        loop {
            let n = match from_attach.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut chunks = Vec::new();
            if tty {
                chunks.push(buf[..n].to_vec());
            } else {
                frames.feed(&buf[..n]);
                while let Ok(Some(frame)) = frames.next_frame() {
                    chunks.push(frame.payload.to_vec());
                }
            }
            for chunk in chunks {
                let msg = if binary {
                    Message::Binary(chunk.into())
                } else {
                    Message::Text(String::from_utf8_lossy(&chunk).into_owned().into())
                };
                if ws_out.send(msg).await.is_err() {
                    return false;
                }
            }
        }
        let _ = ws_out.send(Message::Close(None)).await;
        true
    };
    let input = async {
        while let Some(Ok(msg)) = ws_in.next().await {
            let data = match msg {
                Message::Binary(b) => b.to_vec(),
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Close(_) => break,
                _ => continue,
            };
            if to_attach.write_all(&data).await.is_err() {
                break;
            }
        }
        if closes_stdin {
            // The end of the client's input closes the process's stdin; output goes on.
            let _ = to_attach.shutdown().await;
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(attach, output, input);
    tokio::select! {
        _ = &mut attach => {
            // The attach is over: the rest of its output goes out, then the close.
            output.await;
        }
        _ = &mut output => {}
        () = &mut input => {}
    }
}
