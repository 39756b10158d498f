//! Starting shims (`berth-shim start …`) and connecting to them: the `ShimLauncher` trait.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::error::{Error, Result};
use crate::launch_server::{parse_report, LaunchServer};
use crate::model::{LogConfig, LogFormat};
use crate::shim_client::{BoxFut, HttpShimClient, ShimClient};

/// Everything the shim needs to create one task.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    pub id: String,
    pub bundle: PathBuf,
    pub state_dir: PathBuf,
    pub runtime: String,
    pub runtime_root: Option<PathBuf>,
    pub terminal: bool,
    pub stdin: bool,
    pub log: Option<LogConfig>,
}

pub trait ShimLauncher: Send + Sync {
    /// Start a shim that creates the task; returns the control socket's path.
    fn launch(&self, spec: LaunchSpec) -> BoxFut<'_, PathBuf>;
    /// A client for a shim's control socket.
    fn connect(&self, socket: PathBuf) -> Arc<dyn ShimClient>;
    /// The shim of task `id` is gone (it died, or never answered): the runtime's
    /// `delete --force` kills what is left of the container (its processes were
    /// reparented to init) and removes its cgroup and runtime state.
    fn delete_without_shim(&self, id: &str, runtime: &str, runtime_root: &Path) -> BoxFut<'_, ()>;
}

/// Runs the shim binary as a process: forked by the kept-alive launch server when there
/// is one, otherwise `berth-shim start` executed.
pub struct ProcessLauncher {
    pub shim_bin: PathBuf,
    pub timeout: Duration,
    server: Option<LaunchServer>,
}

impl ProcessLauncher {
    /// A launcher that executes `berth-shim start` for each shim.
    pub fn new(shim_bin: impl Into<PathBuf>) -> ProcessLauncher {
        ProcessLauncher {
            shim_bin: shim_bin.into(),
            timeout: Duration::from_secs(120),
            server: None,
        }
    }

    /// Shims forked by a launch server (`berth-shim launch-server`), which names
    /// `state_root` on its command line.
    pub fn with_launch_server(mut self, state_root: impl Into<PathBuf>) -> ProcessLauncher {
        self.server = Some(LaunchServer::new(self.shim_bin.clone(), state_root));
        self
    }

    /// The command line of `berth-shim start`.
    pub fn args(spec: &LaunchSpec) -> Vec<String> {
        let mut a = vec!["start".to_string()];
        a.extend(Self::start_args(spec));
        a
    }

    /// The arguments after `start` (what the launch server is sent).
    fn start_args(spec: &LaunchSpec) -> Vec<String> {
        let mut a = vec![
            "--id".to_string(),
            spec.id.clone(),
            "--bundle".into(),
            spec.bundle.display().to_string(),
            "--state-dir".into(),
            spec.state_dir.display().to_string(),
            "--runtime".into(),
            spec.runtime.clone(),
        ];
        if let Some(root) = &spec.runtime_root {
            a.extend(["--runtime-root".into(), root.display().to_string()]);
        }
        if spec.terminal {
            a.push("--terminal".into());
        }
        if spec.stdin {
            a.push("--stdin".into());
        }
        match &spec.log {
            Some(log) => {
                a.extend(["--log-path".into(), log.path.clone()]);
                if let Some(n) = log.max_size {
                    a.extend(["--log-max-size".into(), n.to_string()]);
                }
                if let Some(n) = log.max_file {
                    a.extend(["--log-max-file".into(), n.to_string()]);
                }
                if log.format != LogFormat::JsonFile {
                    a.extend(["--log-format".into(), log.format.as_str().into()]);
                }
            }
            None => a.push("--no-log".into()),
        }
        a
    }

    fn late(&self, spec: &LaunchSpec) -> Error {
        Error::Shim(format!("shim for {} did not answer in time", spec.id))
    }

    async fn run(&self, spec: LaunchSpec) -> Result<PathBuf> {
        if let Some(server) = &self.server {
            if let Some(report) = server.send(&Self::start_args(&spec)) {
                return self.read_report(&spec, report).await;
            }
        }
        let args = Self::args(&spec);
        tracing::debug!(shim = %self.shim_bin.display(), ?args, "launching shim");
        let mut child = tokio::process::Command::new(&self.shim_bin)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::Shim(format!("cannot run {}: {e}", self.shim_bin.display())))?;
        let stdout = child.stdout.take();
        // The launcher prints the socket's path, newline-ended, once the shim has created
        // the task, then exits: the path is the answer, and its exit is reaped after.
        let read_path = async {
            let mut printed = String::new();
            if let Some(stdout) = stdout {
                let mut stdout = tokio::io::BufReader::new(stdout);
                tokio::io::AsyncBufReadExt::read_line(&mut stdout, &mut printed).await?;
            }
            Ok::<_, std::io::Error>(printed)
        };
        let printed = match tokio::time::timeout(self.timeout, read_path).await {
            Ok(Ok(printed)) if printed.ends_with('\n') => {
                tokio::spawn(async move {
                    let _ = child.wait().await;
                });
                printed
            }
            // No path: the launcher failed, and says why on stderr.
            Ok(Ok(_)) => {
                let out = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
                    Ok(out) => out?,
                    Err(_) => return Err(self.late(&spec)),
                };
                let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
                return Err(Error::Shim(if err.is_empty() {
                    format!("shim exited with {}", out.status)
                } else {
                    err
                }));
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err(self.late(&spec)),
        };
        let printed = printed.trim();
        Ok(if printed.is_empty() {
            spec.state_dir.join("shim.sock")
        } else {
            PathBuf::from(printed)
        })
    }
}

