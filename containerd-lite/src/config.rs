//! Command line and configuration.

use std::collections::HashMap;
use std::path::PathBuf;

use clap::Parser;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "berth-containerd",
    about = "Berth's task manager: spawns and tracks one berth-shim per container"
)]
pub struct Cli {
    /// The unix socket of the local API.
    #[arg(long, default_value = "/run/berth/containerd/containerd.sock")]
    pub address: PathBuf,
    /// State directory (tasks live in STATE/tasks/<id>/).
    #[arg(long, default_value = "/run/berth/containerd")]
    pub state: PathBuf,
    /// The shim binary.
    #[arg(long, default_value = "berth-shim")]
    pub shim: PathBuf,
    /// Runtime used when a create names none.
    #[arg(long, default_value = "berth-runc")]
    pub default_runtime: String,
    /// Extra runtimes, NAME=PATH (repeatable).
    #[arg(long = "runtime", value_name = "NAME=PATH")]
    pub runtimes: Vec<String>,
    /// Debug logging.
    #[arg(long)]
    pub debug: bool,
    /// A file descriptor (a pipe from whoever started us) on which "ready" is written,
    /// and which is then closed, once the socket accepts connections.
    #[arg(long, value_name = "FD")]
    pub ready_fd: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub address: PathBuf,
    pub state: PathBuf,
    pub shim: PathBuf,
    pub default_runtime: String,
    pub runtimes: HashMap<String, String>,
}

impl Config {
    pub fn from_cli(cli: &Cli) -> Result<Config> {
        let mut runtimes = HashMap::new();
        for r in &cli.runtimes {
            match r.split_once('=') {
                Some((name, path)) if !name.is_empty() && !path.is_empty() => {
                    runtimes.insert(name.to_string(), path.to_string());
                }
                _ => {
                    return Err(Error::BadRequest(format!(
                        "--runtime wants NAME=PATH, got {r:?}"
                    )))
                }
            }
        }
        Ok(Config {
            address: cli.address.clone(),
            state: cli.state.clone(),
            shim: cli.shim.clone(),
            default_runtime: cli.default_runtime.clone(),
            runtimes,
        })
    }

    /// The runtime a create asked for (None: the default), as (name, binary).
    /// A configured name maps to its path; a path is used as is; any other
    /// name is a binary looked up in PATH (`berth-runc`, `runc`, `crun`).
    pub fn resolve_runtime(&self, asked: Option<&str>) -> Result<(String, String)> {
        let name = asked
            .filter(|s| !s.is_empty())
            .unwrap_or(&self.default_runtime);
        if let Some(path) = self.runtimes.get(name) {
            return Ok((name.to_string(), path.clone()));
        }
        if name.contains('/') {
            if !name.starts_with('/') {
                return Err(Error::BadRequest(format!(
                    "runtime path must be absolute: {name}"
                )));
            }
            return Ok((name.to_string(), name.to_string()));
        }
        if name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Ok((name.to_string(), name.to_string()));
        }
        Err(Error::BadRequest(format!("unknown runtime {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(args: &[&str]) -> Result<Config> {
        let mut v = vec!["berth-containerd"];
        v.extend_from_slice(args);
        Config::from_cli(&Cli::parse_from(v))
    }

    #[test]
    fn defaults_and_runtimes() {
        let c = cfg(&[
            "--runtime",
            "runc=/usr/sbin/runc",
            "--runtime",
            "crun=/usr/bin/crun",
        ])
        .unwrap();
        assert_eq!(c.state, PathBuf::from("/run/berth/containerd"));
        assert_eq!(
            c.resolve_runtime(None).unwrap(),
            ("berth-runc".into(), "berth-runc".into())
        );
        assert_eq!(c.resolve_runtime(Some("runc")).unwrap().1, "/usr/sbin/runc");
        assert_eq!(
            c.resolve_runtime(Some("/opt/x/runc")).unwrap().1,
            "/opt/x/runc"
        );
        assert!(c.resolve_runtime(Some("rel/path")).is_err());
        assert!(c.resolve_runtime(Some("bad name")).is_err());
        assert!(cfg(&["--runtime", "noequals"]).is_err());
        let c = cfg(&[
            "--default-runtime",
            "runc",
            "--runtime",
            "runc=/usr/sbin/runc",
        ])
        .unwrap();
        assert_eq!(c.resolve_runtime(Some("")).unwrap().1, "/usr/sbin/runc");
    }
}
