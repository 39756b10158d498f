//! Containers on networks: namespaces, connect, disconnect, release.

use super::*;

impl Netd {
    /// Creates a container's network namespace file (`<netns_dir>/<id[..12]>`).
    pub fn create_netns(&self, container_id: &str) -> Result<NetnsPath> {
        netns::create(&self.netns_dir, &container_id[..container_id.len().min(12)])
    }

    /// Removes a container's namespace file: its veth pairs go with the namespace.
    pub fn remove_netns(&self, ns: &NetnsPath) -> Result<()> {
        netns::remove(ns)
    }

    /// Connects a container's namespace to a network.
    pub async fn connect(&self, req: &ConnectRequest) -> Result<Connected> {
        let record = self
            .lock()?
            .state
            .networks
            .get(&req.network_id)
            .cloned()
            .ok_or_else(|| Error::NoSuchNetwork(req.network_id.clone()))?;
        if record.endpoints.contains_key(&req.container_id) {
            return Err(Error::EndpointExists {
                container: req.container_id.clone(),
                network: record.name.clone(),
            });
        }
        let pool = self.pool(&req.network_id)?;
        let ip = self
            .lock()?
            .ipam
            .lease(&req.network_id, &req.container_id, req.ip)?;
        let config = EndpointConfig {
            netns: req.netns.clone(),
            bridge: record.bridge.clone(),
            ifname: req.ifname.clone(),
            address: Ipv4Net::new(ip, pool.subnet.prefix_len()).unwrap_or(pool.subnet),
            gateway: (req.default_route && !record.internal).then_some(pool.gateway),
            mtu: record.mtu,
            mac: req.mac,
        };
        let endpoint = match network::attach(&self.host, &config).await {
            Ok(ep) => ep,
            Err(e) => {
                self.lock()?
                    .ipam
                    .release(&req.network_id, &req.container_id)?;
                return Err(e);
            }
        };
        let ep = EndpointRecord {
            host_ifname: endpoint.host_ifname.clone(),
            ifname: endpoint.ifname.clone(),
            ip,
            prefix_len: pool.subnet.prefix_len(),
            mac: endpoint.mac,
            names: req.names.clone(),
            netns: req.netns.path().to_path_buf(),
        };
        self.add_names(&record, &req.container_id, &ep);
        let mut inner = self.lock()?;
        if let Some(net) = inner.state.networks.get_mut(&req.network_id) {
            net.endpoints.insert(req.container_id.clone(), ep);
        }
        self.save(&inner)?;
        Ok(Connected {
            endpoint,
            gateway: pool.gateway,
        })
    }

    pub(super) fn add_names(&self, net: &NetworkRecord, container: &str, ep: &EndpointRecord) {
        if net.dns {
            self.dns.set_endpoint(
                &net.id,
                &net.name,
                DnsEntry {
                    endpoint_id: container.to_string(),
                    names: ep.names.clone(),
                    ip: ep.ip,
                },
            );
        }
    }

    /// Disconnects a container from a network: its names, its published
    /// ports through that network, its lease; its veth pair too when the
    /// container stays alive (`container_running`), otherwise removing the
    /// namespace frees it.
    pub async fn disconnect(
        &self,
        network_id: &str,
        container_id: &str,
        container_running: bool,
    ) -> Result<()> {
        self.dns.remove_endpoint(network_id, container_id);
        let published_here = matches!(
            self.lock()?.state.ports.get(container_id),
            Some((net, _)) if net == network_id
        );
        if published_here {
            self.unpublish(container_id)?;
        }
        let ep = {
            let mut inner = self.lock()?;
            let ep = inner
                .state
                .networks
                .get_mut(network_id)
                .and_then(|n| n.endpoints.remove(container_id));
            inner.ipam.release(network_id, container_id)?;
            self.save(&inner)?;
            ep
        };
        if let (true, Some(ep)) = (container_running, ep) {
            network::link::delete(&self.host, &ep.host_ifname).await?;
        }
        Ok(())
    }

    /// Everything of a container that goes (docker rm, or it stopped): its
    /// names, ports, DNS server, leases and endpoint records, then its
    /// namespace file, which frees its veth pairs.
    pub async fn release_container(
        &self,
        container_id: &str,
        ns: Option<&NetnsPath>,
    ) -> Result<()> {
        self.stop_dns(container_id)?;
        self.unpublish(container_id)?;
        let networks: Vec<String> = self
            .lock()?
            .state
            .networks
            .values()
            .filter(|n| n.endpoints.contains_key(container_id))
            .map(|n| n.id.clone())
            .collect();
        for id in networks {
            self.disconnect(&id, container_id, false).await?;
        }
        // Addresses leased by a connect that did not get to record its endpoint.
        self.lock()?.ipam.release_everywhere(container_id)?;
        match ns {
            Some(ns) => netns::remove(ns),
            None => Ok(()),
        }
    }

    /// The containers netd holds something for: an address, an endpoint, published
    /// ports (berthd releases those of containers it does not know, or that do not run).
    pub fn holders(&self) -> Result<std::collections::BTreeSet<String>> {
        let inner = self.lock()?;
        let mut ids = inner.ipam.holders();
        for n in inner.state.networks.values() {
            ids.extend(n.endpoints.keys().cloned());
        }
        ids.extend(inner.state.ports.keys().cloned());
        Ok(ids)
    }
}
