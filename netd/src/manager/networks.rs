//! Networks: creating one (subnets from IPAM, the bridge with its gateways, the
//! firewall's rules, the record), removing one.

use super::*;
use crate::ipam::NetworkPool;

impl Netd {
    /// Creates a bridge network (idempotent for the same id): subnet from the
    /// request or the default pools, bridge up with the gateway, rules in place.
    pub async fn create_network(&self, spec: &NetworkSpec) -> Result<NetworkInfo> {
        let routes = network::host_routes(&self.host).await?;
        let routes6 = network::host_routes6(&self.host).await?;
        let pool = self
            .lock()?
            .ipam
            .add_network(&spec.id, &spec.ipam, &routes, &routes6)?;
        let bridge = spec
            .bridge
            .clone()
            .unwrap_or_else(|| BridgeConfig::default_name(&spec.id));
        let config = BridgeConfig {
            owner: self.owner.clone(),
            network_id: spec.id.clone(),
            name: bridge.clone(),
            gateway: pool.gateway_net(),
            gateway6: pool.v6.as_ref().map(|v6| v6.gateway_net()),
            mtu: spec.mtu,
        };
        let made = async {
            network::create_bridge(&self.host, &config).await?;
            bridge_filtering(spec.options)?;
            let record = NetworkRecord {
                id: spec.id.clone(),
                name: spec.name.clone(),
                bridge: bridge.clone(),
                internal: spec.internal,
                mtu: spec.mtu,
                dns: spec.dns,
                options: spec.options,
                endpoints: Default::default(),
            };
            self.firewall.add_network(rules_of(&record, &pool))?;
            let mut inner = self.lock()?;
            inner
                .state
                .networks
                .entry(spec.id.clone())
                .or_insert(record);
            self.save(&inner)
        }
        .await;
        if let Err(e) = made {
            let _ = network::delete_bridge(&self.host, &bridge, &self.owner, &spec.id).await;
            let _ = self.lock()?.ipam.remove_network(&spec.id);
            return Err(e);
        }
        Ok(NetworkInfo {
            id: spec.id.clone(),
            bridge,
            subnet: pool.subnet,
            gateway: pool.gateway,
            ip_range: pool.ip_range,
            v6: pool
                .v6
                .as_ref()
                .map(|v6| (v6.subnet, v6.gateway, v6.ip_range)),
        })
    }

    /// Deletes a network: its rules, its bridge, its leases. Refused with
    /// dockerd's message while containers are connected.
    pub async fn remove_network(&self, network_id: &str) -> Result<()> {
        let record = self.lock()?.state.networks.get(network_id).cloned();
        let Some(record) = record else {
            return Ok(());
        };
        if !record.endpoints.is_empty() {
            return Err(Error::ActiveEndpoints {
                name: record.name.clone(),
                id: record.id.clone(),
            });
        }
        self.firewall.remove_network(network_id)?;
        network::delete_bridge(&self.host, &record.bridge, &self.owner, network_id).await?;
        let mut inner = self.lock()?;
        inner.state.networks.remove(network_id);
        inner.ipam.remove_network(network_id)?;
        self.save(&inner)
    }
}

/// A network's firewall rules: its subnets, `--internal`, the bridge options.
pub(super) fn rules_of(net: &NetworkRecord, pool: &NetworkPool) -> NetworkRules {
    NetworkRules {
        network_id: net.id.clone(),
        bridge: net.bridge.clone(),
        subnet: pool.subnet,
        subnet6: pool.v6.as_ref().map(|v6| v6.subnet),
        internal: net.internal,
        options: net.options,
    }
}

/// Without icc, traffic between two ports of one bridge must meet the firewall: bridged
/// frames go through it when br_netfilter's bridge-nf-call-iptables is on, which dockerd
/// also turns on.
pub(super) fn bridge_filtering(options: BridgeOptions) -> Result<()> {
    if options.icc {
        return Ok(());
    }
    crate::sysctl::enable_bridge_nf_call_iptables()
}
