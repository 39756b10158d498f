//! IPv6 addresses of a network with IPv6 enabled (dockerd 25+): its subnet as asked, or
//! the first free one of the IPv6 `--default-address-pool`s, or else of a ULA /48 of
//! this daemon's own (as dockerd 27's, whose /48 comes from its engine id: here from the
//! state folder, so it stays the same across restarts); the gateway is the subnet's
//! first address; containers get the next free ones in order (no MAC-derived addresses,
//! as dockerd 26+), or the one asked with `--ip6`.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use ipnet::Ipv6Net;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One IPv6 `--default-address-pool base=…,size=…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPool6 {
    pub base: Ipv6Net,
    pub size: u8,
}

impl AddressPool6 {
    /// The subnets this pool hands out, in order.
    pub fn subnets(&self) -> impl Iterator<Item = Ipv6Net> {
        let base = self.base.trunc();
        let size = self.size.max(base.prefix_len());
        base.subnets(size).into_iter().flatten()
    }
}

/// The ULA /48 (cut in /64s) of a daemon whose state lives in `state_dir`: `fd` and 40
/// bits of a hash of the folder.
pub fn default_pool6(state_dir: &str) -> AddressPool6 {
    let h = state_dir.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let global = h & 0xff_ffff_ffff;
    let segments = [
        0xfd00 | ((global >> 32) as u16 & 0xff),
        (global >> 16) as u16,
        global as u16,
        0,
        0,
        0,
        0,
        0,
    ];
    let base = Ipv6Net::new(Ipv6Addr::from(segments), 48).unwrap_or_default();
    AddressPool6 { base, size: 64 }
}

/// Whether two IPv6 networks share any address.
pub fn overlaps6(a: &Ipv6Net, b: &Ipv6Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first subnet of `pools` overlapping neither `taken` nor `host_routes`.
pub fn first_free6(
    pools: &[AddressPool6],
    taken: &[Ipv6Net],
    host_routes: &[Ipv6Net],
) -> Result<Ipv6Net> {
    pools
        .iter()
        .flat_map(AddressPool6::subnets)
        // A /48 holds 65536 /64s: a full scan would never end on a crowded host.
        .take(1 << 16)
        .find(|candidate| {
            !taken.iter().any(|t| overlaps6(t, candidate))
                && !host_routes
                    .iter()
                    .filter(|r| r.prefix_len() > 0)
                    .any(|r| overlaps6(r, candidate))
        })
        .ok_or(Error::NoPoolAvailable6)
}

/// One network's IPv6 addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool6 {
    pub subnet: Ipv6Net,
    pub gateway: Ipv6Addr,
    #[serde(default)]
    pub ip_range: Option<Ipv6Net>,
    /// Address -> endpoint (container) id.
    #[serde(default)]
    pub leases: BTreeMap<Ipv6Addr, String>,
}

impl Pool6 {
    /// `subnet` with `gateway` (default: its first address) and `ip_range`.
    pub fn new(
        subnet: Ipv6Net,
        gateway: Option<Ipv6Addr>,
        ip_range: Option<Ipv6Net>,
    ) -> Result<Pool6> {
        let subnet = subnet.trunc();
        let gateway = match gateway {
            Some(gw) if subnet.contains(&gw) && gw != subnet.network() => gw,
            Some(gw) => return Err(Error::AddressOutOfRange(gw.into())),
            None => first_after(subnet.network())
                .ok_or_else(|| Error::InvalidSubnet(subnet.to_string()))?,
        };
        if let Some(range) = ip_range {
            if !subnet.contains(&range) {
                return Err(Error::InvalidSubnet(format!(
                    "ip range {range} is not inside subnet {subnet}"
                )));
            }
        }
        Ok(Pool6 {
            subnet,
            gateway,
            ip_range: ip_range.map(|r| r.trunc()),
            leases: BTreeMap::new(),
        })
    }