impl ProcessLauncher {
    /// The report of a shim forked by the launch server, read until the shim closes it.
    async fn read_report(&self, spec: &LaunchSpec, report: OwnedFd) -> Result<PathBuf> {
        let mut report = tokio::net::unix::pipe::Receiver::from_owned_fd(report)?;
        let mut text = Vec::new();
        match tokio::time::timeout(self.timeout, report.read_to_end(&mut text)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err(self.late(spec)),
        }
        match parse_report(&String::from_utf8_lossy(&text)) {
            Ok(Some(path)) => Ok(path),
            Ok(None) => Ok(spec.state_dir.join("shim.sock")),
            Err(message) => Err(Error::Shim(message)),
        }
    }
}

impl ShimLauncher for ProcessLauncher {
    fn launch(&self, spec: LaunchSpec) -> BoxFut<'_, PathBuf> {
        Box::pin(self.run(spec))
    }
    fn delete_without_shim(&self, id: &str, runtime: &str, runtime_root: &Path) -> BoxFut<'_, ()> {
        let mut cmd = tokio::process::Command::new(runtime);
        cmd.arg("--root")
            .arg(runtime_root)
            .args(["delete", "--force", id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let id = id.to_string();
        Box::pin(async move {
            match tokio::time::timeout(self.timeout, cmd.output()).await {
                Ok(Ok(out)) if out.status.success() => {
                    tracing::info!(%id, "the runtime deleted what was left of a task without a shim")
                }
                Ok(Ok(out)) => tracing::debug!(
                    %id,
                    stderr = %String::from_utf8_lossy(&out.stderr).trim(),
                    "runtime delete --force of a task without a shim"
                ),
                Ok(Err(e)) => tracing::warn!(%id, error = %e, "running the runtime's delete"),
                Err(_) => tracing::warn!(%id, "the runtime's delete did not end in time"),
            }
            Ok(())
        })
    }
    fn connect(&self, socket: PathBuf) -> Arc<dyn ShimClient> {
        Arc::new(HttpShimClient::new(socket))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shim_command_line() {
        let spec = LaunchSpec {
            id: "c1".into(),
            bundle: "/b".into(),
            state_dir: "/s/c1".into(),
            runtime: "/usr/sbin/runc".into(),
            runtime_root: None,
            terminal: true,
            stdin: false,
            log: Some(LogConfig {
                path: "/l/c1.log".into(),
                max_size: Some(10),
                max_file: None,
                format: LogFormat::Cri,
            }),
        };
        assert_eq!(
            ProcessLauncher::args(&spec).join(" "),
            "start --id c1 --bundle /b --state-dir /s/c1 --runtime /usr/sbin/runc --terminal \
             --log-path /l/c1.log --log-max-size 10 --log-format cri"
        );
        let spec = LaunchSpec {
            log: None,
            terminal: false,
            stdin: true,
            ..spec
        };
        assert!(ProcessLauncher::args(&spec)
            .ends_with(&["--stdin".to_string(), "--no-log".to_string()]));
    }

    /// A task whose bundle and state folders do not exist.
    fn nowhere() -> LaunchSpec {
        LaunchSpec {
            id: "x".into(),
            bundle: "/nonexistent".into(),
            state_dir: "/nonexistent".into(),
            runtime: "runc".into(),
            runtime_root: None,
            terminal: false,
            stdin: false,
            log: None,
        }
    }

    #[tokio::test]
    async fn the_printed_path_is_the_answer_without_waiting_for_the_launchers_exit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("shim");
        std::fs::write(&script, "#!/bin/sh\necho /run/x/shim.sock\nexec sleep 30\n")
            .expect("write");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let l = ProcessLauncher::new(&script);
        let t0 = std::time::Instant::now();
        let socket = l.launch(nowhere()).await.expect("launch");
        assert_eq!(socket, PathBuf::from("/run/x/shim.sock"));
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    }

    #[tokio::test]
    async fn launch_failure_carries_stderr() {
        let l = ProcessLauncher::new("/bin/sh");
        // `sh start ...` fails: "start" is not a script
        let err = l.launch(nowhere()).await.unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!err.to_string().is_empty());
    }
}
