//! netd as berthd uses it (as root): networks, containers connected by name,
//! a published port, a restart that keeps everything, and a teardown after
//! which nothing of netd's remains (links, addresses, rules counted).

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use common::*;
use netd::firewall::nft::NftBackend;
use netd::firewall::{parse_port_specs, Protocol};
use netd::{ConnectRequest, Netd, NetdConfig, NetworkSpec};

async fn open(state: &Path, netns: &Path, table: &str) -> Netd {
    let resolv = state.join("host-resolv.conf");
    std::fs::create_dir_all(state).unwrap();
    std::fs::write(&resolv, "nameserver 127.0.0.53\nsearch lab\n").unwrap();
    Netd::open(NetdConfig {
        state_dir: state.to_path_buf(),
        netns_dir: netns.to_path_buf(),
        default_address_pools: vec!["base=10.213.40.0/22,size=24".parse().unwrap()],
        default_address_pools6: Vec::new(),
        firewall: Box::new(NftBackend::with_table(table)),
        resolv_conf: resolv,
    })
    .await
    .unwrap()
}

fn connect_req(
    network: &str,
    container: &str,
    ns: &netd::netns::NetnsPath,
    names: &[&str],
) -> ConnectRequest {
    ConnectRequest {
        network_id: network.into(),
        container_id: container.into(),
        netns: ns.clone(),
        ifname: "eth0".into(),
        ip: None,
        ip6: None,
        mac: None,
        names: names.iter().map(|s| s.to_string()).collect(),
        default_route: true,
        links: Vec::new(),
        link_local: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_by_name_published_ports_restart_and_clean_teardown() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let nsdir = dir.path().join("netns");
    let table = unique("bt", "m");
    let _cleanup = NftTableGuard(table.clone());
    let (front_br, back_br, default_br) =
        (unique("btm", "f"), unique("btm", "b"), unique("btm", "d"));
    let _links = LinkGuard(vec![front_br.clone(), back_br.clone(), default_br.clone()]);

    let netd = open(&state, &nsdir, &table).await;
    let front = netd
        .create_network(&NetworkSpec {
            id: "f0000000000000001".into(),
            name: "front".into(),
            bridge: Some(front_br.clone()),
            dns: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(front.subnet, "10.213.40.0/24".parse().unwrap());
    let back = netd
        .create_network(&NetworkSpec {
            id: "b0000000000000002".into(),
            name: "back".into(),
            bridge: Some(back_br.clone()),
            dns: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(back.subnet, "10.213.41.0/24".parse().unwrap());
    // The default bridge from --bip (on a test-named device instead of berth0).
    let mut spec =
        NetworkSpec::default_bridge("d0000000000000003", Some("10.213.44.1/24"), None).unwrap();
    assert_eq!(spec.bridge.as_deref(), Some(::netd::DEFAULT_BRIDGE));
    assert!(!spec.dns);
    spec.bridge = Some(default_br.clone());
    let default = netd.create_network(&spec).await.unwrap();
    assert_eq!(default.gateway, Ipv4Addr::new(10, 213, 44, 1));
    assert_eq!(default.subnet, "10.213.44.0/24".parse().unwrap());

    let web_ns = NsGuard(netd.create_netns("web0000000000000").unwrap());
    let client_ns = NsGuard(netd.create_netns("cli0000000000000").unwrap());
    let other_ns = NsGuard(netd.create_netns("oth0000000000000").unwrap());
    let web = netd
        .connect(&connect_req(&front.id, "web", &web_ns.0, &["web", "www"]))
        .await
        .unwrap();
    assert_eq!(web.endpoint.address.addr(), Ipv4Addr::new(10, 213, 40, 2));
    assert_eq!(web.gateway, Ipv4Addr::new(10, 213, 40, 1));
    let mut fixed = connect_req(&front.id, "client", &client_ns.0, &["client"]);
    fixed.ip = Some(Ipv4Addr::new(10, 213, 40, 50));
    netd.connect(&fixed).await.unwrap();
    netd.connect(&connect_req(&back.id, "other", &other_ns.0, &["other"]))
        .await
        .unwrap();
    assert!(netd.start_dns("client", &client_ns.0, &[]).unwrap());
    assert!(netd.start_dns("other", &other_ns.0, &[]).unwrap());
    // One listener per namespace: asked again (another network connected), it stays.
    assert!(!netd.start_dns("client", &client_ns.0, &[]).unwrap());
    let again = netd
        .connect(&connect_req(&back.id, "other", &other_ns.0, &["other"]))
        .await
        .unwrap_err();
    assert_eq!(
        again.to_string(),
        "endpoint with name other already exists in network back"
    );
    let in_use = netd.remove_network(&back.id).await.unwrap_err();
    assert_eq!(
        in_use.to_string(),
        "error while removing network: network back id b0000000000000002 has active endpoints"
    );
    assert_eq!(
        netd.container_resolv_conf(true, &Default::default()),
        "search lab\nnameserver 127.0.0.11\noptions ndots:0\n"
    );

    // By name and by alias over TCP; not from the other network.
    let web_ip = web.endpoint.address.addr();
    let server = echo_server_in(&web_ns.0, 80, 4);
    for name in ["web.", "www."] {
        let ips = resolve_in(&client_ns.0, name);
        assert_eq!(ips, vec![web_ip], "{name}");
        let got = echo_from(&client_ns.0, SocketAddr::from((ips[0], 80)), name);
        assert_eq!(got.as_deref(), Some(name));
    }
    assert!(resolve_in(&other_ns.0, "web.").is_empty());
    assert_eq!(
        echo_from(&other_ns.0, SocketAddr::from((web_ip, 80)), "no"),
        None
    );

    // -p 127.0.0.1::80 picks a free port.
    let published = netd
        .publish(
            "web",
            &front.id,
            &parse_port_specs("127.0.0.1::80").unwrap(),
        )
        .unwrap();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].protocol, Protocol::Tcp);
    let port = published[0].host_port;
    assert_eq!(netd.published("web").unwrap(), published);
    let on_lo = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    assert_eq!(echo(on_lo, "p1").as_deref(), Some("p1"));

    // berthd restarts: state, rules and reservations come back.
    drop(netd);
    let netd = open(&state, &nsdir, &table).await;
    assert_eq!(netd.published("web").unwrap(), published);
    assert_eq!(echo(on_lo, "p2").as_deref(), Some("p2"));
    netd.start_dns("client", &client_ns.0, &[]).unwrap();
    assert_eq!(resolve_in(&client_ns.0, "web."), vec![web_ip]);
    server.join().unwrap();
    // Leases survived: the next container does not get web's or client's address.
    let late_ns = NsGuard(netd.create_netns("late000000000000").unwrap());
    let late = netd
        .connect(&connect_req(&front.id, "late", &late_ns.0, &["late"]))
        .await
        .unwrap();
    assert_eq!(late.endpoint.address.addr(), Ipv4Addr::new(10, 213, 40, 3));

    // docker network disconnect of a running container.
    netd.disconnect(&front.id, "late", true).await.unwrap();
    assert!(resolve_in(&client_ns.0, "late.").is_empty());
    assert_eq!(count_links(&late.endpoint.host_ifname), 0);

    // A second -p for the same container adds to the first.
    let more = netd
        .publish(
            "web",
            &front.id,
            &parse_port_specs("127.0.0.1::81/udp").unwrap(),
        )
        .unwrap();
    assert_eq!(netd.published("web").unwrap().len(), 2);
    assert_eq!(more[0].protocol, Protocol::Udp);

    // docker rm -f web: its rules, names and lease go.
    netd.release_container("web", Some(&web_ns.0))
        .await
        .unwrap();
    assert!(netd.published("web").unwrap().is_empty());
    assert!(netd.firewall().state().unwrap().ports.is_empty());
    assert!(resolve_in(&client_ns.0, "web.").is_empty());
    // The rest go with teardown (berthd stopping without live restore).
    for ns in [&client_ns, &other_ns, &late_ns] {
        netd.remove_netns(&ns.0).unwrap();
    }
    netd.teardown().await.unwrap();
    drop(netd);
    for name in [&front_br, &back_br, &default_br] {
        assert_eq!(count_links(name), 0, "{name} left");
    }
    assert_eq!(count_links(&web.endpoint.host_ifname), 0);
    let addrs = run("ip", &["-o", "-4", "addr"]);
    assert_eq!(addrs.matches("10.213.4").count(), 0, "{addrs}");
    assert_eq!(run("nft", &["list", "table", "ip", &table]), "");
    // The port is free again.
    assert!(std::net::TcpListener::bind(on_lo).is_ok());
}
