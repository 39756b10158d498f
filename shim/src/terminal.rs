//! The console socket (the runtime sends the pty master over it) and resizing.
use crate::runtime_child::RuntimeChild;
use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

pub struct ConsoleSocket {
    listener: UnixListener,
    pub path: PathBuf,
}

impl ConsoleSocket {
    pub fn bind(path: &Path) -> io::Result<ConsoleSocket> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        Ok(ConsoleSocket {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// Waits for the runtime `child` to finish while accepting the pty master it sends.
    /// Returns the child's exit status and the master, if one came.
    pub fn receive_while(
        &self,
        child: &mut RuntimeChild,
        timeout: Duration,
    ) -> io::Result<(std::process::ExitStatus, Option<OwnedFd>)> {
        let deadline = Instant::now() + timeout;
        let mut master = None;
        // Woken by the master's connection or by the runtime's end, whichever first.
        let pidfd = child.pidfd();
        loop {
            if master.is_none() {
                match self.listener.accept() {
                    Ok((s, _)) => master = Some(recv_fd(&s)?),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            if let Some(st) = child.try_wait()? {
                if master.is_none() {
                    if let Ok((s, _)) = self.listener.accept() {
                        master = Some(recv_fd(&s)?);
                    }
                }
                return Ok((st, master));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let st = child.wait()?;
                return Ok((st, master));
            }
            let wake = |fd: i32| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            let mut pfds = [
                wake(self.listener.as_raw_fd()),
                wake(pidfd.as_ref().map_or(-1, |p| p.as_raw_fd())),
            ];
            // Once the master is here only the runtime's end matters (-1: ignored).
            if master.is_some() {
                pfds[0].fd = -1;
            }
            // Without a pidfd (an old kernel), a 20 ms poll of the child's end.
            let ms = match &pidfd {
                Some(_) => deadline
                    .saturating_duration_since(Instant::now())
                    .as_millis()
                    .min(i32::MAX as u128) as i32,
                None => 20,
            };
            // SAFETY: two valid pollfds (a negative fd is ignored by poll).
            unsafe { libc::poll(pfds.as_mut_ptr(), 2, ms) };
        }
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Receives one descriptor sent with SCM_RIGHTS.
fn recv_fd(s: &UnixStream) -> io::Result<OwnedFd> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let msg = recvmsg::<()>(
        s.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(io::Error::from)?;
    let mut got = None;
    for c in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for fd in fds {
                // SAFETY: the kernel just installed this descriptor for us.
                let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                if got.is_none() {
                    got = Some(owned);
                }
            }
        }
    }
    got.ok_or_else(|| io::Error::other("console socket: no descriptor received"))
}

/// TIOCSWINSZ on a pty master.
pub fn resize(master: &impl AsRawFd, width: u16, height: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ with a valid winsize.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
