//! Command-line flags (named as dockerd's) and daemon.json, resolved into `Config`.
//!
//! - `flags` — the command line (`berthd --help`).
//! - `file`  — daemon.json, with dockerd's rules: unknown keys are an error, a
//!   directive given both as a flag and in the file is a conflict.
//! - `hosts` — `-H` addresses: `unix://PATH`, `tcp://HOST:PORT`.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub mod api;
pub mod cri;
pub mod file;
pub mod flags;
pub mod host_gateway;
pub mod hosts;

pub use api::ApiServerConfig;
pub use flags::Flags;
pub use hosts::HostAddr;

/// Where daemon.json is read from when `--config-file` is not given (only if it exists).
pub const DEFAULT_CONFIG_FILE: &str = "/etc/berth/daemon.json";
/// The socket berthd listens on when no `-H` is given, as dockerd.
pub const DEFAULT_UNIX_SOCKET: &str = "/var/run/docker.sock";
/// The runtime containers use unless `--default-runtime` or `--runtime` says otherwise:
/// named `runc` as dockerd's default is (clients ask for it by that name), and run by
/// Berth's own runtime, berth-runc, which speaks runc's command line.
pub const DEFAULT_RUNTIME: &str = "runc";
/// The binary of Berth's own runtime.
pub const BERTH_RUNTIME: &str = "berth-runc";

/// An OCI runtime (`--add-runtime NAME=PATH`, daemon.json `runtimes`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RuntimeConfig {
    pub path: String,
    #[serde(rename = "runtimeArgs", default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

/// A default address pool for networks (`--default-address-pool base=CIDR,size=N`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AddressPool {
    #[serde(rename = "base", alias = "Base")]
    pub base: String,
    #[serde(rename = "size", alias = "Size")]
    pub size: u8,
}

/// The daemon's resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `-H/--host`, repeatable, normalized: `unix:///path` or `tcp://host:port`.
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
    /// `--config-file`: the daemon.json that was read, if any.
    pub config_file: Option<PathBuf>,
    /// `-p/--pidfile`, default `<exec-root>/berthd.pid`.
    pub pidfile: PathBuf,
    /// `-l/--log-level`: debug, info, warn, error, fatal (`--debug` means debug).
    pub log_level: String,
    /// `-G/--group`: group owning the unix sockets, default `docker` (root when absent).
    pub socket_group: String,
    /// Whether `--group` was given explicitly (then a missing group is an error).
    pub socket_group_explicit: bool,
    /// `--label`, repeatable.
    pub labels: Vec<String>,
    /// `--bip`: the default bridge's address (CIDR).
    pub bip: Option<String>,
    /// `--default-address-pool`, repeatable.
    pub default_address_pools: Vec<AddressPool>,
    /// Every runtime by name: the stock ones plus `--add-runtime` / daemon.json `runtimes`.
    pub runtimes: BTreeMap<String, RuntimeConfig>,
    /// `--default-runtime`, default `runc` (Berth's own runtime).
    pub default_runtime: String,
    /// `--live-restore`.
    pub live_restore: bool,
    /// `--iptables` (default true): whether netd manages firewall rules.
    pub iptables: bool,
    /// `--firewall-backend` (dockerd 29): `iptables` or `nftables`; `None` picks nftables
    /// when `nft` works.
    pub firewall_backend: Option<String>,
    /// `--ip6tables` (default true, as dockerd 27+): rules for IPv6 networks too.
    pub ip6tables: bool,
    /// `--ipv6`: IPv6 on the default bridge.
    pub ipv6: bool,
    /// `--fixed-cidr-v6`: the default bridge's IPv6 subnet.
    pub fixed_cidr_v6: Option<String>,
    /// `--host-gateway-ip` / `host-gateway-ips`: what `--add-host NAME:host-gateway`
    /// stands for; empty: the default bridge's gateways.
    pub host_gateway_ips: Vec<std::net::IpAddr>,
    /// `-s/--storage-driver`, default `overlay2` (the only one Berth has).
    pub storage_driver: String,
    /// `--init`: containers run an init (docker-init) unless HostConfig.Init says otherwise.
    pub init: bool,
    /// `--init-path`: the init binary; `None` means the default lookup (`default_init_path`).
    pub init_path: Option<PathBuf>,
    /// The CRI server (`--cri-*`, `--cni-*`).
    pub cri: cri::CriConfig,
    /// `--registry-config-dir`: `<dir>/<host>/hosts.toml` (mirrors, plain-HTTP registries).
    pub registry_config_dir: PathBuf,
    /// The API server: CORS, connection bounds.
    pub api: ApiServerConfig,
    /// `--cpu-rt-period`: the real-time period (µs) given to the containers' parent
    /// cgroups on cgroup v1; 0 leaves them as they are.
    pub cpu_rt_period: i64,
    /// `--cpu-rt-runtime`: the real-time runtime (µs) the containers' parent cgroups may
    /// hand out on cgroup v1; 0 leaves them as they are (dockerd's default: none).
    pub cpu_rt_runtime: i64,
}

