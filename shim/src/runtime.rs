//! The OCI runtime's command line (runc-compatible: create/start/kill/pause/resume/delete/exec).
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::in_process::{self, Command as Builtin};

pub struct Runtime {
    pub bin: PathBuf,
    pub root: Option<PathBuf>,
    pub id: String,
}

impl Runtime {
    /// `BIN [--root DIR] <args…>`
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = Command::new(&self.bin);
        if let Some(root) = &self.root {
            c.arg("--root").arg(root);
        }
        c.args(args);
        c
    }

    /// `create --bundle B --pid-file P [--console-socket S] ID` (stdio set by the caller).
    pub fn create(&self, bundle: &Path, pid_file: &Path, console: Option<&Path>) -> Command {
        let mut c = self.command(["create"]);
        c.arg("--bundle")
            .arg(bundle)
            .arg("--pid-file")
            .arg(pid_file);
        if let Some(s) = console {
            c.arg("--console-socket").arg(s);
        }
        c.arg(&self.id);
        c
    }

    /// `exec --process F [--tty --console-socket S] --detach --pid-file P ID`.
    pub fn exec(&self, process: &Path, console: Option<&Path>, pid_file: &Path) -> Command {
        let mut c = self.command(["exec", "--process"]);
        c.arg(process);
        if let Some(s) = console {
            c.arg("--tty").arg("--console-socket").arg(s);
        }
        c.arg("--detach")
            .arg("--pid-file")
            .arg(pid_file)
            .arg(&self.id);
        c
    }

    /// The state root when the runtime is berth-runc: its short commands are then
    /// library calls (`in_process`), not processes.
    fn builtin_root(&self) -> Option<&Path> {
        self.root
            .as_deref()
            .filter(|_| in_process::is_builtin(&self.bin))
    }

    pub fn start(&self) -> Result<()> {
        if let Some(root) = self.builtin_root() {
            return in_process::run(root, &self.id, Builtin::Start);
        }
        self.run(["start", &self.id])
    }

    pub fn kill(&self, signal: i32, all: bool) -> Result<()> {
        if let Some(root) = self.builtin_root() {
            return in_process::run(root, &self.id, Builtin::Kill { signal, all });
        }
        let sig = signal.to_string();
        if all {
            self.run(["kill", "--all", &self.id, &sig])
        } else {
            self.run(["kill", &self.id, &sig])
        }
    }

    pub fn pause(&self) -> Result<()> {
        if let Some(root) = self.builtin_root() {
            return in_process::run(root, &self.id, Builtin::Pause);
        }
        self.run(["pause", &self.id])
    }

    pub fn resume(&self) -> Result<()> {
        if let Some(root) = self.builtin_root() {
            return in_process::run(root, &self.id, Builtin::Resume);
        }
        self.run(["resume", &self.id])
    }

    /// `update --resources FILE ID` (runc's): new limits for the running container.
    pub fn update(&self, resources: &Path) -> Result<()> {
        let file = resources.display().to_string();
        self.run(["update", "--resources", &file, &self.id])
    }

    pub fn delete(&self, force: bool) -> Result<()> {
        if let Some(root) = self.builtin_root() {
            return in_process::run(root, &self.id, Builtin::Delete { force });
        }
        if force {
            self.run(["delete", "--force", &self.id])
        } else {
            self.run(["delete", &self.id])
        }
    }

    /// Runs a short runtime command to completion; its stderr becomes the error.
    fn run<const N: usize>(&self, args: [&str; N]) -> Result<()> {
        let out = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()?;
        check(out.status, &out.stderr)
    }
}

pub fn check(status: std::process::ExitStatus, stderr: &[u8]) -> Result<()> {
    if status.success() {
        Ok(())
    } else {
        let msg = String::from_utf8_lossy(stderr).trim().to_string();
        Err(Error::Runtime(if msg.is_empty() {
            format!("runtime failed: {status}")
        } else {
            msg
        }))
    }
}

/// Reads a pid file the runtime wrote.
pub fn read_pid(path: &Path) -> Result<i32> {
    let s = std::fs::read_to_string(path)?;
    s.trim()
        .parse()
        .map_err(|_| Error::Runtime(format!("bad pid file {}: {s:?}", path.display())))
}
