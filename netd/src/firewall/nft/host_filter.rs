//! The accepts of [`crate::firewall::host_filter`] written with `nft -j` into the
//! `filter` table iptables-nft keeps (`ip filter` / `ip6 filter`, base chain `FORWARD`),
//! when the host has one. Only interface matches, jumps and verdicts are used, which
//! iptables-nft translates back (`iptables -S` keeps working on the table).

use serde_json::{json, Value};

use super::expr::{accept, chain, eq, iif, jump, oif, rule};
use super::run;
use crate::error::Result;
use crate::firewall::host_filter::{bridges, HostFilterChains};
use crate::firewall::{Family, FirewallState};

const TABLE: &str = "filter";
const FORWARD: &str = "FORWARD";

/// What the host's filter table of one family holds that matters to Berth.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// iptables-nft's `FORWARD` base chain is there.
    pub forward: bool,
    pub user_chain: bool,
    /// Rules in the users' chain (nft deletes a chain with its rules: it goes only when empty).
    pub user_rules: usize,
    pub berth_chain: bool,
    /// Handles of the rules of `FORWARD` that jump to Berth's chain.
    pub jumps: Vec<u64>,
}

/// Reads `nft -j list table <family> filter` (a missing table reads as nothing).
pub fn seen(family: Family, chains: &HostFilterChains) -> Seen {
    let args = ["list", "table", family.nft(), TABLE];
    match nftables::helper::get_current_ruleset_raw(nftables::helper::DEFAULT_NFT, args) {
        Ok(text) => parse(&text, chains),
        Err(e) => {
            tracing::trace!(family = family.nft(), "no host filter table: {e}");
            Seen::default()
        }
    }
}

/// [`seen`] from the listing's text.
pub fn parse(listing: &str, chains: &HostFilterChains) -> Seen {
    let mut seen = Seen::default();
    let Ok(doc) = serde_json::from_str::<Value>(listing) else {
        return seen;
    };
    let items = doc["nftables"].as_array().cloned().unwrap_or_default();
    for item in &items {
        if let Some(c) = item.get("chain") {
            match c["name"].as_str() {
                Some(FORWARD) if c["hook"] == "forward" => seen.forward = true,
                Some(n) if n == chains.user => seen.user_chain = true,
                Some(n) if n == chains.forward => seen.berth_chain = true,
                _ => {}
            }
        }
        if let Some(r) = item.get("rule") {
            let to_berth = r["expr"].as_array().is_some_and(|e| {
                e.iter()
                    .any(|x| x["jump"]["target"].as_str() == Some(&chains.forward))
            });
            if r["chain"] == chains.user.as_str() {
                seen.user_rules += 1;
            }
            if r["chain"] == FORWARD && to_berth {
                if let Some(h) = r["handle"].as_u64() {
                    seen.jumps.push(h);
                }
            }
        }
    }
    seen
}

/// The batch that makes Berth's part of the table what `bridges` need (`None`: nothing
/// to do, the host has no iptables-nft `FORWARD` chain in this family).
pub fn render(
    family: Family,
    chains: &HostFilterChains,
    seen: &Seen,
    bridges: &[&str],
) -> Option<Vec<Value>> {
    if !seen.forward {
        return None;
    }
    let mut cmds = Vec::new();
    let fwd = chain(family, TABLE, &chains.forward);
    if bridges.is_empty() {
        for handle in &seen.jumps {
            cmds.push(
                json!({"delete": {"rule": {"family": family.nft(), "table": TABLE,
                                                  "chain": FORWARD, "handle": handle,
                                                  "expr": []}}}),
            );
        }
        if seen.berth_chain {
            cmds.push(json!({"flush": {"chain": fwd.clone()}}));
            cmds.push(json!({"delete": {"chain": fwd}}));
        }
        return Some(cmds);
    }
    if !seen.user_chain {
        cmds.push(json!({"add": {"chain": chain(family, TABLE, &chains.user)}}));
    }
    cmds.push(json!({"add": {"chain": fwd.clone()}}));
    cmds.push(json!({"flush": {"chain": fwd}}));
    let add = |expr| rule("add", family, TABLE, &chains.forward, expr);
    cmds.push(add(vec![jump(&chains.user)]));
    for br in bridges {
        cmds.push(add(vec![eq(iif(), json!(br)), accept()]));
        cmds.push(add(vec![eq(oif(), json!(br)), accept()]));
    }
    if seen.jumps.is_empty() {
        cmds.push(rule(
            "insert",
            family,
            TABLE,
            FORWARD,
            vec![jump(&chains.forward)],
        ));
    }
    Some(cmds)
}

