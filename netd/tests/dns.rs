//! The embedded DNS (as root): inside a namespace, 127.0.0.11 answers a peer's
//! name, alias and PTR over UDP and TCP, not a name on another network, and
//! forwards the rest to a fake upstream on loopback (never a real resolver).

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use netd::dns::{DnsEntry, DnsServer, DnsServerConfig, DnsTable};
use netd::netns::NetnsPath;

fn query(name: &str, qtype: RecordType) -> Message {
    let mut m = Message::new();
    m.set_id(rand::random())
        .set_message_type(MessageType::Query)
        .set_recursion_desired(true);
    m.add_query(Query::query(Name::from_str(name).unwrap(), qtype));
    m
}

/// Asks 127.0.0.11 from inside `ns`, over UDP or TCP.
fn ask(ns: &NetnsPath, name: &str, qtype: RecordType, tcp: bool) -> Message {
    let bytes = query(name, qtype).to_vec().unwrap();
    let server = SocketAddr::from(([127, 0, 0, 11], 53));
    let reply = spawn_in(ns, move || -> Vec<u8> {
        if tcp {
            let mut s = TcpStream::connect_timeout(&server, Duration::from_secs(2)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(&(bytes.len() as u16).to_be_bytes()).unwrap();
            s.write_all(&bytes).unwrap();
            let mut len = [0u8; 2];
            s.read_exact(&mut len).unwrap();
            let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
            s.read_exact(&mut buf).unwrap();
            buf
        } else {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.send_to(&bytes, server).unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.recv(&mut buf).unwrap();
            buf.truncate(n);
            buf
        }
    })
    .join()
    .unwrap();
    Message::from_vec(&reply).unwrap()
}

fn a_records(m: &Message) -> Vec<Ipv4Addr> {
    m.answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

/// The fake upstream's answer to one query.
fn fake_answer(query: &[u8], tcp: bool) -> Option<Vec<u8>> {
    let req = Message::from_vec(query).ok()?;
    let mut reply = Message::new();
    reply
        .set_id(req.id())
        .set_message_type(MessageType::Response)
        .add_queries(req.queries().iter().cloned());
    let q = req.queries().first()?;
    if q.name().to_ascii() == "example.test." {
        // A different answer per transport shows which one was forwarded.
        let last = if tcp { 100 } else { 99 };
        reply.add_answer(Record::from_rdata(
            q.name().clone(),
            60,
            RData::A(A(Ipv4Addr::new(192, 0, 2, last))),
        ));
    } else {
        reply.set_response_code(ResponseCode::NXDomain);
    }
    reply.to_vec().ok()
}

/// A fake upstream (UDP and TCP) on 127.0.0.1 in the host's namespace: `example.test` is
/// 192.0.2.99 (.100 over TCP), everything else NXDOMAIN.
fn fake_upstream() -> SocketAddr {
    let (socket, listener) = udp_and_tcp_on_one_port();
    let addr = socket.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            if let Some(reply) = fake_answer(&buf[..n], false) {
                let _ = socket.send_to(&reply, peer);
            }
        }
    });
    std::thread::spawn(move || {
        while let Ok((mut s, _)) = listener.accept() {
            let mut len = [0u8; 2];
            if s.read_exact(&mut len).is_err() {
                continue;
            }
            let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
            if s.read_exact(&mut q).is_err() {
                continue;
            }
            if let Some(reply) = fake_answer(&q, true) {
                let _ = s.write_all(&(reply.len() as u16).to_be_bytes());
                let _ = s.write_all(&reply);
            }
        }
    });
    addr
}

