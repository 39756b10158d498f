//! Test harness: a busybox bundle, the shim's launcher, a tiny blocking HTTP client.
#![allow(dead_code)]
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The shim under test; `BERTH_TEST_SHIM` picks another build (e.g. the release one).
pub fn shim() -> String {
    std::env::var("BERTH_TEST_SHIM").unwrap_or_else(|_| env!("CARGO_BIN_EXE_berth-shim").into())
}

/// A runtime the cases run against.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub name: &'static str,
    pub bin: String,
}

/// berth-runc as built in the shim's target dir (`<target>/debug/berth-runc`, next to
/// berth-shim; `cargo nextest run --workspace` and `cargo build -p berth-runc` build it).
pub fn berth_runc() -> PathBuf {
    let shim = PathBuf::from(env!("CARGO_BIN_EXE_berth-shim"));
    shim.parent().expect("target dir").join("berth-runc")
}

/// The runtimes every case runs against: berth-runc and Debian's runc, as in
/// runtime/tests (`BERTH_TEST_RUNTIMES=berth-runc` or `=runc` limits the set). A
/// missing runtime fails the tests instead of skipping them.
pub fn runtimes() -> Vec<Runtime> {
    let want = std::env::var("BERTH_TEST_RUNTIMES").unwrap_or_else(|_| "berth-runc,runc".into());
    let mut out = Vec::new();
    for w in want.split(',') {
        match w.trim() {
            "berth-runc" => {
                let bin = berth_runc();
                assert!(
                    bin.exists(),
                    "berth-runc is not built at {}: run `cargo build -p berth-runc` \
                     (`cargo nextest run --workspace` builds it), or set BERTH_TEST_RUNTIMES=runc",
                    bin.display()
                );
                out.push(Runtime {
                    name: "berth-runc",
                    bin: bin.display().to_string(),
                });
            }
            "runc" => {
                let bin = "/usr/sbin/runc";
                assert!(
                    Path::new(bin).exists(),
                    "{bin} is missing: run scripts/install-test-deps.sh, or set BERTH_TEST_RUNTIMES=berth-runc"
                );
                out.push(Runtime {
                    name: "runc",
                    bin: bin.into(),
                });
            }
            other => panic!("unknown runtime {other:?} in BERTH_TEST_RUNTIMES"),
        }
    }
    out
}

/// Runs `case` against every runtime, saying which one ran.
pub fn for_each_runtime(test: &str, case: impl Fn(&Runtime)) {
    usable();
    for rt in runtimes() {
        eprintln!("== {test} on {}", rt.name);
        case(&rt);
    }
}

/// Root and busybox are needed (scripts/install-test-deps.sh installs them).
/// Without them the tests fail rather than pass without testing anything.
pub fn usable() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(root, "the shim tests run containers: run them as root");
    assert!(
        Path::new("/bin/busybox").exists(),
        "/bin/busybox is missing: run scripts/install-test-deps.sh"
    );
    true
}

pub struct Task {
    pub dir: tempfile::TempDir,
    pub id: String,
    pub state: PathBuf,
    pub bundle: PathBuf,
    pub runtime_root: PathBuf,
    pub log: PathBuf,
    pub sock: PathBuf,
    /// The runtime binary the shim is given.
    pub runtime: String,
}

/// Writes a bundle running `args` in a busybox rootfs, for `rt` (its own `spec`).
pub fn bundle(rt: &Runtime, name: &str, args: &[&str], terminal: bool) -> Task {
    let dir = tempfile::Builder::new()
        .prefix("bs")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let bundle = dir.path().join("b");
    let rootfs = bundle.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    // `busybox --install -s` would link to the host path; link to "busybox" instead.
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" && !applet.is_empty() {
            let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
        }
    }
    let st = Command::new(&rt.bin)
        .arg("spec")
        .current_dir(&bundle)
        .status()
        .unwrap();
    assert!(st.success());
    let cfg_path = bundle.join("config.json");
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["terminal"] = json!(terminal);
    cfg["process"]["args"] = json!(args);
    cfg["root"]["readonly"] = json!(false);
    std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    let id = format!("shimtest-{name}-{}-{}", rt.name, std::process::id());
    let state = dir.path().join("s");
    let runtime_root = dir.path().join("r");
    let log = dir.path().join("log").join("c-json.log");
    let sock = state.join("shim.sock");
    Task {
        id,
        state,
        bundle,
        runtime_root,
        log,
        sock,
        dir,
        runtime: rt.bin.clone(),
    }
}

