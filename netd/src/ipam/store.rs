//! The lease store: each network's subnet, gateway, range and leased
//! addresses, kept in one JSON file written whole (temp, fsync, rename) so a
//! restart of berthd keeps them.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ipam::pools::{first_free, overlaps, AddressPool};

/// What a network asks of IPAM (docker network create's IPAM Config).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolRequest {
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub ip_range: Option<Ipv4Net>,
}

/// One network's addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkPool {
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub ip_range: Option<Ipv4Net>,
    /// Address -> endpoint (container) id.
    pub leases: BTreeMap<Ipv4Addr, String>,
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
    state: StoreFile,
}

impl Ipam {
    /// Opens (or starts) the store at `state_dir/ipam.json`.
    pub fn open(state_dir: &Path, pools: Vec<AddressPool>) -> Result<Self> {
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
        Ok(Ipam { path, pools, state })
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
            Some(gw) => return Err(Error::AddressOutOfRange(gw)),
            None => subnet
                .hosts()
                .next()
                .ok_or_else(|| Error::InvalidSubnet(subnet.to_string()))?,
        };
        let pool = NetworkPool {
            subnet,
            gateway,
            ip_range: request.ip_range.map(|r| r.trunc()),
            leases: BTreeMap::new(),
        };
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
                    return Err(Error::AddressOutOfRange(ip));
                }
                if !net.is_free(ip) {
                    return Err(Error::AddressInUse(ip));
                }
                ip
            }
            None => {
                let range = net.ip_range.unwrap_or(net.subnet);
                range
                    .hosts()
                    .find(|ip| net.subnet.contains(ip) && net.is_free(*ip))
                    .ok_or_else(|| Error::PoolExhausted(network_id.to_string()))?
            }
        };
        net.leases.insert(ip, endpoint_id.to_string());
        self.save()?;
        Ok(ip)
    }

    /// Gives back whatever `endpoint_id` holds on the network.
    pub fn release(&mut self, network_id: &str, endpoint_id: &str) -> Result<()> {
        let Some(net) = self.state.networks.get_mut(network_id) else {
            return Ok(());
        };
        let before = net.leases.len();
        net.leases.retain(|_, e| e != endpoint_id);
        if net.leases.len() != before {
            self.save()?;
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
        }
        if changed {
            self.save()?;
        }
        Ok(())
    }

    /// Every endpoint (container) id holding an address.
    pub fn holders(&self) -> std::collections::BTreeSet<String> {
        self.state
            .networks
            .values()
            .flat_map(|n| n.leases.values().cloned())
            .collect()
    }

    fn save(&self) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(&self.state).map_err(|e| Error::State {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        write_whole(&self.path, &bytes)
    }
}

