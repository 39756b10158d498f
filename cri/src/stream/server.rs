//! The streaming server's HTTP side: a TCP listener (loopback by default, as containerd's
//! `stream_server_address`), single-use tokens for the requests the CRI validated, and
//! the upgrade of `/exec/{token}`, `/attach/{token}` and `/portforward/{token}` to SPDY.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use crate::error::{CriError, CriResult};
use crate::proto;
use crate::service::Cri;

/// How long a URL stays valid (the kubelet's streaming server: one minute).
const TOKEN_TTL: Duration = Duration::from_secs(60);

/// A request the CRI validated, waiting for its client.
#[derive(Debug, Clone)]
pub enum Pending {
    Exec(proto::ExecRequest),
    Attach(proto::AttachRequest),
    PortForward(proto::PortForwardRequest),
}

pub struct StreamServer {
    listener: Mutex<Option<tokio::net::TcpListener>>,
    addr: SocketAddr,
    tokens: Mutex<HashMap<String, (Pending, Instant)>>,
}

impl StreamServer {
    /// Binds `address` ("127.0.0.1:0" picks a port).
    pub async fn bind(address: &str) -> CriResult<StreamServer> {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| CriError::io(format!("streaming server on {address}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| CriError::io("streaming server address", e))?;
        Ok(StreamServer {
            listener: Mutex::new(Some(listener)),
            addr,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Keeps `pending` under a new token; answers the URL for it.
    pub fn insert(&self, kind: &str, pending: Pending) -> String {
        let token = crate::store::new_id()[..32].to_string();
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        tokens.retain(|_, (_, at)| now.duration_since(*at) < TOKEN_TTL);
        tokens.insert(token.clone(), (pending, now));
        format!("{}/{kind}/{token}", self.base_url())
    }

    /// Takes the request of a token (once).
    fn take(&self, token: &str) -> Option<Pending> {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let (pending, at) = tokens.remove(token)?;
        (at.elapsed() < TOKEN_TTL).then_some(pending)
    }

    /// Starts the accept loop.
    pub fn serve(&self, cri: Arc<Cri>) {
        let Some(listener) = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return;
        };
        tokio::spawn(async move {
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "streaming server accept");
                        continue;
                    }
                };
                let cri = cri.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let cri = cri.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(cri, req).await) }
                    });
                    if let Err(e) = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await
                    {
                        tracing::debug!(error = %e, "streaming connection");
                    }
                });
            }
        });
    }
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text.to_string())));
    *r.status_mut() = status;
    r
}

async fn handle(cri: Arc<Cri>, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let (kind, token) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let Some(pending) = cri.streams.take(token) else {
        return plain(StatusCode::NOT_FOUND, "unknown or expired streaming token");
    };
    match (kind, pending) {
        ("exec", p @ Pending::Exec(_)) | ("attach", p @ Pending::Attach(_)) => {
            super::remotecommand::upgrade(cri, req, p).await
        }
        ("portforward", Pending::PortForward(p)) => super::portforward::upgrade(cri, req, p).await,
        _ => plain(StatusCode::NOT_FOUND, "unknown streaming request"),
    }
}

impl Cri {
    pub fn exec_url(&self, r: proto::ExecRequest) -> CriResult<String> {
        self.running_container(&r.container_id)?;
        if r.cmd.is_empty() {
            return Err(CriError::InvalidArgument("cmd must not be empty".into()));
        }
        if !(r.stdin || r.stdout || r.stderr) {
            return Err(CriError::InvalidArgument(
                "one of stdin, stdout, or stderr must be set".into(),
            ));
        }
        if r.tty && r.stderr {
            return Err(CriError::InvalidArgument(
                "tty and stderr cannot both be true".into(),
            ));
        }
        Ok(self.streams.insert("exec", Pending::Exec(r)))
    }

    pub fn attach_url(&self, r: proto::AttachRequest) -> CriResult<String> {
        self.running_container(&r.container_id)?;
        if !(r.stdin || r.stdout || r.stderr) {
            return Err(CriError::InvalidArgument(
                "one of stdin, stdout, or stderr must be set".into(),
            ));
        }
        Ok(self.streams.insert("attach", Pending::Attach(r)))
    }

    pub fn port_forward_url(&self, r: proto::PortForwardRequest) -> CriResult<String> {
        let s = self.sandboxes.lookup(&r.pod_sandbox_id)?;
        if s.state != crate::store::sandbox::SandboxState::Ready {
            return Err(CriError::FailedPrecondition(format!(
                "sandbox {} is not running",
                s.id
            )));
        }
        Ok(self.streams.insert("portforward", Pending::PortForward(r)))
    }
}
