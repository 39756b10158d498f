//! Networks through the stock CLI: `docker network create/ls/inspect/rm/prune` with
//! filters and dockerd's errors; nothing of a test daemon's networking left behind.
mod common;

use common::network::{cleanup_network, host_addresses, ip6_table_exists, links_of, table_of};
use common::Daemon;

/// Stops the daemon and removes what its networking left on the host (dockerd too
/// keeps its bridges and rules after a stop); returns what was there.
fn stop_and_clean(d: &mut Daemon) -> (Vec<String>, bool) {
    d.stop();
    cleanup_network(d.dir.path())
}

/// A /24 of 10.214.0.0/16 for this test process (tests run side by side).
fn test_subnet() -> (String, String) {
    let third = std::process::id() % 250 + 1;
    (format!("10.214.{third}.0/24"), format!("10.214.{third}.1"))
}

fn names(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out.lines().map(|l| l.trim().to_string()).collect();
    v.retain(|l| !l.is_empty());
    v.sort();
    v
}

#[test]
fn predefined_networks_and_their_errors() {
    let mut d = Daemon::start();
    let ls = d.docker_ok(&[
        "network",
        "ls",
        "--format",
        "{{.Name}} {{.Driver}} {{.Scope}}",
    ]);
    assert_eq!(
        names(&ls),
        vec!["bridge bridge local", "host host local", "none null local"]
    );
    let bridge = d.docker_ok(&[
        "network",
        "inspect",
        "bridge",
        "--format",
        "{{.Driver}} {{index .Options \"com.docker.network.bridge.default_bridge\"}} {{len .IPAM.Config}}",
    ]);
    assert_eq!(bridge.trim(), "bridge true 1");
    let host = d.docker_ok(&[
        "network",
        "inspect",
        "host",
        "--format",
        "{{.Driver}} {{.IPAM.Config}}",
    ]);
    assert_eq!(host.trim(), "host []");

    let err = d.docker_err(&["network", "create", "bridge"]);
    assert!(
        err.contains("operation is not permitted on predefined bridge network"),
        "{err}"
    );
    let err = d.docker_err(&["network", "create", "-d", "host", "h1"]);
    assert!(
        err.contains("only one instance of \"host\" network is allowed"),
        "{err}"
    );
    let err = d.docker_err(&["network", "create", "-d", "nosuchdriver", "x1"]);
    assert!(err.contains("plugin \"nosuchdriver\" not found"), "{err}");
    // overlay needs a swarm: dockerd's 503 on a node that is no manager.
    let err = d.docker_err(&["network", "create", "-d", "overlay", "o1"]);
    assert!(err.contains("This node is not a swarm manager."), "{err}");
    let r = d.api(
        "POST",
        "/networks/create",
        Some(r#"{"Name":"o2","Driver":"overlay"}"#),
    );
    assert_eq!(r.status, 503, "{}", r.text());
    let err = d.docker_err(&["network", "rm", "host"]);
    assert!(
        err.contains("host is a pre-defined network and cannot be removed"),
        "{err}"
    );
    let err = d.docker_err(&["network", "rm", "nosuchnet"]);
    assert!(err.contains("network nosuchnet not found"), "{err}");
    let err = d.docker_err(&["network", "inspect", "nosuchnet"]);
    assert!(err.contains("network nosuchnet not found"), "{err}");
    let err = d.docker_err(&["network", "ls", "--filter", "type=x"]);
    assert!(err.contains("invalid filter: 'type'='x'"), "{err}");
    let err = d.docker_err(&["network", "ls", "--filter", "foo=1"]);
    assert!(err.contains("invalid filter 'foo'"), "{err}");
    let err = d.docker_err(&["network", "ls", "--filter", "dangling=maybe"]);
    assert!(err.contains("invalid value for filter 'dangling'"), "{err}");

    let (links, table) = stop_and_clean(&mut d);
    assert_eq!(links.len(), 1, "the default bridge: {links:?}");
    assert!(table, "the daemon's firewall table");
}

#[test]
fn create_inspect_filter_remove_prune() {
    let mut d = Daemon::start();
    let (subnet, gateway) = test_subnet();
    let id = d.docker_ok(&[
        "network",
        "create",
        "--subnet",
        &subnet,
        "--gateway",
        &gateway,
        "--label",
        "tier=front",
        "--label",
        "solo",
        "--internal",
        "--attachable",
        "-o",
        "com.docker.network.driver.mtu=1400",
        "front",
    ]);
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    let shown = d.docker_ok(&[
        "network", "inspect", "front", "--format",
        "{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.Attachable}} {{(index .IPAM.Config 0).Subnet}} {{(index .IPAM.Config 0).Gateway}} {{.Labels.tier}} {{len .Containers}}",
    ]);
    assert_eq!(
        shown.trim(),
        format!("front bridge local true true {subnet} {gateway} front 0")
    );
    // By id prefix too, and the raw JSON has dockerd's fields.
    let raw = d.docker_ok(&["network", "inspect", &id[..12]]);
    let v: serde_json::Value = serde_json::from_str(&raw).expect("inspect JSON");
    let n = &v[0];
    assert_eq!(n["Id"], id.as_str());
    assert_eq!(n["IPAM"]["Driver"], "default");
    assert_eq!(n["Options"]["com.docker.network.driver.mtu"], "1400");
    assert_eq!(n["Labels"]["solo"], "");
    assert!(n["Containers"].as_object().is_some_and(|c| c.is_empty()));
    assert!(n["Created"].as_str().is_some_and(|c| c.ends_with('Z')));
    let bridge = format!("br-{}", &id[..12]);
    assert!(
        links_of(d.dir.path()).contains(&bridge),
        "bridge {bridge} exists"
    );

    // A subnet given without its gateway: dockerd shows only what it was given.
    let other_subnet = subnet.replacen("10.214.", "10.215.", 1);
    d.docker_ok(&["network", "create", "--subnet", &other_subnet, "back"]);
    let ipam = d.docker_ok(&["network", "inspect", "-f", "{{json .IPAM.Config}}", "back"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&ipam).expect("json"),
        serde_json::json!([{"Subnet": other_subnet}])
    );
    d.docker_ok(&["network", "rm", "back"]);

    let err = d.docker_err(&["network", "create", "front"]);
    assert!(
        err.contains("network with name front already exists"),
        "{err}"
    );
    let err = d.docker_err(&["network", "create", "--subnet", "bad", "x2"]);
    assert!(err.contains("invalid"), "{err}");
    let err = d.docker_err(&["network", "create", "--subnet", &subnet, "x3"]);
    assert!(
        err.contains("Pool overlaps with other one on this address space"),
        "{err}"
    );

    // IPv6 too, its subnet from the daemon's own ULA pool: the leak checks below count
    // its ip6 table and addresses.
    let back = d.docker_ok(&[
        "network",
        "create",
        "--ipv6",
        "-o",
        "com.docker.network.bridge.name=brt-back",
        "back",
    ]);
    assert!(!back.trim().is_empty());
    let subnet6 = d.docker_ok(&[
        "network",
        "inspect",
        "back",
        "--format",
        "{{(index .IPAM.Config 1).Subnet}}",
    ]);
    let prefix6 = subnet6.trim().trim_end_matches("/64").to_string();
    assert!(prefix6.starts_with("fd"), "a ULA subnet: {subnet6}");
    assert!(
        !host_addresses(&prefix6).is_empty(),
        "the gateway's address"
    );
    let fmt = ["--format", "{{.Name}}"];
    let ls = |args: &[&str]| {
        let mut all = vec!["network", "ls"];
        all.extend_from_slice(args);
        all.extend_from_slice(&fmt);
        names(&d.docker_ok(&all))
    };
    assert_eq!(ls(&["--filter", "label=tier=front"]), vec!["front"]);
    assert_eq!(ls(&["--filter", "label=solo"]), vec!["front"]);
    assert_eq!(ls(&["--filter", "name=ron"]), vec!["front"]);
    assert_eq!(
        ls(&["--filter", &format!("id={}", &id[..10])]),
        vec!["front"]
    );
    assert_eq!(ls(&["--filter", "type=custom"]), vec!["back", "front"]);
    assert_eq!(
        ls(&["--filter", "type=builtin"]),
        vec!["bridge", "host", "none"]
    );
    assert_eq!(ls(&["--filter", "driver=null"]), vec!["none"]);
    assert_eq!(ls(&["--filter", "dangling=true"]), vec!["back", "front"]);
    assert_eq!(
        ls(&["--filter", "dangling=false"]),
        vec!["bridge", "host", "none"]
    );
    let quiet = d.docker_ok(&["network", "ls", "-q", "--filter", "name=front"]);
    assert_eq!(quiet.trim(), &id[..12]);

    // Prune honours labels, then takes what is left unused.
    let pruned = d.docker_ok(&["network", "prune", "-f", "--filter", "label=tier=front"]);
    assert!(
        pruned.contains("front") && !pruned.contains("back"),
        "{pruned}"
    );
    assert!(
        !links_of(d.dir.path()).contains(&bridge),
        "bridge {bridge} removed"
    );
    d.docker_ok(&["network", "rm", "back"]);
    assert_eq!(ls(&["--filter", "type=custom"]), Vec::<String>::new());
    assert!(
        !ip6_table_exists(&table_of(d.dir.path())),
        "no IPv6 network left, no ip6 table"
    );
    assert_eq!(host_addresses(&prefix6), Vec::<String>::new());
    let pruned = d.docker_ok(&["network", "prune", "-f"]);
    assert!(!pruned.contains("Deleted"), "{pruned}");

    let (links, _) = stop_and_clean(&mut d);
    assert_eq!(
        links.len(),
        1,
        "only the default bridge remained: {links:?}"
    );
}

#[test]
fn networks_survive_a_restart() {
    let mut d = Daemon::start();
    let (subnet, _) = test_subnet();
    let id = d.docker_ok(&["network", "create", "--ipv6", "--subnet", &subnet, "kept"]);
    let kept_ipam = |d: &Daemon| {
        d.docker_ok(&[
            "network",
            "inspect",
            "kept",
            "--format",
            "{{json .IPAM.Config}}",
        ])
    };
    let ipam_before = kept_ipam(&d);
    let before = d.docker_ok(&[
        "network",
        "inspect",
        "bridge",
        "--format",
        "{{.Id}} {{json .IPAM.Config}}",
    ]);
    d.stop();
    d.restart_with(&[]);
    let after = d.docker_ok(&[
        "network",
        "inspect",
        "bridge",
        "--format",
        "{{.Id}} {{json .IPAM.Config}}",
    ]);
    assert_eq!(before, after, "the default bridge keeps its id and subnet");
    let kept = d.docker_ok(&[
        "network",
        "inspect",
        "kept",
        "--format",
        "{{.Id}} {{(index .IPAM.Config 0).Subnet}}",
    ]);
    assert_eq!(kept.trim(), format!("{} {subnet}", id.trim()));
    assert_eq!(
        kept_ipam(&d),
        ipam_before,
        "IPv6 subnet and gateway kept too"
    );
    let bridge = format!("br-{}", &id.trim()[..12]);
    assert!(links_of(d.dir.path()).contains(&bridge));
    let gateway6 = serde_json::from_str::<serde_json::Value>(&ipam_before).expect("json")[1]
        ["Gateway"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        host_addresses(&gateway6)
            .iter()
            .any(|l| l.contains(&bridge)),
        "{gateway6} on {bridge} again"
    );
    d.docker_ok(&["network", "rm", "kept"]);
    let (links, _) = stop_and_clean(&mut d);
    assert_eq!(links.len(), 1, "{links:?}");
}

#[test]
fn connect_and_disconnect_a_stopped_container() {
    let f = common::Fixtures::load();
    let mut d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["network", "create", "back"]);
    let err = d.docker_err(&["network", "connect", "back", "nosuchcontainer"]);
    assert!(err.contains("No such container: nosuchcontainer"), "{err}");
    d.docker_ok(&["create", "--name", "c1", &image, "true"]);
    let err = d.docker_err(&["network", "connect", "nosuchnet", "c1"]);
    assert!(err.contains("network nosuchnet not found"), "{err}");
    let err = d.docker_err(&["network", "connect", "host", "c1"]);
    assert!(err.contains("connected to host network"), "{err}");
    d.docker_ok(&["network", "connect", "--alias", "db", "back", "c1"]);
    let err = d.docker_err(&["network", "connect", "back", "c1"]);
    assert!(
        err.contains("endpoint with name c1 already exists in network back"),
        "{err}"
    );
    d.docker_ok(&["network", "disconnect", "back", "c1"]);
    let err = d.docker_err(&["network", "disconnect", "back", "c1"]);
    assert!(err.contains("is not connected to network back"), "{err}");
    d.docker_ok(&["rm", "c1"]);
    d.docker_ok(&["network", "rm", "back"]);
    stop_and_clean(&mut d);
}
