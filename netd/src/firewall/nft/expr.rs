//! Small builders of `nft -j` expressions and commands (libnftables' JSON schema),
//! shared by Berth's own tables and the rules it keeps in the host's filter table.

use ipnet::IpNet;
use serde_json::{json, Value};

use crate::firewall::Family;

pub fn eq(left: Value, right: Value) -> Value {
    json!({"match": {"op": "==", "left": left, "right": right}})
}

pub fn ne(left: Value, right: Value) -> Value {
    json!({"match": {"op": "!=", "left": left, "right": right}})
}

pub fn meta(key: &str) -> Value {
    json!({"meta": {"key": key}})
}

pub fn iif() -> Value {
    meta("iifname")
}

pub fn oif() -> Value {
    meta("oifname")
}

pub fn field(protocol: &str, name: &str) -> Value {
    json!({"payload": {"protocol": protocol, "field": name}})
}

/// The source or destination address (`saddr`/`daddr`) of `family`.
pub fn addr(family: Family, which: &str) -> Value {
    field(family.nft(), which)
}

pub fn prefix(net: &IpNet) -> Value {
    json!({"prefix": {"addr": net.network().to_string(), "len": net.prefix_len()}})
}

pub fn jump(target: &str) -> Value {
    json!({"jump": {"target": target}})
}

pub fn accept() -> Value {
    json!({"accept": null})
}

pub fn drop() -> Value {
    json!({"drop": null})
}

/// `ct state established,related`.
pub fn ct_established() -> Value {
    json!({"match": {"op": "in", "left": {"ct": {"key": "state"}},
                     "right": ["established", "related"]}})
}

/// `ct status dnat`: a published port's connection.
pub fn ct_dnat() -> Value {
    json!({"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}})
}

/// `{"add": {"rule": …}}` (or `insert`, at the head of the chain).
pub fn rule(verb: &str, family: Family, table: &str, chain: &str, expr: Vec<Value>) -> Value {
    json!({verb: {"rule": {"family": family.nft(), "table": table, "chain": chain, "expr": expr}}})
}

/// A regular chain (no hook).
pub fn chain(family: Family, table: &str, name: &str) -> Value {
    json!({"family": family.nft(), "table": table, "name": name})
}
