//! The user process: the steps shared by the container init and `exec`
//! (oom score, rlimits, cwd, user, capabilities, no_new_privs, execve), and
//! the child→parent sync frames.
use crate::capabilities;
use crate::error::{Error, Result};
use crate::rlimits;
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::Process;
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub const READY: u8 = b'R';
pub const ERROR: u8 = b'E';
pub const PID: u8 = b'P';

pub fn write_frame(fd: &OwnedFd, kind: u8, msg: &str) {
    let mut f = std::fs::File::from(fd.try_clone().unwrap_or_else(|_| std::process::abort()));
    let mut buf = vec![kind];
    buf.extend_from_slice(&(msg.len() as u32).to_le_bytes());
    buf.extend_from_slice(msg.as_bytes());
    let _ = f.write_all(&buf);
}

/// Reads one frame; None at EOF (the child exec'd or died without a word).
pub fn read_frame(fd: &OwnedFd) -> Result<Option<(u8, String)>> {
    let mut f = std::fs::File::from(
        fd.try_clone()
            .map_err(|e| Error::io("dup", "sync pipe", e))?,
    );
    let mut hdr = [0u8; 5];
    let mut got = 0;
    while got < 5 {
        match f.read(&mut hdr[got..]) {
            Ok(0) => return Ok(None),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("read", "sync pipe", e)),
        }
    }
    let len = u32::from_le_bytes([hdr[1], hdr[2], hdr[3], hdr[4]]) as usize;
    let mut msg = vec![0u8; len.min(1 << 20)];
    f.read_exact(&mut msg)
        .map_err(|e| Error::io("read", "sync pipe", e))?;
    Ok(Some((hdr[0], String::from_utf8_lossy(&msg).to_string())))
}

/// What execve needs, resolved before privileges are dropped.
pub struct Prepared {
    pub path: CString,
    pub args: Vec<CString>,
    pub env: Vec<CString>,
}

fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Spec(format!("string with a NUL byte: {s:?}")))
}

/// Go's `exec.LookPath`, as runc calls it before the start so that a missing or
/// non-executable program is a create-time error (dockerd turns "permission denied" into
/// exit code 126 and "not found"/"no such file" into 127). A name with a slash is checked
/// where it is (relative names from `cwd`); a bare name is searched in PATH.
pub fn find_executable(name: &str, env: &[String], cwd: &Path) -> Result<PathBuf> {
    if name.contains('/') {
        use std::os::unix::fs::PermissionsExt;
        let path = PathBuf::from(name);
        let full = if path.is_absolute() {
            path.clone()
        } else {
            cwd.join(&path)
        };
        return match std::fs::metadata(&full) {
            Ok(md) if !md.is_dir() && md.permissions().mode() & 0o111 != 0 => Ok(path),
            Ok(_) => Err(Error::Exec(format!("exec: \"{name}\": permission denied"))),
            Err(e) => {
                let errno = nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0));
                match errno {
                    // A directory on the way not searchable: execve reports it.
                    nix::errno::Errno::EACCES => Ok(path),
                    _ => Err(Error::Exec(format!(
                        "exec: \"{name}\": stat {name}: {}",
                        errno.desc().to_ascii_lowercase()
                    ))),
                }
            }
        };
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let cand = Path::new(dir).join(name);
        if let Ok(md) = std::fs::metadata(&cand) {
            use std::os::unix::fs::PermissionsExt;
            if md.is_file() && md.permissions().mode() & 0o111 != 0 {
                return Ok(cand);
            }
        }
    }
    Err(Error::Exec(format!(
        "exec: \"{name}\": executable file not found in $PATH"
    )))
}

pub fn prepare(p: &Process) -> Result<Prepared> {
    let args = p
        .args()
        .as_ref()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Error::Spec("process.args is empty".into()))?;
    let env = p.env().clone().unwrap_or_default();
    let path = find_executable(&args[0], &env, p.cwd())?;
    Ok(Prepared {
        path: cstr(&path.to_string_lossy())?,
        args: args.iter().map(|a| cstr(a)).collect::<Result<_>>()?,
        env: env.iter().map(|a| cstr(a)).collect::<Result<_>>()?,
    })
}

