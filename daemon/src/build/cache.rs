//! The classic builder's local cache (moby `image/cache`): a step is skipped when the
//! current image already has a child made by the same step — the child's
//! `container_config` equal to the step's config as dockerd compares them.
use super::run_config::RunConfig;
use crate::state::Daemon;

/// The newest child of `parent` (`""`: images without parent) made by `step`.
pub fn find(daemon: &Daemon, parent: &str, step: &RunConfig) -> Option<String> {
    daemon
        .images
        .list()
        .into_iter()
        .filter(|r| r.parent == parent)
        .filter(|r| {
            // A pulled image without parent is no cache of a `FROM scratch` step.
            !parent.is_empty() || r.manifest_digest.is_none()
        })
        .filter_map(|r| {
            let bytes = daemon.content.read(&r.id).ok()?;
            let config: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
            let made_by = RunConfig::from_image(config.get("container_config"));
            made_by.same_for_cache(step).then_some(r)
        })
        .max_by_key(|r| r.created_at)
        .map(|r| r.id)
}
