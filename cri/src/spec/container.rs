//! A container's OCI spec, as containerd's CRI plugin builds it: the kubelet's command and
//! arguments over the image's entrypoint and cmd, the environment over the image's, the
//! user resolved in the image, the pod's namespaces joined through its pause process, the
//! pod's files and `/dev/shm`, the kubelet's mounts, devices and resources under the pod's
//! cgroup parent.
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::{mounts, namespace, resources, security};
use crate::backend::{HostSecurity, ImageConfig, ResolvedUser};
use crate::error::{CriError, CriResult};
use crate::proto::{ContainerConfig, NamespaceMode};
use crate::store::sandbox::Sandbox;

/// The files a pod's containers share (in the sandbox's folders).
#[derive(Debug, Clone)]
pub struct PodFiles {
    pub hostname: PathBuf,
    pub hosts: PathBuf,
    pub resolv_conf: PathBuf,
    /// The pod's `/dev/shm` (a tmpfs), or the host's with host IPC.
    pub shm: PathBuf,
}

/// Everything a container's spec is made from.
pub struct ContainerInputs<'a> {
    pub id: &'a str,
    pub config: &'a ContainerConfig,
    pub sandbox: &'a Sandbox,
    pub image: &'a ImageConfig,
    pub image_name: &'a str,
    pub rootfs: &'a Path,
    pub files: &'a PodFiles,
    pub cgroups_path: &'a str,
    /// The init pid of the container a `TARGET` pid namespace names.
    pub target_pid: Option<u32>,
}

/// The process's arguments: the kubelet's command (with its args), else the image's
/// entrypoint with the kubelet's args or the image's cmd.
pub fn process_args(config: &ContainerConfig, image: &ImageConfig) -> CriResult<Vec<String>> {
    let args = if !config.command.is_empty() {
        config
            .command
            .iter()
            .chain(config.args.iter())
            .cloned()
            .collect()
    } else if !config.args.is_empty() {
        image
            .entrypoint
            .iter()
            .chain(config.args.iter())
            .cloned()
            .collect()
    } else {
        image
            .entrypoint
            .iter()
            .chain(image.cmd.iter())
            .cloned()
            .collect::<Vec<_>>()
    };
    if args.is_empty() {
        return Err(CriError::InvalidArgument("no command specified".into()));
    }
    Ok(args)
}

/// The environment: PATH, HOSTNAME, the image's, then the kubelet's (same names replaced),
/// HOME from the user when nobody set it.
pub fn environment(
    image_env: &[String],
    kubelet_env: &[(String, String)],
    hostname: &str,
    home: &str,
) -> Vec<String> {
    let mut env: Vec<String> = Vec::new();
    let mut set = |entry: String| {
        let key = entry.split('=').next().unwrap_or("").to_string();
        match env
            .iter_mut()
            .find(|e| e.split('=').next() == Some(key.as_str()))
        {
            Some(slot) => *slot = entry,
            None => env.push(entry),
        }
    };
    set(format!("PATH={}", super::DEFAULT_PATH));
    if !hostname.is_empty() {
        set(format!("HOSTNAME={hostname}"));
    }
    for e in image_env {
        set(e.clone());
    }
    for (k, v) in kubelet_env {
        set(format!("{k}={v}"));
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={home}"));
    }
    env
}

fn ns_path(pid: u32, kind: &str) -> Option<String> {
    Some(format!("/proc/{pid}/ns/{kind}"))
}

