//! Published ports: `-p`/PortBindings and `-P` over ExposedPorts into netd's port
//! specs, and back into what inspect (`NetworkSettings.Ports`) and `docker ps` show.
use std::collections::BTreeMap;
use std::net::IpAddr;

use netd::firewall::{PortSpec, Protocol};
use netd::state::PublishedPort;
use serde_json::{json, Value};

use super::{NetworkError, Result};
use crate::containers::record::Container;

/// "80/tcp" → (80, tcp).
fn parse_key(key: &str) -> Result<(u16, Protocol)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let protocol = match proto {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        other => return Err(NetworkError::Invalid(format!("invalid proto: {other}"))),
    };
    let port =
        port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
            NetworkError::Invalid(format!("invalid port specification: \"{key}\""))
        })?;
    Ok((port, protocol))
}

fn parse_host_ports(s: &str) -> Result<Option<(u16, u16)>> {
    let s = s.trim();
    if s.is_empty() || s == "0" {
        return Ok(None);
    }
    let bad = || NetworkError::Invalid(format!("invalid port specification: \"{s}\""));
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok(Some((a, b)))
}

/// What a container publishes: its PortBindings, and with `-P` every exposed port
/// without a binding on an ephemeral host port.
pub fn specs_of(c: &Container) -> Result<Vec<PortSpec>> {
    specs_from(
        &c.host_config.port_bindings.clone().unwrap_or_default(),
        c.host_config.publish_all_ports.unwrap_or(false),
        c.config.exposed_ports.as_deref().unwrap_or(&[]),
    )
}

/// [`specs_of`] from the parts of a container it reads.
pub fn specs_from(
    bindings: &bollard_stubs::models::PortMap,
    publish_all: bool,
    exposed: &[String],
) -> Result<Vec<PortSpec>> {
    let mut specs = Vec::new();
    let mut keys: Vec<&String> = bindings.keys().collect();
    keys.sort();
    for key in keys {
        let (container_port, protocol) = parse_key(key)?;
        let list = bindings.get(key).cloned().flatten().unwrap_or_default();
        let list = if list.is_empty() {
            vec![Default::default()]
        } else {
            list
        };
        for b in list {
            // "": every address of both families (`::` only for a container with IPv6);
            // "0.0.0.0", "::" or an address: that family only.
            let host_ip = match b.host_ip.as_deref().unwrap_or("").trim() {
                "" => None,
                ip => Some(
                    ip.trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<IpAddr>()
                        .map_err(|_| NetworkError::Invalid(format!("invalid IP address: {ip}")))?,
                ),
            };
            specs.push(PortSpec {
                host_ip,
                host_ports: parse_host_ports(b.host_port.as_deref().unwrap_or(""))?,
                container_port,
                protocol,
            });
        }
    }
    if publish_all {
        for key in exposed {
            if bindings.contains_key(key) {
                continue;
            }
            let (container_port, protocol) = parse_key(key)?;
            specs.push(PortSpec {
                host_ip: None,
                host_ports: None,
                container_port,
                protocol,
            });
        }
    }
    Ok(specs)
}

fn key_of(port: u16, protocol: Protocol) -> String {
    format!("{port}/{}", protocol.as_str())
}

fn host_ip(p: &PublishedPort) -> String {
    p.host_ip
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "0.0.0.0".into())
}

/// `NetworkSettings.Ports` of a running container: every exposed or published port,
/// `null` when not published.
pub fn inspect_ports(c: &Container, published: &[PublishedPort]) -> Value {
    let mut map: BTreeMap<String, Value> = BTreeMap::new();
    for key in c.config.exposed_ports.iter().flatten() {
        map.insert(key.clone(), Value::Null);
    }
    for p in published {
        let entry = map
            .entry(key_of(p.container_port, p.protocol))
            .or_insert_with(|| json!([]));
        if entry.is_null() {
            *entry = json!([]);
        }
        if let Some(list) = entry.as_array_mut() {
            list.push(json!({"HostIp": host_ip(p), "HostPort": p.host_port.to_string()}));
        }
    }
    json!(map)
}

/// `Ports` of `docker ps`: published ports with their host side, exposed ones without.
pub fn list_ports(c: &Container, published: &[PublishedPort]) -> Value {
    let mut out = Vec::new();
    for p in published {
        out.push(json!({
            "IP": host_ip(p),
            "PrivatePort": p.container_port,
            "PublicPort": p.host_port,
            "Type": p.protocol.as_str(),
        }));
    }
    for key in c.config.exposed_ports.iter().flatten() {
        let Ok((port, protocol)) = parse_key(key) else {
            continue;
        };
        if published
            .iter()
            .any(|p| p.container_port == port && p.protocol == protocol)
        {
            continue;
        }
        out.push(json!({"PrivatePort": port, "Type": protocol.as_str()}));
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard_stubs::models::{PortBinding, PortMap};

    fn binding(ip: &str, port: &str) -> PortBinding {
        PortBinding {
            host_ip: Some(ip.into()),
            host_port: Some(port.into()),
        }
    }

    #[test]
    fn bindings_and_publish_all() {
        let mut map = PortMap::new();
        map.insert(
            "80/tcp".into(),
            Some(vec![binding("127.0.0.1", "8080"), binding("::", "8080")]),
        );
        map.insert("53/udp".into(), Some(vec![binding("", "")]));
        let exposed = vec!["80/tcp".to_string(), "443/tcp".to_string()];
        let specs = specs_from(&map, true, &exposed).expect("specs");
        assert_eq!(specs.len(), 4, "{specs:?}");
        assert_eq!(specs[0].protocol, Protocol::Udp);
        assert_eq!(specs[0].host_ports, None);
        assert_eq!(specs[0].host_ip, None, "both families");
        assert_eq!(specs[1].host_ip, Some(IpAddr::from([127, 0, 0, 1])));
        assert_eq!(specs[1].host_ports, Some((8080, 8080)));
        assert_eq!(specs[2].host_ip, "::".parse().ok(), "IPv6 only");
        assert_eq!(specs[3].container_port, 443);
        assert_eq!(specs[3].host_ports, None);
        let none = specs_from(&PortMap::new(), false, &exposed).expect("specs");
        assert!(none.is_empty());
    }

    #[test]
    fn bad_specs_are_refused() {
        let mut map = PortMap::new();
        map.insert("80/sctpx".into(), None);
        assert!(specs_from(&map, false, &[]).is_err());
        let mut map = PortMap::new();
        map.insert("80/tcp".into(), Some(vec![binding("", "9-1")]));
        assert!(specs_from(&map, false, &[]).is_err());
        assert_eq!(
            parse_host_ports("8000-8010").expect("range"),
            Some((8000, 8010))
        );
    }
}
