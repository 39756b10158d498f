//! The embedded DNS server of one container: UDP and TCP sockets bound on
//! 127.0.0.11:53 inside the container's namespace (by a thread that enters
//! it, binds, and ends), served by tasks on the caller's tokio runtime.
//! Binding port 53 directly inside the namespace needs none of dockerd's
//! DNAT to a random port.
//!
//! One server per namespace, as dockerd's one resolver per sandbox: it answers for
//! every network its container is on, so connecting and disconnecting change what it
//! answers (the shared table) and where it forwards ([`DnsServer::reconfigure`]), never
//! whether it listens.
//!
//! Names in the [`DnsTable`] are answered (A and PTR); anything else is
//! forwarded (see [`crate::dns::forward`]).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

use crate::dns::forward::{forward, Transport};
use crate::dns::table::DnsTable;
use crate::error::{Error, Result};
use crate::netns::{self, NetnsPath};

/// dockerd's TTL for its container records.
const TTL: u32 = 600;
const TCP_IDLE: Duration = Duration::from_secs(10);

/// Where and for whom a server answers.
#[derive(Debug, Clone)]
pub struct DnsServerConfig {
    /// The container (endpoint id in the table) the server answers for.
    pub endpoint_id: String,
    /// Resolvers for names not in the table (see `resolvconf::upstreams`).
    pub upstreams: Vec<SocketAddr>,
    /// 127.0.0.11:53 normally.
    pub listen: SocketAddr,
}

impl DnsServerConfig {
    pub fn new(endpoint_id: impl Into<String>, upstreams: Vec<SocketAddr>) -> Self {
        DnsServerConfig {
            endpoint_id: endpoint_id.into(),
            upstreams,
            listen: SocketAddr::from(([127, 0, 0, 11], 53)),
        }
    }
}

/// The configuration a running server reads at each query.
type SharedConfig = Arc<RwLock<Arc<DnsServerConfig>>>;

fn current(config: &SharedConfig) -> Arc<DnsServerConfig> {
    match config.read() {
        Ok(c) => c.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// A running server; dropping it (or [`DnsServer::stop`]) stops it.
#[derive(Debug)]
pub struct DnsServer {
    tasks: Vec<JoinHandle<()>>,
    config: SharedConfig,
    /// The namespace it listens in.
    netns: NetnsPath,
}

impl DnsServer {
    /// Binds inside `ns` and starts serving on the current tokio runtime.
    pub fn start(ns: &NetnsPath, table: Arc<DnsTable>, config: DnsServerConfig) -> Result<Self> {
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Dns("start needs a tokio runtime".into()))?;
        let listen = config.listen;
        let (udp, tcp) = netns::run_in(ns, move || {
            let bind = |e| Error::io(format!("bind {listen} in the container"), e);
            let udp = std::net::UdpSocket::bind(listen).map_err(bind)?;
            udp.set_nonblocking(true).map_err(bind)?;
            let tcp = std::net::TcpListener::bind(listen).map_err(bind)?;
            tcp.set_nonblocking(true).map_err(bind)?;
            Ok((udp, tcp))
        })?;
        let _guard = rt.enter();
        let udp = Arc::new(UdpSocket::from_std(udp).map_err(|e| Error::io("udp socket", e))?);
        let tcp = TcpListener::from_std(tcp).map_err(|e| Error::io("tcp socket", e))?;
        let config: SharedConfig = Arc::new(RwLock::new(Arc::new(config)));
        let tasks = vec![
            rt.spawn(serve_udp(udp, table.clone(), config.clone())),
            rt.spawn(serve_tcp(tcp, table, config.clone())),
        ];
        Ok(DnsServer {
            tasks,
            config,
            netns: ns.clone(),
        })
    }

    /// The namespace the server listens in.
    pub fn netns(&self) -> &NetnsPath {
        &self.netns
    }

    /// Answers for another endpoint id, or forwards elsewhere, from the next query on.
    pub fn reconfigure(&self, config: DnsServerConfig) {
        let next = Arc::new(config);
        match self.config.write() {
            Ok(mut c) => *c = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }

    pub fn stop(self) {}
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn serve_udp(socket: Arc<UdpSocket>, table: Arc<DnsTable>, config: SharedConfig) {
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "dns: udp receive");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let query = buf[..n].to_vec();
        let (socket, table, config) = (socket.clone(), table.clone(), current(&config));
        tokio::spawn(async move {
            if let Some(reply) = respond(&table, &config, &query, Transport::Udp).await {
                let _ = socket.send_to(&reply, peer).await;
            }
        });
    }
}

async fn serve_tcp(listener: TcpListener, table: Arc<DnsTable>, config: SharedConfig) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "dns: tcp accept");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (table, config) = (table.clone(), current(&config));
        tokio::spawn(async move {
            let _ = tokio::time::timeout(TCP_IDLE, tcp_session(stream, &table, &config)).await;
        });
    }
}

