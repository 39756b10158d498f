//! The userland proxy, as dockerd's `docker-proxy`, for the published ports DNAT cannot
//! carry: those on an IPv6 loopback address (`-p [::1]:8080:80`: a packet from `::1` is
//! never routed to a bridge, and IPv6 has no `route_localnet`) and those on an IPv6
//! address of a container without IPv6 (forwarded to its IPv4 address, as dockerd does).
//!
//! A proxy takes over the socket that holds the host port (see `firewall::ports`), so
//! the port stays held for as long as it runs. TCP: each connection accepted is joined
//! to a new one to the container, both directions copied, half-closes passed on. UDP:
//! each client gets its own socket towards the container, replies go back from the
//! host port; a client silent for [`UDP_IDLE`] is forgotten (docker-proxy's 90 s).
//! Everything a proxy started stops when its [`Proxy`] is dropped (the port
//! unpublished); netd starts them again when it publishes the ports again after a
//! restart of the daemon.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;

/// How long connecting to the container may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A UDP client forgotten after this long without traffic (docker-proxy's conntrack timeout).
const UDP_IDLE: Duration = Duration::from_secs(90);
/// The largest UDP datagram.
const DATAGRAM: usize = 65_535;

/// A running proxy; dropping it stops it and every connection it carries.
#[derive(Debug)]
pub struct Proxy {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Proxies TCP connections accepted on `listener` to `to`.
pub fn tcp(listener: std::net::TcpListener, to: SocketAddr) -> std::io::Result<Proxy> {
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Handle::try_current().map_err(std::io::Error::other)?;
    let _entered = runtime.enter();
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let task = runtime.spawn(async move {
        // Dropped with the task: every connection stops with the proxy.
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((client, from)) => {
                        connections.spawn(join(client, from, to));
                    }
                    Err(e) => tracing::debug!(%to, "proxy accept: {e}"),
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    });
    Ok(Proxy { task })
}

async fn join(mut client: tokio::net::TcpStream, from: SocketAddr, to: SocketAddr) {
    let upstream = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(to)).await;
    let mut upstream = match upstream {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return tracing::debug!(%from, %to, "proxy connect: {e}"),
        Err(_) => return tracing::debug!(%from, %to, "proxy connect: timed out"),
    };
    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(%from, %to, "proxy copy: {e}");
    }
}

/// Proxies UDP datagrams arriving on `socket` to `to`, and the replies back.
pub fn udp(socket: std::net::UdpSocket, to: SocketAddr) -> std::io::Result<Proxy> {
    socket.set_nonblocking(true)?;
    let runtime = tokio::runtime::Handle::try_current().map_err(std::io::Error::other)?;
    let _entered = runtime.enter();
    let host = Arc::new(tokio::net::UdpSocket::from_std(socket)?);
    let task = runtime.spawn(async move {
        let clients: Arc<Mutex<HashMap<SocketAddr, Arc<tokio::net::UdpSocket>>>> =
            Arc::default();
        let mut replies = JoinSet::new();
        let mut buf = vec![0u8; DATAGRAM];
        loop {
            tokio::select! {
                got = host.recv_from(&mut buf) => {
                    let (n, from) = match got {
                        Ok(got) => got,
                        Err(e) => {
                            tracing::debug!(%to, "proxy receive: {e}");
                            continue;
                        }
                    };
                    let known = clients.lock().ok().and_then(|c| c.get(&from).cloned());
                    let upstream = match known {
                        Some(u) => u,
                        None => match towards(to).await {
                            Ok(u) => {
                                let u = Arc::new(u);
                                if let Ok(mut c) = clients.lock() {
                                    c.insert(from, u.clone());
                                }
                                replies.spawn(reply(host.clone(), u.clone(), from, clients.clone()));
                                u
                            }
                            Err(e) => {
                                tracing::debug!(%from, %to, "proxy socket: {e}");
                                continue;
                            }
                        },
                    };
                    if let Err(e) = upstream.send(&buf[..n]).await {
                        tracing::debug!(%from, %to, "proxy send: {e}");
                    }
                }
                Some(_) = replies.join_next(), if !replies.is_empty() => {}
            }
        }
    });
    Ok(Proxy { task })
}

/// A socket connected to the container, for one client.
async fn towards(to: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    let local: SocketAddr = if to.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = tokio::net::UdpSocket::bind(local).await?;
    socket.connect(to).await?;
    Ok(socket)
}

/// Sends the container's replies to `client` until it has been idle for [`UDP_IDLE`].
async fn reply(
    host: Arc<tokio::net::UdpSocket>,
    upstream: Arc<tokio::net::UdpSocket>,
    client: SocketAddr,
    clients: Arc<Mutex<HashMap<SocketAddr, Arc<tokio::net::UdpSocket>>>>,
) {
    let mut buf = vec![0u8; DATAGRAM];
    // Until idle, or the container refused (ICMP): then the client is forgotten.
    while let Ok(Ok(n)) = tokio::time::timeout(UDP_IDLE, upstream.recv(&mut buf)).await {
        if let Err(e) = host.send_to(&buf[..n], client).await {
            tracing::debug!(%client, "proxy reply: {e}");
        }
    }
    if let Ok(mut c) = clients.lock() {
        c.remove(&client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn tcp_both_ways_with_half_close_and_stops_when_dropped() {
        let backend = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let to = backend.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = backend.accept().await {
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    let _ = s.read_to_end(&mut got).await;
                    let _ = s.write_all(&[b"echo:".as_slice(), &got].concat()).await;
                });
            }
        });
        let front = std::net::TcpListener::bind("[::1]:0").unwrap();
        let at = front.local_addr().unwrap();
        let proxy = tcp(front, to).unwrap();
        let mut c = tokio::net::TcpStream::connect(at).await.unwrap();
        c.write_all(b"hello").await.unwrap();
        c.shutdown().await.unwrap();
        let mut answer = String::new();
        c.read_to_string(&mut answer).await.unwrap();
        assert_eq!(answer, "echo:hello");
        drop(proxy);
        tokio::task::yield_now().await;
        // Stopped: the port is free again.
        let mut freed = false;
        for _ in 0..50 {
            if std::net::TcpListener::bind(at).is_ok() {
                freed = true;
                break;
            }
            // Retry back-off: the aborted task drops its listener on the runtime's next turn.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(freed, "the host port is freed with the proxy");
    }

    #[tokio::test]
    async fn udp_replies_reach_each_client() {
        let backend = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = backend.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            while let Ok((n, from)) = backend.recv_from(&mut buf).await {
                let _ = backend
                    .send_to(&[b"re:".as_slice(), &buf[..n]].concat(), from)
                    .await;
            }
        });
        let front = std::net::UdpSocket::bind("[::1]:0").unwrap();
        let at = front.local_addr().unwrap();
        let _proxy = udp(front, to).unwrap();
        for word in ["one", "two"] {
            let c = tokio::net::UdpSocket::bind("[::1]:0").await.unwrap();
            c.connect(at).await.unwrap();
            c.send(word.as_bytes()).await.unwrap();
            let mut buf = [0u8; 64];
            let n = tokio::time::timeout(Duration::from_secs(5), c.recv(&mut buf))
                .await
                .expect("a reply")
                .unwrap();
            assert_eq!(&buf[..n], format!("re:{word}").as_bytes());
        }
    }
}
