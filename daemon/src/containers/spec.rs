//! The OCI runtime spec (`config.json`) of a container, as dockerd builds it
//! (moby `daemon/oci_linux.go`): process, mounts, namespaces, security, resources.
use std::path::Path;

use serde_json::{json, Map, Value};

use super::record::Container;
use super::resources::oci_resources;
use super::shared_namespaces::{Joined, Shm};
use super::{ContainerError, Result};
use crate::security;

/// PATH when neither the image nor the user sets one.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// /dev/shm's size when HostConfig.ShmSize is not given: 64 MiB.
pub const DEFAULT_SHM_SIZE: i64 = 64 * 1024 * 1024;

/// What the spec needs besides the record.
pub struct SpecInputs<'a> {
    /// The mounted root (the overlay).
    pub rootfs: &'a Path,
    /// Whether the host uses cgroup v2 (then the container gets its own cgroup namespace).
    pub cgroup_v2: bool,
    /// The network namespace to join (netd's file, or another container's); `None` with
    /// `--network host`.
    pub netns: Option<&'a Path>,
    /// The init binary (`--init`): bind-mounted read-only at [`INIT_PATH`], which then
    /// runs the container's command.
    pub init: Option<&'a Path>,
    /// The PID and IPC namespaces it joins, and its /dev/shm.
    pub joined: &'a Joined,
}

/// Where the init binary appears inside a container (dockerd's `inContainerInitPath`).
pub const INIT_PATH: &str = "/sbin/docker-init";

/// Whether the container runs an init: HostConfig.Init, else the daemon's `--init`.
pub fn wants_init(c: &Container, daemon_default: bool) -> bool {
    c.host_config.init.unwrap_or(daemon_default)
}

/// The process environment (dockerd's CreateDaemonEnvironment): PATH, HOSTNAME, TERM with a TTY,
/// the links' variables, then Config.Env (replacing same-named entries), HOME from the user when unset.
pub fn process_env(c: &Container, home: Option<&str>) -> Vec<String> {
    let mut env: Vec<String> = Vec::new();
    let user_env = c.config.env.clone().unwrap_or_default();
    let has = |env: &[String], key: &str| env.iter().any(|e| e.split('=').next() == Some(key));
    env.push(format!("PATH={DEFAULT_PATH}"));
    env.push(format!(
        "HOSTNAME={}",
        c.config.hostname.clone().unwrap_or_default()
    ));
    if c.tty() {
        env.push("TERM=xterm".into());
    }
    // The legacy links' variables (dockerd's linkedEnv), before Config.Env.
    env.extend(crate::networks::links::env_of(c));
    replace_or_append_env(&mut env, &user_env);
    if !has(&env, "HOME") {
        env.push(format!("HOME={}", home.unwrap_or("/")));
    }
    env
}

/// Applies `overrides` to `env` as dockerd's `ReplaceOrAppendEnvValues`: `KEY=VALUE`
/// replaces the entry of the same key or is appended; a bare `KEY` (what the CLI sends for
/// `-e KEY` when its own environment has no KEY) unsets it and is not passed on.
pub fn replace_or_append_env(env: &mut Vec<String>, overrides: &[String]) {
    let key_of = |e: &str| e.split('=').next().unwrap_or("").to_string();
    for e in overrides {
        let key = key_of(e);
        if !e.contains('=') {
            env.retain(|x| key_of(x) != key);
        } else if let Some(slot) = env.iter_mut().find(|x| key_of(x) == key) {
            *slot = e.clone();
        } else {
            env.push(e.clone());
        }
    }
}

fn rlimits(c: &Container) -> Vec<Value> {
    c.host_config
        .ulimits
        .iter()
        .flatten()
        .filter_map(|u| {
            let name = u.name.as_deref()?;
            Some(json!({
                "type": format!("RLIMIT_{}", name.to_ascii_uppercase()),
                "hard": u.hard.unwrap_or(0).max(0),
                "soft": u.soft.unwrap_or(0).max(0),
            }))
        })
        .collect()
}

fn standard_mounts(c: &Container, shm: &Shm) -> Vec<Value> {
    let bind = |src: &Path, dst: &str, ro: bool| {
        let mut opts = vec!["rbind", "rprivate"];
        if ro {
            opts.push("ro");
        }
        json!({ "destination": dst, "type": "bind", "source": src.display().to_string(), "options": opts })
    };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
    ];
    match shm {
        Shm::Private => mounts.push(json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={}", super::shared_namespaces::shm_size(c))]})),
        Shm::None => {}
        Shm::Bind(dir) => mounts.push(json!({"destination": "/dev/shm", "type": "bind", "source": dir.display().to_string(), "options": ["rbind", "rprivate"]})),
    }
    let ro = c.host_config.readonly_rootfs == Some(true);
    mounts.push(bind(&c.resolv_conf_path(), "/etc/resolv.conf", ro));
    mounts.push(bind(&c.hostname_path(), "/etc/hostname", ro));
    mounts.push(bind(&c.hosts_path(), "/etc/hosts", ro));
    // The container's own mounts replace dockerd's defaults at the same places.
    let own = super::mounts::spec::destinations(c);
    mounts.retain(|m| !own.iter().any(|d| m["destination"] == d.as_str()));
    mounts.extend(super::mounts::spec::oci_mounts(c));
    mounts
}