/// The runtimes every berthd has, before `--add-runtime`: the names dockerd 20.10 lists
/// (`runc`, the default, and containerd's `io.containerd.runc.v2` and
/// `io.containerd.runtime.v1.linux`), all run by berth-runc, which is also registered
/// under its own name. Another runtime — runc itself, crun — is added with
/// `--add-runtime` or daemon.json `runtimes`, as with dockerd.
pub fn stock_runtimes() -> BTreeMap<String, RuntimeConfig> {
    [
        DEFAULT_RUNTIME,
        BERTH_RUNTIME,
        "io.containerd.runc.v2",
        "io.containerd.runtime.v1.linux",
    ]
    .into_iter()
    .map(|name| {
        (
            name.to_string(),
            RuntimeConfig {
                path: BERTH_RUNTIME.into(),
                args: Vec::new(),
            },
        )
    })
    .collect()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hosts: vec![format!("unix://{DEFAULT_UNIX_SOCKET}")],
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
            config_file: None,
            pidfile: "/run/berth/berthd.pid".into(),
            log_level: "info".into(),
            socket_group: "docker".into(),
            socket_group_explicit: false,
            labels: Vec::new(),
            bip: None,
            default_address_pools: Vec::new(),
            runtimes: stock_runtimes(),
            default_runtime: DEFAULT_RUNTIME.into(),
            live_restore: false,
            iptables: true,
            firewall_backend: None,
            ip6tables: true,
            ipv6: false,
            fixed_cidr_v6: None,
            host_gateway_ips: Vec::new(),
            storage_driver: "overlay2".into(),
            init: false,
            init_path: None,
            cri: cri::CriFlags::default().resolve(Path::new("/run/berth")),
            registry_config_dir: cri::DEFAULT_REGISTRY_CONFIG_DIR.into(),
            api: ApiServerConfig::default(),
            cpu_rt_period: 0,
            cpu_rt_runtime: 0,
        }
    }
}

