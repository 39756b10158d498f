//! The nftables backend: a table of Berth's own (`ip berth`) holding
//! dockerd-named chains (DOCKER, DOCKER-USER, DOCKER-ISOLATION-STAGE-1/2),
//! applied through `nft -j` with the `nftables` crate in one atomic batch.

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::firewall::{FirewallBackend, FirewallState, NetworkRules, PortRule};

/// The nftables backend.
#[derive(Debug, Clone)]
pub struct NftBackend {
    table: String,
}

impl Default for NftBackend {
    fn default() -> Self {
        NftBackend {
            table: "berth".into(),
        }
    }
}

const CHAINS: [&str; 7] = [
    "prerouting",
    "output",
    "postrouting",
    "forward",
    "DOCKER",
    "DOCKER-ISOLATION-STAGE-1",
    "DOCKER-ISOLATION-STAGE-2",
];

fn eq(left: Value, right: Value) -> Value {
    json!({"match": {"op": "==", "left": left, "right": right}})
}

fn ne(left: Value, right: Value) -> Value {
    json!({"match": {"op": "!=", "left": left, "right": right}})
}

fn meta(key: &str) -> Value {
    json!({"meta": {"key": key}})
}

fn field(protocol: &str, name: &str) -> Value {
    json!({"payload": {"protocol": protocol, "field": name}})
}

fn prefix(net: &ipnet::Ipv4Net) -> Value {
    json!({"prefix": {"addr": net.network().to_string(), "len": net.prefix_len()}})
}

