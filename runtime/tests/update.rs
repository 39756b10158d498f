//! `update` of a running container's resources, read back from its cgroup
//! (cgroup v1 on this host; v2 is covered in cgroup_v2.rs and by unit tests).
mod common;
use common::*;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;

/// The v1 directory of `pid` in the hierarchy holding `controller`.
fn v1_dir(pid: i32, controller: &str) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    for line in text.lines() {
        let mut it = line.splitn(3, ':');
        let (_, Some(list), Some(path)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        if list.split(',').any(|c| c == controller) {
            let mount = format!("/sys/fs/cgroup/{list}");
            return PathBuf::from(mount).join(path.trim_start_matches('/'));
        }
    }
    panic!("no {controller} hierarchy for {pid}: {text}");
}

fn read(pid: i32, controller: &str, file: &str) -> String {
    let p = v1_dir(pid, controller).join(file);
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
fn update_running_container() {
    for_each_runtime("update", |rt, id| {
        let mut b = Bundle::new(&["sleep", "30"]);
        b.edit(|c| c["linux"]["resources"]["cpu"] = json!({"shares": 256}));
        let pid = rt.create(&b, id, &[]);
        rt.ok(&["start", id]);
        rt.ok(&[
            "update",
            "--memory",
            "64m",
            "--memory-swap",
            "128m",
            "--cpu-quota",
            "20000",
            "--cpu-period",
            "100000",
            "--pids-limit",
            "50",
            "--cpuset-cpus",
            "0",
            id,
        ]);
        let m = |f: &str| read(pid, "memory", f);
        assert_eq!(m("memory.limit_in_bytes"), "67108864", "{}", rt.name);
        assert_eq!(m("memory.memsw.limit_in_bytes"), "134217728", "{}", rt.name);
        assert_eq!(read(pid, "cpu", "cpu.cfs_quota_us"), "20000");
        assert_eq!(read(pid, "cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(read(pid, "cpu", "cpu.shares"), "256", "{}", rt.name);
        assert_eq!(read(pid, "pids", "pids.max"), "50");
        assert_eq!(read(pid, "cpuset", "cpuset.cpus"), "0");
        // Raising both limits above the current swap limit.
        rt.ok(&["update", "--memory", "256m", "--memory-swap", "512m", id]);
        assert_eq!(m("memory.limit_in_bytes"), "268435456", "{}", rt.name);
        assert_eq!(m("memory.memsw.limit_in_bytes"), "536870912", "{}", rt.name);
        // OCI resources on stdin.
        let mut child = rt
            .cmd(&["update", "--resources", "-", id])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("update");
        let doc = json!({"memory": {"limit": 96 << 20, "swap": 192 << 20},
            "cpu": {"shares": 512}, "pids": {"limit": 20}});
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(doc.to_string().as_bytes())
            .expect("write");
        let o = child.wait_with_output().expect("wait");
        assert!(o.status.success(), "{}: {:?}", rt.name, o);
        assert_eq!(m("memory.limit_in_bytes"), (96u64 << 20).to_string());
        assert_eq!(m("memory.memsw.limit_in_bytes"), (192u64 << 20).to_string());
        assert_eq!(read(pid, "cpu", "cpu.shares"), "512");
        assert_eq!(read(pid, "pids", "pids.max"), "20");
        // ... and in a file; the period set before stays.
        let f = b.dir.path().join("res.json");
        std::fs::write(&f, json!({"cpu": {"quota": 30000}}).to_string()).expect("res.json");
        rt.ok(&["update", "-r", f.to_str().expect("utf8"), id]);
        assert_eq!(read(pid, "cpu", "cpu.cfs_quota_us"), "30000");
        assert_eq!(read(pid, "cpu", "cpu.cfs_period_us"), "100000");
        // A whole resource set as a daemon sends it: zeros leave values alone.
        let doc = json!({"memory": {"limit": 80 << 20, "reservation": 0, "swap": 160 << 20},
            "cpu": {"shares": 0, "quota": 0, "period": 0, "cpus": "", "mems": ""},
            "pids": {"limit": 0}});
        std::fs::write(&f, doc.to_string()).expect("res.json");
        rt.ok(&["update", "-r", f.to_str().expect("utf8"), id]);
        assert_eq!(m("memory.limit_in_bytes"), (80u64 << 20).to_string());
        assert_eq!(read(pid, "cpu", "cpu.shares"), "512", "{}", rt.name);
        assert_eq!(read(pid, "cpu", "cpu.cfs_quota_us"), "30000", "{}", rt.name);
        assert_eq!(read(pid, "pids", "pids.max"), "20", "{}", rt.name);
        assert_eq!(read(pid, "cpuset", "cpuset.cpus"), "0", "{}", rt.name);
        rt.ok(&["kill", id, "KILL"]);
        assert_eq!(reap(pid), 137);
        rt.wait_status(id, "stopped");
        let o = rt
            .cmd(&["update", "--memory", "1g", id])
            .output()
            .expect("update");
        assert!(
            !o.status.success(),
            "{}: update of a stopped container",
            rt.name
        );
        rt.ok(&["delete", id]);
    });
}

#[test]
fn cpu_shares_flag_and_bad_sizes() {
    // berth-runc's spellings: runc has --cpu-share only.
    for_each_runtime("updflags", |rt, id| {
        if rt.name != "berth-runc" {
            return;
        }
        let b = Bundle::new(&["sleep", "30"]);
        let pid = rt.create(&b, id, &[]);
        rt.ok(&["update", "--cpu-shares", "300", id]);
        assert_eq!(read(pid, "cpu", "cpu.shares"), "300");
        rt.ok(&["update", "--cpu-share", "400", id]);
        assert_eq!(read(pid, "cpu", "cpu.shares"), "400");
        let o = rt
            .cmd(&["update", "--memory", "12q", id])
            .output()
            .expect("update");
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("invalid size"));
        rt.ok(&["delete", "--force", id]);
        reap(pid);
    });
}
