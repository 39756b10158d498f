//! The CRI's images over berthd's image store: the same images and layers `docker images`
//! shows (one copy of each layer on the node; an image pulled by `docker pull` can run in
//! a pod, as with dockershim). Names are shown fully qualified, as the CRI wants. Pulls go
//! through the registry client, hence through `--registry-config-dir`'s mirrors.
//! Roots are overlays of the image's unpacked layers, mounted like Docker containers'.
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use berth_cri::backend::{
    BackendError, BackendResult, FsUsage, ImageBackend, ImageConfig, ImageSummary, PullAuth,
};
use serde_json::Value;

use crate::images::config::ImageConfigFile;
use crate::images::refs::{is_tagged, ImageRefs};
use crate::reference::Reference;
use crate::registry::pull::{pull, PullRequest};
use crate::registry::{AuthConfig, RegistryError};
use crate::state::SharedDaemon;
use crate::store::images::ImageRecord;

pub struct DaemonImages(pub SharedDaemon);

fn registry_error(e: RegistryError) -> BackendError {
    match e {
        RegistryError::ManifestNotFound { .. } | RegistryError::NotFound(_) => {
            BackendError::NotFound(e.to_string())
        }
        RegistryError::InvalidParameter(_) | RegistryError::Unsupported(_) => {
            BackendError::InvalidArgument(e.to_string())
        }
        RegistryError::Network(_) => BackendError::Unavailable(e.to_string()),
        other => BackendError::Failed(other.to_string()),
    }
}

