//! The embedded DNS of each container, and the resolv.conf it gets.

use std::net::IpAddr;

use super::*;
use crate::dns::DnsSettings;

impl Netd {
    /// Starts the embedded DNS inside a container's namespace (after connect,
    /// and again for running containers after a restart), or, when it already runs
    /// there, brings its forwarding up to date (a network connected or disconnected):
    /// one listener per namespace, whatever the networks. Whether it was started now.
    /// Names not in the table are forwarded to the container's `--dns` servers
    /// (`servers`; dockerd's "ExtServers"), or else the host's resolvers, unless
    /// every DNS network of the container is internal (then nothing leaves).
    /// Forwarding happens from the host's namespace: loopback servers are the host's.
    pub fn start_dns(
        &self,
        container_id: &str,
        ns: &NetnsPath,
        servers: &[IpAddr],
    ) -> Result<bool> {
        let only_internal = {
            let inner = self.lock()?;
            let mut nets = inner
                .state
                .networks
                .values()
                .filter(|n| n.dns && n.endpoints.contains_key(container_id))
                .peekable();
            nets.peek().is_some() && nets.all(|n| n.internal)
        };
        let upstreams = if only_internal {
            Vec::new()
        } else if !servers.is_empty() {
            resolvconf::servers_on_53(servers)
        } else {
            let host = std::fs::read_to_string(&self.resolv_conf).unwrap_or_default();
            resolvconf::upstreams(&host)
        };
        let config = DnsServerConfig::new(container_id, upstreams);
        self.start_dns_with(container_id, ns, config)
    }

    /// [`Netd::start_dns`] with explicit upstreams and address.
    pub fn start_dns_with(
        &self,
        container_id: &str,
        ns: &NetnsPath,
        config: DnsServerConfig,
    ) -> Result<bool> {
        let mut inner = self.lock()?;
        if let Some(running) = inner.dns_servers.get(container_id) {
            if running.netns() == ns {
                running.reconfigure(config);
                return Ok(false);
            }
        }
        // A server of an earlier namespace of the container's goes first (its sockets
        // are in that namespace, not this one).
        inner.dns_servers.remove(container_id);
        let server = DnsServer::start(ns, self.dns.clone(), config)?;
        inner.dns_servers.insert(container_id.to_string(), server);
        Ok(true)
    }

    /// Whether the container's embedded DNS runs.
    pub fn dns_running(&self, container_id: &str) -> Result<bool> {
        Ok(self.lock()?.dns_servers.contains_key(container_id))
    }

    /// Stops a container's embedded DNS.
    pub fn stop_dns(&self, container_id: &str) -> Result<()> {
        self.lock()?.dns_servers.remove(container_id);
        Ok(())
    }

    /// The resolv.conf a container gets: the embedded DNS's on a network with
    /// DNS (with the container's search domains and options), the host's minus
    /// loopback resolvers on the default bridge.
    pub fn container_resolv_conf(&self, embedded_dns: bool, settings: &DnsSettings) -> String {
        let host = std::fs::read_to_string(&self.resolv_conf).unwrap_or_default();
        if embedded_dns {
            resolvconf::for_embedded_dns(&host, settings)
        } else {
            resolvconf::for_default_bridge(&host)
        }
    }
}
