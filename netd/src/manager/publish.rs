//! Published ports: host ports reserved, DNAT rules in place, remembered.

use super::*;

impl Netd {
    /// Publishes a container's ports through its endpoint on `network_id`:
    /// host ports reserved (ephemeral ones chosen), DNAT rules in place.
    pub fn publish(
        &self,
        container_id: &str,
        network_id: &str,
        specs: &[PortSpec],
    ) -> Result<Vec<PublishedPort>> {
        let (bridge, ip) = {
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
            (net.bridge.clone(), ep.ip)
        };
        let mut reservations = Vec::new();
        let mut published = Vec::new();
        let mut rules = Vec::new();
        for spec in specs {
            let r = self.ports.reserve(spec)?;
            let port = PublishedPort {
                protocol: spec.protocol,
                host_ip: spec.host_ip,
                host_port: r.host_port,
                container_port: spec.container_port,
            };
            rules.push(PortRule {
                owner: container_id.to_string(),
                bridge: bridge.clone(),
                protocol: spec.protocol,
                host_ip: spec.host_ip,
                host_port: r.host_port,
                container_ip: ip,
                container_port: spec.container_port,
            });
            published.push(port);
            reservations.push(r);
        }
        self.firewall.add_ports(rules)?;
        let mut inner = self.lock()?;
        inner
            .reservations
            .entry(container_id.to_string())
            .or_default()
            .extend(reservations);
        let entry = inner
            .state
            .ports
            .entry(container_id.to_string())
            .or_insert_with(|| (network_id.to_string(), Vec::new()));
        entry.1.extend(published.iter().copied());
        self.save_endpoints(&inner)?;
        Ok(published)
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