/// Builds the spec. `user` is the resolved identity (see `security::user`).
pub fn build(
    host: &dyn HostSecurity,
    inp: &ContainerInputs<'_>,
    user: &ResolvedUser,
) -> CriResult<Value> {
    let config = inp.config;
    let linux = config.linux.clone().unwrap_or_default();
    let sc = linux.security_context.clone().unwrap_or_default();
    let ns = sc.namespace_options.clone().unwrap_or_default();
    let privileged = sc.privileged;
    let sandbox_privileged = inp
        .sandbox
        .config
        .linux
        .as_ref()
        .and_then(|l| l.security_context.as_ref())
        .is_some_and(|s| s.privileged);
    if privileged && !sandbox_privileged {
        return Err(CriError::InvalidArgument(
            "no privileged container allowed in sandbox".into(),
        ));
    }

    let args = process_args(config, inp.image)?;
    let hostname = inp.sandbox.config.hostname.clone();
    let kubelet_env: Vec<(String, String)> = config
        .envs
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                String::from_utf8_lossy(&kv.value).into_owned(),
            )
        })
        .collect();
    let env = environment(&inp.image.env, &kubelet_env, &hostname, &user.home);
    let cwd = [config.working_dir.as_str(), inp.image.working_dir.as_str()]
        .into_iter()
        .find(|d| !d.is_empty())
        .unwrap_or("/")
        .to_string();

    let caps = security::capabilities(host, sc.capabilities.as_ref(), privileged);
    let seccomp = security::seccomp(
        host,
        sc.seccomp.as_ref(),
        #[allow(deprecated)]
        &sc.seccomp_profile_path,
        privileged,
        &caps,
    )?;
    let (masked, readonly) =
        security::paths(host, &sc.masked_paths, &sc.readonly_paths, privileged);
    let res = linux.resources.clone().unwrap_or_default();

    let mut process = json!({
        "terminal": config.tty,
        "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
        "args": args,
        "env": env,
        "cwd": cwd,
        "capabilities": security::capabilities_json(&caps),
        "noNewPrivileges": sc.no_new_privs,
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    });
    if res.oom_score_adj != 0 {
        process["oomScoreAdj"] = json!(super::restricted_oom_score_adj(res.oom_score_adj));
    }

    // Mounts: standard, the pod's files, then the kubelet's.
    let readonly_root = sc.readonly_rootfs;
    let mut pod_mounts = vec![
        mounts::bind(&inp.files.hostname, "/etc/hostname", readonly_root),
        mounts::bind(&inp.files.hosts, "/etc/hosts", readonly_root),
        mounts::bind(&inp.files.resolv_conf, "/etc/resolv.conf", readonly_root),
    ];
    pod_mounts.push(json!({
        "destination": "/dev/shm",
        "type": "bind",
        "source": inp.files.shm.display().to_string(),
        "options": ["rbind", "rprivate", "rw"],
    }));
    let (kubelet, root_propagation) = mounts::kubelet_mounts(&config.mounts)?;
    let all_mounts = mounts::merge(
        mounts::merge(mounts::standard(privileged), pod_mounts),
        kubelet,
    );

    // Namespaces: the pod's, through its pause process.
    let pause = inp.sandbox.pid;
    let mut namespaces = vec![namespace("mount", None)];
    let mode = |m: i32| NamespaceMode::try_from(m).unwrap_or(NamespaceMode::Pod);
    match mode(ns.pid) {
        NamespaceMode::Node => {}
        NamespaceMode::Container => namespaces.push(namespace("pid", None)),
        NamespaceMode::Target => {
            let pid = inp.target_pid.ok_or_else(|| {
                CriError::NotFound(format!(
                    "target container {:?} is not running",
                    ns.target_id
                ))
            })?;
            namespaces.push(namespace("pid", ns_path(pid, "pid")))
        }
        NamespaceMode::Pod => namespaces.push(namespace("pid", ns_path(pause, "pid"))),
    }
    if mode(ns.ipc) != NamespaceMode::Node {
        namespaces.push(namespace("ipc", ns_path(pause, "ipc")));
    }
    if mode(ns.network) != NamespaceMode::Node {
        namespaces.push(namespace("uts", ns_path(pause, "uts")));
        let net = inp
            .sandbox
            .netns
            .as_ref()
            .map(|p| p.display().to_string())
            .or_else(|| ns_path(pause, "net"));
        namespaces.push(namespace("network", net));
    }

    // Devices and their cgroup rules.
    let mut device_rules: Vec<Value> = if privileged {
        vec![json!({"allow": true, "access": "rwm"})]
    } else {
        host.default_device_rules()
            .into_iter()
            .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
            .collect()
    };
    let mut devices: Vec<Value> = Vec::new();
    if privileged {
        for d in host
            .host_devices()
            .map_err(|e| CriError::backend("listing the host's devices", e))?
        {
            devices.push(serde_json::to_value(d).map_err(|e| CriError::Failed(e.to_string()))?);
        }
    }
    for d in &config.devices {
        let (dev, rule) = device(&d.host_path, &d.container_path, &d.permissions)?;
        devices.push(dev);
        device_rules.push(rule);
    }
    let mut resources: Map<String, Value> = resources::oci(&res);
    resources.insert("devices".into(), Value::Array(device_rules));

    let mut linux_obj = json!({
        "namespaces": namespaces,
        "resources": resources,
        "maskedPaths": masked,
        "readonlyPaths": readonly,
        "devices": devices,
    });
    if !inp.cgroups_path.is_empty() {
        linux_obj["cgroupsPath"] = json!(inp.cgroups_path);
    }
    if let Some(s) = seccomp {
        linux_obj["seccomp"] = s;
    }
    if !root_propagation.is_empty() {
        linux_obj["rootfsPropagation"] = json!(root_propagation);
    }
    let sysctls = inp
        .sandbox
        .config
        .linux
        .as_ref()
        .map(|l| l.sysctls.clone())
        .unwrap_or_default();
    if !sysctls.is_empty() {
        linux_obj["sysctl"] = json!(sysctls);
    }

    let mut annotations: Map<String, Value> = config
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    for (k, v) in [
        ("io.kubernetes.cri.container-type", "container"),
        ("io.kubernetes.cri.sandbox-id", inp.sandbox.id.as_str()),
        (
            "io.kubernetes.cri.container-name",
            config
                .metadata
                .as_ref()
                .map(|m| m.name.as_str())
                .unwrap_or(""),
        ),
        ("io.kubernetes.cri.image-name", inp.image_name),
    ] {
        annotations.insert(k.into(), json!(v));
    }

    Ok(json!({
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": inp.rootfs.display().to_string(), "readonly": readonly_root},
        "mounts": all_mounts,
        "linux": linux_obj,
        "annotations": annotations,
    }))
}

