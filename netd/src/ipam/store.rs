//! The lease store: each network's subnet, gateway, range and leased
//! addresses, kept in one JSON file written whole (temp, fsync, rename) so a
//! restart of berthd keeps them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ipam::pools::{first_free, overlaps, AddressPool};
use crate::ipam::v6::{first_free6, overlaps6, AddressPool6, Pool6};

/// What a network asks of IPAM (docker network create's IPAM Config).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolRequest {
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub ip_range: Option<Ipv4Net>,
    /// `--aux-address name=ip`: reserved in the subnet, never leased.
    pub aux: Vec<(String, Ipv4Addr)>,
    /// EnableIPv6: `subnet6` as asked, else one from the IPv6 pools.
    pub ipv6: bool,
    pub subnet6: Option<Ipv6Net>,
    pub gateway6: Option<Ipv6Addr>,
    pub ip_range6: Option<Ipv6Net>,
    /// Auxiliary addresses of the IPv6 subnet: reserved, never leased.
    pub aux6: Vec<(String, Ipv6Addr)>,
}

/// One network's addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkPool {
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub ip_range: Option<Ipv4Net>,
    /// Address -> endpoint (container) id.
    pub leases: BTreeMap<Ipv4Addr, String>,
    /// Auxiliary addresses: reserved, never leased.
    #[serde(default)]
    pub reserved: BTreeSet<Ipv4Addr>,
    /// The IPv6 side of a network with IPv6 enabled.
    #[serde(default)]
    pub v6: Option<Pool6>,
}

impl NetworkPool {
    /// The gateway with the subnet's prefix, as the bridge carries it.
    pub fn gateway_net(&self) -> Ipv4Net {
        Ipv4Net::new(self.gateway, self.subnet.prefix_len()).unwrap_or(self.subnet)
    }

