//! Firewall: outbound masquerade, isolation between bridges and published
//! ports, behind one trait with an nftables and an iptables backend.
//!
//! The caller's view is a [`FirewallState`] (every network and published port
//! netd manages); each change re-renders Berth's own chains whole and applies
//! them in one atomic batch, so a rule never outlives its network or
//! endpoint, and a restart simply applies the state again. Users' rules in
//! `DOCKER-USER` are never flushed.

pub mod iptables;
pub mod nft;
pub mod ports;

use std::net::Ipv4Addr;
use std::sync::Mutex;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use ports::{parse_port_specs, PortAllocator, PortReservation, PortSpec, Protocol};

/// A bridge network as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRules {
    pub network_id: String,
    pub bridge: String,
    pub subnet: Ipv4Net,
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
    /// `None` publishes on every host address (0.0.0.0).
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
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
