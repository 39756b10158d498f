//! [`Netd`]: the one object berthd holds. It ties the pieces together —
//! IPAM, bridges, endpoints, firewall, embedded DNS — and remembers its
//! networks, endpoints and published ports across restarts.

mod containers;
mod dns;
mod publish;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use ipnet::Ipv4Net;
use rtnetlink::Handle;

use crate::dns::{resolvconf, DnsEntry, DnsServer, DnsServerConfig, DnsTable};
use crate::error::{Error, Result};
use crate::firewall::{
    BridgeOptions, Firewall, FirewallBackend, NetworkRules, PortAllocator, PortReservation,
    PortRule, PortSpec,
};
use crate::ipam::{self, AddressPool, Ipam, PoolRequest};
use crate::netns::{self, NetnsPath};
use crate::network::{self, BridgeConfig, Endpoint, EndpointConfig};
use crate::state::{EndpointRecord, NetworkRecord, PublishedPort, StateFile};

/// How berthd sets netd up (dockerd's flags where they exist).
pub struct NetdConfig {
    /// Where IPAM leases and netd's records live (under `--data-root`).
    pub state_dir: PathBuf,
    /// Where network namespace files live (under `--exec-root`).
    pub netns_dir: PathBuf,
    /// `--default-address-pool`s; dockerd's defaults when empty.
    pub default_address_pools: Vec<AddressPool>,
    pub firewall: Box<dyn FirewallBackend>,
    /// The host's resolv.conf (forwarders of the embedded DNS).
    pub resolv_conf: PathBuf,
}

/// A network to create (docker network create, or the default bridge).
#[derive(Debug, Clone, Default)]
pub struct NetworkSpec {
    pub id: String,
    pub name: String,
    /// `com.docker.network.bridge.name`; else `br-<id[..12]>`.
    pub bridge: Option<String>,
    pub internal: bool,
    pub ipam: PoolRequest,
    pub mtu: Option<u32>,
    /// Embedded DNS (true for user-defined networks).
    pub dns: bool,
    /// enable_icc and enable_ip_masquerade (both on by default).
    pub options: BridgeOptions,
}

/// The default network's name and its bridge (dockerd's `bridge` on `docker0`).
pub const DEFAULT_NETWORK_NAME: &str = "bridge";
pub const DEFAULT_BRIDGE: &str = "berth0";

impl NetworkSpec {
    /// The default `bridge` network: `berth0`, its subnet from `--bip` or else
    /// the first default pool free of host routes (172.17.0.0/16 normally);
    /// no embedded DNS, as in Docker.
    pub fn default_bridge(id: &str, bip: Option<&str>, mtu: Option<u32>) -> Result<NetworkSpec> {
        let ipam = match bip {
            Some(bip) => {
                let (subnet, gateway) = ipam::parse_bip(bip)?;
                PoolRequest {
                    subnet: Some(subnet),
                    gateway: Some(gateway),
                    ip_range: None,
                }
            }
            None => PoolRequest::default(),
        };
        Ok(NetworkSpec {
            id: id.to_string(),
            name: DEFAULT_NETWORK_NAME.to_string(),
            bridge: Some(DEFAULT_BRIDGE.to_string()),
            internal: false,
            ipam,
            mtu,
            dns: false,
            options: BridgeOptions::default(),
        })
    }
}

/// A network as inspect shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    pub id: String,
    pub bridge: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub ip_range: Option<Ipv4Net>,
}

/// docker network connect (or a container's start) on one network.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    pub network_id: String,
    pub container_id: String,
    pub netns: NetnsPath,
    /// `eth0` for the first network, `eth1`…
    pub ifname: String,
    /// `--ip`.
    pub ip: Option<Ipv4Addr>,
    /// `--mac-address`.
    pub mac: Option<[u8; 6]>,
    /// Names on the embedded DNS: name, aliases, short id, hostname.
    pub names: Vec<String>,
    /// Whether this network gives the default route (the first one does).
    pub default_route: bool,
}