impl NftBackend {
    /// A backend on another table (tests run side by side on their own tables).
    pub fn with_table(table: impl Into<String>) -> Self {
        NftBackend {
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn chain(&self, name: &str) -> Value {
        let base = |kind: &str, hook: &str, prio: i32| {
            json!({"family": "ip", "table": self.table, "name": name,
                   "type": kind, "hook": hook, "prio": prio, "policy": "accept"})
        };
        match name {
            "prerouting" => base("nat", "prerouting", -100),
            "output" => base("nat", "output", -100),
            "postrouting" => base("nat", "postrouting", 100),
            "forward" => base("filter", "forward", 0),
            _ => json!({"family": "ip", "table": self.table, "name": name}),
        }
    }

    fn rule(&self, chain: &str, expr: Vec<Value>) -> Value {
        json!({"add": {"rule": {"family": "ip", "table": self.table, "chain": chain, "expr": expr}}})
    }

    fn network_rules(&self, n: &NetworkRules, all: &[NetworkRules], out: &mut Vec<Value>) {
        let br = json!(n.bridge);
        let oif = || meta("oifname");
        let iif = || meta("iifname");
        if !n.internal && n.options.masquerade {
            out.push(self.rule(
                "postrouting",
                vec![
                    eq(field("ip", "saddr"), prefix(&n.subnet)),
                    ne(oif(), br.clone()),
                    json!({"masquerade": null}),
                ],
            ));
        }
        // Published on 127.0.0.1 (route_localnet): replies must come back to the host.
        out.push(self.rule(
            "postrouting",
            vec![
                eq(oif(), br.clone()),
                eq(
                    field("ip", "saddr"),
                    json!({"prefix": {"addr": "127.0.0.0", "len": 8}}),
                ),
                json!({"masquerade": null}),
            ],
        ));
        if n.internal {
            out.push(self.rule(
                "forward",
                vec![
                    eq(iif(), br.clone()),
                    ne(oif(), br.clone()),
                    json!({"drop": null}),
                ],
            ));
            out.push(self.rule(
                "forward",
                vec![
                    eq(oif(), br.clone()),
                    ne(iif(), br.clone()),
                    json!({"drop": null}),
                ],
            ));
        }
        if !n.options.icc {
            // Bridged frames pass the forward hook through br_netfilter (netd turns
            // bridge-nf-call-iptables on for such networks), with the bridge as both ends.
            out.push(self.rule(
                "forward",
                vec![
                    eq(iif(), br.clone()),
                    eq(oif(), br.clone()),
                    json!({"drop": null}),
                ],
            ));
        }
        if all.len() > 1 {
            out.push(self.rule(
                "DOCKER-ISOLATION-STAGE-1",
                vec![
                    eq(iif(), br.clone()),
                    ne(oif(), br.clone()),
                    json!({"jump": {"target": "DOCKER-ISOLATION-STAGE-2"}}),
                ],
            ));
            out.push(self.rule(
                "DOCKER-ISOLATION-STAGE-2",
                vec![eq(oif(), br), json!({"drop": null})],
            ));
        }
    }

    fn port_rules(&self, p: &PortRule, out: &mut Vec<Value>) {
        let proto = p.protocol.as_str();
        let mut dnat = Vec::new();
        if let Some(ip) = p.host_ip {
            dnat.push(eq(field("ip", "daddr"), json!(ip.to_string())));
        }
        dnat.push(eq(field(proto, "dport"), json!(p.host_port)));
        dnat.push(json!({"dnat": {"addr": p.container_ip.to_string(), "port": p.container_port}}));
        out.push(self.rule("DOCKER", dnat));
        // Hairpin: a container reaching its own published port.
        out.push(self.rule(
            "postrouting",
            vec![
                eq(field("ip", "saddr"), json!(p.container_ip.to_string())),
                eq(field("ip", "daddr"), json!(p.container_ip.to_string())),
                eq(field(proto, "dport"), json!(p.container_port)),
                json!({"masquerade": null}),
            ],
        ));
    }

    /// The whole batch for `state` (public so it can be inspected and unit-tested).
    pub fn render(&self, state: &FirewallState) -> Value {
        let mut cmds = vec![json!({"add": {"table": {"family": "ip", "name": self.table}}})];
        for name in CHAINS {
            cmds.push(json!({"add": {"chain": self.chain(name)}}));
            cmds.push(
                json!({"flush": {"chain": {"family": "ip", "table": self.table, "name": name}}}),
            );
        }
        // DOCKER-USER is the users': created, never flushed.
        cmds.push(json!({"add": {"chain": self.chain("DOCKER-USER")}}));
        let local = eq(
            json!({"fib": {"result": "type", "flags": ["daddr"]}}),
            json!("local"),
        );
        let to_docker = json!({"jump": {"target": "DOCKER"}});
        cmds.push(self.rule("prerouting", vec![local.clone(), to_docker.clone()]));
        cmds.push(self.rule("output", vec![local, to_docker]));
        cmds.push(self.rule("forward", vec![json!({"jump": {"target": "DOCKER-USER"}})]));
        cmds.push(self.rule(
            "forward",
            vec![json!({"jump": {"target": "DOCKER-ISOLATION-STAGE-1"}})],
        ));
        // Published ports are reachable from containers of other networks too
        // (through the host's addresses, as through docker-proxy): DNATed
        // connections skip the isolation between bridges.
        cmds.push(self.rule(
            "DOCKER-ISOLATION-STAGE-1",
            vec![
                json!({"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}),
                json!({"return": null}),
            ],
        ));
        for n in &state.networks {
            self.network_rules(n, &state.networks, &mut cmds);
        }
        for p in &state.ports {
            self.port_rules(p, &mut cmds);
        }
        json!({"nftables": cmds})
    }

    fn run(&self, batch: Value) -> Result<()> {
        let doc: nftables::schema::Nftables = serde_json::from_value(batch)
            .map_err(|e| Error::Firewall(format!("nft batch: {e}")))?;
        nftables::helper::apply_ruleset(&doc).map_err(|e| match e {
            nftables::helper::NftablesError::NftFailed { stderr, .. } => {
                Error::Firewall(format!("nft: {}", stderr.trim()))
            }
            other => Error::Firewall(other.to_string()),
        })
    }
}

impl FirewallBackend for NftBackend {
    fn apply(&self, state: &FirewallState) -> Result<()> {
        self.run(self.render(state))
    }

    fn clear(&self) -> Result<()> {
        // "add" first so that deleting a table that is not there is not an error.
        self.run(json!({"nftables": [
            {"add": {"table": {"family": "ip", "name": self.table}}},
            {"delete": {"table": {"family": "ip", "name": self.table}}},
        ]}))
    }

    fn name(&self) -> &'static str {
        "nftables"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::{BridgeOptions, Protocol};

    #[test]
    fn renders_masquerade_isolation_and_dnat() {
        let state = FirewallState {
            networks: vec![
                NetworkRules {
                    network_id: "a".into(),
                    bridge: "br-a".into(),
                    subnet: "172.18.0.0/16".parse().unwrap(),
                    internal: false,
                    options: Default::default(),
                },
                NetworkRules {
                    network_id: "b".into(),
                    bridge: "br-b".into(),
                    subnet: "172.19.0.0/16".parse().unwrap(),
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
    }

    #[test]
    fn bridge_options_drop_icc_and_masquerade() {
        let net = |options| FirewallState {
            networks: vec![NetworkRules {
                network_id: "a".into(),
                bridge: "br-a".into(),
                subnet: "172.18.0.0/16".parse().unwrap(),
                internal: false,
                options,
            }],
            ports: vec![],
        };
        let render = |o| NftBackend::default().render(&net(o)).to_string();
        let plain = render(BridgeOptions::default());
        assert_eq!(plain.matches(r#""len":16"#).count(), 1);
        assert!(!plain.contains(r#""drop":null"#));
        let closed = render(BridgeOptions {
            icc: false,
            masquerade: false,
        });
        let _: nftables::schema::Nftables =
            serde_json::from_str(&closed).expect("valid nftables document");
        assert_eq!(closed.matches(r#""len":16"#).count(), 0, "no masquerade");
        assert_eq!(closed.matches(r#""drop":null"#).count(), 1, "icc drop");
    }
}
