//! Running one CNI plugin binary as the CNI specification says: the command and its
//! arguments in `CNI_*` environment variables, the network configuration on stdin, the
//! result (or a `{"code","msg"}` error) on stdout.
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::CniError;

/// What every plugin of one ADD or DEL is told.
#[derive(Debug, Clone)]
pub struct Invocation<'a> {
    pub command: &'a str,
    pub container_id: &'a str,
    pub netns: &'a Path,
    pub ifname: &'a str,
    /// `K=V;K=V` (`CNI_ARGS`).
    pub args: &'a str,
    pub bin_dirs: &'a [PathBuf],
}

/// Finds the plugin `kind` in the bin dirs.
pub fn find(kind: &str, bin_dirs: &[PathBuf]) -> Result<PathBuf, CniError> {
    if kind.contains('/') || kind.is_empty() {
        return Err(CniError::Config(format!("invalid plugin type {kind:?}")));
    }
    bin_dirs
        .iter()
        .map(|d| d.join(kind))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            CniError::Config(format!(
                "failed to find plugin {kind:?} in path {:?}",
                bin_dirs
            ))
        })
}

/// Runs the plugin with `config` on stdin; answers what it printed (parsed), or `Null`
/// for an empty answer (DEL).
pub async fn run(inv: &Invocation<'_>, config: &Value) -> Result<Value, CniError> {
    let kind = config.get("type").and_then(Value::as_str).unwrap_or("");
    let bin = find(kind, inv.bin_dirs)?;
    let path = std::env::join_paths(inv.bin_dirs)
        .map_err(|e| CniError::Config(format!("CNI bin dirs: {e}")))?;
    let mut child = tokio::process::Command::new(&bin)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("CNI_COMMAND", inv.command)
        .env("CNI_CONTAINERID", inv.container_id)
        .env("CNI_NETNS", inv.netns)
        .env("CNI_IFNAME", inv.ifname)
        .env("CNI_ARGS", inv.args)
        .env("CNI_PATH", path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| CniError::Plugin(format!("running {}: {e}", bin.display())))?;
    let input = serde_json::to_vec(config).map_err(|e| CniError::Plugin(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(&input)
            .await
            .map_err(|e| CniError::Plugin(format!("writing to {}: {e}", bin.display())))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| CniError::Plugin(format!("waiting for {}: {e}", bin.display())))?;
    let parsed: Option<Value> = serde_json::from_slice(&out.stdout).ok();
    if !out.status.success() {
        let msg = parsed
            .as_ref()
            .map(|v| {
                let msg = v.get("msg").and_then(Value::as_str).unwrap_or("");
                match v.get("details").and_then(Value::as_str) {
                    Some(d) if !d.is_empty() => format!("{msg}: {d}"),
                    _ => msg.to_string(),
                }
            })
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| {
                format!(
                    "{} {}",
                    String::from_utf8_lossy(&out.stdout).trim(),
                    String::from_utf8_lossy(&out.stderr).trim()
                )
            });
        return Err(CniError::Plugin(format!(
            "plugin type={kind:?} failed ({}): {msg}",
            inv.command.to_ascii_lowercase()
        )));
    }
    Ok(parsed.unwrap_or(Value::Null))
}
