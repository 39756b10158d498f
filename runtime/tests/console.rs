//! A pty through --console-socket: the test is the console socket server.
mod common;
use common::*;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use serde_json::json;
use std::io::{IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

fn recv_master(l: &UnixListener) -> (OwnedFd, String) {
    let (conn, _) = l.accept().expect("accept");
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .expect("recvmsg");
    let mut fd = None;
    for c in msg.cmsgs().expect("cmsgs") {
        if let ControlMessageOwned::ScmRights(fds) = c {
            fd = fds.first().copied();
        }
    }
    let n = msg.bytes;
    let name = String::from_utf8_lossy(&buf[..n]).to_string();
    // SAFETY: the fd was just received and is owned by nobody else.
    (
        unsafe { OwnedFd::from_raw_fd(fd.expect("no fd in the message")) },
        name,
    )
}

fn read_until(f: &mut std::fs::File, want: &str) -> String {
    let t0 = Instant::now();
    let mut acc = String::new();
    let mut buf = [0u8; 1024];
    while !acc.contains(want) {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "never saw {want:?}; got {acc:?}"
        );
        match f.read(&mut buf) {
            Ok(0) => std::thread::sleep(Duration::from_millis(10)),
            Ok(n) => acc.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("read pty: {e}"),
        }
    }
    acc
}

#[test]
fn pty_through_console_socket() {
    for_each_runtime("pty", |rt, id| pty_case(rt, id, false));
}

#[test]
fn pty_in_a_user_namespace() {
    for_each_runtime("ptyuserns", |rt, id| pty_case(rt, id, true));
}

fn pty_case(rt: &Runtime, id: &str, userns: bool) {
    let mut b = Bundle::new(&["sh"]);
    b.edit(|c| {
        c["process"]["terminal"] = json!(true);
        c["process"]["consoleSize"] = json!({"height": 40, "width": 100});
        if userns {
            let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            c["linux"]["uidMappings"] = map.clone();
            c["linux"]["gidMappings"] = map;
            if let Some(n) = c["linux"]["namespaces"].as_array_mut() {
                n.push(json!({"type": "user"}));
            }
        }
    });
    if userns {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(b.dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod bundle");
    }
    let sock = b.dir.path().join("console.sock");
    let l = UnixListener::bind(&sock).expect("bind");
    let pid = rt.create(&b, id, &["--console-socket", sock.to_str().expect("utf8")]);
    let (master, name) = recv_master(&l);
    assert!(
        name.contains("pts") || !name.is_empty(),
        "{}: {name}",
        rt.name
    );
    nix::fcntl::fcntl(
        &master,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .expect("nonblock");
    let mut f = std::fs::File::from(master);
    rt.ok(&["start", id]);
    f.write_all(b"echo hi-$((1+2)); stty size; tty\n")
        .expect("write");
    let out = read_until(&mut f, "/dev/pts/");
    assert!(out.contains("hi-3"), "{}: {out:?}", rt.name);
    assert!(out.contains("40 100"), "{}: {out:?}", rt.name);
    f.write_all(b"exit 7\n").expect("write");
    assert_eq!(reap(pid), 7, "{}", rt.name);
    rt.ok(&["delete", id]);
}

#[test]
fn exec_with_tty_through_console_socket() {
    for_each_runtime("exectty", |rt, id| {
        let b = Bundle::new(&["sleep", "30"]);
        let pid = rt.create(&b, id, &[]);
        rt.ok(&["start", id]);
        let sock = b.dir.path().join("exec.sock");
        let l = UnixListener::bind(&sock).expect("bind");
        let mut p = b.config["process"].clone();
        p["terminal"] = json!(true);
        p["args"] = json!(["sh"]);
        let pf = b.dir.path().join("exec.json");
        std::fs::write(&pf, p.to_string()).expect("write");
        let epid = b.dir.path().join("exec.pid");
        let o = rt
            .cmd(&[
                "exec",
                "--process",
                pf.to_str().expect("utf8"),
                "--tty",
                "--detach",
                "--console-socket",
                sock.to_str().expect("utf8"),
                "--pid-file",
                epid.to_str().expect("utf8"),
                id,
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("exec");
        assert!(
            o.status.success(),
            "{}: {}",
            rt.name,
            String::from_utf8_lossy(&o.stderr)
        );
        let (master, _) = recv_master(&l);
        nix::fcntl::fcntl(
            &master,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .expect("nonblock");
        let mut f = std::fs::File::from(master);
        f.write_all(b"echo in-$(cat /proc/1/comm); tty\n")
            .expect("write");
        let out = read_until(&mut f, "/dev/pts/");
        assert!(out.contains("in-sleep"), "{}: {out:?}", rt.name);
        f.write_all(b"exit 3\n").expect("write");
        assert_eq!(reap(read_pid(&epid)), 3, "{}", rt.name);
        rt.ok(&["kill", id, "KILL"]);
        reap(pid);
        rt.ok(&["delete", id]);
    });
}
