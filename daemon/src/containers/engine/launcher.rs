//! Starting berth-containerd when nothing answers on its socket: detached in its own
//! session (so that it, its shims and the containers outlive berthd), its binaries
//! found next to berthd's own executable, else on PATH.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{EngineClient, EngineError};
use crate::config::Config;

/// How long berth-containerd may take to answer after being started.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// berth-containerd's state folder for this daemon: `<exec-root>/containerd`.
pub fn state_dir(config: &Config) -> PathBuf {
    config.exec_root.join("containerd")
}

/// The socket berth-containerd listens on for this daemon.
pub fn socket_path(config: &Config) -> PathBuf {
    state_dir(config).join("containerd.sock")
}

/// Finds a helper binary: next to the running executable, else on PATH, else the bare name.
pub fn find_binary(name: &str) -> PathBuf {
    if name.contains('/') {
        return PathBuf::from(name);
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    PathBuf::from(name)
}

/// The command line of berth-containerd for `config`.
pub fn command_args(config: &Config) -> Vec<String> {
    let state = state_dir(config);
    let mut args = vec![
        "--address".to_string(),
        socket_path(config).display().to_string(),
        "--state".into(),
        state.display().to_string(),
        "--shim".into(),
        find_binary("berth-shim").display().to_string(),
        "--default-runtime".into(),
        config.default_runtime.clone(),
    ];
    for (name, runtime) in &config.runtimes {
        args.push("--runtime".into());
        args.push(format!("{name}={}", find_binary(&runtime.path).display()));
    }
    if config.debug {
        args.push("--debug".into());
    }
    args
}

/// One launch at a time: the exit waiters and the event follower may all notice at once
/// that berth-containerd is gone.
static LAUNCH: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Connects to berth-containerd, starting it first when nothing answers.
pub async fn connect_or_launch(config: &Config) -> Result<EngineClient, EngineError> {
    let client = EngineClient::new(socket_path(config));
    let _one_at_a_time = LAUNCH.lock().await;
    if client.ping().await {
        tracing::info!(socket = %client.socket().display(), "connected to a running berth-containerd");
        return Ok(client);
    }
    let state = state_dir(config);
    std::fs::create_dir_all(&state)
        .map_err(|e| EngineError::Launch(format!("creating {}: {e}", state.display())))?;
    let _ = std::fs::remove_file(socket_path(config));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state.join("containerd.log"))
        .map_err(|e| EngineError::Launch(format!("opening its log: {e}")))?;
    let log_err = log
        .try_clone()
        .map_err(|e| EngineError::Launch(format!("opening its log: {e}")))?;
    let bin = find_binary("berth-containerd");
    let mut cmd = Command::new(&bin);
    cmd.args(command_args(config))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    // Its own session: no signal sent to berthd's process group reaches it.
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| EngineError::Launch(format!("{}: {e}", bin.display())))?;
    tracing::info!(bin = %bin.display(), pid = child.id(), "started berth-containerd");
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        if client.ping().await {
            // Reap it in the background if it ever exits while berthd runs.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
            return Ok(client);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(EngineError::Launch(format!(
                "{} exited with {status}; see {}",
                bin.display(),
                state.join("containerd.log").display()
            )));
        }
        if tokio::time::Instant::now() > deadline {
            return Err(EngineError::Launch(format!(
                "no answer on {} after {START_TIMEOUT:?}",
                client.socket().display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
