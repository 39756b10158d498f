//! Forwarding queries the table cannot answer: bytes unchanged, from the
//! host's namespace, to each upstream in turn, over the transport the
//! container used (UDP, or TCP for large answers).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// How the container asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// The first upstream's reply to `query` (whose id is `id`), if any answers.
pub async fn forward(
    upstreams: &[SocketAddr],
    query: &[u8],
    id: u16,
    transport: Transport,
) -> Option<Vec<u8>> {
    for upstream in upstreams {
        let attempt = async {
            match transport {
                Transport::Udp => over_udp(*upstream, query, id).await,
                Transport::Tcp => over_tcp(*upstream, query).await,
            }
        };
        match tokio::time::timeout(UPSTREAM_TIMEOUT, attempt).await {
            Ok(Some(reply)) => return Some(reply),
            _ => tracing::debug!(%upstream, ?transport, "dns: upstream did not answer"),
        }
    }
    None
}

async fn over_udp(upstream: SocketAddr, query: &[u8], id: u16) -> Option<Vec<u8>> {
    let local: SocketAddr = if upstream.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await.ok()?;
    // Connected: only the upstream's datagrams come in, and an upstream that is not
    // there (ICMP port unreachable) fails at once instead of at the timeout.
    socket.connect(upstream).await.ok()?;
    socket.send(query).await.ok()?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = socket.recv(&mut buf).await.ok()?;
        if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
            return Some(buf[..n].to_vec());
        }
    }
}

async fn over_tcp(upstream: SocketAddr, query: &[u8]) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await.ok()?;
    let len = u16::try_from(query.len()).ok()?;
    stream.write_u16(len).await.ok()?;
    stream.write_all(query).await.ok()?;
    let len = stream.read_u16().await.ok()?;
    let mut reply = vec![0u8; usize::from(len)];
    stream.read_exact(&mut reply).await.ok()?;
    Some(reply)
}
