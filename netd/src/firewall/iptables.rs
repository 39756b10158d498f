//! The iptables backend, for hosts without nft: dockerd's chains (DOCKER in nat and
//! DOCKER-USER, DOCKER-ISOLATION-STAGE-1/2, DOCKER-FORWARD in filter) plus one of
//! Berth's own for masquerade (dockerd puts those straight into POSTROUTING, which
//! cannot be flushed as a unit), in iptables and, while a network has IPv6, in
//! ip6tables. Chains are rewritten whole with `*-restore --noflush`; the jumps from the
//! built-in chains are added once, at their head, as dockerd's.
//!
//! The accepts in DOCKER-FORWARD follow dockerd 28, so that a `FORWARD` policy of
//! `DROP` changes nothing: replies and published ports may enter a bridge, anything
//! may leave it, nothing else enters (no direct routing). When the host also has the
//! other xtables variant's filter table (legacy beside iptables-nft, or the reverse),
//! Berth's accepts go there too ([`crate::firewall::host_filter`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use crate::error::Result;
use crate::firewall::host_filter::{HostFilterChains, XtablesFilter};
use crate::firewall::xtables::Xtables;
use crate::firewall::{nft, Family, FirewallBackend, FirewallState};

/// Names of the chains the backend owns.
#[derive(Debug, Clone)]
pub struct Chains {
    pub docker: String,
    pub user: String,
    pub stage1: String,
    pub stage2: String,
    pub forward: String,
    pub postrouting: String,
}

impl Default for Chains {
    fn default() -> Self {
        Chains {
            docker: "DOCKER".into(),
            user: "DOCKER-USER".into(),
            stage1: "DOCKER-ISOLATION-STAGE-1".into(),
            stage2: "DOCKER-ISOLATION-STAGE-2".into(),
            forward: "DOCKER-FORWARD".into(),
            postrouting: "BERTH-POSTROUTING".into(),
        }
    }
}

impl Chains {
    /// Same layout under another prefix (tests, side by side with a real setup).
    pub fn with_prefix(prefix: &str) -> Self {
        Chains {
            docker: prefix.into(),
            user: format!("{prefix}-USER"),
            stage1: format!("{prefix}-ISOLATION-STAGE-1"),
            stage2: format!("{prefix}-ISOLATION-STAGE-2"),
            forward: format!("{prefix}-FORWARD"),
            postrouting: format!("{prefix}-POSTROUTING"),
        }
    }

    /// The same accepts' names in the other variant's filter table.
    fn host_filter(&self) -> HostFilterChains {
        HostFilterChains {
            user: self.user.clone(),
            forward: self.forward.clone(),
        }
    }
}

/// The other filter table Berth's accepts must reach too.
#[derive(Debug, Clone)]
enum OtherFilter {
    /// `iptables` is iptables-nft: the legacy tables, when loaded.
    Legacy(XtablesFilter),
    /// `iptables` is the legacy one: iptables-nft's table, through `nft -j`.
    Nft(HostFilterChains),
    None,
}

#[derive(Debug, Default)]
pub struct IptablesBackend {
    chains: Chains,
    other: OnceLock<OtherFilter>,
    /// Whether ip6tables holds rules of this run's (cleared when no IPv6 network is left).
    v6_applied: AtomicBool,
}

impl IptablesBackend {
    pub fn with_chains(chains: Chains) -> Self {
        IptablesBackend {
            chains,
            ..Default::default()
        }
    }

    pub fn chains(&self) -> &Chains {
        &self.chains
    }

    fn other(&self) -> &OtherFilter {
        self.other.get_or_init(|| {
            let version = Xtables::default_for(Family::V4).output(&["-V"]);
            if version.contains("nf_tables") {
                OtherFilter::Legacy(XtablesFilter::legacy(self.chains.host_filter()))
            } else if version.contains("legacy") && nft_runs() {
                OtherFilter::Nft(self.chains.host_filter())
            } else {
                OtherFilter::None
            }
        })
    }