fn namespaces(c: &Container, cgroup_v2: bool, netns: Option<&Path>, joined: &Joined) -> Vec<Value> {
    let own_or = |kind: &str, path: &Option<std::path::PathBuf>| match path {
        Some(p) => json!({"type": kind, "path": p.display().to_string()}),
        None => json!({ "type": kind }),
    };
    let mut ns = vec![
        own_or("pid", &joined.pid),
        own_or("ipc", &joined.ipc),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    let network = c.host_config.network_mode.as_deref().unwrap_or("default");
    match netns {
        Some(path) => ns.push(json!({"type": "network", "path": path.display().to_string()})),
        None if network != "host" => ns.push(json!({"type": "network"})),
        None => {}
    }
    if c.host_config.pid_mode.as_deref() == Some("host") {
        ns.retain(|n| n["type"] != "pid");
    }
    if c.host_config.ipc_mode.as_deref() == Some("host") {
        ns.retain(|n| n["type"] != "ipc");
    }
    if c.host_config.uts_mode.as_deref() == Some("host") {
        ns.retain(|n| n["type"] != "uts");
    }
    // Create records the default (private on v2, host on v1); a record without one
    // takes the layout's default. dockerd gives a private mode its own namespace on both.
    let cgroupns_private = match c.host_config.cgroupns_mode {
        Some(m) if !m.as_ref().is_empty() => m.as_ref() == "private",
        _ => cgroup_v2,
    };
    if cgroupns_private {
        ns.push(json!({"type": "cgroup"}));
    }
    ns
}

/// The container's cgroup (`linux.cgroupsPath`): `/berth/<id>`, or under its
/// `--cgroup-parent`.
pub fn cgroups_path(c: &Container) -> String {
    match c
        .host_config
        .cgroup_parent
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        Some(parent) => format!("{}/{}", parent.trim_end_matches('/'), c.id),
        None => format!("/berth/{}", c.id),
    }
}

/// Builds `config.json` for the container `c` running as `user`: the base built here,
/// then the security module's settings (capabilities, seccomp, masked paths, devices,
/// the user) written over it.
pub fn build(
    c: &Container,
    user: &security::users::ResolvedUser,
    inputs: &SpecInputs,
) -> Result<Value> {
    let hc = &c.host_config;
    let sec = security::container::for_container(hc)?;
    let base = base_spec(c, user, inputs)?;
    let mut spec: oci_spec::runtime::Spec = serde_json::from_value(base)
        .map_err(|e| ContainerError::Internal(format!("building the OCI spec: {e}")))?;
    sec.apply_to_spec(&mut spec)?;
    security::container::apply_user_to_spec(&mut spec, user);
    serde_json::to_value(&spec)
        .map_err(|e| ContainerError::Internal(format!("writing the OCI spec: {e}")))
}

