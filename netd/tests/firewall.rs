//! Firewall backends (as root): isolation between bridges, masquerade, and a
//! published port reachable from the host on 127.0.0.1 and on the gateway.

mod common;

use std::net::{Ipv4Addr, SocketAddr};

use common::*;
use netd::firewall::{
    iptables::{Chains, IptablesBackend},
    nft::NftBackend,
    BridgeOptions, Firewall, FirewallBackend, PortAllocator, PortRule, PortSpec, Protocol,
};

async fn exercise(backend: Box<dyn FirewallBackend>, third: u8, tag: &str) -> Firewall {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let a = TestNet::new(dir.path(), &unique("btf", &format!("{tag}a")), third, 2).await;
    let b = TestNet::new(dir.path(), &unique("btf", &format!("{tag}b")), third + 1, 1).await;
    let firewall = Firewall::new(backend).unwrap();

    // Without isolation, routing between the bridges works.
    let server = echo_server_in(b.ns(0), 7100, 3);
    let to_b = SocketAddr::from((b.ip(0), 7100));
    assert_eq!(echo_from(a.ns(0), to_b, "x").as_deref(), Some("x"));

    firewall.add_network(a.rules(false)).unwrap();
    firewall.add_network(b.rules(false)).unwrap();
    assert_eq!(echo_from(a.ns(0), to_b, "blocked"), None, "isolation");

    // Publish a2's echo on an ephemeral host port, on every host address.
    let echo_a = echo_server_in(a.ns(1), 7200, 3);
    let alloc = PortAllocator::default();
    let reservation = alloc
        .reserve(&PortSpec {
            host_ip: None,
            host_ports: None,
            container_port: 7200,
            protocol: Protocol::Tcp,
        })
        .unwrap();
    firewall
        .add_ports(vec![PortRule {
            owner: "c-a1".into(),
            bridge: a.bridge.clone(),
            protocol: Protocol::Tcp,
            host_ip: None,
            host_port: reservation.host_port,
            container_ip: a.ip(1).into(),
            container_port: 7200,
        }])
        .unwrap();
    let port = reservation.host_port;
    assert_eq!(
        echo(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), "lo").as_deref(),
        Some("lo"),
        "published port on 127.0.0.1"
    );
    assert_eq!(
        echo(SocketAddr::from((a.gateway, port)), "gw").as_deref(),
        Some("gw"),
        "published port on the gateway address"
    );
    // From a container of the other network, through the host's address.
    let via_host = SocketAddr::from((b.gateway, port));
    assert_eq!(
        echo_from(b.ns(0), via_host, "cross").as_deref(),
        Some("cross"),
        "published port from another network"
    );
    echo_a.join().unwrap();

    firewall.remove_ports("c-a1").unwrap();
    assert!(firewall.state().unwrap().ports.is_empty());
    firewall.remove_network(&a.rules(false).network_id).unwrap();
    // --internal: nothing leaves the bridge, even with no other network to isolate from.
    firewall.add_network(a.rules(true)).unwrap();
    firewall.remove_network(&b.rules(false).network_id).unwrap();
    assert_eq!(echo_from(a.ns(0), to_b, "internal"), None, "internal");
    firewall.remove_network(&a.rules(true).network_id).unwrap();
    firewall.add_network(b.rules(false)).unwrap();
    // One network left: a's bridge is not Berth's any more, and nothing enters b's
    // bridge from another interface but replies and published ports (dockerd 28: no
    // direct routing to containers).
    assert_eq!(echo_from(a.ns(0), to_b, "direct"), None, "direct routing");
    firewall.remove_network(&b.rules(false).network_id).unwrap();
    // No rules at all: routing between the bridges works again.
    assert_eq!(echo_from(a.ns(0), to_b, "open").as_deref(), Some("open"));
    assert_eq!(echo_from(a.ns(0), to_b, "again").as_deref(), Some("again"));
    server.join().unwrap();
    firewall.add_network(b.rules(false)).unwrap();
    firewall
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nftables_isolates_masquerades_publishes_and_cleans_up() {
    let table = unique("bt", "t");
    let _cleanup = NftTableGuard(table.clone());
    let backend = NftBackend::with_table(table.clone());
    let firewall = exercise(Box::new(backend.clone()), 10, "n").await;
    let listing = run("nft", &["list", "table", "ip", &table]);
    assert!(listing.contains("masquerade"), "{listing}");
    assert!(listing.contains("10.213.11.0/24"), "{listing}");
    assert!(listing.contains("chain DOCKER-USER"), "{listing}");
    firewall.clear().unwrap();
    assert_eq!(
        run("nft", &["list", "table", "ip", &table]),
        "",
        "table removed"
    );
    // Clearing twice (start-up with nothing stale) is fine.
    backend.clear().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iptables_isolates_masquerades_publishes_and_cleans_up() {
    let prefix = unique("BI", "");
    let chains = Chains::with_prefix(&prefix);
    let _cleanup = IptablesGuard(chains.clone());
    let firewall = exercise(
        Box::new(IptablesBackend::with_chains(chains.clone())),
        20,
        "i",
    )
    .await;
    let nat = run("iptables", &["-w", "-t", "nat", "-S"]);
    assert!(
        nat.contains(&format!("-A {} -s 10.213.21.0/24", chains.postrouting)),
        "{nat}"
    );
    firewall.clear().unwrap();
    let all = run("iptables", &["-w", "-t", "nat", "-S"]) + &run("iptables", &["-w", "-S"]);
    assert_eq!(all.matches(&prefix).count(), 0, "{all}");
}

/// A stand-in for the outside world: a namespace behind a veth pair of the
/// test's own (host end 10.213.<third>.1, far end .2), with no route back to
/// any bridge subnet, so only masqueraded traffic can be answered.
struct Outside {
    ns: NsGuard,
    _link: LinkGuard,
}

impl Outside {
    fn new(dir: &std::path::Path, name: &str, third: u8) -> Outside {
        let ns = NsGuard::new(dir, "outside");
        let link = LinkGuard(vec![name.to_string()]);
        let peer = format!("{name}p");
        let ok = |args: &[&str]| {
            let st = std::process::Command::new("ip")
                .args(args)
                .status()
                .unwrap();
            assert!(st.success(), "ip {args:?}");
        };
        ok(&["link", "add", name, "type", "veth", "peer", "name", &peer]);
        ok(&["link", "set", &peer, "netns", ns.0.path().to_str().unwrap()]);
        ok(&["addr", "add", &format!("10.213.{third}.1/24"), "dev", name]);
        ok(&["link", "set", name, "up"]);
        let inside = spawn_in(&ns.0, move || {
            let run_ok = |args: &[&str]| {
                std::process::Command::new("ip")
                    .args(args)
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false)
            };
            run_ok(&["addr", "add", &format!("10.213.{third}.2/24"), "dev", &peer])
                && run_ok(&["link", "set", &peer, "up"])
                && run_ok(&["link", "set", "lo", "up"])
        })
        .join()
        .unwrap();
        assert!(inside, "configure outside namespace");
        Outside { ns, _link: link }
    }
}

