//! The pause process's OCI spec, as containerd's `sandboxContainerSpec`: it only holds the
//! pod's namespaces (pid unless the host's, ipc unless the host's, uts and network unless
//! host networking; network joined through the pod's netns file that CNI set up), under
//! the pod's cgroup parent, read-only root, no new privileges, the pod's sysctls.
use std::path::Path;

use serde_json::{json, Map, Value};

use super::{mounts, namespace, security};
use crate::backend::{HostSecurity, ImageConfig, ResolvedUser};
use crate::error::CriResult;
use crate::proto::{NamespaceMode, PodSandboxConfig};

pub struct SandboxInputs<'a> {
    pub id: &'a str,
    pub config: &'a PodSandboxConfig,
    pub image: &'a ImageConfig,
    pub rootfs: &'a Path,
    /// The pod's network namespace file; `None` with host networking.
    pub netns: Option<&'a Path>,
    /// The pod's `/dev/shm` tmpfs; `None` with host IPC.
    pub shm: Option<&'a Path>,
    pub cgroups_path: &'a str,
}

pub fn build(
    host: &dyn HostSecurity,
    inp: &SandboxInputs<'_>,
    user: &ResolvedUser,
) -> CriResult<Value> {
    let linux = inp.config.linux.clone().unwrap_or_default();
    let sc = linux.security_context.clone().unwrap_or_default();
    let ns = sc.namespace_options.clone().unwrap_or_default();
    let privileged = sc.privileged;
    let mode = |m: i32| NamespaceMode::try_from(m).unwrap_or(NamespaceMode::Pod);

    let args = super::container::process_args(&Default::default(), inp.image)?;
    let env = super::container::environment(&inp.image.env, &[], "", &user.home);
    let caps = security::capabilities(host, None, privileged);
    let seccomp = security::seccomp(
        host,
        sc.seccomp.as_ref(),
        #[allow(deprecated)]
        &sc.seccomp_profile_path,
        privileged,
        &caps,
    )?;
    let (masked, readonly) = security::paths(host, &[], &[], privileged);

    let mut namespaces = vec![namespace("mount", None)];
    if mode(ns.pid) != NamespaceMode::Node {
        namespaces.push(namespace("pid", None));
    }
    if mode(ns.ipc) != NamespaceMode::Node {
        namespaces.push(namespace("ipc", None));
    }
    if mode(ns.network) != NamespaceMode::Node {
        namespaces.push(namespace("uts", None));
        namespaces.push(namespace(
            "network",
            inp.netns.map(|p| p.display().to_string()),
        ));
    }

    let mut extra = Vec::new();
    if let Some(shm) = inp.shm {
        extra.push(json!({
            "destination": "/dev/shm",
            "type": "bind",
            "source": shm.display().to_string(),
            "options": ["rbind", "rprivate", "rw"],
        }));
    }
    let all_mounts = mounts::merge(mounts::standard(privileged), extra);

    let mut process = json!({
        "terminal": false,
        "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
        "args": args,
        "env": env,
        "cwd": "/",
        "capabilities": security::capabilities_json(&caps),
        "noNewPrivileges": true,
    });
    // containerd gives the pause process -998; never below berthd's own here.
    process["oomScoreAdj"] = json!(super::restricted_oom_score_adj(-998));

    let rules: Vec<Value> = if privileged {
        vec![json!({"allow": true, "access": "rwm"})]
    } else {
        host.default_device_rules()
            .into_iter()
            .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
            .collect()
    };
    let mut linux_obj = json!({
        "namespaces": namespaces,
        "resources": {"devices": rules},
        "maskedPaths": masked,
        "readonlyPaths": readonly,
    });
    if !inp.cgroups_path.is_empty() {
        linux_obj["cgroupsPath"] = json!(inp.cgroups_path);
    }
    if let Some(s) = seccomp {
        linux_obj["seccomp"] = s;
    }
    if !linux.sysctls.is_empty() {
        linux_obj["sysctl"] = json!(linux.sysctls);
    }
    let mut annotations: Map<String, Value> = inp
        .config
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    annotations.insert("io.kubernetes.cri.container-type".into(), json!("sandbox"));
    annotations.insert("io.kubernetes.cri.sandbox-id".into(), json!(inp.id));

    let mut spec = json!({
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": inp.rootfs.display().to_string(), "readonly": true},
        "mounts": all_mounts,
        "linux": linux_obj,
        "annotations": annotations,
    });
    if mode(ns.network) != NamespaceMode::Node && !inp.config.hostname.is_empty() {
        spec["hostname"] = json!(inp.config.hostname);
    }
    Ok(spec)
}
