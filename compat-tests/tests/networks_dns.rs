//! Names and reachability between containers, seen from inside a container through the
//! stock CLI: the `netclient` fixture resolves with getaddrinfo (so through
//! /etc/resolv.conf and the embedded DNS at 127.0.0.11) and fetches the `httpd` fixture's
//! page over TCP. Its exit codes tell "cannot resolve" (3) from "cannot connect" (4).
//! Also `--dns` servers as the embedded DNS's upstreams, per container.
//!
//! Names the embedded DNS does not know are forwarded upstream: every client here is
//! given a [`TinyDns`] of the test's own on a host loopback address as `--dns`, so no
//! query leaves the machine (it answers NXDOMAIN for what it does not know).
mod common;

use common::network::ip_on;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::dns::TinyDns;

use common::network::{cleanup_network, links_of};
use common::{Daemon, Fixtures};

/// netclient's exit codes (compat-tests/fixtures/netclient.c).
const CANNOT_RESOLVE: i32 = 3;
const CANNOT_CONNECT: i32 = 4;

/// The page the `httpd` fixture serves (a line of it).
const PAGE: &str = "Berth httpd fixture";

/// `docker run --rm --network <network> --dns <dns> <netclient> netclient <args>`:
/// (exit code, stdout).
fn client(d: &Daemon, image: &str, network: &str, dns: &TinyDns, args: &[&str]) -> (i32, String) {
    let dns = dns.addr.to_string();
    let mut all = vec![
        "run",
        "--rm",
        "--network",
        network,
        "--dns",
        &dns,
        image,
        "netclient",
    ];
    all.extend_from_slice(args);
    let out = d.docker(&all);
    (out.status.code().unwrap_or(-1), common::stdout(&out))
}

/// Fetches `http://<host>/` from a container on `network`, retrying while the server
/// starts (up to 20 s); the page.
fn fetch(d: &Daemon, image: &str, network: &str, dns: &TinyDns, host: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, out) = client(d, image, network, dns, &[host, "80"]);
        if code == 0 && out.contains(PAGE) {
            return out;
        }
        if Instant::now() > deadline {
            panic!("fetching http://{host}/ from {network}: exit {code}, {out}");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Every link name in the host's namespace.
fn host_links() -> Vec<String> {
    link_names(&["link", "show"])
}

fn link_names(args: &[&str]) -> Vec<String> {
    let out = std::process::Command::new("ip")
        .arg("-j")
        .args(args)
        .output()
        .expect("ip");
    let links: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    links
        .iter()
        .filter_map(|l| l["ifname"].as_str().map(str::to_string))
        .collect()
}

/// The host ends of the veth pairs plugged into the daemon's bridges.
fn veths_of(d: &Daemon) -> Vec<String> {
    links_of(d.dir.path())
        .iter()
        .flat_map(|bridge| link_names(&["link", "show", "master", bridge]))
        .collect()
}

#[test]
fn names_and_aliases_reach_the_server_over_tcp_and_other_networks_do_not() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let httpd = d.pull_fixture(&f, "httpd");
    let nc = d.pull_fixture(&f, "netclient");
    let dns = TinyDns::start("nothing.berth.test", Ipv4Addr::new(198, 51, 100, 1));
    d.docker_ok(&["network", "create", "front"]);
    d.docker_ok(&["network", "create", "elsewhere"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "front",
        "--network-alias",
        "www",
        &httpd,
    ]);
    // By name, by alias, by name.network; the page comes back whole.
    let page = fetch(&d, &nc, "front", &dns, "web");
    assert!(page.starts_with("HTTP/1."), "{page}");
    fetch(&d, &nc, "front", &dns, "www");
    fetch(&d, &nc, "front", &dns, "web.front");
    let (code, out) = client(&d, &nc, "front", &dns, &["-r", "www"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), ip_on(&d, "web", "front"));

    // From another network: the name is unknown, the address unreachable.
    let web_ip = ip_on(&d, "web", "front");
    let asked = dns.queries();
    let (code, out) = client(&d, &nc, "elsewhere", &dns, &["web", "80"]);
    assert_eq!(code, CANNOT_RESOLVE, "{out}");
    assert!(dns.queries() > asked, "an unknown name goes upstream");
    let (code, out) = client(&d, &nc, "elsewhere", &dns, &["-t", "2", &web_ip, "80"]);
    assert_eq!(
        code, CANNOT_CONNECT,
        "reached {web_ip} from another network: {out}"
    );
    // The default bridge has no embedded DNS: no names there either.
    let (code, out) = client(&d, &nc, "bridge", &dns, &["-t", "2", &web_ip, "80"]);
    assert_eq!(code, CANNOT_CONNECT, "{out}");

    // Nothing leaks: web's veth goes with it, the networks' bridges with them.
    let veths = veths_of(&d);
    assert_eq!(veths.len(), 1, "web's host end on front: {veths:?}");
    d.docker_ok(&["rm", "-f", "web"]);
    d.docker_ok(&["network", "rm", "front", "elsewhere"]);
    assert_eq!(links_of(d.dir.path()).len(), 1, "only the default bridge");
    let left: Vec<String> = host_links()
        .into_iter()
        .filter(|l| veths.contains(l))
        .collect();
    assert!(left.is_empty(), "veths left behind: {left:?}");
    d.stop();
    cleanup_network(d.dir.path());
}