/// Replies with the address the connection came from, `count` times.
fn peer_reporter_in(ns: &netd::netns::NetnsPath, port: u16, count: usize) {
    use std::io::Write;
    let (tx, rx) = std::sync::mpsc::channel();
    spawn_in(ns, move || {
        let listener = std::net::TcpListener::bind(("0.0.0.0", port)).unwrap();
        tx.send(()).unwrap();
        for _ in 0..count {
            let Ok((mut s, peer)) = listener.accept() else {
                return;
            };
            let _ = s.write_all(peer.ip().to_string().as_bytes());
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
}

fn who_am_i(from: &netd::netns::NetnsPath, to: SocketAddr) -> Option<String> {
    spawn_in(from, move || {
        use std::io::Read;
        let mut s =
            std::net::TcpStream::connect_timeout(&to, std::time::Duration::from_millis(1500))
                .ok()?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(3)))
            .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    })
    .join()
    .unwrap()
}

async fn masquerade_works(backend: Box<dyn FirewallBackend>, third: u8, tag: &str) {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let net = TestNet::new(dir.path(), &unique("btq", tag), third, 1).await;
    let outside = Outside::new(dir.path(), &unique("btx", tag), third + 1);
    let far = SocketAddr::from(([10, 213, third + 1, 2], 7300));
    peer_reporter_in(&outside.ns.0, 7300, 1);
    // No masquerade: the outside cannot answer a bridge address.
    assert_eq!(who_am_i(net.ns(0), far), None);
    let firewall = Firewall::new(backend).unwrap();
    firewall.add_network(net.rules(false)).unwrap();
    // Masqueraded: the outside sees the host's address on its link.
    let seen = who_am_i(net.ns(0), far);
    assert_eq!(seen, Some(format!("10.213.{}.1", third + 1)));
    firewall.clear().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nftables_masquerade_reaches_the_outside() {
    let table = unique("bt", "q");
    let _cleanup = NftTableGuard(table.clone());
    masquerade_works(Box::new(NftBackend::with_table(table)), 60, "n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iptables_masquerade_reaches_the_outside() {
    let chains = Chains::with_prefix(&unique("BQ", ""));
    let _cleanup = IptablesGuard(chains.clone());
    masquerade_works(Box::new(IptablesBackend::with_chains(chains)), 62, "i").await;
}

/// enable_icc=false: the two containers of one bridge no longer reach each other, while
/// the gateway (the host) still answers them; enable_ip_masquerade=false: no masquerade
/// rule for the subnet.
async fn icc_off(backend: Box<dyn FirewallBackend>, third: u8, tag: &str) -> Firewall {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let net = TestNet::new(dir.path(), &unique("bti", tag), third, 2).await;
    let firewall = Firewall::new(backend).unwrap();
    let server = echo_server_in(net.ns(1), 7300, 2);
    let peer = SocketAddr::from((net.ip(1), 7300));
    assert_eq!(echo_from(net.ns(0), peer, "icc").as_deref(), Some("icc"));

    netd::sysctl::enable_bridge_nf_call_iptables().unwrap();
    let mut rules = net.rules(false);
    rules.options = BridgeOptions {
        icc: false,
        masquerade: false,
    };
    firewall.add_network(rules.clone()).unwrap();
    assert_eq!(echo_from(net.ns(0), peer, "no icc"), None, "icc=false");
    let host = std::net::TcpListener::bind((net.gateway, 0)).unwrap();
    let host_addr = host.local_addr().unwrap();
    let host_echo = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = host.accept().unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        s.write_all(&buf[..n]).unwrap();
    });
    assert_eq!(
        echo_from(net.ns(0), host_addr, "gw").as_deref(),
        Some("gw"),
        "the gateway still answers"
    );
    host_echo.join().unwrap();

    rules.options = BridgeOptions::default();
    firewall.add_network(rules).unwrap();
    assert_eq!(echo_from(net.ns(0), peer, "back").as_deref(), Some("back"));
    server.join().unwrap();
    firewall
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nftables_icc_and_masquerade_options() {
    let table = unique("bt", "o");
    let _cleanup = NftTableGuard(table.clone());
    let backend = NftBackend::with_table(table.clone());
    let firewall = icc_off(Box::new(backend), 70, "n").await;
    let listing = run("nft", &["list", "table", "ip", &table]);
    assert!(
        listing.contains("ip saddr 10.213.70.0/24") && listing.contains("masquerade"),
        "masquerade back with the defaults: {listing}"
    );
    firewall.clear().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iptables_icc_and_masquerade_options() {
    let prefix = unique("BO", "");
    let chains = Chains::with_prefix(&prefix);
    let _cleanup = IptablesGuard(chains.clone());
    let firewall = icc_off(
        Box::new(IptablesBackend::with_chains(chains.clone())),
        72,
        "i",
    )
    .await;
    let nat = run("iptables", &["-w", "-t", "nat", "-S"]);
    assert!(
        nat.contains(&format!("-A {} -s 10.213.72.0/24", chains.postrouting)),
        "{nat}"
    );
    firewall.clear().unwrap();
}
