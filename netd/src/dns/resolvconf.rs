//! resolv.conf: the upstream resolvers the embedded DNS forwards to, and the
//! file a container gets (dockerd's layout: search, nameserver, options).

use std::net::{IpAddr, SocketAddr};

/// Nameservers of a resolv.conf, loopback ones left out (they mean nothing
/// inside a container's namespace).
pub fn nameservers(text: &str) -> Vec<IpAddr> {
    all_nameservers(text)
        .into_iter()
        .filter(|ip| !ip.is_loopback())
        .collect()
}

/// Every nameserver of a resolv.conf, loopback ones included.
fn all_nameservers(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next()? == "nameserver").then(|| words.next())?
        })
        .filter_map(|s| s.split('%').next()?.parse::<IpAddr>().ok())
        .collect()
}

/// Where the embedded DNS forwards when the container has no `--dns`: the host's
/// nameservers on port 53, loopback ones included (the embedded DNS forwards from the
/// host's namespace, where they answer, as dockerd's does).
pub fn upstreams(text: &str) -> Vec<SocketAddr> {
    servers_on_53(&all_nameservers(text))
}

/// `--dns` servers (or the host's) as the embedded DNS's upstreams, on port 53.
pub fn servers_on_53(servers: &[IpAddr]) -> Vec<SocketAddr> {
    servers.iter().map(|ip| SocketAddr::new(*ip, 53)).collect()
}

/// A container's `--dns`, `--dns-search` and `--dns-option` (HostConfig.Dns,
/// DnsSearch, DnsOptions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsSettings {
    pub servers: Vec<IpAddr>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

fn field<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next()? == key).then(|| words.collect::<Vec<_>>())
        })
        .flatten()
        .collect()
}

fn render(search: &[&str], nameservers: &[String], options: &[String]) -> String {
    let mut out = String::new();
    if !search.is_empty() {
        out += &format!("search {}\n", search.join(" "));
    }
    for ns in nameservers {
        out += &format!("nameserver {ns}\n");
    }
    if !options.is_empty() {
        out += &format!("options {}\n", options.join(" "));
    }
    out
}

/// A container's resolv.conf on a user-defined network, as dockerd writes it: only
/// the embedded DNS as nameserver (the `--dns` servers, or the host's, are its
/// upstreams), `--dns-search` or else the host's search domains, `--dns-option` or else
/// the host's options, and `ndots:0` unless an ndots option is already there.
pub fn for_embedded_dns(host: &str, settings: &DnsSettings) -> String {
    let search: Vec<&str> = if settings.search.is_empty() {
        field(host, "search")
    } else {
        settings.search.iter().map(String::as_str).collect()
    };
    let mut options: Vec<String> = if settings.options.is_empty() {
        field(host, "options")
            .into_iter()
            .map(String::from)
            .collect()
    } else {
        settings.options.clone()
    };
    if !options.iter().any(|o| o.starts_with("ndots:")) {
        options.push("ndots:0".into());
    }
    render(&search, &["127.0.0.11".into()], &options)
}

/// A container's resolv.conf on the default bridge: the host's, minus
/// loopback nameservers; dockerd's fallback (Google's) when none is left.
pub fn for_default_bridge(host: &str) -> String {
    let mut servers: Vec<String> = nameservers(host).iter().map(|ip| ip.to_string()).collect();
    if servers.is_empty() {
        servers = vec!["8.8.8.8".into(), "8.8.4.4".into()];
    }
    let options: Vec<String> = field(host, "options")
        .into_iter()
        .map(String::from)
        .collect();
    render(&field(host, "search"), &servers, &options)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "# generated\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\nsearch example.org lab\noptions edns0 ndots:2\n";

    #[test]
    fn upstreams_keep_host_loopback_resolvers() {
        assert_eq!(
            upstreams(HOST),
            vec![
                "127.0.0.53:53".parse().unwrap(),
                "192.0.2.53:53".parse().unwrap(),
                "[fe80::1]:53".parse().unwrap()
            ]
        );
        assert_eq!(
            nameservers(HOST),
            vec![
                "192.0.2.53".parse::<IpAddr>().unwrap(),
                "fe80::1".parse().unwrap()
            ]
        );
    }

    #[test]
    fn dns_search_and_options_of_the_container_win() {
        let settings = DnsSettings {
            servers: vec!["127.0.0.9".parse().unwrap()],
            search: vec!["corp.test".into()],
            options: vec!["timeout:2".into()],
        };
        assert_eq!(
            for_embedded_dns(HOST, &settings),
            "search corp.test\nnameserver 127.0.0.11\noptions timeout:2 ndots:0\n"
        );
        let own_ndots = DnsSettings {
            options: vec!["ndots:3".into()],
            ..Default::default()
        };
        assert_eq!(
            for_embedded_dns("nameserver 10.0.0.1\n", &own_ndots),
            "nameserver 127.0.0.11\noptions ndots:3\n"
        );
    }

    #[test]
    fn container_files_like_dockerd() {
        assert_eq!(
            for_embedded_dns(HOST, &DnsSettings::default()),
            "search example.org lab\nnameserver 127.0.0.11\noptions edns0 ndots:2\n"
        );
        assert_eq!(
            for_embedded_dns("search lab\noptions edns0\n", &DnsSettings::default()),
            "search lab\nnameserver 127.0.0.11\noptions edns0 ndots:0\n"
        );
        assert_eq!(
            for_default_bridge(HOST),
            "search example.org lab\nnameserver 192.0.2.53\nnameserver fe80::1\noptions edns0 ndots:2\n"
        );
        assert_eq!(
            for_default_bridge("nameserver 127.0.0.1\n"),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
    }
}
