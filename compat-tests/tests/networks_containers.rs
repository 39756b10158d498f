//! Containers on real networks, through the stock CLI: names on the embedded DNS of a
//! user-defined network, published ports reached from the host, `docker port`,
//! `--network none` and `host`, a network in use, nothing left after removal, and
//! networks and ports that survive a restart of berthd.
mod common;

use common::network::{free_port, http_get, ip_on};

use common::network::{cleanup_network, links_of};
use common::{eventually, inspect_json, Daemon, Fixtures};

#[test]
fn names_on_a_user_network_and_isolation() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    let httpd = d.pull_fixture(&f, "httpd");
    d.docker_ok(&["network", "create", "app"]);
    d.docker_ok(&["network", "create", "other"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "app",
        "--network-alias",
        "www",
        &httpd,
    ]);
    let web_ip = ip_on(&d, "web", "app");
    assert!(web_ip.parse::<std::net::Ipv4Addr>().is_ok(), "{web_ip:?}");

    // By name and by alias on the embedded DNS, and over TCP.
    for name in ["web", "www"] {
        let out = d.docker_ok(&[
            "run",
            "--rm",
            "--network",
            "app",
            &busybox,
            "nslookup",
            name,
            "127.0.0.11",
        ]);
        assert!(out.contains(&web_ip), "{name}: {out}");
    }
    let resolv = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "app",
        &busybox,
        "cat",
        "/etc/resolv.conf",
    ]);
    assert!(resolv.contains("nameserver 127.0.0.11"), "{resolv}");
    let page = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "app",
        &busybox,
        "wget",
        "-q",
        "-O",
        "-",
        &format!("http://{web_ip}/"),
    ]);
    assert!(!page.is_empty());

    // Another network neither resolves nor reaches it. (Unknown names are forwarded
    // upstream: --dns keeps that query on the host's loopback.)
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "other",
        "--dns",
        "127.0.0.1",
        &busybox,
        "nslookup",
        "web",
        "127.0.0.11",
    ]);
    assert!(!common::stdout(&out).contains(&web_ip));
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "other",
        &busybox,
        "wget",
        "-q",
        "-T",
        "2",
        "-O",
        "-",
        &format!("http://{web_ip}/"),
    ]);
    assert!(
        !out.status.success(),
        "reached {web_ip} from another network"
    );

    // Connect makes it resolvable there at once; disconnect takes it away.
    d.docker_ok(&["network", "connect", "--alias", "web2", "other", "web"]);
    let other_ip = ip_on(&d, "web", "other");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "other",
        &busybox,
        "nslookup",
        "web2",
        "127.0.0.11",
    ]);
    assert!(out.contains(&other_ip), "{out}");
    d.docker_ok(&["network", "disconnect", "other", "web"]);
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "other",
        "--dns",
        "127.0.0.1",
        &busybox,
        "nslookup",
        "web2",
        "127.0.0.11",
    ]);
    assert!(!common::stdout(&out).contains(&other_ip));

    // A network in use cannot go.
    let err = d.docker_err(&["network", "rm", "app"]);
    assert!(
        err.contains("error while removing network: network app has active endpoints"),
        "{err}"
    );

    d.docker_ok(&["rm", "-f", "web"]);
    d.docker_ok(&["network", "rm", "app", "other"]);
    let links = links_of(d.dir.path());
    assert_eq!(links.len(), 1, "only the default bridge: {links:?}");
    d.stop();
    cleanup_network(d.dir.path());
}

