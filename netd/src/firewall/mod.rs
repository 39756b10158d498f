//! Firewall: outbound masquerade, isolation between bridges and published
//! ports, behind one trait with an nftables and an iptables backend.
//!
//! The caller's view is a [`FirewallState`] (every network and published port
//! netd manages); each change re-renders Berth's own chains whole and applies
//! them in one atomic batch, so a rule never outlives its network or
//! endpoint, and a restart simply applies the state again. Users' rules in
//! `DOCKER-USER` are never flushed.
//!
//! Both backends keep Berth's networks working whatever the policy of the host's
//! own `filter` table `FORWARD` chain is (dockerd's hosts leave it at `DROP`, and with
//! br_netfilter bridged packets between two containers pass it too): as dockerd, they
//! put accepts for Berth's bridges there, behind a jump to `DOCKER-USER` (see
//! [`host_filter`]), and take them out with the networks.

pub mod host_filter;
pub mod iptables;
pub mod nft;
pub mod ports;
pub mod xtables;

use std::net::IpAddr;
use std::sync::Mutex;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use ports::{parse_port_specs, PortAllocator, PortReservation, PortSpec, Protocol};

/// A bridge network as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRules {
    pub network_id: String,
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// The IPv6 subnet of a network with IPv6 enabled: its rules in the ip6 tables.
    #[serde(default)]
    pub subnet6: Option<Ipv6Net>,
    /// `--internal`: no masquerade, and no traffic in or out of the bridge.
    pub internal: bool,
    /// `com.docker.network.bridge.enable_icc` and `enable_ip_masquerade`.
    #[serde(default)]
    pub options: BridgeOptions,
}

/// The bridge driver's options that change the rules (dockerd's names in comments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeOptions {
    /// `com.docker.network.bridge.enable_icc`: containers on the bridge reach each
    /// other. When false, traffic from the bridge back to the same bridge is dropped
    /// (they still reach the gateway and the outside).
    pub icc: bool,
    /// `com.docker.network.bridge.enable_ip_masquerade`: traffic leaving the host from
    /// the subnet is masqueraded.
    pub masquerade: bool,
}

impl Default for BridgeOptions {
    fn default() -> Self {
        BridgeOptions {
            icc: true,
            masquerade: true,
        }
    }
}

/// One published port: host `host_ip:host_port` to `container_ip:container_port`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRule {
    /// Whose rule it is (the container id): removed together.
    pub owner: String,
    pub bridge: String,
    pub protocol: Protocol,
    /// `None` publishes on every host address of the container address's family
    /// (0.0.0.0 or ::).
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    /// IPv4, or IPv6 for the `::` side of a container with an IPv6 address.
    pub container_ip: IpAddr,
    pub container_port: u16,
}

impl PortRule {
    pub fn family(&self) -> Family {
        Family::of(&self.container_ip)
    }
}

/// An address family: the `ip` tables (iptables) or the `ip6` ones (ip6tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    pub fn of(ip: &IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// nftables' family name (`ip`, `ip6`), also the payload protocol of addresses.
    pub fn nft(self) -> &'static str {
        match self {
            Family::V4 => "ip",
            Family::V6 => "ip6",
        }
    }
}

impl NetworkRules {
    /// The network's subnet in `family`, if it has one there.
    pub fn subnet_in(&self, family: Family) -> Option<IpNet> {
        match family {
            Family::V4 => Some(IpNet::V4(self.subnet)),
            Family::V6 => self.subnet6.map(IpNet::V6),
        }
    }
}

impl FirewallState {
    /// The networks with a subnet in `family`.
    pub fn networks_in(&self, family: Family) -> impl Iterator<Item = &NetworkRules> {
        self.networks
            .iter()
            .filter(move |n| n.subnet_in(family).is_some())
    }

    /// The published ports whose container address is in `family`.
    pub fn ports_in(&self, family: Family) -> impl Iterator<Item = &PortRule> {
        self.ports.iter().filter(move |p| p.family() == family)
    }
}

/// Every rule netd wants in place.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallState {
    pub networks: Vec<NetworkRules>,
    pub ports: Vec<PortRule>,
}

/// A firewall backend: renders a whole state into the kernel, or removes everything.
pub trait FirewallBackend: Send + Sync {
    /// Makes Berth's rules exactly `state` (atomically where the backend can).
    fn apply(&self, state: &FirewallState) -> Result<()>;
    /// Removes every rule and chain of Berth's (stale state at start-up, or shutdown).
    fn clear(&self) -> Result<()>;
    fn name(&self) -> &'static str;
}

/// Picks nftables when `nft` runs, else iptables (dockerd's chain names in both).
pub fn detect_backend() -> Box<dyn FirewallBackend> {
    let nft_works = std::process::Command::new("nft")
        .args(["list", "tables"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if nft_works {
        Box::new(nft::NftBackend::default())
    } else {
        Box::new(iptables::IptablesBackend::default())
    }
}

/// The state plus its backend: what berthd holds and calls.
pub struct Firewall {
    backend: Box<dyn FirewallBackend>,
    state: Mutex<FirewallState>,
}

impl Firewall {
    /// Starts from nothing: clears whatever a previous run left behind.
    pub fn new(backend: Box<dyn FirewallBackend>) -> Result<Self> {
        backend.clear()?;
        Ok(Firewall {
            backend,
            state: Mutex::new(FirewallState::default()),
        })
    }

    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    fn change(&self, edit: impl FnOnce(&mut FirewallState)) -> Result<()> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| Error::Firewall("state lock poisoned".into()))?;
        let mut next = state.clone();
        edit(&mut next);
        if next != *state {
            self.backend.apply(&next)?;
            *state = next;
        }
        Ok(())
    }

    /// Adds (or replaces) a network's masquerade and isolation rules.
    pub fn add_network(&self, network: NetworkRules) -> Result<()> {
        self.change(|s| {
            s.networks.retain(|n| n.network_id != network.network_id);
            s.networks.push(network);
        })
    }

    /// Removes a network's rules and every port published through its bridge.
    pub fn remove_network(&self, network_id: &str) -> Result<()> {
        self.change(|s| {
            if let Some(pos) = s.networks.iter().position(|n| n.network_id == network_id) {
                let net = s.networks.remove(pos);
                s.ports.retain(|p| p.bridge != net.bridge);
            }
        })
    }

    /// Publishes ports (all of one container, usually).
    pub fn add_ports(&self, ports: Vec<PortRule>) -> Result<()> {
        self.change(|s| {
            for p in ports {
                if !s.ports.contains(&p) {
                    s.ports.push(p);
                }
            }
        })
    }

    /// Unpublishes every port of `owner`.
    pub fn remove_ports(&self, owner: &str) -> Result<()> {
        self.change(|s| s.ports.retain(|p| p.owner != owner))
    }

    /// A copy of the current state.
    pub fn state(&self) -> Result<FirewallState> {
        self.state
            .lock()
            .map(|s| s.clone())
            .map_err(|_| Error::Firewall("state lock poisoned".into()))
    }

    /// Removes everything of Berth's.
    pub fn clear(&self) -> Result<()> {
        self.change(|s| *s = FirewallState::default())?;
        self.backend.clear()
    }
}
