//! daemon.json, with dockerd's keys and rules: a key that matches no option is an
//! error, a directive given both as a flag and in the file is a conflict. Keys dockerd
//! knows but Berth does not implement yet are accepted with a warning.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{AddressPool, ConfigError, Flags, RuntimeConfig};

/// The daemon.json keys Berth uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FileConfig {
    #[serde(default)]
    pub hosts: Vec<String>,
    pub data_root: Option<PathBuf>,
    pub exec_root: Option<PathBuf>,
    pub debug: Option<bool>,
    pub tls: Option<bool>,
    pub tlsverify: Option<bool>,
    pub tlscacert: Option<PathBuf>,
    pub tlscert: Option<PathBuf>,
    pub tlskey: Option<PathBuf>,
    pub pidfile: Option<PathBuf>,
    #[serde(default)]
    pub insecure_registries: Vec<String>,
    #[serde(default)]
    pub registry_mirrors: Vec<String>,
    pub log_level: Option<String>,
    pub group: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    pub bip: Option<String>,
    #[serde(default)]
    pub default_address_pools: Vec<AddressPool>,
    #[serde(default)]
    pub runtimes: BTreeMap<String, RuntimeConfig>,
    pub default_runtime: Option<String>,
    pub live_restore: Option<bool>,
    pub iptables: Option<bool>,
    pub firewall_backend: Option<String>,
    pub ip6tables: Option<bool>,
    pub ipv6: Option<bool>,
    pub fixed_cidr_v6: Option<String>,
    #[serde(default)]
    pub host_gateway_ips: Vec<String>,
    pub host_gateway_ip: Option<String>,
    pub storage_driver: Option<String>,
    pub init: Option<bool>,
    pub init_path: Option<PathBuf>,
    pub api_cors_header: Option<String>,
    pub cpu_rt_period: Option<i64>,
    pub cpu_rt_runtime: Option<i64>,
}

/// Keys of `FileConfig` (kept in step with the struct above).
const KNOWN_KEYS: &[&str] = &[
    "hosts",
    "data-root",
    "exec-root",
    "debug",
    "tls",
    "tlsverify",
    "tlscacert",
    "tlscert",
    "tlskey",
    "pidfile",
    "insecure-registries",
    "registry-mirrors",
    "log-level",
    "group",
    "labels",
    "bip",
    "default-address-pools",
    "runtimes",
    "default-runtime",
    "live-restore",
    "iptables",
    "firewall-backend",
    "ip6tables",
    "ipv6",
    "fixed-cidr-v6",
    "host-gateway-ip",
    "host-gateway-ips",
    "storage-driver",
    "init",
    "init-path",
    "api-cors-header",
    "cpu-rt-period",
    "cpu-rt-runtime",
];

/// dockerd options Berth accepts in daemon.json but does not act on (yet).
const IGNORED_KEYS: &[&str] = &[
    "allow-nondistributable-artifacts",
    "authorization-plugins",
    "bridge",
    "builder",
    "cdi-spec-dirs",
    "cgroup-parent",
    "containerd",
    "containerd-namespace",
    "containerd-plugins-namespace",
    "default-cgroupns-mode",
    "default-gateway",
    "default-gateway-v6",
    "default-ipc-mode",
    "default-shm-size",
    "default-ulimits",
    "dns",
    "dns-opts",
    "dns-search",
    "exec-opts",
    "experimental",
    "features",
    "fixed-cidr",
    "http-proxy",
    "https-proxy",
    "icc",
    "ip",
    "ip-forward",
    "ip-masq",
    "log-driver",
    "log-format",
    "log-opts",
    "max-concurrent-downloads",
    "max-concurrent-uploads",
    "max-download-attempts",
    "metrics-addr",
    "mtu",
    "no-new-privileges",
    "no-proxy",
    "node-generic-resources",
    "oom-score-adjust",
    "proxies",
    "raw-logs",
    "seccomp-profile",
    "selinux-enabled",
    "shutdown-timeout",
    "storage-opts",
    "swarm-default-advertise-addr",
    "userland-proxy",
    "userland-proxy-path",
    "userns-remap",
];

