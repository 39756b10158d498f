//! ContainerStatus, ListContainers, UpdateContainerResources and ReopenContainerLog, with
//! containerd's fields: the image as a repo tag when it has one, `image_ref` its repo
//! digest (else its ID), `image_id` its ID, the reason and message of an exit.
use std::collections::HashMap;

use super::sandboxes::labels_match;
use super::Cri;
use crate::error::{CriError, CriResult};
use crate::proto;
use crate::store::container::{Container, ContainerState};

fn state_of(c: &Container) -> proto::ContainerState {
    match c.state {
        ContainerState::Created => proto::ContainerState::ContainerCreated,
        ContainerState::Running => proto::ContainerState::ContainerRunning,
        ContainerState::Exited => proto::ContainerState::ContainerExited,
        ContainerState::Unknown => proto::ContainerState::ContainerUnknown,
    }
}

/// The image spec and image ref a container shows.
fn image_fields(cri: &Cri, c: &Container) -> (proto::ImageSpec, String) {
    let image = cri.images.status(&c.image_id);
    let shown = image
        .as_ref()
        .and_then(|i| i.repo_tags.first().cloned())
        .unwrap_or_else(|| c.image_ref.clone());
    let image_ref = image
        .as_ref()
        .and_then(|i| i.repo_digests.first().cloned())
        .unwrap_or_else(|| c.image_id.clone());
    let user_specified = c
        .config
        .image
        .as_ref()
        .map(|i| i.user_specified_image.clone())
        .unwrap_or_default();
    (
        proto::ImageSpec {
            image: shown,
            user_specified_image: user_specified,
            ..Default::default()
        },
        image_ref,
    )
}

pub fn container_status(cri: &Cri, c: &Container) -> proto::ContainerStatus {
    let (image, image_ref) = image_fields(cri, c);
    let linux = c.config.linux.clone().unwrap_or_default();
    proto::ContainerStatus {
        id: c.id.clone(),
        metadata: c.config.metadata.clone(),
        state: state_of(c) as i32,
        created_at: c.created_at,
        started_at: c.started_at,
        finished_at: c.finished_at,
        exit_code: c.exit_code,
        image: Some(image),
        image_ref,
        reason: c.reason.clone(),
        message: c.message.clone(),
        labels: c.config.labels.clone(),
        annotations: c.config.annotations.clone(),
        mounts: c.config.mounts.clone(),
        log_path: c
            .log_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        resources: linux.resources.map(|r| proto::ContainerResources {
            linux: Some(r),
            windows: None,
        }),
        image_id: c.image_id.clone(),
        ..Default::default()
    }
}

impl Cri {
    pub fn container_status_of(
        &self,
        id: &str,
        verbose: bool,
    ) -> CriResult<proto::ContainerStatusResponse> {
        let c = self.containers.lookup(id)?;
        let mut info = HashMap::new();
        if verbose {
            let v = serde_json::json!({
                "sandboxID": c.sandbox_id,
                "pid": c.pid,
                "config": c.config,
                "cgroupsPath": c.cgroups_path,
            });
            info.insert("info".to_string(), v.to_string());
        }
        Ok(proto::ContainerStatusResponse {
            status: Some(container_status(self, &c)),
            info,
        })
    }

    pub fn list_containers(&self, filter: Option<proto::ContainerFilter>) -> Vec<proto::Container> {
        let f = filter.unwrap_or_default();
        let mut out: Vec<(i64, proto::Container)> = self
            .containers
            .list()
            .into_iter()
            .filter(|c| f.id.is_empty() || c.id.starts_with(&f.id))
            .filter(|c| f.pod_sandbox_id.is_empty() || c.sandbox_id.starts_with(&f.pod_sandbox_id))
            .filter(|c| {
                f.state
                    .as_ref()
                    .is_none_or(|s| s.state == state_of(c) as i32)
            })
            .filter(|c| labels_match(&f.label_selector, &c.config.labels))
            .map(|c| {
                let (image, image_ref) = image_fields(self, &c);
                (
                    c.created_at,
                    proto::Container {
                        id: c.id.clone(),
                        pod_sandbox_id: c.sandbox_id.clone(),
                        metadata: c.config.metadata.clone(),
                        image: Some(image),
                        image_ref,
                        state: state_of(&c) as i32,
                        created_at: c.created_at,
                        labels: c.config.labels.clone(),
                        annotations: c.config.annotations.clone(),
                        image_id: c.image_id.clone(),
                    },
                )
            })
            .collect();
        out.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
        out.into_iter().map(|(_, c)| c).collect()
    }

    pub async fn update_container_resources(
        &self,
        id: &str,
        linux: Option<proto::LinuxContainerResources>,
    ) -> CriResult<()> {
        let c = self.containers.lookup(id)?;
        let _lock = self.locks.lock(&c.id).await;
        let Some(res) = linux else {
            return Ok(());
        };
        if c.state == ContainerState::Running {
            let req = crate::backend::UpdateRequest {
                resources: serde_json::Value::Object(crate::spec::resources::oci(&res)),
            };
            self.tasks
                .update(&c.task_id(), req)
                .await
                .map_err(|e| CriError::backend("updating the container's resources", e))?;
        } else if c.state == ContainerState::Exited {
            return Err(CriError::FailedPrecondition(format!(
                "container {} has exited",
                c.id
            )));
        }
        self.containers.update(&c.id, |r| {
            let linux = r.config.linux.get_or_insert_with(Default::default);
            linux.resources = Some(res.clone());
            Ok(())
        })?;
        Ok(())
    }

    pub async fn reopen_container_log(&self, id: &str) -> CriResult<()> {
        let c = self.containers.lookup(id)?;
        if c.state != ContainerState::Running {
            return Err(CriError::FailedPrecondition(
                "container is not running".into(),
            ));
        }
        if c.log_path.is_none() {
            return Err(CriError::FailedPrecondition(
                "container has no log path".into(),
            ));
        }
        self.tasks
            .reopen_log(&c.task_id())
            .await
            .map_err(|e| CriError::backend("reopening the container's log", e))
    }
}
