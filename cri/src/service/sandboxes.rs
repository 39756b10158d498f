//! Pod sandboxes, as containerd's CRI plugin runs them: RunPodSandbox pulls the pause
//! image when missing, creates the pod's network namespace and attaches it through CNI
//! (loopback, then the node's network list, with the pod's host ports), writes the pod's
//! files and mounts its shm, then creates and starts the pause process that holds the
//! namespaces. Any failure undoes what was done. StopPodSandbox kills the pod's containers
//! and its pause process and releases the network; RemovePodSandbox removes everything.
//! Both are idempotent: an unknown sandbox is not an error (the CRI contract; containerd
//! 1.6 answered NotFound there).
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{pod_files, Cri};
use crate::backend::CreateTaskRequest;
use crate::cni::{PodIdentity, PortMapping};
use crate::error::{CriError, CriResult};
use crate::proto::{self, PodSandboxConfig};
use crate::store::sandbox::{sandbox_name, Sandbox, SandboxState};
use crate::store::{new_id, now_nanos};

impl Cri {
    /// The pause image's ID, pulled when missing.
    async fn sandbox_image(&self) -> CriResult<String> {
        if let Some(image) = self.images.status(&self.opts.sandbox_image) {
            return Ok(image.id);
        }
        self.images
            .pull(&self.opts.sandbox_image, None)
            .await
            .map_err(|e| {
                CriError::backend(
                    format!("pulling the sandbox image {}", self.opts.sandbox_image),
                    e,
                )
            })
    }

    pub async fn run_pod_sandbox(
        self: &Arc<Self>,
        config: PodSandboxConfig,
        runtime_handler: String,
    ) -> CriResult<String> {
        let meta = config.metadata.clone().ok_or_else(|| {
            CriError::InvalidArgument("sandbox config must include metadata".into())
        })?;
        if meta.name.is_empty() || meta.namespace.is_empty() {
            return Err(CriError::InvalidArgument(
                "sandbox metadata must have a name and a namespace".into(),
            ));
        }
        if !runtime_handler.is_empty() {
            return Err(CriError::NotFound(format!(
                "no runtime for {runtime_handler:?} is configured"
            )));
        }
        let id = new_id();
        let name = sandbox_name(&meta);
        self.sandboxes.reserve_name(&name, &id)?;
        let _lock = self.locks.lock(&id).await;
        let image_id = match self.sandbox_image().await {
            Ok(i) => i,
            Err(e) => {
                self.sandboxes.release_name(&name, &id);
                return Err(e);
            }
        };
        let cgroup_parent = config
            .linux
            .as_ref()
            .map(|l| l.cgroup_parent.clone())
            .unwrap_or_default();
        let record = Sandbox {
            id: id.clone(),
            config,
            runtime_handler,
            created_at: now_nanos(),
            state: SandboxState::Creating,
            netns: None,
            network_attached: false,
            ip: String::new(),
            additional_ips: Vec::new(),
            pid: 0,
            image_id,
            cgroups_path: crate::spec::cgroups_path(&cgroup_parent, &id),
        };
        if let Err(e) = self.sandboxes.insert(record.clone()) {
            self.sandboxes.release_name(&name, &id);
            return Err(e);
        }
        match self.set_up_sandbox(record).await {
            Ok(()) => {
                tracing::info!(sandbox = %id, pod = %name, "pod sandbox ready");
                Ok(id)
            }
            Err(e) => {
                tracing::warn!(sandbox = %id, error = %e, "running the pod sandbox failed; undoing");
                if let Some(s) = self.sandboxes.get(&id) {
                    self.tear_down_sandbox(&s).await;
                    self.release_sandbox_files(&s);
                }
                if let Err(r) = self.sandboxes.remove(&id) {
                    tracing::warn!(sandbox = %id, error = %r, "removing a failed sandbox");
                }
                Err(e)
            }
        }
    }

    fn pod_identity(s: &Sandbox) -> PodIdentity {
        let m = s.config.metadata.clone().unwrap_or_default();
        PodIdentity {
            name: m.name,
            namespace: m.namespace,
            uid: m.uid,
            sandbox_id: s.id.clone(),
        }
    }

    fn port_mappings(s: &Sandbox) -> Vec<PortMapping> {
        s.config
            .port_mappings
            .iter()
            .filter(|p| p.host_port > 0)
            .map(|p| PortMapping {
                host_port: p.host_port,
                container_port: p.container_port,
                protocol: match proto::Protocol::try_from(p.protocol) {
                    Ok(proto::Protocol::Udp) => "udp".into(),
                    Ok(proto::Protocol::Sctp) => "sctp".into(),
                    _ => "tcp".into(),
                },
                host_ip: p.host_ip.clone(),
            })
            .collect()
    }

