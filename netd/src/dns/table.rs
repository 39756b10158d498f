//! The names the embedded DNS answers: per network, each endpoint's names
//! (container name, aliases, short id, hostname) and address. berthd keeps it
//! up to date as containers connect and disconnect; every container's server
//! reads the same table and sees only the networks its container is on.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::RwLock;

/// One container on one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsEntry {
    /// The container's id: which servers may see the network.
    pub endpoint_id: String,
    /// Names it answers to, the first being the container's name (used for PTR).
    pub names: Vec<String>,
    pub ip: Ipv4Addr,
    /// Its address on a network with IPv6 (AAAA records).
    pub ip6: Option<Ipv6Addr>,
    /// Its legacy links on this network (`--link name:alias` on a user-defined network):
    /// (alias, the linked container's endpoint id), names only it resolves.
    pub links: Vec<(String, String)>,
}

#[derive(Debug, Default)]
struct NetworkNames {
    name: String,
    entries: Vec<DnsEntry>,
}

/// The shared name table.
#[derive(Debug, Default)]
pub struct DnsTable {
    networks: RwLock<HashMap<String, NetworkNames>>,
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl DnsTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces an endpoint's names on a network.
    pub fn set_endpoint(&self, network_id: &str, network_name: &str, entry: DnsEntry) {
        if let Ok(mut nets) = self.networks.write() {
            let net = nets.entry(network_id.to_string()).or_default();
            net.name = network_name.to_string();
            net.entries.retain(|e| e.endpoint_id != entry.endpoint_id);
            net.entries.push(entry);
        }
    }

    /// Removes an endpoint from a network (disconnect, or the container went).
    pub fn remove_endpoint(&self, network_id: &str, endpoint_id: &str) {
        if let Ok(mut nets) = self.networks.write() {
            if let Some(net) = nets.get_mut(network_id) {
                net.entries.retain(|e| e.endpoint_id != endpoint_id);
                if net.entries.is_empty() {
                    nets.remove(network_id);
                }
            }
        }
    }

    /// The IPv4 addresses `name` has on the networks `asker` is on (one per network,
    /// as dockerd answers), or None when no shared network knows the name.
    pub fn lookup_a(&self, asker: &str, name: &str) -> Option<Vec<Ipv4Addr>> {
        let found = self.lookup(asker, name)?;
        Some(found.iter().map(|e| e.0).collect())
    }

    /// The IPv6 addresses of `name` on the shared networks: Some (maybe empty: a known
    /// name without IPv6 has no AAAA record) when a shared network knows the name.
    pub fn lookup_aaaa(&self, asker: &str, name: &str) -> Option<Vec<Ipv6Addr>> {
        let found = self.lookup(asker, name)?;
        Some(found.iter().filter_map(|e| e.1).collect())
    }

    /// The (IPv4, IPv6) addresses of `name` on the networks `asker` is on.
    fn lookup(&self, asker: &str, name: &str) -> Option<Vec<(Ipv4Addr, Option<Ipv6Addr>)>> {
        let name = normalize(name);
        let nets = self.networks.read().ok()?;
        let mut found = Vec::new();
        for net in nets.values() {
            if !net.entries.iter().any(|e| e.endpoint_id == asker) {
                continue;
            }
            // dockerd also answers `name.network`.
            let suffix = format!(".{}", net.name.to_ascii_lowercase());
            let short = name.strip_suffix(&suffix).unwrap_or(&name);
            // The asker's own links first: an alias only it resolves.
            let linked = net
                .entries
                .iter()
                .filter(|e| e.endpoint_id == asker)
                .flat_map(|e| e.links.iter())
                .filter(|(alias, _)| normalize(alias) == name || normalize(alias) == short)
                .filter_map(|(_, target)| net.entries.iter().find(|e| e.endpoint_id == *target));
            for e in linked {
                if !found.iter().any(|(ip, _)| *ip == e.ip) {
                    found.push((e.ip, e.ip6));
                }
            }
            for e in &net.entries {
                if e.names
                    .iter()
                    .any(|n| normalize(n) == name || normalize(n) == short)
                    && !found.iter().any(|(ip, _)| *ip == e.ip)
                {
                    found.push((e.ip, e.ip6));
                }
            }
        }
        (!found.is_empty()).then_some(found)
    }

