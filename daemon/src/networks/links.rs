//! Legacy container links (`--link name:alias`, HostConfig.Links), as dockerd keeps them.
//!
//! - On the default bridge they are checked at create (the linked container must exist:
//!   dockerd's 400 "could not get container for …") and kept as `/child:/parent/alias`,
//!   which inspect shows. At start every linked container must run; the linking
//!   container gets moby's `links.EnvVars` (`ALIAS_NAME`, `ALIAS_PORT_*`, `ALIAS_ENV_*`) in
//!   its environment and `IP\talias hostname name` lines in its /etc/hosts.
//! - On a user-defined network they move to the endpoint's `Links` (HostConfig.Links stays
//!   empty, as dockerd 20.10 shows it): the alias is a name on the embedded DNS that only
//!   the linking container resolves.
//! - `DELETE /containers/{parent}/{alias}?link=1` removes one (dockerd's `rmLink`).
use super::endpoints::{ContainerNetwork, Mode};
use super::{NetworkError, Result};
use crate::containers::record::Container;
use crate::state::Daemon;

/// One `name[:alias]` as the client gave it (moby's `opts.ParseLink`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSpec {
    /// The linked container, by name or id, without a leading `/`.
    pub target: String,
    pub alias: String,
}

pub fn parse(spec: &str) -> Result<LinkSpec> {
    let bad = || NetworkError::Invalid(format!("invalid link format: {spec}"));
    let (target, alias) = match spec.split_once(':') {
        Some((t, a)) => (t, a),
        None => (spec, spec),
    };
    let target = target.trim_start_matches('/');
    let alias = alias.trim_start_matches('/');
    if target.is_empty() || alias.is_empty() || alias.contains(':') {
        return Err(bad());
    }
    Ok(LinkSpec {
        target: target.to_string(),
        alias: alias.to_string(),
    })
}

/// At create: links on the default bridge are checked and kept as `/child:/parent/alias`;
/// on a user-defined network they are taken out of HostConfig and returned, for the
/// first network's endpoint.
pub fn at_create(
    daemon: &Daemon,
    parent_name: &str,
    host_config: &mut bollard_stubs::models::HostConfig,
) -> Result<Vec<String>> {
    let Some(given) = host_config.links.take().filter(|l| !l.is_empty()) else {
        return Ok(Vec::new());
    };
    let mode = Mode::parse(host_config.network_mode.as_deref().unwrap_or("default"));
    match &mode {
        Mode::Host => {
            return Err(NetworkError::Invalid(
                "conflicting options: host type networking can't be used with links. This would result in undefined behavior".into(),
            ))
        }
        Mode::Network(n) if n != "bridge" && !n.is_empty() => {
            let user_defined = daemon
                .networks
                .find(n)
                .map(|net| net.name != "bridge")
                .unwrap_or(true);
            if user_defined {
                for spec in &given {
                    parse(spec)?;
                }
                return Ok(given);
            }
        }
        _ => {}
    }
    let parent = parent_name.trim_start_matches('/');
    let mut kept = Vec::new();
    for spec in &given {
        let link = parse(spec)?;
        let child = daemon.containers.lookup(&link.target).map_err(|_| {
            NetworkError::Invalid(format!(
                "could not get container for {t}: No such container: {t}",
                t = link.target
            ))
        })?;
        kept.push(format!("{}:/{parent}/{}", child.name, link.alias));
    }
    host_config.links = Some(kept);
    Ok(Vec::new())
}

/// The default-bridge links of a container: (child name `/web`, link name `/client/alias`).
pub fn legacy_links(c: &Container) -> Vec<(String, String)> {
    c.host_config
        .links
        .iter()
        .flatten()
        .filter_map(|l| l.split_once(':'))
        .map(|(child, name)| (child.to_string(), name.to_string()))
        .collect()
}

/// What the links give a container at start: its environment and /etc/hosts lines.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LinkedSetup {
    pub env: Vec<String>,
    pub hosts: Vec<String>,
}

