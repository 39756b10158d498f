//! A process's stdio as the shim holds it: pipes or a pty master, and stdin buffering.
use crate::runtime_child::ChildFds;
use crate::util;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

/// Our ends of a process's stdio.
#[derive(Default)]
pub struct ProcIo {
    /// Where stdin goes: a pipe's write end or (a dup of) the pty master.
    pub stdin: Option<OwnedFd>,
    pub stdin_buf: Vec<u8>,
    pub close_stdin: bool,
    /// Output: the stdout pipe's read end, or the pty master.
    pub out: Option<OwnedFd>,
    pub err: Option<OwnedFd>,
    /// The pty master kept for resizes (a dup), when there is a terminal.
    pub master: Option<OwnedFd>,
}

impl ProcIo {
    /// Pipes for stdout and stderr, and for stdin if `with_stdin` (else /dev/null).
    /// The other ends are for the runtime's command (which passes them to the process).
    pub fn pipes(with_stdin: bool) -> io::Result<(ProcIo, ChildFds)> {
        let (out_r, out_w) = util::pipe()?;
        let (err_r, err_w) = util::pipe()?;
        util::set_nonblock(&out_r)?;
        util::set_nonblock(&err_r)?;
        let (stdin, child_in) = if with_stdin {
            let (in_r, in_w) = util::pipe()?;
            util::set_nonblock(&in_w)?;
            (Some(in_w), Some(in_r))
        } else {
            (None, None)
        };
        let io = ProcIo {
            stdin,
            out: Some(out_r),
            err: Some(err_r),
            ..Default::default()
        };
        Ok((
            io,
            ChildFds {
                stdin: child_in,
                stdout: Some(out_w),
                stderr: Some(err_w),
            },
        ))
    }

    /// Stdio over a pty master received from the runtime.
    pub fn tty(master: OwnedFd, with_stdin: bool) -> io::Result<ProcIo> {
        util::set_nonblock(&master)?;
        let stdin = if with_stdin {
            Some(master.as_fd().try_clone_to_owned()?)
        } else {
            None
        };
        let keep = master.as_fd().try_clone_to_owned()?;
        Ok(ProcIo {
            stdin,
            out: Some(master),
            master: Some(keep),
            ..Default::default()
        })
    }

    /// Queues stdin bytes and writes what the process takes now.
    pub fn push_stdin(&mut self, data: &[u8]) {
        if self.stdin.is_none() || self.close_stdin {
            return;
        }
        self.stdin_buf.extend_from_slice(data);
        self.flush_stdin();
    }

    /// Writes queued stdin; closes it once drained if asked to. A broken pipe drops stdin.
    pub fn flush_stdin(&mut self) {
        if let Some(fd) = &self.stdin {
            if util::flush_buf(fd, &mut self.stdin_buf).is_err() {
                self.stdin_buf.clear();
                self.stdin = None;
            }
        }
        if self.close_stdin && self.stdin_buf.is_empty() {
            self.stdin = None;
        }
    }

    pub fn output_done(&self) -> bool {
        self.out.is_none() && self.err.is_none()
    }
}
