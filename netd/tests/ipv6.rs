//! IPv6 networks through `Netd` (as root), with each firewall backend: two containers
//! talk over IPv6 (behind ip6tables' and iptables' `FORWARD` at `DROP`), the embedded
//! DNS answers AAAA and ip6.arpa PTR, a port published on no address answers on `::`
//! too, traffic leaving the host is masqueraded (NAT66), and teardown leaves no ip6
//! table, chain or address.
//!
//! Each test runs on a thread that unshared its network namespace (its runtime, its
//! commands and the sysctls it sets are that namespace's), with ULA addresses only.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use common::*;
use netd::firewall::iptables::{Chains, IptablesBackend};
use netd::firewall::nft::NftBackend;
use netd::firewall::{FirewallBackend, PortSpec, Protocol};
use netd::ipam::PoolRequest;
use netd::netns::NetnsPath;
use netd::{ConnectRequest, Netd, NetdConfig, NetworkSpec};

/// Both families' filter tables drop forwarded packets, and bridged IPv6 meets them.
const FORWARD_DROP: &str = "echo 1 > /proc/sys/net/bridge/bridge-nf-call-ip6tables \
    && ip6tables -w -P FORWARD DROP && iptables -w -P FORWARD DROP";

/// An echo server on `[::]:port` inside `ns`, serving `count` connections.
fn echo6_in(ns: &NetnsPath, port: u16, count: usize) -> std::thread::JoinHandle<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = spawn_in(ns, move || {
        let l = TcpListener::bind((Ipv6Addr::UNSPECIFIED, port)).expect("bind [::]");
        tx.send(()).expect("ready");
        for _ in 0..count {
            let Ok((mut s, peer)) = l.accept() else {
                return;
            };
            let _ = s.write_all(peer.ip().to_string().as_bytes());
        }
    });
    rx.recv_timeout(Duration::from_secs(5)).expect("ready");
    h
}

