//! Registry hosts configuration in containerd's layout (`--registry-config-dir`, default
//! /etc/berth/certs.d): `<dir>/<host[:port]>/hosts.toml`, else `<dir>/_default/hosts.toml`,
//! names the hosts to try for a registry, in file order, before its own server:
//!
//! ```toml
//! server = "https://registry.k8s.io"        # the registry itself (optional)
//! [host."http://127.0.0.1:5001"]            # a mirror: plain HTTP here
//!   capabilities = ["pull", "resolve"]
//!   skip_verify = false
//! ```
//!
//! Only hosts with the `pull` capability serve pulls. dockerd's `registry-mirrors` keep
//! their meaning: mirrors of Docker Hub, tried first for docker.io. Client certificates
//! and CA files (`ca`, `client`) are not read: such a host is skipped with a warning.
use crate::config::Config;

/// One place to pull from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// "host:port" to talk to.
    pub host: String,
    /// "http" or "https"; `None` for the registry itself (its usual scheme rules apply).
    pub scheme: Option<&'static str>,
    pub skip_verify: bool,
    /// Not the registry itself.
    pub mirror: bool,
}

impl Endpoint {
    fn upstream(domain: &str) -> Endpoint {
        Endpoint {
            host: domain.to_string(),
            scheme: None,
            skip_verify: false,
            mirror: false,
        }
    }
}

/// "http://h:5000/v2" → ("http", "h:5000").
fn split_url(url: &str) -> Option<(&'static str, String)> {
    let (scheme, rest) = if let Some(r) = url.strip_prefix("http://") {
        ("http", r)
    } else if let Some(r) = url.strip_prefix("https://") {
        ("https", r)
    } else {
        ("https", url)
    };
    let host = rest.split('/').next().unwrap_or("").to_string();
    (!host.is_empty()).then_some((scheme, host))
}

fn pulls(table: &toml::Table) -> bool {
    match table.get("capabilities").and_then(|c| c.as_array()) {
        Some(caps) => caps.iter().any(|c| c.as_str() == Some("pull")),
        None => true,
    }
}

fn usable(table: &toml::Table, name: &str) -> bool {
    if table.contains_key("ca") || table.contains_key("client") {
        tracing::warn!(host = %name, "hosts.toml: `ca` and `client` are not supported; host skipped");
        return false;
    }
    true
}

/// Parses one hosts.toml for `domain`.
pub fn parse(text: &str, domain: &str) -> Result<Vec<Endpoint>, String> {
    let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let mut out = Vec::new();
    if let Some(hosts) = doc.get("host").and_then(|h| h.as_table()) {
        for (url, cfg) in hosts {
            let Some(cfg) = cfg.as_table() else { continue };
            let Some((scheme, host)) = split_url(url) else {
                continue;
            };
            if !pulls(cfg) || !usable(cfg, url) {
                continue;
            }
            out.push(Endpoint {
                host,
                scheme: Some(scheme),
                skip_verify: cfg
                    .get("skip_verify")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false),
                mirror: true,
            });
        }
    }
    match doc
        .get("server")
        .and_then(|s| s.as_str())
        .and_then(split_url)
    {
        Some((scheme, host)) if pulls(&doc) && usable(&doc, &host) => out.push(Endpoint {
            mirror: host != domain,
            host,
            scheme: Some(scheme),
            skip_verify: doc
                .get("skip_verify")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
        }),
        Some(_) => {}
        None => out.push(Endpoint::upstream(domain)),
    }
    Ok(out)
}

/// The docker.io mirrors of `--registry-mirror`.
fn docker_hub_mirrors(config: &Config) -> Vec<Endpoint> {
    config
        .registry_mirrors
        .iter()
        .filter_map(|m| split_url(m.trim_end_matches('/')))
        .map(|(scheme, host)| Endpoint {
            host,
            scheme: Some(scheme),
            skip_verify: false,
            mirror: true,
        })
        .collect()
}

/// Where to pull `domain`'s images from, in order (never empty).
pub fn endpoints(config: &Config, domain: &str) -> Vec<Endpoint> {
    let mut out = if domain == crate::reference::DEFAULT_DOMAIN {
        docker_hub_mirrors(config)
    } else {
        Vec::new()
    };
    let file = [domain, "_default"]
        .iter()
        .map(|name| config.registry_config_dir.join(name).join("hosts.toml"))
        .find(|p| p.is_file());
    let configured = file.and_then(|path| {
        match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| parse(&t, domain))
        {
            Ok(list) => Some(list),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "ignoring an unreadable hosts.toml");
                None
            }
        }
    });
    out.extend(configured.unwrap_or_else(|| vec![Endpoint::upstream(domain)]));
    if out.is_empty() {
        out.push(Endpoint::upstream(domain));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_in_file_order_then_the_server() {
        let text = r#"
server = "https://registry.k8s.io"
[host."http://127.0.0.1:5001"]
  capabilities = ["pull", "resolve"]
[host."https://push-only.example"]
  capabilities = ["push"]
[host."https://m2.example:8443/v2"]
  skip_verify = true
"#;
        let eps = parse(text, "registry.k8s.io").unwrap();
        assert_eq!(eps.len(), 3);
        assert_eq!(
            (eps[0].host.as_str(), eps[0].scheme),
            ("127.0.0.1:5001", Some("http"))
        );
        assert!(eps[0].mirror);
        assert_eq!(eps[1].host, "m2.example:8443");
        assert!(eps[1].skip_verify);
        assert_eq!(eps[2].host, "registry.k8s.io");
        assert!(!eps[2].mirror);
    }

    #[test]
    fn a_plain_http_server_replaces_the_registry() {
        let text = "server = \"http://127.0.0.1:5001\"\ncapabilities = [\"pull\", \"resolve\"]\n";
        let eps = parse(text, "gcr.io").unwrap();
        assert_eq!(
            eps,
            vec![Endpoint {
                host: "127.0.0.1:5001".into(),
                scheme: Some("http"),
                skip_verify: false,
                mirror: true
            }]
        );
    }

    #[test]
    fn directory_lookup_with_default_and_docker_hub_mirrors() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("_default")).unwrap();
        std::fs::write(
            d.path().join("_default/hosts.toml"),
            "[host.\"http://10.0.0.1:5000\"]\n",
        )
        .unwrap();
        let config = Config {
            registry_config_dir: d.path().to_path_buf(),
            registry_mirrors: vec!["https://hub-mirror.example/".into()],
            ..Config::default()
        };
        let eps = endpoints(&config, "quay.io");
        assert_eq!(
            eps.iter().map(|e| e.host.as_str()).collect::<Vec<_>>(),
            vec!["10.0.0.1:5000", "quay.io"]
        );
        let eps = endpoints(&config, "docker.io");
        assert_eq!(
            eps.iter().map(|e| e.host.as_str()).collect::<Vec<_>>(),
            vec!["hub-mirror.example", "10.0.0.1:5000", "docker.io"]
        );
        let none = Config {
            registry_config_dir: d.path().join("missing"),
            ..Config::default()
        };
        assert_eq!(
            endpoints(&none, "quay.io"),
            vec![Endpoint::upstream("quay.io")]
        );
    }
}
