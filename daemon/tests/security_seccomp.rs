//! Docker's default seccomp profile, as berthd renders it, run by the real
//! runtimes: berth-runc and Debian's runc accept it, busybox `sh -c` works
//! under it, and namespace and mount calls fail with EPERM unless the
//! profile was rendered for CAP_SYS_ADMIN — even when the process holds
//! CAP_SYS_ADMIN, so it is the filter that refuses them.
//!
//! Needs root and busybox-static. The runtimes: `BERTH_RUNC` or
//! `$CARGO_TARGET_DIR/debug/berth-runc` (`cargo build -p berth-runc`) and
//! /usr/sbin/runc; `BERTH_TEST_RUNTIMES=berth-runc` limits the set. A
//! missing runtime, busybox or root fails the tests (scripts/test.sh installs
//! and builds everything they need).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use berthd::security::capabilities;
use berthd::security::opts::SeccompChoice;
use berthd::security::seccomp;
use serde_json::{json, Value};

struct Runtime {
    name: &'static str,
    bin: PathBuf,
}

fn berth_runc() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BERTH_RUNC") {
        return Some(PathBuf::from(p));
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    Some(target.join("debug/berth-runc")).filter(|p| p.exists())
}

/// The runtimes to test; panics when one is missing.
fn runtimes() -> Vec<Runtime> {
    if !nix::unistd::Uid::effective().is_root() {
        panic!("the seccomp runtime tests need root");
    }
    if !Path::new("/bin/busybox").exists() {
        panic!("/bin/busybox is missing (apt-get install busybox-static)");
    }
    let want = std::env::var("BERTH_TEST_RUNTIMES").unwrap_or_else(|_| "berth-runc,runc".into());
    let mut out = Vec::new();
    for name in want.split(',').map(str::trim) {
        let bin = match name {
            "berth-runc" => berth_runc(),
            "runc" => Some(PathBuf::from("/usr/sbin/runc")).filter(|p| p.exists()),
            _ => None,
        };
        match bin {
            Some(bin) => out.push(Runtime {
                name: if name == "runc" { "runc" } else { "berth-runc" },
                bin,
            }),
            None => {
                panic!(
                    "runtime {name} not found (cargo build -p berth-runc, apt-get install runc)"
                );
            }
        }
    }
    out
}

/// A bundle with a busybox root and a Docker-like spec.
fn bundle(args: &[&str], process_caps: &[String], seccomp: Option<Value>) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("berth-seccomp")
        .tempdir()
        .expect("tempdir");
    let root = dir.path().join("rootfs");
    for d in ["bin", "proc", "sys", "dev", "etc", "tmp", "mnt"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("copy busybox");
    for applet in ["sh", "echo", "cat", "grep", "unshare", "mount", "true"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).expect("ln");
    }
    let mut config = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin"],
            "cwd": "/",
            "capabilities": {
                "bounding": process_caps, "effective": process_caps, "permitted": process_caps
            },
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "seccomp-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"},
                           {"type": "mount"}, {"type": "network"}],
            "maskedPaths": berthd::security::paths::masked_paths(),
            "readonlyPaths": berthd::security::paths::readonly_paths(),
        },
    });
    if let Some(s) = seccomp {
        config["linux"]["seccomp"] = s;
    }
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::to_string_pretty(&config).expect("json"),
    )
    .expect("write config");
    dir
}

/// `run` in the foreground: (exit code, stdout + stderr).
fn run(rt: &Runtime, bundle: &Path, test: &str) -> (i32, String) {
    let state = Path::new("/run/berth-security-tests").join(rt.name);
    let id = format!("{test}-{}-{}", rt.name, std::process::id());
    let o = Command::new(&rt.bin)
        .arg("--root")
        .arg(&state)
        .args(["run", "--bundle"])
        .arg(bundle)
        .arg(&id)
        .stdin(Stdio::null())
        .output()
        .expect("spawn runtime");
    let _ = Command::new(&rt.bin)
        .arg("--root")
        .arg(&state)
        .args(["delete", "--force", &id])
        .stdin(Stdio::null())
        .output();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code().unwrap_or(-1), text)
}