    /// The name of `ip` (IPv4 or IPv6) on a network `asker` shares: `name.network`.
    pub fn lookup_ptr(&self, asker: &str, ip: IpAddr) -> Option<String> {
        let nets = self.networks.read().ok()?;
        nets.values()
            .filter(|net| net.entries.iter().any(|e| e.endpoint_id == asker))
            .find_map(|net| {
                let e = net.entries.iter().find(|e| match ip {
                    IpAddr::V4(v4) => e.ip == v4,
                    IpAddr::V6(v6) => e.ip6 == Some(v6),
                })?;
                Some(format!("{}.{}", e.names.first()?, net.name))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, names: &[&str], ip: [u8; 4]) -> DnsEntry {
        DnsEntry {
            endpoint_id: id.into(),
            names: names.iter().map(|s| s.to_string()).collect(),
            ip: ip.into(),
            ip6: None,
            links: Vec::new(),
        }
    }

    #[test]
    fn names_are_seen_only_on_shared_networks() {
        let t = DnsTable::new();
        t.set_endpoint("n1", "front", entry("a", &["web", "www"], [10, 0, 0, 2]));
        t.set_endpoint("n1", "front", entry("b", &["db"], [10, 0, 0, 3]));
        t.set_endpoint("n2", "back", entry("c", &["cache"], [10, 1, 0, 2]));
        assert_eq!(t.lookup_a("b", "WWW."), Some(vec![[10, 0, 0, 2].into()]));
        assert_eq!(
            t.lookup_a("b", "web.front"),
            Some(vec![[10, 0, 0, 2].into()])
        );
        assert_eq!(t.lookup_a("b", "cache"), None);
        assert_eq!(t.lookup_a("c", "web"), None);
        assert_eq!(
            t.lookup_ptr("b", Ipv4Addr::new(10, 0, 0, 2).into())
                .as_deref(),
            Some("web.front")
        );
        assert_eq!(t.lookup_ptr("c", Ipv4Addr::new(10, 0, 0, 2).into()), None);
        // IPv6: AAAA and ip6.arpa for an endpoint with an IPv6 address; a known name
        // without one has no AAAA record (but is known).
        let mut v6 = entry("e", &["six"], [10, 0, 0, 9]);
        v6.ip6 = Some("fd42::9".parse().unwrap());
        t.set_endpoint("n1", "front", v6);
        assert_eq!(
            t.lookup_aaaa("b", "six"),
            Some(vec!["fd42::9".parse::<Ipv6Addr>().unwrap()])
        );
        assert_eq!(t.lookup_aaaa("b", "web"), Some(vec![]));
        assert_eq!(t.lookup_aaaa("b", "nope"), None);
        assert_eq!(
            t.lookup_ptr("b", "fd42::9".parse::<IpAddr>().unwrap())
                .as_deref(),
            Some("six.front")
        );
        // Connect c to n1: at once it sees web.
        t.set_endpoint("n1", "front", entry("c", &["cache"], [10, 0, 0, 4]));
        assert!(t.lookup_a("c", "web").is_some());
        t.remove_endpoint("n1", "c");
        assert_eq!(t.lookup_a("c", "web"), None);
        // A link alias: resolved by the linking container only.
        let mut linking = entry("d", &["client"], [10, 1, 0, 3]);
        linking.links.push(("cachealias".into(), "c".into()));
        t.set_endpoint("n2", "back", linking);
        assert_eq!(
            t.lookup_a("d", "cachealias"),
            Some(vec![[10, 1, 0, 2].into()])
        );
        assert_eq!(t.lookup_a("c", "cachealias"), None);
    }
}
