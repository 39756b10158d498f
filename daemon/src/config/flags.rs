//! berthd's command line, with dockerd's flag names. Every option is `Option`/`Vec` so that
//! what was given explicitly is known (daemon.json conflicts, dockerd's TLS defaults).
use std::path::PathBuf;

use clap::{ArgAction, Parser};

/// Boolean flags behave as pflag's: `--tls` means true, `--tls=false` false.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "berthd",
    about = "Berth: a drop-in replacement for the Docker Engine",
    disable_version_flag = true
)]
pub struct Flags {
    /// Daemon socket(s) to listen on: unix:///path or tcp://host:port (repeatable)
    #[arg(short = 'H', long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
    /// Root directory of persistent state (default /var/lib/berth)
    #[arg(long = "data-root", value_name = "DIR")]
    pub data_root: Option<PathBuf>,
    /// Root directory for execution state files (default /run/berth)
    #[arg(long = "exec-root", value_name = "DIR")]
    pub exec_root: Option<PathBuf>,
    /// Enable debug mode
    #[arg(short = 'D', long = "debug", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub debug: Option<bool>,
    /// Use TLS; implied by --tlsverify
    #[arg(long = "tls", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls: Option<bool>,
    /// Use TLS and verify the remote (client certificates)
    #[arg(long = "tlsverify", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tlsverify: Option<bool>,
    /// Trust certs signed only by this CA (default ~/.docker/ca.pem)
    #[arg(long = "tlscacert", value_name = "FILE")]
    pub tlscacert: Option<PathBuf>,
    /// Path to TLS certificate file (default ~/.docker/cert.pem)
    #[arg(long = "tlscert", value_name = "FILE")]
    pub tlscert: Option<PathBuf>,
    /// Path to TLS key file (default ~/.docker/key.pem)
    #[arg(long = "tlskey", value_name = "FILE")]
    pub tlskey: Option<PathBuf>,
    /// Path to use for the daemon PID file (default <exec-root>/berthd.pid)
    #[arg(short = 'p', long = "pidfile", value_name = "FILE")]
    pub pidfile: Option<PathBuf>,
    /// Daemon configuration file (default /etc/berth/daemon.json, if present)
    #[arg(long = "config-file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Enable insecure registry communication (repeatable)
    #[arg(long = "insecure-registry", value_name = "REGISTRY")]
    pub insecure_registry: Vec<String>,
    /// Preferred registry mirror (repeatable)
    #[arg(long = "registry-mirror", value_name = "URL")]
    pub registry_mirror: Vec<String>,
    /// Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")
    #[arg(short = 'l', long = "log-level", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Group for the unix socket (default docker, root when it does not exist)
    #[arg(short = 'G', long = "group", value_name = "GROUP")]
    pub group: Option<String>,
    /// Set key=value labels to the daemon (repeatable)
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Network bridge IP (CIDR) of the default bridge
    #[arg(long = "bip", value_name = "CIDR")]
    pub bip: Option<String>,
    /// Default address pools for node specific local networks: base=CIDR,size=N (repeatable)
    #[arg(long = "default-address-pool", value_name = "POOL")]
    pub default_address_pool: Vec<String>,
    /// Register an additional OCI compatible runtime: NAME=PATH (repeatable)
    #[arg(long = "add-runtime", value_name = "NAME=PATH")]
    pub add_runtime: Vec<String>,
    /// Default OCI runtime for containers (default runc: Berth's own, berth-runc)
    #[arg(long = "default-runtime", value_name = "NAME")]
    pub default_runtime: Option<String>,
    /// Limit the CPU real-time period in microseconds for the parent cgroup for all containers (not supported with cgroups v2)
    #[arg(long = "cpu-rt-period", value_name = "INT")]
    pub cpu_rt_period: Option<i64>,
    /// Limit the CPU real-time runtime in microseconds for the parent cgroup for all containers (not supported with cgroups v2)
    #[arg(long = "cpu-rt-runtime", value_name = "INT")]
    pub cpu_rt_runtime: Option<i64>,
    /// Enable live restore of containers when the daemon restarts
    #[arg(long = "live-restore", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub live_restore: Option<bool>,
    /// Enable addition of firewall rules (default true)
    #[arg(long = "iptables", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub iptables: Option<bool>,
    /// Enable addition of ip6tables rules (default true)
    #[arg(long = "ip6tables", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub ip6tables: Option<bool>,
    /// Enable IPv6 networking on the default bridge
    #[arg(long = "ipv6", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub ipv6: Option<bool>,
    /// IPv6 subnet for the default bridge
    #[arg(long = "fixed-cidr-v6", value_name = "CIDR")]
    pub fixed_cidr_v6: Option<String>,
    /// IP address that the special 'host-gateway' string in --add-host resolves to
    /// (repeatable: one IPv4, one IPv6). Defaults to the default bridge's gateways
    #[arg(long = "host-gateway-ip", value_name = "IP")]
    pub host_gateway_ip: Vec<String>,
    /// Firewall backend to use, iptables or nftables (default: nftables when nft works)
    #[arg(long = "firewall-backend", value_name = "BACKEND")]
    pub firewall_backend: Option<String>,
    /// Run an init inside containers to forward signals and reap processes
    #[arg(long = "init", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub init: Option<bool>,
    /// Path to the docker-init binary (default: docker-init in PATH, else /usr/bin/tini-static)
    #[arg(long = "init-path", value_name = "PATH")]
    pub init_path: Option<PathBuf>,
    /// Storage driver to use (only overlay2)
    #[arg(short = 's', long = "storage-driver", value_name = "DRIVER")]
    pub storage_driver: Option<String>,
    /// Origins of web pages allowed to use the API ("*" for any); pages are refused otherwise
    #[arg(long = "api-cors-header", value_name = "ORIGINS")]
    pub api_cors_header: Option<String>,
    /// Time a client has to send a request head, from connecting or from its last answer (default 30s)
    #[arg(long = "api-header-timeout", value_name = "DURATION")]
    pub api_header_timeout: Option<String>,
    /// Longest pause allowed inside a request body (default 60s)
    #[arg(long = "api-body-timeout", value_name = "DURATION")]
    pub api_body_timeout: Option<String>,
    /// Connections each API listener serves at once (default: half the open-files limit, shared, at most 4096)
    #[arg(long = "api-max-connections", value_name = "N")]
    pub api_max_connections: Option<usize>,
    /// Validate daemon configuration and exit
    #[arg(long = "validate", action = ArgAction::SetTrue)]
    pub validate: bool,
    /// Print version information and quit
    #[arg(short = 'v', long = "version", action = ArgAction::SetTrue)]
    pub version: bool,
    /// The Kubernetes side: CRI server, CNI, registry hosts configuration.
    #[command(flatten)]
    pub cri: super::cri::CriFlags,
}

