//! The kept-alive shim launcher, `berth-shim launch-server` (shim/src/launch_server.rs,
//! protocol in docs/engine-protocol.md): started at a launch when none is running, sent
//! each launch's `start` arguments with the write end of a pipe, on which the forked
//! shim reports. It ends by itself after some idle seconds; the next launch starts
//! another. A launch it cannot take (it could not be started, its socket is full) goes
//! the old way, an exec of `berth-shim start` (`ProcessLauncher`).
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;

use nix::sys::socket::{
    sendmsg, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType,
};

/// One running server (a task waits for its end, so it never lingers as a zombie).
struct Server {
    socket: OwnedFd,
    /// The shim binary it was started from: a server of a replaced binary is not used.
    binary: BinaryId,
}

/// Device, inode and change time of the shim binary.
type BinaryId = (u64, u64, i64, i64);

fn binary_id(path: &Path) -> Option<BinaryId> {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino(), m.ctime(), m.ctime_nsec()))
}

pub struct LaunchServer {
    shim_bin: PathBuf,
    state_root: PathBuf,
    slot: Mutex<Slot>,
}

#[derive(Default)]
struct Slot {
    server: Option<Server>,
    /// A shim binary that did not start as a launch server (another build, a stand-in
    /// without the command): launches exec it until it changes.
    refused: Option<BinaryId>,
}

/// How long a new server has to say it is ready (it says so as soon as it runs).
const READY_WITHIN_MS: i32 = 5_000;

impl LaunchServer {
    /// `state_root` (berth-containerd's state folder) goes on the server's command line.
    pub fn new(shim_bin: impl Into<PathBuf>, state_root: impl Into<PathBuf>) -> LaunchServer {
        LaunchServer {
            shim_bin: shim_bin.into(),
            state_root: state_root.into(),
            slot: Mutex::new(Slot::default()),
        }
    }

    /// Hands one launch (the arguments of `berth-shim start`) to the server, starting one
    /// if needed. Returns the read end of the launch's report pipe, or `None` when no
    /// server took it: the caller launches the shim itself.
    pub fn send(&self, args: &[String]) -> Option<OwnedFd> {
        let mut payload = Vec::new();
        for a in args {
            payload.extend_from_slice(a.as_bytes());
            payload.push(0);
        }
        let (read, write) = match pipe() {
            Ok(ends) => ends,
            Err(e) => {
                tracing::warn!(error = %e, "cannot make a pipe for the launch server");
                return None;
            }
        };
        let mut slot = self
            .slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let binary = binary_id(&self.shim_bin)?;
        if slot.refused == Some(binary) {
            return None;
        }
        // A second try when the server had just ended (idle) or was killed.
        for _ in 0..2 {
            if slot.server.as_ref().is_none_or(|s| s.binary != binary) {
                slot.server = None;
                match self.start(binary) {
                    Ok(server) => slot.server = Some(server),
                    Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {
                        tracing::warn!(error = %e, shim = %self.shim_bin.display(), "no shim launch server: each shim is executed");
                        slot.refused = Some(binary);
                        return None;
                    }
                    // Late (a loaded machine), out of descriptors…: this launch goes
                    // without it, the next tries again.
                    Err(e) => {
                        tracing::warn!(error = %e, "the shim launch server did not start");
                        return None;
                    }
                }
            }
            let server = slot.server.as_ref()?;
            let fds = [write.as_raw_fd()];
            let sent = sendmsg::<()>(
                server.socket.as_raw_fd(),
                &[std::io::IoSlice::new(&payload)],
                &[ControlMessage::ScmRights(&fds)],
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
                None,
            );
            match sent {
                Ok(n) if n == payload.len() => return Some(read),
                // Full (the server is behind): this launch goes without it.
                Err(nix::errno::Errno::EAGAIN) => return None,
                // EPIPE, ECONNRESET: it has ended or is ending.
                _ => slot.server = None,
            }
        }
        None
    }

    fn start(&self, binary: BinaryId) -> std::io::Result<Server> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        let mut process = tokio::process::Command::new(&self.shim_bin)
            .arg("launch-server")
            .arg("--state-root")
            .arg(&self.state_root)
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .current_dir("/")
            .spawn()?;
        let pid = process.id();
        // Its first message says it serves (a shim binary without the command exits).
        // Dropped unready, its socket closes and it ends at its first read.
        match said_ready(&ours)? {
            Ready::Yes => {}
            Ready::Refused => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    "the shim binary does not serve launches (launch-server)",
                ))
            }
            Ready::Late => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no `ready` from the launch server within {READY_WITHIN_MS} ms"),
                ))
            }
        }
        tracing::debug!(pid, "shim launch server started");
        tokio::spawn(async move {
            let status = process.wait().await;
            tracing::debug!(pid, ?status, "shim launch server ended");
        });
        Ok(Server {
            socket: ours,
            binary,
        })
    }
}

/// What a new server said first.
enum Ready {
    Yes,
    /// It ended, or said something else: the binary does not serve launches.
    Refused,
    /// Nothing within `READY_WITHIN_MS`.
    Late,
}

