//! Exec and attach over SPDY, as the kubelet's streaming server serves them
//! (k8s.io/kubelet/pkg/cri/streaming/remotecommand): the client upgrades with
//! `X-Stream-Protocol-Version` (v4, v3, v2 or v1 `.channel.k8s.io`; v5 is websocket-only),
//! then opens one stream per channel, named by its `streamtype` header: `error`,
//! `stdin`, `stdout`, `stderr` (not with a TTY), `resize` (v3+, with a TTY; JSON
//! `{"Width","Height"}` objects). The process starts once the expected streams are open.
//! Output goes to stdout/stderr until it ends; the exit is reported on the error stream
//! (v4: a `metav1.Status`, `NonZeroExitCode` with the code as an `ExitCode` cause), then
//! every stream and the connection close.
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::attach::{self, Demux, Output};
use super::server::Pending;
use super::spdy::connection::{StreamReader, StreamWriter};
use super::spdy::{self, SpdyStream};
use crate::service::Cri;

/// Protocols this server speaks, preferred first.
const PROTOCOLS: &[&str] = &[
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
];

/// How long the client has to open its streams (the kubelet's default: 30 s).
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);

/// An answer of the streaming server.
pub type HttpReply = Response<Full<Bytes>>;

fn reply(status: StatusCode, text: String) -> HttpReply {
    let mut r = Response::new(Full::new(Bytes::from(text)));
    *r.status_mut() = status;
    r
}

/// Picks the first protocol the client offers that we speak.
pub fn negotiate<'a>(
    offered: impl Iterator<Item = &'a str>,
    ours: &[&'static str],
) -> Option<&'static str> {
    let offered: Vec<String> = offered
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    offered
        .iter()
        .find_map(|p| ours.iter().find(|o| **o == p.as_str()).copied())
}

/// Checks the upgrade request and answers 101 with the negotiated protocol; the upgraded
/// connection is served by `serve`.
pub fn handshake(
    req: &Request<hyper::body::Incoming>,
    protocols: &[&'static str],
) -> Result<(&'static str, HttpReply), Box<HttpReply>> {
    let upgrade = req
        .headers()
        .get(hyper::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !upgrade.eq_ignore_ascii_case("SPDY/3.1") {
        return Err(Box::new(reply(
            StatusCode::BAD_REQUEST,
            "unable to upgrade: missing upgrade headers in request (only SPDY/3.1 is supported)"
                .into(),
        )));
    }
    let offered = req
        .headers()
        .get_all("x-stream-protocol-version")
        .iter()
        .filter_map(|v| v.to_str().ok());
    let Some(protocol) = negotiate(offered, protocols) else {
        return Err(Box::new(reply(
            StatusCode::FORBIDDEN,
            format!(
                "unable to upgrade: unable to negotiate protocol: server accepts {protocols:?}"
            ),
        )));
    };
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONNECTION,
        "Upgrade".parse().expect("static header"),
    );
    h.insert(
        hyper::header::UPGRADE,
        "SPDY/3.1".parse().expect("static header"),
    );
    h.insert(
        "X-Stream-Protocol-Version",
        protocol.parse().expect("static header"),
    );
    Ok((protocol, r))
}

pub async fn upgrade(
    cri: Arc<Cri>,
    mut req: Request<hyper::body::Incoming>,
    pending: Pending,
) -> Response<Full<Bytes>> {
    let (protocol, response) = match handshake(&req, PROTOCOLS) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => serve(cri, TokioIo::new(upgraded), protocol, pending).await,
            Err(e) => tracing::debug!(error = %e, "streaming upgrade"),
        }
    });
    response
}

/// The streams of one exec or attach.
#[derive(Default)]
struct Channels {
    error: Option<StreamWriter>,
    stdin: Option<(StreamReader, StreamWriter)>,
    stdout: Option<StreamWriter>,
    stderr: Option<StreamWriter>,
    resize: Option<StreamReader>,
    others: Vec<StreamWriter>,
}

impl Channels {
    fn add(&mut self, s: SpdyStream) {
        let kind = s.header("streamtype").unwrap_or("").to_string();
        let (r, w) = s.split();
        match kind.as_str() {
            "error" => self.error = Some(w),
            "stdin" => self.stdin = Some((r, w)),
            "stdout" => self.stdout = Some(w),
            "stderr" => self.stderr = Some(w),
            "resize" => {
                self.resize = Some(r);
                self.others.push(w);
            }
            _ => self.others.push(w),
        }
    }

