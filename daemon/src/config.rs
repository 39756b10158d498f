//! Command-line flags (named as dockerd's) and daemon.json, resolved into `Config`.
use std::path::PathBuf;

/// The daemon's resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `-H/--host`, repeatable: `unix:///path` or `tcp://host:port`.
    pub hosts: Vec<String>,
    /// `--data-root`, default `/var/lib/berth`.
    pub data_root: PathBuf,
    /// `--exec-root`, default `/run/berth`.
    pub exec_root: PathBuf,
    /// `--debug`.
    pub debug: bool,
    /// `--tls` (None when not given: dockerd's default applies).
    pub tls: Option<bool>,
    pub tls_verify: bool,
    pub tls_cacert: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `--insecure-registry`: registries (host:port or CIDR) spoken to over plain HTTP.
    /// Loopback registries (127.0.0.0/8, localhost, ::1) are always insecure, as in dockerd.
    pub insecure_registries: Vec<String>,
    /// `--registry-mirror`.
    pub registry_mirrors: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hosts: vec!["unix:///var/run/docker.sock".into()],
            data_root: "/var/lib/berth".into(),
            exec_root: "/run/berth".into(),
            debug: false,
            tls: None,
            tls_verify: false,
            tls_cacert: None,
            tls_cert: None,
            tls_key: None,
            insecure_registries: Vec::new(),
            registry_mirrors: Vec::new(),
        }
    }
}
