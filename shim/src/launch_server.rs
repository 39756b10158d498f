//! `berth-shim launch-server`: a launcher kept alive between container starts. Each
//! `berth-shim start` is an exec of this binary (loading, relocations, the CPU feature
//! probes the C and Rust runtimes make) and a process that ends once its shim has
//! reported: about a millisecond of a `docker run`'s path. berth-containerd starts this
//! server once and sends it the arguments of each `start`; it forks the shim proper
//! for each, which then does what it does after `start` forks it (`launch::shim_main`).
//!
//! Protocol (docs/engine-protocol.md): stdin is one end of a `SOCK_SEQPACKET` pair. The
//! server's first message on it is `ready`. A request is one message: the arguments of
//! `start`, each ended by a NUL byte, with one descriptor (SCM_RIGHTS), the write end of
//! a pipe. On it the shim writes what `start` prints: `ok\n<control socket path>`, or
//! `err\n<message>`; then it is closed.
//!
//! `--state-root` names the berth-containerd it serves. The server ends when its peer
//! goes (berth-containerd stopped or crashed: the shims stay), or after `--idle-secs`
//! without a request: then it first shuts its socket's reading side (the peer's next
//! send fails with EPIPE and starts a new server) and serves what was already queued,
//! so no request is dropped.
use std::io::{IoSliceMut, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::sys::socket::{recvmsg, shutdown, ControlMessageOwned, MsgFlags, Shutdown};

use crate::cli::StartArgs;

/// A request's arguments fit in one message of this size (ids, paths, a few flags).
const MAX_REQUEST: usize = 64 * 1024;

/// The request socket: the server's stdin.
const SOCKET: RawFd = 0;

/// `berth-shim launch-server [--idle-secs N]`: serves until its peer goes, or for
/// `idle` without a request. Returns the exit code.
pub fn serve(idle: Duration) -> std::io::Result<i32> {
    // Each child is a long-lived shim that nobody here waits for: the kernel reaps them.
    // SAFETY: sets a signal disposition; the process is single-threaded.
    unsafe {
        libc::signal(libc::SIGCHLD, libc::SIG_IGN);
    }
    // The peer waits for this before its first request (a binary without this command
    // exits instead, and the peer executes `start` for each shim).
    nix::sys::socket::send(SOCKET, b"ready", MsgFlags::MSG_NOSIGNAL)
        .map_err(std::io::Error::from)?;
    loop {
        if !readable_within(idle)? {
            // Idle: new requests now fail at the sender; the queued ones are served.
            shutdown(SOCKET, Shutdown::Read).map_err(std::io::Error::from)?;
            while let Some(request) = receive(MsgFlags::MSG_DONTWAIT)? {
                serve_one(request);
            }
            return Ok(0);
        }
        match receive(MsgFlags::empty())? {
            Some(request) => serve_one(request),
            None => return Ok(0),
        }
    }
}

/// One request: the arguments and the report pipe (absent when the sender sent none).
struct Request {
    args: Vec<String>,
    report: Option<OwnedFd>,
}

fn readable_within(idle: Duration) -> std::io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: SOCKET,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = i32::try_from(idle.as_millis()).unwrap_or(i32::MAX);
    loop {
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n >= 0 {
            return Ok(n > 0);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// The next request; `None` once the peer has gone (or, with MSG_DONTWAIT, none is
/// queued).
fn receive(flags: MsgFlags) -> std::io::Result<Option<Request>> {
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let (bytes, fds, truncated) = loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        match recvmsg::<()>(
            SOCKET,
            &mut iov,
            Some(&mut cmsg),
            flags | MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) => {
                let mut fds = Vec::new();
                for c in msg.cmsgs().map_err(std::io::Error::from)? {
                    if let ControlMessageOwned::ScmRights(received) = c {
                        fds.extend(received);
                    }
                }
                break (msg.bytes, fds, msg.flags.contains(MsgFlags::MSG_TRUNC));
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EAGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    };
    // SAFETY: each descriptor was just received and is owned by nobody else.
    let mut fds = fds
        .into_iter()
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    let report = fds.next();
    if bytes == 0 && report.is_none() {
        return Ok(None);
    }
    let args = if truncated {
        vec!["--request-too-long".to_string()]
    } else {
        split_args(&buf[..bytes])
    };
    Ok(Some(Request { args, report }))
}

/// The arguments of a request: each ended by a NUL byte (an empty one too).
fn split_args(payload: &[u8]) -> Vec<String> {
    let Some(body) = payload.strip_suffix(&[0]) else {
        return if payload.is_empty() {
            Vec::new()
        } else {
            // Not NUL-ended: the last argument runs to the end.
            payload
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        };
    };
    body.split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Forks the shim for one request; a request it cannot serve gets its error on the
/// pipe.
fn serve_one(request: Request) {
    let Some(report) = request.report else {
        return;
    };
    let args = match StartArgs::parse(&request.args) {
        Ok(args) => args,
        Err(e) => return refuse(report, &e.to_string()),
    };
    // SAFETY: the server is single-threaded; the child runs only our own code.
    match unsafe { libc::fork() } {
        -1 => refuse(
            report,
            &format!("berth-shim: fork: {}", std::io::Error::last_os_error()),
        ),
        0 => {
            // The shim reaps its processes itself (a signalfd): it needs SIGCHLD back.
            // SAFETY: resets a signal disposition in the fresh, single-threaded child.
            unsafe {
                libc::signal(libc::SIGCHLD, libc::SIG_DFL);
            }
            let program = std::env::args()
                .next()
                .unwrap_or_else(|| "berth-shim".into());
            let mut title = vec![program.as_str(), "start"];
            title.extend(request.args.iter().map(String::as_str));
            crate::proc_title::set(&title);
            let code = match std::fs::create_dir_all(&args.state_dir) {
                Ok(()) => crate::launch::shim_main(args, report),
                Err(e) => {
                    refuse(
                        report,
                        &format!("berth-shim: creating the state folder: {e}"),
                    );
                    1
                }
            };
            std::process::exit(code);
        }
        _ => drop(report),
    }
}

fn refuse(report: OwnedFd, message: &str) {
    let _ = write!(std::fs::File::from(report), "err\n{message}");
}

/// The command line after `launch-server`: `--idle-secs N` (default 10), how long the
/// server waits for a request before it ends; `--state-root DIR`, berth-containerd's
/// state folder, which only names whose server this is (in `ps`, and for whoever finds
/// an engine's processes by its folders).
pub fn parse_args(args: &[String]) -> Result<Duration, crate::cli::UsageError> {
    let mut idle = Duration::from_secs(10);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (a.as_str(), None),
        };
        let value = inline.or_else(|| it.next().cloned());
        match flag {
            "--idle-secs" => {
                let secs: f64 = value
                    .and_then(|v| v.parse().ok())
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                    .ok_or_else(|| crate::cli::UsageError("bad --idle-secs".into()))?;
                idle = Duration::from_secs_f64(secs);
            }
            "--state-root" if value.is_some() => {}
            _ => {
                return Err(crate::cli::UsageError(format!(
                    "bad argument {a}\nusage: berth-shim launch-server [--idle-secs N] [--state-root DIR]"
                )))
            }
        }
    }
    Ok(idle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn arguments_are_nul_ended_and_may_be_empty() {
        assert_eq!(split_args(b"--id\0c1\0"), s(&["--id", "c1"]));
        assert_eq!(
            split_args(b"--log-path\0\0--no-log\0"),
            s(&["--log-path", "", "--no-log"])
        );
        assert_eq!(split_args(b"--id\0c1"), s(&["--id", "c1"]));
        assert!(split_args(b"").is_empty());
    }

    #[test]
    fn the_command_line() {
        assert_eq!(parse_args(&[]).unwrap(), Duration::from_secs(10));
        assert_eq!(
            parse_args(&s(&["--idle-secs", "0.5"])).unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(
            parse_args(&s(&["--idle-secs=3"])).unwrap(),
            Duration::from_secs(3)
        );
        assert!(parse_args(&s(&["--idle-secs", "-1"])).is_err());
        assert!(parse_args(&s(&["--idle-secs"])).is_err());
        assert!(parse_args(&s(&["--state", "x"])).is_err());
        assert!(parse_args(&s(&["--state-root"])).is_err());
        assert_eq!(
            parse_args(&s(&["--state-root", "/run/c", "--idle-secs", "1"])).unwrap(),
            Duration::from_secs(1)
        );
    }
}
