//! Starting processes through the runtime with their stdio: the init (`create`) and
//! extra processes (`exec --detach`).
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::io::ProcIo;
use crate::runtime::{self, Runtime};
use crate::runtime_child::{self, ChildFds};
use crate::terminal::ConsoleSocket;
use crate::util;

/// How long a runtime `create` or `exec` may take.
const RUNTIME_TIMEOUT: Duration = Duration::from_secs(120);

/// A socket path short enough for sun_path: in the state dir if it fits, else in /tmp.
pub fn sock_path(state: &Path, name: &str) -> PathBuf {
    let p = state.join(name);
    if p.as_os_str().len() < 100 {
        p
    } else {
        std::env::temp_dir().join(format!("berth-{}-{name}", std::process::id()))
    }
}

/// Runs `cmd` (a runtime create or exec) with the process's stdio wired up.
/// Returns the shim's ends of that stdio once the runtime has exited successfully.
pub fn run_with_stdio(
    cmd: Command,
    console: Option<&Path>,
    terminal: bool,
    stdin: bool,
) -> Result<ProcIo> {
    if terminal {
        let path =
            console.ok_or_else(|| Error::BadRequest("terminal without console socket".into()))?;
        let sock = ConsoleSocket::bind(path)?;
        let (err_r, err_w) = util::pipe()?;
        let fds = ChildFds {
            stdin: None,
            stdout: None,
            stderr: Some(err_w),
        };
        let mut child = runtime_child::spawn(cmd, fds)?;
        let (status, master) = sock.receive_while(&mut child, RUNTIME_TIMEOUT)?;
        let mut err = Vec::new();
        let _ = std::fs::File::from(err_r).read_to_end(&mut err);
        runtime::check(status, &err)?;
        let master: OwnedFd =
            master.ok_or_else(|| Error::Runtime("runtime sent no pty master".into()))?;
        Ok(ProcIo::tty(master, stdin)?)
    } else {
        let (io, fds) = ProcIo::pipes(stdin)?;
        // Our copies of the child's ends are closed once it runs, or output never ends.
        let mut child = runtime_child::spawn(cmd, fds)?;
        let status = child.wait()?;
        if !status.success() {
            // The runtime's own error went to the process's stderr pipe.
            let mut err = Vec::new();
            let mut buf = [0u8; 4096];
            if let Some(fd) = &io.err {
                while let Ok(n @ 1..) = util::read_fd(fd, &mut buf) {
                    err.extend_from_slice(&buf[..n]);
                }
            }
            runtime::check(status, &err)?;
        }
        Ok(io)
    }
}

/// `runtime exec` of a prepared exec process; returns its stdio and pid.
pub fn start_exec(
    rt: &Runtime,
    state: &Path,
    exec_id: &str,
    process: &serde_json::Value,
    terminal: bool,
    stdin: bool,
) -> Result<(ProcIo, i32)> {
    let mut process = process.clone();
    if let Some(obj) = process.as_object_mut() {
        obj.insert("terminal".into(), serde_json::Value::Bool(terminal));
    } else {
        return Err(Error::BadRequest("process must be an object".into()));
    }
    let pfile = state.join(format!("exec-{exec_id}.process.json"));
    let pidfile = state.join(format!("exec-{exec_id}.pid"));
    util::write_atomic(&pfile, process.to_string().as_bytes())?;
    let console = sock_path(state, &format!("exec-{exec_id}.sock"));
    let cmd = rt.exec(&pfile, terminal.then_some(console.as_path()), &pidfile);
    let result = run_with_stdio(cmd, Some(&console), terminal, stdin);
    let _ = std::fs::remove_file(&pfile);
    let io = result?;
    let pid = runtime::read_pid(&pidfile)?;
    let _ = std::fs::remove_file(&pidfile);
    Ok((io, pid))
}

/// Checks an exec id is a plain name (it becomes part of file names).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && id != "."
        && id != ".."
}
