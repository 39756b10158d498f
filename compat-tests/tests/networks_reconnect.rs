//! A running container disconnected from a network and connected again, and on several
//! networks at once: one embedded DNS listener per container namespace answers for every
//! network the container shares with others; connect and disconnect change what it
//! answers, never whether it listens (dockerd's one resolver per sandbox). The default
//! route goes through the network of the highest GwPriority, then the first by name.
mod common;

use std::net::Ipv4Addr;

use common::dns::TinyDns;
use common::network::{cleanup_network, ip_on};
use common::{Daemon, Fixtures};

/// netclient's exit code for a name it cannot resolve (compat-tests/fixtures/netclient.c).
const CANNOT_RESOLVE: i32 = 3;
const PAGE: &str = "Berth httpd fixture";

#[test]
fn a_running_container_reconnects_and_resolves_on_every_network_it_shares() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let httpd = d.pull_fixture(&f, "httpd");
    let nc = d.pull_fixture(&f, "netclient");
    let upstream = TinyDns::start("nothing.berth.test", Ipv4Addr::new(198, 51, 100, 1));
    let upstream = upstream.addr.to_string();
    d.docker_ok(&["network", "create", "one"]);
    d.docker_ok(&["network", "create", "two"]);
    d.docker_ok(&["run", "-d", "--name", "srv1", "--network", "one", &httpd]);
    d.docker_ok(&["run", "-d", "--name", "srv2", "--network", "two", &httpd]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "watcher",
        "--network",
        "one",
        "--dns",
        &upstream,
        &nc,
        "sleep",
        "300",
    ]);
    let resolve = |name: &str| -> Result<String, i32> {
        let out = d.docker(&["exec", "watcher", "netclient", "-r", name]);
        match out.status.code() {
            Some(0) => Ok(common::stdout(&out).trim().to_string()),
            code => Err(code.unwrap_or(-1)),
        }
    };
    let fetch = |name: &str| {
        let mut last = String::new();
        common::eventually(&format!("the watcher fetches http://{name}/"), || {
            let out = d.docker(&["exec", "watcher", "netclient", name, "80"]);
            last = common::stdout(&out);
            last.contains(PAGE)
        });
    };
    fetch("srv1");
    assert_eq!(resolve("srv2"), Err(CANNOT_RESOLVE));

    // Disconnected and connected again: the listener of the first attachment is the
    // one that answers, nothing binds 127.0.0.11:53 a second time.
    d.docker_ok(&["network", "disconnect", "one", "watcher"]);
    assert_eq!(resolve("srv1"), Err(CANNOT_RESOLVE));
    d.docker_ok(&["network", "connect", "one", "watcher"]);
    assert_eq!(resolve("srv1"), Ok(ip_on(&d, "srv1", "one")));
    fetch("srv1");

    // A second network: names of both answer, each with its address there.
    d.docker_ok(&["network", "connect", "two", "watcher"]);
    assert_eq!(resolve("srv2"), Ok(ip_on(&d, "srv2", "two")));
    assert_eq!(resolve("srv1"), Ok(ip_on(&d, "srv1", "one")));
    fetch("srv2");
    let resolv = d.docker_ok(&["exec", "watcher", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 127.0.0.11"), "{resolv}");

    // Leaving the first network (the one of the default route): its names go, the other
    // network's stay, and traffic still finds its way out through the other.
    d.docker_ok(&["network", "disconnect", "one", "watcher"]);
    assert_eq!(resolve("srv1"), Err(CANNOT_RESOLVE));
    assert_eq!(resolve("srv2"), Ok(ip_on(&d, "srv2", "two")));
    fetch("srv2");
    let routes = d.docker_ok(&["exec", "watcher", "ip", "route"]);
    assert!(routes.contains("default via"), "{routes}");

    // Back on one, as a second interface beside two's: both answer again.
    d.docker_ok(&["network", "connect", "one", "watcher"]);
    fetch("srv1");
    fetch("srv2");
    let links = d.docker_ok(&["exec", "watcher", "ip", "-o", "link"]);
    assert!(links.contains("eth0") && links.contains("eth1"), "{links}");

    d.docker_ok(&["rm", "-f", "srv1", "srv2", "watcher"]);
    d.docker_ok(&["network", "rm", "one", "two"]);
    let (links, _) = {
        d.stop();
        cleanup_network(d.dir.path())
    };
    assert_eq!(links.len(), 1, "only the default bridge: {links:?}");
}

/// The container's default route goes through the network with the highest GwPriority
/// (API 1.48), the network name breaking ties (docker-engine-api: "lexicographically
/// sorted based on their network name"), at start and as networks come and go.
#[test]
fn the_default_route_follows_gw_priority_then_the_network_name() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let bb = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["network", "create", "--subnet", "10.219.30.0/24", "gwa"]);
    d.docker_ok(&["network", "create", "--subnet", "10.219.31.0/24", "gwz"]);
    let default_via = |name: &str| {
        let routes = d.docker_ok(&["exec", name, "ip", "-4", "route", "show", "default"]);
        let via: Vec<String> = routes
            .lines()
            .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
            .collect();
        assert_eq!(via.len(), 1, "one default route: {routes}");
        via[0].clone()
    };
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "gw",
        "--network",
        "gwz",
        &bb,
        "sleep",
        "300",
    ]);
    assert_eq!(default_via("gw"), "10.219.31.1");
    // A network whose name sorts first takes the default route at equal priority...
    d.docker_ok(&["network", "connect", "gwa", "gw"]);
    assert_eq!(default_via("gw"), "10.219.30.1");
    // ...and gives it back when it goes.
    d.docker_ok(&["network", "disconnect", "gwa", "gw"]);
    assert_eq!(default_via("gw"), "10.219.31.1");
    // A lower priority does not take it; a higher one does.
    d.docker_ok(&["network", "connect", "--gw-priority", "-1", "gwa", "gw"]);
    assert_eq!(default_via("gw"), "10.219.31.1");
    d.docker_ok(&["network", "disconnect", "gwa", "gw"]);
    d.docker_ok(&["network", "connect", "--gw-priority", "7", "gwa", "gw"]);
    assert_eq!(default_via("gw"), "10.219.30.1");

    // At start: the priority given at create.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "gw2",
        "--network",
        "name=gwa",
        "--network",
        "name=gwz,gw-priority=3",
        &bb,
        "sleep",
        "300",
    ]);
    assert_eq!(default_via("gw2"), "10.219.31.1");
    let n = d.docker_ok(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks.gwz.GwPriority}}",
        "gw2",
    ]);
    assert_eq!(n.trim(), "3");

    d.docker_ok(&["rm", "-f", "gw", "gw2"]);
    d.docker_ok(&["network", "rm", "gwa", "gwz"]);
    d.stop();
    cleanup_network(d.dir.path());
}
