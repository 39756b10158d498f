//! create/start/state/kill/delete, pause/resume, exec, ps, list, --log.
mod common;
use common::*;
use serde_json::json;
use std::process::Stdio;

fn create_running(rt: &Runtime, b: &Bundle, id: &str) -> i32 {
    let pid = rt.create(b, id, &[]);
    rt.ok(&["start", id]);
    pid
}

#[test]
fn create_start_kill_delete() {
    for_each_runtime("life", |rt, id| {
        let b = Bundle::new(&["sleep", "30"]);
        let pid = rt.create(&b, id, &[]);
        let st = rt.state(id);
        assert_eq!(st["status"], "created", "{}", rt.name);
        assert_eq!(st["pid"], pid);
        assert_eq!(st["id"], id);
        assert_eq!(
            st["ociVersion"].as_str().map(|s| s.starts_with("1.")),
            Some(true)
        );
        assert!(st["created"]
            .as_str()
            .is_some_and(|c| c.contains('T') && c.ends_with('Z')));
        assert_eq!(st["bundle"], b.path());
        // a second create with the same id fails
        let o = rt
            .cmd(&["create", "--bundle", b.path(), id])
            .stdin(Stdio::null())
            .output()
            .expect("create");
        assert!(!o.status.success());
        rt.ok(&["start", id]);
        assert_eq!(rt.status(id), "running");
        let list = rt.ok(&["list", "--format", "json"]);
        assert!(list.contains(id), "{list}");
        let o = rt.cmd(&["delete", id]).output().expect("delete");
        assert!(
            !o.status.success(),
            "{}: delete of a running container must fail",
            rt.name
        );
        rt.ok(&["kill", id, "9"]);
        assert_eq!(reap(pid), 137);
        rt.wait_status(id, "stopped");
        rt.ok(&["delete", id]);
        assert!(!rt
            .cmd(&["state", id])
            .output()
            .expect("state")
            .status
            .success());
    });
}

#[test]
fn kill_default_sigterm_and_force_delete() {
    for_each_runtime("term", |rt, id| {
        let b = Bundle::new(&[
            "sh",
            "-c",
            "trap 'exit 42' TERM; while true; do sleep 0.1; done",
        ]);
        let pid = create_running(rt, &b, id);
        std::thread::sleep(std::time::Duration::from_millis(200));
        rt.ok(&["kill", id]);
        assert_eq!(reap(pid), 42, "{}", rt.name);
        let id2 = format!("{id}-2");
        let b2 = Bundle::new(&["sleep", "30"]);
        let pid2 = create_running(rt, &b2, &id2);
        rt.ok(&["delete", "--force", &id2]);
        assert_eq!(reap(pid2), 137);
    });
}

#[test]
fn pause_and_resume() {
    for_each_runtime("pause", |rt, id| {
        let b = Bundle::new(&["sleep", "30"]);
        let pid = create_running(rt, &b, id);
        rt.ok(&["pause", id]);
        assert_eq!(rt.status(id), "paused", "{}", rt.name);
        rt.ok(&["resume", id]);
        assert_eq!(rt.status(id), "running");
        let ps = rt.ok(&["ps", "--format", "json", id]);
        let pids: Vec<i32> = serde_json::from_str(&ps).expect("ps json");
        assert_eq!(pids, vec![pid], "{}", rt.name);
        rt.ok(&["kill", "--all", id, "KILL"]);
        reap(pid);
        rt.ok(&["delete", id]);
    });
}

#[test]
fn exec_into_running_container() {
    for_each_runtime("exec", |rt, id| {
        let mut b = Bundle::new(&["sleep", "30"]);
        b.edit(|c| c["hostname"] = json!("execbox"));
        let pid = create_running(rt, &b, id);
        let mut p = b.config["process"].clone();
        p["args"] = json!([
            "sh",
            "-c",
            "echo host=$(hostname) pid1=$(cat /proc/1/comm); exit 5"
        ]);
        let pf = b.dir.path().join("process.json");
        std::fs::write(&pf, p.to_string()).expect("process.json");
        let o = rt
            .cmd(&["exec", "--process", pf.to_str().expect("utf8"), id])
            .stdin(Stdio::null())
            .output()
            .expect("exec");
        let (code, out, err) = out3(o);
        assert_eq!(code, 5, "{}: {err}", rt.name);
        assert_eq!(out.trim(), "host=execbox pid1=sleep", "{}", rt.name);
        // the exec'd process was in the container's cgroup: ps lists it while it lives
        let o = rt
            .cmd(&[
                "exec",
                id,
                "sh",
                "-c",
                "cat /proc/self/cgroup | grep -c pids",
            ])
            .output()
            .expect("exec");
        assert!(
            o.status.success(),
            "{}: {}",
            rt.name,
            String::from_utf8_lossy(&o.stderr)
        );
        rt.ok(&["kill", id, "KILL"]);
        reap(pid);
        rt.ok(&["delete", id]);
    });
}

