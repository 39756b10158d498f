//! cgroup v2 on a v1 ("hybrid") host: the runtime runs in a private mount
//! namespace where a fresh cgroup2 mount covers /sys/fs/cgroup, so it sees a
//! pure v2 layout. That cgroup2 hierarchy is the host's single v2 hierarchy
//! (the one at /sys/fs/cgroup/unified), holding only the controllers that no
//! v1 hierarchy took. The namespace, and with it the mount, dies with the
//! process that holds it; delete removes the container's cgroup.
mod common;
use common::*;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A process in a private mount namespace with cgroup2 on /sys/fs/cgroup.
struct V2Namespace {
    holder: Child,
}

impl V2Namespace {
    fn new() -> V2Namespace {
        let mut holder = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg("mount -t cgroup2 none /sys/fs/cgroup && echo ready && exec sleep 600")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare (util-linux)");
        let mut line = String::new();
        let out = holder.stdout.take().expect("stdout");
        BufReader::new(out).read_line(&mut line).expect("read");
        assert_eq!(line.trim(), "ready", "mounting cgroup2 failed");
        V2Namespace { holder }
    }
    fn pid(&self) -> String {
        self.holder.id().to_string()
    }
    /// The runtime's command, run inside the namespace.
    fn cmd(&self, rt: &Runtime, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.pid(), "-m", "--"])
            .arg(&rt.bin)
            .arg("--root")
            .arg(&rt.root)
            .args(args);
        c
    }
    fn run(&self, rt: &Runtime, args: &[&str]) -> (i32, String, String) {
        out3(
            self.cmd(rt, args)
                .stdin(Stdio::null())
                .output()
                .expect("nsenter"),
        )
    }
    fn ok(&self, rt: &Runtime, args: &[&str]) -> String {
        let (code, out, err) = self.run(rt, args);
        assert_eq!(code, 0, "{} {args:?}: {err}", rt.name);
        out
    }
    /// A path under the namespace's /sys/fs/cgroup, seen from the host.
    fn cgroup(&self, rel: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root/sys/fs/cgroup", self.pid())).join(rel)
    }
}

impl Drop for V2Namespace {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

fn berth() -> Runtime {
    runtimes()
        .into_iter()
        .find(|r| r.name == "berth-runc")
        .expect("berth-runc")
}

/// Force-deletes the container even when the test fails half-way.
struct Cleanup<'a>(&'a V2Namespace, Runtime, String);
impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&self.1, &["delete", "--force", &self.2]);
        let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/unified/{}", self.2));
    }
}

#[test]
fn lifecycle_on_cgroup_v2() {
    let rt = berth();
    let ns = V2Namespace::new();
    let id = format!("cgv2-{}", std::process::id());
    let _cleanup = Cleanup(&ns, rt.clone(), id.clone());
    let b = Bundle::new(&["sleep", "30"]);
    let pidf = b.dir.path().join("pid");
    // The init inherits create's stdio: files, not pipes that would never close.
    let errf = b.dir.path().join("create.err");
    let logf = b.dir.path().join("create.log");
    let st = ns
        .cmd(&rt, &["create", "--debug", "--bundle", b.path(), "--log"])
        .arg(&logf)
        .arg("--pid-file")
        .arg(&pidf)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(b.dir.path().join("create.out")).expect("out"))
        .stderr(std::fs::File::create(&errf).expect("err"))
        .status()
        .expect("create");
    assert!(
        st.success(),
        "create: {}",
        std::fs::read_to_string(&errf).unwrap_or_default()
    );
    let pid = read_pid(&pidf);
    let dir = ns.cgroup(&id);
    // Born in its cgroup (clone3 with CLONE_INTO_CGROUP): no migration.
    let log = std::fs::read_to_string(&logf).expect("log");
    assert!(
        log.contains(&format!("clone3 into /sys/fs/cgroup/{id}: pid {pid}")),
        "{log}"
    );
    // The same hierarchy the host sees at /sys/fs/cgroup/unified.
    assert!(PathBuf::from(format!("/sys/fs/cgroup/unified/{id}")).is_dir());
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).expect("cgroup.procs");
    assert_eq!(procs.trim(), pid.to_string());
    let mine = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    assert!(mine.contains(&format!("0::/{id}\n")), "{mine}");
    ns.ok(&rt, &["start", &id]);
    // exec'd processes are born in the container's cgroup too.
    let out = ns.ok(&rt, &["exec", &id, "cat", "/proc/self/cgroup"]);
    assert!(out.contains(&format!("0::/{id}\n")), "{out}");
    ns.ok(&rt, &["pause", &id]);
    assert_eq!(
        std::fs::read_to_string(dir.join("cgroup.freeze"))
            .expect("freeze")
            .trim(),
        "1"
    );
    let events = std::fs::read_to_string(dir.join("cgroup.events")).expect("events");
    assert!(events.contains("frozen 1"), "{events}");
    let st: serde_json::Value = serde_json::from_str(&ns.ok(&rt, &["state", &id])).expect("state");
    assert_eq!(st["status"], "paused");
    ns.ok(&rt, &["resume", &id]);
    let events = std::fs::read_to_string(dir.join("cgroup.events")).expect("events");
    assert!(events.contains("frozen 0"), "{events}");
    // update: the pids controller belongs to v1 on this host.
    let (code, _, err) = ns.run(&rt, &["update", "--pids-limit", "10", &id]);
    assert_ne!(code, 0, "update must fail");
    assert!(err.contains("pids controller is not enabled"), "{err}");
    let ps = ns.ok(&rt, &["ps", "--format", "json", &id]);
    assert_eq!(ps.trim(), format!("[{pid}]"));
    ns.ok(&rt, &["kill", "--all", &id, "KILL"]);
    assert_eq!(reap(pid), 137);
    ns.ok(&rt, &["delete", &id]);
    assert!(!dir.exists(), "delete left {}", dir.display());
}

