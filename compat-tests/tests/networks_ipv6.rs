//! IPv6 as dockerd 25+ has it, through the stock CLI, on ULA ranges of the test's own:
//! `docker network create --ipv6 --subnet`, `--ip6`, addresses and routes in the
//! container, TCP between containers over IPv6, AAAA and ip6.arpa PTR records from the
//! embedded DNS, a published port answering on `::` too, NAT66 in the ip6 table, the
//! inspect fields; the default bridge with `--ipv6 --fixed-cidr-v6`; and nothing left
//! behind (ip6 table, filter chains, addresses).
mod common;

use std::io::{Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use common::network::{
    cleanup_network, filter_chains_left, free_port, host_addresses, ip6_table_exists, table_of,
};
use common::{eventually, Daemon, Fixtures};
use serde_json::{json, Value};

const PAGE: &str = "Berth httpd fixture";

/// A ULA /64 of this test process: `fd42:<pid>:<n>::/64`.
fn ula(n: u16) -> String {
    format!("fd42:{:x}:{n:x}::", std::process::id() % 0xffff)
}

/// `GET /` to `addr` from the host.
fn http_get6(addr: SocketAddr) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn a_user_network_with_ipv6() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let httpd = d.pull_fixture(&f, "httpd");
    let nc = d.pull_fixture(&f, "netclient");
    let prefix = ula(1);
    let subnet = format!("{prefix}/64");
    d.docker_ok(&["network", "create", "--ipv6", "--subnet", &subnet, "v6net"]);
    let net: Value =
        serde_json::from_str(&d.docker_ok(&["network", "inspect", "-f", "{{json .}}", "v6net"]))
            .expect("json");
    assert_eq!(net["EnableIPv6"], true);
    assert!(
        net["IPAM"]["Config"]
            .as_array()
            .expect("config")
            .contains(&json!({"Subnet": subnet})),
        "a subnet given without its gateway is shown without one, as dockerd's: {}",
        net["IPAM"]
    );

    let port = free_port();
    let publish = format!("{port}:80");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "v6net",
        "-p",
        &publish,
        &httpd,
    ]);
    let fixed = format!("{prefix}99");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "fixed",
        "--network",
        "v6net",
        "--ip6",
        &fixed,
        &nc,
        "sleep",
        "300",
    ]);
    let web: Value =
        serde_json::from_str(&d.docker_ok(&["inspect", "-f", "{{json .NetworkSettings}}", "web"]))
            .expect("json");
    let ep = &web["Networks"]["v6net"];
    let web6 = format!("{prefix}2");
    assert_eq!(ep["GlobalIPv6Address"], web6.as_str());
    assert_eq!(ep["GlobalIPv6PrefixLen"], 64);
    assert_eq!(ep["IPv6Gateway"], format!("{prefix}1"));
    assert_eq!(
        web["Ports"]["80/tcp"],
        json!([{"HostIp": "0.0.0.0", "HostPort": port.to_string()},
               {"HostIp": "::", "HostPort": port.to_string()}])
    );
    let containers = d.docker_ok(&["network", "inspect", "-f", "{{json .Containers}}", "v6net"]);
    assert!(
        containers.contains(&format!("\"IPv6Address\":\"{web6}/64\"")),
        "{containers}"
    );

    // In the container: its address and the default route through the gateway.
    let addrs = d.docker_ok(&["exec", "fixed", "ip", "-6", "addr", "show", "eth0"]);
    assert!(addrs.contains(&format!("inet6 {fixed}/64")), "{addrs}");
    let routes = d.docker_ok(&["exec", "fixed", "ip", "-6", "route"]);
    assert!(
        routes.contains(&format!("default via {prefix}1")),
        "{routes}"
    );
    let hosts = d.docker_ok(&["exec", "fixed", "cat", "/etc/hosts"]);
    assert!(hosts.contains(&format!("{fixed}\t")), "{hosts}");
    // TCP over IPv6 between two containers.
    let url = format!("http://[{web6}]/");
    eventually("fixed fetches web's page over IPv6", || {
        // (busybox-static's wget crashes with -T.)
        let out = d.docker(&["exec", "fixed", "wget", "-q", "-O", "-", &url]);
        common::stdout(&out).contains(PAGE)
    });
    // AAAA and ip6.arpa PTR.
    let aaaa = d.docker_ok(&[
        "exec",
        "fixed",
        "nslookup",
        "-type=AAAA",
        "web",
        "127.0.0.11",
    ]);
    assert!(aaaa.contains(&format!("Address: {web6}")), "{aaaa}");
    let ptr = d.docker_ok(&["exec", "fixed", "nslookup", &web6, "127.0.0.11"]);
    assert!(ptr.contains("name = web.v6net"), "{ptr}");

    // The published port answers on IPv6 too (here through the bridge's gateway address).
    let gw: Ipv6Addr = format!("{prefix}1").parse().expect("gateway");
    let page = http_get6(SocketAddr::from((gw, port))).unwrap_or_default();
    assert!(page.contains(PAGE), "published over IPv6: {page}");
    // NAT66 for traffic leaving the host.
    let table = table_of(d.dir.path());
    let rules = std::process::Command::new("nft")
        .args(["list", "table", "ip6", &table])
        .output()
        .expect("nft");
    let rules = String::from_utf8_lossy(&rules.stdout);
    assert!(
        rules.contains(&format!("ip6 saddr {subnet}")) && rules.contains("masquerade"),
        "{rules}"
    );

    // An IPv6 address on a network without IPv6, or the default bridge, is refused.
    let err = d.docker_err(&["run", "--rm", "--ip6", &fixed, &nc, "true"]);
    assert!(
        err.contains("user specified IP address is supported only"),
        "{err}"
    );

    d.docker_ok(&["rm", "-f", "web", "fixed"]);
    d.docker_ok(&["network", "rm", "v6net"]);
    assert!(
        !ip6_table_exists(&table),
        "the ip6 table goes with the last IPv6 network"
    );
    assert_eq!(host_addresses(&prefix), Vec::<String>::new());
    d.stop();
    let (links, _) = cleanup_network(d.dir.path());
    assert_eq!(links.len(), 1, "only the default bridge: {links:?}");
}