#[test]
fn errors_go_to_the_json_log() {
    for_each_runtime("log", |rt, id| {
        let d = tempfile::tempdir().expect("tmp");
        let log = d.path().join("log.json");
        let o = rt
            .cmd(&[
                "--log",
                log.to_str().expect("utf8"),
                "--log-format",
                "json",
                "start",
                id,
            ])
            .output()
            .expect("start");
        assert!(!o.status.success());
        assert!(!o.stderr.is_empty());
        let text = std::fs::read_to_string(&log).expect("log file");
        let line = text
            .lines()
            .find(|l| l.contains("\"error\""))
            .expect("error line");
        let v: serde_json::Value = serde_json::from_str(line).expect("json line");
        assert_eq!(v["level"], "error", "{}", rt.name);
        assert!(v["msg"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(v["time"].is_string());
    });
}

#[test]
fn memory_limit_oom_kills() {
    for_each_runtime("oom", |rt, id| {
        let mut b = Bundle::new(&["dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1"]);
        let cg = format!("/berth-test/{id}");
        b.edit(|c| {
            c["linux"]["cgroupsPath"] = json!(cg);
            c["linux"]["resources"]["memory"] = json!({"limit": 33554432, "swap": 33554432});
        });
        let o = rt
            .cmd(&["run", "--keep", "--bundle", b.path(), id])
            .stdin(Stdio::null())
            .output()
            .expect("run");
        let (code, _, err) = out3(o);
        assert_eq!(code, 137, "{}: {err}", rt.name);
        let v1 = std::path::Path::new("/sys/fs/cgroup/memory").join(cg.trim_start_matches('/'));
        if v1.exists() {
            let limit = std::fs::read_to_string(v1.join("memory.limit_in_bytes")).expect("limit");
            assert_eq!(limit.trim(), "33554432");
            let read = |f: &str| std::fs::read_to_string(v1.join(f)).unwrap_or_default();
            let failcnt: u64 = read("memory.failcnt").trim().parse().unwrap_or(0)
                + read("memory.memsw.failcnt").trim().parse().unwrap_or(0);
            let oom = read("memory.oom_control");
            let kills = oom
                .lines()
                .find_map(|l| l.strip_prefix("oom_kill "))
                .unwrap_or("0")
                .to_string();
            assert!(
                failcnt > 0 || kills != "0",
                "{}: failcnt {failcnt}, oom_control {oom}",
                rt.name
            );
        } else {
            let v2 = std::path::Path::new("/sys/fs/cgroup").join(cg.trim_start_matches('/'));
            let ev = std::fs::read_to_string(v2.join("memory.events")).expect("memory.events");
            assert!(
                ev.lines()
                    .any(|l| l.starts_with("oom_kill ") && l != "oom_kill 0"),
                "{ev}"
            );
        }
        rt.ok(&["delete", id]);
        assert!(!v1.exists(), "{}: cgroup left behind", rt.name);
        if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in rd.flatten() {
                let _ = std::fs::remove_dir(h.path().join("berth-test"));
            }
        }
        let _ = std::fs::remove_dir("/sys/fs/cgroup/berth-test");
    });
}

#[test]
fn pids_limit_stops_forks() {
    for_each_runtime("pids", |rt, id| {
        let mut b = Bundle::new(&[
            "sh",
            "-c",
            "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 1 & done; echo done",
        ]);
        b.edit(|c| c["linux"]["resources"]["pids"] = json!({"limit": 5}));
        let (code, out, err) = rt.run(&b, id);
        assert!(
            err.contains("can't fork"),
            "{}: {code} {out} {err}",
            rt.name
        );
    });
}

#[test]
fn prestart_poststart_poststop_hooks() {
    for_each_runtime("hooks", |rt, id| {
        let mut b = Bundle::new(&["sleep", "30"]);
        let d = b.dir.path().to_path_buf();
        let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}/{name}.json", d.display())]});
        let (pre, post, stop) = (hook("prestart"), hook("poststart"), hook("poststop"));
        b.edit(|c| {
            c["hooks"] = json!({"prestart": [pre], "poststart": [post], "poststop": [stop]})
        });
        let pid = rt.create(&b, id, &[]);
        let pre: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(d.join("prestart.json")).expect("prestart ran"),
        )
        .expect("json");
        assert_eq!(pre["id"], id, "{}", rt.name);
        assert_eq!(pre["pid"], pid, "{}", rt.name);
        // runc 1.1 runs poststart hooks already at create (fixed in runc 1.2).
        if rt.name == "berth-runc" {
            assert!(!d.join("poststart.json").exists());
        }
        rt.ok(&["start", id]);
        assert!(d.join("poststart.json").exists(), "{}", rt.name);
        rt.ok(&["kill", id, "KILL"]);
        reap(pid);
        rt.ok(&["delete", id]);
        assert!(d.join("poststop.json").exists(), "{}", rt.name);
    });
}