    /// The gateway with the subnet's prefix, as the bridge carries it.
    pub fn gateway_net(&self) -> Ipv6Net {
        Ipv6Net::new(self.gateway, self.subnet.prefix_len()).unwrap_or(self.subnet)
    }

    fn is_free(&self, ip: Ipv6Addr) -> bool {
        ip != self.gateway && ip != self.subnet.network() && !self.leases.contains_key(&ip)
    }

    /// Leases `wanted` or the next free address to `endpoint_id` (its own again when
    /// it holds one).
    pub fn lease(&mut self, endpoint_id: &str, wanted: Option<Ipv6Addr>) -> Result<Ipv6Addr> {
        if let Some((ip, _)) = self.leases.iter().find(|(_, e)| *e == endpoint_id) {
            if wanted.is_none() || wanted == Some(*ip) {
                return Ok(*ip);
            }
        }
        let ip = match wanted {
            Some(ip) if !self.subnet.contains(&ip) => {
                return Err(Error::AddressOutOfRange(ip.into()))
            }
            Some(ip) if !self.is_free(ip) => return Err(Error::AddressInUse(ip.into())),
            Some(ip) => ip,
            None => {
                let range = self.ip_range.unwrap_or(self.subnet);
                let mut next = Some(range.network());
                let mut found = None;
                // Bounded: a range this full is exhausted for a bridge anyway.
                for _ in 0..(1u32 << 20) {
                    let Some(ip) = next.filter(|ip| range.contains(ip)) else {
                        break;
                    };
                    if self.is_free(ip) {
                        found = Some(ip);
                        break;
                    }
                    next = first_after(ip);
                }
                found.ok_or_else(|| Error::PoolExhausted(self.subnet.to_string()))?
            }
        };
        self.leases.insert(ip, endpoint_id.to_string());
        Ok(ip)
    }
}

fn first_after(ip: Ipv6Addr) -> Option<Ipv6Addr> {
    u128::from(ip).checked_add(1).map(Ipv6Addr::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv6Net {
        s.parse().unwrap()
    }

    #[test]
    fn leases_in_order_after_the_gateway() {
        let mut p = Pool6::new(net("fd42:1::/64"), None, None).unwrap();
        assert_eq!(p.gateway, "fd42:1::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(
            p.lease("a", None).unwrap(),
            "fd42:1::2".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            p.lease("b", None).unwrap(),
            "fd42:1::3".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            p.lease("a", None).unwrap(),
            "fd42:1::2".parse::<Ipv6Addr>().unwrap()
        );
        let fixed: Ipv6Addr = "fd42:1::99".parse().unwrap();
        assert_eq!(p.lease("c", Some(fixed)).unwrap(), fixed);
        assert!(matches!(
            p.lease("d", Some(fixed)),
            Err(Error::AddressInUse(_))
        ));
        assert!(matches!(
            p.lease("d", Some("fd42:2::1".parse().unwrap())),
            Err(Error::AddressOutOfRange(_))
        ));
        assert!(Pool6::new(net("fd42:1::/64"), Some("fd43::1".parse().unwrap()), None).is_err());
    }

    #[test]
    fn pools_skip_taken_and_routed_and_the_default_is_stable_ula() {
        let pool = default_pool6("/var/lib/berth/network");
        assert_eq!(pool, default_pool6("/var/lib/berth/network"));
        assert_ne!(pool, default_pool6("/tmp/other/network"));
        assert_eq!(pool.base.prefix_len(), 48);
        assert_eq!(pool.base.addr().segments()[0] & 0xff00, 0xfd00);
        let pools = [AddressPool6 {
            base: net("fd42:9::/48"),
            size: 64,
        }];
        let got = first_free6(&pools, &[net("fd42:9::/64")], &[net("fd42:9:0:1::/64")]).unwrap();
        assert_eq!(got, net("fd42:9:0:2::/64"));
    }
}
