//! `--host-gateway-ip` (repeatable) and daemon.json's `host-gateway-ips` (or the older
//! `host-gateway-ip`): what `--add-host NAME:host-gateway` stands for. At most one IPv4
//! and one IPv6 address, as dockerd; none means the default bridge's gateways.
use std::net::IpAddr;

use super::ConfigError;

/// The configured addresses: the flags' when given, else the file's.
pub fn resolve(
    flags: &[String],
    file_list: &[String],
    file_single: Option<&str>,
) -> Result<Vec<IpAddr>, ConfigError> {
    let given: Vec<&str> = if !flags.is_empty() {
        flags.iter().map(String::as_str).collect()
    } else if !file_list.is_empty() {
        file_list.iter().map(String::as_str).collect()
    } else {
        file_single.into_iter().collect()
    };
    let mut ips: Vec<IpAddr> = Vec::new();
    for text in given {
        let ip: IpAddr = text.trim().parse().map_err(|_| {
            ConfigError::Invalid(format!("invalid host-gateway-ip address: {text:?}"))
        })?;
        if ips.iter().any(|known| known.is_ipv4() == ip.is_ipv4()) {
            return Err(ConfigError::Invalid(
                "only one IPv4 and one IPv6 address can be given as host-gateway-ip".into(),
            ));
        }
        ips.push(ip);
    }
    ips.sort_by_key(|ip| ip.is_ipv6());
    Ok(ips)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_address_of_each_family_flags_first() {
        let both = resolve(&strings(&["fd00::1", "10.0.0.1"]), &[], None).expect("both");
        assert_eq!(
            both,
            [
                "10.0.0.1".parse::<IpAddr>().unwrap(),
                "fd00::1".parse().unwrap()
            ]
        );
        let file = resolve(&[], &strings(&["192.168.1.1"]), Some("10.9.9.9")).expect("file");
        assert_eq!(file, ["192.168.1.1".parse::<IpAddr>().unwrap()]);
        let single = resolve(&[], &[], Some("10.9.9.9")).expect("single");
        assert_eq!(single, ["10.9.9.9".parse::<IpAddr>().unwrap()]);
        assert!(resolve(&[], &[], None).expect("none").is_empty());
        assert!(resolve(&strings(&["10.0.0.1", "10.0.0.2"]), &[], None).is_err());
        assert!(resolve(&strings(&["nope"]), &[], None).is_err());
    }
}
