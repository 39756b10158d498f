//! Bridges and endpoints (as root): two namespaces on one bridge reach each
//! other, and nothing of netd's is left after teardown.

mod common;

use std::net::{Ipv4Addr, SocketAddr};

use common::*;
use netd::network::{self, BridgeConfig, EndpointConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_endpoints_on_one_bridge_talk_and_teardown_leaves_nothing() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let bridge = unique("btn", "a");
    let _bridge_guard = LinkGuard(vec![bridge.clone()]);
    let host = netd::netns::netlink_here().unwrap();
    let config = BridgeConfig {
        owner: format!("/tmp/netd-test-{}", std::process::id()),
        network_id: format!("test-{bridge}"),
        name: bridge.clone(),
        gateway: "10.213.1.1/24".parse().unwrap(),
        gateway6: None,
        mtu: Some(1450),
    };
    network::create_bridge(&host, &config).await.unwrap();
    // Adopting an existing bridge (a restart) is not an error.
    network::create_bridge(&host, &config).await.unwrap();

    let ns_a = NsGuard::new(dir.path(), "a");
    let ns_b = NsGuard::new(dir.path(), "b");
    let mut endpoints = Vec::new();
    for (ns, ip) in [(&ns_a, [10, 213, 1, 2]), (&ns_b, [10, 213, 1, 3])] {
        let ep = network::attach(
            &host,
            &EndpointConfig {
                netns: ns.0.clone(),
                bridge: bridge.clone(),
                ifname: "eth0".into(),
                address: ipnet::Ipv4Net::new(ip.into(), 24).unwrap(),
                gateway: Some(Ipv4Addr::new(10, 213, 1, 1)),
                mtu: Some(1450),
                mac: None,
                extra_addresses: Vec::new(),
                address6: None,
                gateway6: None,
            },
        )
        .await
        .unwrap();
        endpoints.push(ep);
    }
    let _veth_guard = LinkGuard(endpoints.iter().map(|e| e.host_ifname.clone()).collect());

    // Inside: eth0 with the address, the MAC, the MTU and the default route.
    let inside = spawn_in(&ns_a.0, || {
        (
            run("ip", &["-o", "addr", "show", "dev", "eth0"]),
            run("ip", &["-o", "link", "show", "dev", "eth0"]),
            run("ip", &["route"]),
        )
    })
    .join()
    .unwrap();
    assert!(inside.0.contains("10.213.1.2/24"), "{}", inside.0);
    assert!(inside.1.contains("02:42:0a:d5:01:02"), "{}", inside.1);
    assert!(inside.1.contains("mtu 1450"), "{}", inside.1);
    assert!(
        inside.2.contains("default via 10.213.1.1 dev eth0"),
        "{}",
        inside.2
    );

    let server = echo_server_in(&ns_b.0, 7000, 2);
    let to_b = SocketAddr::from(([10, 213, 1, 3], 7000));
    assert_eq!(echo_from(&ns_a.0, to_b, "hello").as_deref(), Some("hello"));
    // The host reaches it through the bridge's address too.
    assert_eq!(echo(to_b, "host").as_deref(), Some("host"));
    server.join().unwrap();

    // docker network disconnect: the pair goes while the namespace stays.
    network::detach(&host, &endpoints[0]).await.unwrap();
    let gone = spawn_in(&ns_a.0, || run("ip", &["-o", "link"]))
        .join()
        .unwrap();
    assert!(!gone.contains("eth0"), "{gone}");

    let listed = netd::netns::list(dir.path()).unwrap();
    assert_eq!(listed, vec![ns_a.0.clone(), ns_b.0.clone()]);

    // Removing the namespace frees the other pair; then the bridge goes.
    drop(ns_b);
    network::delete_bridge(&host, &bridge, &config.owner, &config.network_id)
        .await
        .unwrap();
    for _ in 0..50 {
        if endpoints.iter().all(|e| count_links(&e.host_ifname) == 0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(count_links(&bridge), 0);
    for e in &endpoints {
        assert_eq!(count_links(&e.host_ifname), 0, "{} left", e.host_ifname);
    }
    assert!(!run("ip", &["-o", "addr"]).contains("10.213.1."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_bridges_are_cleaned_and_host_routes_listed() {
    init_tracing();
    let host = netd::netns::netlink_here().unwrap();
    let stale = unique("btn", "s");
    let kept = unique("btn", "k");
    let _guard = LinkGuard(vec![stale.clone(), kept.clone()]);
    // An owner of its own: the other tests of this process keep their bridges.
    let owner = format!("/tmp/netd-test-{}-stale", std::process::id());
    for (name, gw) in [(&stale, "10.213.2.1/24"), (&kept, "10.213.3.1/24")] {
        let config = BridgeConfig {
            owner: owner.clone(),
            network_id: format!("id-{name}"),
            name: name.clone(),
            gateway: gw.parse().unwrap(),
            gateway6: None,
            mtu: None,
        };
        network::create_bridge(&host, &config).await.unwrap();
    }
    let routes = network::host_routes(&host).await.unwrap();
    assert!(
        routes.contains(&"10.213.2.0/24".parse().unwrap()),
        "{routes:?}"
    );

    let keep_id = format!("id-{kept}");
    // Another owner's bridges are never touched.
    let none = network::cleanup_stale_bridges(&host, "/tmp/someone-else", &[])
        .await
        .unwrap();
    assert!(!none.contains(&kept) && !none.contains(&stale), "{none:?}");
    let deleted = network::cleanup_stale_bridges(&host, &owner, &[keep_id.as_str()])
        .await
        .unwrap();
    assert_eq!(deleted, vec![stale.clone()]);
    assert_eq!(count_links(&stale), 0);
    assert_eq!(count_links(&kept), 1);
    network::delete_bridge(&host, &kept, &owner, &keep_id)
        .await
        .unwrap();
    assert_eq!(count_links(&kept), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_netd_did_not_make_are_refused_or_left_alone() {
    init_tracing();
    let host = netd::netns::netlink_here().unwrap();
    let veth = unique("btn", "v");
    let peer = unique("btn", "p");
    let users = unique("btn", "u");
    let _guard = LinkGuard(vec![veth.clone(), users.clone()]);
    run(
        "ip",
        &["link", "add", &veth, "type", "veth", "peer", "name", &peer],
    );
    run("ip", &["link", "add", &users, "type", "bridge"]);
    run("ip", &["link", "set", &users, "alias", "the user's own"]);
    let owner = format!("/tmp/netd-test-{}-foreign", std::process::id());
    let config = |name: &str, gw: &str| BridgeConfig {
        owner: owner.clone(),
        network_id: format!("id-{name}"),
        name: name.to_string(),
        gateway: gw.parse().unwrap(),
        gateway6: None,
        mtu: None,
    };
    // A veth is not a bridge: refused with dockerd's message, left as it was.
    let err = network::create_bridge(&host, &config(&veth, "10.213.4.1/24"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("existing interface {veth} is not a bridge")
    );
    network::delete_bridge(&host, &veth, &owner, &format!("id-{veth}"))
        .await
        .unwrap();
    assert!(run("ip", &["-o", "link", "show", &veth]).contains(&veth));
    assert!(!run("ip", &["-o", "addr", "show", &veth]).contains("10.213.4."));
    // The user's bridge is used, keeps its alias, and is not deleted with the network.
    let users_config = config(&users, "10.213.5.1/24");
    network::create_bridge(&host, &users_config).await.unwrap();
    assert!(run("ip", &["-o", "link", "show", &users]).contains("alias the user's own"));
    network::delete_bridge(&host, &users, &owner, &users_config.network_id)
        .await
        .unwrap();
    assert_eq!(count_links(&users), 1);
    // Nor by the start-up cleanup.
    network::cleanup_stale_bridges(&host, &owner, &[])
        .await
        .unwrap();
    assert_eq!(count_links(&users), 1);
}

/// What one endpoint costs (namespace, veth born inside it, configuration),
/// printed for the benchmark notes: with no link moved between namespaces
/// there is no RCU grace period (~35 ms each on this kernel) to wait for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_cost() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let net = TestNet::new(dir.path(), &unique("btc", "a"), 50, 0).await;
    let host = netd::netns::netlink_here().unwrap();
    let mut guards = Vec::new();
    let mut veths = LinkGuard(vec![]);
    let rounds = 10u8;
    let started = std::time::Instant::now();
    for i in 0..rounds {
        let ns = NsGuard::new(dir.path(), &format!("c{i}"));
        let ep = network::attach(
            &host,
            &EndpointConfig {
                netns: ns.0.clone(),
                bridge: net.bridge.clone(),
                ifname: "eth0".into(),
                address: ipnet::Ipv4Net::new(Ipv4Addr::new(10, 213, 50, 10 + i), 24).unwrap(),
                gateway: Some(net.gateway),
                mtu: None,
                mac: None,
                extra_addresses: Vec::new(),
                address6: None,
                gateway6: None,
            },
        )
        .await
        .unwrap();
        veths.0.push(ep.host_ifname);
        guards.push(ns);
    }
    let per = started.elapsed() / u32::from(rounds);
    let started = std::time::Instant::now();
    drop(guards);
    let removal = started.elapsed() / u32::from(rounds);
    eprintln!("attach_cost: namespace + endpoint {per:?} each; namespace removal {removal:?} each");
    assert!(per < std::time::Duration::from_secs(1));
}
