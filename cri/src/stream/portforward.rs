//! PortForward over SPDY (`portforward.k8s.io`), as the kubelet's streaming server: for
//! each connection the client opens an `error` stream and a `data` stream with the same
//! `requestid` and the pod's `port`; the server connects to that port on the pod's
//! loopback (inside its network namespace; the node's with host networking) and copies
//! both ways; failures are written to the error stream. A FIN from the client half-closes
//! the connection to the pod; the pod's end closes the data stream.
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::spdy::{self, connection::StreamWriter};
use crate::proto::PortForwardRequest;
use crate::service::Cri;

const PROTOCOLS: &[&str] = &["portforward.k8s.io"];

pub async fn upgrade(
    cri: Arc<Cri>,
    mut req: Request<hyper::body::Incoming>,
    pf: PortForwardRequest,
) -> Response<Full<Bytes>> {
    let (_, response) = match super::remotecommand::handshake(&req, PROTOCOLS) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let netns = match cri.sandboxes.lookup(&pf.pod_sandbox_id) {
        Ok(s) => s.netns.clone(),
        Err(_) => None,
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => serve(TokioIo::new(upgraded), netns).await,
            Err(e) => tracing::debug!(error = %e, "port-forward upgrade"),
        }
    });
    response
}

/// Connects to `port` on the loopback of the namespace (IPv4, then IPv6).
async fn dial(netns: Option<PathBuf>, port: u16) -> std::io::Result<tokio::net::TcpStream> {
    let connect = move || -> std::io::Result<std::net::TcpStream> {
        let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
        let timeout = std::time::Duration::from_secs(10);
        std::net::TcpStream::connect_timeout(&v4, timeout)
            .or_else(|_| std::net::TcpStream::connect_timeout(&v6, timeout))
    };
    let std_stream = match netns {
        Some(path) => tokio::task::spawn_blocking(move || {
            netd::netns::run_in(&netd::netns::NetnsPath::existing(path), move || {
                connect().map_err(|source| netd::Error::Io {
                    context: "connecting in the pod".into(),
                    source,
                })
            })
            .map_err(std::io::Error::other)
        })
        .await
        .map_err(std::io::Error::other)??,
        None => tokio::task::spawn_blocking(connect)
            .await
            .map_err(std::io::Error::other)??,
    };
    std_stream.set_nonblocking(true)?;
    tokio::net::TcpStream::from_std(std_stream)
}

async fn serve<IO>(io: IO, netns: Option<PathBuf>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (mut incoming, conn) = spdy::accept(io);
    let mut errors: HashMap<String, StreamWriter> = HashMap::new();
    while let Some(s) = incoming.recv().await {
        let kind = s.header("streamtype").unwrap_or("").to_string();
        let request = s.header("requestid").unwrap_or("").to_string();
        let port = s.header("port").and_then(|p| p.parse::<u16>().ok());
        let (mut reader, writer) = s.split();
        match kind.as_str() {
            "error" => {
                errors.insert(request, writer);
            }
            "data" => {
                let error = errors.remove(&request);
                let netns = netns.clone();
                tokio::spawn(async move {
                    let Some(port) = port else {
                        if let Some(e) = &error {
                            let _ = e.write(b"invalid port");
                            e.close();
                        }
                        writer.close();
                        return;
                    };
                    let tcp = match dial(netns, port).await {
                        Ok(t) => t,
                        Err(e) => {
                            if let Some(err) = &error {
                                let _ = err.write(
                                    format!(
                                        "failed to connect to localhost:{port} inside the pod: {e}"
                                    )
                                    .as_bytes(),
                                );
                                err.close();
                            }
                            writer.close();
                            return;
                        }
                    };
                    let (mut from_pod, mut to_pod) = tcp.into_split();
                    let upstream = tokio::spawn(async move {
                        while let Some(data) = reader.read().await {
                            if to_pod.write_all(&data).await.is_err() {
                                break;
                            }
                        }
                        let _ = to_pod.shutdown().await;
                    });
                    let mut buf = vec![0u8; 32 * 1024];
                    loop {
                        match from_pod.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if writer.write(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    writer.close();
                    if let Some(e) = error {
                        e.close();
                    }
                    let _ = upstream.await;
                });
            }
            _ => writer.reset(),
        }
    }
    conn.close();
}
