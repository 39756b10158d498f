//! A running container disconnected from a network and connected again, and on several
//! networks at once: one embedded DNS listener per container namespace answers for every
//! network the container shares with others; connect and disconnect change what it
//! answers, never whether it listens (dockerd's one resolver per sandbox).
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