/// Waits (up to `READY_WITHIN_MS`, a blocking wait: once per server start) for the new
/// server's `ready` message.
fn said_ready(socket: &OwnedFd) -> std::io::Result<Ready> {
    let mut pfd = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let n = loop {
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, READY_WITHIN_MS) };
        if n >= 0 {
            break n;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    };
    if n == 0 {
        return Ok(Ready::Late);
    }
    let mut buf = [0u8; 16];
    // SAFETY: buf is valid for its length.
    let got = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    Ok(match usize::try_from(got) {
        Ok(n) if &buf[..n] == b"ready" => Ready::Yes,
        _ => Ready::Refused,
    })
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 returned two fresh descriptors, now owned here.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// What a launch's report says: the shim's control socket, or why there is none.
pub fn parse_report(report: &str) -> Result<Option<PathBuf>, String> {
    if let Some(path) = report.strip_prefix("ok\n") {
        let path = path.trim();
        return Ok((!path.is_empty()).then(|| PathBuf::from(path)));
    }
    Err(report
        .strip_prefix("err\n")
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .unwrap_or("berth-shim: the shim died during create")
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Not a test: the stand-in launch server that `a_server_that_ended_is_started_again`
    /// runs (this test binary, through a script): it serves one request, then does what
    /// the real one does when idle (shuts its reading side, serves what is queued, ends).
    #[test]
    #[ignore = "run by a_server_that_ended_is_started_again"]
    fn stand_in_launch_server() {
        if std::env::var_os("BERTH_STAND_IN_LAUNCH_SERVER").is_none() {
            return;
        }
        let serve = |flags: MsgFlags| -> bool {
            let mut buf = [0u8; 4096];
            let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            let Ok(msg) = nix::sys::socket::recvmsg::<()>(0, &mut iov, Some(&mut cmsg), flags)
            else {
                return false;
            };
            let mut fds = Vec::new();
            for c in msg.cmsgs().expect("cmsgs") {
                if let nix::sys::socket::ControlMessageOwned::ScmRights(r) = c {
                    fds.extend(r);
                }
            }
            let bytes = msg.bytes;
            let Some(fd) = fds.first() else { return false };
            let args = String::from_utf8_lossy(&buf[..bytes]).to_string();
            let id = args.split('\0').nth(1).unwrap_or_default().to_string();
            // SAFETY: the descriptor was just received.
            let report = unsafe { OwnedFd::from_raw_fd(*fd) };
            let _ = std::io::Write::write_all(
                &mut std::fs::File::from(report),
                format!("ok\n/run/{id}/shim.sock").as_bytes(),
            );
            true
        };
        nix::sys::socket::send(0, b"ready", MsgFlags::empty()).expect("ready");
        serve(MsgFlags::empty());
        nix::sys::socket::shutdown(0, nix::sys::socket::Shutdown::Read).expect("shutdown");
        while serve(MsgFlags::MSG_DONTWAIT) {}
        std::process::exit(0);
    }

    #[tokio::test]
    async fn a_server_that_ended_is_started_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let starts = dir.path().join("starts");
        let script = dir.path().join("berth-shim");
        let test_binary = std::env::current_exe().expect("test binary");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\nexec env BERTH_STAND_IN_LAUNCH_SERVER=1 '{}' \
                 launch_server::tests::stand_in_launch_server --exact --ignored --nocapture\n",
                starts.display(),
                test_binary.display()
            ),
        )
        .expect("script");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let server = LaunchServer::new(&script, "/run/state-root");
        for i in 0..3 {
            let args = ["--id".to_string(), format!("t{i}")];
            let report = server.send(&args).expect("a server took it");
            let mut text = String::new();
            std::fs::File::from(report)
                .read_to_string(&mut text)
                .expect("report");
            assert_eq!(text, format!("ok\n/run/t{i}/shim.sock"));
        }
        // Each stand-in serves one launch and what was queued by then, then ends: a
        // send after its end started another (two or three in all), each told whose
        // it is.
        let started = std::fs::read_to_string(&starts).expect("starts");
        let started: Vec<&str> = started.lines().collect();
        assert!((2..=3).contains(&started.len()), "{started:?}");
        assert!(started
            .iter()
            .all(|s| *s == "launch-server --state-root /run/state-root"));
        // No shim binary, or one that does not serve launches: no server, the caller
        // launches the shim itself (and the binary is not tried again).
        let missing = LaunchServer::new(dir.path().join("nothing"), "/run/x");
        assert!(missing
            .send(&["--id".to_string(), "t".to_string()])
            .is_none());
        let refusing = dir.path().join("refusing");
        std::fs::write(
            &refusing,
            format!("#!/bin/sh\necho \"$*\" >> '{}'\nexit 2\n", starts.display()),
        )
        .expect("script");
        std::fs::set_permissions(
            &refusing,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        let refused = LaunchServer::new(&refusing, "/run/r");
        for _ in 0..2 {
            assert!(refused
                .send(&["--id".to_string(), "t".to_string()])
                .is_none());
        }
        let tries = std::fs::read_to_string(&starts).expect("starts");
        assert_eq!(tries.matches("/run/r").count(), 1, "{tries}");
    }

    #[test]
    fn reports_read_as_the_launcher_prints_them() {
        assert_eq!(
            parse_report("ok\n/run/t/shim.sock"),
            Ok(Some(PathBuf::from("/run/t/shim.sock")))
        );
        assert_eq!(parse_report("ok\n"), Ok(None));
        assert_eq!(
            parse_report("err\nberth-runc: no such file"),
            Err("berth-runc: no such file".to_string())
        );
        assert_eq!(
            parse_report(""),
            Err("berth-shim: the shim died during create".to_string())
        );
    }
}
