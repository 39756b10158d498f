//! The image service over the engine's image store: names in the CRI's fully qualified
//! form (`docker.io/library/busybox:latest`), the ID as the image reference (the same
//! value in PullImage, Image.id and ContainerStatus.image_id, as CRI v1.36 requires), the
//! config's user split into a uid or a name. RemoveImage removes the image with all its
//! names and is idempotent; while a container of the node runs on it only its names go
//! (the layers stay until that container is removed). The sandbox image is pinned.
use std::collections::HashMap;

use super::Cri;
use crate::backend::{ImageSummary, PullAuth};
use crate::error::{CriError, CriResult};
use crate::proto;

/// The config's `User` as CRI's uid or username ("1000", "1000:50", "nobody:nogroup").
fn user_fields(user: &str) -> (Option<proto::Int64Value>, String) {
    let name = user.split(':').next().unwrap_or("");
    if name.is_empty() {
        return (None, String::new());
    }
    match name.parse::<i64>() {
        Ok(uid) => (Some(proto::Int64Value { value: uid }), String::new()),
        Err(_) => (None, name.to_string()),
    }
}

impl Cri {
    fn to_proto(&self, i: &ImageSummary) -> proto::Image {
        let (uid, username) = user_fields(&i.user);
        let pinned = self
            .images
            .status(&self.opts.sandbox_image)
            .is_some_and(|s| s.id == i.id);
        proto::Image {
            id: i.id.clone(),
            repo_tags: i.repo_tags.clone(),
            repo_digests: i.repo_digests.clone(),
            size: i.size,
            uid,
            username,
            spec: Some(proto::ImageSpec {
                image: i.id.clone(),
                ..Default::default()
            }),
            pinned,
        }
    }

    pub fn list_images(&self, filter: Option<proto::ImageFilter>) -> Vec<proto::Image> {
        let wanted = filter
            .and_then(|f| f.image)
            .map(|s| s.image)
            .filter(|s| !s.is_empty());
        match wanted {
            Some(name) => self
                .images
                .status(&name)
                .iter()
                .map(|i| self.to_proto(i))
                .collect(),
            None => self
                .images
                .list()
                .iter()
                .map(|i| self.to_proto(i))
                .collect(),
        }
    }

    pub fn image_status(
        &self,
        spec: Option<proto::ImageSpec>,
        verbose: bool,
    ) -> CriResult<proto::ImageStatusResponse> {
        let name = spec.map(|s| s.image).unwrap_or_default();
        if name.is_empty() {
            return Err(CriError::InvalidArgument(
                "image name must not be empty".into(),
            ));
        }
        let Some(image) = self.images.status(&name) else {
            return Ok(proto::ImageStatusResponse::default());
        };
        let mut info = HashMap::new();
        if verbose {
            if let Ok(config) = self.images.config(&image.id) {
                let v = serde_json::json!({
                    "imageSpec": {
                        "config": {
                            "Entrypoint": config.entrypoint, "Cmd": config.cmd, "Env": config.env,
                            "WorkingDir": config.working_dir, "User": config.user,
                        }
                    }
                });
                info.insert("info".to_string(), v.to_string());
            }
        }
        Ok(proto::ImageStatusResponse {
            image: Some(self.to_proto(&image)),
            info,
        })
    }

    pub async fn pull_image(
        &self,
        spec: Option<proto::ImageSpec>,
        auth: Option<proto::AuthConfig>,
    ) -> CriResult<String> {
        let name = spec.map(|s| s.image).unwrap_or_default();
        if name.is_empty() {
            return Err(CriError::InvalidArgument(
                "image name must not be empty".into(),
            ));
        }
        let auth = auth.map(|a| PullAuth {
            username: a.username,
            password: a.password,
            auth: a.auth,
            server_address: a.server_address,
            identity_token: a.identity_token,
            registry_token: a.registry_token,
        });
        self.images
            .pull(&name, auth)
            .await
            .map_err(|e| CriError::backend(format!("failed to pull and unpack image {name:?}"), e))
    }

    pub async fn remove_image(&self, spec: Option<proto::ImageSpec>) -> CriResult<()> {
        let name = spec.map(|s| s.image).unwrap_or_default();
        if name.is_empty() {
            return Err(CriError::InvalidArgument(
                "image name must not be empty".into(),
            ));
        }
        let Some(image) = self.images.status(&name) else {
            return Ok(());
        };
        let in_use = self
            .containers
            .list()
            .iter()
            .any(|c| c.image_id == image.id)
            || self.sandboxes.list().iter().any(|s| s.image_id == image.id);
        match self.images.remove(&image.id, in_use).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(CriError::backend(
                format!("failed to remove image {name:?}"),
                e,
            )),
        }
    }

    pub fn image_fs_info(&self) -> proto::ImageFsInfoResponse {
        let usage = self.images.fs_usage();
        let now = crate::store::now_nanos();
        let fs = proto::FilesystemUsage {
            timestamp: now,
            fs_id: Some(proto::FilesystemIdentifier {
                mountpoint: usage.mountpoint.display().to_string(),
            }),
            used_bytes: Some(proto::UInt64Value {
                value: usage.used_bytes,
            }),
            inodes_used: Some(proto::UInt64Value {
                value: usage.inodes_used,
            }),
        };
        proto::ImageFsInfoResponse {
            image_filesystems: vec![fs.clone()],
            container_filesystems: vec![proto::FilesystemUsage {
                fs_id: Some(proto::FilesystemIdentifier {
                    mountpoint: self.opts.root.display().to_string(),
                }),
                ..fs
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::user_fields;

    #[test]
    fn users() {
        assert_eq!(user_fields("1002").0.map(|v| v.value), Some(1002));
        assert_eq!(user_fields("1002:1002").0.map(|v| v.value), Some(1002));
        assert_eq!(user_fields("www-data"), (None, "www-data".to_string()));
        assert_eq!(user_fields("www-data:g").1, "www-data");
        assert_eq!(user_fields(""), (None, String::new()));
    }
}