/// At start, for the default bridge: every linked container must run (dockerd's error
/// otherwise), and gives its variables and hosts line.
pub fn at_start(daemon: &Daemon, c: &Container) -> Result<LinkedSetup> {
    let mut out = LinkedSetup::default();
    let links = legacy_links(c);
    if links.is_empty() {
        return Ok(out);
    }
    let bridge = daemon.networks.find("bridge")?;
    for (child_name, link_name) in links {
        let child = daemon
            .containers
            .lookup(&child_name)
            .ok()
            .filter(|child| child.state.status.is_running())
            .ok_or_else(|| {
                NetworkError::Internal(format!(
                    "Cannot link to a non running container: {child_name} AS {link_name}"
                ))
            })?;
        let Some(ep) = bridge.endpoints.get(&child.id) else {
            return Err(NetworkError::Internal(format!(
                "container {} not attached to default bridge network",
                child.id
            )));
        };
        out.env.extend(env_vars(
            &ep.ip,
            &link_name,
            child.config.env.as_deref().unwrap_or(&[]),
            child.config.exposed_ports.as_deref().unwrap_or(&[]),
        ));
        let alias = link_name.rsplit('/').next().unwrap_or(&link_name);
        let mut names = format!(
            "{alias} {}",
            child.config.hostname.clone().unwrap_or_default()
        );
        if alias != child.bare_name() {
            names = format!("{names} {}", child.bare_name());
        }
        out.hosts.push(format!("{}\t{}", ep.ip, names.trim()));
    }
    Ok(out)
}

/// moby's `links.EnvVars`: `ALIAS_PORT`, per port `ALIAS_PORT_<n>_<PROTO>[_ADDR|_PORT|_PROTO]`,
/// ranges of consecutive ports with `_START`/`_END`, `ALIAS_NAME`, then `ALIAS_ENV_*` for the
/// linked container's variables but HOME and PATH.
pub fn env_vars(
    ip: &str,
    link_name: &str,
    child_env: &[String],
    exposed: &[String],
) -> Vec<String> {
    let last = link_name.rsplit('/').next().unwrap_or(link_name);
    let alias = last.to_ascii_uppercase().replace('-', "_");
    let mut ports: Vec<(u16, String)> = exposed
        .iter()
        .filter_map(|p| {
            let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
            Some((port.parse().ok()?, proto.to_ascii_lowercase()))
        })
        .collect();
    // TCP first, then by port (moby's withTCPPriority).
    ports.sort_by(|a, b| (a.1 != "tcp", &a.1, a.0).cmp(&(b.1 != "tcp", &b.1, b.0)));
    let mut env = Vec::new();
    let mut range: Option<PortRange> = None;
    for (i, (port, proto)) in ports.iter().enumerate() {
        if i == 0 {
            env.push(format!("{alias}_PORT={proto}://{ip}:{port}"));
            range = Some(((*port, proto), (*port, proto)));
        }
        let prefix = format!("{alias}_PORT_{port}_{}", proto.to_ascii_uppercase());
        env.push(format!("{prefix}={proto}://{ip}:{port}"));
        env.push(format!("{prefix}_ADDR={ip}"));
        env.push(format!("{prefix}_PORT={port}"));
        env.push(format!("{prefix}_PROTO={proto}"));
        let Some(((start, start_proto), (end, _))) = range else {
            continue;
        };
        if u32::from(*port) == u32::from(end) + 1 && proto.eq_ignore_ascii_case(start_proto) {
            range = Some(((start, start_proto), (*port, proto)));
            if i < ports.len() - 1 {
                continue;
            }
        }
        if let Some(((start, start_proto), (end, end_proto))) = range {
            if start != end {
                let prefix = format!("{alias}_PORT_{start}_{}", start_proto.to_ascii_uppercase());
                env.push(format!("{prefix}_START={start_proto}://{ip}:{start}"));
                env.push(format!("{prefix}_PORT_START={start}"));
                env.push(format!("{prefix}_END={end_proto}://{ip}:{end}"));
                env.push(format!("{prefix}_PORT_END={end}"));
            }
        }
        range = Some(((*port, proto), (*port, proto)));
    }
    env.push(format!("{alias}_NAME={link_name}"));
    for var in child_env {
        let Some((name, value)) = var.split_once('=') else {
            continue;
        };
        if name == "HOME" || name == "PATH" {
            continue;
        }
        env.push(format!("{alias}_ENV_{name}={value}"));
    }
    env
}