/// `--aux-address` in an IPv6 subnet: shown in the subnet's IPAM config, reserved (the
/// first container gets the next address, `--ip6` on it is refused), as the IPv4 ones.
#[test]
fn ipv6_auxiliary_addresses_are_reserved_never_leased() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let bb = d.pull_fixture(&f, "busybox");
    let prefix = ula(3);
    let subnet = format!("{prefix}/64");
    let aux = format!("r6={prefix}2");
    d.docker_ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &subnet,
        "--aux-address",
        &aux,
        "v6aux",
    ]);
    let config: Value = serde_json::from_str(&d.docker_ok(&[
        "network",
        "inspect",
        "-f",
        "{{json .IPAM.Config}}",
        "v6aux",
    ]))
    .expect("json");
    let v6 = config
        .as_array()
        .expect("config")
        .iter()
        .find(|c| c["Subnet"] == subnet.as_str())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        v6["AuxiliaryAddresses"],
        json!({"r6": format!("{prefix}2")}),
        "{config}"
    );
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "v6aux",
        &bb,
        "ip",
        "-6",
        "-o",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(out.contains(&format!("inet6 {prefix}3/64")), "{out}");
    let taken = format!("{prefix}2");
    let err = d.docker_err(&[
        "run",
        "--rm",
        "--network",
        "v6aux",
        "--ip6",
        &taken,
        &bb,
        "true",
    ]);
    assert!(err.contains("Address already in use"), "{err}");

    d.docker_ok(&["network", "rm", "v6aux"]);
    // Outside the subnet (the CLI would not send it): dockerd's words.
    let body = json!({"Name": "v6bad", "EnableIPv6": true, "IPAM": {"Config": [
        {"Subnet": subnet, "AuxiliaryAddresses": {"r7": format!("{}2", ula(4))}}]}});
    let r = d.api("POST", "/networks/create", Some(&body.to_string()));
    assert!(
        r.text().contains("must belong to the master pool"),
        "{}",
        r.text()
    );
    assert_ne!(r.status, 201);
    d.stop();
    cleanup_network(d.dir.path());
}

/// dockerd 26+: a container's interface to a network without IPv6 has IPv6 off (no
/// link-local address); one to a network with IPv6 keeps it; `lo` keeps `::1`.
#[test]
fn ipv6_is_off_on_interfaces_of_networks_without_it() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let bb = d.pull_fixture(&f, "busybox");
    let prefix = ula(5);
    let subnet = format!("{prefix}/64");
    d.docker_ok(&["network", "create", "--ipv6", "--subnet", &subnet, "v6on"]);
    d.docker_ok(&["run", "-d", "--name", "two", &bb, "sleep", "300"]);
    d.docker_ok(&["network", "connect", "v6on", "two"]);
    let sysctl = |ifname: &str| {
        d.docker_ok(&[
            "exec",
            "two",
            "cat",
            &format!("/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6"),
        ])
        .trim()
        .to_string()
    };
    assert_eq!(
        sysctl("eth0"),
        "1",
        "eth0 is on the default bridge (no IPv6)"
    );
    assert_eq!(sysctl("eth1"), "0", "eth1 is on v6on");
    let eth0 = d.docker_ok(&["exec", "two", "ip", "-6", "-o", "addr", "show", "eth0"]);
    assert_eq!(eth0.trim(), "", "no IPv6 address on eth0");
    let eth1 = d.docker_ok(&["exec", "two", "ip", "-6", "-o", "addr", "show", "eth1"]);
    assert!(eth1.contains(&format!("inet6 {prefix}2/64")), "{eth1}");
    let lo = d.docker_ok(&["exec", "two", "ip", "-6", "-o", "addr", "show", "lo"]);
    assert!(lo.contains("inet6 ::1/128"), "{lo}");

    d.docker_ok(&["rm", "-f", "two"]);
    d.docker_ok(&["network", "rm", "v6on"]);
    d.stop();
    cleanup_network(d.dir.path());
}

