//! The bridge driver's options `com.docker.network.bridge.enable_icc` and
//! `enable_ip_masquerade`, through `docker network create -o`: without icc, containers on
//! the bridge resolve but cannot reach each other, while the gateway (the host) still
//! answers; without masquerade, the daemon's firewall table has no masquerade rule for the
//! subnet. Bad values get dockerd's 400.
mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::network::{cleanup_network, table_of};
use common::{Daemon, Fixtures};

const CANNOT_CONNECT: i32 = 4;
const PAGE: &str = "Berth httpd fixture";

fn client(d: &Daemon, image: &str, network: &str, args: &[&str]) -> (i32, String) {
    let mut all = vec!["run", "--rm", "--network", network, image, "netclient"];
    all.extend_from_slice(args);
    let out = d.docker(&all);
    (out.status.code().unwrap_or(-1), common::stdout(&out))
}

/// The masquerade rules of the daemon's nftables table that name `subnet`.
fn masquerade_rules(d: &Daemon, subnet: &str) -> usize {
    let out = std::process::Command::new("nft")
        .args(["list", "table", "ip", &table_of(d.dir.path())])
        .output()
        .expect("nft");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&format!("ip saddr {subnet}")) && l.contains("masquerade"))
        .count()
}

fn inspect(d: &Daemon, network: &str, format: &str) -> String {
    d.docker_ok(&["network", "inspect", "--format", format, network])
        .trim()
        .to_string()
}

#[test]
fn icc_off_isolates_containers_of_one_bridge_but_not_the_gateway() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let httpd = d.pull_fixture(&f, "httpd");
    let nc = d.pull_fixture(&f, "netclient");
    d.docker_ok(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.enable_icc=false",
        "closed",
    ]);
    d.docker_ok(&["network", "create", "open"]);
    let opts = inspect(&d, "closed", "{{json .Options}}");
    assert!(
        opts.contains(r#""com.docker.network.bridge.enable_icc":"false""#),
        "{opts}"
    );
    for net in ["closed", "open"] {
        d.docker_ok(&[
            "run",
            "-d",
            "--name",
            &format!("srv-{net}"),
            "--network",
            net,
            &httpd,
        ]);
    }
    // With icc, the page comes (retried while httpd starts).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, out) = client(&d, &nc, "open", &["srv-open", "80"]);
        if code == 0 && out.contains(PAGE) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "open network: exit {code}, {out}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // Without: the name resolves, the connection does not get through.
    let (code, out) = client(&d, &nc, "closed", &["-r", "srv-closed"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = client(&d, &nc, "closed", &["-t", "2", "srv-closed", "80"]);
    assert_eq!(
        code, CANNOT_CONNECT,
        "icc=false let a container through: {out}"
    );

    // The gateway (the host) still answers: a listener of this test on its address.
    let gateway = inspect(&d, "closed", "{{(index .IPAM.Config 0).Gateway}}");
    let listener = TcpListener::bind((gateway.as_str(), 0)).expect("bind on the gateway");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).expect("read");
        (&stream)
            .write_all(format!("host got {line}").as_bytes())
            .expect("write");
    });
    let (code, out) = client(
        &d,
        &nc,
        "closed",
        &["-l", "hello", &gateway, &port.to_string()],
    );
    assert_eq!((code, out.as_str()), (0, "host got hello\n"));
    server.join().expect("server");

    d.docker_ok(&["rm", "-f", "srv-closed", "srv-open"]);
    d.docker_ok(&["network", "rm", "closed", "open"]);
    d.stop();
    cleanup_network(d.dir.path());
}

#[test]
fn masquerade_off_leaves_no_masquerade_rule() {
    let mut d = Daemon::start();
    d.docker_ok(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.enable_ip_masquerade=false",
        "nomasq",
    ]);
    d.docker_ok(&["network", "create", "masq"]);
    let subnet = |d: &Daemon, n: &str| inspect(d, n, "{{(index .IPAM.Config 0).Subnet}}");
    let (masq, nomasq) = (subnet(&d, "masq"), subnet(&d, "nomasq"));
    assert_eq!(masquerade_rules(&d, &masq), 1);
    assert_eq!(masquerade_rules(&d, &nomasq), 0);
    // Still so after a restart of berthd (the option is kept with the network).
    d.stop();
    d.restart_with(&[]);
    assert_eq!(masquerade_rules(&d, &masq), 1);
    assert_eq!(masquerade_rules(&d, &nomasq), 0);

    // Values as Go's strconv.ParseBool reads them; others are dockerd's 400.
    d.docker_ok(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.enable_icc=0",
        "-o",
        "com.docker.network.bridge.enable_ip_masquerade=True",
        "parsed",
    ]);
    assert_eq!(masquerade_rules(&d, &subnet(&d, "parsed")), 1);
    let err = d.docker_err(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.enable_icc=maybe",
        "bad",
    ]);
    assert!(
        err.contains(
            "failed to parse com.docker.network.bridge.enable_icc value: maybe (strconv.ParseBool: parsing \"maybe\": invalid syntax)"
        ),
        "{err}"
    );
    d.docker_ok(&["network", "rm", "nomasq", "masq", "parsed"]);
    d.stop();
    cleanup_network(d.dir.path());
}