fn strings(config: &serde_json::Map<String, Value>, key: &str) -> Vec<String> {
    config
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn string(config: &serde_json::Map<String, Value>, key: &str) -> String {
    config
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

impl DaemonImages {
    fn summary(&self, record: &ImageRecord) -> ImageSummary {
        let refs = ImageRefs::of(&self.0.images, &record.id);
        let config = ImageConfigFile::load(&self.0.content, &record.id).ok();
        let (user, labels) = match &config {
            Some(c) => (
                c.config
                    .as_ref()
                    .map(|m| string(m, "User"))
                    .unwrap_or_default(),
                c.label_pairs().into_iter().collect(),
            ),
            None => (String::new(), Default::default()),
        };
        ImageSummary {
            id: record.id.clone(),
            repo_tags: refs
                .all
                .iter()
                .filter(|r| is_tagged(r))
                .map(Reference::to_string)
                .collect(),
            repo_digests: refs
                .all
                .iter()
                .filter(|r| r.digest.is_some())
                .map(|r| {
                    let mut plain = r.clone();
                    plain.tag = None;
                    plain.to_string()
                })
                .collect(),
            size: crate::images::image_size(record),
            user,
            labels,
        }
    }

    fn rootfs_paths(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
        (dir.join("upper"), dir.join("work"), dir.join("rootfs"))
    }
}

#[async_trait]
impl ImageBackend for DaemonImages {
    async fn pull(&self, reference: &str, auth: Option<PullAuth>) -> BackendResult<String> {
        let reference = Reference::parse_with_default_tag(reference)
            .map_err(|e| BackendError::InvalidArgument(e.to_string()))?;
        let credentials = auth
            .map(|a| AuthConfig {
                username: a.username,
                password: a.password,
                auth: a.auth,
                email: String::new(),
                serveraddress: a.server_address,
                identitytoken: a.identity_token,
                registrytoken: a.registry_token,
            })
            .unwrap_or_default();
        // Nobody reads the progress of a CRI pull.
        let (sink, _progress) = crate::progress::ProgressSink::channel();
        drop(_progress);
        let outcomes = pull(
            self.0.clone(),
            PullRequest {
                reference,
                platform: None,
                credentials,
            },
            sink,
        )
        .await
        .map_err(registry_error)?;
        outcomes
            .into_iter()
            .next()
            .map(|o| o.image_id)
            .ok_or_else(|| BackendError::Failed("the pull produced no image".into()))
    }

    fn list(&self) -> Vec<ImageSummary> {
        self.0
            .images
            .list()
            .iter()
            .map(|r| self.summary(r))
            .collect()
    }

    fn status(&self, name: &str) -> Option<ImageSummary> {
        crate::images::lookup::resolve_in(&self.0.images, name)
            .ok()
            .map(|r| self.summary(&r))
    }

    fn config(&self, id: &str) -> BackendResult<ImageConfig> {
        let file = ImageConfigFile::load(&self.0.content, id)
            .map_err(|e| BackendError::NotFound(e.to_string()))?;
        let c = file.config.unwrap_or_default();
        Ok(ImageConfig {
            entrypoint: strings(&c, "Entrypoint"),
            cmd: strings(&c, "Cmd"),
            env: strings(&c, "Env"),
            working_dir: string(&c, "WorkingDir"),
            user: string(&c, "User"),
            stop_signal: string(&c, "StopSignal"),
        })
    }

    async fn remove(&self, id: &str, keep_record: bool) -> BackendResult<()> {
        let daemon = self.0.clone();
        let id = id.to_string();
        tokio::task::spawn_blocking(move || -> BackendResult<()> {
            if keep_record || !daemon.cri_image_holds.holders(&id).is_empty() {
                for r in daemon.images.refs_of(&id) {
                    daemon
                        .images
                        .remove_ref(&r)
                        .map_err(|e| BackendError::Failed(e.to_string()))?;
                }
                return Ok(());
            }
            crate::images::delete::delete_image(&daemon, &id, true, true)
                .map(|_| ())
                .map_err(|e| match e {
                    crate::images::ImageError::NotFound(m) => BackendError::NotFound(m),
                    crate::images::ImageError::Conflict(m) => BackendError::Conflict(m),
                    other => BackendError::Failed(other.to_string()),
                })
        })
        .await
        .map_err(|e| BackendError::Failed(e.to_string()))?
    }

    fn fs_usage(&self) -> FsUsage {
        let mut seen = std::collections::HashSet::new();
        let mut used = 0u64;
        let mut layers = 0u64;
        for r in self.0.images.list() {
            for l in &r.layers {
                if seen.insert(l.chain_id.clone()) {
                    used += l.size;
                    layers += 1;
                }
            }
        }
        FsUsage {
            mountpoint: self.0.config.data_root.join("layers"),
            used_bytes: used,
            inodes_used: layers,
        }
    }

    fn mount_rootfs(&self, image_id: &str, dir: &Path) -> BackendResult<PathBuf> {
        let record = self
            .0
            .images
            .get(image_id)
            .ok_or_else(|| BackendError::NotFound(format!("image {image_id} not found")))?;
        let (upper, work, rootfs) = Self::rootfs_paths(dir);
        for d in [&upper, &work, &rootfs] {
            std::fs::create_dir_all(d)
                .map_err(|e| BackendError::Failed(format!("creating {}: {e}", d.display())))?;
        }
        if !crate::containers::rootfs::is_mounted(&rootfs) {
            let chain_ids: Vec<String> = record.layers.iter().map(|l| l.chain_id.clone()).collect();
            let lowers = crate::containers::rootfs::lower_dirs(
                &self.0.config.data_root.join("layers"),
                &chain_ids,
            );
            crate::containers::rootfs::mount_overlay_dirs(
                &lowers,
                &upper,
                &work,
                &rootfs,
                &dir.join("empty"),
            )
            .map_err(|e| BackendError::Failed(format!("mounting {}: {e}", rootfs.display())))?;
        }
        self.0.cri_image_holds.hold(image_id, dir.to_path_buf());
        Ok(rootfs)
    }

    fn release_rootfs(&self, image_id: &str, dir: &Path) {
        let (_, _, rootfs) = Self::rootfs_paths(dir);
        if crate::containers::rootfs::is_mounted(&rootfs) {
            if let Err(e) = nix::mount::umount2(&rootfs, nix::mount::MntFlags::MNT_DETACH) {
                tracing::warn!(root = %rootfs.display(), error = %e, "unmounting a pod's root");
            }
        }
        self.0.cri_image_holds.release(image_id, dir);
    }
}
