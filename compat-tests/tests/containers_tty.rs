//! The docker CLI in a pseudo-terminal, as a user at a terminal runs it: `run -it`,
//! `attach` with the detach keys, `exec -it`; input and output both ways, and the
//! window size following the terminal's (TIOCSWINSZ, then SIGWINCH to the CLI, which
//! calls the resize endpoints).
mod common;

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{eventually, Daemon, Fixtures};

/// The docker CLI running with a pseudo-terminal as its controlling terminal.
struct PtyDocker {
    master: std::fs::File,
    child: Child,
    /// Everything the CLI wrote to the terminal so far.
    output: Arc<Mutex<Vec<u8>>>,
    /// How much of `output` earlier `expect`s consumed.
    seen: usize,
}

fn set_size(fd: i32, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize from a valid pointer.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
    assert_eq!(rc, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
}

impl PtyDocker {
    /// Starts `docker ARGS` in a new terminal of `rows` x `cols`.
    fn spawn(d: &Daemon, args: &[&str], rows: u16, cols: u16) -> PtyDocker {
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: openpty writes two descriptors; no name buffer, no termios, no size.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        set_size(master, rows, cols);
        // SAFETY: both descriptors were just opened and are owned here.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let mut cmd = d.docker_cmd();
        cmd.args(args)
            .stdin(Stdio::from(slave.try_clone().expect("dup")))
            .stdout(Stdio::from(slave.try_clone().expect("dup")))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("docker in a pty");
        let master = std::fs::File::from(master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().expect("dup master");
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the CLI closed the terminal.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(&buf[..n]);
            }
        });
        PtyDocker {
            master,
            child,
            output,
            seen: 0,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// Waits (up to 30 s) for `needle` in output not yet consumed, then consumes up to it.
    fn expect(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = self.text();
            if let Some(at) = text.get(self.seen..).and_then(|t| t.find(needle)) {
                self.seen += at + needle.len();
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the terminal; it shows:\n{text:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&mut self, input: &str) {
        self.master
            .write_all(input.as_bytes())
            .expect("write to the pty");
    }

    /// Types a command line.
    fn run(&mut self, command: &str) {
        self.send(&format!("{command}\r"));
    }

    /// Resizes the terminal and tells the CLI, as a terminal emulator does.
    fn resize(&mut self, rows: u16, cols: u16) {
        use std::os::fd::AsRawFd;
        set_size(self.master.as_raw_fd(), rows, cols);
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGWINCH);
    }

    /// Waits (up to 30 s) for the CLI to exit; its exit code.
    fn wait(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!(
            "the docker CLI did not exit; the terminal shows:\n{:?}",
            self.text()
        );
    }
}

impl Drop for PtyDocker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks `stty size` inside at `rows` x `cols`, a few times while the resize lands.
fn expect_size(t: &mut PtyDocker, rows: u16, cols: u16) {
    let want = format!("{rows} {cols}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // `echo` splits the marker so the typed line does not match it.
        t.run("echo SIZE=$(stty size)=EZ''IS");
        t.expect("=EZIS");
        let text = t.text();
        let shown = text[..t.seen]
            .rsplit("SIZE=")
            .next()
            .unwrap_or("")
            .trim_end_matches("=EZIS");
        if shown == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "stty size shows {shown:?}, not {want:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn run_it_talks_both_ways_and_follows_the_window_size() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let mut t = PtyDocker::spawn(
        &d,
        &["run", "-it", "--name", "tty-run", &image, "sh"],
        30,
        100,
    );
    t.expect("# ");
    expect_size(&mut t, 30, 100);
    t.run("echo typed-in''put-came-back");
    t.expect("typed-input-came-back");
    t.resize(40, 120);
    expect_size(&mut t, 40, 120);
    t.run("exit 3");
    assert_eq!(t.wait(), Some(3));
    let c = common::inspect_json(&d, &["inspect"], "tty-run");
    assert_eq!(c["State"]["ExitCode"], 3);
    assert_eq!(c["Config"]["Tty"], true);
    d.docker_ok(&["rm", "tty-run"]);
}

#[test]
fn attach_then_detach_with_ctrl_p_ctrl_q_and_exec_it() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["run", "-dit", "--name", "tty-att", &image, "sh"]);

    let mut t = PtyDocker::spawn(&d, &["attach", "tty-att"], 25, 90);
    t.run("echo at''tached");
    t.expect("attached");
    expect_size(&mut t, 25, 90);
    t.send("\x10\x11");
    t.expect("read escape sequence");
    // The CLI reports the detach as an error, as with dockerd.
    assert_eq!(t.wait(), Some(1));
    let running = common::inspect_json(&d, &["inspect"], "tty-att")["State"]["Running"].clone();
    assert_eq!(running, true);

    // Attaching again finds the same shell.
    let mut t = PtyDocker::spawn(&d, &["attach", "tty-att"], 25, 90);
    t.run("echo ag''ain");
    t.expect("again");
    t.send("\x10\x11");
    t.expect("read escape sequence");
    t.wait();

    let mut t = PtyDocker::spawn(&d, &["exec", "-it", "tty-att", "sh"], 33, 111);
    t.expect("# ");
    expect_size(&mut t, 33, 111);
    t.run("echo in''side");
    t.expect("inside");
    t.resize(41, 121);
    expect_size(&mut t, 41, 121);
    t.run("exit 4");
    assert_eq!(t.wait(), Some(4));
    eventually("the container to keep running", || {
        common::inspect_json(&d, &["inspect"], "tty-att")["State"]["Running"] == true
    });
    d.docker_ok(&["rm", "-f", "tty-att"]);
}
