//! GET /info: the engine's `SystemInfo`, field for field as dockerd sends it, with the
//! fields older API versions expect added back (see the spec's version history).
use std::collections::BTreeMap;

use super::json_answer::Json;
use axum::extract::State;
use axum::Extension;
use serde::Serialize;
use serde_json::{json, Value};

use super::host;
use super::version::{ApiVersion, ENGINE_VERSION};
use crate::config::{AddressPool, Config, HostAddr, RuntimeConfig};
use crate::state::SharedDaemon;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SystemInfo {
    #[serde(rename = "ID")]
    id: String,
    containers: usize,
    containers_running: usize,
    containers_paused: usize,
    containers_stopped: usize,
    images: usize,
    driver: String,
    driver_status: Vec<[String; 2]>,
    plugins: PluginsInfo,
    memory_limit: bool,
    swap_limit: bool,
    cpu_cfs_period: bool,
    cpu_cfs_quota: bool,
    #[serde(rename = "CPUShares")]
    cpu_shares: bool,
    #[serde(rename = "CPUSet")]
    cpu_set: bool,
    pids_limit: bool,
    #[serde(rename = "IPv4Forwarding")]
    ipv4_forwarding: bool,
    debug: bool,
    #[serde(rename = "NFd")]
    nfd: usize,
    oom_kill_disable: bool,
    #[serde(rename = "NGoroutines")]
    ngoroutines: usize,
    system_time: String,
    logging_driver: String,
    cgroup_driver: String,
    cgroup_version: String,
    #[serde(rename = "NEventsListener")]
    nevents_listener: usize,
    kernel_version: String,
    operating_system: String,
    #[serde(rename = "OSVersion")]
    os_version: String,
    #[serde(rename = "OSType")]
    os_type: String,
    architecture: String,
    index_server_address: String,
    registry_config: Value,
    #[serde(rename = "NCPU")]
    ncpu: usize,
    mem_total: i64,
    generic_resources: Option<Vec<Value>>,
    docker_root_dir: String,
    http_proxy: String,
    https_proxy: String,
    no_proxy: String,
    name: String,
    labels: Vec<String>,
    experimental_build: bool,
    server_version: String,
    runtimes: BTreeMap<String, RuntimeConfig>,
    default_runtime: String,
    swarm: Value,
    live_restore_enabled: bool,
    isolation: String,
    init_binary: String,
    containerd_commit: Value,
    runc_commit: Value,
    init_commit: Value,
    /// `null` when empty, as dockerd (a nil Go slice).
    security_options: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    default_address_pools: Vec<Value>,
    #[serde(rename = "CDISpecDirs")]
    cdi_spec_dirs: Vec<String>,
    /// `null` when empty, as dockerd.
    warnings: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PluginsInfo {
    volume: Vec<String>,
    network: Vec<String>,
    authorization: Option<Vec<String>>,
    log: Vec<String>,
}

/// The swarm section of a node that is not part of a swarm.
pub fn inactive_swarm() -> Value {
    json!({
        "NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false,
        "Error": "", "RemoteManagers": null
    })
}

pub async fn get_info(
    State(daemon): State<SharedDaemon>,
    Extension(version): Extension<ApiVersion>,
) -> Json<Value> {
    let config = &daemon.config;
    let images = daemon.images.list().len();
    let all_containers = daemon.containers.list();
    let count = |s: crate::containers::Status| {
        all_containers
            .iter()
            .filter(|c| c.state.status == s)
            .count()
    };
    let cgroup_version = host::cgroup_version();
    let cgroups = host::cgroup_support(cgroup_version);
    let (operating_system, os_version) = host::os_release();
    let ipv4_forwarding = host::ipv4_forwarding();

    let mut warnings = tcp_warnings(config);
    warnings.extend(cgroups.warnings(cgroup_version));
    if !ipv4_forwarding {
        warnings.push("WARNING: IPv4 forwarding is disabled".into());
    }
    let mut security_options = Vec::new();
    if host::seccomp_supported() {
        security_options.push("name=seccomp,profile=builtin".to_string());
    }
    if cgroup_version == "2" {
        security_options.push("name=cgroupns".to_string());
    }
    let berth_commit = json!({ "ID": format!("berth-{}", env!("CARGO_PKG_VERSION")) });

    let info = SystemInfo {
        id: daemon.engine_id.clone(),
        containers: all_containers.len(),
        containers_running: count(crate::containers::Status::Running),
        containers_paused: count(crate::containers::Status::Paused),
        containers_stopped: all_containers.len()
            - count(crate::containers::Status::Running)
            - count(crate::containers::Status::Paused),
        images,
        driver: config.storage_driver.clone(),
        driver_status: driver_status(config),
        plugins: PluginsInfo {
            volume: vec!["local".into()],
            network: vec!["bridge".into(), "host".into(), "null".into()],
            authorization: None,
            // The drivers a container can name, as dockerd lists them (without `none`).
            log: vec!["json-file".into(), "local".into()],
        },
        memory_limit: cgroups.memory_limit,
        swap_limit: cgroups.swap_limit,
        cpu_cfs_period: cgroups.cpu_cfs_period,
        cpu_cfs_quota: cgroups.cpu_cfs_quota,
        cpu_shares: cgroups.cpu_shares,
        cpu_set: cgroups.cpuset,
        pids_limit: cgroups.pids_limit,
        ipv4_forwarding,
        debug: config.debug,
        nfd: host::open_fds(),
        oom_kill_disable: cgroups.oom_kill_disable,
        ngoroutines: host::threads(),
        system_time: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        logging_driver: "json-file".into(),
        cgroup_driver: "cgroupfs".into(),
        cgroup_version: cgroup_version.into(),
        nevents_listener: 0,
        kernel_version: host::kernel_version(),
        operating_system,
        os_version,
        os_type: "linux".into(),
        architecture: host::machine(),
        index_server_address: "https://index.docker.io/v1/".into(),
        registry_config: registry_config(config, version),
        ncpu: host::ncpu(),
        mem_total: host::mem_total(),
        generic_resources: None,
        docker_root_dir: config.data_root.display().to_string(),
        http_proxy: env_any(&["HTTP_PROXY", "http_proxy"]),
        https_proxy: env_any(&["HTTPS_PROXY", "https_proxy"]),
        no_proxy: env_any(&["NO_PROXY", "no_proxy"]),
        name: host::hostname(),
        labels: config.labels.clone(),
        experimental_build: false,
        server_version: ENGINE_VERSION.into(),
        runtimes: config.runtimes.clone(),
        default_runtime: config.default_runtime.clone(),
        swarm: inactive_swarm(),
        live_restore_enabled: config.live_restore,
        isolation: String::new(),
        init_binary: "docker-init".into(),
        containerd_commit: berth_commit.clone(),
        runc_commit: berth_commit,
        init_commit: json!({ "ID": "N/A" }),
        security_options: (!security_options.is_empty()).then_some(security_options),
        default_address_pools: config.default_address_pools.iter().map(pool_json).collect(),
        cdi_spec_dirs: Vec::new(),
        warnings: (!warnings.is_empty()).then_some(warnings),
    };
    let mut value = serde_json::to_value(info).unwrap_or_else(|_| json!({}));
    add_legacy_fields(&mut value, version);
    Json(value)
}

/// Fields dockerd still sends to older clients (see its `getInfo`).
fn add_legacy_fields(value: &mut Value, version: ApiVersion) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    if version.before(49) {
        for key in ["ContainerdCommit", "RuncCommit", "InitCommit"] {
            if let Some(commit) = obj.get_mut(key).and_then(Value::as_object_mut) {
                let id = commit.get("ID").cloned().unwrap_or(Value::Null);
                commit.insert("Expected".into(), id);
            }
        }
    }
    if version.before(50) {
        obj.insert("BridgeNfIptables".into(), Value::Bool(false));
        obj.insert("BridgeNfIp6tables".into(), Value::Bool(false));
    }
}

