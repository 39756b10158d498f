//! The runtime's `create` and `exec` as a child of the shim, with the process's stdio:
//! the runtime binary executed, or — for berth-runc (`in_process::is_builtin`) — a fork
//! of the shim that runs berth-runc's command line (`berth_runc::entry`) without an exec,
//! saving the binary's loading (about a millisecond) on every run and exec. The forked
//! child starts as the executed binary would: stdio on 0-2, every other descriptor
//! closed (the shim's sockets, other processes' pipes), no signal blocked (the shim
//! blocks SIGCHLD for its signalfd), the same arguments.
use std::ffi::OsString;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};

use crate::in_process;

/// A running runtime command.
pub enum RuntimeChild {
    Executed(Child),
    Forked { pid: libc::pid_t },
}

/// The child's stdio: `None` is /dev/null.
pub struct ChildFds {
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

fn stdio(fd: Option<OwnedFd>) -> Stdio {
    fd.map_or_else(Stdio::null, Stdio::from)
}

/// Starts `cmd` with `fds` as its stdio. Our copies of `fds` are closed on return.
pub fn spawn(mut cmd: Command, fds: ChildFds) -> io::Result<RuntimeChild> {
    if !in_process::is_builtin(std::path::Path::new(cmd.get_program())) {
        let child = cmd
            .stdin(stdio(fds.stdin))
            .stdout(stdio(fds.stdout))
            .stderr(stdio(fds.stderr))
            .spawn()?;
        return Ok(RuntimeChild::Executed(child));
    }
    let mut args: Vec<OsString> = vec![cmd.get_program().to_os_string()];
    args.extend(cmd.get_args().map(|a| a.to_os_string()));
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    let raw = |fd: &Option<OwnedFd>| fd.as_ref().map_or(null.as_raw_fd(), |f| f.as_raw_fd());
    let targets = [raw(&fds.stdin), raw(&fds.stdout), raw(&fds.stderr)];
    // SAFETY: the shim is single-threaded (one poll loop), so the child may allocate;
    // it runs berth-runc's command line and exits without returning.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => forked_child(args, targets),
        pid => Ok(RuntimeChild::Forked { pid }),
    }
}

fn forked_child(args: Vec<OsString>, stdio: [libc::c_int; 3]) -> ! {
    // SAFETY: plain syscalls on descriptors of this (forked) process. Each target is a
    // fresh descriptor above 2 (the shim's 0-2 are /dev/null) or the /dev/null we
    // opened, so the dup2s do not overwrite one another's sources.
    unsafe {
        for (to, from) in stdio.into_iter().enumerate() {
            if libc::dup2(from, to as libc::c_int) < 0 {
                libc::_exit(127);
            }
        }
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
    // A panic must not unwind into the shim's code in this child.
    let code =
        std::panic::catch_unwind(move || berth_runc::entry::main_with_args(args)).unwrap_or(1);
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    // SAFETY: ends the forked child without running the shim's exit handlers.
    unsafe { libc::_exit(code) }
}

impl RuntimeChild {
    fn pid(&self) -> libc::pid_t {
        match self {
            RuntimeChild::Executed(c) => c.id() as libc::pid_t,
            RuntimeChild::Forked { pid } => *pid,
        }
    }

    /// A pidfd of the (unreaped) child: readable once it has exited, for a `poll` that
    /// waits for its end and for something else at once. None on kernels without it.
    pub fn pidfd(&self) -> Option<OwnedFd> {
        // SAFETY: pidfd_open on our own unreaped child; a valid result is a new fd.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, self.pid(), 0) };
        // SAFETY: a fresh descriptor the call just returned, owned here.
        (fd >= 0).then(|| unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) })
    }

    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        match self {
            RuntimeChild::Executed(c) => c.try_wait(),
            RuntimeChild::Forked { pid } => waitpid(*pid, libc::WNOHANG),
        }
    }

    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        match self {
            RuntimeChild::Executed(c) => c.wait(),
            RuntimeChild::Forked { pid } => {
                waitpid(*pid, 0)?.ok_or_else(|| io::Error::other("waitpid returned no status"))
            }
        }
    }

    pub fn kill(&mut self) -> io::Result<()> {
        match self {
            RuntimeChild::Executed(c) => c.kill(),
            // SAFETY: kill(2) on our unreaped child.
            RuntimeChild::Forked { pid } => match unsafe { libc::kill(*pid, libc::SIGKILL) } {
                0 => Ok(()),
                _ => Err(io::Error::last_os_error()),
            },
        }
    }
}

fn waitpid(pid: libc::pid_t, flags: libc::c_int) -> io::Result<Option<ExitStatus>> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid on our own child with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, flags) };
        if r == pid {
            return Ok(Some(ExitStatus::from_raw(status)));
        }
        if r == 0 {
            return Ok(None);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
