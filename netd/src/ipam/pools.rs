//! Choosing subnets: dockerd's default address pools, `--bip`, and the
//! overlap checks against host routes and other networks.

use std::net::Ipv4Addr;
use std::str::FromStr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One `--default-address-pool base=…,size=…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPool {
    pub base: Ipv4Net,
    pub size: u8,
}

impl AddressPool {
    /// The subnets this pool hands out, in order.
    pub fn subnets(&self) -> impl Iterator<Item = Ipv4Net> {
        let base = self.base.trunc();
        let size = self.size.max(base.prefix_len());
        base.subnets(size).into_iter().flatten()
    }
}

impl FromStr for AddressPool {
    type Err = Error;

    /// Parses dockerd's `base=172.30.0.0/16,size=24`.
    fn from_str(s: &str) -> Result<Self> {
        let mut base = None;
        let mut size = None;
        for part in s.split(',') {
            match part.trim().split_once('=') {
                Some(("base", v)) => {
                    base = Some(
                        v.parse::<Ipv4Net>()
                            .map_err(|_| Error::InvalidPool(s.to_string()))?,
                    )
                }
                Some(("size", v)) => {
                    size = Some(
                        v.parse::<u8>()
                            .map_err(|_| Error::InvalidPool(s.to_string()))?,
                    )
                }
                _ => return Err(Error::InvalidPool(s.to_string())),
            }
        }
        match (base, size) {
            (Some(base), Some(size)) if size >= base.prefix_len() && size <= 30 => {
                Ok(AddressPool { base, size })
            }
            _ => Err(Error::InvalidPool(s.to_string())),
        }
    }
}

/// dockerd's built-in pools: 172.17.0.0/16 … 172.31.0.0/16, then
/// 192.168.0.0/16 cut in /20s.
pub fn default_pools() -> Vec<AddressPool> {
    let mut pools: Vec<AddressPool> = (17..=31)
        .map(|b| AddressPool {
            base: Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).unwrap_or_default(),
            size: 16,
        })
        .collect();
    pools.push(AddressPool {
        base: Ipv4Net::new(Ipv4Addr::new(192, 168, 0, 0), 16).unwrap_or_default(),
        size: 20,
    });
    pools
}

/// Whether two networks share any address.
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first subnet of `pools` that overlaps neither `taken` (other networks)
/// nor `host_routes` (the host's routes, default route excluded by the caller).
pub fn first_free(
    pools: &[AddressPool],
    taken: &[Ipv4Net],
    host_routes: &[Ipv4Net],
) -> Result<Ipv4Net> {
    pools
        .iter()
        .flat_map(AddressPool::subnets)
        .find(|candidate| {
            !taken.iter().any(|t| overlaps(t, candidate))
                && !host_routes
                    .iter()
                    .filter(|r| r.prefix_len() > 0)
                    .any(|r| overlaps(r, candidate))
        })
        .ok_or(Error::NoPoolAvailable)
}

/// Parses `--bip` (`172.17.0.1/16`: the gateway's address and the subnet's length).
pub fn parse_bip(bip: &str) -> Result<(Ipv4Net, Ipv4Addr)> {
    let net: Ipv4Net = bip
        .parse()
        .map_err(|_| Error::InvalidSubnet(bip.to_string()))?;
    if net.addr() == net.network() || net.addr() == net.broadcast() {
        return Err(Error::InvalidSubnet(bip.to_string()));
    }
    Ok((net.trunc(), net.addr()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_start_at_172_17_and_end_in_192_168_slash_20s() {
        let all: Vec<_> = default_pools().iter().flat_map(|p| p.subnets()).collect();
        assert_eq!(all[0], net("172.17.0.0/16"));
        assert_eq!(all[14], net("172.31.0.0/16"));
        assert_eq!(all[15], net("192.168.0.0/20"));
        assert_eq!(all[16], net("192.168.16.0/20"));
        assert_eq!(all.len(), 15 + 16);
    }

    #[test]
    fn skips_taken_and_routed_ranges() {
        let pools = default_pools();
        let got = first_free(&pools, &[net("172.17.0.0/16")], &[net("172.18.5.0/24")]).unwrap();
        assert_eq!(got, net("172.19.0.0/16"));
        // The default route never counts as a collision.
        let got = first_free(&pools, &[], &[net("0.0.0.0/0")]).unwrap();
        assert_eq!(got, net("172.17.0.0/16"));
    }

    #[test]
    fn exhausted_pools_say_so_like_dockerd() {
        let pools = [AddressPool {
            base: net("10.9.0.0/24"),
            size: 24,
        }];
        let err = first_free(&pools, &[net("10.9.0.0/24")], &[]).unwrap_err();
        assert!(err
            .to_string()
            .contains("non-overlapping IPv4 address pool"));
    }

    #[test]
    fn parses_pool_and_bip() {
        let p: AddressPool = "base=10.10.0.0/16,size=24".parse().unwrap();
        assert_eq!(p.subnets().nth(1), Some(net("10.10.1.0/24")));
        assert!("base=10.10.0.0/16".parse::<AddressPool>().is_err());
        assert!("base=10.10.0.0/16,size=8".parse::<AddressPool>().is_err());
        let (subnet, gw) = parse_bip("172.17.0.1/16").unwrap();
        assert_eq!(subnet, net("172.17.0.0/16"));
        assert_eq!(gw, Ipv4Addr::new(172, 17, 0, 1));
        assert!(parse_bip("172.17.0.0/16").is_err());
    }
}
