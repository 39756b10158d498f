//! Containers' lifecycle, as containerd's CRI plugin: CreateContainer resolves the image,
//! mounts the container's root and writes its bundle (no process yet); StartContainer
//! creates and starts the task, its output logged in the CRI format at the kubelet's log
//! path; StopContainer sends the image's stop signal (SIGTERM by default), then SIGKILL
//! after the timeout, and returns once the exit is recorded; RemoveContainer kills what
//! still runs and removes the rest. Stopping or removing what is gone is not an error.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::Cri;
use crate::backend::{CreateTaskRequest, LogConfig, LogFormat};
use crate::error::{CriError, CriResult};
use crate::proto::{ContainerConfig, PodSandboxConfig};
use crate::store::container::{container_name, Container, ContainerState};
use crate::store::sandbox::{sandbox_name, SandboxState};
use crate::store::{new_id, now_nanos};

impl Cri {
    pub async fn create_container(
        self: &Arc<Self>,
        sandbox_id: &str,
        config: ContainerConfig,
        _sandbox_config: Option<PodSandboxConfig>,
    ) -> CriResult<String> {
        let sandbox = self.sandboxes.lookup(sandbox_id)?;
        if sandbox.state != SandboxState::Ready {
            return Err(CriError::FailedPrecondition(format!(
                "sandbox {} is not ready",
                sandbox.id
            )));
        }
        let meta = config.metadata.clone().ok_or_else(|| {
            CriError::InvalidArgument("container config must include metadata".into())
        })?;
        if meta.name.is_empty() {
            return Err(CriError::InvalidArgument(
                "container name must not be empty".into(),
            ));
        }
        let image_ref = config
            .image
            .as_ref()
            .map(|i| i.image.clone())
            .unwrap_or_default();
        let image = self.images.status(&image_ref).ok_or_else(|| {
            CriError::NotFound(format!("failed to resolve image {image_ref:?}: not found"))
        })?;
        let s_name = sandbox_name(&sandbox.config.metadata.clone().unwrap_or_default());
        let id = new_id();
        let name = container_name(&meta, &s_name);
        self.containers.reserve_name(&name, &id)?;
        let _lock = self.locks.lock(&id).await;
        let log_path = match (
            sandbox.config.log_directory.as_str(),
            config.log_path.as_str(),
        ) {
            (dir, path) if !dir.is_empty() && !path.is_empty() => {
                Some(PathBuf::from(dir).join(path))
            }
            _ => None,
        };
        let record = Container {
            id: id.clone(),
            sandbox_id: sandbox.id.clone(),
            config,
            image_ref,
            image_id: image.id.clone(),
            created_at: now_nanos(),
            started_at: 0,
            finished_at: 0,
            exit_code: 0,
            reason: String::new(),
            message: String::new(),
            state: ContainerState::Created,
            log_path,
            pid: 0,
            sandbox_name: s_name,
            cgroups_path: String::new(),
            stopping: false,
        };
        match self.prepare_container(record).await {
            Ok(c) => {
                self.publish(&c, crate::proto::ContainerEventType::ContainerCreatedEvent);
                Ok(id)
            }
            Err(e) => {
                self.images
                    .release_rootfs(&image.id, &self.container_dir(&id));
                crate::store::remove_dir_all_quiet(&self.container_dir(&id));
                self.containers.release_name(&name, &id);
                Err(e)
            }
        }
    }