/// A UDP socket and a TCP listener on the same free port of 127.0.0.1. The port the kernel
/// picks for UDP may be taken for TCP (another test's connection): then another one.
fn udp_and_tcp_on_one_port() -> (UdpSocket, std::net::TcpListener) {
    for _ in 0..100 {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        if let Ok(listener) = std::net::TcpListener::bind(socket.local_addr().unwrap()) {
            return (socket, listener);
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1 in 100 tries");
}

fn entry(id: &str, names: &[&str], ip: Ipv4Addr) -> DnsEntry {
    DnsEntry {
        links: Vec::new(),
        ip6: None,
        endpoint_id: id.into(),
        names: names.iter().map(|s| s.to_string()).collect(),
        ip,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_dns_answers_peers_only_and_forwards_the_rest() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let front = TestNet::new(dir.path(), &unique("btd", "f"), 30, 2).await;
    let back = TestNet::new(dir.path(), &unique("btd", "b"), 31, 1).await;
    let table = Arc::new(DnsTable::new());
    table.set_endpoint(
        "nf",
        "front",
        entry("web", &["web", "www", "0123456789ab"], front.ip(0)),
    );
    table.set_endpoint("nf", "front", entry("client", &["client"], front.ip(1)));
    table.set_endpoint("nb", "back", entry("other", &["other"], back.ip(0)));

    let upstream = fake_upstream();
    let client_dns = DnsServer::start(
        front.ns(1),
        table.clone(),
        DnsServerConfig::new("client", vec![upstream]),
    )
    .unwrap();
    let _other_dns = DnsServer::start(
        back.ns(0),
        table.clone(),
        DnsServerConfig::new("other", vec![upstream]),
    )
    .unwrap();

    let web_ip = front.ip(0);
    for tcp in [false, true] {
        for name in ["web.", "www.", "0123456789ab.", "WEB.front."] {
            let r = ask(front.ns(1), name, RecordType::A, tcp);
            assert_eq!(a_records(&r), vec![web_ip], "{name} tcp={tcp}");
        }
    }
    let ptr = ask(
        front.ns(1),
        "2.30.213.10.in-addr.arpa.",
        RecordType::PTR,
        false,
    );
    assert_eq!(ptr.answers()[0].data().to_string(), "web.front.");
    // AAAA of a known name: no records, no forwarding.
    let aaaa = ask(front.ns(1), "web.", RecordType::AAAA, false);
    assert_eq!(aaaa.response_code(), ResponseCode::NoError);
    assert!(aaaa.answers().is_empty());

    // A name on another network is not seen: forwarded, and the upstream knows nothing.
    let r = ask(front.ns(1), "other.", RecordType::A, false);
    assert!(a_records(&r).is_empty());
    assert_eq!(r.response_code(), ResponseCode::NXDomain);
    let r = ask(back.ns(0), "web.", RecordType::A, true);
    assert!(a_records(&r).is_empty());

    // Everything else is forwarded.
    let r = ask(front.ns(1), "example.test.", RecordType::A, false);
    assert_eq!(a_records(&r), vec![Ipv4Addr::new(192, 0, 2, 99)]);
    let r = ask(front.ns(1), "example.test.", RecordType::A, true);
    assert_eq!(
        a_records(&r),
        vec![Ipv4Addr::new(192, 0, 2, 100)],
        "forwarded over TCP"
    );

    // docker network connect: `other` joins front and sees web at once.
    table.set_endpoint(
        "nf",
        "front",
        entry("other", &["other"], Ipv4Addr::new(10, 213, 30, 9)),
    );
    let r = ask(back.ns(0), "web.", RecordType::A, false);
    assert_eq!(a_records(&r), vec![web_ip]);
    table.remove_endpoint("nf", "other");
    let r = ask(back.ns(0), "web.", RecordType::A, false);
    assert!(a_records(&r).is_empty());

    // Stopped: nothing answers any more.
    client_dns.stop();
    let ns = front.ns(1).clone();
    let silent = spawn_in(&ns, || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let q = query("web.", RecordType::A).to_vec().unwrap();
        s.send_to(&q, "127.0.0.11:53").unwrap();
        let mut buf = [0u8; 512];
        s.recv(&mut buf).is_err()
    })
    .join()
    .unwrap();
    assert!(silent, "stopped server still answers");
}
