//! Published ports: host ports reserved, DNAT rules in place, remembered.
//!
//! A port published on no address in particular goes to `0.0.0.0` and, for a
//! container with an IPv6 address, to `::` on the same host port (dockerd 25+ shows
//! both); one on an IPv4 or IPv6 address goes to that family only. Where DNAT cannot
//! carry the traffic — an IPv6 loopback address, or an IPv6 address for a container
//! without IPv6 — the userland proxy serves the port instead (`crate::proxy`), to the
//! container's IPv6 address, else its IPv4 one, as docker-proxy.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use super::*;

/// What a container's endpoint offers to publish through.
struct Target {
    bridge: String,
    ip: Ipv4Addr,
    ip6: Option<Ipv6Addr>,
}

/// Tries this many ephemeral ports for one free on both families.
const BOTH_FAMILIES_ATTEMPTS: usize = 16;

impl Netd {
    /// Publishes a container's ports through its endpoint on `network_id`:
    /// host ports reserved (ephemeral ones chosen), DNAT rules in place.
    pub fn publish(
        &self,
        container_id: &str,
        network_id: &str,
        specs: &[PortSpec],
    ) -> Result<Vec<PublishedPort>> {
        let target = {
            let inner = self.lock()?;
            let net = inner
                .state
                .networks
                .get(network_id)
                .ok_or_else(|| Error::NoSuchNetwork(network_id.to_string()))?;
            let ep = net
                .endpoints
                .get(container_id)
                .ok_or_else(|| Error::NoSuchNetwork(format!("{container_id} on {network_id}")))?;
            Target {
                bridge: net.bridge.clone(),
                ip: ep.ip,
                ip6: ep.ip6,
            }
        };
        let mut reservations = Vec::new();
        for spec in specs {
            reservations.extend(self.reserve(spec)?);
        }
        let mut published = Vec::new();
        let mut rules = Vec::new();
        for (spec, r) in &mut reservations {
            let container_ip = match (r.host_ip, target.ip6) {
                (IpAddr::V6(_), Some(ip6)) => IpAddr::V6(ip6),
                _ => IpAddr::V4(target.ip),
            };
            let proxied = match r.host_ip {
                IpAddr::V6(ip) => ip.is_loopback() || target.ip6.is_none(),
                IpAddr::V4(_) => false,
            };
            if proxied {
                r.start_proxy(SocketAddr::new(container_ip, spec.container_port))?;
            }
            published.push(PublishedPort {
                protocol: spec.protocol,
                host_ip: (r.host_ip != IpAddr::V4(Ipv4Addr::UNSPECIFIED)).then_some(r.host_ip),
                host_port: r.host_port,
                container_port: spec.container_port,
            });
            if proxied {
                continue;
            }
            rules.push(PortRule {
                owner: container_id.to_string(),
                bridge: target.bridge.clone(),
                protocol: spec.protocol,
                host_ip: (!r.host_ip.is_unspecified()).then_some(r.host_ip),
                host_port: r.host_port,
                container_ip,
                container_port: spec.container_port,
            });
        }
        self.firewall.add_ports(rules)?;
        let mut inner = self.lock()?;
        inner
            .reservations
            .entry(container_id.to_string())
            .or_default()
            .extend(reservations.into_iter().map(|(_, r)| r));
        let entry = inner
            .state
            .ports
            .entry(container_id.to_string())
            .or_insert_with(|| (network_id.to_string(), Vec::new()));
        entry.1.extend(published.iter().copied());
        self.save_endpoints(&inner)?;
        Ok(published)
    }

    /// The host ports of one spec: one family's, or both on one port.
    fn reserve(&self, spec: &PortSpec) -> Result<Vec<(PortSpec, PortReservation)>> {
        match spec.host_ip {
            Some(_) => Ok(vec![(*spec, self.ports.reserve(spec)?)]),
            // No address given: both families, as dockerd's port mapper; `[::]` of a
            // container without IPv6 goes through the userland proxy to its IPv4
            // address (see `publish`). Only IPv4 where the host has no IPv6.
            None if !PortAllocator::ipv6_available() => {
                Ok(vec![(*spec, self.ports.reserve(spec)?)])
            }
            None => {
                let attempts = if spec.host_ports.is_none() {
                    BOTH_FAMILIES_ATTEMPTS
                } else {
                    1
                };
                let any6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
                let mut last = None;
                for _ in 0..attempts {
                    let v4 = self.ports.reserve(spec)?;
                    match self.ports.reserve_at(any6, v4.host_port, spec.protocol) {
                        Ok(v6) => return Ok(vec![(*spec, v4), (*spec, v6)]),
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or(Error::PortAllocated(format!("[::]:{:?}", spec.host_ports))))
            }
        }
    }

    /// The ports a container publishes (`docker port`).
    pub fn published(&self, container_id: &str) -> Result<Vec<PublishedPort>> {
        Ok(self
            .lock()?
            .state
            .ports
            .get(container_id)
            .map(|(_, p)| p.clone())
            .unwrap_or_default())
    }

    /// Removes a container's published ports and frees the host ports.
    pub fn unpublish(&self, container_id: &str) -> Result<()> {
        self.firewall.remove_ports(container_id)?;
        let mut inner = self.lock()?;
        inner.reservations.remove(container_id);
        if inner.state.ports.remove(container_id).is_some() {
            self.save_endpoints(&inner)?;
        }
        Ok(())
    }
}