/// Connects to `to` (from inside `from` when given) and returns what the server says
/// (the address it saw us come from), or None.
fn who(from: Option<&NetnsPath>, to: SocketAddr) -> Option<String> {
    let call = move || {
        let mut s = TcpStream::connect_timeout(&to, Duration::from_millis(1500)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    };
    match from {
        Some(ns) => spawn_in(ns, call).join().expect("client"),
        None => call(),
    }
}

fn query6(ns: &NetnsPath, name: &str, qtype: hickory_proto::rr::RecordType) -> Vec<String> {
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::{Name, RData};
    let mut q = Message::new();
    q.set_id(7).set_recursion_desired(true);
    q.add_query(Query::query(Name::from_ascii(name).expect("name"), qtype));
    let bytes = q.to_vec().expect("query");
    let reply = spawn_in(ns, move || {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.send_to(&bytes, "127.0.0.11:53").ok()?;
        let mut buf = vec![0u8; 4096];
        let n = s.recv(&mut buf).ok()?;
        Message::from_vec(&buf[..n]).ok()
    })
    .join()
    .expect("resolver");
    reply
        .map(|m| {
            m.answers()
                .iter()
                .filter_map(|r| match r.data() {
                    RData::AAAA(a) => Some(a.0.to_string()),
                    RData::PTR(p) => Some(p.0.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn ipv6_network(backend: Box<dyn FirewallBackend>, dir: &Path) {
    init_tracing();
    let resolv = dir.join("resolv.conf");
    std::fs::write(&resolv, "nameserver 127.0.0.53\n").unwrap();
    let netd = Netd::open(NetdConfig {
        state_dir: dir.join("state"),
        netns_dir: dir.join("netns"),
        default_address_pools: vec!["base=10.213.80.0/22,size=24".parse().unwrap()],
        default_address_pools6: Vec::new(),
        firewall: backend,
        resolv_conf: resolv,
    })
    .await
    .unwrap();
    let info = netd
        .create_network(&NetworkSpec {
            id: "6000000000000001".into(),
            name: "six".into(),
            bridge: Some("b6test".into()),
            dns: true,
            ipam: PoolRequest {
                ipv6: true,
                subnet6: Some("fd42:6:6::/64".parse().unwrap()),
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap();
    let (subnet6, gateway6, _) = info.v6.expect("IPv6 side");
    assert_eq!(subnet6, "fd42:6:6::/64".parse().unwrap());
    assert_eq!(gateway6, "fd42:6:6::1".parse::<Ipv6Addr>().unwrap());
    let mut endpoints = Vec::new();
    for (i, name) in ["a", "b"].into_iter().enumerate() {
        let ns = netd.create_netns(&format!("{name}00000000000000")).unwrap();
        let connected = netd
            .connect(&ConnectRequest {
                network_id: info.id.clone(),
                container_id: name.into(),
                netns: ns.clone(),
                ifname: "eth0".into(),
                ip: None,
                ip6: (i == 1).then(|| "fd42:6:6::b".parse().unwrap()),
                mac: None,
                names: vec![name.into()],
                links: Vec::new(),
                link_local: Vec::new(),
                default_route: true,
            })
            .await
            .unwrap();
        endpoints.push((ns, connected));
    }
    let (a_ns, a) = &endpoints[0];
    let (b_ns, b) = &endpoints[1];
    assert_eq!(
        a.ip6.unwrap().addr(),
        "fd42:6:6::2".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(
        b.ip6.unwrap().addr(),
        "fd42:6:6::b".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(a.gateway6, Some(gateway6));

    // Two containers of the bridge over IPv6, behind FORWARD DROP.
    let server = echo6_in(b_ns, 7000, 2);
    let b6 = b.ip6.unwrap().addr();
    let seen = who(Some(a_ns), SocketAddr::from((b6, 7000)));
    assert_eq!(seen.as_deref(), Some("fd42:6:6::2"), "a to b over IPv6");

    // AAAA and ip6.arpa PTR from the embedded DNS.
    netd.start_dns("a", a_ns, &[]).unwrap();
    use hickory_proto::rr::RecordType;
    // Asked from a blocking thread: the server's tasks run on this thread's runtime.
    let ask = |name: String, qtype| {
        let ns = a_ns.clone();
        tokio::task::spawn_blocking(move || query6(&ns, &name, qtype))
    };
    assert_eq!(
        ask("b.".into(), RecordType::AAAA).await.unwrap(),
        ["fd42:6:6::b"]
    );
    let arpa = hickory_proto::rr::Name::from(IpAddr::V6(b6)).to_ascii();
    assert_eq!(ask(arpa, RecordType::PTR).await.unwrap(), ["b.six."]);

    // Published on no address: 0.0.0.0 and :: on the same port; the host reaches it
    // through the bridge's IPv6 gateway address.
    let published = netd
        .publish(
            "b",
            &info.id,
            &[PortSpec {
                host_ip: None,
                host_ports: None,
                container_port: 7000,
                protocol: Protocol::Tcp,
            }],
        )
        .unwrap();
    assert_eq!(published.len(), 2, "{published:?}");
    assert_eq!(published[0].host_port, published[1].host_port);
    assert_eq!(
        published[1].host_ip,
        Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED))
    );
    let port = published[0].host_port;
    let seen = who(None, SocketAddr::from((gateway6, port)));
    assert!(seen.is_some(), "published port over IPv6");
    server.join().unwrap();

    // NAT66: leaving the host, a's address becomes the host's on the way out.
    let outside_ns = NsGuard::new(dir, "outside");
    sh(&format!(
        "ip link add o6 type veth peer name o6p && ip link set o6p netns {ns} \
         && ip addr add fd42:6:7::1/64 dev o6 nodad && ip link set o6 up",
        ns = outside_ns.0.path().display()
    ));
    let far = spawn_in(&outside_ns.0, || {
        sh("ip addr add fd42:6:7::2/64 dev o6p nodad && ip link set o6p up && ip link set lo up");
    });
    far.join().unwrap();
    let far_server = echo6_in(&outside_ns.0, 7100, 1);
    let seen = who(Some(a_ns), "[fd42:6:7::2]:7100".parse().unwrap());
    assert_eq!(seen.as_deref(), Some("fd42:6:7::1"), "masqueraded");
    far_server.join().unwrap();
    sh("ip link del o6");

    // Teardown: no ip6 rules or addresses of netd's are left.
    netd.release_container("a", Some(a_ns)).await.unwrap();
    netd.release_container("b", Some(b_ns)).await.unwrap();
    netd.teardown().await.unwrap();
    let rules = sh("ip6tables -w -S; nft list ruleset");
    assert!(
        !rules.contains("b6test") && !rules.contains("fd42:6:6"),
        "{rules}"
    );
    assert!(!sh("ip -6 addr").contains("fd42:6:6"));
}

#[test]
fn ipv6_with_nftables() {
    in_private_netns(FORWARD_DROP, || async {
        let dir = tempfile::tempdir().unwrap();
        ipv6_network(Box::new(NftBackend::with_table("b6n")), dir.path()).await;
        assert!(!sh("nft list tables").contains("b6n"));
    });
}

#[test]
fn ipv6_with_iptables() {
    in_private_netns(FORWARD_DROP, || async {
        let dir = tempfile::tempdir().unwrap();
        let chains = Chains::with_prefix("B6I");
        ipv6_network(Box::new(IptablesBackend::with_chains(chains)), dir.path()).await;
        assert!(!sh("ip6tables -w -S").contains("B6I"));
    });
}