#[test]
fn published_ports_and_docker_port() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let httpd = d.pull_fixture(&f, "httpd");
    let port = free_port();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "site",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        &httpd,
    ]);
    let page = http_get(port);
    assert!(page.contains("200"), "{page}");
    let shown = d.docker_ok(&["port", "site"]);
    assert_eq!(shown.trim(), format!("80/tcp -> 127.0.0.1:{port}"));
    let ps = d.docker_ok(&["ps", "--format", "{{.Ports}}", "--filter", "name=site"]);
    assert_eq!(ps.trim(), format!("127.0.0.1:{port}->80/tcp"));
    let inspect = d.docker_ok(&[
        "inspect", "--format",
        "{{.HostConfig.NetworkMode}} {{.NetworkSettings.IPAddress}} {{.NetworkSettings.Networks.bridge.IPAddress}} {{.NetworkSettings.Networks.bridge.Gateway}}",
        "site",
    ]);
    let parts: Vec<&str> = inspect.split_whitespace().collect();
    assert_eq!(parts.len(), 4, "{inspect}");
    assert_eq!(parts[0], "default");
    assert_eq!(parts[1], parts[2]);

    // -P: an ephemeral port, shown by docker port, serving the page.
    d.docker_ok(&["run", "-d", "--name", "any", "-P", &httpd]);
    let shown = d.docker_ok(&["port", "any", "80"]);
    let host_port: u16 = shown
        .lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("docker port: {shown}"));
    assert!(http_get(host_port).contains("200"));
    // On a host with IPv6, dockerd also listens on [::] (the userland proxy forwards to
    // the container's IPv4 address): two lines, the same port, and [::1] answers.
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        assert_eq!(
            shown.trim(),
            format!("0.0.0.0:{host_port}\n[::]:{host_port}"),
            "{shown}"
        );
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("::1", host_port)).expect("[::1] answers");
        s.set_read_timeout(Some(std::time::Duration::from_secs(3)))
            .expect("timeout");
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").expect("request");
        let mut page = String::new();
        let _ = s.read_to_string(&mut page);
        assert!(page.contains("200"), "{page}");
    }

    // A port taken: dockerd's error (the endpoints are made while the runtime creates the
    // container, whose task is deleted again), exit 125, and nothing of it left.
    let busybox = d.pull_fixture(&f, "busybox");
    let engine_before = common::containerd_and_shim_pids(d.dir.path()).len();
    let out = d.docker(&[
        "run",
        "--rm",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        &busybox,
        "true",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(
        err.contains(&format!(
            "Bind for 127.0.0.1:{port} failed: port is already allocated"
        )),
        "{err}"
    );
    assert!(
        err.contains("driver failed programming external connectivity on endpoint "),
        "{err}"
    );
    eventually("the --rm container removed", || {
        d.docker_ok(&["ps", "-aq"]).lines().count() == 2
    });
    assert_eq!(
        common::containerd_and_shim_pids(d.dir.path()).len(),
        engine_before,
        "no shim left"
    );

    // They survive a restart of berthd.
    d.stop();
    d.restart_with(&[]);
    assert!(http_get(port).contains("200"));
    assert_eq!(
        d.docker_ok(&["port", "site"]).trim(),
        format!("80/tcp -> 127.0.0.1:{port}")
    );

    d.docker_ok(&["rm", "-f", "site", "any"]);
    let table = common::network::table_of(d.dir.path());
    let rules = std::process::Command::new("nft")
        .args(["list", "table", "ip", &table])
        .output()
        .expect("nft");
    let rules = String::from_utf8_lossy(&rules.stdout);
    assert!(!rules.contains("dnat to"), "no port rule left:\n{rules}");
    d.stop();
    cleanup_network(d.dir.path());
}

/// `--sysctl net.…` is written by the runtime into the container's namespace, whose
/// interfaces are all made first (dockerd's hook runs before the runtime writes them):
/// a setting of the fifth one applies. Endpoints made while the runtime creates the
/// container failed this (`sysctl /proc/sys/net/ipv4/conf/eth4/arp_ignore`).
#[test]
fn a_sysctl_of_the_containers_interface_applies() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    let networks = ["one", "two", "three", "four"];
    for n in networks {
        d.docker_ok(&["network", "create", n]);
    }
    d.docker_ok(&[
        "create",
        "--name",
        "tuned",
        "--network",
        "one",
        "--sysctl",
        "net.ipv4.conf.eth4.arp_ignore=1",
        &busybox,
        "cat",
        "/proc/sys/net/ipv4/conf/eth4/arp_ignore",
    ]);
    for n in ["two", "three", "four", "bridge"] {
        d.docker_ok(&["network", "connect", n, "tuned"]);
    }
    let out = d.docker_ok(&["start", "-a", "tuned"]);
    assert_eq!(out.trim(), "1");
    d.docker_ok(&["rm", "tuned"]);
    for n in networks {
        d.docker_ok(&["network", "rm", n]);
    }
    d.stop();
    cleanup_network(d.dir.path());
}

