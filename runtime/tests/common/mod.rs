//! Shared harness: a busybox rootfs, a bundle whose config.json comes from
//! `berth-runc spec`, and the runtimes to run every case against (berth-runc
//! and Debian's runc; `BERTH_TEST_RUNTIMES=berth-runc` limits the set, and a
//! missing runc fails the tests instead of skipping them).
#![allow(dead_code)]
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Runtime {
    pub name: &'static str,
    pub bin: PathBuf,
    pub root: PathBuf,
}

pub const BERTH: &str = env!("CARGO_BIN_EXE_berth-runc");

pub fn runtimes() -> Vec<Runtime> {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "the runtime tests must run as root"
    );
    // The tests play the shim: containers they create are reparented to them.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let want = std::env::var("BERTH_TEST_RUNTIMES").unwrap_or_else(|_| "berth-runc,runc".into());
    let base = PathBuf::from("/run/berth-runc-tests");
    let mut out = Vec::new();
    for w in want.split(',') {
        match w.trim() {
            "berth-runc" => out.push(Runtime {
                name: "berth-runc",
                bin: BERTH.into(),
                root: base.join("berth"),
            }),
            "runc" => {
                let bin = PathBuf::from("/usr/sbin/runc");
                assert!(bin.exists(), "runc is not installed: apt-get install -y runc, or set BERTH_TEST_RUNTIMES=berth-runc");
                out.push(Runtime {
                    name: "runc",
                    bin,
                    root: base.join("runc"),
                });
            }
            other => panic!("unknown runtime {other:?} in BERTH_TEST_RUNTIMES"),
        }
    }
    out
}

/// Runs `case` against every runtime, saying which one ran.
pub fn for_each_runtime(test: &str, case: impl Fn(&Runtime, &str)) {
    for rt in runtimes() {
        eprintln!("== {test} on {}", rt.name);
        let id = format!("{test}-{}-{}", rt.name, std::process::id());
        // Deletes the case's containers even when the case panics.
        struct Cleanup(Runtime, String);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let ids = self
                    .0
                    .cmd(&["list", "-q"])
                    .output()
                    .map(|o| o.stdout)
                    .unwrap_or_default();
                for c in String::from_utf8_lossy(&ids)
                    .lines()
                    .filter(|c| c.starts_with(self.1.as_str()))
                {
                    let _ = self
                        .0
                        .cmd(&["delete", "--force", c])
                        .stdin(Stdio::null())
                        .output();
                }
            }
        }
        let _cleanup = Cleanup(rt.clone(), id.clone());
        case(&rt, &id);
    }
}

impl Runtime {
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root).args(args);
        c
    }
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self
            .cmd(args)
            .stdin(Stdio::null())
            .output()
            .expect("spawn runtime");
        assert!(
            o.status.success(),
            "{} {:?} failed: {}",
            self.name,
            args,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).to_string()
    }
    /// `create` with the container's stdio on files (the init inherits them,
    /// so pipes would never close); returns the init's pid.
    pub fn create(&self, b: &Bundle, id: &str, extra: &[&str]) -> i32 {
        let pidf = b.dir.path().join(format!("{id}.pid"));
        let out = std::fs::File::create(b.dir.path().join(format!("{id}.out"))).expect("out file");
        let errp = b.dir.path().join(format!("{id}.err"));
        let err = std::fs::File::create(&errp).expect("err file");
        let mut args = vec![
            "create",
            "--bundle",
            b.path(),
            "--pid-file",
            pidf.to_str().expect("utf8"),
        ];
        args.extend_from_slice(extra);
        args.push(id);
        let st = self
            .cmd(&args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .status()
            .expect("spawn create");
        assert!(
            st.success(),
            "{} create failed: {}",
            self.name,
            std::fs::read_to_string(&errp).unwrap_or_default()
        );
        read_pid(&pidf)
    }
    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).expect("state json")
    }
    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap_or("").to_string()
    }
    /// `run` in the foreground; (exit code, stdout, stderr).
    pub fn run(&self, bundle: &Bundle, id: &str) -> (i32, String, String) {
        let o = self
            .cmd(&["run", "--bundle", bundle.path(), id])
            .stdin(Stdio::null())
            .output()
            .expect("spawn run");
        out3(o)
    }
    pub fn wait_status(&self, id: &str, want: &str) {
        let t0 = Instant::now();
        while self.status(id) != want {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "{}: {id} never became {want}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

pub fn out3(o: Output) -> (i32, String, String) {
    use std::os::unix::process::ExitStatusExt;
    let code = o
        .status
        .code()
        .unwrap_or_else(|| 128 + o.status.signal().unwrap_or(0));
    (
        code,
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

pub struct Bundle {
    pub dir: tempfile::TempDir,
    pub config: Value,
}

pub fn make_rootfs(root: &Path) {
    for d in ["bin", "proc", "sys", "dev", "etc", "tmp", "mnt"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir rootfs");
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox"))
        .expect("copy busybox (apt-get install busybox-static)");
    let list = Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
        }
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
    )
    .expect("passwd");
    std::fs::write(root.join("etc/group"), "root:x:0:\nnobody:x:65534:\n").expect("group");
}

impl Bundle {
    /// A bundle with the default spec, no terminal, and `args`.
    pub fn new(args: &[&str]) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("berth-bundle")
            .tempdir()
            .expect("tempdir");
        make_rootfs(&dir.path().join("rootfs"));
        let o = Command::new(BERTH)
            .arg("spec")
            .arg("--bundle")
            .arg(dir.path())
            .output()
            .expect("berth-runc spec");
        assert!(
            o.status.success(),
            "spec: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = std::fs::read_to_string(dir.path().join("config.json")).expect("config");
        let mut config: Value = serde_json::from_str(&text).expect("config json");
        config["process"]["terminal"] = Value::Bool(false);
        config["process"]["args"] = serde_json::json!(args);
        config["root"]["readonly"] = Value::Bool(false);
        let mut b = Bundle { dir, config };
        b.save();
        b
    }
    pub fn path(&self) -> &str {
        self.dir.path().to_str().expect("utf-8 path")
    }
    pub fn edit(&mut self, f: impl FnOnce(&mut Value)) {
        f(&mut self.config);
        self.save();
    }
    fn save(&mut self) {
        let text = serde_json::to_string_pretty(&self.config).expect("ser");
        std::fs::write(self.dir.path().join("config.json"), text).expect("write config");
    }
}

/// Reaps a container init that was reparented to us; its exit code.
pub fn reap(pid: i32) -> i32 {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, c)) => return c,
            Ok(WaitStatus::Signaled(_, s, _)) => return 128 + s as i32,
            Ok(_) => continue,
            Err(nix::Error::EINTR) => continue,
            Err(e) => panic!("waitpid {pid}: {e}"),
        }
    }
}

pub fn read_pid(p: &Path) -> i32 {
    std::fs::read_to_string(p)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid")
}
