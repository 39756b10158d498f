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
        let binary = super::runtime_wrappers::binary_for(config, name, runtime, find_binary);
        args.push(format!("{name}={}", binary.display()));
    }
    if config.debug {
        args.push("--debug".into());
    }
    args
}

/// One launch at a time: the exit path and the event follower may all notice at once
/// that berth-containerd is gone.
static LAUNCH: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The fd berth-containerd says "ready" on (`--ready-fd`).
const READY_FD: i32 = 3;

/// Connects to berth-containerd, starting it first when nothing answers, or when the
/// one that answers speaks another protocol version or was started with another
/// configuration (runtimes changed in daemon.json meanwhile): it is stopped first
/// (`replace`), and the new one adopts its tasks.
/// A started one says when its socket accepts connections ("ready" on a pipe,
/// `--ready-fd`).
pub async fn connect_or_launch(config: &Config) -> Result<(), EngineError> {
    let client = EngineClient::new(socket_path(config));
    let _one_at_a_time = LAUNCH.lock().await;
    match client.version().await {
        Ok(v)
            if v.protocol == berth_proto::protocol_version() && v.args == command_args(config) =>
        {
            tracing::debug!(socket = %client.socket().display(), "berth-containerd answers");
            return Ok(());
        }
        // An older (or newer) build's, still running after an upgrade; or one started
        // with other runtimes.
        Ok(v) => super::replace::stop_other_version(&client, &v).await?,
        Err(_) => {}
    }
    let state = state_dir(config);
    std::fs::create_dir_all(&state)
        .map_err(|e| EngineError::Launch(format!("creating {}: {e}", state.display())))?;
    let _ = std::fs::remove_file(socket_path(config));
    let log_path = state.join("containerd.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| EngineError::Launch(format!("opening its log: {e}")))?;
    let log_err = log
        .try_clone()
        .map_err(|e| EngineError::Launch(format!("opening its log: {e}")))?;
    let (ready_read, ready_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| EngineError::Launch(format!("a pipe for its ready message: {e}")))?;
    let bin = find_binary("berth-containerd");
    let mut cmd = Command::new(&bin);
    cmd.args(command_args(config))
        .args(["--ready-fd", &READY_FD.to_string()])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    let write_fd = std::os::fd::AsRawFd::as_raw_fd(&ready_write);
    // Its own session: no signal sent to berthd's process group reaches it. The ready
    // pipe's write end becomes its fd 3 (dup2 clears close-on-exec).
    // SAFETY: setsid and dup2 are async-signal-safe and touch no memory of the parent.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            let ok = if write_fd == READY_FD {
                libc::fcntl(READY_FD, libc::F_SETFD, 0) >= 0
            } else {
                libc::dup2(write_fd, READY_FD) >= 0
            };
            if !ok {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| EngineError::Launch(format!("{}: {e}", bin.display())))?;
    drop(ready_write);
    tracing::info!(bin = %bin.display(), pid = child.id(), "started berth-containerd");
    // Its "ready", or the end of the pipe if it died first.
    let said = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut said = String::new();
        let _ = std::fs::File::from(ready_read).read_to_string(&mut said);
        said
    });
    let said = tokio::time::timeout(START_TIMEOUT, said).await;
    // Reap it in the background if it ever exits while berthd runs.
    let exited = child.try_wait().ok().flatten();
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    match said {
        Ok(Ok(s)) if s.trim() == "ready" => Ok(()),
        Err(_) => Err(EngineError::Launch(format!(
            "no answer on {} after {START_TIMEOUT:?}",
            client.socket().display()
        ))),
        _ => Err(EngineError::Launch(format!(
            "{} exited{} before it was ready; see {}",
            bin.display(),
            exited.map(|s| format!(" with {s}")).unwrap_or_default(),
            log_path.display()
        ))),
    }
}
