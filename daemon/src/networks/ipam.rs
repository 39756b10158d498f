//! A network's IPAM as the API gives and shows it: the request's `IPAM.Config` entries
//! (one IPv4 and one IPv6 subnet at most, each with Gateway, IPRange and
//! AuxiliaryAddresses) into netd's pool request, with dockerd's messages; and what netd
//! gave back into the record's entries that inspect shows.
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::create::IpamPoolRequest;
use super::record::IpamConfig;
use super::{NetworkError, Result};

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn cidr(s: &str) -> Result<IpNet> {
    s.parse::<IpNet>().map_err(|_| {
        NetworkError::Invalid(format!("Invalid subnet {s} : invalid CIDR address: {s}"))
    })
}

/// The IPAM config entries into netd's pool request; `enable_ipv6` asks for an IPv6
/// subnet even when no entry gives one (then from the IPv6 pools). An IPv6 subnet given
/// turns IPv6 on (see docs/compat.md).
pub fn pool_request(
    entries: &[IpamPoolRequest],
    enable_ipv6: bool,
) -> Result<netd::ipam::PoolRequest> {
    let mut request = netd::ipam::PoolRequest {
        ipv6: enable_ipv6,
        ..Default::default()
    };
    let (mut seen_v4, mut seen_v6) = (false, false);
    for entry in entries {
        let subnet = non_empty(&entry.subnet).map(cidr).transpose()?;
        if let Some(IpNet::V6(net)) = subnet {
            if seen_v6 {
                return Err(NetworkError::Invalid(
                    "Berth supports one IPv6 subnet per network".into(),
                ));
            }
            seen_v6 = true;
            ipv6_entry(&mut request, net, entry)?;
            continue;
        }
        let subnet = match subnet {
            Some(IpNet::V4(net)) => Some(net),
            _ => None,
        };
        if seen_v4 {
            return Err(NetworkError::Invalid(
                "Berth supports one IPv4 subnet per network".into(),
            ));
        }
        seen_v4 = true;
        request.subnet = subnet;
        if let Some(g) = non_empty(&entry.gateway) {
            let gw: Ipv4Addr = g.parse().map_err(|_| {
                NetworkError::Invalid(format!("invalid gateway address {g} in IPAM configuration"))
            })?;
            if subnet.is_none() {
                return Err(NetworkError::Invalid(
                    "Gateway cannot be specified without a subnet".into(),
                ));
            }
            request.gateway = Some(gw);
        }
        if let Some(r) = non_empty(&entry.ip_range) {
            let range: Ipv4Net = r.parse().map_err(|_| {
                NetworkError::Invalid(format!("Invalid subnet {r} : invalid CIDR address: {r}"))
            })?;
            if subnet.is_none() {
                return Err(NetworkError::Invalid(
                    "ip-range cannot be specified without a subnet".into(),
                ));
            }
            request.ip_range = Some(range);
        }
        for (name, value) in entry.aux_addresses.iter().flatten() {
            if subnet.is_none() {
                // dockerd's message for the pool it cannot make without a subnet.
                return Err(NetworkError::Internal(
                    "Invalid subnet  : invalid CIDR address: ".into(),
                ));
            }
            // netd refuses one outside the subnet or already taken, with dockerd's words.
            let ip: Ipv4Addr = value.trim().parse().map_err(|_| {
                NetworkError::Invalid(format!("invalid auxiliary address {name}={value}"))
            })?;
            request.aux.push((name.clone(), ip));
        }
    }
    Ok(request)
}

fn ipv6_entry(
    request: &mut netd::ipam::PoolRequest,
    subnet: Ipv6Net,
    entry: &IpamPoolRequest,
) -> Result<()> {
    request.ipv6 = true;
    request.subnet6 = Some(subnet);
    if let Some(g) = non_empty(&entry.gateway) {
        let gw: Ipv6Addr = g.parse().map_err(|_| {
            NetworkError::Invalid(format!("invalid gateway address {g} in IPAM configuration"))
        })?;
        request.gateway6 = Some(gw);
    }
    if let Some(r) = non_empty(&entry.ip_range) {
        let range: Ipv6Net = r.parse().map_err(|_| {
            NetworkError::Invalid(format!("Invalid subnet {r} : invalid CIDR address: {r}"))
        })?;
        request.ip_range6 = Some(range);
    }
    // netd refuses one outside the subnet or already taken, with dockerd's words.
    for (name, value) in entry.aux_addresses.iter().flatten() {
        let ip: Ipv6Addr = value.trim().parse().map_err(|_| {
            NetworkError::Invalid(format!("invalid auxiliary address {name}={value}"))
        })?;
        request.aux6.push((name.clone(), ip));
    }
    Ok(())
}