#[test]
fn none_and_host_modes() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    let links = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &busybox,
        "ls",
        "/sys/class/net",
    ]);
    assert_eq!(links.split_whitespace().collect::<Vec<_>>(), vec!["lo"]);
    let inspect = d.docker_ok(&["create", "--network", "none", &busybox, "true"]);
    let mode = d.docker_ok(&[
        "inspect",
        "--format",
        "{{.HostConfig.NetworkMode}} {{len .NetworkSettings.Networks}}",
        inspect.trim(),
    ]);
    assert_eq!(mode.trim(), "none 1");
    let mut host: Vec<String> = std::fs::read_dir("/sys/class/net")
        .expect("host links")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    host.sort();
    let seen = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        &busybox,
        "ls",
        "/sys/class/net",
    ]);
    assert!(
        seen.split_whitespace()
            .any(|l| l == "eth0" || host.iter().any(|h| h == l && h != "lo")),
        "{seen}"
    );
    // On the host's network the container is named as the host (dockerd's newContainer);
    // `--uts host` keeps the host's name too, and refuses a --hostname of its own.
    let host_name = nix::unistd::gethostname()
        .expect("hostname")
        .to_string_lossy()
        .into_owned();
    for mode in [["--network", "host"], ["--uts", "host"]] {
        let seen = d.docker_ok(&["run", "--rm", mode[0], mode[1], &busybox, "hostname"]);
        assert_eq!(seen.trim(), host_name, "{mode:?}");
    }
    let err = d.docker_err(&["run", "--rm", "--uts", "host", "--hostname", "x", &busybox]);
    assert!(
        err.contains("conflicting options: hostname and the UTS mode"),
        "{err}"
    );
    // container:<name> shares that container's namespace and address.
    d.docker_ok(&["run", "-d", "--name", "first", &busybox, "sleep", "300"]);
    let ip = ip_on(&d, "first", "bridge");
    let seen = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "container:first",
        &busybox,
        "ip",
        "-4",
        "-o",
        "addr",
    ]);
    assert!(seen.contains(&format!("inet {ip}/")), "{seen}");
    d.docker_ok(&["rm", "-f", "first"]);
    d.stop();
    cleanup_network(d.dir.path());
}

#[test]
fn names_survive_a_restart() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["network", "create", "kept"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "kept",
        &busybox,
        "sleep",
        "300",
    ]);
    let ip = ip_on(&d, "db", "kept");
    d.stop();
    d.restart_with(&[]);
    assert_eq!(ip_on(&d, "db", "kept"), ip);
    // Its own embedded DNS is served again, and newcomers resolve it.
    let own = d.docker_ok(&["exec", "db", "nslookup", "db", "127.0.0.11"]);
    assert!(own.contains(&ip), "{own}");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "kept",
        &busybox,
        "nslookup",
        "db",
        "127.0.0.11",
    ]);
    assert!(out.contains(&ip), "{out}");
    d.docker_ok(&["rm", "-f", "db"]);
    d.docker_ok(&["network", "rm", "kept"]);
    d.stop();
    cleanup_network(d.dir.path());
}

