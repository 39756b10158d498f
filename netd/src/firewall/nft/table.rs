//! Berth's own nftables table of one family (`ip <name>` and, with IPv6 networks,
//! `ip6 <name>`), with dockerd's chain names: DOCKER (DNAT of published ports),
//! DOCKER-USER (the users', never flushed), DOCKER-ISOLATION-STAGE-1/2, and base
//! chains for NAT and forwarding.
//!
//! Forwarding follows dockerd 28's iptables rules for a bridge: replies and published
//! ports (DNATed connections) may enter it, anything may leave it, nothing else enters
//! (no direct routing to containers from outside); `--internal` keeps all traffic on
//! the bridge, `enable_icc=false` drops traffic between its containers, and isolation
//! drops traffic from one of Berth's bridges to another.

use serde_json::{json, Value};

use super::expr::{
    accept, addr, chain, ct_dnat, ct_established, drop, eq, field, iif, jump, ne, oif, prefix,
};
use crate::firewall::{Family, FirewallState, NetworkRules, PortRule};

/// Chains of Berth's table, rewritten whole at each change.
pub const CHAINS: [&str; 7] = [
    "prerouting",
    "output",
    "postrouting",
    "forward",
    "DOCKER",
    "DOCKER-ISOLATION-STAGE-1",
    "DOCKER-ISOLATION-STAGE-2",
];

/// The chain users may add to: created, never flushed.
pub const USER_CHAIN: &str = "DOCKER-USER";

/// One family's table, as a renderer of commands.
pub struct Table<'a> {
    pub family: Family,
    pub name: &'a str,
}

impl Table<'_> {
    fn chain_def(&self, name: &str) -> Value {
        let base = |kind: &str, hook: &str, prio: i32| {
            json!({"family": self.family.nft(), "table": self.name, "name": name,
                   "type": kind, "hook": hook, "prio": prio, "policy": "accept"})
        };
        match name {
            "prerouting" => base("nat", "prerouting", -100),
            "output" => base("nat", "output", -100),
            "postrouting" => base("nat", "postrouting", 100),
            "forward" => base("filter", "forward", 0),
            _ => chain(self.family, self.name, name),
        }
    }

    fn rule(&self, chain: &str, expr: Vec<Value>) -> Value {
        super::expr::rule("add", self.family, self.name, chain, expr)
    }

    /// Commands that make the table exactly what `state` needs.
    pub fn render(&self, state: &FirewallState, out: &mut Vec<Value>) {
        let family = self.family;
        out.push(json!({"add": {"table": {"family": family.nft(), "name": self.name}}}));
        for name in CHAINS {
            out.push(json!({"add": {"chain": self.chain_def(name)}}));
            out.push(json!({"flush": {"chain": chain(family, self.name, name)}}));
        }
        out.push(json!({"add": {"chain": self.chain_def(USER_CHAIN)}}));
        let local = eq(
            json!({"fib": {"result": "type", "flags": ["daddr"]}}),
            json!("local"),
        );
        out.push(self.rule("prerouting", vec![local.clone(), jump("DOCKER")]));
        out.push(self.rule("output", vec![local, jump("DOCKER")]));
        out.push(self.rule("forward", vec![jump(USER_CHAIN)]));
        out.push(self.rule("forward", vec![jump("DOCKER-ISOLATION-STAGE-1")]));
        // Published ports are reachable from containers of other networks too
        // (through the host's addresses, as through docker-proxy): DNATed
        // connections skip the isolation between bridges.
        out.push(self.rule(
            "DOCKER-ISOLATION-STAGE-1",
            vec![ct_dnat(), json!({"return": null})],
        ));
        let networks: Vec<&NetworkRules> = state.networks_in(family).collect();
        for n in &networks {
            self.network_rules(n, networks.len() > 1, out);
        }
        for p in state.ports_in(family) {
            self.port_rules(p, out);
        }
    }

    /// Removes the table (when no network of its family is left).
    pub fn render_absent(&self, out: &mut Vec<Value>) {
        let t = json!({"family": self.family.nft(), "name": self.name});
        // "add" first so that deleting a table that is not there is not an error.
        out.push(json!({"add": {"table": t}}));
        out.push(json!({"delete": {"table": t}}));
    }

    fn network_rules(&self, n: &NetworkRules, isolate: bool, out: &mut Vec<Value>) {
        let family = self.family;
        let Some(subnet) = n.subnet_in(family) else {
            return;
        };
        let br = json!(n.bridge);
        if !n.internal && n.options.masquerade {
            out.push(self.rule(
                "postrouting",
                vec![
                    eq(addr(family, "saddr"), prefix(&subnet)),
                    ne(oif(), br.clone()),
                    json!({"masquerade": null}),
                ],
            ));
        }
        if family == Family::V4 {
            // Published on 127.0.0.1 (route_localnet): replies must come back to the host.
            out.push(self.rule(
                "postrouting",
                vec![
                    eq(oif(), br.clone()),
                    eq(
                        addr(family, "saddr"),
                        json!({"prefix": {"addr": "127.0.0.0", "len": 8}}),
                    ),
                    json!({"masquerade": null}),
                ],
            ));
        }
        let forward = |expr: Vec<Value>| self.rule("forward", expr);
        if n.internal {
            out.push(forward(vec![
                eq(iif(), br.clone()),
                ne(oif(), br.clone()),
                drop(),
            ]));
            out.push(forward(vec![
                eq(oif(), br.clone()),
                ne(iif(), br.clone()),
                drop(),
            ]));
        }
        if !n.options.icc {
            // Bridged frames pass the forward hook through br_netfilter (netd turns
            // bridge-nf-call-iptables on for such networks), with the bridge as both ends.
            out.push(forward(vec![
                eq(iif(), br.clone()),
                eq(oif(), br.clone()),
                drop(),
            ]));
        }
        out.push(forward(vec![
            eq(oif(), br.clone()),
            ct_established(),
            accept(),
        ]));
        out.push(forward(vec![eq(oif(), br.clone()), ct_dnat(), accept()]));
        out.push(forward(vec![eq(iif(), br.clone()), accept()]));
        out.push(forward(vec![eq(oif(), br.clone()), drop()]));
        if isolate {
            out.push(self.rule(
                "DOCKER-ISOLATION-STAGE-1",
                vec![
                    eq(iif(), br.clone()),
                    ne(oif(), br.clone()),
                    jump("DOCKER-ISOLATION-STAGE-2"),
                ],
            ));
            out.push(self.rule("DOCKER-ISOLATION-STAGE-2", vec![eq(oif(), br), drop()]));
        }
    }

    fn port_rules(&self, p: &PortRule, out: &mut Vec<Value>) {
        let family = self.family;
        let proto = p.protocol.as_str();
        let mut dnat = Vec::new();
        if let Some(ip) = p.host_ip {
            dnat.push(eq(addr(family, "daddr"), json!(ip.to_string())));
        }
        dnat.push(eq(field(proto, "dport"), json!(p.host_port)));
        dnat.push(json!({"dnat": {"addr": p.container_ip.to_string(), "port": p.container_port}}));
        out.push(self.rule("DOCKER", dnat));
        // Hairpin: a container reaching its own published port.
        out.push(self.rule(
            "postrouting",
            vec![
                eq(addr(family, "saddr"), json!(p.container_ip.to_string())),
                eq(addr(family, "daddr"), json!(p.container_ip.to_string())),
                eq(field(proto, "dport"), json!(p.container_port)),
                json!({"masquerade": null}),
            ],
        ));
    }
}