/// What netd gave a network, as the record's IPAM entries (IPv4, then IPv6).
pub fn configs_of(info: &netd::NetworkInfo, pool: &netd::ipam::PoolRequest) -> Vec<IpamConfig> {
    let mut out = vec![IpamConfig {
        subnet: info.subnet.to_string(),
        gateway: info.gateway.to_string(),
        ip_range: info.ip_range.map(|r| r.to_string()),
        aux_addresses: pool
            .aux
            .iter()
            .map(|(name, ip)| (name.clone(), ip.to_string()))
            .collect(),
        gateway_chosen: pool.subnet.is_some() && pool.gateway.is_none(),
    }];
    if let Some((subnet, gateway, range)) = info.v6 {
        out.push(IpamConfig {
            subnet: subnet.to_string(),
            gateway: gateway.to_string(),
            ip_range: range.map(|r| r.to_string()),
            aux_addresses: pool
                .aux6
                .iter()
                .map(|(name, ip)| (name.clone(), ip.to_string()))
                .collect(),
            gateway_chosen: pool.subnet6.is_some() && pool.gateway6.is_none(),
        });
    }
    out
}

/// The record's IPAM entries back into a pool request (putting a network back when
/// netd lost its state): the same subnets, gateways and ranges.
pub fn request_of(configs: &[IpamConfig], enable_ipv6: bool) -> netd::ipam::PoolRequest {
    let mut pool = netd::ipam::PoolRequest {
        ipv6: enable_ipv6,
        ..Default::default()
    };
    for c in configs {
        match c.subnet.parse::<IpNet>() {
            Ok(IpNet::V4(subnet)) => {
                pool.subnet = Some(subnet);
                pool.gateway = c.gateway.parse().ok();
                pool.ip_range = c.ip_range.as_ref().and_then(|r| r.parse().ok());
                pool.aux = c
                    .aux_addresses
                    .iter()
                    .filter_map(|(n, ip)| Some((n.clone(), ip.parse().ok()?)))
                    .collect();
            }
            Ok(IpNet::V6(subnet)) => {
                pool.ipv6 = true;
                pool.subnet6 = Some(subnet);
                pool.gateway6 = c.gateway.parse().ok();
                pool.ip_range6 = c.ip_range.as_ref().and_then(|r| r.parse().ok());
                pool.aux6 = c
                    .aux_addresses
                    .iter()
                    .filter_map(|(n, ip)| Some((n.clone(), ip.parse().ok()?)))
                    .collect();
            }
            Err(_) => {}
        }
    }
    pool
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(subnet: &str, gateway: &str) -> IpamPoolRequest {
        IpamPoolRequest {
            subnet: Some(subnet.into()),
            gateway: Some(gateway.into()),
            ..Default::default()
        }
    }

    #[test]
    fn one_subnet_of_each_family() {
        let req = pool_request(
            &[
                entry("10.1.0.0/24", "10.1.0.254"),
                entry("fd42::/64", "fd42::fe"),
            ],
            false,
        )
        .unwrap();
        assert!(req.ipv6, "an IPv6 subnet turns IPv6 on");
        assert_eq!(req.subnet6, Some("fd42::/64".parse().unwrap()));
        assert_eq!(req.gateway6, Some("fd42::fe".parse().unwrap()));
        assert_eq!(req.gateway, Some(Ipv4Addr::new(10, 1, 0, 254)));
        assert!(pool_request(&[entry("fd42::/64", ""), entry("fd43::/64", "")], true).is_err());
        let only_flag = pool_request(&[], true).unwrap();
        assert!(only_flag.ipv6 && only_flag.subnet6.is_none());
        let err = pool_request(&[entry("fd42::/64", "10.0.0.1")], true).unwrap_err();
        assert!(err.to_string().contains("invalid gateway"), "{err}");
    }

    #[test]
    fn auxiliary_addresses_of_both_families() {
        let aux = |pairs: &[(&str, &str)]| {
            Some(
                pairs
                    .iter()
                    .map(|(n, ip)| (n.to_string(), ip.to_string()))
                    .collect(),
            )
        };
        let entries = [
            IpamPoolRequest {
                aux_addresses: aux(&[("r4", "10.1.0.2")]),
                ..entry("10.1.0.0/24", "")
            },
            IpamPoolRequest {
                aux_addresses: aux(&[("r6", "fd42::2")]),
                ..entry("fd42::/64", "")
            },
        ];
        let req = pool_request(&entries, false).unwrap();
        assert_eq!(req.aux, [("r4".to_string(), Ipv4Addr::new(10, 1, 0, 2))]);
        assert_eq!(req.aux6, [("r6".to_string(), "fd42::2".parse().unwrap())]);
        let bad = [IpamPoolRequest {
            aux_addresses: aux(&[("r6", "10.1.0.2")]),
            ..entry("fd42::/64", "")
        }];
        let err = pool_request(&bad, false).unwrap_err();
        assert!(
            err.to_string().contains("invalid auxiliary address"),
            "{err}"
        );
    }
}