/// Writes a file whole: temp file, fsync, rename, fsync of the directory.
pub(crate) fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let ctx = |what: &str| format!("{what} {}", tmp.display());
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(ctx("create"), e))?;
    f.write_all(bytes).map_err(|e| Error::io(ctx("write"), e))?;
    f.sync_all().map_err(|e| Error::io(ctx("fsync"), e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(ctx("rename"), e))?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipam::pools::default_pools;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn leases_in_order_skipping_gateway_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut ipam = Ipam::open(dir.path(), default_pools()).unwrap();
        let pool = ipam
            .add_network("n1", &PoolRequest::default(), &[net("172.17.0.0/16")])
            .unwrap();
        assert_eq!(pool.subnet, net("172.18.0.0/16"));
        assert_eq!(pool.gateway, Ipv4Addr::new(172, 18, 0, 1));
        assert_eq!(
            ipam.lease("n1", "a", None).unwrap(),
            Ipv4Addr::new(172, 18, 0, 2)
        );
        assert_eq!(
            ipam.lease("n1", "b", None).unwrap(),
            Ipv4Addr::new(172, 18, 0, 3)
        );
        assert_eq!(
            ipam.lease("n1", "a", None).unwrap(),
            Ipv4Addr::new(172, 18, 0, 2)
        );
        drop(ipam);
        let mut ipam = Ipam::open(dir.path(), default_pools()).unwrap();
        assert_eq!(ipam.network("n1").unwrap().leases.len(), 2);
        assert_eq!(
            ipam.lease("n1", "c", None).unwrap(),
            Ipv4Addr::new(172, 18, 0, 4)
        );
        ipam.release("n1", "a").unwrap();
        assert_eq!(
            ipam.lease("n1", "d", None).unwrap(),
            Ipv4Addr::new(172, 18, 0, 2)
        );
    }

    #[test]
    fn a_container_gives_back_its_addresses_on_every_network() {
        let dir = tempfile::tempdir().unwrap();
        let mut ipam = Ipam::open(dir.path(), default_pools()).unwrap();
        for n in ["n1", "n2"] {
            ipam.add_network(n, &PoolRequest::default(), &[]).unwrap();
        }
        ipam.lease("n1", "a", None).unwrap();
        ipam.lease("n2", "a", None).unwrap();
        ipam.lease("n2", "b", None).unwrap();
        assert_eq!(ipam.holders().into_iter().collect::<Vec<_>>(), ["a", "b"]);
        ipam.release_everywhere("a").unwrap();
        drop(ipam);
        let ipam = Ipam::open(dir.path(), default_pools()).unwrap();
        assert_eq!(ipam.holders().into_iter().collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn explicit_subnet_range_gateway_and_static_ip() {
        let dir = tempfile::tempdir().unwrap();
        let mut ipam = Ipam::open(dir.path(), default_pools()).unwrap();
        let req = PoolRequest {
            subnet: Some(net("10.50.0.0/16")),
            gateway: Some(Ipv4Addr::new(10, 50, 0, 254)),
            ip_range: Some(net("10.50.7.0/24")),
        };
        ipam.add_network("n", &req, &[]).unwrap();
        assert_eq!(
            ipam.lease("n", "a", None).unwrap(),
            Ipv4Addr::new(10, 50, 7, 1)
        );
        let fixed = Ipv4Addr::new(10, 50, 0, 9);
        assert_eq!(ipam.lease("n", "b", Some(fixed)).unwrap(), fixed);
        assert!(matches!(
            ipam.lease("n", "c", Some(fixed)),
            Err(Error::AddressInUse(_))
        ));
        assert!(matches!(
            ipam.lease("n", "c", Some(Ipv4Addr::new(10, 50, 0, 254))),
            Err(Error::AddressInUse(_))
        ));
        assert!(matches!(
            ipam.lease("n", "c", Some(Ipv4Addr::new(10, 51, 0, 1))),
            Err(Error::AddressOutOfRange(_))
        ));
        let overlap = PoolRequest {
            subnet: Some(net("10.50.3.0/24")),
            ..Default::default()
        };
        let err = ipam.add_network("m", &overlap, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Pool overlaps with other one on this address space"
        );
    }

    #[test]
    fn subnets_without_room_for_a_container_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut ipam = Ipam::open(dir.path(), default_pools()).unwrap();
        for (subnet, gateway, text) in [
            (
                "10.61.0.0/31",
                None,
                "failed to allocate gateway (): No available addresses on this pool",
            ),
            (
                "10.61.1.0/32",
                None,
                "failed to allocate gateway (): No available addresses on this pool",
            ),
            (
                "10.61.2.0/31",
                Some(Ipv4Addr::new(10, 61, 2, 1)),
                "failed to allocate gateway (10.61.2.1): No available addresses on this pool",
            ),
        ] {
            let req = PoolRequest {
                subnet: Some(net(subnet)),
                gateway,
                ..Default::default()
            };
            let err = ipam.add_network(subnet, &req, &[]).unwrap_err();
            assert_eq!(err.to_string(), text);
            assert!(ipam.network(subnet).is_none());
        }
    }

    #[test]
    fn small_subnet_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        let mut ipam = Ipam::open(dir.path(), default_pools()).unwrap();
        let req = PoolRequest {
            subnet: Some(net("10.60.0.0/30")),
            ..Default::default()
        };
        ipam.add_network("n", &req, &[]).unwrap();
        assert_eq!(
            ipam.lease("n", "a", None).unwrap(),
            Ipv4Addr::new(10, 60, 0, 2)
        );
        assert!(matches!(
            ipam.lease("n", "b", None),
            Err(Error::PoolExhausted(_))
        ));
    }
}