/// Reads daemon.json at `path`. A missing file is only an error when `must_exist`
/// (`--config-file` given explicitly), as in dockerd.
pub fn read(
    path: &Path,
    must_exist: bool,
    flags: &Flags,
) -> Result<Option<FileConfig>, ConfigError> {
    let fail = |reason: String| ConfigError::File {
        path: path.display().to_string(),
        reason,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => return Ok(None),
        Err(e) => return Err(fail(format!("open {}: {e}", path.display()))),
    };
    parse(&text, flags).map(Some).map_err(fail)
}

/// Parses daemon.json text and checks it against the flags given on the command line.
pub fn parse(text: &str, flags: &Flags) -> Result<FileConfig, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(FileConfig::default());
    }
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(trimmed).map_err(|e| format!("invalid JSON: {e}"))?;

    let mut unknown: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|k| !KNOWN_KEYS.contains(k) && !IGNORED_KEYS.contains(k))
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        return Err(format!(
            "the following directives don't match any configuration option: {}",
            unknown.join(", ")
        ));
    }
    for key in map.keys().filter(|k| IGNORED_KEYS.contains(&k.as_str())) {
        tracing::warn!("daemon.json: option {key:?} is not supported by berthd yet and is ignored");
    }

    let conflicts: Vec<String> = flags
        .given()
        .into_iter()
        .filter_map(|(key, flag_value)| {
            map.get(key).map(|file_value| {
                format!(
                    "{key}: (from flag: {flag_value}, from file: {})",
                    show(file_value)
                )
            })
        })
        .collect();
    if !conflicts.is_empty() {
        return Err(format!(
            "the following directives are specified both as a flag and in the configuration file: {}",
            conflicts.join(", ")
        ));
    }

    let known: serde_json::Map<String, serde_json::Value> = map
        .into_iter()
        .filter(|(k, _)| KNOWN_KEYS.contains(&k.as_str()))
        .collect();
    serde_json::from_value(serde_json::Value::Object(known))
        .map_err(|e| format!("invalid JSON: {e}"))
}

/// A JSON value the way dockerd prints it in conflicts (`[a b]`, plain strings).
fn show(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => {
            format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(" "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::flags::parse_for_test as flags;

    #[test]
    fn reads_known_keys() {
        let f = parse(
            r#"{"hosts":["unix:///tmp/x.sock"],"debug":true,"insecure-registries":["r:5000"],
               "runtimes":{"crun":{"path":"/usr/bin/crun","runtimeArgs":["--debug"]}},
               "default-address-pools":[{"base":"10.10.0.0/16","size":24}],"log-driver":"json-file"}"#,
            &flags(&[]),
        )
        .expect("parse");
        assert_eq!(f.hosts, vec!["unix:///tmp/x.sock"]);
        assert_eq!(f.debug, Some(true));
        assert_eq!(f.runtimes["crun"].args, vec!["--debug"]);
        assert_eq!(f.default_address_pools[0].size, 24);
    }

    #[test]
    fn unknown_keys_are_an_error() {
        let e = parse(r#"{"bogus":1,"debug":true}"#, &flags(&[])).expect_err("unknown");
        assert_eq!(
            e,
            "the following directives don't match any configuration option: bogus"
        );
    }

    #[test]
    fn flag_and_file_conflict() {
        let e = parse(
            r#"{"hosts":["unix:///a"],"debug":true}"#,
            &flags(&["-H", "unix:///b"]),
        )
        .expect_err("conflict");
        assert_eq!(
            e,
            "the following directives are specified both as a flag and in the configuration file: hosts: (from flag: [unix:///b], from file: [unix:///a])"
        );
    }
}
