//! Opening netd for this daemon, and the host-wide names it uses.
//!
//! The daemon on the default data root (`/var/lib/berth`) owns `berth0` and the
//! firewall table `berth`, as dockerd owns `docker0` and its chains. Any other data
//! root (several daemons side by side, the compat tests) gets names of its own, derived
//! from its network state folder, so daemons never clear each other's rules.
use std::path::{Path, PathBuf};

use netd::firewall::{self, iptables, nft, FirewallBackend, FirewallState};

use crate::config::Config;

const DEFAULT_DATA_ROOT: &str = "/var/lib/berth";

/// Where netd keeps its state for `data_root`.
pub fn state_dir(data_root: &Path) -> PathBuf {
    data_root.join("network")
}

/// The host names of one daemon's networking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostNames {
    /// The default network's bridge.
    pub bridge: String,
    /// The nftables table.
    pub firewall: String,
    /// The iptables chain prefix (chain names stay within iptables' 28 characters).
    pub chain_prefix: String,
}

impl HostNames {
    pub fn for_data_root(data_root: &Path) -> HostNames {
        if data_root == Path::new(DEFAULT_DATA_ROOT) {
            return HostNames {
                bridge: netd::DEFAULT_BRIDGE.to_string(),
                firewall: "berth".to_string(),
                chain_prefix: "DOCKER".to_string(),
            };
        }
        let tag = format!(
            "{:08x}",
            fnv1a(state_dir(data_root).display().to_string().as_bytes())
        );
        HostNames {
            bridge: format!("bth{tag}"),
            firewall: format!("berth-{tag}"),
            chain_prefix: format!("B{}", tag.to_ascii_uppercase()),
        }
    }
}

/// FNV-1a (32 bits): a stable short tag for a path.
pub fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// `--iptables=false`: netd manages no rule at all.
struct NoFirewall;

impl FirewallBackend for NoFirewall {
    fn apply(&self, _state: &FirewallState) -> netd::Result<()> {
        Ok(())
    }
    fn clear(&self) -> netd::Result<()> {
        Ok(())
    }
    fn name(&self) -> &'static str {
        "none"
    }
}

/// `--ip6tables=false`: the backend manages IPv4 rules only.
struct NoIp6Rules(Box<dyn FirewallBackend>);

impl FirewallBackend for NoIp6Rules {
    fn apply(&self, state: &FirewallState) -> netd::Result<()> {
        let mut v4 = state.clone();
        for n in &mut v4.networks {
            n.subnet6 = None;
        }
        v4.ports.retain(|p| p.container_ip.is_ipv4());
        self.0.apply(&v4)
    }
    fn clear(&self) -> netd::Result<()> {
        self.0.clear()
    }
    fn name(&self) -> &'static str {
        self.0.name()
    }
}

fn firewall_backend(config: &Config, names: &HostNames) -> Box<dyn FirewallBackend> {
    if !config.iptables {
        return Box::new(NoFirewall);
    }
    let backend = firewall_backend_of(config, names);
    if config.ip6tables {
        backend
    } else {
        Box::new(NoIp6Rules(backend))
    }
}

fn firewall_backend_of(config: &Config, names: &HostNames) -> Box<dyn FirewallBackend> {
    let default = names.firewall == "berth";
    let kind = match config.firewall_backend.as_deref() {
        Some(kind) => kind,
        None => firewall::detect_backend().name(),
    };
    match (kind, default) {
        ("nftables", true) => Box::new(nft::NftBackend::default()),
        ("nftables", false) => Box::new(nft::NftBackend::with_table(names.firewall.clone())),
        (_, true) => Box::new(iptables::IptablesBackend::default()),
        (_, false) => Box::new(iptables::IptablesBackend::with_chains(
            iptables::Chains::with_prefix(&names.chain_prefix),
        )),
    }
}

/// Opens netd: its state under `<data-root>/network`, namespace files under
/// `<exec-root>/netns`, pools from `--default-address-pool`.
pub async fn open_netd(config: &Config) -> super::Result<netd::Netd> {
    let names = HostNames::for_data_root(&config.data_root);
    let mut pools = Vec::new();
    let mut pools6 = Vec::new();
    for p in &config.default_address_pools {
        let base: ipnet::IpNet = p.base.parse().map_err(|_| {
            super::NetworkError::Invalid(format!("invalid default address pool {}", p.base))
        })?;
        match base {
            ipnet::IpNet::V4(base) => {
                pools.push(netd::ipam::pools::AddressPool { base, size: p.size })
            }
            ipnet::IpNet::V6(base) => pools6.push(netd::ipam::AddressPool6 { base, size: p.size }),
        }
    }
    let netd = netd::Netd::open(netd::NetdConfig {
        state_dir: state_dir(&config.data_root),
        netns_dir: config.exec_root.join("netns"),
        default_address_pools: pools,
        default_address_pools6: pools6,
        firewall: firewall_backend(config, &names),
        resolv_conf: PathBuf::from("/etc/resolv.conf"),
    })
    .await?;
    Ok(netd)
}

/// A host-wide lock around choosing a subnet and creating its bridge, so daemons
/// starting side by side never pick the same free pool (each one sees the other's
/// bridge route only once it exists). Released when dropped.
pub struct SubnetLock {
    _file: Option<std::fs::File>,
}

const SUBNET_LOCK: &str = "/run/lock/berth-network.lock";

impl SubnetLock {
    /// Waits for the lock; without a lock file (no /run/lock) it goes on unlocked.
    pub async fn acquire() -> SubnetLock {
        let taken = tokio::task::spawn_blocking(|| -> std::io::Result<std::fs::File> {
            use std::os::fd::AsRawFd;
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(SUBNET_LOCK)?;
            // SAFETY: flock on a descriptor this function owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(file)
        })
        .await;
        match taken {
            Ok(Ok(file)) => SubnetLock { _file: Some(file) },
            Ok(Err(e)) => {
                tracing::debug!("{SUBNET_LOCK}: {e}; creating the network unlocked");
                SubnetLock { _file: None }
            }
            Err(e) => {
                tracing::debug!("{SUBNET_LOCK}: {e}; creating the network unlocked");
                SubnetLock { _file: None }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_root_owns_dockerd_like_names() {
        let n = HostNames::for_data_root(Path::new("/var/lib/berth"));
        assert_eq!(n.bridge, "berth0");
        assert_eq!(n.firewall, "berth");
        let other = HostNames::for_data_root(Path::new("/tmp/x/data"));
        assert!(other.bridge.len() <= 15, "{}", other.bridge);
        assert!(other.firewall.starts_with("berth-"));
        assert!(format!("{}-ISOLATION-STAGE-1", other.chain_prefix).len() <= 28);
        assert_ne!(other, HostNames::for_data_root(Path::new("/tmp/y/data")));
    }
}