/// Why the configuration could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unable to configure the daemon with file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Resolves flags, then daemon.json (`--config-file`, else `/etc/berth/daemon.json` if it
    /// exists), into a `Config`.
    pub fn from_flags(flags: &Flags) -> Result<Config, ConfigError> {
        let (path, must_exist) = match &flags.config_file {
            Some(p) => (p.clone(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
        };
        let file = file::read(&path, must_exist, flags)?;
        let mut cfg = resolve(flags, file.as_ref())?;
        if file.is_some() {
            cfg.config_file = Some(path);
        }
        Ok(cfg)
    }

    /// The parsed `hosts`.
    pub fn host_addrs(&self) -> Result<Vec<HostAddr>, ConfigError> {
        self.hosts
            .iter()
            .map(|h| HostAddr::parse(h, self.tls_enabled()))
            .collect()
    }

    /// Whether TCP listeners serve TLS.
    pub fn tls_enabled(&self) -> bool {
        self.tls == Some(true) || self.tls_verify
    }
}

/// Merges the command line and the file (already checked for conflicts) into a `Config`.
fn resolve(flags: &Flags, file: Option<&file::FileConfig>) -> Result<Config, ConfigError> {
    let d = Config::default();
    let f = file.cloned().unwrap_or_default();
    let data_root = flags
        .data_root
        .clone()
        .or(f.data_root)
        .unwrap_or(d.data_root);
    let exec_root = flags
        .exec_root
        .clone()
        .or(f.exec_root)
        .unwrap_or(d.exec_root);
    let pidfile = flags
        .pidfile
        .clone()
        .or(f.pidfile)
        .unwrap_or_else(|| exec_root.join("berthd.pid"));
    let debug = flags.debug.or(f.debug).unwrap_or(false);
    let log_level = flags
        .log_level
        .clone()
        .or(f.log_level)
        .unwrap_or_else(|| "info".into());
    validate_log_level(&log_level)?;

    // TLS, as dockerd: --tlsverify (given at all) turns TLS on; --tls alone implies
    // verification unless --tlsverify=false was given.
    let tlsverify_given = flags.tlsverify.or(f.tlsverify);
    let mut tls = flags.tls.or(f.tls);
    if tlsverify_given.is_some() {
        tls = Some(true);
    }
    let tls_verify = match (tls, tlsverify_given) {
        (_, Some(v)) => v,
        (Some(true), None) => true,
        _ => false,
    };
    let cert_dir = default_cert_dir();
    let pick = |flag: &Option<PathBuf>, file: &Option<PathBuf>, name: &str| -> Option<PathBuf> {
        flag.clone().or_else(|| file.clone()).or_else(|| {
            let p = cert_dir.join(name);
            (tls == Some(true) && p.exists()).then_some(p)
        })
    };
    let tls_cacert = pick(&flags.tlscacert, &f.tlscacert, "ca.pem");
    let tls_cert = pick(&flags.tlscert, &f.tlscert, "cert.pem");
    let tls_key = pick(&flags.tlskey, &f.tlskey, "key.pem");

    let mut hosts: Vec<String> = if !flags.hosts.is_empty() {
        flags.hosts.clone()
    } else {
        f.hosts
    };
    hosts.retain(|h| !h.trim().is_empty());
    let tls_on = tls == Some(true);
    if hosts.is_empty() {
        hosts.push(if tls_on {
            "tcp://localhost:2376".into()
        } else {
            format!("unix://{DEFAULT_UNIX_SOCKET}")
        });
    }
    let hosts = hosts
        .iter()
        .map(|h| HostAddr::parse(h, tls_on).map(|a| a.to_string()))
        .collect::<Result<Vec<_>, _>>()?;

    let mut runtimes = stock_runtimes();
    for (name, rt) in f.runtimes {
        runtimes.insert(name, rt);
    }
    for spec in &flags.add_runtime {
        let (name, path) = spec
            .split_once('=')
            .filter(|(n, p)| !n.is_empty() && !p.is_empty())
            .ok_or_else(|| {
                ConfigError::Invalid(format!("invalid runtime {spec:?}: expected NAME=PATH"))
            })?;
        runtimes.insert(
            name.to_string(),
            RuntimeConfig {
                path: path.to_string(),
                args: Vec::new(),
            },
        );
    }
    let default_runtime = flags
        .default_runtime
        .clone()
        .or(f.default_runtime)
        .unwrap_or(d.default_runtime);
    if !runtimes.contains_key(&default_runtime) {
        return Err(ConfigError::Invalid(format!(
            "specified default runtime '{default_runtime}' does not exist"
        )));
    }

    let mut pools = f.default_address_pools;
    for spec in &flags.default_address_pool {
        pools.push(parse_address_pool(spec)?);
    }

    let storage_driver = flags
        .storage_driver
        .clone()
        .or(f.storage_driver)
        .unwrap_or(d.storage_driver);
    let socket_group_explicit = flags.group.is_some() || f.group.is_some();
    let cri = flags.cri.resolve(&exec_root);
    Ok(Config {
        hosts,
        data_root,
        exec_root,
        debug,
        tls,
        tls_verify,
        tls_cacert,
        tls_cert,
        tls_key,
        insecure_registries: concat(&flags.insecure_registry, f.insecure_registries),
        registry_mirrors: concat(&flags.registry_mirror, f.registry_mirrors),
        config_file: None,
        pidfile,
        log_level,
        socket_group: flags.group.clone().or(f.group).unwrap_or(d.socket_group),
        socket_group_explicit,
        labels: concat(&flags.label, f.labels),
        bip: flags.bip.clone().or(f.bip),
        default_address_pools: pools,
        runtimes,
        default_runtime,
        live_restore: flags.live_restore.or(f.live_restore).unwrap_or(false),
        iptables: flags.iptables.or(f.iptables).unwrap_or(true),
        firewall_backend: firewall_backend(flags.firewall_backend.clone().or(f.firewall_backend))?,
        ip6tables: flags.ip6tables.or(f.ip6tables).unwrap_or(true),
        ipv6: flags.ipv6.or(f.ipv6).unwrap_or(false),
        fixed_cidr_v6: fixed_cidr_v6(flags.fixed_cidr_v6.clone().or(f.fixed_cidr_v6))?,
        host_gateway_ips: host_gateway::resolve(
            &flags.host_gateway_ip,
            &f.host_gateway_ips,
            f.host_gateway_ip.as_deref(),
        )?,
        storage_driver,
        init: flags.init.or(f.init).unwrap_or(false),
        init_path: flags.init_path.clone().or(f.init_path),
        cri,
        registry_config_dir: flags.cri.registry_config_dir(),
        api: ApiServerConfig::resolve(flags, f.api_cors_header)?,
        cpu_rt_period: flags.cpu_rt_period.or(f.cpu_rt_period).unwrap_or(0),
        cpu_rt_runtime: flags.cpu_rt_runtime.or(f.cpu_rt_runtime).unwrap_or(0),
    })
}

/// `--fixed-cidr-v6`: an IPv6 subnet.
fn fixed_cidr_v6(value: Option<String>) -> Result<Option<String>, ConfigError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => match v.parse::<ipnet::Ipv6Net>() {
            Ok(_) => Ok(Some(v.to_string())),
            Err(_) => Err(ConfigError::Invalid(format!(
                "invalid fixed-cidr-v6 {v:?}: not an IPv6 subnet"
            ))),
        },
    }
}