fn driver_status(config: &Config) -> Vec<[String; 2]> {
    let fs = nix::sys::statfs::statfs(&config.data_root)
        .map(|s| backing_fs_name(s.filesystem_type()))
        .unwrap_or("<unknown>");
    vec![
        ["Backing Filesystem".into(), fs.into()],
        ["Supports d_type".into(), "true".into()],
        ["Using metacopy".into(), "false".into()],
        ["Native Overlay Diff".into(), "true".into()],
        ["userxattr".into(), "false".into()],
    ]
}

fn backing_fs_name(fs: nix::sys::statfs::FsType) -> &'static str {
    use nix::sys::statfs as s;
    [
        (s::EXT4_SUPER_MAGIC, "extfs"),
        (s::XFS_SUPER_MAGIC, "xfs"),
        (s::BTRFS_SUPER_MAGIC, "btrfs"),
        (s::TMPFS_MAGIC, "tmpfs"),
        (s::OVERLAYFS_SUPER_MAGIC, "overlayfs"),
        (s::NFS_SUPER_MAGIC, "nfs"),
    ]
    .into_iter()
    .find(|(magic, _)| *magic == fs)
    .map(|(_, name)| name)
    .unwrap_or("<unknown>")
}

/// `RegistryConfig`, as dockerd's registry service reports it.
fn registry_config(config: &Config, version: ApiVersion) -> Value {
    let mut cidrs = vec!["::1/128".to_string(), "127.0.0.0/8".to_string()];
    let mut index_configs = serde_json::Map::new();
    let mirrors: Vec<String> = config
        .registry_mirrors
        .iter()
        .map(|m| {
            if m.ends_with('/') {
                m.clone()
            } else {
                format!("{m}/")
            }
        })
        .collect();
    index_configs.insert(
        "docker.io".into(),
        json!({ "Name": "docker.io", "Mirrors": mirrors, "Secure": true, "Official": true }),
    );
    for reg in &config.insecure_registries {
        if reg.contains('/')
            && reg
                .split('/')
                .nth(1)
                .is_some_and(|p| p.parse::<u8>().is_ok())
        {
            if !cidrs.contains(reg) {
                cidrs.push(reg.clone());
            }
        } else {
            index_configs.insert(
                reg.clone(),
                json!({ "Name": reg, "Mirrors": [], "Secure": false, "Official": false }),
            );
        }
    }
    let mut out = json!({
        "InsecureRegistryCIDRs": cidrs,
        "IndexConfigs": index_configs,
        "Mirrors": mirrors,
    });
    if version.before(47) {
        if let Some(obj) = out.as_object_mut() {
            obj.insert("AllowNondistributableArtifactsCIDRs".into(), Value::Null);
            obj.insert(
                "AllowNondistributableArtifactsHostnames".into(),
                Value::Null,
            );
        }
    }
    out
}