/// A kubelet device: the host node's type and numbers, at the container path, with its
/// cgroup rule ("rwm" by default).
fn device(host_path: &str, container_path: &str, permissions: &str) -> CriResult<(Value, Value)> {
    let meta =
        std::fs::metadata(host_path).map_err(|e| CriError::io(format!("device {host_path}"), e))?;
    let ft = meta.file_type();
    let kind = if ft.is_char_device() {
        "c"
    } else if ft.is_block_device() {
        "b"
    } else {
        return Err(CriError::InvalidArgument(format!(
            "{host_path} is not a device"
        )));
    };
    let rdev = meta.rdev();
    let (major, minor) = (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev));
    let access = if permissions.is_empty() {
        "rwm"
    } else {
        permissions
    };
    let path = if container_path.is_empty() {
        host_path
    } else {
        container_path
    };
    Ok((
        json!({
            "path": path, "type": kind, "major": major, "minor": minor,
            "fileMode": meta.mode() & 0o777, "uid": meta.uid(), "gid": meta.gid(),
        }),
        json!({"allow": true, "type": kind, "major": major, "minor": minor, "access": access}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::KeyValue;

    #[test]
    fn args_follow_containerd() {
        let image = ImageConfig {
            entrypoint: vec!["/ep".into()],
            cmd: vec!["c1".into()],
            ..Default::default()
        };
        let mut c = ContainerConfig::default();
        assert_eq!(process_args(&c, &image).unwrap(), vec!["/ep", "c1"]);
        c.args = vec!["a".into()];
        assert_eq!(process_args(&c, &image).unwrap(), vec!["/ep", "a"]);
        c.command = vec!["sh".into()];
        assert_eq!(process_args(&c, &image).unwrap(), vec!["sh", "a"]);
        assert!(process_args(&ContainerConfig::default(), &ImageConfig::default()).is_err());
    }

    #[test]
    fn env_order_and_overrides() {
        let env = environment(
            &["PATH=/img".into(), "A=1".into()],
            &[("A".into(), "2".into()), ("B".into(), "3".into())],
            "pod",
            "/root",
        );
        assert_eq!(
            env,
            vec!["PATH=/img", "HOSTNAME=pod", "A=2", "B=3", "HOME=/root"]
        );
        let _ = KeyValue::default();
    }
}