impl Task {
    pub fn start_args(&self, extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = vec![
            "start".into(),
            "--id".into(),
            self.id.clone(),
            "--bundle".into(),
            self.bundle.display().to_string(),
            "--state-dir".into(),
            self.state.display().to_string(),
            "--runtime".into(),
            self.runtime.clone(),
            "--runtime-root".into(),
            self.runtime_root.display().to_string(),
            "--log-path".into(),
            self.log.display().to_string(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }

    /// Runs the launcher; returns the socket path it printed.
    pub fn launch(&self, extra: &[&str]) -> String {
        let out = Command::new(shim())
            .args(self.start_args(extra))
            .output()
            .expect("run shim");
        assert!(
            out.status.success(),
            "launcher failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    pub fn call(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        http(&self.sock, method, path, &body)
    }

    pub fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        let (st, v) = self.call(method, path, body);
        assert_eq!(st, 200, "{method} {path}: {v}");
        v
    }

    pub fn shim_pid(&self) -> i32 {
        std::fs::read_to_string(self.state.join("shim.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Attaches and waits for the shim's acknowledgement: from then on the client
    /// receives everything the process writes.
    pub fn attach(&self, header: Value) -> UnixStream {
        let mut s = UnixStream::connect(self.state.join("attach.sock")).expect("attach");
        s.write_all(format!("{header}\n").as_bytes()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        assert_eq!(read_ack(&mut s), json!({}), "attach acknowledged");
        s
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        let _ = Command::new(&self.runtime)
            .arg("--root")
            .arg(&self.runtime_root)
            .args(["delete", "--force", &self.id])
            .output();
        if let Ok(pid) = std::fs::read_to_string(self.state.join("shim.pid")) {
            if let Ok(pid) = pid.trim().parse::<i32>() {
                // SAFETY: kill(2) of the shim this test started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

pub fn http(sock: &Path, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let mut s = UnixStream::connect(sock).expect("connect shim.sock");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let b = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: shim\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
        b.len()
    )
    .unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let text = String::from_utf8_lossy(&resp);
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Reads one multiplexed frame: (stream, payload).
pub fn read_frame(s: &mut UnixStream) -> Option<(u8, Vec<u8>)> {
    let mut h = [0u8; 8];
    s.read_exact(&mut h).ok()?;
    let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).ok()?;
    Some((h[0], p))
}

/// Reads raw bytes until `needle` shows up (or times out).
pub fn read_until(s: &mut UnixStream, needle: &str) -> String {
    let mut acc = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 1024];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => acc.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
        if String::from_utf8_lossy(&acc).contains(needle) {
            break;
        }
    }
    String::from_utf8_lossy(&acc).into_owned()
}

pub fn wait_gone(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

pub fn vm_rss_kib(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss: Vec<&str> = s.lines().filter(|l| l.starts_with("Rss")).collect();
    eprintln!("{}", rss.join(", "));
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub fn log_lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("json log line"))
        .collect()
}

/// utime + stime of a process, in clock ticks.
pub fn cpu_ticks(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<&str> = s
        .rsplit_once(')')
        .map(|x| x.1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

/// The shim's answer to an attach header: one JSON line.
pub fn read_ack(s: &mut UnixStream) -> Value {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while s.read(&mut b).expect("read the ack") == 1 && b[0] != b'\n' {
        line.push(b[0]);
    }
    serde_json::from_slice(&line).expect("the ack is JSON")
}