/// `--firewall-backend`: dockerd 29's values, with its message for others.
fn firewall_backend(value: Option<String>) -> Result<Option<String>, ConfigError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v @ ("iptables" | "nftables")) => Ok(Some(v.to_string())),
        Some(other) => Err(ConfigError::Invalid(format!(
            "invalid firewall-backend {other:?}: must be \"iptables\" or \"nftables\""
        ))),
    }
}

/// The init binary bind-mounted at `/sbin/docker-init` (dockerd's `DefaultInitBinary`
/// is `docker-init`, looked up in PATH): `docker-init` in PATH, else Debian's static tini.
pub const FALLBACK_INIT_PATH: &str = "/usr/bin/tini-static";

impl Config {
    /// The init binary to use, if one exists: `--init-path` as given, else `docker-init`
    /// in PATH, else `/usr/bin/tini-static`.
    pub fn init_binary(&self) -> Result<PathBuf, String> {
        if let Some(p) = &self.init_path {
            return Ok(p.clone());
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        if let Some(found) = std::env::split_paths(&path)
            .map(|dir| dir.join("docker-init"))
            .find(|p| p.is_file())
        {
            return Ok(found);
        }
        let fallback = Path::new(FALLBACK_INIT_PATH);
        if fallback.is_file() {
            return Ok(fallback.to_path_buf());
        }
        Err("exec: \"docker-init\": executable file not found in $PATH".into())
    }
}

fn concat(flag: &[String], file: Vec<String>) -> Vec<String> {
    if flag.is_empty() {
        file
    } else {
        flag.to_vec()
    }
}

/// `$DOCKER_CONFIG`, else `~/.docker`: where dockerd looks for ca.pem, cert.pem, key.pem.
fn default_cert_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("DOCKER_CONFIG") {
        if !dir.is_empty() {
            return PathBuf::from(dir);
        }
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    Path::new(&home).join(".docker")
}

fn validate_log_level(level: &str) -> Result<(), ConfigError> {
    match level {
        "debug" | "info" | "warn" | "error" | "fatal" => Ok(()),
        other => Err(ConfigError::Invalid(format!(
            "unable to parse logging level: {other}"
        ))),
    }
}

/// Parses `base=10.10.0.0/16,size=24`.
pub fn parse_address_pool(spec: &str) -> Result<AddressPool, ConfigError> {
    let invalid = || {
        ConfigError::Invalid(format!(
            "invalid default address pool {spec:?}: expected base=CIDR,size=N"
        ))
    };
    let mut base = None;
    let mut size = None;
    for part in spec.split(',') {
        match part.split_once('=') {
            Some(("base", v)) if v.contains('/') => base = Some(v.to_string()),
            Some(("size", v)) => size = Some(v.parse::<u8>().map_err(|_| invalid())?),
            _ => return Err(invalid()),
        }
    }
    match (base, size) {
        (Some(base), Some(size)) => Ok(AddressPool { base, size }),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
