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
        let (ip, ip6, has_v6_elsewhere) = {
            let mut inner = self.lock()?;
            let ip = inner
                .ipam
                .lease(&req.network_id, &req.container_id, req.ip)?;
            let ip6 = match inner
                .ipam
                .lease6(&req.network_id, &req.container_id, req.ip6)
            {
                Ok(ip6) => ip6,
                Err(e) => {
                    inner.ipam.release(&req.network_id, &req.container_id)?;
                    return Err(e);
                }
            };
            let has_v6_elsewhere = inner
                .state
                .networks
                .values()
                .filter_map(|n| n.endpoints.get(&req.container_id))
                .any(|ep| ep.ip6.is_some());
            (ip, ip6, has_v6_elsewhere)
        };
        let v6 = pool.v6.as_ref().zip(ip6);
        let address6 =
            v6.map(|(p, ip6)| Ipv6Net::new(ip6, p.subnet.prefix_len()).unwrap_or(p.subnet));
        // The IPv6 default route: through the network of the IPv4 one, or the first
        // network with IPv6 (dockerd 26+ chooses a gateway per family).
        let gateway6 = v6
            .filter(|_| !record.internal && (req.default_route || !has_v6_elsewhere))
            .map(|(p, _)| p.gateway);
        let config = EndpointConfig {
            netns: req.netns.clone(),
            bridge: record.bridge.clone(),
            ifname: req.ifname.clone(),
            address: Ipv4Net::new(ip, pool.subnet.prefix_len()).unwrap_or(pool.subnet),
            gateway: (req.default_route && !record.internal).then_some(pool.gateway),
            mtu: record.mtu,
            mac: req.mac,
            extra_addresses: req
                .link_local
                .iter()
                .map(|ip| IpNet::V4(Ipv4Net::new(*ip, 16).unwrap_or_else(|_| Ipv4Net::from(*ip))))
                .collect(),
            address6,
            gateway6,
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
            ip6,
            prefix_len6: address6.map_or(0, |a| a.prefix_len()),
            mac: endpoint.mac,
            names: req.names.clone(),
            netns: req.netns.path().to_path_buf(),
            default_route: config.gateway.is_some(),
            links: req.links.clone(),
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
            ip6: address6,
            gateway6: pool.v6.as_ref().map(|p| p.gateway),
        })
    }

    /// The interface name and default-route choice for a container's next endpoint
    /// (`docker network connect` of a running container): the first `ethN` its namespace
    /// does not use, and the default route when no endpoint of its gives one.
    pub fn next_endpoint(&self, container_id: &str) -> Result<(String, bool)> {
        let inner = self.lock()?;
        let mine: Vec<&EndpointRecord> = inner
            .state
            .networks
            .values()
            .filter_map(|n| n.endpoints.get(container_id))
            .collect();
        let ifname = (0..)
            .map(|i| format!("eth{i}"))
            .find(|name| !mine.iter().any(|ep| ep.ifname == *name))
            .unwrap_or_else(|| "eth0".into());
        Ok((ifname, !mine.iter().any(|ep| ep.default_route)))
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
                    ip6: ep.ip6,
                    links: ep.links.clone(),
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
            if ep.default_route {
                self.move_default_route(container_id, &ep.netns).await?;
            }
        }
        Ok(())
    }

    /// The endpoint that gave the default route went: another endpoint of the container
    /// on a network that reaches out gives it now (dockerd's sandbox updateGateway).
    async fn move_default_route(&self, container_id: &str, netns: &std::path::Path) -> Result<()> {
        let next = {
            let inner = self.lock()?;
            inner
                .state
                .networks
                .values()
                .filter(|n| !n.internal && n.endpoints.contains_key(container_id))
                .find_map(|n| Some((n.id.clone(), inner.ipam.network(&n.id)?.gateway)))
        };
        let Some((network_id, gateway)) = next else {
            return Ok(());
        };
        let ns = NetnsPath::existing(netns);
        let inside = netns::netlink_in(&ns, &tokio::runtime::Handle::current())?;
        network::link::add_default_route(&inside, gateway).await?;
        let mut inner = self.lock()?;
        if let Some(ep) = inner
            .state
            .networks
            .get_mut(&network_id)
            .and_then(|n| n.endpoints.get_mut(container_id))
        {
            ep.default_route = true;
        }
        self.save(&inner)
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
