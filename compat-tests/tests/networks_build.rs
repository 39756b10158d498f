//! `docker build --network NET`: each RUN step's container is attached to NET as
//! `docker run --network NET` would be, so it resolves NET's names through the embedded
//! DNS and reaches them over TCP; the step's endpoint goes with its container.
mod build_support;
mod common;

use build_support::{build_ok, context};
use common::network::cleanup_network;
use common::{Daemon, Fixtures};

const PAGE: &str = "Berth httpd fixture";

#[test]
fn build_steps_on_a_user_network_reach_its_containers() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let httpd = d.pull_fixture(&f, "httpd");
    let nc = d.pull_fixture(&f, "netclient");
    d.docker_ok(&["network", "create", "buildnet"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "buildnet",
        &httpd,
    ]);
    // The server is up before the build (its step has no retry of its own).
    common::eventually("srv answers on buildnet", || {
        let out = d.docker(&[
            "run",
            "--rm",
            "--network",
            "buildnet",
            &nc,
            "netclient",
            "srv",
            "80",
        ]);
        common::stdout(&out).contains(PAGE)
    });

    let dockerfile = format!(
        "FROM {nc}\n\
         RUN netclient -r srv > /srv-address && netclient srv 80 > /page\n\
         RUN ip -o -4 addr show eth0 > /step-address && ping -c 1 -W 3 srv\n"
    );
    let ctx = context(&[("Dockerfile", &dockerfile)]);
    build_ok(&d, ctx.path(), &["--network", "buildnet", "-t", "fetched"]);
    let page = d.docker_ok(&["run", "--rm", "fetched", "cat", "/page"]);
    assert!(page.contains(PAGE), "{page}");
    let srv = common::network::ip_on(&d, "srv", "buildnet");
    let seen = d.docker_ok(&["run", "--rm", "fetched", "cat", "/srv-address"]);
    assert_eq!(seen.trim(), srv);
    // The step had an address of buildnet's subnet.
    let subnet = d.docker_ok(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Subnet}}",
        "buildnet",
    ]);
    let prefix: String = subnet
        .trim()
        .split('.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".");
    let step = d.docker_ok(&["run", "--rm", "fetched", "cat", "/step-address"]);
    assert!(
        step.contains(&format!("inet {prefix}.")),
        "{step} in {subnet}"
    );
    // The steps' containers and endpoints are gone: only srv is on buildnet.
    let on_net = d.docker_ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}} {{end}}",
        "buildnet",
    ]);
    assert_eq!(on_net.trim(), "srv");

    d.docker_ok(&["rm", "-f", "srv"]);
    d.docker_ok(&["network", "rm", "buildnet"]);
    d.stop();
    let (links, _) = cleanup_network(d.dir.path());
    assert_eq!(links.len(), 1, "only the default bridge: {links:?}");
}
