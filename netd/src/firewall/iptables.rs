//! The iptables backend, for hosts without nft: dockerd's chains (DOCKER in
//! nat and DOCKER-USER, DOCKER-ISOLATION-STAGE-1/2, DOCKER-FORWARD in filter) plus one of
//! Berth's own for masquerade (dockerd puts those straight into POSTROUTING,
//! which cannot be flushed as a unit). Chains are rewritten whole with
//! `iptables-restore --noflush`; the jumps from the built-in chains are added once.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::firewall::{FirewallBackend, FirewallState};

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
}

#[derive(Debug, Clone, Default)]
pub struct IptablesBackend {
    chains: Chains,
}

impl IptablesBackend {
    pub fn with_chains(chains: Chains) -> Self {
        IptablesBackend { chains }
    }

    pub fn chains(&self) -> &Chains {
        &self.chains
    }

    /// (table, built-in chain, rule) of each jump into Berth's chains, in order.
    fn jumps(&self) -> Vec<(&'static str, &'static str, Vec<String>)> {
        let c = &self.chains;
        let local = |target: &str| {
            vec!["-m", "addrtype", "--dst-type", "LOCAL", "-j", target]
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

    /// The `iptables-restore --noflush` input for `state`.
    pub fn render(&self, state: &FirewallState) -> String {
        let c = &self.chains;
        let mut nat = format!("*nat\n:{} - [0:0]\n:{} - [0:0]\n", c.docker, c.postrouting);
        let mut filter = format!(
            "*filter\n:{} - [0:0]\n:{} - [0:0]\n:{} - [0:0]\n",
            c.stage1, c.stage2, c.forward
        );
        // DNATed connections (published ports) skip isolation, as through docker-proxy.
        filter += &format!("-A {} -m conntrack --ctstate DNAT -j RETURN\n", c.stage1);
        for n in &state.networks {
            let br = &n.bridge;
            if !n.internal && n.options.masquerade {
                nat += &format!(
                    "-A {} -s {} ! -o {br} -j MASQUERADE\n",
                    c.postrouting, n.subnet
                );
            }
            nat += &format!(
                "-A {} -s 127.0.0.0/8 -o {br} -j MASQUERADE\n",
                c.postrouting
            );
            // Accepts as dockerd's, for hosts whose FORWARD policy is DROP.
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
            if n.internal {
                filter += &format!("-A {} -i {br} ! -o {br} -j DROP\n", c.stage1);
                filter += &format!("-A {} -o {br} ! -i {br} -j DROP\n", c.stage1);
            }
            if state.networks.len() > 1 {
                filter += &format!("-A {} -i {br} ! -o {br} -j {}\n", c.stage1, c.stage2);
                filter += &format!("-A {} -o {br} -j DROP\n", c.stage2);
            }
        }
        for p in &state.ports {
            let proto = p.protocol.as_str();
            let dst = p
                .host_ip
                .map(|ip| format!("-d {ip}/32 "))
                .unwrap_or_default();
            nat += &format!(
                "-A {} {dst}-p {proto} -m {proto} --dport {} -j DNAT --to-destination {}:{}\n",
                c.docker, p.host_port, p.container_ip, p.container_port
            );
            filter += &format!(
                "-A {} -d {}/32 ! -i {br} -o {br} -p {proto} -m {proto} --dport {} -j ACCEPT\n",
                c.forward,
                p.container_ip,
                p.container_port,
                br = p.bridge
            );
            nat += &format!(
                "-A {} -s {ip}/32 -d {ip}/32 -p {proto} -m {proto} --dport {} -j MASQUERADE\n",
                c.postrouting,
                p.container_port,
                ip = p.container_ip
            );
        }
        format!("{nat}COMMIT\n{filter}COMMIT\n")
    }

    fn iptables(args: &[&str]) -> Result<bool> {
        let status = Command::new("iptables")
            .arg("-w")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| Error::io("run iptables", e))?;
        Ok(status.success())
    }

    fn restore(input: &str) -> Result<()> {
        let mut child = Command::new("iptables-restore")
            .args(["-w", "--noflush"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io("run iptables-restore", e))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(input.as_bytes())
                .map_err(|e| Error::io("write to iptables-restore", e))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::io("wait for iptables-restore", e))?;
        if !out.status.success() {
            return Err(Error::Firewall(format!(
                "iptables-restore: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }
}

impl FirewallBackend for IptablesBackend {
    fn apply(&self, state: &FirewallState) -> Result<()> {
        // DOCKER-USER belongs to the user: created when missing, never flushed.
        Self::iptables(&["-t", "filter", "-N", &self.chains.user])?;
        Self::restore(&self.render(state))?;
        for (table, chain, rule) in self.jumps() {
            let rule: Vec<&str> = rule.iter().map(String::as_str).collect();
            let check = [&["-t", table, "-C", chain][..], &rule].concat();
            if !Self::iptables(&check)? {
                let insert = [&["-t", table, "-I", chain, "1"][..], &rule].concat();
                if !Self::iptables(&insert)? {
                    return Err(Error::Firewall(format!(
                        "iptables: cannot add jump in {chain}"
                    )));
                }
            }
        }
        Ok(())
    }

    fn clear(&self) -> Result<()> {
        for (table, chain, rule) in self.jumps() {
            let rule: Vec<&str> = rule.iter().map(String::as_str).collect();
            let delete = [&["-t", table, "-D", chain][..], &rule].concat();
            while Self::iptables(&delete)? {}
        }
        let c = &self.chains;
        for (table, chain) in [
            ("nat", &c.docker),
            ("nat", &c.postrouting),
            ("filter", &c.stage1),
            ("filter", &c.stage2),
            ("filter", &c.forward),
        ] {
            Self::iptables(&["-t", table, "-F", chain])?;
            Self::iptables(&["-t", table, "-X", chain])?;
        }
        // Removed only when the user left nothing in it.
        Self::iptables(&["-t", "filter", "-X", &c.user])?;
        Ok(())
    }

    fn name(&self) -> &'static str {
        "iptables"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::{BridgeOptions, NetworkRules, PortRule, Protocol};

    #[test]
    fn renders_dockerd_shaped_rules() {
        let state = FirewallState {
            networks: vec![NetworkRules {
                network_id: "a".into(),
                bridge: "br-a".into(),
                subnet: "172.18.0.0/16".parse().unwrap(),
                internal: false,
                options: Default::default(),
            }],
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
        let text = IptablesBackend::default().render(&state);
        assert!(text.contains("-A BERTH-POSTROUTING -s 172.18.0.0/16 ! -o br-a -j MASQUERADE"));
        assert!(text.contains(
            "-A DOCKER -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:80"
        ));
        assert!(text.contains(":DOCKER-ISOLATION-STAGE-1 - [0:0]"));
        assert!(!text.contains("DOCKER-USER"));
        assert!(text.contains("-A DOCKER-FORWARD -i br-a ! -o br-a -j ACCEPT"));
        assert!(text.contains(
            "-A DOCKER-FORWARD -d 172.18.0.2/32 ! -i br-a -o br-a -p tcp -m tcp --dport 80 -j ACCEPT"
        ));
    }

    #[test]
    fn bridge_options_as_dockerd() {
        let state = FirewallState {
            networks: vec![NetworkRules {
                network_id: "a".into(),
                bridge: "br-a".into(),
                subnet: "172.18.0.0/16".parse().unwrap(),
                internal: false,
                options: BridgeOptions {
                    icc: false,
                    masquerade: false,
                },
            }],
            ports: vec![],
        };
        let text = IptablesBackend::default().render(&state);
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
