//! The images a build starts from: `FROM` and `COPY --from` name a local image, an
//! image to pull (progress into the build's stream, credentials from
//! `X-Registry-Config`), an earlier stage, or `scratch` (dockerd's
//! `GetImageAndReleasableLayer` and `getImageOrStage`).
use std::collections::HashMap;

use serde_json::Value;

use super::output::Output;
use super::BuildError;
use crate::progress::ProgressSink;
use crate::reference::Reference;
use crate::registry::platform::Platform;
use crate::registry::pull::{pull, PullRequest};
use crate::registry::AuthConfig;
use crate::state::SharedDaemon;

/// An image a stage or a copy starts from. `id` is empty for `scratch`.
#[derive(Debug, Clone, Default)]
pub struct BaseImage {
    pub id: String,
    /// The image's config blob.
    pub config: Value,
}

/// The results of the stages built so far (dockerd's `stagesBuildResults`).
#[derive(Debug, Default)]
pub struct Stages {
    flat: Vec<String>,
    named: HashMap<String, String>,
}

impl Stages {
    pub fn by_name(&self, name: &str) -> Option<&String> {
        self.named.get(&name.to_ascii_lowercase())
    }

    /// A stage by name or index; `Ok(None)` when `name` is neither.
    pub fn get(&self, name: &str) -> Result<Option<String>, BuildError> {
        if let Some(id) = self.by_name(name) {
            return Ok(Some(id.clone()));
        }
        let Ok(index) = name.parse::<i64>() else {
            return Ok(None);
        };
        if index == self.flat.len() as i64 {
            return Err(BuildError::Internal("refers to current build stage".into()));
        }
        if index < 0 || index > self.flat.len() as i64 {
            return Err(BuildError::Internal("index out of bounds".into()));
        }
        Ok(self.flat.get(index as usize).cloned())
    }

    pub fn check_name(&self, name: Option<&str>) -> Result<(), BuildError> {
        match name {
            Some(n) if self.by_name(n).is_some() => {
                Err(BuildError::Invalid(format!("{n} stage name already used")))
            }
            _ => Ok(()),
        }
    }

    pub fn commit(&mut self, name: Option<&str>, image_id: &str) {
        if let Some(n) = name {
            self.named
                .insert(n.to_ascii_lowercase(), image_id.to_string());
        }
        self.flat.push(image_id.to_string());
    }
}

/// How to look an image up.
pub struct Lookup<'a> {
    pub daemon: &'a SharedDaemon,
    pub out: &'a Output,
    /// `pull=1`: pull even when the image is here.
    pub force_pull: bool,
    pub auth: &'a HashMap<String, AuthConfig>,
    pub platform: Option<Platform>,
}

impl Lookup<'_> {
    /// The image `name` (a reference or an ID): local first (unless `force_pull`),
    /// else pulled; `local_only` for stages' images.
    pub async fn image(&self, name: &str, local_only: bool) -> Result<BaseImage, BuildError> {
        if name == "scratch" {
            return Ok(BaseImage::default());
        }
        if local_only || !self.force_pull {
            match crate::images::lookup::resolve_image(self.daemon, name) {
                Ok(record) => return self.load(&record.id),
                Err(e) if local_only => return Err(e.into()),
                Err(_) => {}
            }
        }
        self.pull(name).await
    }

    fn load(&self, id: &str) -> Result<BaseImage, BuildError> {
        let bytes = self.daemon.content.read(id)?;
        let config = serde_json::from_slice(&bytes)
            .map_err(|e| BuildError::Internal(format!("config of {id}: {e}")))?;
        Ok(BaseImage {
            id: id.to_string(),
            config,
        })
    }

    async fn pull(&self, name: &str) -> Result<BaseImage, BuildError> {
        let reference = Reference::parse_with_default_tag(name)
            .map_err(|e| BuildError::Invalid(e.to_string()))?;
        let request = PullRequest {
            credentials: resolve_auth(self.auth, &reference.domain),
            reference,
            platform: self.platform.clone(),
        };
        let (sink, mut rx) = ProgressSink::channel();
        let daemon = self.daemon.clone();
        let pulling = async move { pull(daemon, request, sink).await };
        let forwarding = async {
            while let Some(message) = rx.recv().await {
                self.out.raw(message.to_line()).await;
            }
        };
        let (result, ()) = tokio::join!(pulling, forwarding);
        let outcomes = result.map_err(crate::api::image_transfer::transfer_error)?;
        let id = outcomes
            .first()
            .map(|o| o.image_id.clone())
            .ok_or_else(|| BuildError::Internal(format!("pulling {name} gave no image")))?;
        self.load(&id)
    }
}

impl From<crate::api::ApiError> for BuildError {
    fn from(e: crate::api::ApiError) -> Self {
        match e.status.as_u16() {
            400 => BuildError::Invalid(e.message),
            404 => BuildError::NotFound(e.message),
            _ => BuildError::Internal(e.message),
        }
    }
}

/// dockerd's `ResolveAuthConfig`: the credentials whose key names the registry (keys
/// may be URLs: "https://index.docker.io/v1/", "http://127.0.0.1:5000/v2/").
pub fn resolve_auth(configs: &HashMap<String, AuthConfig>, domain: &str) -> AuthConfig {
    let hub = domain == "docker.io";
    let host_of = |key: &str| -> String {
        let key = key
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        key.split('/').next().unwrap_or("").to_string()
    };
    configs
        .iter()
        .find(|(key, _)| {
            let host = host_of(key);
            host == domain
                || (hub && matches!(host.as_str(), "index.docker.io" | "registry-1.docker.io"))
        })
        .map(|(_, c)| c.clone())
        .unwrap_or_default()
}

/// The `X-Registry-Config` header: base64url JSON of registry → credentials; what does
/// not decode is ignored, as dockerd does.
pub fn registry_config(header: Option<&str>) -> HashMap<String, AuthConfig> {
    use base64::Engine as _;
    let Some(text) = header.map(str::trim).filter(|t| !t.is_empty()) else {
        return HashMap::new();
    };
    let engines = [
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
        base64::engine::general_purpose::STANDARD,
    ];
    engines
        .iter()
        .find_map(|e| e.decode(text).ok())
        .and_then(|json| crate::gojson::from_slice(&json).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn credentials_are_found_by_registry() {
        let json = r#"{"127.0.0.1:15000":{"username":"u","password":"p"},
                       "https://index.docker.io/v1/":{"username":"hub"}}"#;
        let header = base64::engine::general_purpose::URL_SAFE.encode(json);
        let configs = registry_config(Some(&header));
        assert_eq!(resolve_auth(&configs, "127.0.0.1:15000").username, "u");
        assert_eq!(resolve_auth(&configs, "docker.io").username, "hub");
        assert_eq!(resolve_auth(&configs, "other:5000"), AuthConfig::default());
        assert!(registry_config(Some("!!")).is_empty());
    }

    #[test]
    fn stages_by_name_or_index() {
        let mut s = Stages::default();
        s.commit(Some("Build"), "sha256:a");
        s.commit(None, "sha256:b");
        assert_eq!(s.get("build").unwrap().as_deref(), Some("sha256:a"));
        assert_eq!(s.get("1").unwrap().as_deref(), Some("sha256:b"));
        assert!(s.get("2").is_err());
        assert_eq!(s.get("busybox").unwrap(), None);
        assert!(s.check_name(Some("BUILD")).is_err());
    }
}
