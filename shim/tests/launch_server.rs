//! `berth-shim launch-server`: shims forked on request, errors on the report pipe, the
//! forked shim's own command line, the end after the idle time or when the peer goes.
mod common;
use common::*;
use serde_json::{json, Value};
use std::io::{IoSlice, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::socket::{
    sendmsg, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType,
};

fn start_server(idle_secs: &str) -> (OwnedFd, Child) {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .expect("socketpair");
    let child = Command::new(shim())
        .args([
            "launch-server",
            "--idle-secs",
            idle_secs,
            "--state-root",
            "/tmp/x",
        ])
        .stdin(Stdio::from(theirs))
        .spawn()
        .expect("launch-server");
    let mut ready = [0u8; 16];
    let n = nix::sys::socket::recv(ours.as_raw_fd(), &mut ready, MsgFlags::empty()).expect("ready");
    assert_eq!(&ready[..n], b"ready");
    (ours, child)
}

/// Sends one request; the report, read until the shim closes it.
fn request(socket: &OwnedFd, args: &[String]) -> nix::Result<String> {
    let mut payload = Vec::new();
    for a in args {
        payload.extend_from_slice(a.as_bytes());
        payload.push(0);
    }
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fresh descriptors, owned here.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let passed = [write.as_raw_fd()];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(&payload)],
        &[ControlMessage::ScmRights(&passed)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )?;
    drop(write);
    let mut report = String::new();
    std::fs::File::from(read)
        .read_to_string(&mut report)
        .expect("report");
    Ok(report)
}

fn exits_within(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20)); // polling a child's exit
    }
    None
}

#[test]
fn forks_shims_on_request_and_ends_when_idle() {
    for_each_runtime(
        "forks_shims_on_request_and_ends_when_idle",
        forks_shims_on_request_and_ends_when_idle_on,
    );
}

fn forks_shims_on_request_and_ends_when_idle_on(rt: &Runtime) {
    let (socket, mut server) = start_server("1");
    // A request it cannot serve: the error comes back as `start` prints it.
    let report = request(&socket, &["--id".to_string()]).expect("send");
    assert_eq!(report, "err\n--id needs a value");

    let t = bundle(rt, "server", &["sh", "-c", "echo forked; exit 4"], false);
    let args = t.start_args(&[]);
    let report = request(&socket, &args[1..]).expect("send");
    assert_eq!(report, format!("ok\n{}", t.sock.display()));
    let pid = t.shim_pid();
    // The forked shim shows its own command line, not the server's: one string, as
    // setproctitle(3) writes it, naming its state folder.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("cmdline");
    let shown = String::from_utf8_lossy(&cmdline);
    let title = shown.split('\0').next().unwrap_or_default();
    let words: Vec<&str> = title.split(' ').collect();
    assert!(words[0].ends_with("berth-shim"), "{shown:?}");
    assert_eq!(words[1..], args[..], "{shown:?}");
    assert_eq!(t.ok("GET", "/state", Value::Null)["status"], "created");
    t.ok("POST", "/start", Value::Null);
    assert_eq!(t.ok("POST", "/wait", json!({}))["exit_status"], 4);
    assert_eq!(log_lines(&t.log)[0]["log"], "forked\n");

    // Idle for its second: it ends, the shim it forked stays; sends then fail.
    let status = exits_within(&mut server, Duration::from_secs(10)).expect("server ended");
    assert!(status.success(), "{status}");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(request(&socket, &args[1..]).is_err());
    t.ok("POST", "/delete", Value::Null);
    assert!(wait_gone(pid));
}

#[test]
fn ends_when_its_peer_goes() {
    usable();
    let (socket, mut server) = start_server("600");
    drop(socket);
    let status = exits_within(&mut server, Duration::from_secs(10)).expect("server ended");
    assert!(status.success(), "{status}");
}