    /// Mounts the root, builds and writes the bundle, stores the record.
    async fn prepare_container(&self, mut c: Container) -> CriResult<Container> {
        let sandbox = self.sandboxes.lookup(&c.sandbox_id)?;
        let dir = self.container_dir(&c.id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| CriError::io(format!("creating {}", dir.display()), e))?;
        let rootfs = self
            .images
            .mount_rootfs(&c.image_id, &dir)
            .map_err(|e| CriError::backend("mounting the container's root", e))?;
        let image = self
            .images
            .config(&c.image_id)
            .map_err(|e| CriError::backend("reading the image's config", e))?;
        let sc = c
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
                run_as_username: &sc.run_as_username,
                run_as_group: sc.run_as_group.as_ref().map(|v| v.value),
                supplemental_groups: &sc.supplemental_groups,
                image_user: &image.user,
            },
        )?;
        let target_pid = match sc.namespace_options.as_ref() {
            Some(ns) if ns.pid == crate::proto::NamespaceMode::Target as i32 => self
                .containers
                .lookup(&ns.target_id)
                .ok()
                .map(|t| t.pid)
                .filter(|p| *p > 0),
            _ => None,
        };
        let parent = sandbox
            .config
            .linux
            .as_ref()
            .map(|l| l.cgroup_parent.clone())
            .unwrap_or_default();
        c.cgroups_path = crate::spec::cgroups_path(&parent, &c.id);
        let files = self.pod_files_of(&sandbox);
        let spec = crate::spec::container::build(
            self.security.as_ref(),
            &crate::spec::container::ContainerInputs {
                id: &c.id,
                config: &c.config,
                sandbox: &sandbox,
                image: &image,
                image_name: &c.image_ref,
                rootfs: &rootfs,
                files: &files,
                cgroups_path: &c.cgroups_path,
                target_pid,
            },
            &user,
        )?;
        crate::spec::write_bundle(&dir.join("bundle"), &spec)?;
        self.containers.insert(c)
    }

    pub async fn start_container(self: &Arc<Self>, id: &str) -> CriResult<()> {
        let c = self.containers.lookup(id)?;
        let _lock = self.locks.lock(&c.id).await;
        let c = self.containers.lookup(&c.id)?;
        if c.state != ContainerState::Created {
            return Err(CriError::FailedPrecondition(format!(
                "container {} is in {} state",
                c.id,
                crate::store::container::state_name(c.state)
            )));
        }
        let sandbox = self.sandboxes.lookup(&c.sandbox_id)?;
        if sandbox.state != SandboxState::Ready {
            return Err(CriError::FailedPrecondition(format!(
                "sandbox container {:?} is not running",
                sandbox.id
            )));
        }
        let task = c.task_id();
        let started = async {
            self.tasks
                .create(CreateTaskRequest {
                    id: task.clone(),
                    bundle: self
                        .container_dir(&c.id)
                        .join("bundle")
                        .display()
                        .to_string(),
                    runtime: None,
                    terminal: c.config.tty,
                    stdin: c.config.stdin,
                    log: c.log_path.as_ref().map(|path| LogConfig {
                        path: path.display().to_string(),
                        max_size: None,
                        max_file: None,
                        format: LogFormat::Cri,
                    }),
                })
                .await
                .map_err(|e| CriError::backend("failed to create containerd task", e))?;
            tracing::debug!(container = %c.id, "task created");
            self.tasks
                .start(&task)
                .await
                .map_err(|e| CriError::backend("failed to start containerd task", e))
        }
        .await;
        match started {
            Ok(pid) => {
                let (c, ()) = self
                    .containers
                    .update(&c.id, |r| r.start(pid, now_nanos()))?;
                super::monitor::watch_container(self.clone(), c.id.clone());
                self.publish(&c, crate::proto::ContainerEventType::ContainerStartedEvent);
                Ok(())
            }
            Err(e) => {
                let _ = self.tasks.delete(&task).await;
                let message = e.to_string();
                let _ = self.containers.update(&c.id, |r| {
                    r.exit(128, now_nanos(), false)?;
                    r.reason = "StartError".into();
                    r.message = message.clone();
                    Ok(())
                });
                Err(e)
            }
        }
    }

    /// Stops the container: its stop signal, then SIGKILL after `timeout` seconds; returns
    /// once the exit is recorded.
    pub async fn stop_container(self: &Arc<Self>, id: &str, timeout: i64) -> CriResult<()> {
        let c = match self.containers.lookup(id) {
            Ok(c) => c,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        let _lock = self.locks.lock(&c.id).await;
        let c = match self.containers.lookup(&c.id) {
            Ok(c) => c,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        if c.state != ContainerState::Running {
            return Ok(());
        }
        let mut exits = self.exits.subscribe();
        let task = c.task_id();
        let signal = if timeout > 0 {
            self.stop_signal(&c)
        } else {
            libc::SIGKILL
        };
        self.containers.update(&c.id, |r| {
            r.stopping = true;
            Ok(())
        })?;
        if let Err(e) = self.tasks.signal(&task, signal, false).await {
            if !e.is_not_found() && !matches!(e, crate::backend::BackendError::Conflict(_)) {
                return Err(CriError::backend("failed to stop container", e));
            }
        }
        let exited = |this: &Self| {
            this.containers
                .get(&c.id)
                .is_none_or(|r| r.state != ContainerState::Running)
        };
        if signal != libc::SIGKILL
            && !wait_exit(
                self,
                &c.id,
                &mut exits,
                Duration::from_secs(timeout as u64),
                exited,
            )
            .await
        {
            let _ = self.tasks.signal(&task, libc::SIGKILL, true).await;
        }
        if !wait_exit(self, &c.id, &mut exits, Duration::from_secs(30), exited).await {
            // The waiter may be gone (a restart of berth-containerd): ask the task itself.
            super::monitor::check_container(self, &c.id).await;
        }
        if self
            .containers
            .get(&c.id)
            .is_some_and(|r| r.state == ContainerState::Running)
        {
            return Err(CriError::Failed(format!("container {} did not stop", c.id)));
        }
        Ok(())
    }

    /// The image's stop signal (SIGTERM when it names none).
    fn stop_signal(&self, c: &Container) -> i32 {
        let name = self
            .images
            .config(&c.image_id)
            .map(|i| i.stop_signal)
            .unwrap_or_default();
        parse_signal(&name).unwrap_or(libc::SIGTERM)
    }

    pub async fn remove_container(self: &Arc<Self>, id: &str) -> CriResult<()> {
        let c = match self.containers.lookup(id) {
            Ok(c) => c,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        if c.state == ContainerState::Running {
            self.stop_container(&c.id, 0).await?;
        }
        let _lock = self.locks.lock(&c.id).await;
        let c = match self.containers.lookup(&c.id) {
            Ok(c) => c,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        let task = c.task_id();
        match self.tasks.state(&task).await {
            Ok(t) if t.status.is_live() => {
                let _ = self.tasks.signal(&task, libc::SIGKILL, true).await;
                let _ = tokio::time::timeout(Duration::from_secs(10), self.tasks.wait(&task, None))
                    .await;
                let _ = self.tasks.delete(&task).await;
            }
            Ok(_) => {
                let _ = self.tasks.delete(&task).await;
            }
            Err(_) => {}
        }
        self.images
            .release_rootfs(&c.image_id, &self.container_dir(&c.id));
        self.containers.remove(&c.id)?;
        self.publish(&c, crate::proto::ContainerEventType::ContainerDeletedEvent);
        Ok(())
    }
}

/// Waits up to `limit` for `exited` to hold, woken by each recorded exit.
async fn wait_exit(
    cri: &Cri,
    id: &str,
    exits: &mut tokio::sync::broadcast::Receiver<String>,
    limit: Duration,
    exited: impl Fn(&Cri) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if exited(cri) {
            return true;
        }
        match tokio::time::timeout_at(deadline, exits.recv()).await {
            Err(_) => return exited(cri),
            Ok(Ok(done)) if done == id => {}
            Ok(Ok(_)) => {}
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return exited(cri),
        }
    }
}

/// "SIGTERM", "TERM", "15" → the signal number.
pub fn parse_signal(name: &str) -> Option<i32> {
    if name.is_empty() {
        return None;
    }
    if let Ok(n) = name.parse::<i32>() {
        return Some(n);
    }
    let upper = name.to_ascii_uppercase();
    let short = upper.strip_prefix("SIG").unwrap_or(&upper);
    nix::sys::signal::Signal::iterator()
        .find(|s| s.as_str().trim_start_matches("SIG") == short)
        .map(|s| s as i32)
}

#[cfg(test)]
mod tests {
    use super::parse_signal;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGQUIT"), Some(libc::SIGQUIT));
        assert_eq!(parse_signal("term"), Some(libc::SIGTERM));
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal(""), None);
        assert_eq!(parse_signal("NOPE"), None);
    }
}
