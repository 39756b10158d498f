//! Which containers use an image — the hook between images and containers.
//!
//! dockerd refuses to delete an image a container uses (running: always; stopped: unless
//! forced) and counts users in `GET /images/json?…` (`Containers`). Berth has no container
//! store yet: `containers_using` answers "none". When the container store lands, it
//! replaces the body of `containers_using` (and nothing else in the image service changes).
use crate::state::Daemon;

/// A container that uses an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUser {
    /// Full container ID.
    pub container_id: String,
    pub running: bool,
}

/// Every container (running or stopped) whose image is `image_id` ("sha256:<hex>"), or
/// that mounts it (`--mount type=image`).
pub fn containers_using(daemon: &Daemon, image_id: &str) -> Vec<ImageUser> {
    daemon
        .containers
        .list()
        .into_iter()
        .filter(|c| {
            c.image_id == image_id
                || c.mount_points
                    .iter()
                    .any(|m| m.image.as_ref().is_some_and(|i| i.id == image_id))
        })
        .map(|c| ImageUser {
            container_id: c.id.clone(),
            running: c.state.status.is_running(),
        })
        // Pods' containers (the CRI's) count as running users while their roots are mounted.
        .chain(
            daemon
                .cri_image_holds
                .holders(image_id)
                .into_iter()
                .map(|container_id| ImageUser {
                    container_id,
                    running: true,
                }),
        )
        .collect()
}
