//! IP address management: subnets for networks, addresses for endpoints.

pub mod pools;
pub mod store;
pub mod v6;

pub use pools::{default_pools, parse_bip, AddressPool};
pub use store::{Ipam, NetworkPool, PoolRequest};
pub use v6::{default_pool6, AddressPool6, Pool6};