/// Everything but the security settings.
fn base_spec(
    c: &Container,
    user: &security::users::ResolvedUser,
    inputs: &SpecInputs,
) -> Result<Value> {
    let hc = &c.host_config;
    let mut args = Vec::new();
    if inputs.init.is_some() {
        args.extend([INIT_PATH.to_string(), "--".to_string()]);
    }
    args.push(c.path.clone());
    args.extend(c.args.iter().cloned());
    let cwd = c
        .config
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".into());
    let mut process = json!({
        "terminal": c.tty(),
        "user": { "uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids },
        "args": args,
        "env": process_env(c, user.home.as_deref()),
        "cwd": cwd,
        "rlimits": rlimits(c),
    });
    if let Some(adj) = hc.oom_score_adj.filter(|a| *a != 0) {
        process["oomScoreAdj"] = json!(adj);
    }
    let cgroups_path = cgroups_path(c);
    let mut linux = Map::new();
    linux.insert(
        "namespaces".into(),
        Value::Array(namespaces(c, inputs.cgroup_v2, inputs.netns, inputs.joined)),
    );
    let mut resources = oci_resources(hc);
    if let Some(io) = super::block_io::oci_block_io(hc)? {
        resources["blockIO"] = io;
    }
    linux.insert("resources".into(), resources);
    linux.insert("cgroupsPath".into(), json!(cgroups_path));
    if let Some(p) = super::mounts::spec::root_propagation(c) {
        linux.insert("rootfsPropagation".into(), json!(p));
    }
    let sysctls = super::sysctls::for_spec(hc);
    if !sysctls.is_empty() {
        linux.insert("sysctl".into(), json!(sysctls));
    }
    let mut spec = json!({
        "ociVersion": "1.0.2",
        "process": process,
        "root": { "path": inputs.rootfs.display().to_string(), "readonly": hc.readonly_rootfs == Some(true) },
        // The host's UTS namespace keeps the host's name (dockerd clears it too).
        "hostname": if hc.uts_mode.as_deref() == Some("host") {
            String::new()
        } else {
            c.config.hostname.clone().unwrap_or_default()
        },
        "mounts": standard_mounts(c, &inputs.joined.shm),
        "linux": Value::Object(linux),
    });
    if let Some(d) = c.config.domainname.as_deref().filter(|d| !d.is_empty()) {
        spec["domainname"] = json!(d);
    }
    if let (Some(init), Some(mounts)) = (inputs.init, spec["mounts"].as_array_mut()) {
        mounts.push(json!({
            "destination": INIT_PATH, "type": "bind",
            "source": init.display().to_string(), "options": ["bind", "ro"],
        }));
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard_stubs::models::{ContainerConfig, HostConfig};

    fn container(tty: bool, env: &[&str]) -> Container {
        Container {
            id: "a".repeat(64),
            name: "/x".into(),
            created: chrono::Utc::now(),
            path: "sh".into(),
            args: vec!["-c".into(), "true".into()],
            config: ContainerConfig {
                hostname: Some("aaaaaaaaaaaa".into()),
                tty: Some(tty),
                env: Some(env.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            },
            host_config: HostConfig {
                memory: Some(64 << 20),
                ..Default::default()
            },
            image_id: String::new(),
            layers: vec![],
            state: Default::default(),
            restart_count: 0,
            mount_points: Vec::new(),
            health: None,
            dir: "/tmp/c".into(),
        }
    }

    #[test]
    fn env_gets_path_hostname_term_and_home() {
        let env = process_env(&container(true, &["A=1"]), Some("/root"));
        assert_eq!(
            env,
            vec![
                format!("PATH={DEFAULT_PATH}"),
                "HOSTNAME=aaaaaaaaaaaa".into(),
                "TERM=xterm".into(),
                "A=1".into(),
                "HOME=/root".into()
            ]
        );
        let env = process_env(&container(false, &["PATH=/x", "HOME=/h"]), Some("/root"));
        assert_eq!(env, vec!["PATH=/x", "HOSTNAME=aaaaaaaaaaaa", "HOME=/h"]);
    }

    #[test]
    fn a_bare_key_unsets_the_variable_instead_of_being_passed_on() {
        let env = process_env(&container(false, &["FOO", "PATH", "A=1"]), Some("/root"));
        assert_eq!(env, vec!["HOSTNAME=aaaaaaaaaaaa", "A=1", "HOME=/root"]);
        let mut env = vec!["A=1".to_string(), "B=2".to_string()];
        replace_or_append_env(&mut env, &["B".into(), "A=3".into(), "C".into()]);
        assert_eq!(env, vec!["A=3"]);
    }

    #[test]
    fn spec_has_docker_defaults() {
        let c = container(false, &[]);
        let user = security::users::ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            home: Some("/root".into()),
        };
        let spec = build(
            &c,
            &user,
            &SpecInputs {
                rootfs: Path::new("/r"),
                cgroup_v2: false,
                netns: None,
                init: None,
                joined: &Joined::default(),
            },
        )
        .unwrap();
        assert_eq!(spec["process"]["args"], json!(["sh", "-c", "true"]));
        assert_eq!(
            spec["linux"]["cgroupsPath"],
            json!(format!("/berth/{}", c.id))
        );
        assert_eq!(
            spec["linux"]["resources"]["memory"]["limit"],
            json!(64 << 20)
        );
        let shm = spec["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/dev/shm")
            .unwrap()
            .clone();
        assert!(shm["options"]
            .as_array()
            .unwrap()
            .contains(&json!("size=67108864")));
        assert!(spec["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .contains(&json!({"type": "network"})));
    }

    #[test]
    fn a_private_cgroup_mode_gets_a_cgroup_namespace_on_either_layout() {
        use bollard_stubs::models::HostConfigCgroupnsModeEnum as M;
        let has_cgroupns = |mode: Option<M>, v2: bool| {
            let mut c = container(false, &[]);
            c.host_config.cgroupns_mode = mode;
            namespaces(&c, v2, None, &Joined::default()).contains(&json!({"type": "cgroup"}))
        };
        assert!(has_cgroupns(Some(M::PRIVATE), false));
        assert!(has_cgroupns(Some(M::PRIVATE), true));
        assert!(!has_cgroupns(Some(M::HOST), true));
        assert!(!has_cgroupns(None, false));
        assert!(has_cgroupns(None, true));
    }

    #[test]
    fn init_runs_the_command_and_is_mounted_read_only() {
        let c = container(false, &[]);
        let user = security::users::ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            home: None,
        };
        let inputs = SpecInputs {
            rootfs: Path::new("/r"),
            cgroup_v2: false,
            netns: None,
            init: Some(Path::new("/usr/bin/tini-static")),
            joined: &Joined::default(),
        };
        let spec = build(&c, &user, &inputs).unwrap();
        assert_eq!(
            spec["process"]["args"],
            json!(["/sbin/docker-init", "--", "sh", "-c", "true"])
        );
        let init = spec["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == INIT_PATH)
            .unwrap()
            .clone();
        assert_eq!(init["source"], "/usr/bin/tini-static");
        assert!(init["options"].as_array().unwrap().contains(&json!("ro")));
        assert!(wants_init(&c, true));
        assert!(!wants_init(&c, false));
    }
}
