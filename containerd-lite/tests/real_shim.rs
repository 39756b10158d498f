//! End to end with the real berth-shim and Debian's runc: a busybox container keeps
//! running across a SIGKILL of berth-containerd (still attachable, its log still
//! growing), and its exit code is collected after the restart; an OOM-killed task gives
//! an `oom` event before its `exit`. Needs root, `runc`, a static busybox, and berth-shim built into the
//! same target dir (`cargo build -p berth-shim`; `cargo nextest run --workspace` does) or
//! named by `BERTH_SHIM`. Without them the tests fail with the reason.
//!
//! The restart cases run against Berth's own runtime too: berth-runc built in the same
//! target dir (`cargo build -p berth-runc`), and runc; `BERTH_TEST_RUNTIMES=berth-runc`
//! (or `=runc`) limits them to one, as in runtime/tests and shim/tests.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use serde_json::json;

/// The shim binary; panics with the reason when a prerequisite is missing.
fn prerequisites() -> Option<PathBuf> {
    let shim = shim_bin();
    let missing = if !shim.exists() {
        Some(format!("berth-shim not built at {}", shim.display()))
    } else if !Path::new("/usr/sbin/runc").exists() {
        Some("no /usr/sbin/runc".to_string())
    } else if !["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .any(|p| Path::new(p).exists())
    {
        Some("no busybox".to_string())
    } else if std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            !s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(true)
    {
        Some("not root".to_string())
    } else {
        None
    };
    match missing {
        None => Some(shim),
        // A missing prerequisite fails the test: a test that passes without running
        // proves nothing. scripts/test.sh builds and installs all of them.
        Some(why) => panic!("{why}: run through scripts/test.sh, or `cargo build -p berth-shim` and install runc and busybox-static"),
    }
}

fn shim_bin() -> PathBuf {
    if let Ok(p) = std::env::var("BERTH_SHIM") {
        return PathBuf::from(p);
    }
    // target/debug/deps/real_shim-… → target/debug/berth-shim
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("berth-shim")
}

/// A runtime a case runs against: its name for `--runtime NAME=PATH`, and its path.
struct Runtime {
    name: &'static str,
    bin: PathBuf,
}

impl Runtime {
    /// The daemon's flags naming this runtime.
    fn flag(&self) -> Vec<String> {
        vec![
            "--runtime".into(),
            format!("{}={}", self.name, self.bin.display()),
        ]
    }
}

/// berth-runc and runc, or the ones `BERTH_TEST_RUNTIMES` names; a runtime that is
/// missing fails the test instead of skipping it.
fn runtimes() -> Vec<Runtime> {
    let want = std::env::var("BERTH_TEST_RUNTIMES").unwrap_or_else(|_| "berth-runc,runc".into());
    let mut out = Vec::new();
    for w in want.split(',') {
        match w.trim() {
            "berth-runc" => {
                // target/debug/deps/real_shim-… → target/debug/berth-runc
                let exe = std::env::current_exe().expect("current_exe");
                let bin = exe
                    .parent()
                    .and_then(Path::parent)
                    .expect("target dir")
                    .join("berth-runc");
                assert!(
                    bin.exists(),
                    "berth-runc is not built at {}: run `cargo build -p berth-runc` \
                     (`cargo nextest run --workspace` builds it), or set BERTH_TEST_RUNTIMES=runc",
                    bin.display()
                );
                out.push(Runtime {
                    name: "berth-runc",
                    bin,
                });
            }
            "runc" => out.push(Runtime {
                name: "runc",
                bin: PathBuf::from("/usr/sbin/runc"),
            }),
            other => panic!("unknown runtime {other:?} in BERTH_TEST_RUNTIMES"),
        }
    }
    out
}

/// A bundle whose rootfs is a static busybox, running `sh -c SCRIPT`.
fn busybox_bundle(dir: &Path, script: &str) -> String {
    busybox_bundle_for(Path::new("runc"), dir, script)
}

/// The same, with the config written by `runtime spec`.
fn busybox_bundle_for(runtime: &Path, dir: &Path, script: &str) -> String {
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    for d in ["proc", "sys", "dev", "tmp", "etc"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox");
    std::fs::copy(busybox, rootfs.join("bin/busybox")).unwrap();
    // `busybox --install -s DIR` would link to the host path of busybox; link to
    // /bin/busybox as seen inside the container instead.
    let out = std::process::Command::new(rootfs.join("bin/busybox"))
        .arg("--list")
        .output()
        .unwrap();
    assert!(out.status.success());
    for name in String::from_utf8_lossy(&out.stdout).lines() {
        if name != "busybox" && !name.is_empty() {
            let _ = std::os::unix::fs::symlink("/bin/busybox", rootfs.join("bin").join(name));
        }
    }
    let st = std::process::Command::new(runtime)
        .arg("spec")
        .current_dir(dir)
        .status()
        .expect("runtime spec");
    assert!(st.success());
    let cfg_path = dir.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["terminal"] = json!(false);
    cfg["process"]["args"] = json!(["/bin/sh", "-c", script]);
    cfg["root"]["readonly"] = json!(false);
    std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    dir.display().to_string()
}

#[tokio::test]
async fn busybox_survives_sigkill_and_exit_code_is_collected() {
    let Some(shim) = prerequisites() else { return };
    let mut d =
        Daemon::start_with(shim, vec!["--runtime".into(), "runc=/usr/sbin/runc".into()]).await;
    let bundle = busybox_bundle(&d.dir.path().join("bundle"), "sleep 5; exit 7");
    let id = format!("bc-e2e-{}", std::process::id());
    let mut body = create_body(&id, &bundle);
    body["runtime"] = json!("runc");
    let (st, v) = d.call("POST", "/tasks", Some(body)).await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = d.call("POST", &format!("/tasks/{id}/start"), None).await;
    assert_eq!(st, 200, "{v}");
    let pid = v["pid"].as_u64().unwrap();

    d.sigkill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "the container survives berth-containerd"
    );
    d.spawn().await;
    let (_, v) = d.call("GET", &format!("/tasks/{id}"), None).await;
    assert_eq!(v["status"], "running", "{v}");
    assert_eq!(v["pid"].as_u64(), Some(pid));

    let wait_path = format!("/tasks/{id}/wait");
    let wait = d.call("POST", &wait_path, None);
    let (st, w) = tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .expect("exit within 20 s");
    assert_eq!((st, w["exit_status"].as_u64()), (200, Some(7)), "{w}");

    // and again after a restart while it is stopped: exit.json / the shim tell the code
    d.sigkill();
    d.spawn().await;
    let (_, v) = d.call("GET", &format!("/tasks/{id}"), None).await;
    assert_eq!(
        (v["status"].as_str(), v["exit_status"].as_u64()),
        (Some("stopped"), Some(7)),
        "{v}"
    );
    let (st, v) = d.call("DELETE", &format!("/tasks/{id}"), None).await;
    assert_eq!((st, v["exit_status"].as_u64()), (200, Some(7)), "{v}");
    assert!(!d.task_dir(&id).exists());
}

#[tokio::test]
async fn busybox_kill_while_containerd_was_down() {
    let Some(shim) = prerequisites() else { return };
    for rt in runtimes() {
        eprintln!("== busybox_kill_while_containerd_was_down on {}", rt.name);
        kill_while_down(&shim, &rt).await;
    }
}

async fn kill_while_down(shim: &Path, rt: &Runtime) {
    let mut d = Daemon::start_with(shim.to_path_buf(), rt.flag()).await;
    let bundle = busybox_bundle_for(&rt.bin, &d.dir.path().join("bundle"), "exec sleep 1000");
    let id = format!("bc-e2e2-{}-{}", rt.name, std::process::id());
    let mut body = create_body(&id, &bundle);
    body["runtime"] = json!(rt.name);
    assert_eq!(d.call("POST", "/tasks", Some(body)).await.0, 201);
    let (st, v) = d.call("POST", &format!("/tasks/{id}/start"), None).await;
    assert_eq!(st, 200, "{v}");
    let pid = v["pid"].as_u64().unwrap() as u32;
    d.sigkill();
    signal(pid, "KILL");
    tokio::time::sleep(Duration::from_millis(500)).await;
    d.spawn().await;
    let (_, v) = d.call("GET", &format!("/tasks/{id}"), None).await;
    assert_eq!(
        (v["status"].as_str(), v["exit_status"].as_u64()),
        (Some("stopped"), Some(137)),
        "{v}"
    );
    assert_eq!(d.call("DELETE", &format!("/tasks/{id}"), None).await.0, 200);
}

/// Reads multiplexed frames from an attach stream until a stdout frame holds a
/// "line N"; returns N.
async fn next_line_number(s: &mut tokio::net::UnixStream) -> u64 {
    use tokio::io::AsyncReadExt;
    let read = async {
        loop {
            let mut h = [0u8; 8];
            s.read_exact(&mut h).await.expect("frame header");
            let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
            let mut p = vec![0u8; len];
            s.read_exact(&mut p).await.expect("frame payload");
            let text = String::from_utf8_lossy(&p);
            let n = text
                .lines()
                .filter_map(|l| l.strip_prefix("line "))
                .filter_map(|n| n.trim().parse().ok())
                .next_back();
            if let (1, Some(n)) = (h[0], n) {
                return n;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("a stdout frame within 10 s")
}

fn log_line_count(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[tokio::test]
async fn restart_keeps_task_attachable_and_logging() {
    let Some(shim) = prerequisites() else { return };
    for rt in runtimes() {
        eprintln!(
            "== restart_keeps_task_attachable_and_logging on {}",
            rt.name
        );
        attachable_and_logging(&shim, &rt).await;
    }
}

async fn attachable_and_logging(shim: &Path, rt: &Runtime) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut d = Daemon::start_with(shim.to_path_buf(), rt.flag()).await;
    let script = "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.1; done";
    let bundle = busybox_bundle_for(&rt.bin, &d.dir.path().join("bundle"), script);
    let log = d.dir.path().join("logs").join("c-json.log");
    let id = format!("bc-e2e3-{}-{}", rt.name, std::process::id());
    let mut body = create_body(&id, &bundle);
    body["runtime"] = json!(rt.name);
    body["log"] = json!({ "path": log.display().to_string(), "max_size": null, "max_file": null });
    let (st, v) = d.call("POST", "/tasks", Some(body)).await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = d.call("POST", &format!("/tasks/{id}/start"), None).await;
    assert_eq!(st, 200, "{v}");
    let pid = v["pid"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(log_line_count(&log) > 0, "the log is written");

    d.sigkill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    d.spawn().await;
    let mut ev = d.events().await;

    // Still running, with the same init.
    let (st, v) = d.call("GET", &format!("/tasks/{id}"), None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "running", "{v}");
    assert_eq!(v["pid"].as_u64(), Some(pid));

    // Still attachable: new stdout frames with increasing line numbers.
    let attach = v["attach_socket"]
        .as_str()
        .expect("attach_socket")
        .to_string();
    let mut s = tokio::net::UnixStream::connect(&attach)
        .await
        .expect("connect attach socket");
    let header = json!({ "exec_id": null, "stdin": false, "stdout": true, "stderr": true });
    s.write_all(format!("{header}\n").as_bytes()).await.unwrap();
    // The shim acknowledges the header with one JSON line before any output.
    let mut ack = Vec::new();
    let mut b = [0u8; 1];
    while s.read_exact(&mut b).await.is_ok() && b[0] != b'\n' {
        ack.push(b[0]);
    }
    assert_eq!(ack, b"{}", "attach acknowledged");
    let first = next_line_number(&mut s).await;
    let mut last = first;
    while last < first + 3 {
        let n = next_line_number(&mut s).await;
        assert!(n > last, "line numbers increase: {n} after {last}");
        last = n;
    }

    // The log still grows.
    let before = log_line_count(&log);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let after = log_line_count(&log);
    assert!(
        after > before,
        "log grows after the restart: {before} → {after}"
    );

    // Kill, wait, and the exit event.
    let (st, v) = d
        .call(
            "POST",
            &format!("/tasks/{id}/kill"),
            Some(json!({ "signal": 9, "all": false, "exec_id": null })),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let wait_path = format!("/tasks/{id}/wait");
    let wait = d.call("POST", &wait_path, Some(json!({})));
    let (st, w) = tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .expect("exit within 20 s");
    assert_eq!((st, w["exit_status"].as_u64()), (200, Some(137)), "{w}");
    let e = next_event(&mut ev, "exit", &id).await;
    assert_eq!(e["exit_status"].as_u64(), Some(137), "{e}");
    assert_eq!(d.call("DELETE", &format!("/tasks/{id}"), None).await.0, 200);
}

#[tokio::test]
async fn oom_event_then_exit() {
    let Some(shim) = prerequisites() else { return };
    let d = Daemon::start_with(shim, vec!["--runtime".into(), "runc=/usr/sbin/runc".into()]).await;
    // The string doubles until the 32 MiB limit: the OOM killer takes the shell.
    let bundle = busybox_bundle(
        &d.dir.path().join("bundle"),
        "x=a; while true; do x=$x$x; done",
    );
    let cfg_path = Path::new(&bundle).join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    let limit = 32u64 << 20;
    cfg["linux"]["resources"]["memory"] = json!({ "limit": limit, "swap": limit });
    std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    let id = format!("bc-e2e-oom-{}", std::process::id());
    let mut body = create_body(&id, &bundle);
    body["runtime"] = json!("runc");
    let mut ev = d.events().await;
    let (st, v) = d.call("POST", "/tasks", Some(body)).await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = d.call("POST", &format!("/tasks/{id}/start"), None).await;
    assert_eq!(st, 200, "{v}");
    // `next_event` skips other events: an exit before the oom would make this time out.
    next_event(&mut ev, "oom", &id).await;
    let e = next_event(&mut ev, "exit", &id).await;
    assert_eq!(e["exit_status"].as_u64(), Some(137), "{e}");
    let (_, v) = d.call("GET", &format!("/tasks/{id}"), None).await;
    assert_eq!(v["exit_status"].as_u64(), Some(137), "{v}");
    assert_eq!(d.call("DELETE", &format!("/tasks/{id}"), None).await.0, 200);
}
