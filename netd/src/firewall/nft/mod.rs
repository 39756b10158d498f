//! The nftables backend: tables of Berth's own (`ip berth`, and `ip6 berth` while
//! a network has IPv6) holding dockerd-named chains (see [`table`]), applied through
//! `nft -j` with the `nftables` crate in one atomic batch; then Berth's accepts in the
//! host's own filter tables ([`host_filter`] for iptables-nft's, and the legacy ones
//! through `iptables-legacy` when the kernel has them loaded), so a `FORWARD` policy of
//! `DROP` there does not drop what Berth's rules let through.

pub mod expr;
pub mod host_filter;
pub mod table;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::firewall::host_filter::{HostFilterChains, XtablesFilter};
use crate::firewall::{Family, FirewallBackend, FirewallState};
use table::Table;

/// The nftables backend.
#[derive(Debug, Clone)]
pub struct NftBackend {
    table: String,
    filter_chains: HostFilterChains,
    legacy: XtablesFilter,
}

impl Default for NftBackend {
    fn default() -> Self {
        let filter_chains = HostFilterChains::default();
        NftBackend {
            table: "berth".into(),
            legacy: XtablesFilter::legacy(filter_chains.clone()),
            filter_chains,
        }
    }
}

impl NftBackend {
    /// A backend on another table (several daemons, tests side by side); its chains in
    /// the host's filter table are named after it (`BERTH-1A2B-FORWARD` for `berth-1a2b`).
    pub fn with_table(table: impl Into<String>) -> Self {
        let table = table.into();
        let filter_chains = HostFilterChains::with_prefix(&table.to_ascii_uppercase());
        NftBackend {
            legacy: XtablesFilter::legacy(filter_chains.clone()),
            filter_chains,
            table,
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Names of its chains in the host's filter table.
    pub fn filter_chains(&self) -> &HostFilterChains {
        &self.filter_chains
    }

    /// The batch for Berth's own tables (public so it can be inspected and unit-tested).
    pub fn render(&self, state: &FirewallState) -> Value {
        let mut cmds = Vec::new();
        for family in Family::ALL {
            let table = Table {
                family,
                name: &self.table,
            };
            if family == Family::V4 || state.networks_in(family).next().is_some() {
                table.render(state, &mut cmds);
            } else {
                table.render_absent(&mut cmds);
            }
        }
        json!({"nftables": cmds})
    }
}

/// Runs one batch through `nft -j`.
pub(crate) fn run(batch: Value) -> Result<()> {
    let doc: nftables::schema::Nftables =
        serde_json::from_value(batch).map_err(|e| Error::Firewall(format!("nft batch: {e}")))?;
    nftables::helper::apply_ruleset(&doc).map_err(|e| match e {
        nftables::helper::NftablesError::NftFailed { stderr, .. } => {
            Error::Firewall(format!("nft: {}", stderr.trim()))
        }
        other => Error::Firewall(other.to_string()),
    })
}

impl FirewallBackend for NftBackend {
    fn apply(&self, state: &FirewallState) -> Result<()> {
        run(self.render(state))?;
        host_filter::apply(&self.filter_chains, state)?;
        self.legacy.apply(state)
    }

    fn clear(&self) -> Result<()> {
        let mut cmds = Vec::new();
        for family in Family::ALL {
            Table {
                family,
                name: &self.table,
            }
            .render_absent(&mut cmds);
        }
        run(json!({ "nftables": cmds }))?;
        host_filter::clear(&self.filter_chains)?;
        self.legacy.clear()
    }

    fn name(&self) -> &'static str {
        "nftables"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::{BridgeOptions, NetworkRules, PortRule, Protocol};

    #[test]
    fn renders_masquerade_isolation_and_dnat() {
        let state = FirewallState {
            networks: vec![
                NetworkRules {
                    network_id: "a".into(),
                    bridge: "br-a".into(),
                    subnet: "172.18.0.0/16".parse().unwrap(),
                    subnet6: None,
                    internal: false,
                    options: Default::default(),
                },
                NetworkRules {
                    network_id: "b".into(),
                    bridge: "br-b".into(),
                    subnet: "172.19.0.0/16".parse().unwrap(),
                    subnet6: None,
                    internal: true,
                    options: Default::default(),
                },
            ],
            ports: vec![PortRule {
                owner: "c1".into(),
                bridge: "br-a".into(),
                protocol: Protocol::Udp,
                host_ip: None,
                host_port: 5353,
                container_ip: "172.18.0.2".parse().unwrap(),
                container_port: 53,
            }],
        };
        let text = NftBackend::default().render(&state).to_string();
        // The crate's schema accepts it.
        let _: nftables::schema::Nftables =
            serde_json::from_str(&text).expect("valid nftables document");
        assert!(text.contains(r#""masquerade":null"#));
        assert!(text.contains(r#""dnat":{"addr":"172.18.0.2","port":53}"#));
        assert!(text.contains(r#""field":"dport","protocol":"udp""#));
        assert!(text.contains("DOCKER-ISOLATION-STAGE-2"));
        // One masquerade for the outside: the internal network has none.
        assert_eq!(text.matches(r#""len":16"#).count(), 1);
        assert!(!text.contains(r#"{"flush":{"chain":{"family":"ip","name":"DOCKER-USER""#));
        // Replies and published ports enter a bridge, nothing else does.
        assert_eq!(
            text.matches(r#""right":["established","related"]"#).count(),
            2
        );
        // No IPv6 network: no ip6 table.
        assert!(text.contains(r#"{"delete":{"table":{"family":"ip6","name":"berth"}}}"#));
    }

    #[test]
    fn bridge_options_drop_icc_and_masquerade() {
        let net = |options| FirewallState {
            networks: vec![NetworkRules {
                network_id: "a".into(),
                bridge: "br-a".into(),
                subnet: "172.18.0.0/16".parse().unwrap(),
                subnet6: None,
                internal: false,
                options,
            }],
            ports: vec![],
        };
        let render = |o| NftBackend::default().render(&net(o)).to_string();
        let plain = render(BridgeOptions::default());
        assert_eq!(plain.matches(r#""len":16"#).count(), 1);
        assert_eq!(
            plain.matches(r#""drop":null"#).count(),
            1,
            "no direct routing"
        );
        let closed = render(BridgeOptions {
            icc: false,
            masquerade: false,
        });
        let _: nftables::schema::Nftables =
            serde_json::from_str(&closed).expect("valid nftables document");
        assert_eq!(closed.matches(r#""len":16"#).count(), 0, "no masquerade");
        assert_eq!(closed.matches(r#""drop":null"#).count(), 2, "icc drop");
    }
}
