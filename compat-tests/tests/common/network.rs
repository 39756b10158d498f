//! What a test daemon's networking leaves on the host after it stops (dockerd too keeps
//! its bridges and rules across a stop): its bridges, found by their alias
//! `berth:<data-root>/network:<id>`, and its firewall table, named from that folder
//! (berthd's `networks::host`). `cleanup_network` removes them.
use std::path::Path;
use std::process::Command;

/// The links of the daemon whose temporary folder is `dir`.
pub fn links_of(dir: &Path) -> Vec<String> {
    let Ok(out) = Command::new("ip").args(["-j", "link", "show"]).output() else {
        return Vec::new();
    };
    let links: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let owner = format!("berth:{}:", dir.join("data").join("network").display());
    links
        .iter()
        .filter(|l| l["ifalias"].as_str().is_some_and(|a| a.starts_with(&owner)))
        .filter_map(|l| l["ifname"].as_str().map(str::to_string))
        .collect()
}

/// The firewall table (nftables) of that daemon.
pub fn table_of(dir: &Path) -> String {
    let path = dir.join("data").join("network").display().to_string();
    let hash = path.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("berth-{hash:08x}")
}

/// Whether the nftables table `name` exists in family `ip` or `ip6`.
pub fn table_exists(name: &str) -> bool {
    table_exists_in("ip", name) || table_exists_in("ip6", name)
}

fn table_exists_in(family: &str, name: &str) -> bool {
    let Ok(out) = Command::new("nft").args(["list", "tables"]).output() else {
        return false;
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == format!("table {family} {name}"))
}

/// The daemon's chains in the host's own filter tables (netd's `host_filter`: the
/// accepts its bridges need in `FORWARD`): `<TABLE>-FORWARD` and `<TABLE>-USER`.
pub fn filter_chains_of(dir: &Path) -> [String; 2] {
    let prefix = table_of(dir).to_ascii_uppercase();
    [format!("{prefix}-FORWARD"), format!("{prefix}-USER")]
}

/// Which of those chains exist, in iptables-nft's tables (`ip`/`ip6 filter`) and the
/// legacy ones: `"<family> <chain>"` for each.
pub fn filter_chains_left(dir: &Path) -> Vec<String> {
    let mut left = Vec::new();
    for family in ["ip", "ip6"] {
        let listing = nft_output(&["list", "table", family, "filter"]);
        for chain in filter_chains_of(dir) {
            if listing.contains(&format!("chain {chain} {{")) {
                left.push(format!("{family} {chain}"));
            }
        }
    }
    for (tool, names) in [
        ("iptables-legacy", "/proc/net/ip_tables_names"),
        ("ip6tables-legacy", "/proc/net/ip6_tables_names"),
    ] {
        if !legacy_loaded(names) {
            continue;
        }
        let rules = command_output(tool, &["-w", "-S"]);
        for chain in filter_chains_of(dir) {
            if rules.lines().any(|l| l == format!("-N {chain}")) {
                left.push(format!("{tool} {chain}"));
            }
        }
    }
    left
}

fn legacy_loaded(names: &str) -> bool {
    std::fs::read_to_string(names).is_ok_and(|t| t.lines().any(|l| l.trim() == "filter"))
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn nft_output(args: &[&str]) -> String {
    command_output("nft", args)
}

fn remove_filter_chains(dir: &Path) {
    let [forward, user] = filter_chains_of(dir);
    for family in ["ip", "ip6"] {
        let listing = nft_output(&["-a", "list", "chain", family, "filter", "FORWARD"]);
        for line in listing.lines() {
            if !line.contains(&format!("jump {forward} ")) {
                continue;
            }
            if let Some(handle) = line.rsplit("# handle ").next() {
                let _ = Command::new("nft")
                    .args([
                        "delete",
                        "rule",
                        family,
                        "filter",
                        "FORWARD",
                        "handle",
                        handle.trim(),
                    ])
                    .status();
            }
        }
        for chain in [&forward, &user] {
            let _ = Command::new("nft")
                .args(["delete", "chain", family, "filter", chain])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
    for (tool, names) in [
        ("iptables-legacy", "/proc/net/ip_tables_names"),
        ("ip6tables-legacy", "/proc/net/ip6_tables_names"),
    ] {
        if !legacy_loaded(names) {
            continue;
        }
        let quiet = |args: &[&str]| {
            Command::new(tool)
                .arg("-w")
                .args(args)
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        while quiet(&["-D", "FORWARD", "-j", &forward]) {}
        quiet(&["-F", &forward]);
        quiet(&["-X", &forward]);
        quiet(&["-X", &user]);
    }
}

/// Removes the daemon's bridges, firewall tables (`ip` and `ip6`) and its chains in the
/// host's filter tables; returns the bridges there were, and whether any firewall state
/// of its was left.
pub fn cleanup_network(dir: &Path) -> (Vec<String>, bool) {
    let links = links_of(dir);
    for l in &links {
        let _ = Command::new("ip").args(["link", "del", l]).status();
    }
    let table = table_of(dir);
    let mut had_firewall = false;
    for family in ["ip", "ip6"] {
        if table_exists_in(family, &table) {
            had_firewall = true;
            let _ = Command::new("nft")
                .args(["delete", "table", family, &table])
                .status();
        }
    }
    if !filter_chains_left(dir).is_empty() {
        had_firewall = true;
    }
    remove_filter_chains(dir);
    (links, had_firewall)
}

/// A TCP port free on the host right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Waits until something accepts connections on 127.0.0.1:port (a daemon just started).
pub fn wait_for_port(port: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}

/// `GET /` over plain TCP to 127.0.0.1:port, retried for a few seconds; the whole answer.
pub fn http_get(port: u16) -> String {
    use std::io::{Read, Write};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
            s.set_read_timeout(Some(std::time::Duration::from_secs(3)))?;
            s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        })();
        match attempt {
            Ok(page) if page.starts_with("HTTP/") => return page,
            other if std::time::Instant::now() > deadline => {
                panic!("GET 127.0.0.1:{port}: {other:?}")
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(200)),
        }
    }
}

/// A container's address on `network`, from inspect.
pub fn ip_on(d: &super::Daemon, container: &str, network: &str) -> String {
    let format = format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}");
    d.docker_ok(&["inspect", "--format", &format, container])
        .trim()
        .to_string()
}

/// Host addresses in `prefix` (left on links the daemon made).
pub fn host_addresses(prefix: &str) -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["-6", "-o", "addr"])
        .output()
        .expect("ip");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(prefix))
        .map(str::to_string)
        .collect()
}

pub fn ip6_table_exists(name: &str) -> bool {
    let out = std::process::Command::new("nft")
        .args(["list", "tables"])
        .output()
        .expect("nft");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == format!("table ip6 {name}"))
}
