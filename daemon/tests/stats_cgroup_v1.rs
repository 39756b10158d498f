//! Stats from a real cgroup v1 hierarchy: a child process is moved into fresh
//! `berth-stats-test-*` cgroups under /sys/fs/cgroup/{memory,cpu,cpuacct,pids,blkio},
//! sampled, then killed and the cgroups removed. Skipped where there is no v1 hierarchy
//! or no root.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berthd::stats::{sample, CgroupPaths, Host};

const CONTROLLERS: &[&str] = &["memory", "cpu", "cpuacct", "pids", "blkio"];

/// The test's cgroups and child; removes both when dropped, even after a failed assert.
struct Fixture {
    dirs: Vec<(String, PathBuf)>,
    child: Option<Child>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for (_, dir) in &self.dirs {
            // The kernel may take a moment to let go of a cgroup whose last task just died.
            let deadline = Instant::now() + Duration::from_secs(5);
            while std::fs::remove_dir(dir).is_err() && dir.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn available() -> bool {
    let root = nix_is_root();
    root && CONTROLLERS
        .iter()
        .all(|c| Path::new("/sys/fs/cgroup").join(c).join("tasks").exists())
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn samples_a_real_v1_cgroup() {
    if !available() {
        eprintln!(
            "skipped: no cgroup v1 hierarchy (memory, cpu, cpuacct, pids, blkio) or not root"
        );
        return;
    }
    let name = format!("berth-stats-test-{}", std::process::id());
    let mut fixture = Fixture {
        dirs: Vec::new(),
        child: None,
    };
    for c in CONTROLLERS {
        let dir = Path::new("/sys/fs/cgroup").join(c).join(&name);
        std::fs::create_dir(&dir).expect("create cgroup");
        fixture.dirs.push((c.to_string(), dir));
    }
    // Waits for a line, burns a little CPU, then sleeps until killed.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("read go; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo done; exec sleep 60")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let pid = child.id() as i32;
    for (_, dir) in &fixture.dirs {
        // One thread: `tasks` moves it without waiting for the whole thread group.
        std::fs::write(dir.join("tasks"), pid.to_string()).expect("join cgroup");
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    fixture.child = Some(child);
    stdin.write_all(b"go\n").expect("go");
    let mut buf = [0u8; 5];
    std::io::Read::read_exact(&mut stdout, &mut buf).expect("child done");

    // The cgroup as the container core will name it, and as found from the pid.
    let given = CgroupPaths::v1(fixture.dirs.clone());
    let found = CgroupPaths::of_pid(Path::new("/proc"), pid).expect("cgroup of pid");
    assert_eq!(found, given, "discovered from /proc/{pid}/cgroup");

    assert_eq!(given.pids().expect("cgroup.procs"), vec![pid]);
    let listed = berthd::stats::top(&given.pids().expect("pids"), "").expect("top");
    assert_eq!(listed.processes.len(), 1);
    assert_eq!(listed.processes[0][1], pid.to_string());
    assert!(listed.processes[0][7].starts_with("sleep 60"), "{listed:?}");

    let host = Host::real();
    let s = sample(&given, pid, &host).expect("sample");
    assert!(s.cpu_stats.cpu_usage.total_usage > 0, "{s:?}");
    assert_eq!(
        s.cpu_stats.cpu_usage.percpu_usage.len(),
        host.online_cpus as usize
    );
    assert!(s.cpu_stats.system_cpu_usage > 0);
    assert!(s.memory_stats.usage > 0);
    assert!(s.memory_stats.max_usage >= s.memory_stats.usage);
    assert_eq!(s.memory_stats.limit, host.memory_total().expect("meminfo"));
    assert!(s.memory_stats.stats.contains_key("total_rss"));
    assert_eq!(s.pids_stats.current, 1, "exec'd sleep is the only task");
    assert!(s.blkio_stats.io_service_bytes_recursive.is_some());
    assert!(!s.networks.contains_key("lo"));

    let json = serde_json::to_value(&s).expect("json");
    assert!(json["read"].as_str().is_some_and(|r| r.ends_with('Z')));

    // Once the process is gone the cgroup reads as empty, not as an error.
    drop(stdin);
    if let Some(mut child) = fixture.child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let after = sample(&given, pid, &host).expect("sample after exit");
    assert_eq!(after.pids_stats.current, 0);
    assert!(after.networks.is_empty());
}
