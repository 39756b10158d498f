//! resolv.conf: the upstream resolvers the embedded DNS forwards to, and the
//! file a container gets (dockerd's layout: search, nameserver, options).

use std::net::{IpAddr, SocketAddr};

/// Nameservers of a resolv.conf, loopback ones left out (they mean nothing
/// inside a container's namespace).
pub fn nameservers(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next()? == "nameserver").then(|| words.next())?
        })
        .filter_map(|s| s.split('%').next()?.parse::<IpAddr>().ok())
        .filter(|ip| !ip.is_loopback())
        .collect()
}

/// Where the embedded DNS forwards: the host's non-loopback nameservers on port 53.
pub fn upstreams(text: &str) -> Vec<SocketAddr> {
    nameservers(text)
        .into_iter()
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
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

/// A container's resolv.conf on a user-defined network: the embedded DNS,
/// the host's search domains and options, and `ndots:0` as dockerd adds.
pub fn for_embedded_dns(host: &str) -> String {
    let mut options: Vec<String> = field(host, "options")
        .into_iter()
        .filter(|o| !o.starts_with("ndots:"))
        .map(String::from)
        .collect();
    options.push("ndots:0".into());
    render(&field(host, "search"), &["127.0.0.11".into()], &options)
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
    fn skips_loopback_resolvers() {
        assert_eq!(
            upstreams(HOST),
            vec![
                "192.0.2.53:53".parse().unwrap(),
                "[fe80::1]:53".parse().unwrap()
            ]
        );
    }

    #[test]
    fn container_files_like_dockerd() {
        assert_eq!(
            for_embedded_dns(HOST),
            "search example.org lab\nnameserver 127.0.0.11\noptions edns0 ndots:0\n"
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
