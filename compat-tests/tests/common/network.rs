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