    fn is_free(&self, ip: Ipv4Addr) -> bool {
        ip != self.gateway
            && ip != self.subnet.network()
            && ip != self.subnet.broadcast()
            && !self.leases.contains_key(&ip)
            && !self.reserved.contains(&ip)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StoreFile {
    networks: BTreeMap<String, NetworkPool>,
}

/// The address store of every network netd manages.
#[derive(Debug)]
pub struct Ipam {
    path: PathBuf,
    pools: Vec<AddressPool>,
    pools6: Vec<AddressPool6>,
    state: StoreFile,
}

impl Ipam {
    /// Opens (or starts) the store at `state_dir/ipam.json`.
    pub fn open(
        state_dir: &Path,
        pools: Vec<AddressPool>,
        pools6: Vec<AddressPool6>,
    ) -> Result<Self> {
        std::fs::create_dir_all(state_dir)
            .map_err(|e| Error::io(format!("create {}", state_dir.display()), e))?;
        let path = state_dir.join("ipam.json");
        let state = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::State {
                path: path.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => StoreFile::default(),
            Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
        };
        Ok(Ipam {
            path,
            pools,
            pools6,
            state,
        })
    }

    pub fn network(&self, network_id: &str) -> Option<&NetworkPool> {
        self.state.networks.get(network_id)
    }

    pub fn networks(&self) -> impl Iterator<Item = (&String, &NetworkPool)> {
        self.state.networks.iter()
    }

    /// Gives `network_id` its subnet: the requested one (checked for overlap
    /// with Berth's other networks) or the first free default pool that
    /// overlaps neither another network nor a host route. Idempotent.
    pub fn add_network(
        &mut self,
        network_id: &str,
        request: &PoolRequest,
        host_routes: &[Ipv4Net],
        host_routes6: &[Ipv6Net],
    ) -> Result<NetworkPool> {
        if let Some(existing) = self.state.networks.get(network_id) {
            return Ok(existing.clone());
        }
        let taken: Vec<Ipv4Net> = self.state.networks.values().map(|n| n.subnet).collect();
        let subnet = match request.subnet {
            Some(s) => {
                let s = s.trunc();
                if let Some(t) = taken.iter().find(|t| overlaps(t, &s)) {
                    return Err(Error::PoolOverlap(*t));
                }
                s
            }
            None => first_free(&self.pools, &taken, host_routes)?,
        };
        // A /31 or /32 has no address besides its network and broadcast ones to give.
        if subnet.prefix_len() > 30 {
            return Err(Error::NoAddressInPool(request.gateway));
        }
        if let Some(range) = request.ip_range {
            if !subnet.contains(&range) {
                return Err(Error::InvalidSubnet(format!(
                    "ip range {range} is not inside subnet {subnet}"
                )));
            }
        }
        let gateway = match request.gateway {
            Some(gw) if subnet.contains(&gw) => gw,
            Some(gw) => return Err(Error::AddressOutOfRange(gw.into())),
            None => subnet
                .hosts()
                .next()
                .ok_or_else(|| Error::InvalidSubnet(subnet.to_string()))?,
        };
        let mut pool = NetworkPool {
            subnet,
            gateway,
            ip_range: request.ip_range.map(|r| r.trunc()),
            leases: BTreeMap::new(),
            reserved: BTreeSet::new(),
            v6: None,
        };
        if request.ipv6 || request.subnet6.is_some() {
            let taken6: Vec<Ipv6Net> = self
                .state
                .networks
                .values()
                .filter_map(|n| Some(n.v6.as_ref()?.subnet))
                .collect();
            let subnet6 = match request.subnet6 {
                Some(s) => {
                    let s = s.trunc();
                    if taken6.iter().any(|t| overlaps6(t, &s)) {
                        return Err(Error::PoolOverlap6(s));
                    }
                    s
                }
                None => first_free6(&self.pools6, &taken6, host_routes6)?,
            };
            pool.v6 = Some(Pool6::new(subnet6, request.gateway6, request.ip_range6)?);
        }
        // As libnetwork's default IPAM: inside the subnet, and not an address already taken.
        for (name, ip) in &request.aux {
            if !subnet.contains(ip) {
                return Err(Error::AuxOutOfPool {
                    name: name.clone(),
                    ip: (*ip).into(),
                    subnet: subnet.into(),
                });
            }
            if !pool.is_free(*ip) {
                return Err(Error::AuxInUse {
                    name: name.clone(),
                    ip: (*ip).into(),
                });
            }
            pool.reserved.insert(*ip);
        }
        if !request.aux6.is_empty() {
            let v6 = pool.v6.as_mut().ok_or_else(|| {
                Error::InvalidSubnet("auxiliary IPv6 addresses without an IPv6 subnet".into())
            })?;
            v6.reserve(&request.aux6)?;
        }
        self.state
            .networks
            .insert(network_id.to_string(), pool.clone());
        self.save()?;
        Ok(pool)
    }

    /// Forgets a network and its leases.
    pub fn remove_network(&mut self, network_id: &str) -> Result<()> {
        if self.state.networks.remove(network_id).is_some() {
            self.save()?;
        }
        Ok(())
    }

    /// Leases an address to `endpoint_id`: `wanted` (a static `--ip`) or the
    /// first free one of the range (or subnet). Leasing the same endpoint twice
    /// returns its address.
    pub fn lease(
        &mut self,
        network_id: &str,
        endpoint_id: &str,
        wanted: Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr> {
        let net = self
            .state
            .networks
            .get_mut(network_id)
            .ok_or_else(|| Error::NoSuchNetwork(network_id.to_string()))?;
        if let Some((ip, _)) = net.leases.iter().find(|(_, e)| *e == endpoint_id) {
            if wanted.is_none() || wanted == Some(*ip) {
                return Ok(*ip);
            }
        }
        let ip = match wanted {
            Some(ip) => {
                if !net.subnet.contains(&ip) {
                    return Err(Error::AddressOutOfRange(ip.into()));
                }
                if !net.is_free(ip) {
                    return Err(Error::AddressInUse(ip.into()));
                }
                ip
            }
            None => {
                // Every address of the range, its own first and last too (a /25 range
                // of a /24 starts at .128, a host address of the subnet, as libnetwork
                // gives it): `is_free` leaves out the subnet's network and broadcast.
                let range = net.ip_range.unwrap_or(net.subnet);
                ipnet::Ipv4AddrRange::new(range.network(), range.broadcast())
                    .find(|ip| net.subnet.contains(ip) && net.is_free(*ip))
                    .ok_or_else(|| Error::PoolExhausted(network_id.to_string()))?
            }
        };
        net.leases.insert(ip, endpoint_id.to_string());
        self.save_leases()?;
        Ok(ip)
    }

    /// Leases an IPv6 address to `endpoint_id` on a network with IPv6 (`--ip6`, or the
    /// next free one); `None` on a network without.
    pub fn lease6(
        &mut self,
        network_id: &str,
        endpoint_id: &str,
        wanted: Option<Ipv6Addr>,
    ) -> Result<Option<Ipv6Addr>> {
        let net = self
            .state
            .networks
            .get_mut(network_id)
            .ok_or_else(|| Error::NoSuchNetwork(network_id.to_string()))?;
        let Some(v6) = net.v6.as_mut() else {
            return match wanted {
                // dockerd: an IPv6 address on a network without IPv6.
                Some(ip) => Err(Error::AddressOutOfRange(ip.into())),
                None => Ok(None),
            };
        };
        let ip = v6.lease(endpoint_id, wanted)?;
        self.save_leases()?;
        Ok(Some(ip))
    }

    /// Gives back whatever `endpoint_id` holds on the network.
    pub fn release(&mut self, network_id: &str, endpoint_id: &str) -> Result<()> {
        let Some(net) = self.state.networks.get_mut(network_id) else {
            return Ok(());
        };
        let before = net.leases.len() + net.v6.as_ref().map_or(0, |v| v.leases.len());
        net.leases.retain(|_, e| e != endpoint_id);
        if let Some(v6) = net.v6.as_mut() {
            v6.leases.retain(|_, e| e != endpoint_id);
        }
        if net.leases.len() + net.v6.as_ref().map_or(0, |v| v.leases.len()) != before {
            self.save_leases()?;
        }
        Ok(())
    }

    /// Gives back whatever `endpoint_id` holds on any network (a connect cut short
    /// may have leased an address without recording an endpoint).
    pub fn release_everywhere(&mut self, endpoint_id: &str) -> Result<()> {
        let mut changed = false;
        for net in self.state.networks.values_mut() {
            let before = net.leases.len();
            net.leases.retain(|_, e| e != endpoint_id);
            changed |= net.leases.len() != before;
            if let Some(v6) = net.v6.as_mut() {
                let before = v6.leases.len();
                v6.leases.retain(|_, e| e != endpoint_id);
                changed |= v6.leases.len() != before;
            }
        }
        if changed {
            self.save_leases()?;
        }
        Ok(())
    }

    /// Every endpoint (container) id holding an address.
    pub fn holders(&self) -> std::collections::BTreeSet<String> {
        self.state
            .networks
            .values()
            .flat_map(|n| {
                let v6 = n.v6.iter().flat_map(|v6| v6.leases.values());
                n.leases.values().chain(v6).cloned()
            })
            .collect()
    }

    /// Saves a change of the networks (durable).
    fn save(&self) -> Result<()> {
        self.write(write_whole)
    }

    /// Saves a change of the leases only: they describe live endpoints, which a crash
    /// of the machine ends too (berthd releases the leases of containers that do not
    /// run at start-up), so no fsync.
    fn save_leases(&self) -> Result<()> {
        self.write(write_whole_volatile)
    }

    fn write(&self, write: fn(&Path, &[u8]) -> Result<()>) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(&self.state).map_err(|e| Error::State {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        write(&self.path, &bytes)
    }
}

/// Writes a file whole: temp file, fsync, rename, fsync of the directory.
pub(crate) fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    write_temp_and_rename(path, bytes, true)
}

/// Writes a file whole (temp file, rename) without fsync: for what describes live
/// endpoints; a crash of the process still leaves the old version or the new one.
pub(crate) fn write_whole_volatile(path: &Path, bytes: &[u8]) -> Result<()> {
    write_temp_and_rename(path, bytes, false)
}

fn write_temp_and_rename(path: &Path, bytes: &[u8], durable: bool) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let ctx = |what: &str| format!("{what} {}", tmp.display());
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(ctx("create"), e))?;
    f.write_all(bytes).map_err(|e| Error::io(ctx("write"), e))?;
    if durable {
        f.sync_all().map_err(|e| Error::io(ctx("fsync"), e))?;
    }
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(ctx("rename"), e))?;
    if let (true, Some(dir)) = (durable, path.parent()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