fn default_caps() -> Vec<String> {
    capabilities::effective(&[], &[], false).expect("caps")
}

fn with_sys_admin() -> Vec<String> {
    capabilities::effective(&["SYS_ADMIN".into()], &[], false).expect("caps")
}

/// The default profile rendered for `caps`, as JSON for the spec.
fn profile_for(caps: &[String]) -> Value {
    let s = seccomp::profile(&SeccompChoice::Default, caps)
        .expect("render")
        .expect("a filter");
    serde_json::to_value(s).expect("json")
}

#[test]
fn busybox_runs_under_the_default_profile() {
    let rts = runtimes();
    let caps = default_caps();
    let script = "echo hello; grep Seccomp: /proc/self/status";
    let b = bundle(&["sh", "-c", script], &caps, Some(profile_for(&caps)));
    for rt in &rts {
        let (code, out) = run(rt, b.path(), "sec-ok");
        assert_eq!(code, 0, "{}: {out}", rt.name);
        assert!(out.contains("hello"), "{}: {out}", rt.name);
        // Mode 2: a filter is installed.
        assert!(out.contains("Seccomp:\t2"), "{}: {out}", rt.name);
    }
}

#[test]
fn namespaces_and_mounts_are_refused_without_sys_admin_in_the_profile() {
    let rts = runtimes();
    // The process holds CAP_SYS_ADMIN; only the filter can refuse.
    let caps = with_sys_admin();
    let script = "unshare -n true; echo unshare=$?; mount -t tmpfs none /mnt; echo mount=$?";
    let b = bundle(
        &["sh", "-c", script],
        &caps,
        Some(profile_for(&default_caps())),
    );
    for rt in &rts {
        let (code, out) = run(rt, b.path(), "sec-eperm");
        assert_eq!(code, 0, "{}: {out}", rt.name);
        assert!(out.contains("unshare=1"), "{}: {out}", rt.name);
        assert!(
            out.contains("mount=255") || out.contains("mount=1"),
            "{}: {out}",
            rt.name
        );
        assert!(
            out.contains("unshare(0x40000000): Operation not permitted"),
            "{}: {out}",
            rt.name
        );
        // busybox says this for EPERM (and EACCES, which mount(2) does not give here).
        assert!(
            out.contains("mount: permission denied"),
            "{}: {out}",
            rt.name
        );
    }
}

#[test]
fn sys_admin_in_the_profile_opens_them() {
    let rts = runtimes();
    let caps = with_sys_admin();
    let script = "unshare -n true; echo unshare=$?; mount -t tmpfs none /mnt; echo mount=$?";
    let b = bundle(&["sh", "-c", script], &caps, Some(profile_for(&caps)));
    for rt in &rts {
        let (code, out) = run(rt, b.path(), "sec-admin");
        assert_eq!(code, 0, "{}: {out}", rt.name);
        assert!(out.contains("unshare=0"), "{}: {out}", rt.name);
        assert!(out.contains("mount=0"), "{}: {out}", rt.name);
    }
}

#[test]
fn without_a_filter_the_capability_alone_decides() {
    let rts = runtimes();
    // CAP_SYS_ADMIN and no filter: unshare works, so the refusals above come
    // from the filter, not from the kernel's capability checks.
    let b = bundle(
        &[
            "sh",
            "-c",
            "grep Seccomp: /proc/self/status; unshare -n true; echo unshare=$?",
        ],
        &with_sys_admin(),
        None,
    );
    for rt in &rts {
        let (code, out) = run(rt, b.path(), "sec-none");
        assert_eq!(code, 0, "{}: {out}", rt.name);
        assert!(out.contains("Seccomp:\t0"), "{}: {out}", rt.name);
        assert!(out.contains("unshare=0"), "{}: {out}", rt.name);
    }
}