/// What connecting gave the container (NetworkSettings.Networks.<name>).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    pub endpoint: Endpoint,
    pub gateway: Ipv4Addr,
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
        let ipam = Ipam::open(&config.state_dir, pools)?;
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
                mtu: net.mtu,
            };
            network::create_bridge(&self.host, &bridge).await?;
            bridge_filtering(net.options)?;
            self.firewall.add_network(rules_of(net, pool.subnet))?;
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
                    host_ip: p.host_ip,
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

    /// Creates a bridge network (idempotent for the same id): subnet from the
    /// request or the default pools, bridge up with the gateway, rules in place.
    pub async fn create_network(&self, spec: &NetworkSpec) -> Result<NetworkInfo> {
        let routes = network::host_routes(&self.host).await?;
        let pool = self
            .lock()?
            .ipam
            .add_network(&spec.id, &spec.ipam, &routes)?;
        let bridge = spec
            .bridge
            .clone()
            .unwrap_or_else(|| BridgeConfig::default_name(&spec.id));
        let config = BridgeConfig {
            owner: self.owner.clone(),
            network_id: spec.id.clone(),
            name: bridge.clone(),
            gateway: pool.gateway_net(),
            mtu: spec.mtu,
        };
        let made = async {
            network::create_bridge(&self.host, &config).await?;
            bridge_filtering(spec.options)?;
            let record = NetworkRecord {
                id: spec.id.clone(),
                name: spec.name.clone(),
                bridge: bridge.clone(),
                internal: spec.internal,
                mtu: spec.mtu,
                dns: spec.dns,
                options: spec.options,
                endpoints: Default::default(),
            };
            self.firewall.add_network(rules_of(&record, pool.subnet))?;
            let mut inner = self.lock()?;
            inner
                .state
                .networks
                .entry(spec.id.clone())
                .or_insert(record);
            self.save(&inner)
        }
        .await;
        if let Err(e) = made {
            let _ = network::delete_bridge(&self.host, &bridge, &self.owner, &spec.id).await;
            let _ = self.lock()?.ipam.remove_network(&spec.id);
            return Err(e);
        }
        Ok(NetworkInfo {
            id: spec.id.clone(),
            bridge,
            subnet: pool.subnet,
            gateway: pool.gateway,
            ip_range: pool.ip_range,
        })
    }

    /// Deletes a network: its rules, its bridge, its leases. Refused with
    /// dockerd's message while containers are connected.
    pub async fn remove_network(&self, network_id: &str) -> Result<()> {
        let record = self.lock()?.state.networks.get(network_id).cloned();
        let Some(record) = record else {
            return Ok(());
        };
        if !record.endpoints.is_empty() {
            return Err(Error::ActiveEndpoints {
                name: record.name.clone(),
                id: record.id.clone(),
            });
        }
        self.firewall.remove_network(network_id)?;
        network::delete_bridge(&self.host, &record.bridge, &self.owner, network_id).await?;
        let mut inner = self.lock()?;
        inner.state.networks.remove(network_id);
        inner.ipam.remove_network(network_id)?;
        self.save(&inner)
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

fn rules_of(net: &NetworkRecord, subnet: Ipv4Net) -> NetworkRules {
    NetworkRules {
        network_id: net.id.clone(),
        bridge: net.bridge.clone(),
        subnet,
        internal: net.internal,
        options: net.options,
    }
}

/// Without icc, traffic between two ports of one bridge must meet the firewall: bridged
/// frames go through it when br_netfilter's bridge-nf-call-iptables is on, which dockerd
/// also turns on.
fn bridge_filtering(options: BridgeOptions) -> Result<()> {
    if options.icc {
        return Ok(());
    }
    crate::sysctl::enable_bridge_nf_call_iptables()
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

    #[test]
    fn default_bridge_spec_follows_bip() {
        let spec = NetworkSpec::default_bridge("id", Some("10.9.0.1/16"), Some(1400)).unwrap();
        assert_eq!(spec.name, DEFAULT_NETWORK_NAME);
        assert_eq!(spec.bridge.as_deref(), Some(DEFAULT_BRIDGE));
        assert_eq!(spec.ipam.subnet, Some("10.9.0.0/16".parse().unwrap()));
        assert_eq!(spec.ipam.gateway, Some(Ipv4Addr::new(10, 9, 0, 1)));
        assert!(!spec.dns);
        let spec = NetworkSpec::default_bridge("id", None, None).unwrap();
        assert_eq!(spec.ipam, PoolRequest::default());
        assert!(NetworkSpec::default_bridge("id", Some("10.9.0.0/16"), None).is_err());
    }
}