    fn count(&self) -> usize {
        [
            self.error.is_some(),
            self.stdin.is_some(),
            self.stdout.is_some(),
            self.stderr.is_some(),
            self.resize.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count()
    }
}

/// What a request asks for.
struct Wants {
    container_id: String,
    exec: Option<Vec<String>>,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
}

async fn serve<IO>(cri: Arc<Cri>, io: IO, protocol: &'static str, pending: Pending)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let wants = match pending {
        Pending::Exec(r) => Wants {
            container_id: r.container_id,
            exec: Some(r.cmd),
            stdin: r.stdin,
            stdout: r.stdout,
            stderr: r.stderr,
            tty: r.tty,
        },
        Pending::Attach(r) => Wants {
            container_id: r.container_id,
            exec: None,
            stdin: r.stdin,
            stdout: r.stdout,
            stderr: r.stderr,
            tty: r.tty,
        },
        Pending::PortForward(_) => return,
    };
    let (mut incoming, conn) = spdy::accept(io);
    let v1 = protocol == "channel.k8s.io";
    let expected = usize::from(!v1)
        + usize::from(wants.stdin)
        + usize::from(wants.stdout)
        + usize::from(wants.stderr && !wants.tty)
        + usize::from(wants.tty && !matches!(protocol, "v2.channel.k8s.io" | "channel.k8s.io"));
    let mut ch = Channels::default();
    let deadline = tokio::time::Instant::now() + STREAM_CREATION_TIMEOUT;
    while ch.count() < expected {
        match tokio::time::timeout_at(deadline, incoming.recv()).await {
            Ok(Some(s)) => ch.add(s),
            Ok(None) | Err(_) => break,
        }
    }
    if ch.count() < expected {
        tracing::debug!(
            got = ch.count(),
            expected,
            "streaming client did not open its streams"
        );
        conn.close();
        return;
    }
    // Streams opened later (none are expected) are accepted and closed.
    tokio::spawn(async move {
        while let Some(s) = incoming.recv().await {
            let (_, w) = s.split();
            w.close();
        }
    });
    let result = run(&cri, &wants, &mut ch).await;
    if let Some(err) = &ch.error {
        let status = match result {
            Ok(0) => serde_json::json!({"metadata": {}, "status": "Success"}),
            Ok(code) if protocol == "v4.channel.k8s.io" => serde_json::json!({
                "metadata": {},
                "status": "Failure",
                "message": format!("command terminated with non-zero exit code: error executing command {:?}, exit code {code}", wants.exec.clone().unwrap_or_default()),
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
            }),
            Ok(code) => {
                let _ = err.write(
                    format!("command terminated with non-zero exit code: exit code {code}")
                        .as_bytes(),
                );
                serde_json::Value::Null
            }
            Err(e) => {
                let text = e.to_string();
                if protocol == "v4.channel.k8s.io" {
                    serde_json::json!({"metadata": {}, "status": "Failure", "message": text})
                } else {
                    let _ = err.write(text.as_bytes());
                    serde_json::Value::Null
                }
            }
        };
        if !status.is_null() {
            let _ = err.write(status.to_string().as_bytes());
        }
        err.close();
    }
    for w in [ch.stdout.take(), ch.stderr.take()].into_iter().flatten() {
        w.close();
    }
    if let Some((_, w)) = ch.stdin.take() {
        w.close();
    }
    for w in ch.others.drain(..) {
        w.close();
    }
    conn.close();
}

