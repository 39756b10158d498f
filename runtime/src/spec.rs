//! Loading config.json, and the default spec `berth-runc spec` writes.
use crate::error::{Error, Result};
use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

pub const DEFAULT_SPEC: &str = include_str!("assets/default-spec.json");
pub const FEATURES: &str = include_str!("assets/features.json");

pub fn load(bundle: &Path) -> Result<Spec> {
    let p = bundle.join("config.json");
    let data = std::fs::read(&p).map_err(|e| Error::io("read", &p, e))?;
    serde_json::from_slice(&data).map_err(|e| Error::Json(p.display().to_string(), e))
}

pub fn rootfs(bundle: &Path, spec: &Spec) -> Result<PathBuf> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::Spec("root is missing".into()))?;
    let p = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    std::fs::canonicalize(&p).map_err(|e| Error::io("rootfs", &p, e))
}

/// The default spec; `terminal` false when asked (runc's --rootless is not supported).
pub fn default_spec() -> Result<serde_json::Value> {
    serde_json::from_str(DEFAULT_SPEC).map_err(|e| Error::Json("default spec".into(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_parses_as_oci() {
        let s: Spec = serde_json::from_str(DEFAULT_SPEC).expect("spec");
        assert_eq!(
            s.root().as_ref().map(|r| r.path().clone()),
            Some(PathBuf::from("rootfs"))
        );
        let f: serde_json::Value = serde_json::from_str(FEATURES).expect("features");
        assert!(f.get("ociVersionMax").is_some());
    }
}
