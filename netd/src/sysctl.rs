//! The few sysctls netd sets, as dockerd does: IPv4 forwarding, and
//! route_localnet on each bridge so ports published on 127.0.0.1 are DNATed
//! to containers (dockerd's `--userland-proxy=false` way).

use crate::error::{Error, Result};

fn write(path: &str, value: &str) -> Result<()> {
    match std::fs::read_to_string(path) {
        Ok(v) if v.trim() == value => return Ok(()),
        _ => {}
    }
    std::fs::write(path, value).map_err(|e| Error::io(format!("write {path}"), e))
}

/// net.ipv4.ip_forward = 1 (host-wide; dockerd sets it too and never unsets it).
pub fn enable_ip_forward() -> Result<()> {
    write("/proc/sys/net/ipv4/ip_forward", "1")
}

/// net.ipv6.conf.all.forwarding = 1 (host-wide, as dockerd sets it for IPv6 networks).
pub fn enable_ipv6_forward() -> Result<()> {
    write("/proc/sys/net/ipv6/conf/all/forwarding", "1")
}

/// net.ipv6.conf.<bridge>.disable_ipv6 = 0 (goes away with the bridge).
pub fn enable_ipv6_on(bridge: &str) -> Result<()> {
    write(
        &format!("/proc/sys/net/ipv6/conf/{bridge}/disable_ipv6"),
        "0",
    )
}

/// net.ipv4.conf.<bridge>.route_localnet = 1 (goes away with the bridge).
pub fn set_route_localnet(bridge: &str) -> Result<()> {
    write(
        &format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet"),
        "1",
    )
}

/// net.bridge.bridge-nf-call-iptables = 1 (host-wide, as dockerd sets it): bridged IPv4
/// traffic passes the nftables/iptables forward hook, so rules between ports of one bridge
/// (enable_icc=false) apply. Needs the br_netfilter module loaded.
pub fn enable_bridge_nf_call_iptables() -> Result<()> {
    const PATH: &str = "/proc/sys/net/bridge/bridge-nf-call-iptables";
    if !std::path::Path::new(PATH).exists() {
        return Err(Error::Firewall(
            "enable_icc=false needs the br_netfilter kernel module (modprobe br_netfilter)".into(),
        ));
    }
    write(PATH, "1")
}