    /// Network, files, pause process; records each step so a failure can be undone.
    /// Once the network namespace exists, CNI attaches it while the pause process is made
    /// and started in it (nothing of the pod runs before RunPodSandbox answers, so the
    /// order does not show; containerd does them one after the other).
    async fn set_up_sandbox(self: &Arc<Self>, s: Sandbox) -> CriResult<()> {
        let id = s.id.clone();
        let state_dir = self.sandbox_state_dir(&id);
        std::fs::create_dir_all(&state_dir)
            .map_err(|e| CriError::io(format!("creating {}", state_dir.display()), e))?;
        if !s.host_network() {
            let ns = netd::netns::create(&self.opts.state.join("netns"), &id).map_err(|e| {
                CriError::Failed(format!("creating the pod's network namespace: {e}"))
            })?;
            let netns = ns.path().to_path_buf();
            self.sandboxes.update(&id, |r| {
                r.netns = Some(netns.clone());
                Ok(())
            })?;
        }
        let s = self.sandboxes.lookup(&id)?;
        let t0 = std::time::Instant::now();
        let (network, pause) = tokio::join!(
            async {
                let r = self.attach_network(&s).await;
                tracing::debug!(sandbox = %id, ms = t0.elapsed().as_millis() as u64, "pod network attached");
                r
            },
            async {
                let r = self.start_pause(&s).await;
                tracing::debug!(sandbox = %id, ms = t0.elapsed().as_millis() as u64, "pause process started");
                r
            }
        );
        network?;
        let pid = pause?;
        self.sandboxes.update(&id, |r| r.ready(pid))?;
        super::monitor::watch_sandbox(self.clone(), id);
        Ok(())
    }

    /// Loopback, then the node's network list, on the pod's namespace (if it has one).
    async fn attach_network(&self, s: &Sandbox) -> CriResult<()> {
        let Some(netns) = s.netns.clone() else {
            return Ok(());
        };
        let id = &s.id;
        let (pod, ports) = (Self::pod_identity(s), Self::port_mappings(s));
        let (_, attached) = tokio::join!(
            self.loopback(s, &netns),
            self.cni.setup(&pod, &netns, &ports)
        );
        let attached = attached.map_err(|e| {
            CriError::Failed(format!("failed to setup network for sandbox {id:?}: {e}"))
        })?;
        self.sandboxes.update(id, |r| {
            r.network_attached = true;
            r.ip = attached.ip.clone();
            r.additional_ips = attached.additional_ips.clone();
            Ok(())
        })?;
        let _ = crate::store::write_json(
            &self.sandbox_dir(id).join("cni-result.json"),
            &attached.result,
        );
        Ok(())
    }

    /// The pod's files, the pause root and spec, then its task; answers the pause pid.
    async fn start_pause(&self, s: &Sandbox) -> CriResult<u32> {
        let id = &s.id;
        let files = pod_files::paths(
            &self.sandbox_dir(id),
            &self.sandbox_state_dir(id),
            s.host_ipc(),
        );
        pod_files::create(&files, &s.config, s.host_network(), s.host_ipc())?;
        let dir = self.sandbox_dir(id);
        let rootfs = self
            .images
            .mount_rootfs(&s.image_id, &dir)
            .map_err(|e| CriError::backend("mounting the sandbox's root", e))?;
        let image = self
            .images
            .config(&s.image_id)
            .map_err(|e| CriError::backend("reading the sandbox image's config", e))?;
        let sc = s
            .config
            .linux
            .as_ref()
            .and_then(|l| l.security_context.clone())
            .unwrap_or_default();
        let user = crate::spec::security::user(
            self.security.as_ref(),
            &rootfs,
            &crate::spec::security::UserRequest {
                run_as_user: sc.run_as_user.as_ref().map(|v| v.value),
                run_as_group: sc.run_as_group.as_ref().map(|v| v.value),
                supplemental_groups: &sc.supplemental_groups,
                image_user: &image.user,
                ..Default::default()
            },
        )?;
        let spec = crate::spec::sandbox::build(
            self.security.as_ref(),
            &crate::spec::sandbox::SandboxInputs {
                id,
                config: &s.config,
                image: &image,
                rootfs: &rootfs,
                netns: s.netns.as_deref(),
                shm: (!s.host_ipc()).then_some(files.shm.as_path()),
                cgroups_path: &s.cgroups_path,
            },
            &user,
        )?;
        let bundle = dir.join("bundle");
        crate::spec::write_bundle(&bundle, &spec)?;
        tracing::debug!(sandbox = %id, "pause bundle written");
        let task = s.task_id();
        self.tasks
            .create(CreateTaskRequest {
                id: task.clone(),
                bundle: bundle.display().to_string(),
                runtime: None,
                terminal: false,
                stdin: false,
                log: None,
            })
            .await
            .map_err(|e| CriError::backend("creating the sandbox's pause process", e))?;
        self.tasks
            .start(&task)
            .await
            .map_err(|e| CriError::backend("starting the sandbox's pause process", e))
    }

