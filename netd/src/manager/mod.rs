//! [`Netd`]: the one object berthd holds. It ties the pieces together —
//! IPAM, bridges, endpoints, firewall, embedded DNS — and remembers its
//! networks, endpoints and published ports across restarts.

mod containers;
mod dns;
mod networks;
mod publish;
mod spec;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rtnetlink::Handle;

use crate::dns::{resolvconf, DnsEntry, DnsServer, DnsServerConfig, DnsTable};
use crate::error::{Error, Result};
use crate::firewall::{
    BridgeOptions, Firewall, FirewallBackend, NetworkRules, PortAllocator, PortReservation,
    PortRule, PortSpec,
};
use crate::ipam::{self, AddressPool, AddressPool6, Ipam};
use crate::netns::{self, NetnsPath};
use crate::network::{self, BridgeConfig, EndpointConfig};
use crate::state::{EndpointRecord, NetworkRecord, PublishedPort, StateFile};
use networks::{bridge_filtering, rules_of};
pub use spec::{
    ConnectRequest, Connected, NetworkInfo, NetworkSpec, DEFAULT_BRIDGE, DEFAULT_NETWORK_NAME,
};

/// How berthd sets netd up (dockerd's flags where they exist).
pub struct NetdConfig {
    /// Where IPAM leases and netd's records live (under `--data-root`).
    pub state_dir: PathBuf,
    /// Where network namespace files live (under `--exec-root`).
    pub netns_dir: PathBuf,
    /// `--default-address-pool`s; dockerd's defaults when empty.
    pub default_address_pools: Vec<AddressPool>,
    /// The IPv6 `--default-address-pool`s; a ULA /48 of this daemon's when empty.
    pub default_address_pools6: Vec<AddressPool6>,
    pub firewall: Box<dyn FirewallBackend>,
    /// The host's resolv.conf (forwarders of the embedded DNS).
    pub resolv_conf: PathBuf,
}

pub(crate) struct Inner {
    ipam: Ipam,
    state: StateFile,
    reservations: HashMap<String, Vec<PortReservation>>,
    dns_servers: HashMap<String, DnsServer>,
}

/// netd, as berthd hosts it.
pub struct Netd {
    host: Handle,
    /// The state directory, written on bridges as their owner.
    owner: String,
    netns_dir: PathBuf,
    state_path: PathBuf,
    resolv_conf: PathBuf,
    firewall: Firewall,
    dns: Arc<DnsTable>,
    ports: PortAllocator,
    inner: Mutex<Inner>,
}

impl Netd {
    /// Opens netd's state, removes stale bridges and rules, and puts back the
    /// networks, rules, names and port reservations of the previous run.
    /// Must run on a tokio runtime.
    pub async fn open(config: NetdConfig) -> Result<Netd> {
        let pools = if config.default_address_pools.is_empty() {
            ipam::default_pools()
        } else {
            config.default_address_pools
        };
        let pools6 = if config.default_address_pools6.is_empty() {
            vec![ipam::default_pool6(&config.state_dir.display().to_string())]
        } else {
            config.default_address_pools6
        };
        let ipam = Ipam::open(&config.state_dir, pools, pools6)?;
        let state_path = config.state_dir.join("netd.json");
        let state = StateFile::load(&state_path)?;
        let host = netns::netlink_here()?;
        let keep: Vec<&str> = state.networks.keys().map(String::as_str).collect();
        let owner = config.state_dir.display().to_string();
        network::cleanup_stale_bridges(&host, &owner, &keep).await?;
        let firewall = Firewall::new(config.firewall)?;
        let netd = Netd {
            host,
            owner,
            netns_dir: config.netns_dir,
            state_path,
            resolv_conf: config.resolv_conf,
            firewall,
            dns: Arc::new(DnsTable::new()),
            ports: PortAllocator::default(),
            inner: Mutex::new(Inner {
                ipam,
                state: state.clone(),
                reservations: HashMap::new(),
                dns_servers: HashMap::new(),
            }),
        };
        netd.restore(&state).await?;
        Ok(netd)
    }

