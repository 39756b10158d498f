//! netd: Berth's networking, hosted by berthd.
//!
//! - [`netns`]: network namespaces as files the runtime joins by path.
//! - [`network`]: bridges and veth endpoints over rtnetlink.
//! - [`ipam`]: subnets and leased addresses, persisted.
//! - [`firewall`]: masquerade, isolation and published ports (nftables or iptables).
//! - [`dns`]: the embedded DNS server at 127.0.0.11 inside containers.

pub mod dns;
pub mod error;
pub mod firewall;
pub mod ipam;
pub mod manager;
pub mod netns;
mod netns_workers;
pub mod network;
pub mod proxy;
pub mod state;
pub mod sysctl;

pub use error::{Error, Result};
pub use manager::{
    ConnectRequest, Connected, Netd, NetdConfig, NetworkInfo, NetworkSpec, DEFAULT_BRIDGE,
    DEFAULT_NETWORK_NAME,
};