/// A container whose record vanished while berthd was down (a crash in the middle of a
/// removal): at the next start its task is killed and its endpoint freed, so the address
/// goes to the next container and no process is left that nothing would ever stop.
#[test]
fn a_task_and_endpoint_without_a_container_are_cleaned_at_start() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    let id = d.docker_ok(&["run", "-d", "--name", "lost", &busybox, "sleep", "300"]);
    let id = id.trim().to_string();
    let ip = ip_on(&d, "lost", "bridge");
    let engine_before = common::containerd_and_shim_pids(d.dir.path()).len();
    assert_eq!(engine_before, 2, "berth-containerd and one shim");
    d.kill9();
    let record = d
        .data_root()
        .join("containers")
        .join(&id)
        .join("config.json");
    std::fs::remove_file(record).expect("record gone");
    d.restart_with(&[]);
    eventually("the lost task to be gone", || {
        common::containerd_and_shim_pids(d.dir.path()).len() == 1
    });
    let endpoints = d.docker_ok(&[
        "network",
        "inspect",
        "bridge",
        "--format",
        "{{len .Containers}}",
    ]);
    assert_eq!(endpoints.trim(), "0");
    assert!(
        !d.data_root().join("containers").join(&id).exists(),
        "the lost container's folder goes too"
    );
    let netns = d.dir.path().join("exec").join("netns").join(&id[..12]);
    assert!(!netns.exists(), "and its namespace file");
    d.docker_ok(&["run", "-d", "--name", "next", &busybox, "sleep", "300"]);
    assert_eq!(
        ip_on(&d, "next", "bridge"),
        ip,
        "the freed address is given again"
    );
    d.docker_ok(&["rm", "-f", "next"]);
    d.stop();
    cleanup_network(d.dir.path());
}

/// /etc/hosts names the container as libnetwork does: its FQDN, then the bare host name
/// when the FQDN has a dot, one space between them, on its address.
#[test]
fn hosts_file_names_the_fqdn_then_the_host_name() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let bb = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["network", "create", "hostsnet"]);
    let own_line = |args: &[&str]| -> String {
        let mut cmd = vec!["run", "--rm"];
        cmd.extend(args);
        cmd.extend([
            bb.as_str(),
            "sh",
            "-c",
            "ip -4 -o addr show eth0; cat /etc/hosts",
        ]);
        let out = d.docker_ok(&cmd);
        let ip = out
            .split_whitespace()
            .skip_while(|w| *w != "inet")
            .nth(1)
            .and_then(|cidr| cidr.split('/').next())
            .unwrap_or_else(|| panic!("no address: {out}"))
            .to_string();
        out.lines()
            .find(|l| l.starts_with(&format!("{ip}\t")))
            .unwrap_or_else(|| panic!("no line for {ip}: {out}"))
            .to_string()
    };
    for network in ["bridge", "hostsnet"] {
        let line = own_line(&[
            "--network",
            network,
            "--hostname",
            "h2",
            "--domainname",
            "example.com",
        ]);
        assert!(line.ends_with("\th2.example.com h2"), "{network}: {line:?}");
        let line = own_line(&["--network", network, "--hostname", "web.local"]);
        assert!(line.ends_with("\tweb.local web"), "{network}: {line:?}");
        let line = own_line(&["--network", network, "--hostname", "plain"]);
        assert!(line.ends_with("\tplain"), "{network}: {line:?}");
    }
    d.docker_ok(&["network", "rm", "hostsnet"]);
}