impl Flags {
    /// The flags given on the command line, each with the daemon.json key it conflicts
    /// with and how it was given (for dockerd's conflict message).
    pub fn given(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut list = |key: &'static str, v: &[String]| {
            if !v.is_empty() {
                out.push((key, format!("[{}]", v.join(" "))));
            }
        };
        list("hosts", &self.hosts);
        list("insecure-registries", &self.insecure_registry);
        list("registry-mirrors", &self.registry_mirror);
        list("labels", &self.label);
        list("default-address-pools", &self.default_address_pool);
        let path = |key: &'static str, v: &Option<PathBuf>| {
            v.as_ref().map(|p| (key, p.display().to_string()))
        };
        let text = |key: &'static str, v: &Option<String>| v.as_ref().map(|s| (key, s.clone()));
        let flag = |key: &'static str, v: &Option<bool>| v.map(|b| (key, b.to_string()));
        let int = |key: &'static str, v: &Option<i64>| v.map(|n| (key, n.to_string()));
        out.extend(
            [
                path("data-root", &self.data_root),
                path("exec-root", &self.exec_root),
                path("tlscacert", &self.tlscacert),
                path("tlscert", &self.tlscert),
                path("tlskey", &self.tlskey),
                path("pidfile", &self.pidfile),
                path("init-path", &self.init_path),
                flag("debug", &self.debug),
                flag("tls", &self.tls),
                flag("tlsverify", &self.tlsverify),
                flag("live-restore", &self.live_restore),
                flag("iptables", &self.iptables),
                flag("init", &self.init),
                text("log-level", &self.log_level),
                text("firewall-backend", &self.firewall_backend),
                text("fixed-cidr-v6", &self.fixed_cidr_v6),
                flag("ip6tables", &self.ip6tables),
                flag("ipv6", &self.ipv6),
                text("group", &self.group),
                text("bip", &self.bip),
                text("default-runtime", &self.default_runtime),
                text("storage-driver", &self.storage_driver),
                text("api-cors-header", &self.api_cors_header),
                int("cpu-rt-period", &self.cpu_rt_period),
                int("cpu-rt-runtime", &self.cpu_rt_runtime),
            ]
            .into_iter()
            .flatten(),
        );
        out
    }
}

/// `berthd ARGS…` parsed (tests).
#[cfg(test)]
pub(crate) fn parse_for_test(args: &[&str]) -> Flags {
    let mut argv = vec!["berthd"];
    argv.extend_from_slice(args);
    Flags::try_parse_from(argv).expect("flags")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dockerd_style_flags() {
        let f = Flags::try_parse_from([
            "berthd",
            "-H",
            "unix:///tmp/a.sock",
            "--host=tcp://127.0.0.1:2376",
            "-D",
            "--tls=false",
            "--insecure-registry",
            "r:5000",
            "-p",
            "/tmp/p.pid",
        ])
        .expect("parse");
        assert_eq!(f.hosts.len(), 2);
        assert_eq!(f.debug, Some(true));
        assert_eq!(f.tls, Some(false));
        assert_eq!(f.tlsverify, None);
        assert_eq!(f.insecure_registry, vec!["r:5000"]);
        assert_eq!(f.pidfile, Some(PathBuf::from("/tmp/p.pid")));
        let keys: Vec<_> = f.given().into_iter().map(|(k, _)| k).collect();
        assert!(keys.contains(&"hosts") && keys.contains(&"tls") && !keys.contains(&"tlsverify"));
    }
}
