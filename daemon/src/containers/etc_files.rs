//! The files berthd writes for a container and bind-mounts into it: `/etc/hostname`,
//! `/etc/hosts`, `/etc/resolv.conf`.
use std::path::Path;

use super::record::Container;
use super::{ContainerError, Result};

fn write(path: &Path, text: &str) -> Result<()> {
    crate::store::atomic::write_in_place_if_changed(path, text.as_bytes())
        .map_err(|e| ContainerError::io(format!("writing {}", path.display()), e))
}

/// The address of an `--add-host NAME:host-gateway`: the daemon's host-gateway IPs.
pub const HOST_GATEWAY: &str = "host-gateway";

/// Writes hostname, hosts and resolv.conf in the container's folder. `host_gateway` is
/// what an `--add-host NAME:host-gateway` stands for (`Networks::host_gateway_ips`):
/// one line per address.
pub fn write_etc_files(c: &Container, host_gateway: &[String]) -> Result<()> {
    let hostname = c.config.hostname.clone().unwrap_or_default();
    write(&c.hostname_path(), &format!("{hostname}\n"))?;
    let mut hosts = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    let mode = c.host_config.network_mode.as_deref().unwrap_or("default");
    if mode == "host" {
        hosts = std::fs::read_to_string("/etc/hosts").unwrap_or(hosts);
    } else if mode != "none" && !hostname.is_empty() {
        // No container address until networking exists: the name resolves to loopback.
        let names = own_names(&hostname, c.config.domainname.as_deref());
        hosts.push_str(&format!("127.0.0.1\t{names}\n"));
    }
    for extra in c.host_config.extra_hosts.iter().flatten() {
        let Some((name, addr)) = extra.split_once(':') else {
            continue;
        };
        if addr != HOST_GATEWAY {
            hosts.push_str(&format!("{addr}\t{name}\n"));
            continue;
        }
        if host_gateway.is_empty() {
            return Err(ContainerError::Invalid(
                "unable to derive the IP value for host-gateway".into(),
            ));
        }
        for addr in host_gateway {
            hosts.push_str(&format!("{addr}\t{name}\n"));
        }
    }
    write(&c.hosts_path(), &hosts)?;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    write(
        &c.resolv_conf_path(),
        &resolv_conf(&host_resolv, &c.host_config),
    )
}

/// The container's own names in /etc/hosts, as libnetwork's `updateHostsFile`: the FQDN
/// (hostname, with the domain name when there is one), then the bare host name when the
/// FQDN has a dot; separated by a space.
pub fn own_names(hostname: &str, domainname: Option<&str>) -> String {
    let fqdn = match domainname.filter(|d| !d.is_empty()) {
        Some(domain) => format!("{hostname}.{domain}"),
        None => hostname.to_string(),
    };
    match fqdn.split_once('.') {
        Some((bare, _)) => format!("{fqdn} {bare}"),
        None => fqdn,
    }
}

/// resolv.conf for a container: the host's without loopback resolvers, or the
/// Dns/DnsSearch/DnsOptions given; 8.8.8.8 and 8.8.4.4 when no resolver is left.
pub fn resolv_conf(host: &str, hc: &bollard_stubs::models::HostConfig) -> String {
    let dns = hc.dns.clone().unwrap_or_default();
    let search = hc.dns_search.clone().unwrap_or_default();
    let options = hc.dns_options.clone().unwrap_or_default();
    let mut nameservers: Vec<String> = if dns.is_empty() {
        host.lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .map(|s| s.trim().to_string())
            .filter(|a| !(a.starts_with("127.") || a == "::1" || a.is_empty()))
            .collect()
    } else {
        dns
    };
    if nameservers.is_empty() {
        nameservers = vec!["8.8.8.8".into(), "8.8.4.4".into()];
    }
    let host_search: Vec<String> = host
        .lines()
        .filter_map(|l| l.trim().strip_prefix("search "))
        .flat_map(|s| s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect();
    let host_options: Vec<String> = host
        .lines()
        .filter_map(|l| l.trim().strip_prefix("options "))
        .flat_map(|s| s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect();
    let search = if search.is_empty() {
        host_search
    } else {
        search
    };
    let options = if options.is_empty() {
        host_options
    } else {
        options
    };
    let mut out = String::new();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for ns in nameservers {
        out.push_str(&format!("nameserver {ns}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard_stubs::models::HostConfig;

    #[test]
    fn loopback_resolvers_are_dropped_and_google_is_the_fallback() {
        let host = "nameserver 127.0.0.53\noptions edns0\nsearch lan\n";
        let out = resolv_conf(host, &HostConfig::default());
        assert_eq!(
            out,
            "search lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\noptions edns0\n"
        );
    }

    #[test]
    fn own_names_are_the_fqdn_then_the_bare_name() {
        assert_eq!(own_names("h2", Some("example.com")), "h2.example.com h2");
        assert_eq!(own_names("web.local", None), "web.local web");
        assert_eq!(
            own_names("web.local", Some("ex.com")),
            "web.local.ex.com web"
        );
        assert_eq!(own_names("plain", Some("")), "plain");
    }

    #[test]
    fn dns_options_win() {
        let hc = HostConfig {
            dns: Some(vec!["1.1.1.1".into()]),
            dns_search: Some(vec!["example.com".into()]),
            ..Default::default()
        };
        let out = resolv_conf("nameserver 10.0.0.1\n", &hc);
        assert_eq!(out, "search example.com\nnameserver 1.1.1.1\n");
    }
}
