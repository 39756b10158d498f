//! IP address management: subnets for networks, addresses for endpoints.

pub mod pools;
pub mod store;

pub use pools::{default_pools, parse_bip, AddressPool};
pub use store::{Ipam, NetworkPool, PoolRequest};
