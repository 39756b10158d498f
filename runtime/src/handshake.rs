//! The parent's side of the init's set-up: it reads the init's frames, writes
//! the id maps of a new user namespace, and learns the pid of an init forked
//! into a new pid namespace.
use crate::error::{Error, Result};
use crate::process::{self, ERROR, PID, READY};
use crate::userns;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::WaitPidFlag;
use nix::unistd::Pid;
use oci_spec::runtime::Linux;
use std::os::fd::OwnedFd;

/// Follows the init until it is ready: writes the id maps it asks for and
/// learns the pid of the init forked into a new pid namespace. Returns the
/// init's pid; on failure the init is killed.
pub fn wait_ready(sock: &OwnedFd, child: Pid, linux: Option<&Linux>) -> Result<Pid> {
    let mut init = child;
    let fail = |init: Pid, e: Error| {
        for p in [init, child] {
            let _ = kill(p, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(p, Some(WaitPidFlag::__WALL));
        }
        Err(e)
    };
    loop {
        match process::read_frame(sock)? {
            Some((READY, _)) => return Ok(init),
            Some((userns::MAPS, _)) => {
                let none = Vec::new();
                let uid = linux.and_then(|l| l.uid_mappings().as_ref());
                let gid = linux.and_then(|l| l.gid_mappings().as_ref());
                if let Err(e) =
                    userns::write_maps(child, uid.unwrap_or(&none), gid.unwrap_or(&none))
                {
                    process::write_frame(sock, ERROR, &e.to_string());
                    return fail(init, e);
                }
                process::write_frame(sock, userns::ACK, "");
            }
            Some((PID, p)) => {
                // Stage 1 forked the init and exits.
                let _ = nix::sys::wait::waitpid(child, None);
                match p.parse::<i32>() {
                    Ok(p) => init = Pid::from_raw(p),
                    Err(_) => return fail(init, Error::Child(format!("bad init pid {p:?}"))),
                }
            }
            Some((ERROR, msg)) => return fail(init, Error::Child(msg)),
            other => {
                let e = Error::Child(format!("init exited before it was ready ({other:?})"));
                return fail(init, e);
            }
        }
    }
}