/// Everything between a set-up container and execve, in runc's order.
pub fn finalize(p: &Process, seccomp: Option<&oci_spec::runtime::LinuxSeccomp>) -> Result<()> {
    let filters = seccomp
        .map(crate::seccomp::compile)
        .transpose()?
        .unwrap_or_default();
    let nnp = p.no_new_privileges() == Some(true);
    if let Some(adj) = p.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| Error::io("write", "/proc/self/oom_score_adj", e))?;
    }
    if let Some(l) = p.rlimits() {
        rlimits::apply(l)?;
    }
    let cwd = p.cwd();
    let early_cwd = nix::unistd::chdir(cwd.as_path());
    if !nnp {
        // Installing needs CAP_SYS_ADMIN here, so before capabilities are dropped (as runc).
        crate::seccomp::apply(&filters)?;
    }
    let masks = p.capabilities().as_ref().map(capabilities::masks);
    if let Some(m) = &masks {
        capabilities::drop_bounding(m)?;
    }
    let u = p.user();
    capabilities::set_keepcaps(true)?;
    let groups: Vec<Gid> = u
        .additional_gids()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(Gid::from_raw)
        .collect();
    // A user namespace whose setgroups is "deny" refuses setgroups(2) outright.
    if !groups.is_empty() || crate::userns::setgroups_allowed() {
        nix::unistd::setgroups(&groups).map_err(|e| Error::sys("setgroups", e))?;
    }
    nix::unistd::setresgid(
        Gid::from_raw(u.gid()),
        Gid::from_raw(u.gid()),
        Gid::from_raw(u.gid()),
    )
    .map_err(|e| Error::sys(format!("setgid {}", u.gid()), e))?;
    nix::unistd::setresuid(
        Uid::from_raw(u.uid()),
        Uid::from_raw(u.uid()),
        Uid::from_raw(u.uid()),
    )
    .map_err(|e| Error::sys(format!("setuid {}", u.uid()), e))?;
    capabilities::set_keepcaps(false)?;
    if early_cwd.is_err() {
        nix::unistd::chdir(cwd.as_path()).map_err(|e| {
            Error::Exec(format!(
                "chdir to cwd ({:?}) set in config.json failed: {}",
                cwd.display().to_string(),
                e.desc().to_ascii_lowercase()
            ))
        })?;
    }
    let umask = u.umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    if let Some(m) = &masks {
        capabilities::apply(m)?;
    }
    if nnp {
        capabilities::no_new_privileges()?;
        crate::seccomp::apply(&filters)?;
    }
    Ok(())
}

/// Every signal back to its default action before execve, as a container starts under
/// runc (whose Go runtime handles every signal, and handlers do not survive execve): an
/// ignored signal stays ignored across execve, and this process inherits ignored ones —
/// SIGPIPE from the Rust runtime (`yes | head` would never end `yes`), SIGQUIT or SIGHUP
/// from whoever started berthd, the realtime signals 32 and 33. The raw system call,
/// because glibc's `sigaction` refuses the two signals it reserves.
fn default_signal_actions() {
    /// The kernel's `struct sigaction` (handler, flags, restorer, mask).
    #[repr(C)]
    struct KernelSigaction {
        handler: libc::c_ulong,
        flags: libc::c_ulong,
        restorer: libc::c_ulong,
        mask: u64,
    }
    let default = KernelSigaction {
        handler: libc::SIG_DFL as libc::c_ulong,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: rt_sigaction with a valid struct of the kernel's layout, no old action
        // asked, and the kernel's sigset size; this process is single-threaded and about
        // to execve.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &default as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                std::mem::size_of::<u64>(),
            )
        };
    }
}

/// execve; returns only on failure.
pub fn exec(p: &Prepared) -> Error {
    default_signal_actions();
    match nix::unistd::execve(&p.path, &p.args, &p.env) {
        // The OS error's text is part of the message: it crosses the sync pipe as a
        // string, and the shim maps "No such file or directory" to 127 (as runc's).
        Err(e) => Error::sys(
            format!(
                "exec {}: {}",
                p.path.to_string_lossy(),
                std::io::Error::from_raw_os_error(e as i32)
            ),
            e,
        ),
        Ok(never) => match never {},
    }
}

/// Waits for a child; the container's exit code, 128+n for a signal.
pub fn wait_exit_code(pid: nix::unistd::Pid) -> Result<i32> {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, c)) => return Ok(c),
            Ok(WaitStatus::Signaled(_, s, _)) => return Ok(128 + s as i32),
            Ok(_) => continue,
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Error::sys("waitpid", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let (r, w) = nix::unistd::pipe().expect("pipe");
        write_frame(&w, ERROR, "boom");
        write_frame(&w, READY, "");
        drop(w);
        assert_eq!(
            read_frame(&r).expect("read"),
            Some((ERROR, "boom".to_string()))
        );
        assert_eq!(read_frame(&r).expect("read"), Some((READY, String::new())));
        assert_eq!(read_frame(&r).expect("read"), None);
    }

    #[test]
    fn path_lookup() {
        let env = vec!["PATH=/nonexistent:/bin".to_string()];
        let root = Path::new("/");
        assert_eq!(
            find_executable("sh", &env, root).expect("sh"),
            PathBuf::from("/bin/sh")
        );
        assert!(find_executable("no-such-binary-x", &env, root).is_err());
        let missing = find_executable("/nonexistent-berth/y", &env, root).expect_err("missing");
        assert!(
            missing.to_string().contains("no such file or directory"),
            "{missing}"
        );
        let not_exec = find_executable("/etc/passwd", &env, root).expect_err("not executable");
        assert!(
            not_exec.to_string().contains("permission denied"),
            "{not_exec}"
        );
        let dir = find_executable("/etc", &env, root).expect_err("a directory");
        assert!(dir.to_string().contains("permission denied"), "{dir}");
        assert_eq!(
            find_executable("./sh", &env, Path::new("/bin")).expect("relative"),
            PathBuf::from("./sh")
        );
    }

    #[test]
    fn exec_error_names_the_os_error() {
        // execve of a missing file fails without replacing the test process.
        let p = Prepared {
            path: cstr("/nonexistent-berth-exec").expect("cstr"),
            args: vec![cstr("x").expect("cstr")],
            env: vec![],
        };
        let msg = exec(&p).to_string();
        assert!(
            msg.starts_with("exec /nonexistent-berth-exec: No such file or directory"),
            "{msg}"
        );
        // The shim's test for 127 (berth-shim, start_exec's error path).
        assert!(msg.to_lowercase().contains("no such file"), "{msg}");
    }
}
