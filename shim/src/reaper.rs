//! SIGCHLD through a signalfd, the waitpid loop, and the exit files.
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::util;

pub struct Reaper {
    sfd: OwnedFd,
}

impl Reaper {
    /// Makes this process a child subreaper, blocks SIGCHLD and opens a signalfd for it.
    pub fn new() -> io::Result<Reaper> {
        // SAFETY: plain syscalls on values we own.
        unsafe {
            if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGCHLD);
            if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Reaper {
                sfd: OwnedFd::from_raw_fd(fd),
            })
        }
    }

    pub fn fd(&self) -> i32 {
        self.sfd.as_raw_fd()
    }

    /// Waits until a SIGCHLD is pending or `timeout` has passed; true if one is.
    pub fn wait_signal(&self, timeout: std::time::Duration) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, ms) > 0 }
    }

    /// Empties the signalfd and reaps every exited child: (pid, exit status).
    pub fn reap(&self) -> Vec<(i32, i32)> {
        let mut buf = [0u8; std::mem::size_of::<libc::signalfd_siginfo>()];
        while matches!(util::read_fd(&self.sfd, &mut buf), Ok(n) if n > 0) {}
        let mut out = Vec::new();
        loop {
            let mut status = 0;
            // SAFETY: waitpid with a valid status pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            out.push((pid, exit_code(status)));
        }
        out
    }
}

/// The exit status as Docker reports it: the code, or 128+n for signal n.
pub fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    }
}

/// `{"exit_status": N, "exited_at": "…"[, "oom_killed": bool]}`, written whole.
pub fn write_exit_file(path: &Path, exit: &berth_proto::ExitInfo) -> io::Result<()> {
    util::write_atomic(path, &serde_json::to_vec(exit)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes() {
        assert_eq!(super::exit_code(3 << 8), 3);
        assert_eq!(super::exit_code(9), 137);
    }
}
