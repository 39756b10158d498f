//! Finding the node's CNI network: as libcni's `ConfFiles`/`LoadConfList`, the first file
//! (by name) in the conf dir ending in `.conflist`, `.conf` or `.json` that parses; a
//! single-plugin `.conf` is treated as a list of one.
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::CniError;

/// A network configuration list.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkList {
    pub name: String,
    pub cni_version: String,
    /// Each plugin's own configuration object (with its `type`).
    pub plugins: Vec<Value>,
    /// The file it came from.
    pub source: PathBuf,
}

/// Loads the first usable network list in `dir`; `Ok(None)` when there is none.
pub fn load_first(dir: &Path) -> Result<Option<NetworkList>, CniError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CniError::Config(format!("reading {}: {e}", dir.display()))),
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("conf" | "conflist" | "json")
            )
        })
        .collect();
    files.sort();
    for file in files {
        match parse_file(&file) {
            Ok(list) => return Ok(Some(list)),
            Err(e) => tracing::warn!(file = %file.display(), error = %e, "skipping a CNI config"),
        }
    }
    Ok(None)
}

fn parse_file(file: &Path) -> Result<NetworkList, CniError> {
    let text = std::fs::read(file)
        .map_err(|e| CniError::Config(format!("reading {}: {e}", file.display())))?;
    let v: Value = serde_json::from_slice(&text)
        .map_err(|e| CniError::Config(format!("parsing {}: {e}", file.display())))?;
    parse(&v, file)
}

/// A list (`plugins`) or a single plugin configuration (`type`).
pub fn parse(v: &Value, source: &Path) -> Result<NetworkList, CniError> {
    let text = |key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let name = text("name");
    if name.is_empty() {
        return Err(CniError::Config(format!(
            "{}: no network name",
            source.display()
        )));
    }
    let cni_version = match text("cniVersion") {
        v if v.is_empty() => "0.2.0".to_string(),
        v => v,
    };
    let plugins = match v.get("plugins") {
        Some(Value::Array(list)) => list.clone(),
        Some(_) => {
            return Err(CniError::Config(format!(
                "{}: \"plugins\" is not a list",
                source.display()
            )))
        }
        None if v.get("type").is_some() => vec![v.clone()],
        None => {
            return Err(CniError::Config(format!(
                "{}: neither \"plugins\" nor \"type\"",
                source.display()
            )))
        }
    };
    if plugins.is_empty()
        || plugins
            .iter()
            .any(|p| p.get("type").and_then(Value::as_str).is_none())
    {
        return Err(CniError::Config(format!(
            "{}: every plugin needs a \"type\"",
            source.display()
        )));
    }
    Ok(NetworkList {
        name,
        cni_version,
        plugins,
        source: source.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_valid_file_by_name_and_single_plugin_conf() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("05-broken.conflist"), "{").unwrap();
        std::fs::write(
            d.path().join("10-net.conf"),
            r#"{"cniVersion":"1.0.0","name":"n","type":"bridge","bridge":"b0"}"#,
        )
        .unwrap();
        std::fs::write(
            d.path().join("20-other.conflist"),
            r#"{"cniVersion":"1.0.0","name":"o","plugins":[{"type":"loopback"}]}"#,
        )
        .unwrap();
        std::fs::write(d.path().join("README"), "not a config").unwrap();
        let list = load_first(d.path()).unwrap().unwrap();
        assert_eq!(list.name, "n");
        assert_eq!(list.plugins.len(), 1);
        assert_eq!(list.plugins[0]["bridge"], "b0");
        assert!(load_first(&d.path().join("missing")).unwrap().is_none());
    }

    #[test]
    fn refuses_plugins_without_type() {
        let v: Value = serde_json::from_str(r#"{"name":"n","plugins":[{"x":1}]}"#).unwrap();
        assert!(parse(&v, Path::new("f")).is_err());
    }
}
