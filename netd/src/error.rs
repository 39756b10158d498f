//! The one error type of netd.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use ipnet::Ipv4Net;

/// Everything that can go wrong in netd.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("netlink: {context}: {source}")]
    Netlink {
        context: String,
        #[source]
        source: rtnetlink::Error,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("network namespace {path}: {source}")]
    Netns {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("no such link: {0}")]
    NoSuchLink(String),
    /// `com.docker.network.bridge.name` names a link that is not a bridge (dockerd's text).
    #[error("existing interface {0} is not a bridge")]
    NotABridge(String),
    #[error("invalid subnet {0}")]
    InvalidSubnet(String),
    #[error("invalid pool request: {0}")]
    InvalidPool(String),
    #[error("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")]
    NoPoolAvailable,
    #[error("could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network")]
    NoPoolAvailable6,
    #[error("Pool overlaps with other one on this address space")]
    PoolOverlap(Ipv4Net),
    #[error("Pool overlaps with other one on this address space")]
    PoolOverlap6(ipnet::Ipv6Net),
    /// A subnet with no address for a gateway and a container (a /31 or /32): dockerd's
    /// text (its allocator never hands out a subnet's network or broadcast address).
    #[error("failed to allocate gateway ({}): No available addresses on this pool", .0.map(|g| g.to_string()).unwrap_or_default())]
    NoAddressInPool(Option<Ipv4Addr>),
    #[error("no available IPv4 addresses on this network's address pools: {0}")]
    PoolExhausted(String),
    #[error("Address already in use")]
    AddressInUse(IpAddr),
    #[error("auxiliary address: ({name}:{ip}) must belong to the master pool: {subnet}")]
    AuxOutOfPool {
        name: String,
        ip: Ipv4Addr,
        subnet: Ipv4Net,
    },
    #[error("failed to allocate secondary ip address ({name}:{ip}): Address already in use")]
    AuxInUse { name: String, ip: Ipv4Addr },
    #[error("no configured subnet or ip-range contain the IP address {0}")]
    AddressOutOfRange(IpAddr),
    #[error("no such network in the address store: {0}")]
    NoSuchNetwork(String),
    #[error("{0} is not a valid mac address")]
    InvalidMac(String),
    #[error("invalid port specification: {0:?}")]
    InvalidPortSpec(String),
    #[error("Bind for {0} failed: port is already allocated")]
    PortAllocated(String),
    #[error("firewall: {0}")]
    Firewall(String),
    #[error("state file {path}: {message}")]
    State { path: PathBuf, message: String },
    #[error("dns: {0}")]
    Dns(String),
    #[error("a thread working inside a network namespace panicked")]
    ThreadPanicked,
    #[error("endpoint with name {container} already exists in network {network}")]
    EndpointExists { container: String, network: String },
    #[error("error while removing network: network {name} id {id} has active endpoints")]
    ActiveEndpoints { name: String, id: String },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn netlink(context: impl Into<String>, source: rtnetlink::Error) -> Self {
        Error::Netlink {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