fn pool_json(pool: &AddressPool) -> Value {
    json!({ "Base": pool.base, "Size": pool.size })
}

/// dockerd's warnings for API access over TCP without encryption or client verification.
fn tcp_warnings(config: &Config) -> Vec<String> {
    const WARN: &str = "\n         Access to the remote API is equivalent to root access on the host. Refer\n         to the 'Docker daemon attack surface' section in the documentation for\n         more information: https://docs.docker.com/go/attack-surface/";
    let mut out = Vec::new();
    for host in config.host_addrs().unwrap_or_default() {
        if let HostAddr::Tcp { .. } = host {
            let addr = host.to_string().trim_start_matches("tcp://").to_string();
            if !config.tls_enabled() {
                out.push(format!(
                    "WARNING: API is accessible on http://{addr} without encryption.{WARN}"
                ));
            } else if !config.tls_verify {
                out.push(format!("WARNING: API is accessible on https://{addr} without TLS client verification.{WARN}"));
            }
        }
    }
    out
}

fn env_any(names: &[&str]) -> String {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_config_lists_insecure_registries() {
        let config = Config {
            insecure_registries: vec!["10.0.0.0/8".into(), "myreg:5000".into()],
            registry_mirrors: vec!["https://mirror.example".into()],
            ..Config::default()
        };
        let v = registry_config(&config, ApiVersion(53));
        assert_eq!(
            v["InsecureRegistryCIDRs"],
            json!(["::1/128", "127.0.0.0/8", "10.0.0.0/8"])
        );
        assert_eq!(v["IndexConfigs"]["myreg:5000"]["Secure"], json!(false));
        assert_eq!(v["Mirrors"], json!(["https://mirror.example/"]));
        assert!(v.get("AllowNondistributableArtifactsCIDRs").is_none());
        let old = registry_config(&config, ApiVersion(40));
        assert_eq!(old["AllowNondistributableArtifactsCIDRs"], Value::Null);
    }

    #[test]
    fn tcp_warnings_follow_tls() {
        let plain = Config {
            hosts: vec!["tcp://127.0.0.1:2375".into()],
            ..Config::default()
        };
        assert!(tcp_warnings(&plain)[0].contains("http://127.0.0.1:2375 without encryption"));
        let verified = Config {
            tls_verify: true,
            tls: Some(true),
            ..plain
        };
        assert!(tcp_warnings(&verified).is_empty());
    }
}