/// Applies Berth's accepts for `state` in every family whose table exists.
pub fn apply(chains: &HostFilterChains, state: &FirewallState) -> Result<()> {
    for family in Family::ALL {
        let seen = seen(family, chains);
        if let Some(cmds) = render(family, chains, &seen, &bridges(state, family)) {
            if !cmds.is_empty() {
                run(json!({"nftables": cmds}))?;
            }
        }
        let ours_went = seen.berth_chain || !seen.jumps.is_empty();
        let unused_user_chain = seen.user_chain && seen.user_rules == 0;
        if seen.forward && bridges(state, family).is_empty() && ours_went && unused_user_chain {
            remove_user_chain(family, chains);
        }
    }
    Ok(())
}

/// Removes Berth's accepts from the host's filter tables.
pub fn clear(chains: &HostFilterChains) -> Result<()> {
    apply(chains, &FirewallState::default())
}

/// The users' chain, empty, goes with Berth's; while something else still jumps to it
/// nft refuses, and that refusal is expected.
fn remove_user_chain(family: Family, chains: &HostFilterChains) {
    let cmd = json!({"nftables": [{"delete": {"chain": chain(family, TABLE, &chains.user)}}]});
    if let Err(e) = run(cmd) {
        tracing::debug!(chain = %chains.user, "kept: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
      {"table": {"family": "ip", "name": "filter", "handle": 1}},
      {"chain": {"family": "ip", "table": "filter", "name": "FORWARD", "handle": 1,
                 "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
      {"chain": {"family": "ip", "table": "filter", "name": "DOCKER-USER", "handle": 3}},
      {"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "handle": 7,
                "expr": [{"jump": {"target": "BERTH-FORWARD"}}]}},
      {"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "handle": 8,
                "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"jump": {"target": "DOCKER-USER"}}]}}]}"#;

    #[test]
    fn reads_the_table_and_writes_only_what_is_missing() {
        let chains = HostFilterChains::default();
        let seen = parse(LISTING, &chains);
        assert_eq!(
            seen,
            Seen {
                forward: true,
                user_chain: true,
                user_rules: 0,
                berth_chain: false,
                jumps: vec![7],
            }
        );
        let cmds = render(Family::V4, &chains, &seen, &["br-a"]).expect("a batch");
        let text = serde_json::to_string(&cmds).unwrap();
        assert!(!text.contains(r#""insert""#), "the jump is there: {text}");
        assert!(!text.contains(r#"{"add":{"chain":{"family":"ip","name":"DOCKER-USER""#));
        assert_eq!(text.matches(r#""accept":null"#).count(), 2, "{text}");
        let _: nftables::schema::Nftables =
            serde_json::from_value(json!({ "nftables": cmds })).expect("valid document");
        // No bridge left: the jump and the chain go.
        let gone = render(Family::V4, &chains, &seen, &[]).expect("a batch");
        assert!(serde_json::to_string(&gone)
            .unwrap()
            .contains(r#""handle":7"#));
        let _: nftables::schema::Nftables =
            serde_json::from_value(json!({ "nftables": gone })).expect("valid document");
        // No iptables-nft FORWARD chain: nothing to do.
        assert_eq!(
            render(Family::V4, &chains, &Seen::default(), &["br-a"]),
            None
        );
    }
}