/// A `--network none` container leaves `none` with `docker network disconnect none X`,
/// as dockerd's: it is then on no network, can be connected to another (an interface at
/// once, and again after a restart), and can go back to `none` once on nothing else.
#[test]
fn a_none_container_can_leave_none_for_another_network() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let bb = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["network", "create", "later"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "loner",
        "--network",
        "none",
        &bb,
        "sleep",
        "300",
    ]);
    let networks = |d: &Daemon| {
        d.docker_ok(&[
            "inspect",
            "-f",
            "{{range $name, $ep := .NetworkSettings.Networks}}{{$name}}={{$ep.IPAddress}} {{end}}",
            "loner",
        ])
        .trim()
        .to_string()
    };
    let interfaces = |d: &Daemon| d.docker_ok(&["exec", "loner", "ls", "/sys/class/net"]);
    let err = d.docker_err(&["network", "connect", "later", "loner"]);
    assert!(err.contains("private (none) mode"), "{err}");

    d.docker_ok(&["network", "disconnect", "none", "loner"]);
    assert_eq!(networks(&d), "");
    d.docker_ok(&["network", "connect", "later", "loner"]);
    let on = networks(&d);
    assert!(
        on.starts_with("later=") && on.len() > "later=".len(),
        "{on}"
    );
    assert!(interfaces(&d).contains("eth0"), "{}", interfaces(&d));
    let err = d.docker_err(&["network", "connect", "none", "loner"]);
    assert!(err.contains("private (none) mode"), "{err}");

    d.docker_ok(&["restart", "-t", "0", "loner"]);
    assert!(networks(&d).starts_with("later="), "{}", networks(&d));
    assert!(interfaces(&d).contains("eth0"), "{}", interfaces(&d));

    d.docker_ok(&["network", "disconnect", "later", "loner"]);
    assert_eq!(networks(&d), "");
    assert!(!interfaces(&d).contains("eth0"), "{}", interfaces(&d));
    d.docker_ok(&["network", "connect", "none", "loner"]);
    assert_eq!(networks(&d), "none=");
    d.docker_ok(&["rm", "-f", "loner"]);
    d.docker_ok(&["network", "rm", "later"]);
}

/// `--add-host NAME:host-gateway` names the default bridge's gateway (what compose's
/// `extra_hosts: ["host.docker.internal:host-gateway"]` relies on), and a malformed
/// `--add-host` is refused at create with dockerd's messages.
#[test]
fn add_host_resolves_host_gateway_and_refuses_what_dockerd_refuses() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let bb = d.pull_fixture(&f, "busybox");
    let bridge = inspect_json(&d, &["network", "inspect"], "bridge");
    let gateway = bridge["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .unwrap_or_else(|| panic!("no gateway: {bridge}"))
        .to_string();
    let hosts = d.docker_ok(&[
        "run",
        "--rm",
        "--add-host",
        "host.docker.internal:host-gateway",
        "--add-host",
        "six:::1",
        &bb,
        "cat",
        "/etc/hosts",
    ]);
    assert!(
        hosts
            .lines()
            .any(|l| l == format!("{gateway}\thost.docker.internal")),
        "{hosts}"
    );
    assert!(hosts.lines().any(|l| l == "::1\tsix"), "{hosts}");
    assert!(!hosts.contains("host-gateway"), "{hosts}");
    // On a user network and on the host's network too: the default bridge's gateway.
    d.docker_ok(&["network", "create", "gwnet"]);
    let hosts = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "gwnet",
        "--add-host",
        "gw:host-gateway",
        &bb,
        "cat",
        "/etc/hosts",
    ]);
    assert!(
        hosts.lines().any(|l| l == format!("{gateway}\tgw")),
        "{hosts}"
    );
    for (extra, message) in [
        (
            "a:notanip",
            "invalid IP address in add-host: \\\"notanip\\\"",
        ),
        ("noaddress", "bad format for add-host: \\\"noaddress\\\""),
    ] {
        let body = serde_json::json!({"Image": bb, "HostConfig": {"ExtraHosts": [extra]}});
        let (status, answer) =
            common::api(&d, "POST", "/containers/create", Some(&body.to_string()));
        assert_eq!(status, 400, "{extra}: {answer}");
        assert!(
            answer["message"].to_string().contains(message),
            "{extra}: {answer}"
        );
    }
    d.docker_ok(&["network", "rm", "gwnet"]);

    // The daemon's --host-gateway-ip (dockerd's flag) replaces the bridge's gateway.
    let d = Daemon::start_with(&["--host-gateway-ip", "192.0.2.10"]);
    let bb = d.pull_fixture(&f, "busybox");
    let hosts = d.docker_ok(&[
        "run",
        "--rm",
        "--add-host",
        "gw:host-gateway",
        &bb,
        "cat",
        "/etc/hosts",
    ]);
    assert!(hosts.lines().any(|l| l == "192.0.2.10\tgw"), "{hosts}");
}
