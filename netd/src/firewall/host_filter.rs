//! The host's own `filter` table: the accepts Berth's bridges need in its `FORWARD`
//! chain, whatever that chain's policy and whoever else has rules there.
//!
//! A forwarded packet passes every base chain on the forward hook, and a drop in any of
//! them is final: Berth's own table accepting a packet does not help when the host's
//! iptables `FORWARD` policy is `DROP` (dockerd leaves it so; with br_netfilter, packets
//! between two containers of one bridge pass it too). So, as dockerd does, Berth keeps a
//! chain of accepts there — `<prefix>-FORWARD`: first a jump to `DOCKER-USER` (the
//! users' chain, created when missing, never flushed), then `-i <bridge> -j ACCEPT` and
//! `-o <bridge> -j ACCEPT` for each of its bridges — and one jump to it at the head of
//! `FORWARD`. What may really enter or leave a bridge is decided in Berth's own rules
//! (isolation, `--internal`, no direct routing, published ports), which drop the rest.
//!
//! The rules use only interface matches, so `iptables-nft` still reads a table Berth
//! wrote into with `nft -j` (see [`crate::firewall::nft::host_filter`]). This module also
//! has the x_tables writer, for the legacy filter table the nft backend cannot see.

use crate::error::Result;
use crate::firewall::xtables::{legacy_filter_loaded, Xtables};
use crate::firewall::{Family, FirewallState};

/// Names of Berth's chains in the host's filter table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFilterChains {
    /// `DOCKER-USER`: the users' chain, jumped to before any accept of Berth's.
    pub user: String,
    /// Berth's accepts (`BERTH-FORWARD`), rewritten whole at each change.
    pub forward: String,
}

impl Default for HostFilterChains {
    fn default() -> Self {
        HostFilterChains {
            user: "DOCKER-USER".into(),
            forward: "BERTH-FORWARD".into(),
        }
    }
}

impl HostFilterChains {
    /// Same layout under another prefix (several daemons, tests).
    pub fn with_prefix(prefix: &str) -> Self {
        HostFilterChains {
            user: format!("{prefix}-USER"),
            forward: format!("{prefix}-FORWARD"),
        }
    }
}

/// The bridges whose traffic the host's `FORWARD` chain must let through in `family`.
pub fn bridges(state: &FirewallState, family: Family) -> Vec<&str> {
    let mut out: Vec<&str> = state
        .networks_in(family)
        .map(|n| n.bridge.as_str())
        .collect();
    out.dedup();
    out
}

/// The chain's rules in iptables-restore form (also what the nft writer mirrors).
pub fn restore_input(chains: &HostFilterChains, bridges: &[&str]) -> String {
    let fwd = &chains.forward;
    let mut s = format!("*filter\n:{fwd} - [0:0]\n-A {fwd} -j {}\n", chains.user);
    for br in bridges {
        s += &format!("-A {fwd} -i {br} -j ACCEPT\n-A {fwd} -o {br} -j ACCEPT\n");
    }
    s + "COMMIT\n"
}

/// The accepts written through one xtables tool (the legacy one for the nft backend,
/// the other variant for the iptables backend).
#[derive(Debug, Clone)]
pub struct XtablesFilter {
    pub chains: HostFilterChains,
    /// Which tool per family; `None`: that family's table is not this writer's.
    pub tools: [Option<Xtables>; 2],
}

impl XtablesFilter {
    /// The legacy filter tables, when the kernel has them loaded and the tools exist.
    pub fn legacy(chains: HostFilterChains) -> Self {
        let tool = |family| {
            let t = Xtables::legacy_for(family);
            t.installed().then_some(t)
        };
        XtablesFilter {
            chains,
            tools: [tool(Family::V4), tool(Family::V6)],
        }
    }

    fn tool(&self, family: Family) -> Option<Xtables> {
        let t = self.tools[family as usize]?;
        legacy_filter_loaded(family).then_some(t)
    }

    /// Makes the accepts exactly what `state` needs (none: the chain and jump go).
    pub fn apply(&self, state: &FirewallState) -> Result<()> {
        for family in Family::ALL {
            let Some(tool) = self.tool(family) else {
                continue;
            };
            let bridges = bridges(state, family);
            if bridges.is_empty() {
                self.remove(tool)?;
                continue;
            }
            tool.ensure_chain("filter", &self.chains.user)?;
            tool.restore(&restore_input(&self.chains, &bridges))?;
            tool.ensure_first("filter", "FORWARD", &["-j", &self.chains.forward])?;
        }
        Ok(())
    }

    fn remove(&self, tool: Xtables) -> Result<()> {
        tool.remove_all("filter", "FORWARD", &["-j", &self.chains.forward])?;
        tool.drop_chain("filter", &self.chains.forward)?;
        // Removed only when the users left nothing in it and nothing jumps to it.
        tool.run(&["-t", "filter", "-X", &self.chains.user])?;
        Ok(())
    }

    /// Removes Berth's accepts from every table this writer handles.
    pub fn clear(&self) -> Result<()> {
        for family in Family::ALL {
            if let Some(tool) = self.tool(family) {
                self.remove(tool)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::NetworkRules;

    #[test]
    fn accepts_per_bridge_behind_the_users_chain() {
        let net = |id: &str, v6: bool| NetworkRules {
            network_id: id.into(),
            bridge: format!("br-{id}"),
            subnet: "172.18.0.0/16".parse().unwrap(),
            subnet6: v6.then(|| "fd00:1::/64".parse().unwrap()),
            internal: false,
            options: Default::default(),
        };
        let state = FirewallState {
            networks: vec![net("a", false), net("b", true)],
            ports: vec![],
        };
        assert_eq!(bridges(&state, Family::V4), ["br-a", "br-b"]);
        assert_eq!(bridges(&state, Family::V6), ["br-b"]);
        let text = restore_input(&HostFilterChains::with_prefix("BX"), &["br-a"]);
        assert_eq!(
            text,
            "*filter\n:BX-FORWARD - [0:0]\n-A BX-FORWARD -j BX-USER\n\
             -A BX-FORWARD -i br-a -j ACCEPT\n-A BX-FORWARD -o br-a -j ACCEPT\nCOMMIT\n"
        );
    }
}