#[test]
fn resource_without_its_v2_controller_is_an_error() {
    let rt = berth();
    let ns = V2Namespace::new();
    let avail = std::fs::read_to_string(ns.cgroup("cgroup.controllers")).expect("controllers");
    assert!(
        !avail.split_whitespace().any(|c| c == "memory"),
        "this test needs a v2 hierarchy without the memory controller (hybrid host): {avail}"
    );
    let id = format!("cgv2mem-{}", std::process::id());
    let _cleanup = Cleanup(&ns, rt.clone(), id.clone());
    let mut b = Bundle::new(&["true"]);
    b.edit(|c| c["linux"]["resources"]["memory"] = json!({"limit": 64 << 20}));
    let (code, _, err) = ns.run(&rt, &["create", "--bundle", b.path(), &id]);
    assert_ne!(code, 0, "create must fail");
    assert!(
        err.contains("memory controller is not enabled"),
        "unclear error: {err}"
    );
    assert!(!ns.cgroup(&id).exists(), "a failed create left its cgroup");
    let (code, _, _) = ns.run(&rt, &["state", &id]);
    assert_ne!(code, 0, "a failed create left its state");
}

#[test]
fn user_and_cgroup_namespaces_on_cgroup_v2() {
    use std::os::unix::fs::PermissionsExt;
    let rt = berth();
    let ns = V2Namespace::new();
    for cgroupns in [false, true] {
        let id = format!("cgv2user{}-{}", cgroupns as u8, std::process::id());
        let _cleanup = Cleanup(&ns, rt.clone(), id.clone());
        let mut b = Bundle::new(&[
            "sh",
            "-c",
            "grep '^0::' /proc/self/cgroup; id -u; test -e /sys/fs/cgroup/cgroup.procs && echo mounted",
        ]);
        std::fs::set_permissions(b.dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod bundle");
        b.edit(|c| {
            let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            c["linux"]["uidMappings"] = map.clone();
            c["linux"]["gidMappings"] = map;
            let n = c["linux"]["namespaces"].as_array_mut().expect("ns");
            n.push(json!({"type": "user"}));
            if cgroupns {
                n.push(json!({"type": "cgroup"}));
            }
        });
        let (code, out, err) = ns.run(&rt, &["run", "--bundle", b.path(), &id]);
        assert_eq!(code, 0, "cgroupns={cgroupns}: {err}");
        let want = if cgroupns {
            "0::/".to_string()
        } else {
            format!("0::/{id}")
        };
        assert_eq!(out, format!("{want}\n0\nmounted\n"), "cgroupns={cgroupns}");
        assert!(!ns.cgroup(&id).exists(), "run left {id}'s cgroup");
    }
}
