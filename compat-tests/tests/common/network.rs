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

pub fn table_exists(name: &str) -> bool {
    let Ok(out) = Command::new("nft").args(["list", "tables"]).output() else {
        return false;
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == format!("table ip {name}"))
}

/// Removes the daemon's bridges and firewall table; returns what was there.
pub fn cleanup_network(dir: &Path) -> (Vec<String>, bool) {
    let links = links_of(dir);
    for l in &links {
        let _ = Command::new("ip").args(["link", "del", l]).status();
    }
    let table = table_of(dir);
    let had_table = table_exists(&table);
    if had_table {
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &table])
            .status();
    }
    (links, had_table)
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