#[test]
fn connect_and_disconnect_of_a_running_container_take_effect_at_once() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let httpd = d.pull_fixture(&f, "httpd");
    let nc = d.pull_fixture(&f, "netclient");
    let dns = TinyDns::start("nothing.berth.test", Ipv4Addr::new(198, 51, 100, 1));
    let dns_addr = dns.addr.to_string();
    d.docker_ok(&["network", "create", "one"]);
    d.docker_ok(&["network", "create", "two"]);
    d.docker_ok(&["run", "-d", "--name", "srv", "--network", "one", &httpd]);
    fetch(&d, &nc, "one", &dns, "srv");
    let (code, _) = client(&d, &nc, "two", &dns, &["srv", "80"]);
    assert_eq!(code, CANNOT_RESOLVE);

    // A client that keeps running on `two` sees srv as soon as it is connected.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "watcher",
        "--network",
        "two",
        "--dns",
        &dns_addr,
        &nc,
        "sleep",
        "300",
    ]);
    d.docker_ok(&["network", "connect", "--alias", "api", "two", "srv"]);
    for name in ["srv", "api"] {
        let out = d.docker_ok(&["exec", "watcher", "netclient", name, "80"]);
        assert!(out.contains(PAGE), "{name}: {out}");
    }
    let two_ip = ip_on(&d, "srv", "two");
    let out = d.docker_ok(&["exec", "watcher", "netclient", "-r", "api"]);
    assert_eq!(out.trim(), two_ip);

    // Disconnected: neither its names nor its address on `two` answer any more, and on
    // `one` it still serves.
    d.docker_ok(&["network", "disconnect", "two", "srv"]);
    let code = |args: &[&str]| {
        let mut all = vec!["exec", "watcher", "netclient"];
        all.extend_from_slice(args);
        d.docker(&all).status.code().unwrap_or(-1)
    };
    let asked = dns.queries();
    assert_eq!(code(&["srv", "80"]), CANNOT_RESOLVE);
    assert_eq!(code(&["api", "80"]), CANNOT_RESOLVE);
    assert!(dns.queries() > asked, "forwarded to the watcher's --dns");
    assert_eq!(code(&["-t", "2", &two_ip, "80"]), CANNOT_CONNECT);
    fetch(&d, &nc, "one", &dns, "srv");

    d.docker_ok(&["rm", "-f", "srv", "watcher"]);
    d.docker_ok(&["network", "rm", "one", "two"]);
    assert_eq!(links_of(d.dir.path()).len(), 1, "only the default bridge");
    d.stop();
    cleanup_network(d.dir.path());
}

#[test]
fn dns_servers_are_the_embedded_dns_upstreams_of_that_container_only() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let nc = d.pull_fixture(&f, "netclient");
    let name = "made-up.berth.test";
    let first = TinyDns::start(name, Ipv4Addr::new(198, 51, 100, 7));
    let second = TinyDns::start(name, Ipv4Addr::new(198, 51, 100, 8));
    d.docker_ok(&["network", "create", "resolving"]);
    let run = |dns: &TinyDns, args: &[&str]| {
        let server = dns.addr.to_string();
        let mut all = vec![
            "run",
            "--rm",
            "--network",
            "resolving",
            "--dns",
            &server,
            "--dns-search",
            "corp.berth.test",
            "--dns-option",
            "timeout:3",
            &nc,
        ];
        all.extend_from_slice(args);
        d.docker_ok(&all)
    };

    // resolv.conf keeps the embedded DNS, with the container's search and options.
    let resolv = run(&first, &["cat", "/etc/resolv.conf"]);
    assert_eq!(
        resolv,
        "search corp.berth.test\nnameserver 127.0.0.11\noptions timeout:3 ndots:0\n"
    );
    // The made-up name is forwarded to that container's own --dns server.
    let out = run(&first, &["netclient", "-r", name]);
    assert_eq!(out.trim(), "198.51.100.7");
    assert!(first.queries() >= 1);
    let seen_by_second = second.queries();
    let out = run(&second, &["netclient", "-r", name]);
    assert_eq!(out.trim(), "198.51.100.8");
    assert!(second.queries() > seen_by_second);
    // Names of the network still come from the embedded DNS, not from upstream.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "peer",
        "--network",
        "resolving",
        &nc,
        "sleep",
        "300",
    ]);
    let before = first.queries();
    let out = run(&first, &["netclient", "-r", "peer"]);
    assert_eq!(out.trim(), ip_on(&d, "peer", "resolving"));
    assert_eq!(first.queries(), before, "peer was answered locally");

    // On the default bridge --dns goes straight into resolv.conf.
    let server = first.addr.to_string();
    let resolv = d.docker_ok(&[
        "run",
        "--rm",
        "--dns",
        &server,
        "--dns-search",
        "corp.berth.test",
        &nc,
        "cat",
        "/etc/resolv.conf",
    ]);
    assert!(
        resolv.contains(&format!("nameserver {server}\n")),
        "{resolv}"
    );
    assert!(resolv.contains("search corp.berth.test\n"), "{resolv}");
    assert!(!resolv.contains("127.0.0.11"), "{resolv}");

    d.docker_ok(&["rm", "-f", "peer"]);
    d.docker_ok(&["network", "rm", "resolving"]);
    d.stop();
    cleanup_network(d.dir.path());
}