/// A run of consecutive ports: (first port, its protocol), (last port, its protocol).
type PortRange<'a> = ((u16, &'a str), (u16, &'a str));

/// The link variables of a started container (kept in its network state at start).
pub fn env_of(c: &Container) -> Vec<String> {
    ContainerNetwork::load(&c.dir).link_env
}

/// The links of a user-defined network's endpoint as netd takes them: (alias, the linked
/// container's id). A link to a container that does not exist is left out, as dockerd.
pub fn endpoint_links(daemon: &Daemon, links: &[String]) -> Vec<(String, String)> {
    links
        .iter()
        .filter_map(|spec| parse(spec).ok())
        .filter_map(|l| {
            let child = daemon.containers.lookup(&l.target).ok()?;
            Some((l.alias, child.id))
        })
        .collect()
}

/// `DELETE /containers/{parent}/{alias}?link=1`: removes the link `/parent/alias`; the
/// removed link's name.
pub fn remove(daemon: &Daemon, name: &str) -> Result<String> {
    let full = format!("/{}", name.trim_start_matches('/'));
    let (parent, _) = full.rsplit_once('/').unwrap_or(("", &full));
    if parent.is_empty() {
        return Err(NetworkError::Conflict(
            "Conflict, cannot remove the default link name of the container".into(),
        ));
    }
    let no_such = || NetworkError::Missing(format!("No such container: {name}"));
    let parent = daemon.containers.lookup(parent).map_err(|_| no_such())?;
    if !legacy_links(&parent).iter().any(|(_, l)| *l == full) {
        return Err(no_such());
    }
    daemon
        .containers
        .update(&parent.id, |r| {
            if let Some(links) = r.host_config.links.as_mut() {
                links.retain(|l| l.split_once(':').map(|(_, n)| n) != Some(full.as_str()));
            }
            if r.host_config.links.as_ref().is_some_and(Vec::is_empty) {
                r.host_config.links = None;
            }
            Ok(())
        })
        .map_err(|e| NetworkError::Internal(e.to_string()))?;
    Ok(full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn as_map(env: &[String]) -> BTreeMap<&str, &str> {
        env.iter().filter_map(|v| v.split_once('=')).collect()
    }

    #[test]
    fn parses_like_moby() {
        assert_eq!(
            parse("web:db").unwrap(),
            LinkSpec {
                target: "web".into(),
                alias: "db".into()
            }
        );
        assert_eq!(parse("/web").unwrap().alias, "web");
        assert!(parse(":x").is_err());
        assert!(parse("a:b:c").is_err());
    }

    /// dockerd 20.10's variables for `--link web:webalias` to a container exposing
    /// 80-82/tcp with FOO=bar (checked against a real dockerd).
    #[test]
    fn variables_as_dockerd() {
        let exposed: Vec<String> = ["82/tcp", "80/tcp", "81/tcp"].map(String::from).to_vec();
        let env = env_vars(
            "10.250.14.2",
            "/client/webalias",
            &["PATH=/bin".into(), "FOO=bar".into()],
            &exposed,
        );
        let mut sorted = env.clone();
        sorted.sort();
        let want = [
            "WEBALIAS_ENV_FOO=bar",
            "WEBALIAS_NAME=/client/webalias",
            "WEBALIAS_PORT=tcp://10.250.14.2:80",
            "WEBALIAS_PORT_80_TCP=tcp://10.250.14.2:80",
            "WEBALIAS_PORT_80_TCP_ADDR=10.250.14.2",
            "WEBALIAS_PORT_80_TCP_END=tcp://10.250.14.2:82",
            "WEBALIAS_PORT_80_TCP_PORT=80",
            "WEBALIAS_PORT_80_TCP_PORT_END=82",
            "WEBALIAS_PORT_80_TCP_PORT_START=80",
            "WEBALIAS_PORT_80_TCP_PROTO=tcp",
            "WEBALIAS_PORT_80_TCP_START=tcp://10.250.14.2:80",
            "WEBALIAS_PORT_81_TCP=tcp://10.250.14.2:81",
            "WEBALIAS_PORT_81_TCP_ADDR=10.250.14.2",
            "WEBALIAS_PORT_81_TCP_PORT=81",
            "WEBALIAS_PORT_81_TCP_PROTO=tcp",
            "WEBALIAS_PORT_82_TCP=tcp://10.250.14.2:82",
            "WEBALIAS_PORT_82_TCP_ADDR=10.250.14.2",
            "WEBALIAS_PORT_82_TCP_PORT=82",
            "WEBALIAS_PORT_82_TCP_PROTO=tcp",
        ];
        assert_eq!(sorted, want);
        assert_eq!(as_map(&env)["WEBALIAS_NAME"], "/client/webalias");
        // A dash becomes an underscore; no port: just the name.
        let env = env_vars("10.0.0.2", "/c/my-db", &[], &[]);
        assert_eq!(env, ["MY_DB_NAME=/c/my-db"]);
    }
}