    /// Brings up the namespace's loopback with the CNI `loopback` plugin (as containerd's
    /// go-cni does before the pod network).
    async fn loopback(&self, s: &Sandbox, netns: &Path) {
        let lo =
            serde_json::json!({"cniVersion": "1.0.0", "name": "cni-loopback", "type": "loopback"});
        let args = format!("IgnoreUnknown=1;K8S_POD_INFRA_CONTAINER_ID={}", s.id);
        let inv = crate::cni::plugin::Invocation {
            command: "ADD",
            container_id: &s.id,
            netns,
            ifname: "lo",
            args: &args,
            bin_dirs: &self.opts.cni_bin_dirs,
        };
        if let Err(e) = crate::cni::plugin::run(&inv, &lo).await {
            tracing::warn!(sandbox = %s.id, error = %e, "bringing up the pod's loopback");
        }
    }

    /// [`Cri::tear_down_sandbox`] for recovery.
    pub(crate) async fn tear_down_sandbox_public(&self, s: &Sandbox) {
        self.tear_down_sandbox(s).await;
        self.release_sandbox_files(s);
    }

    /// Kills the pause process, detaches the network and removes the netns. Idempotent.
    async fn tear_down_sandbox(&self, s: &Sandbox) {
        let task = s.task_id();
        match self.tasks.state(&task).await {
            Ok(t) => {
                if t.status.is_live() {
                    let _ = self.tasks.signal(&task, libc::SIGKILL, true).await;
                    let _ = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        self.tasks.wait(&task, None),
                    )
                    .await;
                }
                if let Err(e) = self.tasks.delete(&task).await {
                    if !e.is_not_found() {
                        tracing::warn!(sandbox = %s.id, error = %e, "deleting the pause task");
                    }
                }
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => tracing::warn!(sandbox = %s.id, error = %e, "pause task state"),
        }
        if let Some(netns) = &s.netns {
            if s.network_attached {
                let result = std::fs::read(self.sandbox_dir(&s.id).join("cni-result.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or(serde_json::Value::Null);
                if let Err(e) = self
                    .cni
                    .teardown(
                        &Self::pod_identity(s),
                        netns,
                        &Self::port_mappings(s),
                        &result,
                    )
                    .await
                {
                    tracing::warn!(sandbox = %s.id, error = %e, "detaching the pod's network");
                }
            }
            if let Err(e) = netd::netns::remove(&netd::netns::NetnsPath::existing(netns.clone())) {
                tracing::warn!(sandbox = %s.id, error = %e, "removing the pod's network namespace");
            }
        }
        let _ = self.sandboxes.update(&s.id, |r| {
            r.network_attached = false;
            r.netns = None;
            Ok(())
        });
    }

    /// Unmounts the pod's shm and the pause root.
    fn release_sandbox_files(&self, s: &Sandbox) {
        let files = pod_files::paths(
            &self.sandbox_dir(&s.id),
            &self.sandbox_state_dir(&s.id),
            s.host_ipc(),
        );
        pod_files::release_shm(&files, s.host_ipc());
        self.images
            .release_rootfs(&s.image_id, &self.sandbox_dir(&s.id));
        crate::store::remove_dir_all_quiet(&self.sandbox_state_dir(&s.id));
    }

    pub async fn stop_pod_sandbox(self: &Arc<Self>, id: &str) -> CriResult<()> {
        let s = match self.sandboxes.lookup(id) {
            Ok(s) => s,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        // The pod's containers first, killed (containerd stops them with no grace).
        for c in self
            .containers
            .list()
            .into_iter()
            .filter(|c| c.sandbox_id == s.id)
        {
            self.stop_container(&c.id, 0).await?;
        }
        let _lock = self.locks.lock(&s.id).await;
        let s = self.sandboxes.lookup(&s.id)?;
        self.tear_down_sandbox(&s).await;
        let files = pod_files::paths(
            &self.sandbox_dir(&s.id),
            &self.sandbox_state_dir(&s.id),
            s.host_ipc(),
        );
        pod_files::release_shm(&files, s.host_ipc());
        self.sandboxes.update(&s.id, |r| {
            r.stopped();
            Ok(())
        })?;
        Ok(())
    }

    pub async fn remove_pod_sandbox(self: &Arc<Self>, id: &str) -> CriResult<()> {
        let s = match self.sandboxes.lookup(id) {
            Ok(s) => s,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        if s.state != SandboxState::NotReady {
            self.stop_pod_sandbox(&s.id).await?;
        }
        for c in self
            .containers
            .list()
            .into_iter()
            .filter(|c| c.sandbox_id == s.id)
        {
            self.remove_container(&c.id).await?;
        }
        let _lock = self.locks.lock(&s.id).await;
        let s = match self.sandboxes.lookup(&s.id) {
            Ok(s) => s,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        self.tear_down_sandbox(&s).await;
        self.release_sandbox_files(&s);
        self.sandboxes.remove(&s.id)?;
        tracing::info!(sandbox = %s.id, "pod sandbox removed");
        Ok(())
    }

    pub fn pod_sandbox_status(
        &self,
        id: &str,
        verbose: bool,
    ) -> CriResult<proto::PodSandboxStatusResponse> {
        let s = self.sandboxes.lookup(id)?;
        let status = sandbox_status(&s);
        let mut info = HashMap::new();
        if verbose {
            let v = serde_json::json!({
                "pid": s.pid,
                "netNamespacePath": s.netns,
                "image": s.image_id,
                "runtimeHandler": s.runtime_handler,
                "config": s.config,
            });
            info.insert("info".to_string(), v.to_string());
        }
        Ok(proto::PodSandboxStatusResponse {
            status: Some(status),
            info,
            containers_statuses: Vec::new(),
            timestamp: now_nanos(),
        })
    }

    pub fn list_pod_sandboxes(
        &self,
        filter: Option<proto::PodSandboxFilter>,
    ) -> Vec<proto::PodSandbox> {
        let filter = filter.unwrap_or_default();
        let mut out: Vec<proto::PodSandbox> = self
            .sandboxes
            .list()
            .into_iter()
            .filter(|s| s.state != SandboxState::Creating)
            .filter(|s| filter.id.is_empty() || s.id.starts_with(&filter.id))
            .filter(|s| match &filter.state {
                Some(st) => sandbox_state(s) as i32 == st.state,
                None => true,
            })
            .filter(|s| labels_match(&filter.label_selector, &s.config.labels))
            .map(|s| proto::PodSandbox {
                id: s.id.clone(),
                metadata: s.config.metadata.clone(),
                state: sandbox_state(&s) as i32,
                created_at: s.created_at,
                labels: s.config.labels.clone(),
                annotations: s.config.annotations.clone(),
                runtime_handler: s.runtime_handler.clone(),
            })
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        out
    }

    /// The folder holding the pod's files, for the containers' mounts.
    pub(crate) fn pod_files_of(&self, s: &Sandbox) -> crate::spec::container::PodFiles {
        pod_files::paths(
            &self.sandbox_dir(&s.id),
            &self.sandbox_state_dir(&s.id),
            s.host_ipc(),
        )
    }

    #[allow(dead_code)]
    pub(crate) fn netns_dir(&self) -> PathBuf {
        self.opts.state.join("netns")
    }
}

pub fn sandbox_state(s: &Sandbox) -> proto::PodSandboxState {
    match s.state {
        SandboxState::Ready => proto::PodSandboxState::SandboxReady,
        _ => proto::PodSandboxState::SandboxNotready,
    }
}

pub fn sandbox_status_public(s: &Sandbox) -> proto::PodSandboxStatus {
    sandbox_status(s)
}

fn sandbox_status(s: &Sandbox) -> proto::PodSandboxStatus {
    let ns = s
        .config
        .linux
        .as_ref()
        .and_then(|l| l.security_context.as_ref())
        .and_then(|sc| sc.namespace_options.clone());
    proto::PodSandboxStatus {
        id: s.id.clone(),
        metadata: s.config.metadata.clone(),
        state: sandbox_state(s) as i32,
        created_at: s.created_at,
        network: Some(proto::PodSandboxNetworkStatus {
            ip: s.ip.clone(),
            additional_ips: s
                .additional_ips
                .iter()
                .map(|ip| proto::PodIp { ip: ip.clone() })
                .collect(),
        }),
        linux: Some(proto::LinuxPodSandboxStatus {
            namespaces: Some(proto::Namespace { options: ns }),
        }),
        labels: s.config.labels.clone(),
        annotations: s.config.annotations.clone(),
        runtime_handler: s.runtime_handler.clone(),
    }
}

/// Whether every `key=value` of the selector is among the labels.
pub fn labels_match(selector: &HashMap<String, String>, labels: &HashMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}
