//! The container's /etc/hosts once its addresses are known (dockerd's sandbox hosts
//! file): its own names on its first network's IPv4 and IPv6 addresses instead of
//! loopback, the legacy links' lines before them.
use super::{NetworkError, Result};
use crate::containers::record::Container;

pub(super) fn write_file(path: &std::path::Path, text: &str) -> Result<()> {
    crate::store::atomic::write_in_place_if_changed(path, text.as_bytes())
        .map_err(|e| NetworkError::io(format!("writing {}", path.display()), e))
}

/// /etc/hosts as written at create, with the container's address instead of loopback
/// for its own names (and its IPv6 address too, on a network with IPv6), and the legacy
/// links' lines before them (as dockerd orders them).
pub(super) fn write_hosts(c: &Container, ip: &str, ip6: &str, link_hosts: &[String]) -> Result<()> {
    let path = c.hosts_path();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let hostname = c.config.hostname.clone().unwrap_or_default();
    let names = crate::containers::etc_files::own_names(&hostname, c.config.domainname.as_deref());
    let own_lines = |out: &mut String| {
        out.push_str(&format!("{ip}\t{names}\n"));
        if !ip6.is_empty() {
            out.push_str(&format!("{ip6}\t{names}\n"));
        }
    };
    let mut out = String::new();
    let mut replaced = false;
    let links: String = link_hosts.iter().map(|l| format!("{l}\n")).collect();
    for line in text.lines() {
        if link_hosts.iter().any(|l| l == line) {
            continue;
        }
        let mine = !hostname.is_empty() && line.strip_prefix("127.0.0.1\t") == Some(names.as_str());
        if mine {
            out.push_str(&links);
            own_lines(&mut out);
            replaced = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !replaced && !hostname.is_empty() {
        out.push_str(&links);
        own_lines(&mut out);
    }
    write_file(&path, &out)
}
