//! --console-socket: a pty allocated inside the container, its master sent
//! over the unix socket with SCM_RIGHTS, its slave made the controlling
//! terminal and stdio.
use crate::error::{Error, Result};
use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt, PtyMaster};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::sys::stat::Mode;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

pub fn connect(path: &Path) -> Result<UnixStream> {
    UnixStream::connect(path).map_err(|e| Error::io("connect console socket", path, e))
}

pub struct Pty {
    pub master: PtyMaster,
    pub slave: OwnedFd,
    pub name: PathBuf,
}

pub fn open_pty() -> Result<Pty> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(|e| Error::sys("open /dev/ptmx", e))?;
    grantpt(&master).map_err(|e| Error::sys("grantpt", e))?;
    unlockpt(&master).map_err(|e| Error::sys("unlockpt", e))?;
    let name = PathBuf::from(ptsname_r(&master).map_err(|e| Error::sys("ptsname", e))?);
    let slave = nix::fcntl::open(
        &name,
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys(format!("open {}", name.display()), e))?;
    Ok(Pty {
        master,
        slave,
        name,
    })
}

pub fn set_size(pty: &Pty, width: u32, height: u32) {
    let ws = libc::winsize {
        ws_row: height as u16,
        ws_col: width as u16,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ with a valid winsize.
    unsafe { libc::ioctl(pty.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
}

pub fn send_master(sock: &UnixStream, pty: &Pty) -> Result<()> {
    let name = pty.name.to_string_lossy().to_string();
    let fds = [pty.master.as_raw_fd()];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| Error::sys("send console master", e))?;
    Ok(())
}

/// The slave becomes the controlling terminal (the caller must lead a session) and stdio.
pub fn make_stdio(pty: &Pty) -> Result<()> {
    let fd = pty.slave.as_raw_fd();
    // SAFETY: plain ioctl and dup2 on fds we own.
    unsafe {
        if libc::ioctl(fd, libc::TIOCSCTTY, 0) < 0 {
            return Err(Error::sys("TIOCSCTTY", nix::Error::last()));
        }
        for target in 0..3 {
            if libc::dup2(fd, target) < 0 {
                return Err(Error::sys("dup2 pty", nix::Error::last()));
            }
        }
    }
    Ok(())
}
