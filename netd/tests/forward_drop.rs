//! Both backends on a host whose filter tables drop forwarded traffic: the iptables-nft
//! `FORWARD` chain and the legacy one both at policy `DROP`, with br_netfilter passing
//! bridged frames through them. Containers of one bridge still talk, isolation and
//! published ports still work, the host's tables stay readable by iptables, and Berth's
//! rules leave them again.
//!
//! Each test runs on a thread of its own that has unshared its network namespace (and
//! runs its tokio runtime and every command it spawns there), so the `DROP` policy never
//! touches the host's: the namespace, its bridges and its tables go with the thread.

mod common;

use std::net::{Ipv4Addr, SocketAddr};

use common::*;
use netd::firewall::{
    iptables::{Chains, IptablesBackend},
    nft::NftBackend,
    Firewall, FirewallBackend, PortAllocator, PortRule, PortSpec, Protocol,
};

/// Both filter tables (iptables-nft's and the legacy one) drop forwarded packets; br_netfilter
/// is per namespace, so bridged IPv4 meets them here too.
const FORWARD_DROP: &str = "echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables \
    && iptables -w -P FORWARD DROP && iptables-legacy -w -P FORWARD DROP";

async fn containers_talk_under_drop(backend: Box<dyn FirewallBackend>, chain: &str) {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let a = TestNet::new(dir.path(), "fda", 1, 2).await;
    let b = TestNet::new(dir.path(), "fdb", 2, 1).await;
    let firewall = Firewall::new(backend).unwrap();
    firewall.add_network(a.rules(false)).unwrap();
    firewall.add_network(b.rules(false)).unwrap();

    // Two containers of one bridge.
    let server = echo_server_in(a.ns(1), 7000, 1);
    let peer = SocketAddr::from((a.ip(1), 7000));
    assert_eq!(
        echo_from(a.ns(0), peer, "same bridge").as_deref(),
        Some("same bridge")
    );
    server.join().unwrap();
    // Another network still cannot.
    assert_eq!(echo_from(b.ns(0), peer, "isolated"), None, "isolation");

    // A published port: from the host and from the other network through its gateway.
    let reservation = PortAllocator::default()
        .reserve(&PortSpec {
            host_ip: None,
            host_ports: None,
            container_port: 7001,
            protocol: Protocol::Tcp,
        })
        .unwrap();
    firewall
        .add_ports(vec![PortRule {
            owner: "c".into(),
            bridge: a.bridge.clone(),
            protocol: Protocol::Tcp,
            host_ip: None,
            host_port: reservation.host_port,
            container_ip: a.ip(1).into(),
            container_port: 7001,
        }])
        .unwrap();
    let published = echo_server_in(a.ns(1), 7001, 2);
    let port = reservation.host_port;
    let lo = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    assert_eq!(echo(lo, "host").as_deref(), Some("host"));
    let via_gateway = SocketAddr::from((b.gateway, port));
    assert_eq!(
        echo_from(b.ns(0), via_gateway, "cross").as_deref(),
        Some("cross")
    );
    published.join().unwrap();

    // Both filter tables still read by their own tools, with Berth's accepts in them.
    for tool in ["iptables", "iptables-legacy"] {
        let rules = sh(&format!("{tool} -w -S"));
        assert!(rules.contains("-P FORWARD DROP"), "{tool}: {rules}");
        assert!(
            rules.contains(&format!("-A {chain} -i fda")),
            "{tool}: {rules}"
        );
    }

    // Berth's rules go with its networks; the policy stays the host's.
    firewall.clear().unwrap();
    for tool in ["iptables", "iptables-legacy"] {
        let rules = sh(&format!("{tool} -w -S"));
        assert!(rules.contains("-P FORWARD DROP"), "{tool}: {rules}");
        assert!(!rules.contains("fda"), "{tool}: {rules}");
        let prefix = chain.split('-').next().unwrap_or(chain);
        assert!(!rules.contains(prefix), "{tool}: {rules}");
    }
    // And without them the containers are cut off again.
    let server = echo_server_in(a.ns(1), 7002, 1);
    let peer = SocketAddr::from((a.ip(1), 7002));
    assert_eq!(echo_from(a.ns(0), peer, "dropped"), None, "policy DROP");
    drop(server);
}

#[test]
fn nftables_under_forward_drop() {
    in_private_netns(FORWARD_DROP, || async {
        let backend = NftBackend::with_table("bfd");
        let chain = backend.filter_chains().forward.clone();
        containers_talk_under_drop(Box::new(backend), &chain).await;
        assert_eq!(sh("nft list tables | grep -c bfd || true").trim(), "0");
    });
}

#[test]
fn iptables_under_forward_drop() {
    in_private_netns(FORWARD_DROP, || async {
        let chains = Chains::with_prefix("BFD");
        let chain = chains.forward.clone();
        containers_talk_under_drop(Box::new(IptablesBackend::with_chains(chains)), &chain).await;
    });
}