/// Runs the exec (or attaches) and pumps the streams; answers the exit code.
async fn run(
    cri: &Arc<Cri>,
    wants: &Wants,
    ch: &mut Channels,
) -> Result<u32, crate::error::CriError> {
    use crate::error::CriError;
    let c = cri.running_container(&wants.container_id)?;
    let task = c.task_id();
    let state = cri
        .tasks
        .state(&task)
        .await
        .map_err(|e| CriError::backend("the container's task", e))?;
    let exec_id = match &wants.exec {
        Some(cmd) => {
            let exec_id = format!("exec-{}", &crate::store::new_id()[..16]);
            let process = cri.exec_process(&c.id, cmd, wants.tty)?;
            let req = crate::backend::ExecRequest {
                exec_id: exec_id.clone(),
                process,
                terminal: wants.tty,
                stdin: wants.stdin,
            };
            cri.tasks
                .exec(&task, req)
                .await
                .map_err(|e| CriError::backend("creating the exec process", e))?;
            Some(exec_id)
        }
        None => None,
    };
    let io = attach::connect(
        std::path::Path::new(&state.attach_socket),
        exec_id.as_deref(),
        wants.stdin,
        wants.stdout || wants.tty,
        wants.stderr && !wants.tty,
    )
    .await
    .map_err(|e| CriError::io("attaching to the process", e))?;
    if let Some(id) = &exec_id {
        cri.tasks
            .exec_start(&task, id)
            .await
            .map_err(|e| CriError::backend("starting the exec process", e))?;
    }
    let (mut from_shim, mut to_shim) = io.into_split();

    // stdin: client → shim; its end closes the process's stdin (exec, or StdinOnce).
    let stdin_task = match ch.stdin.take() {
        Some((mut r, w)) => {
            ch.others.push(w);
            let cri = cri.clone();
            let task = task.clone();
            let exec_id = exec_id.clone();
            let close_on_end = exec_id.is_some() || c.config.stdin_once;
            Some(tokio::spawn(async move {
                while let Some(data) = r.read().await {
                    if to_shim.write_all(&data).await.is_err() {
                        break;
                    }
                }
                if close_on_end {
                    let _ = cri.tasks.close_stdin(&task, exec_id.as_deref()).await;
                }
            }))
        }
        None => {
            drop(to_shim);
            None
        }
    };

    // resize: JSON objects, one after another.
    if let Some(mut r) = ch.resize.take() {
        let cri = cri.clone();
        let task = task.clone();
        let exec_id = exec_id.clone();
        tokio::spawn(async move {
            let mut buf: Vec<u8> = Vec::new();
            while let Some(data) = r.read().await {
                buf.extend_from_slice(&data);
                loop {
                    let mut it =
                        serde_json::Deserializer::from_slice(&buf).into_iter::<serde_json::Value>();
                    match it.next() {
                        Some(Ok(v)) => {
                            let used = it.byte_offset();
                            let w = v.get("Width").and_then(|x| x.as_u64()).unwrap_or(0) as u32;
                            let h = v.get("Height").and_then(|x| x.as_u64()).unwrap_or(0) as u32;
                            if w > 0 && h > 0 {
                                let req = crate::backend::ResizeRequest {
                                    width: w,
                                    height: h,
                                    exec_id: exec_id.clone(),
                                };
                                let _ = cri.tasks.resize(&task, req).await;
                            }
                            buf.drain(..used);
                        }
                        _ => break,
                    }
                }
            }
        });
    }

    // Output: shim → client, until the process's output ends.
    let mut demux = Demux::default();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match from_shim.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if wants.tty {
            if let Some(w) = &ch.stdout {
                let _ = w.write(&buf[..n]);
            }
            continue;
        }
        demux.push(&buf[..n]);
        while let Some(frame) = demux.next_frame() {
            let (target, data) = match frame {
                Output::Stdout(d) => (&ch.stdout, d),
                Output::Stderr(d) => (&ch.stderr, d),
            };
            if let Some(w) = target {
                let _ = w.write(&data);
            }
        }
    }
    let code = match &exec_id {
        Some(id) => cri
            .tasks
            .wait(&task, Some(id))
            .await
            .map(|e| e.exit_status)
            .map_err(|e| CriError::backend("waiting for the exec process", e))?,
        None => 0,
    };
    if let Some(t) = stdin_task {
        t.abort();
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_takes_the_clients_first_choice_we_speak() {
        let offered = ["v5.channel.k8s.io", "v4.channel.k8s.io, v3.channel.k8s.io"];
        assert_eq!(
            negotiate(offered.into_iter(), PROTOCOLS),
            Some("v4.channel.k8s.io")
        );
        assert_eq!(negotiate(["v9"].into_iter(), PROTOCOLS), None);
        assert_eq!(
            negotiate(["channel.k8s.io"].into_iter(), PROTOCOLS),
            Some("channel.k8s.io")
        );
    }
}
