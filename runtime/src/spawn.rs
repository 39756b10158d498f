//! Forking the container's processes. On cgroup v2, clone3 with
//! CLONE_INTO_CGROUP starts the child inside its cgroup, so it need not
//! migrate (a cgroup.procs write waits for an RCU grace period); elsewhere,
//! or when the kernel refuses, a plain fork and the child joins itself.
use crate::cgroups::Cgroup;
use crate::error::{Error, Result};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::{ForkResult, Pid};
use std::os::fd::AsRawFd;

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// struct clone_args of clone3(2), up to `cgroup` (CLONE_ARGS_SIZE_VER2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Forks; the bool says whether the child was born in `cgroup` (else it
/// must join it itself).
///
/// The caller (and so the child, which enters the container's namespaces) is made
/// not dumpable first, as runc's nsexec: until the child execs the container's
/// program (which makes it dumpable again), the container's processes cannot ptrace
/// it nor open its `/proc/<pid>/exe`, fds or memory (the CVE-2019-5736 class).
///
/// # Safety
/// As fork(2): the caller must be single-threaded.
pub unsafe fn fork(cgroup: Option<&Cgroup>) -> Result<(ForkResult, bool)> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } < 0 {
        return Err(Error::sys("prctl(PR_SET_DUMPABLE)", nix::Error::last()));
    }
    if let Some(Cgroup::V2 { path }) = cgroup {
        let dir = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::sys(format!("open {}", path.display()), e))?;
        let args = CloneArgs {
            flags: CLONE_INTO_CGROUP,
            exit_signal: libc::SIGCHLD as u64,
            cgroup: dir.as_raw_fd() as u64,
            ..Default::default()
        };
        // SAFETY: args is a valid clone_args of the size given; without a
        // stack the child continues on a copy of ours, as after fork.
        let r = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &args as *const CloneArgs,
                std::mem::size_of::<CloneArgs>(),
            )
        };
        match r {
            0 => return Ok((ForkResult::Child, true)),
            p if p > 0 => {
                crate::logging::debug(&format!("clone3 into {}: pid {p}", path.display()));
                return Ok((
                    ForkResult::Parent {
                        child: Pid::from_raw(p as i32),
                    },
                    true,
                ));
            }
            // Too old a kernel, or a cgroup that refuses: fork, join later.
            _ => crate::logging::debug(&format!(
                "clone3 into {}: {}; forking",
                path.display(),
                std::io::Error::last_os_error()
            )),
        }
    }
    // SAFETY: the caller is single-threaded.
    let r = unsafe { nix::unistd::fork() }.map_err(|e| Error::sys("fork", e))?;
    Ok((r, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_child_that_enters_a_container_is_not_dumpable() {
        // SAFETY: the child only calls prctl and _exit (async-signal-safe), so the test
        // harness's other threads do not matter to it.
        match unsafe { fork(None) }.expect("fork") {
            (ForkResult::Child, _) => {
                // SAFETY: prctl with integer arguments; _exit ends the child at once.
                unsafe {
                    let dumpable = libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0);
                    libc::_exit(if dumpable == 0 { 0 } else { 1 });
                }
            }
            (ForkResult::Parent { child }, _) => {
                let status = nix::sys::wait::waitpid(child, None).expect("waitpid");
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }
}