/// `-p [::1]:port:80`: DNAT from the loopback address does not route, so a userland
/// proxy (as dockerd's docker-proxy) serves it, to the container's IPv6 address or, on
/// a network without IPv6, its IPv4 one; it goes with the container and comes back
/// with a daemon that restarts while the container runs.
#[test]
fn ports_published_on_ipv6_loopback_answer_there() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let httpd = d.pull_fixture(&f, "httpd");
    let prefix = ula(6);
    let subnet = format!("{prefix}/64");
    d.docker_ok(&["network", "create", "--ipv6", "--subnet", &subnet, "v6lo"]);
    let (p4, p6, plo4) = (free_port(), free_port(), free_port());
    let on_v4 = format!("[::1]:{p4}:80");
    let on_v4_lo = format!("127.0.0.1:{plo4}:80");
    d.docker_ok(&[
        "run", "-d", "--name", "web4", "-p", &on_v4, "-p", &on_v4_lo, &httpd,
    ]);
    let on_v6 = format!("[::1]:{p6}:80");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web6",
        "--network",
        "v6lo",
        "-p",
        &on_v6,
        &httpd,
    ]);
    let loopback = |port: u16| http_get6(SocketAddr::from((Ipv6Addr::LOCALHOST, port)));
    eventually("web4 answers on [::1]", || {
        loopback(p4).unwrap_or_default().contains(PAGE)
    });
    eventually("web6 answers on [::1]", || {
        loopback(p6).unwrap_or_default().contains(PAGE)
    });
    let port = d.docker_ok(&["port", "web4", "80/tcp"]);
    assert!(port.contains(&format!("[::1]:{p4}")), "{port}");
    assert!(port.contains(&format!("127.0.0.1:{plo4}")), "{port}");

    // The daemon dies and comes back: the containers ran on, the ports answer again.
    d.kill9();
    d.restart_with(&[]);
    eventually("web6 answers on [::1] after the restart", || {
        loopback(p6).unwrap_or_default().contains(PAGE)
    });

    // Gone with the container: the host port is free again.
    d.docker_ok(&["rm", "-f", "web4", "web6"]);
    for p in [p4, p6] {
        assert!(
            std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, p)).is_ok(),
            "[::1]:{p} is free again"
        );
    }
    d.docker_ok(&["network", "rm", "v6lo"]);
    d.stop();
    cleanup_network(d.dir.path());
}

#[test]
fn the_default_bridge_with_ipv6_and_fixed_cidr_v6() {
    let f = Fixtures::load();
    let prefix = ula(2);
    let cidr = format!("{prefix}/64");
    let mut d = Daemon::start_with(&["--ipv6", "--fixed-cidr-v6", &cidr]);
    let nc = d.pull_fixture(&f, "netclient");
    let bridge = d.docker_ok(&[
        "network",
        "inspect",
        "-f",
        "{{.EnableIPv6}} {{json .IPAM.Config}}",
        "bridge",
    ]);
    assert!(bridge.starts_with("true "), "{bridge}");
    assert!(
        bridge.contains(&format!("\"Subnet\":\"{cidr}\"")),
        "{bridge}"
    );
    d.docker_ok(&["run", "-d", "--name", "v6c", &nc, "sleep", "300"]);
    let top = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.GlobalIPv6Address}} {{.NetworkSettings.GlobalIPv6PrefixLen}} {{.NetworkSettings.IPv6Gateway}}",
        "v6c",
    ]);
    assert_eq!(top.trim(), format!("{prefix}2 64 {prefix}1"));
    let routes = d.docker_ok(&["exec", "v6c", "ip", "-6", "route"]);
    assert!(
        routes.contains(&format!("default via {prefix}1")),
        "{routes}"
    );
    d.docker_ok(&["rm", "-f", "v6c"]);
    d.stop();
    // The default bridge stays after a stop, as docker0 does: the leak check counts what
    // cleanup finds, ip6 included, and then nothing may be left.
    let (links, had_firewall) = cleanup_network(d.dir.path());
    assert_eq!(links.len(), 1, "{links:?}");
    assert!(had_firewall);
    assert!(!ip6_table_exists(&table_of(d.dir.path())));
    assert_eq!(filter_chains_left(d.dir.path()), Vec::<String>::new());
    assert_eq!(host_addresses(&prefix), Vec::<String>::new());
}