    async fn restore(&self, state: &StateFile) -> Result<()> {
        for net in state.networks.values() {
            let pool = self.pool(&net.id)?;
            let bridge = BridgeConfig {
                owner: self.owner.clone(),
                network_id: net.id.clone(),
                name: net.bridge.clone(),
                gateway: pool.gateway_net(),
                gateway6: pool.v6.as_ref().map(|v6| v6.gateway_net()),
                mtu: net.mtu,
            };
            network::create_bridge(&self.host, &bridge).await?;
            bridge_filtering(net.options)?;
            self.firewall.add_network(rules_of(net, &pool))?;
            for (container, ep) in &net.endpoints {
                self.add_names(net, container, ep);
            }
        }
        // publish() records them again, with fresh reservations.
        self.lock()?.state.ports.clear();
        for (container, (network_id, ports)) in &state.ports {
            let specs: Vec<PortSpec> = ports
                .iter()
                .map(|p| PortSpec {
                    // One family each, as recorded (0.0.0.0 for the old "every address").
                    host_ip: Some(
                        p.host_ip
                            .unwrap_or(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                    ),
                    host_ports: Some((p.host_port, p.host_port)),
                    container_port: p.container_port,
                    protocol: p.protocol,
                })
                .collect();
            if let Err(e) = self.publish(container, network_id, &specs) {
                tracing::warn!(container, error = %e, "could not publish ports again");
            }
        }
        Ok(())
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>> {
        self.inner.lock().map_err(|_| Error::State {
            path: self.state_path.clone(),
            message: "lock poisoned".into(),
        })
    }

    fn save(&self, inner: &Inner) -> Result<()> {
        inner.state.save(&self.state_path)
    }

    fn pool(&self, network_id: &str) -> Result<ipam::NetworkPool> {
        self.lock()?
            .ipam
            .network(network_id)
            .cloned()
            .ok_or_else(|| Error::NoSuchNetwork(network_id.to_string()))
    }

    /// The name table the embedded DNS servers read.
    pub fn dns_table(&self) -> Arc<DnsTable> {
        self.dns.clone()
    }

    /// The firewall (its state can be inspected).
    pub fn firewall(&self) -> &Firewall {
        &self.firewall
    }

    /// Removes every network, rule and reservation of netd's (shutdown without
    /// live restore, or tests). Namespace files are the caller's to remove.
    pub async fn teardown(&self) -> Result<()> {
        let ids: Vec<String> = self.lock()?.state.networks.keys().cloned().collect();
        let containers: Vec<String> = self.lock()?.state.ports.keys().cloned().collect();
        for c in containers {
            self.unpublish(&c)?;
        }
        for id in ids {
            let containers: Vec<String> = self
                .lock()?
                .state
                .networks
                .get(&id)
                .map(|n| n.endpoints.keys().cloned().collect())
                .unwrap_or_default();
            for c in containers {
                self.disconnect(&id, &c, false).await?;
            }
            self.remove_network(&id).await?;
        }
        self.lock()?.dns_servers.clear();
        self.firewall.clear()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_send_sync<T: Send + Sync>() {}
    fn is_send<T: Send>(_: &T) {}

    /// berthd shares one `Arc<Netd>` across its axum handlers: the object and
    /// the futures of its async methods must be Send.
    #[allow(dead_code)]
    fn futures_are_send(netd: &Netd, req: &ConnectRequest, spec: &NetworkSpec) {
        is_send_sync::<Netd>();
        is_send(&netd.connect(req));
        is_send(&netd.create_network(spec));
        is_send(&netd.remove_network("x"));
        is_send(&netd.disconnect("x", "y", true));
        is_send(&netd.release_container("x", None));
        is_send(&netd.teardown());
    }
}