async fn tcp_session(mut stream: TcpStream, table: &DnsTable, config: &DnsServerConfig) {
    loop {
        let Ok(len) = stream.read_u16().await else {
            return;
        };
        let mut query = vec![0u8; usize::from(len)];
        if stream.read_exact(&mut query).await.is_err() {
            return;
        }
        let Some(reply) = respond(table, config, &query, Transport::Tcp).await else {
            return;
        };
        let Ok(len) = u16::try_from(reply.len()) else {
            return;
        };
        if stream.write_u16(len).await.is_err() || stream.write_all(&reply).await.is_err() {
            return;
        }
    }
}

/// The reply to one query: from the table, or forwarded (over the client's
/// transport, as dockerd does), or SERVFAIL.
pub async fn respond(
    table: &DnsTable,
    config: &DnsServerConfig,
    query: &[u8],
    transport: Transport,
) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    if let Some(local) = answer_locally(table, &config.endpoint_id, &request) {
        return local.to_vec().ok();
    }
    if let Some(reply) = forward(&config.upstreams, query, request.id(), transport).await {
        return Some(reply);
    }
    let mut fail = reply_to(&request);
    fail.set_response_code(ResponseCode::ServFail);
    fail.to_vec().ok()
}

fn reply_to(request: &Message) -> Message {
    let mut reply = Message::new();
    reply
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_recursion_desired(request.recursion_desired())
        .set_recursion_available(true);
    reply.add_queries(request.queries().iter().cloned());
    reply
}

/// Answers A, AAAA (and, for names it knows, every other type with no records) and PTR
/// (in-addr.arpa and ip6.arpa) from the table.
pub fn answer_locally(table: &DnsTable, asker: &str, request: &Message) -> Option<Message> {
    let query = request.queries().first()?;
    let name = query.name();
    let mut reply = reply_to(request);
    reply.set_authoritative(true);
    match query.query_type() {
        RecordType::PTR => {
            let ip = name.parse_arpa_name().ok()?.addr();
            let target = table.lookup_ptr(asker, ip)?;
            let target = Name::from_ascii(format!("{target}.")).ok()?;
            reply.add_answer(Record::from_rdata(
                name.clone(),
                TTL,
                RData::PTR(PTR(target)),
            ));
        }
        RecordType::AAAA => {
            let ips: Vec<Ipv6Addr> = table.lookup_aaaa(asker, &name.to_ascii())?;
            for ip in ips {
                reply.add_answer(Record::from_rdata(name.clone(), TTL, RData::AAAA(AAAA(ip))));
            }
        }
        qtype => {
            let ips: Vec<Ipv4Addr> = table.lookup_a(asker, &name.to_ascii())?;
            if qtype == RecordType::A {
                for ip in ips {
                    reply.add_answer(Record::from_rdata(name.clone(), TTL, RData::A(A(ip))));
                }
            }
        }
    }
    Some(reply)
}