    /// (table, built-in chain, rule) of each jump into Berth's chains, in order.
    fn jumps(&self) -> Vec<(&'static str, &'static str, Vec<String>)> {
        let c = &self.chains;
        let local = |target: &str| {
            ["-m", "addrtype", "--dst-type", "LOCAL", "-j", target]
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        let jump = |target: &str| vec!["-j".to_string(), target.to_string()];
        vec![
            ("nat", "PREROUTING", local(&c.docker)),
            ("nat", "OUTPUT", local(&c.docker)),
            ("nat", "POSTROUTING", jump(&c.postrouting)),
            ("filter", "FORWARD", jump(&c.forward)),
            ("filter", "FORWARD", jump(&c.stage1)),
            ("filter", "FORWARD", jump(&c.user)),
        ]
    }

    /// The `iptables-restore --noflush` input for `state` in `family`.
    pub fn render(&self, state: &FirewallState, family: Family) -> String {
        let c = &self.chains;
        let host = match family {
            Family::V4 => 32,
            Family::V6 => 128,
        };
        let mut nat = format!("*nat\n:{} - [0:0]\n:{} - [0:0]\n", c.docker, c.postrouting);
        let mut filter = format!(
            "*filter\n:{} - [0:0]\n:{} - [0:0]\n:{} - [0:0]\n",
            c.stage1, c.stage2, c.forward
        );
        // DNATed connections (published ports) skip isolation, as through docker-proxy.
        filter += &format!("-A {} -m conntrack --ctstate DNAT -j RETURN\n", c.stage1);
        let networks: Vec<_> = state.networks_in(family).collect();
        let mut closed = String::new();
        for n in &networks {
            let br = &n.bridge;
            let Some(subnet) = n.subnet_in(family) else {
                continue;
            };
            if !n.internal && n.options.masquerade {
                nat += &format!("-A {} -s {subnet} ! -o {br} -j MASQUERADE\n", c.postrouting);
            }
            if family == Family::V4 {
                nat += &format!(
                    "-A {} -s 127.0.0.0/8 -o {br} -j MASQUERADE\n",
                    c.postrouting
                );
            }
            filter += &format!(
                "-A {} -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n",
                c.forward
            );
            if !n.internal {
                filter += &format!("-A {} -i {br} ! -o {br} -j ACCEPT\n", c.forward);
            }
            // enable_icc=false: dockerd's DROP instead of the ACCEPT (bridged frames reach
            // it through br_netfilter).
            let icc = if n.options.icc { "ACCEPT" } else { "DROP" };
            filter += &format!("-A {} -i {br} -o {br} -j {icc}\n", c.forward);
            // After the published ports' accepts: nothing else enters the bridge.
            closed += &format!("-A {} ! -i {br} -o {br} -j DROP\n", c.forward);
            if n.internal {
                filter += &format!("-A {} -i {br} ! -o {br} -j DROP\n", c.stage1);
                filter += &format!("-A {} -o {br} ! -i {br} -j DROP\n", c.stage1);
            }
            if networks.len() > 1 {
                filter += &format!("-A {} -i {br} ! -o {br} -j {}\n", c.stage1, c.stage2);
                filter += &format!("-A {} -o {br} -j DROP\n", c.stage2);
            }
        }
        for p in state.ports_in(family) {
            let proto = p.protocol.as_str();
            let dst = p
                .host_ip
                .map(|ip| format!("-d {ip}/{host} "))
                .unwrap_or_default();
            let to = match family {
                Family::V4 => format!("{}:{}", p.container_ip, p.container_port),
                Family::V6 => format!("[{}]:{}", p.container_ip, p.container_port),
            };
            nat += &format!(
                "-A {} {dst}-p {proto} -m {proto} --dport {} -j DNAT --to-destination {to}\n",
                c.docker, p.host_port
            );
            filter += &format!(
                "-A {} -d {}/{host} ! -i {br} -o {br} -p {proto} -m {proto} --dport {} -j ACCEPT\n",
                c.forward,
                p.container_ip,
                p.container_port,
                br = p.bridge
            );
            nat += &format!(
                "-A {} -s {ip}/{host} -d {ip}/{host} -p {proto} -m {proto} --dport {} -j MASQUERADE\n",
                c.postrouting,
                p.container_port,
                ip = p.container_ip
            );
        }
        format!("{nat}COMMIT\n{filter}{closed}COMMIT\n")
    }

    fn apply_family(&self, state: &FirewallState, family: Family) -> Result<()> {
        let tool = Xtables::default_for(family);
        // DOCKER-USER belongs to the user: created when missing, never flushed.
        tool.ensure_chain("filter", &self.chains.user)?;
        tool.restore(&self.render(state, family))?;
        // Inserted at the head one by one: the last is first (DOCKER-USER).
        for (table, chain, rule) in self.jumps() {
            let rule: Vec<&str> = rule.iter().map(String::as_str).collect();
            tool.ensure_first(table, chain, &rule)?;
        }
        Ok(())
    }

    fn clear_family(&self, family: Family) -> Result<()> {
        let tool = Xtables::default_for(family);
        if family == Family::V6 && !tool.installed() {
            return Ok(());
        }
        for (table, chain, rule) in self.jumps() {
            let rule: Vec<&str> = rule.iter().map(String::as_str).collect();
            tool.remove_all(table, chain, &rule)?;
        }
        let c = &self.chains;
        for (table, chain) in [
            ("nat", &c.docker),
            ("nat", &c.postrouting),
            ("filter", &c.stage1),
            ("filter", &c.stage2),
            ("filter", &c.forward),
        ] {
            tool.drop_chain(table, chain)?;
        }
        // Removed only when the user left nothing in it.
        tool.run(&["-t", "filter", "-X", &c.user])?;
        Ok(())
    }
}

fn nft_runs() -> bool {
    std::process::Command::new("nft")
        .args(["list", "tables"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl FirewallBackend for IptablesBackend {
    fn apply(&self, state: &FirewallState) -> Result<()> {
        self.apply_family(state, Family::V4)?;
        if state.networks_in(Family::V6).next().is_some() {
            self.apply_family(state, Family::V6)?;
            self.v6_applied.store(true, Ordering::Relaxed);
        } else if self.v6_applied.swap(false, Ordering::Relaxed) {
            self.clear_family(Family::V6)?;
        }
        match self.other() {
            OtherFilter::Legacy(legacy) => legacy.apply(state),
            OtherFilter::Nft(chains) => nft::host_filter::apply(chains, state),
            OtherFilter::None => Ok(()),
        }
    }

    fn clear(&self) -> Result<()> {
        for family in Family::ALL {
            self.clear_family(family)?;
        }
        match self.other() {
            OtherFilter::Legacy(legacy) => legacy.clear(),
            OtherFilter::Nft(chains) => nft::host_filter::clear(chains),
            OtherFilter::None => Ok(()),
        }
    }

    fn name(&self) -> &'static str {
        "iptables"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::{BridgeOptions, NetworkRules, PortRule, Protocol};

    fn network(options: BridgeOptions) -> NetworkRules {
        NetworkRules {
            network_id: "a".into(),
            bridge: "br-a".into(),
            subnet: "172.18.0.0/16".parse().unwrap(),
            subnet6: Some("fd00:18::/64".parse().unwrap()),
            internal: false,
            options,
        }
    }

    #[test]
    fn renders_dockerd_shaped_rules() {
        let state = FirewallState {
            networks: vec![network(Default::default())],
            ports: vec![PortRule {
                owner: "c".into(),
                bridge: "br-a".into(),
                protocol: Protocol::Tcp,
                host_ip: Some("127.0.0.1".parse().unwrap()),
                host_port: 8080,
                container_ip: "172.18.0.2".parse().unwrap(),
                container_port: 80,
            }],
        };
        let text = IptablesBackend::default().render(&state, Family::V4);
        assert!(text.contains("-A BERTH-POSTROUTING -s 172.18.0.0/16 ! -o br-a -j MASQUERADE"));
        assert!(text.contains(
            "-A DOCKER -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:80"
        ));
        assert!(text.contains(":DOCKER-ISOLATION-STAGE-1 - [0:0]"));
        assert!(!text.contains("DOCKER-USER"));
        assert!(text.contains("-A DOCKER-FORWARD -i br-a ! -o br-a -j ACCEPT"));
        let accept = "-A DOCKER-FORWARD -d 172.18.0.2/32 ! -i br-a -o br-a -p tcp -m tcp --dport 80 -j ACCEPT";
        let closed = "-A DOCKER-FORWARD ! -i br-a -o br-a -j DROP";
        let (a, c) = (text.find(accept), text.find(closed));
        assert!(a.is_some() && c.is_some() && a < c, "{text}");
        // The same network in ip6tables: its IPv6 subnet, no 127.0.0.0/8, no v4 port.
        let v6 = IptablesBackend::default().render(&state, Family::V6);
        assert!(
            v6.contains("-s fd00:18::/64 ! -o br-a -j MASQUERADE"),
            "{v6}"
        );
        assert!(
            !v6.contains("127.0.0.0/8") && !v6.contains("-j DNAT"),
            "{v6}"
        );
    }

    #[test]
    fn bridge_options_as_dockerd() {
        let state = FirewallState {
            networks: vec![network(BridgeOptions {
                icc: false,
                masquerade: false,
            })],
            ports: vec![],
        };
        let text = IptablesBackend::default().render(&state, Family::V4);
        assert!(
            !text.contains("-s 172.18.0.0/16 ! -o br-a -j MASQUERADE"),
            "{text}"
        );
        assert!(
            text.contains("-A DOCKER-FORWARD -i br-a -o br-a -j DROP"),
            "{text}"
        );
        assert!(!text.contains("-i br-a -o br-a -j ACCEPT"), "{text}");
        assert!(
            text.contains("-A DOCKER-FORWARD -i br-a ! -o br-a -j ACCEPT"),
            "{text}"
        );
    }
}
